/*
 * session_record.c - the contents of a session record,
 * STATE_DIR/sessions/<sid>: what the module writes when a session opens
 * (pam_agent/session.c) and `pam-agent sessions` / `reap` read back
 * (cli/sessions.c, which opens and checks the file and hands its bytes
 * here). No file access, so tests/fuzz/fuzz_session.c feeds it directly.
 * docs/sessions.md.
 *
 * A record is one strict JSON object (no duplicate members):
 *   "sid" (= the file name), "agent", "user" (non-empty strings without NUL),
 *   "task" (such a string, null or absent), "uid" (0..UINT32_MAX),
 *   "pid" (1..INT_MAX), "start_time", "opened", "expires" (>= 0),
 *   "ring" (0..INT32_MAX, 0: none), "keys" (ses_keys_from_json).
 * Other members are ignored. ses_record_json makes one, as the module writes it.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "session.h"
#include "pa_json.h"
#include "util.h"

void ses_record_clear(struct ses_record *rec)
{
	ses_keys_clear(&rec->keys);
	json_decref(rec->root);
	memset(rec, 0, sizeof(*rec));
}

static int get_int(const json_t *o, const char *name, int64_t min, int64_t max, int64_t *out)
{
	const json_t *v = json_object_get(o, name);

	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

static const char *get_str(const json_t *o, const char *name)
{
	const json_t *v = json_object_get(o, name);

	return json_is_string(v) && json_string_length(v) > 0 &&
		       strlen(json_string_value(v)) == json_string_length(v)
		   ? json_string_value(v)
		   : NULL;
}

int ses_record_parse(const char *buf, size_t len, const char *name, struct ses_record *rec,
		     char *err, size_t errlen)
{
	json_error_t jerr;
	int64_t ring;

	memset(rec, 0, sizeof(*rec));
	snprintf(rec->name, sizeof(rec->name), "%s", name);
	rec->root = pa_json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (rec->root == NULL || !json_is_object(rec->root)) {
		pa_err(err, errlen, "not a JSON object (line %d, column %d)", jerr.line,
		       jerr.column);
		goto fail;
	}
	rec->sid = get_str(rec->root, "sid");
	rec->agent = get_str(rec->root, "agent");
	rec->user = get_str(rec->root, "user");
	rec->task = get_str(rec->root, "task");
	if (rec->sid == NULL || strcmp(rec->sid, name) != 0) {
		pa_err(err, errlen, "\"sid\" does not match the file name");
		goto fail;
	}
	if (rec->agent == NULL || rec->user == NULL) {
		pa_err(err, errlen, "no valid \"agent\" or \"user\"");
		goto fail;
	}
	/*
	 * An empty task ("task":"" in a token, which verification refuses
	 * now) was recorded by earlier modules: the record is still the
	 * module's and must be reaped, so it is read as an empty task.
	 */
	if (rec->task == NULL && json_is_string(json_object_get(rec->root, "task")) &&
	    json_string_length(json_object_get(rec->root, "task")) == 0)
		rec->task = "";
	if (json_object_get(rec->root, "task") != NULL &&
	    !json_is_null(json_object_get(rec->root, "task")) && rec->task == NULL) {
		pa_err(err, errlen, "bad \"task\"");
		goto fail;
	}
	if (get_int(rec->root, "uid", 0, UINT32_MAX, &rec->uid) != 0 ||
	    get_int(rec->root, "pid", 1, INT_MAX, &rec->pid) != 0 ||
	    get_int(rec->root, "start_time", 0, INT64_MAX, &rec->start_time) != 0 ||
	    get_int(rec->root, "opened", 0, INT64_MAX, &rec->opened) != 0 ||
	    get_int(rec->root, "expires", 0, INT64_MAX, &rec->expires) != 0 ||
	    get_int(rec->root, "ring", 0, INT32_MAX, &ring) != 0) {
		pa_err(err, errlen,
		       "missing or bad \"uid\", \"pid\", \"start_time\", \"opened\", \"expires\" "
		       "or \"ring\"");
		goto fail;
	}
	rec->ring = (int32_t)ring;
	if (ses_keys_from_json(json_object_get(rec->root, "keys"), &rec->keys, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	/* nothing points into a freed document: only the name is left */
	json_decref(rec->root);
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->name, sizeof(rec->name), "%s", name);
	return -1;
}

json_t *ses_record_json(const struct ses_record *rec)
{
	json_t *o = json_object();
	int rc;

	if (o == NULL)
		return NULL;
	/* the keys are constants; the strings are checked (json_string: NULL when NULL or
	 * not UTF-8, and a NULL member fails) */
	rc = json_object_set_new_nocheck(o, "sid", json_string(rec->sid));
	rc |= json_object_set_new_nocheck(o, "agent", json_string(rec->agent));
	rc |= json_object_set_new_nocheck(o, "user", json_string(rec->user));
	rc |= json_object_set_new_nocheck(o, "uid", json_integer((json_int_t)rec->uid));
	rc |= json_object_set_new_nocheck(o, "task",
					  rec->task != NULL ? json_string(rec->task) : json_null());
	rc |= json_object_set_new_nocheck(o, "pid", json_integer((json_int_t)rec->pid));
	rc |= json_object_set_new_nocheck(o, "start_time",
					  json_integer((json_int_t)rec->start_time));
	rc |= json_object_set_new_nocheck(o, "opened", json_integer((json_int_t)rec->opened));
	rc |= json_object_set_new_nocheck(o, "expires", json_integer((json_int_t)rec->expires));
	rc |= json_object_set_new_nocheck(o, "ring", json_integer((json_int_t)rec->ring));
	rc |= json_object_set_new_nocheck(o, "keys", ses_keys_to_json(&rec->keys));
	if (rc != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
