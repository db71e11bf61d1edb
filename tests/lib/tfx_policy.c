/*
 * tfx_policy.c - see tfx_policy.h.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tfx_policy.h"

/* ---- a configuration in files --------------------------------------------------------------- */

int tfx_conf_setup(void **state)
{
	struct tfx_conf *f = tfx_tmp_new(sizeof(*f), "conf");

	if (f == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/main.conf", f->tmp.dir);
	snprintf(f->dropins, sizeof(f->dropins), "%s/main.d", f->tmp.dir);
	*state = f;
	return 0;
}

int tfx_conf_teardown(void **state)
{
	return tfx_tmp_free(*state);
}

void tfx_dropin(struct tfx_conf *f, const char *name, const char *text)
{
	mkdir(f->dropins, 0755);
	tfx_write_at(f->dropins, name, text, 0644);
}

struct pol_config *tfx_load(struct tfx_conf *f, struct pol_errors *e)
{
	struct pol_config *cfg = NULL;
	int r = pol_config_load(f->path, f->dropins, &cfg, e);

	if (r == 0) {
		assert_non_null(cfg);
		assert_int_equal(e->n, 0);
	} else {
		assert_int_equal(r, -1);
		assert_null(cfg);
		assert_true(e->n > 0);
	}
	return cfg;
}

void tfx_dump(const struct pol_errors *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		print_message("  error: %s\n", e->msgs[i]);
}

void tfx_refused(struct tfx_conf *f, const char *text, ...)
{
	struct pol_errors e = { 0 };
	struct pol_config *cfg;
	const char *want;
	char full[1024];
	size_t i = 0;
	va_list ap;

	tfx_write(f->path, text, 0644);
	cfg = tfx_load(f, &e);
	assert_null(cfg);
	va_start(ap, text);
	while ((want = va_arg(ap, const char *)) != NULL) {
		snprintf(full, sizeof(full), "%s:%s", f->path, want);
		if (i >= e.n || strcmp(e.msgs[i], full) != 0) {
			tfx_dump(&e);
			fail_msg("error %zu: expected \"%s\", got \"%s\"", i, full,
				 i < e.n ? e.msgs[i] : "(nothing)");
		}
		i++;
	}
	va_end(ap);
	if (i != e.n) {
		tfx_dump(&e);
		fail_msg("%zu errors, expected %zu", e.n, i);
	}
	pol_errors_clear(&e);
}

struct pol_config *tfx_loads(struct tfx_conf *f, const char *text)
{
	struct pol_errors e = { 0 };
	struct pol_config *cfg;

	tfx_write(f->path, text, 0644);
	cfg = tfx_load(f, &e);
	if (cfg == NULL) {
		tfx_dump(&e);
		fail_msg("configuration refused");
	}
	pol_errors_clear(&e);
	return cfg;
}
