/*
 * attest_int.h - what attest.c and attest_cgroup.c share (caller
 * attestation, identity.h); not part of the engine's API.
 */
#ifndef PA_ATTEST_INT_H
#define PA_ATTEST_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "identity.h"

/*
 * Fills out->cgroup, out->unit and, when invocation, out->invocation_id
 * (from the unit cgroup's extended attribute: /proc/self/mountinfo is read
 * to find it) from text, the content of /proc/PID/cgroup (modified in
 * place). 0, or -1 with err:
 * lines that are not "ID:CONTROLLERS:/PATH", the v2 or name=systemd line
 * twice (a cgroup name with a newline in it), out of memory. The fields
 * already set stay for the caller to clear.
 */
int id_attest_cgroup(char *text, bool invocation, struct id_proc *out, char *err,
		     size_t errlen);

#endif
