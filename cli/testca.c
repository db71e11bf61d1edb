/*
 * testca.c - `pam-agent testca`: a local test trust domain for demos,
 * tests and dry runs. `init` makes a signing key, its X.509 root and a
 * SPIFFE bundle, `mint` prints JWT-SVIDs signed by that key, `x509`
 * writes X.509-SVIDs in spiffe-helper's file layout.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "cli.h"
#include "identity.h"
#include "pa_json.h"
#include "util.h"

#define KEY_FILE "signing.key"
#define BUNDLE_FILE "bundle.json"
#define META_FILE "testca.json"
#define X509_CA_FILE "x509_ca.pem"
/* what spiffe-helper writes (svid_file_name, svid_key_file_name, svid_bundle_file_name) */
#define SVID_FILE "svid.pem"
#define SVID_KEY_FILE "svid_key.pem"
#define SVID_BUNDLE_FILE "bundle.pem"
/* the WIT-SVID signing key of the test CA, and what `testca wit` writes */
#define WIT_CA_FILE "wit.key"
#define WIT_FILE "wit.jwt"
#define WIT_KEY_FILE "wit_key.pem"

static int usage(FILE *f, int code)
{
	fprintf(f,
		"usage: pam-agent testca init DIR --trust-domain TD [--alg ALG]\n"
		"       pam-agent testca mint DIR --id SPIFFE-ID --aud AUD [--aud AUD…]\n"
		"                 [--ttl DURATION] [--now EPOCH] [--claim NAME=VALUE…]\n"
		"       pam-agent testca x509 DIR --id SPIFFE-ID --out OUTDIR\n"
		"                 [--ttl DURATION] [--now EPOCH]\n"
		"       pam-agent testca wit DIR --id SPIFFE-ID --out OUTDIR\n"
		"                 [--ttl DURATION] [--now EPOCH]\n"
		"\n"
		"init writes DIR/signing.key (0600), DIR/x509_ca.pem (the trust domain's\n"
		"self-signed X.509 root, of the same key), DIR/bundle.json (a SPIFFE bundle\n"
		"with the public key, use jwt-svid, the root, use x509-svid, and the key\n"
		"of DIR/wit.key, a P-256 key of its own, use wit-svid) and DIR/testca.json. ALG is one of ES256 (default), ES384, ES512, RS256, RS384,\n"
		"RS512, PS256, PS384, PS512 (ES512: no X.509 root, P-521 is not accepted).\n"
		"mint prints a JWT-SVID for SPIFFE-ID (which must be in the trust domain):\n"
		"sub, aud, iat, exp = iat + ttl (default 5m), a random jti, and each\n"
		"--claim (VALUE is taken as JSON when it parses as JSON, else as a string;\n"
		"a claim given here replaces the default one of that name).\n"
		"x509 writes an X.509-SVID for SPIFFE-ID signed by the root, as\n"
		"spiffe-helper does: OUTDIR/svid.pem (the leaf), OUTDIR/svid_key.pem (its\n"
		"new P-256 key, 0600) and OUTDIR/bundle.pem (the root); ttl default 1h.\n"
		"wit writes a WIT-SVID for SPIFFE-ID signed by DIR/wit.key (typ wit+jwt,\n"
		"no aud, cnf.jwk the public key of OUTDIR/wit_key.pem, a new P-256 key,\n"
		"0600) as OUTDIR/wit.jwt (0600); ttl default 1h.\n"
		"Test CAs are for tests and demos: never trust one in production.\n");
	return code;
}

/* DIR/name into buf. */
static const char *path_in(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
	return buf;
}

/* Writes data to path atomically and durably (pa_write_file_atomic), with mode. */
static int write_file(const char *path, const char *data, mode_t mode)
{
	char err[512];

	if (pa_write_file_atomic(path, NULL, data, strlen(data), mode, err, sizeof(err)) != 0) {
		fprintf(stderr, "pam-agent: %s\n", err);
		return -1;
	}
	return 0;
}

/* The "x5c" value of a PEM certificate: its base64 body without line breaks. */
static json_t *pem_to_x5c(const char *pem)
{
	const char *p = strstr(pem, "-----\n"), *end = strstr(pem, "\n-----END");
	json_t *v = NULL;
	char *b64;
	size_t n = 0;

	if (p == NULL || end == NULL || end < p)
		return NULL;
	b64 = malloc((size_t)(end - p) + 1);
	if (b64 == NULL)
		return NULL;
	for (p += 6; p < end; p++)
		if (*p != '\n')
			b64[n++] = *p;
	b64[n] = '\0';
	v = json_string(b64);
	free(b64);
	return v;
}

/*
 * The X.509 root of the test CA: DIR/x509_ca.pem, and its x509-svid
 * element added to keys (the bundle's). Not for ES512 (P-521 is no
 * X.509-SVID key).
 */
static int init_x509(const struct id_signer *s, const char *td, const char *dir,
		     json_t *keys, char *path, size_t pathlen)
{
	json_t *jwk = NULL, *x5c;
	char err[512], *pem;
	int ret = -1;

	pem = id_x509_issue_root(s, td, (int64_t)time(NULL), err, sizeof(err));
	if (pem == NULL) {
		fprintf(stderr, "pam-agent: testca: %s\n", err);
		return -1;
	}
	if (write_file(path_in(path, pathlen, dir, X509_CA_FILE), pem, 0644) != 0)
		goto out;
	jwk = id_signer_public_jwk(s, "x509-svid");
	x5c = pem_to_x5c(pem);
	if (jwk == NULL || x5c == NULL || json_object_del(jwk, "kid") != 0 ||
	    json_object_del(jwk, "alg") != 0 ||
	    json_object_set_new(jwk, "x5c", json_pack("[o]", x5c)) != 0 ||
	    json_array_append(keys, jwk) != 0) {
		fprintf(stderr, "pam-agent: testca: out of memory\n");
		goto out;
	}
	ret = 0;
out:
	json_decref(jwk);
	free(pem);
	return ret;
}

/* The WIT-SVID signing key of the test CA: DIR/wit.key, its wit-svid element added to keys. */
static int init_wit(const char *dir, json_t *keys)
{
	char path[4096], err[512];
	struct id_signer *s = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	int rc = -1;

	if (s != NULL && id_signer_save(s, path_in(path, sizeof(path), dir, WIT_CA_FILE), err,
					sizeof(err)) == 0 &&
	    json_array_append_new(keys, id_signer_public_jwk(s, "wit-svid")) == 0)
		rc = 0;
	else
		fprintf(stderr, "pam-agent: testca: %s\n", err);
	id_signer_free(s);
	return rc;
}

static int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trust-domain", required_argument, NULL, 't' },
		{ "alg", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *td = NULL, *dir;
	enum id_alg alg = ID_ALG_ES256;
	struct id_signer *signer = NULL;
	json_t *bundle = NULL, *meta = NULL, *jwk = NULL;
	char *text = NULL, err[512], tdbuf[256], path[4096], id[300];
	int c, ret = CLI_USAGE;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': td = optarg; break;
		case 'a':
			alg = id_alg_from_name(optarg);
			if (alg == ID_ALG_NONE || alg == ID_ALG_EDDSA)
				return cli_usage_error("testca: --alg %s: not a JWT-SVID algorithm", optarg);
			break;
		case 'h': return usage(stdout, CLI_OK);
		default: return usage(stderr, CLI_USAGE);
		}
	}
	if (optind + 1 != argc || td == NULL)
		return usage(stderr, CLI_USAGE);
	dir = argv[optind];
	snprintf(id, sizeof(id), "spiffe://%s", td);
	if (id_spiffe_id_parse(id, tdbuf, sizeof(tdbuf), err, sizeof(err)) != 0)
		return cli_usage_error("testca: --trust-domain %s: %s", td, err);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return cli_usage_error("testca: %s: %s", dir, strerror(errno));
	if (access(path_in(path, sizeof(path), dir, KEY_FILE), F_OK) == 0)
		return cli_usage_error("testca: %s already exists; use a new directory", path);

	ret = CLI_USAGE;
	signer = id_signer_generate(alg, err, sizeof(err));
	if (signer == NULL) {
		fprintf(stderr, "pam-agent: testca: %s\n", err);
		goto out;
	}
	if (id_signer_save(signer, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "pam-agent: testca: %s\n", err);
		goto out;
	}
	jwk = id_signer_public_jwk(signer, "jwt-svid");
	bundle = json_pack("{s:[O], s:i, s:i}", "keys", jwk, "spiffe_refresh_hint", 300,
			   "spiffe_sequence", 1);
	meta = json_pack("{s:s, s:s, s:s}", "trust_domain", tdbuf, "alg", id_alg_name(alg),
			 "kid", id_signer_kid(signer));
	if (jwk == NULL || bundle == NULL || meta == NULL) {
		fprintf(stderr, "pam-agent: testca: out of memory\n");
		goto out;
	}
	if (alg != ID_ALG_ES512 && init_x509(signer, tdbuf, dir, json_object_get(bundle, "keys"),
					     path, sizeof(path)) != 0)
		goto out;
	if (init_wit(dir, json_object_get(bundle, "keys")) != 0)
		goto out;
	text = pa_json_dumps(bundle, JSON_INDENT(2));
	if (text == NULL || write_file(path_in(path, sizeof(path), dir, BUNDLE_FILE), text, 0644) != 0)
		goto out;
	free(text);
	text = pa_json_dumps(meta, JSON_INDENT(2));
	if (text == NULL || write_file(path_in(path, sizeof(path), dir, META_FILE), text, 0644) != 0)
		goto out;
	printf("trust domain %s (%s, kid %s)\n  key:    %s/%s\n  bundle: %s/%s\n", tdbuf,
	       id_alg_name(alg), id_signer_kid(signer), dir, KEY_FILE, dir, BUNDLE_FILE);
	if (alg != ID_ALG_ES512)
		printf("  x509:   %s/%s\n", dir, X509_CA_FILE);
	printf("  wit:    %s/%s\n", dir, WIT_CA_FILE);
	ret = CLI_OK;
out:
	free(text);
	json_decref(jwk);
	json_decref(bundle);
	json_decref(meta);
	id_signer_free(signer);
	return ret;
}

/* Adds --claim NAME=VALUE to claims: JSON when VALUE parses, else a string. */
static int add_claim(json_t *claims, const char *arg)
{
	const char *eq = strchr(arg, '=');
	json_t *value;
	char *name;
	int ret;

	if (eq == NULL || eq == arg)
		return cli_usage_error("testca: --claim %s: expected NAME=VALUE", arg);
	value = pa_json_loads(eq + 1, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	if (value == NULL)
		value = json_string(eq + 1);
	name = strndup(arg, (size_t)(eq - arg));
	ret = (value == NULL || name == NULL || json_object_set_new(claims, name, value) != 0);
	free(name);
	if (ret != 0)
		return cli_usage_error("testca: --claim %s: not valid UTF-8 or out of memory", arg);
	return 0;
}

static int cmd_mint(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "aud", required_argument, NULL, 'a' },
		{ "ttl", required_argument, NULL, 't' },
		{ "now", required_argument, NULL, 'n' },
		{ "claim", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spiffe_id = NULL, *dir;
	int64_t ttl = 300, now = (int64_t)time(NULL);
	json_t *auds = json_array(), *extra = json_object(), *claims = NULL, *meta = NULL;
	struct id_signer *signer = NULL;
	char err[512], tdbuf[256], path[4096], *token = NULL, *jti = NULL;
	const char *meta_td;
	unsigned char rnd[16];
	int c, ret = CLI_USAGE;

	if (auds == NULL || extra == NULL)
		goto out;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i': spiffe_id = optarg; break;
		case 'a': json_array_append_new(auds, json_string(optarg)); break;
		case 't':
			if (pa_parse_duration(optarg, &ttl) != 0) {
				ret = cli_usage_error("testca: --ttl %s: not a duration (90s, 15m, 2h)", optarg);
				goto out;
			}
			break;
		case 'n':
			if (cli_parse_epoch(optarg, &now) != 0) {
				ret = cli_usage_error("testca: --now %s: not an epoch time", optarg);
				goto out;
			}
			break;
		case 'c':
			if (add_claim(extra, optarg) != 0)
				goto out;
			break;
		case 'h': ret = usage(stdout, CLI_OK); goto out;
		default: ret = usage(stderr, CLI_USAGE); goto out;
		}
	}
	if (optind + 1 != argc || spiffe_id == NULL || json_array_size(auds) == 0) {
		ret = usage(stderr, CLI_USAGE);
		goto out;
	}
	dir = argv[optind];
	meta = json_load_file(path_in(path, sizeof(path), dir, META_FILE), JSON_REJECT_DUPLICATES, NULL);
	if (meta == NULL || json_unpack(meta, "{s:s}", "trust_domain", &meta_td) != 0) {
		ret = cli_usage_error("testca: %s: not a test CA made by 'testca init'", path);
		goto out;
	}
	if (id_spiffe_id_parse(spiffe_id, tdbuf, sizeof(tdbuf), err, sizeof(err)) != 0) {
		ret = cli_usage_error("testca: --id: %s", err);
		goto out;
	}
	if (strcmp(tdbuf, meta_td) != 0) {
		ret = cli_usage_error("testca: --id %s is not in trust domain %s", spiffe_id, meta_td);
		goto out;
	}
	signer = id_signer_load(path_in(path, sizeof(path), dir, KEY_FILE),
				id_alg_from_name(json_string_value(json_object_get(meta, "alg"))),
				err, sizeof(err));
	if (signer == NULL) {
		ret = cli_usage_error("testca: %s", err);
		goto out;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 || (jti = id_b64url_encode(rnd, sizeof(rnd))) == NULL) {
		ret = cli_usage_error("testca: no random bytes for the jti");
		goto out;
	}
	claims = json_pack("{s:s, s:O, s:I, s:I, s:s}", "sub", spiffe_id, "aud",
			   json_array_size(auds) == 1 ? json_array_get(auds, 0) : auds,
			   "iat", (json_int_t)now, "exp", (json_int_t)(now + ttl), "jti", jti);
	if (claims == NULL || json_object_update(claims, extra) != 0) {
		ret = cli_usage_error("testca: out of memory");
		goto out;
	}
	token = id_sign_jwt(signer, claims, err, sizeof(err));
	if (token == NULL) {
		ret = cli_usage_error("testca: %s", err);
		goto out;
	}
	printf("%s\n", token);
	ret = CLI_OK;
out:
	pa_free_secret(token);
	free(jti);
	json_decref(auds);
	json_decref(extra);
	json_decref(claims);
	json_decref(meta);
	id_signer_free(signer);
	return ret;
}

/* Loads the test CA of dir: its trust domain (meta), key and X.509 root. 0 or -1. */
static int load_ca(const char *dir, json_t **meta, struct id_signer **signer, char **root)
{
	char path[4096], err[512];
	size_t len;

	*signer = NULL;
	*root = NULL;
	*meta = json_load_file(path_in(path, sizeof(path), dir, META_FILE),
			       JSON_REJECT_DUPLICATES, NULL);
	if (*meta == NULL || !json_is_string(json_object_get(*meta, "trust_domain"))) {
		cli_usage_error("testca: %s: not a test CA made by 'testca init'", path);
		return -1;
	}
	if (id_bundle_read(path_in(path, sizeof(path), dir, X509_CA_FILE), root, &len, NULL, err,
			   sizeof(err)) != 0 || *root == NULL) {
		cli_usage_error("testca: %s (a test CA of ES512, or made before X.509 roots: "
				"make a new one with 'testca init')", err);
		return -1;
	}
	*signer = id_signer_load(path_in(path, sizeof(path), dir, KEY_FILE),
				 id_alg_from_name(json_string_value(json_object_get(*meta, "alg"))),
				 err, sizeof(err));
	if (*signer == NULL) {
		cli_usage_error("testca: %s", err);
		return -1;
	}
	return 0;
}

/*
 * Writes OUT/name (a new P-256 key, 0600: saved under a temporary name,
 * then renamed over the old one) and returns its signer.
 */
static struct id_signer *new_key(const char *out, const char *name)
{
	char path[4096], tmp[4200], err[512] = "";
	struct id_signer *key = id_signer_generate(ID_ALG_ES256, err, sizeof(err));

	path_in(path, sizeof(path), out, name);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if (key != NULL && (unlink(tmp) == 0 || errno == ENOENT) &&
	    id_signer_save(key, tmp, err, sizeof(err)) == 0 && rename(tmp, path) == 0)
		return key;
	if (key != NULL && err[0] == '\0')
		fprintf(stderr, "pam-agent: testca: %s: %s\n", path, strerror(errno));
	else
		fprintf(stderr, "pam-agent: testca: %s\n", err);
	id_signer_free(key);
	return NULL;
}

/* What `testca x509` and `testca wit` issue, from their command line. */
struct issue_opts {
	const char *dir, *spiffe_id, *out;
	int64_t ttl, now;
	char td[256]; /* the trust domain of spiffe_id */
};

/* DIR --id SPIFFE-ID --out OUTDIR [--ttl D] [--now EPOCH] into *o: -1 to go on, else the exit code. */
static int issue_opts_parse(int argc, char **argv, struct issue_opts *o)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "ttl", required_argument, NULL, 't' },
		{ "now", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char err[512];
	int c;

	*o = (struct issue_opts){ .ttl = 3600, .now = (int64_t)time(NULL) };
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i': o->spiffe_id = optarg; break;
		case 'o': o->out = optarg; break;
		case 't':
			if (pa_parse_duration(optarg, &o->ttl) != 0 || o->ttl <= 0)
				return cli_usage_error("testca: --ttl %s: not a duration (90s, 15m, 2h)", optarg);
			break;
		case 'n':
			if (cli_parse_epoch(optarg, &o->now) != 0)
				return cli_usage_error("testca: --now %s: not an epoch time", optarg);
			break;
		case 'h': return usage(stdout, CLI_OK);
		default: return usage(stderr, CLI_USAGE);
		}
	}
	if (optind + 1 != argc || o->spiffe_id == NULL || o->out == NULL)
		return usage(stderr, CLI_USAGE);
	o->dir = argv[optind];
	if (id_spiffe_id_parse(o->spiffe_id, o->td, sizeof(o->td), err, sizeof(err)) != 0)
		return cli_usage_error("testca: --id: %s", err);
	return -1;
}

static int cmd_x509(int argc, char **argv)
{
	struct issue_opts o;
	const char *td;
	struct id_signer *ca = NULL, *key = NULL;
	char err[512], path[4096], *root = NULL, *svid = NULL;
	json_t *meta = NULL;
	int c, ret = CLI_USAGE;

	c = issue_opts_parse(argc, argv, &o);
	if (c != -1)
		return c;
	if (load_ca(o.dir, &meta, &ca, &root) != 0)
		goto out;
	td = json_string_value(json_object_get(meta, "trust_domain"));
	if (strcmp(o.td, td) != 0) {
		ret = cli_usage_error("testca: --id %s is not in trust domain %s", o.spiffe_id, td);
		goto out;
	}
	if (mkdir(o.out, 0700) != 0 && errno != EEXIST) {
		ret = cli_usage_error("testca: %s: %s", o.out, strerror(errno));
		goto out;
	}
	key = new_key(o.out, SVID_KEY_FILE);
	svid = key != NULL ? id_x509_issue_svid(ca, root, key, o.spiffe_id, o.now, o.ttl, err,
						sizeof(err)) : NULL;
	if (key != NULL && svid == NULL)
		fprintf(stderr, "pam-agent: testca: %s\n", err);
	if (svid == NULL ||
	    write_file(path_in(path, sizeof(path), o.out, SVID_FILE), svid, 0644) != 0 ||
	    write_file(path_in(path, sizeof(path), o.out, SVID_BUNDLE_FILE), root, 0644) != 0)
		goto out;
	printf("X.509-SVID %s\n  svid:   %s/%s\n  key:    %s/%s\n  bundle: %s/%s\n", o.spiffe_id,
	       o.out, SVID_FILE, o.out, SVID_KEY_FILE, o.out, SVID_BUNDLE_FILE);
	ret = CLI_OK;
out:
	free(svid);
	free(root);
	json_decref(meta);
	id_signer_free(ca);
	id_signer_free(key);
	return ret;
}

/* The WIT-SVID of spiffe_id for holder's key, signed by the test CA of dir. Heap, or NULL after a line. */
static char *issue_wit(const char *dir, const char *spiffe_id, const struct id_signer *holder,
		       int64_t now, int64_t ttl)
{
	char path[4096], err[512], *token = NULL, *jti = NULL;
	struct id_signer *ca = id_signer_load(path_in(path, sizeof(path), dir, WIT_CA_FILE),
					      ID_ALG_ES256, err, sizeof(err));
	unsigned char rnd[16];
	json_t *claims = NULL;

	if (ca == NULL) {
		fprintf(stderr, "pam-agent: testca: %s (a test CA made before WIT-SVID keys: make "
			"a new one with 'testca init')\n", err);
		return NULL;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) == 1)
		jti = id_b64url_encode(rnd, sizeof(rnd));
	if (jti != NULL)
		claims = json_pack("{s:s, s:I, s:I, s:s, s:{s:o}}", "sub", spiffe_id, "iat",
				   (json_int_t)now, "exp", (json_int_t)(now + ttl), "jti", jti,
				   "cnf", "jwk", id_signer_public_jwk(holder, NULL));
	if (claims != NULL)
		token = id_sign_jws(ca, "wit+jwt", claims, err, sizeof(err));
	if (token == NULL)
		fprintf(stderr, "pam-agent: testca: %s\n", claims != NULL ? err : "out of memory");
	json_decref(claims);
	free(jti);
	id_signer_free(ca);
	return token;
}

static int cmd_wit(int argc, char **argv)
{
	struct issue_opts o;
	const char *td;
	char path[4096], *token = NULL;
	struct id_signer *key = NULL;
	json_t *meta = NULL;
	int c, ret = CLI_USAGE;

	c = issue_opts_parse(argc, argv, &o);
	if (c != -1)
		return c;
	meta = json_load_file(path_in(path, sizeof(path), o.dir, META_FILE),
			      JSON_REJECT_DUPLICATES, NULL);
	td = json_string_value(json_object_get(meta, "trust_domain"));
	if (td == NULL || strcmp(o.td, td) != 0) {
		ret = cli_usage_error("testca: %s: not a test CA of the trust domain of %s", path,
				      o.spiffe_id);
		goto out;
	}
	if (mkdir(o.out, 0700) != 0 && errno != EEXIST) {
		ret = cli_usage_error("testca: %s: %s", o.out, strerror(errno));
		goto out;
	}
	key = new_key(o.out, WIT_KEY_FILE);
	if (key == NULL)
		goto out;
	token = issue_wit(o.dir, o.spiffe_id, key, o.now, o.ttl);
	if (token == NULL || write_file(path_in(path, sizeof(path), o.out, WIT_FILE), token, 0600) != 0)
		goto out;
	printf("WIT-SVID %s\n  wit:    %s/%s\n  key:    %s/%s\n", o.spiffe_id, o.out, WIT_FILE,
	       o.out, WIT_KEY_FILE);
	ret = CLI_OK;
out:
	pa_free_secret(token);
	json_decref(meta);
	id_signer_free(key);
	return ret;
}

int cmd_testca(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr, CLI_USAGE);
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(argv[1], "mint") == 0)
		return cmd_mint(argc - 1, argv + 1);
	if (strcmp(argv[1], "x509") == 0)
		return cmd_x509(argc - 1, argv + 1);
	if (strcmp(argv[1], "wit") == 0)
		return cmd_wit(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0)
		return usage(stdout, CLI_OK);
	return usage(stderr, CLI_USAGE);
}
