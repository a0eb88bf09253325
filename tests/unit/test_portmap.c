/* Port-mapping engine tests (portmap/engine.h) on a fake clock, against a
 * fake gateway built from the requests the engine sends: PCP mapping and
 * renewal at half the lifetime, renewal retries to expiry, a gateway with
 * nothing (3.5 s to "none answered", then again after 5 min), a NAT-PMP-only
 * gateway (both answer orders), a restarted gateway (epoch back: ANNOUNCE,
 * NAT-PMP address answer, renewal answer with another port), error answers,
 * spoofed and stray datagrams, and deletion on stop, answered or not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "portmap/engine.h"
#include "util/addr.h"
#include "util/be.h"

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

static struct pm_engine eng;
static struct pm_action act[PM_MAX_ACTIONS];
static struct sockaddr_storage gw;
static uint64_t now;

static int setup(void **state)
{
	struct pm_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.gateway = sa4("192.168.1.1", 0);
	cfg.client = sa4("192.168.1.10", 0);
	cfg.internal_port = 51820;
	cfg.protocol = PCP_PROTO_UDP;
	for (int i = 0; i < PCP_NONCE_LEN; i++)
		cfg.nonce[i] = (uint8_t)(0xa0 + i);
	pm_engine_init(&eng, &cfg);
	gw = sa4("192.168.1.1", 5351);
	now = 1000000;
	pm_start(&eng, now);
	return 0;
}

/* The fake gateway's PCP answer to the MAP request in a. */
static size_t pcp_answer(const struct pm_action *a, uint8_t result, uint32_t lifetime,
			 uint32_t epoch, uint16_t ext_port, uint8_t *out)
{
	assert_int_equal(a->type, PM_ACT_SEND);
	assert_int_equal(a->len, PCP_MAP_LEN);
	assert_int_equal(a->buf[0], 2);
	assert_int_equal(a->buf[1], PCP_OP_MAP);
	memcpy(out, a->buf, PCP_MAP_LEN);
	out[1] |= PCP_R_BIT;
	out[2] = 0;
	out[3] = result;
	be32_put(out + 4, lifetime);
	be32_put(out + 8, epoch);
	memset(out + 12, 0, 12);
	be16_put(out + 42, ext_port);
	memcpy(out + 44, (uint8_t[]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 100, 128, 77, 1},
	       16);
	return PCP_MAP_LEN;
}

static size_t expire(void)
{
	return pm_expire(&eng, now, act);
}

static size_t feed(const uint8_t *b, size_t len)
{
	return pm_on_datagram(&eng, &gw, b, len, now, act);
}

static const char *describe(void)
{
	static char buf[PM_DESCRIBE_LEN];

	return pm_describe(&eng, now, buf, sizeof(buf));
}

/* Maps with PCP: 40000 for lifetime s at epoch. */
static void map_pcp(uint32_t lifetime, uint32_t epoch)
{
	uint8_t b[PCP_MAP_LEN];
	struct sockaddr_storage want = sa4("100.128.77.1", 40000);

	assert_int_equal(expire(), 1);
	assert_true(addr_equal_host(&act[0].to, &gw));
	assert_int_equal(ntohs(((struct sockaddr_in *)&act[0].to)->sin_port), 5351);
	pcp_answer(&act[0], PCP_SUCCESS, lifetime, epoch, 40000, b);
	assert_int_equal(feed(b, sizeof(b)), 1);
	assert_int_equal(act[0].type, PM_ACT_MAPPED);
	assert_true(addr_equal(&act[0].external, &want));
	assert_int_equal(eng.state, PM_MAPPED);
}

static void test_pm_pcp_maps_and_renews(void **state)
{
	uint8_t b[PCP_MAP_LEN], first[PCP_MAP_LEN];

	map_pcp(3600, 100);
	assert_string_equal(describe(), "pcp 100.128.77.1:40000, renews in 1800 s");
	assert_int_equal(pm_next_deadline(&eng), now + 1800 * 1000);
	assert_int_equal(expire(), 0); /* nothing before */
	memcpy(first, act[0].buf, sizeof(first));
	now += 1800 * 1000;
	assert_int_equal(expire(), 1);
	/* The same nonce; the assigned port and address suggested. */
	assert_memory_equal(act[0].buf + 24, eng.cfg.nonce, PCP_NONCE_LEN);
	assert_int_equal(be16_get(act[0].buf + 42), 40000);
	assert_int_equal(act[0].buf[59], 1);
	assert_int_equal(be32_get(act[0].buf + 4), PM_LIFETIME_S);
	pcp_answer(&act[0], PCP_SUCCESS, 3600, 100 + 1800, 40000, b);
	now += 20;
	assert_int_equal(feed(b, sizeof(b)), 0); /* same mapping: nothing to report */
	assert_int_equal(pm_next_deadline(&eng), now + 1800 * 1000);
	assert_int_equal(eng.drops, 0);
}

static void test_pm_renewal_unanswered_expires(void **state)
{
	uint64_t expires;
	unsigned sends = 0;

	map_pcp(120, 7);
	expires = now + 120 * 1000;
	now += 60 * 1000;
	while (now < expires) {
		size_t n = expire();

		assert_int_equal(n, 1);
		assert_int_equal(act[0].type, PM_ACT_SEND);
		sends++;
		assert_true(pm_next_deadline(&eng) > now);
		assert_true(pm_next_deadline(&eng) <= expires);
		now = pm_next_deadline(&eng);
	}
	assert_string_equal(describe(), "pcp 100.128.77.1:40000, renewing (try 8), expires in 0 s");
	/* From 60 s: 250 ms doubling, 60.25 ... 91.75 s, the next wait (32 s)
	 * past the end: 8 tries. */
	assert_int_equal(sends, 8);
	assert_int_equal(expire(), 2);
	assert_int_equal(act[0].type, PM_ACT_LOST);
	assert_int_equal(act[1].type, PM_ACT_SEND); /* asking from the start */
	assert_int_equal(eng.state, PM_ASK_PCP);
}

static void test_pm_nobody_answers(void **state)
{
	static const struct {
		uint64_t at; /* ms after the start */
		size_t sends;
		int state;
	} steps[] = {
	    {0, 1, PM_ASK_PCP},	      {250, 1, PM_ASK_PCP},	{750, 1, PM_ASK_PCP},
	    {1750, 2, PM_ASK_NATPMP}, {2000, 2, PM_ASK_NATPMP}, {2500, 2, PM_ASK_NATPMP},
	    {3500, 0, PM_NONE},
	};
	uint64_t t0 = now;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		size_t n;

		now = t0 + steps[i].at;
		assert_int_equal(pm_next_deadline(&eng), now);
		n = expire();
		assert_int_equal(eng.state, steps[i].state);
		if (steps[i].state == PM_NONE) {
			assert_int_equal(n, 1);
			assert_int_equal(act[0].type, PM_ACT_NONE);
			continue;
		}
		assert_int_equal(n, steps[i].sends);
		for (size_t k = 0; k < n; k++) {
			assert_int_equal(act[k].type, PM_ACT_SEND);
			/* PCP is 60 octets of version 2; NAT-PMP 2 and 12 of version 0. */
			assert_int_equal(act[k].buf[0], steps[i].state == PM_ASK_PCP ? 2 : 0);
		}
		if (n == 2) {
			assert_int_equal(act[0].len, 2);
			assert_int_equal(act[1].len, 12);
		}
	}
	assert_string_equal(describe(), "none answered (pcp, nat-pmp), again in 300 s");
	now += PM_NONE_RETRY_MS - 1;
	assert_int_equal(expire(), 0);
	now += 1;
	assert_int_equal(expire(), 1);
	assert_int_equal(eng.state, PM_ASK_PCP);
}

static const uint8_t natpmp_unsupp[8] = {0, 0x81, 0, 1, 0, 0, 0, 50};
static const uint8_t natpmp_addr[12] = {0, 128, 0, 0, 0, 0, 0, 50, 100, 128, 77, 1};
static uint8_t natpmp_map[16] = {0,    129,  0,	   0,	 0, 0, 0,    50,
				 0xca, 0x6c, 0x9c, 0x41, 0, 0, 0x0e, 0x10};

static void natpmp_only(bool addr_first)
{
	struct sockaddr_storage want = sa4("100.128.77.1", 40001);

	assert_int_equal(expire(), 1);
	now += 5;
	assert_int_equal(feed(natpmp_unsupp, sizeof(natpmp_unsupp)), 0);
	assert_int_equal(pm_next_deadline(&eng), now); /* at once, not after 1.75 s */
	assert_int_equal(expire(), 2);
	assert_int_equal(eng.state, PM_ASK_NATPMP);
	assert_memory_equal(
	    act[1].buf, ((uint8_t[]){0, 1, 0, 0, 0xca, 0x6c, 0xca, 0x6c, 0, 0, 0x1c, 0x20}), 12);
	now += 5;
	if (addr_first) {
		assert_int_equal(feed(natpmp_addr, sizeof(natpmp_addr)), 0);
		assert_int_equal(feed(natpmp_map, sizeof(natpmp_map)), 1);
	} else {
		assert_int_equal(feed(natpmp_map, sizeof(natpmp_map)), 0);
		assert_int_equal(feed(natpmp_addr, sizeof(natpmp_addr)), 1);
	}
	assert_int_equal(act[0].type, PM_ACT_MAPPED);
	assert_true(addr_equal(&act[0].external, &want));
	assert_string_equal(describe(), "nat-pmp 100.128.77.1:40001, renews in 1800 s");
}

static void test_pm_natpmp_only_addr_first(void **state)
{
	natpmp_only(true);
	/* Renewal: the mapping request alone, the port we hold suggested. */
	now += 1800 * 1000;
	assert_int_equal(expire(), 1);
	assert_int_equal(act[0].len, 12);
	assert_int_equal(be16_get(act[0].buf + 6), 40001);
}

static void test_pm_natpmp_only_map_first(void **state)
{
	natpmp_only(false);
}

static void test_pm_epoch_back_announce(void **state)
{
	uint8_t announce[24] = {2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3};
	uint8_t b[PCP_MAP_LEN];

	map_pcp(3600, 5000);
	now += 10 * 1000;
	/* An ANNOUNCE whose epoch fits our clock changes nothing... */
	be32_put(announce + 8, 5010);
	assert_int_equal(feed(announce, sizeof(announce)), 0);
	assert_int_equal(pm_next_deadline(&eng), now + 1790 * 1000);
	/* ...one that went back maps again at once. */
	now += 1000;
	be32_put(announce + 8, 3);
	assert_int_equal(feed(announce, sizeof(announce)), 0);
	assert_int_equal(pm_next_deadline(&eng), now);
	assert_int_equal(expire(), 1);
	/* The restarted gateway gives another port: reported. */
	pcp_answer(&act[0], PCP_SUCCESS, 3600, 4, 40002, b);
	assert_int_equal(feed(b, sizeof(b)), 1);
	assert_int_equal(act[0].type, PM_ACT_MAPPED);
	assert_int_equal(ntohs(((struct sockaddr_in *)&act[0].external)->sin_port), 40002);
}

static void test_pm_epoch_slow_natpmp(void **state)
{
	uint8_t addr[12];

	natpmp_only(true);
	/* 600 s later the gateway says 60 s have passed: it restarted
	 * (RFC 6887 8.5: server delta + 2 < client delta - client delta / 16). */
	now += 600 * 1000;
	memcpy(addr, natpmp_addr, sizeof(addr));
	be32_put(addr + 4, 50 + 60);
	assert_int_equal(feed(addr, sizeof(addr)), 0);
	assert_int_equal(pm_next_deadline(&eng), now);
	assert_int_equal(expire(), 1);
	assert_int_equal(act[0].len, 12);
	/* Within the bound: 600 s later, 570 s passed there. */
	natpmp_map[7] = 110;
	assert_int_equal(feed(natpmp_map, sizeof(natpmp_map)), 0);
	now += 600 * 1000;
	be32_put(addr + 4, 110 + 570);
	assert_int_equal(feed(addr, sizeof(addr)), 0);
	assert_int_equal(pm_next_deadline(&eng), now + 1200 * 1000);
	natpmp_map[7] = 50;
}

static void test_pm_refused(void **state)
{
	uint8_t b[PCP_MAP_LEN];

	assert_int_equal(expire(), 1);
	pcp_answer(&act[0], PCP_NOT_AUTHORIZED, 120, 1, 0, b);
	memset(b + 44, 0, 16);
	assert_int_equal(feed(b, sizeof(b)), 1);
	assert_int_equal(act[0].type, PM_ACT_NONE);
	assert_string_equal(describe(), "pcp refused: NOT_AUTHORIZED, again in 120 s");
	now += 120 * 1000;
	assert_int_equal(expire(), 1);
	assert_int_equal(eng.state, PM_ASK_PCP);
}

static void test_pm_spoofed_and_stray(void **state)
{
	uint8_t b[PCP_MAP_LEN];
	struct sockaddr_storage other = sa4("192.168.1.1", 5350),
				stranger = sa4("192.168.1.2", 5351);

	assert_int_equal(expire(), 1);
	pcp_answer(&act[0], PCP_SUCCESS, 3600, 1, 40000, b);
	/* Not from the gateway's address and port. */
	assert_int_equal(pm_on_datagram(&eng, &other, b, sizeof(b), now, act), 0);
	assert_int_equal(pm_on_datagram(&eng, &stranger, b, sizeof(b), now, act), 0);
	/* Another nonce, a cut answer, a NAT-PMP answer for another port. */
	b[30] ^= 1;
	assert_int_equal(feed(b, sizeof(b)), 0);
	assert_string_equal(eng.last_drop, "wrong nonce");
	b[30] ^= 1;
	assert_int_equal(feed(b, 56), 0);
	natpmp_map[9] = 0x6d;
	assert_int_equal(feed(natpmp_map, sizeof(natpmp_map)), 0);
	natpmp_map[9] = 0x6c;
	assert_int_equal(feed((const uint8_t *)"\x07", 1), 0);
	assert_int_equal(eng.drops, 6);
	assert_int_equal(eng.state, PM_ASK_PCP);
	/* The real answer still maps. */
	assert_int_equal(feed(b, sizeof(b)), 1);
	assert_int_equal(act[0].type, PM_ACT_MAPPED);
}

static void test_pm_stop_deletes(void **state)
{
	uint8_t b[PCP_MAP_LEN];

	map_pcp(3600, 1);
	now += 1000;
	assert_true(pm_stop(&eng, now));
	assert_int_equal(expire(), 1);
	assert_int_equal(be32_get(act[0].buf + 4), 0); /* lifetime 0 */
	assert_memory_equal(act[0].buf + 24, eng.cfg.nonce, PCP_NONCE_LEN);
	assert_string_equal(describe(), "deleting pcp 100.128.77.1:40000");
	pcp_answer(&act[0], PCP_SUCCESS, 0, 2, 0, b);
	assert_int_equal(feed(b, sizeof(b)), 1);
	assert_int_equal(act[0].type, PM_ACT_DELETED);
	assert_true(eng.delete_answered);
	assert_int_equal(eng.state, PM_OFF);
	assert_int_equal(pm_next_deadline(&eng), UINT64_MAX);
	assert_string_equal(describe(), "off");
}

static void test_pm_stop_unanswered(void **state)
{
	unsigned sends = 0;
	uint64_t t0;

	map_pcp(3600, 1);
	assert_true(pm_stop(&eng, now));
	t0 = now;
	for (;;) {
		size_t n = expire();

		assert_int_equal(n, 1);
		if (act[0].type == PM_ACT_DELETED)
			break;
		sends++;
		now = pm_next_deadline(&eng);
	}
	assert_int_equal(sends, PM_TRIES);
	assert_int_equal(now - t0, 1750);
	assert_false(eng.delete_answered);
	assert_int_equal(eng.state, PM_OFF);
}

static void test_pm_stop_unmapped(void **state)
{
	assert_int_equal(expire(), 1);
	assert_false(pm_stop(&eng, now));
	assert_int_equal(eng.state, PM_OFF);
	assert_int_equal(expire(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_pm_pcp_maps_and_renews, setup),
	    cmocka_unit_test_setup(test_pm_renewal_unanswered_expires, setup),
	    cmocka_unit_test_setup(test_pm_nobody_answers, setup),
	    cmocka_unit_test_setup(test_pm_natpmp_only_addr_first, setup),
	    cmocka_unit_test_setup(test_pm_natpmp_only_map_first, setup),
	    cmocka_unit_test_setup(test_pm_epoch_back_announce, setup),
	    cmocka_unit_test_setup(test_pm_epoch_slow_natpmp, setup),
	    cmocka_unit_test_setup(test_pm_refused, setup),
	    cmocka_unit_test_setup(test_pm_spoofed_and_stray, setup),
	    cmocka_unit_test_setup(test_pm_stop_deletes, setup),
	    cmocka_unit_test_setup(test_pm_stop_unanswered, setup),
	    cmocka_unit_test_setup(test_pm_stop_unmapped, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
