/*
 * ledger.c - the task ledger's store (docs/tasks.md): one file per task in
 * STATE_DIR/tasks (root-only), named by the SHA-256 of agent and task;
 * a fixed-size summary (the running counts the decision reads, so its cost
 * does not grow with the entries) followed by one JSON line per entry, at
 * most task_ledger_max_entries of them (beyond, entries are counted as
 * dropped, the counts go on). Every reader and writer holds an exclusive
 * flock on the file. A summary that does not parse is an error, never an
 * empty ledger: the caller fails closed.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "pa_json.h"
#include "policy.h"

/* The longest agent id and task a ledger records. */
#define LEDGER_ID_MAX 1024

struct pol_ledger {
	int fd;
	int64_t max_entries;
	char *agent, *task;
	struct pol_task_state st;
};

void pol_ledger_dir(const char *state_dir, char *buf, size_t len)
{
	snprintf(buf, len, "%s/tasks", state_dir);
}

struct pol_task_state *pol_ledger_state(struct pol_ledger *l)
{
	return &l->st;
}

const char *pol_ledger_agent(const struct pol_ledger *l)
{
	return l->agent;
}

const char *pol_ledger_task(const struct pol_ledger *l)
{
	return l->task;
}

/* Makes dir (mode) when missing; it must be ours and not group/world-accessible. */
static int private_dir(const char *dir, mode_t mode, mode_t forbidden, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, mode) != 0 && errno != EEXIST)
		return pa_err(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
	if (lstat(dir, &st) != 0)
		return pa_err(err, errlen, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & forbidden) != 0)
		return pa_err(err, errlen, "%s: must be a directory owned by uid %lu with mode "
			      "%03o or narrower", dir, (unsigned long)geteuid(), (unsigned)mode);
	return 0;
}

/* STATE_DIR/tasks/<hex SHA-256 of "agent\ntask"> into buf. */
static int ledger_path(const char *state_dir, const char *agent, const char *task, char *buf,
		       size_t len, char *err, size_t errlen)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char hex[65], dir[4200];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;
	size_t i;

	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, agent, strlen(agent)) == 1 &&
	     EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
	     EVP_DigestUpdate(ctx, task, strlen(task)) == 1 &&
	     EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == sizeof(md);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return pa_err(err, errlen, "SHA-256 failed");
	for (i = 0; i < sizeof(md); i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	pol_ledger_dir(state_dir, dir, sizeof(dir));
	snprintf(buf, len, "%s/%s.ledger", dir, hex);
	return 0;
}

json_t *pol_task_state_json(const struct pol_task_state *st)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:I, s:s, "
			 "s:I, s:I}",
			 "first", (json_int_t)st->first, "last", (json_int_t)st->last, "sessions",
			 (json_int_t)st->sessions, "read", (json_int_t)st->by_class[POL_CLASS_READ],
			 "write", (json_int_t)st->by_class[POL_CLASS_WRITE], "escalate",
			 (json_int_t)st->by_class[POL_CLASS_ESCALATE], "open", (json_int_t)st->open,
			 "denied", (json_int_t)st->denied, "flagged", (json_int_t)st->flagged,
			 "first_class", st->first_class, "classes_seen", (int)st->classes_seen,
			 "ended", (json_int_t)st->ended, "ended_why", st->ended_why, "entries",
			 (json_int_t)st->entries, "dropped", (json_int_t)st->dropped);
}

/* One non-negative integer member of o (absent: 0); -1 when it is not one. */
static int get_count(const json_t *o, const char *key, int64_t *out)
{
	const json_t *v = json_object_get(o, key);

	*out = 0;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/* The summary fields of o into st. 0 or -1 with err. */
static int state_from_json(const json_t *o, struct pol_task_state *st, char *err, size_t errlen)
{
	int64_t fc = 0, seen = 0;
	const json_t *why;

	memset(st, 0, sizeof(*st));
	if (!json_is_object(o))
		return pa_err(err, errlen, "the task state is not a JSON object");
	if (get_count(o, "first", &st->first) != 0 || get_count(o, "last", &st->last) != 0 ||
	    get_count(o, "sessions", &st->sessions) != 0 ||
	    get_count(o, "read", &st->by_class[POL_CLASS_READ]) != 0 ||
	    get_count(o, "write", &st->by_class[POL_CLASS_WRITE]) != 0 ||
	    get_count(o, "escalate", &st->by_class[POL_CLASS_ESCALATE]) != 0 ||
	    get_count(o, "open", &st->open) != 0 || get_count(o, "denied", &st->denied) != 0 ||
	    get_count(o, "flagged", &st->flagged) != 0 ||
	    get_count(o, "first_class", &fc) != 0 || get_count(o, "classes_seen", &seen) != 0 ||
	    get_count(o, "ended", &st->ended) != 0 || get_count(o, "entries", &st->entries) != 0 ||
	    get_count(o, "dropped", &st->dropped) != 0 || fc > POL_CLASS_ESCALATE || seen > 0xf)
		return pa_err(err, errlen, "a count of the task state is not a whole number in range");
	st->first_class = (int)fc;
	st->classes_seen = (unsigned)seen;
	why = json_object_get(o, "ended_why");
	if (why != NULL && !json_is_string(why))
		return pa_err(err, errlen, "ended_why of the task state is not a string");
	if (why != NULL)
		snprintf(st->ended_why, sizeof(st->ended_why), "%s", json_string_value(why));
	return 0;
}

int pol_task_state_parse(const char *text, struct pol_task_state *st, char *err, size_t errlen)
{
	json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	int rc;

	if (o == NULL)
		return pa_err(err, errlen, "the task state is not JSON");
	rc = state_from_json(o, st, err, errlen);
	json_decref(o);
	return rc;
}

/* Writes the summary of l into its header. */
static int write_header(struct pol_ledger *l, char *err, size_t errlen)
{
	char buf[POL_LEDGER_HEADER];
	json_t *o = pol_task_state_json(&l->st);
	char *text = NULL;
	size_t len;
	int rc = -1;

	if (o == NULL || json_object_set_new(o, "v", json_integer(1)) != 0 ||
	    json_object_set_new(o, "agent", json_string(l->agent)) != 0 ||
	    json_object_set_new(o, "task", json_string(l->task)) != 0 ||
	    (text = pa_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	len = strlen(text);
	if (len + 1 > sizeof(buf)) {
		pa_err(err, errlen, "the task summary does not fit in %d bytes", POL_LEDGER_HEADER);
		goto out;
	}
	memset(buf, ' ', sizeof(buf));
	memcpy(buf, text, len);
	buf[sizeof(buf) - 1] = '\n';
	if (pwrite(l->fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) {
		pa_err(err, errlen, "cannot write the task summary: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(text);
	json_decref(o);
	return rc;
}

/* Reads the summary of l (its agent and task too, when not known). */
static int read_header(struct pol_ledger *l, char *err, size_t errlen)
{
	char buf[POL_LEDGER_HEADER + 1];
	const json_t *agent, *task, *v;
	json_t *o;
	ssize_t n = pread(l->fd, buf, POL_LEDGER_HEADER, 0);
	int rc = -1;

	if (n != POL_LEDGER_HEADER || buf[POL_LEDGER_HEADER - 1] != '\n')
		return pa_err(err, errlen, "the task ledger is corrupt: its summary is %s",
			      n < 0 ? strerror(errno) : "cut short");
	buf[POL_LEDGER_HEADER] = '\0';
	o = json_loads(buf, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, NULL);
	if (o == NULL)
		return pa_err(err, errlen, "the task ledger is corrupt: its summary is not JSON");
	v = json_object_get(o, "v");
	agent = json_object_get(o, "agent");
	task = json_object_get(o, "task");
	if (!json_is_integer(v) || json_integer_value(v) != 1 || !json_is_string(agent) ||
	    !json_is_string(task)) {
		pa_err(err, errlen, "the task ledger is corrupt: no version 1 summary");
		goto out;
	}
	if ((l->agent != NULL && strcmp(l->agent, json_string_value(agent)) != 0) ||
	    (l->task != NULL && strcmp(l->task, json_string_value(task)) != 0)) {
		pa_err(err, errlen, "the task ledger is corrupt: it names another task");
		goto out;
	}
	if ((l->agent == NULL && (l->agent = strdup(json_string_value(agent))) == NULL) ||
	    (l->task == NULL && (l->task = strdup(json_string_value(task))) == NULL)) {
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	if (state_from_json(o, &l->st, err, errlen) != 0) {
		char inner[256];

		snprintf(inner, sizeof(inner), "%s", err);
		pa_err(err, errlen, "the task ledger is corrupt: %s", inner);
		goto out;
	}
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* Opens path (creating it when create), checks and locks it, reads or makes its summary. */
static int ledger_open(const char *path, bool create, struct pol_ledger *l, char *err,
		       size_t errlen)
{
	struct stat st;

	l->fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (l->fd < 0) {
		if (errno == ENOENT && !create)
			return 1;
		return pa_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
	}
	if (flock(l->fd, LOCK_EX) != 0)
		return pa_err(err, errlen, "%s: cannot lock: %s", path, strerror(errno));
	if (fstat(l->fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0)
		return pa_err(err, errlen, "%s: must be a regular file owned by uid %lu, mode 0600",
			      path, (unsigned long)geteuid());
	if (st.st_size == 0) {
		/* new (or made by a writer that died before its summary) */
		if (l->agent == NULL)
			return pa_err(err, errlen, "%s: the task ledger is empty", path);
		memset(&l->st, 0, sizeof(l->st));
		return write_header(l, err, errlen);
	}
	return read_header(l, err, errlen);
}

int pol_ledger_open(const char *state_dir, const char *agent, const char *task, bool create,
		    int64_t max_entries, struct pol_ledger **out, char *err, size_t errlen)
{
	char dir[4200], path[4300];
	struct pol_ledger *l;
	int rc;

	*out = NULL;
	if (agent == NULL || task == NULL || strlen(agent) > LEDGER_ID_MAX ||
	    strlen(task) > LEDGER_ID_MAX)
		return pa_err(err, errlen, "the agent id or task is missing or over %d bytes",
			      LEDGER_ID_MAX);
	if (create) {
		pol_ledger_dir(state_dir, dir, sizeof(dir));
		if (private_dir(state_dir, 0755, 022, err, errlen) != 0 ||
		    private_dir(dir, 0700, 077, err, errlen) != 0)
			return -1;
	}
	if (ledger_path(state_dir, agent, task, path, sizeof(path), err, errlen) != 0)
		return -1;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return pa_err(err, errlen, "out of memory");
	l->fd = -1;
	l->max_entries = max_entries;
	l->agent = strdup(agent);
	l->task = strdup(task);
	if (l->agent == NULL || l->task == NULL) {
		pol_ledger_close(l);
		return pa_err(err, errlen, "out of memory");
	}
	rc = ledger_open(path, create, l, err, errlen);
	if (rc != 0) {
		pol_ledger_close(l);
		return rc;
	}
	*out = l;
	return 0;
}

int pol_ledger_open_path(const char *path, int64_t max_entries, struct pol_ledger **out,
			 char *err, size_t errlen)
{
	struct pol_ledger *l = calloc(1, sizeof(*l));
	int rc;

	*out = NULL;
	if (l == NULL)
		return pa_err(err, errlen, "out of memory");
	l->fd = -1;
	l->max_entries = max_entries;
	rc = ledger_open(path, false, l, err, errlen);
	if (rc != 0) {
		pol_ledger_close(l);
		return rc;
	}
	*out = l;
	return 0;
}

void pol_ledger_close(struct pol_ledger *l)
{
	if (l == NULL)
		return;
	if (l->fd >= 0)
		close(l->fd); /* releases the lock */
	free(l->agent);
	free(l->task);
	free(l);
}

/* The entry e as one JSON line, or NULL when out of memory. */
static char *entry_line(const struct pol_ledger_entry *e)
{
	json_t *o = json_pack("{s:I, s:s, s:s?, s:s, s:s?, s:s?, s:s?, s:s?}", "time",
			      (json_int_t)e->time, "event", e->event, "service", e->service,
			      "class", pol_class_name(e->cls), "user", e->user, "result", e->result,
			      "sid", e->sid, "note", e->note);
	char *text = o != NULL ? pa_json_dumps(o, JSON_COMPACT) : NULL;
	char *line = NULL;

	json_decref(o);
	if (text != NULL && asprintf(&line, "%s\n", text) < 0)
		line = NULL;
	free(text);
	return line;
}

int pol_ledger_append(struct pol_ledger *l, const struct pol_ledger_entry *e, char *err,
		      size_t errlen)
{
	char *line;
	size_t len;
	off_t end;

	if (l->max_entries > 0 && l->st.entries >= l->max_entries) {
		l->st.dropped++;
		return write_header(l, err, errlen);
	}
	line = entry_line(e);
	if (line == NULL)
		return pa_err(err, errlen, "out of memory");
	len = strlen(line);
	end = lseek(l->fd, 0, SEEK_END);
	if (end < POL_LEDGER_HEADER || pwrite(l->fd, line, len, end) != (ssize_t)len) {
		free(line);
		return pa_err(err, errlen, "cannot append to the task ledger: %s",
			      end < 0 ? strerror(errno) : "short write");
	}
	free(line);
	l->st.entries++;
	return write_header(l, err, errlen);
}

int pol_ledger_each(const char *state_dir, int (*fn)(const char *path, void *arg), void *arg,
		    char *err, size_t errlen)
{
	char dir[4200], path[4600];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	pol_ledger_dir(state_dir, dir, sizeof(dir));
	d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		return pa_err(err, errlen, "%s: %s", dir, strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n != 64 + 7 || strcmp(de->d_name + 64, ".ledger") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (fn(path, arg) != 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}
