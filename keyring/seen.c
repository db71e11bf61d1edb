/*
 * seen.c - the keys of a keyring already described (struct kr_seen, see
 * keyring/keyring.h), so that keyring.c describes each key once while it
 * places several keys into one keyring.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyring.h"

const struct kr_seen_key *kr_seen_find(const struct kr_seen *seen, int32_t serial)
{
	size_t i;

	for (i = 0; seen != NULL && i < seen->n; i++)
		if (seen->keys[i].serial == serial)
			return &seen->keys[i];
	return NULL;
}

void kr_seen_note(struct kr_seen *seen, int32_t serial, const char *type, const char *desc)
{
	struct kr_seen_key *k;

	if (seen == NULL)
		return;
	if (seen->n == seen->cap) {
		size_t cap = seen->cap == 0 ? 16 : 2 * seen->cap;

		k = cap <= SIZE_MAX / sizeof(*k) ? realloc(seen->keys, cap * sizeof(*k)) : NULL;
		if (k == NULL)
			return;
		seen->keys = k;
		seen->cap = cap;
	}
	k = &seen->keys[seen->n];
	k->serial = serial;
	snprintf(k->type, sizeof(k->type), "%s", type);
	k->desc = desc != NULL ? strdup(desc) : NULL;
	if (desc == NULL || k->desc != NULL)
		seen->n++;
}

void kr_seen_clear(struct kr_seen *seen)
{
	size_t i;

	if (seen == NULL)
		return;
	for (i = 0; i < seen->n; i++)
		free(seen->keys[i].desc);
	free(seen->keys);
	memset(seen, 0, sizeof(*seen));
}
