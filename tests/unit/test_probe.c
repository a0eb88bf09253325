/* Path probe tests: the pair key against its formula, both directions
 * agreeing, round trips of every kind, and refusal of every single-byte
 * change, of wrong keys, of wrong lengths and of payloads that authenticate
 * but break a field rule (sealed here by hand with the real key). Every
 * refusal also checks that the output was left untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sodium.h>

#include "punch/probe.h"
#include "wire/wire.h"

struct keypair {
	uint8_t priv[32], pub[32];
};

static void make_key(struct keypair *k, uint8_t seed)
{
	uint8_t s[crypto_box_SEEDBYTES];

	memset(s, seed, sizeof(s));
	crypto_box_seed_keypair(k->pub, k->priv, s);
}

static struct sockaddr_storage sa4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage sa6(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
	return ss;
}

static int setup(void **state)
{
	return sodium_init() < 0 ? -1 : 0;
}

/* Two peers' keys for most cases. */
static struct probe_key ab, ba;
static struct keypair ka, kb, kc;

static void derive_pair(void)
{
	make_key(&ka, 1);
	make_key(&kb, 2);
	make_key(&kc, 3);
	assert_true(probe_key_derive(ka.priv, ka.pub, kb.pub, &ab));
	assert_true(probe_key_derive(kb.priv, kb.pub, ka.pub, &ba));
}

static void test_probe_key_derive_both_sides(void **state)
{
	struct probe_key ac;
	static const uint8_t zero[sizeof(struct probe_key)];

	derive_pair();
	assert_memory_equal(ab.key, ba.key, PROBE_KEY_LEN);
	assert_memory_equal(ab.pair_id, ba.pair_id, PROBE_PAIR_ID_LEN);

	/* Failure: another pair gets another key and another pair id. */
	assert_true(probe_key_derive(ka.priv, ka.pub, kc.pub, &ac));
	assert_memory_not_equal(ab.key, ac.key, PROBE_KEY_LEN);
	assert_memory_not_equal(ab.pair_id, ac.pair_id, PROBE_PAIR_ID_LEN);
	/* Failure: our own key as the peer's is refused, out wiped. */
	memset(&ac, 0xaa, sizeof(ac));
	assert_false(probe_key_derive(ka.priv, ka.pub, ka.pub, &ac));
	assert_memory_equal(&ac, zero, sizeof(ac));
}

static void test_probe_key_derive_matches_formula(void **state)
{
	uint8_t dh[32], buf[12 + 32 + 64], k[32], id_in[14 + 32], id[32];
	const uint8_t *lo, *hi;

	derive_pair();
	assert_int_equal(crypto_scalarmult(dh, ka.priv, kb.pub), 0);
	lo = memcmp(ka.pub, kb.pub, 32) < 0 ? ka.pub : kb.pub;
	hi = lo == ka.pub ? kb.pub : ka.pub;
	memcpy(buf, "p2pvpn probe", 12);
	memcpy(buf + 12, dh, 32);
	memcpy(buf + 44, lo, 32);
	memcpy(buf + 76, hi, 32);
	crypto_generichash(k, 32, buf, sizeof(buf), NULL, 0);
	memcpy(id_in, "p2pvpn pair id", 14);
	memcpy(id_in + 14, k, 32);
	crypto_generichash(id, 32, id_in, sizeof(id_in), NULL, 0);
	assert_memory_equal(ab.key, k, 32);
	assert_memory_equal(ab.pair_id, id, 8);

	/* Failure: the keys hashed unsorted give something else. */
	memcpy(buf + 44, hi, 32);
	memcpy(buf + 76, lo, 32);
	crypto_generichash(k, 32, buf, sizeof(buf), NULL, 0);
	assert_memory_not_equal(ab.key, k, 32);
}

static void test_probe_key_derive_low_order(void **state)
{
	/* Points whose DH output is all zero whatever the private key. */
	static const uint8_t low[][32] = {
	    {0},
	    {1},
	    {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
	     0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
	     0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
	    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	};
	static const uint8_t zero[sizeof(struct probe_key)];
	struct probe_key k;

	derive_pair();
	for (size_t i = 0; i < sizeof(low) / sizeof(low[0]); i++) {
		memset(&k, 0x55, sizeof(k));
		assert_false(probe_key_derive(ka.priv, ka.pub, low[i], &k));
		assert_memory_equal(&k, zero, sizeof(k));
	}
	/* And a real key still works (the check is not refusing everything). */
	assert_true(probe_key_derive(ka.priv, ka.pub, kb.pub, &k));
}

static void assert_payload_equal(const struct probe_payload *a, const struct probe_payload *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_true(a->tx_id == b->tx_id);
	assert_true(a->sender_time_ms == b->sender_time_ms);
	assert_int_equal(a->observed.ss_family, b->observed.ss_family);
	if (a->observed.ss_family == AF_INET)
		assert_memory_equal(&a->observed, &b->observed, sizeof(struct sockaddr_in));
	else if (a->observed.ss_family == AF_INET6)
		assert_memory_equal(&a->observed, &b->observed, sizeof(struct sockaddr_in6));
}

static void test_probe_build_round_trip(void **state)
{
	/* 1-4: each kind, replies with an observed address of each family. */
	struct probe_payload in[] = {
	    {PROBE_REQUEST, 0x0102030405060708ull, 123456789, {0}},
	    {PROBE_REPLY, 1, 2, sa4("198.51.100.7", 40000)},
	    {PROBE_HEARTBEAT, UINT64_MAX, 0, {0}},
	    {PROBE_HEARTBEAT_REPLY, 42, UINT64_MAX, sa6("2001:db8::7", 51820)},
	};
	uint8_t pkt[PROBE_LEN], again[PROBE_LEN], id[PROBE_PAIR_ID_LEN];
	struct probe_payload out;

	derive_pair();
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		assert_int_equal(probe_build(&ab, &in[i], pkt), PROBE_LEN);
		/* Header: type 5, zero reserved, the pair id, in the clear. */
		assert_int_equal(pkt[0], WIRE_PROBE);
		assert_int_equal(pkt[1] | pkt[2] | pkt[3], 0);
		assert_memory_equal(pkt + 4, ab.pair_id, PROBE_PAIR_ID_LEN);
		assert_true(probe_pair_id(pkt, sizeof(pkt), id));
		assert_memory_equal(id, ba.pair_id, PROBE_PAIR_ID_LEN);
		/* The other side opens it with its own derivation. */
		memset(&out, 0, sizeof(out));
		assert_true(probe_open(&ba, pkt, sizeof(pkt), &out));
		assert_payload_equal(&out, &in[i]);
		/* A fresh nonce each time: the same payload never seals the same. */
		assert_int_equal(probe_build(&ab, &in[i], again), PROBE_LEN);
		assert_memory_not_equal(pkt, again, PROBE_LEN);
	}

	/* A v4-mapped observed address (as a dual-stack socket reports it)
	 * goes on the wire as family 4 and opens as AF_INET. */
	{
		struct probe_payload mapped = {PROBE_REPLY, 3, 4,
					       sa6("::ffff:198.51.100.7", 40000)};
		struct probe_payload want = {PROBE_REPLY, 3, 4, sa4("198.51.100.7", 40000)};

		assert_int_equal(probe_build(&ab, &mapped, pkt), PROBE_LEN);
		assert_true(probe_open(&ba, pkt, sizeof(pkt), &out));
		assert_payload_equal(&out, &want);
	}

	/* Failure: a kind outside the enum or an odd address family is not
	 * built, and out is left alone. */
	{
		struct probe_payload bad = in[1];
		uint8_t untouched[PROBE_LEN];

		memset(pkt, 0xee, sizeof(pkt));
		memcpy(untouched, pkt, sizeof(pkt));
		bad.kind = 5;
		assert_int_equal(probe_build(&ab, &bad, pkt), 0);
		bad.kind = PROBE_REPLY;
		bad.observed.ss_family = AF_UNIX;
		assert_int_equal(probe_build(&ab, &bad, pkt), 0);
		assert_memory_equal(pkt, untouched, PROBE_LEN);
	}
}

static void test_probe_open_tampered(void **state)
{
	struct probe_payload in = {PROBE_REPLY, 7, 1000, sa4("203.0.113.5", 3478)};
	struct probe_payload out, sentinel;
	uint8_t pkt[PROBE_LEN], bad[PROBE_LEN];

	derive_pair();
	assert_int_equal(probe_build(&ab, &in, pkt), PROBE_LEN);
	memset(&sentinel, 0x5a, sizeof(sentinel));
	/* Every byte, every bit: header (AD), pair id, nonce, ciphertext, tag. */
	for (size_t i = 0; i < PROBE_LEN; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, pkt, sizeof(pkt));
			bad[i] ^= (uint8_t)(1u << bit);
			out = sentinel;
			assert_false(probe_open(&ba, bad, sizeof(bad), &out));
			assert_memory_equal(&out, &sentinel, sizeof(out));
		}
	}
	/* The untampered packet still opens. */
	assert_true(probe_open(&ba, pkt, sizeof(pkt), &out));
	assert_payload_equal(&out, &in);
}

static void test_probe_open_wrong_key(void **state)
{
	struct probe_payload in = {PROBE_REQUEST, 9, 9, {0}}, out, sentinel;
	struct probe_key ac, ca, forged;
	uint8_t pkt[PROBE_LEN], id[PROBE_PAIR_ID_LEN];

	derive_pair();
	assert_true(probe_key_derive(ka.priv, ka.pub, kc.pub, &ac));
	assert_true(probe_key_derive(kc.priv, kc.pub, ka.pub, &ca));
	assert_int_equal(probe_build(&ab, &in, pkt), PROBE_LEN);
	memset(&sentinel, 0x33, sizeof(sentinel));
	out = sentinel;

	/* Third party C: its pair id does not match, its key does not open. */
	assert_true(probe_pair_id(pkt, sizeof(pkt), id));
	assert_memory_not_equal(id, ca.pair_id, PROBE_PAIR_ID_LEN);
	assert_false(probe_open(&ca, pkt, sizeof(pkt), &out));
	/* Even with our pair id copied in, another key fails at the tag. */
	forged = ca;
	memcpy(forged.pair_id, ab.pair_id, PROBE_PAIR_ID_LEN);
	assert_false(probe_open(&forged, pkt, sizeof(pkt), &out));
	/* A probe C made for A does not pass as one from B. */
	assert_int_equal(probe_build(&ca, &in, pkt), PROBE_LEN);
	assert_false(probe_open(&ab, pkt, sizeof(pkt), &out));
	assert_memory_equal(&out, &sentinel, sizeof(out));
	/* The right key for that one does. */
	assert_true(probe_open(&ac, pkt, sizeof(pkt), &out));
}

static void test_probe_open_lengths(void **state)
{
	struct probe_payload in = {PROBE_HEARTBEAT, 1, 1, {0}}, out, sentinel;
	uint8_t pkt[PROBE_LEN + 64], id[PROBE_PAIR_ID_LEN];

	derive_pair();
	memset(pkt, 0, sizeof(pkt));
	assert_int_equal(probe_build(&ab, &in, pkt), PROBE_LEN);
	memset(&sentinel, 0x77, sizeof(sentinel));
	out = sentinel;
	/* Truncated (every length below 92) and overlong (trailing bytes). */
	for (size_t len = 0; len < sizeof(pkt); len++) {
		if (len == PROBE_LEN)
			continue;
		assert_false(probe_pair_id(pkt, len, id));
		assert_false(probe_open(&ba, pkt, len, &out));
		assert_memory_equal(&out, &sentinel, sizeof(out));
	}
	assert_true(probe_pair_id(pkt, PROBE_LEN, id));
	assert_true(probe_open(&ba, pkt, PROBE_LEN, &out));
}

static void test_probe_pair_id_header(void **state)
{
	struct probe_payload in = {PROBE_REQUEST, 1, 1, {0}};
	uint8_t pkt[PROBE_LEN], id[PROBE_PAIR_ID_LEN];

	derive_pair();
	assert_int_equal(probe_build(&ab, &in, pkt), PROBE_LEN);
	assert_true(probe_pair_id(pkt, sizeof(pkt), id));
	/* Failure: another type, or any reserved byte set. */
	for (unsigned t = 0; t < 256; t++) {
		pkt[0] = (uint8_t)t;
		assert_int_equal(probe_pair_id(pkt, sizeof(pkt), id), t == WIRE_PROBE);
	}
	for (int i = 1; i < 4; i++) {
		pkt[i] = 1;
		assert_false(probe_pair_id(pkt, sizeof(pkt), id));
		pkt[i] = 0;
	}
}

/* Seals raw payload bytes under k as probe_build would: the tag is valid,
 * so only the field checks can refuse it. */
static void seal_raw(const struct probe_key *k, const uint8_t raw[PROBE_PAYLOAD_LEN],
		     uint8_t pkt[PROBE_LEN])
{
	memset(pkt, 0, PROBE_LEN);
	pkt[0] = WIRE_PROBE;
	memcpy(pkt + 4, k->pair_id, PROBE_PAIR_ID_LEN);
	randombytes_buf(pkt + 12, PROBE_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
	    pkt + PROBE_HEADER_LEN, pkt + PROBE_HEADER_LEN + PROBE_PAYLOAD_LEN, NULL, raw,
	    PROBE_PAYLOAD_LEN, pkt, PROBE_HEADER_LEN, NULL, pkt + 12, k->key);
}

static void test_probe_open_malformed_payload(void **state)
{
	/* A valid reply: kind 2, flags 0, 0 0, tx_id 0x0807060504030201,
	 * sender time 1000 (0x3e8), observed v4 192.0.2.1:51820 (0xca6c). */
	static const uint8_t good[PROBE_PAYLOAD_LEN] = {
	    2, 0, 0,	0,    1,   2, 3, 4, 5, 6, 7, 8, 0xe8, 0x03, 0, 0, 0, 0, 0, 0,
	    4, 0, 0xca, 0x6c, 192, 0, 2, 1, 0, 0, 0, 0, 0,    0,    0, 0, 0, 0, 0, 0,
	};
	/* Each row changes one byte of `good`; all authenticate, none is valid. */
	static const struct {
		size_t off;
		uint8_t val;
		const char *what;
	} bad[] = {
	    {0, 0, "kind 0"},
	    {0, 5, "kind 5"},
	    {0, 1, "request with an observed address"},
	    {0, 3, "heartbeat with an observed address"},
	    {1, 1, "flags set"},
	    {2, 1, "reserved byte 2"},
	    {3, 0x80, "reserved byte 3"},
	    {20, 5, "address family 5"},
	    {20, 0, "family none with an address"},
	    {21, 1, "address reserved byte"},
	    {28, 1, "IPv4 with bytes past the address"},
	    {39, 1, "IPv4 with the last byte set"},
	};
	struct probe_payload out, sentinel;
	uint8_t raw[PROBE_PAYLOAD_LEN], pkt[PROBE_LEN];

	derive_pair();
	seal_raw(&ab, good, pkt);
	assert_true(probe_open(&ba, pkt, sizeof(pkt), &out));
	assert_int_equal(out.kind, PROBE_REPLY);
	assert_true(out.tx_id == 0x0807060504030201ull);
	assert_true(out.sender_time_ms == 1000);
	assert_int_equal(out.observed.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&out.observed)->sin_port), 51820);

	memset(&sentinel, 0x11, sizeof(sentinel));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(raw, good, sizeof(raw));
		raw[bad[i].off] = bad[i].val;
		seal_raw(&ab, raw, pkt);
		out = sentinel;
		if (probe_open(&ba, pkt, sizeof(pkt), &out))
			fail_msg("accepted: %s", bad[i].what);
		assert_memory_equal(&out, &sentinel, sizeof(out));
	}
	/* Two-byte edits: port 0, and 192.0.2.1 as v4-mapped family 6 (an IPv4
	 * address has one encoding, family 4, as in the signalling messages). */
	memcpy(raw, good, sizeof(raw));
	raw[22] = raw[23] = 0;
	seal_raw(&ab, raw, pkt);
	out = sentinel;
	assert_false(probe_open(&ba, pkt, sizeof(pkt), &out));
	assert_memory_equal(&out, &sentinel, sizeof(out));
	memcpy(raw, good, sizeof(raw));
	raw[20] = 6;
	memset(raw + 24, 0, 16);
	raw[34] = raw[35] = 0xff;
	memcpy(raw + 36, good + 24, 4);
	seal_raw(&ab, raw, pkt);
	out = sentinel;
	assert_false(probe_open(&ba, pkt, sizeof(pkt), &out));
	assert_memory_equal(&out, &sentinel, sizeof(out));
	/* The same bytes with ::fffe: plain IPv6, accepted. */
	raw[35] = 0xfe;
	seal_raw(&ab, raw, pkt);
	assert_true(probe_open(&ba, pkt, sizeof(pkt), &out));
	assert_int_equal(out.observed.ss_family, AF_INET6);
	/* A request with no address at all is fine. */
	memset(raw, 0, sizeof(raw));
	raw[0] = PROBE_REQUEST;
	seal_raw(&ab, raw, pkt);
	assert_true(probe_open(&ba, pkt, sizeof(pkt), &out));
	assert_int_equal(out.observed.ss_family, AF_UNSPEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_probe_key_derive_both_sides),
	    cmocka_unit_test(test_probe_key_derive_matches_formula),
	    cmocka_unit_test(test_probe_key_derive_low_order),
	    cmocka_unit_test(test_probe_build_round_trip),
	    cmocka_unit_test(test_probe_open_tampered),
	    cmocka_unit_test(test_probe_open_wrong_key),
	    cmocka_unit_test(test_probe_open_lengths),
	    cmocka_unit_test(test_probe_pair_id_header),
	    cmocka_unit_test(test_probe_open_malformed_payload),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
