/*
 * harness.c - the PAM-stack test harness (see harness.h).
 */
#include "config.h"

#define _XOPEN_SOURCE_EXTENDED 1
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static char base_dir[4096];
static char log_path[4096 + 16];
static off_t log_mark;
static char *log_text;

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/*
 * pam_wrapper 1.1.4 keeps its copy of the services in /tmp/pam.X (it does
 * not honour PAM_WRAPPER_RUNTIME_DIR) and leaves it behind when its
 * process ends without running destructors: remove the one our child
 * used, named in the log ("Copy config files from ... to DIR"), every one.
 */
static void remove_wrapper_dir(void)
{
	static const char mark[] = " to /tmp/pam.";
	char buf[65536 + sizeof(mark)], dir[64];
	size_t keep = 0;
	ssize_t n;
	char *p;
	int fd = open(log_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	/* the whole log, in chunks that overlap by the mark's length: every
	 * one named (under valgrind pam_wrapper initialises twice, and again
	 * in a test's fork child, anywhere in the log) */
	while ((n = read(fd, buf + keep, sizeof(buf) - 1 - keep)) > 0) {
		size_t len = keep + (size_t)n;

		buf[len] = '\0';
		for (p = strstr(buf, mark); p != NULL; p = strstr(p + 1, mark)) {
			if (p[sizeof(mark) - 1] == '\0' || p[sizeof(mark)] != '\n')
				continue;
			snprintf(dir, sizeof(dir), "/tmp/pam.%c", p[sizeof(mark) - 1]);
			nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
		}
		keep = len < sizeof(mark) ? len : sizeof(mark);
		memmove(buf, buf + len - keep, keep);
	}
	close(fd);
}

/* Copies the captured log to fd. */
static void dump_log(int fd)
{
	char buf[4096];
	ssize_t n;
	int in = open(log_path, O_RDONLY | O_CLOEXEC);

	if (in < 0)
		return;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			break;
	close(in);
}

static void free_log(void)
{
	free(log_text);
}

static void die(const char *what)
{
	fprintf(stderr, "harness: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void write_service(const char *name, const char *content);

/*
 * The parent stays outside pam_wrapper: it runs the test as a child, then
 * copies the child's captured log (even after a crash or a sanitizer
 * report) to its own stderr, removes the directory and exits with the
 * child's status. It never returns.
 */
static int run_child(char **argv)
{
	int status = 0, code;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		/* the program's own path, not "/proc/self/exe": under valgrind
		 * (make check-valgrind) that names the tool, and valgrind's
		 * readlink answers with the program it runs */
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n <= 0 || (size_t)n >= sizeof(self) - 1)
			die("readlink /proc/self/exe");
		self[n] = '\0';
		execv(self, argv);
		die("re-exec under pam_wrapper");
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	/* benchmarks ask for quiet: the log then only matters on failure */
	if (getenv("PA_HARNESS_QUIET") == NULL || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		dump_log(STDERR_FILENO);
	if (WIFEXITED(status)) {
		code = WEXITSTATUS(status);
	} else {
		fprintf(stderr, "harness: test killed by signal %d\n", WTERMSIG(status));
		code = 1;
	}
	if (getenv("PA_KEEP_TEST_DIR") == NULL) {
		remove_wrapper_dir();
		nftw(base_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	else
		fprintf(stderr, "harness: kept %s\n", base_dir);
	exit(code);
}

int pa_harness_init(int argc, char **argv, const struct pa_service *services)
{
	const char *wrapper = getenv("PA_PAM_WRAPPER_SO");
	const char *preload;
	char path[sizeof(base_dir) + 32];
	int fd;

	(void)argc;
	if (getenv("PAM_WRAPPER") == NULL) {
		const char *tmp = getenv("TMPDIR");

		if (wrapper == NULL || wrapper[0] == '\0' || access(wrapper, R_OK) != 0) {
			printf("SKIP: pam_wrapper is not available (install libpam-wrapper "
			       "libpamtest0-dev and re-run configure)\n");
			return 77;
		}
		if (getenv("PA_MODULE") == NULL) {
			fprintf(stderr, "harness: PA_MODULE is not set (run through make check)\n");
			return 1;
		}
		snprintf(base_dir, sizeof(base_dir), "%s/pa-pamtest.XXXXXX",
			 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
		if (mkdtemp(base_dir) == NULL)
			die("mkdtemp");
		snprintf(path, sizeof(path), "%s/services", base_dir);
		if (mkdir(path, 0700) != 0)
			die("mkdir services");
		setenv("PAM_WRAPPER_SERVICE_DIR", path, 1);
		snprintf(path, sizeof(path), "%s/runtime", base_dir);
		if (mkdir(path, 0700) != 0)
			die("mkdir runtime");
		setenv("PAM_WRAPPER_RUNTIME_DIR", path, 1);
		/* a service for any name a test forgets: deny everything */
		write_service("other", "auth required pam_deny.so\n"
				       "account required pam_deny.so\n"
				       "password required pam_deny.so\n"
				       "session required pam_deny.so\n");
		for (; services != NULL && services->name != NULL; services++)
			write_service(services->name, services->content);
		setenv("PA_HARNESS_DIR", base_dir, 1);
		setenv("PAM_WRAPPER", "1", 1);
		setenv("PAM_WRAPPER_DEBUGLEVEL", "2", 1); /* ERROR..DEBUG, no TRACE */
		unsetenv("PAM_WRAPPER_USE_SYSLOG");
		/* ASan (sanitizer builds) wants to be first; pam_wrapper must be. */
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 0);
		/* pam_wrapper dlopens libpam with RTLD_DEEPBIND, which the
		 * sanitizers cannot work with; 1.1.4 reads the uid_wrapper name */
		setenv("UID_WRAPPER_DISABLE_DEEPBIND", "1", 1);
		setenv("PAM_WRAPPER_DISABLE_DEEPBIND", "1", 1);
		/* pam_wrapper, then its start-up under a lock (tests/lib/pwrap_serial.c) */
		preload = getenv("PA_PAM_WRAPPER_PRELOAD");
		setenv("LD_PRELOAD", preload != NULL && preload[0] != '\0' ? preload : wrapper, 1);
		snprintf(log_path, sizeof(log_path), "%s/log", base_dir);
		return run_child(argv);
	}
	unsetenv("LD_PRELOAD"); /* not for anything this test spawns */
	snprintf(base_dir, sizeof(base_dir), "%s", getenv("PA_HARNESS_DIR"));
	snprintf(log_path, sizeof(log_path), "%s/log", base_dir);
	atexit(free_log);
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
		die("redirect stderr to the log");
	close(fd);
	return 0;
}

const char *pa_harness_dir(void)
{
	return base_dir;
}

const char *pa_harness_file(const char *name, const char *content, int mode)
{
	static char path[sizeof(base_dir) + 256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", base_dir, name);
	unlink(path);
	f = fopen(path, "w");
	if (f == NULL || fputs(content, f) == EOF || fclose(f) != 0)
		die(path);
	if (chmod(path, (mode_t)mode) != 0)
		die(path);
	return path;
}

static void write_service(const char *name, const char *content)
{
	const char *module = getenv("PA_MODULE");
	const char *pwmod = getenv("PA_PAM_WRAPPER_MODULES");
	char path[sizeof(base_dir) + 256];
	const char *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/services/%s", base_dir, name);
	f = fopen(path, "w");
	if (f == NULL)
		die(path);
	for (p = content; *p != '\0'; p++) {
		if (strncmp(p, "@MODULE@", 8) == 0) {
			fputs(module, f);
			p += 7;
		} else if (strncmp(p, "@DIR@", 5) == 0) {
			fputs(base_dir, f);
			p += 4;
		} else if (strncmp(p, "@PWMOD@", 7) == 0) {
			fputs(pwmod != NULL ? pwmod : "/nonexistent", f);
			p += 6;
		} else {
			fputc(*p, f);
		}
	}
	if (fclose(f) != 0)
		die(path);
}

void pa_harness_log_reset(void)
{
	struct stat st;

	fflush(stderr);
	if (stat(log_path, &st) == 0)
		log_mark = st.st_size;
}

const char *pa_harness_log(void)
{
	size_t cap = 0, len = 0;
	ssize_t n;
	int fd;

	fflush(stderr);
	free(log_text);
	log_text = NULL;
	fd = open(log_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || lseek(fd, log_mark, SEEK_SET) < 0)
		die("read log");
	for (;;) {
		if (len + 1024 + 1 > cap) {
			char *bigger = realloc(log_text, cap = cap * 2 + 4096);

			if (bigger == NULL)
				die("realloc");
			log_text = bigger;
		}
		n = read(fd, log_text + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (log_text == NULL)
		return "";
	log_text[len] = '\0';
	return log_text;
}

bool pa_harness_log_has(const char *text)
{
	return strstr(pa_harness_log(), text) != NULL;
}

#ifdef PA_NO_PAMTEST
/*
 * Built without pam_wrapper and libpamtest, a PAM-stack test keeps its own
 * code inside #ifndef PA_NO_PAMTEST and is this main() alone: a visible
 * SKIP. (Only the tests are built with PA_NO_PAMTEST, never bench_pam.)
 */
int main(void)
{
	printf("SKIP: PAM-stack tests need pam_wrapper and libpamtest "
	       "(install libpam-wrapper libpamtest0-dev and re-run configure)\n");
	return 77;
}
#endif
