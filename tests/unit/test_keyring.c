/*
 * test_keyring.c - the keyring engine (keyring/keyring.c) against the real
 * kernel keyring. The program runs in an anonymous session keyring of its
 * own (tests/run-test.sh); tests that change the session keyring or the
 * ids of the process do it in a forked child.
 *
 * Failure injection: the program is linked with -Wl,--wrap= for add_key,
 * keyctl_get_keyring_ID, keyctl_join_session_keyring, keyctl_setperm,
 * keyctl_set_timeout and keyctl_link; the wrappers below call the real
 * function unless a test armed a failure. Where the kernel can produce a
 * failure for real (EACCES, EDQUOT, EPERM/ENOSYS from a seccomp filter),
 * that is tested too.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cmocka.h>
#include <keyutils.h>

#include "keyring.h"
#include "util.h"

#define NOBODY 65534

/* ---- failure injection ------------------------------------------------------ */

static struct {
	const char *add_key_type; /* fail add_key of this type ... */
	int add_key_errno;	  /* ... with this errno (0: never) */
	int get_id_errno;	  /* fail keyctl_get_keyring_ID */
	int fake_session_once;	  /* answer the next session-keyring query with @us */
	int join_errno;		  /* fail keyctl_join_session_keyring */
	int setperm_errno;	  /* fail keyctl_setperm */
	int set_timeout_errno;	  /* fail keyctl_set_timeout */
	int link_errno;		  /* fail keyctl_link of anything but the user keyring */
	key_serial_t witness;	  /* a failing wrapper first links the key here */
	key_serial_t victim;	  /* the key a failing wrapper was called with */
	key_serial_t watch;	  /* a destination keyring to watch: */
	int linked_early;	  /* setperm/set_timeout saw the key already in it */
	char at_link[96];	  /* the description and expiry when linked into it */
} inj;

static void probe(key_serial_t id, key_serial_t ring);

key_serial_t __real_add_key(const char *type, const char *desc, const void *payload, size_t plen,
			    key_serial_t ring);
key_serial_t __wrap_add_key(const char *type, const char *desc, const void *payload, size_t plen,
			    key_serial_t ring);
key_serial_t __real_keyctl_get_keyring_ID(key_serial_t id, int create);
key_serial_t __wrap_keyctl_get_keyring_ID(key_serial_t id, int create);
key_serial_t __real_keyctl_join_session_keyring(const char *name);
key_serial_t __wrap_keyctl_join_session_keyring(const char *name);
long __real_keyctl_setperm(key_serial_t id, key_perm_t perm);
long __wrap_keyctl_setperm(key_serial_t id, key_perm_t perm);
long __real_keyctl_set_timeout(key_serial_t id, unsigned timeout);
long __wrap_keyctl_set_timeout(key_serial_t id, unsigned timeout);
long __real_keyctl_link(key_serial_t id, key_serial_t ring);
long __wrap_keyctl_link(key_serial_t id, key_serial_t ring);

key_serial_t __wrap_add_key(const char *type, const char *desc, const void *payload, size_t plen,
			    key_serial_t ring)
{
	if (inj.add_key_errno != 0 &&
	    (inj.add_key_type == NULL || strcmp(type, inj.add_key_type) == 0)) {
		errno = inj.add_key_errno;
		return -1;
	}
	return __real_add_key(type, desc, payload, plen, ring);
}

key_serial_t __wrap_keyctl_get_keyring_ID(key_serial_t id, int create)
{
	if (inj.get_id_errno != 0) {
		errno = inj.get_id_errno;
		return -1;
	}
	/* what the kernel answers for a process without a session keyring */
	if (inj.fake_session_once && id == KEY_SPEC_SESSION_KEYRING) {
		inj.fake_session_once = 0;
		return __real_keyctl_get_keyring_ID(KEY_SPEC_USER_SESSION_KEYRING, create);
	}
	return __real_keyctl_get_keyring_ID(id, create);
}

key_serial_t __wrap_keyctl_join_session_keyring(const char *name)
{
	if (inj.join_errno != 0) {
		errno = inj.join_errno;
		return -1;
	}
	return __real_keyctl_join_session_keyring(name);
}

/* Keeps the key a failing wrapper saw alive, so the test can see it revoked. */
static void keep(key_serial_t id)
{
	inj.victim = id;
	if (inj.witness > 0)
		assert_true(__real_keyctl_link(id, inj.witness) == 0);
}

long __wrap_keyctl_setperm(key_serial_t id, key_perm_t perm)
{
	probe(id, 0);
	if (inj.setperm_errno != 0) {
		keep(id);
		errno = inj.setperm_errno;
		return -1;
	}
	return __real_keyctl_setperm(id, perm);
}

long __wrap_keyctl_set_timeout(key_serial_t id, unsigned timeout)
{
	probe(id, 0);
	if (inj.set_timeout_errno != 0) {
		keep(id);
		errno = inj.set_timeout_errno;
		return -1;
	}
	return __real_keyctl_set_timeout(id, timeout);
}

long __wrap_keyctl_link(key_serial_t id, key_serial_t ring)
{
	probe(id, ring);
	if (inj.link_errno != 0 && id != KEY_SPEC_USER_KEYRING) {
		keep(id);
		errno = inj.link_errno;
		return -1;
	}
	return __real_keyctl_link(id, ring);
}

/* ---- helpers ------------------------------------------------------------------ */

static key_serial_t witness; /* keeps revoked/expired keys alive for checks */
static int real_branch = -1; /* -1: not runnable, 0: passed, 1: failed */
static char real_branch_msg[1024];

/* A fresh session id for each per-session keyring of this run. */
static const char *new_sid(void)
{
	static char sid[32];
	static unsigned n;

	snprintf(sid, sizeof(sid), "%08x%04x", (unsigned)getpid(), ++n);
	return sid;
}

static key_serial_t new_ring(int64_t timeout)
{
	char err[512] = "";
	key_serial_t ring = kr_session_create(new_sid(), timeout, err, sizeof(err));

	if (ring <= 0)
		fail_msg("kr_session_create: %s", err);
	return ring;
}

static key_serial_t add(key_serial_t ring, const char *name, const char *secret, int64_t timeout)
{
	char err[512] = "";
	key_serial_t k = kr_key_add(ring, name, secret, strlen(secret), timeout, err, sizeof(err));

	if (k <= 0)
		fail_msg("kr_key_add %s: %s", name, err);
	return k;
}

struct desc {
	char type[32];
	long uid, gid;
	unsigned long perm;
	char text[256];
};

/* keyctl_describe; returns 0 or the errno. */
static int describe(key_serial_t id, struct desc *d)
{
	char *buf = NULL;
	int n = 0;

	if (keyctl_describe_alloc(id, &buf) < 0)
		return errno;
	memset(d, 0, sizeof(*d));
	if (sscanf(buf, "%31[^;];%ld;%ld;%lx;%255[^\n]%n", d->type, &d->uid, &d->gid, &d->perm,
		   d->text, &n) != 5)
		fail_msg("unexpected description \"%s\"", buf);
	free(buf);
	return 0;
}

/* errno of keyctl_read(id), 0 when readable. */
static int read_errno(key_serial_t id)
{
	char buf[64];

	return keyctl_read(id, buf, sizeof(buf)) < 0 ? errno : 0;
}

/* Whether ring links id directly. */
static int links(key_serial_t ring, key_serial_t id)
{
	void *buf = NULL;
	long len = keyctl_read_alloc(ring, &buf);
	key_serial_t *ids = buf;
	int found = 0;
	long i;

	assert_true(len >= 0);
	for (i = 0; i < len / (long)sizeof(key_serial_t); i++)
		found |= ids[i] == id;
	free(buf);
	return found;
}

/* The expiry column of /proc/keys for id ("perm", "45s", "49m", ...). */
static void proc_keys_expiry(key_serial_t id, char *out, size_t len)
{
	char line[512], exp[16];
	unsigned serial;
	FILE *f = fopen("/proc/keys", "re");

	assert_non_null(f);
	snprintf(out, len, "(not listed)");
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%x %*s %*d %15s", &serial, exp) == 2 &&
		    (key_serial_t)serial == id) {
			snprintf(out, len, "%s", exp);
			break;
		}
	}
	fclose(f);
}

/* Seconds of an expiry column like "45s" / "49m" / "2h"; -1 for anything else. */
static long expiry_seconds(const char *exp)
{
	char unit = 0;
	long v;

	if (sscanf(exp, "%ld%c", &v, &unit) != 2)
		return -1;
	switch (unit) {
	case 's':
		return v;
	case 'm':
		return v * 60;
	case 'h':
		return v * 3600;
	case 'd':
		return v * 86400;
	case 'w':
		return v * 604800;
	default:
		return -1;
	}
}

static long read_sysctl(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/kernel/keys/%s", name);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/*
 * Runs fn in a forked child (which may change its ids and session
 * keyring); the child reports a failure as a message. Returns 0 when fn
 * returned 0, else fails the test with the child's message.
 */
typedef int (*child_fn)(void *arg, char *msg, size_t msglen);

static void in_child(child_fn fn, void *arg)
{
	char msg[1024] = "";
	int fds[2], status = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc;

		close(fds[0]);
		rc = fn(arg, msg, sizeof(msg));
		if (write(fds[1], msg, strlen(msg)) < 0)
			rc = 2;
		_exit(rc);
	}
	close(fds[1]);
	n = read(fds[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed (status 0x%x): %s", status, msg);
}

#define CHILD_CHECK(cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			snprintf(msg, msglen, __VA_ARGS__);                                        \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

/* Drops the child to nobody for good (groups, real, effective, saved). */
static int become_nobody(char *msg, size_t msglen)
{
	CHILD_CHECK(setgroups(0, NULL) == 0, "setgroups: %s", strerror(errno));
	CHILD_CHECK(setresgid(NOBODY, NOBODY, NOBODY) == 0, "setresgid: %s", strerror(errno));
	CHILD_CHECK(setresuid(NOBODY, NOBODY, NOBODY) == 0, "setresuid: %s", strerror(errno));
	return 0;
}

/* Installs a seccomp filter answering add_key/keyctl/request_key with err. */
static int block_keyrings(int err)
{
	/* No arch check: this only ever runs on the build architecture. */
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_keyctl, 3, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_add_key, 2, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_request_key, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
	};
	struct sock_fprog prog = {.len = (unsigned short)PA_ARRAY_SIZE(f), .filter = f};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/*
 * While a key is being made, records whether it is already reachable from
 * the watched keyring (setperm/set_timeout: it must not be), and what it
 * looks like when it is linked there (ring != 0: final permissions and a
 * timeout already).
 */
static void probe(key_serial_t id, key_serial_t ring)
{
	char *d = NULL, exp[16];
	void *buf = NULL;
	long len, i;

	if (inj.watch == 0)
		return;
	if (ring == 0) {
		len = keyctl_read_alloc(inj.watch, &buf);
		for (i = 0; i < len / (long)sizeof(key_serial_t); i++)
			inj.linked_early |= ((key_serial_t *)buf)[i] == id;
		free(buf);
		return;
	}
	if (ring < 0) /* KEY_SPEC_SESSION_KEYRING and the like */
		ring = __real_keyctl_get_keyring_ID(ring, 0);
	if (ring != inj.watch)
		return;
	proc_keys_expiry(id, exp, sizeof(exp));
	if (keyctl_describe_alloc(id, &d) < 0)
		snprintf(inj.at_link, sizeof(inj.at_link), "(describe: %s)", strerror(errno));
	else
		snprintf(inj.at_link, sizeof(inj.at_link), "%s expiry=%s", d, exp);
	free(d);
}

/* Keys and keyrings are never reachable before they have KR_PERM and a timeout. */
static void test_no_window(void **state)
{
	key_serial_t s = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0), ring, k;
	char err[512] = "", want[96], sid[32];

	(void)state;
	snprintf(sid, sizeof(sid), "%s", new_sid());
	memset(&inj, 0, sizeof(inj));
	inj.watch = s;
	ring = kr_session_create(sid, 600, err, sizeof(err));
	assert_true(ring > 0);
	assert_false(inj.linked_early);
	snprintf(want, sizeof(want),
		 "keyring;%lu;%lu;%08x;" KR_PREFIX "%s expiry=", (unsigned long)geteuid(),
		 (unsigned long)getegid(), KR_PERM, sid);
	if (strncmp(inj.at_link, want, strlen(want)) != 0 ||
	    expiry_seconds(inj.at_link + strlen(want)) < 540)
		fail_msg("per-session keyring when linked: %s", inj.at_link);

	memset(&inj, 0, sizeof(inj));
	inj.watch = ring;
	k = add(ring, "windowless", "x", 45);
	assert_false(inj.linked_early);
	snprintf(want, sizeof(want),
		 "user;%lu;%lu;%08x;" KR_PREFIX "windowless expiry=", (unsigned long)geteuid(),
		 (unsigned long)getegid(), KR_PERM);
	if (strncmp(inj.at_link, want, strlen(want)) != 0 ||
	    expiry_seconds(inj.at_link + strlen(want)) < 40)
		fail_msg("key %d when linked: %s", k, inj.at_link);
	memset(&inj, 0, sizeof(inj));
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
}

/* ---- kr_session_keyring_ensure ----------------------------------------------- */

/* Checks that ensure joined a new keyring owned by uid:gid with @u linked. */
static int check_joined(key_serial_t before, key_serial_t got, uid_t uid, gid_t gid, char *msg,
			size_t msglen)
{
	struct desc d;
	key_serial_t u;

	CHILD_CHECK(got > 0 && got != before, "ensure returned %d (session keyring was %d)", got,
		    before);
	CHILD_CHECK(keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0) == got,
		    "the new keyring %d is not the session keyring", got);
	CHILD_CHECK(describe(got, &d) == 0, "describe %d: %s", got, strerror(errno));
	CHILD_CHECK(strcmp(d.type, "keyring") == 0 && strcmp(d.text, "_ses") == 0,
		    "new session keyring is %s %s", d.type, d.text);
	CHILD_CHECK(d.uid == (long)uid && d.gid == (long)gid,
		    "new session keyring owned by %ld:%ld, expected %lu:%lu", d.uid, d.gid,
		    (unsigned long)uid, (unsigned long)gid);
	/* the user keyring of uid is NOT linked in (a planted key there
	 * would be found next to the session's own) */
	{
		void *buf = NULL;
		long len = keyctl_read_alloc(got, &buf);
		key_serial_t *ids = buf;
		char want[32];
		int found = 0;
		long i;

		snprintf(want, sizeof(want), "_uid.%lu", (unsigned long)uid);
		CHILD_CHECK(len >= 0, "read %d: %s", got, strerror(errno));
		for (i = 0; i < len / (long)sizeof(key_serial_t); i++) {
			u = ids[i];
			if (describe(u, &d) == 0 && strcmp(d.text, want) == 0)
				found = 1;
		}
		free(buf);
		CHILD_CHECK(!found, "%s is linked in the new session keyring", want);
	}
	return 0;
}

static int check_ids(uid_t r, uid_t e, uid_t s, gid_t rg, gid_t eg, gid_t sg, char *msg,
		     size_t msglen)
{
	uid_t ru, eu, su;
	gid_t rgg, egg, sgg;

	CHILD_CHECK(getresuid(&ru, &eu, &su) == 0 && getresgid(&rgg, &egg, &sgg) == 0, "getres*id");
	CHILD_CHECK(ru == r && eu == e && su == s, "uids are %lu/%lu/%lu, expected %lu/%lu/%lu",
		    (unsigned long)ru, (unsigned long)eu, (unsigned long)su, (unsigned long)r,
		    (unsigned long)e, (unsigned long)s);
	CHILD_CHECK(rgg == rg && egg == eg && sgg == sg,
		    "gids are %lu/%lu/%lu, expected %lu/%lu/%lu", (unsigned long)rgg,
		    (unsigned long)egg, (unsigned long)sgg, (unsigned long)rg, (unsigned long)eg,
		    (unsigned long)sg);
	return 0;
}

static void test_ensure_own_keyring(void **state)
{
	key_serial_t s = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	char err[512] = "", msg[256];

	(void)state;
	assert_int_equal(getresuid(&ru, &eu, &su), 0);
	assert_int_equal(getresgid(&rg, &eg, &sg), 0);
	/* the run's own session keyring, owned by us: returned unchanged */
	assert_int_equal(kr_session_keyring_ensure(getuid(), getgid(), err, sizeof(err)), s);
	assert_int_equal(keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0), s);
	if (check_ids(ru, eu, su, rg, eg, sg, msg, sizeof(msg)) != 0)
		fail_msg("%s", msg);
	/* and again: idempotent */
	assert_int_equal(kr_session_keyring_ensure(getuid(), getgid(), err, sizeof(err)), s);
}

static int child_user_session_simulated(void *arg, char *msg, size_t msglen)
{
	key_serial_t before = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0), got;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	char err[512] = "";

	(void)arg;
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	inj.fake_session_once = 1;
	got = kr_session_keyring_ensure(getuid(), getgid(), err, sizeof(err));
	CHILD_CHECK(got > 0, "ensure: %s", err);
	CHILD_CHECK(inj.fake_session_once == 0, "ensure never looked at the session keyring");
	if (check_joined(before, got, getuid(), getgid(), msg, msglen) != 0)
		return 1;
	return check_ids(ru, eu, su, rg, eg, sg, msg, msglen);
}

/*
 * The branch where the process has no session keyring of its own. From a
 * process that already has one, no system call gives the user-session
 * keyring back as the session keyring (joining "_uid_ses.<uid>" by name
 * makes a new keyring of that name since Linux 4.14), so the kernel's
 * answer in that state -- the session-keyring query returns the serial of
 * the user-session keyring -- is simulated once through the wrapper.
 * Everything after it (id switch, join, link, restore) is real.
 * test_ensure_user_session_real covers the unsimulated state when the
 * program starts without a session keyring of its own.
 */
static void test_ensure_user_session_simulated(void **state)
{
	(void)state;
	in_child(child_user_session_simulated, NULL);
}

static void test_ensure_user_session_real(void **state)
{
	(void)state;
	if (real_branch < 0) {
		print_message(
		    "      (this run started in its own session keyring: "
		    "the unsimulated user-session branch needs a start without one, "
		    "e.g. the test binary run directly from a shell without pam_keyinit)\n");
		skip();
	}
	if (real_branch != 0)
		fail_msg("%s", real_branch_msg);
}

/* Run from group setup, before the program joins its own session keyring. */
static int child_user_session_real(void *arg, char *msg, size_t msglen)
{
	key_serial_t before = keyctl_get_keyring_ID(KEY_SPEC_USER_SESSION_KEYRING, 0), got;
	char err[512] = "";

	(void)arg;
	got = kr_session_keyring_ensure(getuid(), getgid(), err, sizeof(err));
	CHILD_CHECK(got > 0, "ensure: %s", err);
	return check_joined(before, got, getuid(), getgid(), msg, msglen);
}

static int child_other_user(void *arg, char *msg, size_t msglen)
{
	key_serial_t before = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0), got, ring;
	char err[512] = "";
	struct desc d;

	(void)arg;
	/* root's session keyring is not nobody's: ensure makes nobody one */
	got = kr_session_keyring_ensure(NOBODY, NOBODY, err, sizeof(err));
	CHILD_CHECK(got > 0, "ensure: %s", err);
	if (check_joined(before, got, NOBODY, NOBODY, msg, msglen) != 0)
		return 1;
	if (check_ids(0, 0, 0, 0, 0, 0, msg, msglen) != 0)
		return 1;
	/* a second call keeps it */
	CHILD_CHECK(kr_session_keyring_ensure(NOBODY, NOBODY, err, sizeof(err)) == got,
		    "second ensure: %s", err);
	/* the per-session keyring made by root in it is root's */
	ring = kr_session_create(new_sid(), 60, err, sizeof(err));
	CHILD_CHECK(ring > 0, "kr_session_create: %s", err);
	CHILD_CHECK(describe(ring, &d) == 0 && d.uid == 0 && d.gid == 0 && d.perm == KR_PERM,
		    "per-session keyring is %ld:%ld %08lx", d.uid, d.gid, d.perm);
	return 0;
}

static int child_other_user_refused(void *arg, char *msg, size_t msglen)
{
	key_serial_t before = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
	uid_t other = getuid() == NOBODY ? NOBODY - 1 : NOBODY;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	char err[512] = "";

	(void)arg;
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	CHILD_CHECK(kr_session_keyring_ensure(other, getgid(), err, sizeof(err)) == -1,
		    "a non-root process made a session keyring for uid %lu", (unsigned long)other);
	CHILD_CHECK(strstr(err, "cannot switch the real uid") != NULL, "message: %s", err);
	CHILD_CHECK(keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0) == before,
		    "session keyring changed");
	return check_ids(ru, eu, su, rg, eg, sg, msg, msglen);
}

static void test_ensure_other_user(void **state)
{
	(void)state;
	if (geteuid() == 0)
		in_child(child_other_user, NULL);
	else
		in_child(child_other_user_refused, NULL);
}

/*
 * kr_session_keyring_new: a new session keyring owned by root with
 * KR_SESSION_PERM, whatever the caller's real ids (a setuid-root caller
 * such as su has the user's), inheriting nothing from the caller's
 * keyring; a process of the user inside it reads its keys but can neither
 * link the keyring into its user keyring nor change its permissions.
 */
static int child_new_keyring(void *arg, char *msg, size_t msglen)
{
	uid_t real = *(uid_t *)arg;
	key_serial_t before, planted, got, again, ring, k, found;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	struct desc d;
	char err[512] = "", sid[32], buf[16];
	long n;
	int status;
	pid_t pid;

	/* a key of the caller's session keyring, as a root login's would be */
	planted = add_key("user", KR_PREFIX "planted", "caller-secret", 13, KEY_SPEC_SESSION_KEYRING);
	CHILD_CHECK(planted > 0, "add_key planted: %s", strerror(errno));
	if (real != 0)
		CHILD_CHECK(setresuid(real, (uid_t)-1, (uid_t)-1) == 0 &&
				setresgid(real, (gid_t)-1, (gid_t)-1) == 0,
			    "setres*id: %s", strerror(errno));
	before = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	got = kr_session_keyring_new(err, sizeof(err));
	CHILD_CHECK(got > 0 && got != before, "kr_session_keyring_new: %d %s", got, err);
	CHILD_CHECK(keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0) == got,
		    "the new keyring %d is not the session keyring", got);
	if (check_ids(ru, eu, su, rg, eg, sg, msg, msglen) != 0)
		return 1;
	CHILD_CHECK(describe(got, &d) == 0, "describe %d: %s", got, strerror(errno));
	CHILD_CHECK(strcmp(d.type, "keyring") == 0 && d.uid == 0 && d.gid == 0 &&
			d.perm == KR_SESSION_PERM,
		    "new session keyring is %s;%ld;%ld;%08lx, expected keyring;0;0;%08x", d.type,
		    d.uid, d.gid, d.perm, KR_SESSION_PERM);
	found = (key_serial_t)keyctl_search(KEY_SPEC_SESSION_KEYRING, "user", KR_PREFIX "planted", 0);
	CHILD_CHECK(found < 0 && errno == ENOKEY,
		    "the caller's key %d is reachable from the new session keyring (search: %d)",
		    planted, found);
	again = kr_session_keyring_new(err, sizeof(err));
	CHILD_CHECK(again > 0 && again != got, "second kr_session_keyring_new: %d %s", again, err);
	if (check_ids(ru, eu, su, rg, eg, sg, msg, msglen) != 0)
		return 1;

	/* a key placed as the module does, then a process of nobody inside */
	snprintf(sid, sizeof(sid), "%s", new_sid());
	ring = kr_session_create(sid, 600, err, sizeof(err));
	CHILD_CHECK(ring > 0, "kr_session_create: %s", err);
	k = kr_key_add(ring, "inside", "in", 2, 60, err, sizeof(err));
	CHILD_CHECK(k > 0, "kr_key_add: %s", err);
	fflush(NULL);
	pid = fork();
	CHILD_CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		key_serial_t id;

		if (setgroups(0, NULL) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) != 0)
			_exit(10);
		id = (key_serial_t)keyctl_search(KEY_SPEC_SESSION_KEYRING, "user",
						 KR_PREFIX "inside", 0);
		if (id != k || keyctl_read(id, buf, sizeof(buf)) != 2)
			_exit(11); /* the agent reads its key */
		if (keyctl_link(KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING) == 0 ||
		    errno != EACCES)
			_exit(12); /* keyctl link @s @u */
		if (keyctl_setperm(KEY_SPEC_SESSION_KEYRING, 0x3f3f3f3f) == 0)
			_exit(13);
		if (keyctl_chown(KEY_SPEC_SESSION_KEYRING, NOBODY, (gid_t)-1) == 0)
			_exit(14);
		_exit(0);
	}
	CHILD_CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	n = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	CHILD_CHECK(n == 0, "as nobody inside the session: step %ld failed (11: read its key, "
		    "12: link @s @u refused, 13: setperm refused, 14: chown refused)", n);
	CHILD_CHECK(kr_session_revoke(ring, err, sizeof(err)) == 0, "revoke: %s", err);
	(void)keyctl_revoke(planted);
	return 0;
}

/* Without root: a new keyring owned by the effective ids, same permissions. */
static int child_new_keyring_user(void *arg, char *msg, size_t msglen)
{
	key_serial_t before = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0), got;
	char err[512] = "";
	struct desc d;

	(void)arg;
	got = kr_session_keyring_new(err, sizeof(err));
	CHILD_CHECK(got > 0 && got != before, "kr_session_keyring_new: %d %s", got, err);
	CHILD_CHECK(describe(got, &d) == 0 && d.uid == (long)geteuid() &&
			d.gid == (long)getegid() && d.perm == KR_SESSION_PERM,
		    "new session keyring is %ld:%ld %08lx", d.uid, d.gid, d.perm);
	CHILD_CHECK(keyctl_link(KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING) < 0 &&
			errno == EACCES,
		    "link @s @u: %s", strerror(errno));
	return 0;
}

static void test_new_keyring(void **state)
{
	uid_t real = 0;

	(void)state;
	if (geteuid() != 0) {
		in_child(child_new_keyring_user, NULL);
		return;
	}
	in_child(child_new_keyring, &real);
	/* a setuid-root caller: the user's real ids, effective root */
	real = NOBODY;
	in_child(child_new_keyring, &real);
}

static int child_ensure_errors(void *arg, char *msg, size_t msglen)
{
	uid_t target = *(uid_t *)arg;
	const char *root = target == 0 ? "root_" : "";
	char err[1024] = "", want[64];
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);

	inj.get_id_errno = ENOSYS;
	CHILD_CHECK(kr_session_keyring_ensure(target, target, err, sizeof(err)) == -1, "ENOSYS");
	inj.get_id_errno = 0;
	CHILD_CHECK(strstr(err, "kernel keyrings are not available (ENOSYS): kernel built without "
				"CONFIG_KEYS?") != NULL,
		    "ENOSYS message: %s", err);

	inj.fake_session_once = 1;
	inj.join_errno = EDQUOT;
	CHILD_CHECK(kr_session_keyring_ensure(target, target, err, sizeof(err)) == -1, "EDQUOT");
	CHILD_CHECK(strstr(err, "EDQUOT") != NULL, "EDQUOT message: %s", err);
	snprintf(want, sizeof(want), "kernel.keys.%smaxkeys (now %ld)", root,
		 read_sysctl(target == 0 ? "root_maxkeys" : "maxkeys"));
	CHILD_CHECK(strstr(err, want) != NULL, "EDQUOT message lacks \"%s\": %s", want, err);
	snprintf(want, sizeof(want), "kernel.keys.%smaxbytes (now %ld)", root,
		 read_sysctl(target == 0 ? "root_maxbytes" : "maxbytes"));
	CHILD_CHECK(strstr(err, want) != NULL, "EDQUOT message lacks \"%s\": %s", want, err);
	snprintf(want, sizeof(want), "key quota of uid %lu exceeded", (unsigned long)target);
	CHILD_CHECK(strstr(err, want) != NULL, "EDQUOT message lacks \"%s\": %s", want, err);
	if (check_ids(ru, eu, su, rg, eg, sg, msg, msglen) != 0)
		return 1;

	/* EPERM without a seccomp filter is not blamed on one */
	inj.fake_session_once = 1;
	inj.join_errno = EPERM;
	CHILD_CHECK(kr_session_keyring_ensure(target, target, err, sizeof(err)) == -1, "EPERM");
	CHILD_CHECK(strstr(err, "operation not permitted (EPERM)") != NULL &&
			strstr(err, "seccomp") == NULL,
		    "EPERM message: %s", err);
	inj.join_errno = 0;
	return check_ids(ru, eu, su, rg, eg, sg, msg, msglen);
}

static void test_ensure_errors(void **state)
{
	uid_t target = getuid();

	(void)state;
	in_child(child_ensure_errors, &target);
	if (geteuid() == 0) {
		/* the quota named is the target's, not root's */
		target = NOBODY;
		in_child(child_ensure_errors, &target);
	}
}

/* ---- create, add, list, revoke ------------------------------------------------- */

static void test_round_trip(void **state)
{
	static const char *const names[] = {"tickets-ro", "tickets-rw", "legacy.db_1"};
	static const char *const secrets[] = {"s3cr3t-ro", "s3cr3t-rw", "hunter2"};
	struct kr_entry e[8];
	key_serial_t ring, keys[3];
	char err[512] = "", buf[64];
	const char *sid;
	size_t i, j;
	int n;

	(void)state;
	sid = new_sid();
	ring = kr_session_create(sid, 600, err, sizeof(err));
	assert_true(ring > 0);
	assert_true(links(KEY_SPEC_SESSION_KEYRING, ring));
	assert_int_equal(kr_session_find(sid, err, sizeof(err)), ring);
	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), 0);

	for (i = 0; i < 3; i++)
		keys[i] = add(ring, names[i], secrets[i], 60);
	n = kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err));
	assert_int_equal(n, 3);
	for (i = 0; i < 3; i++) {
		for (j = 0; j < 3 && e[j].serial != keys[i]; j++)
			;
		assert_true(j < 3);
		assert_string_equal(e[j].name, names[i]);
		assert_int_equal(e[j].uid, geteuid());
		assert_int_equal(e[j].gid, getegid());
		assert_int_equal(e[j].perm, KR_PERM);
		/* the kernel holds exactly the secret */
		memset(buf, 0, sizeof(buf));
		assert_int_equal(keyctl_read(keys[i], buf, sizeof(buf)), strlen(secrets[i]));
		assert_string_equal(buf, secrets[i]);
		/* linked in the ring, not in the session keyring itself */
		assert_true(links(ring, keys[i]));
		assert_false(links(KEY_SPEC_SESSION_KEYRING, keys[i]));
	}
	/* nothing left behind in the thread keyring */
	{
		void *tbuf = NULL;
		long len = keyctl_read_alloc(KEY_SPEC_THREAD_KEYRING, &tbuf);

		assert_int_equal(len, 0);
		free(tbuf);
	}
	assert_int_equal(kr_revoke(keys[0], err, sizeof(err)), 0);
	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), 2);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
	assert_int_equal(kr_session_find(sid, err, sizeof(err)), 0);
	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "EKEYREVOKED"));
}

static void test_perms_and_timeouts(void **state)
{
	key_serial_t ring, timed_ring, key;
	struct desc d;
	char exp[32], err[512] = "";
	long secs;

	(void)state;
	ring = new_ring(0);
	timed_ring = new_ring(3000);
	key = add(ring, "perm-check", "x", 45);

	assert_int_equal(describe(ring, &d), 0);
	assert_string_equal(d.type, "keyring");
	assert_int_equal(d.perm, KR_PERM);
	assert_int_equal(d.uid, geteuid());
	assert_int_equal(d.gid, getegid());
	assert_int_equal(strncmp(d.text, KR_PREFIX, strlen(KR_PREFIX)), 0);

	assert_int_equal(describe(key, &d), 0);
	assert_string_equal(d.type, "user");
	assert_string_equal(d.text, KR_PREFIX "perm-check");
	assert_int_equal(d.perm, 0x0b3f0000);
	assert_int_equal(d.uid, geteuid());
	assert_int_equal(d.gid, getegid());

	/* /proc/keys shows the remaining lifetime the kernel enforces */
	proc_keys_expiry(key, exp, sizeof(exp));
	secs = expiry_seconds(exp);
	if (secs < 40 || secs > 45)
		fail_msg("key %d expiry in /proc/keys is \"%s\", expected 40s..45s", key, exp);
	proc_keys_expiry(timed_ring, exp, sizeof(exp));
	secs = expiry_seconds(exp);
	if (secs < 2940 || secs > 3000)
		fail_msg("keyring %d expiry in /proc/keys is \"%s\", expected 49m/50m", timed_ring,
			 exp);
	proc_keys_expiry(ring, exp, sizeof(exp));
	assert_string_equal(exp, "perm");

	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
	assert_int_equal(kr_session_revoke(timed_ring, err, sizeof(err)), 0);
}

static void test_bad_names_and_sids(void **state)
{
	static const char *const bad_names[] = {
	    "",
	    "a b",
	    "a;b",
	    "a/b",
	    "a:b",
	    "caf\xc3\xa9",
	    "tab\t",
	    "line\n",
	    "%user",
	    "a\"b",
	    "0123456789012345678901234567890123456789012345678901234567890123x",
	};
	static const char *const bad_sids[] = {
	    "",	    "xyz",
	    "12 3", "0x12",
	    "abcg", "../..",
	    "a;b",  "00000000000000000000000000000000000000000000000000000000000000001",
	};
	static const char name64[] =
	    "0123456789012345678901234567890123456789012345678901234567890123";
	struct kr_entry e[2];
	char err[512] = "";
	key_serial_t ring, k, r2;
	size_t i;

	(void)state;
	ring = new_ring(60);
	for (i = 0; i < PA_ARRAY_SIZE(bad_names); i++) {
		err[0] = '\0';
		if (kr_key_add(ring, bad_names[i], "x", 1, 60, err, sizeof(err)) != -1)
			fail_msg("name \"%s\" accepted", bad_names[i]);
		if (strstr(err, "invalid credential name") == NULL)
			fail_msg("name \"%s\": %s", bad_names[i], err);
	}
	/* the message escapes what it quotes */
	kr_key_add(ring, "line\n", "x", 1, 60, err, sizeof(err));
	assert_non_null(strstr(err, "\"line\\x0a\""));
	assert_int_equal(kr_key_add(ring, NULL, "x", 1, 60, err, sizeof(err)), -1);
	/* other arguments */
	assert_int_equal(kr_key_add(ring, "ok", "x", 1, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "needs a timeout"));
	assert_int_equal(kr_key_add(ring, "ok", "x", 1, -5, err, sizeof(err)), -1);
	assert_int_equal(kr_key_add(ring, "ok", "x", 1, (int64_t)UINT_MAX + 1, err, sizeof(err)),
			 -1);
	assert_int_equal(kr_key_add(ring, "ok", "x", 0, 60, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "holds 1 to 32767"));
	assert_int_equal(kr_key_add(ring, "ok", NULL, 1, 60, err, sizeof(err)), -1);
	assert_int_equal(kr_key_add(0, "ok", "x", 1, 60, err, sizeof(err)), -1);
	assert_int_equal(kr_key_add(KEY_SPEC_SESSION_KEYRING, "ok", "x", 1, 60, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "invalid keyring serial"));
	{
		char *big = calloc(1, 32768);

		assert_non_null(big);
		assert_int_equal(kr_key_add(ring, "ok", big, 32768, 60, err, sizeof(err)), -1);
		free(big);
	}
	/* nothing of the above reached the kernel */
	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), 0);
	/* the longest name is fine */
	k = add(ring, name64, "x", 60);
	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), 1);
	assert_int_equal(e[0].serial, k);
	assert_string_equal(e[0].name, name64);

	for (i = 0; i < PA_ARRAY_SIZE(bad_sids); i++) {
		err[0] = '\0';
		if (kr_session_create(bad_sids[i], 60, err, sizeof(err)) != -1)
			fail_msg("sid \"%s\" accepted", bad_sids[i]);
		if (strstr(err, "invalid session id") == NULL)
			fail_msg("sid \"%s\": %s", bad_sids[i], err);
		if (kr_session_find(bad_sids[i], err, sizeof(err)) != -1)
			fail_msg("kr_session_find accepted sid \"%s\"", bad_sids[i]);
	}
	assert_int_equal(kr_session_create(NULL, 60, err, sizeof(err)), -1);
	assert_int_equal(kr_session_create("abc", -1, err, sizeof(err)), -1);
	/* 64 hex digits, either case */
	r2 = kr_session_create("0123456789abcdefABCDEF0123456789abcdefABCDEF0123456789abcdef0123",
			       60, err, sizeof(err));
	if (r2 <= 0)
		fail_msg("64-digit sid: %s", err);
	assert_int_equal(kr_session_revoke(r2, err, sizeof(err)), 0);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
}

static void test_duplicates(void **state)
{
	key_serial_t ring, k, again;
	char err[512] = "", buf[16] = "", sid[32];

	(void)state;
	snprintf(sid, sizeof(sid), "%s", new_sid());
	ring = kr_session_create(sid, 60, err, sizeof(err));
	assert_true(ring > 0);
	k = add(ring, "dup", "first", 60);
	again = kr_key_add(ring, "dup", "second", 6, 60, err, sizeof(err));
	assert_int_equal(again, -1);
	assert_non_null(strstr(err, "already exists"));
	assert_non_null(strstr(err, "refusing to replace it"));
	/* the first one is untouched (add_key would have updated it in place) */
	assert_int_equal(keyctl_read(k, buf, sizeof(buf) - 1), 5);
	assert_string_equal(buf, "first");
	/* a revoked key of that name does not block a new one */
	assert_int_equal(kr_revoke(k, err, sizeof(err)), 0);
	again = add(ring, "dup", "third", 60);
	assert_true(again != k);
	/* a second per-session keyring with the same sid is refused too */
	assert_int_equal(kr_session_create(sid, 60, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already exists in the session keyring"));
	assert_int_equal(kr_session_find(sid, err, sizeof(err)), ring);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
}

static void test_revoke_twice(void **state)
{
	key_serial_t ring, k;
	char err[512] = "";

	(void)state;
	ring = new_ring(60);
	k = add(ring, "twice", "x", 60);
	assert_int_equal(keyctl_link(k, witness), 0);
	assert_int_equal(kr_revoke(k, err, sizeof(err)), 0);
	assert_int_equal(read_errno(k), EKEYREVOKED);
	assert_int_equal(kr_revoke(k, err, sizeof(err)), 0);
	assert_int_equal(kr_revoke(ring, err, sizeof(err)), 0);
	assert_int_equal(kr_revoke(ring, err, sizeof(err)), 0);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
	/* a serial that never existed counts as gone */
	assert_int_equal(kr_revoke(0x7ffffff0, err, sizeof(err)), 0);
	assert_int_equal(kr_revoke(0, err, sizeof(err)), -1);
	assert_int_equal(kr_revoke(KEY_SPEC_SESSION_KEYRING, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid key serial"));
	assert_int_equal(kr_session_revoke(-1, err, sizeof(err)), -1);
}

static void test_session_revoke_all(void **state)
{
	key_serial_t ring, k[4];
	struct kr_entry e[4];
	char err[512] = "";
	size_t i;

	(void)state;
	ring = new_ring(600);
	k[0] = add(ring, "a", "1", 60);
	k[1] = add(ring, "b", "2", 60);
	k[2] = add(ring, "c", "3", 60);
	k[3] = ring;
	/* the witness keeps them alive after the ring is emptied */
	for (i = 0; i < 4; i++)
		assert_int_equal(keyctl_link(k[i], witness), 0);
	assert_int_equal(kr_revoke(k[1], err, sizeof(err)), 0); /* one already revoked */
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
	for (i = 0; i < 4; i++)
		if (read_errno(k[i]) != EKEYREVOKED)
			fail_msg("key %d: read gives %s, not EKEYREVOKED", k[i],
				 strerror(read_errno(k[i])));
	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), -1);
	/* and once more: all gone is success */
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
}

static void test_expiry(void **state)
{
	key_serial_t ring, k;
	struct kr_entry e[2];
	char err[512] = "";

	(void)state;
	ring = new_ring(60);
	k = add(ring, "short", "x", 1);
	assert_int_equal(keyctl_link(k, witness), 0);
	assert_int_equal(read_errno(k), 0);
	sleep(2);
	assert_int_equal(read_errno(k), EKEYEXPIRED);
	/* not listed any more, revoking it is fine, its name is free again */
	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), 0);
	assert_int_equal(kr_revoke(k, err, sizeof(err)), 0);
	assert_true(add(ring, "short", "y", 60) > 0);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
}

static void test_list_max_and_find(void **state)
{
	struct kr_entry e[2];
	key_serial_t ring;
	char err[512] = "", sid[32];

	(void)state;
	snprintf(sid, sizeof(sid), "%s", new_sid());
	ring = kr_session_create(sid, 60, err, sizeof(err));
	assert_true(ring > 0);
	add(ring, "one", "1", 60);
	add(ring, "two", "2", 60);
	add(ring, "three", "3", 60);
	/* a foreign entry is not a credential */
	assert_true(add_key("user", "other:thing", "z", 1, ring) > 0);
	memset(e, 0, sizeof(e));
	assert_int_equal(kr_list(ring, e, 2, err, sizeof(err)), 3);
	assert_true(e[0].serial > 0 && e[1].serial > 0);
	assert_int_equal(kr_list(ring, NULL, 0, err, sizeof(err)), 3);
	assert_int_equal(kr_list(0, e, 2, err, sizeof(err)), -1);
	assert_int_equal(kr_session_find(sid, err, sizeof(err)), ring);
	assert_int_equal(kr_session_find("deadbeef", err, sizeof(err)), 0);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
	assert_int_equal(kr_session_find(sid, err, sizeof(err)), 0);
}

/* The session keyring must be the process's own before anything is placed. */
static int child_no_own_session(void *arg, char *msg, size_t msglen)
{
	char err[512] = "";

	(void)arg;
	inj.fake_session_once = 1;
	CHILD_CHECK(kr_session_create(new_sid(), 60, err, sizeof(err)) == -1,
		    "per-session keyring placed in the user-session keyring");
	CHILD_CHECK(strstr(err, "user-session keyring") != NULL, "message: %s", err);
	return 0;
}

static void test_create_needs_own_session(void **state)
{
	(void)state;
	in_child(child_no_own_session, NULL);
}

/* ---- failures -------------------------------------------------------------------- */

static void expect_quota_message(const char *err, uid_t uid)
{
	const char *root = uid == 0 ? "root_" : "";
	char want[96];

	if (strstr(err, "EDQUOT") == NULL)
		fail_msg("no EDQUOT in: %s", err);
	snprintf(want, sizeof(want), "kernel.keys.%smaxkeys (now %ld)", root,
		 read_sysctl(uid == 0 ? "root_maxkeys" : "maxkeys"));
	if (strstr(err, want) == NULL)
		fail_msg("no \"%s\" in: %s", want, err);
	snprintf(want, sizeof(want), "kernel.keys.%smaxbytes (now %ld)", root,
		 read_sysctl(uid == 0 ? "root_maxbytes" : "maxbytes"));
	if (strstr(err, want) == NULL)
		fail_msg("no \"%s\" in: %s", want, err);
	if (strstr(err, "/proc/key-users") == NULL)
		fail_msg("no /proc/key-users in: %s", err);
}

static void test_inject_add_key(void **state)
{
	struct kr_entry e[2];
	key_serial_t ring;
	char err[1024] = "";

	(void)state;
	ring = new_ring(60);

	inj.add_key_type = "user";
	inj.add_key_errno = EDQUOT;
	assert_int_equal(kr_key_add(ring, "q", "x", 1, 60, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot add user pam_agent:q"));
	expect_quota_message(err, geteuid());

	inj.add_key_errno = ENOSYS;
	assert_int_equal(kr_key_add(ring, "q", "x", 1, 60, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "kernel keyrings are not available (ENOSYS): kernel built "
				    "without CONFIG_KEYS?"));

	inj.add_key_errno = EACCES;
	assert_int_equal(kr_key_add(ring, "q", "x", 1, 60, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "permission denied (EACCES)"));

	/* the staging keyring failing is reported the same way */
	inj.add_key_type = "keyring";
	inj.add_key_errno = EDQUOT;
	assert_int_equal(kr_key_add(ring, "q", "x", 1, 60, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "staging keyring"));
	expect_quota_message(err, geteuid());
	assert_int_equal(kr_session_create(new_sid(), 60, err, sizeof(err)), -1);
	expect_quota_message(err, geteuid());
	inj.add_key_errno = 0;
	inj.add_key_type = NULL;

	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), 0);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
}

/* A key whose permissions, timeout or link fail is revoked, never left. */
static void test_inject_half_made_key_revoked(void **state)
{
	int *const knobs[] = {&inj.setperm_errno, &inj.set_timeout_errno, &inj.link_errno};
	static const char *const what[] = {"cannot set permissions 0b3f0000",
					   "cannot set a timeout of 60 s", "cannot link"};
	struct kr_entry e[2];
	key_serial_t ring;
	char err[1024] = "";
	size_t i;

	(void)state;
	ring = new_ring(60);
	inj.witness = witness;
	for (i = 0; i < PA_ARRAY_SIZE(knobs); i++) {
		inj.victim = 0;
		*knobs[i] = EACCES; /* read by the injected keyctl wrappers */
		assert_int_equal(kr_key_add(ring, "half", "secret", 6, 60, err, sizeof(err)), -1);
		/* cppcheck-suppress redundantAssignment ; the wrappers read it */
		*knobs[i] = 0;
		if (strstr(err, what[i]) == NULL || strstr(err, "EACCES") == NULL)
			fail_msg("step %zu: %s", i, err);
		assert_true(inj.victim > 0);
		if (read_errno(inj.victim) != EKEYREVOKED)
			fail_msg("step %zu: key %d left %s", i, inj.victim,
				 strerror(read_errno(inj.victim)));
		assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), 0);
	}
	/* the same for a per-session keyring */
	inj.victim = 0;
	inj.set_timeout_errno = EDQUOT;
	assert_int_equal(kr_session_create(new_sid(), 60, err, sizeof(err)), -1);
	inj.set_timeout_errno = 0;
	assert_true(inj.victim > 0);
	assert_int_equal(read_errno(inj.victim), EKEYREVOKED);
	assert_false(links(KEY_SPEC_SESSION_KEYRING, inj.victim));
	inj.witness = 0;
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
}

/* Real EACCES: a keyring the caller may not write to. */
static void test_real_eacces(void **state)
{
	key_serial_t ring;
	char err[1024] = "";

	(void)state;
	ring = new_ring(60);
	/* possessor and owner may view, read, search: no write, no setattr */
	assert_int_equal(keyctl_setperm(ring, 0x0b0b0000), 0);
	assert_int_equal(kr_key_add(ring, "denied", "x", 1, 60, err, sizeof(err)), -1);
	if (strstr(err, "cannot link") == NULL || strstr(err, "permission denied (EACCES)") == NULL)
		fail_msg("%s", err);
	assert_int_equal(kr_revoke(ring, err, sizeof(err)), -1);
	if (strstr(err, "cannot revoke key") == NULL || strstr(err, "EACCES") == NULL)
		fail_msg("%s", err);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), -1);
	if (strstr(err, "could not revoke keyring") == NULL)
		fail_msg("%s", err);
	/* out of the session keyring it goes (we may write that one) */
	assert_int_equal(keyctl_unlink(ring, KEY_SPEC_SESSION_KEYRING), 0);
}

/* Real EDQUOT: one key larger than the byte quota of an unprivileged uid. */
static int child_real_edquot(void *arg, char *msg, size_t msglen)
{
	static char big[32767];
	key_serial_t ring;
	char err[1024] = "";

	(void)arg;
	if (geteuid() == 0 && become_nobody(msg, msglen) != 0)
		return 1;
	CHILD_CHECK(keyctl_join_session_keyring(NULL) > 0, "join: %s", strerror(errno));
	ring = kr_session_create(new_sid(), 60, err, sizeof(err));
	CHILD_CHECK(ring > 0, "kr_session_create: %s", err);
	memset(big, 'q', sizeof(big));
	CHILD_CHECK(kr_key_add(ring, "big", big, sizeof(big), 60, err, sizeof(err)) == -1,
		    "a %zu-byte key fit in the quota", sizeof(big));
	CHILD_CHECK(strstr(err, "EDQUOT") != NULL && strstr(err, "kernel.keys.maxbytes") != NULL,
		    "message: %s", err);
	CHILD_CHECK(strstr(err, "root_") == NULL, "message names root's quota: %s", err);
	return 0;
}

static void test_real_edquot(void **state)
{
	long maxbytes = read_sysctl("maxbytes");

	(void)state;
	if (geteuid() != 0 && getuid() == 0) {
		print_message("      (needs real and effective uid to agree)\n");
		skip();
	}
	if (maxbytes < 0 || maxbytes > 32000) {
		print_message("      (kernel.keys.maxbytes = %ld: one user key cannot exceed it)\n",
			      maxbytes);
		skip();
	}
	in_child(child_real_edquot, NULL);
}

/* Real EPERM / ENOSYS from a seccomp filter, as in a container. */
static int child_seccomp(void *arg, char *msg, size_t msglen)
{
	int e = *(int *)arg;
	char err[1024] = "";

	CHILD_CHECK(block_keyrings(e) == 0, "seccomp: %s", strerror(errno));
	CHILD_CHECK(kr_session_keyring_ensure(getuid(), getgid(), err, sizeof(err)) == -1,
		    "ensure worked under the filter");
	if (e == EPERM) {
		CHILD_CHECK(strstr(err, "operation not permitted (EPERM)") != NULL &&
				strstr(err, "seccomp filter") != NULL &&
				strstr(err, "container runtime") != NULL,
			    "EPERM message: %s", err);
	} else {
		CHILD_CHECK(strstr(err, "kernel keyrings are not available (ENOSYS)") != NULL &&
				strstr(err, "seccomp filter") != NULL,
			    "ENOSYS message: %s", err);
	}
	CHILD_CHECK(kr_session_create(new_sid(), 60, err, sizeof(err)) == -1, "create worked");
	CHILD_CHECK(strstr(err, e == EPERM ? "(EPERM)" : "(ENOSYS)") != NULL, "create: %s", err);
	CHILD_CHECK(kr_key_add(witness, "x", "x", 1, 60, err, sizeof(err)) == -1, "add worked");
	CHILD_CHECK(strstr(err, e == EPERM ? "(EPERM)" : "(ENOSYS)") != NULL, "add: %s", err);
	return 0;
}

static void test_real_seccomp(void **state)
{
	int e;

	(void)state;
	e = EPERM;
	in_child(child_seccomp, &e);
	e = ENOSYS;
	in_child(child_seccomp, &e);
}

/* ---- setup --------------------------------------------------------------------- */

static int group_setup(void **state)
{
	char err[512] = "";
	key_serial_t s, us;

	(void)state;
	s = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
	us = keyctl_get_keyring_ID(KEY_SPEC_USER_SESSION_KEYRING, 0);
	if (s < 0 || us < 0) {
		fprintf(stderr, "kernel keyrings unavailable: %s\n", strerror(errno));
		return -1;
	}
	if (s == us) {
		/* started without a session keyring of its own: the real
		 * user-session branch can be tested, then join one */
		pid_t pid;
		int fds[2], status = 0;
		ssize_t n;

		if (pipe(fds) != 0)
			return -1;
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			int rc;

			close(fds[0]);
			rc =
			    child_user_session_real(NULL, real_branch_msg, sizeof(real_branch_msg));
			if (write(fds[1], real_branch_msg, strlen(real_branch_msg)) < 0)
				rc = 2;
			_exit(rc);
		}
		close(fds[1]);
		n = read(fds[0], real_branch_msg, sizeof(real_branch_msg) - 1);
		real_branch_msg[n > 0 ? n : 0] = '\0';
		close(fds[0]);
		if (pid < 0 || waitpid(pid, &status, 0) != pid)
			return -1;
		real_branch = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
		if (kr_session_keyring_ensure(getuid(), getgid(), err, sizeof(err)) < 0) {
			fprintf(stderr, "ensure: %s\n", err);
			return -1;
		}
	}
	witness = add_key("keyring", "test:witness", NULL, 0, KEY_SPEC_SESSION_KEYRING);
	return witness > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	keyctl_revoke(witness);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ensure_own_keyring),
	    cmocka_unit_test(test_ensure_user_session_simulated),
	    cmocka_unit_test(test_ensure_user_session_real),
	    cmocka_unit_test(test_ensure_other_user),
	    cmocka_unit_test(test_ensure_errors),
	    cmocka_unit_test(test_new_keyring),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_no_window),
	    cmocka_unit_test(test_perms_and_timeouts),
	    cmocka_unit_test(test_bad_names_and_sids),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_revoke_twice),
	    cmocka_unit_test(test_session_revoke_all),
	    cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_list_max_and_find),
	    cmocka_unit_test(test_create_needs_own_session),
	    cmocka_unit_test(test_inject_add_key),
	    cmocka_unit_test(test_inject_half_made_key_revoked),
	    cmocka_unit_test(test_real_eacces),
	    cmocka_unit_test(test_real_edquot),
	    cmocka_unit_test(test_real_seccomp),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
