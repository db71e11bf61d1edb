/*
 * handoff.c - the identity hand-off record, STATE_DIR/handoff/<name>
 * (handoff/handoff.h, docs/handoff.md).
 *
 * <name> is the SHA-256 (hex) of the handle, so a listing of the directory
 * names no usable handle. A record is one strict JSON object:
 *   {"v":1, "service", "user", "rhost"|null, "tty"|null,
 *    "created", "expires", "pid", "pid_start", "ppid", "ppid_start",
 *    "decision": sha256 hex,
 *    "identity": {"kind", "agent_id", "issuer", "subject", "trust_domain",
 *                 "jti", "task", "scope", "kid", "alg", "exp", "iat",
 *                 "nbf", "act", "fingerprint", "pop"}}
 * It holds no token and no secret: the claims the later phases decide and
 * audit with, nothing that could be presented anywhere as a credential.
 * Taking it renames it to <name>.used (the tombstone, emptied), so a second
 * take is told "used", and two concurrent takes cannot both succeed.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "handoff.h"
#include "pa_json.h"
#include "util.h"

#define HO_DIR "handoff"
#define HO_USED_SUFFIX ".used"
/* the marker of a record, for the process meant to take it: for-<pid>-<start>.<record name> */
#define HO_FOR_PREFIX "for-"

void ho_record_clear(struct ho_record *rec)
{
	free(rec->service);
	free(rec->user);
	free(rec->rhost);
	free(rec->tty);
	id_identity_free(rec->identity);
	memset(rec, 0, sizeof(*rec));
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int ho_handle_new(char *out)
{
	unsigned char rnd[HO_HANDLE_LEN / 2];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	hex(rnd, sizeof(rnd), out);
	pa_overwrite(rnd, sizeof(rnd));
	return 0;
}

bool ho_handle_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= HO_HANDLE_LEN || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == HO_HANDLE_LEN;
}

/* SHA-256 of len bytes at p as hex into out (65 bytes); "" on failure. */
static void sha256_hex(const void *p, size_t len, char *out)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == sizeof(md))
		hex(md, sizeof(md), out);
}

/* The file name of handle's record into out (65 bytes). */
static void record_name(const char *handle, char *out)
{
	sha256_hex(handle, strlen(handle), out);
}

int64_t ho_start_time(pid_t pid)
{
	struct pa_proc_stat ps;

	if (pid <= 0 || pa_proc_stat(pid, &ps) != 0 || ps.start > INT64_MAX)
		return -1;
	return (int64_t)ps.start;
}

/* The marker's name for the taker pid/start and the record name into out (128 bytes). */
static void marker_name(int64_t pid, int64_t start, const char *record, char *out, size_t len)
{
	snprintf(out, len, HO_FOR_PREFIX "%lld-%lld.%s", (long long)pid, (long long)start, record);
}

/* Appends one length-prefixed field ("-" for NULL) to the digest text. */
static int field(char *buf, size_t len, size_t *o, const char *s)
{
	int n = s == NULL ? snprintf(buf + *o, len - *o, "-;")
			  : snprintf(buf + *o, len - *o, "%zu:%s;", strlen(s), s);

	if (n < 0 || (size_t)n >= len - *o)
		return -1;
	*o += (size_t)n;
	return 0;
}

void ho_decision_digest(const struct pol_decision *d, char *out)
{
	size_t len = 256, o = 0, i;
	char *buf;
	int n;

	for (i = 0; i < d->n_grants; i++) {
		const struct pol_grant *g = &d->grants[i];

		len += 128;
		len += g->name ? strlen(g->name) : 0;
		len += g->audience ? strlen(g->audience) : 0;
		len += g->scope ? strlen(g->scope) : 0;
		len += g->command ? strlen(g->command) : 0;
		len += g->revoke ? strlen(g->revoke) : 0;
		len += g->path ? strlen(g->path) : 0;
	}
	out[0] = '\0';
	buf = malloc(len);
	if (buf == NULL)
		return;
	n = snprintf(buf, len, "v1;allow=%d;class=%d;max=%lld;escalate=%d;n=%zu;", d->allow ? 1 : 0,
		     (int)d->cls, (long long)d->max_session, d->escalate ? 1 : 0, d->n_grants);
	if (n < 0 || (size_t)n >= len)
		goto out;
	o = (size_t)n;
	for (i = 0; i < d->n_grants; i++) {
		const struct pol_grant *g = &d->grants[i];

		n = snprintf(buf + o, len - o, "grant;cls=%d;src=%d;ttl=%lld;", (int)g->cls,
			     (int)g->source, (long long)g->ttl);
		if (n < 0 || (size_t)n >= len - o)
			goto out;
		o += (size_t)n;
		if (field(buf, len, &o, g->name) != 0 || field(buf, len, &o, g->audience) != 0 ||
		    field(buf, len, &o, g->scope) != 0 || field(buf, len, &o, g->command) != 0 ||
		    field(buf, len, &o, g->revoke) != 0 || field(buf, len, &o, g->path) != 0)
			goto out;
	}
	sha256_hex(buf, o, out);
out:
	free(buf);
}

/* ---- the directory ------------------------------------------------------------------ */

/* Checks an open directory: ours, and not writable (private: not readable) by others. */
static int check_dir(int fd, const char *path, mode_t forbid, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return pa_err(err, errlen, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & forbid) != 0)
		return pa_err(err, errlen,
			      "%s: must be a directory owned by uid %lu with mode %s (it is owned "
			      "by uid %lu, mode %04o)",
			      path, (unsigned long)geteuid(), forbid == 077 ? "0700" : "without "
			      "group/world write", (unsigned long)st.st_uid,
			      (unsigned)(st.st_mode & 07777));
	return 0;
}

/*
 * Opens STATE_DIR/handoff (creating both when create), without following
 * links, and checks both. Returns the descriptor, -1 with err, or -2 when
 * it does not exist (and create is false).
 */
static int open_dir(const char *state_dir, bool create, char *err, size_t errlen)
{
	char path[4200];
	int sfd, dfd;

	/* both are there but for the first record: created only when missing */
	sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0 && errno == ENOENT && create) {
		if (mkdir(state_dir, 0755) != 0 && errno != EEXIST)
			return pa_err(err, errlen, "%s: cannot create: %s", state_dir,
				      strerror(errno));
		sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (sfd < 0) {
		if (errno == ENOENT && !create)
			return -2;
		return pa_err(err, errlen, "%s: %s", state_dir, strerror(errno));
	}
	if (check_dir(sfd, state_dir, 022, err, errlen) != 0) {
		close(sfd);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/" HO_DIR, state_dir);
	dfd = openat(sfd, HO_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT && create) {
		if (mkdirat(sfd, HO_DIR, 0700) != 0 && errno != EEXIST) {
			pa_err(err, errlen, "%s: cannot create: %s", path, strerror(errno));
			close(sfd);
			return -1;
		}
		dfd = openat(sfd, HO_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	close(sfd);
	if (dfd < 0) {
		if (errno == ENOENT && !create)
			return -2;
		return pa_err(err, errlen, "%s: %s%s", path, strerror(errno),
			      errno == ELOOP || errno == ENOTDIR ? " (a link, or not a directory)"
								 : "");
	}
	if (check_dir(dfd, path, 077, err, errlen) != 0) {
		close(dfd);
		return -1;
	}
	return dfd;
}

/* ---- writing -------------------------------------------------------------------------- */

/* A string member, or null when s is NULL and may be. 0, or -1 (not UTF-8, out of memory). */
static int put_str(json_t *o, const char *key, const char *s, bool nullable)
{
	/* key is a constant; s is checked (json_string: NULL when NULL or not UTF-8) */
	return json_object_set_new_nocheck(o, key,
					   s == NULL && nullable ? json_null() : json_string(s));
}

/* An integer member. 0 or -1. */
static int put_int(json_t *o, const char *key, json_int_t v)
{
	return json_object_set_new_nocheck(o, key, json_integer(v));
}

/*
 * The record's document: a string that may be missing is null; NULL when
 * one that may not is missing, a string is not UTF-8 or out of memory.
 */
static json_t *record_json(const struct ho_record *rec)
{
	const struct id_identity *id = rec->identity;
	json_t *root = json_object(), *idj = json_object();
	int rc = 0;

	if (root == NULL || idj == NULL || json_object_set_new_nocheck(root, "identity", idj) != 0) {
		json_decref(root);
		return NULL;
	}
	rc |= put_int(idj, "kind", (json_int_t)id->kind);
	rc |= put_str(idj, "agent_id", id->agent_id, false);
	rc |= put_str(idj, "issuer", id->issuer, true);
	rc |= put_str(idj, "subject", id->subject, true);
	rc |= put_str(idj, "trust_domain", id->trust_domain, true);
	rc |= put_str(idj, "jti", id->jti, true);
	rc |= put_str(idj, "task", id->task, true);
	rc |= put_str(idj, "scope", id->scope, true);
	rc |= put_str(idj, "kid", id->kid, true);
	rc |= put_str(idj, "alg", id_alg_name(id->alg), false);
	rc |= put_int(idj, "exp", (json_int_t)id->exp);
	rc |= put_int(idj, "iat", (json_int_t)id->iat);
	rc |= put_int(idj, "nbf", (json_int_t)id->nbf);
	rc |= json_object_set_new_nocheck(idj, "act",
					  id->act != NULL ? json_incref(id->act) : json_null());
	rc |= put_str(idj, "fingerprint", id->fingerprint, false);
	rc |= json_object_set_new_nocheck(idj, "pop", json_boolean(id->pop));
	rc |= put_int(root, "v", 1);
	rc |= put_str(root, "service", rec->service, false);
	rc |= put_str(root, "user", rec->user, false);
	rc |= put_str(root, "rhost", rec->rhost, true);
	rc |= put_str(root, "tty", rec->tty, true);
	rc |= put_int(root, "created", (json_int_t)rec->created);
	rc |= put_int(root, "expires", (json_int_t)rec->expires);
	rc |= put_int(root, "pid", (json_int_t)rec->pid);
	rc |= put_int(root, "pid_start", (json_int_t)rec->pid_start);
	rc |= put_int(root, "ppid", (json_int_t)rec->ppid);
	rc |= put_int(root, "ppid_start", (json_int_t)rec->ppid_start);
	rc |= put_str(root, "decision", rec->decision, false);
	if (rc != 0) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int ho_write(const char *state_dir, const char *handle, const struct ho_record *rec,
	     char *err, size_t errlen)
{
	char name[65], marker[128], *text = NULL;
	json_t *root;
	size_t len;
	int dfd, fd = -1, mfd, ret = -1;

	if (!ho_handle_valid(handle) || rec->identity == NULL || rec->identity->agent_id == NULL)
		return pa_err(err, errlen, "bad hand-off record");
	/* bound to processes by start time: unknown start times bind nothing */
	if (rec->pid <= 0 || rec->ppid <= 0 || rec->pid_start < 0 || rec->ppid_start < 0)
		return pa_err(err, errlen, "bad hand-off record: the start time of the writer or of "
			      "its parent is unknown");
	root = record_json(rec);
	if (root == NULL || (text = pa_json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		json_decref(root);
		return pa_err(err, errlen, "out of memory for the hand-off record");
	}
	json_decref(root);
	len = strlen(text);
	dfd = open_dir(state_dir, true, err, errlen);
	if (dfd < 0)
		goto out;
	record_name(handle, name);
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		pa_err(err, errlen, "%s/" HO_DIR "/%s: %s", state_dir, name, strerror(errno));
		goto out;
	}
	if (write(fd, text, len) != (ssize_t)len || close(fd) != 0) {
		pa_err(err, errlen, "%s/" HO_DIR "/%s: write failed: %s", state_dir, name,
		       strerror(errno));
		fd = -1;
		(void)unlinkat(dfd, name, 0);
		goto out;
	}
	fd = -1;
	/*
	 * The marker: the process meant to take the record can tell that one
	 * waits for it even when the handle never reaches it (a module or a
	 * user's ~/.pam_environment removed PAM_AGENT_HANDOFF): ho_pending.
	 */
	marker_name(rec->ppid, rec->ppid_start, name, marker, sizeof(marker));
	mfd = openat(dfd, marker, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (mfd < 0 || close(mfd) != 0) {
		pa_err(err, errlen, "%s/" HO_DIR "/%s: %s", state_dir, marker, strerror(errno));
		(void)unlinkat(dfd, name, 0);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(text);
	return ret;
}

/* ---- taking --------------------------------------------------------------------------- */

static int get_i64(const json_t *o, const char *name, int64_t *out)
{
	const json_t *v = json_object_get(o, name);

	if (!json_is_integer(v))
		return -1;
	*out = json_integer_value(v);
	return 0;
}

/*
 * Reads the taken record open at fd whole into *buf (heap, *len bytes)
 * after checking it: a regular file of ours, no group or other bits, one
 * link, at most HO_RECORD_MAX bytes. 0, or -1 with err.
 */
static int read_record_fd(int fd, char **buf_out, size_t *len_out, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t got;

	if (fstat(fd, &st) != 0) {
		pa_err(err, errlen, "cannot stat the record: %s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		pa_err(err, errlen, "the record is not a regular file");
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		pa_err(err, errlen, "the record is owned by uid %lu, not by uid %lu",
		       (unsigned long)st.st_uid, (unsigned long)geteuid());
		goto fail;
	}
	if ((st.st_mode & 077) != 0) {
		pa_err(err, errlen, "the record has mode %04o (group or other bits set)",
		       (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_nlink != 1) {
		pa_err(err, errlen, "the record has %lu hard links", (unsigned long)st.st_nlink);
		goto fail;
	}
	if (st.st_size > HO_RECORD_MAX) {
		pa_err(err, errlen, "the record is larger than %d bytes", HO_RECORD_MAX);
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		pa_err(err, errlen, "out of memory");
		goto fail;
	}
	while (len <= (size_t)st.st_size &&
	       (got = read(fd, buf + len, (size_t)st.st_size + 1 - len)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			pa_err(err, errlen, "cannot read the record: %s", strerror(errno));
			goto fail;
		}
		len += (size_t)got;
	}
	if (len != (size_t)st.st_size) {
		pa_err(err, errlen, "the record changed while being read");
		goto fail;
	}
	*buf_out = buf;
	*len_out = len;
	return 0;
fail:
	free(buf);
	return -1;
}

/*
 * A copy of the string member name: 0 (also for null/absent when optional), -1 bad.
 * An optional member may be "" (a PAM_RHOST of "", a token's empty "scope"):
 * it is written as it was seen and read back the same; a required one may not.
 */
static int get_str(const json_t *o, const char *name, bool optional, char **out)
{
	const json_t *v = json_object_get(o, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return optional ? 0 : -1;
	if (!json_is_string(v) || (json_string_length(v) == 0 && !optional) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	*out = strdup(json_string_value(v));
	return *out == NULL ? -1 : 0;
}

static struct id_identity *identity_parse(const json_t *o)
{
	struct id_identity *id = calloc(1, sizeof(*id));
	const json_t *act = json_object_get(o, "act");
	const char *alg = json_string_value(json_object_get(o, "alg"));
	const char *fp = json_string_value(json_object_get(o, "fingerprint"));
	int64_t kind;

	if (id == NULL || !json_is_object(o))
		goto fail;
	if (get_i64(o, "kind", &kind) != 0 || (kind != ID_KIND_SPIFFE && kind != ID_KIND_OIDC))
		goto fail;
	id->kind = (enum id_kind)kind;
	if (get_str(o, "agent_id", false, &id->agent_id) != 0 ||
	    get_str(o, "issuer", true, &id->issuer) != 0 ||
	    get_str(o, "subject", true, &id->subject) != 0 ||
	    get_str(o, "trust_domain", true, &id->trust_domain) != 0 ||
	    get_str(o, "jti", true, &id->jti) != 0 || get_str(o, "task", true, &id->task) != 0 ||
	    get_str(o, "scope", true, &id->scope) != 0 || get_str(o, "kid", true, &id->kid) != 0)
		goto fail;
	if (alg == NULL || (id->alg = id_alg_from_name(alg)) == ID_ALG_NONE)
		goto fail;
	if (get_i64(o, "exp", &id->exp) != 0 || get_i64(o, "iat", &id->iat) != 0 ||
	    get_i64(o, "nbf", &id->nbf) != 0)
		goto fail;
	if (act != NULL && !json_is_null(act)) {
		if (!json_is_object(act))
			goto fail;
		id->act = json_deep_copy(act);
		if (id->act == NULL)
			goto fail;
	}
	if (fp == NULL || strlen(fp) > ID_FINGERPRINT_LEN)
		goto fail;
	snprintf(id->fingerprint, sizeof(id->fingerprint), "%s", fp);
	/* proven by possession in the process that authenticated (absent: no) */
	if (json_object_get(o, "pop") != NULL && !json_is_boolean(json_object_get(o, "pop")))
		goto fail;
	id->pop = json_is_true(json_object_get(o, "pop"));
	return id;
fail:
	id_identity_free(id);
	return NULL;
}

static int record_parse(const char *buf, size_t len, struct ho_record *rec, char *err,
			size_t errlen)
{
	json_error_t jerr;
	json_t *root = pa_json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *digest;
	int64_t v;
	int ret = -1;

	memset(rec, 0, sizeof(*rec));
	if (root == NULL || !json_is_object(root)) {
		pa_err(err, errlen, "not a JSON object (line %d, column %d)", jerr.line, jerr.column);
		goto out;
	}
	digest = json_string_value(json_object_get(root, "decision"));
	if (get_i64(root, "v", &v) != 0 || v != 1 ||
	    get_str(root, "service", false, &rec->service) != 0 ||
	    get_str(root, "user", false, &rec->user) != 0 ||
	    get_str(root, "rhost", true, &rec->rhost) != 0 ||
	    get_str(root, "tty", true, &rec->tty) != 0 || get_i64(root, "created", &rec->created) != 0 ||
	    get_i64(root, "expires", &rec->expires) != 0 || get_i64(root, "pid", &rec->pid) != 0 ||
	    get_i64(root, "pid_start", &rec->pid_start) != 0 ||
	    get_i64(root, "ppid", &rec->ppid) != 0 ||
	    get_i64(root, "ppid_start", &rec->ppid_start) != 0 || digest == NULL ||
	    strlen(digest) != 64) {
		pa_err(err, errlen, "malformed record");
		goto out;
	}
	memcpy(rec->decision, digest, 65);
	rec->identity = identity_parse(json_object_get(root, "identity"));
	if (rec->identity == NULL) {
		pa_err(err, errlen, "malformed identity in the record");
		goto out;
	}
	ret = 0;
out:
	if (ret != 0)
		ho_record_clear(rec);
	json_decref(root);
	return ret;
}

int ho_take(const char *state_dir, const char *handle, struct ho_record *rec, char *err,
	    size_t errlen)
{
	char name[65], used[80], *buf = NULL;
	struct stat st;
	size_t len = 0;
	int dfd, fd = -1, ret = HO_ERROR;

	memset(rec, 0, sizeof(*rec));
	if (!ho_handle_valid(handle)) {
		pa_errf(err, errlen, "the handle is not %d hex digits", HO_HANDLE_LEN);
		return HO_MISSING;
	}
	dfd = open_dir(state_dir, false, err, errlen);
	if (dfd == -2) {
		pa_errf(err, errlen, "no such hand-off record (no hand-off directory)");
		return HO_MISSING;
	}
	if (dfd < 0)
		return HO_ERROR;
	record_name(handle, name);
	snprintf(used, sizeof(used), "%s" HO_USED_SUFFIX, name);
	/* single use: of two takers, one renames; the other finds the tombstone */
	if (renameat(dfd, name, dfd, used) != 0) {
		if (errno == ENOENT) {
			if (fstatat(dfd, used, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				pa_err(err, errlen, "it was already used");
				ret = HO_USED;
			} else {
				pa_err(err, errlen, "no such hand-off record");
				ret = HO_MISSING;
			}
		} else {
			pa_err(err, errlen, "cannot take %s/" HO_DIR "/%s: %s", state_dir, name,
			       strerror(errno));
		}
		goto out;
	}
	fd = openat(dfd, used, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		pa_err(err, errlen, "cannot open the record: %s%s", strerror(errno),
		       errno == ELOOP ? " (a symbolic link)" : "");
		goto out;
	}
	if (read_record_fd(fd, &buf, &len, err, errlen) != 0)
		goto out;
	if (record_parse(buf, len, rec, err, errlen) != 0)
		goto out;
	/* used up, whoever took it: its taker no longer waits for it */
	{
		char marker[128];

		marker_name(rec->ppid, rec->ppid_start, name, marker, sizeof(marker));
		(void)unlinkat(dfd, marker, 0);
	}
	/* the tombstone keeps nothing of the identity */
	if (ftruncate(fd, 0) != 0) {
		/* harmless: the tombstone is root-only and reaped */
	}
	ret = HO_TAKEN;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(buf);
	return ret;
}

/* Removes the markers of record name (for-<pid>-<start>.<name>). */
static void remove_markers(int dfd, const char *name)
{
	struct dirent *e;
	const char *dot;
	DIR *d;
	int fd = dup(dfd);

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, HO_FOR_PREFIX, strlen(HO_FOR_PREFIX)) == 0 &&
		    (dot = strchr(e->d_name, '.')) != NULL && strcmp(dot + 1, name) == 0)
			(void)unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

void ho_remove(const char *state_dir, const char *handle, int64_t ppid, int64_t ppid_start)
{
	char name[65], marker[128], err[256];
	int dfd;

	if (!ho_handle_valid(handle))
		return;
	dfd = open_dir(state_dir, false, err, sizeof(err));
	if (dfd < 0)
		return;
	record_name(handle, name);
	(void)unlinkat(dfd, name, 0);
	if (ppid > 0 && ppid_start >= 0) {
		marker_name(ppid, ppid_start, name, marker, sizeof(marker));
		(void)unlinkat(dfd, marker, 0);
	} else {
		remove_markers(dfd, name);
	}
	close(dfd);
}

int ho_pending(const char *state_dir, pid_t pid, int64_t start, char *err, size_t errlen)
{
	char prefix[64];
	struct dirent *e;
	struct stat st;
	size_t plen;
	int found = 0;
	DIR *d;
	int dfd;

	if (pid <= 0 || start < 0)
		return pa_err(err, errlen, "the start time of process %ld is unknown", (long)pid);
	dfd = open_dir(state_dir, false, err, errlen);
	if (dfd == -2)
		return 0;
	if (dfd < 0)
		return -1;
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return pa_err(err, errlen, "%s/" HO_DIR ": %s", state_dir, strerror(errno));
	}
	snprintf(prefix, sizeof(prefix), HO_FOR_PREFIX "%ld-%lld.", (long)pid, (long long)start);
	plen = strlen(prefix);
	errno = 0;
	while (found == 0 && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, plen) != 0 || strlen(e->d_name + plen) != 64)
			continue;
		/* only the directory's owner can create entries; check anyway */
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_uid == geteuid())
			found = 1;
	}
	if (found == 0 && errno != 0) {
		pa_err(err, errlen, "%s/" HO_DIR ": %s", state_dir, strerror(errno));
		found = -1;
	}
	closedir(d);
	return found;
}

/* Whether name is a record's or a tombstone's (64 hex digits, then ".used" or nothing). */
static bool ours(const char *name)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return name[64] == '\0' || strcmp(name + 64, HO_USED_SUFFIX) == 0;
}

long ho_reap(const char *state_dir, int64_t now, char *err, size_t errlen)
{
	struct dirent *e;
	struct stat st;
	long removed = 0;
	DIR *d;
	int dfd = open_dir(state_dir, false, err, errlen);

	if (dfd == -2)
		return 0;
	if (dfd < 0)
		return -1;
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return pa_err(err, errlen, "%s/" HO_DIR ": %s", state_dir, strerror(errno));
	}
	while ((e = readdir(d)) != NULL) {
		long long pid, start;
		int n = 0;

		/* a marker lives as long as the process it names: while that
		 * process runs, a session it opens without the handle is refused */
		if (sscanf(e->d_name, HO_FOR_PREFIX "%lld-%lld.%n", &pid, &start, &n) == 2 && n > 0 &&
		    strlen(e->d_name + n) == 64 && ours(e->d_name + n)) {
			if (pid > 0 && pid <= INT32_MAX && start >= 0 &&
			    ho_start_time((pid_t)pid) == (int64_t)start)
				continue;
			if (unlinkat(dirfd(d), e->d_name, 0) == 0)
				removed++;
			continue;
		}
		if (strlen(e->d_name) < 64 || !ours(e->d_name))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		/* written once: its mtime is when it was written or taken */
		if ((int64_t)st.st_mtime > now - HO_TTL)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
