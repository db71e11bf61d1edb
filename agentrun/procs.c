/*
 * procs.c - agent-run: the processes of the session, ended when CMD ends
 * or the session's time is up, and only those (agentrun.h).
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

/* ---- the session's processes ---- */

/*
 * The parent's pid and the start time (clock ticks since boot) of pid,
 * which with the pid name one process. False when there is no such
 * process (or its stat cannot be read).
 */
static bool proc_stat(pid_t pid, pid_t *ppid, unsigned long long *start)
{
	struct pa_proc_stat ps;

	if (pa_proc_stat(pid, &ps) != 0)
		return false;
	*ppid = ps.ppid;
	*start = ps.start;
	return true;
}

/*
 * Sends sig to the process pid that was seen as ppid's child, started at
 * start, and to no other: a pidfd names the process that has the pid now,
 * /proc then confirms that it is still the one seen (same start time, same
 * parent, or agent-run when its parent has gone: agent-run is their
 * subreaper), and the signal goes through the pidfd. A process seen that
 * has since been reaped (its pid free, perhaps already an unrelated
 * process's) gets nothing. Returns true when sig was sent.
 */
static bool signal_process(pid_t pid, pid_t ppid, unsigned long long start, int sig)
{
	pid_t now_ppid;
	unsigned long long now_start;
	bool same;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (pidfd < 0 && errno != ENOSYS)
		return false; /* ESRCH: gone */
	same = proc_stat(pid, &now_ppid, &now_start) && now_start == start &&
	       (now_ppid == ppid || now_ppid == getpid());
	if (pidfd < 0) /* a kernel before 5.3: no pidfd, the check just made */
		return same && kill(pid, sig) == 0;
	same = same && syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) == 0;
	close(pidfd);
	return same;
}

/*
 * Sends sig to every process that descends from agent-run, found through
 * /proc (parent links). agent-run is a child subreaper, so a process CMD
 * left behind (double fork, setsid) is re-parented to agent-run rather
 * than to init and still descends from it. Each one gets the signal
 * through signal_process: never a pid that has changed hands since the
 * scan. Returns how many were sent.
 */
static size_t signal_descendants(int sig)
{
	struct proc {
		pid_t pid, ppid;
		unsigned long long start;
		bool mine;
	} *v = NULL, *nv;
	size_t n = 0, cap = 0, i, sent = 0;
	bool more = true;
	struct dirent *de;
	DIR *d = opendir("/proc");
	pid_t self = getpid();

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		pid_t ppid;
		unsigned long long start;
		long pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, NULL, 10);
		if (pid <= 0 || pid > INT_MAX || !proc_stat((pid_t)pid, &ppid, &start))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL)
				break;
			v = nv;
		}
		v[n].pid = (pid_t)pid;
		v[n].ppid = ppid;
		v[n].start = start;
		v[n].mine = v[n].ppid == self;
		n++;
	}
	closedir(d);
	while (more) {
		more = false;
		for (i = 0; i < n; i++) {
			size_t j;

			if (v[i].mine)
				continue;
			for (j = 0; j < n; j++) {
				if (v[j].mine && v[j].pid == v[i].ppid) {
					v[i].mine = more = true;
					break;
				}
			}
		}
	}
	for (i = 0; i < n; i++)
		if (v[i].mine && v[i].pid != self &&
		    signal_process(v[i].pid, v[i].ppid, v[i].start, sig))
			sent++;
	free(v);
	return sent;
}

/*
 * Reaps every child that has ended; CMD's status goes to *status. Returns
 * true when agent-run has no child left at all.
 */
static bool reap(pid_t cmd, int *status, bool *cmd_done)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);

		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			return errno == ECHILD;
		if (p == 0)
			return false;
		if (p == cmd) {
			*status = st;
			*cmd_done = true;
		}
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Ends every process of the session: SIGTERM to CMD's process group and
 * to every descendant, up to grace_ms for them to go, then SIGKILL until
 * none is left. Returns false (after a message) when some could not be
 * ended.
 */
bool ar_end_processes(pid_t cmd, int *status, bool *cmd_done, int *master, int64_t grace_ms)
{
	int64_t deadline = pa_mono_ms() + grace_ms, give_up;

	if (reap(cmd, status, cmd_done))
		return true;
	if (!*cmd_done)
		kill(-cmd, SIGTERM);
	signal_descendants(SIGTERM);
	while (pa_mono_ms() < deadline) {
		ar_drain_master(master);
		if (reap(cmd, status, cmd_done))
			return true;
		sleep_ms(20);
	}
	give_up = pa_mono_ms() + 10000;
	while (pa_mono_ms() < give_up) {
		if (!*cmd_done)
			kill(-cmd, SIGKILL);
		signal_descendants(SIGKILL);
		ar_drain_master(master);
		if (reap(cmd, status, cmd_done))
			return true;
		sleep_ms(10);
	}
	fprintf(stderr, "agent-run: processes of the session are still running after SIGKILL\n");
	syslog(LOG_ERR, "processes of the session are still running after SIGKILL");
	return false;
}
