/*
 * token.c - where the auth phase gets the agent's token from: PAM_AUTHTOK
 * (use_first_pass / try_first_pass), a file (token_file=), or a
 * conversation prompt, in that order of preference.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_ext.h>

#include "identity.h"
#include "module.h"

/* Copies a token without surrounding whitespace; NULL when out of memory. */
static char *trimmed_copy(const char *s, size_t len)
{
	char *out;

	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
			   s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	out = malloc(len + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

/*
 * Expands the token_file template: %u is the user, %% a percent sign.
 * A user name that could leave the directory ('/', leading '.') or any
 * other % sequence is an error.
 */
static int expand_template(const char *tmpl, const char *user, char *out,
			   size_t outlen, char *err, size_t errlen)
{
	size_t o = 0, ulen = strlen(user);
	const char *p;

	if (user[0] == '\0' || user[0] == '.' || strchr(user, '/') != NULL)
		return pa_err(err, errlen, "token_file: user name unusable in a path");
	for (p = tmpl; *p != '\0'; p++) {
		const char *add = p;
		size_t n = 1;

		if (*p == '%') {
			if (p[1] == 'u') {
				add = user;
				n = ulen;
			} else if (p[1] != '%') {
				return pa_err(err, errlen,
					      "token_file: unknown %% sequence in template (use %%u or %%%%)");
			}
			p++;
		}
		if (o + n >= outlen)
			return pa_err(err, errlen, "token_file: path too long");
		memcpy(out + o, add, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

/* Reads the token file of user: owned by that user, mode 0600 or stricter. */
static int token_from_file(struct pa_call *call, const char *user, char **token,
			   char *err, size_t errlen)
{
	char path[4096], pwbuf[4096];
	struct passwd pw, *pwp = NULL;
	struct pa_file_rules rules = { 0 };
	char *buf = NULL;
	size_t len = 0;
	int ret;

	if (expand_template(call->args.token_file, user, path, sizeof(path), err, errlen) != 0)
		return -1;
	ret = getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &pwp);
	if (pwp == NULL)
		return pa_err(err, errlen, "token_file: user has no passwd entry%s%s",
			      ret != 0 ? ": " : "", ret != 0 ? strerror(ret) : "");
	rules.owner = pw.pw_uid;
	rules.forbid_mode = 077;
	rules.max_size = ID_TOKEN_MAX + 2; /* a trailing newline is fine */
	if (pa_read_file_safely(path, &rules, &buf, &len, err, errlen) != 0)
		return -1;
	/* a NUL would hide the rest of the token from pa_free_secret's wipe */
	if (memchr(buf, '\0', len) != NULL) {
		pa_free_secret_buf(buf, len);
		return pa_err(err, errlen, "token_file: the file contains a NUL byte");
	}
	*token = trimmed_copy(buf, len);
	pa_free_secret_buf(buf, len);
	if (*token == NULL)
		return pa_err(err, errlen, "out of memory");
	pa_debug(call, "token read from %s", path);
	return 0;
}

/* Most parts a token or X.509-SVID may come in, and most characters in all. */
#define PROMPT_PARTS_MAX 64
#define PROMPT_TEXT_MAX (ID_X509_CHAIN_MAX + 16)

/* One answer to prompt, without surrounding whitespace, in *resp. 0, or -1 with err. */
static int ask(struct pa_call *call, const char *prompt, char **resp, char *err, size_t errlen)
{
	char *raw = NULL;
	int ret;

	*resp = NULL;
	ret = pam_prompt(call->pamh, PAM_PROMPT_ECHO_OFF, &raw, "%s", prompt);
	if (ret == PAM_CONV_ERR) {
		/*
		 * The application's conversation function failed the prompt
		 * instead of answering it (libpam logs "conversation failed").
		 * The usual causes are its answer limit - sudo reads up to 1023
		 * bytes and then discards an answer of PAM_MAX_RESP_SIZE (512)
		 * bytes or more, failing the conversation (docs/applications.md),
		 * which a token easily is - or nobody to ask (sudo -n, no
		 * terminal). Say so: "no token" alone sends the operator looking
		 * for a missing file.
		 */
		pa_free_secret(raw);
		return pa_err(err, errlen,
			      "no token: the PAM conversation failed at the token prompt "
			      "(PAM_CONV_ERR): the application returned no answer; likely its "
			      "answer limit (sudo discards answers of %d bytes or more, "
			      "PAM_MAX_RESP_SIZE) or no terminal to ask (sudo -n): give the token "
			      "with token_file= or launch the agent with agent-run (prompt \"%s\")",
			      PAM_MAX_RESP_SIZE, prompt);
	}
	if (ret != PAM_SUCCESS) {
		pa_free_secret(raw);
		return pa_err(err, errlen, "no token: the PAM conversation failed at the token "
			      "prompt: %s (prompt \"%s\")", pam_strerror(call->pamh, ret), prompt);
	}
	if (raw == NULL)
		return pa_err(err, errlen, "no token: the application gave no answer to the token "
			      "prompt \"%s\"", prompt);
	*resp = trimmed_copy(raw, strlen(raw));
	pa_free_secret(raw);
	return *resp != NULL ? 0 : pa_err(err, errlen, "out of memory");
}

/*
 * Asks for the token through the application's conversation function: in
 * parts while an answer ends in '+' (docs/proof-of-possession.md), each
 * prompt naming how many characters came so far, so that a client run
 * once per prompt (OpenSSH's askpass) knows where to go on.
 */
static int token_from_prompt(struct pa_call *call, char **token, bool *cut,
			     char *err, size_t errlen)
{
	char prompt[64], *all = NULL, *resp = NULL, *grown;
	size_t len = 0, rlen, parts = 0;
	bool more = true;

	snprintf(prompt, sizeof(prompt), "%s", ID_TOKEN_PROMPT);
	while (more) {
		if (++parts > PROMPT_PARTS_MAX) {
			pa_err(err, errlen, "a token or X.509-SVID in more than %d parts",
			       PROMPT_PARTS_MAX);
			goto fail;
		}
		if (ask(call, prompt, &resp, err, errlen) != 0)
			goto fail;
		/* conversation answers are cut at PAM_MAX_RESP_SIZE by many clients */
		rlen = strlen(resp);
		*cut = rlen >= PAM_MAX_RESP_SIZE - 1;
		more = rlen > 0 && resp[rlen - 1] == '+';
		rlen -= more ? 1 : 0;
		if (len + rlen > PROMPT_TEXT_MAX) {
			pa_err(err, errlen, "a token or X.509-SVID over %d bytes", PROMPT_TEXT_MAX);
			goto fail;
		}
		grown = realloc(all, len + rlen + 1);
		if (grown == NULL) {
			pa_err(err, errlen, "out of memory");
			goto fail;
		}
		all = grown;
		memcpy(all + len, resp, rlen);
		len += rlen;
		all[len] = '\0';
		pa_free_secret(resp);
		resp = NULL;
		snprintf(prompt, sizeof(prompt), "%s%zu): ", ID_MORE_PROMPT, len);
	}
	*token = all;
	return 0;
fail:
	pa_free_secret(resp);
	pa_free_secret(all);
	return -1;
}

int pa_token_get(struct pa_call *call, const char *user, char **token,
		 bool *maybe_cut, char *err, size_t errlen)
{
	const void *item = NULL;

	*token = NULL;
	*maybe_cut = false;
	if (call->args.use_first_pass || call->args.try_first_pass) {
		int ret = pam_get_item(call->pamh, PAM_AUTHTOK, &item);

		if (ret == PAM_SUCCESS && item != NULL && ((const char *)item)[0] != '\0') {
			const char *tok = item;

			*maybe_cut = strlen(tok) >= PAM_MAX_RESP_SIZE - 1;
			*token = trimmed_copy(tok, strlen(tok));
			if (*token == NULL)
				return pa_err(err, errlen, "out of memory");
			pa_debug(call, "token taken from PAM_AUTHTOK");
			return 0;
		}
		if (call->args.use_first_pass)
			return pa_err(err, errlen,
				      "no token: use_first_pass is set and no earlier module or the application set PAM_AUTHTOK");
	}
	if (call->args.token_file != NULL)
		return token_from_file(call, user, token, err, errlen);
	return token_from_prompt(call, token, maybe_cut, err, errlen);
}
