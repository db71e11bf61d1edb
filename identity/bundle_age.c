/*
 * bundle_age.c - how often a trust bundle or JWKS is fetched again and
 * how old its file may grow before its tokens are refused
 * (docs/bundles.md). The age is the file's mtime, which `pam-agent bundle
 * fetch` sets at each successful fetch.
 */
#include "config.h"

#include <inttypes.h>
#include <time.h>

#include "identity.h"
#include "util.h"

/* The refresh hint bounded to [ID_REFRESH_MIN, ID_REFRESH_MAX]. */
int64_t id_bundle_refresh_interval(const struct id_keyset *set)
{
	int64_t hint = id_keyset_refresh_hint(set);

	if (hint < 0)
		return ID_REFRESH_DEFAULT;
	if (hint < ID_REFRESH_MIN)
		return ID_REFRESH_MIN;
	return hint > ID_REFRESH_MAX ? ID_REFRESH_MAX : hint;
}

/* The age limit of set under max_bundle_age (see identity.h); 0: none. */
int64_t id_bundle_age_limit(const struct id_keyset *set, int64_t max_bundle_age)
{
	if (max_bundle_age == ID_BUNDLE_AGE_AUTO)
		return ID_BUNDLE_AGE_FACTOR * id_bundle_refresh_interval(set);
	return max_bundle_age > 0 ? max_bundle_age : 0;
}

/* Whether the file of set is within its age limit at now (see identity.h). */
int id_bundle_check_age(const struct id_keyset *set, int64_t max_bundle_age, int64_t now, char *err,
			size_t errlen)
{
	int64_t limit = id_bundle_age_limit(set, max_bundle_age);
	int64_t mtime = id_keyset_mtime(set), age;
	struct tm tm;
	time_t t = (time_t)mtime;
	char when[32] = "?";

	if (limit == 0 || mtime <= 0)
		return 0;
	age = now > mtime ? now - mtime : 0;
	if (age <= limit)
		return 0;
	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return pa_err(err, errlen,
		      "its key set file is stale: written %" PRId64 "s ago (%s), over "
		      "max_bundle_age %" PRId64 "s%s; is pam-agent-bundle.timer running? "
		      "(pam-agent bundle show)",
		      age, when, limit,
		      max_bundle_age == ID_BUNDLE_AGE_AUTO ? " (the default: 24 refresh intervals)"
							   : "");
}
