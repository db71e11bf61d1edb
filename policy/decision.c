/*
 * decision.c - the request-time decision (docs/configuration.md): default deny,
 * deny rules first, the most specific agent rule, service class against
 * max_class and the token's scope, user, rhost, time window, task and
 * runtime requirements, fresh tokens for escalation, and RFC 8693 act
 * chains whose every actor must itself be allowed (the result is the
 * intersection). Every step leaves a reason; `pam-agent explain` prints
 * them with pol_explain.
 */
#include "config.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "policy.h"

/* One identity whose rule must allow the request: the subject or an actor. */
struct party {
	char *id;	    /* owned */
	char role[32];	    /* "agent", "actor 1", … */
	const struct pol_agent *rule;
};

struct dctx {
	const struct pol_config *cfg;
	const struct pol_request *req;
	struct pol_decision *d;
	const struct pol_service *svc;
	bool ok;  /* no rule has said no so far */
	bool oom;
};

/* Appends one reason to the decision; returns it (NULL when out of memory). */
static const char *vreason(struct dctx *x, const char *fmt, va_list ap) PA_PRINTF(2, 0);

static const char *vreason(struct dctx *x, const char *fmt, va_list ap)
{
	struct pol_decision *d = x->d;
	char *msg = NULL;
	char **grown;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (msg == NULL) {
		x->oom = true;
		return NULL;
	}
	grown = realloc(d->reasons, (d->n_reasons + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(msg);
		x->oom = true;
		return NULL;
	}
	d->reasons = grown;
	d->reasons[d->n_reasons++] = msg;
	return msg;
}

/* Appends one reason that says how the request stands (not a refusal). */
static void PA_PRINTF(2, 3) reason(struct dctx *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vreason(x, fmt, ap);
	va_end(ap);
}

/*
 * Appends a reason that refuses the request. The first refusal is the
 * decision's decisive reason (d->denial), whatever informational reasons
 * follow it ("escalate session: inherits nothing" after a stale token, say):
 * the log's main reason and `pam-agent explain` name the one that denied.
 */
static void PA_PRINTF(2, 3) refuse(struct dctx *x, const char *fmt, ...)
{
	const char *msg;
	va_list ap;

	va_start(ap, fmt);
	msg = vreason(x, fmt, ap);
	va_end(ap);
	x->ok = false;
	if (x->d->denial == NULL)
		x->d->denial = msg;
}

/* An escaped, capped rendering of untrusted text (or "(none)"). */
static const char *esc(const char *s, char buf[PA_ESCAPE_MAX])
{
	if (s == NULL || *s == '\0')
		return "(none)";
	return pa_escape(s, strlen(s), buf, PA_ESCAPE_MAX);
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

bool pol_grant_equal(const struct pol_grant *a, const struct pol_grant *b)
{
	return same_str(a->name, b->name) && a->cls == b->cls && a->source == b->source &&
	       same_str(a->audience, b->audience) && same_str(a->scope, b->scope) &&
	       same_str(a->command, b->command) && same_str(a->revoke, b->revoke) &&
	       same_str(a->path, b->path) && a->ttl == b->ttl;
}

void pol_decision_clear(struct pol_decision *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n_grants; i++) {
		free(d->grants[i].name);
		free(d->grants[i].audience);
		free(d->grants[i].scope);
		free(d->grants[i].command);
		free(d->grants[i].revoke);
		free(d->grants[i].path);
	}
	free(d->grants);
	for (i = 0; i < d->n_reasons; i++)
		free(d->reasons[i]);
	free(d->reasons);
	free(d->rule);
	free(d->user);
	free(d->run_as);
	free(d->task_exceeded);
	memset(d, 0, sizeof(*d));
}

/* Copies g (without its location) into *out. Returns 0 or -1. */
static int grant_copy(const struct pol_grant *g, struct pol_grant *out)
{
	memset(out, 0, sizeof(*out));
	out->cls = g->cls;
	out->source = g->source;
	out->ttl = g->ttl;
	out->name = strdup(g->name);
	out->audience = g->audience ? strdup(g->audience) : NULL;
	out->scope = g->scope ? strdup(g->scope) : NULL;
	out->command = g->command ? strdup(g->command) : NULL;
	out->revoke = g->revoke ? strdup(g->revoke) : NULL;
	out->path = g->path ? strdup(g->path) : NULL;
	if (out->name == NULL || (g->audience && !out->audience) || (g->scope && !out->scope) ||
	    (g->command && !out->command) || (g->revoke && !out->revoke) ||
	    (g->path && !out->path))
		return -1;
	return 0;
}

/* ---- act chain ---------------------------------------------------------------- */

/*
 * The actors of the RFC 8693 act chain of id, outermost (current actor)
 * first, into parties[1..]. An actor is named by its sub when that is a
 * SPIFFE ID, else as ISSUER#SUB with its own iss (or the token's).
 * Returns the number of actors, or -1 with why when the chain is malformed
 * (a SPIFFE actor that is not a canonical SPIFFE ID included) or deeper
 * than POL_DELEGATION_MAX, -2 when out of memory.
 */
static long parse_act(const struct id_identity *id, struct party *parties, char *why,
		      size_t whylen)
{
	char perr[256];
	const json_t *act = id->act;
	long n = 0;

	while (act != NULL && !json_is_null(act)) {
		const json_t *sub, *iss;
		const char *s, *issuer;
		char *name = NULL;

		if (n >= POL_DELEGATION_MAX) {
			snprintf(why, whylen, "the act chain is deeper than pam_agent ever accepts");
			return -1;
		}
		if (!json_is_object(act)) {
			snprintf(why, whylen, "an act claim is not a JSON object");
			return -1;
		}
		sub = json_object_get(act, "sub");
		if (!json_is_string(sub) || json_string_length(sub) == 0 ||
		    strlen(json_string_value(sub)) != json_string_length(sub)) {
			snprintf(why, whylen, "an actor in the act chain has no usable sub");
			return -1;
		}
		s = json_string_value(sub);
		if (strncmp(s, "spiffe://", 9) == 0) {
			/*
			 * Rules and deny rules compare ids byte for byte, so an
			 * actor must be written the one way a SPIFFE ID can be:
			 * "…/orch//evil", "…/orch/./evil" or "…/orch/evil/."
			 * would otherwise escape [deny …/orch/evil] and still
			 * match an [agent …/orch/ *] rule. The verifier checks the
			 * subject the same way; act is only read here.
			 */
			if (id_spiffe_id_parse(s, NULL, 0, perr, sizeof(perr)) != 0) {
				char shown[PA_ESCAPE_MAX];

				snprintf(why, whylen, "actor %ld %s is not a canonical SPIFFE ID (%s)",
					 n + 1, pa_escape(s, strlen(s), shown, sizeof(shown)), perr);
				return -1;
			}
			name = strdup(s);
		} else {
			iss = json_object_get(act, "iss");
			issuer = json_is_string(iss) ? json_string_value(iss) : id->issuer;
			if (issuer == NULL || *issuer == '\0' ||
			    (json_is_string(iss) && strlen(issuer) != json_string_length(iss))) {
				snprintf(why, whylen,
					 "an actor in the act chain is neither a SPIFFE ID nor has an issuer");
				return -1;
			}
			/* ISSUER#SUB must split one way only: no '#' in the issuer */
			if (strchr(issuer, '#') != NULL || !id_subject_printable(s)) {
				snprintf(why, whylen, "an OIDC actor in the act chain has an issuer "
					 "with '#' or a subject with control characters");
				return -1;
			}
			if (asprintf(&name, "%s#%s", issuer, s) < 0)
				name = NULL;
		}
		if (name == NULL) {
			snprintf(why, whylen, "out of memory");
			return -2;
		}
		n++;
		parties[n].id = name;
		snprintf(parties[n].role, sizeof(parties[n].role), "actor %u", (unsigned)n);
		act = json_object_get(act, "act");
	}
	return n;
}

/* ---- per-party checks ---------------------------------------------------------- */

/* Whether rhost matches the rule's rhosts ("@local" = no remote host). */
static bool rhost_ok(const struct pol_agent *a, const char *rhost)
{
	size_t i;
	bool local = rhost == NULL || *rhost == '\0';

	for (i = 0; i < a->rhosts.n; i++) {
		const char *r = a->rhosts.v[i];

		if (strcmp(r, "@local") == 0) {
			if (local)
				return true;
		} else if (!local && strcasecmp(r, rhost) == 0) {
			return true;
		}
	}
	return false;
}

/* Whether now (UTC) falls in one of the rule's windows (none: always). */
static bool hours_ok(const struct pol_agent *a, int64_t now, char *when, size_t whenlen)
{
	static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
	time_t t = (time_t)now;
	struct tm tm;
	unsigned day, minute;
	size_t i;

	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(when, whenlen, "an unrepresentable time");
		return a->n_hours == 0;
	}
	day = (unsigned)(tm.tm_wday + 6) % 7;
	minute = (unsigned)(tm.tm_hour * 60 + tm.tm_min);
	snprintf(when, whenlen, "%s %02d:%02d UTC", days[day], tm.tm_hour, tm.tm_min);
	if (a->n_hours == 0)
		return true;
	for (i = 0; i < a->n_hours; i++)
		if ((a->hours[i].days & (1u << day)) && minute >= a->hours[i].start &&
		    minute < a->hours[i].end)
			return true;
	return false;
}

/* Whether rule a requires anything of the attested runtime. */
static bool wants_runtime(const struct pol_agent *a)
{
	return a->runtime_unit != NULL || a->runtime_exe != NULL || a->has_runtime_uid ||
	       a->runtime_exe_sha256.n > 0 || a->runtime_parent_sha256.n > 0;
}

/* The executable requirements of rule a (path, content, deleted, mutable). */
static void check_runtime_exe(struct dctx *x, const struct pol_agent *a,
			      const struct pol_runtime *rt)
{
	const char *who = rt->subject != NULL ? rt->subject : "caller";
	char e1[PA_ESCAPE_MAX];

	if (a->runtime_exe == NULL && a->runtime_exe_sha256.n == 0)
		return;
	if (rt->exe_deleted && !a->runtime_allow_deleted)
		refuse(x, "the %s's executable %s was deleted or replaced; [agent %s] does not "
		       "set runtime.allow_deleted_exe", who, esc(rt->exe, e1), a->pattern);
	if (rt->exe_mutable != NULL)
		refuse(x, "the %s's executable %s can change before it runs (%s); [agent %s] "
		       "requires runtime properties", who, esc(rt->exe, e1), rt->exe_mutable,
		       a->pattern);
	if (a->runtime_exe != NULL && (rt->exe == NULL || strcmp(rt->exe, a->runtime_exe) != 0))
		refuse(x, "the %s runs %s; [agent %s] requires runtime.exe %s", who,
		       esc(rt->exe, e1), a->pattern, a->runtime_exe);
	if (a->runtime_exe_sha256.n > 0 &&
	    (rt->exe_sha256 == NULL || !pol_list_has(&a->runtime_exe_sha256, rt->exe_sha256)))
		refuse(x, "the %s's executable %s has SHA-256 %s, not one of the "
		       "runtime.exe_sha256 of [agent %s]", who, esc(rt->exe, e1),
		       rt->exe_sha256 != NULL ? rt->exe_sha256 : "(unknown)", a->pattern);
}

/* The runtime requirements of rule a against what attestation found. */
static void check_runtime(struct dctx *x, const struct pol_agent *a)
{
	const struct pol_runtime *rt = x->req->runtime;
	bool clean = x->d->denial == NULL;
	char e1[PA_ESCAPE_MAX];

	if (!wants_runtime(a))
		return;
	if (rt == NULL || rt->absent != NULL) {
		refuse(x, "[agent %s] requires runtime properties; %s", a->pattern,
		       rt != NULL ? rt->absent : "the caller was not attested");
		return;
	}
	if (a->runtime_unit != NULL &&
	    (rt->unit == NULL || fnmatch(a->runtime_unit, rt->unit, 0) != 0))
		refuse(x, "the caller runs in unit %s; [agent %s] requires runtime.unit %s",
		       rt->unit != NULL ? esc(rt->unit, e1) : "(none)", a->pattern,
		       a->runtime_unit);
	check_runtime_exe(x, a, rt);
	if (a->runtime_parent_sha256.n > 0 &&
	    (rt->parent_exe_sha256 == NULL ||
	     !pol_list_has(&a->runtime_parent_sha256, rt->parent_exe_sha256)))
		refuse(x, "the caller's parent executable has SHA-256 %s, not one of the "
		       "runtime.parent_exe_sha256 of [agent %s]",
		       rt->parent_exe_sha256 != NULL ? rt->parent_exe_sha256 : "(unknown)",
		       a->pattern);
	if (a->has_runtime_uid && (!rt->has_uid || rt->uid != a->runtime_uid)) {
		if (rt->has_uid)
			refuse(x, "the caller runs as uid %lu; [agent %s] requires runtime.uid %lu",
			       (unsigned long)rt->uid, a->pattern, (unsigned long)a->runtime_uid);
		else
			refuse(x, "the caller's uid is unknown; [agent %s] requires runtime.uid %lu",
			       a->pattern, (unsigned long)a->runtime_uid);
	}
	if (clean && x->d->denial == NULL)
		reason(x, "the %s matches the runtime.* of [agent %s]",
		       rt->subject != NULL ? rt->subject : "caller", a->pattern);
}

/*
 * Whether req asks to run the session as another user than the one the
 * agent logs in as (sudo's run-as user).
 */
static bool is_run_as(const struct pol_request *req)
{
	return req->run_as != NULL && (req->user == NULL || strcmp(req->run_as, req->user) != 0);
}

/* Whether the run_as of rule a lists SERVICE:USER for this service and user. */
static bool run_as_ok(const struct pol_agent *a, const char *service, const char *user)
{
	size_t i, slen;

	if (service == NULL || user == NULL)
		return false;
	slen = strlen(service);
	for (i = 0; i < a->run_as.n; i++) {
		const char *w = a->run_as.v[i];

		if (strncmp(w, service, slen) == 0 && w[slen] == ':' && strcmp(w + slen + 1, user) == 0)
			return true;
	}
	return false;
}

/*
 * Whether id is printable ASCII without blanks, as every SPIFFE ID and
 * ISSUER#SUB is (the identity engine checks the exact syntax).
 */
static bool well_formed(const char *id)
{
	for (; *id; id++)
		if ((unsigned char)*id <= 0x20 || (unsigned char)*id >= 0x7f)
			return false;
	return true;
}

/*
 * Checks one party: a well-formed id, no deny rule, an agent rule, and every condition of
 * that rule for this request. Sets p->rule when a rule matched.
 */
static void check_party(struct dctx *x, struct party *p)
{
	const struct pol_request *req = x->req;
	const struct pol_deny *deny;
	const struct pol_agent *a;
	char e1[PA_ESCAPE_MAX], e2[PA_ESCAPE_MAX], when[40];

	esc(p->id, e1);
	if (!well_formed(p->id)) {
		refuse(x, "%s %s has bytes no agent id contains", p->role, e1);
		return;
	}
	deny = pol_config_match_deny(x->cfg, p->id);
	if (deny != NULL) {
		refuse(x, "%s %s matches [deny %s] (%s:%u): %s", p->role, e1, deny->pattern,
		       deny->where.file, deny->where.line, deny->reason);
		return;
	}
	a = pol_config_match_agent(x->cfg, p->id);
	if (a == NULL) {
		refuse(x, "no [agent] rule matches %s %s", p->role, e1);
		return;
	}
	p->rule = a;
	reason(x, "%s %s matches [agent %s] (%s:%u)", p->role, e1, a->pattern, a->where.file,
	       a->where.line);
	if (!pol_list_has(&a->services, req->service))
		refuse(x, "service %s is not in the services of [agent %s]",
		       esc(req->service, e2), a->pattern);
	if (x->svc != NULL && x->svc->cls > a->max_class)
		refuse(x, "service %s needs class %s, above max_class %s of [agent %s]",
		       x->svc->name, pol_class_name(x->svc->cls), pol_class_name(a->max_class),
		       a->pattern);
	if (!pol_user_allowed(x->cfg, a, req->user))
		refuse(x, "user %s is not in the users of [agent %s]", esc(req->user, e2),
		       a->pattern);
	/*
	 * A run-as request (sudo -u TARGET): the agent logged in as user (checked
	 * above); running the session as TARGET is a right of its own, per
	 * service, that users never implies.
	 */
	if (is_run_as(req)) {
		char e3[PA_ESCAPE_MAX];

		esc(req->run_as, e2);
		esc(req->service, e3);
		if (run_as_ok(a, req->service, req->run_as)) {
			reason(x, "%s %s may run as %s through %s (run_as of [agent %s])", p->role,
			       e1, e2, e3, a->pattern);
		} else {
			bool first = x->d->denial == NULL;

			refuse(x, "%s %s may not run as %s through %s: no run_as for it in [agent %s]",
			       p->role, e1, e2, e3, a->pattern);
			if (first)
				x->d->run_as_denied = true;
		}
	}
	if (a->has_rhosts && !rhost_ok(a, req->rhost))
		refuse(x, "remote host %s is not in the rhosts of [agent %s]",
		       req->rhost && *req->rhost ? esc(req->rhost, e2) : "(local)", a->pattern);
	if (!hours_ok(a, req->now, when, sizeof(when)))
		refuse(x, "%s is outside the hours of [agent %s]", when, a->pattern);
	if (a->require_pop && !req->id->pop)
		refuse(x, "[agent %s] requires proof of possession; the identity was presented as "
		       "a bearer token", a->pattern);
	if (a->require_task && (req->id->task == NULL || req->id->task[0] == '\0'))
		refuse(x, "[agent %s] requires a task claim; the token has none", a->pattern);
	check_runtime(x, a);
}

/* ---- token-wide checks ------------------------------------------------------------ */

/* The highest class the scope claim names, POL_CLASS_NONE when it names none. */
static enum pol_class scope_ceiling(const char *scope)
{
	enum pol_class best = POL_CLASS_NONE, c;
	const char *p = scope;

	while (*p) {
		size_t len;
		char word[16];

		while (*p == ' ')
			p++;
		len = strcspn(p, " ");
		if (len > 0 && len < sizeof(word)) {
			memcpy(word, p, len);
			word[len] = '\0';
			if (pol_class_parse(word, &c) == 0 && c > best)
				best = c;
		}
		p += len;
	}
	return best;
}

/* The token's scope ceiling against the service's class. */
static void check_scope(struct dctx *x)
{
	const char *scope = x->req->id->scope;
	enum pol_class ceiling;

	if (scope == NULL)
		return;
	ceiling = scope_ceiling(scope);
	if (ceiling == POL_CLASS_NONE) {
		refuse(x, "the token scope names none of read, write, escalate: nothing is allowed");
	} else if (x->svc != NULL && x->svc->cls > ceiling) {
		refuse(x, "service %s needs class %s; the token scope allows up to %s",
		       x->svc->name, pol_class_name(x->svc->cls), pol_class_name(ceiling));
	} else {
		reason(x, "the token scope allows up to %s", pol_class_name(ceiling));
	}
}

/* An escalate session needs a fresh token (iat within escalate_max_age). */
static void check_escalate(struct dctx *x)
{
	const struct id_identity *id = x->req->id;
	int64_t max = x->cfg->global.escalate_max_age, age;

	if (x->svc == NULL || x->svc->cls != POL_CLASS_ESCALATE)
		return;
	x->d->escalate = true;
	if (id->iat <= 0) {
		refuse(x, "escalate needs a token with an iat claim; this one has none");
	} else {
		age = x->req->now > id->iat ? x->req->now - id->iat : 0;
		if (age > max) {
			refuse(x, "escalate needs a token issued at most %llds ago; this one is %llds old",
			       (long long)max, (long long)age);
		} else {
			reason(x, "escalate: the token is %llds old (at most %llds)", (long long)age,
			       (long long)max);
		}
	}
	reason(x, "escalate session: inherits nothing");
}

/* The grants every party's rule lists, of class <= the session's class. */
static void pick_grants(struct dctx *x, struct party *parties, size_t n)
{
	const struct pol_agent *subject = parties[0].rule;
	struct pol_decision *d = x->d;
	size_t i, k;

	if (subject == NULL) /* pol_decide never allows without a rule */
		return;
	d->grants = calloc(subject->grants.n ? subject->grants.n : 1, sizeof(*d->grants));
	if (d->grants == NULL) {
		x->oom = true;
		return;
	}
	for (i = 0; i < subject->grants.n; i++) {
		const char *name = subject->grants.v[i];
		const struct pol_grant *g = pol_config_find_grant(x->cfg, name);
		bool all = true;

		for (k = 1; k < n && all; k++) {
			if (!pol_list_has(&parties[k].rule->grants, name)) {
				reason(x, "grant %s not issued: [agent %s] of %s does not grant it",
				       name, parties[k].rule->pattern, parties[k].role);
				all = false;
			}
		}
		if (!all)
			continue;
		if (g == NULL) { /* a loaded config never has this */
			reason(x, "grant %s not issued: not defined", name);
			continue;
		}
		if (g->cls > x->svc->cls) {
			reason(x, "grant %s not issued: class %s is above the session class %s", name,
			       pol_class_name(g->cls), pol_class_name(x->svc->cls));
			continue;
		}
		if (grant_copy(g, &d->grants[d->n_grants]) != 0) {
			d->n_grants++; /* so that clear frees the partial copy */
			x->oom = true;
			return;
		}
		d->n_grants++;
	}
}

/*
 * require_pop of the presented identity's [trust_domain] or [issuer]
 * (docs/proof-of-possession.md): a bearer token of it is refused.
 */
static void check_source_pop(struct dctx *x)
{
	const struct id_identity *id = x->req->id;
	const char *what = NULL, *name = NULL;
	size_t i;

	if (id->pop)
		return;
	for (i = 0; id->kind == ID_KIND_SPIFFE && id->trust_domain != NULL &&
		    i < x->cfg->n_domains; i++)
		if (x->cfg->domains[i].require_pop &&
		    strcmp(x->cfg->domains[i].name, id->trust_domain) == 0) {
			what = "trust_domain";
			name = x->cfg->domains[i].name;
		}
	for (i = 0; id->kind == ID_KIND_OIDC && id->issuer != NULL && i < x->cfg->n_issuers; i++)
		if (x->cfg->issuers[i].require_pop && strcmp(x->cfg->issuers[i].url, id->issuer) == 0) {
			what = "issuer";
			name = x->cfg->issuers[i].url;
		}
	if (what != NULL)
		refuse(x, "[%s %s] requires proof of possession; the identity was presented as a "
		       "bearer token", what, name);
}

/*
 * The act chain of the request (RFC 8693): parsed into parties[1..], its
 * depth checked against max_delegation_depth. Returns how many parties
 * there are, the agent included (a refused chain leaves only the agent).
 */
static size_t decide_actors(struct dctx *x, struct party *parties)
{
	char why[PA_ESCAPE_MAX + 320] = "";
	long actors = parse_act(x->req->id, parties, why, sizeof(why));
	int64_t max = x->cfg->global.max_delegation_depth;
	size_t i;

	if (actors == -2)
		x->oom = true;
	if (actors < 0) {
		refuse(x, "the act chain is refused: %s", why);
		for (i = 1; i <= POL_DELEGATION_MAX; i++) {
			free(parties[i].id);
			parties[i].id = NULL;
		}
		actors = 0;
	} else if (actors > max) {
		refuse(x, "act chain of depth %ld exceeds max_delegation_depth %lld", actors,
		       (long long)max);
	} else if (actors > 0) {
		reason(x, "act chain of depth %ld (max_delegation_depth %lld): every actor must "
		       "be allowed, the result is the intersection", actors, (long long)max);
	}
	x->d->depth = (size_t)actors;
	return 1 + (size_t)actors;
}

void pol_decision_drop_grants(struct pol_decision *out)
{
	size_t i;

	for (i = 0; i < out->n_grants; i++) {
		free(out->grants[i].name);
		free(out->grants[i].audience);
		free(out->grants[i].scope);
		free(out->grants[i].command);
		free(out->grants[i].revoke);
		free(out->grants[i].path);
	}
	free(out->grants);
	out->grants = NULL;
	out->n_grants = 0;
	out->max_session = 0;
}

int pol_decide(const struct pol_config *cfg, const struct pol_request *req,
	       struct pol_decision *out)
{
	struct party parties[POL_DELEGATION_MAX + 1];
	struct dctx x;
	char e1[PA_ESCAPE_MAX];
	size_t n = 1, i;

	memset(out, 0, sizeof(*out));
	memset(parties, 0, sizeof(parties));
	memset(&x, 0, sizeof(x));
	x.cfg = cfg;
	x.req = req;
	x.d = out;
	x.ok = true;
	/* who was decided for: the session phase compares it with PAM_USER then */
	if ((req->user != NULL && (out->user = strdup(req->user)) == NULL) ||
	    (is_run_as(req) && (out->run_as = strdup(req->run_as)) == NULL)) {
		x.oom = true;
		goto out;
	}
	if (cfg == NULL) {
		refuse(&x, "the configuration was refused or could not be read: everything is denied");
		goto out;
	}
	if (req->id == NULL || req->id->agent_id == NULL || req->id->agent_id[0] == '\0') {
		refuse(&x, "no verified agent identity");
		goto out;
	}
	parties[0].id = strdup(req->id->agent_id);
	if (parties[0].id == NULL) {
		x.oom = true;
		goto out;
	}
	snprintf(parties[0].role, sizeof(parties[0].role), "agent");

	x.svc = pol_config_find_service(cfg, req->service);
	if (x.svc == NULL) {
		refuse(&x, "service %s has no [service] section", esc(req->service, e1));
	} else {
		reason(&x, "service %s has class %s", x.svc->name, pol_class_name(x.svc->cls));
		out->cls = x.svc->cls;
	}

	n = decide_actors(&x, parties);
	for (i = 0; i < n; i++)
		check_party(&x, &parties[i]);
	check_scope(&x);
	check_escalate(&x);
	check_source_pop(&x);
	if (parties[0].rule != NULL) {
		out->rule = strdup(parties[0].rule->pattern);
		if (out->rule == NULL)
			x.oom = true;
	}
	if (!x.ok || x.oom)
		goto out;
	/* allowed: the intersection over every party (each has its rule) */
	out->max_session = INT64_MAX;
	for (i = 0; i < n; i++) {
		if (parties[i].rule == NULL)
			goto out; /* cannot happen when x.ok; never allow without a rule */
		if (parties[i].rule->max_session < out->max_session)
			out->max_session = parties[i].rule->max_session;
	}
	pick_grants(&x, parties, n);
	if (x.oom)
		goto out;
	out->allow = true;
out:
	for (i = 0; i < PA_ARRAY_SIZE(parties); i++)
		free(parties[i].id);
	if (!out->allow && out->denial == NULL && out->n_reasons > 0)
		out->denial = out->reasons[out->n_reasons - 1];
	if (out->allow)
		out->denial = NULL;
	if (!out->allow)
		pol_decision_drop_grants(out);
	if (x.oom) {
		out->allow = false;
		return -1;
	}
	return 0;
}

/* ---- explain ------------------------------------------------------------------------ */

char *pol_explain(const struct pol_request *req, const struct pol_decision *d)
{
	char e[PA_ESCAPE_MAX], when[64] = "-";
	char *text = NULL;
	size_t len = 0, i;
	struct tm tm;
	time_t t = (time_t)req->now;
	FILE *f;

	f = open_memstream(&text, &len);
	if (f == NULL)
		return NULL;
	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(f, "decision:    %s\n", d->allow ? "allow" : "deny");
	fprintf(f, "agent:       %s\n",
		esc(req->id != NULL ? req->id->agent_id : NULL, e));
	if (req->id != NULL && req->id->task != NULL)
		fprintf(f, "task:        %s\n", esc(req->id->task, e));
	fprintf(f, "service:     %s\n", esc(req->service, e));
	fprintf(f, "user:        %s\n", esc(req->user, e));
	if (is_run_as(req))
		fprintf(f, "run as:      %s\n", esc(req->run_as, e));
	fprintf(f, "rhost:       %s\n", req->rhost && *req->rhost ? esc(req->rhost, e) : "(local)");
	fprintf(f, "time:        %s (%lld)\n", when, (long long)req->now);
	fprintf(f, "rule:        %s\n", d->rule ? d->rule : "(none)");
	fprintf(f, "class:       %s\n", pol_class_name(d->cls));
	if (d->allow)
		fprintf(f, "max_session: %llds\n", (long long)d->max_session);
	fprintf(f, "delegation:  %zu\n", d->depth);
	fprintf(f, "grants:     ");
	for (i = 0; i < d->n_grants; i++)
		fprintf(f, " %s", d->grants[i].name);
	fprintf(f, "%s\n", d->n_grants == 0 ? " (none)" : "");
	fprintf(f, "reasons:\n");
	for (i = 0; i < d->n_reasons; i++)
		fprintf(f, "  - %s\n", d->reasons[i]);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
