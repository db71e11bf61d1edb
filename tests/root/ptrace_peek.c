/*
 * ptrace_peek.c - same-uid attacks on a session's key material (ptrace; the
 * victim for /proc/PID/fd and environ), for tests/root/root_ptrace.sh (no gdb):
 *
 *   ptrace_peek hold NAME DIR   the victim: reads its credential NAME with
 *                               libagentcred into memory and into a file
 *                               it keeps open and unlinks (a credential
 *                               handed to a tool as a file), writes
 *                               "PID ADDR LEN FD" to DIR/victim, waits for
 *                               DIR/go (at most 120 s), exits
 *   ptrace_peek peek PID ADDR LEN
 *                               the attacker: reads LEN bytes at ADDR of
 *                               PID with process_vm_readv, then with
 *                               PTRACE_ATTACH + PTRACE_PEEKDATA; prints
 *                               what it read, or why each way was refused
 *                               exit 0: read; 3: both refused; 1: error
 *   ptrace_peek self            control: the same two ways against a
 *                               child of its own holding a marker (allowed
 *                               by ptrace_scope 0 and 1): exit 0 when both
 *                               read it, so a refusal above is the kernel's,
 *                               not a bug of this program
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_cred.h"

static volatile char held[4096];

static int hold(const char *name, const char *dir)
{
	char *secret = NULL, path[4096], go[4096];
	size_t len = 0;
	int rc = agent_cred_get(name, &secret, &len), i, fd;
	FILE *f;

	if (rc != 0) {
		fprintf(stderr, "hold: agent_cred_get %s: %s\n", name, agent_cred_strerror(rc));
		return 1;
	}
	if (len >= sizeof(held)) {
		agent_cred_free(secret, len);
		return 1;
	}
	memcpy((char *)held, secret, len);
	snprintf(path, sizeof(path), "%s/key", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, secret, len) != (ssize_t)len || unlink(path) != 0) {
		agent_cred_free(secret, len);
		return 1;
	}
	agent_cred_free(secret, len);
	snprintf(path, sizeof(path), "%s/victim.tmp", dir);
	f = fopen(path, "w");
	if (f == NULL)
		return 1;
	fprintf(f, "%ld %lx %zu %d\n", (long)getpid(), (unsigned long)(uintptr_t)held, len, fd);
	fclose(f);
	snprintf(go, sizeof(go), "%s/victim", dir);
	if (rename(path, go) != 0)
		return 1;
	snprintf(go, sizeof(go), "%s/go", dir);
	for (i = 0; i < 1200 && access(go, F_OK) != 0; i++)
		usleep(100000);
	memset((char *)held, 0, sizeof(held));
	return 0;
}

/* 0: read into out; else errno. */
static int by_vm_readv(pid_t pid, unsigned long addr, char *out, size_t len)
{
	struct iovec local = { out, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return errno;
	return (size_t)n == len ? 0 : EIO;
}

static int by_ptrace(pid_t pid, unsigned long addr, char *out, size_t len)
{
	size_t off;
	int status, e = 0;

	if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) != 0)
		return errno;
	if (waitpid(pid, &status, __WALL) != pid)
		e = errno;
	for (off = 0; e == 0 && off < len; off += sizeof(long)) {
		long w;
		size_t n = len - off < sizeof(long) ? len - off : sizeof(long);

		errno = 0;
		w = ptrace(PTRACE_PEEKDATA, pid, (void *)(uintptr_t)(addr + off), NULL);
		if (errno != 0)
			e = errno;
		else
			memcpy(out + off, &w, n);
	}
	ptrace(PTRACE_DETACH, pid, NULL, NULL);
	return e;
}

static void show(const char *how, const char *buf, size_t len)
{
	printf("%s read: ", how);
	fwrite(buf, 1, len, stdout);
	printf("\n");
}

static int peek(pid_t pid, unsigned long addr, size_t len)
{
	char *buf = calloc(1, len + sizeof(long));
	int e1, e2, ret;

	if (buf == NULL)
		return 1;
	e1 = by_vm_readv(pid, addr, buf, len);
	if (e1 == 0)
		show("process_vm_readv", buf, len);
	else
		printf("process_vm_readv refused: %s\n", strerror(e1));
	memset(buf, 0, len);
	e2 = by_ptrace(pid, addr, buf, len);
	if (e2 == 0)
		show("PTRACE_ATTACH+PEEKDATA", buf, len);
	else
		printf("PTRACE_ATTACH refused: %s\n", strerror(e2));
	ret = e1 == 0 || e2 == 0 ? 0 : 3;
	free(buf);
	return ret;
}

static int self(void)
{
	static char marker[] = "ptrace-peek-marker";
	char buf[sizeof(marker) + sizeof(long)];
	int fds[2], e1, e2, status;
	char c;
	pid_t pid;

	if (pipe(fds) != 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(fds[1]);
		(void)!read(fds[0], &c, 1); /* until the parent is done */
		_exit(0);
	}
	close(fds[0]);
	memset(buf, 0, sizeof(buf));
	e1 = by_vm_readv(pid, (unsigned long)(uintptr_t)marker, buf, sizeof(marker));
	e1 = e1 == 0 && memcmp(buf, marker, sizeof(marker)) != 0 ? EIO : e1;
	memset(buf, 0, sizeof(buf));
	e2 = by_ptrace(pid, (unsigned long)(uintptr_t)marker, buf, sizeof(marker));
	e2 = e2 == 0 && memcmp(buf, marker, sizeof(marker)) != 0 ? EIO : e2;
	close(fds[1]);
	waitpid(pid, &status, 0);
	printf("self: process_vm_readv %s, ptrace %s\n", e1 == 0 ? "read" : strerror(e1),
	       e2 == 0 ? "read" : strerror(e2));
	return e1 == 0 && e2 == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "hold") == 0)
		return hold(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "peek") == 0)
		return peek((pid_t)atol(argv[2]), strtoul(argv[3], NULL, 16),
			    (size_t)strtoul(argv[4], NULL, 10));
	if (argc == 2 && strcmp(argv[1], "self") == 0)
		return self();
	fprintf(stderr, "usage: ptrace_peek hold NAME DIR | peek PID ADDR LEN | self\n");
	return 1;
}
