/*
 * bundle_src.c - where `pam-agent bundle fetch` gets a trust bundle or a
 * JWKS (docs/bundles.md): a SPIFFE bundle endpoint (https_web profile),
 * an OpenID provider's discovery document and its jwks_uri, a SPIFFE
 * bundle file, or the directory spiffe-helper writes. HTTPS is libcurl's
 * (only this program links it, never the module, the helper or the NSS
 * module): https only, redirects too, the server's name checked against
 * its certificate, answers capped, every transfer time-limited.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cli.h"
#include "pa_json.h"
#include "util.h"

/* Limits of one HTTPS transfer (docs/bundles.md). */
#define SRC_CONNECT_TIMEOUT 10L
#define SRC_TIMEOUT	    30L
#define SRC_MAX_REDIRS	    3L
/* An OpenID discovery document is small; a JWKS or bundle at most ID_BUNDLE_MAX. */
#define SRC_DISCOVERY_MAX (64 * 1024)
/* Most certificates taken from spiffe-helper's bundle.pem. */
#define SRC_PEM_MAX 256

/* spiffe-helper's file names in its cert_dir (docs/bundles.md). */
#define HELPER_JWT_BUNDLE  "jwt_bundle.json"
#define HELPER_X509_BUNDLE "bundle.pem"

/* The answer being received, capped at max bytes. */
struct answer {
	char *buf;
	size_t len, max;
	bool too_big;
};

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	size_t add = size * n;
	char *grown;

	if (add > a->max - a->len) {
		a->too_big = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	grown = realloc(a->buf, a->len + add + 1);
	if (grown == NULL)
		return 0;
	a->buf = grown;
	memcpy(a->buf + a->len, data, add);
	a->len += add;
	a->buf[a->len] = '\0';
	return add;
}

/* Sets the options of one transfer: https only, verified, limited. 0 or -1. */
static int https_setup(CURL *h, const char *url, const char *ca, size_t calen, struct answer *a,
		       char *ebuf)
{
	/* only these roots when given: the bytes read and checked here, no system path */
	struct curl_blob blob = {.data = (void *)(uintptr_t)ca, .len = calen,
				 .flags = CURL_BLOB_COPY};

	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_MAXREDIRS, SRC_MAX_REDIRS) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, SRC_CONNECT_TIMEOUT) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT, SRC_TIMEOUT) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)a->max) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "pam-agent/" PACKAGE_VERSION) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, a) != CURLE_OK)
		return -1;
	if (ca != NULL && (curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK ||
			   curl_easy_setopt(h, CURLOPT_CAINFO, (char *)NULL) != CURLE_OK ||
			   curl_easy_setopt(h, CURLOPT_CAPATH, (char *)NULL) != CURLE_OK))
		return -1;
	return 0;
}

/*
 * GETs url over HTTPS (ca_path: PEM roots, NULL: the system's) into a
 * heap buffer of at most max bytes; anything but 200 is an error.
 * Returns 0, or -1 with err naming the URL and what went wrong.
 */
static int https_get(const char *url, const char *ca_path, size_t max, char **out, size_t *outlen,
		     char *err, size_t errlen)
{
	struct answer a = {.max = max};
	char ebuf[CURL_ERROR_SIZE] = "", *ca = NULL;
	size_t calen = 0;
	long status = 0;
	CURLcode rc;
	CURL *h;
	int ret = -1;

	if (ca_path != NULL && id_bundle_read(ca_path, &ca, &calen, NULL, err, errlen) != 0)
		return -1;
	h = curl_easy_init();
	if (h == NULL) {
		free(ca);
		return pa_err(err, errlen, "%s: cannot start libcurl", url);
	}
	rc = https_setup(h, url, ca, calen, &a, ebuf) == 0 ? curl_easy_perform(h)
							    : CURLE_FAILED_INIT;
	if (a.too_big || rc == CURLE_FILESIZE_EXCEEDED)
		pa_err(err, errlen, "%s: the answer is larger than %zu bytes", url, max);
	else if (rc != CURLE_OK)
		pa_err(err, errlen, "%s: %s%s%s", url, curl_easy_strerror(rc),
		       ebuf[0] != '\0' ? ": " : "", ebuf);
	else if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200)
		pa_err(err, errlen, "%s: HTTP status %ld", url, status);
	else if (a.len == 0)
		pa_err(err, errlen, "%s: empty answer", url);
	else
		ret = 0;
	curl_easy_cleanup(h);
	free(ca);
	if (ret == 0) {
		*out = a.buf;
		*outlen = a.len;
	} else {
		free(a.buf);
	}
	return ret;
}

/*
 * OpenID Connect Discovery 1.0: ISSUER/.well-known/openid-configuration,
 * whose "issuer" must be exactly the configured one (§4.3) and whose
 * "jwks_uri" must be https; then the JWKS there.
 */
static int get_discovery(const struct cli_bundle *b, char **out, size_t *outlen, char *err,
			 size_t errlen)
{
	const char *url = b->issuer_url, *iss, *jwks_uri;
	size_t ulen = strlen(url), len = 0;
	char *conf_url = NULL, *doc = NULL, why[512];
	json_t *conf = NULL;
	json_error_t jerr = {.line = 0};
	int rc = -1;

	/* "https://host/path/" + ".well-known/…": one slash between them */
	if (asprintf(&conf_url, "%.*s/.well-known/openid-configuration",
		     (int)(ulen > 0 && url[ulen - 1] == '/' ? ulen - 1 : ulen), url) < 0)
		return pa_err(err, errlen, "out of memory");
	if (https_get(conf_url, b->ca, SRC_DISCOVERY_MAX, &doc, &len, err, errlen) != 0)
		goto out;
	conf = pa_json_loadb(doc, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(conf)) {
		pa_err(err, errlen, "%s: not a JSON object (line %d column %d)", conf_url,
		       jerr.line, jerr.column);
		goto out;
	}
	iss = json_string_value(json_object_get(conf, "issuer"));
	jwks_uri = json_string_value(json_object_get(conf, "jwks_uri"));
	if (iss == NULL || strcmp(iss, url) != 0) {
		pa_err(err, errlen, "%s: \"issuer\" is not %s (OpenID Discovery §4.3)", conf_url,
		       url);
		goto out;
	}
	if (jwks_uri == NULL || strncmp(jwks_uri, "https://", 8) != 0) {
		pa_err(err, errlen, "%s: no https \"jwks_uri\"", conf_url);
		goto out;
	}
	if (https_get(jwks_uri, b->ca, ID_BUNDLE_MAX, out, outlen, why, sizeof(why)) != 0) {
		pa_err(err, errlen, "jwks_uri %s", why);
		goto out;
	}
	rc = 0;
out:
	json_decref(conf);
	free(doc);
	free(conf_url);
	return rc;
}

/*
 * Reads spiffe-helper's file name in dir (its path into path) as a trust
 * file: 1 and its bytes, 0 when it is not there, -1 with err.
 */
static int helper_file(const char *dir, const char *name, char *path, size_t pathlen, char **buf,
		       size_t *len, char *err, size_t errlen)
{
	snprintf(path, pathlen, "%s/%s", dir, name);
	if (access(path, F_OK) != 0)
		return 0;
	return id_bundle_read(path, buf, len, NULL, err, errlen) != 0 ? -1 : 1;
}

/*
 * Appends the JWT keys of trust domain td from spiffe-helper's
 * jwt_bundle.json (a JSON object: trust domain -> base64 of a JWKS whose
 * keys have no "use") to keys, each with "use": "jwt-svid". 0 when the
 * file is absent (*found false), 0 and *found, or -1 with err.
 */
static int helper_jwt(const char *dir, const char *td, json_t *keys, bool *found, char *err,
		      size_t errlen)
{
	char path[4200], *buf = NULL;
	unsigned char *jwks = NULL;
	size_t len = 0, jlen = 0, i;
	json_t *doc = NULL, *set = NULL, *k;
	const json_t *b64;
	int rc = -1;

	*found = false;
	if ((rc = helper_file(dir, HELPER_JWT_BUNDLE, path, sizeof(path), &buf, &len, err,
			      errlen)) <= 0)
		return rc;
	rc = -1;
	doc = pa_json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	b64 = json_object_get(doc, td);
	if (!json_is_object(doc) || !json_is_string(b64)) {
		pa_err(err, errlen, "%s: not a JSON object with a string for trust domain %s", path,
		       td);
		goto out;
	}
	if (id_b64_decode(json_string_value(b64), json_string_length(b64), &jwks, &jlen) != 0 ||
	    (set = pa_json_loadb((const char *)jwks, jlen, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_array(json_object_get(set, "keys"))) {
		pa_err(err, errlen, "%s: trust domain %s is not the base64 of a JWK set", path, td);
		goto out;
	}
	json_array_foreach(json_object_get(set, "keys"), i, k)
	{
		/* spiffe-helper leaves "use" out; one that is there is kept (and judged) */
		if (!json_is_object(k) ||
		    (json_object_get(k, "use") == NULL &&
		     json_object_set_new(k, "use", json_string("jwt-svid")) != 0) ||
		    json_array_append(keys, k) != 0) {
			pa_err(err, errlen, "%s: key %zu of trust domain %s is not a JSON object",
			       path, i, td);
			goto out;
		}
	}
	*found = true;
	rc = 0;
out:
	json_decref(set);
	json_decref(doc);
	free(jwks);
	free(buf);
	return rc;
}

/* One x509-svid element of cert: {"use": "x509-svid", "x5c": [base64 DER]}. */
static json_t *x509_element(X509 *cert)
{
	unsigned char *der = NULL;
	char *b64 = NULL;
	json_t *el = NULL;
	int n = i2d_X509(cert, &der);

	if (n > 0 && (b64 = malloc((size_t)(4 * ((n + 2) / 3) + 1))) != NULL &&
	    EVP_EncodeBlock((unsigned char *)b64, der, n) > 0)
		el = json_pack("{s:s, s:[s]}", "use", "x509-svid", "x5c", b64);
	OPENSSL_free(der);
	free(b64);
	return el;
}

/*
 * Appends an x509-svid element per certificate of spiffe-helper's
 * bundle.pem (the trust domain's X.509 authorities) to keys; absent is
 * fine (*found false).
 */
static int helper_x509(const char *dir, json_t *keys, bool *found, char *err, size_t errlen)
{
	char path[4200], *buf = NULL;
	size_t len = 0, n = 0;
	BIO *bio = NULL;
	X509 *cert;
	int rc = -1;

	*found = false;
	if ((rc = helper_file(dir, HELPER_X509_BUNDLE, path, sizeof(path), &buf, &len, err,
			      errlen)) <= 0)
		return rc;
	rc = -1;
	bio = BIO_new_mem_buf(buf, (int)len);
	while (bio != NULL && n < SRC_PEM_MAX &&
	       (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		json_t *el = x509_element(cert);

		X509_free(cert);
		if (el == NULL || json_array_append_new(keys, el) != 0) {
			pa_err(err, errlen, "%s: out of memory", path);
			goto out;
		}
		n++;
	}
	if (n == 0) {
		pa_err(err, errlen, "%s: no PEM CERTIFICATE in it", path);
		goto out;
	}
	*found = true;
	rc = 0;
out:
	BIO_free(bio);
	free(buf);
	return rc;
}

/*
 * A SPIFFE bundle made of what spiffe-helper wrote in its cert_dir for
 * trust domain td: the JWT keys of jwt_bundle.json and the X.509
 * authorities of bundle.pem (at least one of the two must be there).
 */
static int get_helper_dir(const struct cli_bundle *b, char **out, size_t *outlen, char *err,
			  size_t errlen)
{
	json_t *keys = json_array(), *doc = NULL;
	bool jwt = false, x509 = false;
	int rc = -1;

	if (keys == NULL)
		return pa_err(err, errlen, "out of memory");
	if (helper_jwt(b->source_dir, b->name, keys, &jwt, err, errlen) != 0 ||
	    helper_x509(b->source_dir, keys, &x509, err, errlen) != 0)
		goto out;
	if (!jwt && !x509) {
		pa_err(err, errlen,
		       "%s: neither " HELPER_JWT_BUNDLE " nor " HELPER_X509_BUNDLE
		       " is there (spiffe-helper's jwt_bundle_file_name and svid_bundle_file_name)",
		       b->source_dir);
		goto out;
	}
	doc = json_pack("{s:O}", "keys", keys);
	*out = doc != NULL ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	if (*out == NULL) {
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	*outlen = strlen(*out);
	rc = 0;
out:
	json_decref(doc);
	json_decref(keys);
	return rc;
}

/* What b is fetched from, for messages. */
const char *cli_bundle_source(const struct cli_bundle *b)
{
	if (b->endpoint != NULL)
		return b->endpoint;
	if (b->issuer_url != NULL)
		return "OpenID discovery";
	if (b->source_file != NULL)
		return b->source_file;
	if (b->source_dir != NULL)
		return b->source_dir;
	return NULL;
}

/* Fetches b's document from its source (see cli.h). */
int cli_bundle_get(const struct cli_bundle *b, char **out, size_t *outlen, char *err, size_t errlen)
{
	*out = NULL;
	*outlen = 0;
	if (b->endpoint != NULL)
		return https_get(b->endpoint, b->ca, ID_BUNDLE_MAX, out, outlen, err, errlen);
	if (b->issuer_url != NULL)
		return get_discovery(b, out, outlen, err, errlen);
	if (b->source_file != NULL)
		return id_bundle_read(b->source_file, out, outlen, NULL, err, errlen);
	if (b->source_dir != NULL)
		return get_helper_dir(b, out, outlen, err, errlen);
	return pa_err(err, errlen, "no source configured");
}
