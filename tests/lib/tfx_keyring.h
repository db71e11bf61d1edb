/*
 * tfx_keyring.h - the kernel keyring for the tests of the keyring engine,
 * libagentcred and the helper (test_keyring*, test_agentcred,
 * test_helper*): session ids, per-session keyrings and keys placed with
 * the keyring engine, a witness keyring that keeps revoked and expired
 * keys linked for checks, and what the kernel says about a key.
 */
#ifndef PA_TFX_KEYRING_H
#define PA_TFX_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include <keyutils.h>

/* A fresh session id for each per-session keyring of this run (a static buffer). */
const char *tfx_sid(void);

/* kr_session_create of a new per-session keyring with timeout. */
key_serial_t tfx_ring(int64_t timeout);

/* kr_key_add of len bytes of secret as name in ring with timeout. */
key_serial_t tfx_key_place(key_serial_t ring, const char *name, const void *secret, size_t len,
			   int64_t timeout);

/* tfx_key_place of the string secret. */
key_serial_t tfx_key_add(key_serial_t ring, const char *name, const char *secret, int64_t timeout);

/* kr_session_revoke of ring (it must work). */
void tfx_ring_revoke(key_serial_t ring);

/* A keyring linked in the session keyring that keeps keys alive for checks. */
extern key_serial_t tfx_witness;

/*
 * cmocka group setup: a session keyring of the process's own even when
 * run by hand (kr_session_keyring_ensure), and tfx_witness in it. The
 * teardown revokes tfx_witness.
 */
int tfx_keyring_setup(void **state);
int tfx_keyring_teardown(void **state);

/* What keyctl_describe says of a key. */
struct tfx_desc {
	char type[32];
	long uid, gid;
	unsigned long perm;
	char text[256];
};

/* keyctl_describe of id into d; returns 0 or the errno. */
int tfx_describe(key_serial_t id, struct tfx_desc *d);

/* The errno of keyctl_read(id), 0 when readable. */
int tfx_read_errno(key_serial_t id);

/* Whether ring links id directly. */
int tfx_links(key_serial_t ring, key_serial_t id);

/* The expiry column of /proc/keys for id ("perm", "45s", "49m", ...; "(not listed)"). */
void tfx_key_expiry(key_serial_t id, char *out, size_t len);

/* Seconds of an expiry column like "45s" / "49m" / "2h"; -1 for anything else. */
long tfx_expiry_seconds(const char *exp);

/* The remaining timeout of id in seconds as /proc/keys shows it; -1 when none or not listed. */
long tfx_key_timeout(key_serial_t id);

/* The value of a key (heap, NUL-terminated), or NULL with errno (EKEYREVOKED, ...). */
char *tfx_key_value(key_serial_t id);

/* The keys linked in ring that can still be read (0 when the ring is gone). */
int tfx_live_keys(key_serial_t ring);

/* The value of /proc/sys/kernel/keys/name, or -1. */
long tfx_keys_sysctl(const char *name);

#endif
