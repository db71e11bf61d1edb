/*
 * reap.c - `pam-agent reap`: revokes the sessions whose owner process is
 * gone (close_session never ran: crash, kill -9) and the sessions past
 * their expiry, in the kernel and at the brokers, then removes their
 * records (docs/sessions.md; records.c reads them).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <keyutils.h>

#include "audit.h"
#include "cli.h"
#include "handoff.h"
#include "session.h"
#include "keyring.h"
#include "pa_json.h"
#include "policy.h"
#include "util.h"

/* ---- pam-agent reap ------------------------------------------------------------------------ */

/* Audits one event about a reaped session (reap goes on when the audit fails). */
static void audit(const struct cli_run *r, const struct ses_record *rec, enum aud_kind kind, bool ok,
		  const char *reason)
{
	struct aud_sink sink = {.file = r->cfg->global.audit_log};
	struct aud_event *ev = aud_event_new(kind, ok ? AUD_RESULT_OK : AUD_RESULT_FAILED, NULL);
	char err[512];
	size_t i;

	if (ev == NULL) {
		fprintf(stderr, "pam-agent: warning: audit: out of memory\n");
		return;
	}
	aud_event_set_agent(ev, rec->agent);
	aud_event_set_context(ev, NULL, rec->user, NULL, NULL);
	aud_event_set_session(ev, rec->sid);
	for (i = 0; i < rec->keys.n; i++)
		aud_event_add_key(ev, rec->keys.v[i].grant, rec->keys.v[i].serial);
	if (reason != NULL)
		aud_event_add_reason(ev, reason);
	if (aud_emit(&sink, ev, err, sizeof(err)) != 0)
		fprintf(stderr, "pam-agent: warning: audit: %s\n", err);
	aud_event_free(ev);
}

/*
 * Audits a record reap cannot read (revoke_failed, the record's path and
 * why): it is left alone, and its keys and leases stay until their
 * timeouts, so it must not go unnoticed.
 */
static void audit_unreadable(const struct cli_run *r, const char *name, const char *error)
{
	struct aud_sink sink = {.file = r->cfg->global.audit_log};
	struct aud_event *ev = aud_event_new(AUD_REVOKE_FAILED, AUD_RESULT_FAILED, NULL);
	char err[512], reason[AUD_REASON_MAX + 4800];

	if (ev == NULL) {
		fprintf(stderr, "pam-agent: warning: audit: out of memory\n");
		return;
	}
	snprintf(reason, sizeof(reason),
		 "pam-agent reap: record %s/%s cannot be read: %s; left alone, nothing revoked",
		 r->sessions_dir, name, error);
	aud_event_set_session(ev, name);
	aud_event_add_reason(ev, reason);
	if (aud_emit(&sink, ev, err, sizeof(err)) != 0)
		fprintf(stderr, "pam-agent: warning: audit: %s\n", err);
	aud_event_free(ev);
}

/* Replaces the record by one listing only keys (what is still to do), atomically. */
static int record_rewrite(int dirfd, const struct ses_record *rec, const struct ses_keys *keys,
			  char *err, size_t errlen)
{
	char tmp[KR_SID_MAX + 16], *text = NULL;
	json_t *copy = json_deep_copy(rec->root), *arr = ses_keys_to_json(keys);
	int rc = -1;

	if (copy == NULL || arr == NULL || json_object_set(copy, "keys", arr) != 0 ||
	    (text = pa_json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.reap.tmp", rec->name);
	if (pa_write_atomic(dirfd, rec->name, tmp, text, strlen(text), 0600, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	free(text);
	json_decref(copy);
	json_decref(arr);
	return rc;
}

/* Appends "; "-separated text to a bounded buffer. */
static void note(char *buf, size_t len, const char *fmt, ...) PA_PRINTF(3, 4);

static void note(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	va_list ap;

	if (used + 3 >= len)
		return;
	if (used > 0) {
		memcpy(buf + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/*
 * Matches the helper's close results to the keys passed (pass): counts
 * what was revoked in the kernel and at brokers, adds to todo what is not
 * done, and says so in failures. Returns whether everything is done.
 */
static bool judge_close(const struct ses_record *rec, const struct ses_keys *pass,
			const struct ses_close_results *res, struct ses_keys *todo, char *failures,
			size_t flen, size_t *n_revoked, size_t *n_broker)
{
	char g1[PA_ESCAPE_MAX], shown[2400];
	bool ok = true;
	size_t i, j;

	for (i = 0; i < pass->n; i++) {
		const struct ses_close_result *cr = NULL;
		bool done;

		for (j = 0; j < res->n && cr == NULL; j++)
			if (res->v[j].serial == pass->v[i].serial &&
			    strcmp(res->v[j].grant, pass->v[i].grant) == 0)
				cr = &res->v[j];
		done = cr != NULL && cr->revoked && strncmp(cr->broker, "failed", 6) != 0;
		if (cr != NULL && cr->note != NULL)
			fprintf(stderr, "pam-agent: note: session %s: grant %s: %s\n", rec->sid,
				cli_show(pass->v[i].grant, g1, sizeof(g1)),
				cli_show(cr->note, shown, sizeof(shown)));
		if (cr != NULL && cr->revoked)
			(*n_revoked)++;
		if (cr != NULL && strcmp(cr->broker, "ok") == 0)
			(*n_broker)++;
		if (!done) {
			ok = false;
			todo->v[todo->n++] = pass->v[i];
			note(failures, flen, "grant %s (key %d): %s, broker %s",
			     cli_show(pass->v[i].grant, g1, sizeof(g1)), (int)pass->v[i].serial,
			     cr == NULL ? "no answer" : cr->revoked ? "revoked" : "NOT revoked",
			     cr == NULL ? "unknown" : cr->broker);
		}
	}
	return ok;
}

/*
 * The keys whose serial now names another key (reused): the credential
 * expired long ago and that key is left alone; only the broker is told.
 * Adds the failures to todo and failures; returns whether all went well.
 */
static bool revoke_reused(const struct ses_record *rec, const bool *reused, struct ses_keys *todo,
			  char *failures, size_t flen, size_t *n_broker)
{
	char err[512], g1[PA_ESCAPE_MAX];
	bool ok = true;
	size_t i;

	for (i = 0; i < rec->keys.n; i++) {
		const struct ses_key *k = &rec->keys.v[i];

		if (!reused[i])
			continue;
		fprintf(stderr,
			"pam-agent: note: session %s: key %d of grant %s is gone and its serial now "
			"names another key; that key is left alone\n",
			rec->sid, (int)k->serial, cli_show(k->grant, g1, sizeof(g1)));
		if (k->revoke == NULL)
			continue;
		if (ses_revoke_run(k->revoke, k->handle, rec->sid, rec->agent, k->grant,
				  SES_BROKER_TIMEOUT * 1000, err, sizeof(err)) == 0) {
			(*n_broker)++;
		} else {
			ok = false;
			todo->v[todo->n++] = *k;
			note(failures, flen, "grant %s: broker failed: %s",
			     cli_show(k->grant, g1, sizeof(g1)), err);
		}
	}
	return ok;
}

/*
 * Revokes one orphaned session: its keys and ring through the helper (as
 * close_session does), the broker revocation of keys whose serial was
 * reused directly; removes the record when everything worked, else keeps
 * in it what is still to do. Returns 0 or -1 (reported).
 */
int cli_reap_one(struct cli_run *r, const struct ses_record *rec, const char *why)
{
	const struct pol_global *g = &r->cfg->global;
	struct ses_keys pass = {0}, todo = {0};
	struct ses_close_results res;
	bool *reused = NULL, ok = true;
	int32_t ring = rec->ring;
	char err[512], failures[2048] = "", reason[2048 + 512 + 64];
	size_t i, n_revoked = 0, n_broker = 0;

	memset(&res, 0, sizeof(res));
	if (rec->keys.n > 0) {
		pass.v = calloc(rec->keys.n, sizeof(*pass.v));
		todo.v = calloc(rec->keys.n, sizeof(*todo.v));
		reused = calloc(rec->keys.n, sizeof(*reused));
		if (pass.v == NULL || todo.v == NULL || reused == NULL) {
			fprintf(stderr, "pam-agent: out of memory\n");
			free(pass.v);
			free(todo.v);
			free(reused);
			r->problems++;
			return -1;
		}
	}
	/* shallow copies: the strings stay owned by rec->keys */
	for (i = 0; i < rec->keys.n; i++) {
		reused[i] = cli_cred_state(&rec->keys.v[i]) == K_OTHER;
		if (!reused[i])
			pass.v[pass.n++] = rec->keys.v[i];
	}
	if (ring > 0 && cli_ring_state(rec) == K_OTHER)
		ring = 0; /* the ring is gone and its serial names another keyring */

	if (pass.n > 0 || ring > 0) {
		if (ses_close(g->helper, (int)g->helper_timeout, rec->sid, ring, rec->agent, &pass,
			     &res, err, sizeof(err)) != 0) {
			/* nothing is known to be done: keep everything for the next run */
			ok = false;
			note(failures, sizeof(failures), "helper: %s", err);
			for (i = 0; i < pass.n; i++)
				todo.v[todo.n++] = pass.v[i];
		} else {
			ok = judge_close(rec, &pass, &res, &todo, failures, sizeof(failures),
					 &n_revoked, &n_broker);
			if (ring > 0 && !res.ring_revoked) {
				ok = false;
				note(failures, sizeof(failures), "keyring %d NOT revoked",
				     (int)ring);
			}
		}
	}
	/* a reused serial: the credential expired long ago; only the broker is left */
	if (!revoke_reused(rec, reused, &todo, failures, sizeof(failures), &n_broker))
		ok = false;

	if (ok) {
		snprintf(reason, sizeof(reason), "reaped by pam-agent reap: %s", why);
		audit(r, rec, AUD_KEY_REVOKED, true, reason);
		if (unlinkat(r->dirfd, rec->name, 0) != 0 && errno != ENOENT) {
			ok = false;
			fprintf(stderr,
				"pam-agent: %s/%s: revoked, but cannot remove the record: %s\n",
				r->sessions_dir, rec->name, strerror(errno));
		} else {
			audit(r, rec, AUD_SESSION_CLOSED, true, reason);
			printf(
			    "%s %s: %s; %zu key(s) revoked, %zu broker revocation(s)%s, record "
			    "removed\n",
			    r->reaping ? "reaped" : "revoked", rec->sid, why, n_revoked, n_broker,
			    ring > 0 ? ", keyring revoked" : "");
		}
	} else {
		snprintf(reason, sizeof(reason), "pam-agent reap: %s; %s", why, failures);
		audit(r, rec, AUD_REVOKE_FAILED, false, reason);
		if (record_rewrite(r->dirfd, rec, &todo, err, sizeof(err)) != 0)
			note(failures, sizeof(failures), "record not updated: %s", err);
		printf("FAILED %s: %s; %s; record kept for the next run\n", rec->sid, why,
		       failures);
	}
	if (!ok)
		r->problems++;
	ses_close_results_clear(&res);
	free(pass.v); /* shallow: nothing else to free */
	free(todo.v);
	free(reused);
	return ok ? 0 : -1;
}

static int reap_usage(FILE *f, int code)
{
	fprintf(f,
		"usage: pam-agent reap [--config FILE] [--dry-run] [--verbose]\n"
		"\n"
		"Revokes the sessions of STATE_DIR/sessions whose owner process is gone\n"
		"(its pid is free, or now belongs to a process with another start time),\n"
		"and those past their expiry (max_session) even when the owner is alive:\n"
		"every key and the per-session keyring in the kernel, and each exec grant's\n"
		"broker revocation, through the helper as close_session does; then removes\n"
		"the record. Unexpired sessions whose owner is alive are left alone (--verbose\n"
		"lists them too). --dry-run only says what it would do. Exit 0 when everything was "
		"reaped or there was\n"
		"nothing to do, 1 when something could not be revoked (the record is kept\n"
		"with what is left to do) or a record could not be read, 2 on usage or\n"
		"configuration errors. Configuration: %s unless --config.\n",
		PA_DEFAULT_CONFIG);
	return code;
}

/*
 * Reads the record name and reaps it when its owner is gone or its
 * max_session has ended (or says it would, with --dry-run), counting it.
 */
static void reap_record(struct cli_run *r, const char *name, int64_t now, size_t *orphans,
			size_t *reaped)
{
	char err[512], why[256], ewhy[512], t1[32];
	const char *reason = why;
	struct ses_record rec;
	enum owner o;

	if (cli_record_read(r->dirfd, name, &rec, err, sizeof(err)) != 0) {
		cli_problem(r, NULL, name, err);
		if (!r->dry_run)
			audit_unreadable(r, name, err);
		return;
	}
	o = cli_owner_state(&rec, why, sizeof(why));
	if (o != OWNER_GONE && rec.expires > 0 && rec.expires <= now) {
		/* past max_session: revoked whether or not its owner lives on */
		snprintf(ewhy, sizeof(ewhy), "expired: its max_session ended at %s (owner %s: %s)",
			 cli_utc(rec.expires, t1, sizeof(t1)), cli_owner_name(o), why);
		reason = ewhy;
	} else if (o == OWNER_ALIVE) {
		if (r->verbose)
			printf("alive %s: %s; left alone\n", rec.sid, why);
		reason = NULL;
	} else if (o == OWNER_UNKNOWN) {
		printf("kept %s: %s; not reaped (its keys expire with their timeouts)\n", rec.sid,
		       why);
		reason = NULL;
	}
	if (reason != NULL) {
		(*orphans)++;
		if (r->dry_run)
			printf("would reap %s: %s; %zu key(s)%s\n", rec.sid, reason, rec.keys.n,
			       rec.ring > 0 ? " and its keyring" : "");
		else if (cli_reap_one(r, &rec, reason) == 0) {
			(*reaped)++;
			/* its owner will never close it: the task's ledger is told */
			if (o == OWNER_GONE)
				cli_task_closed(r->cfg, &rec);
		}
	}
	ses_record_clear(&rec);
}

int cmd_reap(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = PA_DEFAULT_CONFIG;
	struct cli_run r = {.dirfd = -1, .reaping = true};
	char **names = NULL, err[512];
	size_t i, n = 0, orphans = 0, reaped = 0;
	int64_t now = (int64_t)time(NULL);
	int c, ret = CLI_USAGE;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'n':
			r.dry_run = true;
			break;
		case 'v':
			r.verbose = true;
			break;
		case 'h':
			return reap_usage(stdout, CLI_OK);
		default:
			return reap_usage(stderr, CLI_USAGE);
		}
	}
	if (optind != argc)
		return reap_usage(stderr, CLI_USAGE);
	if (cli_load_config(config, &r.cfg) != 0)
		return CLI_USAGE;
	r.state_dir = r.cfg->global.state_dir;
	if (cli_open_state(&r) != 0)
		goto out;
	if (!r.dry_run) {
		/* identity hand-off records never taken (docs/handoff.md) */
		long gone = ho_reap(r.state_dir, now, err, sizeof(err));

		if (gone < 0) {
			fprintf(stderr, "pam-agent: hand-off records: %s; left alone\n", err);
			r.problems++;
		} else if (gone > 0) {
			printf("removed %ld stale identity hand-off record(s)\n", gone);
		}
		/* ledgers of tasks ended task_expire ago (docs/tasks.md) */
		gone = cli_tasks_expire(r.cfg, now);
		if (gone > 0)
			printf("removed %ld expired task ledger(s)\n", gone);
	}
	if (r.dirfd < 0) {
		printf("nothing to reap: %s does not exist\n", r.sessions_dir);
		ret = r.problems > 0 ? CLI_REJECT : CLI_OK;
		goto out;
	}
	/* one reaper at a time, so no broker hears of a session twice */
	if (!r.dry_run && flock(r.dirfd, LOCK_EX) != 0) {
		fprintf(stderr, "pam-agent: %s: cannot lock: %s\n", r.sessions_dir,
			strerror(errno));
		goto out;
	}
	if (cli_list_records(&r, &names, &n) != 0)
		goto out;
	for (i = 0; i < n; i++)
		reap_record(&r, names[i], now, &orphans, &reaped);
	if (n == 0)
		printf("nothing to reap: no sessions in %s\n", r.sessions_dir);
	else if (orphans == 0)
		printf("nothing to reap: %zu session(s), none orphaned or expired\n", n);
	else if (!r.dry_run)
		printf("%zu orphaned or expired session(s), %zu reaped, %zu failed\n", orphans,
		       reaped, orphans - reaped);
	ret = r.problems > 0 ? CLI_REJECT : CLI_OK;
out:
	cli_free_names(names, n);
	if (r.dirfd >= 0)
		close(r.dirfd); /* releases the lock */
	pol_config_unref(r.cfg);
	return ret;
}
