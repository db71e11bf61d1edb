/*
 * test_nss.c - libnss_agent's entry points (nss/nss_agent.c), called
 * directly on databases this test writes with nssdb_build: every lookup,
 * ERANGE and the retry, not found, enumeration, corrupt, truncated and
 * missing databases, and 8 threads looking up while the database is
 * replaced by rename.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "nss_agent.h"
#include "nssdb.h"

static char dir[] = "/tmp/test_nss.XXXXXX";
static char db_path[256];

/* Writes bytes to db_path atomically (temporary file, rename). */
static void put_file(const unsigned char *img, size_t len, mode_t mode)
{
	char tmp[300];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", db_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, img, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	assert_int_equal(rename(tmp, db_path), 0);
}

/* n accounts agent-0.. with uids 61000+i, version v in gecos and home. */
static void write_db(size_t n, int v, unsigned char **img_out, size_t *len_out)
{
	struct nssdb_in_user *u = calloc(n + 1, sizeof(*u));
	char (*names)[32] = calloc(n + 1, sizeof(*names));
	char (*homes)[64] = calloc(n + 1, sizeof(*homes));
	const char *members[] = { "agent-0", "agent-1" };
	struct nssdb_in_group g[2] = {
		{ "agents", 60999, NULL, 0 },
		{ "agents-extra", 61998, members, 2 },
	};
	char gecos[32], err[256];
	unsigned char *img;
	size_t len, i;

	assert_non_null(u);
	snprintf(gecos, sizeof(gecos), "v%d", v);
	for (i = 0; i < n; i++) {
		/* reverse order: the builder sorts */
		size_t k = n - 1 - i;

		snprintf(names[i], sizeof(names[i]), "agent-%zu", k);
		snprintf(homes[i], sizeof(homes[i]), "/run/v%d/agent-%zu", v, k);
		u[i] = (struct nssdb_in_user){ names[i], gecos, homes[i], "/usr/sbin/nologin",
					       (uint32_t)(61000 + k), 60999 };
	}
	assert_int_equal(nssdb_build(u, n, g, 2, &img, &len, err, sizeof(err)), 0);
	if (img_out != NULL) {
		*img_out = img;
		*len_out = len;
	} else {
		put_file(img, len, 0644);
		free(img);
	}
	free(u);
	free(names);
	free(homes);
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/nss.db", dir);
	setenv("PA_NSS_DB", db_path, 1);
	return 0;
}

static int teardown(void **state)
{
	char tmp[300];

	(void)state;
	unlink(db_path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", db_path);
	unlink(tmp);
	rmdir(dir);
	return 0;
}

static void test_lookups(void **state)
{
	struct passwd pw;
	struct group gr;
	char buf[1024];
	int e = 0;

	(void)state;
	write_db(10, 1, NULL, NULL);
	assert_int_equal(_nss_agent_getpwnam_r("agent-3", &pw, buf, sizeof(buf), &e),
			 NSS_STATUS_SUCCESS);
	assert_string_equal(pw.pw_name, "agent-3");
	assert_int_equal(pw.pw_uid, 61003);
	assert_int_equal(pw.pw_gid, 60999);
	assert_string_equal(pw.pw_dir, "/run/v1/agent-3");
	assert_string_equal(pw.pw_shell, "/usr/sbin/nologin");
	assert_string_equal(pw.pw_passwd, "*");
	assert_int_equal(_nss_agent_getpwuid_r(61009, &pw, buf, sizeof(buf), &e),
			 NSS_STATUS_SUCCESS);
	assert_string_equal(pw.pw_name, "agent-9");
	assert_int_equal(_nss_agent_getgrnam_r("agents", &gr, buf, sizeof(buf), &e),
			 NSS_STATUS_SUCCESS);
	assert_int_equal(gr.gr_gid, 60999);
	assert_null(gr.gr_mem[0]);
	assert_int_equal(_nss_agent_getgrgid_r(61998, &gr, buf, sizeof(buf), &e),
			 NSS_STATUS_SUCCESS);
	assert_string_equal(gr.gr_name, "agents-extra");
	assert_string_equal(gr.gr_mem[0], "agent-0");
	assert_string_equal(gr.gr_mem[1], "agent-1");
	assert_null(gr.gr_mem[2]);
}

static void test_not_found(void **state)
{
	struct passwd pw;
	struct group gr;
	char buf[1024];
	int e = 0;

	(void)state;
	write_db(10, 1, NULL, NULL);
	assert_int_equal(_nss_agent_getpwnam_r("root", &pw, buf, sizeof(buf), &e),
			 NSS_STATUS_NOTFOUND);
	assert_int_equal(e, ENOENT);
	assert_int_equal(_nss_agent_getpwnam_r("agent-10", &pw, buf, sizeof(buf), &e),
			 NSS_STATUS_NOTFOUND);
	assert_int_equal(_nss_agent_getpwuid_r(0, &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
	assert_int_equal(_nss_agent_getpwuid_r(61010, &pw, buf, sizeof(buf), &e),
			 NSS_STATUS_NOTFOUND);
	assert_int_equal(_nss_agent_getgrnam_r("root", &gr, buf, sizeof(buf), &e),
			 NSS_STATUS_NOTFOUND);
	assert_int_equal(_nss_agent_getgrgid_r(0, &gr, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
}

static void test_erange(void **state)
{
	struct passwd pw;
	struct group gr;
	char buf[1024];
	size_t n;
	int e = 0;

	(void)state;
	write_db(10, 1, NULL, NULL);
	for (n = 0; n < 40; n++) {
		e = 0;
		assert_int_equal(_nss_agent_getpwnam_r("agent-3", &pw, buf, n, &e),
				 NSS_STATUS_TRYAGAIN);
		assert_int_equal(e, ERANGE);
		assert_int_equal(_nss_agent_getpwuid_r(61003, &pw, buf, n, &e),
				 NSS_STATUS_TRYAGAIN);
		assert_int_equal(e, ERANGE);
		assert_int_equal(_nss_agent_getgrgid_r(61998, &gr, buf + 1, n, &e),
				 NSS_STATUS_TRYAGAIN);
		assert_int_equal(e, ERANGE);
	}
	/* the retry with a larger buffer succeeds */
	assert_int_equal(_nss_agent_getpwnam_r("agent-3", &pw, buf, sizeof(buf), &e),
			 NSS_STATUS_SUCCESS);
	assert_string_equal(pw.pw_dir, "/run/v1/agent-3");
	assert_int_equal(_nss_agent_getgrnam_r("agents-extra", &gr, buf + 1, 20, &e),
			 NSS_STATUS_TRYAGAIN);
	assert_int_equal(_nss_agent_getgrnam_r("agents-extra", &gr, buf + 1, sizeof(buf) - 1, &e),
			 NSS_STATUS_SUCCESS);
	assert_string_equal(gr.gr_mem[1], "agent-1");
	/* enumeration: the entry that did not fit comes again */
	_nss_agent_setpwent(0);
	assert_int_equal(_nss_agent_getpwent_r(&pw, buf, 10, &e), NSS_STATUS_TRYAGAIN);
	assert_int_equal(e, ERANGE);
	assert_int_equal(_nss_agent_getpwent_r(&pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
	assert_string_equal(pw.pw_name, "agent-0");
	_nss_agent_endpwent();
}

static void test_enumeration(void **state)
{
	static int seen[100];
	struct passwd pw;
	struct group gr;
	char buf[1024];
	int e = 0, n = 0, i;

	(void)state;
	write_db(100, 1, NULL, NULL);
	memset(seen, 0, sizeof(seen));
	_nss_agent_setpwent(1);
	while (_nss_agent_getpwent_r(&pw, buf, sizeof(buf), &e) == NSS_STATUS_SUCCESS) {
		assert_true(pw.pw_uid >= 61000 && pw.pw_uid < 61100);
		seen[pw.pw_uid - 61000]++;
		n++;
	}
	assert_int_equal(e, ENOENT);
	_nss_agent_endpwent();
	assert_int_equal(n, 100);
	for (i = 0; i < 100; i++)
		assert_int_equal(seen[i], 1);
	n = 0;
	_nss_agent_setgrent(0);
	while (_nss_agent_getgrent_r(&gr, buf, sizeof(buf), &e) == NSS_STATUS_SUCCESS)
		n++;
	_nss_agent_endgrent();
	assert_int_equal(n, 2);
	/* a second pass starts again */
	_nss_agent_setpwent(0);
	assert_int_equal(_nss_agent_getpwent_r(&pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
	assert_int_equal(pw.pw_uid, 61000);
	_nss_agent_endpwent();
}

static void expect_nothing(void)
{
	struct passwd pw;
	struct group gr;
	char buf[1024];
	int e = 0;

	assert_int_equal(_nss_agent_getpwnam_r("agent-3", &pw, buf, sizeof(buf), &e),
			 NSS_STATUS_NOTFOUND);
	assert_int_equal(_nss_agent_getpwuid_r(61003, &pw, buf, sizeof(buf), &e),
			 NSS_STATUS_NOTFOUND);
	assert_int_equal(_nss_agent_getgrnam_r("agents", &gr, buf, sizeof(buf), &e),
			 NSS_STATUS_NOTFOUND);
	_nss_agent_setpwent(0);
	assert_int_equal(_nss_agent_getpwent_r(&pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
	_nss_agent_endpwent();
}

static void test_bad_databases(void **state)
{
	unsigned char *img, *bad;
	size_t len, i;
	struct nssdb db;
	const char *why;

	(void)state;
	write_db(10, 1, &img, &len);
	/* missing */
	unlink(db_path);
	expect_nothing();
	/* truncated, at every length */
	for (i = 0; i < len; i += (i < 80 ? 1 : 37)) {
		put_file(img, i, 0644);
		expect_nothing();
	}
	/* one flipped byte anywhere: the checksum or a header check refuses it */
	bad = malloc(len);
	assert_non_null(bad);
	for (i = 0; i < len; i += 7) {
		memcpy(bad, img, len);
		bad[i] ^= 0x40;
		assert_int_equal(nssdb_parse(bad, len, &db, &why), -1);
		put_file(bad, len, 0644);
		expect_nothing();
	}
	/* group-writable */
	put_file(img, len, 0664);
	expect_nothing();
	/* a symlink to a good database */
	put_file(img, len, 0644);
	{
		char link[300];

		snprintf(link, sizeof(link), "%s/link.db", dir);
		assert_int_equal(symlink(db_path, link), 0);
		setenv("PA_NSS_DB", link, 1);
		expect_nothing();
		setenv("PA_NSS_DB", db_path, 1);
		unlink(link);
	}
	free(bad);
	free(img);
}

static void test_build_refuses_duplicates(void **state)
{
	struct nssdb_in_user u[2] = {
		{ "a", "", "/", "/bin/false", 61000, 1 },
		{ "a", "", "/", "/bin/false", 61001, 1 },
	};
	unsigned char *img;
	size_t len;
	char err[256];

	(void)state;
	assert_int_equal(nssdb_build(u, 2, NULL, 0, &img, &len, err, sizeof(err)), -1);
	u[1].name = "b";
	u[1].uid = 61000;
	assert_int_equal(nssdb_build(u, 2, NULL, 0, &img, &len, err, sizeof(err)), -1);
	u[1].uid = 61001;
	assert_int_equal(nssdb_build(u, 2, NULL, 0, &img, &len, err, sizeof(err)), 0);
	free(img);
}

/* ---- 8 threads during atomic replaces ----------------------------------------------- */

static volatile int stop;
static volatile int torn;
static volatile long hits;

static void *reader(void *arg)
{
	char buf[512], want[64];
	struct passwd pw;
	long k = (long)(intptr_t)arg, my = 0;
	int e;

	while (!stop) {
		unsigned n = (unsigned)(k++ % 50);
		enum nss_status s;

		if (k % 2)
			s = _nss_agent_getpwuid_r(61000 + n, &pw, buf, sizeof(buf), &e);
		else {
			snprintf(want, sizeof(want), "agent-%u", n);
			s = _nss_agent_getpwnam_r(want, &pw, buf, sizeof(buf), &e);
		}
		if (s != NSS_STATUS_SUCCESS) {
			torn = 1; /* every version holds every account: never "not found" */
			continue;
		}
		/* the whole entry is of one version */
		snprintf(want, sizeof(want), "/run/%s/agent-%u", pw.pw_gecos, n);
		if (pw.pw_uid != 61000 + n || strcmp(pw.pw_dir, want) != 0 ||
		    strcmp(pw.pw_name, want + strlen(want) - strlen(pw.pw_name)) != 0)
			torn = 1;
		my++;
	}
	__atomic_fetch_add(&hits, my, __ATOMIC_RELAXED);
	return NULL;
}

static void test_concurrent_replace(void **state)
{
	pthread_t t[8];
	unsigned char *img[2];
	size_t len[2];
	long i;

	(void)state;
	write_db(50, 1, &img[0], &len[0]);
	write_db(50, 22, &img[1], &len[1]);
	put_file(img[0], len[0], 0644);
	stop = 0;
	torn = 0;
	hits = 0;
	for (i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, (void *)(intptr_t)(i * 7)), 0);
	for (i = 0; i < 400; i++) {
		put_file(img[i % 2], len[i % 2], 0644);
		usleep(500);
	}
	stop = 1;
	for (i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	assert_false(torn);
	assert_true(hits > 1000);
	free(img[0]);
	free(img[1]);
}

/* fork in the main thread while 8 threads look up: every child can look up */
static void test_fork_during_lookups(void **state)
{
	pthread_t t[8];
	long i;

	(void)state;
	write_db(50, 1, NULL, NULL);
	stop = 0;
	torn = 0;
	hits = 0;
	for (i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, (void *)(intptr_t)(i * 3)), 0);
	for (i = 0; i < 200; i++) {
		pid_t pid = fork();
		int status = 0;

		assert_true(pid >= 0);
		if (pid == 0) {
			struct passwd pw;
			char buf[512];
			int e;

			alarm(10); /* a lock left held would hang here */
			_exit(_nss_agent_getpwuid_r(61007, &pw, buf, sizeof(buf), &e) ==
					      NSS_STATUS_SUCCESS
				      ? 0
				      : 1);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	stop = 1;
	for (i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	assert_false(torn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_erange),
		cmocka_unit_test(test_enumeration),
		cmocka_unit_test(test_bad_databases),
		cmocka_unit_test(test_build_refuses_duplicates),
		cmocka_unit_test(test_concurrent_replace),
		cmocka_unit_test(test_fork_during_lookups),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
