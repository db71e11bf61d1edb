/*
 * tfx_attest.h - what the caller attestation tests (test_attest,
 * test_attest_cgroup) share: the child they attest and what teardown
 * removes (the child killed and reaped first, then the cgroup directories
 * and the files), sha256sum(1) as an independent hash, and the visible
 * skip where pidfd_open is missing (valgrind 3.19).
 */
#ifndef PA_TFX_ATTEST_H
#define PA_TFX_ATTEST_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "identity.h"

/* What tfx_att_teardown() undoes. */
struct tfx_att {
	pid_t child;		   /* killed and reaped */
	char tmpdir[64];	   /* its files removed, then it */
	char cg_sub[PATH_MAX + 8]; /* removed before cg_unit */
	char cg_unit[PATH_MAX];
};
extern struct tfx_att tfx_att;

void tfx_att_kill_child(void);
/* Removes a cgroup directory (waiting while it is still busy). */
void tfx_att_remove_cgroup(const char *dir);
/* cmocka teardown: the child, the cgroups, the files. */
int tfx_att_teardown(void **state);
/* Starts path with argument "30"; returns once it has exec'd. */
pid_t tfx_att_spawn(const char *path);
/* SHA-256 of the file at path, computed by sha256sum(1). */
void tfx_att_sha256sum(const char *path, char hex[ID_SHA256_HEX + 1]);
/* Skips the test, visibly, where pidfd_open is missing, once id_attest is seen to refuse. */
void tfx_att_need_pidfd(void);
/* Whether this test runs under valgrind. */
bool tfx_att_under_valgrind(void);

#endif
