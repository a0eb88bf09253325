/* Inner packet checks (SECURITY-NOTES 6.9): a numbered table of IPv4 and IPv6
 * headers walking each length rule to its edge (one byte short, exact, one
 * byte over), the version nibble, padding trimmed to the stated length, and
 * truncation; then rt_packet_dst, and the allowed-IPs source check a
 * decrypted packet goes through. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "routing/allowedips.h"
#include "routing/inner.h"

#define N(x) (sizeof(x) / sizeof((x)[0]))

enum { BUF = 65536 };

/* One case: a header built from these fields, handed over as `len` bytes. */
struct inner_case {
	int version;	    /* the nibble written */
	int ihl;	    /* IPv4 header words */
	unsigned len_field; /* IPv4 total length, or IPv6 payload length */
	size_t len;	    /* bytes passed to the parser */
	enum rt_inner_drop want;
	size_t want_ip_len;
};

static uint8_t pkt[BUF];

/* Fills pkt: addresses 192.0.2.1 -> 198.51.100.2 or 2001:db8::1 -> 2001:db8::2
 * and a payload of 0xaa, so a parser reading the wrong field notices. */
static void build(const struct inner_case *c)
{
	memset(pkt, 0xaa, sizeof(pkt));
	pkt[0] = (uint8_t)(c->version << 4 | (c->ihl & 0x0f));
	if (c->version == 6) {
		pkt[0] = 0x60;
		pkt[4] = (uint8_t)(c->len_field >> 8);
		pkt[5] = (uint8_t)c->len_field;
		assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", pkt + 8), 1);
		assert_int_equal(inet_pton(AF_INET6, "2001:db8::2", pkt + 24), 1);
	} else {
		pkt[2] = (uint8_t)(c->len_field >> 8);
		pkt[3] = (uint8_t)c->len_field;
		assert_int_equal(inet_pton(AF_INET, "192.0.2.1", pkt + 12), 1);
		assert_int_equal(inet_pton(AF_INET, "198.51.100.2", pkt + 16), 1);
	}
}

static const struct inner_case cases[] = {
    /* IPv4 */
    /* 1 */ {4, 5, 20, 20, RT_INNER_OK, 20},	      /* bare header */
    /* 2 */ {4, 5, 84, 84, RT_INNER_OK, 84},	      /* ping-sized */
    /* 3 */ {4, 5, 21, 32, RT_INNER_OK, 21},	      /* padded to 16: trimmed */
    /* 4 */ {4, 6, 24, 24, RT_INNER_OK, 24},	      /* one word of options */
    /* 5 */ {4, 15, 60, 64, RT_INNER_OK, 60},	      /* longest header */
    /* 6 */ {4, 5, 65535, 65535, RT_INNER_OK, 65535}, /* largest packet */
    /* 7 */ {4, 5, 19, 20, RT_INNER_BAD_LENGTH, 0},   /* tot_len < 20 */
    /* 8 */ {4, 5, 0, 20, RT_INNER_BAD_LENGTH, 0},
    /* 9 */ {4, 5, 33, 32, RT_INNER_BAD_LENGTH, 0}, /* tot_len > len by one */
    /* 10 */ {4, 5, 65535, 1500, RT_INNER_BAD_LENGTH, 0},
    /* 11 */ {4, 15, 59, 64, RT_INNER_BAD_LENGTH, 0}, /* tot_len < ihl * 4 */
    /* 12 */ {4, 6, 23, 24, RT_INNER_BAD_LENGTH, 0},
    /* 13 */ {4, 4, 20, 20, RT_INNER_BAD_IHL, 0}, /* ihl < 5 */
    /* 14 */ {4, 0, 20, 20, RT_INNER_BAD_IHL, 0},
    /* 15 */ {4, 5, 20, 19, RT_INNER_TOO_SHORT, 0}, /* truncated header */
    /* 16 */ {4, 5, 20, 1, RT_INNER_TOO_SHORT, 0},
    /* 17 */ {4, 5, 20, 0, RT_INNER_TOO_SHORT, 0}, /* empty */
						   /* Version nibble */
    /* 18 */ {0, 5, 20, 40, RT_INNER_BAD_VERSION, 0},
    /* 19 */ {5, 5, 20, 40, RT_INNER_BAD_VERSION, 0},
    /* 20 */ {15, 5, 20, 40, RT_INNER_BAD_VERSION, 0},
    /* 21 */ {1, 5, 20, 1, RT_INNER_BAD_VERSION, 0},
    /* IPv6 */
    /* 22 */ {6, 0, 0, 40, RT_INNER_OK, 40}, /* no payload */
    /* 23 */ {6, 0, 8, 48, RT_INNER_OK, 48},
    /* 24 */ {6, 0, 8, 64, RT_INNER_OK, 48}, /* padding trimmed */
    /* 25 */ {6, 0, 65495, 65535, RT_INNER_OK, 65535},
    /* 26 */ {6, 0, 9, 48, RT_INNER_V6_LENGTH, 0}, /* payload past the data */
    /* 27 */ {6, 0, 65535, 1280, RT_INNER_V6_LENGTH, 0},
    /* 28 */ {6, 0, 0, 39, RT_INNER_TOO_SHORT, 0}, /* truncated header */
    /* 29 */ {6, 0, 0, 1, RT_INNER_TOO_SHORT, 0},
};

static void test_rt_inner_parse_table(void **state)
{
	for (size_t i = 0; i < N(cases); i++) {
		const struct inner_case *c = &cases[i];
		struct rt_inner in;
		bool ok;

		build(c);
		ok = rt_inner_parse(pkt, c->len, &in);
		if (ok != (c->want == RT_INNER_OK) || in.drop != c->want)
			fail_msg("case %zu: ok=%d drop=%s, want %s", i + 1, ok,
				 rt_inner_drop_str(in.drop), rt_inner_drop_str(c->want));
		if (!ok)
			continue;
		assert_int_equal(in.ip_len, c->want_ip_len);
		if (c->version == 4) {
			assert_int_equal(in.family, AF_INET);
			assert_ptr_equal(in.src, pkt + 12);
			assert_ptr_equal(in.dst, pkt + 16);
		} else {
			assert_int_equal(in.family, AF_INET6);
			assert_ptr_equal(in.src, pkt + 8);
			assert_ptr_equal(in.dst, pkt + 24);
		}
	}
}

static void test_rt_inner_parse_unaligned(void **state)
{
	/* The packet starts at an odd offset of the decryption buffer. */
	static const struct inner_case c = {4, 5, 28, 28, RT_INNER_OK, 28};
	uint8_t buf[64];
	struct rt_inner in;

	build(&c);
	memcpy(buf + 1, pkt, 28);
	assert_true(rt_inner_parse(buf + 1, 28, &in));
	assert_int_equal(in.ip_len, 28);
	assert_ptr_equal(in.dst, buf + 1 + 16);
	assert_false(rt_inner_parse(buf + 1, 27, &in));
	assert_int_equal(in.drop, RT_INNER_BAD_LENGTH);
}

static void test_rt_packet_dst(void **state)
{
	static const struct {
		int version;
		size_t len;
		bool ok;
	} rows[] = {
	    /* 1 */ {4, 20, true},
	    /* 2 */ {4, 19, false},
	    /* 3 */ {6, 40, true},
	    /* 4 */ {6, 39, false},
	    /* 5 */ {5, 40, false},
	    /* 6 */ {0, 40, false},
	    /* 7 */ {4, 0, false},
	};

	for (size_t i = 0; i < N(rows); i++) {
		struct inner_case c = {rows[i].version, 5, 20, rows[i].len, RT_INNER_OK, 0};
		const uint8_t *dst = NULL;
		int family = -1;
		bool ok;

		build(&c);
		ok = rt_packet_dst(pkt, rows[i].len, &family, &dst);
		if (ok != rows[i].ok)
			fail_msg("row %zu: ok=%d", i + 1, ok);
		if (!ok)
			continue;
		assert_int_equal(family, rows[i].version == 4 ? AF_INET : AF_INET6);
		assert_ptr_equal(dst, pkt + (rows[i].version == 4 ? 16 : 24));
	}
}

/* A decrypted packet is accepted only when its source maps back to the
 * sending peer. */
static void test_rt_inner_parse_source_check(void **state)
{
	static const struct inner_case c4 = {4, 5, 20, 20, RT_INNER_OK, 20};
	static const struct inner_case c6 = {6, 0, 0, 40, RT_INNER_OK, 40};
	int bob, eve;
	struct rt_table t;
	struct rt_inner in;
	uint8_t a[16] = {0};

	rt_table_init(&t);
	assert_int_equal(inet_pton(AF_INET, "192.0.2.0", a), 1);
	assert_int_equal(rt_insert(&t, AF_INET, a, 24, &bob), 0);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::", a), 1);
	assert_int_equal(rt_insert(&t, AF_INET6, a, 64, &eve), 0);

	build(&c4);
	assert_true(rt_inner_parse(pkt, 20, &in));
	assert_ptr_equal(rt_lookup(&t, in.family, in.src), &bob);
	/* Spoofed source outside bob's allowed IPs. */
	assert_int_equal(inet_pton(AF_INET, "203.0.113.9", pkt + 12), 1);
	assert_true(rt_inner_parse(pkt, 20, &in));
	assert_null(rt_lookup(&t, in.family, in.src));

	build(&c6);
	assert_true(rt_inner_parse(pkt, 40, &in));
	assert_ptr_equal(rt_lookup(&t, in.family, in.src), &eve);
	assert_ptr_not_equal(rt_lookup(&t, in.family, in.src), &bob);
	rt_table_cleanup(&t);
}

static void test_rt_inner_drop_str(void **state)
{
	for (int i = 0; i < RT_INNER_DROP_MAX; i++) {
		assert_non_null(rt_inner_drop_str(i));
		for (int k = 0; k < i; k++)
			assert_string_not_equal(rt_inner_drop_str(i), rt_inner_drop_str(k));
	}
	assert_string_equal(rt_inner_drop_str(RT_INNER_DROP_MAX), "unknown");
	assert_string_equal(rt_inner_drop_str((enum rt_inner_drop) - 1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rt_inner_parse_table),
	    cmocka_unit_test(test_rt_inner_parse_unaligned),
	    cmocka_unit_test(test_rt_packet_dst),
	    cmocka_unit_test(test_rt_inner_parse_source_check),
	    cmocka_unit_test(test_rt_inner_drop_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
