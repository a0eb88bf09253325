/* Keypair, data packet, peer slot and index table tests. Each table of cases
 * walks one edge (lengths, bits, counters, ages) and checks both that good
 * packets pass and that bad ones fail with their own error and leave the
 * keypair exactly as it was. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "session/keypair.h"

enum {
	I_INDEX = 0x11223344, /* the initiator's local index */
	R_INDEX = 0x55667788, /* the responder's local index */
	T0 = 1000000,	      /* when the keypairs are made */
	MTU = 1420,
};

/* 16-byte aligned memory (AES-256-GCM's expanded keys need it); unlike
 * aligned_alloc, any size. */
static void *alloc16(size_t size)
{
	void *p = NULL;

	return posix_memalign(&p, 16, size) == 0 ? p : NULL;
}

static const uint8_t key_ir[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
				   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t key_ri[32] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa,
				   0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5,
				   0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};

struct pkt {
	uint8_t buf[SESS_HEADROOM + MTU + SESS_TAILROOM];
	size_t len; /* of the packet at buf */
};

struct pair {
	struct sess_keypair i; /* initiator's side */
	struct sess_keypair r; /* responder's side */
	struct sess_aes i_aes, r_aes;
};

/* The data cipher of the group of tests running: each packet test runs
 * once with ChaCha20-Poly1305 and once with AES-256-GCM (main). */
static enum sess_cipher pair_cipher = SESS_CIPHER_CHACHA20POLY1305;

static void make_pair(struct pair *p)
{
	sess_keypair_init(&p->i, key_ir, key_ri, I_INDEX, R_INDEX, true, T0);
	sess_keypair_init(&p->r, key_ri, key_ir, R_INDEX, I_INDEX, false, T0);
	assert_int_equal(sess_keypair_set_cipher(&p->i, pair_cipher, &p->i_aes), 0);
	assert_int_equal(sess_keypair_set_cipher(&p->r, pair_cipher, &p->r_aes), 0);
}

/* libsodium's AEAD of the running cipher, for packets made by hand. */
static int raw_encrypt(uint8_t *c, uint8_t *tag, const uint8_t *m, size_t len,
		       const uint8_t nonce[12], const uint8_t key[32])
{
	if (pair_cipher == SESS_CIPHER_AES256GCM)
		return crypto_aead_aes256gcm_encrypt_detached(c, tag, NULL, m, len, NULL, 0, NULL,
							      nonce, key);
	return crypto_aead_chacha20poly1305_ietf_encrypt_detached(c, tag, NULL, m, len, NULL, 0,
								  NULL, nonce, key);
}

static int raw_decrypt(uint8_t *m, const uint8_t *c, size_t len, const uint8_t *tag,
		       const uint8_t nonce[12], const uint8_t key[32])
{
	if (pair_cipher == SESS_CIPHER_AES256GCM)
		return crypto_aead_aes256gcm_decrypt_detached(m, NULL, c, len, tag, NULL, 0, nonce,
							      key);
	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(m, NULL, c, len, tag, NULL, 0,
								  nonce, key);
}

static int setup(void **state)
{
	struct pair *p = alloc16(sizeof(*p));

	if (!p || sodium_init() < 0)
		return -1;
	make_pair(p);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* Encrypts len bytes of a pattern from kp into pk. */
static int seal(struct sess_keypair *kp, struct pkt *pk, size_t len, uint64_t now)
{
	uint8_t *inner = pk->buf + SESS_HEADROOM;

	memset(pk->buf, 0xEE, sizeof(pk->buf)); /* padding must overwrite this */
	for (size_t k = 0; k < len; k++)
		inner[k] = (uint8_t)(k * 7 + 1);
	return sess_encrypt(kp, inner, len, now, &pk->len);
}

static int open_copy(struct sess_keypair *kp, const struct pkt *pk, size_t len, uint64_t now,
		     size_t *inner_len)
{
	static struct pkt tmp;
	uint8_t *inner = NULL;

	memcpy(tmp.buf, pk->buf, pk->len);
	return sess_decrypt(kp, tmp.buf, len, now, &inner, inner_len);
}

/* A data packet sealed by hand, for counters sess_encrypt refuses to use. */
static size_t seal_raw(uint8_t *out, const uint8_t key[32], uint32_t index, uint64_t counter)
{
	uint8_t nonce[12] = {0};

	out[0] = WIRE_DATA, out[1] = out[2] = out[3] = 0;
	for (int k = 0; k < 4; k++)
		out[4 + k] = (uint8_t)(index >> (8 * k));
	for (int k = 0; k < 8; k++)
		out[8 + k] = nonce[4 + k] = (uint8_t)(counter >> (8 * k));
	memset(out + 16, 0, 16);
	assert_int_equal(raw_encrypt(out + 16, out + 32, out + 16, 16, nonce, key), 0);
	return 48;
}

static void test_sess_encrypt_round_trip(void **state)
{
	struct pair *p = *state;
	struct pkt pk;
	uint8_t *inner;
	size_t inner_len;
	uint8_t nonce[12] = {0};
	uint8_t plain[112];

	assert_int_equal(seal(&p->i, &pk, 100, T0), 0);
	assert_int_equal(pk.len, 16 + 112 + 16);
	/* Header, field by field: type 4, reserved 0, receiver index LE, counter LE. */
	assert_int_equal(pk.buf[0], WIRE_DATA);
	assert_int_equal(pk.buf[1] | pk.buf[2] | pk.buf[3], 0);
	assert_memory_equal(pk.buf + 4, "\x88\x77\x66\x55", 4);
	assert_memory_equal(pk.buf + 8, "\0\0\0\0\0\0\0\0", 8);
	assert_int_equal(p->i.send_counter, 1);

	/* The responder opens it; its first valid packet lets it send. */
	assert_false(p->r.can_send);
	assert_int_equal(sess_decrypt(&p->r, pk.buf, pk.len, T0, &inner, &inner_len), 0);
	assert_ptr_equal(inner, pk.buf + 16);
	assert_int_equal(inner_len, 112);
	for (size_t k = 0; k < 100; k++)
		assert_int_equal(inner[k], (uint8_t)(k * 7 + 1));
	assert_true(p->r.can_send);

	/* And back. */
	assert_int_equal(seal(&p->r, &pk, 20, T0), 0);
	assert_int_equal(sess_decrypt(&p->i, pk.buf, pk.len, T0, &inner, &inner_len), 0);
	assert_int_equal(inner_len, 32);

	/* The nonce is 4 zero bytes || LE64 counter: open a packet made at a
	 * known counter with libsodium directly. */
	sess_keypair_test_set_send_counter(&p->i, 0x0102030405060708ull);
	assert_int_equal(seal(&p->i, &pk, 112, T0), 0);
	assert_memory_equal(pk.buf + 8, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
	memcpy(nonce + 4, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
	assert_int_equal(raw_decrypt(plain, pk.buf + 16, 112, pk.buf + 128, nonce, key_ir), 0);
	assert_int_equal(plain[1], 8);

	/* Failure: the sender cannot open its own packet (index and key differ). */
	assert_int_equal(open_copy(&p->i, &pk, pk.len, T0, &inner_len), -ENOKEY);
}

static void test_sess_encrypt_padding(void **state)
{
	static const size_t lens[] = {1, 15, 16, 17, 31, 32, 33, 1419, MTU};
	struct pair *p = *state;
	struct pkt pk;
	uint8_t *inner;
	size_t inner_len;
	uint64_t counter;

	for (size_t c = 0; c < sizeof(lens) / sizeof(lens[0]); c++) {
		size_t padded = (lens[c] + 15) / 16 * 16;

		assert_int_equal(seal(&p->i, &pk, lens[c], T0), 0);
		assert_int_equal(pk.len, 32 + padded);
		assert_int_equal(pk.len % 16, 0);
		assert_int_equal(sess_decrypt(&p->r, pk.buf, pk.len, T0, &inner, &inner_len), 0);
		assert_int_equal(inner_len, padded);
		for (size_t k = lens[c]; k < padded; k++)
			assert_int_equal(inner[k], 0); /* padding is zeros, not buffer junk */
	}

	/* Failure: too big for one datagram; nothing consumed. */
	counter = p->i.send_counter;
	assert_int_equal(sess_encrypt(&p->i, pk.buf + 16, SESS_MAX_INNER_LEN + 1, T0, &pk.len),
			 -EMSGSIZE);
	assert_int_equal(p->i.send_counter, counter);
	assert_true(SESS_MAX_INNER_LEN + WIRE_DATA_MIN_LEN <= 65535);
}

static void test_sess_encrypt_keepalive(void **state)
{
	struct pair *p = *state;
	struct pkt pk;
	uint8_t *inner;
	size_t inner_len = 99;

	assert_int_equal(seal(&p->i, &pk, 0, T0), 0);
	assert_int_equal(pk.len, WIRE_DATA_MIN_LEN); /* empty stays empty */
	assert_int_equal(sess_decrypt(&p->r, pk.buf, pk.len, T0, &inner, &inner_len), 0);
	assert_int_equal(inner_len, 0);
	/* A keepalive confirms the keypair like any data packet. */
	assert_true(p->r.can_send);

	/* Failure: the same keepalive without its last tag byte. */
	assert_int_equal(seal(&p->i, &pk, 0, T0), 0);
	assert_int_equal(open_copy(&p->r, &pk, pk.len - 1, T0, &inner_len), -EINVAL);
	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0, &inner_len), 0);
}

static void test_sess_decrypt_tampered(void **state)
{
	struct pair *p = *state;
	struct sess_keypair before;
	struct pkt pk;
	size_t inner_len;

	assert_int_equal(seal(&p->i, &pk, 40, T0), 0); /* 16 + 48 + 16 bytes */
	before = p->r;
	for (size_t bit = 0; bit < pk.len * 8; bit++) {
		struct pkt bad = pk;
		size_t byte = bit / 8;
		int ret;

		bad.buf[byte] ^= (uint8_t)(1u << (bit % 8));
		ret = open_copy(&p->r, &bad, bad.len, T0, &inner_len);
		if (byte < 4)
			assert_int_equal(ret, -EINVAL); /* type or reserved */
		else if (byte < 8)
			assert_int_equal(ret, -ENOKEY); /* receiver index */
		else
			assert_int_equal(ret, -EBADMSG); /* counter, ciphertext, tag */
		/* Nothing moved: window, can_send, keys. */
		assert_memory_equal(&p->r, &before, sizeof(before));
	}
	/* The untouched packet is still fresh, exactly once. */
	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0, &inner_len), 0);
	assert_int_equal(inner_len, 48);
	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0, &inner_len), -EALREADY);
}

static void test_sess_decrypt_truncated(void **state)
{
	struct pair *p = *state;
	struct sess_keypair before;
	struct pkt pk;
	size_t inner_len;
	uint32_t index;

	assert_int_equal(seal(&p->i, &pk, 64, T0), 0);
	before = p->r;
	for (size_t len = 0; len < WIRE_DATA_MIN_LEN; len++) {
		assert_int_equal(open_copy(&p->r, &pk, len, T0, &inner_len), -EINVAL);
		assert_false(sess_data_parse_index(pk.buf, len, &index));
	}
	/* Long enough to parse but cut inside the tag or ciphertext. */
	for (size_t len = WIRE_DATA_MIN_LEN; len < pk.len; len++)
		assert_int_equal(open_copy(&p->r, &pk, len, T0, &inner_len), -EBADMSG);
	assert_memory_equal(&p->r, &before, sizeof(before));
	assert_true(sess_data_parse_index(pk.buf, pk.len, &index));
	assert_int_equal(index, R_INDEX);
	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0, &inner_len), 0);
}

static void test_sess_decrypt_duplicate(void **state)
{
	struct pair *p = *state;
	struct pkt first, pk;
	size_t inner_len;

	assert_int_equal(seal(&p->i, &first, 10, T0), 0); /* counter 0 */
	assert_int_equal(open_copy(&p->r, &first, first.len, T0, &inner_len), 0);
	assert_int_equal(open_copy(&p->r, &first, first.len, T0, &inner_len), -EALREADY);

	/* Out of order inside the window is fine... */
	sess_keypair_test_set_send_counter(&p->i, 5);
	assert_int_equal(seal(&p->i, &pk, 10, T0), 0);
	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0, &inner_len), 0);
	sess_keypair_test_set_send_counter(&p->i, 3);
	assert_int_equal(seal(&p->i, &pk, 10, T0), 0);
	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0, &inner_len), 0);
	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0, &inner_len), -EALREADY);

	/* ...but W + 1 below the highest is too old, however authentic. */
	sess_keypair_test_set_send_counter(&p->i, REPLAY_WINDOW_SIZE + 2);
	assert_int_equal(seal(&p->i, &pk, 10, T0), 0);
	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0, &inner_len), 0);
	sess_keypair_test_set_send_counter(&p->i, 1);
	assert_int_equal(seal(&p->i, &pk, 10, T0), 0);
	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0, &inner_len), -EALREADY);
	sess_keypair_test_set_send_counter(&p->i, 2); /* exactly W below: still open */
	assert_int_equal(seal(&p->i, &pk, 10, T0), 0);
	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0, &inner_len), 0);
}

static void test_sess_decrypt_unknown_index(void **state)
{
	struct pair *p = *state;
	struct sess_index_table table;
	struct sess_keypair other;
	struct sess_aes other_aes;
	struct pkt pk;
	size_t inner_len;
	uint32_t index, known;

	assert_int_equal(sess_index_init(&table, 8), 0);
	known = sess_index_alloc(&table, SESS_INDEX_KEYPAIR, NULL, &p->r);
	assert_int_not_equal(known, 0);

	assert_int_equal(seal(&p->i, &pk, 10, T0), 0);
	assert_true(sess_data_parse_index(pk.buf, pk.len, &index));
	assert_int_equal(index, R_INDEX);
	if (index != known) /* 1 in 2^32 that the random one collides */
		assert_null(sess_index_lookup(&table, index, SESS_INDEX_ANY, NULL));

	/* Handed to a keypair whose index differs: refused before any crypto. */
	sess_keypair_init(&other, key_ri, key_ir, R_INDEX + 1, I_INDEX, false, T0);
	assert_int_equal(sess_keypair_set_cipher(&other, pair_cipher, &other_aes), 0);
	assert_int_equal(open_copy(&other, &pk, pk.len, T0, &inner_len), -ENOKEY);
	assert_false(other.can_send);
	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0, &inner_len), 0);
	sess_index_cleanup(&table);
}

static void test_sess_encrypt_counter_limit(void **state)
{
	const uint64_t limit = SESS_REJECT_AFTER_MESSAGES;
	struct pair *p = *state;
	uint8_t raw[64];
	struct pkt pk;
	uint8_t *inner;
	size_t inner_len, len;

	assert_true(limit == 18446744073709543486ull);
	/* limit - 1: the last nonce is used once, and the receiver takes it. */
	sess_keypair_test_set_send_counter(&p->i, limit - 1);
	assert_int_equal(seal(&p->i, &pk, 16, T0), 0);
	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0, &inner_len), 0);
	assert_true(sess_keypair_needs_rekey(&p->i, T0));
	/* limit: refused, and refused again: no wrap to 0. */
	assert_true(p->i.send_counter == limit);
	assert_int_equal(seal(&p->i, &pk, 16, T0), -EKEYEXPIRED);
	assert_int_equal(seal(&p->i, &pk, 0, T0), -EKEYEXPIRED);
	assert_true(p->i.send_counter == limit);
	sess_keypair_test_set_send_counter(&p->i, UINT64_MAX);
	assert_int_equal(seal(&p->i, &pk, 16, T0), -EKEYEXPIRED);
	assert_true(p->i.send_counter == UINT64_MAX);

	/* A receiver refuses authentic packets at limit and 2^64 - 1. */
	make_pair(p);
	len = seal_raw(raw, key_ir, R_INDEX, limit);
	assert_int_equal(sess_decrypt(&p->r, raw, len, T0, &inner, &inner_len), -EALREADY);
	len = seal_raw(raw, key_ir, R_INDEX, UINT64_MAX);
	assert_int_equal(sess_decrypt(&p->r, raw, len, T0, &inner, &inner_len), -EALREADY);
	len = seal_raw(raw, key_ir, R_INDEX, limit - 1);
	assert_int_equal(sess_decrypt(&p->r, raw, len, T0, &inner, &inner_len), 0);
	assert_int_equal(inner_len, 16);
}

static void test_sess_decrypt_expired_key(void **state)
{
	struct pair *p = *state;
	struct pkt pk;
	size_t inner_len;

	assert_int_equal(seal(&p->i, &pk, 10, T0 + SESS_REJECT_AFTER_TIME_MS - 1), 0);
	assert_false(sess_keypair_is_expired(&p->r, T0 + SESS_REJECT_AFTER_TIME_MS - 1));
	assert_true(sess_keypair_is_expired(&p->r, T0 + SESS_REJECT_AFTER_TIME_MS));
	/* The same authentic packet: 1 ms too late it is dropped, window unmoved. */
	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0 + SESS_REJECT_AFTER_TIME_MS, &inner_len),
			 -EKEYEXPIRED);
	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0 + 3600 * 1000, &inner_len), -EKEYEXPIRED);
	assert_false(p->r.can_send);
	assert_int_equal(
	    open_copy(&p->r, &pk, pk.len, T0 + SESS_REJECT_AFTER_TIME_MS - 1, &inner_len), 0);
	/* Sending stops at the same age. */
	assert_int_equal(seal(&p->i, &pk, 10, T0 + SESS_REJECT_AFTER_TIME_MS), -EKEYEXPIRED);
	/* A clock behind the keypair's birth counts as age 0, not as ancient. */
	assert_int_equal(seal(&p->i, &pk, 10, T0 - 5000), 0);
}

static void test_sess_encrypt_responder_before_confirm(void **state)
{
	struct pair *p = *state;
	struct pkt pk, bad;
	size_t inner_len;

	assert_int_equal(seal(&p->r, &pk, 10, T0), -EPERM);
	assert_int_equal(p->r.send_counter, 0);

	/* A forged packet does not unlock it. */
	assert_int_equal(seal(&p->i, &pk, 10, T0), 0);
	bad = pk;
	bad.buf[pk.len - 1] ^= 1;
	assert_int_equal(open_copy(&p->r, &bad, bad.len, T0, &inner_len), -EBADMSG);
	assert_int_equal(seal(&p->r, &bad, 10, T0), -EPERM);

	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0, &inner_len), 0);
	assert_int_equal(seal(&p->r, &pk, 10, T0), 0);
}

static void test_sess_keypair_needs_rekey(void **state)
{
	struct pair *p = *state;

	/* Time: only the initiator, at 120 s. */
	assert_false(sess_keypair_needs_rekey(&p->i, T0 + SESS_REKEY_AFTER_TIME_MS - 1));
	assert_true(sess_keypair_needs_rekey(&p->i, T0 + SESS_REKEY_AFTER_TIME_MS));
	assert_false(sess_keypair_needs_rekey(&p->r, T0 + SESS_REJECT_AFTER_TIME_MS - 1));

	/* Messages: both sides, once past 2^60. */
	sess_keypair_test_set_send_counter(&p->r, SESS_REKEY_AFTER_MESSAGES);
	assert_false(sess_keypair_needs_rekey(&p->r, T0));
	sess_keypair_test_set_send_counter(&p->r, SESS_REKEY_AFTER_MESSAGES + 1);
	assert_true(sess_keypair_needs_rekey(&p->r, T0));

	/* Receive side, last minute: initiator at 165 s. */
	assert_int_equal(SESS_RECV_REKEY_AFTER_TIME_MS, 165000);
	assert_false(sess_keypair_needs_rekey_on_receive(&p->i, T0 + 164999));
	assert_true(sess_keypair_needs_rekey_on_receive(&p->i, T0 + 165000));
	assert_false(sess_keypair_needs_rekey_on_receive(&p->r, T0 + 179999));

	/* A wiped keypair asks for nothing. */
	sess_keypair_wipe(&p->i);
	assert_false(sess_keypair_needs_rekey(&p->i, T0 + SESS_REKEY_AFTER_TIME_MS));
	assert_false(sess_keypair_needs_rekey_on_receive(&p->i, T0 + 170000));
}

static void test_sess_keypair_wipe(void **state)
{
	static const uint8_t zero[sizeof(struct sess_keypair)];
	struct pair *p = *state;
	struct pkt pk;
	size_t inner_len;

	assert_int_equal(seal(&p->i, &pk, 10, T0), 0);
	sess_keypair_wipe(&p->r);
	assert_memory_equal(&p->r, zero, sizeof(zero));
	assert_int_equal(open_copy(&p->r, &pk, pk.len, T0, &inner_len), -ENOKEY);
	sess_keypair_wipe(&p->i);
	assert_int_equal(seal(&p->i, &pk, 10, T0), -ENOKEY);
}

/* ---- the data ciphers ---- */

/* A data packet under an all-zero key at a given counter, 16 zero bytes
 * inside: bytes 16..48 are the AEAD's ciphertext and tag. */
static void kat_packet(enum sess_cipher cipher, uint64_t counter, uint8_t out[48])
{
	static const uint8_t zero_key[32];
	struct sess_keypair *kp = alloc16(sizeof(*kp));
	struct sess_aes *aes = alloc16(sizeof(*aes));
	uint8_t buf[SESS_HEADROOM + 16 + SESS_TAILROOM];
	size_t len;

	assert_non_null(kp);
	assert_non_null(aes);
	sess_keypair_init(kp, zero_key, zero_key, 1, 2, true, T0);
	assert_int_equal(sess_keypair_set_cipher(kp, cipher, aes), 0);
	sess_keypair_test_set_send_counter(kp, counter);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(sess_encrypt(kp, buf + SESS_HEADROOM, 16, T0, &len), 0);
	assert_int_equal(len, 48);
	memcpy(out, buf, 48);
	sess_keypair_wipe(kp);
	free(kp);
	free(aes);
}

/* AES-256-GCM as the data path runs it, against published answers: the GCM
 * specification's test case 14 (McGrew and Viega; key, IV and plaintext all
 * zero: our counter 0 gives the all-zero IV), and two counters that check
 * the nonce layout (0x00000000 || counter LE), computed with OpenSSL
 * (python3-cryptography's AESGCM). */
static void test_sess_aes256gcm_known_answers(void **state)
{
	static const struct {
		uint64_t counter;
		const char *ct_tag;
	} kat[] = {
	    {0, "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"},
	    {1, "e6d4ff0b19560b572e50073b9c30a40f616c24b7b163d489f3a84706ee7db7b1"},
	    {0x0102030405060708ull,
	     "ab3f2a7879fa6939ca3c059a1a4cfa44e1817b1b2eea816bc96cd6df5e62dd03"},
	};
	uint8_t pkt[48], want[32];

	(void)state;
	if (!sess_cipher_aes256gcm_available())
		skip();
	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		kat_packet(SESS_CIPHER_AES256GCM, kat[i].counter, pkt);
		assert_int_equal(
		    sodium_hex2bin(want, sizeof(want), kat[i].ct_tag, 64, NULL, NULL, NULL), 0);
		assert_memory_equal(pkt + 16, want, 32);
	}
}

/* The two ciphers give different packets from the same keys and counter,
 * and neither opens the other's: a keypair never falls back silently. */
static void test_sess_ciphers_do_not_mix(void **state)
{
	struct sess_keypair *tx = malloc(sizeof(*tx)), *rx = malloc(sizeof(*rx));
	struct sess_aes *tx_aes = alloc16(sizeof(*tx_aes)), *rx_aes = alloc16(sizeof(*rx_aes));
	uint8_t chacha[48], aes[48];
	struct pkt pk;
	size_t inner_len;

	(void)state;
	if (!sess_cipher_aes256gcm_available())
		skip();
	assert_true(tx && rx && tx_aes && rx_aes);
	kat_packet(SESS_CIPHER_CHACHA20POLY1305, 0, chacha);
	kat_packet(SESS_CIPHER_AES256GCM, 0, aes);
	assert_memory_equal(chacha, aes, 16); /* the same header */
	assert_memory_not_equal(chacha + 16, aes + 16, 32);

	sess_keypair_init(tx, key_ir, key_ri, I_INDEX, R_INDEX, true, T0);
	sess_keypair_init(rx, key_ri, key_ir, R_INDEX, I_INDEX, false, T0);
	/* No storage for the expanded keys: AES-256-GCM is refused. */
	assert_int_equal(sess_keypair_set_cipher(tx, SESS_CIPHER_AES256GCM, NULL), -ENOTSUP);
	assert_int_equal(tx->cipher, SESS_CIPHER_CHACHA20POLY1305);
	assert_int_equal(sess_keypair_set_cipher(tx, SESS_CIPHER_AES256GCM, tx_aes), 0);
	assert_int_equal(seal(tx, &pk, 40, T0), 0);
	assert_int_equal(open_copy(rx, &pk, pk.len, T0, &inner_len), -EBADMSG);
	assert_int_equal(sess_keypair_set_cipher(rx, SESS_CIPHER_AES256GCM, rx_aes), 0);
	assert_int_equal(open_copy(rx, &pk, pk.len, T0, &inner_len), 0);
	/* Failure: a keypair that has sealed may not change cipher, nor may one
	 * take a cipher that does not exist; both leave it as it was. */
	assert_int_equal(sess_keypair_set_cipher(tx, SESS_CIPHER_CHACHA20POLY1305, NULL), -EINVAL);
	assert_int_equal(tx->cipher, SESS_CIPHER_AES256GCM);
	sess_keypair_init(tx, key_ir, key_ri, I_INDEX, R_INDEX, true, T0);
	assert_int_equal(sess_keypair_set_cipher(tx, (enum sess_cipher)7, tx_aes), -EINVAL);
	assert_int_equal(tx->cipher, SESS_CIPHER_CHACHA20POLY1305);
	assert_string_equal(sess_cipher_name(SESS_CIPHER_AES256GCM), "aes-256-gcm");
	assert_string_equal(sess_cipher_name(SESS_CIPHER_CHACHA20POLY1305), "chacha20-poly1305");
	/* Wiping a keypair wipes its expanded keys too. */
	sess_keypair_wipe(rx);
	assert_true(sodium_is_zero((const uint8_t *)rx_aes, sizeof(*rx_aes)));
	sess_keypair_wipe(tx);
	free(tx);
	free(rx);
	free(tx_aes);
	free(rx_aes);
}

/* ---- struct sess_peer ---- */

struct peer_fixture {
	struct sess_index_table table;
	struct sess_peer a; /* the side under test */
	struct sess_aes aes[3];
	int owner;
};

static uint32_t new_index(struct peer_fixture *f)
{
	uint32_t index = sess_index_alloc(&f->table, SESS_INDEX_HANDSHAKE, &f->owner, NULL);

	assert_int_not_equal(index, 0);
	return index;
}

/* Sends one packet from the remote side of keypair kp (same keys, swapped)
 * and delivers it the way the daemon does: index -> lookup -> decrypt. */
static int deliver(struct peer_fixture *f, const struct sess_keypair *kp, uint64_t now)
{
	struct sess_keypair remote;
	struct sess_aes remote_aes;
	struct sess_keypair *found;
	struct pkt pk;
	uint8_t *inner;
	size_t inner_len;
	uint32_t index;
	void *owner = NULL;
	int ret;

	sess_keypair_init(&remote, kp->recv_key, kp->send_key, kp->remote_index, kp->local_index,
			  true, kp->created_ms);
	assert_int_equal(sess_keypair_set_cipher(&remote, kp->cipher, &remote_aes), 0);
	/* Continue the remote's counter past everything kp has seen. */
	sess_keypair_test_set_send_counter(&remote, kp->replay.next);
	assert_int_equal(seal(&remote, &pk, 8, now), 0);
	assert_true(sess_data_parse_index(pk.buf, pk.len, &index));
	found = sess_index_lookup(&f->table, index, SESS_INDEX_KEYPAIR, &owner);
	assert_ptr_equal(found, kp);
	assert_ptr_equal(owner, &f->owner);
	assert_ptr_equal(sess_peer_find(&f->a, index), kp);
	ret = sess_decrypt(found, pk.buf, pk.len, now, &inner, &inner_len);
	if (ret == 0 && sess_peer_on_received(&f->a, found))
		return 1;
	return ret;
}

static void test_sess_peer_install_rotation(void **state)
{
	struct peer_fixture *f = calloc(1, sizeof(*f));
	struct sess_keypair *k1, *k2, *k3, *k4;
	uint32_t i1, i2, i3, i4, i5;
	uint8_t k[32];

	assert_non_null(f);
	assert_int_equal(sess_index_init(&f->table, 16), 0);
	sess_peer_init(&f->a, &f->table, &f->owner);
	assert_null(sess_peer_send_keypair(&f->a, T0));

	/* Failure first: an index the table never gave out is refused, and
	 * nothing is installed. */
	memset(k, 1, sizeof(k));
	assert_int_equal(sess_peer_install(&f->a, k, k, 0x12345678, 9, true, T0), -ENOENT);
	assert_null(f->a.current);
	assert_null(f->a.next);

	/* 1. We initiate: usable at once. */
	i1 = new_index(f);
	assert_int_equal(sess_peer_install(&f->a, k, k, i1, 101, true, T0), 0);
	k1 = f->a.current;
	assert_non_null(k1);
	assert_ptr_equal(sess_peer_send_keypair(&f->a, T0), k1);
	assert_ptr_equal(sess_index_lookup(&f->table, i1, SESS_INDEX_KEYPAIR, NULL), k1);
	assert_null(sess_index_lookup(&f->table, i1, SESS_INDEX_HANDSHAKE, NULL));

	/* 2. The peer initiates: the new keypair waits in next; we keep
	 * sending on k1 until the peer's first packet on the new keys. */
	memset(k, 2, sizeof(k));
	i2 = new_index(f);
	assert_int_equal(sess_peer_install(&f->a, k, k, i2, 102, false, T0 + 10), 0);
	k2 = f->a.next;
	assert_non_null(k2);
	assert_ptr_equal(f->a.current, k1);
	assert_ptr_equal(sess_peer_send_keypair(&f->a, T0 + 10), k1);
	assert_int_equal(deliver(f, k1, T0 + 11), 0); /* old keys still received */
	assert_int_equal(deliver(f, k2, T0 + 12), 1); /* confirmed: rotates */
	assert_ptr_equal(f->a.current, k2);
	assert_ptr_equal(f->a.previous, k1);
	assert_null(f->a.next);
	assert_ptr_equal(sess_peer_send_keypair(&f->a, T0 + 12), k2);
	assert_int_equal(deliver(f, k2, T0 + 13), 0); /* no second rotation */
	assert_false(sess_peer_on_received(&f->a, k1));

	/* 3. We initiate again: k1 (previous) is dropped and its index freed. */
	memset(k, 3, sizeof(k));
	i3 = new_index(f);
	assert_int_equal(sess_peer_install(&f->a, k, k, i3, 103, true, T0 + 20), 0);
	k3 = f->a.current;
	assert_ptr_equal(f->a.previous, k2);
	assert_null(sess_index_lookup(&f->table, i1, SESS_INDEX_ANY, NULL));
	assert_null(sess_peer_find(&f->a, i1));
	assert_ptr_equal(sess_peer_find(&f->a, i2), k2);
	assert_ptr_equal(sess_peer_find(&f->a, i3), k3);

	/* 4. Responder keypair pending, then our own initiation completes
	 * first: the pending one becomes previous, the old current goes. */
	memset(k, 4, sizeof(k));
	i4 = new_index(f);
	assert_int_equal(sess_peer_install(&f->a, k, k, i4, 104, false, T0 + 30), 0);
	k4 = f->a.next;
	assert_null(f->a.previous); /* the responder install drops previous */
	assert_null(sess_index_lookup(&f->table, i2, SESS_INDEX_ANY, NULL));
	i5 = new_index(f);
	assert_int_equal(sess_peer_install(&f->a, k, k, i5, 105, true, T0 + 40), 0);
	assert_ptr_equal(f->a.previous, k4);
	assert_null(f->a.next);
	assert_null(sess_index_lookup(&f->table, i3, SESS_INDEX_ANY, NULL));
	assert_int_equal(f->table.count, 2);

	/* The send keypair goes away once current expires. */
	assert_non_null(sess_peer_send_keypair(&f->a, T0 + 40 + SESS_REJECT_AFTER_TIME_MS - 1));
	assert_null(sess_peer_send_keypair(&f->a, T0 + 40 + SESS_REJECT_AFTER_TIME_MS));

	/* Clear: nothing left, not even key bytes; indexes back. */
	sess_peer_clear(&f->a);
	assert_null(f->a.current);
	assert_null(f->a.previous);
	assert_null(f->a.next);
	assert_int_equal(f->table.count, 0);
	assert_true(sodium_is_zero((const unsigned char *)f->a.store, sizeof(f->a.store)));
	assert_null(sess_peer_find(&f->a, i5));
	assert_null(sess_peer_send_keypair(&f->a, T0 + 50));

	sess_index_cleanup(&f->table);
	free(f);
}

/* Installing with a cipher: the keypair seals with it; an unknown cipher
 * installs nothing and leaves the slots as they were. */
static void test_sess_peer_install_cipher(void **state)
{
	struct peer_fixture *f = alloc16(sizeof(*f));
	const uint8_t k[32] = {7};
	uint32_t i1, i2;

	(void)state;
	if (!sess_cipher_aes256gcm_available())
		skip();
	assert_non_null(f);
	memset(f, 0, sizeof(*f));
	assert_int_equal(sess_index_init(&f->table, 16), 0);
	sess_peer_init(&f->a, &f->table, &f->owner);
	i1 = new_index(f);
	/* No AES storage given (as the rendezvous's sessions): refused. */
	assert_int_equal(
	    sess_peer_install_cipher(&f->a, k, k, i1, 101, true, SESS_CIPHER_AES256GCM, T0),
	    -ENOTSUP);
	assert_null(f->a.current);
	f->a.aes = &f->aes;
	assert_int_equal(
	    sess_peer_install_cipher(&f->a, k, k, i1, 101, true, SESS_CIPHER_AES256GCM, T0), 0);
	assert_non_null(f->a.current);
	assert_int_equal(f->a.current->cipher, SESS_CIPHER_AES256GCM);
	assert_int_equal(deliver(f, f->a.current, T0), 0);
	i2 = new_index(f);
	assert_int_equal(
	    sess_peer_install_cipher(&f->a, k, k, i2, 102, true, (enum sess_cipher)9, T0 + 1),
	    -EINVAL);
	assert_ptr_equal(sess_peer_find(&f->a, i1), f->a.current);
	assert_null(sess_peer_find(&f->a, i2));
	sess_peer_clear(&f->a);
	sess_index_cleanup(&f->table);
	free(f);
}

static void test_sess_peer_lastminute_rekey(void **state)
{
	struct sess_peer *sp = calloc(1, sizeof(*sp));
	uint8_t k[32] = {7};

	assert_non_null(sp);
	sess_peer_init(sp, NULL, NULL);
	assert_false(sess_peer_lastminute_rekey(sp, T0)); /* no keypair */
	assert_int_equal(sess_peer_install(sp, k, k, 1, 2, true, T0), 0);
	assert_false(sess_peer_lastminute_rekey(sp, T0 + 164999));
	assert_true(sess_peer_lastminute_rekey(sp, T0 + 165000));
	assert_false(sess_peer_lastminute_rekey(sp, T0 + 166000)); /* once per keypair */
	assert_int_equal(sess_peer_install(sp, k, k, 3, 4, true, T0 + 170000), 0);
	assert_false(sess_peer_lastminute_rekey(sp, T0 + 170000));
	assert_true(sess_peer_lastminute_rekey(sp, T0 + 170000 + 165000));
	/* A responder's keypair never triggers it. */
	sess_peer_clear(sp);
	assert_int_equal(sess_peer_install(sp, k, k, 5, 6, false, T0), 0);
	assert_true(sess_peer_on_received(sp, sp->next));
	assert_false(sess_peer_lastminute_rekey(sp, T0 + 170000));
	free(sp);
}

/* ---- struct sess_index_table ---- */

static void test_sess_index_alloc_full_and_free(void **state)
{
	enum { N = 1000 };
	struct sess_index_table t;
	static uint32_t idx[N];
	static int owners[N];
	void *owner;

	assert_int_equal(sess_index_init(&t, 0), -EINVAL);
	assert_int_equal(sess_index_init(&t, N), 0);
	for (int k = 0; k < N; k++) {
		idx[k] = sess_index_alloc(&t, k % 2 ? SESS_INDEX_KEYPAIR : SESS_INDEX_HANDSHAKE,
					  &owners[k], &idx[k]);
		assert_int_not_equal(idx[k], 0);
		for (int m = 0; m < k; m++)
			assert_int_not_equal(idx[m], idx[k]); /* unique */
	}
	/* Full: no index, never 0 handed out as one. */
	assert_int_equal(sess_index_alloc(&t, SESS_INDEX_KEYPAIR, NULL, NULL), 0);
	assert_int_equal(t.count, N);

	/* Lookups respect the kind: a data packet cannot reach a handshake. */
	for (int k = 0; k < N; k++) {
		unsigned kind = k % 2 ? SESS_INDEX_KEYPAIR : SESS_INDEX_HANDSHAKE;
		unsigned other = kind ^ SESS_INDEX_ANY;

		owner = NULL;
		assert_ptr_equal(sess_index_lookup(&t, idx[k], kind, &owner), &idx[k]);
		assert_ptr_equal(owner, &owners[k]);
		assert_null(sess_index_lookup(&t, idx[k], other, NULL));
	}
	assert_null(sess_index_lookup(&t, 0, SESS_INDEX_ANY, NULL));
	assert_true(sess_index_contains(&t, idx[0]));
	assert_false(sess_index_contains(&t, 0));

	/* Free every third; the rest stay reachable (backward shift kept
	 * the probe runs intact). */
	for (int k = 0; k < N; k += 3)
		sess_index_free(&t, idx[k]);
	assert_false(sess_index_contains(&t, idx[0]));
	sess_index_free(&t, idx[0]); /* twice: ignored */
	sess_index_free(&t, 0);
	for (int k = 0; k < N; k++) {
		void *got = sess_index_lookup(&t, idx[k], SESS_INDEX_ANY, NULL);

		if (k % 3 == 0)
			assert_null(got);
		else
			assert_ptr_equal(got, &idx[k]);
	}
	assert_int_equal(t.count, N - (N + 2) / 3);
	assert_int_equal(sess_index_replace(&t, idx[0], SESS_INDEX_KEYPAIR, NULL, NULL), -ENOENT);
	assert_int_equal(sess_index_replace(&t, idx[1], SESS_INDEX_HANDSHAKE, NULL, &t), 0);
	assert_ptr_equal(sess_index_lookup(&t, idx[1], SESS_INDEX_HANDSHAKE, NULL), &t);
	assert_int_not_equal(sess_index_alloc(&t, SESS_INDEX_KEYPAIR, NULL, NULL), 0);
	sess_index_cleanup(&t);
	assert_null(sess_index_lookup(&t, idx[1], SESS_INDEX_ANY, NULL));
}

/* The packet tests once per data cipher. */
static int group_chacha(void **state)
{
	(void)state;
	pair_cipher = SESS_CIPHER_CHACHA20POLY1305;
	return 0;
}

static int group_aes(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	pair_cipher = SESS_CIPHER_AES256GCM;
	return 0;
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest packet_tests[] = {
	    T(test_sess_encrypt_round_trip),	T(test_sess_encrypt_padding),
	    T(test_sess_encrypt_keepalive),	T(test_sess_decrypt_tampered),
	    T(test_sess_decrypt_truncated),	T(test_sess_decrypt_duplicate),
	    T(test_sess_decrypt_unknown_index), T(test_sess_encrypt_counter_limit),
	    T(test_sess_decrypt_expired_key),	T(test_sess_encrypt_responder_before_confirm),
	    T(test_sess_keypair_needs_rekey),	T(test_sess_keypair_wipe),
	};
	const struct CMUnitTest other_tests[] = {
	    cmocka_unit_test(test_sess_aes256gcm_known_answers),
	    cmocka_unit_test(test_sess_ciphers_do_not_mix),
	    cmocka_unit_test(test_sess_peer_install_rotation),
	    cmocka_unit_test(test_sess_peer_install_cipher),
	    cmocka_unit_test(test_sess_peer_lastminute_rekey),
	    cmocka_unit_test(test_sess_index_alloc_full_and_free),
	};
#undef T
	int failed;

	failed = cmocka_run_group_tests_name("chacha20-poly1305", packet_tests, group_chacha, NULL);
	if (sodium_init() >= 0 && sess_cipher_aes256gcm_available())
		failed += cmocka_run_group_tests_name("aes-256-gcm", packet_tests, group_aes, NULL);
	else
		print_message("no AES-NI on this CPU: the AES-256-GCM packet tests are skipped\n");
	failed += cmocka_run_group_tests_name("other", other_tests, group_chacha, NULL);
	return failed;
}
