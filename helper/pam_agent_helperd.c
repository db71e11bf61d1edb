/*
 * pam_agent_helperd - pam_agent_helper as a root service on a unix socket
 * (docs/helper.md, "The helper service"): the module, with helper_socket =
 * PATH in [global], sends the helper's request over the socket instead of
 * spawning the helper, and reads its reply. The request is served by the
 * helper's own code (helper/server.c, helper/process.c) in a child forked
 * per connection, isolated as the helper is: "/", an empty environment, an
 * anonymous session keyring of its own. What the service saves is the
 * start of a process that loads libcrypto and decodes the broker key: the
 * parent decodes it once (at start, on SIGHUP, and when the key or the
 * configuration file changes) and stays warm.
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
/* Connections served at once; more are refused (the module fails closed). */
#define CHILDREN_MAX 256

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

/* Reloads when the configuration file or the key file changed. */
static void warm_check(struct warm *w)
{
	if (!same_file(&w->conf_st, w->conf_seen, w->config) ||
	    (w->key[0] != '\0' && !same_file(&w->key_st, w->key_seen, w->key)))
		warm_load(w);
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
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
	int n = sd_listen_fds(1);

	if (n != 1 || sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0) {
		fprintf(stderr, "pam_agent_helperd: no socket from systemd (%d passed; run it "
			"through pam-agent-helperd.socket, or with --listen PATH)\n", n);
		return -1;
	}
	/* not inherited by what the children run (they close it too) */
	if (fcntl(SD_LISTEN_FDS_START, F_SETFD, FD_CLOEXEC) != 0)
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

static void serve(int c)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	char why[1024];
	char *text = NULL;
	size_t len = 0;
	json_t *reply;

	sigaction(SIGTERM, &dfl, NULL);
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGHUP, &dfl, NULL);
	sigaction(SIGCHLD, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	alarm(CHILD_MAX_S);
	/*
	 * OpenSSL 3 reseeds its DRBGs in a child it sees forked (fork id);
	 * reseeding the primary here as well costs one getrandom and does not
	 * depend on that detection (tests/unit/test_helperd_fork).
	 */
	if (RAND_poll() != 1) {
		reply = hs_fail_reply("cannot reseed the random generator", NULL);
		goto out;
	}
	if (hs_isolate(why, sizeof(why)) != 0) {
		reply = hs_fail_reply(why, NULL);
		goto out;
	}
	text = hs_read_request(c, SES_REQUEST_MAX, pa_mono_ms() + READ_TIMEOUT_MS, &len, why,
			       sizeof(why));
	reply = text != NULL ? hs_serve_text(text, len) : hs_fail_reply(why, NULL);
out:
	if (reply == NULL || hs_write_reply(c, reply) != 0)
		syslog(LOG_WARNING, "cannot write the reply");
	json_decref(reply);
	if (text != NULL)
		pa_free_secret_buf(text, len);
	close(c);
	pa_scrub_stack(PA_SCRUB_PROGRAM);
	_exit(0);
}

/* ---- the parent --------------------------------------------------------------------- */

static void reap_children(int *children, bool wait_all)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, wait_all ? 0 : WNOHANG)) > 0 ||
	       (pid < 0 && errno == EINTR)) {
		if (pid < 0)
			continue;
		(*children)--;
		if (WIFSIGNALED(st))
			syslog(LOG_ERR, "request process %d was killed by signal %d", (int)pid,
			       WTERMSIG(st));
	}
}

/* Accepts one connection and forks its child. */
static void accept_one(int lfd, struct warm *w, int *children)
{
	struct ucred cr = { 0 };
	pid_t pid;
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return;
	if (!peer_allowed(c, &cr)) {
		syslog(LOG_WARNING, "connection refused: peer uid %u pid %d is not root",
		       (unsigned)cr.uid, (int)cr.pid);
		close(c);
		return;
	}
	if (*children >= CHILDREN_MAX) {
		syslog(LOG_ERR, "connection of pid %d refused: %d requests in progress",
		       (int)cr.pid, *children);
		close(c);
		return;
	}
	warm_check(w);
	pid = fork();
	if (pid == 0) {
		close(lfd);
		serve(c);
	}
	if (pid < 0)
		syslog(LOG_ERR, "cannot fork for pid %d: %s", (int)cr.pid, strerror(errno));
	else
		(*children)++;
	close(c);
}

static int run(int lfd, struct warm *w)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, wait_mask;
	int children = 0;

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
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		if (got_chld) {
			got_chld = 0;
			reap_children(&children, false);
		}
		if (got_hup) {
			got_hup = 0;
			warm_load(w);
		}
		/* signals arrive only inside ppoll: no flag is missed */
		if (ppoll(&p, 1, NULL, &wait_mask) > 0 && (p.revents & POLLIN))
			accept_one(lfd, w, &children);
	}
	syslog(LOG_INFO, "stopping: waiting for %d request(s) in progress", children);
	close(lfd);
	reap_children(&children, true);
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
