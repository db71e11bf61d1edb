/*
 * agentcred-print.c - prints the credential GRANT of the pam_agent session
 * it runs in, as "GRANT=SECRET" on one line (tests/pkgconsumer/run.sh: a
 * test secret, printed to show the consumer got it).
 */
#include <stdio.h>
#include <stdlib.h>

#include <agent_cred.h>

int main(int argc, char **argv)
{
	char *secret = NULL;
	size_t len = 0;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: agentcred-print GRANT\n");
		return 2;
	}
	rc = agent_cred_get(argv[1], &secret, &len);
	if (rc != 0) {
		fprintf(stderr, "agentcred-print: %s: %s\n", argv[1], agent_cred_strerror(rc));
		return 1;
	}
	printf("%s=%.*s\n", argv[1], (int)len, secret);
	agent_cred_free(secret, len);
	return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
