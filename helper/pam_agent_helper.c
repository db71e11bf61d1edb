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

/*
 * jansson's free for this process: every block is wiped before it is
 * freed, so broker answers (which hold secrets) leave nothing in freed
 * heap memory, including jansson's own parse buffers. Allocation stays
 * plain malloc, so strings jansson returns (json_dumps) may still be
 * released with free() by code that does not know about this.
 */
static void wipe_free(void *ptr)
{
	if (ptr == NULL)
		return;
	pa_overwrite(ptr, malloc_usable_size(ptr));
	free(ptr);
}

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

/*
 * Leaves everything of the PAM application that the helper and its brokers
 * (root in production) could be led by: its working directory (under sudo
 * or su the agent's own, where `python3 -m NAME` or `./x` would find the
 * agent's files) and its session keyring (the agent's, which the agent can
 * write: a broker searching @s would find keys the agent planted). The
 * helper joins a new anonymous session keyring of its own; it places and
 * revokes keys by the serials of the request, which need no possession
 * (it owns them). Fails closed: 0, or -1 with why.
 */
static int isolate(char *why, size_t whylen)
{
	if (chdir("/") != 0)
		return pa_err(why, whylen, "cannot change directory to /: %s", strerror(errno));
	if (keyctl_join_session_keyring(NULL) < 0)
		return pa_err(why, whylen,
			      "cannot join a session keyring of its own (keyctl_join_session_keyring): "
			      "%s; refusing to run brokers in the caller's session keyring",
			      strerror(errno));
	return 0;
}

/* Reads all of stdin (at most max bytes) into a NUL-terminated heap buffer. */
static char *read_stdin(size_t max, size_t *len, char *err, size_t errlen)
{
	size_t cap = 8192, have = 0;
	char *buf = malloc(cap + 1);

	if (buf == NULL) {
		pa_err(err, errlen, "out of memory");
		return NULL;
	}
	for (;;) {
		ssize_t n;

		if (have == cap) {
			char *nb;

			if (cap > max) {
				free(buf);
				pa_err(err, errlen, "request larger than %zu bytes", max);
				return NULL;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				free(buf);
				pa_err(err, errlen, "out of memory");
				return NULL;
			}
			buf = nb;
		}
		n = read(0, buf + have, cap - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			pa_err(err, errlen, "cannot read the request: %s", strerror(errno));
			return NULL;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		if (have > max) {
			free(buf);
			pa_err(err, errlen, "request larger than %zu bytes", max);
			return NULL;
		}
	}
	buf[have] = '\0';
	*len = have;
	return buf;
}

/* Writes the reply and a newline to stdout. Returns 0 or -1. */
static int write_reply(const json_t *reply)
{
	char *text = pa_json_dumps(reply, JSON_COMPACT);
	size_t len, off = 0;
	int rc = -1;

	if (text == NULL)
		return -1;
	len = strlen(text);
	while (off < len) {
		ssize_t n = write(1, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	rc = write(1, "\n", 1) == 1 ? 0 : -1;
out:
	free(text);
	return rc;
}

/* ---- main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	char why[WHY];
	char *text = NULL;
	size_t len = 0;
	json_t *req = NULL, *reply = NULL, *ok;
	json_error_t jerr;
	int status = EXIT_NO_REPLY;
	bool isolated;

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
	json_set_alloc_funcs(malloc, wipe_free);
	isolated = isolate(why, sizeof(why)) == 0;

	if (!isolated) {
		reply = hs_fail_reply(why, NULL);
		goto out;
	}
	text = read_stdin(SES_REQUEST_MAX, &len, why, sizeof(why));
	if (text == NULL) {
		reply = hs_fail_reply(why, NULL);
		goto out;
	}
	req = pa_json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(req)) {
		char shown[PA_ESCAPE_MAX];

		pa_escape(jerr.text, strlen(jerr.text), shown, sizeof(shown));
		snprintf(why, sizeof(why), "request: not a JSON object%s%s", req ? "" : ": ",
			 req ? "" : shown);
		reply = hs_fail_reply(why, NULL);
		goto out;
	}
	reply = hs_serve(req);
out:
	if (reply != NULL && write_reply(reply) == 0) {
		ok = json_object_get(reply, "ok");
		status = json_is_true(ok) ? EXIT_OK : EXIT_REFUSED;
	} else {
		fputs("pam_agent_helper: cannot write the reply\n", stderr);
	}
	json_decref(reply);
	json_decref(req);
	free(text);
	pa_scrub_stack(PA_SCRUB_PROGRAM);
	return status;
}
