/*
 * pam-agent-askpass - OpenSSH's SSH_ASKPASS for agents
 * (docs/proof-of-possession.md, pam-agent-askpass(1)): ssh runs it once
 * per keyboard-interactive prompt, with the prompt as its only argument,
 * and sends what it prints. It answers pam_agent's prompts only: the
 * token or X.509-SVID in parts, and the module's challenge, signed with
 * the SVID's (or the key-bound token's) key when the challenge names the
 * audience given in PAM_AGENT_AUDIENCE. Any other prompt (a password, a
 * host key question) is refused, so nothing else ever gets the evidence.
 *
 * Environment: PAM_AGENT_SVID_DIR (spiffe-helper's svid.pem and
 * svid_key.pem), or PAM_AGENT_SVID and PAM_AGENT_SVID_KEY, or
 * PAM_AGENT_TOKEN_FILE with PAM_AGENT_POP_KEY for a key-bound token;
 * PAM_AGENT_AUDIENCE, the audience of the host logged in to.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "identity.h"
#include "util.h"

#define ME "pam-agent-askpass"

/* The environment variable name, or NULL when unset or empty. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Reads the token file (the caller's or root's, no group/other bits); heap, or NULL after a line. */
static char *read_token(const char *path)
{
	const struct pa_file_rules rules = {
		.owner = getuid(), .or_root = true, .forbid_mode = 077, .max_size = ID_TOKEN_MAX + 2,
	};
	char err[512], *buf = NULL;
	size_t len = 0;

	if (pa_read_file_safely(path, &rules, &buf, &len, err, sizeof(err)) != 0) {
		fprintf(stderr, ME ": %s\n", err);
		return NULL;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		pa_free_secret_buf(buf, len);
		fprintf(stderr, ME ": %s: the token file contains a NUL byte\n", path);
		return NULL;
	}
	return buf;
}

/* The presenter of the environment; 0, or -1 after a line. */
static int load(struct id_pop_client *c, char *paths, size_t plen)
{
	const char *dir = env("PAM_AGENT_SVID_DIR"), *svid = env("PAM_AGENT_SVID");
	const char *key = env("PAM_AGENT_SVID_KEY"), *tfile = env("PAM_AGENT_TOKEN_FILE");
	char err[512], *token = NULL;
	int rc;

	if (dir != NULL) {
		if ((size_t)snprintf(paths, plen, "%s/svid.pem", dir) >= plen / 2 ||
		    (size_t)snprintf(paths + plen / 2, plen / 2, "%s/svid_key.pem", dir) >= plen / 2) {
			fprintf(stderr, ME ": PAM_AGENT_SVID_DIR is too long\n");
			return -1;
		}
		svid = paths;
		key = paths + plen / 2;
	}
	if ((svid != NULL) == (tfile != NULL) || (svid != NULL && key == NULL)) {
		fprintf(stderr, ME ": set PAM_AGENT_SVID_DIR, or PAM_AGENT_SVID and "
			"PAM_AGENT_SVID_KEY, or PAM_AGENT_TOKEN_FILE (with PAM_AGENT_POP_KEY for a "
			"key-bound token)\n");
		return -1;
	}
	if (tfile != NULL) {
		key = env("PAM_AGENT_POP_KEY");
		if ((token = read_token(tfile)) == NULL)
			return -1;
	}
	rc = id_pop_client_load(c, token, svid, key, getuid(), err, sizeof(err));
	pa_free_secret(token);
	if (rc != 0) {
		fprintf(stderr, ME ": %s\n", err);
		return -1;
	}
	if (env("PAM_AGENT_AUDIENCE") != NULL &&
	    (c->audience = strdup(env("PAM_AGENT_AUDIENCE"))) == NULL) {
		fprintf(stderr, ME ": out of memory\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct id_pop_client c = { 0 };
	char paths[8192], err[512], *out = NULL;
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: " ME " PROMPT (run by ssh as SSH_ASKPASS; see "
			ME "(1))\n");
		return 2;
	}
	if (strstr(argv[1], ID_POP_PROMPT) != NULL && env("PAM_AGENT_AUDIENCE") == NULL) {
		/* without it, a host could relay another host's challenge here */
		fprintf(stderr, ME ": PAM_AGENT_AUDIENCE is not set: a challenge is signed only "
			"for the audience of the host meant (its pam_agent.conf [global] "
			"audience)\n");
		return 1;
	}
	if (load(&c, paths, sizeof(paths)) == 0) {
		out = id_pop_client_respond(&c, argv[1], err, sizeof(err));
		if (out == NULL)
			fprintf(stderr, ME ": %s\n", err);
		else if (printf("%s\n", out) < 0 || fflush(stdout) != 0)
			fprintf(stderr, ME ": cannot write the answer\n");
		else
			rc = 0;
	}
	pa_free_secret(out);
	id_pop_client_clear(&c);
	return rc;
}
