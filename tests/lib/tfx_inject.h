/*
 * tfx_inject.h - failure injection into libkeyutils, for the programs
 * linked with -Wl,--wrap= for add_key, keyctl_get_keyring_ID,
 * keyctl_join_session_keyring, keyctl_setperm, keyctl_set_timeout and
 * keyctl_link (test_keyring, test_keyring_inject): the wrappers call the
 * real function unless a test armed a failure in tfx_inj, and record how
 * a key looks while it is being made.
 */
#ifndef PA_TFX_INJECT_H
#define PA_TFX_INJECT_H

#include <keyutils.h>

struct tfx_inj {
	const char *add_key_type; /* fail add_key of this type ... */
	int add_key_errno;	  /* ... with this errno (0: never) */
	int get_id_errno;	  /* fail keyctl_get_keyring_ID */
	int fake_session_once;	  /* answer the next session-keyring query with @us */
	int join_errno;		  /* fail keyctl_join_session_keyring */
	int setperm_errno;	  /* fail keyctl_setperm */
	int set_timeout_errno;	  /* fail keyctl_set_timeout */
	int link_errno;		  /* fail keyctl_link of anything but the user keyring */
	key_serial_t witness;	  /* a failing wrapper first links the key here */
	key_serial_t victim;	  /* the key a failing wrapper was called with */
	key_serial_t watch;	  /* a destination keyring to watch: */
	int linked_early;	  /* setperm/set_timeout saw the key already in it */
	char at_link[96];	  /* the description and expiry when linked into it */
};

extern struct tfx_inj tfx_inj;

#endif
