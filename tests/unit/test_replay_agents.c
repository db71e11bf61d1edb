/*
 * test_replay_agents.c - unit tests of the replay cache (identity/replay.c)
 * with more than one caller: two processes at once (one of them
 * rebuilding the file), per-agent quotas, eviction from a full cache that
 * never lets a replay through, and a version 1 file carried over. The
 * single-caller tests are in test_replay.c.
 *
 * Every test works in its own mkdtemp() directory, removed afterwards.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "identity.h"
#include "util.h"
#include "tfx.h"
#include "tfx_replay.h"

#define NOW 1700000000
#define ERRLEN TFX_REPLAY_ERRLEN
#define MARGIN TFX_REPLAY_MARGIN
#define FILE_SIZE(cap) TFX_REPLAY_FILE_SIZE(cap)

/*
 * Two processes try the same n jtis at the same time, in different orders
 * (and, when max_a != max_b, with capacities that differ, so nearly every
 * call replaces the file under the other process). Each jti must be
 * accepted by exactly one of them and reported as a replay to the other.
 */
static void race(struct tfx_replay *f, int n, size_t max_a, size_t max_b)
{
	signed char *res;
	char *errs;
	int go[2], k, i, status, accepted[2] = { 0, 0 };
	pid_t pid[2];
	size_t maplen = 2 * (size_t)n + 2 * ERRLEN;

	res = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		   -1, 0);
	assert_true(res != MAP_FAILED);
	memset(res, 9, 2 * (size_t)n);
	errs = (char *)res + 2 * n;
	errs[0] = errs[ERRLEN] = '\0';
	assert_int_equal(pipe(go), 0);

	for (k = 0; k < 2; k++) {
		pid[k] = fork();
		assert_true(pid[k] >= 0);
		if (pid[k] == 0) {
			int *order = malloc((size_t)n * sizeof(*order));
			uint64_t seed = 12345;
			char jti[32], c;

			close(go[1]);
			if (order == NULL || read(go[0], &c, 1) != 0)
				_exit(3);
			for (i = 0; i < n; i++)
				order[i] = i;
			if (k == 1) {
				for (i = n - 1; i > 0; i--) {
					int j = (int)(tfx_prng(&seed) % (uint64_t)(i + 1));
					int t = order[i];

					order[i] = order[j];
					order[j] = t;
				}
			}
			for (i = 0; i < n; i++) {
				int r;

				snprintf(jti, sizeof(jti), "race-%d", order[i]);
				r = id_replay_check(f->dir, "https://issuer.example", jti,
						    NOW + 600, NOW, k == 0 ? max_a : max_b,
						    errs + k * ERRLEN, ERRLEN);
				res[k * n + order[i]] = (signed char)r;
				if (r < 0)
					_exit(2);
			}
			free(order);
			_exit(0);
		}
	}
	close(go[0]);
	close(go[1]); /* both children start now */
	for (k = 0; k < 2; k++) {
		assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("child %d failed (status %d): %s", k, status,
				 errs + k * ERRLEN);
	}
	for (i = 0; i < n; i++) {
		int a = res[i], b = res[n + i];

		/* union: at least one accepted; intersection: not both */
		if (!((a == 0 && b == 1) || (a == 1 && b == 0)))
			fail_msg("jti %d: results %d and %d", i, a, b);
		accepted[0] += a == 0;
		accepted[1] += b == 0;
	}
	assert_int_equal(accepted[0] + accepted[1], n);
	print_message("race: %d accepted by the first process, %d by the second\n",
		      accepted[0], accepted[1]);
	munmap(res, maplen);
}

static void test_two_processes_10000(void **state)
{
	race(*state, 10000, 20000, 20000);
}

static void test_two_processes_while_rebuilding(void **state)
{
	struct tfx_replay *f = *state;

	race(f, 600, 600, 2000);
	/* the last writer decided the size: one of the two capacities */
	assert_true(tfx_file_size(f->db) == FILE_SIZE(2048) ||
		    tfx_file_size(f->db) == FILE_SIZE(4096));
}

/* id_replay_check_agent with a quota; err goes into f->err. */
static int check_agent(struct tfx_replay *f, const char *agent, const char *jti, int64_t exp,
		       int64_t now, size_t max, size_t quota)
{
	f->err[0] = '\0';
	return id_replay_check_agent(f->dir, "iss", jti, agent, exp, now, max, quota, f->err,
				     sizeof(f->err));
}

/*
 * F4: one agent filling its quota is refused while another agent is still
 * accepted; its replays are still replays, and it gets room again when its
 * entries expire.
 */
static void test_agent_quota(void **state)
{
	struct tfx_replay *f = *state;
	char jti[32];
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(jti, sizeof(jti), "a-%d", i);
		assert_int_equal(check_agent(f, "agent-a", jti, NOW + 100, NOW, 100, 10), 0);
	}
	assert_int_equal(check_agent(f, "agent-a", "a-10", NOW + 100, NOW, 100, 10), -1);
	assert_non_null(strstr(f->err, "agent agent-a holds 10 live entries, its quota"));
	/* a replay of the agent at its quota is still reported as a replay */
	assert_int_equal(check_agent(f, "agent-a", "a-3", NOW + 100, NOW, 100, 10), 1);
	/* the table is far from full: every other agent is accepted */
	for (i = 0; i < 10; i++) {
		snprintf(jti, sizeof(jti), "b-%d", i);
		assert_int_equal(check_agent(f, "agent-b", jti, NOW + 100, NOW, 100, 10), 0);
	}
	assert_int_equal(check_agent(f, "agent-c", "c-0", NOW + 100, NOW, 100, 10), 0);
	/* the same jti of another agent of the same issuer is still a replay */
	assert_int_equal(check_agent(f, "agent-b", "a-0", NOW + 100, NOW, 100, 10), 1);
	/* once a's entries have expired it has room again */
	assert_int_equal(check_agent(f, "agent-a", "a-10", NOW + 1000, NOW + 100 + MARGIN,
				     100, 10), 0);
}

/*
 * F4: a full cache does not refuse an agent under its quota: the agent with
 * the most entries loses its oldest, and its evicted tokens are refused
 * (behind its floor), never accepted again.
 */
static void test_full_cache_evicts_largest(void **state)
{
	struct tfx_replay *f = *state;
	char jti[32];
	int i;

	/* max 16: a holds 12 (its quota), b 4: full */
	for (i = 0; i < 12; i++) {
		snprintf(jti, sizeof(jti), "a-%d", i);
		assert_int_equal(check_agent(f, "a", jti, NOW + 100 + i, NOW, 16, 12), 0);
	}
	for (i = 0; i < 4; i++) {
		snprintf(jti, sizeof(jti), "b-%d", i);
		assert_int_equal(check_agent(f, "b", jti, NOW + 200, NOW, 16, 12), 0);
	}
	/* c has nothing: it gets in, a loses its oldest entry (a-0) */
	assert_int_equal(check_agent(f, "c", "c-0", NOW + 300, NOW + 1, 16, 12), 0);
	/* a-0 is not accepted again: a's floor refuses it */
	assert_int_equal(check_agent(f, "a", "a-0", NOW + 100, NOW + 2, 16, 12), -1);
	assert_non_null(strstr(f->err, "agent a: the cache was full and its records up to"));
	/* every other entry is still there */
	for (i = 1; i < 12; i++) {
		snprintf(jti, sizeof(jti), "a-%d", i);
		assert_int_equal(check_agent(f, "a", jti, NOW + 100 + i, NOW + 2, 16, 12), 1);
	}
	for (i = 0; i < 4; i++) {
		snprintf(jti, sizeof(jti), "b-%d", i);
		assert_int_equal(check_agent(f, "b", jti, NOW + 200, NOW + 2, 16, 12), 1);
	}
	assert_int_equal(check_agent(f, "c", "c-0", NOW + 300, NOW + 2, 16, 12), 1);
	/* b (4) gets in again at a's expense (a has 11) */
	assert_int_equal(check_agent(f, "b", "b-4", NOW + 200, NOW + 2, 16, 12), 0);
	assert_int_equal(check_agent(f, "a", "a-1", NOW + 101, NOW + 2, 16, 12), -1);
	assert_non_null(strstr(f->err, "were dropped to make room"));
	/*
	 * a, now the newcomer with 10 entries, finds no agent holding more:
	 * the full cache refuses it rather than evicting others' entries
	 */
	assert_int_equal(check_agent(f, "a", "a-new", NOW + 400, NOW + 2, 16, 12), -1);
	assert_non_null(strstr(f->err, "full ("));
	assert_non_null(strstr(f->err, "no other agent holds more entries than agent a"));
	/* once a's floor has passed, a new token of a is fine (room made by expiry) */
	assert_int_equal(check_agent(f, "a", "a-new", NOW + 1000, NOW + 111 + MARGIN, 16, 12), 0);
}

/*
 * F4: whatever quotas and evictions do, a token accepted once is never
 * accepted again while its entry would be live: random calls of four
 * agents (one greedy) on a small table, each call presenting the current
 * token of an (agent, jti) again until its replay window has passed, then
 * a new token with that jti. Refusals are only quota, floor or "no other
 * agent holds more" ones.
 */
static void test_eviction_never_allows_replay(void **state)
{
	enum { AGENTS = 4, JTI = 60, MAX = 16, QUOTA = 6, STEPS = 5000 };
	struct tfx_replay *f = *state;
	int64_t token_exp[AGENTS][JTI] = { { 0 } };
	bool accepted_once[AGENTS][JTI] = { { false } };
	int64_t now = NOW;
	uint64_t seed = 0x2545f4914f6cdd1dull;
	unsigned accepted = 0, refused = 0, replays = 0;
	unsigned quota = 0, floor = 0, full = 0, others_refused = 0, others_new = 0;
	char agent[16], jti[16];
	int step;

	for (step = 0; step < STEPS; step++) {
		/* agent 0 calls four times as often as each other one */
		int r = (int)(tfx_prng(&seed) % 7), i = r < 4 ? 0 : r - 3;
		int j = (int)(tfx_prng(&seed) % JTI);
		int got;

		now += (int64_t)(tfx_prng(&seed) % 40);
		if (token_exp[i][j] + MARGIN <= now) {
			/* the old token is past any replay window: a new one */
			token_exp[i][j] = now + 20 + (int64_t)(tfx_prng(&seed) % 40);
			accepted_once[i][j] = false;
		}
		snprintf(agent, sizeof(agent), "agent-%d", i);
		snprintf(jti, sizeof(jti), "%d-%d", i, j);
		got = check_agent(f, agent, jti, token_exp[i][j], now, MAX, QUOTA);
		if (accepted_once[i][j] && got == 0)
			fail_msg("step %d: token %s (exp %" PRId64 ") accepted twice, at %" PRId64,
				 step, jti, token_exp[i][j], now);
		if (!accepted_once[i][j] && got == 1)
			fail_msg("step %d: token %s called a replay before it was accepted: %s",
				 step, jti, f->err);
		if (got == 0) {
			accepted_once[i][j] = true;
			accepted++;
		} else if (got == 1) {
			replays++;
		} else {
			refused++;
			if (strstr(f->err, "quota") != NULL)
				quota++;
			else if (strstr(f->err, "dropped") != NULL)
				floor++;
			else if (strstr(f->err, "no other agent holds more") != NULL)
				full++;
			else
				fail_msg("step %d: unexpected refusal: %s", step, f->err);
			if (i != 0)
				others_refused++;
		}
		if (i != 0 && got != 1)
			others_new++;
	}
	print_message("%u accepted, %u replays, %u refused (%u quota, %u floor, %u full); "
		      "the other agents: %u of %u new tokens refused\n", accepted, replays,
		      refused, quota, floor, full, others_refused, others_new);
	assert_true(accepted > 500);
	assert_true(replays > 50);
	/* the greedy agent meets its quota; the others rarely meet a full cache */
	assert_true(quota > 100);
	assert_true(others_refused * 10 < others_new);
}

/*
 * A version 1 file (no agent tags) is carried over: its live entries stay
 * replays, belong to no agent and are never evicted.
 */
static void test_version1_file_carried_over(void **state)
{
	struct tfx_replay *f = *state;
	unsigned char file[64 + 8 * 24], md[EVP_MAX_MD_SIZE];
	unsigned char key[16];
	unsigned int mdlen = 0;
	uint32_t u32;
	uint64_t u64, home;
	int64_t i64;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd;

	memset(file, 0, sizeof(file));
	memset(key, 0x42, sizeof(key));
	memcpy(file, "PAREPLAY", 8);
	u32 = 1;
	memcpy(file + 8, &u32, 4);
	u32 = 24;
	memcpy(file + 12, &u32, 4);
	u64 = 8;
	memcpy(file + 16, &u64, 8);
	u64 = 1;
	memcpy(file + 24, &u64, 8);
	i64 = NOW + 100 + MARGIN;
	memcpy(file + 32, &i64, 8);
	memcpy(file + 40, key, 16);
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, key, 16), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, "iss", 4), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, "old-jti", 7), 1);
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &mdlen), 1);
	EVP_MD_CTX_free(ctx);
	memcpy(&home, md, 8);
	home &= 7;
	memcpy(file + 64 + home * 24, md, 16);
	memcpy(file + 64 + home * 24 + 16, &i64, 8);
	assert_int_equal(mkdir(f->dir, 0700), 0);
	fd = open(f->db, O_CREAT | O_WRONLY | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, file, sizeof(file)), (ssize_t)sizeof(file));
	close(fd);

	assert_int_equal(check_agent(f, "a", "old-jti", NOW + 100, NOW, 4, 4), 1);
	assert_int_equal(tfx_file_size(f->db), FILE_SIZE(8));
	assert_int_equal(check_agent(f, "a", "a-1", NOW + 100, NOW, 4, 4), 0);
	assert_int_equal(check_agent(f, "a", "a-2", NOW + 100, NOW, 4, 4), 0);
	assert_int_equal(check_agent(f, "b", "b-1", NOW + 100, NOW, 4, 4), 0);
	/* full: a (2) is the largest agent; the old entry is never the victim */
	assert_int_equal(check_agent(f, "c", "c-1", NOW + 100, NOW, 4, 4), 0);
	assert_int_equal(check_agent(f, "a", "old-jti", NOW + 100, NOW, 4, 4), 1);
	assert_int_equal(check_agent(f, "zz", "old-jti", NOW + 100, NOW, 4, 4), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agent_quota, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_full_cache_evicts_largest, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_eviction_never_allows_replay, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_version1_file_carried_over, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_two_processes_10000, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_two_processes_while_rebuilding,
						tfx_replay_setup, tfx_tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
