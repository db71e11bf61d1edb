/*
 * test_helper_isolation.c - pam_agent_helper isolated from its caller
 * (security review F9, M1; docs/security.md): brokers in a session
 * keyring of their own and in /, the helper changing to / itself, close
 * revoking only what its serials name in this session; and the helper
 * program itself: no terminal on stdin, bad requests, no secret in its
 * output. The real built helper (PA_HELPER) runs against the real kernel
 * keyring of this test's own session keyring (tests/run-test.sh).
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

/* ---- isolation from the caller (security review F9, M1; docs/security.md) ------------ */

/*
 * F9: the helper and its brokers (root in production) ran in the PAM
 * application's session keyring, which is the agent's and writable by it.
 * A key planted there must not be found by a broker searching its own @s,
 * neither at open nor at close (revoke broker).
 */
static void test_brokers_own_session_keyring(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_keys keys = { 0 };
	struct ses_close_results res = { 0 };
	char err[TFX_SES_ERRLEN], failed[80], cmd[256], rev[256], desc[64];
	key_serial_t planted;

	tfx_ses_need_helper(f);
	if (access("/usr/bin/keyctl", X_OK) != 0 && access("/bin/keyctl", X_OK) != 0) {
		print_message("keyctl (keyutils) is not installed\n");
		skip();
	}
	snprintf(desc, sizeof(desc), "pa-planted-%s", f->sid);
	/* the keyring the helper is started in: this test's session keyring */
	planted = add_key("user", desc, "planted", 7, KEY_SPEC_SESSION_KEYRING);
	assert_true(planted > 0);
	/* the test itself finds it (so the broker would, in the same keyring) */
	assert_int_equal(keyctl_search(KEY_SPEC_SESSION_KEYRING, "user", desc, 0), planted);
	{
		char body[1024];

		snprintf(body, sizeof(body),
			 "cat > /dev/null\n"
			 "if keyctl search @s user %s >/dev/null 2>&1; then echo found; "
			 "else echo absent; fi >> @D@/@WHO@.search\n",
			 desc);
		tfx_ses_script(f, "search.sh", body);
	}
	{
		/* two copies: one issues, one revokes */
		const char *t = tfx_ses_read(f, "search.sh");
		char issue[2048], revoke[2048], *p;

		snprintf(issue, sizeof(issue), "%s", t + strlen("#!/bin/sh\n"));
		p = strstr(issue, "@WHO@");
		assert_non_null(p);
		snprintf(revoke, sizeof(revoke), "%.*sissue%s"
			 "echo '{\"secret\":\"s\",\"revoke_handle\":\"h\"}'\n",
			 (int)(p - issue), issue, p + 5);
		tfx_ses_script(f, "issue.sh", revoke);
		snprintf(revoke, sizeof(revoke), "%.*srevoke%s", (int)(p - issue), issue, p + 5);
		tfx_ses_script(f, "revoke.sh", revoke);
	}
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->tmp.dir);
	snprintf(rev, sizeof(rev), "%s/revoke.sh", f->tmp.dir);
	tfx_ses_grant(f, "tickets-rw", POL_SOURCE_EXEC, cmd, rev, 60);
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	assert_string_equal(tfx_ses_read(f, "issue.search"), "absent\n");
	/* the key still went into the per-session keyring it was told about */
	assert_int_equal(tfx_live_keys(f->ring), 1);
	if (ses_close(f->helper, 20, f->sid, f->ring, TFX_SES_AGENT, &keys, &res, err,
		      sizeof(err)) != 0)
		fail_msg("ses_close: %s", err);
	assert_true(res.ok);
	assert_string_equal(tfx_ses_read(f, "revoke.search"), "absent\n");
	ses_close_results_clear(&res);
	ses_keys_clear(&keys);
	keyctl_revoke(planted);
	keyctl_unlink(planted, KEY_SPEC_SESSION_KEYRING);
}

/* Changes the working directory to dir; returns the old one for back_dir. */
static int in_dir(const char *dir)
{
	int old = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(old >= 0);
	assert_int_equal(chdir(dir), 0);
	return old;
}

static void back_dir(int old)
{
	assert_int_equal(fchdir(old), 0);
	close(old);
}

/*
 * M1: the helper and its brokers ran in the PAM application's working
 * directory (under sudo or su the agent's own). A broker must run in "/",
 * the helper too, and files planted in the caller's directory must not be
 * picked up by a broker that resolves arguments against its directory.
 */
static void test_brokers_run_in_root_dir(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_keys keys = { 0 };
	char err[TFX_SES_ERRLEN], failed[80], cmd[256], planted[128], path[256];
	int old;

	tfx_ses_need_helper(f);
	snprintf(planted, sizeof(planted), "%s/agent-home", f->tmp.dir);
	assert_int_equal(mkdir(planted, 0755), 0);
	/* what the agent leaves in its directory: a shell script and a python module */
	snprintf(path, sizeof(path), "touch %s/PLANTED-RAN\necho '{\"secret\":\"planted\"}'\n",
		 f->tmp.dir);
	tfx_write_at(planted, "pa_planted.sh", path, 0755);
	snprintf(path, sizeof(path),
		 "open('%s/PLANTED-RAN', 'w').close()\nprint('{\"secret\":\"planted\"}')\n",
		 f->tmp.dir);
	tfx_write_at(planted, "pa_planted_broker.py", path, 0644);
	tfx_ses_script(f, "cwd.sh",
		       "cat > /dev/null\npwd > @D@/broker.cwd\n"
		       "readlink /proc/$PPID/cwd > @D@/helper.cwd\n"
		       "echo '{\"secret\":\"s\"}'\n");

	old = in_dir(planted);
	/* the broker and the helper record where they run */
	snprintf(cmd, sizeof(cmd), "%s/cwd.sh", f->tmp.dir);
	tfx_ses_grant(f, "where", POL_SOURCE_EXEC, cmd, NULL, 60);
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	ses_keys_clear(&keys);
	assert_string_equal(tfx_ses_read(f, "broker.cwd"), "/\n");
	assert_string_equal(tfx_ses_read(f, "helper.cwd"), "/\n");

	/* relative arguments resolve against "/", never the caller's directory */
	tfx_ses_new(f);
	a = tfx_ses_open_args(f);
	tfx_ses_grant(f, "sh-rel", POL_SOURCE_EXEC, "/bin/sh pa_planted.sh", NULL, 60);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_string_equal(failed, "sh-rel");
	if (access("/usr/bin/python3", X_OK) == 0) {
		tfx_ses_new(f);
		a = tfx_ses_open_args(f);
		tfx_ses_grant(f, "py-mod", POL_SOURCE_EXEC, "/usr/bin/python3 -m pa_planted_broker",
			      NULL, 60);
		assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)),
				 -1);
		assert_string_equal(failed, "py-mod");
	} else {
		print_message("/usr/bin/python3 missing: the python -m case is not run\n");
	}
	back_dir(old);
	snprintf(path, sizeof(path), "%s/PLANTED-RAN", f->tmp.dir);
	assert_int_equal(access(path, F_OK), -1);
}

/*
 * M1, the helper on its own: started in another directory by something
 * other than ses_run (here a shell that cds first), it still runs itself and
 * its brokers in "/".
 */
static void test_helper_chdirs_itself(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_exchange x;
	char err[TFX_SES_ERRLEN], cmd[256], shline[512];
	const char *argv[] = { "/bin/sh", "-c", shline, NULL };
	json_t *req, *reply;
	char *text;

	tfx_ses_need_helper(f);
	tfx_ses_script(f, "cwd.sh",
		       "cat > /dev/null\npwd > @D@/broker.cwd\n"
		       "readlink /proc/$PPID/cwd > @D@/helper.cwd\n"
		       "echo '{\"secret\":\"s\"}'\n");
	snprintf(cmd, sizeof(cmd), "%s/cwd.sh", f->tmp.dir);
	tfx_ses_grant(f, "where", POL_SOURCE_EXEC, cmd, NULL, 60);
	req = ses_open_request(&a, err, sizeof(err));
	assert_non_null(req);
	text = json_dumps(req, JSON_COMPACT);
	assert_non_null(text);
	snprintf(shline, sizeof(shline), "cd '%s' && exec '%s'", f->tmp.dir, f->helper);
	memset(&x, 0, sizeof(x));
	x.in = text;
	x.inlen = strlen(text);
	x.out_max = SES_REPLY_MAX;
	x.timeout_ms = 20000;
	x.want_stderr = true;
	assert_int_equal(ses_exchange_run(argv, &x, err, sizeof(err)), 0);
	reply = json_loadb(x.out ? x.out : "", x.outlen, 0, NULL);
	if (!json_is_true(json_object_get(reply, "ok")))
		fail_msg("helper: %s / %s", x.out ? x.out : "", x.errtext);
	assert_string_equal(tfx_ses_read(f, "helper.cwd"), "/\n");
	assert_string_equal(tfx_ses_read(f, "broker.cwd"), "/\n");
	json_decref(reply);
	json_decref(req);
	free(text);
	ses_exchange_clear(&x);
}

/*
 * close describes each serial before revoking it: a serial that now names
 * another key (reused after ours was garbage-collected) is left alone and
 * counts as revoked, with a note; the broker is still told. A write-ahead
 * entry (the ring's serial) is still revoked with the ring.
 */
static void test_close_checks_what_serial_names(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_keys keys = { 0 };
	struct ses_close_results res = { 0 };
	struct ses_key k[3];
	char err[TFX_SES_ERRLEN], rev[256];
	int32_t victim, victim_ring;
	char *v;

	tfx_ses_need_helper(f);
	tfx_ses_script(f, "revoke.sh", tfx_ses_revoke_body);
	snprintf(rev, sizeof(rev), "%s/revoke.sh", f->tmp.dir);
	/*
	 * keys of someone else that now carry the serials the record names:
	 * not in this session's ring, which close revokes (its links go with
	 * it, after an RCU grace period, so a key held only there would
	 * vanish at a time that depends on the machine's load)
	 */
	victim = kr_key_add(keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0), "victim",
			    "victim-value", 12, 60, err, sizeof(err));
	assert_true(victim > 0);
	victim_ring = add_key("keyring", KR_PREFIX "tickets-ro", NULL, 0,
			      KEY_SPEC_SESSION_KEYRING);
	assert_true(victim_ring > 0);
	memset(k, 0, sizeof(k));
	k[0].grant = (char *)"tickets-rw"; /* described "pam_agent:victim" */
	k[0].serial = victim;
	k[0].revoke = rev;
	k[0].handle = (char *)"lease-7";
	k[1].grant = (char *)"tickets-ro"; /* right name, wrong type */
	k[1].serial = victim_ring;
	k[2].grant = (char *)"pending"; /* a write-ahead entry: the ring's serial */
	k[2].serial = f->ring;
	k[2].revoke = rev;
	keys.v = k;
	keys.n = 3;
	if (ses_close(f->helper, 20, f->sid, 0, TFX_SES_AGENT, &keys, &res, err, sizeof(err)) != 0)
		fail_msg("ses_close: %s", err);
	assert_int_equal(res.n, 3);
	/* the other keys are untouched */
	v = tfx_key_value(victim);
	assert_non_null(v);
	assert_string_equal(v, "victim-value");
	free(v);
	assert_int_equal(keyctl_describe_alloc(victim_ring, &v) > 0, 1);
	free(v);
	assert_true(res.v[0].revoked);
	assert_non_null(res.v[0].note);
	tfx_contains(res.v[0].note, "now names another key");
	tfx_contains(res.v[0].note, "pam_agent:victim");
	assert_string_equal(res.v[0].broker, "ok");
	assert_true(res.v[1].revoked);
	assert_non_null(res.v[1].note);
	tfx_contains(res.v[1].note, "now names another key");
	/* the write-ahead entry: the session's ring, ours, revoked */
	assert_true(res.v[2].revoked);
	assert_null(res.v[2].note);
	errno = 0;
	assert_null(tfx_key_value(f->ring));
	assert_int_equal(errno, EKEYREVOKED);
	assert_true(res.ok);
	assert_int_equal(tfx_ses_lines(f, "revoked.log"), 2);
	ses_close_results_clear(&res);
	keyctl_revoke(victim_ring);
	keyctl_unlink(victim_ring, KEY_SPEC_SESSION_KEYRING);
	keyctl_revoke(victim);
	keyctl_unlink(victim, KEY_SPEC_SESSION_KEYRING);
}

/*
 * A key's description ("pam_agent:<grant>") carries no session: when a
 * serial of session A's record is reused by session B's key of the same
 * grant, close for A must not revoke it. close revokes a key only when it
 * is linked in A's own keyring; when that ring is not named, gone or
 * unreadable, it cannot tell and revokes nothing (reported not revoked).
 */
static void test_close_leaves_other_sessions_key(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_keys keys = { 0 };
	struct ses_close_results res = { 0 };
	struct ses_key k[2];
	char err[TFX_SES_ERRLEN], sid_b[40], sid_c[40];
	int32_t ring_b, ring_c, key_a, key_b;
	char *v;

	tfx_ses_need_helper(f);
	/* session A is the fixture's; session B has a key of the same grant */
	tfx_ses_sid(sid_b, sizeof(sid_b));
	ring_b = kr_session_create(sid_b, 600, err, sizeof(err));
	if (ring_b <= 0)
		fail_msg("kr_session_create: %s", err);
	key_a = kr_key_add(f->ring, "tickets-rw", "value-of-a", 10, 60, err, sizeof(err));
	assert_true(key_a > 0);
	key_b = kr_key_add(ring_b, "tickets-rw", "value-of-b", 10, 60, err, sizeof(err));
	assert_true(key_b > 0);
	/* keep B's key reachable (and A's) after their rings are revoked, to check them */
	assert_int_equal(keyctl_link(key_a, KEY_SPEC_SESSION_KEYRING), 0);
	assert_int_equal(keyctl_link(key_b, KEY_SPEC_SESSION_KEYRING), 0);
	memset(k, 0, sizeof(k));
	k[0].grant = (char *)"tickets-rw";
	k[0].serial = key_b; /* A's record, the serial now names B's key */
	keys.v = k;
	keys.n = 1;

	/* no ring in the request: cannot tell whose key it is, left alone */
	if (ses_close(f->helper, 20, f->sid, 0, TFX_SES_AGENT, &keys, &res, err, sizeof(err)) != 0)
		fail_msg("ses_close: %s", err);
	assert_int_equal(res.n, 1);
	assert_false(res.v[0].revoked);
	assert_false(res.ok);
	assert_non_null(res.v[0].note);
	tfx_contains(res.v[0].note, "cannot be verified as this session's");
	ses_close_results_clear(&res);
	v = tfx_key_value(key_b);
	assert_non_null(v);
	assert_string_equal(v, "value-of-b");
	free(v);

	/* a ring that is gone (revoked): cannot tell either, left alone */
	tfx_ses_sid(sid_c, sizeof(sid_c));
	ring_c = kr_session_create(sid_c, 600, err, sizeof(err));
	assert_true(ring_c > 0);
	assert_int_equal(kr_session_revoke(ring_c, err, sizeof(err)), 0);
	if (ses_close(f->helper, 20, sid_c, ring_c, TFX_SES_AGENT, &keys, &res, err,
		      sizeof(err)) != 0)
		fail_msg("ses_close: %s", err);
	assert_int_equal(res.n, 1);
	assert_false(res.v[0].revoked);
	assert_non_null(res.v[0].note);
	tfx_contains(res.v[0].note, "cannot be read");
	ses_close_results_clear(&res);
	v = tfx_key_value(key_b);
	assert_non_null(v);
	assert_string_equal(v, "value-of-b");
	free(v);

	/* session A's close naming its own key and B's: only A's is revoked */
	k[1].grant = (char *)"tickets-rw";
	k[1].serial = key_a;
	keys.n = 2;
	if (ses_close(f->helper, 20, f->sid, f->ring, TFX_SES_AGENT, &keys, &res, err,
		      sizeof(err)) != 0)
		fail_msg("ses_close: %s", err);
	assert_int_equal(res.n, 2);
	assert_true(res.v[0].revoked); /* ours is gone: the serial names another key */
	assert_non_null(res.v[0].note);
	tfx_contains(res.v[0].note, "not in session");
	tfx_contains(res.v[0].note, "left alone");
	assert_true(res.v[1].revoked);
	assert_null(res.v[1].note);
	assert_true(res.ring_revoked);
	ses_close_results_clear(&res);
	v = tfx_key_value(key_b);
	assert_non_null(v);
	assert_string_equal(v, "value-of-b");
	free(v);
	/* A's key is revoked: unreadable (EKEYREVOKED), or, once the kernel
	 * has dropped it after its ring's revocation, gone (ENOKEY) */
	errno = 0;
	assert_null(tfx_key_value(key_a));
	assert_true(errno == EKEYREVOKED || errno == ENOKEY);

	assert_int_equal(kr_session_revoke(ring_b, err, sizeof(err)), 0);
	keyctl_revoke(key_b);
	keyctl_unlink(key_a, KEY_SPEC_SESSION_KEYRING);
	keyctl_unlink(key_b, KEY_SPEC_SESSION_KEYRING);
}

/* ---- the helper program itself ---------------------------------------------------- */

static void test_helper_refuses_terminal(void **state)
{
	struct tfx_ses *f = *state;
	int master, ep[2], st;
	char buf[512];
	ssize_t n;
	pid_t pid;

	tfx_ses_need_helper(f);
	master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	assert_int_equal(pipe(ep), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int slave = open(ptsname(master), O_RDWR | O_NOCTTY);

		if (slave < 0 || dup2(slave, 0) < 0 || dup2(ep[1], 2) < 0 || dup2(ep[1], 1) < 0)
			_exit(99);
		execl(f->helper, f->helper, (char *)NULL);
		_exit(98);
	}
	close(ep[1]);
	n = read(ep[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(ep[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(master);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 2);
	tfx_contains(buf, "refusing to run with a terminal on stdin");
}

/* Runs the helper on request text directly; returns its reply (caller decrefs). */
static json_t *run_raw(const struct tfx_ses *f, const char *text, struct ses_exchange *x)
{
	const char *argv[] = { f->helper, NULL };
	char err[TFX_SES_ERRLEN];

	memset(x, 0, sizeof(*x));
	x->in = text;
	x->inlen = strlen(text);
	x->out_max = SES_REPLY_MAX;
	x->timeout_ms = 20000;
	x->want_stderr = true;
	assert_int_equal(ses_exchange_run(argv, x, err, sizeof(err)), 0);
	return json_loadb(x->out ? x->out : "", x->outlen, 0, NULL);
}

static void test_helper_bad_requests(void **state)
{
	struct tfx_ses *f = *state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "", "request: not a JSON object" },
		{ "[1]", "request: not a JSON object" },
		{ "{\"op\":\"open\",\"op\":\"close\"}", "request: not a JSON object" },
		{ "{\"op\":\"reap\"}", "\"op\" must be \"open\" or \"close\"" },
		{ "{\"op\":\"close\",\"sid\":\"ABC\",\"keys\":[]}", "\"sid\" must be 1 to 64" },
		{ "{\"op\":\"close\",\"sid\":\"ab\",\"keys\":[],\"extra\":1}",
		  "unknown member \"extra\"" },
		{ "{\"op\":\"close\",\"sid\":\"ab\",\"ring\":0,"
		  "\"keys\":[{\"grant\":\"g\",\"serial\":0}]}",
		  "no valid \"serial\"" },
		{ "{\"op\":\"open\",\"sid\":\"ab\",\"ring\":1,\"agent\":\"a\",\"user\":\"u\","
		  "\"uid\":1,\"max_session\":60,\"grants\":[],\"broker\":{\"key\":\"rel\"}}",
		  "broker paths must be absolute" },
		{ "{\"op\":\"open\",\"sid\":\"ab\",\"ring\":1,\"agent\":\"a\",\"user\":\"u\","
		  "\"uid\":1,\"max_session\":60,\"broker\":{},\"grants\":[{\"name\":\"a b\"}]}",
		  "grant name is not" },
		{ "{\"op\":\"open\",\"sid\":\"ab\",\"ring\":1,\"agent\":\"a\",\"user\":\"u\","
		  "\"uid\":1,\"max_session\":60,\"broker\":{},\"grants\":[{\"name\":\"g\","
		  "\"class\":\"read\",\"source\":\"exec\",\"ttl\":5,\"command\":\"x\"}]}",
		  "source exec needs absolute commands" },
	};
	size_t i;

	tfx_ses_need_helper(f);
	for (i = 0; i < PA_ARRAY_SIZE(cases); i++) {
		struct ses_exchange x;
		json_t *r = run_raw(f, cases[i].text, &x);
		const char *e;

		if (r == NULL)
			fail_msg("case %zu: no reply (%s)", i, x.errtext);
		assert_true(json_is_false(json_object_get(r, "ok")));
		e = json_string_value(json_object_get(r, "error"));
		assert_non_null(e);
		if (strstr(e, cases[i].want) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e, cases[i].want);
		assert_true(x.reaped && WIFEXITED(x.status) && WEXITSTATUS(x.status) == 1);
		json_decref(r);
		ses_exchange_clear(&x);
	}
}

/* What the helper writes (reply and stderr) never holds a secret. */
static void test_helper_output_has_no_secret(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_exchange x;
	char err[TFX_SES_ERRLEN], cmd[256], path[256], *text;
	json_t *req, *r;

	tfx_ses_need_helper(f);
	tfx_ses_script(f, "issue.sh", tfx_ses_issue_body);
	tfx_write_at(f->tmp.dir, "legacy", TFX_FILE_SECRET, 0600);
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->tmp.dir);
	snprintf(path, sizeof(path), "%s/legacy", f->tmp.dir);
	tfx_ses_grant(f, "legacy-db", POL_SOURCE_FILE, path, NULL, 60);
	tfx_ses_grant(f, "tickets-rw", POL_SOURCE_EXEC, cmd, NULL, 60);
	req = ses_open_request(&a, err, sizeof(err));
	assert_non_null(req);
	text = json_dumps(req, JSON_COMPACT);
	r = run_raw(f, text, &x);
	assert_non_null(r);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_string_equal(x.errtext, "");
	tfx_lacks(x.out, TFX_FILE_SECRET);
	tfx_lacks(x.out, TFX_EXEC_SECRET);
	/* neither the helper's argv nor its environment held one (the broker looked) */
	tfx_lacks(tfx_ses_read(f, "helper.environ"), TFX_FILE_SECRET);
	tfx_lacks(tfx_ses_read(f, "helper.cmdline"), TFX_FILE_SECRET);
	tfx_lacks(tfx_ses_read(f, "broker.environ"), TFX_EXEC_SECRET);
	tfx_lacks(tfx_ses_read(f, "broker.cmdline"), TFX_EXEC_SECRET);
	json_decref(r);
	ses_exchange_clear(&x);
	free(text);
	json_decref(req);

	/* and on the failure path, with the secret in a broken answer */
	tfx_ses_script(f, "issue.sh", "echo '{\"secret\": " TFX_BADJSON_SECRET " }'\nexit 1\n");
	tfx_ses_new(f);
	tfx_ses_grant(f, "legacy-db", POL_SOURCE_FILE, path, NULL, 60);
	tfx_ses_grant(f, "tickets-rw", POL_SOURCE_EXEC, cmd, NULL, 60);
	a = tfx_ses_open_args(f);
	req = ses_open_request(&a, err, sizeof(err));
	text = json_dumps(req, JSON_COMPACT);
	r = run_raw(f, text, &x);
	assert_non_null(r);
	assert_true(json_is_false(json_object_get(r, "ok")));
	tfx_lacks(x.out, TFX_BADJSON_SECRET);
	tfx_lacks(x.out, TFX_FILE_SECRET);
	tfx_lacks(x.errtext, TFX_BADJSON_SECRET);
	json_decref(r);
	ses_exchange_clear(&x);
	free(text);
	json_decref(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_brokers_own_session_keyring, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_brokers_run_in_root_dir, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_helper_chdirs_itself, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_close_leaves_other_sessions_key, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_close_checks_what_serial_names, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_helper_refuses_terminal, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_helper_bad_requests, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_helper_output_has_no_secret, tfx_ses_setup,
						tfx_ses_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
