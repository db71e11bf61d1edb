/*
 * x509_int.h - X.509 authorities inside the identity engine: what
 * keyset.c (the bundle's x509-svid elements), verify.c (a trust domain's
 * x509_authorities file) and x509.c (chain verification) share. Used
 * inside identity/ only.
 */
#ifndef PA_IDENTITY_X509_INT_H
#define PA_IDENTITY_X509_INT_H

#include <stddef.h>

#include <openssl/x509.h>

#include "identity.h"

/* Most certificates an authorities file (or a bundle) may hold. */
#define ID_X509_MAX_AUTHORITIES 256

/*
 * Adds cert (ownership taken, also on failure) to the key set's X.509
 * authorities. Returns 0 or -1 with err.
 */
int id_keyset_x509_add(struct id_keyset *set, X509 *cert, char *err, size_t errlen);
/* Drops every X.509 authority of set. */
void id_keyset_x509_reset(struct id_keyset *set);
/*
 * The store of set's X.509 authorities (the pending x509-svid certificates
 * parsed first), or NULL when it has none or their parsing ran out of memory.
 */
X509_STORE *id_keyset_x509_store(const struct id_keyset *set);

/*
 * Parses the CERTIFICATE blocks of a PEM text into *out (a new stack),
 * at most max of them, each strict DER. Anything else than a CERTIFICATE
 * block is refused. Returns 0 or -1 with err.
 */
int id_x509_pem_parse(const char *data, size_t len, size_t max, STACK_OF(X509) **out,
		      char *err, size_t errlen);

/*
 * Replaces the X.509 authorities of set with the certificates of the PEM
 * file at path (root-owned or the caller's, not group/world-writable).
 */
int id_keyset_x509_load_pem(struct id_keyset *set, const char *path, char *err,
			    size_t errlen);

/* The key of a signer (borrowed), for the test CA's certificates; NULL for NULL. */
EVP_PKEY *id_signer_pkey(const struct id_signer *s);

#endif /* PA_IDENTITY_X509_INT_H */
