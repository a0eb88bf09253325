/* X25519 static keys and their base64 form (the wg(8) format: 44 characters,
 * standard alphabet, one '=' of padding). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

enum { KEY_LEN = 32, KEY_B64_LEN = 44 };

/* Fills priv with a new random, clamped X25519 private key. */
void key_generate(uint8_t priv[KEY_LEN]);
/* Derives the public key; false when the result would be the all-zero point. */
bool key_public(const uint8_t priv[KEY_LEN], uint8_t pub[KEY_LEN]) __attribute__((warn_unused_result));
/* Strict decode of exactly KEY_B64_LEN characters to KEY_LEN bytes. */
bool key_from_base64(const char *s, uint8_t out[KEY_LEN]) __attribute__((warn_unused_result));
/* Encodes to KEY_B64_LEN characters plus NUL. */
void key_to_base64(const uint8_t key[KEY_LEN], char out[KEY_B64_LEN + 1]);
/* True for public keys of small order, whose DH output carries no secret
 * (the seven points listed in SECURITY-NOTES and vectors/README). */
bool key_is_low_order(const uint8_t pub[KEY_LEN]);
