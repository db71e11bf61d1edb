/*
 * revoke.c - the kernel side of a session's close (session/session.h,
 * ses_key_check, ses_close_local): which serials of a close are still this
 * session's keys, and their revocation. The helper's close
 * (helper/server.c) runs it before telling the brokers; the module runs it
 * itself, spawning nothing, when no key has a broker to tell
 * (docs/helper.md, "Close without the helper").
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <keyutils.h>

#include "session.h"
#include "keyring.h"
#include "util.h"

void ses_ring_view_read(struct ses_ring_view *v, int32_t ring)
{
	void *buf = NULL;
	long len;

	memset(v, 0, sizeof(*v));
	if (ring <= 0)
		return;
	v->ring = ring;
	len = keyctl_read_alloc(v->ring, &buf);
	if (len < 0) {
		v->err = errno;
		return;
	}
	v->ids = buf;
	v->n = (size_t)len / sizeof(int32_t);
}

void ses_ring_view_clear(struct ses_ring_view *v)
{
	free(v->ids);
	memset(v, 0, sizeof(*v));
}

/*
 * Whether serial is linked in the session's keyring: 1 yes, 0 no, -1
 * cannot tell (no ring named, or it is gone or unreadable); why says
 * what for 0 and -1.
 */
static int ring_has(const struct ses_ring_view *v, int32_t serial, const char *sid, char *why,
		    size_t whylen)
{
	size_t i;

	if (v->ring <= 0) {
		pa_err(why, whylen,
		       "key %d cannot be verified as this session's (no session keyring in the "
		       "request); not revoked",
		       (int)serial);
		return -1;
	}
	if (v->ids == NULL && v->err != 0) {
		pa_err(why, whylen,
		       "key %d cannot be verified as this session's: its keyring %d cannot be "
		       "read (%s); not revoked",
		       (int)serial, (int)v->ring, strerror(v->err));
		return -1;
	}
	for (i = 0; v->ids != NULL && i < v->n; i++)
		if (v->ids[i] == serial)
			return 1;
	pa_err(why, whylen,
	       "serial %d names a key of this grant that is not in session %s's keyring %d "
	       "(another session's): ours is gone, that key was left alone",
	       (int)serial, sid, (int)v->ring);
	return 0;
}

/* The description after "type;uid;gid;perm;", or NULL. */
static const char *description_of(const char *desc)
{
	const char *p = strchr(desc, ';');
	int i;

	for (i = 0; p != NULL && i < 3; i++)
		p = strchr(p + 1, ';');
	return p != NULL ? p + 1 : NULL;
}

enum ses_kcheck ses_key_check(int32_t serial, const char *grant, const char *sid,
			      const struct ses_ring_view *ring, char *why, size_t whylen)
{
	char *buf = NULL, want_key[32], want_ring[32], shown[PA_ESCAPE_MAX];
	const char *p;
	enum ses_kcheck c = SES_KC_OTHER;
	unsigned long uid;

	why[0] = '\0';
	if (keyctl_describe_alloc(serial, &buf) < 0) {
		if (errno == EKEYREVOKED || errno == EKEYEXPIRED || errno == ENOKEY)
			return SES_KC_GONE;
		if (errno == EACCES) {
			pa_err(why, whylen,
			       "serial %d now names a key we may not view: ours is gone, that "
			       "key was left alone",
			       (int)serial);
			return SES_KC_OTHER;
		}
		pa_err(why, whylen, "cannot describe key %d: %s; not revoked", (int)serial,
		       strerror(errno));
		return SES_KC_UNKNOWN;
	}
	/* "type;uid;gid;perm;description" */
	snprintf(want_key, sizeof(want_key), "user;%lu;", (unsigned long)geteuid());
	snprintf(want_ring, sizeof(want_ring), "keyring;%lu;", (unsigned long)geteuid());
	p = description_of(buf);
	if (p != NULL && strncmp(p, KR_PREFIX, strlen(KR_PREFIX)) == 0) {
		if (strncmp(buf, want_key, strlen(want_key)) == 0 &&
		    strcmp(p + strlen(KR_PREFIX), grant) == 0)
			c = SES_KC_OURS;
		else if (strncmp(buf, want_ring, strlen(want_ring)) == 0 &&
			 strcmp(p + strlen(KR_PREFIX), sid) == 0)
			c = SES_KC_RING;
	}
	if (c == SES_KC_OURS) {
		int in = ring_has(ring, serial, sid, why, whylen);

		free(buf);
		return in > 0 ? SES_KC_OURS : in == 0 ? SES_KC_OTHER : SES_KC_UNKNOWN;
	}
	if (c == SES_KC_OTHER) {
		uid = strtoul(strchr(buf, ';') != NULL ? strchr(buf, ';') + 1 : "0", NULL, 10);
		pa_escape(p != NULL ? p : buf, strlen(p != NULL ? p : buf), shown, sizeof(shown));
		pa_err(why, whylen,
		       "serial %d now names another key (owner %lu, \"%s\"): ours is gone, that "
		       "key was left alone",
		       (int)serial, uid, shown);
	}
	free(buf);
	return c;
}

bool ses_key_revoke(int32_t serial, const char *grant, const char *sid,
		    const struct ses_ring_view *ring, char *note, size_t notelen)
{
	enum ses_kcheck kc = ses_key_check(serial, grant, sid, ring, note, notelen);
	char why[512];

	if (kc == SES_KC_OURS || kc == SES_KC_RING) {
		if (kr_revoke(serial, why, sizeof(why)) == 0)
			return true;
		snprintf(note, notelen, "%s", why);
		return false;
	}
	/* gone or another key: ours no longer exists; unknown: not revoked */
	return kc != SES_KC_UNKNOWN;
}

bool ses_keys_need_broker(const struct ses_keys *keys)
{
	size_t i;

	for (i = 0; i < keys->n; i++)
		if (keys->v[i].revoke != NULL)
			return true;
	return false;
}

int ses_close_local(const char *sid, int32_t ring, const struct ses_keys *keys,
		    struct ses_close_results *out, char *err, size_t errlen)
{
	struct ses_ring_view view;
	char note[1024], why[512];
	bool oom = false;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (ses_keys_need_broker(keys))
		return pa_err(err, errlen, "a key has a broker to tell: only the helper closes it");
	if (keys->n > 0 && (out->v = calloc(keys->n, sizeof(*out->v))) == NULL)
		return pa_err(err, errlen, "out of memory");
	out->ok = true;
	ses_ring_view_read(&view, ring); /* before anything is revoked */
	for (i = 0; i < keys->n; i++) {
		const struct ses_key *k = &keys->v[i];
		struct ses_close_result *r = &out->v[i];

		out->n = i + 1;
		r->serial = k->serial;
		r->revoked = ses_key_revoke(k->serial, k->grant, sid, &view, note, sizeof(note));
		r->grant = strdup(k->grant);
		r->broker = strdup("none");
		r->note = note[0] != '\0' ? strdup(note) : NULL;
		if (r->grant == NULL || r->broker == NULL || (note[0] != '\0' && r->note == NULL))
			oom = true;
		out->ok = out->ok && r->revoked;
	}
	ses_ring_view_clear(&view);
	out->ring_revoked = ring <= 0 || kr_session_revoke(ring, why, sizeof(why)) == 0;
	out->ok = out->ok && out->ring_revoked;
	if (oom) {
		/* the revocations ran; what they did cannot be told: as a helper
		 * that gave no answer (the record stays for the reaper) */
		ses_close_results_clear(out);
		return pa_err(err, errlen, "out of memory");
	}
	return 0;
}
