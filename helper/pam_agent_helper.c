/*
 * pam_agent_helper - acquires the credentials of a PAM session and places
 * them in the kernel keyring (open), or revokes them and tells the brokers
 * (close). Spawned by pam_agent.so only, like unix_chkpwd: it refuses a
 * terminal on stdin, ignores its environment and arguments, reads one JSON
 * request from stdin and writes one JSON reply to stdout. This file is the
 * process (its hygiene, stdin, stdout); what it does with the request is
 * helper/server.c. session/session.h and docs/helper.md describe the
 * protocol.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <keyutils.h>

#include "session.h"
#include "keyring.h"
#include "pa_json.h"
#include "server.h"
#include "util.h"

/* Exit statuses: the reply says the rest. */
enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_NO_REPLY = 2 };

/* Reason buffers. */
#define WHY 1024

/* ---- process hygiene ----------------------------------------------------------------- */

/* Makes sure descriptors 0, 1 and 2 are open (on /dev/null when they were not). */
static int ensure_std_fds(void)
{
	int fd;

	for (fd = 0; fd < 3; fd++) {
		int n;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (n != fd) {
			if (n >= 0)
				close(n);
			return -1;
		}
	}
	return 0;
}

/* Closes every descriptor above 2. */
static void close_extra_fds(void)
{
	int fd;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0) == 0)
		return;
#endif
	for (fd = 3; fd < 65536; fd++)
		close(fd);
}

/* ---- main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	char why[WHY];
	char *text = NULL;
	size_t len = 0;
	json_t *reply = NULL, *ok;
	int status = EXIT_NO_REPLY;

	(void)argv;
	if (ensure_std_fds() != 0)
		return EXIT_NO_REPLY;
	if (isatty(0)) {
		fputs("pam_agent_helper: refusing to run with a terminal on stdin: "
		      "it is spawned by pam_agent.so only\n", stderr);
		return EXIT_NO_REPLY;
	}
	if (argc > 1) {
		fputs("pam_agent_helper: takes no arguments (the request comes on stdin)\n",
		      stderr);
		return EXIT_NO_REPLY;
	}
	umask(077);
	close_extra_fds();
	clearenv();
	openlog("pam_agent_helper", LOG_PID, LOG_AUTHPRIV);
	signal(SIGPIPE, SIG_IGN); /* our own process; brokers get SIG_DFL back */
	/* every block wiped before it is freed: broker answers hold secrets */
	json_set_alloc_funcs(malloc, hs_wipe_free);

	if (hs_isolate(why, sizeof(why)) != 0) {
		reply = hs_fail_reply(why, NULL);
		goto out;
	}
	/* no deadline of its own: the module kills it at helper_timeout */
	text = hs_read_request(0, SES_REQUEST_MAX, -1, &len, why, sizeof(why));
	reply = text != NULL ? hs_serve_text(text, len) : hs_fail_reply(why, NULL);
out:
	if (reply != NULL && hs_write_reply(1, reply) == 0) {
		ok = json_object_get(reply, "ok");
		status = json_is_true(ok) ? EXIT_OK : EXIT_REFUSED;
	} else {
		fputs("pam_agent_helper: cannot write the reply\n", stderr);
	}
	json_decref(reply);
	free(text);
	pa_scrub_stack(PA_SCRUB_PROGRAM);
	return status;
}
