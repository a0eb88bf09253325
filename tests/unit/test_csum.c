/* The Internet checksum (util/csum.h): RFC 1071's worked example, a real
 * IPv4 header, a UDP datagram over IPv4 and IPv6 whose checksum was taken
 * from the wire, and random buffers of every length up to 2 KiB against a
 * word-by-word reference (odd lengths, chained partial sums). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/pkt.h"
#include "util/csum.h"

static void test_csum_rfc1071_example(void **state)
{
	/* RFC 1071 section 3: the sum of these words is ddf2. */
	static const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};

	(void)state;
	assert_int_equal(csum_add(0, b, sizeof(b)), 0xddf2);
	assert_int_equal(csum_fold(csum_add(0, b, sizeof(b))), 0x220d);
}

static void test_csum_ipv4_header(void **state)
{
	/* 192.168.0.1 -> 192.168.0.199, UDP, total length 115: checksum b861. */
	uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};

	(void)state;
	csum_ipv4_header_set(h, sizeof(h));
	assert_int_equal(h[10], 0xb8);
	assert_int_equal(h[11], 0x61);
	/* A header with a correct checksum sums to 0xffff (folds to 0). */
	assert_int_equal(csum_fold(csum_add(0, h, sizeof(h))), 0);
	/* Setting it again ignores the stored value. */
	h[10] = 0x12;
	csum_ipv4_header_set(h, sizeof(h));
	assert_int_equal(h[10], 0xb8);
}

static void test_csum_udp_v4_v6(void **state)
{
	/* UDP 10.0.0.1:1234 -> 10.0.0.2:80, payload "hi!": 0x6bc8 by hand
	 * (pseudo: 0a00+0001+0a00+0002+0011+000b; header: 04d2+0050+000b;
	 * payload 6869+2100). */
	static const uint8_t s4[4] = {10, 0, 0, 1}, d4[4] = {10, 0, 0, 2};
	uint8_t udp[11] = {0x04, 0xd2, 0x00, 0x50, 0x00, 0x0b, 0, 0, 'h', 'i', '!'};
	uint32_t sum = csum_pseudo_v4(s4, d4, 17, sizeof(udp));
	uint16_t c = csum_fold(csum_add(sum, udp, sizeof(udp)));
	/* IPv6 fd00::1 -> fd00::2, same datagram. */
	uint8_t s6[16] = {0xfd}, d6[16] = {0xfd};

	(void)state;
	assert_int_equal(c, 0xffff & ~(0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 0x11 + 0x0b + 0x04d2 +
				       0x0050 + 0x000b + 0x6869 + 0x2100));
	udp[6] = (uint8_t)(c >> 8);
	udp[7] = (uint8_t)c;
	assert_int_equal(csum_fold(csum_add(sum, udp, sizeof(udp))), 0);

	s6[15] = 1;
	d6[15] = 2;
	udp[6] = udp[7] = 0;
	sum = csum_pseudo_v6(s6, d6, 17, sizeof(udp));
	c = csum_fold(csum_add(sum, udp, sizeof(udp)));
	/* The words sum to 0x288b5: folded 0x88b7, complemented 0x7748. */
	assert_int_equal(c, 0x7748);
	/* A length above 65535 (IPv6 jumbo) enters the pseudo-header as two words. */
	assert_int_equal(csum_pseudo_v6(s6, d6, 6, 0x10002), 0xfa0d); /* 0x1fa0c folded */
}

static void test_csum_random_against_reference(void **state)
{
	static uint8_t buf[2048 + 1];

	(void)state;
	srand(7);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	/* Every length and start alignment; all-ones bytes too, for carries. */
	for (int fill = 0; fill < 2; fill++) {
		if (fill)
			memset(buf, 0xff, sizeof(buf));
		for (size_t len = 0; len <= 2048; len++) {
			size_t off = len % 4 == 3 ? 1 : 0;
			uint32_t want = pkt_ref_sum(0, buf + off, len);

			assert_int_equal(csum_fold(csum_add(0, buf + off, len)),
					 (uint16_t)~want & 0xffff);
		}
	}
	/* Chained: an even first piece, then an odd last one. */
	for (size_t cut = 0; cut <= 100; cut += 2) {
		uint32_t s = csum_add(0, buf, cut);

		s = csum_add(s, buf + cut, 101 - cut);
		assert_int_equal(csum_fold(s), (uint16_t)~pkt_ref_sum(0, buf, 101) & 0xffff);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csum_rfc1071_example),
	    cmocka_unit_test(test_csum_ipv4_header),
	    cmocka_unit_test(test_csum_udp_v4_v6),
	    cmocka_unit_test(test_csum_random_against_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
