/*
 * attest_cgroup.c - the cgroup part of caller attestation (identity.h):
 * the cgroup path of /proc/PID/cgroup (cgroup v2, or systemd's name=systemd
 * hierarchy on a hybrid host), the systemd unit it names, and that unit's
 * invocation id, an extended attribute systemd sets on the unit's cgroup
 * directory. No systemd, no unit: NULL, not an error.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "attest_int.h"
#include "identity.h"
#include "util.h"

/* Longest systemd unit name, with its NUL (systemd's UNIT_NAME_MAX). */
#define ATTEST_UNIT_MAX 256

/*
 * The span of the first component of path that names a unit (the one the
 * system manager made, as only root can); false: none.
 */
static bool unit_span(const char *path, size_t *start, size_t *len)
{
	static const char *const suffixes[] = { ".service", ".scope" };
	const char *p = path, *c;
	size_t n, i, sl;

	while (*p != '\0') {
		while (*p == '/')
			p++;
		c = p;
		p = strchrnul(c, '/');
		n = (size_t)(p - c);
		for (i = 0; i < PA_ARRAY_SIZE(suffixes); i++) {
			sl = strlen(suffixes[i]);
			if (n > sl && memcmp(c + n - sl, suffixes[i], sl) == 0) {
				*start = (size_t)(c - path);
				*len = n;
				return true;
			}
		}
	}
	return false;
}

int id_unit_from_cgroup(const char *path, char *buf, size_t len)
{
	size_t start, n;

	if (len > 0)
		buf[0] = '\0';
	if (path == NULL || !unit_span(path, &start, &n))
		return 0;
	if (n >= len)
		return -1;
	memcpy(buf, path + start, n);
	buf[n] = '\0';
	return 1;
}

/* Whether the comma-separated list [s, end) holds the item word. */
static bool list_has(const char *s, const char *end, const char *word)
{
	size_t wl = strlen(word);
	const char *c;

	while (s < end) {
		c = memchr(s, ',', (size_t)(end - s));
		if (c == NULL)
			c = end;
		if ((size_t)(c - s) == wl && memcmp(s, word, wl) == 0)
			return true;
		s = c + 1;
	}
	return false;
}

/*
 * Splits /proc/PID/cgroup (in place) into the v2 path ("0::PATH") and the
 * v1 name=systemd path. -1 when a line is not "ID:CONTROLLERS:/PATH" or
 * one of the two comes twice (a cgroup name with a newline in it).
 */
static int cgroup_lines(char *buf, char **v2, char **sd)
{
	char *line = buf, *next, *c1, *c2, *p;

	*v2 = *sd = NULL;
	for (; *line != '\0'; line = next) {
		next = strchrnul(line, '\n');
		if (*next != '\0')
			*next++ = '\0';
		c1 = strchr(line, ':');
		c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
		if (c1 == NULL || c2 == NULL || c1 == line || c2[1] != '/')
			return -1;
		for (p = line; p < c1; p++)
			if (*p < '0' || *p > '9')
				return -1;
		if (c1 - line == 1 && line[0] == '0' && c2 == c1 + 1) {
			if (*v2 != NULL)
				return -1;
			*v2 = c2 + 1;
		} else if (list_has(c1 + 1, c2, "name=systemd")) {
			if (*sd != NULL)
				return -1;
			*sd = c2 + 1;
		}
	}
	return 0;
}

/* Copies a mountinfo field into out, undoing its octal escapes (\040). */
static void unescape_field(const char *s, char *out, size_t len)
{
	size_t o = 0;

	while (*s != '\0' && o + 1 < len) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			out[o++] = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else {
			out[o++] = *s++;
		}
	}
	out[o] = '\0';
}

/* The mount points of the cgroup2 hierarchy and of the name=systemd one ("" if none). */
static void cgroup_mounts(char *v2, char *sd, size_t len)
{
	char *line = NULL, *sep, *save, *f[5], *fstype, *super;
	size_t cap = 0;
	FILE *fp;
	int i;

	v2[0] = sd[0] = '\0';
	fp = fopen("/proc/self/mountinfo", "re");
	if (fp == NULL)
		return;
	/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
	while (getline(&line, &cap, fp) > 0 && (v2[0] == '\0' || sd[0] == '\0')) {
		sep = strstr(line, " - ");
		if (sep == NULL)
			continue;
		*sep = '\0';
		for (i = 0, save = NULL; i < 5; i++)
			if ((f[i] = strtok_r(i == 0 ? line : NULL, " ", &save)) == NULL)
				break;
		fstype = strtok_r(sep + 3, " \n", &save);
		super = NULL;
		if (fstype != NULL && strtok_r(NULL, " \n", &save) != NULL) /* the source */
			super = strtok_r(NULL, " \n", &save);
		if (i < 5 || fstype == NULL || strcmp(f[3], "/") != 0)
			continue;
		if (strcmp(fstype, "cgroup2") == 0 && v2[0] == '\0')
			unescape_field(f[4], v2, len);
		else if (strcmp(fstype, "cgroup") == 0 && super != NULL && sd[0] == '\0' &&
			 list_has(super, super + strlen(super), "name=systemd"))
			unescape_field(f[4], sd, len);
	}
	free(line);
	fclose(fp);
}

/* The invocation id on the directory dir, lowercase hex into id; false: none. */
static bool xattr_id(const char *dir, char id[33])
{
	static const char *const names[] = { "trusted.invocation_id", "user.invocation_id" };
	static const char digits[] = "0123456789abcdef";
	unsigned char v[33];
	ssize_t n;
	size_t i, k;

	for (k = 0; k < PA_ARRAY_SIZE(names); k++) {
		n = getxattr(dir, names[k], v, sizeof(v));
		if (n == 16) { /* 16 raw bytes */
			for (i = 0; i < 16; i++) {
				id[2 * i] = digits[v[i] >> 4];
				id[2 * i + 1] = digits[v[i] & 0xf];
			}
			id[32] = '\0';
			return true;
		}
		if (n != 32) /* 32 hex digits, else not an invocation id */
			continue;
		for (i = 0; i < 32 && v[i] != '\0' && strchr("0123456789abcdefABCDEF", v[i]) != NULL;
		     i++)
			id[i] = (char)(v[i] | 0x20); /* lowercase; digits unchanged */
		if (i == 32) {
			id[32] = '\0';
			return true;
		}
	}
	return false;
}

/*
 * *out: the invocation id of the unit cgroup path names (its directory
 * under the cgroup2 mount; also under the name=systemd one when the path
 * is that hierarchy's), NULL when there is none. -1 only when out of memory.
 */
static int invocation_id(const char *path, bool from_sd, char **out)
{
	char v2[PATH_MAX], sd[PATH_MAX], dir[PATH_MAX], id[33];
	const char *mounts[4];
	size_t start, ulen, n = 0, i;

	*out = NULL;
	if (!unit_span(path, &start, &ulen))
		return 0;
	cgroup_mounts(v2, sd, sizeof(v2));
	if (v2[0] != '\0') {
		mounts[n++] = v2;
	} else {
		mounts[n++] = "/sys/fs/cgroup";
		mounts[n++] = "/sys/fs/cgroup/unified";
	}
	if (from_sd && sd[0] != '\0')
		mounts[n++] = sd;
	for (i = 0; i < n; i++) {
		int w = snprintf(dir, sizeof(dir), "%s%.*s", mounts[i], (int)(start + ulen), path);

		if (w < 0 || (size_t)w >= sizeof(dir) || !xattr_id(dir, id))
			continue;
		*out = strdup(id);
		return *out != NULL ? 0 : -1;
	}
	return 0;
}

int id_attest_cgroup(char *text, bool invocation, struct id_proc *out, char *err,
		     size_t errlen)
{
	char *v2, *sd, unit[ATTEST_UNIT_MAX];
	const char *path;
	bool from_sd;

	if (cgroup_lines(text, &v2, &sd) != 0)
		return pa_err(err, errlen, "unexpected content");
	/* a hybrid host: systemd's tree is the name=systemd hierarchy */
	from_sd = sd != NULL && (v2 == NULL || (strcmp(v2, "/") == 0 && strlen(sd) > 1));
	path = from_sd ? sd : v2;
	if (path == NULL)
		return 0;
	out->cgroup = strdup(path);
	if (out->cgroup == NULL)
		return pa_err(err, errlen, "out of memory");
	/* a component too long for a unit name is none */
	if (id_unit_from_cgroup(path, unit, sizeof(unit)) != 1)
		return 0;
	out->unit = strdup(unit);
	if (out->unit == NULL ||
	    (invocation && invocation_id(path, from_sd, &out->invocation_id) != 0))
		return pa_err(err, errlen, "out of memory");
	return 0;
}
