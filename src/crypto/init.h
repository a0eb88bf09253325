/* Start-up of the crypto library for every program of the project. */
#pragma once

/* Runs sodium_init() once per process (later calls are cheap). 0 when
 * libsodium is ready (also when it already was), -EIO when sodium_init()
 * failed: then prog and a line naming libsodium are printed to stderr and the
 * caller must exit 1, as no key, random number or AEAD may be used. libsodium
 * has no crypto_init of its own; the name is this module's. */
int crypto_init(const char *prog) __attribute__((warn_unused_result));
