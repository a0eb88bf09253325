/* Static key helpers on top of libsodium. Every caller that decodes a key
 * from text goes through key_from_base64 so that config, CLI and control
 * socket agree on what a valid key looks like. */
#include "crypto/keys.h"

#include <sodium.h>
#include <string.h>

void key_generate(uint8_t priv[KEY_LEN])
{
	randombytes_buf(priv, KEY_LEN);
	/* RFC 7748 clamping, as wg genkey stores it. */
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
}

bool key_public(const uint8_t priv[KEY_LEN], uint8_t pub[KEY_LEN])
{
	return crypto_scalarmult_base(pub, priv) == 0 && !sodium_is_zero(pub, KEY_LEN);
}

bool key_from_base64(const char *s, uint8_t out[KEY_LEN])
{
	uint8_t tmp[KEY_LEN];
	size_t len = 0;
	const char *end = NULL;

	if (strlen(s) != KEY_B64_LEN || s[KEY_B64_LEN - 1] != '=')
		return false;
	if (sodium_base642bin(tmp, sizeof(tmp), s, KEY_B64_LEN, NULL, &len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != KEY_LEN || end != s + KEY_B64_LEN) {
		sodium_memzero(tmp, sizeof(tmp));
		return false;
	}
	memcpy(out, tmp, KEY_LEN);
	sodium_memzero(tmp, sizeof(tmp));
	return true;
}

void key_to_base64(const uint8_t key[KEY_LEN], char out[KEY_B64_LEN + 1])
{
	sodium_bin2base64(out, KEY_B64_LEN + 1, key, KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

bool key_is_low_order(const uint8_t pub[KEY_LEN])
{
	/* libsodium refuses (returns -1 for) every small-order point; any scalar
	 * works for the test. */
	static const uint8_t one[KEY_LEN] = { 9 };
	uint8_t out[KEY_LEN];
	bool low = crypto_scalarmult(out, one, pub) != 0;

	sodium_memzero(out, sizeof(out));
	return low;
}
