/*
 * pwrap_serial.c - preloaded after libpam_wrapper.so by every test that
 * runs a PAM stack under pam_wrapper (PA_PAM_WRAPPER_PRELOAD, Makefile.am):
 * runs pam_wrapper's initialisation under one machine-wide lock.
 *
 * pam_wrapper 1.1.4 copies libpam and the test's service files into a
 * directory /tmp/pam.C it picks with lstat() and then mkdir(), ignoring
 * mkdir's failure: two processes starting together (tests run two at a
 * time) can pick the same directory and write their service files over
 * each other's ("illegal module type: uired" in CI, a test failing for
 * nothing it tests). glibc runs the constructors of unrelated preloaded
 * objects last-loaded first, so this one runs before pam_wrapper's: it
 * takes the lock and calls pam_wrapper's constructor, whose own run then
 * finds it initialised. Built without the sanitizer flags (it is preloaded
 * into unsanitized programs such as pamtester).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_PATH "/tmp/pa-pam-wrapper-init.lock"

__attribute__((constructor)) static void pwrap_serial(void)
{
	void (*init)(void);
	const char *on = getenv("PAM_WRAPPER");
	int fd;

	if (on == NULL || on[0] != '1')
		return;
	init = (void (*)(void))dlsym(RTLD_DEFAULT, "pwrap_constructor");
	if (init == NULL) {
		fprintf(stderr, "pwrap_serial: libpam_wrapper.so is not loaded before it\n");
		return;
	}
	/* without O_CREAT first: fs.protected_regular refuses O_CREAT on
	 * another user's existing file in /tmp */
	fd = open(LOCK_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		fd = open(LOCK_PATH, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 && errno == EEXIST) /* created by another process meanwhile */
		fd = open(LOCK_PATH, O_RDONLY | O_CLOEXEC);
	else if (fd >= 0)
		(void)fchmod(fd, 0644); /* readable by every user, whatever the umask */
	if (fd < 0 || flock(fd, LOCK_EX) != 0)
		fprintf(stderr, "pwrap_serial: cannot lock %s: pam_wrapper starts unserialised\n",
			LOCK_PATH);
	init();
	if (fd >= 0)
		close(fd);
}
