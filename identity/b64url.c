/*
 * b64url.c - strict base64url (RFC 4648 §5) without padding, as JWS
 * compact serialization requires (RFC 7515 §2, RFC 8725 §3.11).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "util.h"

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The 6-bit value of c in the base64url alphabet, or -1 for anything else. */
static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Decodes exactly inlen characters of unpadded base64url. Refuses any
 * character outside [A-Za-z0-9_-] (padding '=' included), a length of
 * 1 mod 4, and non-zero unused bits in the last character, so that every
 * byte string has exactly one accepted encoding.
 */
int id_b64url_decode(const char *in, size_t inlen, unsigned char **out,
		     size_t *outlen)
{
	unsigned char *buf = NULL;
	size_t i, o = 0, rem, cap;
	uint32_t acc = 0;
	int bits = 0;

	*out = NULL;
	*outlen = 0;
	if (in == NULL && inlen > 0)
		return -1;
	rem = inlen % 4;
	if (rem == 1)
		return -1;
	cap = inlen / 4 * 3 + (rem == 0 ? 0 : rem - 1);
	buf = malloc(cap + 1);
	if (buf == NULL)
		return -1;
	for (i = 0; i < inlen; i++) {
		int v = b64url_value((unsigned char)in[i]);

		if (v < 0)
			goto fail;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* 2 or 4 leftover bits after the last full byte must all be zero */
	if (acc != 0)
		goto fail;
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return 0;
fail:
	pa_free_secret_buf(buf, cap + 1);
	return -1;
}

/* Encodes inlen bytes as unpadded base64url; a NUL-terminated heap string. */
char *id_b64url_encode(const unsigned char *in, size_t inlen)
{
	char *out = NULL;
	size_t i, o = 0, len;

	if (in == NULL && inlen > 0)
		return NULL;
	if (inlen > (SIZE_MAX - 4) / 4 * 3)
		return NULL;
	len = inlen / 3 * 4 + (inlen % 3 == 0 ? 0 : inlen % 3 + 1);
	out = malloc(len + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < inlen; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (inlen - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
	} else if (inlen - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return out;
}

/*
 * Standard base64 with padding (RFC 4648 §4: what "x5c" holds, RFC 7517
 * §4.7, and what spiffe-helper writes), strictly, through the base64url
 * decoder: only the standard alphabet, a length that is a multiple of 4,
 * at most two '=' at the end.
 */
int id_b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	char *u;
	size_t i, n = len;
	int rc;

	if (len == 0 || len % 4 != 0)
		return -1;
	while (n > len - 2 && in[n - 1] == '=')
		n--;
	u = malloc(n + 1);
	if (u == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (in[i] == '-' || in[i] == '_' || in[i] == '=') {
			free(u);
			return -1;
		}
		u[i] = in[i] == '+' ? '-' : in[i] == '/' ? '_' : in[i];
	}
	u[n] = '\0';
	rc = id_b64url_decode(u, n, out, outlen);
	free(u);
	return rc;
}
