/*
 * process.c - what pam_agent_helper and pam_agent_helperd share around
 * one request (helper/server.h): the isolation of the process that serves
 * it, reading the request under the size cap, parsing it, writing the
 * reply. Both programs serve a request with exactly this code and
 * hs_serve, so the socket service is no second implementation of the
 * protocol (docs/helper.md).
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <keyutils.h>

#include "session.h"
#include "pa_json.h"
#include "server.h"
#include "util.h"

void hs_wipe_free(void *ptr)
{
	if (ptr == NULL)
		return;
	pa_overwrite(ptr, malloc_usable_size(ptr));
	free(ptr);
}

int hs_isolate(char *why, size_t whylen)
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

/* Waits until fd is readable or the deadline (monotonic ms, < 0: none) passes. */
static int wait_readable(int fd, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline < 0 ? -1 : deadline - pa_mono_ms();
		int n;

		if (deadline >= 0 && left <= 0)
			return -1;
		n = poll(&p, 1, left > 60000 || left < 0 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

char *hs_read_request(int fd, size_t max, int64_t deadline, size_t *len, char *err, size_t errlen)
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

			if (cap > max)
				goto toolarge;
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				free(buf);
				pa_err(err, errlen, "out of memory");
				return NULL;
			}
			buf = nb;
		}
		if (wait_readable(fd, deadline) != 0) {
			free(buf);
			pa_err(err, errlen, "no complete request within the time allowed");
			return NULL;
		}
		n = read(fd, buf + have, cap - have);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			free(buf);
			pa_err(err, errlen, "cannot read the request: %s", strerror(errno));
			return NULL;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		if (have > max)
			goto toolarge;
	}
	buf[have] = '\0';
	*len = have;
	return buf;
toolarge:
	free(buf);
	pa_err(err, errlen, "request larger than %zu bytes", max);
	return NULL;
}

json_t *hs_serve_text(const char *text, size_t len)
{
	json_error_t jerr;
	json_t *req = pa_json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr), *reply;
	char why[1024];

	if (!json_is_object(req)) {
		char shown[PA_ESCAPE_MAX];

		pa_escape(jerr.text, strlen(jerr.text), shown, sizeof(shown));
		snprintf(why, sizeof(why), "request: not a JSON object%s%s", req ? "" : ": ",
			 req ? "" : shown);
		json_decref(req);
		return hs_fail_reply(why, NULL);
	}
	reply = hs_serve(req);
	json_decref(req);
	return reply;
}

int hs_write_reply(int fd, const json_t *reply)
{
	char *text = pa_json_dumps(reply, JSON_COMPACT);
	size_t len, off = 0;
	struct stat st;
	bool sock;
	int rc = -1;

	if (text == NULL)
		return -1;
	sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
	len = strlen(text);
	text[len] = '\n'; /* the reply is one line; its NUL goes */
	len++;
	while (off < len) {
		/* no SIGPIPE from a socket whose reader went away */
		ssize_t n = sock ? send(fd, text + off, len - off, MSG_NOSIGNAL)
				 : write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	rc = 0;
out:
	pa_free_secret_buf(text, len);
	return rc;
}
