/*
 * tfx_policy.h - configuration files and decisions for the tests of the
 * policy engine (test_config*, test_contained): a main file with its
 * drop-in directory in a temporary directory, loading with the engine's
 * invariants checked, and expected refusals.
 */
#ifndef PA_TFX_POLICY_H
#define PA_TFX_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "tfx.h"

/* ---- a configuration in files --------------------------------------------------------------- */

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

#endif
