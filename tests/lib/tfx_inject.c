/*
 * tfx_inject.c - see tfx_inject.h.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tfx_inject.h"
#include "tfx_keyring.h"

struct tfx_inj tfx_inj;

static void probe(key_serial_t id, key_serial_t ring);

key_serial_t __real_add_key(const char *type, const char *desc, const void *payload, size_t plen,
			    key_serial_t ring);
key_serial_t __wrap_add_key(const char *type, const char *desc, const void *payload, size_t plen,
			    key_serial_t ring);
key_serial_t __real_keyctl_get_keyring_ID(key_serial_t id, int create);
key_serial_t __wrap_keyctl_get_keyring_ID(key_serial_t id, int create);
key_serial_t __real_keyctl_join_session_keyring(const char *name);
key_serial_t __wrap_keyctl_join_session_keyring(const char *name);
long __real_keyctl_setperm(key_serial_t id, key_perm_t perm);
long __wrap_keyctl_setperm(key_serial_t id, key_perm_t perm);
long __real_keyctl_set_timeout(key_serial_t id, unsigned timeout);
long __wrap_keyctl_set_timeout(key_serial_t id, unsigned timeout);
long __real_keyctl_link(key_serial_t id, key_serial_t ring);
long __wrap_keyctl_link(key_serial_t id, key_serial_t ring);

key_serial_t __wrap_add_key(const char *type, const char *desc, const void *payload, size_t plen,
			    key_serial_t ring)
{
	if (tfx_inj.add_key_errno != 0 &&
	    (tfx_inj.add_key_type == NULL || strcmp(type, tfx_inj.add_key_type) == 0)) {
		errno = tfx_inj.add_key_errno;
		return -1;
	}
	return __real_add_key(type, desc, payload, plen, ring);
}

key_serial_t __wrap_keyctl_get_keyring_ID(key_serial_t id, int create)
{
	if (tfx_inj.get_id_errno != 0) {
		errno = tfx_inj.get_id_errno;
		return -1;
	}
	/* what the kernel answers for a process without a session keyring */
	if (tfx_inj.fake_session_once && id == KEY_SPEC_SESSION_KEYRING) {
		tfx_inj.fake_session_once = 0;
		return __real_keyctl_get_keyring_ID(KEY_SPEC_USER_SESSION_KEYRING, create);
	}
	return __real_keyctl_get_keyring_ID(id, create);
}

key_serial_t __wrap_keyctl_join_session_keyring(const char *name)
{
	if (tfx_inj.join_errno != 0) {
		errno = tfx_inj.join_errno;
		return -1;
	}
	return __real_keyctl_join_session_keyring(name);
}

/* Keeps the key a failing wrapper saw alive, so the test can see it revoked. */
static void keep(key_serial_t id)
{
	tfx_inj.victim = id;
	if (tfx_inj.witness > 0)
		assert_true(__real_keyctl_link(id, tfx_inj.witness) == 0);
}

long __wrap_keyctl_setperm(key_serial_t id, key_perm_t perm)
{
	probe(id, 0);
	if (tfx_inj.setperm_errno != 0) {
		keep(id);
		errno = tfx_inj.setperm_errno;
		return -1;
	}
	return __real_keyctl_setperm(id, perm);
}

long __wrap_keyctl_set_timeout(key_serial_t id, unsigned timeout)
{
	probe(id, 0);
	if (tfx_inj.set_timeout_errno != 0) {
		keep(id);
		errno = tfx_inj.set_timeout_errno;
		return -1;
	}
	return __real_keyctl_set_timeout(id, timeout);
}

long __wrap_keyctl_link(key_serial_t id, key_serial_t ring)
{
	probe(id, ring);
	if (tfx_inj.link_errno != 0 && id != KEY_SPEC_USER_KEYRING) {
		keep(id);
		errno = tfx_inj.link_errno;
		return -1;
	}
	return __real_keyctl_link(id, ring);
}

/*
 * While a key is being made, records whether it is already reachable from
 * the watched keyring (setperm/set_timeout: it must not be), and what it
 * looks like when it is linked there (ring != 0: final permissions and a
 * timeout already).
 */
static void probe(key_serial_t id, key_serial_t ring)
{
	char *d = NULL, exp[16];
	void *buf = NULL;
	long len, i;

	if (tfx_inj.watch == 0)
		return;
	if (ring == 0) {
		len = keyctl_read_alloc(tfx_inj.watch, &buf);
		for (i = 0; i < len / (long)sizeof(key_serial_t); i++)
			tfx_inj.linked_early |= ((key_serial_t *)buf)[i] == id;
		free(buf);
		return;
	}
	if (ring < 0) /* KEY_SPEC_SESSION_KEYRING and the like */
		ring = __real_keyctl_get_keyring_ID(ring, 0);
	if (ring != tfx_inj.watch)
		return;
	tfx_key_expiry(id, exp, sizeof(exp));
	if (keyctl_describe_alloc(id, &d) < 0)
		snprintf(tfx_inj.at_link, sizeof(tfx_inj.at_link), "(describe: %s)", strerror(errno));
	else
		snprintf(tfx_inj.at_link, sizeof(tfx_inj.at_link), "%s expiry=%s", d, exp);
	free(d);
}
