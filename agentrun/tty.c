/*
 * tty.c - agent-run: the operator's terminal, CMD's pseudo-terminal and
 * the signals agent-run forwards (agentrun.h).
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "util.h"

#include "agentrun.h"

/* ---- the terminal ---- */

static struct termios saved_tio;
static bool tio_saved;
/*
 * The operator's terminal: which of fds 0-2 are terminals (bit i for fd
 * i), the first of them (its settings and window size are CMD's), and
 * where what CMD writes to its own terminal goes (the first terminal of
 * fds 1-2, else stdout). A terminal of the operator's is never CMD's
 * descriptor: CMD gets its pty's slave in its place.
 */
unsigned ar_tty_fds;
int ar_term_fd = -1;
static int ar_out_fd = STDOUT_FILENO;

void ar_find_terminals(void)
{
	int fd;

	for (fd = 2; fd >= 0; fd--) {
		if (isatty(fd)) {
			ar_tty_fds |= 1U << fd;
			ar_term_fd = fd;
			if (fd > 0)
				ar_out_fd = fd;
		}
	}
}

/* Puts the operator's terminal back the way agent-run found it. */
void ar_restore_tty(void)
{
	if (tio_saved) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_tio);
		tio_saved = false;
	}
}

/* Puts stdin, the operator's terminal, in raw mode until ar_restore_tty (at exit too). */
void ar_raw_mode(void)
{
	struct termios raw;

	if (tcgetattr(STDIN_FILENO, &saved_tio) != 0)
		return;
	raw = saved_tio;
	cfmakeraw(&raw);
	tio_saved = true;
	atexit(ar_restore_tty);
	tcsetattr(STDIN_FILENO, TCSANOW, &raw);
}

/*
 * A pseudo-terminal for CMD, like `su --pty`: its slave gets the
 * operator's terminal settings and window size. Returns 0 with *master and
 * *slave open (close-on-exec), or -1.
 */
int ar_open_pty(int *master, int *slave)
{
	struct termios tio;
	struct winsize ws;
	char name[128];

	*slave = -1;
	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0)
		return -1;
	if (grantpt(*master) != 0 || unlockpt(*master) != 0 ||
	    ptsname_r(*master, name, sizeof(name)) != 0 ||
	    (*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		close(*master);
		*master = -1;
		return -1;
	}
	if (tcgetattr(ar_term_fd, &tio) == 0)
		tcsetattr(*slave, TCSANOW, &tio);
	if (ioctl(ar_term_fd, TIOCGWINSZ, &ws) == 0)
		ioctl(*slave, TIOCSWINSZ, &ws);
	return 0;
}

static bool write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno == EAGAIN) {
				struct pollfd p = { .fd = fd, .events = POLLOUT };

				poll(&p, 1, -1);
				continue;
			}
			return false;
		}
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Copies what CMD's terminal has written, without waiting, to ar_out_fd. */
void ar_drain_master(int *master)
{
	char buf[4096];
	ssize_t n;

	while (*master >= 0) {
		n = read(*master, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) { /* EIO: no process has the slave open any more */
			close(*master);
			*master = -1;
			return;
		}
		write_all(ar_out_fd, buf, (size_t)n);
	}
}

/* ---- signals, through a pipe into the loop ---- */

int ar_sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;

	if (write(ar_sig_pipe[1], &c, 1) < 0) {
		/* full pipe: the loop has signals to read anyway */
	}
	errno = saved;
}

static const int ar_forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

int ar_catch_signals(void)
{
	struct sigaction sa;
	size_t i;

	if (pipe2(ar_sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < sizeof(ar_forwarded) / sizeof(ar_forwarded[0]); i++)
		sigaction(ar_forwarded[i], &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	/* a closed stdout must not kill agent-run before the session is closed */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}
