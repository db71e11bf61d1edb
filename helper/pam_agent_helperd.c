/*
 * pam_agent_helperd - pam_agent_helper as a root service on a unix socket
 * (docs/helper.md, "The helper service"): the module, with helper_socket =
 * PATH in [global], sends the helper's request over the socket instead of
 * spawning the helper, and reads its reply. The request is served by the
 * helper's own code (helper/server.c, helper/process.c) in a child that
 * serves that one connection and exits, isolated as the helper is: "/", an
 * empty environment, an anonymous session keyring of its own. What the
 * service saves is the start of a process that loads libcrypto and decodes
 * the broker key: the parent decodes it once (at start, on SIGHUP, and when
 * the key or the configuration file changes) and stays warm. The children
 * are forked ahead of time: SPARES of them wait, ready, for a connection
 * each; the one that takes a connection tells the parent, which forks its
 * replacement once no request is in progress (at once when no spare is
 * left): no fork is on a request's path, nor beside it on a busy CPU.
 *
 * Only root may connect (SO_PEERCRED; a service run by another user, in
 * the tests, serves that user only). The socket comes from systemd
 * (pam-agent-helperd.socket, sd_listen_fds) or, with --listen PATH, is
 * bound here (mode 0600, in a directory of our own not writable by others).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <systemd/sd-daemon.h>

#include "session.h"
#include "identity.h"
#include "pa_json.h"
#include "policy.h"
#include "server.h"
#include "util.h"

/* Time a client has to send its whole request once connected. */
#define READ_TIMEOUT_MS 10000
/*
 * Longest a child may live: the request's own "timeout" (helper_timeout,
 * at most 600 s) bounds the brokers; this is the backstop past it.
 */
#define CHILD_MAX_S 660
/*
 * Children at once, spares included: connections beyond CHILDREN_MAX in
 * progress are refused (the module fails closed).
 */
#define CHILDREN_MAX 256
/* Children forked ahead, each waiting for one connection. */
#define SPARES 2

static volatile sig_atomic_t got_term, got_hup, got_chld;

static void on_signal(int sig)
{
	if (sig == SIGTERM || sig == SIGINT)
		got_term = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGCHLD)
		got_chld = 1;
}

/* ---- the broker key, loaded in the parent -------------------------------------- */

struct warm {
	const char *config;
	char dropins[4096];
	struct id_signer *signer;
	char key[4096], jwks[4096];
	struct stat conf_st, key_st;
	bool conf_seen, key_seen;
};

/* Whether a and b (both seen, or not) are the same version of a file. */
static bool same_file(const struct stat *a, bool a_seen, const char *path)
{
	struct stat b;
	bool b_seen = stat(path, &b) == 0;

	if (a_seen != b_seen)
		return false;
	return !a_seen || (a->st_dev == b.st_dev && a->st_ino == b.st_ino &&
			   a->st_size == b.st_size &&
			   a->st_mtim.tv_sec == b.st_mtim.tv_sec &&
			   a->st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
			   a->st_ctim.tv_sec == b.st_ctim.tv_sec &&
			   a->st_ctim.tv_nsec == b.st_ctim.tv_nsec);
}

/*
 * (Re)loads broker_key of the configuration, publishes its JWKS, and
 * hands it to the server code. Without one (no broker_key, or a key that
 * does not load) children load the key per request as the spawned helper
 * does, and fail the mint grant with its reason.
 */
static void warm_load(struct warm *w)
{
	struct pol_config *cfg = NULL;
	struct pol_errors errors = { 0 };
	char why[1024];
	unsigned char *sig = NULL;
	size_t siglen = 0;

	hs_set_broker_key(NULL, NULL, NULL);
	id_signer_free(w->signer);
	w->signer = NULL;
	w->key[0] = w->jwks[0] = '\0';
	w->conf_seen = stat(w->config, &w->conf_st) == 0;
	w->key_seen = false;
	if (pol_config_load(w->config, w->dropins, &cfg, &errors) != 0) {
		syslog(LOG_WARNING, "%s: %s; the broker key is loaded per request", w->config,
		       errors.n > 0 ? errors.msgs[0] : "cannot load");
		pol_errors_clear(&errors);
		return;
	}
	if (cfg->global.broker_key == NULL)
		goto out;
	snprintf(w->key, sizeof(w->key), "%s", cfg->global.broker_key);
	snprintf(w->jwks, sizeof(w->jwks), "%s",
		 cfg->global.broker_jwks ? cfg->global.broker_jwks : "");
	w->key_seen = stat(w->key, &w->key_st) == 0;
	w->signer = id_signer_load(w->key, ID_ALG_ES256, why, sizeof(why));
	if (w->signer == NULL) {
		syslog(LOG_ERR, "broker key %s: %s", w->key, why);
		goto out;
	}
	if (w->jwks[0] != '\0' && ses_write_jwks(w->jwks, w->signer, why, sizeof(why)) != 0) {
		syslog(LOG_ERR, "cannot publish the broker JWKS %s: %s", w->jwks, why);
		id_signer_free(w->signer);
		w->signer = NULL;
		goto out;
	}
	/* one signature: OpenSSL's method caches and its DRBG are set up here, not per login */
	if (id_signer_sign(w->signer, "warm", 4, &sig, &siglen, why, sizeof(why)) != 0)
		syslog(LOG_WARNING, "broker key %s: a test signature failed: %s", w->key, why);
	free(sig);
	hs_set_broker_key(w->key, w->jwks[0] ? w->jwks : NULL, w->signer);
	syslog(LOG_INFO, "broker key %s loaded", w->key);
out:
	pol_config_unref(cfg);
}

/* Whether the configuration file or the key file changed since the load. */
static bool warm_stale(const struct warm *w)
{
	return !same_file(&w->conf_st, w->conf_seen, w->config) ||
	       (w->key[0] != '\0' && !same_file(&w->key_st, w->key_seen, w->key));
}

/* ---- the socket ------------------------------------------------------------------- */

/*
 * Binds path (mode 0600) in a directory owned by us and writable by no one
 * else, replacing a stale socket. Returns the listening descriptor, or -1.
 */
static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];
	struct stat st;
	char *slash;
	int fd;

	if (path[0] != '/' || strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "pam_agent_helperd: --listen %s: not an absolute path of at most "
			"%zu bytes\n", path, sizeof(sa.sun_path) - 1);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022) != 0) {
		fprintf(stderr, "pam_agent_helperd: --listen %s: the directory %s must be ours "
			"(uid %u) and writable by no one else\n", path, dir, (unsigned)geteuid());
		return -1;
	}
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* non-blocking: the spares poll it and race to accept */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0600) != 0 || listen(fd, 128) != 0) {
		fprintf(stderr, "pam_agent_helperd: --listen %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The socket systemd passed (exactly one unix stream socket, listening), or -1. */
static int listen_systemd(void)
{
	int n = sd_listen_fds(1), flags;

	if (n != 1 || sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0) {
		fprintf(stderr, "pam_agent_helperd: no socket from systemd (%d passed; run it "
			"through pam-agent-helperd.socket, or with --listen PATH)\n", n);
		return -1;
	}
	/* not inherited by what the children run (they close it too) */
	if (fcntl(SD_LISTEN_FDS_START, F_SETFD, FD_CLOEXEC) != 0)
		return -1;
	/* non-blocking: the spares poll it and race to accept */
	flags = fcntl(SD_LISTEN_FDS_START, F_GETFL);
	if (flags < 0 || fcntl(SD_LISTEN_FDS_START, F_SETFL, flags | O_NONBLOCK) != 0)
		return -1;
	return SD_LISTEN_FDS_START;
}

/* Whether the peer of c is root (or our own uid, for a service not run as root). */
static bool peer_allowed(int c, struct ucred *cr)
{
	socklen_t len = sizeof(*cr);

	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, cr, &len) != 0 || len != sizeof(*cr))
		return false;
	return cr->uid == 0 || cr->uid == geteuid();
}

/* ---- one connection, in a child ----------------------------------------------------- */

/*
 * Serves the request on c and exits. fail, when set, is why the child
 * could not be made ready (reseed, isolation): the reply says so.
 */
static void serve(int c, const char *fail)
{
	char why[1024];
	char *text = NULL;
	size_t len = 0;
	json_t *reply;

	if (fail != NULL)
		reply = hs_fail_reply(fail, NULL);
	else {
		text = hs_read_request(c, SES_REQUEST_MAX, pa_mono_ms() + READ_TIMEOUT_MS, &len,
				       why, sizeof(why));
		reply = text != NULL ? hs_serve_text(text, len) : hs_fail_reply(why, NULL);
	}
	if (reply == NULL || hs_write_reply(c, reply) != 0)
		syslog(LOG_WARNING, "cannot write the reply");
	json_decref(reply);
	if (text != NULL)
		pa_free_secret_buf(text, len);
	close(c);
	pa_scrub_stack(PA_SCRUB_PROGRAM);
	_exit(0);
}

/*
 * Writes, before any connection, where serving a request writes first: in
 * a child just forked, the first write to a page it shares with the
 * parent copies the page (3-4 µs here) and a new page is zeroed (2 µs).
 * One signature with the broker key (OpenSSL's state for it), one parse
 * and dump of a request-shaped object (jansson's allocations) and the
 * stack down to the depth serve() wipes: a one-grant open then takes 6
 * such faults between accept and reply instead of 60. Nothing secret is
 * handled: the message and the object are constants.
 */
static void spare_warm(const struct warm *w)
{
	static const char req[] = "{\"op\":\"open\",\"sid\":\"0123456789abcdef0123456789abcdef\","
				  "\"grants\":[{\"name\":\"warm\",\"class\":\"read\","
				  "\"source\":\"mint\",\"ttl\":600}]}";
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char err[256], *text;
	json_t *j;

	if (w->signer != NULL &&
	    id_signer_sign(w->signer, req, sizeof(req) - 1, &sig, &siglen, err, sizeof(err)) == 0)
		free(sig);
	j = pa_json_loads(req, JSON_REJECT_DUPLICATES, NULL);
	text = j != NULL ? pa_json_dumps(j, JSON_COMPACT) : NULL;
	free(text);
	json_decref(j);
	pa_scrub_stack(PA_SCRUB_PROGRAM);
}

/*
 * A spare: forked ahead of any connection, it makes itself ready (signals,
 * DRBG, isolation, spare_warm), then waits for a connection on lfd (non-blocking:
 * the spares race for it) or for word from the parent on ch. A byte or EOF
 * on ch before a connection retires it (a reload, the parent stopping or
 * gone). Once it holds a root connection it tells the parent (one byte on
 * ch: the parent replaces it), reloads the broker key itself if
 * the parent retired it meanwhile for a reload ('H') or the configuration
 * or the key file changed since its fork, and serves that one connection.
 */
static void spare(int lfd, int ch, struct warm *w)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	struct ucred cr = { 0 };
	sigset_t none;
	char why[1024], word = 0;
	const char *fail = NULL;
	struct pollfd p[2];
	int c;

	sigaction(SIGTERM, &dfl, NULL);
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGHUP, &dfl, NULL);
	sigaction(SIGCHLD, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/*
	 * OpenSSL 3 reseeds its DRBGs in a child it sees forked (fork id);
	 * reseeding the primary here as well costs one getrandom and does not
	 * depend on that detection (tests/unit/test_helperd_fork).
	 */
	if (RAND_poll() != 1)
		fail = "cannot reseed the random generator";
	else if (hs_isolate(why, sizeof(why)) != 0)
		fail = why;
	else
		spare_warm(w);
	for (;;) {
		p[0] = (struct pollfd){ .fd = ch, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (p[0].revents != 0)
			_exit(0);
		if ((p[1].revents & (POLLERR | POLLNVAL)) != 0)
			_exit(1);
		if ((p[1].revents & POLLIN) == 0)
			continue;
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue; /* another spare took it, or the peer left */
		if (peer_allowed(c, &cr))
			break;
		syslog(LOG_WARNING, "connection refused: peer uid %u pid %d is not root",
		       (unsigned)cr.uid, (int)cr.pid);
		close(c);
	}
	close(lfd);
	alarm(CHILD_MAX_S);
	if (poll(&p[0], 1, 0) == 1 && read(ch, &word, 1) != 1)
		word = 0;
	if (send(ch, "T", 1, MSG_NOSIGNAL) != 1)
		syslog(LOG_WARNING, "cannot tell the parent a connection was taken: %s",
		       strerror(errno));
	close(ch);
	if (word == 'H' || warm_stale(w))
		warm_load(w);
	serve(c, fail);
}

/* ---- the parent --------------------------------------------------------------------- */

struct pool {
	pid_t pid[SPARES]; /* the spares waiting, as far as the parent knows */
	int fd[SPARES];    /* the parent's end of each one's channel */
	int n;             /* spares */
	int children;      /* forked and not reaped, spares included */
};

static void pool_drop(struct pool *pl, int i)
{
	close(pl->fd[i]);
	pl->n--;
	pl->pid[i] = pl->pid[pl->n];
	pl->fd[i] = pl->fd[pl->n];
}

/* Retires every spare: word ('H': a reload) then EOF on its channel. */
static void pool_retire(struct pool *pl, char word)
{
	while (pl->n > 0) {
		if (word != 0 && send(pl->fd[0], &word, 1, MSG_NOSIGNAL) != 1 && errno != EPIPE)
			syslog(LOG_WARNING, "cannot retire spare %d: %s", (int)pl->pid[0],
			       strerror(errno));
		pool_drop(pl, 0);
	}
}

/* Forks spares up to SPARES, within CHILDREN_MAX; stops at the first failure. */
static void pool_fill(struct pool *pl, int lfd, struct warm *w)
{
	while (pl->n < SPARES && pl->children < CHILDREN_MAX) {
		int sv[2], i;
		pid_t pid;

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
			syslog(LOG_ERR, "cannot make a spare's channel: %s", strerror(errno));
			return;
		}
		pid = fork();
		if (pid == 0) {
			/* no channel of another spare: a retirement reaches its spare alone */
			for (i = 0; i < pl->n; i++)
				close(pl->fd[i]);
			close(sv[0]);
			spare(lfd, sv[1], w);
		}
		close(sv[1]);
		if (pid < 0) {
			syslog(LOG_ERR, "cannot fork a spare: %s", strerror(errno));
			close(sv[0]);
			return;
		}
		pl->pid[pl->n] = pid;
		pl->fd[pl->n] = sv[0];
		pl->n++;
		pl->children++;
	}
}

static void reap_children(struct pool *pl, bool wait_all)
{
	int st, i;
	pid_t pid;

	while ((pid = waitpid(-1, &st, wait_all ? 0 : WNOHANG)) > 0 ||
	       (pid < 0 && errno == EINTR)) {
		if (pid < 0)
			continue;
		pl->children--;
		for (i = 0; i < pl->n; i++)
			if (pl->pid[i] == pid)
				pool_drop(pl, i);
		if (WIFSIGNALED(st))
			syslog(LOG_ERR, "request process %d was killed by signal %d", (int)pid,
			       WTERMSIG(st));
	}
}

/*
 * With no spare (CHILDREN_MAX children, or no fork possible) the parent
 * takes the connection and refuses it, as it refused it before forking.
 */
static void refuse_one(int lfd, const struct pool *pl)
{
	struct ucred cr = { 0 };
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return;
	if (!peer_allowed(c, &cr))
		syslog(LOG_WARNING, "connection refused: peer uid %u pid %d is not root",
		       (unsigned)cr.uid, (int)cr.pid);
	else if (pl->children >= CHILDREN_MAX)
		syslog(LOG_ERR, "connection of pid %d refused: %d requests in progress",
		       (int)cr.pid, pl->children);
	else
		syslog(LOG_ERR, "connection of pid %d refused: no process to serve it", (int)cr.pid);
	close(c);
}

static int run(int lfd, struct warm *w)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, wait_mask;
	struct pool pl = { .n = 0 };

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGHUP);
	sigdelset(&wait_mask, SIGCHLD);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	while (!got_term) {
		struct pollfd p[SPARES + 1];
		int i, np;

		if (got_chld) {
			got_chld = 0;
			reap_children(&pl, false);
		}
		if (got_hup) {
			got_hup = 0;
			/* first: a spare that takes a connection from now on reloads */
			pool_retire(&pl, 'H');
			warm_load(w);
		}
		/*
		 * a spare taken: its replacement is forked once no request is in
		 * progress (not beside the request, on a busy CPU), at once when
		 * no spare is left
		 */
		if (pl.n == 0 || pl.children == pl.n)
			pool_fill(&pl, lfd, w);
		for (np = 0; np < pl.n; np++)
			p[np] = (struct pollfd){ .fd = pl.fd[np], .events = POLLIN };
		/* no spare waits on the socket: the parent refuses what comes */
		if (pl.n == 0)
			p[np++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		/* signals arrive only inside ppoll: no flag is missed */
		if (ppoll(p, (nfds_t)np, NULL, &wait_mask) <= 0)
			continue;
		if (pl.n == 0) {
			if (p[0].revents & POLLIN) {
				pool_fill(&pl, lfd, w);
				if (pl.n == 0)
					refuse_one(lfd, &pl);
			}
			continue;
		}
		/* a spare took a connection (one byte) or is gone (EOF): it is no spare now */
		for (i = np - 1; i >= 0; i--)
			if (p[i].revents != 0)
				pool_drop(&pl, i);
		/* the file stamps, as before each fork: the other spares are replaced on a change */
		if (warm_stale(w)) {
			pool_retire(&pl, 'H');
			warm_load(w);
		}
	}
	syslog(LOG_INFO, "stopping: waiting for %d request(s) in progress", pl.children - pl.n);
	pool_retire(&pl, 0);
	close(lfd);
	reap_children(&pl, true);
	return 0;
}

/* Closes every descriptor from fd up. */
static void close_from(int fd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)fd, ~0U, 0) == 0)
		return;
#endif
	for (; fd < 65536; fd++)
		close(fd);
}

static int usage(void)
{
	fputs("usage: pam_agent_helperd [--listen PATH] [--config PATH]\n"
	      "  without --listen the socket comes from systemd (pam-agent-helperd.socket)\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	struct warm w = { .config = PA_DEFAULT_CONFIG };
	struct rlimit nocore = { 0, 0 };
	const char *listen_path = NULL;
	int i, lfd, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen_path = argv[++i];
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			w.config = argv[++i];
		else
			return usage();
	}
	if (w.config[0] != '/') {
		fprintf(stderr, "pam_agent_helperd: --config %s: not an absolute path\n",
			w.config);
		return 2;
	}
	umask(077);
	/* the broker key lives in this process: no core dump, no ptrace by non-root */
	setrlimit(RLIMIT_CORE, &nocore);
	prctl(PR_SET_DUMPABLE, 0);
	signal(SIGPIPE, SIG_IGN); /* as the helper; brokers get SIG_DFL back */
	/* nothing of whoever started us reaches a child (0-2 stay: the journal) */
	close_from(listen_path != NULL ? 3 : SD_LISTEN_FDS_START + 1);
	lfd = listen_path != NULL ? listen_on(listen_path) : listen_systemd();
	if (lfd < 0)
		return 1;
	pa_dropin_dir(w.config, w.dropins, sizeof(w.dropins));
	/* w.config points into argv or is a constant: clearenv keeps it */
	clearenv();
	if (chdir("/") != 0)
		return 1;
	openlog("pam_agent_helperd", LOG_PID, LOG_AUTHPRIV);
	json_set_alloc_funcs(malloc, hs_wipe_free);
	/* OpenSSL's configuration and its DRBG, set up once here, key or not */
	{
		unsigned char b[32];

		if (RAND_bytes(b, sizeof(b)) != 1) {
			fputs("pam_agent_helperd: no random bytes (RAND_bytes)\n", stderr);
			return 1;
		}
		pa_overwrite(b, sizeof(b));
	}
	warm_load(&w);
	syslog(LOG_INFO, "serving pam_agent_helper requests%s%s", listen_path ? " on " : "",
	       listen_path ? listen_path : "");
	rc = run(lfd, &w);
	if (listen_path != NULL)
		unlink(listen_path);
	hs_set_broker_key(NULL, NULL, NULL);
	id_signer_free(w.signer);
	return rc;
}
