/*
 * handoff_fx.h - what the PAM-stack tests of the identity hand-off
 * (docs/handoff.md) share: test_handoff (sshd's forked authentication and
 * the attacks on its handle) and test_handoff_edge (one process, the
 * handle lost, the record not written). Their services and policy, the
 * parent's handle, sshd's authenticating child, and looks into the
 * hand-off directory and the audit file. Include <cmocka.h> and
 * fixtures.h first.
 */
#ifndef PA_TEST_HANDOFF_FX_H
#define PA_TEST_HANDOFF_FX_H

#include <stddef.h>

#include <security/pam_appl.h>

#include "harness.h"

#define HX_BOT "spiffe://example.org/agents/bot"
#define HX_SERVICE "pa-handoff"
#define HX_OTHER_SERVICE "pa-handoff-other"
/* pam_permit after pam_agent, "optional" on its account and session lines */
#define HX_OPTIONAL_SERVICE "pa-handoff-optional"
/* the session line's options are refused (a typo in the service file) */
#define HX_BADARGS_SERVICE "pa-handoff-badargs"
#define HX_RHOST "192.0.2.7"

/* The services of the hand-off tests, for pa_harness_init (FX_MAIN). */
extern const struct pa_service hx_services[];

/* Group setup: fx_setup, the helper of this build and fx_exec_broker. */
int hx_setup(void **state);
/* Before each test: no state directory, audit file or revocations; the
 * policy with a grant ttl of 5m; the log reset. */
int hx_reset(void **state);
/* Writes DIR/policy.conf (HX_BOT may use every service above, with an
 * exec grant "lease" of this ttl). */
void hx_write_policy(const char *ttl);

/* One handle: the parent's (the monitor's in sshd). */
struct hx_txn {
	pam_handle_t *pamh;
	char *token;
	char handle[64]; /* PAM_AGENT_HANDOFF as the child sent it */
	char env[4096];	 /* every string the child sent, NUL-separated */
	size_t envlen;
};

/* pam_start on service with a fresh token of HX_BOT, PAM_RHOST (unless
 * NULL) and PAM_TTY as sshd sets them. */
void hx_txn_start(struct hx_txn *t, const char *service, const char *rhost);
void hx_txn_end(struct hx_txn *t);

/*
 * sshd's sshpam_thread: authenticate and account in a forked child on its
 * copy of the handle; on success it writes its PAM environment to the pipe
 * and _exit()s without pam_end. The parent reads it and keeps it in t.
 */
void hx_child_authenticates(struct hx_txn *t);
/* sshd's import_environments: each string into the parent's handle. */
void hx_import_env(struct hx_txn *t);
/* Whether the handle's PAM environment has PAM_AGENT_HANDOFF. */
int hx_env_has_handoff(pam_handle_t *pamh);

/* The path of the one untaken record in DIR/state/handoff, NULL when none. */
const char *hx_the_record(void);
/* Number of entries (records and tombstones) in DIR/state/handoff. */
int hx_handoff_entries(void);
/* Lines of the audit file with event and result whose text has needle. */
int hx_audit_has(const char *event, const char *result, const char *needle);

#endif
