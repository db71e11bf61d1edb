/*
 * sessions.c - `pam-agent sessions` (the sessions recorded in
 * STATE_DIR/sessions and the state of their keys) and `pam-agent reap`
 * (revokes the sessions whose owner process is gone, i.e. whose
 * close_session never ran: crash, kill -9, and the sessions past their
 * expiry, max_session, whether or not their owner is alive).
 * docs/sessions.md.
 *
 * A record is trusted only as much as the directory and the file it comes
 * from: the state directory and its sessions/ directory must be owned by
 * the effective uid and not group/world-writable, the record a regular
 * file (O_NOFOLLOW) owned by the effective uid with no group/other bits,
 * one link, at most REC_MAX bytes, strict JSON. Anything else is reported
 * and left alone: a record is removed only after its keys were revoked.
 *
 * Liveness: the owner is the PAM process that opened the session (pid and
 * start time, field 22 of /proc/PID/stat, as session.c recorded them). It
 * is gone when kill(pid, 0) says ESRCH, when /proc/PID/stat shows another
 * start time (the pid was reused) or a zombie. When its /proc entry cannot
 * be read although the process exists (hidepid=, another pid namespace)
 * the answer is "unknown" and the session is not reaped.
 *
 * Serial reuse: a key that expired is garbage-collected and its serial
 * may be handed to a new key. Before revoking, every serial is described:
 * only a key of the expected type, owner (the effective uid) and
 * description "pam_agent:<grant>" (or "pam_agent:<sid>" for the ring) is
 * revoked; a serial that now names another key is not touched (the
 * credential itself is gone), but its broker revocation still runs.
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
#include "helper.h"
#include "keyring.h"
#include "pa_json.h"
#include "policy.h"
#include "util.h"

/* Largest session record read (HP_GRANTS_MAX keys with long handles fit). */
#define REC_MAX (4 * 1024 * 1024)
/* Most directory entries looked at in one run. */
#define ENTRIES_MAX 100000

/* ---- configuration and the state directory ---------------------------------------- */

struct run {
	struct pol_config *cfg;
	const char *state_dir;
	char sessions_dir[4200];
	int dirfd; /* STATE_DIR/sessions, or -1 when it does not exist */
	bool json;
	bool dry_run;
	bool verbose;
	bool reaping;	 /* reap: also removes stale temporary files */
	size_t problems; /* records that could not be read or reaped */
};

static int load_config(const char *path, struct pol_config **out)
{
	struct pol_errors errors = {0};
	char dropins[4096];
	size_t i;

	pa_dropin_dir(path, dropins, sizeof(dropins));
	if (pol_config_load(path, dropins, out, &errors) != 0) {
		fprintf(stderr, "pam-agent: configuration refused:\n");
		for (i = 0; i < errors.n; i++)
			fprintf(stderr, "  %s\n", errors.msgs[i]);
		pol_errors_clear(&errors);
		return -1;
	}
	return 0;
}

/* Checks that the directory open at fd is owned by us and not writable by others. */
static int check_dir(int fd, const char *path)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		fprintf(stderr, "pam-agent: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
		fprintf(stderr,
			"pam-agent: %s: must be a directory owned by uid %lu and not group- or "
			"world-writable (it is owned by uid %lu, mode %04o): refusing to trust "
			"its records\n",
			path, (unsigned long)geteuid(), (unsigned long)st.st_uid,
			(unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/*
 * Opens STATE_DIR and STATE_DIR/sessions (no symbolic links) and checks
 * both. A missing directory is no sessions (dirfd -1). Returns 0 or -1.
 */
static int open_state(struct run *r)
{
	int sfd;

	r->dirfd = -1;
	snprintf(r->sessions_dir, sizeof(r->sessions_dir), "%s/sessions", r->state_dir);
	sfd = open(r->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "pam-agent: %s: %s%s\n", r->state_dir, strerror(errno),
			errno == ELOOP || errno == ENOTDIR ? " (must be a directory, not a link)"
			: errno == EACCES		   ? " (run as root)"
							   : "");
		return -1;
	}
	if (check_dir(sfd, r->state_dir) != 0) {
		close(sfd);
		return -1;
	}
	r->dirfd = openat(sfd, "sessions", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(sfd);
	if (r->dirfd < 0) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "pam-agent: %s: %s%s\n", r->sessions_dir, strerror(errno),
			errno == EACCES ? " (run as root)" : "");
		return -1;
	}
	if (check_dir(r->dirfd, r->sessions_dir) != 0) {
		close(r->dirfd);
		r->dirfd = -1;
		return -1;
	}
	return 0;
}

static bool valid_sid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= KR_SID_MAX ||
		    !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i > 0;
}

/* A record's temporary file (SID.tmp of the module, SID.reap.tmp of reap). */
static bool temp_record(const char *name)
{
	const char *dot = strchr(name, '.');
	char sid[KR_SID_MAX + 1];

	if (dot == NULL || (size_t)(dot - name) > KR_SID_MAX ||
	    (strcmp(dot, ".tmp") != 0 && strcmp(dot, ".reap.tmp") != 0))
		return false;
	memcpy(sid, name, (size_t)(dot - name));
	sid[dot - name] = '\0';
	return valid_sid(sid);
}

/*
 * Removes a temporary record file left by a process killed while writing
 * it: one older than a minute (a write takes milliseconds). The record it
 * was to replace, if any, is still there and is reaped as such.
 */
static void remove_stale_temp(struct run *r, const char *name)
{
	struct stat st;

	if (fstatat(r->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_mtime > time(NULL) - 60)
		return;
	if (r->dry_run) {
		printf("would remove the stale temporary file %s/%s\n", r->sessions_dir, name);
		return;
	}
	if (unlinkat(r->dirfd, name, 0) != 0)
		fprintf(stderr, "pam-agent: cannot remove %s/%s: %s\n", r->sessions_dir, name,
			strerror(errno));
	else if (r->verbose)
		printf("removed the stale temporary file %s/%s\n", r->sessions_dir, name);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The names of the records in the sessions directory, sorted, into
 * *names (n of them). Other entries are noted on stderr (a temporary file
 * left by a crashed writer, say) and skipped. Returns 0 or -1.
 */
static int list_records(struct run *r, char ***names, size_t *n)
{
	DIR *d;
	struct dirent *e;
	char **v = NULL, **nv, esc[PA_ESCAPE_MAX];
	size_t cap = 0;
	int fd;

	*names = NULL;
	*n = 0;
	if (r->dirfd < 0)
		return 0;
	fd = dup(r->dirfd);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		fprintf(stderr, "pam-agent: %s: %s\n", r->sessions_dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rewinddir(d);
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (temp_record(e->d_name)) {
			if (r->reaping)
				remove_stale_temp(r, e->d_name);
			continue;
		}
		if (!valid_sid(e->d_name)) {
			fprintf(stderr, "pam-agent: note: %s/%s is not a session record; ignored\n",
				r->sessions_dir,
				pa_escape(e->d_name, strlen(e->d_name), esc, sizeof(esc)));
			continue;
		}
		if (*n == ENTRIES_MAX)
			break;
		if (*n == cap) {
			cap = cap == 0 ? 16 : 2 * cap;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL)
				goto oom;
			v = nv;
		}
		if ((v[*n] = strdup(e->d_name)) == NULL)
			goto oom;
		(*n)++;
		errno = 0;
	}
	closedir(d);
	if (*n > 0)
		qsort(v, *n, sizeof(*v), cmp_names);
	*names = v;
	return 0;
oom:
	closedir(d);
	while (*n > 0)
		free(v[--*n]);
	free(v);
	fprintf(stderr, "pam-agent: out of memory\n");
	return -1;
}

static void free_names(char **names, size_t n)
{
	while (n > 0)
		free(names[--n]);
	free(names);
}

/* ---- one record ------------------------------------------------------------------ */

/*
 * Reads and checks the record name of the sessions directory into *rec.
 * Returns 0, or -1 with err (the record is then left alone).
 */
static int record_read(int dirfd, const char *name, struct hp_record *rec, char *err,
		       size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t got;
	int fd, rc = -1;

	memset(rec, 0, sizeof(*rec));
	snprintf(rec->name, sizeof(rec->name), "%s", name);
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return pa_err(err, errlen, "cannot open: %s%s", strerror(errno),
			      errno == ELOOP ? " (a symbolic link)" : "");
	if (fstat(fd, &st) != 0) {
		pa_err(err, errlen, "cannot stat: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		pa_err(err, errlen, "not a regular file");
		goto out;
	}
	if (st.st_uid != geteuid()) {
		pa_err(err, errlen, "owned by uid %lu, not by uid %lu", (unsigned long)st.st_uid,
		       (unsigned long)geteuid());
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		pa_err(err, errlen, "mode %04o: group or other permission bits set",
		       (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_nlink != 1) {
		pa_err(err, errlen, "has %lu hard links", (unsigned long)st.st_nlink);
		goto out;
	}
	if (st.st_size > REC_MAX) {
		pa_err(err, errlen, "larger than %d bytes", REC_MAX);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	while (len <= (size_t)st.st_size &&
	       (got = read(fd, buf + len, (size_t)st.st_size + 1 - len)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			pa_err(err, errlen, "read failed: %s", strerror(errno));
			goto out;
		}
		len += (size_t)got;
	}
	if (len != (size_t)st.st_size) {
		pa_err(err, errlen, "changed while being read");
		goto out;
	}
	if (hp_record_parse(buf, len, name, rec, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* ---- the owner process -------------------------------------------------------------- */

enum owner { OWNER_ALIVE, OWNER_GONE, OWNER_UNKNOWN };

static const char *owner_name(enum owner o)
{
	return o == OWNER_ALIVE ? "alive" : o == OWNER_GONE ? "gone" : "unknown";
}

/* Whether the process that opened rec still runs; why says how we know. */
static enum owner owner_state(const struct hp_record *rec, char *why, size_t len)
{
	pid_t pid = (pid_t)rec->pid;
	struct pa_proc_stat ps = { .state = '?' };

	if (kill(pid, 0) != 0 && errno == ESRCH) {
		snprintf(why, len, "process %ld is gone", (long)pid);
		return OWNER_GONE;
	}
	if (pa_proc_stat(pid, &ps) != 0) {
		int e = errno;

		if ((e == ENOENT || e == ESRCH) && kill(pid, 0) != 0 && errno == ESRCH) {
			snprintf(why, len, "process %ld is gone", (long)pid);
			return OWNER_GONE;
		}
		snprintf(why, len,
			 "process %ld exists but /proc/%ld/stat cannot be read (%s; hidepid= or "
			 "another pid namespace?)",
			 (long)pid, (long)pid, strerror(e));
		return OWNER_UNKNOWN;
	}
	if (rec->start_time > 0 && ps.start != (unsigned long long)rec->start_time) {
		snprintf(why, len,
			 "process %ld is gone (pid reused: start time %llu, recorded %lld)",
			 (long)pid, ps.start, (long long)rec->start_time);
		return OWNER_GONE;
	}
	if (ps.state == 'Z' || ps.state == 'X') {
		snprintf(why, len, "process %ld is dead (a zombie)", (long)pid);
		return OWNER_GONE;
	}
	if (rec->start_time == 0) {
		snprintf(why, len, "process %ld exists; the record has no start time to compare",
			 (long)pid);
		return OWNER_UNKNOWN;
	}
	snprintf(why, len, "process %ld", (long)pid);
	return OWNER_ALIVE;
}

/* ---- keys in the kernel --------------------------------------------------------------- */

enum kstate {
	K_LIVE,	   /* the key we placed, still there */
	K_REVOKED, /* revoked (by close_session or an earlier reap) */
	K_EXPIRED, /* its timeout passed */
	K_GONE,	   /* no key has this serial any more */
	K_OTHER,   /* the serial now names another key: ours is gone */
	K_UNKNOWN, /* describing it failed otherwise */
};

static const char *kstate_name(enum kstate s)
{
	static const char *const names[] = {"live", "revoked", "expired",
					    "gone", "reused",  "unknown"};
	return names[s];
}

/*
 * What serial is now: the key of type and description desc owned by the
 * effective uid that we placed, or something else. A key owned by us has
 * "view" for its owner (KR_PERM), so EACCES means it is not ours.
 */
static enum kstate key_state(int32_t serial, const char *type, const char *desc)
{
	char *buf = NULL, *p;
	char want[KR_SID_MAX + 64];
	enum kstate s;

	if (keyctl_describe_alloc(serial, &buf) < 0) {
		switch (errno) {
		case EKEYREVOKED:
			return K_REVOKED;
		case EKEYEXPIRED:
			return K_EXPIRED;
		case ENOKEY:
			return K_GONE;
		case EACCES:
			return K_OTHER;
		default:
			return K_UNKNOWN;
		}
	}
	/* "type;uid;gid;perm;description" */
	snprintf(want, sizeof(want), "%s;%lu;", type, (unsigned long)geteuid());
	s = K_OTHER;
	if (strncmp(buf, want, strlen(want)) == 0) {
		p = strchr(buf + strlen(want), ';');	   /* after gid */
		p = p != NULL ? strchr(p + 1, ';') : NULL; /* after perm */
		if (p != NULL && strcmp(p + 1, desc) == 0)
			s = K_LIVE;
	}
	free(buf);
	return s;
}

static enum kstate ring_state(const struct hp_record *rec)
{
	char desc[KR_SID_MAX + 16];

	snprintf(desc, sizeof(desc), KR_PREFIX "%s", rec->sid);
	return key_state(rec->ring, "keyring", desc);
}

static enum kstate cred_state(const struct hp_key *k)
{
	char desc[KR_NAME_MAX + 16];

	snprintf(desc, sizeof(desc), KR_PREFIX "%s", k->grant);
	return key_state(k->serial, "user", desc);
}

/* ---- output helpers -------------------------------------------------------------------- */

static const char *show(const char *s, char *buf, size_t len)
{
	return s == NULL ? "-" : pa_escape(s, strlen(s), buf, len);
}

static const char *utc(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
	return buf;
}

static void problem(struct run *r, json_t *problems, const char *name, const char *err)
{
	char esc[PA_ESCAPE_MAX];

	r->problems++;
	if (problems != NULL)
		json_array_append_new(problems,
				      json_pack("{s:s, s:s}", "record", name, "error", err));
	fprintf(stderr, "pam-agent: %s/%s: %s; left alone\n", r->sessions_dir,
		show(name, esc, sizeof(esc)), err);
}

/* ---- pam-agent sessions ------------------------------------------------------------------ */

static json_t *session_json(const struct hp_record *rec, enum owner o, const char *why)
{
	json_t *keys = json_array(), *obj;
	size_t i;

	for (i = 0; keys != NULL && i < rec->keys.n; i++) {
		const struct hp_key *k = &rec->keys.v[i];

		json_array_append_new(keys, json_pack("{s:s, s:I, s:I, s:s, s:b}", "grant",
						      k->grant, "serial", (json_int_t)k->serial,
						      "expires_at", (json_int_t)k->expires_at,
						      "state", kstate_name(cred_state(k)),
						      "broker_revoke", k->revoke != NULL));
	}
	obj = json_pack(
	    "{s:s, s:s, s:s, s:I, s:s?, s:I, s:s, s:s, s:I, s:I, s:i, s:s?, s:o}", "sid", rec->sid,
	    "agent", rec->agent, "user", rec->user, "uid", (json_int_t)rec->uid, "task", rec->task,
	    "pid", (json_int_t)rec->pid, "owner", owner_name(o), "owner_detail", why, "opened",
	    (json_int_t)rec->opened, "expires", (json_int_t)rec->expires, "ring", (int)rec->ring,
	    "ring_state", rec->ring > 0 ? kstate_name(ring_state(rec)) : NULL, "keys", keys);
	return obj;
}

static void session_text(const struct hp_record *rec, enum owner o, const char *why)
{
	char a[PA_ESCAPE_MAX], u[PA_ESCAPE_MAX], t[PA_ESCAPE_MAX], g[PA_ESCAPE_MAX];
	char t1[32], t2[32];
	size_t i;

	printf("session %s\n", rec->sid);
	printf("  agent:   %s\n", show(rec->agent, a, sizeof(a)));
	printf("  user:    %s (uid %lld)\n", show(rec->user, u, sizeof(u)), (long long)rec->uid);
	printf("  task:    %s\n", show(rec->task, t, sizeof(t)));
	printf("  owner:   %s: %s\n", owner_name(o), why);
	printf("  opened:  %s\n", utc(rec->opened, t1, sizeof(t1)));
	printf("  expires: %s%s\n", utc(rec->expires, t2, sizeof(t2)),
	       rec->expires <= (int64_t)time(NULL) ? " (passed)" : "");
	if (rec->ring > 0)
		printf("  ring:    %d (%s)\n", (int)rec->ring, kstate_name(ring_state(rec)));
	else
		printf("  ring:    none\n");
	printf("  keys:    %zu\n", rec->keys.n);
	for (i = 0; i < rec->keys.n; i++) {
		const struct hp_key *k = &rec->keys.v[i];

		printf("    %-20s %11d  %-8s expires %s%s\n", show(k->grant, g, sizeof(g)),
		       (int)k->serial, kstate_name(cred_state(k)),
		       utc(k->expires_at, t1, sizeof(t1)),
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
	struct run r = {.dirfd = -1};
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
	if (load_config(config, &r.cfg) != 0)
		return CLI_USAGE;
	r.state_dir = r.cfg->global.state_dir;
	if (open_state(&r) != 0 || list_records(&r, &names, &n) != 0)
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
		struct hp_record rec;
		enum owner o;

		if (record_read(r.dirfd, names[i], &rec, err, sizeof(err)) != 0) {
			problem(&r, problems, names[i], err);
			continue;
		}
		o = owner_state(&rec, why, sizeof(why));
		counts[o]++;
		if (r.json) {
			json_array_append_new(list, session_json(&rec, o, why));
		} else {
			if (shown++ > 0)
				printf("\n");
			session_text(&rec, o, why);
		}
		hp_record_clear(&rec);
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
	free_names(names, n);
	json_decref(out);
	json_decref(list);
	json_decref(problems);
	if (r.dirfd >= 0)
		close(r.dirfd);
	pol_config_unref(r.cfg);
	return ret;
}

/* ---- pam-agent reap ------------------------------------------------------------------------ */

/* Audits one event about a reaped session (reap goes on when the audit fails). */
static void audit(const struct run *r, const struct hp_record *rec, enum aud_kind kind, bool ok,
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
static void audit_unreadable(const struct run *r, const char *name, const char *error)
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
static int record_rewrite(int dirfd, const struct hp_record *rec, const struct hp_keys *keys,
			  char *err, size_t errlen)
{
	char tmp[KR_SID_MAX + 16], *text = NULL;
	json_t *copy = json_deep_copy(rec->root), *arr = hp_keys_to_json(keys);
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
 * Revokes one orphaned session: its keys and ring through the helper (as
 * close_session does), the broker revocation of keys whose serial was
 * reused directly; removes the record when everything worked, else keeps
 * in it what is still to do. Returns 0 or -1 (reported).
 */
static int reap_one(struct run *r, const struct hp_record *rec, const char *why)
{
	const struct pol_global *g = &r->cfg->global;
	struct hp_keys pass = {0}, todo = {0};
	struct hp_close_results res;
	bool *reused = NULL, ok = true;
	int32_t ring = rec->ring;
	char err[512], failures[2048] = "", reason[2400], g1[PA_ESCAPE_MAX];
	size_t i, j, n_revoked = 0, n_broker = 0;

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
		reused[i] = cred_state(&rec->keys.v[i]) == K_OTHER;
		if (!reused[i])
			pass.v[pass.n++] = rec->keys.v[i];
	}
	if (ring > 0 && ring_state(rec) == K_OTHER)
		ring = 0; /* the ring is gone and its serial names another keyring */

	if (pass.n > 0 || ring > 0) {
		if (hp_close(g->helper, (int)g->helper_timeout, rec->sid, ring, rec->agent, &pass,
			     &res, err, sizeof(err)) != 0) {
			/* nothing is known to be done: keep everything for the next run */
			ok = false;
			note(failures, sizeof(failures), "helper: %s", err);
			for (i = 0; i < pass.n; i++)
				todo.v[todo.n++] = pass.v[i];
		} else {
			for (i = 0; i < pass.n; i++) {
				const struct hp_close_result *cr = NULL;
				bool done;

				for (j = 0; j < res.n && cr == NULL; j++)
					if (res.v[j].serial == pass.v[i].serial &&
					    strcmp(res.v[j].grant, pass.v[i].grant) == 0)
						cr = &res.v[j];
				done = cr != NULL && cr->revoked &&
				       strncmp(cr->broker, "failed", 6) != 0;
				if (cr != NULL && cr->note != NULL)
					fprintf(stderr, "pam-agent: note: session %s: grant %s: %s\n",
						rec->sid, show(pass.v[i].grant, g1, sizeof(g1)),
						show(cr->note, reason, sizeof(reason)));
				if (cr != NULL && cr->revoked)
					n_revoked++;
				if (cr != NULL && strcmp(cr->broker, "ok") == 0)
					n_broker++;
				if (!done) {
					ok = false;
					todo.v[todo.n++] = pass.v[i];
					note(failures, sizeof(failures),
					     "grant %s (key %d): %s, broker %s",
					     show(pass.v[i].grant, g1, sizeof(g1)),
					     (int)pass.v[i].serial,
					     cr == NULL	   ? "no answer"
					     : cr->revoked ? "revoked"
							   : "NOT revoked",
					     cr == NULL ? "unknown" : cr->broker);
				}
			}
			if (ring > 0 && !res.ring_revoked) {
				ok = false;
				note(failures, sizeof(failures), "keyring %d NOT revoked",
				     (int)ring);
			}
		}
	}
	/* a reused serial: the credential expired long ago; only the broker is left */
	for (i = 0; i < rec->keys.n; i++) {
		const struct hp_key *k = &rec->keys.v[i];

		if (!reused[i])
			continue;
		fprintf(
		    stderr,
		    "pam-agent: note: session %s: key %d of grant %s is gone and its serial now "
		    "names another key; that key is left alone\n",
		    rec->sid, (int)k->serial, show(k->grant, g1, sizeof(g1)));
		if (k->revoke == NULL)
			continue;
		if (hp_revoke_run(k->revoke, k->handle, rec->sid, rec->agent, k->grant,
				  HP_BROKER_TIMEOUT * 1000, err, sizeof(err)) == 0) {
			n_broker++;
		} else {
			ok = false;
			todo.v[todo.n++] = *k;
			note(failures, sizeof(failures), "grant %s: broker failed: %s",
			     show(k->grant, g1, sizeof(g1)), err);
		}
	}

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
			    "reaped %s: %s; %zu key(s) revoked, %zu broker revocation(s)%s, record "
			    "removed\n",
			    rec->sid, why, n_revoked, n_broker,
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
	hp_close_results_clear(&res);
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
	struct run r = {.dirfd = -1, .reaping = true};
	char **names = NULL, err[512], why[256], ewhy[512], t1[32];
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
	if (load_config(config, &r.cfg) != 0)
		return CLI_USAGE;
	r.state_dir = r.cfg->global.state_dir;
	if (open_state(&r) != 0)
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
	if (list_records(&r, &names, &n) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		struct hp_record rec;
		enum owner o;

		if (record_read(r.dirfd, names[i], &rec, err, sizeof(err)) != 0) {
			problem(&r, NULL, names[i], err);
			if (!r.dry_run)
				audit_unreadable(&r, names[i], err);
			continue;
		}
		o = owner_state(&rec, why, sizeof(why));
		if (o != OWNER_GONE && rec.expires > 0 && rec.expires <= now) {
			/* past max_session: revoked whether or not its owner lives on */
			snprintf(ewhy, sizeof(ewhy),
				 "expired: its max_session ended at %s (owner %s: %s)",
				 utc(rec.expires, t1, sizeof(t1)), owner_name(o), why);
			orphans++;
			if (r.dry_run)
				printf("would reap %s: %s; %zu key(s)%s\n", rec.sid, ewhy,
				       rec.keys.n, rec.ring > 0 ? " and its keyring" : "");
			else if (reap_one(&r, &rec, ewhy) == 0)
				reaped++;
		} else if (o == OWNER_ALIVE) {
			if (r.verbose)
				printf("alive %s: %s; left alone\n", rec.sid, why);
		} else if (o == OWNER_UNKNOWN) {
			printf("kept %s: %s; not reaped (its keys expire with their timeouts)\n",
			       rec.sid, why);
		} else {
			orphans++;
			if (r.dry_run)
				printf("would reap %s: %s; %zu key(s)%s\n", rec.sid, why,
				       rec.keys.n, rec.ring > 0 ? " and its keyring" : "");
			else if (reap_one(&r, &rec, why) == 0)
				reaped++;
		}
		hp_record_clear(&rec);
	}
	if (n == 0)
		printf("nothing to reap: no sessions in %s\n", r.sessions_dir);
	else if (orphans == 0)
		printf("nothing to reap: %zu session(s), none orphaned or expired\n", n);
	else if (!r.dry_run)
		printf("%zu orphaned or expired session(s), %zu reaped, %zu failed\n", orphans,
		       reaped, orphans - reaped);
	ret = r.problems > 0 ? CLI_REJECT : CLI_OK;
out:
	free_names(names, n);
	if (r.dirfd >= 0)
		close(r.dirfd); /* releases the lock */
	pol_config_unref(r.cfg);
	return ret;
}
