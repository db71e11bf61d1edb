/*
 * x509_issue.c - X.509 certificates of the test CA (`pam-agent testca`):
 * the trust domain's self-signed root, with the CA's signing key, and
 * X.509-SVIDs it signs. For tests and demos only.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "identity.h"
#include "util.h"
#include "x509_int.h"

/* A root lives ten years; certificates start a minute back for clock skew. */
#define ROOT_LIFETIME (10LL * 366 * 24 * 3600)
#define BACKDATE 60

/* Adds the extension nid with value (OpenSSL's configuration syntax). */
static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* A new certificate: random serial, subject CN and O, validity, public key. */
static X509 *cert_new(const char *cn, EVP_PKEY *pub, int64_t nbf, int64_t naf)
{
	X509 *cert = X509_new();
	X509_NAME *name = X509_NAME_new();
	BIGNUM *serial = BN_new();
	bool ok;

	ok = cert != NULL && name != NULL && serial != NULL &&
	     X509_set_version(cert, X509_VERSION_3) == 1 &&
	     BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
	     BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) != NULL &&
	     X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
					(const unsigned char *)"pam_agent test CA", -1, -1, 0) == 1 &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
					-1, -1, 0) == 1 &&
	     X509_set_subject_name(cert, name) == 1 &&
	     ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)nbf) != NULL &&
	     ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)naf) != NULL &&
	     X509_set_pubkey(cert, pub) == 1;
	X509_NAME_free(name);
	BN_free(serial);
	if (!ok) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

/* Signs cert with key (SHA-256, none for Ed25519). */
static int cert_sign(X509 *cert, EVP_PKEY *key)
{
	const EVP_MD *md = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();

	return X509_sign(cert, key, md) > 0 ? 0 : -1;
}

/* cert as a PEM string, or NULL. */
static char *cert_pem(X509 *cert)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *pem = NULL;
	long len;

	if (bio != NULL && PEM_write_bio_X509(bio, cert) == 1) {
		len = BIO_get_mem_data(bio, &data);
		if (len > 0 && (pem = malloc((size_t)len + 1)) != NULL) {
			memcpy(pem, data, (size_t)len);
			pem[len] = '\0';
		}
	}
	BIO_free(bio);
	return pem;
}

/* Test CA: the self-signed root of trust domain td for s's key (see identity.h). */
char *id_x509_issue_root(const struct id_signer *s, const char *td, int64_t now,
			 char *err, size_t errlen)
{
	EVP_PKEY *key = id_signer_pkey(s);
	char uri[300], *pem = NULL;
	X509 *cert = NULL;

	if (key == NULL || td == NULL || snprintf(uri, sizeof(uri), "URI:spiffe://%s", td) >=
	    (int)sizeof(uri)) {
		pa_err(err, errlen, "no key or trust domain for the X.509 root");
		return NULL;
	}
	cert = cert_new(td, key, now - BACKDATE, now + ROOT_LIFETIME);
	if (cert == NULL || X509_set_issuer_name(cert, X509_get_subject_name(cert)) != 1 ||
	    add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE") != 0 ||
	    add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ||
	    add_ext(cert, cert, NID_subject_key_identifier, "hash") != 0 ||
	    add_ext(cert, cert, NID_subject_alt_name, uri) != 0 ||
	    cert_sign(cert, key) != 0 || (pem = cert_pem(cert)) == NULL)
		pa_err(err, errlen, "cannot make the X.509 root of %s", td);
	X509_free(cert);
	ERR_clear_error();
	return pem;
}

/* Test CA: an X.509-SVID for spiffe_id signed by ca (see identity.h). */
char *id_x509_issue_svid(const struct id_signer *ca, const char *ca_pem,
			 const struct id_signer *leaf, const char *spiffe_id, int64_t now,
			 int64_t ttl, char *err, size_t errlen)
{
	EVP_PKEY *cakey = id_signer_pkey(ca), *pub = id_signer_pkey(leaf);
	STACK_OF(X509) *roots = NULL;
	char uri[2100], why[256], *pem = NULL;
	X509 *root, *cert = NULL;

	if (cakey == NULL || pub == NULL || spiffe_id == NULL || ca_pem == NULL || ttl <= 0 ||
	    snprintf(uri, sizeof(uri), "URI:%s", spiffe_id) >= (int)sizeof(uri)) {
		pa_err(err, errlen, "no key, root, SPIFFE ID or lifetime for the X.509-SVID");
		return NULL;
	}
	if (id_x509_pem_parse(ca_pem, strlen(ca_pem), 1, &roots, why, sizeof(why)) != 0) {
		pa_err(err, errlen, "the CA's X.509 root: %s", why);
		return NULL;
	}
	root = sk_X509_value(roots, 0);
	if (X509_check_private_key(root, cakey) != 1) {
		pa_err(err, errlen, "the CA's X.509 root is not of its signing key");
		goto out;
	}
	cert = cert_new("X.509-SVID", pub, now - BACKDATE, now + ttl);
	if (cert == NULL || X509_set_issuer_name(cert, X509_get_subject_name(root)) != 1 ||
	    add_ext(cert, root, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    add_ext(cert, root, NID_key_usage, "critical,digitalSignature") != 0 ||
	    add_ext(cert, root, NID_ext_key_usage, "serverAuth,clientAuth") != 0 ||
	    add_ext(cert, root, NID_subject_key_identifier, "hash") != 0 ||
	    add_ext(cert, root, NID_authority_key_identifier, "keyid:always") != 0 ||
	    add_ext(cert, root, NID_subject_alt_name, uri) != 0 ||
	    cert_sign(cert, cakey) != 0 || (pem = cert_pem(cert)) == NULL)
		pa_err(err, errlen, "cannot make the X.509-SVID");
out:
	X509_free(cert);
	sk_X509_pop_free(roots, X509_free);
	ERR_clear_error();
	return pem;
}
