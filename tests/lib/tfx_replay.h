/*
 * tfx_replay.h - the fixture of the replay cache tests (test_replay*):
 * a temporary directory whose cache directory does not exist yet (its
 * creation is exercised too), and the sizes of the on-disk format.
 */
#ifndef PA_TFX_REPLAY_H
#define PA_TFX_REPLAY_H

#include "tfx.h"

/* Must match RC_EXP_MARGIN in replay.c: entries outlive exp by this much. */
#define TFX_REPLAY_MARGIN 300
/* Header, slot and agent entry sizes of the on-disk format (see replay.c). */
#define TFX_REPLAY_HDR 64
#define TFX_REPLAY_SLOT 32
#define TFX_REPLAY_AGENT 32
/* File size of a table of cap slots: the slots, then as many agent entries. */
#define TFX_REPLAY_FILE_SIZE(cap) \
	(TFX_REPLAY_HDR + (cap) * (TFX_REPLAY_SLOT + TFX_REPLAY_AGENT))

#define TFX_REPLAY_ERRLEN 512

struct tfx_replay {
	struct tfx_tmp tmp; /* the test's directory */
	char dir[96];	    /* cache directory (DIR/cache), created by the code */
	char db[128];	    /* dir/replay.db */
	char err[TFX_REPLAY_ERRLEN];
};

/* cmocka setup of a struct tfx_replay (tfx_tmp_teardown removes it). */
int tfx_replay_setup(void **state);

#endif
