/*
 * test_helperd_fork.c - what pam_agent_helperd relies on when it forks a
 * child per connection from a parent whose DRBGs are already seeded: that
 * OpenSSL 3 reseeds them in a forked child (its fork detection), so no two
 * children and not the parent draw the same bytes (ECDSA nonces come from
 * the private DRBG: a repeated one gives the broker key away). The service
 * also calls RAND_poll in each child; this test checks OpenSSL's own
 * detection, without that call. The service forks its children ahead of
 * their requests (spares that wait while the parent goes on, and reloads
 * its key, drawing bytes): children forked at once, drawing only after the
 * parent drew again and after one another, draw bytes of their own too.
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

/*
 * Two children forked before either draws (spares), then the parent
 * draws, then each child draws when told (one byte on its go pipe).
 */
static void check_spares(int priv)
{
	unsigned char warm[N], out[2][N], parent[N];
	int go[2][2], res[2][2], i, st;
	pid_t pid[2];

	assert_int_equal(priv ? RAND_priv_bytes(warm, N) : RAND_bytes(warm, N), 1);
	for (i = 0; i < 2; i++) {
		assert_int_equal(pipe(go[i]), 0);
		assert_int_equal(pipe(res[i]), 0);
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			unsigned char b[N];
			char c;
			int ok;

			close(go[i][1]);
			close(res[i][0]);
			if (read(go[i][0], &c, 1) != 1)
				_exit(1);
			ok = priv ? RAND_priv_bytes(b, N) : RAND_bytes(b, N);
			_exit(ok == 1 && write(res[i][1], b, N) == N ? 0 : 1);
		}
		close(go[i][0]);
		close(res[i][1]);
	}
	assert_int_equal(priv ? RAND_priv_bytes(parent, N) : RAND_bytes(parent, N), 1);
	for (i = 0; i < 2; i++) {
		ssize_t got = 0;

		assert_int_equal(write(go[i][1], "g", 1), 1);
		while (got < N) {
			ssize_t n = read(res[i][0], out[i] + got, (size_t)(N - got));

			assert_true(n > 0);
			got += n;
		}
		close(go[i][1]);
		close(res[i][0]);
		assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_memory_not_equal(out[0], out[1], N);
	assert_memory_not_equal(out[0], parent, N);
	assert_memory_not_equal(out[1], parent, N);
	assert_memory_not_equal(out[0], warm, N);
	assert_memory_not_equal(out[1], warm, N);
}

static void test_spares_draw_their_own_bytes(void **state)
{
	(void)state;
	check_spares(0);
	check_spares(1);
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
		cmocka_unit_test(test_spares_draw_their_own_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
