/*
 * records.c - what `pam-agent sessions` and `pam-agent reap` (sessions.c,
 * reap.c) share: the state directory and its session records, the owner
 * process, the keys in the kernel, output helpers. docs/sessions.md.
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
#include "session.h"
#include "keyring.h"
#include "pa_json.h"
#include "policy.h"
#include "util.h"

/* Largest session record read (SES_GRANTS_MAX keys with long handles fit). */
#define REC_MAX (4 * 1024 * 1024)
/* Most directory entries looked at in one run. */
#define ENTRIES_MAX 100000

/* ---- configuration and the state directory ---------------------------------------- */


int cli_load_config(const char *path, struct pol_config **out)
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
int cli_open_state(struct cli_run *r)
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
static void remove_stale_temp(struct cli_run *r, const char *name)
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
int cli_list_records(struct cli_run *r, char ***names, size_t *n)
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

void cli_free_names(char **names, size_t n)
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
int cli_record_read(int dirfd, const char *name, struct ses_record *rec, char *err,
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
	if (ses_record_parse(buf, len, name, rec, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* ---- the owner process -------------------------------------------------------------- */


const char *cli_owner_name(enum owner o)
{
	return o == OWNER_ALIVE ? "alive" : o == OWNER_GONE ? "gone" : "unknown";
}

/* Whether the process that opened rec still runs; why says how we know. */
enum owner cli_owner_state(const struct ses_record *rec, char *why, size_t len)
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


const char *cli_kstate_name(enum kstate s)
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

enum kstate cli_ring_state(const struct ses_record *rec)
{
	char desc[KR_SID_MAX + 16];

	snprintf(desc, sizeof(desc), KR_PREFIX "%s", rec->sid);
	return key_state(rec->ring, "keyring", desc);
}

enum kstate cli_cred_state(const struct ses_key *k)
{
	char desc[KR_NAME_MAX + 16];

	snprintf(desc, sizeof(desc), KR_PREFIX "%s", k->grant);
	return key_state(k->serial, "user", desc);
}

/* ---- output helpers -------------------------------------------------------------------- */

const char *cli_show(const char *s, char *buf, size_t len)
{
	return s == NULL ? "-" : pa_escape(s, strlen(s), buf, len);
}

const char *cli_utc(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
	return buf;
}

void cli_problem(struct cli_run *r, json_t *problems, const char *name, const char *err)
{
	char esc[PA_ESCAPE_MAX];

	r->problems++;
	if (problems != NULL)
		json_array_append_new(problems,
				      json_pack("{s:s, s:s}", "record", name, "error", err));
	fprintf(stderr, "pam-agent: %s/%s: %s; left alone\n", r->sessions_dir,
		cli_show(name, esc, sizeof(esc)), err);
}
