/*
 * attest.c - caller attestation (identity.h, "caller attestation"): what a
 * process is - its ids, start time, executable and the SHA-256 of its
 * content, its cgroup and systemd unit - and what its parents are.
 *
 * Race-free: a pidfd is opened first and pins the process; everything is
 * then read through a directory descriptor of /proc/PID (a /proc/PID
 * directory of a process that is gone answers ENOENT or ESRCH, even when
 * its pid is in use again), and afterwards the pidfd says whether the
 * process opened is still alive (pidfd_send_signal with signal 0, and
 * poll, which is readable once it has exited, as a zombie too). So what
 * was read is of the process the pidfd names, the one that had the pid
 * when the pidfd was opened. A parent is linked the same way: after its
 * pidfd is open, the child still names it as its parent, so it is not a
 * process that took the parent's pid after the parent exited.
 *
 * The executable is hashed through the file /proc/PID/exe opens (the
 * mapped inode, even when deleted or its path replaced), never by path.
 * The cgroup, unit and invocation id: attest_cgroup.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/types.h>

#include <openssl/evp.h>

#include "attest_int.h"
#include "identity.h"
#include "util.h"

/* Same numbers on every architecture since Linux 5.1 / 5.3. */
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/*
 * PIDFD_GET_INFO (Linux 6.13, linux/pidfd.h; not in every build host's
 * headers): the ids and parent of the process a pidfd pins, in the first
 * published layout (PIDFD_INFO_SIZE_VER0, 64 bytes; later kernels accept
 * it and fill no more).
 */
struct attest_pidfd_info {
	__u64 mask;
	__u64 cgroupid;
	__u32 pid, tgid, ppid;
	__u32 ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	__u32 spare0;
};
#define ATTEST_PIDFD_GET_INFO _IOWR(0xFF, 11, struct attest_pidfd_info)
#define ATTEST_PIDFD_INFO_PID 1ULL   /* PIDFD_INFO_PID */
#define ATTEST_PIDFD_INFO_CREDS 2ULL /* PIDFD_INFO_CREDS */

/* Largest /proc/PID/status and /proc/PID/cgroup read. */
#define ATTEST_FILE_MAX (64 * 1024)
/* The executable is hashed in reads of this size. */
#define ATTEST_HASH_CHUNK (64 * 1024)
/* What the kernel appends to the path of an executable that was unlinked. */
#define ATTEST_DELETED " (deleted)"

/*
 * Why the last step on a handle failed: the process is out of reach (it
 * exited, or is not ours to read; a chain of parents ends there), or
 * anything else (out of memory, a file that cannot be parsed): an error.
 */
enum attest_fail { ATTEST_ERROR = 0, ATTEST_GONE, ATTEST_DENIED };

struct id_attest_handle {
	pid_t pid;
	int pidfd; /* pins the process */
	int dirfd; /* its /proc/PID */
	enum attest_fail fail;
};

/* ---- the process: pidfd, /proc/PID, liveness ---------------------------- */

static int exited(struct id_attest_handle *h, char *err, size_t errlen)
{
	h->fail = ATTEST_GONE;
	return pa_err(err, errlen, "process %ld exited during attestation", (long)h->pid);
}

/* The reason for errno e of a read of /proc/PID/name. */
static int proc_fail(struct id_attest_handle *h, const char *name, int e, char *err,
		     size_t errlen)
{
	if (e == ESRCH || e == ENOENT)
		return exited(h, err, errlen);
	h->fail = e == EACCES || e == EPERM ? ATTEST_DENIED : ATTEST_ERROR;
	if (h->fail == ATTEST_DENIED)
		return pa_err(err, errlen, "process %ld: /proc/%ld/%s: permission denied%s",
			      (long)h->pid, (long)h->pid, name,
			      geteuid() != 0 ? " (a process of another user: attesting it takes root)"
					     : "");
	return pa_err(err, errlen, "process %ld: /proc/%ld/%s: %s", (long)h->pid, (long)h->pid,
		      name, strerror(e));
}

/* Whether the /proc mounted here shows this process's pid namespace. */
static bool proc_is_ours(void)
{
	char buf[32], *end;
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);
	long pid;

	if (n <= 0)
		return false;
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	return errno == 0 && *end == '\0' && pid == (long)getpid();
}

/* h->pidfd = pidfd_open(h->pid), or -1 with the reason. */
static int open_pidfd(struct id_attest_handle *h, char *err, size_t errlen)
{
	pid_t pid = h->pid;

	h->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (h->pidfd >= 0)
		return 0;
	switch (errno) {
	case ESRCH:
		h->fail = ATTEST_GONE;
		return pa_err(err, errlen, "process %ld does not exist", (long)pid);
	case ENOSYS:
		return pa_err(err, errlen,
			      "process %ld: no pidfd_open here (ENOSYS; Linux 5.3 or later is "
			      "needed): a process cannot be attested race-free",
			      (long)pid);
	case EINVAL:
		return pa_err(err, errlen, "process %ld: not a process (a thread id?)", (long)pid);
	default:
		return pa_err(err, errlen, "process %ld: pidfd_open: %s", (long)pid,
			      strerror(errno));
	}
}

/* id_attest_open, saying in *fail why it failed. */
static int attest_open(pid_t pid, struct id_attest_handle **out, enum attest_fail *fail,
		       char *err, size_t errlen)
{
	struct id_attest_handle *h;
	char path[32];
	int e;

	*out = NULL;
	*fail = ATTEST_ERROR;
	if (pid <= 0)
		return pa_err(err, errlen, "invalid pid %ld", (long)pid);
	if (!proc_is_ours())
		return pa_err(err, errlen,
			      "process %ld: /proc is missing or of another pid namespace",
			      (long)pid);
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return pa_err(err, errlen, "out of memory");
	h->pid = pid;
	h->dirfd = -1;
	if (open_pidfd(h, err, errlen) != 0)
		goto fail;
	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	h->dirfd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (h->dirfd < 0) {
		e = errno;
		/* gone, or alive but hidden from us (hidepid=) */
		if (e != ENOENT) {
			proc_fail(h, "", e, err, errlen);
		} else if (id_attest_confirm(h, err, errlen) == 0) {
			h->fail = ATTEST_DENIED;
			pa_errf(err, errlen, "process %ld: %s is hidden from this process", (long)pid,
				path);
		}
		goto fail;
	}
	*out = h;
	return 0;
fail:
	*fail = h->fail;
	id_attest_close(h);
	return -1;
}

int id_attest_open(pid_t pid, struct id_attest_handle **out, char *err, size_t errlen)
{
	enum attest_fail fail;

	return attest_open(pid, out, &fail, err, errlen);
}

int id_attest_confirm(struct id_attest_handle *h, char *err, size_t errlen)
{
	struct pollfd pfd = { .fd = h->pidfd, .events = POLLIN };
	int n;

	h->fail = ATTEST_ERROR;
	if (syscall(SYS_pidfd_send_signal, h->pidfd, 0, NULL, 0) != 0) {
		if (errno == ESRCH)
			return exited(h, err, errlen);
		if (errno == ENOSYS)
			return pa_err(err, errlen,
				      "process %ld: no pidfd_send_signal here (ENOSYS; Linux 5.1 "
				      "or later is needed)",
				      (long)h->pid);
		/* EPERM: it is there, only not ours to signal */
		if (errno != EPERM)
			return pa_err(err, errlen, "process %ld: pidfd_send_signal: %s",
				      (long)h->pid, strerror(errno));
	}
	/* signal 0 reaches a zombie too; a pidfd is readable once it exited */
	do
		n = poll(&pfd, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (n > 0 && (pfd.revents & POLLNVAL) != 0))
		return pa_err(err, errlen, "process %ld: poll of its pidfd: %s", (long)h->pid,
			      n < 0 ? strerror(errno) : "invalid descriptor");
	if (n > 0)
		return exited(h, err, errlen);
	return 0;
}

void id_attest_close(struct id_attest_handle *h)
{
	if (h == NULL)
		return;
	if (h->dirfd >= 0)
		close(h->dirfd);
	if (h->pidfd >= 0)
		close(h->pidfd);
	free(h);
}

/* ---- reads under /proc/PID ------------------------------------------------ */

/* Reads /proc/PID/name whole (at most ATTEST_FILE_MAX bytes) into *out, NUL-terminated. */
static int read_small(struct id_attest_handle *h, const char *name, char **out,
		      char *err, size_t errlen)
{
	char *buf, extra;
	size_t len = 0;
	ssize_t n;
	int fd, e;

	*out = NULL;
	fd = openat(h->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return proc_fail(h, name, errno, err, errlen);
	buf = malloc(ATTEST_FILE_MAX + 1);
	if (buf == NULL) {
		close(fd);
		return pa_err(err, errlen, "out of memory");
	}
	for (;;) {
		n = len < ATTEST_FILE_MAX ? read(fd, buf + len, ATTEST_FILE_MAX - len)
					  : read(fd, &extra, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || len == ATTEST_FILE_MAX)
			break;
		len += (size_t)n;
	}
	e = errno;
	close(fd);
	if (n != 0) {
		free(buf);
		if (n > 0)
			return pa_err(err, errlen, "process %ld: /proc/%ld/%s: over %d bytes",
				      (long)h->pid, (long)h->pid, name, ATTEST_FILE_MAX);
		return proc_fail(h, name, e, err, errlen);
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

/* What follows "key" at the start of a line of status, after blanks; NULL: no such line. */
static const char *status_value(const char *buf, const char *key)
{
	const char *p = buf;
	size_t klen = strlen(key);

	while (strncmp(p, key, klen) != 0) {
		p = strchr(p, '\n');
		if (p == NULL)
			return NULL;
		p++;
	}
	p += klen;
	while (*p == '\t' || *p == ' ')
		p++;
	return p;
}

/* The first n numbers of the status line "key\tN\tN...", into v. */
static int status_nums(const char *buf, const char *key, unsigned long long *v, int n)
{
	const char *p = status_value(buf, key);
	char *end;
	int i;

	for (i = 0; p != NULL && i < n; i++) {
		while (*p == '\t' || *p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			return -1;
		errno = 0;
		v[i] = strtoull(p, &end, 10);
		if (errno != 0 || v[i] > UINT_MAX || (*end != '\t' && *end != ' ' && *end != '\n'))
			return -1;
		p = end;
	}
	return p != NULL ? 0 : -1;
}

/*
 * The state, parent, real and effective ids from /proc/PID/status: one
 * read gives what the module needs but the start time (stat). A zombie
 * (or a dead task) has exited.
 */
static int read_status(struct id_attest_handle *h, struct id_proc *out, char *err,
		       size_t errlen)
{
	unsigned long long ppid, uid[2], gid[2];
	const char *state;
	char *buf;
	int rc;

	if (read_small(h, "status", &buf, err, errlen) != 0)
		return -1;
	state = status_value(buf, "State:");
	rc = state != NULL && *state != '\0' && *state != '\n' ? 0 : -1;
	if (rc == 0)
		rc = status_nums(buf, "PPid:", &ppid, 1);
	if (rc == 0)
		rc = status_nums(buf, "Uid:", uid, 2);
	if (rc == 0)
		rc = status_nums(buf, "Gid:", gid, 2);
	if (rc == 0 && (*state == 'Z' || *state == 'X')) {
		free(buf);
		return exited(h, err, errlen);
	}
	free(buf);
	if (rc != 0)
		return pa_err(err, errlen,
			      "process %ld: /proc/%ld/status: no State:/PPid:/Uid:/Gid: lines",
			      (long)h->pid, (long)h->pid);
	if (ppid > INT_MAX)
		return pa_err(err, errlen, "process %ld: /proc/%ld/status: PPid out of range",
			      (long)h->pid, (long)h->pid);
	out->ppid = (pid_t)ppid;
	out->uid = (uid_t)uid[0];
	out->euid = (uid_t)uid[1];
	out->gid = (gid_t)gid[0];
	out->egid = (gid_t)gid[1];
	return 0;
}

/*
 * The parent and ids of h's process through its pidfd (PIDFD_GET_INFO): a
 * fixed record instead of the text of status, which the kernel composes
 * from everything it knows of the process (a tenth of an authentication).
 * -1 when the kernel does not answer (before Linux 6.13, or anything
 * unexpected, exited processes included): status says then. Only in the
 * pid namespace of this /proc (attest_open checked it), so its pids and
 * status's are the same.
 */
static int pidfd_ids(struct id_attest_handle *h, struct id_proc *out)
{
	const __u64 want = ATTEST_PIDFD_INFO_PID | ATTEST_PIDFD_INFO_CREDS;
	struct attest_pidfd_info info;

	memset(&info, 0, sizeof(info));
	info.mask = want;
	if (ioctl(h->pidfd, ATTEST_PIDFD_GET_INFO, &info) != 0 || (info.mask & want) != want ||
	    info.pid != (__u32)h->pid || info.ppid > INT_MAX)
		return -1;
	out->ppid = (pid_t)info.ppid;
	out->uid = (uid_t)info.ruid;
	out->euid = (uid_t)info.euid;
	out->gid = (gid_t)info.rgid;
	out->egid = (gid_t)info.egid;
	return 0;
}

int id_sha256_fd(int fd, char hex[ID_SHA256_HEX + 1], char *err, size_t errlen)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE], *buf = NULL;
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx = NULL;
	struct stat st;
	off_t off = 0;
	ssize_t n;
	int rc = -1;

	hex[0] = '\0';
	if (fstat(fd, &st) != 0)
		return pa_err(err, errlen, "fstat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return pa_err(err, errlen, "not a regular file");
	buf = malloc(ATTEST_HASH_CHUNK);
	ctx = EVP_MD_CTX_new();
	if (buf == NULL || ctx == NULL) {
		pa_errf(err, errlen, "out of memory");
		goto out;
	}
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		pa_errf(err, errlen, "SHA-256 is not available");
		goto out;
	}
	for (;;) {
		n = pread(fd, buf, ATTEST_HASH_CHUNK, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pa_errf(err, errlen, "read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			pa_errf(err, errlen, "SHA-256 failed");
			goto out;
		}
		off += n;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen * 2 != ID_SHA256_HEX) {
		pa_errf(err, errlen, "SHA-256 failed");
		goto out;
	}
	for (i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0xf];
	}
	hex[ID_SHA256_HEX] = '\0';
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

/* The SHA-256 of what /proc/PID/exe opens, into out->exe_sha256. */
static int hash_exe(struct id_attest_handle *h, struct id_proc *out, char *err,
		    size_t errlen)
{
	char why[128], esc[PA_ESCAPE_MAX];
	int fd, rc;

	fd = openat(h->dirfd, "exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return proc_fail(h, "exe", errno, err, errlen);
	rc = id_sha256_fd(fd, out->exe_sha256, why, sizeof(why));
	close(fd);
	if (rc != 0)
		return pa_err(err, errlen, "process %ld: executable %s: %s", (long)h->pid,
			      pa_escape(out->exe, strlen(out->exe), esc, sizeof(esc)), why);
	return 0;
}

/* out->exe and out->exe_deleted from /proc/PID/exe; its hash when asked. */
static int read_exe(struct id_attest_handle *h, bool hash, struct id_proc *out, char *err,
		    size_t errlen)
{
	const size_t sl = sizeof(ATTEST_DELETED) - 1;
	char path[PATH_MAX + 1];
	ssize_t n;

	n = readlinkat(h->dirfd, "exe", path, sizeof(path));
	if (n < 0 && errno == ENOENT)
		/* no executable: a kernel thread, or a process that is exiting */
		return id_attest_confirm(h, err, errlen);
	if (n < 0)
		return proc_fail(h, "exe", errno, err, errlen);
	if ((size_t)n >= sizeof(path))
		return pa_err(err, errlen, "process %ld: the path of its executable is too long",
			      (long)h->pid);
	path[n] = '\0';
	/* (a file whose name ends in " (deleted)" reads the same: the kernel's marking) */
	if ((size_t)n > sl && strcmp(path + (size_t)n - sl, ATTEST_DELETED) == 0) {
		path[(size_t)n - sl] = '\0';
		out->exe_deleted = true;
	}
	out->exe = strdup(path);
	if (out->exe == NULL)
		return pa_err(err, errlen, "out of memory");
	return hash ? hash_exe(h, out, err, errlen) : 0;
}

/* out->cgroup, out->unit and out->invocation_id from /proc/PID/cgroup. */
static int read_cgroup(struct id_attest_handle *h, bool invocation, struct id_proc *out,
		       char *err, size_t errlen)
{
	char *buf, why[64];
	int rc;

	if (read_small(h, "cgroup", &buf, err, errlen) != 0)
		return -1;
	rc = id_attest_cgroup(buf, invocation, out, why, sizeof(why));
	free(buf);
	if (rc != 0)
		return pa_err(err, errlen, "process %ld: /proc/%ld/cgroup: %s", (long)h->pid,
			      (long)h->pid, why);
	return 0;
}

/* ---- one process, a process and its parents ------------------------------- */

int id_attest_read(struct id_attest_handle *h, unsigned flags, struct id_proc *out,
		   char *err, size_t errlen)
{
	struct pa_proc_stat ps;

	memset(out, 0, sizeof(*out));
	out->pid = h->pid;
	h->fail = ATTEST_ERROR;
	/* the module's read: the pidfd's answer when there is one; a zombie's
	   executable is gone, and the confirmation refuses it anyway */
	if (((flags & ID_ATTEST_FULL) != 0 || pidfd_ids(h, out) != 0) &&
	    read_status(h, out, err, errlen) != 0)
		goto fail;
	if ((flags & ID_ATTEST_FULL) != 0) {
		if (pa_proc_stat_at(h->dirfd, &ps) != 0) {
			if (errno == EBADMSG) {
				pa_errf(err, errlen, "process %ld: /proc/%ld/stat cannot be parsed",
					(long)h->pid, (long)h->pid);
				goto fail;
			}
			proc_fail(h, "stat", errno, err, errlen);
			goto fail;
		}
		if (ps.state == 'Z' || ps.state == 'X') {
			exited(h, err, errlen);
			goto fail;
		}
		out->start = ps.start;
	}
	if (read_cgroup(h, (flags & ID_ATTEST_FULL) != 0, out, err, errlen) != 0 ||
	    read_exe(h, (flags & ID_ATTEST_HASH) != 0, out, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	id_proc_clear(out);
	return -1;
}

/*
 * Attests the parents of the process child into rt->parents, up to depth:
 * the chain ends at pid 1 (recorded; its parent is 0), at a parent outside
 * this pid namespace (ppid 0), and at a parent out of reach (exited
 * meanwhile; another user's, as non-root): not an error. Any other failure
 * to attest a parent (out of memory, a file that cannot be parsed) is:
 * -1 with err, never a shorter chain.
 */
static int attest_parents(struct id_attest_handle *child, unsigned int depth,
			  struct id_runtime *rt, char *err, size_t errlen)
{
	struct id_attest_handle *cur = child, *ph;
	enum attest_fail fail;
	struct pa_proc_stat ps;
	pid_t ppid = rt->proc.ppid;
	char why[256] = "";
	int rc = 0;

	while (rt->n_parents < depth && ppid > 0) {
		struct id_proc *p = &rt->parents[rt->n_parents];

		if (attest_open(ppid, &ph, &fail, why, sizeof(why)) != 0) {
			rc = fail == ATTEST_ERROR ? -1 : 0;
			break;
		}
		/* cur still names ppid its parent, now that ph is open: ph is it
		   (else the parent exited meanwhile: the chain ends there) */
		if (pa_proc_stat_at(cur->dirfd, &ps) != 0 || ps.ppid != ppid) {
			id_attest_close(ph);
			break;
		}
		if (id_attest_read(ph, ID_ATTEST_FULL | (rt->n_parents == 0 ? ID_ATTEST_HASH : 0),
				   p, why, sizeof(why)) != 0 ||
		    id_attest_confirm(ph, why, sizeof(why)) != 0) {
			rc = ph->fail == ATTEST_ERROR ? -1 : 0;
			id_proc_clear(p);
			id_attest_close(ph);
			break;
		}
		rt->n_parents++;
		if (cur != child)
			id_attest_close(cur);
		cur = ph;
		ppid = p->ppid;
	}
	if (cur != child)
		id_attest_close(cur);
	return rc == 0 ? 0 : pa_err(err, errlen, "%s", why);
}

int id_attest(pid_t pid, unsigned depth, struct id_runtime *out, char *err, size_t errlen)
{
	struct id_attest_handle *h = NULL;

	memset(out, 0, sizeof(*out));
	if (depth > ID_ATTEST_MAX_DEPTH)
		depth = ID_ATTEST_MAX_DEPTH;
	if (id_attest_open(pid, &h, err, errlen) != 0)
		return -1;
	if (id_attest_read(h, ID_ATTEST_FULL | ID_ATTEST_HASH, &out->proc, err, errlen) != 0 ||
	    id_attest_confirm(h, err, errlen) != 0)
		goto fail;
	if (attest_parents(h, depth, out, err, errlen) != 0)
		goto fail;
	/* and it is still the process attested once its parents are read */
	if (id_attest_confirm(h, err, errlen) != 0)
		goto fail;
	id_attest_close(h);
	return 0;
fail:
	id_attest_close(h);
	id_runtime_clear(out);
	return -1;
}

void id_proc_clear(struct id_proc *p)
{
	if (p == NULL)
		return;
	free(p->exe);
	free(p->cgroup);
	free(p->unit);
	free(p->invocation_id);
	memset(p, 0, sizeof(*p));
}

void id_runtime_clear(struct id_runtime *rt)
{
	size_t i;

	if (rt == NULL)
		return;
	id_proc_clear(&rt->proc);
	for (i = 0; i < ID_ATTEST_MAX_DEPTH; i++)
		id_proc_clear(&rt->parents[i]);
	rt->n_parents = 0;
}

/* ---- JSON --------------------------------------------------------------- */

/* Whether s is UTF-8 as jansson takes it (no overlong forms, no surrogates, at most U+10FFFF). */
static bool utf8_valid(const unsigned char *s)
{
	unsigned int c, cp, n;

	while ((c = *s++) != 0) {
		if (c < 0x80)
			continue;
		if (c < 0xc2 || c > 0xf4)
			return false;
		n = c <= 0xdf ? 1 : c <= 0xef ? 2 : 3; /* continuation bytes */
		cp = c & (0x3fu >> n);
		for (; n > 0; n--, s++) {
			if ((*s & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (*s & 0x3fu);
		}
		if ((c == 0xe0 && cp < 0x800) || (c == 0xf0 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
	}
	return true;
}

/* s as a JSON string (escaped with pa_escape when it is not UTF-8), or null; NULL: out of memory. */
static json_t *json_text(const char *s)
{
	json_t *j;
	char *esc;
	size_t len;

	if (s == NULL || s[0] == '\0')
		return json_null();
	if (utf8_valid((const unsigned char *)s))
		return json_string(s);
	len = strlen(s);
	esc = malloc(4 * len + 1);
	if (esc == NULL)
		return NULL;
	j = json_string(pa_escape(s, len, esc, 4 * len + 1));
	free(esc);
	return j;
}

json_t *id_proc_to_json(const struct id_proc *p)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (json_object_set_new(o, "pid", json_integer(p->pid)) != 0 ||
	    json_object_set_new(o, "uid", json_integer(p->uid)) != 0 ||
	    json_object_set_new(o, "euid", json_integer(p->euid)) != 0 ||
	    json_object_set_new(o, "gid", json_integer(p->gid)) != 0 ||
	    json_object_set_new(o, "egid", json_integer(p->egid)) != 0 ||
	    json_object_set_new(o, "exe", json_text(p->exe)) != 0 ||
	    json_object_set_new(o, "exe_deleted", json_boolean(p->exe_deleted)) != 0 ||
	    json_object_set_new(o, "exe_sha256", json_text(p->exe_sha256)) != 0 ||
	    json_object_set_new(o, "cgroup", json_text(p->cgroup)) != 0 ||
	    json_object_set_new(o, "unit", json_text(p->unit)) != 0 ||
	    json_object_set_new(o, "invocation_id", json_text(p->invocation_id)) != 0 ||
	    json_object_set_new(o, "start", json_integer((json_int_t)p->start)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *id_runtime_to_json(const struct id_runtime *rt)
{
	json_t *o = id_proc_to_json(&rt->proc), *parents = json_array();
	size_t i;

	if (o == NULL || parents == NULL)
		goto fail;
	for (i = 0; i < rt->n_parents && i < ID_ATTEST_MAX_DEPTH; i++)
		if (json_array_append_new(parents, id_proc_to_json(&rt->parents[i])) != 0)
			goto fail;
	if (json_object_set_new(o, "parents", parents) == 0)
		return o;
	parents = NULL; /* set_new took it */
fail:
	json_decref(parents);
	json_decref(o);
	return NULL;
}

bool id_exe_mutable(const struct stat *st, char *why, size_t len)
{
	if (st->st_uid == 0 && (st->st_mode & 022) == 0)
		return false;
	snprintf(why, len, "owner uid %lu, mode %04o: only root may be able to write it",
		 (unsigned long)st->st_uid, (unsigned)(st->st_mode & 07777));
	return true;
}
