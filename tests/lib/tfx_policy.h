/*
 * tfx_policy.h - configuration files and decisions for the tests of the
 * policy engine (test_config*, test_policy*, test_contained): a main file
 * with its drop-in directory in a temporary directory, loading with the
 * engine's invariants checked, expected refusals, the policy the
 * decision tests share, and decisions with their invariants checked.
 */
#ifndef PA_TFX_POLICY_H
#define PA_TFX_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "tfx.h"

/* ---- a configuration in files ------------------------------------------------------------ */

/* DIR/main.conf and its drop-in directory DIR/main.d (not made yet). */
struct tfx_conf {
	struct tfx_tmp tmp;
	char path[256];
	char dropins[256];
};

/* cmocka setup and teardown of a struct tfx_conf. */
int tfx_conf_setup(void **state);
int tfx_conf_teardown(void **state);

/* Writes the drop-in DIR/main.d/name (0644), making the directory when missing. */
void tfx_dropin(struct tfx_conf *f, const char *name, const char *text);

/*
 * pol_config_load of the main file and the drop-ins: the configuration
 * without errors, or NULL with at least one in *e (checked).
 */
struct pol_config *tfx_load(struct tfx_conf *f, struct pol_errors *e);

/* Prints the errors of e (before a failure). */
void tfx_dump(const struct pol_errors *e);

/*
 * Writes text as the main file and checks it is refused with exactly the
 * messages given, in order: each "LINE: message" (FILE: is prepended),
 * the list ended by NULL.
 */
void tfx_refused(struct tfx_conf *f, const char *text, ...);

/* Writes text as the main file; its configuration, which must load. */
struct pol_config *tfx_loads(struct tfx_conf *f, const char *text);

/* ---- decisions --------------------------------------------------------------------------- */

/* The clock of the decision tests: 2024-06-10 10:00:00 UTC, a Monday. */
#define TFX_MON10 1718013600

/*
 * A verified identity for agent_id, issued 10 s before TFX_MON10 and
 * valid for 300 s (tfx_id_new; free it with id_identity_free).
 */
struct id_identity *tfx_policy_id(const char *agent_id);

/*
 * The configuration of the decision tests (test_policy*): trust domain
 * td, services agent-read (read), sshd (write), sudo (escalate), a rule
 * for each case and grants ro (mint), rw (exec), esc (file).
 */
extern const char tfx_policy_base[];

/* cmocka group setup: *state is tfx_policy_base parsed; the teardown drops it. */
int tfx_policy_setup(void **state);
int tfx_policy_teardown(void **state);

/*
 * pol_decide for id on service as user from rhost at now; *d holds the
 * decision (the caller clears it). Checks what holds of every decision:
 * an allow has a class and a session length, a deny no grants, and each
 * has reasons. Returns whether it allows.
 */
bool tfx_decide(const struct pol_config *cfg, const struct id_identity *id, const char *service,
		const char *user, const char *rhost, int64_t now, const struct pol_runtime *rt,
		struct pol_decision *d);

/* Whether a reason of d contains text; when none does, prints them all. */
bool tfx_has_reason(const struct pol_decision *d, const char *text);

/* The grant names of d, joined by spaces (a static buffer). */
const char *tfx_grant_names(const struct pol_decision *d);

/*
 * One whole decision: whether it allows, when it allows its class and
 * grant names, and (unless why is NULL) a reason containing why.
 */
void tfx_expect(const struct pol_config *cfg, const struct id_identity *id, const char *service,
		const char *user, const char *rhost, int64_t now, bool allow, enum pol_class cls,
		const char *grants, const char *why);

#endif
