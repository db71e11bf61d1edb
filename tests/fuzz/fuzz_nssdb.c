/*
 * fuzz_nssdb.c - libFuzzer target for the agent account database reader
 * (nss/nssdb.c, the code libnss_agent.so.2 runs in every process). The
 * bytes are the database file. Properties checked on every input:
 *
 *   1. nssdb_parse never reads outside the image (ASan), and a refusal
 *      gives a reason;
 *   2. an accepted image: every user is found by its name and by its uid,
 *      every group by its name and gid, and each answer is that entry;
 *      every string of every entry is inside the string table; a group's
 *      members are inside the member table;
 *   3. the checksum field covers every byte after the header: an accepted
 *      image with its last byte flipped is refused.
 *
 * Each input is parsed as it is, then again with its checksum field set
 * to the checksum of its bytes, so the checks behind the checksum are
 * reached too.
 *
 * A violated property aborts, which libFuzzer reports as a crash.
 * Built and run by `make fuzz` / `make fuzz-run` (docs/fuzzing.md).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nssdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_nssdb: property violated: %s\n", what);
	abort();
}

static void check_str(const struct nssdb *db, uint32_t off)
{
	if (off >= db->h->strings_len)
		fail("a string offset outside the string table");
	if (strlen(nssdb_str(db, off)) >= db->h->strings_len - off)
		fail("a string runs past the string table");
}

static void check_accepted(const struct nssdb *db)
{
	uint32_t i, j;

	for (i = 0; i < db->h->n_users; i++) {
		const struct nssdb_user *u = &db->users[i];

		check_str(db, u->name);
		check_str(db, u->gecos);
		check_str(db, u->dir);
		check_str(db, u->shell);
		if (nssdb_user_by_uid(db, u->uid) != u)
			fail("a user is not found by its uid");
		if (nssdb_user_by_name(db, nssdb_str(db, u->name)) != u)
			fail("a user is not found by its name");
	}
	for (i = 0; i < db->h->n_groups; i++) {
		const struct nssdb_group *g = &db->groups[i];

		check_str(db, g->name);
		if ((uint64_t)g->mem_first + g->mem_count > db->h->n_members)
			fail("a group's members run past the member table");
		for (j = 0; j < g->mem_count; j++)
			check_str(db, db->members[g->mem_first + j]);
		if (nssdb_group_by_gid(db, g->gid) != g)
			fail("a group is not found by its gid");
		if (nssdb_group_by_name(db, nssdb_str(db, g->name)) != g)
			fail("a group is not found by its name");
	}
	(void)nssdb_user_by_name(db, "");
	(void)nssdb_user_by_uid(db, 0);
	(void)nssdb_group_by_gid(db, 0xffffffffu);
}

/* Parses img as it is; checks an accepted one. */
static void one(unsigned char *img, size_t size)
{
	struct nssdb db;
	const char *why = NULL;

	if (nssdb_parse(img, size, &db, &why) != 0) {
		if (why == NULL || why[0] == '\0')
			fail("a refusal without a reason");
		return;
	}
	check_accepted(&db);
	img[size - 1] ^= 1;
	if (nssdb_parse(img, size, &db, &why) == 0)
		fail("an image with its last byte flipped is accepted");
	img[size - 1] ^= 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the module maps the file: page-aligned; the reader wants 8 */
	unsigned char *img = malloc(size + 1);

	if (img == NULL)
		return 0;
	if (size > 0)
		memcpy(img, data, size);
	one(img, size);
	/*
	 * Again with the checksum the input's bytes have, so that the checks
	 * behind it are reached by inputs the fuzzer did not checksum.
	 */
	if (size > sizeof(struct nssdb_header)) {
		uint64_t sum = nssdb_checksum(img + sizeof(struct nssdb_header),
					      size - sizeof(struct nssdb_header));

		memcpy(img + offsetof(struct nssdb_header, checksum), &sum, sizeof(sum));
		one(img, size);
	}
	free(img);
	return 0;
}
