/*
 * tfx_session.h - the fixture of the helper tests (test_helper*): a
 * temporary directory for brokers written as tiny shell scripts and for
 * their records, a per-session keyring in the test's own session keyring
 * (tests/run-test.sh), and the session they open: an identity, a decision
 * with its grants, the global settings with a broker key.
 */
#ifndef PA_TFX_SESSION_H
#define PA_TFX_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "identity.h"
#include "policy.h"
#include "session.h"
#include "tfx.h"

#define TFX_SES_ERRLEN 2048
#define TFX_SES_AGENT "spiffe://example.org/agents/bot"

/* Secrets the tests hand out; none may show up anywhere but in the keys. */
#define TFX_FILE_SECRET "file-SECRET-5d1e0c"
#define TFX_EXEC_SECRET "exec-SECRET-7f3a99"
#define TFX_BADJSON_SECRET "badjson-SECRET-91c2"

struct tfx_ses {
	struct tfx_tmp tmp;
	char sid[33];
	int32_t ring;
	const char *helper; /* PA_HELPER: the built pam_agent_helper */
	/* the session the tests open */
	struct pol_grant grants[4];
	struct pol_decision d;
	struct id_identity id;
	struct pol_global g;
	char key_path[128], jwks_path[128];
};

/*
 * cmocka setup and teardown of a struct tfx_ses: agent TFX_SES_AGENT
 * (task T-42, scope read, an orchestrator in act) logs in as svc-bot
 * (uid 4242) with class read, 900 s and no grants yet; the broker key and
 * JWKS are DIR/broker.key and DIR/broker.jwks.
 */
int tfx_ses_setup(void **state);
int tfx_ses_teardown(void **state);

/* Skips the test unless PA_HELPER is the built pam_agent_helper. */
void tfx_ses_need_helper(const struct tfx_ses *f);

/* A fresh hex session id (20 digits) into sid. */
void tfx_ses_sid(char *sid, size_t len);

/* A new session: no grants, a new sid and a new per-session keyring. */
void tfx_ses_new(struct tfx_ses *f);

/* Adds a grant: a is the audience (mint), command (exec) or path (file), b the scope or revoke. */
void tfx_ses_grant(struct tfx_ses *f, const char *name, enum pol_source src, const char *a,
		   const char *b, int64_t ttl);

/* The arguments of ses_open for the fixture's session. */
struct ses_open_args tfx_ses_open_args(struct tfx_ses *f);

/* A broker key for mint grants at f->key_path, owned by us, 0600. */
void tfx_ses_broker_key(struct tfx_ses *f);

/* Writes the shell script DIR/name (0700); "@D@" in body becomes the directory. */
void tfx_ses_script(struct tfx_ses *f, const char *name, const char *body);

/* DIR/name in a static buffer ("" when missing). */
const char *tfx_ses_read(const struct tfx_ses *f, const char *name);

/* Lines in DIR/name. */
int tfx_ses_lines(const struct tfx_ses *f, const char *name);

/*
 * An issue broker that records its context, its own and its parent's (the
 * helper's) argv and environment in DIR, and answers TFX_EXEC_SECRET with
 * revoke handle lease-1; a revoke broker that appends its stdin to
 * DIR/revoked.log.
 */
extern const char tfx_ses_issue_body[];
extern const char tfx_ses_revoke_body[];

#endif
