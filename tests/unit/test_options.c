/*
 * test_options.c - the module options table (pam_agent/options.c).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "module.h"

static int parse(int argc, const char **argv, struct pa_args *args, char *err)
{
	return pa_args_parse(argc, argv, args, err, 256);
}

static void test_all_options(void **state)
{
	const char *argv[] = { "debug", "quiet", "config=/etc/x.conf",
			       "token_file=/run/agent/%u/jwt", "try_first_pass" };
	struct pa_args args;
	char err[256];

	(void)state;
	assert_int_equal(parse(5, argv, &args, err), 0);
	assert_true(args.debug);
	assert_true(args.quiet);
	assert_true(args.try_first_pass);
	assert_false(args.use_first_pass);
	assert_string_equal(args.config, "/etc/x.conf");
	assert_string_equal(args.token_file, "/run/agent/%u/jwt");
	pa_args_clear(&args);
	assert_null(args.config);
}

static void test_no_options(void **state)
{
	struct pa_args args;
	char err[256];

	(void)state;
	assert_int_equal(parse(0, NULL, &args, err), 0);
	assert_false(args.debug);
	assert_null(args.config);
	pa_args_clear(&args);
}

static void expect_error(const char *a, const char *b, const char *message)
{
	const char *argv[] = { a, b };
	struct pa_args args;
	char err[256] = "";

	if (parse(b != NULL ? 2 : 1, argv, &args, err) != -1)
		fail_msg("%s %s: accepted", a, b != NULL ? b : "");
	if (strstr(err, message) == NULL)
		fail_msg("%s: error \"%s\" lacks \"%s\"", a, err, message);
	assert_null(args.config);
	assert_null(args.token_file);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("frobnicate", NULL, "unknown option \"frobnicate\"");
	expect_error("debugx", NULL, "unknown option \"debugx\"");
	expect_error("debu", NULL, "unknown option \"debu\"");
	expect_error("", NULL, "unknown option \"\"");
	expect_error("Debug", NULL, "unknown option \"Debug\"");
	expect_error("debug=1", NULL, "option \"debug=1\" takes no value");
	expect_error("config", NULL, "needs a value (config=...)");
	expect_error("config=", NULL, "needs a value");
	expect_error("config=relative.conf", NULL, "must be an absolute path");
	expect_error("token_file=jwt", NULL, "must be an absolute path");
	expect_error("config=/a", "config=/b", "option \"config\" given twice");
	expect_error("use_first_pass", "try_first_pass", "conflict");
	expect_error("use_first_pass", "token_file=/x", "conflict");
	expect_error("bad\noption", NULL, "unknown option \"bad\\x0aoption\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_options),
		cmocka_unit_test(test_no_options),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
