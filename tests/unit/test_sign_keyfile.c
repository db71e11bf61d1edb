/*
 * test_sign_keyfile.c - the signing key file (identity/sign.c): the kid
 * of known keys (RFC 7638 and RFC 8037 examples) loaded from PEM files
 * written with plain OpenSSL, save refusing to replace or follow, no
 * partial file after a failed write, and load refusing unsafe files and
 * keys that are no good. Signing itself is in test_sign.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "identity.h"
#include "util.h"
#include "tfx.h"
#include "tfx_jose.h"

#define ERRLEN 512

/* RFC 7517 Appendix A.2: the RSA key whose public part RFC 7638 §3.1
 * thumbprints as NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs. */
static const char *const rfc7517_rsa[][2] = {
	{ "n", "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw" },
	{ "e", "AQAB" },
	{ "d", "X4cTteJY_gn4FYPsXB8rdXix5vwsg1FLN5E3EaG6RJoVH-HLLKD9M7dx5oo7GURknchnrRweUkC7hT5fJLM0WbFAKNLWY2vv7B6NqXSzUvxT0_YSfqijwp3RTzlBaCxWp4doFk5N2o8Gy_nHNKroADIkJ46pRUohsXywbReAdYaMwFs9tv8d_cPVY3i07a3t8MN6TNwm0dSawm9v47UiCl3Sk5ZiG7xojPLu4sbg1U2jx4IBTNBznbJSzFHK66jT8bgkuqsk0GjskDJk19Z4qwjwbsnn4j2WBii3RL-Us2lGVkY8fkFzme1z0HbIkfz0Y6mqnOYtqc0X4jfcKoAC8Q" },
	{ "rsa-factor1", "83i-7IvMGXoMXCskv73TKr8637FiO7Z27zv8oj6pbWUQyLPQBQxtPVnwD20R-60eTDmD2ujnMt5PoqMrm8RfmNhVWDtjjMmCMjOpSXicFHj7XOuVIYQyqVWlWEh6dN36GVZYk93N8Bc9vY41xy8B9RzzOGVQzXvNEvn7O0nVbfs" },
	{ "rsa-factor2", "3dfOR9cuYq-0S-mkFLzgItgMEfFzB2q3hWehMuG0oCuqnb3vobLyumqjVZQO1dIrdwgTnCdpYzBcOfW5r370AFXjiWft_NGEiovonizhKpo9VVS78TzFgxkIdrecRezsZ-1kYd_s1qDbxtkDEgfAITAG9LUnADun4vIcb6yelxk" },
	{ "rsa-exponent1", "G4sPXkc6Ya9y8oJW9_ILj4xuppu0lzi_H7VTkS8xj5SdX3coE0oimYwxIi2emTAue0UOa5dpgFGyBJ4c8tQ2VF402XRugKDTP8akYhFo5tAA77Qe_NmtuYZc3C3m3I24G2GvR5sSDxUyAN2zq8Lfn9EUms6rY3Ob8YeiKkTiBj0" },
	{ "rsa-exponent2", "s9lAH9fggBsoFR8Oac2R_E2gw282rT2kGOAhvIllETE1efrA6huUUvMfBcMpn8lqeW6vzznYY5SSQF7pMdC_agI3nG8Ibp1BUb0JUiraRNqUfLhcQb_d9GF4Dh7e74WbRsobRonujTYN1xCaP6TO61jvWrX-L18txXw494Q_cgk" },
	{ "rsa-coefficient1", "GyM_p6JrXySiz1toFgKbWV-JdI3jQ4ypu9rbMWx3rQJBfmt0FoYzgUIZEVFEcOqwemRN81zoDAaa-Bk0KWNGDjJHZDdDmFhW3AN7lI-puxk_mHZGJ11rxyR8O55XLSe3SPmRfKwZI6yU24ZxvQKFYItdldUKGzO6Ia6zTKhAVRU" },
};
#define RFC7638_KID "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

/* RFC 8037 Appendix A.1 (Ed25519 key) and A.3 (its RFC 7638 thumbprint). */
#define RFC8037_D "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define RFC8037_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define RFC8037_KID "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

/* An ES256 and an RS256 signer, made once for the whole run. */
static struct id_signer *es256, *rs256;

static int group_setup(void **state)
{
	char err[ERRLEN];

	(void)state;
	es256 = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	rs256 = id_signer_generate(ID_ALG_RS256, err, sizeof(err));
	if (es256 == NULL || rs256 == NULL) {
		fprintf(stderr, "generate: %s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	id_signer_free(es256);
	id_signer_free(rs256);
	return 0;
}

/* Each test's directory, and DIR/key.pem in it. */
static int setup(void **state)
{
	*state = tfx_file_new("sign", "key.pem");
	return *state != NULL ? 0 : -1;
}

/* Writes pkey as PEM to path with the given mode. */
static void write_pem(const char *path, EVP_PKEY *pkey, const EVP_CIPHER *enc,
		      mode_t mode)
{
	BIO *b = BIO_new_file(path, "w");

	assert_non_null(b);
	assert_int_equal(PEM_write_bio_PrivateKey(b, pkey, enc,
						  enc ? (unsigned char *)"secret" : NULL,
						  enc ? 6 : 0, NULL, NULL), 1);
	BIO_free(b);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_kid_rfc7638_example(void **state)
{
	struct tfx_file *f = *state;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *pkey = NULL;
	BIGNUM *bn[PA_ARRAY_SIZE(rfc7517_rsa)];
	struct id_signer *s;
	json_t *jwk;
	size_t i;

	assert_non_null(bld);
	assert_non_null(ctx);
	for (i = 0; i < PA_ARRAY_SIZE(rfc7517_rsa); i++) {
		bn[i] = tfx_b64_bn(rfc7517_rsa[i][1]);
		assert_true(OSSL_PARAM_BLD_push_BN(bld, rfc7517_rsa[i][0], bn[i]));
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_non_null(params);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params), 1);
	write_pem(f->path, pkey, NULL, 0600);

	s = id_signer_load(f->path, ID_ALG_RS256, f->err, sizeof(f->err));
	if (s == NULL)
		fail_msg("%s", f->err);
	assert_string_equal(id_signer_kid(s), RFC7638_KID);
	jwk = id_signer_public_jwk(s, NULL);
	assert_string_equal(tfx_jwk_str(jwk, "n"), rfc7517_rsa[0][1]);
	assert_string_equal(tfx_jwk_str(jwk, "e"), "AQAB");
	json_decref(jwk);
	id_signer_free(s);
	/* the same key may sign PS256, but not ES256 or EdDSA */
	s = id_signer_load(f->path, ID_ALG_PS256, f->err, sizeof(f->err));
	assert_non_null(s);
	assert_string_equal(id_signer_kid(s), RFC7638_KID);
	id_signer_free(s);
	assert_null(id_signer_load(f->path, ID_ALG_ES256, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "EC key"));
	assert_null(id_signer_load(f->path, ID_ALG_EDDSA, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "Ed25519"));

	for (i = 0; i < PA_ARRAY_SIZE(rfc7517_rsa); i++)
		BN_free(bn[i]);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
}

static void test_kid_rfc8037_example(void **state)
{
	struct tfx_file *f = *state;
	size_t dlen;
	unsigned char *d = tfx_b64d(RFC8037_D, strlen(RFC8037_D), &dlen);
	EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d, dlen);
	struct id_signer *s;
	json_t *jwk;

	assert_non_null(pkey);
	pa_free_secret_buf(d, dlen);
	write_pem(f->path, pkey, NULL, 0600);
	s = id_signer_load(f->path, ID_ALG_EDDSA, f->err, sizeof(f->err));
	if (s == NULL)
		fail_msg("%s", f->err);
	assert_string_equal(id_signer_kid(s), RFC8037_KID);
	jwk = id_signer_public_jwk(s, NULL);
	assert_string_equal(tfx_jwk_str(jwk, "x"), RFC8037_X);
	json_decref(jwk);
	id_signer_free(s);
	EVP_PKEY_free(pkey);
}

static void test_save_refuses_existing(void **state)
{
	struct tfx_file *f = *state;
	char link[160], target[160], buf[16];
	struct stat st;
	int fd;

	fd = open(f->path, O_CREAT | O_WRONLY | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);
	assert_int_equal(id_signer_save(es256, f->path, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "already exists"));
	assert_non_null(strstr(f->err, f->path));
	fd = open(f->path, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf)), 8);
	close(fd);
	assert_memory_equal(buf, "precious", 8);

	/* a dangling symlink is not followed to create its target */
	snprintf(link, sizeof(link), "%s/link.pem", f->tmp.dir);
	snprintf(target, sizeof(target), "%s/target.pem", f->tmp.dir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(id_signer_save(es256, link, f->err, sizeof(f->err)), -1);
	assert_int_equal(lstat(target, &st), -1);
	assert_int_equal(errno, ENOENT);
}

/* A write that fails half way leaves no file behind. */
static void test_save_leaves_no_partial_file(void **state)
{
	struct tfx_file *f = *state;
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 64, 64 };
		char err[ERRLEN];
		int rc;

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(3);
		rc = id_signer_save(rs256, f->path, err, sizeof(err));
		_exit(rc == -1 && strstr(err, "cannot write") != NULL &&
		      access(f->path, F_OK) == -1 && errno == ENOENT ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(access(f->path, F_OK), -1);
}

static void test_load_refuses_unsafe_files(void **state)
{
	struct tfx_file *f = *state;
	char link[160], other[160];
	struct id_signer *s;
	EVP_PKEY *small;
	int fd;

	assert_int_equal(id_signer_save(es256, f->path, f->err, sizeof(f->err)), 0);
	assert_int_equal(chmod(f->path, 0640), 0);
	assert_null(id_signer_load(f->path, ID_ALG_ES256, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "mode 0640"));
	assert_int_equal(chmod(f->path, 0604), 0);
	assert_null(id_signer_load(f->path, ID_ALG_ES256, f->err, sizeof(f->err)));
	assert_int_equal(chmod(f->path, 0600), 0);
	s = id_signer_load(f->path, ID_ALG_ES256, f->err, sizeof(f->err));
	assert_non_null(s); /* the same file is fine at 0600 */
	id_signer_free(s);

	snprintf(link, sizeof(link), "%s/link.pem", f->tmp.dir);
	assert_int_equal(symlink(f->path, link), 0);
	assert_null(id_signer_load(link, ID_ALG_ES256, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "symbolic link"));

	if (geteuid() == 0) {
		assert_int_equal(chown(f->path, 1000, 1000), 0);
		assert_null(id_signer_load(f->path, ID_ALG_ES256, f->err, sizeof(f->err)));
		assert_non_null(strstr(f->err, "owned by uid 1000"));
	}

	/* not a key, an encrypted key, a key that is too small */
	snprintf(other, sizeof(other), "%s/junk.pem", f->tmp.dir);
	fd = open(other, O_CREAT | O_WRONLY | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 58), 58);
	close(fd);
	assert_null(id_signer_load(other, ID_ALG_ES256, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "not an unencrypted PEM private key"));

	snprintf(other, sizeof(other), "%s/enc.pem", f->tmp.dir);
	small = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1");
	assert_non_null(small);
	write_pem(other, small, EVP_aes_256_cbc(), 0600);
	EVP_PKEY_free(small);
	assert_null(id_signer_load(other, ID_ALG_ES256, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "not an unencrypted PEM private key"));

	snprintf(other, sizeof(other), "%s/rsa1024.pem", f->tmp.dir);
	small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(small);
	write_pem(other, small, NULL, 0600);
	EVP_PKEY_free(small);
	assert_null(id_signer_load(other, ID_ALG_RS256, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "too short"));

	snprintf(other, sizeof(other), "%s/missing.pem", f->tmp.dir);
	assert_null(id_signer_load(other, ID_ALG_RS256, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "missing.pem"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kid_rfc7638_example, setup, tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_kid_rfc8037_example, setup, tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_save_refuses_existing, setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_save_leaves_no_partial_file, setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_load_refuses_unsafe_files, setup,
						tfx_tmp_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
