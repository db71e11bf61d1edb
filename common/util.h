/*
 * util.h - small helpers shared by every component of pam_agent:
 * secret wiping, safe file opening, escaping of untrusted bytes,
 * durations. Nothing here knows about PAM.
 */
#ifndef PA_UTIL_H
#define PA_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PA_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define PA_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PA_UNUSED __attribute__((unused))
#define PA_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define PA_PRINTF(f, a)
#define PA_UNUSED
#define PA_WARN_UNUSED
#endif

/* Longest escaped rendering of attacker-controlled text in any log line. */
#define PA_ESCAPE_MAX 128

/* Overwrite len bytes at p with zeros in a way the compiler cannot elide. */
void pa_overwrite(void *p, size_t len);

/*
 * Wipes what finished work may have left below the caller's stack frame:
 * locals of functions that have returned (ours, and library frames such as
 * vfprintf's, jansson's and libcrypto's, which no caller can wipe), and the
 * vector registers that ld.so's lazy-binding trampoline and signal delivery
 * save on the stack (XSAVE areas). Then zeroes the vector registers
 * themselves, so a later spill saves zeros. Call it from a frame above every
 * function that handled a secret, once that work is done: main of the
 * programs, each pam_sm_* of the module before it returns. depth is the
 * number of bytes below the caller wiped; PA_SCRUB_PROGRAM for a program's
 * main thread, PA_SCRUB_MODULE inside an application's thread, whose stack
 * may be small. docs/security.md "Secrets in memory".
 */
#define PA_SCRUB_PROGRAM (128 * 1024)
#define PA_SCRUB_MODULE (32 * 1024)
void pa_scrub_stack(size_t depth);

/* Wipe a NUL-terminated secret string and free it. NULL is fine. */
void pa_free_secret(char *s);

/* Wipe len bytes at p and free it. NULL is fine. */
void pa_free_secret_buf(void *p, size_t len);

/* Formats into err (of size errlen, may be 0) like snprintf. */
void pa_errf(char *err, size_t errlen, const char *fmt, ...) PA_PRINTF(3, 4);

/*
 * pa_errf, evaluating to -1, so callers can write
 * `return pa_err(err, errlen, "...")`. A GNU statement expression (gcc and
 * clang) so the -1 is visible to the compiler and to static analysers.
 */
#define pa_err(err, errlen, ...) \
	({ \
		pa_errf((err), (errlen), __VA_ARGS__); \
		-1; \
	})

/*
 * Writes a printable, length-capped rendering of untrusted bytes into out:
 * bytes outside 0x20..0x7e and the backslash and double quote become \xNN,
 * and input beyond what fits is replaced by "...". out is always
 * NUL-terminated. Returns out.
 */
char *pa_escape(const void *in, size_t inlen, char *out, size_t outlen);

/* Policy for pa_open_safely(). */
struct pa_file_rules {
	uid_t owner;	      /* required owner uid */
	bool or_root;	      /* root-owned is fine too */
	mode_t forbid_mode;   /* mode bits that must be clear (e.g. 022, 077) */
	size_t max_size;      /* largest accepted size in bytes */
};

/*
 * Checks the open descriptor fd of path against rules (a regular file, its
 * owner, its mode, its size), filling *st: 0, or -1 with err naming path.
 */
struct stat;
int pa_check_fd(int fd, const char *path, const struct pa_file_rules *rules, struct stat *st,
		char *err, size_t errlen);

/*
 * Opens path read-only with O_NOFOLLOW|O_CLOEXEC|O_NOCTTY and checks, on
 * the opened descriptor, that it is a regular file owned by rules->owner
 * (or by root, with rules->or_root),
 * with none of rules->forbid_mode set and at most rules->max_size bytes.
 * Returns the descriptor, or -1 with a message naming path and the reason.
 */
int pa_open_safely(const char *path, const struct pa_file_rules *rules,
		   char *err, size_t errlen);

/*
 * Reads the whole file at path through pa_open_safely() into a
 * NUL-terminated heap buffer (*out, length *outlen). The caller frees it
 * (with pa_free_secret_buf if it held a secret). Returns 0 or -1 with err.
 */
int pa_read_file_safely(const char *path, const struct pa_file_rules *rules,
			char **out, size_t *outlen, char *err, size_t errlen);
/* The same, and what fstat(2) said of the file read (its mtime: docs/bundles.md). */
int pa_read_file_stat(const char *path, const struct pa_file_rules *rules,
		      char **out, size_t *outlen, struct stat *st_out, char *err, size_t errlen);

/*
 * Parses a duration: a non-negative integer followed by an optional unit
 * s, m, h or d ("90s", "15m", "2h", "1d"; a bare number is seconds).
 * Returns 0 and the number of seconds, or -1 when the text is not exactly
 * such a duration or would overflow.
 */
int pa_parse_duration(const char *text, int64_t *seconds);

/*
 * The drop-in directory that belongs to a configuration file: the path
 * without a trailing ".conf", plus ".d" (/etc/security/pam_agent.conf ->
 * /etc/security/pam_agent.d). Returns out.
 */
char *pa_dropin_dir(const char *conf, char *out, size_t outlen);

/* Parses a yes/no/true/false/on/off/1/0 boolean. Returns 0 or -1. */
int pa_parse_bool(const char *text, bool *value);

/*
 * Replaces the file name in the directory dirfd by len bytes of data,
 * atomically and durably, the one way every state file, record, JWKS and
 * test CA file is written: a temporary file tmp (in the same directory;
 * an old one is removed first) created O_EXCL|O_NOFOLLOW with mode, all
 * written, fsync'd, closed, renamed over name, then the directory
 * fsync'd. A reader sees the old content or the new, never a part; after
 * a crash, name holds one of them. Returns 0, or -1 with err (naming the
 * file) and the temporary file removed.
 */
int pa_write_atomic(int dirfd, const char *name, const char *tmp, const void *data, size_t len,
		    mode_t mode, char *err, size_t errlen);

/*
 * pa_write_atomic of the absolute or relative path, through its
 * directory; the temporary file is path + tmp_suffix, or path +
 * ".tmp.PID" when tmp_suffix is NULL.
 */
int pa_write_file_atomic(const char *path, const char *tmp_suffix, const void *data, size_t len,
			 mode_t mode, char *err, size_t errlen);

/*
 * pa_write_file_atomic without the two fsyncs: atomic (a reader sees the
 * old content or the new, also after the writer died) but not durable (a
 * crash of the machine may leave either, or an empty file). For state that
 * must outlive a process, not the machine: the session records, which live
 * on the tmpfs /run and name kernel keys that a reboot ends anyway
 * (docs/performance.md, "Durability").
 */
int pa_write_file_replace(const char *path, const char *tmp_suffix, const void *data, size_t len,
			  mode_t mode, char *err, size_t errlen);

/* Milliseconds on the monotonic clock. */
int64_t pa_mono_ms(void);

/* What /proc/PID/stat says of a process; with its pid, start names it. */
struct pa_proc_stat {
	char state;		  /* field 3: R, S, Z, ... */
	pid_t ppid;		  /* field 4 */
	unsigned long long start; /* field 22: start time, clock ticks since boot */
};

/*
 * Reads /proc/PID/stat (the one parser of it: the session record's writer,
 * the reaper, the hand-off and agent-run must agree on the start time).
 * Returns 0, or -1 with errno: ENOENT or ESRCH when no such process is
 * visible, EBADMSG when the line cannot be parsed.
 */
int pa_proc_stat(pid_t pid, struct pa_proc_stat *out);

/*
 * pa_proc_stat through dirfd, an open /proc/PID directory (the same
 * parser): "stat" opened with openat. A dirfd whose process has exited
 * gives -1 with ENOENT or ESRCH, even when its pid is in use again.
 */
int pa_proc_stat_at(int dirfd, struct pa_proc_stat *out);

/*
 * The start time (field 22 of /proc/self/stat) of the calling process,
 * read once per process and thread: a process's own start time does not
 * change while it runs, and a forked child (another pid) reads its own.
 * For what the process writes about itself (the session record, the
 * hand-off record); a check that binds another process, or this one to a
 * record, reads /proc itself (pa_proc_stat). 0, or -1 with errno.
 */
int pa_proc_self_start(unsigned long long *out);

#endif /* PA_UTIL_H */
