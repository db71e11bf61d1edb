/*
 * agent_cred_example.c - how an agent reads a just-in-time credential that
 * pam_agent placed in the kernel keyring of its PAM session.
 *
 * Build:  cc agent_cred_example.c $(pkg-config --cflags --libs agentcred)
 * Run inside the session (e.g. under agent-run):  ./a.out tickets-ro
 *
 * It never prints the secret: it shows how to hand it to a consumer and
 * release it with agent_cred_free(), which wipes it.
 */
#include <stdio.h>
#include <stdlib.h>

#include <agent_cred.h>

/* Stands for the real consumer: an HTTP client, a database driver, ... */
static int use_credential(const char *secret, size_t len)
{
	(void)secret;
	printf("got a credential of %zu bytes\n", len);
	return 0;
}

int main(int argc, char **argv)
{
	char *secret = NULL;
	size_t len = 0;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s GRANT\n", argv[0]);
		return 2;
	}
	rc = agent_cred_get(argv[1], &secret, &len);
	switch (rc) {
	case 0:
		break;
	case AGENT_CRED_EEXPIRED:
	case AGENT_CRED_EREVOKED:
		/* the session is over or the grant's TTL passed: ask for a new session */
		fprintf(stderr, "%s: %s\n", argv[1], agent_cred_strerror(rc));
		return 3;
	default:
		fprintf(stderr, "%s: %s\n", argv[1], agent_cred_strerror(rc));
		return 1;
	}
	rc = use_credential(secret, len);
	agent_cred_free(secret, len);
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
