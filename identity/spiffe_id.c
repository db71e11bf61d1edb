/*
 * spiffe_id.c - SPIFFE ID validation as the SPIFFE ID specification
 * defines it, matching go-spiffe's spiffeid.FromString.
 */
#include "config.h"

#include <string.h>

#include "identity.h"
#include "util.h"

#define SPIFFE_SCHEME "spiffe://"
/* SPIFFE ID spec §2.3 and §2.1. */
#define SPIFFE_ID_MAX 2048
#define SPIFFE_TD_MAX 255

/* Whether c may appear in a trust domain name: [a-z0-9._-]. */
static bool td_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

/* Whether c may appear in a path segment: [A-Za-z0-9._-]. */
static bool path_char(unsigned char c)
{
	return td_char(c) || (c >= 'A' && c <= 'Z');
}

/* Validates id as a SPIFFE ID and copies its trust domain into td. */
int id_spiffe_id_parse(const char *id, char *td, size_t tdlen,
		       char *err, size_t errlen)
{
	const char *p, *tdstart, *seg;
	size_t len, n;

	if (td != NULL && tdlen > 0)
		td[0] = '\0';
	if (id == NULL || id[0] == '\0')
		return pa_err(err, errlen, "SPIFFE ID is empty");
	len = strlen(id);
	if (len > SPIFFE_ID_MAX)
		return pa_err(err, errlen, "SPIFFE ID is longer than %d bytes", SPIFFE_ID_MAX);
	if (strncmp(id, SPIFFE_SCHEME, strlen(SPIFFE_SCHEME)) != 0)
		return pa_err(err, errlen, "SPIFFE ID must start with spiffe://");
	tdstart = id + strlen(SPIFFE_SCHEME);
	for (p = tdstart; *p != '\0' && *p != '/'; p++)
		if (!td_char((unsigned char)*p))
			return pa_err(err, errlen,
				      "SPIFFE ID trust domain has a character other than lowercase letters, digits, '.', '-', '_'");
	n = (size_t)(p - tdstart);
	if (n == 0)
		return pa_err(err, errlen, "SPIFFE ID has no trust domain");
	if (n > SPIFFE_TD_MAX)
		return pa_err(err, errlen, "SPIFFE ID trust domain is longer than %d bytes",
			      SPIFFE_TD_MAX);
	/* the path: zero or more "/segment" */
	while (*p == '/') {
		seg = ++p;
		while (*p != '\0' && *p != '/') {
			if (!path_char((unsigned char)*p))
				return pa_err(err, errlen,
					      "SPIFFE ID path has a character other than letters, digits, '.', '-', '_'");
			p++;
		}
		if (p == seg)
			return pa_err(err, errlen, "SPIFFE ID path has an empty segment");
		if ((p - seg == 1 && seg[0] == '.') ||
		    (p - seg == 2 && seg[0] == '.' && seg[1] == '.'))
			return pa_err(err, errlen, "SPIFFE ID path has a '.' or '..' segment");
	}
	if (td != NULL) {
		if (tdlen <= n)
			return pa_err(err, errlen, "SPIFFE trust domain does not fit the buffer");
		memcpy(td, tdstart, n);
		td[n] = '\0';
	}
	return 0;
}
