/*
 * public.c - the six PAM entry points of pam_agent.so. Each parses its
 * options, calls into the engines, logs and maps the result to a PAM code.
 * Nothing else in the module is exported (see pam_agent.map).
 */
#include "config.h"

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#define PAM_SM_PASSWORD
#include <security/pam_modules.h>

#include "module.h"

#define PA_PUBLIC __attribute__((visibility("default")))

/* Verifies the agent's token; keeps the identity for the later phases. */
PA_PUBLIC int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
				  const char **argv)
{
	struct pa_call call;
	int ret = pa_call_begin(&call, pamh, "auth", flags, argc, argv);

	if (ret == PAM_SUCCESS)
		ret = pa_authenticate(&call);
	pa_call_end(&call);
	/* what the phase left on the stack and in vector registers */
	pa_scrub_stack(PA_SCRUB_MODULE);
	return ret;
}

/*
 * Credentials are placed and revoked by the session hooks (so this is safe
 * in either order with open_session, as sshd calls it first); here the
 * stack only learns whether this module authenticated the handle, after
 * an identity handed over from another process was restored.
 */
PA_PUBLIC int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc,
			     const char **argv)
{
	struct pa_call call;
	int ret = pa_call_begin(&call, pamh, "setcred", flags, argc, argv);

	/* refused options: the handle still never reaches the session */
	if (ret != PAM_SUCCESS && ((unsigned int)flags & PAM_DELETE_CRED) == 0)
		pa_handoff_drop(pamh);
	/* an identity from another process of the application comes first
	 * (sshd: authenticated in a child, setcred before open_session) */
	if (ret == PAM_SUCCESS && ((unsigned int)flags & PAM_DELETE_CRED) == 0)
		ret = pa_handoff_claim(&call);
	if (ret == PAM_SUCCESS) {
		const struct pa_context *ctx = pa_context_peek(pamh);
		unsigned int what = (unsigned int)flags & (PAM_ESTABLISH_CRED | PAM_DELETE_CRED |
							     PAM_REINITIALIZE_CRED | PAM_REFRESH_CRED);

		if (ctx != NULL && ctx->identity != NULL)
			ret = PAM_SUCCESS;
		/* establishing credentials after a failed pam_agent
		 * authentication is refused like open_session (pa_no_identity);
		 * Linux-PAM passes no credential flag as PAM_ESTABLISH_CRED */
		else if (what == 0 || (what & (PAM_ESTABLISH_CRED | PAM_REINITIALIZE_CRED)) != 0)
			ret = pa_no_identity(&call, ctx);
		else
			ret = PAM_IGNORE;
	}
	pa_call_end(&call);
	return ret;
}

/* Decides this request now, for this identity, service, user and host. */
PA_PUBLIC int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc,
			       const char **argv)
{
	struct pa_call call;
	int ret = pa_call_begin(&call, pamh, "account", flags, argc, argv);

	if (ret == PAM_SUCCESS)
		ret = pa_account(&call);
	pa_call_end(&call);
	/* what the phase left on the stack and in vector registers */
	pa_scrub_stack(PA_SCRUB_MODULE);
	return ret;
}

/* Places the decision's credentials in the session keyring, all or nothing. */
PA_PUBLIC int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
				  const char **argv)
{
	struct pa_call call;
	int ret = pa_call_begin(&call, pamh, "session", flags, argc, argv);

	if (ret == PAM_SUCCESS)
		ret = pa_open_session(&call);
	else
		pa_handoff_drop(pamh); /* the handle never reaches the session */
	pa_call_end(&call);
	/* what the phase left on the stack and in vector registers */
	pa_scrub_stack(PA_SCRUB_MODULE);
	return ret;
}

/* Revokes every credential of the session, in the kernel and at the brokers. */
PA_PUBLIC int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
				   const char **argv)
{
	struct pa_call call;
	int ret = pa_call_begin(&call, pamh, "session", flags, argc, argv);

	if (ret == PAM_SUCCESS)
		ret = pa_close_session(&call);
	pa_call_end(&call);
	/* what the phase left on the stack and in vector registers */
	pa_scrub_stack(PA_SCRUB_MODULE);
	return ret;
}

/* Agent tokens come from the workload identity system, not from passwd. */
PA_PUBLIC int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc,
			       const char **argv)
{
	struct pa_call call;
	int ret = pa_call_begin(&call, pamh, "password", flags, argc, argv);

	if (ret == PAM_SUCCESS) {
		pa_debug(&call, "agent tokens cannot be changed through PAM; ignoring");
		ret = PAM_IGNORE;
	}
	pa_call_end(&call);
	return ret;
}
