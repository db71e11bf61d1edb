/*
 * sessions.c - `pam-agent sessions`: the sessions recorded in
 * STATE_DIR/sessions and the state of their keys (docs/sessions.md;
 * records.c reads them).
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

/* ---- pam-agent sessions ------------------------------------------------------------------ */

static json_t *session_json(const struct ses_record *rec, enum owner o, const char *why)
{
	json_t *keys = json_array(), *obj;
	size_t i;

	for (i = 0; keys != NULL && i < rec->keys.n; i++) {
		const struct ses_key *k = &rec->keys.v[i];

		json_array_append_new(keys, json_pack("{s:s, s:I, s:I, s:s, s:b}", "grant",
						      k->grant, "serial", (json_int_t)k->serial,
						      "expires_at", (json_int_t)k->expires_at,
						      "state", cli_kstate_name(cli_cred_state(k)),
						      "broker_revoke", k->revoke != NULL));
	}
	obj = json_pack(
	    "{s:s, s:s, s:s, s:I, s:s?, s:I, s:s, s:s, s:I, s:I, s:i, s:s?, s:o}", "sid", rec->sid,
	    "agent", rec->agent, "user", rec->user, "uid", (json_int_t)rec->uid, "task", rec->task,
	    "pid", (json_int_t)rec->pid, "owner", cli_owner_name(o), "owner_detail", why, "opened",
	    (json_int_t)rec->opened, "expires", (json_int_t)rec->expires, "ring", (int)rec->ring,
	    "ring_state", rec->ring > 0 ? cli_kstate_name(cli_ring_state(rec)) : NULL, "keys", keys);
	return obj;
}

static void session_text(const struct ses_record *rec, enum owner o, const char *why)
{
	char a[PA_ESCAPE_MAX], u[PA_ESCAPE_MAX], t[PA_ESCAPE_MAX], g[PA_ESCAPE_MAX];
	char t1[32], t2[32];
	size_t i;

	printf("session %s\n", rec->sid);
	printf("  agent:   %s\n", cli_show(rec->agent, a, sizeof(a)));
	printf("  user:    %s (uid %lld)\n", cli_show(rec->user, u, sizeof(u)), (long long)rec->uid);
	printf("  task:    %s\n", cli_show(rec->task, t, sizeof(t)));
	printf("  owner:   %s: %s\n", cli_owner_name(o), why);
	printf("  opened:  %s\n", cli_utc(rec->opened, t1, sizeof(t1)));
	printf("  expires: %s%s\n", cli_utc(rec->expires, t2, sizeof(t2)),
	       rec->expires <= (int64_t)time(NULL) ? " (passed)" : "");
	if (rec->ring > 0)
		printf("  ring:    %d (%s)\n", (int)rec->ring, cli_kstate_name(cli_ring_state(rec)));
	else
		printf("  ring:    none\n");
	printf("  keys:    %zu\n", rec->keys.n);
	for (i = 0; i < rec->keys.n; i++) {
		const struct ses_key *k = &rec->keys.v[i];

		printf("    %-20s %11d  %-8s expires %s%s\n", cli_show(k->grant, g, sizeof(g)),
		       (int)k->serial, cli_kstate_name(cli_cred_state(k)),
		       cli_utc(k->expires_at, t1, sizeof(t1)),
		       k->revoke != NULL ? "  (broker revoke)" : "");
	}
}

static int sessions_usage(FILE *f, int code)
{
	fprintf(f,
		"usage: pam-agent sessions [--config FILE] [--json]\n"
		"\n"
		"Lists the pam_agent sessions recorded in STATE_DIR/sessions (state_dir of\n"
		"the configuration %s, default /run/pam_agent): session id, agent, user, task,\n"
		"owner process (alive, gone or unknown), opened, expiry, and each key with\n"
		"its serial and its state in the kernel (live, revoked, expired, gone,\n"
		"reused). --json prints one JSON object instead. Exit 0, 1 when a record\n"
		"could not be read (it is named on stderr), 2 on usage or configuration\n"
		"errors.\n",
		PA_DEFAULT_CONFIG);
	return code;
}

int cmd_sessions(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = PA_DEFAULT_CONFIG;
	struct cli_run r = {.dirfd = -1};
	json_t *out = NULL, *list = NULL, *problems = NULL;
	char **names = NULL, err[512], why[256];
	size_t i, n = 0, shown = 0, counts[3] = {0, 0, 0};
	int c, ret = CLI_USAGE;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'j':
			r.json = true;
			break;
		case 'h':
			return sessions_usage(stdout, CLI_OK);
		default:
			return sessions_usage(stderr, CLI_USAGE);
		}
	}
	if (optind != argc)
		return sessions_usage(stderr, CLI_USAGE);
	if (cli_load_config(config, &r.cfg) != 0)
		return CLI_USAGE;
	r.state_dir = r.cfg->global.state_dir;
	if (cli_open_state(&r) != 0 || cli_list_records(&r, &names, &n) != 0)
		goto out;
	if (r.json) {
		list = json_array();
		problems = json_array();
		if (list == NULL || problems == NULL) {
			ret = cli_usage_error("out of memory");
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		struct ses_record rec;
		enum owner o;

		if (cli_record_read(r.dirfd, names[i], &rec, err, sizeof(err)) != 0) {
			cli_problem(&r, problems, names[i], err);
			continue;
		}
		o = cli_owner_state(&rec, why, sizeof(why));
		counts[o]++;
		if (r.json) {
			json_array_append_new(list, session_json(&rec, o, why));
		} else {
			if (shown++ > 0)
				printf("\n");
			session_text(&rec, o, why);
		}
		ses_record_clear(&rec);
	}
	if (r.json) {
		char *text;

		out = json_pack("{s:s, s:O, s:O}", "sessions_dir", r.sessions_dir, "sessions", list,
				"problems", problems);
		text = out != NULL ? pa_json_dumps(out, JSON_INDENT(2)) : NULL;
		if (text == NULL) {
			ret = cli_usage_error("out of memory");
			goto out;
		}
		printf("%s\n", text);
		free(text);
	} else if (n == 0) {
		printf("no sessions in %s\n", r.sessions_dir);
	} else {
		printf("\n%zu session(s): %zu alive, %zu owner gone, %zu unknown%s\n",
		       counts[OWNER_ALIVE] + counts[OWNER_GONE] + counts[OWNER_UNKNOWN],
		       counts[OWNER_ALIVE], counts[OWNER_GONE], counts[OWNER_UNKNOWN],
		       counts[OWNER_GONE] > 0
			   ? " ('pam-agent reap' revokes those whose owner is gone)"
			   : "");
	}
	ret = r.problems > 0 ? CLI_REJECT : CLI_OK;
out:
	cli_free_names(names, n);
	json_decref(out);
	json_decref(list);
	json_decref(problems);
	if (r.dirfd >= 0)
		close(r.dirfd);
	pol_config_unref(r.cfg);
	return ret;
}
