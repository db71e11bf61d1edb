/*
 * harness.h - runs real Linux-PAM stacks over service files written by the
 * test, through pam_wrapper, as non-root. Every later PAM-stack test uses
 * this: call pa_harness_init() first thing in main() (FX_MAIN of
 * fixtures.h does). Compiled with PA_NO_PAMTEST, harness.c is the main()
 * of a test that skips.
 */
#ifndef PA_TEST_HARNESS_H
#define PA_TEST_HARNESS_H

#include <stdbool.h>

/*
 * One PAM service file. In content, "@MODULE@" stands for the module under
 * test, "@DIR@" for the harness directory (pa_harness_dir()) and "@PWMOD@"
 * for the directory of pam_wrapper's test modules (pam_set_items.so).
 */
struct pa_service {
	const char *name;
	const char *content;
};

/*
 * Writes the services (a table ending with {NULL, NULL}, plus an "other"
 * that denies everything) into a private directory, then runs the program
 * again as a child under pam_wrapper (LD_PRELOAD only on that child).
 * pam_wrapper copies the services when it loads, so every service a test
 * uses must be in this table. In the child, returns 0 when ready. The
 * parent never returns: it exits with the child's status after copying the
 * child's captured log (pam_syslog lines, test output on stderr, sanitizer
 * reports) to stderr and removing the directory. Returns 77 when
 * pam_wrapper is not available (after printing a SKIP line).
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
