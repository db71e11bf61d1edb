/*
 * test_dlopen.c - the built module loads with every symbol resolved and
 * exports each PAM entry point, and nothing internal leaks out.
 */
#include "config.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

static const char *const entry_points[] = {
	"pam_sm_authenticate", "pam_sm_setcred",       "pam_sm_acct_mgmt",
	"pam_sm_open_session", "pam_sm_close_session", "pam_sm_chauthtok",
};

/* Internal functions that must stay hidden. */
static const char *const internals[] = {
	"pa_args_parse", "pa_log", "pa_overwrite", "pa_escape", "pa_context_get",
};

static void *open_module(void)
{
	const char *path = getenv("PA_MODULE");
	void *h;

	assert_non_null(path);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		fail_msg("dlopen(%s): %s", path, dlerror());
	return h;
}

static void test_entry_points(void **state)
{
	void *h = open_module();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(entry_points) / sizeof(entry_points[0]); i++) {
		if (dlsym(h, entry_points[i]) == NULL)
			fail_msg("%s not exported", entry_points[i]);
	}
	dlclose(h);
}

static void test_internals_hidden(void **state)
{
	void *h = open_module();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(internals) / sizeof(internals[0]); i++) {
		if (dlsym(h, internals[i]) != NULL)
			fail_msg("internal symbol %s is exported", internals[i]);
	}
	dlclose(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_points),
		cmocka_unit_test(test_internals_hidden),
	};

	return cmocka_run_group_tests_name("dlopen", tests, NULL, NULL);
}
