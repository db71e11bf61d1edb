/*
 * test_attest_cgroup.c - caller attestation's cgroup, unit and invocation
 * id (identity/attest_cgroup.c): the unit a cgroup path names (the first
 * unit component, the one only the system manager makes); what
 * /proc/PID/cgroup may hold (hybrid hosts, forged lines); as root, a real
 * cgroup v2 unit directory of the test's own with its invocation id (a
 * visible skip elsewhere). Children and cgroups go in tfx_att_teardown.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "attest_int.h"
#include "identity.h"
#include "tfx_attest.h"
#include "util.h"

#define SLEEP "/bin/sleep"

static void test_unit_from_cgroup(void **state)
{
	static const struct {
		const char *path;
		int rc;
		const char *unit;
	} cases[] = {
		{ "/system.slice/foo.service", 1, "foo.service" },
		/* a delegated manager's own units are the user's to name: the
		 * unit is the one the system manager made */
		{ "/user.slice/user-1000.slice/user@1000.service/app.slice/bar.scope", 1,
		  "user@1000.service" },
		{ "/user.slice/user-1000.slice/user@1000.service/app.slice/support-bot.service", 1,
		  "user@1000.service" },
		{ "/user.slice/user-1000.slice/user@1000.service/app.slice", 1,
		  "user@1000.service" },
		{ "/user.slice/user-1000.slice/session-3.scope", 1, "session-3.scope" },
		{ "/system.slice/foo.service/sub", 1, "foo.service" },
		{ "/system.slice/foo.service/sub/deeper", 1, "foo.service" },
		{ "/system.slice/docker-0123abcd.scope/init.scope", 1, "docker-0123abcd.scope" },
		{ "/init.scope", 1, "init.scope" },
		{ "/", 0, "" },
		{ "", 0, "" },
		{ "/system.slice", 0, "" },
		{ "/user.slice/user-1000.slice", 0, "" },
		{ "/machine.slice/x.servicex", 0, "" },
		{ "/.service/.scope", 0, "" },
		{ "/a.service.d/b", 0, "" },
		{ "//system.slice//foo.service//", 1, "foo.service" },
	};
	char buf[64];
	size_t i;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(cases); i++) {
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(id_unit_from_cgroup(cases[i].path, buf, sizeof(buf)), cases[i].rc);
		assert_string_equal(buf, cases[i].unit);
	}
	assert_int_equal(id_unit_from_cgroup(NULL, buf, sizeof(buf)), 0);
	/* "foo.service" needs 12 bytes */
	assert_int_equal(id_unit_from_cgroup("/system.slice/foo.service", buf, 11), -1);
	assert_int_equal(id_unit_from_cgroup("/system.slice/foo.service", buf, 12), 1);
	assert_string_equal(buf, "foo.service");
	assert_int_equal(id_unit_from_cgroup("/system.slice/foo.service", buf, 0), -1);
}

/*
 * The cgroup path of /proc/PID/cgroup contents: the v2 line; on a hybrid
 * host the name=systemd line when the v2 one is "/"; refused when lines
 * are malformed or come twice.
 */
static void test_cgroup_file(void **state)
{
	static const struct {
		const char *text, *cgroup, *unit;
		int rc;
	} cases[] = {
		{ "0::/system.slice/foo.service\n", "/system.slice/foo.service", "foo.service", 0 },
		{ "0::/user.slice/user-1000.slice/session-2.scope", /* no final newline */
		  "/user.slice/user-1000.slice/session-2.scope", "session-2.scope", 0 },
		/* hybrid: v2 at "/", systemd's tree in name=systemd */
		{ "12:pids:/system.slice/a.service\n1:name=systemd:/system.slice/a.service\n0::/\n",
		  "/system.slice/a.service", "a.service", 0 },
		{ "2:cpu,cpuacct:/x\n1:name=systemd,other:/system.slice/b.service/sub\n0::/\n",
		  "/system.slice/b.service/sub", "b.service", 0 },
		/* both "/": "/" (no unit) */
		{ "9:name=systemd:/\n4:memory:/process_api/0bcb\n0::/\n", "/", NULL, 0 },
		/* a v2 path other than "/" wins */
		{ "1:name=systemd:/system.slice/c.service\n0::/system.slice/d.service\n",
		  "/system.slice/d.service", "d.service", 0 },
		/* v1 only */
		{ "1:name=systemd:/system.slice/e.service\n", "/system.slice/e.service", "e.service",
		  0 },
		{ "3:memory:/foo\n", NULL, NULL, 0 },
		{ "", NULL, NULL, 0 },
		{ "0::/system.slice\n", "/system.slice", NULL, 0 },
		/* a cgroup name with a newline in it forges a second line */
		{ "0::/user.slice/x\n0::/system.slice/sshd.service\n", NULL, NULL, -1 },
		{ "1:name=systemd:/a\n1:name=systemd:/b.service\n0::/\n", NULL, NULL, -1 },
		{ "0::relative\n", NULL, NULL, -1 },
		{ "x::/a\n", NULL, NULL, -1 },
		{ "0:/a\n", NULL, NULL, -1 },
		{ "::/a\n", NULL, NULL, -1 },
	};
	char text[256], err[128];
	struct id_proc p;
	size_t i;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(cases); i++) {
		memset(&p, 0, sizeof(p));
		snprintf(text, sizeof(text), "%s", cases[i].text);
		err[0] = '\0';
		if (id_attest_cgroup(text, true, &p, err, sizeof(err)) != cases[i].rc)
			fail_msg("case %zu (%s): rc, err \"%s\"", i, cases[i].text, err);
		if (cases[i].rc != 0) {
			assert_string_equal(err, "unexpected content");
		} else {
			if (cases[i].cgroup == NULL)
				assert_null(p.cgroup);
			else
				assert_string_equal(p.cgroup, cases[i].cgroup);
			if (cases[i].unit == NULL)
				assert_null(p.unit);
			else
				assert_string_equal(p.unit, cases[i].unit);
		}
		id_proc_clear(&p);
	}
}

/* The mount point of the cgroup2 hierarchy, from /proc/self/mountinfo ("" if none). */
static void cgroup2_mount(char *mnt, size_t len)
{
	char line[4096], root[PATH_MAX], point[PATH_MAX];
	FILE *f = fopen("/proc/self/mountinfo", "r");

	mnt[0] = '\0';
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, " - cgroup2 ") == NULL ||
		    sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) != 2 ||
		    strcmp(root, "/") != 0 || strchr(point, '\\') != NULL)
			continue;
		snprintf(mnt, len, "%s", point);
		break;
	}
	fclose(f);
}

/* Moves pid into the cgroup directory dir; 0 or -1 with errno. */
static int move_to(const char *dir, pid_t pid)
{
	char path[PATH_MAX + 16];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = dprintf(fd, "%ld\n", (long)pid) > 0;
	if (close(fd) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* Attests pid (depth 0) and checks its unit and invocation id (NULL: none). */
static void check_unit(pid_t pid, const char *cgroup, const char *unit, const char *inv)
{
	struct id_runtime rt;
	char err[256];

	assert_int_equal(id_attest(pid, 0, &rt, err, sizeof(err)), 0);
	assert_string_equal(rt.proc.cgroup, cgroup);
	assert_string_equal(rt.proc.unit, unit);
	if (inv == NULL)
		assert_null(rt.proc.invocation_id);
	else
		assert_string_equal(rt.proc.invocation_id, inv);
	id_runtime_clear(&rt);
}

/*
 * The invocation id systemd sets on a unit's cgroup: 16 raw bytes or 32
 * hex digits, trusted.* (or user.*). Skipped visibly where the file system
 * takes no such attribute.
 */
static void check_invocation_id(pid_t pid, const char *cgroup, const char *unit)
{
	static const unsigned char raw[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
					       0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	const char *hex = "00112233445566778899aabbccddeeff";

	if (setxattr(tfx_att.cg_unit, "trusted.invocation_id", raw, sizeof(raw), 0) != 0) {
		print_message("      SKIP (invocation id): setxattr trusted.* on %s: %s\n", tfx_att.cg_unit,
			      strerror(errno));
		return;
	}
	check_unit(pid, cgroup, unit, hex);
	assert_int_equal(setxattr(tfx_att.cg_unit, "trusted.invocation_id",
				  "00112233445566778899AABBCCDDEEFF", 32, 0),
			 0);
	check_unit(pid, cgroup, unit, hex);
	/* neither 16 bytes nor 32 hex digits: none */
	assert_int_equal(setxattr(tfx_att.cg_unit, "trusted.invocation_id", "not-an-id", 9, 0), 0);
	check_unit(pid, cgroup, unit, NULL);
	assert_int_equal(removexattr(tfx_att.cg_unit, "trusted.invocation_id"), 0);
	if (setxattr(tfx_att.cg_unit, "user.invocation_id", hex, 32, 0) != 0) {
		print_message("      SKIP (user.invocation_id): setxattr user.* on %s: %s\n",
			      tfx_att.cg_unit, strerror(errno));
		return;
	}
	check_unit(pid, cgroup, unit, hex);
}

/*
 * As root with a writable cgroup v2 hierarchy: a child moved into
 * "pa-attest-PID.service" is of that unit, with the invocation id set on
 * that directory; moved into a sub-cgroup of it, still of that unit.
 */
static void test_cgroup_unit(void **state)
{
	char mnt[PATH_MAX], unit[64], cgroup[96];
	pid_t pid;

	(void)state;
	if (geteuid() != 0) {
		print_message("      SKIP: not root (a cgroup directory of our own needs root)\n");
		skip();
	}
	tfx_att_need_pidfd();
	cgroup2_mount(mnt, sizeof(mnt));
	snprintf(unit, sizeof(unit), "pa-attest-%ld.service", (long)getpid());
	if (mnt[0] == '\0' ||
	    snprintf(tfx_att.cg_unit, sizeof(tfx_att.cg_unit), "%s/%s", mnt, unit) >= (int)sizeof(tfx_att.cg_unit) ||
	    mkdir(tfx_att.cg_unit, 0755) != 0) {
		print_message("      SKIP: no writable cgroup v2 (%s: %s)\n",
			      mnt[0] != '\0' ? mnt : "no cgroup2 mount",
			      mnt[0] != '\0' ? strerror(errno) : "-");
		tfx_att.cg_unit[0] = '\0';
		skip();
	}
	pid = tfx_att_spawn(SLEEP);
	if (move_to(tfx_att.cg_unit, pid) != 0) {
		print_message("      SKIP: no writable cgroup v2 (moving a process into %s: %s)\n",
			      tfx_att.cg_unit, strerror(errno));
		skip();
	}
	snprintf(cgroup, sizeof(cgroup), "/%s", unit);
	check_unit(pid, cgroup, unit, NULL);
	check_invocation_id(pid, cgroup, unit);

	/* a unit's own sub-cgroup is the unit */
	snprintf(tfx_att.cg_sub, sizeof(tfx_att.cg_sub), "%s/sub", tfx_att.cg_unit);
	assert_int_equal(mkdir(tfx_att.cg_sub, 0755), 0);
	assert_int_equal(move_to(tfx_att.cg_sub, pid), 0);
	snprintf(cgroup, sizeof(cgroup), "/%s/sub", unit);
	assert_int_equal(removexattr(tfx_att.cg_unit, "user.invocation_id") == 0 || errno == ENODATA ||
				 errno == EOPNOTSUPP,
			 1);
	check_unit(pid, cgroup, unit, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unit_from_cgroup),
		cmocka_unit_test(test_cgroup_file),
		cmocka_unit_test_teardown(test_cgroup_unit, tfx_att_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
