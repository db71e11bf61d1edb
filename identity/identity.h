/*
 * identity.h - the identity engine: strict JWS/JWT verification against
 * local trust bundles (SPIFFE JWT-SVID, OIDC ID tokens), the replay cache
 * for single-use tokens, and JWS signing for test CAs and minted grants.
 * No PAM headers here: the module and the CLIs link the same code.
 *
 * Conventions: functions return 0 on success and -1 on failure with a
 * one-line, already-escaped reason in err (size errlen). Reasons may be
 * logged as they are; they never contain a token or key material.
 */
#ifndef PA_IDENTITY_H
#define PA_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/evp.h>

/* Largest compact token accepted, checked before any decoding. */
#define ID_TOKEN_MAX 16384
/* Largest bundle / JWKS file accepted. */
#define ID_BUNDLE_MAX (1024 * 1024)
/* Length of the hex SHA-256 token fingerprint, without NUL. */
#define ID_FINGERPRINT_LEN 64

/* ---- base64url ------------------------------------------------------ */

/*
 * Strict base64url (RFC 4648 §5) without padding: only [A-Za-z0-9_-],
 * length mod 4 != 1, unused trailing bits zero. *out is heap memory with a
 * NUL after the *outlen bytes. Returns 0 or -1.
 */
int id_b64url_decode(const char *in, size_t inlen, unsigned char **out,
		     size_t *outlen);
/* Encodes without padding into a NUL-terminated heap string, or NULL. */
char *id_b64url_encode(const unsigned char *in, size_t inlen);
/* Strict standard base64 with padding (RFC 4648 §4), as x5c holds it; 0 or -1. */
int id_b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);

/* ---- algorithms and keys -------------------------------------------- */

enum id_alg {
	ID_ALG_NONE = 0, /* not an algorithm: never accepted */
	ID_ALG_RS256, ID_ALG_RS384, ID_ALG_RS512,
	ID_ALG_PS256, ID_ALG_PS384, ID_ALG_PS512,
	ID_ALG_ES256, ID_ALG_ES384, ID_ALG_ES512,
	ID_ALG_EDDSA,
};

/* JOSE name of alg ("ES256", …), or NULL for ID_ALG_NONE. */
const char *id_alg_name(enum id_alg alg);
/* ID_ALG_* for a JOSE name, ID_ALG_NONE when not on the allow-list. */
enum id_alg id_alg_from_name(const char *name);

/* One verification key: EVP_PKEY plus the JWK metadata that binds it. */
struct id_key;

/*
 * Loads one public JWK (RSA ≥ 2048 bits, EC P-256/384/521 with the point
 * validated, OKP Ed25519). Refuses private members, and keys whose "use"
 * or "key_ops" exclude signature verification. Returns NULL with err.
 */
struct id_key *id_key_from_jwk(const json_t *jwk, char *err, size_t errlen);
/* Wraps an existing public key (one reference is taken). For tests. */
struct id_key *id_key_from_pkey(EVP_PKEY *pkey, const char *kid,
				char *err, size_t errlen);
void id_key_free(struct id_key *key);
const char *id_key_kid(const struct id_key *key);
/* The JWK's "x5t" (sha256 false) or "x5t#S256" (true), or NULL. */
const char *id_key_x5t(const struct id_key *key, bool sha256);
/*
 * Whether jwk is of a kind id_key_from_jwk can load: kty RSA (2048 to
 * 16384 bits), EC (P-256, P-384, P-521) or OKP (Ed25519). When not, why
 * says what. A malformed key of a supported kind counts as supported.
 */
bool id_jwk_supported(const json_t *jwk, char *why, size_t whylen);
/* Whether key may verify alg: kty/crv and the JWK's own "alg" decide. */
bool id_key_allows(const struct id_key *key, enum id_alg alg);

/*
 * Verifies sig over msg with key under alg, exactly as the JWS path does:
 * key/alg binding, ECDSA raw r||s of exact length with r, s in [1, n-1],
 * PSS salt length = hash length, RSA PKCS#1 v1.5 strict.
 * Returns 0 when valid, -1 otherwise.
 */
int id_sig_verify(const struct id_key *key, enum id_alg alg,
		  const unsigned char *msg, size_t msglen,
		  const unsigned char *sig, size_t siglen,
		  char *err, size_t errlen);

/* ---- key sets (SPIFFE bundles, OIDC JWKS) ----------------------------- */

enum id_keyset_kind {
	ID_KEYSET_SPIFFE, /* SPIFFE bundle: keys with "use": "jwt-svid" */
	ID_KEYSET_OIDC,   /* plain JWKS of an OIDC issuer */
};

struct id_keyset;

/*
 * Parses a JWKS document, following the SPIFFE Trust Domain and Bundle
 * specification (docs/token-verification.md, "Key sets"). Loaded: SPIFFE
 * elements with "use":"jwt-svid", OIDC elements without "use" or with
 * "sig". Ignored, each with a notice (id_keyset_notice): a missing or
 * unknown "use", an unknown "kty", an unsupported curve or RSA size, an
 * x509-svid element without "x5c" or whose first "x5c" value is not base64
 * of one DER certificate, an OIDC key without "kid"; OIDC "enc" keys are
 * skipped quietly. The first "x5c" certificate of every other x509-svid
 * element is kept as an X.509 authority (id_x509_verify), parsed when
 * first needed: by id_x509_verify, id_keyset_x509_count or the notices'
 * readers (a JWT-SVID's verification never parses one). The
 * document is refused (NULL with err) when it is not a JSON object with a
 * "keys" array, when a jwt-svid key has no kid, when two loaded keys share
 * a kid, or when a key of a supported kind is malformed. A set with no
 * usable key is returned: for a SPIFFE bundle it means the trust domain
 * has revoked its keys, and every token of it is refused.
 */
struct id_keyset *id_keyset_parse(const char *json, size_t len,
				  enum id_keyset_kind kind,
				  char *err, size_t errlen);
/*
 * Reads a trust file (a bundle, X.509 authorities, a CA's certificates):
 * owned by root or the effective uid, not group/world-writable, at most
 * ID_BUNDLE_MAX bytes, no symlink; what fstat said of it into *st unless
 * NULL. 0, or -1 with err.
 */
int id_bundle_read(const char *path, char **out, size_t *outlen, struct stat *st, char *err,
		   size_t errlen);
/* Reads path as id_bundle_read does and parses it as a key set. */
struct id_keyset *id_keyset_load(const char *path, enum id_keyset_kind kind,
				 char *err, size_t errlen);
void id_keyset_free(struct id_keyset *set);
size_t id_keyset_count(const struct id_keyset *set);
/* X.509 authorities: the bundle's x509-svid elements, or an x509_authorities file's. */
size_t id_keyset_x509_count(const struct id_keyset *set);
/* x509-svid certificates kept but not parsed yet (see id_keyset_parse). */
size_t id_keyset_x509_pending(const struct id_keyset *set);
/* How many elements were ignored; the first 16 described, "key N ignored: …". */
size_t id_keyset_ignored(const struct id_keyset *set);
const char *id_keyset_notice(const struct id_keyset *set, size_t i);
/* The key with exactly this kid, or NULL. */
/* The wit-svid keys of a SPIFFE bundle (WIT-SVID §6): their number, and the one of kid. */
size_t id_keyset_wit_count(const struct id_keyset *set);
const struct id_key *id_keyset_find_wit(const struct id_keyset *set, const char *kid);
const struct id_key *id_keyset_find(const struct id_keyset *set,
				    const char *kid);
/* A SPIFFE bundle's spiffe_sequence and spiffe_refresh_hint, -1 when absent. */
int64_t id_keyset_sequence(const struct id_keyset *set);
int64_t id_keyset_refresh_hint(const struct id_keyset *set);
/* The mtime (seconds) of the file id_keyset_load read; 0 after id_keyset_parse. */
int64_t id_keyset_mtime(const struct id_keyset *set);

/* ---- bundle freshness (bundle_age.c, docs/bundles.md) ----------------- */

/* The refresh interval: spiffe_refresh_hint bounded to [MIN, MAX], DEFAULT without one. */
#define ID_REFRESH_MIN 60
#define ID_REFRESH_MAX (24 * 3600)
#define ID_REFRESH_DEFAULT 300
/* max_bundle_age by default: this many refresh intervals. */
#define ID_BUNDLE_AGE_FACTOR 24
/* A trust domain's or issuer's max_bundle_age that is that default. */
#define ID_BUNDLE_AGE_AUTO (-1)

/* How often the key set should be fetched again, in seconds (never 0). */
int64_t id_bundle_refresh_interval(const struct id_keyset *set);
/*
 * The age limit of set: max_bundle_age when positive, ID_BUNDLE_AGE_FACTOR
 * refresh intervals for ID_BUNDLE_AGE_AUTO, 0 (no limit) for 0.
 */
int64_t id_bundle_age_limit(const struct id_keyset *set, int64_t max_bundle_age);
/*
 * 0 when the file set was read from is at most its age limit old at now,
 * else -1 with the reason (its age, the limit, when it was written).
 */
int id_bundle_check_age(const struct id_keyset *set, int64_t max_bundle_age, int64_t now,
			char *err, size_t errlen);

/* ---- compact JWS ------------------------------------------------------ */

struct id_jws {
	json_t *header;		   /* protected header object */
	json_t *claims;		   /* payload parsed as a JSON object, or NULL */
	unsigned char *payload;	   /* decoded payload bytes */
	size_t payload_len;
	const char *signing_input; /* points into the caller's token */
	size_t signing_input_len;
	unsigned char *sig;	   /* decoded signature */
	size_t sig_len;
	enum id_alg alg;
	bool wit;		   /* "typ" is "wit+jwt": a WIT-SVID (docs/token-verification.md) */
};

/*
 * Splits and decodes a compact JWS: size cap, exactly three segments,
 * strict base64url, header a JSON object with no duplicate names, no
 * trailing bytes, no NUL in strings, alg on the allow-list, typ absent or
 * JWT/JOSE, none of jwk/jku/x5u/x5c/crit/b64/zip/enc/cty. The payload
 * is parsed as claims only when want_claims is true (then it must be a
 * JSON object under the same rules). Fills *jws, which the caller clears
 * with id_jws_clear() on every path.
 */
int id_jws_parse(const char *token, size_t len, bool want_claims,
		 struct id_jws *jws, char *err, size_t errlen);
void id_jws_clear(struct id_jws *jws);
/* Verifies jws->sig under key (id_key_allows + id_sig_verify). */
int id_jws_verify(const struct id_jws *jws, const struct id_key *key,
		  char *err, size_t errlen);

/* ---- full token verification ---------------------------------------- */

struct id_trust_domain {
	char *name;		/* "example.org" */
	char *bundle_path;
	/* PEM file of the trust domain's X.509 authorities, or NULL: the
	 * bundle's x509-svid elements (docs/proof-of-possession.md) */
	char *x509_authorities_path;
	struct id_keyset *keys; /* filled by id_verifier_load() */
	char *load_error;	/* why keys is NULL, from id_verifier_load() */
	/* seconds, 0: no limit, ID_BUNDLE_AGE_AUTO (id_bundle_age_limit) */
	int64_t max_bundle_age;
};

struct id_issuer {
	char *url;		/* exact "iss" value */
	char *jwks_path;
	char *audience;		/* overrides the global audience, or NULL */
	bool allow_eddsa;
	bool has_leeway, has_max_token_age; /* else the verifier's are used */
	int64_t leeway;		/* seconds, with has_leeway */
	int64_t max_token_age;	/* seconds, with has_max_token_age */
	struct id_keyset *keys;
	char *load_error;	/* why keys is NULL, from id_verifier_load() */
	int64_t max_bundle_age; /* as for a trust domain */
};

/* What the verifier trusts and how strict it is. Owns its strings. */
struct id_verifier {
	char *audience;		   /* required "aud" member (SPIFFE path) */
	int64_t leeway;		   /* seconds, for exp/nbf/iat */
	int64_t max_token_age;	   /* seconds, longest exp - iat accepted */
	struct id_trust_domain *domains;
	size_t n_domains;
	struct id_issuer *issuers;
	size_t n_issuers;
};

/*
 * Checks the configuration in v and loads every bundle and JWKS it names.
 * Returns -1 with err when the configuration itself is wrong (no trust
 * domain and no issuer, a name twice, no audience, …). A key set that
 * cannot be read or parsed is not an error here: its trust domain or
 * issuer keeps the reason in load_error, and its tokens are refused with
 * it; every other trust domain and issuer is unaffected.
 */
int id_verifier_load(struct id_verifier *v, char *err, size_t errlen);
/* Frees everything v owns (not v itself). */
void id_verifier_clear(struct id_verifier *v);

enum id_kind { ID_KIND_SPIFFE = 1, ID_KIND_OIDC = 2 };

/* A verified identity. Owns its strings and JSON. */
struct id_identity {
	enum id_kind kind;
	char *agent_id;	    /* SPIFFE ID, or "ISSUER#SUB" for OIDC */
	char *issuer;	    /* iss claim (may be NULL on the SPIFFE path) */
	char *subject;	    /* sub claim */
	char *trust_domain; /* SPIFFE path: trust domain name */
	char *jti;	    /* NULL when absent */
	char *task;	    /* "task" claim, NULL when absent */
	char *scope;	    /* "scope" claim, NULL when absent */
	char *kid;
	enum id_alg alg;
	int64_t exp, iat, nbf; /* 0 when absent (exp never absent) */
	json_t *act;	       /* RFC 8693 "act" claim, or NULL */
	json_t *claims;	       /* all claims */
	char fingerprint[ID_FINGERPRINT_LEN + 1]; /* hex SHA-256 of the token */
	/* the presenter proved possession of the key the evidence names (an
	 * X.509-SVID's, a token's cnf), set by the caller that checked it */
	bool pop;
	/* a WIT-SVID: accepted only with proof of possession of its cnf.jwk
	 * (id_wit_cnf_key); its jti is for the audit, never for replay */
	bool wit;
};

/*
 * The whole pipeline: parse, pick the key set from the (unverified) iss or
 * sub, find the key by exact kid, verify the signature, then check the
 * claims at time now: exp required, exp > now - leeway, nbf <= now +
 * leeway, iat <= now + leeway, exp - iat (or exp - now without iat)
 * <= max_token_age, aud contains the audience, sub a valid SPIFFE ID in
 * the key's own trust domain (SPIFFE path) or iss an exact configured
 * issuer (OIDC path). On success *out is a new identity.
 */
int id_verify_token(const struct id_verifier *v, const char *token,
		    size_t len, int64_t now, struct id_identity **out,
		    char *err, size_t errlen);
void id_identity_free(struct id_identity *id);
/* The claims of a verified identity as a new JSON object (for output). */
json_t *id_identity_to_json(const struct id_identity *id);

/* ---- claims, read the way the verifier reads them ---------------------- */

/*
 * The NumericDate claim name: an integer, or a real rounded toward the
 * strict side (down for exp, up for nbf/iat: round_up). Returns 1 when
 * present, 0 when absent, -1 with err when not a usable number.
 */
int id_claim_time(const json_t *claims, const char *name, bool round_up,
		  int64_t *out, char *err, size_t errlen);
/* The optional string claim name: 1 present, 0 absent, -1 bad type. */
int id_claim_string(const json_t *claims, const char *name,
		    const char **out, char *err, size_t errlen);
/* Whether an OIDC subject is non-empty and free of control characters. */
bool id_subject_printable(const char *s);

/* ---- SPIFFE IDs ------------------------------------------------------- */

/*
 * Validates a SPIFFE ID as the SPIFFE ID spec defines it (scheme
 * "spiffe://", lowercase trust domain of [a-z0-9.-_], path segments of
 * [A-Za-z0-9.-_] with no empty, "." or ".." segment, no query/fragment/
 * port/userinfo, at most 2048 bytes). On success, copies the trust domain
 * into td (size tdlen). Returns 0 or -1 with err.
 */
int id_spiffe_id_parse(const char *id, char *td, size_t tdlen,
		       char *err, size_t errlen);

/* ---- replay cache ------------------------------------------------------- */

/*
 * Records (issuer, jti), used by agent, as used until exp in the host-wide
 * cache under dir (created 0700 root when missing), under an exclusive
 * lock shared by all processes. Call it only for a token the policy
 * allowed. Returns 0 when the pair was not seen before (and is now
 * recorded), 1 when it was already used (a replay), -1 when the cache
 * cannot be used or the agent may not record it (the caller must then
 * fail closed). Expired entries are dropped; at most max_entries live
 * entries are kept, at most agent_quota of them of one agent (>=
 * max_entries: no quota). When the cache is full, the agent with the most
 * entries loses its oldest ones behind a floor (its tokens that expire by
 * then are refused from then on), so that an agent under its quota still
 * gets in; a live jti is never forgotten in a way that lets it be
 * replayed. docs/replay-cache.md.
 */
int id_replay_check_agent(const char *dir, const char *issuer, const char *jti,
			  const char *agent, int64_t exp, int64_t now, size_t max_entries,
			  size_t agent_quota, char *err, size_t errlen);
/* id_replay_check_agent for one anonymous agent without a quota. */
int id_replay_check(const char *dir, const char *issuer, const char *jti,
		    int64_t exp, int64_t now, size_t max_entries,
		    char *err, size_t errlen);

/* ---- caller attestation (docs/attestation.md) -------------------------- */

/* Length of a hex SHA-256, without NUL. */
#define ID_SHA256_HEX 64
/* Most parents id_attest records above the attested process. */
#define ID_ATTEST_MAX_DEPTH 8

/* What one process is. Owns its strings. */
struct id_proc {
	pid_t pid;
	pid_t ppid;
	unsigned long long start; /* start time, clock ticks since boot */
	uid_t uid, euid;	  /* real and effective (status "Uid:") */
	gid_t gid, egid;	  /* real and effective (status "Gid:") */
	char *exe;		  /* executable path (readlink of /proc/PID/exe
				     without the " (deleted)" suffix), NULL: unknown */
	bool exe_deleted;	  /* the kernel marks the path "(deleted)" */
	char exe_sha256[ID_SHA256_HEX + 1]; /* lowercase hex of the content read
					      through /proc/PID/exe; "" when not hashed */
	char *cgroup;		  /* cgroup v2 path ("0::" line; the name=systemd
				     line on hybrid hosts when that is "/"), NULL: none */
	char *unit;		  /* systemd unit named by the cgroup, NULL: none */
	char *invocation_id;	  /* systemd invocation id of the unit's cgroup
				     (xattr trusted.invocation_id), NULL: none */
};

/* A process and its parents. */
struct id_runtime {
	struct id_proc proc;
	size_t n_parents;
	struct id_proc parents[ID_ATTEST_MAX_DEPTH]; /* [0] = parent of proc */
};

/*
 * Attests process pid race-free: opens a pidfd first, then reads through
 * a directory descriptor of /proc/PID (status, stat, cgroup, exe - the
 * content hashed through the descriptor that /proc/PID/exe opens, so a
 * replaced path cannot fool it), and afterwards confirms through the
 * pidfd that the process it opened is still alive: a process that exited
 * and whose pid was reused in between is refused ("process P exited
 * during attestation"). Records up to depth parents (each attested the
 * same way, stopping at pid 1 or pid 0); the executable of parents[0] is
 * hashed too, the others' are not. No systemd means unit NULL, not an
 * error. Returns 0, or -1 with a reason; on failure *out is cleared.
 */
int id_attest(pid_t pid, unsigned depth, struct id_runtime *out, char *err, size_t errlen);
void id_runtime_clear(struct id_runtime *rt);
void id_proc_clear(struct id_proc *p);

/* The steps of id_attest on one process (tests drive them one by one). */
struct id_attest_handle;
/* Opens the pidfd, then the /proc/PID directory. */
int id_attest_open(pid_t pid, struct id_attest_handle **out, char *err, size_t errlen);
/*
 * What id_attest_read reads besides status (state, parent, ids), cgroup
 * (cgroup path, unit) and the executable's path: its SHA-256 (HASH); the
 * start time from stat and the unit's invocation id (FULL), which the
 * module's policy and audit do not use (left 0 and NULL without it).
 */
#define ID_ATTEST_HASH 1u
#define ID_ATTEST_FULL 2u
/* Reads the process into *out, as flags (ID_ATTEST_*) say. */
int id_attest_read(struct id_attest_handle *h, unsigned flags, struct id_proc *out,
		   char *err, size_t errlen);
/* 0 when the process opened is still alive, else -1 with the reason. */
int id_attest_confirm(struct id_attest_handle *h, char *err, size_t errlen);
void id_attest_close(struct id_attest_handle *h);

/*
 * Whether the content of the file st describes can change between a
 * measurement and an exec: it can unless root owns it and neither group
 * nor others may write it. When it can, why says so ("owner uid U, mode
 * M: ..."). For a workload measured before it runs (agent-run's CMD).
 */
bool id_exe_mutable(const struct stat *st, char *why, size_t len);

/*
 * SHA-256 of the content of fd (a regular file, read with pread from
 * offset 0, so fd's offset does not move), lowercase hex.
 */
int id_sha256_fd(int fd, char hex[ID_SHA256_HEX + 1], char *err, size_t errlen);

/*
 * The systemd unit a cgroup path names: the first component ending in
 * .service or .scope, the unit the system manager made (only root can);
 * what a delegated manager (user@UID.service, a container) names below it
 * is the user's to name, so it counts as that unit, as do a unit's own
 * sub-cgroups; else none. Returns 1 with the unit in buf, 0 when the path names no unit,
 * -1 when buf is too small.
 */
int id_unit_from_cgroup(const char *path, char *buf, size_t len);

/*
 * The JSON of what was attested (pam-agent attest, audit events):
 * {"pid", "uid", "euid", "gid", "egid", "exe", "exe_deleted",
 * "exe_sha256", "cgroup", "unit", "invocation_id", "start",
 * "parents": [{...}]}; absent values are null. New reference.
 */
json_t *id_runtime_to_json(const struct id_runtime *rt);
json_t *id_proc_to_json(const struct id_proc *p);

/* ---- X.509-SVIDs and proof of possession (docs/proof-of-possession.md) ---- */

/* Most certificates in a presented chain, the leaf included. */
#define ID_X509_MAX_CHAIN 5
/* Largest presented chain accepted, PEM or compact, checked before parsing. */
#define ID_X509_CHAIN_MAX (32 * 1024)

/* A presented X.509-SVID chain, leaf first. */
struct id_x509_chain;

/*
 * Parses a presented chain: PEM (CERTIFICATE blocks, leaf first) or the
 * compact form of the PAM conversation, the certificates' DER in
 * base64url without padding, joined by '.', leaf first. Nothing is
 * verified here.
 */
int id_x509_chain_parse(const char *data, size_t len, struct id_x509_chain **out,
			char *err, size_t errlen);
void id_x509_chain_free(struct id_x509_chain *c);
/* Hex SHA-256 over the DER of every certificate of c, in order (what a challenge binds). */
int id_x509_chain_sha256(const struct id_x509_chain *c, char hex[ID_SHA256_HEX + 1],
			 char *err, size_t errlen);

/*
 * Verifies c as an X.509-SVID at time now (leeway of v) against the X.509
 * authorities of the trust domain its leaf names (OpenSSL X509_STORE and
 * X509_verify_cert; the authorities of the bundle's x509-svid elements, or
 * of x509_authorities_path), with the rules of the SPIFFE X509-SVID
 * specification: exactly one URI SAN, a SPIFFE ID of the chain's own
 * trust domain; the leaf no CA, with digitalSignature and neither
 * keyCertSign nor cRLSign; every signer a CA with keyCertSign; at most
 * ID_X509_MAX_CHAIN certificates; RSA >= 2048 bits, EC P-256/P-384,
 * Ed25519 only. On success *out is a new identity: kind SPIFFE, agent_id
 * and subject the SPIFFE ID, trust_domain, nbf/iat notBefore, exp
 * notAfter, fingerprint the SHA-256 of the leaf's DER, claims
 * {"sub": ID, "x5t#S256": ...}. Every refusal has its reason.
 */
int id_x509_verify(const struct id_verifier *v, const struct id_x509_chain *c, int64_t now,
		   struct id_identity **out, char *err, size_t errlen);

/* The leaf's public key, with the algorithm its signatures use (ES256, ES384, EdDSA, PS256). */
struct id_key *id_x509_leaf_key(const struct id_x509_chain *c, char *err, size_t errlen);

/* ---- proof of possession: the challenge (docs/proof-of-possession.md) --- */

/* What every challenge starts with. */
#define ID_POP_PREFIX "pa-pop1."
/* How long an answer to a challenge is accepted, in seconds. */
#define ID_POP_TTL 60

/*
 * A fresh challenge for evidence whose hex SHA-256 is ev (an X.509-SVID
 * chain, or a key-bound token): ID_POP_PREFIX and the base64url of the
 * compact JSON {"aud","ev","exp","iat","nonce","svc"} (16 random bytes of
 * nonce, exp = now + ID_POP_TTL). Heap string, or NULL with err.
 */
char *id_pop_challenge(const char *aud, const char *service, const char *ev, int64_t now,
		       char *err, size_t errlen);
/* Length of a base64url SHA-256 JWK thumbprint (RFC 7638), without NUL. */
#define ID_JKT_LEN 43
/*
 * The RFC 7638 thumbprint of a public JWK (EC, RSA, OKP: its required
 * members only, in order), base64url, as RFC 9449's "jkt" has it.
 */
int id_jwk_thumbprint(const json_t *jwk, char out[ID_JKT_LEN + 1], char *err, size_t errlen);
/* The algorithm answers of key use: ES256 (P-256), ES384 (P-384), EdDSA, PS256 (RSA); else NONE. */
enum id_alg id_pop_alg(const struct id_key *key);
/*
 * Checks answer, the base64url signature over the challenge's bytes by
 * key under id_pop_alg(key). 0, or -1 with err.
 */
int id_pop_check(const struct id_key *key, const char *challenge, const char *answer,
		 char *err, size_t errlen);
/*
 * A client's private key from a PEM file owned by owner (or root), no
 * group/other permission bits: EC P-256/P-384, Ed25519 or RSA >= 2048,
 * signing with id_pop_alg's algorithm. NULL with err.
 */
struct id_signer *id_pop_key_load(const char *path, uid_t owner, char *err, size_t errlen);
/*
 * The compact form of the PEM certificates in pem (leaf first): their DER
 * in base64url, joined by '.'; what a client presents after "x509:".
 * Heap string, or NULL with err.
 */
char *id_pem_certs_compact(const char *pem, size_t len, char *err, size_t errlen);
/* The answer to challenge signed by s (base64url). Heap string, or NULL with err. */
char *id_pop_answer(const struct id_signer *s, const char *challenge, char *err, size_t errlen);

/*
 * A key-bound token's answer: "JWK.SIGNATURE", the base64url public JWK
 * whose RFC 7638 thumbprint must be jkt, and its signature over challenge
 * (id_pop_check). 0, or -1 with err.
 */
int id_pop_check_bound(const char *jkt, const char *challenge, const char *answer,
		       char *err, size_t errlen);

/*
 * The key a verified WIT-SVID's "cnf" binds: {"jwk": a public JWK with an
 * "alg" that is the one its proofs use (id_pop_alg: ES256, ES384, EdDSA,
 * PS256)}. NULL with err.
 */
struct id_key *id_wit_cnf_key(const json_t *claims, char *err, size_t errlen);

/* ---- proof of possession: the prompts and the client's side ----------- */

/* The module's prompts (docs/proof-of-possession.md). */
#define ID_TOKEN_PROMPT "Agent token: "
/* then N, the characters received so far, and "): " */
#define ID_MORE_PROMPT "Agent token (continued at "
/* then what the key is for ("X.509-SVID key", ID_POP_TOKEN_KEY), "): " and the challenge */
#define ID_POP_PROMPT "pam_agent proof of possession ("
#define ID_POP_TOKEN_KEY "token key"
/* What an X.509-SVID's compact chain is presented after. */
#define ID_X509_PREFIX "x509:"
/* Characters of evidence a client sends per answer ('+' ends all but the last). */
#define ID_PART_MAX 400

/* A presenter: its evidence and the key that answers challenges. */
struct id_pop_client {
	char *evidence;		/* a token, or ID_X509_PREFIX and the compact chain */
	struct id_signer *key;	/* NULL: a bearer token */
	char *jwk;		/* key's public JWK, base64url: a key-bound token's answers */
	char *audience;		/* heap; set: challenges for another audience are not signed */
};
/*
 * Loads token (with key when the token is key-bound, else NULL), or the
 * PEM certificates of svid with its key; the files must be owner's or
 * root's. 0, or -1 with err.
 */
int id_pop_client_load(struct id_pop_client *c, const char *token, const char *svid,
		       const char *key, uid_t owner, char *err, size_t errlen);
/*
 * The answer to one of the module's prompts, each on its own (no state is
 * kept between prompts, so a program run once per prompt, like OpenSSH's
 * askpass, can answer): a part of the evidence, or the signature over a
 * challenge (refused when it names another audience than c->audience).
 * Heap string, or NULL with err for any other prompt.
 */
char *id_pop_client_respond(const struct id_pop_client *c, const char *prompt, char *err,
			    size_t errlen);
void id_pop_client_clear(struct id_pop_client *c);

/* ---- signing (test CA, minted grants) -------------------------------- */

/* A private signing key with its kid and algorithm. */
struct id_signer;

/* Generates a new key for alg (EC curve / RSA 3072 / Ed25519). */
struct id_signer *id_signer_generate(enum id_alg alg, char *err, size_t errlen);
/* Loads a PEM private key from a root-owned 0600 file (owner uid given). */
struct id_signer *id_signer_load(const char *path, enum id_alg alg,
				 char *err, size_t errlen);
/* Writes the PEM private key to path, created 0600 with O_EXCL. */
int id_signer_save(const struct id_signer *s, const char *path,
		   char *err, size_t errlen);
void id_signer_free(struct id_signer *s);
/* Wraps a private key (ownership taken, freed on failure) of the type alg needs. */
struct id_signer *id_signer_from_pkey(EVP_PKEY *pkey, enum id_alg alg, char *err, size_t errlen);
/* Signs msg (*sig: heap, JOSE form: ECDSA r||s). 0, or -1 with err. */
int id_signer_sign(const struct id_signer *s, const void *msg, size_t len, unsigned char **sig,
		   size_t *siglen, char *err, size_t errlen);
/* kid: base64url of the RFC 7638 JWK thumbprint. */
const char *id_signer_kid(const struct id_signer *s);
/* The public JWK (with kid, alg, and use when use != NULL). */
json_t *id_signer_public_jwk(const struct id_signer *s, const char *use);
/*
 * Signs claims as a compact JWS with header {alg, kid, typ:"JWT"}.
 * Returns a heap string the caller wipes and frees, or NULL with err.
 */
char *id_sign_jwt(const struct id_signer *s, const json_t *claims,
		  char *err, size_t errlen);
/* The same with header "typ" typ ("wit+jwt" for a WIT-SVID). */
char *id_sign_jws(const struct id_signer *s, const char *typ, const json_t *claims,
		  char *err, size_t errlen);

/*
 * Test CA (pam-agent testca), X.509: the self-signed root of trust domain
 * td for s's key (CA, keyCertSign and cRLSign, URI SAN spiffe://td), valid
 * from a minute before now for ten years, as PEM; and an X.509-SVID for
 * spiffe_id with leaf's public key, signed by ca whose root is ca_pem
 * (no CA, digitalSignature, one URI SAN), valid from a minute before now
 * to now + ttl, as PEM. Heap strings, or NULL with err.
 */
char *id_x509_issue_root(const struct id_signer *s, const char *td, int64_t now,
			 char *err, size_t errlen);
char *id_x509_issue_svid(const struct id_signer *ca, const char *ca_pem,
			 const struct id_signer *leaf, const char *spiffe_id, int64_t now,
			 int64_t ttl, char *err, size_t errlen);

#endif /* PA_IDENTITY_H */
