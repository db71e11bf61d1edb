/*
 * tfx_replay.c - see tfx_replay.h.
 */
#include "config.h"

#include <stdio.h>

#include "tfx_replay.h"

int tfx_replay_setup(void **state)
{
	struct tfx_replay *f = tfx_tmp_new(sizeof(*f), "replay");

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/cache", f->tmp.dir);
	snprintf(f->db, sizeof(f->db), "%s/replay.db", f->dir);
	*state = f;
	return 0;
}
