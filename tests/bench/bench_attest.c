/*
 * bench_attest.c - what attesting a caller costs (id_attest: the pidfd,
 * the /proc/PID reads and the SHA-256 of the executable) for a process
 * whose executable is 1 MiB and one of 50 MiB (copies of /bin/sleep with
 * zero bytes appended, which still run), next to one ES256 token
 * verification (id_jws_parse + id_jws_verify, and the whole pipeline
 * id_verify_token with one key, measured as bench_verify.c does). Not a
 * test: prints a table and writes bench-attest.csv. Figures are medians.
 *
 * Depth 1 hashes the parent's executable too (this program); depth 0 (the
 * process alone) and id_sha256_fd of the executable alone are printed
 * beside it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "identity.h"
#include "bench.h"

#define SLEEP "/bin/sleep"
#define AUD "spiffe://example.org/host/bench"
#define SUB "spiffe://example.org/agents/bench"
#define BATCH 20
#define BATCHES 41
#define MIB (1024 * 1024)

static void die(const char *what, const char *err)
{
	fprintf(stderr, "bench_attest: %s: %s\n", what, err != NULL ? err : strerror(errno));
	exit(1);
}

/* Writes len bytes of buf to fd, or dies. */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n <= 0)
			die("write", NULL);
		buf += n;
		len -= (size_t)n;
	}
}

/* dst: a copy of /bin/sleep with zero bytes appended up to size bytes, mode 0755. */
static void make_exe(const char *dst, size_t size)
{
	static char buf[65536];
	size_t total = 0;
	ssize_t n;
	int in = open(SLEEP, O_RDONLY | O_CLOEXEC);
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);

	if (in < 0 || out < 0)
		die(dst, NULL);
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		write_all(out, buf, (size_t)n);
		total += (size_t)n;
	}
	if (n < 0 || total > size)
		die(SLEEP, n < 0 ? NULL : "larger than the size asked for");
	memset(buf, 0, sizeof(buf));
	while (total < size) {
		size_t k = size - total < sizeof(buf) ? size - total : sizeof(buf);

		write_all(out, buf, k);
		total += k;
	}
	if (fchmod(out, 0755) != 0 || close(out) != 0)
		die(dst, NULL);
	close(in);
}

/* Starts path 600 and returns once it has exec'd. */
static pid_t spawn(const char *path)
{
	int p[2], e = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0 || (pid = fork()) < 0)
		die("fork", NULL);
	if (pid == 0) {
		char *argv[] = { (char *)path, (char *)"600", NULL };

		execv(path, argv);
		e = errno;
		if (write(p[1], &e, sizeof(e)) < 0)
			_exit(126);
		_exit(127);
	}
	close(p[1]);
	if (read(p[0], &e, sizeof(e)) != 0)
		die(path, "exec failed");
	close(p[0]);
	return pid;
}

/* Median microseconds of one id_attest(pid, depth), over runs runs (after one to warm up). */
static double time_attest(pid_t pid, unsigned depth, size_t runs)
{
	double *t = calloc(runs, sizeof(double)), m;
	struct id_runtime rt;
	char err[256];
	size_t i;

	if (t == NULL)
		die("calloc", NULL);
	for (i = 0; i <= runs; i++) {
		double t0 = bench_now_ns();

		if (id_attest(pid, depth, &rt, err, sizeof(err)) != 0)
			die("id_attest", err);
		if (i > 0)
			t[i - 1] = (bench_now_ns() - t0) / 1000.0;
		if (depth > 0 && rt.n_parents != 1)
			die("id_attest", "no parent attested");
		id_runtime_clear(&rt);
	}
	m = bench_median(t, runs);
	free(t);
	return m;
}

/* Median microseconds of id_sha256_fd over the file at path alone. */
static double time_sha256(const char *path, size_t runs)
{
	double *t = calloc(runs, sizeof(double)), m;
	char hex[ID_SHA256_HEX + 1], err[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t i;

	if (t == NULL || fd < 0)
		die(path, NULL);
	for (i = 0; i <= runs; i++) {
		double t0 = bench_now_ns();

		if (id_sha256_fd(fd, hex, err, sizeof(err)) != 0)
			die("id_sha256_fd", err);
		if (i > 0)
			t[i - 1] = (bench_now_ns() - t0) / 1000.0;
	}
	close(fd);
	m = bench_median(t, runs);
	free(t);
	return m;
}

/* A compact ES256 JWT and the key that verifies it. */
static char *es256_token(struct id_signer **signer, struct id_key **key)
{
	time_t t = time(NULL);
	json_t *claims, *jwk;
	char err[256], *token;

	*signer = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	if (*signer == NULL)
		die("signer", err);
	claims = json_pack("{s:s, s:s, s:I, s:I, s:s}", "sub", SUB, "aud", AUD, "iat",
			   (json_int_t)t, "exp", (json_int_t)t + 300, "jti", "bench");
	token = claims != NULL ? id_sign_jwt(*signer, claims, err, sizeof(err)) : NULL;
	if (token == NULL)
		die("sign", err);
	json_decref(claims);
	jwk = id_signer_public_jwk(*signer, "jwt-svid");
	*key = jwk != NULL ? id_key_from_jwk(jwk, err, sizeof(err)) : NULL;
	if (*key == NULL)
		die("key", err);
	json_decref(jwk);
	return token;
}

/* Median microseconds of id_jws_parse + id_jws_verify (medians of batch means). */
static double time_jws(const char *token, const struct id_key *key)
{
	double v[BATCHES];
	char err[256];
	size_t b, r;

	for (b = 0; b < BATCHES; b++) {
		double t0 = bench_now_ns();

		for (r = 0; r < BATCH; r++) {
			struct id_jws jws;

			if (id_jws_parse(token, strlen(token), true, &jws, err, sizeof(err)) != 0 ||
			    id_jws_verify(&jws, key, err, sizeof(err)) != 0)
				die("verify", err);
			id_jws_clear(&jws);
		}
		v[b] = (bench_now_ns() - t0) / BATCH / 1000.0;
	}
	return bench_median(v, BATCHES);
}

/* Median microseconds of id_verify_token against a SPIFFE bundle of one key. */
static double time_pipeline(const char *token, const struct id_signer *signer)
{
	json_t *doc = json_pack("{s:[o]}", "keys", id_signer_public_jwk(signer, "jwt-svid"));
	struct id_trust_domain td = { .name = (char *)"example.org" };
	struct id_verifier v = { .audience = (char *)AUD, .leeway = 30, .max_token_age = 3600 };
	char err[256], *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	double t[BATCHES];
	size_t b, r;

	td.keys = text != NULL ? id_keyset_parse(text, strlen(text), ID_KEYSET_SPIFFE, err,
						 sizeof(err))
			       : NULL;
	if (td.keys == NULL)
		die("keyset", err);
	v.domains = &td;
	v.n_domains = 1;
	for (b = 0; b < BATCHES; b++) {
		double t0 = bench_now_ns();

		for (r = 0; r < BATCH; r++) {
			struct id_identity *id = NULL;

			if (id_verify_token(&v, token, strlen(token), (int64_t)time(NULL), &id, err,
					    sizeof(err)) != 0)
				die("verify", err);
			id_identity_free(id);
		}
		t[b] = (bench_now_ns() - t0) / BATCH / 1000.0;
	}
	id_keyset_free(td.keys);
	free(text);
	json_decref(doc);
	return bench_median(t, BATCHES);
}

int main(void)
{
	static const struct {
		const char *name;
		size_t size, runs;
	} exes[] = { { "1MiB", 1 * MIB, 101 }, { "50MiB", 50 * MIB, 31 } };
	char dir[] = "/tmp/pa-bench-attest.XXXXXX", path[64];
	struct id_signer *signer;
	struct id_key *key;
	double jws_us, pipe_us, a1[2], a0[2], sha[2];
	struct stat st;
	FILE *csv;
	char *token;
	size_t i;

	if (mkdtemp(dir) == NULL)
		die("mkdtemp", NULL);
	token = es256_token(&signer, &key);
	jws_us = time_jws(token, key);
	pipe_us = time_pipeline(token, signer);
	for (i = 0; i < 2; i++) {
		pid_t pid;
		int status;

		snprintf(path, sizeof(path), "%s/sleep-%s", dir, exes[i].name);
		make_exe(path, exes[i].size);
		pid = spawn(path);
		a1[i] = time_attest(pid, 1, exes[i].runs);
		a0[i] = time_attest(pid, 0, exes[i].runs);
		sha[i] = time_sha256(path, exes[i].runs);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		unlink(path);
	}
	rmdir(dir);
	if (stat("/proc/self/exe", &st) != 0)
		die("/proc/self/exe", NULL);

	printf("ES256 id_jws_parse+id_jws_verify: %.1f us; id_verify_token (1 key): %.1f us\n",
	       jws_us, pipe_us);
	printf("(depth 1 also hashes the parent, this program: %lld bytes)\n",
	       (long long)st.st_size);
	printf("%-6s %14s %14s %12s %14s %12s\n", "exe", "attest_d1_us", "attest_d0_us",
	       "sha256_us", "d1/jws_verify", "d1/pipeline");
	csv = fopen("bench-attest.csv", "w");
	if (csv != NULL)
		fprintf(csv, "exe,attest_d1_us,attest_d0_us,sha256_us,es256_jws_us,"
			     "es256_pipeline_us,ratio_jws,ratio_pipeline\n");
	for (i = 0; i < 2; i++) {
		printf("%-6s %14.1f %14.1f %12.1f %14.1f %12.1f\n", exes[i].name, a1[i], a0[i],
		       sha[i], a1[i] / jws_us, a1[i] / pipe_us);
		if (csv != NULL)
			fprintf(csv, "%s,%.1f,%.1f,%.1f,%.1f,%.1f,%.2f,%.2f\n", exes[i].name, a1[i],
				a0[i], sha[i], jws_us, pipe_us, a1[i] / jws_us, a1[i] / pipe_us);
	}
	if (csv != NULL)
		fclose(csv);
	free(token);
	id_key_free(key);
	id_signer_free(signer);
	return 0;
}
