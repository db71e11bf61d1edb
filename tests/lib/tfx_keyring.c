/*
 * tfx_keyring.c - see tfx_keyring.h.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keyring.h"
#include "tfx_keyring.h"

key_serial_t tfx_witness;

const char *tfx_sid(void)
{
	static char sid[32];
	static unsigned n;

	snprintf(sid, sizeof(sid), "%08x%04x", (unsigned)getpid(), ++n);
	return sid;
}

key_serial_t tfx_ring(int64_t timeout)
{
	char err[512] = "";
	key_serial_t ring = kr_session_create(tfx_sid(), timeout, err, sizeof(err));

	if (ring <= 0)
		fail_msg("kr_session_create: %s", err);
	return ring;
}

key_serial_t tfx_key_place(key_serial_t ring, const char *name, const void *secret, size_t len,
			   int64_t timeout)
{
	char err[512] = "";
	key_serial_t k = kr_key_add(ring, name, secret, len, timeout, err, sizeof(err));

	if (k <= 0)
		fail_msg("kr_key_add %s: %s", name, err);
	return k;
}

key_serial_t tfx_key_add(key_serial_t ring, const char *name, const char *secret, int64_t timeout)
{
	return tfx_key_place(ring, name, secret, strlen(secret), timeout);
}

void tfx_ring_revoke(key_serial_t ring)
{
	char err[512] = "";

	if (kr_session_revoke(ring, err, sizeof(err)) != 0)
		fail_msg("kr_session_revoke: %s", err);
}

int tfx_keyring_setup(void **state)
{
	char err[512] = "";

	(void)state;
	if (kr_session_keyring_ensure(getuid(), getgid(), err, sizeof(err)) < 0) {
		fprintf(stderr, "kr_session_keyring_ensure: %s\n", err);
		return -1;
	}
	tfx_witness = add_key("keyring", "test:witness", NULL, 0, KEY_SPEC_SESSION_KEYRING);
	return tfx_witness > 0 ? 0 : -1;
}

int tfx_keyring_teardown(void **state)
{
	(void)state;
	keyctl_revoke(tfx_witness);
	return 0;
}

int tfx_describe(key_serial_t id, struct tfx_desc *d)
{
	char *buf = NULL;
	int n = 0;

	if (keyctl_describe_alloc(id, &buf) < 0)
		return errno;
	memset(d, 0, sizeof(*d));
	if (sscanf(buf, "%31[^;];%ld;%ld;%lx;%255[^\n]%n", d->type, &d->uid, &d->gid, &d->perm,
		   d->text, &n) != 5)
		fail_msg("unexpected description \"%s\"", buf);
	free(buf);
	return 0;
}

int tfx_read_errno(key_serial_t id)
{
	char buf[64];

	return keyctl_read(id, buf, sizeof(buf)) < 0 ? errno : 0;
}

int tfx_links(key_serial_t ring, key_serial_t id)
{
	void *buf = NULL;
	long len = keyctl_read_alloc(ring, &buf);
	key_serial_t *ids = buf;
	int found = 0;
	long i;

	assert_true(len >= 0);
	for (i = 0; i < len / (long)sizeof(key_serial_t); i++)
		found |= ids[i] == id;
	free(buf);
	return found;
}

void tfx_key_expiry(key_serial_t id, char *out, size_t len)
{
	char line[512], exp[16];
	unsigned serial;
	FILE *f = fopen("/proc/keys", "re");

	assert_non_null(f);
	snprintf(out, len, "(not listed)");
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%x %*s %*d %15s", &serial, exp) == 2 &&
		    (key_serial_t)serial == id) {
			snprintf(out, len, "%s", exp);
			break;
		}
	}
	fclose(f);
}

long tfx_expiry_seconds(const char *exp)
{
	char unit = 0;
	long v;

	if (sscanf(exp, "%ld%c", &v, &unit) != 2)
		return -1;
	switch (unit) {
	case 's':
		return v;
	case 'm':
		return v * 60;
	case 'h':
		return v * 3600;
	case 'd':
		return v * 86400;
	case 'w':
		return v * 604800;
	default:
		return -1;
	}
}

long tfx_key_timeout(key_serial_t id)
{
	char exp[16];

	tfx_key_expiry(id, exp, sizeof(exp));
	return tfx_expiry_seconds(exp);
}

char *tfx_key_value(key_serial_t id)
{
	void *buf = NULL;
	long n = keyctl_read_alloc(id, &buf);

	if (n < 0)
		return NULL;
	return buf;
}

int tfx_live_keys(key_serial_t ring)
{
	void *buf = NULL;
	long n = keyctl_read_alloc(ring, &buf);
	int live = 0;
	long i;

	if (n < 0)
		return 0; /* the ring itself is revoked or gone */
	for (i = 0; i < n / (long)sizeof(key_serial_t); i++) {
		char *v = tfx_key_value(((key_serial_t *)buf)[i]);

		if (v != NULL)
			live++;
		free(v);
	}
	free(buf);
	return live;
}

long tfx_keys_sysctl(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/kernel/keys/%s", name);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}
