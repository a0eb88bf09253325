/* Cookie replies and mac2 (crypto/cookie.c) between a real initiation from
 * crypto/handshake.c and a checker: the round trip, then SECURITY-NOTES
 * section 6 item 6 (a cookie reply with a wrong index, a bad tag or none
 * requested is dropped), mac2 bound to the source address and port, the
 * checker's secret rotation after 120 s and the maker's 115 s limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>

#include "crypto/cookie.h"
#include "crypto/handshake.h"
#include "crypto/keys.h"

enum { NOW = 1000000 };

struct world {
	struct hs_identity a, b; /* a initiates towards b */
	struct hs_peer a_b;
	struct cookie_checker chk; /* b's */
	struct cookie_maker mk;	   /* a's, for b */
	struct wire_init init;
	struct sockaddr_storage src; /* where a's messages come from */
};

static void set_v4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &s->sin_addr), 1);
}

static void set_v6(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &s->sin6_addr), 1);
}

/* A fresh initiation from a, stamped by a's maker. */
static void new_init(struct world *w, uint32_t idx, uint64_t now)
{
	uint8_t ts[HS_TAI64N_LEN];

	hs_tai64n_now(ts);
	assert_int_equal(hs_create_initiation(&w->a, &w->a_b, idx, ts, &w->init), 0);
	assert_int_equal(cookie_maker_stamp(&w->mk, (uint8_t *)&w->init, sizeof(w->init), now), 0);
}

static void world_init(struct world *w)
{
	uint8_t k[32];

	memset(w, 0, sizeof(*w));
	key_generate(k);
	assert_true(hs_identity_init(&w->a, k));
	key_generate(k);
	assert_true(hs_identity_init(&w->b, k));
	assert_true(hs_peer_init(&w->a_b, &w->a, w->b.s_pub, NULL));
	cookie_checker_init(&w->chk, w->b.s_pub);
	cookie_maker_init(&w->mk, w->b.s_pub);
	set_v4(&w->src, "198.51.100.7", 51820);
	new_init(w, 0x11223344, NOW);
}

static void world_cleanup(struct world *w)
{
	hs_identity_cleanup(&w->a);
	hs_identity_cleanup(&w->b);
	hs_peer_cleanup(&w->a_b);
	cookie_checker_cleanup(&w->chk);
	cookie_maker_cleanup(&w->mk);
}

static enum cookie_mac_state check(struct world *w, uint64_t now)
{
	return cookie_check(&w->chk, (const uint8_t *)&w->init, sizeof(w->init), &w->src, now);
}

/* b answers a's current initiation with a cookie reply that a consumes. */
static int exchange(struct world *w, uint64_t now, struct wire_cookie_reply *r)
{
	assert_int_equal(cookie_reply_create(&w->chk, (const uint8_t *)&w->init, sizeof(w->init),
					     &w->src, now, r),
			 0);
	return cookie_reply_consume(&w->mk, (const uint8_t *)r, sizeof(*r), now);
}

static void test_round_trip(void **state)
{
	struct wire_cookie_reply r;
	struct world w;
	uint32_t idx = 0;

	(void)state;
	world_init(&w);
	/* No cookie yet: mac2 zero, mac1 alone. */
	assert_int_equal(check(&w, NOW), COOKIE_MAC1_OK);
	assert_int_equal(exchange(&w, NOW, &r), 0);
	assert_int_equal(r.type, WIRE_COOKIE_REPLY);
	assert_true(cookie_reply_receiver_index((const uint8_t *)&r, sizeof(r), &idx));
	assert_int_equal(idx, 0x11223344);
	/* The next initiation carries a mac2 the checker accepts. */
	new_init(&w, 0x55667788, NOW + 10);
	assert_int_equal(check(&w, NOW + 10), COOKIE_MAC2_OK);
	/* A bit flip before mac1 breaks mac1 and so everything. */
	w.init.ephemeral[0] ^= 1;
	assert_int_equal(check(&w, NOW + 10), COOKIE_MAC_INVALID);
	world_cleanup(&w);
}

static void test_bad_tag_dropped(void **state)
{
	struct wire_cookie_reply r;
	struct world w;

	(void)state;
	world_init(&w);
	assert_int_equal(
	    cookie_reply_create(&w.chk, (const uint8_t *)&w.init, sizeof(w.init), &w.src, NOW, &r),
	    0);
	for (size_t i = offsetof(struct wire_cookie_reply, nonce); i < sizeof(r); i++) {
		struct wire_cookie_reply bad = r;
		((uint8_t *)&bad)[i] ^= 0x40;
		assert_int_equal(
		    cookie_reply_consume(&w.mk, (const uint8_t *)&bad, sizeof(bad), NOW), -EACCES);
	}
	/* A reply made for another message's mac1 (AD) does not open either. */
	{
		struct wire_init other = w.init;
		struct wire_cookie_reply r2;
		other.mac1[0] ^= 1;
		assert_int_equal(cookie_reply_create(&w.chk, (const uint8_t *)&other, sizeof(other),
						     &w.src, NOW, &r2),
				 0);
		assert_int_equal(cookie_reply_consume(&w.mk, (const uint8_t *)&r2, sizeof(r2), NOW),
				 -EACCES);
	}
	/* Wrong sizes and types. */
	assert_int_equal(cookie_reply_consume(&w.mk, (const uint8_t *)&r, sizeof(r) - 1, NOW),
			 -EBADMSG);
	r.type = WIRE_HANDSHAKE_INIT;
	assert_int_equal(cookie_reply_consume(&w.mk, (const uint8_t *)&r, sizeof(r), NOW),
			 -EBADMSG);
	r.type = WIRE_COOKIE_REPLY;
	/* None of those stored a cookie: mac2 stays zero. */
	assert_false(w.mk.has_cookie);
	assert_int_equal(cookie_reply_consume(&w.mk, (const uint8_t *)&r, sizeof(r), NOW), 0);
	world_cleanup(&w);
}

static void test_wrong_index_dropped(void **state)
{
	struct wire_cookie_reply r;
	struct world w;

	(void)state;
	world_init(&w);
	assert_int_equal(
	    cookie_reply_create(&w.chk, (const uint8_t *)&w.init, sizeof(w.init), &w.src, NOW, &r),
	    0);
	r.receiver_index ^= 1;
	assert_int_equal(cookie_reply_consume(&w.mk, (const uint8_t *)&r, sizeof(r), NOW), -ENOENT);
	assert_false(w.mk.has_cookie);
	world_cleanup(&w);
}

static void test_unrequested_dropped(void **state)
{
	struct wire_cookie_reply r;
	struct cookie_maker fresh;
	struct world w;

	(void)state;
	world_init(&w);
	assert_int_equal(
	    cookie_reply_create(&w.chk, (const uint8_t *)&w.init, sizeof(w.init), &w.src, NOW, &r),
	    0);
	/* A maker that sent nothing takes no reply. */
	cookie_maker_init(&fresh, w.b.s_pub);
	assert_int_equal(cookie_reply_consume(&fresh, (const uint8_t *)&r, sizeof(r), NOW),
			 -ENOENT);
	cookie_maker_cleanup(&fresh);
	/* One reply per message sent: a second copy is unrequested. */
	assert_int_equal(cookie_reply_consume(&w.mk, (const uint8_t *)&r, sizeof(r), NOW), 0);
	assert_int_equal(cookie_reply_consume(&w.mk, (const uint8_t *)&r, sizeof(r), NOW), -ENOENT);
	world_cleanup(&w);
}

static void test_mac2_bound_to_source(void **state)
{
	struct wire_cookie_reply r;
	struct world w;

	(void)state;
	world_init(&w);
	assert_int_equal(exchange(&w, NOW, &r), 0);
	new_init(&w, 0x1, NOW);
	assert_int_equal(check(&w, NOW), COOKIE_MAC2_OK);
	set_v4(&w.src, "198.51.100.7", 51821); /* other port */
	assert_int_equal(check(&w, NOW), COOKIE_MAC1_OK);
	set_v4(&w.src, "198.51.100.8", 51820); /* other IP */
	assert_int_equal(check(&w, NOW), COOKIE_MAC1_OK);
	world_cleanup(&w);

	/* The same for IPv6. */
	world_init(&w);
	set_v6(&w.src, "2001:db8::7", 51820);
	new_init(&w, 0x2, NOW);
	assert_int_equal(exchange(&w, NOW, &r), 0);
	new_init(&w, 0x3, NOW);
	assert_int_equal(check(&w, NOW), COOKIE_MAC2_OK);
	set_v6(&w.src, "2001:db8::8", 51820);
	assert_int_equal(check(&w, NOW), COOKIE_MAC1_OK);
	world_cleanup(&w);
}

static void test_secret_rotation(void **state)
{
	struct wire_cookie_reply r;
	struct world w;

	(void)state;
	world_init(&w);
	assert_int_equal(exchange(&w, NOW, &r), 0);
	new_init(&w, 0x1, NOW + 100);
	assert_int_equal(check(&w, NOW + COOKIE_SECRET_MAX_AGE_MS - 1), COOKIE_MAC2_OK);
	/* 120 s on, the checker has a new secret: the old cookie is worthless
	 * even to a maker that still sends it. */
	assert_int_equal(check(&w, NOW + COOKIE_SECRET_MAX_AGE_MS), COOKIE_MAC1_OK);
	world_cleanup(&w);
}

static void test_maker_expiry(void **state)
{
	struct wire_cookie_reply r;
	struct world w;
	static const uint8_t zero[WIRE_MAC_LEN];

	(void)state;
	world_init(&w);
	assert_int_equal(exchange(&w, NOW, &r), 0);
	new_init(&w, 0x1, NOW + COOKIE_SECRET_MAX_AGE_MS - COOKIE_LATENCY_MS - 1);
	assert_memory_not_equal(w.init.mac2, zero, WIRE_MAC_LEN);
	new_init(&w, 0x2, NOW + COOKIE_SECRET_MAX_AGE_MS - COOKIE_LATENCY_MS);
	assert_memory_equal(w.init.mac2, zero, WIRE_MAC_LEN);
	assert_false(w.mk.has_cookie);
	world_cleanup(&w);
}

static void test_stamp_rejects_non_handshake(void **state)
{
	uint8_t buf[WIRE_INIT_LEN] = {WIRE_DATA};
	struct cookie_maker m;
	uint8_t pub[32] = {9};

	(void)state;
	cookie_maker_init(&m, pub);
	assert_int_equal(cookie_maker_stamp(&m, buf, sizeof(buf), NOW), -EINVAL);
	buf[0] = WIRE_HANDSHAKE_INIT;
	assert_int_equal(cookie_maker_stamp(&m, buf, sizeof(buf) - 1, NOW), -EINVAL);
	cookie_maker_cleanup(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_bad_tag_dropped),
	    cmocka_unit_test(test_wrong_index_dropped),
	    cmocka_unit_test(test_unrequested_dropped),
	    cmocka_unit_test(test_mac2_bound_to_source),
	    cmocka_unit_test(test_secret_rotation),
	    cmocka_unit_test(test_maker_expiry),
	    cmocka_unit_test(test_stamp_rejects_non_handshake),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
