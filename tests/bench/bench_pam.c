/*
 * bench_pam.c - a whole PAM transaction through the real Linux-PAM library
 * (pam_start, authenticate, acct_mgmt, open_session with 1, 3 and 10 mint
 * grants, close_session, pam_end) against the same stack of pam_permit.so,
 * with a breakdown per phase, and the reference costs the transaction
 * cannot beat: one signature verify, one mint signature, the keyctl calls
 * of one key, one spawn of a minimal static program; and the replay
 * cache's check at 1 000 and 1 000 000 live entries. The transactions run
 * twice: the helper spawned (the default), and through pam_agent_helperd
 * (helper_socket; the service is started here with --listen).
 * Runs under pam_wrapper (tests/lib/harness.c). Not a test: prints a table
 * and writes bench-pam.csv. Figures are medians.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <keyutils.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <security/pam_appl.h>

#include "harness.h"
#include "identity.h"
#include "bench.h"

#define AUD "spiffe://example.org/host/bench"
#define SUB "spiffe://example.org/agents/bench"
#define RUNS 31

#define STACK(conf) "auth required @MODULE@ config=@DIR@/" conf "\n" \
		    "account required @MODULE@ config=@DIR@/" conf "\n" \
		    "session required @MODULE@ config=@DIR@/" conf "\n"

static const struct pa_service services[] = {
	{ "pa-grants1", STACK("bench.conf") }, { "pa-grants3", STACK("bench.conf") },
	{ "pa-grants10", STACK("bench.conf") },
	{ "pa-svc1", STACK("bench-svc.conf") }, { "pa-svc3", STACK("bench-svc.conf") },
	{ "pa-svc10", STACK("bench-svc.conf") },
	{ "pa-permit", "auth required pam_permit.so\naccount required pam_permit.so\n"
		       "session required pam_permit.so\n" },
	{ NULL, NULL },
};

static const char *token;
static FILE *csv;
/* Where the module keeps its state (state_dir) and the replay cache: a
 * directory on a tmpfs when there is one, as /run is in production. */
static char state_dir[4096];
static bool state_on_tmpfs;

static double now_us(void)
{
	return bench_now_ns() / 1e3;
}

static void remove_state_dir(void);

/* Reports what failed, removes the state directory, exits 1. */
static void die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_pam: %s: %s\n", what, detail != NULL ? detail : strerror(errno));
	if (state_dir[0] != '\0')
		remove_state_dir();
	exit(1);
}

static void row(const char *name, double us, const char *note)
{
	printf("%-44s %12.1f  %s\n", name, us, note);
	if (csv != NULL)
		fprintf(csv, "\"%s\",%.1f,\"%s\"\n", name, us, note);
}

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	int i;

	(void)data;
	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
			r[i].resp = strdup(token);
	*resp = r;
	return PAM_SUCCESS;
}

/* One transaction; phase times into t[0..5]. */
static void transaction(const char *service, double *t)
{
	struct pam_conv c = { conv, NULL };
	pam_handle_t *pamh = NULL;
	double t0 = now_us();
	int r;

	if (pam_start(service, getenv("USER_NAME"), &c, &pamh) != PAM_SUCCESS)
		die("pam_start", service);
	t[0] = now_us() - t0;
	t0 = now_us();
	if ((r = pam_authenticate(pamh, 0)) != PAM_SUCCESS)
		die("authenticate", pam_strerror(pamh, r));
	t[1] = now_us() - t0;
	t0 = now_us();
	if ((r = pam_acct_mgmt(pamh, 0)) != PAM_SUCCESS)
		die("acct_mgmt", pam_strerror(pamh, r));
	t[2] = now_us() - t0;
	t0 = now_us();
	if ((r = pam_open_session(pamh, 0)) != PAM_SUCCESS)
		die("open_session", pam_strerror(pamh, r));
	t[3] = now_us() - t0;
	t0 = now_us();
	if ((r = pam_close_session(pamh, 0)) != PAM_SUCCESS)
		die("close_session", pam_strerror(pamh, r));
	t[4] = now_us() - t0;
	t0 = now_us();
	pam_end(pamh, PAM_SUCCESS);
	t[5] = now_us() - t0;
}

static void bench_stack(const char *service, const char *label)
{
	static const char *phases[] = { "pam_start", "authenticate", "acct_mgmt", "open_session",
					"close_session", "pam_end" };
	double per[6][RUNS], total[RUNS], t[6];
	char name[128];
	int i, p;

	transaction(service, t); /* warm up */
	for (i = 0; i < RUNS; i++) {
		transaction(service, t);
		total[i] = 0;
		for (p = 0; p < 6; p++) {
			per[p][i] = t[p];
			total[i] += t[p];
		}
	}
	snprintf(name, sizeof(name), "transaction %s: total", label);
	row(name, bench_median(total, RUNS), "pam_start .. pam_end");
	for (p = 0; p < 6; p++) {
		snprintf(name, sizeof(name), "  %s", phases[p]);
		row(name, bench_median(per[p], RUNS), "");
	}
}

static const char *write_file(const char *name, const char *text, mode_t mode)
{
	return pa_harness_file(name, text, (int)mode);
}

/* What the steps share: the trust domain's key, the broker's, the tokens. */
struct bench {
	struct id_signer *ca, *broker;
	json_t *jwk; /* the public key of ca */
	time_t t;
	char *tok[3]; /* for the agents of 1, 3 and 10 grants */
};

static const int n_grants[] = { 1, 3, 10 };

/* USER_NAME: the login name of the effective uid (id -un), else $USER, else root. */
static void set_user_name(void)
{
	char *u = NULL;
	FILE *p;
	char buf[64] = "";

	setenv("USER_NAME", getenv("USER") != NULL ? getenv("USER") : "root", 0);
	p = popen("id -un", "r");
	if (p != NULL && fgets(buf, sizeof(buf), p) != NULL) {
		buf[strcspn(buf, "\n")] = '\0';
		u = buf;
	}
	if (p != NULL)
		pclose(p);
	if (u != NULL)
		setenv("USER_NAME", u, 1);
}

/* The trust domain's key (DIR/bundle.json) and the broker's (DIR/broker.key). */
static void make_keys(struct bench *b)
{
	char err[256], path[4400];
	json_t *doc;
	char *text;

	b->ca = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	b->broker = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	if (b->ca == NULL || b->broker == NULL)
		die("keys", err);
	snprintf(path, sizeof(path), "%s/broker.key", pa_harness_dir());
	if (id_signer_save(b->broker, path, err, sizeof(err)) != 0)
		die("save", err);
	b->jwk = id_signer_public_jwk(b->ca, "jwt-svid");
	doc = json_pack("{s:[O]}", "keys", b->jwk);
	text = json_dumps(doc, 0);
	write_file("bundle.json", text, 0644);
	free(text);
	json_decref(doc);
}

/*
 * state_dir: a new directory under /dev/shm when that is a tmpfs (the
 * module's state lives on the tmpfs /run in production, where neither the
 * records nor the cache touch a disk), else the harness directory (said
 * in the output).
 */
static void make_state_dir(void)
{
	struct statfs sf;

	snprintf(state_dir, sizeof(state_dir), "/dev/shm/pa-bench.XXXXXX");
	if (statfs("/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC && mkdtemp(state_dir) != NULL) {
		state_on_tmpfs = true;
		return;
	}
	snprintf(state_dir, sizeof(state_dir), "%s", pa_harness_dir());
}

static void remove_state_dir(void)
{
	char cmd[4300];

	if (!state_on_tmpfs)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", state_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_pam: cannot remove %s\n", state_dir);
}

/*
 * DIR/FILE: a service PREFIX<n> and an agent for 1, 3 and 10 mint grants;
 * with helper_socket = socket when it is not NULL.
 */
static void write_config(const char *file, const char *prefix, const char *socket)
{
	char conf[8192];
	size_t o = 0;
	char *d = (char *)pa_harness_dir();
	int i;

	o += (size_t)snprintf(conf + o, sizeof(conf) - o,
			      "[global]\naudience = " AUD "\nstate_dir = %s/state\n"
			      "helper = %s\nbroker_key = %s/broker.key\n"
			      "broker_issuer = https://broker.bench\n%s%s%s"
			      "[trust_domain example.org]\nbundle = %s/bundle.json\n",
			      state_dir, getenv("PA_HELPER"), d, socket ? "helper_socket = " : "",
			      socket ? socket : "", socket ? "\n" : "", d);
	for (i = 0; i < 3; i++) {
		char list[512] = "";
		int k;

		for (k = 1; k <= n_grants[i]; k++) {
			char g[16];

			snprintf(g, sizeof(g), "%sg%d", k > 1 ? " " : "", k);
			strcat(list, g);
		}
		o += (size_t)snprintf(conf + o, sizeof(conf) - o,
				      "[service %s%d]\nclass = read\n"
				      "[agent " SUB "/%d]\nusers = %s\nservices = %s%d\n"
				      "grants = %s\n",
				      prefix, n_grants[i], n_grants[i], getenv("USER_NAME"), prefix,
				      n_grants[i], list);
	}
	for (i = 1; i <= 10; i++)
		o += (size_t)snprintf(conf + o, sizeof(conf) - o,
				      "[grant g%d]\nclass = read\nsource = mint\n"
				      "audience = https://svc.bench\nscope = read\nttl = 5m\n", i);
	write_file(file, conf, 0644);
}

/* pam_agent_helperd, serving DIR/run/helperd.sock with DIR/bench-svc.conf */
static pid_t helperd;
static char helperd_sock[4200];

static void start_helperd(void)
{
	char run[4100], conf[4200];
	char *const envp[] = { NULL };
	const char *prog = getenv("PA_HELPERD");
	struct stat st;
	int i;

	snprintf(run, sizeof(run), "%s/run", pa_harness_dir());
	snprintf(conf, sizeof(conf), "%s/bench-svc.conf", pa_harness_dir());
	if (prog == NULL)
		die("PA_HELPERD", "not set (make bench sets it)");
	if (mkdir(run, 0700) != 0 && errno != EEXIST)
		die("mkdir", run);
	helperd = fork();
	if (helperd < 0)
		die("fork", NULL);
	if (helperd == 0) {
		/* its own environment: none (no pam_wrapper preload) */
		execle(prog, prog, "--listen", helperd_sock, "--config", conf, (char *)NULL, envp);
		_exit(127);
	}
	for (i = 0; i < 500 && stat(helperd_sock, &st) != 0; i++)
		usleep(10000);
	if (stat(helperd_sock, &st) != 0)
		die("pam_agent_helperd did not listen", helperd_sock);
}

static void stop_helperd(void)
{
	if (helperd > 0) {
		kill(helperd, SIGTERM);
		waitpid(helperd, NULL, 0);
		helperd = 0;
	}
}

/* A token for each agent, then the transactions: pam_permit.so, then 1, 3 and 10 grants. */
static void bench_transactions(struct bench *b)
{
	char err[256], label[64], service[32], sub[128];
	json_t *claims;
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), SUB "/%d", n_grants[i]);
		claims = json_pack("{s:s, s:s, s:I, s:I}", "sub", sub, "aud", AUD, "iat",
				   (json_int_t)b->t, "exp", (json_int_t)b->t + 600);
		b->tok[i] = id_sign_jwt(b->ca, claims, err, sizeof(err));
		json_decref(claims);
		if (b->tok[i] == NULL)
			die("sign", err);
	}
	token = b->tok[0];
	bench_stack("pa-permit", "pam_permit.so x3");
	for (i = 0; i < 3; i++) {
		token = b->tok[i];
		snprintf(service, sizeof(service), "pa-grants%d", n_grants[i]);
		snprintf(label, sizeof(label), "pam_agent, %d mint grant%s", n_grants[i],
			 n_grants[i] > 1 ? "s" : "");
		bench_stack(service, label);
	}
	start_helperd();
	for (i = 0; i < 3; i++) {
		token = b->tok[i];
		snprintf(service, sizeof(service), "pa-svc%d", n_grants[i]);
		snprintf(label, sizeof(label), "pam_agent, %d mint grant%s, helperd", n_grants[i],
			 n_grants[i] > 1 ? "s" : "");
		bench_stack(service, label);
	}
	stop_helperd();
	token = b->tok[0];
}

/*
 * PA_BENCH_PROFILE=N: only N transactions through the helper service,
 * nothing printed: a steady load for perf or strace. PA_BENCH_GRANTS
 * (1, 3 or 10; default 1): how many mint grants each places.
 */
static void profile_loop(struct bench *b, int n)
{
	const char *g = getenv("PA_BENCH_GRANTS");
	int grants = g != NULL ? atoi(g) : 1;
	char err[256], sub[128], service[32];
	double t[6];
	json_t *claims;

	if (grants != 1 && grants != 3 && grants != 10)
		die("PA_BENCH_GRANTS", "must be 1, 3 or 10");
	snprintf(sub, sizeof(sub), SUB "/%d", grants);
	snprintf(service, sizeof(service), "pa-svc%d", grants);
	claims = json_pack("{s:s, s:s, s:I, s:I}", "sub", sub, "aud", AUD, "iat", (json_int_t)b->t,
			   "exp", (json_int_t)b->t + 600);
	b->tok[0] = id_sign_jwt(b->ca, claims, err, sizeof(err));
	json_decref(claims);
	if (b->tok[0] == NULL)
		die("sign", err);
	token = b->tok[0];
	start_helperd();
	while (n-- > 0)
		transaction(service, t);
	stop_helperd();
}

/* reference: the signature verify and one mint signature */
static void ref_signatures(const struct bench *b)
{
	char err[256];
	double v[RUNS];
	struct id_jws jws;
	struct id_keyset *set;
	json_t *doc = json_pack("{s:[O]}", "keys", b->jwk);
	char *text = json_dumps(doc, 0);
	const struct id_key *key;
	int i;

	set = id_keyset_parse(text, strlen(text), ID_KEYSET_SPIFFE, err, sizeof(err));
	free(text);
	json_decref(doc);
	memset(&jws, 0, sizeof(jws));
	if (set == NULL || id_jws_parse(token, strlen(token), true, &jws, err, sizeof(err)) != 0)
		die("parse", err);
	key = id_keyset_find(set, id_signer_kid(b->ca));
	for (i = 0; i < RUNS; i++) {
		double t0 = now_us();

		if (id_jws_verify(&jws, key, err, sizeof(err)) != 0)
			die("verify", err);
		v[i] = now_us() - t0;
	}
	row("reference: ES256 signature verify", bench_median(v, RUNS), "the auth floor");
	id_jws_clear(&jws);
	id_keyset_free(set);
	for (i = 0; i < RUNS; i++) {
		json_t *c = json_pack("{s:s}", "sub", SUB);
		double t0 = now_us();
		char *m = id_sign_jwt(b->broker, c, err, sizeof(err));

		v[i] = now_us() - t0;
		free(m);
		json_decref(c);
	}
	row("reference: one ES256 mint signature", bench_median(v, RUNS), "per mint grant");
}

/* reference: the keyctl calls of one key */
static void ref_keyctl(void)
{
	double v[RUNS];
	int i;

	for (i = 0; i < RUNS; i++) {
		double t0 = now_us();
		key_serial_t k = add_key("user", "bench:key", "secret", 6, KEY_SPEC_SESSION_KEYRING);

		if (k < 0 || keyctl_setperm(k, 0x0b3f0000) < 0 || keyctl_set_timeout(k, 60) < 0 ||
		    keyctl_revoke(k) < 0)
			die("keyctl", NULL);
		v[i] = now_us() - t0;
	}
	row("reference: add_key+setperm+timeout+revoke", bench_median(v, RUNS), "per key");
}

/* reference: one spawn of a minimal static program */
static void ref_spawn(void)
{
	char cmd[9000], bin[4200], path[4400];
	double v[RUNS];
	int i;

	snprintf(path, sizeof(path), "%s/true.c", pa_harness_dir());
	write_file("true.c", "int main(void){return 0;}\n", 0644);
	snprintf(bin, sizeof(bin), "%s/true-static", pa_harness_dir());
	snprintf(cmd, sizeof(cmd), "cc -O2 -static -o %s %s 2>/dev/null", bin, path);
	if (system(cmd) != 0) {
		row("reference: spawn of a static program", -1, "SKIPPED: no static libc (libc6-dev)");
		return;
	}
	for (i = 0; i < RUNS; i++) {
		double t0 = now_us();
		pid_t pid = fork();
		int st;

		if (pid == 0) {
			execl(bin, bin, (char *)NULL);
			_exit(127);
		}
		waitpid(pid, &st, 0);
		v[i] = now_us() - t0;
	}
	row("reference: spawn of a static program", bench_median(v, RUNS),
	    "fork+exec+wait, the helper's floor");
}

/*
 * The replay cache as the auth phase calls it (id_replay_check_agent, an
 * agent with the default quota of 10 %), with 1 000 and 1 000 000 live
 * entries already in it: one check of a new jti (recorded) and one of a
 * used jti (a replay), each timed alone. The cache is in the state
 * directory (a tmpfs when there is one, as /run is).
 */
static void ref_replay(time_t t)
{
	static const size_t sizes[] = { 1000, 1000000 };
	char err[256], path[4400];
	double fresh[RUNS], again[RUNS];
	size_t s, k;
	int i;

	for (s = 0; s < 2; s++) {
		char dir[4200], jti[64], name[96], note[96];
		size_t max = sizes[s] + 1000, quota = max / 10;
		struct stat st;

		snprintf(dir, sizeof(dir), "%s/replay%zu", state_dir, s);
		for (k = 0; k < sizes[s]; k++) {
			snprintf(jti, sizeof(jti), "fill-%zu", k);
			if (id_replay_check(dir, "iss", jti, (int64_t)t + 3600, (int64_t)t, max, err,
					    sizeof(err)) != 0)
				die("replay fill", err);
		}
		for (i = 0; i < RUNS; i++) {
			double t0, t1, t2;
			int r1, r2;

			snprintf(jti, sizeof(jti), "new-%d", i);
			t0 = now_us();
			r1 = id_replay_check_agent(dir, "iss", jti, SUB, (int64_t)t + 3600, (int64_t)t,
						   max, quota, err, sizeof(err));
			t1 = now_us();
			r2 = id_replay_check_agent(dir, "iss", jti, SUB, (int64_t)t + 3600, (int64_t)t,
						   max, quota, err, sizeof(err));
			t2 = now_us();
			if (r1 != 0 || r2 != 1)
				die("replay", err);
			fresh[i] = t1 - t0;
			again[i] = t2 - t1;
		}
		snprintf(path, sizeof(path), "%s/replay.db", dir);
		stat(path, &st);
		snprintf(note, sizeof(note), "file %.1f MiB", (double)st.st_size / 1048576.0);
		snprintf(name, sizeof(name), "replay check, new jti, %zu live", sizes[s]);
		row(name, bench_median(fresh, RUNS), note);
		snprintf(name, sizeof(name), "replay check, a replay, %zu live", sizes[s]);
		row(name, bench_median(again, RUNS), note);
	}
}

int main(int argc, char **argv)
{
	struct bench b = { .t = time(NULL) };
	int i, ret;

	ret = pa_harness_init(argc, argv, services);
	if (ret != 0)
		return ret;
	csv = fopen("bench-pam.csv", "w");
	if (csv != NULL)
		fprintf(csv, "measure,median_us,note\n");
	set_user_name();
	make_keys(&b);
	make_state_dir();
	write_config("bench.conf", "pa-grants", NULL);
	snprintf(helperd_sock, sizeof(helperd_sock), "%s/run/helperd.sock", pa_harness_dir());
	write_config("bench-svc.conf", "pa-svc", helperd_sock);
	/*
	 * The module parses its configuration again on every call while a file
	 * is under 2 s old (policy/cache.c: a change within the same timestamp
	 * granule could go unseen); a host's configuration is older than that.
	 */
	sleep(3);
	printf("state_dir %s (%s)\n", state_dir,
	       state_on_tmpfs ? "tmpfs, as /run" : "NOT a tmpfs: no tmpfs /dev/shm here");
	if (getenv("PA_BENCH_PROFILE") != NULL) {
		profile_loop(&b, atoi(getenv("PA_BENCH_PROFILE")));
		remove_state_dir();
		return 0;
	}
	printf("%-44s %12s\n", "measure", "median_us");
	bench_transactions(&b);
	ref_signatures(&b);
	ref_keyctl();
	ref_spawn();
	for (i = 0; i < 3; i++)
		free(b.tok[i]);
	ref_replay(b.t);
	remove_state_dir();
	if (csv != NULL)
		fclose(csv);
	json_decref(b.jwk);
	id_signer_free(b.ca);
	id_signer_free(b.broker);
	return 0;
}
