/* Socket addresses (util/addr.h). The helpers: port get and set, lengths,
 * v4-mapped conversion both ways (in place too), equality with and without
 * the port (scope ids, v4-mapped against AF_INET, other families) and the
 * text form (every family, port 0, short buffers). The candidate rules:
 * every refused class with its edges on both sides, the allowed ranges the
 * lab and LANs use (private, documentation, unique-local), port 0,
 * v4-mapped and v4-compatible IPv6, and the own-address rule (any port,
 * v4-mapped own entries). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sockaddr_fill.h"

#include "util/addr.h"

static void set_scope(struct sockaddr_storage *ss, uint32_t scope)
{
	((struct sockaddr_in6 *)ss)->sin6_scope_id = scope;
}

static void test_addr_is_ip_families(void **state)
{
	struct sockaddr_storage ss;

	sockaddr_fill(&ss, "192.0.2.1", 1);
	assert_true(addr_is_ip(&ss));
	sockaddr_fill(&ss, "2001:db8::1", 1);
	assert_true(addr_is_ip(&ss));
	memset(&ss, 0, sizeof(ss));
	assert_false(addr_is_ip(&ss));
	ss.ss_family = AF_UNIX;
	assert_false(addr_is_ip(&ss));
}

static void test_addr_is_any_forms(void **state)
{
	static const struct {
		const char *ip;
		bool any;
	} cases[] = {
	    {"0.0.0.0", true},	   {"::", true},
	    {"0.0.0.1", false},	   {"192.0.2.1", false},
	    {"::1", false},	   {"::ffff:0.0.0.0", false},
	    {"2001:db8::", false}, {"255.255.255.255", false},
	};
	struct sockaddr_storage ss;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sockaddr_fill(&ss, cases[i].ip, 3478);
		if (addr_is_any(&ss) != cases[i].any)
			fail_msg("%s: addr_is_any should be %d", cases[i].ip, cases[i].any);
		addr_set_port(&ss, 0);
		assert_int_equal(addr_is_any(&ss), cases[i].any);
	}
	memset(&ss, 0, sizeof(ss));
	assert_false(addr_is_any(&ss));
	ss.ss_family = AF_UNIX;
	assert_false(addr_is_any(&ss));
}

static void test_addr_from_ip_families(void **state)
{
	static const uint8_t v4[4] = {192, 0, 2, 7};
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 9};
	struct sockaddr_storage ss, want, zero;

	memset(&zero, 0, sizeof(zero));
	memset(&ss, 0xa5, sizeof(ss));
	assert_true(addr_from_ip(&ss, AF_INET, v4, 51820));
	sockaddr_fill(&want, "192.0.2.7", 51820);
	/* The whole storage: the rest must be zero, not left as it was. */
	assert_memory_equal(&ss, &want, sizeof(ss));
	assert_int_equal(addr_len(&ss), sizeof(struct sockaddr_in));

	memset(&ss, 0xa5, sizeof(ss));
	assert_true(addr_from_ip(&ss, AF_INET6, v6, 1));
	sockaddr_fill(&want, "2001:db8::9", 1);
	assert_memory_equal(&ss, &want, sizeof(ss));

	memset(&ss, 0xa5, sizeof(ss));
	assert_false(addr_from_ip(&ss, AF_UNIX, v6, 1));
	assert_memory_equal(&ss, &zero, sizeof(ss));
	memset(&ss, 0xa5, sizeof(ss));
	assert_false(addr_from_ip(&ss, AF_UNSPEC, v4, 1));
	assert_memory_equal(&ss, &zero, sizeof(ss));
}

static void test_addr_port_get_set(void **state)
{
	static const char *const ips[] = {"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1"};
	static const uint16_t ports[] = {0, 1, 3478, 51820, 65535};
	struct sockaddr_storage ss, before;

	for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		for (size_t k = 0; k < sizeof(ports) / sizeof(ports[0]); k++) {
			sockaddr_fill(&ss, ips[i], ports[k]);
			assert_int_equal(addr_port(&ss), ports[k]);
			addr_set_port(&ss, (uint16_t)(ports[k] ^ 0x1234));
			assert_int_equal(addr_port(&ss), ports[k] ^ 0x1234);
			/* Only the port changed, in network byte order. */
			sockaddr_fill(&before, ips[i], (uint16_t)(ports[k] ^ 0x1234));
			assert_memory_equal(&ss, &before, sizeof(ss));
		}
	}
	/* A family without a port: 0, and setting one changes nothing. */
	memset(&ss, 0xab, sizeof(ss));
	ss.ss_family = AF_UNIX;
	before = ss;
	assert_int_equal(addr_port(&ss), 0);
	addr_set_port(&ss, 80);
	assert_memory_equal(&ss, &before, sizeof(ss));
	memset(&ss, 0, sizeof(ss));
	assert_int_equal(addr_port(&ss), 0);
}

static void test_addr_len_families(void **state)
{
	struct sockaddr_storage ss;

	sockaddr_fill(&ss, "192.0.2.1", 1);
	assert_int_equal(addr_len(&ss), sizeof(struct sockaddr_in));
	sockaddr_fill(&ss, "2001:db8::1", 1);
	assert_int_equal(addr_len(&ss), sizeof(struct sockaddr_in6));
	sockaddr_fill(&ss, "::ffff:192.0.2.1", 1);
	assert_int_equal(addr_len(&ss), sizeof(struct sockaddr_in6));
	memset(&ss, 0, sizeof(ss));
	assert_int_equal(addr_len(&ss), 0);
	ss.ss_family = AF_UNIX;
	assert_int_equal(addr_len(&ss), 0);
}

static void test_addr_unmap_v4_forms(void **state)
{
	struct sockaddr_storage ss, want;

	/* ::ffff:a.b.c.d becomes a.b.c.d with its port, the rest zeroed
	 * (scope id included). */
	sockaddr_fill(&ss, "::ffff:198.51.100.7", 51820);
	set_scope(&ss, 3);
	assert_true(addr_is_v4_mapped(&ss));
	addr_unmap_v4(&ss);
	sockaddr_fill(&want, "198.51.100.7", 51820);
	assert_memory_equal(&ss, &want, sizeof(ss));
	assert_false(addr_is_v4_mapped(&ss));
	/* Already AF_INET: untouched; unmapping twice is unmapping once. */
	addr_unmap_v4(&ss);
	assert_memory_equal(&ss, &want, sizeof(ss));
	/* Port 0 survives. */
	sockaddr_fill(&ss, "::ffff:0.0.0.0", 0);
	addr_unmap_v4(&ss);
	sockaddr_fill(&want, "0.0.0.0", 0);
	assert_memory_equal(&ss, &want, sizeof(ss));
	/* Neighbours of the prefix are IPv6 and stay so: v4-compatible,
	 * ::fffe:..., ::1, a plain address with a scope id. */
	static const char *const v6[] = {"::198.51.100.7", "::fffe:c633:6407", "::1",
					 "2001:db8::ffff:c633:6407", "fe80::1"};
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		sockaddr_fill(&ss, v6[i], 5);
		set_scope(&ss, 2);
		want = ss;
		assert_false(addr_is_v4_mapped(&ss));
		addr_unmap_v4(&ss);
		assert_memory_equal(&ss, &want, sizeof(ss));
	}
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	want = ss;
	assert_false(addr_is_v4_mapped(&ss));
	addr_unmap_v4(&ss);
	assert_memory_equal(&ss, &want, sizeof(ss));
}

static void test_addr_map_v4_forms(void **state)
{
	struct sockaddr_storage in, out, want;

	sockaddr_fill(&in, "198.51.100.7", 51820);
	memset(&out, 0xab, sizeof(out));
	addr_map_v4(&out, &in);
	sockaddr_fill(&want, "::ffff:198.51.100.7", 51820);
	assert_memory_equal(&out, &want, sizeof(out));
	assert_true(addr_is_v4_mapped(&out));
	/* In place, and back again. */
	addr_map_v4(&in, &in);
	assert_memory_equal(&in, &want, sizeof(in));
	addr_unmap_v4(&in);
	sockaddr_fill(&want, "198.51.100.7", 51820);
	assert_memory_equal(&in, &want, sizeof(in));
	/* Port 0. */
	sockaddr_fill(&in, "192.0.2.1", 0);
	addr_map_v4(&out, &in);
	sockaddr_fill(&want, "::ffff:192.0.2.1", 0);
	assert_memory_equal(&out, &want, sizeof(out));
	/* IPv6 (with its scope id), v4-mapped and other families are copied. */
	sockaddr_fill(&in, "fe80::1", 5);
	set_scope(&in, 4);
	addr_map_v4(&out, &in);
	assert_memory_equal(&out, &in, sizeof(out));
	addr_map_v4(&in, &in);
	assert_memory_equal(&out, &in, sizeof(out));
	sockaddr_fill(&in, "::ffff:192.0.2.1", 5);
	addr_map_v4(&out, &in);
	assert_memory_equal(&out, &in, sizeof(out));
	memset(&in, 0x5a, sizeof(in));
	in.ss_family = AF_UNIX;
	addr_map_v4(&out, &in);
	assert_memory_equal(&out, &in, sizeof(out));
}

/* Two addresses from text, with a scope id for IPv6 ones. */
struct pair {
	const char *a;
	uint16_t pa;
	uint32_t sa;
	const char *b;
	uint16_t pb;
	uint32_t sb;
	bool equal, equal_host;
};

static void fill_scoped(struct sockaddr_storage *ss, const char *ip, uint16_t port, uint32_t scope)
{
	sockaddr_fill(ss, ip, port);
	if (ss->ss_family == AF_INET6)
		set_scope(ss, scope);
}

static void test_addr_equal_pairs(void **state)
{
	static const struct pair cases[] = {
	    /* 0 */ {"192.0.2.1", 5, 0, "192.0.2.1", 5, 0, true, true},
	    /* 1 */ {"192.0.2.1", 5, 0, "192.0.2.1", 6, 0, false, true},
	    /* 2 */ {"192.0.2.1", 5, 0, "192.0.2.2", 5, 0, false, false},
	    /* 3 */ {"192.0.2.1", 0, 0, "192.0.2.1", 0, 0, true, true},
	    /* 4 */ {"192.0.2.1", 0, 0, "192.0.2.1", 1, 0, false, true},
	    /* 5 */ {"2001:db8::1", 5, 0, "2001:db8::1", 5, 0, true, true},
	    /* 6 */ {"2001:db8::1", 5, 0, "2001:db8::1", 6, 0, false, true},
	    /* 7 */ {"2001:db8::1", 5, 0, "2001:db8::2", 5, 0, false, false},
	    /* 8 */ {"fe80::1", 5, 2, "fe80::1", 5, 2, true, true},
	    /* 9 */ {"fe80::1", 5, 2, "fe80::1", 5, 3, false, true},
	    /* 10 */ {"fe80::1", 5, 0, "fe80::1", 5, 3, false, true},
	    /* 11: a v4-mapped address is its AF_INET form only as a host. */
	    {"::ffff:192.0.2.1", 5, 0, "192.0.2.1", 5, 0, false, true},
	    /* 12 */ {"::ffff:192.0.2.1", 5, 0, "192.0.2.2", 5, 0, false, false},
	    /* 13 */ {"::ffff:192.0.2.1", 5, 0, "::ffff:192.0.2.1", 9, 0, false, true},
	    /* 14: v4-compatible is not v4-mapped. */
	    {"::192.0.2.1", 5, 0, "192.0.2.1", 5, 0, false, false},
	    /* 15: the first bytes of an IPv6 address are not an IPv4 one. */
	    {"c000:201::", 5, 0, "192.0.2.1", 5, 0, false, false},
	    /* 16 */ {"::", 0, 0, "0.0.0.0", 0, 0, false, false},
	};
	struct sockaddr_storage a, b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pair *c = &cases[i];

		fill_scoped(&a, c->a, c->pa, c->sa);
		fill_scoped(&b, c->b, c->pb, c->sb);
		if (addr_equal(&a, &b) != c->equal || addr_equal(&b, &a) != c->equal)
			fail_msg("case %zu: addr_equal should be %d", i, c->equal);
		if (addr_equal_host(&a, &b) != c->equal_host ||
		    addr_equal_host(&b, &a) != c->equal_host)
			fail_msg("case %zu: addr_equal_host should be %d", i, c->equal_host);
		assert_true(addr_equal(&a, &a));
		assert_true(addr_equal_host(&a, &a));
	}
	/* Families without an address are equal to nothing, not even
	 * themselves. */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_false(addr_equal(&a, &b));
	assert_false(addr_equal_host(&a, &b));
	a.ss_family = b.ss_family = AF_UNIX;
	assert_false(addr_equal(&a, &b));
	assert_false(addr_equal_host(&a, &b));
	sockaddr_fill(&b, "192.0.2.1", 5);
	assert_false(addr_equal(&a, &b));
	assert_false(addr_equal_host(&a, &b));
}

static void test_addr_format_forms(void **state)
{
	static const struct {
		const char *ip;
		uint16_t port;
		uint32_t scope;
		const char *text;
	} cases[] = {
	    {"192.0.2.1", 51820, 0, "192.0.2.1:51820"},
	    {"0.0.0.0", 0, 0, "0.0.0.0:0"},
	    {"255.255.255.255", 65535, 0, "255.255.255.255:65535"},
	    {"2001:db8::1", 51820, 0, "[2001:db8::1]:51820"},
	    {"::1", 5, 0, "[::1]:5"},
	    {"::", 0, 0, "[::]:0"},
	    {"::ffff:192.0.2.1", 3478, 0, "[::ffff:192.0.2.1]:3478"},
	    {"fe80::1", 5, 7, "[fe80::1]:5"}, /* the scope id is not shown */
	    {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 65535, 0,
	     "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535"},
	};
	struct sockaddr_storage ss;
	char buf[ADDR_STRLEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fill_scoped(&ss, cases[i].ip, cases[i].port, cases[i].scope);
		assert_ptr_equal(addr_format(buf, sizeof(buf), &ss), buf);
		assert_string_equal(buf, cases[i].text);
	}
	memset(&ss, 0, sizeof(ss));
	assert_string_equal(addr_format(buf, sizeof(buf), &ss), "(none)");
	ss.ss_family = AF_UNIX;
	assert_string_equal(addr_format(buf, sizeof(buf), &ss), "(none)");
}

static void test_addr_format_short_buffers(void **state)
{
	struct sockaddr_storage ss;
	char buf[ADDR_STRLEN + 2];
	char big[ADDR_STRLEN];

	/* The longest text fits ADDR_STRLEN with its NUL. */
	sockaddr_fill(&ss, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	addr_format(big, sizeof(big), &ss);
	assert_string_equal(big, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	assert_true(strlen(big) < ADDR_STRLEN);
	/* Cut to size - 1 and terminated; nothing written past size. */
	for (size_t size = 1; size <= strlen(big) + 1; size++) {
		memset(buf, 'x', sizeof(buf));
		addr_format(buf, size, &ss);
		assert_int_equal(strlen(buf), size - 1);
		assert_memory_equal(buf, big, size - 1);
		assert_int_equal(buf[size], 'x');
	}
	sockaddr_fill(&ss, "192.0.2.1", 51820);
	memset(buf, 'x', sizeof(buf));
	assert_string_equal(addr_format(buf, 8, &ss), "192.0.2");
	assert_int_equal(buf[8], 'x');
	/* Size 0 writes nothing. */
	memset(buf, 'x', sizeof(buf));
	addr_format(buf, 0, &ss);
	assert_int_equal(buf[0], 'x');
	/* Two addresses in one call each keep their own text. */
	{
		struct sockaddr_storage a, b;
		char ta[ADDR_STRLEN], tb[ADDR_STRLEN], line[2 * ADDR_STRLEN + 16];

		sockaddr_fill(&a, "192.0.2.1", 1);
		sockaddr_fill(&b, "2001:db8::2", 2);
		snprintf(line, sizeof(line), "from %s to %s", addr_format(ta, sizeof(ta), &a),
			 addr_format(tb, sizeof(tb), &b));
		assert_string_equal(line, "from 192.0.2.1:1 to [2001:db8::2]:2");
	}
}

static void test_addr_candidate_ok_classes(void **state)
{
	static const struct {
		const char *ip;
		enum addr_reason why;
	} cases[] = {
	    /* Allowed: public, private, documentation, unique-local. */
	    {"198.51.100.7", ADDR_OK},
	    {"192.0.2.1", ADDR_OK},
	    {"203.0.113.254", ADDR_OK},
	    {"10.0.0.1", ADDR_OK},
	    {"172.16.0.1", ADDR_OK},
	    {"172.31.255.254", ADDR_OK},
	    {"192.168.1.1", ADDR_OK},
	    {"1.0.0.1", ADDR_OK},	  /* just past 0/8 */
	    {"126.255.255.255", ADDR_OK}, /* just before 127/8 */
	    {"128.0.0.1", ADDR_OK},	  /* just past it */
	    {"169.253.255.255", ADDR_OK}, /* around 169.254/16 */
	    {"169.255.0.1", ADDR_OK},
	    {"223.255.255.254", ADDR_OK}, /* just before 224/4 */
	    {"2001:db8::1", ADDR_OK},
	    {"fc00::1", ADDR_OK},
	    {"fd12:3456::1", ADDR_OK},
	    {"fec0::1", ADDR_OK}, /* just past fe80::/10 */
	    {"feff::1", ADDR_OK},
	    {"::1:0:0:1", ADDR_OK},	   /* outside ::/96 and ::ffff:0:0/96 */
	    {"::fffe:c633:6407", ADDR_OK}, /* next to the v4-mapped prefix */
	    {"64:ff9b::c633:6407", ADDR_OK},
	    /* Refused. */
	    {"0.0.0.0", ADDR_UNSPECIFIED},
	    {"0.0.0.1", ADDR_THIS_NETWORK},
	    {"0.255.255.255", ADDR_THIS_NETWORK},
	    {"127.0.0.1", ADDR_LOOPBACK},
	    {"127.255.255.254", ADDR_LOOPBACK},
	    {"169.254.0.1", ADDR_LINK_LOCAL},
	    {"169.254.255.254", ADDR_LINK_LOCAL},
	    {"224.0.0.1", ADDR_MULTICAST},
	    {"239.255.255.250", ADDR_MULTICAST},
	    {"240.0.0.1", ADDR_RESERVED},
	    {"255.255.255.254", ADDR_RESERVED},
	    {"255.255.255.255", ADDR_BROADCAST},
	    {"::", ADDR_UNSPECIFIED},
	    {"::1", ADDR_LOOPBACK},
	    {"ff02::1", ADDR_MULTICAST},
	    {"ff0e::1", ADDR_MULTICAST},
	    {"fe80::1", ADDR_LINK_LOCAL},
	    {"febf:ffff::1", ADDR_LINK_LOCAL},
	    {"::ffff:198.51.100.7", ADDR_V4_MAPPED},
	    {"::ffff:127.0.0.1", ADDR_V4_MAPPED},
	    {"::198.51.100.7", ADDR_V4_COMPAT},
	    {"::0.0.0.2", ADDR_V4_COMPAT},
	};
	struct sockaddr_storage ss;
	enum addr_reason why;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sockaddr_fill(&ss, cases[i].ip, 4000);
		why = ADDR_REASON_MAX;
		if (addr_candidate_ok(&ss, NULL, 0, &why) != (cases[i].why == ADDR_OK) ||
		    why != cases[i].why)
			fail_msg("%s: reason %s, expected %s", cases[i].ip, addr_reason_name(why),
				 addr_reason_name(cases[i].why));
		/* The reason is optional. */
		assert_int_equal(addr_candidate_ok(&ss, NULL, 0, NULL), cases[i].why == ADDR_OK);
	}
}

static void test_addr_candidate_ok_port_and_family(void **state)
{
	struct sockaddr_storage ss;
	enum addr_reason why;

	sockaddr_fill(&ss, "198.51.100.7", 0);
	assert_false(addr_candidate_ok(&ss, NULL, 0, &why));
	assert_int_equal(why, ADDR_PORT_ZERO);
	sockaddr_fill(&ss, "2001:db8::7", 0);
	assert_false(addr_candidate_ok(&ss, NULL, 0, &why));
	assert_int_equal(why, ADDR_PORT_ZERO);
	sockaddr_fill(&ss, "2001:db8::7", 1);
	assert_true(addr_candidate_ok(&ss, NULL, 0, &why));
	assert_int_equal(why, ADDR_OK);
	memset(&ss, 0, sizeof(ss));
	assert_false(addr_candidate_ok(&ss, NULL, 0, &why));
	assert_int_equal(why, ADDR_BAD_FAMILY);
	ss.ss_family = AF_UNIX;
	assert_false(addr_candidate_ok(&ss, NULL, 0, &why));
	assert_int_equal(why, ADDR_BAD_FAMILY);
}

static void test_addr_candidate_ok_own(void **state)
{
	struct sockaddr_storage own[3], ss;
	enum addr_reason why;

	sockaddr_fill(&own[0], "192.0.2.10", 3478);
	sockaddr_fill(&own[1], "::ffff:192.0.2.20", 3478); /* a dual-stack socket's view */
	sockaddr_fill(&own[2], "2001:db8::10", 3478);
	/* Own addresses on any port. */
	sockaddr_fill(&ss, "192.0.2.10", 51820);
	assert_false(addr_candidate_ok(&ss, own, 3, &why));
	assert_int_equal(why, ADDR_OWN);
	sockaddr_fill(&ss, "192.0.2.20", 3478);
	assert_false(addr_candidate_ok(&ss, own, 3, &why));
	assert_int_equal(why, ADDR_OWN);
	sockaddr_fill(&ss, "2001:db8::10", 1);
	assert_false(addr_candidate_ok(&ss, own, 3, &why));
	assert_int_equal(why, ADDR_OWN);
	/* Neighbours are not ours; without the list nothing is. */
	sockaddr_fill(&ss, "192.0.2.11", 3478);
	assert_true(addr_candidate_ok(&ss, own, 3, &why));
	sockaddr_fill(&ss, "2001:db8::11", 3478);
	assert_true(addr_candidate_ok(&ss, own, 3, &why));
	sockaddr_fill(&ss, "192.0.2.10", 3478);
	assert_true(addr_candidate_ok(&ss, own, 0, &why));
	assert_true(addr_candidate_ok(&ss, &own[1], 2, &why));
	/* An IPv6 address whose first bytes are an own IPv4 address. */
	sockaddr_fill(&ss, "c000:20a::", 3478);
	assert_true(addr_candidate_ok(&ss, own, 3, &why));
	/* The class reasons come first. */
	sockaddr_fill(&own[0], "127.0.0.1", 1);
	sockaddr_fill(&ss, "127.0.0.1", 1);
	assert_false(addr_candidate_ok(&ss, own, 1, &why));
	assert_int_equal(why, ADDR_LOOPBACK);
}

static void test_addr_reason_name_all(void **state)
{
	for (int i = 0; i < ADDR_REASON_MAX; i++) {
		assert_non_null(addr_reason_name((enum addr_reason)i));
		assert_string_not_equal(addr_reason_name((enum addr_reason)i), "?");
	}
	assert_string_equal(addr_reason_name(ADDR_REASON_MAX), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr_is_ip_families),
	    cmocka_unit_test(test_addr_is_any_forms),
	    cmocka_unit_test(test_addr_from_ip_families),
	    cmocka_unit_test(test_addr_port_get_set),
	    cmocka_unit_test(test_addr_len_families),
	    cmocka_unit_test(test_addr_unmap_v4_forms),
	    cmocka_unit_test(test_addr_map_v4_forms),
	    cmocka_unit_test(test_addr_equal_pairs),
	    cmocka_unit_test(test_addr_format_forms),
	    cmocka_unit_test(test_addr_format_short_buffers),
	    cmocka_unit_test(test_addr_candidate_ok_classes),
	    cmocka_unit_test(test_addr_candidate_ok_port_and_family),
	    cmocka_unit_test(test_addr_candidate_ok_own),
	    cmocka_unit_test(test_addr_reason_name_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
