/* The Noise engine: the published vectors through the same runner the
 * noise-vectors tool uses; HMAC/HKDF against values from an independent
 * implementation (Python's hmac + hashlib.blake2b); every supported pattern
 * with psk modifiers end to end; and the spec's failure rules: nonce
 * exhaustion without wrap, a failed decrypt not advancing n, low-order
 * points refused, bad protocol names, wrong turn, short buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <sodium.h>

#include "crypto/keys.h"
#include "crypto/noise.h"
#include "support/noise_vectors.h"

#define VECTORS P2PVPN_VECTORS_DIR "/noise-snow.json"

#include "low_order.h"

static void hex(const char *s, uint8_t *out, size_t len)
{
	size_t bin_len = 0;

	assert_int_equal(sodium_hex2bin(out, len, s, strlen(s), NULL, &bin_len, NULL), 0);
	assert_int_equal(bin_len, len);
}

static char *read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	assert_non_null(f);
	buf = malloc((1 << 20) + 1);
	assert_non_null(buf);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	assert_true(*len > 0 && *len < (1 << 20));
	buf[*len] = '\0'; /* strstr below */
	return buf;
}

/* ---- vectors ---- */

static void test_noise_vectors_file(void **state)
{
	struct noise_vectors_result r;

	(void)state;
	assert_int_equal(noise_vectors_run_file(VECTORS, NULL, &r), 0);
	/* NN, XX, IK, IKpsk0+psk2: all implemented, all must pass. */
	assert_int_equal(r.passed, 4);
	assert_int_equal(r.failed, 0);
	assert_int_equal(r.skipped, 0);
	/* Failure case: a missing file is an error, not a pass. */
	assert_int_equal(noise_vectors_run_file(VECTORS ".missing", NULL, &r), -ENOENT);
}

/* The runner must notice a single changed ciphertext byte in any vector. */
static void test_noise_vectors_tampered(void **state)
{
	struct noise_vectors_result r;
	size_t len;
	char *text = read_text(VECTORS, &len);
	const char *needle = "\"ciphertext\": \"";
	char *p = text;
	unsigned tampered = 0;

	(void)state;
	/* Flip the first hex digit of each ciphertext in turn, handshake and
	 * transport messages alike: exactly that vector must fail. */
	while ((p = strstr(p, needle)) != NULL) {
		char *digit = p + strlen(needle);
		char saved = *digit;

		*digit = saved == '0' ? '1' : '0';
		assert_int_equal(noise_vectors_run_json(text, len, NULL, &r), 0);
		assert_int_equal(r.passed + r.failed, 4);
		assert_int_equal(r.failed, 1);
		*digit = saved;
		tampered++;
		p = digit;
	}
	assert_int_equal(tampered, 4 + 5 + 4 + 4);
	/* Restored text passes again. */
	assert_int_equal(noise_vectors_run_json(text, len, NULL, &r), 0);
	assert_int_equal(r.passed, 4);
	free(text);
}

static void test_noise_vectors_bad_json(void **state)
{
	static const char *const bad[] = {
	    "",
	    "{",
	    "[]",
	    "{\"vectors\": 5}",
	    "{\"vectors\": [",
	    "{\"vectors\": []} x",
	    "{\"vectors\": [{\"protocol_name\": \"Noise_NN_25519_ChaChaPoly_BLAKE2b\"",
	};
	struct noise_vectors_result r;
	char deep[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(noise_vectors_run_json(bad[i], strlen(bad[i]), NULL, &r), -EINVAL);
	/* Nesting beyond the reader's bound is refused, not recursed into. */
	memset(deep, '[', sizeof(deep));
	assert_int_equal(noise_vectors_run_json(deep, sizeof(deep), NULL, &r), -EINVAL);
	/* A vector with an unknown suite is skipped, a broken one fails. */
	{
		const char *doc = "{\"vectors\": [{\"protocol_name\": "
				  "\"Noise_NN_448_AESGCM_SHA512\", \"messages\": []},"
				  "{\"protocol_name\": \"Noise_NN_25519_ChaChaPoly_BLAKE2b\","
				  " \"messages\": [{\"payload\": \"zz\", \"ciphertext\": \"\"}]}]}";

		assert_int_equal(noise_vectors_run_json(doc, strlen(doc), NULL, &r), 0);
		assert_int_equal(r.skipped, 1);
		assert_int_equal(r.failed, 1);
		assert_int_equal(r.passed, 0);
	}
}

/* ---- HMAC / HKDF known answers (Python hmac + hashlib.blake2b) ---- */

static void test_noise_hmac_known_answer(void **state)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog";
	uint8_t out[64], expect[64], long_key[200], keyed[16];

	(void)state;
	hex("92294f92c0dfb9b00ec9ae8bd94d7e7d8a036b885a499f149dfe2fd2199394aa"
	    "af6b8894a1730cccb2cd050f9bcf5062a38b51b0dab33207f8ef35ae2c9df51b",
	    expect, 64);
	assert_int_equal(
	    noise_hmac(out, (const uint8_t *)"key", 3, (const uint8_t *)fox, strlen(fox)), 0);
	assert_memory_equal(out, expect, 64);
	/* Keyed BLAKE2b is a different function: its value must not appear. */
	hex("66f642208454bf2e066dac9eab68fae0", keyed, 16);
	assert_memory_not_equal(out, keyed, 16);
	/* A key longer than the 128-byte block is hashed first (RFC 2104). */
	memset(long_key, 'k', sizeof(long_key));
	hex("e05073b5bf098057caef5b86284f1664f350d4728b63d0d466242cbbceaf7bf7"
	    "6375def072d35f00d667e857018fc7bdedd84b59805f637fbb21b226f05afd5c",
	    expect, 64);
	assert_int_equal(noise_hmac(out, long_key, sizeof(long_key), (const uint8_t *)"data", 4),
			 0);
	assert_memory_equal(out, expect, 64);
}

static void test_noise_hkdf_known_answer(void **state)
{
	static const char ikm[] = "input key material";
	uint8_t ck[64], o1[64], o2[64], o3[64], e[64];

	(void)state;
	for (int i = 0; i < 64; i++)
		ck[i] = (uint8_t)i;
	assert_int_equal(noise_hkdf(ck, (const uint8_t *)ikm, strlen(ikm), o1, o2, o3), 0);
	hex("a94ec1ceaa5ac0280eafc97980003e4019176e4bf7c914c45fb0bbda0b22a995"
	    "4d01f3697bbf32817ed0fccbf6dd1ebd24c0b05611051e63dc56e131af4f7c10",
	    e, 64);
	assert_memory_equal(o1, e, 64);
	hex("f9d83f6c5d34695529eb8e35c8a2ed78658092e7c3b38fdf0cea2a2096b6f6e5"
	    "42af644e298508f37da08860db285a8ad4b604c1f160f23356df6b28c183508d",
	    e, 64);
	assert_memory_equal(o2, e, 64);
	hex("bb6f14b645bac5dd79c98ce583e3357b43b431c22400c9b79d690c1d2fe2d391"
	    "ab8372b0b08553b56e802dc6badace75398c1b8a973d0aab18d857d431c3a48f",
	    e, 64);
	assert_memory_equal(o3, e, 64);
	/* out1 may alias the chaining key (MixKey does that). */
	assert_int_equal(noise_hkdf(ck, (const uint8_t *)ikm, strlen(ikm), ck, o2, NULL), 0);
	assert_memory_equal(ck, o1, 64);
	/* Failure case: other input, other output. */
	assert_int_equal(noise_hkdf(o3, (const uint8_t *)ikm, strlen(ikm) - 1, o2, NULL, NULL), 0);
	assert_memory_not_equal(o2, o1, 64);
}

/* ---- CipherState ---- */

static void keyed_cipher(struct noise_cipher *c, uint64_t n)
{
	memset(c, 0, sizeof(*c));
	memset(c->k, 0x42, sizeof(c->k));
	c->has_key = true;
	c->n = n;
}

static void test_noise_cipher_nonce_exhaustion(void **state)
{
	struct noise_cipher tx, rx;
	uint8_t pt[8] = "payload", ct[8 + 16], out[8];

	(void)state;
	keyed_cipher(&tx, UINT64_MAX - 1);
	keyed_cipher(&rx, UINT64_MAX - 1);
	/* The last usable nonce is 2^64-2. */
	assert_int_equal(noise_cipher_encrypt(&tx, NULL, 0, pt, sizeof(pt), ct), 0);
	assert_true(tx.n == UINT64_MAX);
	assert_int_equal(noise_cipher_decrypt(&rx, NULL, 0, ct, sizeof(ct), out), 0);
	assert_memory_equal(out, pt, sizeof(pt));
	assert_true(rx.n == UINT64_MAX);
	/* 2^64-1 is reserved: both directions refuse and n never wraps to 0. */
	assert_int_equal(noise_cipher_encrypt(&tx, NULL, 0, pt, sizeof(pt), ct), -EOVERFLOW);
	assert_true(tx.n == UINT64_MAX);
	assert_int_equal(noise_cipher_encrypt(&tx, NULL, 0, pt, sizeof(pt), ct), -EOVERFLOW);
	assert_true(tx.n == UINT64_MAX);
	assert_int_equal(noise_cipher_decrypt(&rx, NULL, 0, ct, sizeof(ct), out), -EOVERFLOW);
	assert_true(rx.n == UINT64_MAX);
}

static void test_noise_cipher_failed_decrypt_keeps_n(void **state)
{
	struct noise_cipher tx, rx;
	uint8_t ad[4] = {1, 2, 3, 4}, pt[32], ct[32 + 16], out[32];

	(void)state;
	keyed_cipher(&tx, 7);
	keyed_cipher(&rx, 7);
	randombytes_buf(pt, sizeof(pt));
	assert_int_equal(noise_cipher_encrypt(&tx, ad, sizeof(ad), pt, sizeof(pt), ct), 0);
	/* Nonce is 4 zero bytes || LE64(7): a libsodium decrypt agrees. */
	{
		uint8_t nonce[12] = {0, 0, 0, 0, 7};

		assert_int_equal(crypto_aead_chacha20poly1305_ietf_decrypt(
				     out, NULL, NULL, ct, sizeof(ct), ad, sizeof(ad), nonce, tx.k),
				 0);
		assert_memory_equal(out, pt, sizeof(pt));
	}
	/* Tampered tag, tampered body, wrong ad, truncated: all refused, n kept. */
	ct[sizeof(ct) - 1] ^= 1;
	assert_int_equal(noise_cipher_decrypt(&rx, ad, sizeof(ad), ct, sizeof(ct), out), -EBADMSG);
	ct[sizeof(ct) - 1] ^= 1;
	ct[0] ^= 0x80;
	assert_int_equal(noise_cipher_decrypt(&rx, ad, sizeof(ad), ct, sizeof(ct), out), -EBADMSG);
	ct[0] ^= 0x80;
	assert_int_equal(noise_cipher_decrypt(&rx, ad, 3, ct, sizeof(ct), out), -EBADMSG);
	assert_int_equal(noise_cipher_decrypt(&rx, ad, sizeof(ad), ct, 15, out), -EBADMSG);
	assert_true(rx.n == 7);
	/* The genuine message still decrypts at the unchanged nonce. */
	assert_int_equal(noise_cipher_decrypt(&rx, ad, sizeof(ad), ct, sizeof(ct), out), 0);
	assert_memory_equal(out, pt, sizeof(pt));
	assert_true(rx.n == 8);
	/* A replay of it is now under the wrong nonce. */
	assert_int_equal(noise_cipher_decrypt(&rx, ad, sizeof(ad), ct, sizeof(ct), out), -EBADMSG);
}

static void test_noise_cipher_rekey(void **state)
{
	struct noise_cipher tx, rx;
	uint8_t old[32], pt[5] = "hello", ct[5 + 16], out[5];

	(void)state;
	keyed_cipher(&tx, 3);
	keyed_cipher(&rx, 3);
	memcpy(old, tx.k, sizeof(old));
	assert_int_equal(noise_cipher_rekey(&tx), 0);
	assert_memory_not_equal(tx.k, old, sizeof(old));
	assert_true(tx.n == 3);
	assert_int_equal(noise_cipher_encrypt(&tx, NULL, 0, pt, sizeof(pt), ct), 0);
	/* Failure first: the receiver still on the old key refuses. */
	assert_int_equal(noise_cipher_decrypt(&rx, NULL, 0, ct, sizeof(ct), out), -EBADMSG);
	assert_int_equal(noise_cipher_rekey(&rx), 0);
	assert_int_equal(noise_cipher_decrypt(&rx, NULL, 0, ct, sizeof(ct), out), 0);
	assert_memory_equal(out, pt, sizeof(pt));
}

/* ---- every pattern, end to end ---- */

struct party {
	uint8_t priv[32], pub[32];
};

static void party_new(struct party *p)
{
	key_generate(p->priv);
	assert_true(key_public(p->priv, p->pub));
}

/* Runs name to completion between two fresh sides and checks both agree;
 * returns the first error (or 0). Payload i is "msg" + i. */
static int run_pattern(const char *name, const uint8_t (*psk_i)[32], const uint8_t (*psk_r)[32],
		       size_t n_psks)
{
	static const uint8_t prologue[] = "prologue";
	struct noise_handshake i, r;
	struct party pi, pr;
	uint8_t msg[512], pl[64], got[64], hi[64], hr[64], rs[32];
	size_t len, glen;
	int ret;

	party_new(&pi);
	party_new(&pr);
	ret = noise_handshake_init(&i, name, true, prologue, sizeof(prologue), pi.priv, pr.pub,
				   psk_i, n_psks, NULL);
	assert_int_equal(ret, 0);
	ret = noise_handshake_init(&r, name, false, prologue, sizeof(prologue), pr.priv, pi.pub,
				   psk_r, n_psks, NULL);
	assert_int_equal(ret, 0);
	for (int k = 0; !noise_handshake_is_complete(&i); k++) {
		struct noise_handshake *w = k % 2 ? &r : &i, *rd = k % 2 ? &i : &r;

		assert_true(k < NOISE_MAX_MESSAGES);
		assert_true(noise_handshake_is_my_turn(w));
		assert_false(noise_handshake_is_my_turn(rd));
		/* The reader may not write out of turn. */
		assert_int_equal(noise_write_message(rd, pl, 1, msg, sizeof(msg), &len), -EPROTO);
		snprintf((char *)pl, sizeof(pl), "msg%d", k);
		assert_int_equal(noise_write_message(w, pl, 4, msg, sizeof(msg), &len), 0);
		ret = noise_read_message(rd, msg, len, got, sizeof(got), &glen);
		if (ret < 0) {
			assert_false(noise_handshake_is_complete(rd));
			/* A failed handshake stays failed. */
			assert_int_equal(noise_read_message(rd, msg, len, got, sizeof(got), &glen),
					 -EPROTO);
			return ret;
		}
		assert_int_equal(glen, 4);
		assert_memory_equal(got, pl, 4);
	}
	assert_true(noise_handshake_is_complete(&r));
	noise_handshake_hash(&i, hi);
	noise_handshake_hash(&r, hr);
	assert_memory_equal(hi, hr, 64);
	/* Whoever learned a static key learned the right one. */
	if (noise_handshake_remote_static(&i, rs))
		assert_memory_equal(rs, pr.pub, 32);
	if (noise_handshake_remote_static(&r, rs))
		assert_memory_equal(rs, pi.pub, 32);
	/* Transport: both directions, including a refused forgery. */
	{
		struct noise_cipher i_tx, i_rx, r_tx, r_rx;

		assert_int_equal(noise_handshake_split(&i, &i_tx, &i_rx), 0);
		assert_int_equal(noise_handshake_split(&r, &r_rx, &r_tx), 0);
		assert_memory_equal(i_tx.k, r_rx.k, 32);
		assert_memory_equal(i_rx.k, r_tx.k, 32);
		assert_memory_not_equal(i_tx.k, i_rx.k, 32);
		assert_int_equal(noise_cipher_encrypt(&i_tx, NULL, 0, pl, 4, msg), 0);
		msg[0] ^= 1;
		assert_int_equal(noise_cipher_decrypt(&r_rx, NULL, 0, msg, 20, got), -EBADMSG);
		msg[0] ^= 1;
		assert_int_equal(noise_cipher_decrypt(&r_rx, NULL, 0, msg, 20, got), 0);
		assert_memory_equal(got, pl, 4);
	}
	noise_handshake_cleanup(&i);
	noise_handshake_cleanup(&r);
	return 0;
}

static void test_noise_all_patterns(void **state)
{
	static const struct {
		const char *name;
		int messages;
	} base[] = {
	    {"N", 1},  {"K", 1},  {"X", 1},  {"NN", 2}, {"NK", 2}, {"NX", 2}, {"XN", 3}, {"XK", 3},
	    {"XX", 3}, {"KN", 2}, {"KK", 2}, {"KX", 2}, {"IN", 2}, {"IK", 2}, {"IX", 2},
	};
	static const char *const mods[] = {"",	   "psk0",	"psk1",	     "psk2",
					   "psk3", "psk0+psk1", "psk0+psk2", "psk1+psk2+psk3"};
	uint8_t psks[4][32], other[4][32];
	unsigned runs = 0;

	(void)state;
	randombytes_buf(psks, sizeof(psks));
	memcpy(other, psks, sizeof(other));
	other[0][0] ^= 1;
	other[1][31] ^= 0x80;
	other[2][7] ^= 4;
	other[3][9] ^= 2;
	for (size_t b = 0; b < sizeof(base) / sizeof(base[0]); b++) {
		for (size_t m = 0; m < sizeof(mods) / sizeof(mods[0]); m++) {
			char name[96];
			size_t n_psks = 0;
			int highest = -1;

			for (const char *p = mods[m]; (p = strstr(p, "psk")); p += 3) {
				n_psks++;
				highest = p[3] - '0';
			}
			snprintf(name, sizeof(name), "Noise_%s%s_25519_ChaChaPoly_BLAKE2b",
				 base[b].name, mods[m]);
			if (highest > base[b].messages) {
				/* pskN past the last message is not a protocol. */
				struct noise_handshake hs;

				assert_int_equal(noise_handshake_init(&hs, name, true, NULL, 0,
								      psks[0], psks[0], NULL, 0,
								      NULL),
						 -EPROTONOSUPPORT);
				continue;
			}
			assert_int_equal(
			    run_pattern(name, n_psks ? psks : NULL, n_psks ? psks : NULL, n_psks),
			    0);
			/* Failure case: any differing psk breaks the handshake. */
			if (n_psks)
				assert_int_equal(run_pattern(name, psks, other, n_psks), -EBADMSG);
			runs++;
		}
	}
	assert_true(runs > 60);
}

/* ---- bad names, keys, turns and buffers ---- */

static void test_noise_handshake_init_rejects(void **state)
{
	static const char *const bad_names[] = {
	    "",
	    "Noise_",
	    "Noise_NN",
	    "Noise_NN_25519_AESGCM_SHA256",
	    "Noise_NN_448_ChaChaPoly_BLAKE2b",
	    "Noise_NN_25519_ChaChaPoly_BLAKE2s",
	    "Noise_NN_25519_ChaChaPoly_BLAKE2b_",
	    "noise_NN_25519_ChaChaPoly_BLAKE2b",
	    "Noise_ZZ_25519_ChaChaPoly_BLAKE2b",
	    "Noise_XXX_25519_ChaChaPoly_BLAKE2b",
	    "Noise_NX1_25519_ChaChaPoly_BLAKE2b",	 /* deferred: not implemented */
	    "Noise_XXfallback_25519_ChaChaPoly_BLAKE2b", /* fallback: not implemented */
	    "Noise_NNpsk_25519_ChaChaPoly_BLAKE2b",
	    "Noise_NNpsk3_25519_ChaChaPoly_BLAKE2b",
	    "Noise_NNpsk00_25519_ChaChaPoly_BLAKE2b",
	    "Noise_NNpsk0+psk0_25519_ChaChaPoly_BLAKE2b",
	    "Noise_NNpsk0+_25519_ChaChaPoly_BLAKE2b",
	    "Noise_NN+psk0_25519_ChaChaPoly_BLAKE2b",
	    "Noise_NNPSK0_25519_ChaChaPoly_BLAKE2b",
	};
	struct noise_handshake hs;
	uint8_t s[32], psk[2][32] = {{1}};

	(void)state;
	key_generate(s);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		assert_int_equal(
		    noise_handshake_init(&hs, bad_names[i], true, NULL, 0, s, s, NULL, 0, NULL),
		    -EPROTONOSUPPORT);
	/* Missing keys the pattern needs. */
	assert_int_equal(noise_handshake_init(&hs, "Noise_IK_25519_ChaChaPoly_BLAKE2b", true, NULL,
					      0, s, NULL, NULL, 0, NULL),
			 -EINVAL);
	assert_int_equal(noise_handshake_init(&hs, "Noise_XX_25519_ChaChaPoly_BLAKE2b", false, NULL,
					      0, NULL, NULL, NULL, 0, NULL),
			 -EINVAL);
	/* Wrong psk count. */
	assert_int_equal(noise_handshake_init(&hs, "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b", true,
					      NULL, 0, NULL, NULL, psk, 2, NULL),
			 -EINVAL);
	/* Each low-order point as a known remote static. */
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(noise_handshake_init(&hs, "Noise_NK_25519_ChaChaPoly_BLAKE2b",
						      true, NULL, 0, NULL, low_order[i], NULL, 0,
						      NULL),
				 -EKEYREJECTED);
	/* Success case, and a psk missing at its token is refused. */
	assert_int_equal(noise_handshake_init(&hs, "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b", true,
					      NULL, 0, NULL, NULL, NULL, 0, NULL),
			 0);
	{
		uint8_t out[128];
		size_t len;

		assert_int_equal(noise_write_message(&hs, NULL, 0, out, sizeof(out), &len),
				 -ENOKEY);
		assert_false(noise_handshake_is_my_turn(&hs));
	}
	/* The most psks a supported name can carry. */
	assert_int_equal(
	    noise_handshake_init(&hs, "Noise_XXpsk0+psk1+psk2+psk3_25519_ChaChaPoly_BLAKE2b", true,
				 NULL, 0, s, NULL, NULL, 0, NULL),
	    0);
	noise_handshake_cleanup(&hs);
}

/* Each low-order point as the responder's ephemeral in NN and IK: the
 * initiator's read must fail at the DH and leave the handshake dead. */
static void test_noise_read_low_order_ephemeral(void **state)
{
	uint8_t msg[256], out[64], rs_priv[32], rs_pub[32], is_priv[32];
	size_t len, olen;
	struct noise_handshake i, r;

	(void)state;
	key_generate(rs_priv);
	key_generate(is_priv);
	assert_true(key_public(rs_priv, rs_pub));
	for (size_t p = 0; p < 7; p++) {
		/* NN message 2: e, ee -> the ee DH with a low-order e. */
		assert_int_equal(noise_handshake_init(&i, "Noise_NN_25519_ChaChaPoly_BLAKE2b", true,
						      NULL, 0, NULL, NULL, NULL, 0, NULL),
				 0);
		assert_int_equal(noise_write_message(&i, NULL, 0, msg, sizeof(msg), &len), 0);
		memcpy(msg, low_order[p], 32);
		memset(msg + 32, 0, 16);
		assert_int_equal(noise_read_message(&i, msg, 48, out, sizeof(out), &olen),
				 -EKEYREJECTED);
		assert_false(noise_handshake_is_complete(&i));
		assert_int_equal(noise_read_message(&i, msg, 48, out, sizeof(out), &olen), -EPROTO);

		/* IK message 1: e, es -> the responder's es DH with a low-order e. */
		assert_int_equal(noise_handshake_init(&r, "Noise_IK_25519_ChaChaPoly_BLAKE2b",
						      false, NULL, 0, rs_priv, NULL, NULL, 0, NULL),
				 0);
		assert_int_equal(noise_handshake_init(&i, "Noise_IK_25519_ChaChaPoly_BLAKE2b", true,
						      NULL, 0, is_priv, rs_pub, NULL, 0, NULL),
				 0);
		assert_int_equal(noise_write_message(&i, NULL, 0, msg, sizeof(msg), &len), 0);
		memcpy(msg, low_order[p], 32);
		assert_int_equal(noise_read_message(&r, msg, len, out, sizeof(out), &olen),
				 -EKEYREJECTED);
	}
	/* Failure control: the unmodified message is read fine. */
	assert_int_equal(noise_handshake_init(&r, "Noise_IK_25519_ChaChaPoly_BLAKE2b", false, NULL,
					      0, rs_priv, NULL, NULL, 0, NULL),
			 0);
	assert_int_equal(noise_handshake_init(&i, "Noise_IK_25519_ChaChaPoly_BLAKE2b", true, NULL,
					      0, is_priv, rs_pub, NULL, 0, NULL),
			 0);
	assert_int_equal(noise_write_message(&i, NULL, 0, msg, sizeof(msg), &len), 0);
	assert_int_equal(noise_read_message(&r, msg, len, out, sizeof(out), &olen), 0);
	noise_handshake_cleanup(&i);
	noise_handshake_cleanup(&r);
}

static void test_noise_message_lengths(void **state)
{
	struct noise_handshake i, r, saved;
	uint8_t msg[256], out[64], big[80];
	size_t len, olen;

	(void)state;
	assert_int_equal(noise_handshake_init(&i, "Noise_NN_25519_ChaChaPoly_BLAKE2b", true, NULL,
					      0, NULL, NULL, NULL, 0, NULL),
			 0);
	/* Too small a buffer: -EMSGSIZE and the state is untouched. */
	saved = i;
	assert_int_equal(noise_write_message(&i, big, 10, msg, 41, &len), -EMSGSIZE);
	assert_memory_equal(&saved, &i, sizeof(i));
	assert_int_equal(noise_write_message(&i, big, 10, msg, 42, &len), 0);
	assert_int_equal(len, 42);
	/* Short message: refused; a fresh responder reads the real one. */
	assert_int_equal(noise_handshake_init(&r, "Noise_NN_25519_ChaChaPoly_BLAKE2b", false, NULL,
					      0, NULL, NULL, NULL, 0, NULL),
			 0);
	assert_int_equal(noise_read_message(&r, msg, 31, out, sizeof(out), &olen), -EBADMSG);
	assert_int_equal(noise_handshake_init(&r, "Noise_NN_25519_ChaChaPoly_BLAKE2b", false, NULL,
					      0, NULL, NULL, NULL, 0, NULL),
			 0);
	/* Payload larger than the caller's buffer. */
	assert_int_equal(noise_read_message(&r, msg, len, out, 9, &olen), -EMSGSIZE);
	assert_int_equal(noise_handshake_init(&r, "Noise_NN_25519_ChaChaPoly_BLAKE2b", false, NULL,
					      0, NULL, NULL, NULL, 0, NULL),
			 0);
	assert_int_equal(noise_read_message(&r, msg, len, out, sizeof(out), &olen), 0);
	assert_int_equal(olen, 10);
	/* Message 2 shorter than e + tag. */
	assert_int_equal(noise_write_message(&r, NULL, 0, msg, sizeof(msg), &len), 0);
	assert_int_equal(len, 48);
	assert_int_equal(noise_read_message(&i, msg, 47, out, sizeof(out), &olen), -EBADMSG);
	assert_false(noise_handshake_is_complete(&i));
	/* A message over 65535 bytes cannot be written. */
	assert_int_equal(noise_handshake_init(&i, "Noise_NN_25519_ChaChaPoly_BLAKE2b", true, NULL,
					      0, NULL, NULL, NULL, 0, NULL),
			 0);
	{
		static uint8_t huge[70000], huge_out[70100];

		assert_int_equal(
		    noise_write_message(&i, huge, 65535 - 31, huge_out, sizeof(huge_out), &len),
		    -EMSGSIZE);
		assert_int_equal(
		    noise_write_message(&i, huge, 65535 - 32, huge_out, sizeof(huge_out), &len), 0);
		assert_int_equal(len, 65535);
	}
	/* Split before completion is refused. */
	assert_int_equal(noise_handshake_split(&i, NULL, NULL), -EINVAL);
	noise_handshake_cleanup(&i);
	noise_handshake_cleanup(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_noise_vectors_file),
	    cmocka_unit_test(test_noise_vectors_tampered),
	    cmocka_unit_test(test_noise_vectors_bad_json),
	    cmocka_unit_test(test_noise_hmac_known_answer),
	    cmocka_unit_test(test_noise_hkdf_known_answer),
	    cmocka_unit_test(test_noise_cipher_nonce_exhaustion),
	    cmocka_unit_test(test_noise_cipher_failed_decrypt_keeps_n),
	    cmocka_unit_test(test_noise_cipher_rekey),
	    cmocka_unit_test(test_noise_all_patterns),
	    cmocka_unit_test(test_noise_handshake_init_rejects),
	    cmocka_unit_test(test_noise_read_low_order_ephemeral),
	    cmocka_unit_test(test_noise_message_lengths),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
