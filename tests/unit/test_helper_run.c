/*
 * test_helper_run.c - ses_run against fake helpers written as shell
 * scripts (timeouts, crashes, bad or huge replies, environment and
 * descriptors, SIGPIPE, SIGCHLD ignored), the open and close reply
 * parsers, and the pieces of grants.c that have rules of their own
 * (expiry times, command splitting).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <keyutils.h>

#include "session.h"
#include "identity.h"
#include "keyring.h"
#include "policy.h"
#include "util.h"
#include "tfx.h"
#include "tfx_keyring.h"
#include "tfx_session.h"

/* ---- ses_run against fake helpers ---------------------------------------------------- */

/* Runs dir/name as the helper with a small request. */
static int run_fake(struct tfx_ses *f, const char *name, int timeout, json_t **reply, char *err)
{
	char path[256];
	json_t *req = json_pack("{s:s}", "op", "test");
	int rc;

	snprintf(path, sizeof(path), "%s/%s", f->tmp.dir, name);
	rc = ses_run(path, req, timeout, reply, err, TFX_SES_ERRLEN);
	json_decref(req);
	return rc;
}

static void test_run_timeout(void **state)
{
	struct tfx_ses *f = *state;
	char err[TFX_SES_ERRLEN];
	json_t *r = NULL;
	time_t t0 = time(NULL);

	tfx_ses_script(f, "h.sh", "echo $$ > @D@/h.pid\nexec sleep 1000\n");
	assert_int_equal(run_fake(f, "h.sh", 1, &r, err), -1);
	assert_null(r);
	assert_string_equal(err, "helper timed out after 1s");
	assert_in_range(time(NULL) - t0, 0, 3);
	assert_true(tfx_process_gone((pid_t)strtol(tfx_ses_read(f, "h.pid"), NULL, 10)));
}

static void test_run_failures(void **state)
{
	struct tfx_ses *f = *state;
	char err[TFX_SES_ERRLEN];
	json_t *r = NULL;

	tfx_ses_script(f, "h.sh", "cat >/dev/null\necho 'cannot parse request' >&2\nexit 3\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), -1);
	tfx_contains(err, "helper exited with status 3 without a valid reply (no reply): "
			  "cannot parse request");
	tfx_ses_script(f, "h.sh", "echo 'not json'\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), -1);
	tfx_contains(err, "without a valid reply");
	tfx_ses_script(f, "h.sh", "echo '{\"ok\":true,\"ok\":false}'\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), -1);
	tfx_contains(err, "duplicate");
	tfx_ses_script(f, "h.sh", "echo '{\"ok\":1}'\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), -1);
	tfx_contains(err, "not an object with \"ok\"");
	tfx_ses_script(f, "h.sh", "echo '{\"ok\":true}'\nexit 1\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), -1);
	tfx_contains(err, "helper exited with status 1 after an ok reply");
	tfx_ses_script(f, "h.sh", "kill -9 $$\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), -1);
	tfx_contains(err, "helper was killed by signal 9");
	tfx_ses_script(f, "h.sh", "head -c 2000000 /dev/zero\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), -1);
	tfx_contains(err, "helper reply larger than 1048576 bytes");
	assert_int_equal(run_fake(f, "missing", 5, &r, err), -1);
	tfx_contains(err, "cannot execute: No such file or directory");
	tfx_write_at(f->tmp.dir, "noexec", "#!/bin/sh\n", 0600);
	assert_int_equal(run_fake(f, "noexec", 5, &r, err), -1);
	tfx_contains(err, "cannot execute: Permission denied");
	{
		json_t *req = json_object();

		assert_int_equal(ses_run("relative/helper", req, 5, &r, err, sizeof(err)), -1);
		tfx_contains(err, "must be absolute");
		json_decref(req);
	}
	/* an ok:false reply with a non-zero status is a valid answer */
	tfx_ses_script(f, "h.sh", "echo '{\"ok\":false,\"error\":\"no\"}'\nexit 1\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), 0);
	assert_true(json_is_false(json_object_get(r, "ok")));
	json_decref(r);
}

/*
 * The helper gets the request on stdin, PATH only, no other descriptor,
 * the directory /, a process group of its own, no signal ignored (the
 * caller here ignores SIGUSR2) but glibc's two internal ones. (Its signal
 * mask cannot be seen from a script: the shell sets its own.)
 */
static void test_run_sanitized(void **state)
{
	struct tfx_ses *f = *state;
	char err[TFX_SES_ERRLEN], body[1024];
	json_t *r = NULL;
	int leak = open("/dev/null", O_RDONLY); /* not close-on-exec */
	void (*old_usr2)(int) = signal(SIGUSR2, SIG_IGN);

	assert_true(leak > 2);
	setenv("PA_TEST_LEAK", "must-not-pass", 1);
	snprintf(body, sizeof(body),
		 "cat > @D@/req.json\n"
		 "env > @D@/env.txt\n"
		 "if [ -e /proc/$$/fd/%d ]; then echo leaked > @D@/fd.txt; fi\n"
		 "tr '\\0' ' ' < /proc/$$/cmdline > @D@/cmdline.txt\n"
		 "while read -r k v; do case $k in SigIgn:) echo \"$k $v\";; esac\n"
		 "done < /proc/$$/status > @D@/sig.txt\n"
		 "pwd > @D@/cwd.txt\n"
		 "[ \"$(cut -d' ' -f5 /proc/$$/stat)\" = $$ ] && echo leader > @D@/pgid.txt\n"
		 "echo '{\"ok\":true}'\n",
		 leak);
	tfx_ses_script(f, "h.sh", body);
	if (run_fake(f, "h.sh", 5, &r, err) != 0)
		fail_msg("ses_run: %s", err);
	close(leak);
	unsetenv("PA_TEST_LEAK");
	signal(SIGUSR2, old_usr2);
	{
		unsigned long long ign = ~0ULL;

		assert_int_equal(sscanf(tfx_ses_read(f, "sig.txt"), "SigIgn: %llx", &ign), 1);
		/* glibc's posix_spawn leaves its two internal signals (32: cancellation,
		 * 33: setxid) ignored in the child; every other one is at its default */
		assert_true((ign & ~(3ULL << 31)) == 0);
	}
	assert_string_equal(tfx_ses_read(f, "cwd.txt"), "/\n");
	assert_string_equal(tfx_ses_read(f, "pgid.txt"), "leader\n");
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	assert_string_equal(tfx_ses_read(f, "req.json"), "{\"op\":\"test\"}");
	/* sh adds PWD (and may add SHLVL, _): the helper was given PATH only */
	tfx_contains(tfx_ses_read(f, "env.txt"), SES_ENV_PATH "\n");
	tfx_lacks(tfx_ses_read(f, "env.txt"), "PA_TEST_LEAK");
	tfx_lacks(tfx_ses_read(f, "env.txt"), "PA_HELPER");
	assert_string_equal(tfx_ses_read(f, "fd.txt"), "");
	/* argv = { path } (the kernel adds /bin/sh for the script) */
	tfx_contains(tfx_ses_read(f, "cmdline.txt"), "/h.sh ");
	tfx_lacks(tfx_ses_read(f, "cmdline.txt"), "/h.sh /");
}

/* A helper that does not read its stdin must not kill us with SIGPIPE. */
static void test_run_sigpipe(void **state)
{
	struct tfx_ses *f = *state;
	char err[TFX_SES_ERRLEN], path[256];
	char *big = malloc(1 << 20);
	json_t *req, *r = NULL;
	sigset_t before, after, pending;

	assert_non_null(big);
	memset(big, 'a', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\0';
	req = json_pack("{s:s}", "pad", big);
	free(big);
	tfx_ses_script(f, "h.sh", "echo '{\"ok\":false,\"error\":\"early\"}'\nexit 1\n");
	snprintf(path, sizeof(path), "%s/h.sh", f->tmp.dir);
	sigprocmask(SIG_SETMASK, NULL, &before);
	assert_int_equal(ses_run(path, req, 5, &r, err, sizeof(err)), 0);
	sigprocmask(SIG_SETMASK, NULL, &after);
	assert_int_equal(sigismember(&before, SIGPIPE), sigismember(&after, SIGPIPE));
	assert_int_equal(sigpending(&pending), 0);
	assert_int_equal(sigismember(&pending, SIGPIPE), 0);
	json_decref(r);
	json_decref(req);
}

/* With SIGCHLD ignored (children reaped by the kernel) the reply still counts. */
static void test_run_sigchld_ignored(void **state)
{
	struct tfx_ses *f = *state;
	struct sigaction ign, old;
	char err[TFX_SES_ERRLEN];
	json_t *r = NULL;
	int rc;

	tfx_ses_script(f, "h.sh", "cat >/dev/null\necho '{\"ok\":true}'\n");
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
	rc = run_fake(f, "h.sh", 5, &r, err);
	sigaction(SIGCHLD, &old, NULL);
	if (rc != 0)
		fail_msg("ses_run: %s", err);
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
}

/* ---- replies and pieces ----------------------------------------------------------------- */

static void test_open_reply_parse(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_keys keys = { 0 };
	char err[TFX_SES_ERRLEN], failed[80];
	json_t *r;

	tfx_ses_grant(f, "a", POL_SOURCE_FILE, "/x", NULL, 60);
	tfx_ses_grant(f, "b", POL_SOURCE_EXEC, "/bin/issue", "/bin/revoke", 60);
	r = json_loads("{\"ok\":true,\"keys\":[{\"grant\":\"a\",\"serial\":5,\"expires_at\":9,"
		       "\"handle\":null,\"revoke\":null},{\"grant\":\"b\",\"serial\":6,"
		       "\"expires_at\":9,\"handle\":\"h\",\"revoke\":\"/bin/revoke\"}]}",
		       0, NULL);
	assert_int_equal(ses_open_reply_parse(r, &f->d, &keys, failed, sizeof(failed), err,
					     sizeof(err)),
			 0);
	assert_int_equal(keys.n, 2);
	assert_int_equal(keys.v[1].serial, 6);
	assert_string_equal(keys.v[1].handle, "h");
	json_decref(r);
	/* round trip through the state-file form */
	{
		json_t *arr = ses_keys_to_json(&keys);
		struct ses_keys back = { 0 };

		assert_int_equal(ses_keys_from_json(arr, &back, err, sizeof(err)), 0);
		assert_int_equal(back.n, 2);
		assert_string_equal(back.v[1].revoke, "/bin/revoke");
		assert_int_equal(back.v[0].expires_at, 9);
		ses_keys_clear(&back);
		json_decref(arr);
	}
	ses_keys_clear(&keys);

	/* wrong order, wrong count, wrong revoke, bad serial, extra member */
	static const char *const bad[] = {
		"{\"ok\":true,\"keys\":[{\"grant\":\"b\",\"serial\":5},"
		"{\"grant\":\"a\",\"serial\":6}]}",
		"{\"ok\":true,\"keys\":[{\"grant\":\"a\",\"serial\":5}]}",
		"{\"ok\":true,\"keys\":[{\"grant\":\"a\",\"serial\":5},"
		"{\"grant\":\"b\",\"serial\":6}]}",
		"{\"ok\":true,\"keys\":[{\"grant\":\"a\",\"serial\":-5},"
		"{\"grant\":\"b\",\"serial\":6,"
		"\"revoke\":\"/bin/revoke\"}]}",
		"{\"ok\":true,\"keys\":[],\"more\":1}",
		"{\"ok\":\"yes\"}",
	};
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(bad); i++) {
		r = json_loads(bad[i], 0, NULL);
		assert_non_null(r);
		assert_int_equal(ses_open_reply_parse(r, &f->d, &keys, failed, sizeof(failed), err,
						     sizeof(err)),
				 -1);
		assert_null(keys.v);
		json_decref(r);
	}
	r = json_loads("{\"ok\":false,\"error\":\"broker down\\n\",\"grant\":\"b\"}", 0, NULL);
	assert_int_equal(
		ses_open_reply_parse(r, &f->d, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_string_equal(failed, "b");
	assert_string_equal(err, "grant b: broker down\\x0a");
	json_decref(r);
}

static void test_close_reply_parse(void **state)
{
	struct ses_close_results res = { 0 };
	char err[TFX_SES_ERRLEN];
	json_t *r;

	(void)state;
	r = json_loads("{\"ok\":false,\"ring_revoked\":true,\"results\":[{\"grant\":\"a\","
		       "\"serial\":3,\"revoked\":true,\"broker\":\"failed: x\"}]}",
		       0, NULL);
	assert_int_equal(ses_close_reply_parse(r, &res, err, sizeof(err)), 0);
	assert_false(res.ok);
	assert_true(res.ring_revoked);
	assert_string_equal(res.v[0].broker, "failed: x");
	ses_close_results_clear(&res);
	json_decref(r);
	r = json_loads("{\"ok\":false,\"error\":\"request: bad\",\"grant\":null}", 0, NULL);
	assert_int_equal(ses_close_reply_parse(r, &res, err, sizeof(err)), -1);
	assert_string_equal(err, "request: bad");
	json_decref(r);
	r = json_loads("{\"ok\":true,\"ring_revoked\":true,\"results\":[{\"grant\":\"a\"}]}", 0,
		       NULL);
	assert_int_equal(ses_close_reply_parse(r, &res, err, sizeof(err)), -1);
	json_decref(r);
}

static void test_parse_expiry(void **state)
{
	static const struct {
		const char *json;
		int ok;
		int64_t want;
	} cases[] = {
		{ "1718013600", 1, 1718013600 },
		{ "\"2024-06-10T10:00:00Z\"", 1, 1718013600 },
		{ "\"2024-06-10t10:00:00.999999999z\"", 1, 1718013600 },
		{ "\"2024-06-10T12:30:00+02:30\"", 1, 1718013600 },
		{ "\"2024-06-10T07:00:00-03:00\"", 1, 1718013600 },
		{ "\"2024-02-29T00:00:00Z\"", 1, 1709164800 },
		{ "\"2016-12-31T23:59:60Z\"", 1, 1483228799 },
		{ "\"2023-02-29T00:00:00Z\"", 0, 0 },
		{ "\"2024-06-10 10:00:00Z\"", 0, 0 },
		{ "\"2024-06-10T10:00:00\"", 0, 0 },
		{ "\"2024-06-10T10:00Z\"", 0, 0 },
		{ "\"2024-06-10T10:00:00.Z\"", 0, 0 },
		{ "\"2024-06-10T10:00:00Zjunk\"", 0, 0 },
		{ "\"2024-13-10T10:00:00Z\"", 0, 0 },
		{ "\"1718013600\"", 0, 0 },
		{ "0", 0, 0 },
		{ "-5", 0, 0 },
		{ "1.5", 0, 0 },
		{ "true", 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(cases); i++) {
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		int64_t t = 0;

		assert_non_null(v);
		if ((ses_parse_expiry(v, &t) == 0) != cases[i].ok)
			fail_msg("%s: expected %s", cases[i].json, cases[i].ok ? "ok" : "refusal");
		if (cases[i].ok && t != cases[i].want)
			fail_msg("%s: %lld, expected %lld", cases[i].json, (long long)t,
				 (long long)cases[i].want);
		json_decref(v);
	}
}

static void test_split_command(void **state)
{
	char err[TFX_SES_ERRLEN], big[1024], **argv = NULL;
	size_t i;

	(void)state;
	assert_int_equal(ses_split_command("/usr/libexec/vault-broker  issue\ttickets-rw ", &argv,
					  err, sizeof(err)),
			 0);
	assert_string_equal(argv[0], "/usr/libexec/vault-broker");
	assert_string_equal(argv[1], "issue");
	assert_string_equal(argv[2], "tickets-rw");
	assert_null(argv[3]);
	ses_argv_free(argv);
	assert_int_equal(ses_split_command("vault-broker issue", &argv, err, sizeof(err)), -1);
	assert_null(argv);
	assert_int_equal(ses_split_command("", &argv, err, sizeof(err)), -1);
	strcpy(big, "/bin/x");
	for (i = 0; i < SES_ARGV_MAX; i++)
		strcat(big, " a");
	assert_int_equal(ses_split_command(big, &argv, err, sizeof(err)), -1);
	tfx_contains(err, "more than 64 words");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_run_timeout, tfx_ses_setup, tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_run_failures, tfx_ses_setup, tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_run_sanitized, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_run_sigpipe, tfx_ses_setup, tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_run_sigchld_ignored, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_open_reply_parse, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_close_reply_parse, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test(test_parse_expiry),
		cmocka_unit_test(test_split_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
