/*
 * test_helperd_fork.c - what pam_agent_helperd relies on when it forks a
 * child per connection from a parent whose DRBGs are already seeded: that
 * OpenSSL 3 reseeds them in a forked child (its fork detection), so no two
 * children and not the parent draw the same bytes (ECDSA nonces come from
 * the private DRBG: a repeated one gives the broker key away). The service
 * also calls RAND_poll in each child; this test checks OpenSSL's own
 * detection, without that call.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/rand.h>

#define N 32

/* A forked child's first N bytes of gen (1: private DRBG, 0: public). */
static void child_bytes(int priv, unsigned char out[N])
{
	int p[2], st = 0;
	pid_t pid;
	ssize_t got = 0;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned char b[N];
		int ok = priv ? RAND_priv_bytes(b, N) : RAND_bytes(b, N);

		close(p[0]);
		_exit(ok == 1 && write(p[1], b, N) == N ? 0 : 1);
	}
	close(p[1]);
	while (got < N) {
		ssize_t n = read(p[0], out + got, (size_t)(N - got));

		assert_true(n > 0);
		got += n;
	}
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void check_gen(int priv)
{
	unsigned char warm[N], a[N], b[N], parent[N];

	/* the parent's DRBG instantiated and used, as in the service */
	assert_int_equal(priv ? RAND_priv_bytes(warm, N) : RAND_bytes(warm, N), 1);
	child_bytes(priv, a);
	child_bytes(priv, b);
	assert_int_equal(priv ? RAND_priv_bytes(parent, N) : RAND_bytes(parent, N), 1);
	assert_memory_not_equal(a, b, N);
	assert_memory_not_equal(a, parent, N);
	assert_memory_not_equal(b, parent, N);
}

static void test_public_drbg_reseeded_after_fork(void **state)
{
	(void)state;
	check_gen(0);
}

static void test_private_drbg_reseeded_after_fork(void **state)
{
	(void)state;
	check_gen(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_public_drbg_reseeded_after_fork),
		cmocka_unit_test(test_private_drbg_reseeded_after_fork),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
