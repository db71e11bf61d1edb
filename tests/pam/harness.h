/*
 * harness.h - runs real Linux-PAM stacks over service files written by the
 * test, through pam_wrapper, as non-root. Every later PAM-stack test uses
 * this: call pa_harness_init() first thing in main().
 */
#ifndef PA_TEST_HARNESS_H
#define PA_TEST_HARNESS_H

#include <stdbool.h>

/* One PAM service file; "@MODULE@" in content stands for the module. */
struct pa_service {
	const char *name;
	const char *content;
};

/*
 * Writes the services (a table ending with {NULL, NULL}, plus an "other"
 * that denies everything) into a private directory, then re-executes the
 * program under pam_wrapper (LD_PRELOAD only on this program). pam_wrapper
 * copies the services when it loads, so every service a test uses must be
 * in this table. Returns 0 when ready, 77 when pam_wrapper is not available
 * (after printing a SKIP line), 1 on setup errors. Module log lines
 * (pam_syslog) are captured for pa_harness_log_has() and copied to the
 * test's stderr at exit.
 */
int pa_harness_init(int argc, char **argv, const struct pa_service *services);

/* Writes FILE (relative to the harness directory), returns its path. */
const char *pa_harness_file(const char *name, const char *content, int mode);

/* Forgets the log captured so far. */
void pa_harness_log_reset(void);
/* Whether the log captured since the last reset contains text. */
bool pa_harness_log_has(const char *text);
/* The log captured since the last reset (for failure messages). */
const char *pa_harness_log(void);

/* The harness's private directory (for files a test writes). */
const char *pa_harness_dir(void);

#endif
