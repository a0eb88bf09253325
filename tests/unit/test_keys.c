/* Key helpers: the RFC 7748 public-key vector, base64 round trips and the
 * strictness of key_from_base64 (the only way text becomes a key), and
 * low-order point detection for the seven points libsodium blacklists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/keys.h"

/* The seven X25519 points of order 1, 2, 4 and 8 (libsodium's blacklist,
 * SECURITY-NOTES section 6 item 5). */
#include "low_order.h"

static void hex(const char *s, uint8_t *out, size_t len)
{
	size_t bin_len = 0;

	assert_int_equal(sodium_hex2bin(out, len, s, strlen(s), NULL, &bin_len, NULL), 0);
	assert_int_equal(bin_len, len);
}

static void test_key_public_rfc7748(void **state)
{
	/* RFC 7748 section 6.1, Alice. */
	uint8_t priv[32], expect[32], pub[32];

	(void)state;
	hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", priv, 32);
	hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", expect, 32);
	assert_true(key_public(priv, pub));
	assert_memory_equal(pub, expect, 32);
	/* Failure: a different private key gives a different public key. */
	priv[5] ^= 1;
	assert_true(key_public(priv, pub));
	assert_memory_not_equal(pub, expect, 32);
}

static void test_key_generate_clamped(void **state)
{
	uint8_t a[32], b[32], pub[32];

	(void)state;
	key_generate(a);
	key_generate(b);
	assert_int_equal(a[0] & 7, 0);
	assert_int_equal(a[31] & 0xc0, 0x40);
	assert_memory_not_equal(a, b, 32);
	assert_true(key_public(a, pub));
	assert_false(key_is_low_order(pub));
}

static void test_key_base64_round_trip(void **state)
{
	uint8_t key[32], back[32];
	char b64[KEY_B64_LEN + 1];

	(void)state;
	for (int i = 0; i < 64; i++) {
		randombytes_buf(key, sizeof(key));
		key_to_base64(key, b64);
		assert_int_equal(strlen(b64), KEY_B64_LEN);
		assert_int_equal(b64[KEY_B64_LEN - 1], '=');
		assert_true(key_from_base64(b64, back));
		assert_memory_equal(key, back, 32);
	}
	/* A known value: 32 zero bytes are 43 'A's and '='. */
	memset(key, 0, sizeof(key));
	key_to_base64(key, b64);
	assert_string_equal(b64, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	/* Failure: the same text with one character changed decodes to another key. */
	b64[0] = 'B';
	assert_true(key_from_base64(b64, back));
	assert_memory_not_equal(key, back, 32);
}

static void test_key_from_base64_rejects(void **state)
{
	/* A valid key, then the ways text around it goes wrong in config files. */
	static const char good[] = "YE8MLTkxM1Di0nhSqBGJUU1oO2x0DHgRNQhQ5sMqUnM=";
	static const char *const bad[] = {
	    "",
	    "YE8MLTkxM1Di0nhSqBGJUU1oO2x0DHgRNQhQ5sMqUnM",	/* 43: no padding */
	    "YE8MLTkxM1Di0nhSqBGJUU1oO2x0DHgRNQhQ5sMqUn=",	/* 43 with padding */
	    "YE8MLTkxM1Di0nhSqBGJUU1oO2x0DHgRNQhQ5sMqUnM==",	/* 45 */
	    "YE8MLTkxM1Di0nhSqBGJUU1oO2x0DHgRNQhQ5sMqUnM=\n",	/* trailing newline */
	    "YE8MLTkxM1Di0nhSqBGJUU1oO2x0DHgRNQhQ5sMqUnM=\r\n", /* CRLF */
	    " YE8MLTkxM1Di0nhSqBGJUU1oO2x0DHgRNQhQ5sMqUnM=",	/* leading space */
	    "YE8MLTkxM1Di0nhSqBGJUU1oO2x0DHgRNQhQ5sMqUn*=",	/* bad character */
	    "YE8MLTkxM1Di0nhSqBGJUU1oO2x0DHgRNQhQ5sMq-_M=",	/* URL-safe alphabet */
	    "YE8MLTkxM1Di0nhSqBGJUU1oO2x0DHgRNQhQ5sMqUnMA",	/* no '=' at the end */
	    "YE8MLTkxM1Di0nhS\nBGJUU1oO2x0DHgRNQhQ5sMqUnM=",	/* newline inside */
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", /* 48: 35 bytes */
	    "YE8MLTkxM1Di0nhSqBGJUU1oO2x0DHgRNQhQ5sMqUnN=",	/* non-zero pad bits */
	};
	uint8_t out[32], before[32];

	(void)state;
	assert_true(key_from_base64(good, out));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(out, 0xa5, sizeof(out));
		memcpy(before, out, sizeof(out));
		assert_false(key_from_base64(bad[i], out));
		/* A refused key leaves the output untouched. */
		assert_memory_equal(out, before, sizeof(out));
	}
}

static void test_key_is_low_order(void **state)
{
	uint8_t priv[32], pub[32];

	(void)state;
	for (size_t i = 0; i < 7; i++)
		assert_true(key_is_low_order(low_order[i]));
	/* Failure case: ordinary keys (and the base point 9) are not. */
	key_generate(priv);
	assert_true(key_public(priv, pub));
	assert_false(key_is_low_order(pub));
	memset(pub, 0, sizeof(pub));
	pub[0] = 9;
	assert_false(key_is_low_order(pub));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_public_rfc7748),
	    cmocka_unit_test(test_key_generate_clamped),
	    cmocka_unit_test(test_key_base64_round_trip),
	    cmocka_unit_test(test_key_from_base64_rejects),
	    cmocka_unit_test(test_key_is_low_order),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
