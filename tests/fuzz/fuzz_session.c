/*
 * fuzz_session.c - libFuzzer target for the session records of
 * STATE_DIR/sessions/<sid> (session/record.c: ses_record_parse,
 * what `pam-agent sessions` and `pam-agent reap` run on the bytes of a
 * record after opening and checking the file). Every input is parsed as
 * the record of the file FUZZ_SID and, when its "sid" is a name a record
 * can have (1..KR_SID_MAX lower-case hex digits, what list_records
 * accepts) and another one, as the record of that file too. Then:
 *
 *   - a refusal has a one-line reason and leaves no document, key or
 *     field pointer behind (the record keeps only its name);
 *   - an accepted record has the sid of its file name, an agent and a user
 *     (non-empty, no NUL), a task that is absent, such a string or empty
 *     (the "task":"" that earlier modules recorded, read as it is), every
 *     number in its range, at most SES_GRANTS_MAX keys each with a grant
 *     of 1..KR_NAME_MAX bytes and a serial > 0;
 *   - written back as the module writes a record (ses_record_json,
 *     dumped with JSON_COMPACT | JSON_SORT_KEYS as pam_agent/session.c
 *     does) it is accepted again, every field and key unchanged;
 *   - rewritten as reap keeps what is left to do (sessions.c,
 *     record_rewrite: the document with "keys" replaced by a subset) it is
 *     accepted again with exactly that subset.
 * Built and run by `make fuzz` / `make fuzz-run` (docs/fuzzing.md).
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "session.h"
#include "keyring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SID "6f1c2a9e0b3d4c5f8a7e6d5c4b3a2918"

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_session: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

/* What list_records lets through as a record name (valid_sid there). */
static bool record_name(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= KR_SID_MAX || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i > 0;
}

static bool same_opt(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool good_text(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static void same_key(const struct ses_key *x, const struct ses_key *y)
{
	if (strcmp(x->grant, y->grant) != 0 || x->serial != y->serial ||
	    x->expires_at != y->expires_at || !same_opt(x->handle, y->handle) ||
	    !same_opt(x->revoke, y->revoke))
		die("re-read record", "a key differs");
}

/* Everything but the keys. */
static void same_fields(const struct ses_record *a, const struct ses_record *b)
{
	if (strcmp(a->name, b->name) != 0 || strcmp(a->sid, b->sid) != 0 ||
	    strcmp(a->agent, b->agent) != 0 || strcmp(a->user, b->user) != 0 ||
	    !same_opt(a->task, b->task) || a->uid != b->uid || a->pid != b->pid ||
	    a->start_time != b->start_time || a->opened != b->opened ||
	    a->expires != b->expires || a->ring != b->ring)
		die("re-read record", "a field differs");
}

static void check_refused(const struct ses_record *rec, const char *name, const char *err)
{
	if (err[0] == '\0' || strchr(err, '\n') != NULL)
		die("refusal", err[0] == '\0' ? "no reason" : "reason of more than one line");
	if (rec->root != NULL || rec->keys.v != NULL || rec->keys.n != 0 || rec->sid != NULL ||
	    rec->agent != NULL || rec->user != NULL || rec->task != NULL)
		die("refusal", "something left in the record");
	if (strcmp(rec->name, name) != 0)
		die("refusal", "the record lost its name");
}

static void check_accepted(const struct ses_record *rec, const char *name)
{
	size_t i;

	if (!json_is_object(rec->root))
		die("accepted", "no document");
	if (rec->sid == NULL || strcmp(rec->sid, name) != 0 || strcmp(rec->name, name) != 0)
		die("accepted", "sid is not the file name");
	/* an empty task is the "task":"" of earlier modules' records (record.c) */
	if (!good_text(rec->agent) || !good_text(rec->user))
		die("accepted", "empty agent or user");
	if (rec->uid < 0 || rec->uid > UINT32_MAX || rec->pid < 1 || rec->pid > INT32_MAX ||
	    rec->start_time < 0 || rec->opened < 0 || rec->expires < 0 || rec->ring < 0)
		die("accepted", "a number out of range");
	if (rec->keys.n > SES_GRANTS_MAX || (rec->keys.n > 0) != (rec->keys.v != NULL))
		die("accepted", "bad key list");
	for (i = 0; i < rec->keys.n; i++) {
		const struct ses_key *k = &rec->keys.v[i];

		if (k->grant == NULL || k->grant[0] == '\0' || strlen(k->grant) > KR_NAME_MAX ||
		    k->serial <= 0)
			die("accepted", "a key without a grant name or serial");
	}
}

/* text must be read back as the record of name; returns it (caller clears). */
static void reread(const char *text, const char *name, struct ses_record *back)
{
	char err[512] = "";

	if (text == NULL)
		die("json_dumps", "NULL");
	if (ses_record_parse(text, strlen(text), name, back, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_session: record: %s\n", text);
		die("a record written back is refused", err);
	}
	check_accepted(back, name);
}

/* As pam_agent/session.c writes a record (ses_record_json, write_state). */
static void write_as_module(const struct ses_record *rec)
{
	struct ses_record back;
	json_t *doc;
	char *text;
	size_t i;

	doc = ses_record_json(rec);
	if (doc == NULL)
		die("ses_record_json", "NULL");
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	reread(text, rec->name, &back);
	same_fields(rec, &back);
	if (back.keys.n != rec->keys.n)
		die("re-read record", "key count differs");
	for (i = 0; i < rec->keys.n; i++)
		same_key(&rec->keys.v[i], &back.keys.v[i]);
	ses_record_clear(&back);
	free(text);
	json_decref(doc);
}

/* As reap keeps what is left (record_rewrite): the keys of odd index, or none. */
static void rewrite_as_reap(const struct ses_record *rec)
{
	struct ses_record back;
	struct ses_keys left = { 0 };
	json_t *copy, *arr;
	char *text;
	size_t i;

	if (rec->keys.n > 0) {
		left.v = calloc(rec->keys.n, sizeof(*left.v));
		if (left.v == NULL)
			die("out of memory", NULL);
	}
	for (i = 1; i < rec->keys.n; i += 2)
		left.v[left.n++] = rec->keys.v[i]; /* shallow, as reap_one does */
	copy = json_deep_copy(rec->root);
	arr = ses_keys_to_json(&left);
	if (copy == NULL || arr == NULL || json_object_set(copy, "keys", arr) != 0)
		die("rewrite", "out of memory");
	text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	reread(text, rec->name, &back);
	same_fields(rec, &back);
	if (back.keys.n != left.n)
		die("re-read rewritten record", "key count differs");
	for (i = 0; i < left.n; i++)
		same_key(&left.v[i], &back.keys.v[i]);
	ses_record_clear(&back);
	free(text);
	json_decref(copy);
	json_decref(arr);
	free(left.v);
}

static void one(const uint8_t *data, size_t size, const char *name)
{
	struct ses_record rec;
	char err[512] = "";

	if (ses_record_parse((const char *)data, size, name, &rec, err, sizeof(err)) != 0) {
		check_refused(&rec, name, err);
		return;
	}
	check_accepted(&rec, name);
	write_as_module(&rec);
	rewrite_as_reap(&rec);
	ses_record_clear(&rec);
	if (rec.root != NULL || rec.keys.v != NULL || rec.sid != NULL)
		die("ses_record_clear", "something left");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc;
	const json_t *sid;

	one(data, size, FUZZ_SID);
	/* the record of the file its "sid" names, when that can be a record's name */
	doc = json_loadb((const char *)data, size, 0, NULL);
	sid = json_object_get(doc, "sid");
	if (json_is_string(sid) && strcmp(json_string_value(sid), FUZZ_SID) != 0 &&
	    record_name(json_string_value(sid)))
		one(data, size, json_string_value(sid));
	json_decref(doc);
	return 0;
}
