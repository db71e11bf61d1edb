/*
 * test_config_files.c - the configuration as files (policy/config.c,
 * cache.c): the libinih behaviours we rely on or refuse, file and drop-in
 * checks, drop-in order, and re-reading on change (the cache). Parsing
 * and refusals are in test_config.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"
#include "tfx_policy.h"

#define GLOBAL "[global]\naudience = spiffe://example.org/host/web01\n"

/* ---- libinih behaviours ------------------------------------------------------------- */

static void test_inih_inline_comments(void **state)
{
	struct pol_config *cfg = tfx_loads(*state, GLOBAL
					   "; a full-line comment\n"
					   "# another one\n"
					   "   # indented comment (no key before it in this section)\n"
					   "[deny spiffe://example.org/a] ; comment after a header\n"
					   "reason = one ; the rest is a comment\n"
					   "[deny spiffe://example.org/b]\n"
					   "reason = one;two\n"
					   "[deny spiffe://example.org/c]\n"
					   "reason = tab\t; comment\n");

	assert_int_equal(cfg->n_denies, 3);
	assert_string_equal(cfg->denies[0].reason, "one");
	assert_string_equal(cfg->denies[1].reason, "one;two");
	assert_string_equal(cfg->denies[2].reason, "tab");
	pol_config_unref(cfg);
}

static void test_inih_continuation(void **state)
{
	struct tfx_conf *f = *state;
	struct pol_config *cfg = tfx_loads(f, GLOBAL
					   "[service s]\nclass = read\n"
					   "[agent spiffe://example.org/a]\n"
					   "users = alice\n"
					   "   bob carol\n"
					   "# a comment does not end it\n"
					   "\tdave\n"
					   "\n"
					   "  erin\n"
					   "services = s\n"
					   "[deny spiffe://example.org/x]\n"
					   "reason = a long\n"
					   "  reason\n");
	const struct pol_agent *a = &cfg->agents[0];

	/* indented lines continue a list, even after a comment or a blank line */
	assert_int_equal(a->users.n, 5);
	assert_string_equal(a->users.v[1], "bob");
	assert_string_equal(a->users.v[2], "carol");
	assert_string_equal(a->users.v[3], "dave");
	assert_string_equal(a->users.v[4], "erin");
	assert_string_equal(cfg->denies[0].reason, "a long reason");
	pol_config_unref(cfg);

	/* libinih r55 keeps " ;" of an indented line in the value: refused */
	tfx_refused(f, GLOBAL "[service s]\nclass = read\n[agent spiffe://example.org/a]\n"
		    "users = u\n  v ; w\nservices = s\n",
		    "7: indented line with a \" ;\" comment (libinih versions disagree on whether "
		    "it is a comment; put it on a line of its own)", NULL);
	/* a scalar cannot be continued */
	tfx_refused(f, GLOBAL "clock_skew = 10s\n  20s\n",
		    "4: indented line: libinih reads it as more of 'clock_skew', which takes one "
		    "value (remove the indentation)", NULL);
	/* an indented header would be swallowed into the previous value */
	tfx_refused(f, GLOBAL "[service s]\nclass = read\n[agent spiffe://example.org/a]\n"
		    "users = u\nservices = s\n  [deny spiffe://example.org/a]\n  reason = no\n",
		    "8: indented line: libinih reads it as more of 'services', not as a section "
		    "header (remove the indentation)",
		    "9: indented line: libinih reads it as more of 'services', not as a key (remove "
		    "the indentation)", NULL);
	/* an indented key right after a header is a key (no previous key) */
	cfg = tfx_loads(f, GLOBAL "[service s]\n   class = read\n");
	assert_int_equal(cfg->services[0].cls, POL_CLASS_READ);
	pol_config_unref(cfg);
}

static void test_inih_long_section_name(void **state)
{
	/* libinih keeps only 49 bytes of a section name; we keep it whole */
	static const char id[] =
		"spiffe://example.org/ns/production/sa/support-bot-with-a-long-name";
	char text[1024];
	struct pol_config *cfg;

	snprintf(text, sizeof(text), GLOBAL "[service s]\nclass = read\n[agent %s]\n"
		 "users = u\nservices = s\n[agent spiffe://example.org/ns/production/sa/"
		 "support-bot-with-a-long-other]\nusers = v\nservices = s\n", id);
	cfg = tfx_loads(*state, text);
	assert_int_equal(cfg->n_agents, 2);
	assert_string_equal(cfg->agents[0].pattern, id);
	assert_string_equal(pol_config_match_agent(cfg, id)->users.v[0], "u");
	assert_null(pol_config_match_agent(cfg, "spiffe://example.org/ns/production/sa/support-"));
	pol_config_unref(cfg);
}

static void test_inih_line_length(void **state)
{
	struct tfx_conf *f = *state;
	char text[1024], value[512];
	struct pol_config *cfg;

	/* "reason = " + 189 bytes = 198 bytes: the longest line accepted */
	memset(value, 'x', 189);
	value[189] = '\0';
	snprintf(text, sizeof(text), GLOBAL "[deny spiffe://example.org/a]\nreason = %s\n", value);
	cfg = tfx_loads(f, text);
	assert_int_equal(strlen(cfg->denies[0].reason), 189);
	pol_config_unref(cfg);
	/* one more byte: libinih would split the line in two; refused */
	memset(value, 'x', 190);
	value[190] = '\0';
	snprintf(text, sizeof(text), GLOBAL "[deny spiffe://example.org/a]\nreason = %s\n", value);
	tfx_refused(f, text, "4: line longer than 198 bytes",
		    "3: [deny spiffe://example.org/a] has no 'reason' (required)", NULL);
	/* a tail that would parse as a key of its own is not read as one */
	memset(value, 'x', 195);
	strcpy(value + 195, "clock_skew=1s");
	snprintf(text, sizeof(text), GLOBAL "reason = %s\n", value);
	tfx_refused(f, text, "3: line longer than 198 bytes", NULL);
}

static void test_inih_bom_crlf(void **state)
{
	struct pol_config *cfg = tfx_loads(*state,
					   "\xef\xbb\xbf[global]\r\naudience = a\r\n"
					   "[service s]\r\nclass = write\r\n");

	assert_string_equal(cfg->global.audience, "a");
	assert_int_equal(cfg->services[0].cls, POL_CLASS_WRITE);
	pol_config_unref(cfg);
}

/* ---- files and permissions ------------------------------------------------------------- */

static void expect_file_error(struct tfx_conf *f, const char *want)
{
	struct pol_errors e = { 0 };

	assert_null(tfx_load(f, &e));
	if (e.n != 1 || strcmp(e.msgs[0], want) != 0) {
		tfx_dump(&e);
		fail_msg("expected \"%s\"", want);
	}
	pol_errors_clear(&e);
}

static void test_file_checks(void **state)
{
	struct tfx_conf *f = *state;
	char want[600], target[300];
	int fd;

	tfx_write(f->path, GLOBAL, 0664);
	snprintf(want, sizeof(want), "%s: mode 0664 is too open (must not have any of 0022)",
		 f->path);
	expect_file_error(f, want);

	tfx_write(f->path, GLOBAL, 0646);
	snprintf(want, sizeof(want), "%s: mode 0646 is too open (must not have any of 0022)",
		 f->path);
	expect_file_error(f, want);

	/* a symbolic link, even to a good file */
	snprintf(target, sizeof(target), "%s/target.conf", f->tmp.dir);
	tfx_write(target, GLOBAL, 0644);
	unlink(f->path);
	assert_int_equal(symlink(target, f->path), 0);
	snprintf(want, sizeof(want), "%s: is a symbolic link", f->path);
	expect_file_error(f, want);
	unlink(f->path);

	/* too large (sparse) */
	fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, POL_FILE_MAX + 1), 0);
	close(fd);
	snprintf(want, sizeof(want), "%s: %d bytes is larger than the limit of %d", f->path,
		 POL_FILE_MAX + 1, POL_FILE_MAX);
	expect_file_error(f, want);

	unlink(f->path);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", f->path);
	expect_file_error(f, want);

	/* a directory */
	assert_int_equal(mkdir(f->path, 0755), 0);
	snprintf(want, sizeof(want), "%s: not a regular file", f->path);
	expect_file_error(f, want);
	rmdir(f->path);
}

static void test_file_owner(void **state)
{
	struct tfx_conf *f = *state;
	char want[600];

	if (geteuid() != 0) {
		/* non-root: the caller's own files are accepted (the other tests) */
		skip();
	}
	tfx_write(f->path, GLOBAL, 0644);
	assert_int_equal(chown(f->path, 65534, 65534), 0);
	snprintf(want, sizeof(want), "%s: owned by uid 65534, must be owned by root", f->path);
	expect_file_error(f, want);
}

static void test_dropin_checks(void **state)
{
	struct tfx_conf *f = *state;
	struct pol_config *cfg;
	struct pol_errors e = { 0 };
	char want[600], p[512], target[512];

	tfx_write(f->path, GLOBAL, 0644);
	/* no drop-in directory at all is fine */
	cfg = tfx_load(f, &e);
	assert_non_null(cfg);
	assert_int_equal(cfg->n_files, 1);
	pol_config_unref(cfg);
	/* an empty one too */
	assert_int_equal(mkdir(f->dropins, 0755), 0);
	cfg = tfx_load(f, &e);
	assert_non_null(cfg);
	assert_int_equal(cfg->n_files, 1);
	pol_config_unref(cfg);

	tfx_dropin(f, "10-a.conf", "[service s]\nclass = read\n");
	assert_int_equal(chmod(f->dropins, 0777), 0);
	snprintf(want, sizeof(want), "%s: mode 0777 is too open (must not have any of 0022)",
		 f->dropins);
	expect_file_error(f, want);
	assert_int_equal(chmod(f->dropins, 0755), 0);

	/* a drop-in that is a symbolic link */
	snprintf(target, sizeof(target), "%s/elsewhere.conf", f->tmp.dir);
	tfx_write(target, "[service t]\nclass = read\n", 0644);
	snprintf(p, sizeof(p), "%s/20-link.conf", f->dropins);
	assert_int_equal(symlink(target, p), 0);
	snprintf(want, sizeof(want), "%s: is a symbolic link", p);
	expect_file_error(f, want);
	unlink(p);

	/* a group-writable drop-in */
	snprintf(p, sizeof(p), "%s/30-gw.conf", f->dropins);
	tfx_write(p, "[service u]\nclass = read\n", 0664);
	snprintf(want, sizeof(want), "%s: mode 0664 is too open (must not have any of 0022)", p);
	expect_file_error(f, want);
	unlink(p);

	/* an error inside a drop-in names the drop-in and its line */
	tfx_dropin(f, "40-bad.conf", "[service v]\nclass = read\nbogus = 1\n");
	snprintf(want, sizeof(want), "%s/40-bad.conf:3: unknown key 'bogus' in [service v]",
		 f->dropins);
	expect_file_error(f, want);
}

static void test_dropin_order(void **state)
{
	struct tfx_conf *f = *state;
	struct pol_errors e = { 0 };
	struct pol_config *cfg;
	char p[512];

	tfx_write(f->path, GLOBAL "[service s]\nclass = read\n", 0644);
	tfx_dropin(f, "b.conf", "[deny spiffe://example.org/b]\nreason = b\n");
	tfx_dropin(f, "10-x.conf", "[deny spiffe://example.org/10]\nreason = 10\n");
	tfx_dropin(f, "9-x.conf", "[deny spiffe://example.org/9]\nreason = 9\n");
	tfx_dropin(f, "A.conf", "[deny spiffe://example.org/A]\nreason = A\n");
	/* ignored: other names, hidden files, bare ".conf" */
	tfx_dropin(f, "README", "not ini at all\n");
	tfx_dropin(f, "c.conf.bak", "[bogus]\n");
	tfx_dropin(f, ".hidden.conf", "[bogus]\n");
	tfx_dropin(f, ".conf", "[bogus]\n");
	cfg = tfx_load(f, &e);
	if (cfg == NULL)
		tfx_dump(&e);
	assert_non_null(cfg);
	assert_int_equal(cfg->n_files, 5);
	assert_string_equal(cfg->files[0], f->path);
	/* strcmp order: "10-x" < "9-x" < "A" < "b" */
	snprintf(p, sizeof(p), "%s/10-x.conf", f->dropins);
	assert_string_equal(cfg->files[1], p);
	snprintf(p, sizeof(p), "%s/9-x.conf", f->dropins);
	assert_string_equal(cfg->files[2], p);
	snprintf(p, sizeof(p), "%s/A.conf", f->dropins);
	assert_string_equal(cfg->files[3], p);
	snprintf(p, sizeof(p), "%s/b.conf", f->dropins);
	assert_string_equal(cfg->files[4], p);
	assert_string_equal(cfg->denies[0].reason, "10");
	assert_string_equal(cfg->denies[3].reason, "b");
	/* a section does not continue across files */
	tfx_dropin(f, "c.conf", "reason = orphan\n");
	pol_config_unref(cfg);
	snprintf(p, sizeof(p), "%s/c.conf:1: key 'reason' outside of any section", f->dropins);
	expect_file_error(f, p);
}

static void test_parse_text(void **state)
{
	struct pol_errors e = { 0 };
	struct pol_config *cfg = NULL;

	(void)state;
	assert_int_equal(pol_config_parse_text("mem", GLOBAL, strlen(GLOBAL), &cfg, &e), 0);
	assert_non_null(cfg);
	assert_string_equal(cfg->files[0], "mem");
	pol_config_unref(cfg);
	assert_int_equal(pol_config_parse_text("mem", "[x]\n", 4, &cfg, &e), -1);
	assert_null(cfg);
	assert_string_equal(e.msgs[0], "mem:1: unknown section [x] (sections are global, "
			    "trust_domain, issuer, service, agent, deny and grant)");
	pol_errors_clear(&e);
}

/* ---- the cache ------------------------------------------------------------------------------ */

/* Waits until files written now are older than the cache's racy window. */
static void settle(void)
{
	usleep(2200 * 1000);
}

static struct pol_config *cache_get(struct pol_cache *c, struct tfx_conf *f, struct pol_errors *e)
{
	struct pol_config *cfg = (struct pol_config *)1;
	int r = pol_config_cache_get(c, f->path, f->dropins, &cfg, e);

	if (r == 0) {
		assert_non_null(cfg);
	} else {
		assert_int_equal(r, -1);
		assert_null(cfg);
		assert_true(e->n > 0);
	}
	return cfg;
}

static void test_cache(void **state)
{
	struct tfx_conf *f = *state;
	struct pol_cache *c = pol_cache_new();
	struct pol_errors e = { 0 };
	struct pol_config *a, *b, *held;
	char want[600];

	assert_non_null(c);
	tfx_write(f->path, GLOBAL "[service s]\nclass = read\n", 0644);
	tfx_dropin(f, "10-a.conf", "[service t]\nclass = read\n");
	settle();
	a = cache_get(c, f, &e);
	b = cache_get(c, f, &e);
	/* unchanged: the same object, not parsed again */
	assert_ptr_equal(a, b);
	pol_config_unref(b);

	/* a change in the main file: parsed again, the caller's old one stays usable */
	tfx_write(f->path, GLOBAL "[service s]\nclass = write\n", 0644);
	b = cache_get(c, f, &e);
	assert_ptr_not_equal(a, b);
	assert_int_equal(pol_config_find_service(b, "s")->cls, POL_CLASS_WRITE);
	assert_int_equal(pol_config_find_service(a, "s")->cls, POL_CLASS_READ);
	held = a;
	pol_config_unref(b);

	/* a new drop-in */
	tfx_dropin(f, "20-b.conf", "[service u]\nclass = escalate\n");
	b = cache_get(c, f, &e);
	assert_non_null(pol_config_find_service(b, "u"));
	pol_config_unref(b);

	/* a bad change: refused, and the previous configuration is not handed out */
	tfx_dropin(f, "20-b.conf", "[service u]\nclass = root\n");
	assert_null(cache_get(c, f, &e));
	snprintf(want, sizeof(want),
		 "%s/20-b.conf:2: 'class' = \"root\" is not a class (read, write or escalate)",
		 f->dropins);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);
	/* still refused on the next call, with the same reason */
	assert_null(cache_get(c, f, &e));
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);

	/* fixed: accepted again */
	tfx_dropin(f, "20-b.conf", "[service u]\nclass = read\n");
	b = cache_get(c, f, &e);
	assert_int_equal(pol_config_find_service(b, "u")->cls, POL_CLASS_READ);
	pol_config_unref(b);

	/* a permission change alone (same content) is seen and refused */
	assert_int_equal(chmod(f->path, 0666), 0);
	assert_null(cache_get(c, f, &e));
	snprintf(want, sizeof(want), "%s: mode 0666 is too open (must not have any of 0022)",
		 f->path);
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);
	assert_int_equal(chmod(f->path, 0644), 0);

	/* a removed drop-in */
	{
		char p[512];

		snprintf(p, sizeof(p), "%s/20-b.conf", f->dropins);
		assert_int_equal(unlink(p), 0);
	}
	b = cache_get(c, f, &e);
	assert_null(pol_config_find_service(b, "u"));
	assert_non_null(pol_config_find_service(b, "t"));
	pol_config_unref(b);

	/* the old reference the caller kept is still intact */
	assert_int_equal(pol_config_find_service(held, "s")->cls, POL_CLASS_READ);
	pol_config_unref(held);
	pol_cache_free(c);
}

/*
 * Without a drop-in directory the cache lists none; one that appears
 * later, settled (no racy snapshot to force a parse), is still seen.
 */
static void test_cache_dropin_dir_appears(void **state)
{
	struct tfx_conf *f = *state;
	struct pol_cache *c = pol_cache_new();
	struct pol_errors e = { 0 };
	struct pol_config *a, *b;

	assert_non_null(c);
	tfx_write(f->path, GLOBAL "[service s]\nclass = read\n", 0644);
	settle();
	a = cache_get(c, f, &e);
	b = cache_get(c, f, &e);
	assert_ptr_equal(a, b);
	assert_null(pol_config_find_service(b, "t"));
	pol_config_unref(a);
	pol_config_unref(b);
	tfx_dropin(f, "10-a.conf", "[service t]\nclass = read\n");
	settle();
	b = cache_get(c, f, &e);
	assert_non_null(pol_config_find_service(b, "t"));
	pol_config_unref(b);
	pol_cache_free(c);
}

static void test_cache_same_size_change(void **state)
{
	struct tfx_conf *f = *state;
	struct pol_cache *c = pol_cache_new();
	struct pol_errors e = { 0 };
	struct pol_config *a, *b;

	/* same size, rewritten within the same second: still seen */
	tfx_write(f->path, GLOBAL "[service s]\nclass = read\n", 0644);
	a = cache_get(c, f, &e);
	tfx_write(f->path, GLOBAL "[service s]\nclass = READ\n", 0644);
	assert_null(cache_get(c, f, &e));
	pol_errors_clear(&e);
	tfx_write(f->path, GLOBAL "[service x]\nclass = read\n", 0644);
	b = cache_get(c, f, &e);
	assert_non_null(pol_config_find_service(b, "x"));
	assert_null(pol_config_find_service(b, "s"));
	pol_config_unref(a);
	pol_config_unref(b);
	pol_cache_free(c);
}

static void test_cache_racy_window(void **state)
{
	struct tfx_conf *f = *state;
	struct pol_cache *c = pol_cache_new();
	struct pol_errors e = { 0 };
	struct pol_config *a, *b;

	/*
	 * Files changed in the last seconds could change again within the
	 * same timestamp granule, invisibly: such a snapshot is not trusted,
	 * so an unchanged-looking fresh file is parsed again.
	 */
	tfx_write(f->path, GLOBAL, 0644);
	a = cache_get(c, f, &e);
	b = cache_get(c, f, &e);
	assert_ptr_not_equal(a, b);
	pol_config_unref(a);
	pol_config_unref(b);
	/* once settled, the cached object is handed out again */
	settle();
	a = cache_get(c, f, &e);
	b = cache_get(c, f, &e);
	assert_ptr_equal(a, b);
	pol_config_unref(a);
	pol_config_unref(b);
	pol_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inih_inline_comments, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_inih_continuation, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_inih_long_section_name, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_inih_line_length, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_inih_bom_crlf, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_file_checks, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_file_owner, tfx_conf_setup, tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_dropin_checks, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_dropin_order, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test(test_parse_text),
		cmocka_unit_test_setup_teardown(test_cache, tfx_conf_setup, tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_cache_dropin_dir_appears, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_cache_same_size_change, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_cache_racy_window, tfx_conf_setup,
						tfx_conf_teardown),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
