/*
 * auth.c - the auth phase: get the token, verify it against the trust
 * bundles of the configuration, ask the policy engine whether this
 * identity may be this user on this service (an application that never
 * calls pam_acct_mgmt - a screen locker, vlock, a VPN or web front end -
 * must not let any valid token in as anyone), only then record the jti of
 * a single-use token, and keep the identity on the handle for the later
 * phases. The account phase decides again, with the configuration as it is
 * then.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <security/pam_ext.h>

#include "audit.h"
#include "module.h"

/* Records a failed authentication: one log line, one audit event. */
static int auth_failed(struct pa_call *call, const struct pol_config *cfg,
		       const char *agent, const char *reason, int pamret)
{
	struct aud_event *ev = aud_event_new(AUD_AUTHENTICATE, AUD_RESULT_FAILED, NULL);

	pa_log_failure(call, agent, reason);
	pa_tell(call, reason);
	if (ev != NULL) {
		aud_event_set_agent(ev, agent);
		aud_event_add_reason(ev, reason);
	}
	pa_audit(call, cfg, ev);
	return pamret;
}

/*
 * Remembers on the handle that pam_agent's authentication failed, with the
 * first failure's reason (never a secret: the reasons below name no token),
 * so that setcred and open_session refuse instead of taking the handle for
 * a session-only caller's (pa_no_identity).
 */
static void note_failure(struct pa_context *ctx, const char *reason)
{
	size_t n;

	if (ctx->auth_failed)
		return;
	if (reason == NULL || reason[0] == '\0')
		reason = "denied";
	/* cut to fit: the log line of the auth phase has it whole */
	n = strnlen(reason, sizeof(ctx->auth_failure) - 1);
	memcpy(ctx->auth_failure, reason, n);
	ctx->auth_failure[n] = '\0';
	ctx->auth_failed = true;
}

/*
 * Single use: records the token's (issuer, jti) in the host-wide cache,
 * counted against the agent's quota. Only called after the policy allowed
 * the token, so that an agent the policy refuses never takes a place.
 * Returns 0 when this is its first use, -1 with a reason otherwise.
 */
static int check_replay(const struct pol_config *cfg, const struct id_identity *id,
			int64_t now, char *err, size_t errlen)
{
	char issuer[512];
	/* one agent holds at most replay_agent_quota percent of the entries */
	size_t max = (size_t)cfg->global.replay_max_entries;
	uint64_t quota = (uint64_t)max * (uint64_t)cfg->global.replay_agent_quota / 100;
	int r;

	if (id->jti == NULL || id->jti[0] == '\0')
		return pa_err(err, errlen, "single_use is on and the token has no jti claim");
	if (id->issuer != NULL)
		snprintf(issuer, sizeof(issuer), "%s", id->issuer);
	else
		snprintf(issuer, sizeof(issuer), "spiffe://%s", id->trust_domain);
	r = id_replay_check_agent(cfg->global.replay_dir, issuer, id->jti, id->agent_id,
				  id->exp, now, max, quota > 0 ? (size_t)quota : 1, err, errlen);
	if (r == 1) {
		char shown[PA_ESCAPE_MAX];

		pa_escape(id->jti, strlen(id->jti), shown, sizeof(shown));
		return pa_err(err, errlen, "token replayed: jti \"%s\" was already used", shown);
	}
	return r == 0 ? 0 : -1;
}

/*
 * The policy decision for this identity, service, user and host, made in
 * the auth phase with the same engine (pol_decide) as the account phase.
 * Returns 0 when it allows; otherwise logs and audits the denial (every
 * reason) and returns the PAM code to return.
 */
static int auth_decide(struct pa_call *call, const struct pol_config *cfg,
		       const struct id_identity *id, const char *user, int64_t now,
		       char *why, size_t whylen)
{
	struct pol_decision d;
	struct pol_request req;
	struct aud_event *ev;
	char reasons[1024], line[1400];
	size_t i, o = 0;

	pa_request_fill(call, cfg, id, user, now, &req);
	if (pol_decide(cfg, &req, &d) != 0) {
		pol_decision_clear(&d);
		snprintf(why, whylen, "out of memory while deciding");
		return auth_failed(call, cfg, id->agent_id, "out of memory while deciding",
				   PAM_BUF_ERR);
	}
	if (d.allow) {
		pol_decision_clear(&d);
		return 0;
	}
	reasons[0] = '\0';
	for (i = 0; i < d.n_reasons && o + 3 < sizeof(reasons); i++) {
		int n = snprintf(reasons + o, sizeof(reasons) - o, "%s%s", i > 0 ? "; " : "",
				 d.reasons[i]);

		if (n < 0)
			break;
		o += (size_t)n;
	}
	snprintf(line, sizeof(line), "not allowed by the policy: %s (all reasons: %s)",
		 d.denial != NULL ? d.denial : "denied", reasons);
	pa_log_failure(call, id->agent_id, line);
	snprintf(line, sizeof(line), "not allowed by the policy: %s",
		 d.denial != NULL ? d.denial : "denied");
	pa_tell(call, line);
	snprintf(why, whylen, "not allowed by the policy: %s",
		 d.denial != NULL ? d.denial : "denied");
	ev = aud_event_new(AUD_AUTHENTICATE, AUD_RESULT_FAILED, NULL);
	if (ev != NULL) {
		aud_event_set_identity(ev, id);
		aud_event_set_decision(ev, &d);
	}
	pa_audit(call, cfg, ev);
	pol_decision_clear(&d);
	return PAM_AUTH_ERR;
}

/*
 * The token of this call, verified against the trust bundles of cfg:
 * PAM_SUCCESS with *id, else the refusal's code, logged and audited, with
 * its reason in reason and *why pointing to what note_failure keeps.
 */
static int verify_presented(struct pa_call *call, const struct pol_config *cfg, const char *user,
			    int64_t now, struct id_identity **id, char *reason, size_t reasonlen,
			    const char **why)
{
	struct id_verifier verifier;
	char *token = NULL, err[512];
	bool maybe_cut = false;
	int ret = PAM_AUTH_ERR, proven = 0;

	memset(&verifier, 0, sizeof(verifier));
	*why = reason;
	if (pol_config_to_verifier(cfg, &verifier, err, sizeof(err)) != 0 ||
	    id_verifier_load(&verifier, err, sizeof(err)) != 0) {
		snprintf(reason, reasonlen, "trust bundles unusable: %s", err);
		ret = auth_failed(call, cfg, NULL, reason, PAM_AUTH_ERR);
		goto out;
	}
	if (pa_token_get(call, user, &token, &maybe_cut, err, sizeof(err)) != 0) {
		snprintf(reason, reasonlen, "%s", err);
		ret = auth_failed(call, cfg, NULL, reason, PAM_AUTH_ERR);
		goto out;
	}
	if (strncmp(token, ID_X509_PREFIX, strlen(ID_X509_PREFIX)) == 0) {
		if (pa_pop_x509(call, cfg, &verifier, token + strlen(ID_X509_PREFIX), now, id, err,
				sizeof(err)) != 0) {
			snprintf(reason, reasonlen, "X.509-SVID refused: %s", err);
			ret = auth_failed(call, cfg, NULL, reason, PAM_AUTH_ERR);
			goto out;
		}
	} else if (id_verify_token(&verifier, token, strlen(token), now, id, err, sizeof(err)) != 0) {
		if (maybe_cut)
			snprintf(reason, reasonlen,
				 "token truncated by the PAM conversation (%zu bytes, the limit of "
				 "many PAM clients): launch the agent with agent-run, which has no such "
				 "limit, use a client that does not cut it, or a shorter token; "
				 "token_file= only for local callers such as sudo, never sshd "
				 "(verifier said: %s)",
				 strlen(token), err);
		else
			snprintf(reason, reasonlen, "token rejected: %s", err);
		if (maybe_cut)
			*why = "token truncated by the PAM conversation";
		ret = auth_failed(call, cfg, NULL, reason, PAM_AUTH_ERR);
		goto out;
	} else if ((proven = pa_pop_token(call, cfg, *id, err, sizeof(err))) < 0 ||
		   ((*id)->wit && !(*id)->pop)) {
		/* a WIT-SVID is never a bearer token (WIT-SVID §5, §7.1) */
		snprintf(reason, reasonlen, "proof of possession failed: %s",
			 proven < 0 ? err : "a WIT-SVID without proof of possession");
		ret = auth_failed(call, cfg, (*id)->agent_id, reason, PAM_AUTH_ERR);
		id_identity_free(*id);
		*id = NULL;
		goto out;
	}
	ret = PAM_SUCCESS;
out:
	pa_free_secret(token);
	id_verifier_clear(&verifier);
	return ret;
}

/*
 * The user the application gave (pam_get_user), or NULL in *user when it
 * gave none (PAM_USER unset or empty): then the agent logs in as its own
 * account (own_account), and nobody is prompted for a name.
 */
static int given_user(struct pa_call *call, const char **user)
{
	const void *item = NULL;
	int ret;

	*user = NULL;
	if (pam_get_item(call->pamh, PAM_USER, &item) == PAM_SUCCESS &&
	    (item == NULL || *(const char *)item == '\0'))
		return PAM_SUCCESS;
	ret = pam_get_user(call->pamh, user, NULL);
	if (ret == PAM_SUCCESS && *user == NULL)
		return PAM_USER_UNKNOWN;
	return ret;
}

/*
 * No user given: PAM_USER becomes the verified agent's own account
 * (docs/nss.md), when its [agent] rule has one that the name service
 * serves with that account's uid (libnss_agent; a real account of the
 * name is never taken for it). The decision that follows checks it
 * against the rule's users like any other user (users = self).
 */
static int own_account(struct pa_call *call, const struct pol_config *cfg,
		       const struct id_identity *id, const char **user, char *reason,
		       size_t reasonlen, const char **why)
{
	const struct pol_agent *a = pol_config_match_agent(cfg, id->agent_id);
	char name[POL_ACCOUNT_NAME_MAX + 1], err[256];
	const void *item = NULL;
	uid_t uid, found;

	*why = reason;
	if (a == NULL || pol_agent_account(cfg, a, name, &uid) != 0) {
		snprintf(reason, reasonlen, "no user given and agent %s has no account of its own "
			 "(docs/nss.md)", id->agent_id);
		return auth_failed(call, cfg, id->agent_id, reason, PAM_USER_UNKNOWN);
	}
	if (pol_user_uid(NULL, name, &found, err, sizeof(err)) != 0 || found != uid) {
		snprintf(reason, reasonlen, "no user given and the account %s of agent %s is not "
			 "served with uid %lu by the name service (pam-agent check)", name,
			 id->agent_id, (unsigned long)uid);
		return auth_failed(call, cfg, id->agent_id, reason, PAM_USER_UNKNOWN);
	}
	if (pam_set_item(call->pamh, PAM_USER, name) != PAM_SUCCESS ||
	    pam_get_item(call->pamh, PAM_USER, &item) != PAM_SUCCESS || item == NULL) {
		snprintf(reason, reasonlen, "cannot set PAM_USER to %s", name);
		return auth_failed(call, cfg, id->agent_id, reason, PAM_BUF_ERR);
	}
	*user = item;
	pa_log(call, LOG_INFO, "no user given: agent %s logs in as its own account %s (uid %lu)",
	       pa_escape(id->agent_id, strlen(id->agent_id), err, sizeof(err)), name,
	       (unsigned long)uid);
	return PAM_SUCCESS;
}

int pa_authenticate(struct pa_call *call)
{
	struct pol_config *cfg = NULL;
	struct id_identity *id = NULL;
	struct pa_context *ctx;
	struct aud_event *ev;
	const char *user = NULL;
	char err[512], reason[1024];
	const char *why = NULL; /* the failure's reason, for note_failure */
	int64_t now = (int64_t)time(NULL);
	int ret;

	ctx = pa_context_get(call);
	if (ctx == NULL)
		return PAM_BUF_ERR;
	/*
	 * A new authentication replaces whatever an earlier one left: a failed
	 * one leaves no identity, and the handle marked as failed (pa_no_identity),
	 * never as a handle pam_agent's authentication did not run on.
	 */
	id_identity_free(ctx->identity);
	ctx->identity = NULL;
	pol_decision_clear(&ctx->decision);
	ctx->have_decision = false;
	pa_handoff_forget(call->pamh, ctx, false);

	ret = given_user(call, &user);
	if (ret != PAM_SUCCESS) {
		pa_log_pam(call, LOG_NOTICE, ret, "cannot determine the user");
		note_failure(ctx, "cannot determine the user");
		return ret;
	}
	if (pa_config_load(call, &cfg) != 0) {
		why = "configuration refused";
		ret = auth_failed(call, NULL, NULL, why, PAM_AUTH_ERR);
		goto out;
	}
	ret = verify_presented(call, cfg, user != NULL ? user : "", now, &id, reason,
			       sizeof(reason), &why);
	if (ret == PAM_SUCCESS && user == NULL)
		ret = own_account(call, cfg, id, &user, reason, sizeof(reason), &why);
	if (ret != PAM_SUCCESS)
		goto out;
	/*
	 * The policy first: a token this identity may not use here neither
	 * authenticates nor takes a place in the replay cache. The replay
	 * check-and-record is one locked operation after an allowing decision.
	 */
	why = reason;
	ret = auth_decide(call, cfg, id, user, now, reason, sizeof(reason));
	if (ret != 0)
		goto out;
	/*
	 * an X.509-SVID has no jti, and a WIT-SVID's jti is not for replay
	 * protection (WIT-SVID, WIMSE): their fresh challenge is what cannot be
	 * replayed
	 */
	if (pol_single_use(cfg, id->kind == ID_KIND_OIDC ? id->issuer : NULL) &&
	    !(id->pop && (id->jti == NULL || id->wit)) &&
	    check_replay(cfg, id, now, err, sizeof(err)) != 0) {
		why = err;
		ret = auth_failed(call, cfg, id->agent_id, err, PAM_AUTH_ERR);
		goto out;
	}
	ev = aud_event_new(AUD_AUTHENTICATE, AUD_RESULT_OK, NULL);
	if (ev != NULL)
		aud_event_set_identity(ev, id);
	if (pa_audit(call, cfg, ev) != 0) {
		why = "audit event not written";
		ret = PAM_AUTH_ERR;
		goto out;
	}
	pa_log(call, LOG_INFO, "agent %s authenticated (%s, %s, kid %.16s, %s sha256 %.16s)",
	       pa_escape(id->agent_id, strlen(id->agent_id), reason, sizeof(reason)),
	       id->pop ? "proof of possession" : "bearer token", id_alg_name(id->alg),
	       id->kid != NULL ? id->kid : "-", id->jti == NULL && id->pop ? "certificate" : "token",
	       id->fingerprint);
	ctx->identity = id;
	id = NULL;
	/* a later successful authentication supersedes an earlier failure */
	ctx->auth_failed = false;
	ctx->auth_failure[0] = '\0';
	ret = PAM_SUCCESS;
out:
	if (ret != PAM_SUCCESS)
		note_failure(ctx, why);
	id_identity_free(id);
	pol_config_unref(cfg);
	return ret;
}
