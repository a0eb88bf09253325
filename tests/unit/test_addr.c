/* Candidate address rules (util/addr.h): every refused class with its
 * edges on both sides, the allowed ranges the lab and LANs use (private,
 * documentation, unique-local), port 0, v4-mapped and v4-compatible IPv6,
 * and the own-address rule (any port, v4-mapped own entries). */
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
	    cmocka_unit_test(test_addr_candidate_ok_classes),
	    cmocka_unit_test(test_addr_candidate_ok_port_and_family),
	    cmocka_unit_test(test_addr_candidate_ok_own),
	    cmocka_unit_test(test_addr_reason_name_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
