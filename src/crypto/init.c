/* One place where p2pvpnd, p2pvpn-rendezvous and p2pvpnctl start libsodium.
 * sodium_init() picks the fastest implementations and seeds the random
 * generator; on failure (< 0: e.g. no entropy source it can open) nothing of
 * libsodium is safe to call, so the three programs refuse to run with the
 * same message instead of each wording its own. A unit test links this file
 * with --wrap=sodium_init to drive the failure without touching libsodium.
 *
 * The random source (SECURITY-NOTES 6.31): libsodium 1.0.18 reads
 * getrandom(2) with flags 0, so before the kernel's pool is initialised
 * (early boot) sodium_init() waits, then goes on with full-strength bytes;
 * where getrandom is missing (ENOSYS) or refused (EPERM, seccomp) it waits
 * on /dev/random and reads /dev/urandom. Only when neither exists does it
 * give up, and then by sodium_misuse(), which aborts with a core and no
 * word: the handler below turns that into the same clean exit as a failed
 * sodium_init(), naming the cause. Nothing here ever falls back to a
 * weaker source. tests/unit/test_getrandom.c drives all four cases in the
 * real programs. */
#include "crypto/init.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *init_prog;

/* Called by libsodium instead of abort() while sodium_init() runs; it must
 * not return (libsodium would abort then). */
static void no_random_source(void)
{
	fprintf(stderr,
		"%s: libsodium found no random source (getrandom(2) failed and /dev/urandom "
		"cannot be opened), cannot continue\n",
		init_prog);
	_exit(EXIT_FAILURE);
}

int crypto_init(const char *prog)
{
	int ret;

	init_prog = prog;
	(void)sodium_set_misuse_handler(no_random_source);
	/* 0 first time, 1 when already initialised, -1 on failure. */
	ret = sodium_init();
	/* Later misuse is a bug of ours: libsodium's own abort() again. */
	(void)sodium_set_misuse_handler(NULL);
	if (ret < 0) {
		fprintf(stderr,
			"%s: libsodium failed to initialise (sodium_init), cannot continue\n",
			prog);
		return -EIO;
	}
	return 0;
}
