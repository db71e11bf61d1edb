/*
 * socket.c - the module's side of pam_agent_helperd (session/session.h,
 * ses_run_socket): the helper's request written to the service's unix
 * socket, its reply read back, under one deadline and the helper's size
 * bound. Nothing is spawned; when the service cannot be reached, or does
 * not answer in time, the call fails and the caller refuses the session
 * (docs/helper.md, "The helper service").
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "session.h"
#include "pa_json.h"
#include "util.h"

/* Waits for events on fd until deadline (monotonic ms). 0 when they came, -1 (errno). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - pa_mono_ms();
		int n;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/*
 * Connects to path (non-blocking, close-on-exec). The descriptor, or -1
 * (errno). A unix socket whose backlog is full answers EAGAIN at once
 * (it never connects in progress): tried again every millisecond until
 * the deadline.
 */
static int connect_to(const char *path, int64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || pa_mono_ms() >= deadline)
			break;
		(void)poll(NULL, 0, 1);
	}
	e = errno == EAGAIN ? ETIMEDOUT : errno;
	close(fd);
	errno = e;
	return -1;
}

/* Writes len bytes of buf to fd by the deadline. 0, or -1 (errno). */
static int send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && wait_fd(fd, POLLOUT, deadline) == 0)
			continue;
		return -1;
	}
	return 0;
}

/*
 * Reads fd to EOF by the deadline into x-like storage: *out (heap, wiped
 * when freed by the caller with pa_free_secret_buf(*out, *cap)). 0, 1 when
 * more than max came, -1 (errno).
 */
static int recv_all(int fd, size_t max, int64_t deadline, char **out, size_t *len, size_t *cap)
{
	for (;;) {
		ssize_t n;

		if (*len + 4096 + 1 > *cap) {
			size_t ncap = *cap ? *cap * 2 : 8192;
			char *nb = malloc(ncap);

			if (nb == NULL)
				return -1;
			if (*out != NULL) {
				memcpy(nb, *out, *len);
				pa_free_secret_buf(*out, *cap);
			}
			*out = nb;
			*cap = ncap;
		}
		n = recv(fd, *out + *len, *cap - *len - 1, 0);
		if (n > 0) {
			*len += (size_t)n;
			(*out)[*len] = '\0';
			if (*len > max)
				return 1;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && wait_fd(fd, POLLIN, deadline) == 0)
			continue;
		return -1;
	}
}

int ses_run_socket(const char *socket_path, const json_t *request, int timeout_s,
		   json_t **reply, char *err, size_t errlen)
{
	char where[PA_ESCAPE_MAX], reason[300];
	char *text = NULL, *out = NULL;
	size_t len = 0, cap = 0;
	json_error_t jerr;
	json_t *r = NULL;
	int64_t deadline;
	int fd = -1, rc = -1, got;

	*reply = NULL;
	if (socket_path == NULL || socket_path[0] != '/' ||
	    strlen(socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return pa_err(err, errlen, "helper_socket must be an absolute path of at most "
			      "%zu bytes", sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	pa_escape(socket_path, strlen(socket_path), where, sizeof(where));
	if (timeout_s <= 0 || timeout_s > 3600)
		return pa_err(err, errlen, "helper timeout %d s out of range", timeout_s);
	text = pa_json_dumps(request, JSON_COMPACT);
	if (text == NULL)
		return pa_err(err, errlen, "cannot encode the helper request");
	deadline = pa_mono_ms() + (int64_t)timeout_s * 1000;
	fd = connect_to(socket_path, deadline);
	if (fd < 0) {
		pa_err(err, errlen, "helper service %s: cannot connect: %s", where,
		       strerror(errno));
		goto out;
	}
	/* the request, then EOF: the service reads to the end */
	if (send_all(fd, text, strlen(text), deadline) != 0 || shutdown(fd, SHUT_WR) != 0) {
		pa_err(err, errlen, "helper service %s: cannot send the request: %s", where,
		       errno == ETIMEDOUT ? "timed out" : strerror(errno));
		goto out;
	}
	got = recv_all(fd, SES_REPLY_MAX, deadline, &out, &len, &cap);
	if (got > 0) {
		pa_err(err, errlen, "helper service %s: reply larger than %d bytes", where,
		       SES_REPLY_MAX);
		goto out;
	}
	if (got < 0) {
		if (errno == ETIMEDOUT)
			pa_err(err, errlen, "helper service %s: no reply within %ds", where,
			       timeout_s);
		else
			pa_err(err, errlen, "helper service %s: cannot read the reply: %s", where,
			       strerror(errno));
		goto out;
	}
	if (len > 0)
		r = pa_json_loadb(out, len, JSON_REJECT_DUPLICATES, &jerr);
	if (r == NULL || !json_is_object(r) || !json_is_boolean(json_object_get(r, "ok"))) {
		if (r == NULL && len > 0)
			pa_escape(jerr.text, strlen(jerr.text), reason, sizeof(reason));
		else
			snprintf(reason, sizeof(reason), "%s",
				 len ? "not an object with \"ok\"" : "no reply: it refused the "
				 "connection or its request process died");
		pa_err(err, errlen, "helper service %s: no valid reply (%s)", where, reason);
		goto out;
	}
	*reply = r;
	r = NULL;
	rc = 0;
out:
	json_decref(r);
	if (fd >= 0)
		close(fd);
	if (out != NULL)
		pa_free_secret_buf(out, cap);
	pa_free_secret_buf(text, strlen(text) + 1);
	return rc;
}

int ses_call(const char *helper_path, const char *helper_socket, const json_t *request,
	     int timeout_s, json_t **reply, char *err, size_t errlen)
{
	if (helper_socket != NULL)
		return ses_run_socket(helper_socket, request, timeout_s, reply, err, errlen);
	return ses_run(helper_path, request, timeout_s, reply, err, errlen);
}
