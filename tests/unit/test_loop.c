/* Our own datagrams among packets read from the TUN (routing/loop.h): UDP
 * from our port to the endpoint, in IPv4 and IPv6, whole and fragmented,
 * matches; any other port, address, protocol or family, and truncated
 * headers, do not. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "routing/loop.h"
#include "util/be.h"

enum { OUR_PORT = 51820, PEER_PORT = 51821 };

static uint8_t pkt[128];

static struct sockaddr_storage endpoint(int family, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		assert_int_equal(inet_pton(AF_INET, addr, &v4->sin_addr), 1);
		v4->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, &v6->sin6_addr), 1);
		v6->sin6_port = htons(port);
	}
	return ss;
}

/* IPv4 10.77.0.1 -> dst, protocol proto, fragment field frag, then ports;
 * returns the length. */
static size_t v4(const char *dst, uint8_t proto, uint16_t frag, uint16_t sport, uint16_t dport)
{
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x45;
	be16_put(pkt + 2, 48);
	be16_put(pkt + 6, frag);
	pkt[8] = 64;
	pkt[9] = proto;
	assert_int_equal(inet_pton(AF_INET, "10.77.0.1", pkt + 12), 1);
	assert_int_equal(inet_pton(AF_INET, dst, pkt + 16), 1);
	be16_put(pkt + 20, sport);
	be16_put(pkt + 22, dport);
	return 48;
}

/* IPv6 fd77::1 -> dst; with frag_off >= 0 a fragment header (offset in
 * 8-byte units) comes first. */
static size_t v6(const char *dst, uint8_t proto, int frag_off, uint16_t sport, uint16_t dport)
{
	size_t l4 = 40;

	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x60;
	pkt[6] = proto;
	pkt[7] = 64;
	assert_int_equal(inet_pton(AF_INET6, "fd77::1", pkt + 8), 1);
	assert_int_equal(inet_pton(AF_INET6, dst, pkt + 24), 1);
	if (frag_off >= 0) {
		pkt[6] = 44;
		pkt[40] = proto;
		be16_put(pkt + 42, (uint16_t)(frag_off << 3 | 1));
		l4 += 8;
	}
	be16_put(pkt + l4, sport);
	be16_put(pkt + l4 + 2, dport);
	return l4 + 8;
}

static bool ours(size_t len, const struct sockaddr_storage *ep)
{
	struct rt_udp u;

	return rt_udp_parse(pkt, len, &u) && rt_udp_is_ours_to(&u, OUR_PORT, ep);
}

static void test_rt_udp_is_ours_to_v4(void **state)
{
	struct sockaddr_storage ep = endpoint(AF_INET, "192.0.2.12", PEER_PORT);
	struct sockaddr_storage ep6 = endpoint(AF_INET6, "2001:db8::12", PEER_PORT);

	(void)state;
	assert_true(ours(v4("192.0.2.12", 17, 0, OUR_PORT, PEER_PORT), &ep));
	/* DF set, and a first fragment (MF, offset 0): the ports are there. */
	assert_true(ours(v4("192.0.2.12", 17, 0x4000, OUR_PORT, PEER_PORT), &ep));
	assert_true(ours(v4("192.0.2.12", 17, 0x2000, OUR_PORT, PEER_PORT), &ep));
	/* A later fragment: the address alone (its bytes are no ports). */
	assert_true(ours(v4("192.0.2.12", 17, 185, 1, 2), &ep));
	assert_false(ours(v4("192.0.2.13", 17, 185, 1, 2), &ep));
	/* Another sender's port, another destination port or address. */
	assert_false(ours(v4("192.0.2.12", 17, 0, OUR_PORT + 1, PEER_PORT), &ep));
	assert_false(ours(v4("192.0.2.12", 17, 0, OUR_PORT, PEER_PORT + 1), &ep));
	assert_false(ours(v4("192.0.2.13", 17, 0, OUR_PORT, PEER_PORT), &ep));
	/* TCP with the same ports, and the wrong family. */
	assert_false(ours(v4("192.0.2.12", 6, 0, OUR_PORT, PEER_PORT), &ep));
	assert_false(ours(v4("192.0.2.12", 17, 0, OUR_PORT, PEER_PORT), &ep6));
}

static void test_rt_udp_is_ours_to_v6(void **state)
{
	struct sockaddr_storage ep = endpoint(AF_INET6, "2001:db8::12", PEER_PORT);
	struct sockaddr_storage ep4 = endpoint(AF_INET, "192.0.2.12", PEER_PORT);

	(void)state;
	assert_true(ours(v6("2001:db8::12", 17, -1, OUR_PORT, PEER_PORT), &ep));
	assert_true(ours(v6("2001:db8::12", 17, 0, OUR_PORT, PEER_PORT), &ep));
	assert_true(ours(v6("2001:db8::12", 17, 181, 1, 2), &ep));
	assert_false(ours(v6("2001:db8::13", 17, 181, 1, 2), &ep));
	assert_false(ours(v6("2001:db8::12", 17, -1, OUR_PORT, PEER_PORT + 1), &ep));
	assert_false(ours(v6("2001:db8::12", 17, -1, OUR_PORT + 1, PEER_PORT), &ep));
	assert_false(ours(v6("2001:db8::12", 58, -1, OUR_PORT, PEER_PORT), &ep));
	assert_false(ours(v6("2001:db8::12", 6, 0, OUR_PORT, PEER_PORT), &ep));
	assert_false(ours(v6("2001:db8::12", 17, -1, OUR_PORT, PEER_PORT), &ep4));
}

static void test_rt_udp_parse_truncated(void **state)
{
	struct rt_udp u;
	size_t len;

	(void)state;
	len = v4("192.0.2.12", 17, 0, OUR_PORT, PEER_PORT);
	assert_true(rt_udp_parse(pkt, 24, &u));
	assert_false(rt_udp_parse(pkt, 23, &u)); /* ports cut */
	assert_false(rt_udp_parse(pkt, 19, &u)); /* header cut */
	pkt[0] = 0x4f;				 /* 60-byte header: past the data */
	assert_false(rt_udp_parse(pkt, len, &u));
	pkt[0] = 0x44; /* below the minimum */
	assert_false(rt_udp_parse(pkt, len, &u));
	pkt[0] = 0x55; /* not IP */
	assert_false(rt_udp_parse(pkt, len, &u));
	assert_false(rt_udp_parse(pkt, 0, &u));
	len = v6("2001:db8::12", 17, 0, OUR_PORT, PEER_PORT);
	assert_true(rt_udp_parse(pkt, 52, &u));
	assert_false(rt_udp_parse(pkt, 51, &u));
	assert_false(rt_udp_parse(pkt, 47, &u)); /* fragment header cut */
	assert_false(rt_udp_parse(pkt, 39, &u));
	(void)len;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rt_udp_is_ours_to_v4),
	    cmocka_unit_test(test_rt_udp_is_ours_to_v6),
	    cmocka_unit_test(test_rt_udp_parse_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
