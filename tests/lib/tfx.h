/*
 * tfx.h - what the C unit tests share (tests/unit, tests/mem): temporary
 * directories, files written with an exact mode, and child processes that
 * report a failure as a message. Nothing here knows about pam_agent; the
 * engines' fixtures are in tfx_id.h (identities, signers, JSON),
 * tfx_jose.h (JOSE by hand, the identity tests' trust), tfx_policy.h
 * (configurations, decisions), tfx_replay.h, tfx_keyring.h, tfx_inject.h
 * (libkeyutils failures) and tfx_session.h (the helper's session).
 *
 * Every function here fails the running cmocka test (outside a test:
 * prints and exits) unless it says it returns an error.
 */
#ifndef PA_TFX_H
#define PA_TFX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define TFX_DIR_MAX 64
#define TFX_NOBODY 65534

/* ---- temporary directories --------------------------------------------------------------- */

/* Makes a new directory /tmp/pa_test_NAME.XXXXXX, its path into dir. 0, or -1. */
int tfx_dir_new(char dir[TFX_DIR_MAX], const char *name);

/* Removes dir and everything below it (never following a link). 0, or -1. */
int tfx_dir_remove(const char *dir);

/* A test's temporary directory: the first member of its fixture. */
struct tfx_tmp {
	char dir[TFX_DIR_MAX];
};

/*
 * A zeroed fixture of size bytes, which starts with a struct tfx_tmp, and
 * its new directory (tfx_dir_new). NULL when either cannot be made.
 */
void *tfx_tmp_new(size_t size, const char *name);

/* Removes the fixture's directory and frees it. 0, or -1 when not all was removed. */
int tfx_tmp_free(void *fixture);

/* cmocka teardown of a tfx_tmp_new fixture. */
int tfx_tmp_teardown(void **state);

/* The fixture of a test about one file: a temporary directory, a path in it. */
struct tfx_file {
	struct tfx_tmp tmp;
	char path[128]; /* DIR/FILE, not made */
	char err[512];	/* for the calls under test */
};

/* A new struct tfx_file: /tmp/pa_test_NAME.XXXXXX and DIR/file. NULL when it cannot be made. */
struct tfx_file *tfx_file_new(const char *name, const char *file);

/* ---- files ------------------------------------------------------------------------------- */

/*
 * Writes text to path with exactly mode (whatever the umask). What was
 * at path before is replaced, never written through.
 */
void tfx_write(const char *path, const char *text, mode_t mode);

/* tfx_write of dir/name; returns the path (a static buffer, until the next call). */
const char *tfx_write_at(const char *dir, const char *name, const char *text, mode_t mode);

/* The whole file, NUL-terminated, on the heap; its length into *len unless NULL. */
char *tfx_read(const char *path, size_t *len);

/* The size of path, or -1 (no assertion: usable in a child). */
off_t tfx_file_size(const char *path);

/* ---- text -------------------------------------------------------------------------------- */

/* Fails the test unless hay contains needle. */
void tfx_contains(const char *hay, const char *needle);

/* Fails the test if hay contains needle. */
void tfx_lacks(const char *hay, const char *needle);

/* ---- randomness -------------------------------------------------------------------------- */

/* A small deterministic PRNG (xorshift64*) so runs are reproducible: the next of *s. */
uint64_t tfx_prng(uint64_t *s);

/* ---- child processes --------------------------------------------------------------------- */

/* Runs in a child; returns 0, or non-zero with a message in msg. */
typedef int (*tfx_child_fn)(void *arg, char *msg, size_t msglen);

/*
 * Runs fn in a forked child, its message into msg; returns the child's
 * wait status, or -1 when it could not be run (no assertion: usable in a
 * setup).
 */
int tfx_child_run(tfx_child_fn fn, void *arg, char *msg, size_t msglen);

/* Runs fn in a forked child; its failure (with its message) fails the test. */
void tfx_in_child(tfx_child_fn fn, void *arg);

/* In a tfx_child_fn: returns 1 with the message unless cond holds. */
#define TFX_CHILD_CHECK(cond, ...)                                                                 \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			snprintf(msg, msglen, __VA_ARGS__);                                        \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

/* Whether a process is gone (or a zombie nobody reaped yet). */
bool tfx_process_gone(pid_t pid);

/* Drops the process to nobody for good (groups, real, effective, saved). 0, or 1. */
int tfx_become_nobody(char *msg, size_t msglen);

/*
 * Installs a seccomp filter answering add_key, keyctl and request_key
 * with err, as a container runtime may. 0, or -1 (errno).
 */
int tfx_block_keyrings(int err);

#endif
