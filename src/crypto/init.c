/* One place where p2pvpnd, p2pvpn-rendezvous and p2pvpnctl start libsodium.
 * sodium_init() picks the fastest implementations and seeds the random
 * generator; on failure (< 0: e.g. no entropy source it can open) nothing of
 * libsodium is safe to call, so the three programs refuse to run with the
 * same message instead of each wording its own. A unit test links this file
 * with --wrap=sodium_init to drive the failure without touching libsodium. */
#include "crypto/init.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>

int crypto_init(const char *prog)
{
	/* 0 first time, 1 when already initialised, -1 on failure. */
	if (sodium_init() < 0) {
		fprintf(stderr,
			"%s: libsodium failed to initialise (sodium_init), cannot continue\n",
			prog);
		return -EIO;
	}
	return 0;
}
