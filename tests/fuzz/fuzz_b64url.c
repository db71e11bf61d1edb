/*
 * fuzz_b64url.c - libFuzzer target for the strict base64url codec
 * (identity/b64url.c). Properties checked on every input:
 *
 *   1. decode(encode(x)) == x for any bytes x;
 *   2. an accepted input is canonical: encode(decode(s)) == s, so no byte
 *      string has two accepted encodings (padding, stray bits, other
 *      alphabets are all refused);
 *   3. the decoded length is exactly what the encoded length implies, and
 *      the decoder's buffer is NUL-terminated after it.
 *
 * A violated property aborts, which libFuzzer reports as a crash.
 * Built and run by `make fuzz` / `make fuzz-run` (docs/fuzzing.md).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_b64url: property violated: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *dec = NULL, *back = NULL;
	size_t declen = 0, backlen = 0;
	char *enc = NULL, *reenc = NULL;

	/* 1. round trip from bytes */
	enc = id_b64url_encode(data, size);
	if (enc == NULL)
		fail("encode refused its input");
	if (strlen(enc) != size / 3 * 4 + (size % 3 == 0 ? 0 : size % 3 + 1))
		fail("encoded length");
	if (id_b64url_decode(enc, strlen(enc), &back, &backlen) != 0)
		fail("decode refused the encoder's output");
	if (backlen != size || (size > 0 && memcmp(back, data, size) != 0))
		fail("decode(encode(x)) != x");
	if (back[backlen] != '\0')
		fail("decoded buffer not NUL-terminated");

	/* 2. canonical acceptance of the raw input */
	if (id_b64url_decode((const char *)data, size, &dec, &declen) == 0) {
		if (size % 4 == 1)
			fail("accepted a length of 1 mod 4");
		if (declen != size / 4 * 3 + (size % 4 == 0 ? 0 : size % 4 - 1))
			fail("decoded length");
		if (dec[declen] != '\0')
			fail("decoded buffer not NUL-terminated");
		reenc = id_b64url_encode(dec, declen);
		if (reenc == NULL)
			fail("encode refused decoded bytes");
		if (strlen(reenc) != size || memcmp(reenc, data, size) != 0)
			fail("accepted a non-canonical encoding");
	} else if (dec != NULL || declen != 0) {
		fail("refused input left output behind");
	}

	free(enc);
	free(reenc);
	free(back);
	free(dec);
	return 0;
}
