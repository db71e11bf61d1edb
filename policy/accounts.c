/*
 * accounts.c - the pieces of the shared-uid boundary (docs/sessions.md,
 * "Who can read a session's keys") that the module's session phase and
 * `pam-agent check` both use: the highest class of credentials the
 * sessions of an [agent] rule can hold, and the uid a login name is.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"

enum pol_class pol_rule_ceiling(const struct pol_config *cfg, const struct pol_agent *a)
{
	enum pol_class best = POL_CLASS_NONE;
	size_t i;

	/* a service above max_class is refused (decision.c), so it raises nothing */
	for (i = 0; i < a->services.n; i++) {
		const struct pol_service *svc = pol_config_find_service(cfg, a->services.v[i]);

		if (svc != NULL && svc->cls <= a->max_class && svc->cls > best)
			best = svc->cls;
	}
	return best;
}

/* Largest buffer tried for one passwd entry (getpwnam_r's ERANGE). */
#define PW_BUF_MAX (1024 * 1024)

static int uid_from_nss(const char *name, uid_t *uid, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	size_t cap = 4096;
	char *buf = NULL;
	int rc;

	for (;;) {
		char *more = realloc(buf, cap);

		if (more == NULL) {
			free(buf);
			return pa_err(err, errlen, "out of memory");
		}
		buf = more;
		rc = getpwnam_r(name, &pw, buf, cap, &res);
		if (rc != ERANGE || cap >= PW_BUF_MAX)
			break;
		cap *= 2;
	}
	free(buf);
	if (rc == 0 && res == NULL)
		return 1;
	if (rc != 0)
		/* also ENOENT and the like: glibc says "no such user" with 0 and
		 * NULL, anything else is a name service that did not answer */
		return pa_err(err, errlen, "the name service did not answer for user %s: %s",
			      name, strerror(rc));
	*uid = pw.pw_uid;
	return 0;
}

static int uid_from_file(const char *path, const char *name, uid_t *uid, char *err,
			 size_t errlen)
{
	struct passwd pw, *res;
	struct stat st;
	char buf[4096];
	FILE *f;
	int rc, fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return pa_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022) != 0) {
		close(fd);
		return pa_err(err, errlen, "%s: must be a regular file owned by root (or uid %lu), "
			      "not group/world-writable", path, (unsigned long)geteuid());
	}
	f = fdopen(fd, "r");
	if (f == NULL) {
		close(fd);
		return pa_err(err, errlen, "%s: %s", path, strerror(errno));
	}
	while ((rc = fgetpwent_r(f, &pw, buf, sizeof(buf), &res)) == 0)
		if (strcmp(pw.pw_name, name) == 0) {
			*uid = pw.pw_uid;
			fclose(f);
			return 0;
		}
	fclose(f);
	if (rc != ENOENT)
		return pa_err(err, errlen, "%s: cannot read: %s", path, strerror(rc));
	return 1;
}

int pol_user_uid(const char *passwd_file, const char *name, uid_t *uid, char *err,
		 size_t errlen)
{
	if (passwd_file != NULL)
		return uid_from_file(passwd_file, name, uid, err, errlen);
	return uid_from_nss(name, uid, err, errlen);
}
