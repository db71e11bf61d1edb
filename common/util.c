/*
 * util.c - helpers shared by every component (see common/util.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

void pa_overwrite(void *p, size_t len)
{
	if (p != NULL && len > 0)
		explicit_bzero(p, len);
}

/*
 * Wipes depth bytes of stack below the caller: alloca in a function that
 * is never inlined, so the area starts where the caller's callees ran.
 */
static __attribute__((noinline)) void scrub_below(size_t depth)
{
	unsigned char *area = __builtin_alloca(depth);

	explicit_bzero(area, depth);
	/* keep the area (and so the wipe) alive to the end */
	__asm__ __volatile__("" : : "r"(area) : "memory");
}

#if defined(__x86_64__)
/*
 * The vector registers: xmm/ymm 0-15 everywhere (SSE2 is the x86-64
 * baseline), and zmm 16-31 where the CPU and the kernel enabled AVX-512
 * (glibc's EVEX string functions keep data there, and an XSAVE area puts
 * them on the stack at each lazy binding or signal).
 */
static __attribute__((noinline, target("avx512f"))) void zero_zmm16_31(void)
{
	__asm__ __volatile__("vpxord %%zmm16, %%zmm16, %%zmm16\n\t"
			     "vpxord %%zmm17, %%zmm17, %%zmm17\n\t"
			     "vpxord %%zmm18, %%zmm18, %%zmm18\n\t"
			     "vpxord %%zmm19, %%zmm19, %%zmm19\n\t"
			     "vpxord %%zmm20, %%zmm20, %%zmm20\n\t"
			     "vpxord %%zmm21, %%zmm21, %%zmm21\n\t"
			     "vpxord %%zmm22, %%zmm22, %%zmm22\n\t"
			     "vpxord %%zmm23, %%zmm23, %%zmm23\n\t"
			     "vpxord %%zmm24, %%zmm24, %%zmm24\n\t"
			     "vpxord %%zmm25, %%zmm25, %%zmm25\n\t"
			     "vpxord %%zmm26, %%zmm26, %%zmm26\n\t"
			     "vpxord %%zmm27, %%zmm27, %%zmm27\n\t"
			     "vpxord %%zmm28, %%zmm28, %%zmm28\n\t"
			     "vpxord %%zmm29, %%zmm29, %%zmm29\n\t"
			     "vpxord %%zmm30, %%zmm30, %%zmm30\n\t"
			     "vpxord %%zmm31, %%zmm31, %%zmm31"
			     :
			     :
			     : "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",
			       "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29",
			       "xmm30", "xmm31");
}

static __attribute__((noinline, target("avx"))) void zero_ymm0_15(void)
{
	__asm__ __volatile__("vzeroall"
			     :
			     :
			     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
			       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
			       "xmm15");
}

static __attribute__((noinline)) void zero_xmm0_15(void)
{
	__asm__ __volatile__("pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\t"
			     "pxor %%xmm2, %%xmm2\n\tpxor %%xmm3, %%xmm3\n\t"
			     "pxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
			     "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"
			     "pxor %%xmm8, %%xmm8\n\tpxor %%xmm9, %%xmm9\n\t"
			     "pxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
			     "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\t"
			     "pxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15"
			     :
			     :
			     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
			       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
			       "xmm15");
}

static void zero_vector_registers(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		zero_zmm16_31();
	if (__builtin_cpu_supports("avx"))
		zero_ymm0_15();
	else
		zero_xmm0_15();
}
#else
static void zero_vector_registers(void)
{
}
#endif

/*
 * How much of depth fits below the caller on this thread's stack. The main
 * thread's stack grows on demand (up to RLIMIT_STACK, megabytes); another
 * thread's is fixed, and a PAM application may give it little: what is
 * left below here, less its guard and a margin for scrub_below's own frame
 * and a signal frame, bounds the wipe.
 */
static size_t stack_room(size_t depth)
{
	const size_t margin = 16 * 1024;
	pthread_attr_t attr;
	void *low = NULL;
	size_t size = 0, guard = 0, room;
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);

	if (getpid() == gettid())
		return depth;
	if (pthread_getattr_np(pthread_self(), &attr) != 0)
		return 0;
	if (pthread_attr_getstack(&attr, &low, &size) != 0 ||
	    pthread_attr_getguardsize(&attr, &guard) != 0)
		low = NULL;
	pthread_attr_destroy(&attr);
	if (low == NULL || here <= (uintptr_t)low + guard + margin)
		return 0;
	room = (size_t)(here - (uintptr_t)low) - guard - margin;
	return room < depth ? room : depth;
}

void pa_scrub_stack(size_t depth)
{
	depth = stack_room(depth);
	if (depth > 0)
		scrub_below(depth);
	zero_vector_registers();
}

void pa_free_secret(char *s)
{
	if (s == NULL)
		return;
	pa_overwrite(s, strlen(s));
	free(s);
}

void pa_free_secret_buf(void *p, size_t len)
{
	if (p == NULL)
		return;
	pa_overwrite(p, len);
	free(p);
}

void pa_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
}

/* Bytes one input byte takes once escaped. */
static size_t escaped_len(unsigned char c)
{
	return (c < 0x20 || c > 0x7e || c == '\\' || c == '"') ? 4 : 1;
}

char *pa_escape(const void *in, size_t inlen, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t i, total = 0, room, o = 0;

	if (outlen == 0)
		return out;
	for (i = 0; i < inlen; i++)
		total += escaped_len(p[i]);
	/* all of it when it fits, else as much as fits before "..." */
	room = total < outlen ? outlen - 1 : (outlen >= 4 ? outlen - 4 : 0);
	for (i = 0; i < inlen && o + escaped_len(p[i]) <= room; i++) {
		if (escaped_len(p[i]) == 4) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[p[i] >> 4];
			out[o++] = hex[p[i] & 0xf];
		} else {
			out[o++] = (char)p[i];
		}
	}
	if (i < inlen && outlen >= 4) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

int pa_check_fd(int fd, const char *path, const struct pa_file_rules *rules, struct stat *st,
		char *err, size_t errlen)
{
	if (fstat(fd, st) != 0)
		return pa_err(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return pa_err(err, errlen, "%s: not a regular file", path);
	if (st->st_uid != rules->owner && !(rules->or_root && st->st_uid == 0)) {
		if (rules->owner == 0)
			return pa_err(err, errlen, "%s: owned by uid %lu, must be owned by root", path,
				      (unsigned long)st->st_uid);
		return pa_err(err, errlen, "%s: owned by uid %lu, must be owned by uid %lu%s", path,
			      (unsigned long)st->st_uid, (unsigned long)rules->owner,
			      rules->or_root ? " or root" : "");
	}
	if ((st->st_mode & rules->forbid_mode) != 0)
		return pa_err(err, errlen, "%s: mode %04o is too open (must not have any of %04o)",
			      path, (unsigned)(st->st_mode & 07777), (unsigned)rules->forbid_mode);
	if ((uintmax_t)st->st_size > (uintmax_t)rules->max_size)
		return pa_err(err, errlen, "%s: %jd bytes is larger than the limit of %zu", path,
			      (intmax_t)st->st_size, rules->max_size);
	return 0;
}

int pa_open_safely(const char *path, const struct pa_file_rules *rules,
		   char *err, size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP)
			return pa_err(err, errlen, "%s: is a symbolic link", path);
		return pa_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
	}
	if (pa_check_fd(fd, path, rules, &st, err, errlen) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int pa_read_file_safely(const char *path, const struct pa_file_rules *rules,
			char **out, size_t *outlen, char *err, size_t errlen)
{
	return pa_read_file_stat(path, rules, out, outlen, NULL, err, errlen);
}

int pa_read_file_stat(const char *path, const struct pa_file_rules *rules,
		      char **out, size_t *outlen, struct stat *st_out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t cap, len = 0;
	struct stat st;
	int fd;

	*out = NULL;
	*outlen = 0;
	fd = pa_open_safely(path, rules, err, errlen);
	if (fd < 0)
		return -1;
	/*
	 * Sized from the file (already checked against the limit), plus one
	 * byte so growth is noticed; the buffer grows up to the limit + 1 if
	 * the file grows while it is read, and growth past the limit fails.
	 */
	if (fstat(fd, &st) != 0) {
		close(fd);
		return pa_err(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
	}
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap + 1);
	if (buf == NULL) {
		close(fd);
		return pa_err(err, errlen, "%s: out of memory", path);
	}
	for (;;) {
		ssize_t n;

		if (len == cap && cap <= rules->max_size) {
			size_t bigger = cap * 2 > rules->max_size + 1 ? rules->max_size + 1 : cap * 2;
			char *grown = malloc(bigger + 1);

			if (grown == NULL) {
				pa_err(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			memcpy(grown, buf, len);
			pa_free_secret_buf(buf, cap + 1);
			buf = grown;
			cap = bigger;
		}
		n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pa_err(err, errlen, "%s: read failed: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > rules->max_size) {
			pa_err(err, errlen, "%s: larger than the limit of %zu bytes",
			       path, rules->max_size);
			goto fail;
		}
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	if (st_out != NULL)
		*st_out = st;
	return 0;
fail:
	close(fd);
	pa_free_secret_buf(buf, cap + 1);
	return -1;
}

int pa_parse_duration(const char *text, int64_t *seconds)
{
	int64_t mult = 1, v = 0;
	const char *p = text;

	if (text == NULL || *p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		if (v > (INT64_MAX - (*p - '0')) / 10)
			return -1;
		v = v * 10 + (*p - '0');
		p++;
	}
	switch (*p) {
	case '\0': break;
	case 's': mult = 1; p++; break;
	case 'm': mult = 60; p++; break;
	case 'h': mult = 3600; p++; break;
	case 'd': mult = 86400; p++; break;
	default: return -1;
	}
	if (*p != '\0' || v > INT64_MAX / mult)
		return -1;
	*seconds = v * mult;
	return 0;
}

int pa_parse_bool(const char *text, bool *value)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(yes); i++) {
		if (strcmp(text, yes[i]) == 0) {
			*value = true;
			return 0;
		}
		if (strcmp(text, no[i]) == 0) {
			*value = false;
			return 0;
		}
	}
	return -1;
}

char *pa_dropin_dir(const char *conf, char *out, size_t outlen)
{
	size_t len = strlen(conf);

	if (len >= 5 && strcmp(conf + len - 5, ".conf") == 0)
		len -= 5;
	snprintf(out, outlen, "%.*s.d", (int)len, conf);
	return out;
}

int64_t pa_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads and parses the stat file open on fd, then closes fd (pa_proc_stat). */
static int proc_stat_fd(int fd, struct pa_proc_stat *out)
{
	char buf[4096], *p, *end;
	ssize_t n;
	int field, e;
	long ppid;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	e = errno;
	close(fd);
	if (n <= 0) {
		errno = n == 0 ? ENOENT : e; /* ESRCH: it exited while we read */
		return -1;
	}
	buf[n] = '\0';
	/* pid (comm) state ppid ...: comm may hold spaces and parentheses */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == '\0' || p[3] != ' ')
		goto bad;
	out->state = p[2];
	errno = 0;
	ppid = strtol(p + 4, &end, 10);
	if (errno != 0 || end == p + 4 || *end != ' ' || ppid < 0 || ppid > INT_MAX)
		goto bad;
	out->ppid = (pid_t)ppid;
	for (field = 2; p != NULL && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || p[1] < '0' || p[1] > '9')
		goto bad;
	errno = 0;
	out->start = strtoull(p + 1, &end, 10);
	if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
		goto bad;
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

int pa_proc_stat(pid_t pid, struct pa_proc_stat *out)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	return proc_stat_fd(open(path, O_RDONLY | O_CLOEXEC), out);
}

int pa_proc_stat_at(int dirfd, struct pa_proc_stat *out)
{
	return proc_stat_fd(openat(dirfd, "stat", O_RDONLY | O_CLOEXEC), out);
}

int pa_proc_self_start(unsigned long long *out)
{
	/* per thread: no lock; keyed by pid: a child of fork() reads its own */
	static __thread pid_t pid;
	static __thread unsigned long long start;
	struct pa_proc_stat ps;
	pid_t me = getpid();

	if (pid != me) {
		if (pa_proc_stat(me, &ps) != 0)
			return -1;
		start = ps.start;
		pid = me;
	}
	*out = start;
	return 0;
}

/* pa_write_atomic, with the two fsyncs only when durable. */
static int write_atomic(int dirfd, const char *name, const char *tmp, const void *data,
			size_t len, mode_t mode, bool durable, char *err, size_t errlen)
{
	const char *p = data;
	size_t off = 0;
	int fd, e;

	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0 && errno == EEXIST) {
		/* a temporary file left by a writer that died: ours to replace */
		(void)unlinkat(dirfd, tmp, 0);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    mode);
	}
	if (fd < 0)
		return pa_err(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			goto fail;
		}
		off += (size_t)n;
	}
	/* the mode asked for, whatever the umask took away */
	if (fchmod(fd, mode) != 0 || (durable && fsync(fd) != 0))
		goto fail;
	e = close(fd);
	fd = -1;
	if (e != 0)
		goto fail;
	if (renameat(dirfd, tmp, dirfd, name) != 0) {
		e = errno;
		(void)unlinkat(dirfd, tmp, 0);
		return pa_err(err, errlen, "%s: cannot replace: %s", name, strerror(e));
	}
	if (durable && fsync(dirfd) != 0)
		return pa_err(err, errlen, "%s: written, but its directory cannot be synced: %s",
			      name, strerror(errno));
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	(void)unlinkat(dirfd, tmp, 0);
	return pa_err(err, errlen, "%s: cannot write: %s", tmp, strerror(e));
}

int pa_write_atomic(int dirfd, const char *name, const char *tmp, const void *data, size_t len,
		    mode_t mode, char *err, size_t errlen)
{
	return write_atomic(dirfd, name, tmp, data, len, mode, true, err, errlen);
}

/* pa_write_file_atomic and pa_write_file_replace. */
static int write_file(const char *path, const char *tmp_suffix, const void *data, size_t len,
		      mode_t mode, bool durable, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/'), *base = slash != NULL ? slash + 1 : path;
	char dir[PATH_MAX], tmp[NAME_MAX + 1], why[NAME_MAX + 256];
	int dfd, rc, n;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return pa_err(err, errlen, "%s: path too long", path);
	if (tmp_suffix != NULL)
		n = snprintf(tmp, sizeof(tmp), "%s%s", base, tmp_suffix);
	else
		n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", base, (long)getpid());
	if (base[0] == '\0' || n < 0 || (size_t)n >= sizeof(tmp))
		return pa_err(err, errlen, "%s: not a usable file name", path);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return pa_err(err, errlen, "%s: cannot open the directory: %s", dir, strerror(errno));
	rc = write_atomic(dfd, base, tmp, data, len, mode, durable, why, sizeof(why));
	close(dfd);
	if (rc != 0)
		pa_err(err, errlen, "%s/%s", dir, why);
	return rc;
}

int pa_write_file_atomic(const char *path, const char *tmp_suffix, const void *data, size_t len,
			 mode_t mode, char *err, size_t errlen)
{
	return write_file(path, tmp_suffix, data, len, mode, true, err, errlen);
}

int pa_write_file_replace(const char *path, const char *tmp_suffix, const void *data, size_t len,
			  mode_t mode, char *err, size_t errlen)
{
	return write_file(path, tmp_suffix, data, len, mode, false, err, errlen);
}
