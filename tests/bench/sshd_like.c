/*
 * sshd_like.c - an LD_PRELOAD shim for bench_fresh.sh: puts OpenSSL in
 * the state sshd's processes have when they load PAM modules. sshd
 * initialises libcrypto with its configuration and checks its random
 * generator (RAND_status, openssh's seed_rng) before it forks a
 * connection's processes, so a module in sshd does not pay for those; a
 * bare pamtester would. bench_fresh.sh links it with libsystemd and
 * libkeyutils as well, which Debian's sshd has loaded (ldd /usr/sbin/sshd)
 * when it loads the module. Not a test.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>

__attribute__((constructor)) static void sshd_like(void)
{
	OPENSSL_init_crypto(OPENSSL_INIT_ADD_ALL_CIPHERS | OPENSSL_INIT_ADD_ALL_DIGESTS |
				    OPENSSL_INIT_LOAD_CONFIG,
			    NULL);
	(void)RAND_status();
}
