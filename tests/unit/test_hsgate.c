/* The handshake flood gate (crypto/hsgate.c) with real initiations from
 * crypto/handshake.c: under load entered by rate and by the per-wake-up
 * budget, left after the hold; under load a message without mac2 gets a
 * cookie reply that the initiator's maker accepts, and the next message
 * with mac2 passes the per-source bucket 5 times, the 6th is refused and
 * one more passes after 50 ms; a bad mac1 is dropped without a reply, in
 * every state, and spends nothing;
 * cookie replies per source are bounded; a message over a stream or the
 * relay (no source address) gets no cookie but stays under the budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sodium.h>

#include "crypto/hsgate.h"
#include "crypto/handshake.h"
#include "crypto/keys.h"

enum { NOW = 5000000 };

struct world {
	struct hs_identity a, b; /* a initiates towards b, whose gate it is */
	struct hs_peer a_b;
	struct cookie_maker mk; /* a's, for b */
	struct hsgate g;	/* b's */
	struct wire_init init;
	struct sockaddr_storage src;
	struct wire_cookie_reply reply;
};

static void set_v4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &s->sin_addr), 1);
}

static void new_init(struct world *w, uint64_t now)
{
	uint8_t ts[HS_TAI64N_LEN];

	hs_tai64n_now(ts);
	assert_int_equal(hs_create_initiation(&w->a, &w->a_b, 0x01020304, ts, &w->init), 0);
	assert_int_equal(cookie_maker_stamp(&w->mk, (uint8_t *)&w->init, sizeof(w->init), now), 0);
}

static int setup(void **state)
{
	static struct world w;
	uint8_t k[32];

	memset(&w, 0, sizeof(w));
	key_generate(k);
	assert_true(hs_identity_init(&w.a, k));
	key_generate(k);
	assert_true(hs_identity_init(&w.b, k));
	assert_true(hs_peer_init(&w.a_b, &w.a, w.b.s_pub, NULL));
	cookie_maker_init(&w.mk, w.b.s_pub);
	hsgate_init(&w.g, w.b.s_pub, NULL);
	set_v4(&w.src, "198.51.100.7", 51820);
	new_init(&w, NOW);
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	hs_identity_cleanup(&w->a);
	hs_identity_cleanup(&w->b);
	hs_peer_cleanup(&w->a_b);
	cookie_maker_cleanup(&w->mk);
	hsgate_cleanup(&w->g);
	return 0;
}

static enum hsgate_verdict check(struct world *w, const struct sockaddr_storage *src, uint64_t now)
{
	return hsgate_check(&w->g, (const uint8_t *)&w->init, sizeof(w->init), src, now, &w->reply);
}

/* Puts the gate under load by rate: load_per_second messages pass (each in
 * its own wake-up, so the budget is not what trips), the next one enters. */
static void load_by_rate(struct world *w, uint64_t now)
{
	for (unsigned i = 0; i < HSGATE_LOAD_PER_SECOND; i++) {
		hsgate_wake(&w->g);
		assert_int_equal(check(w, &w->src, now), HSGATE_PASS);
	}
	assert_false(hsgate_under_load(&w->g, now));
	hsgate_wake(&w->g);
	/* The message that crosses the line is already judged under load:
	 * without mac2 it gets a cookie. */
	assert_int_equal(check(w, &w->src, now), HSGATE_SEND_COOKIE);
	assert_true(hsgate_under_load(&w->g, now));
}

static void test_hsgate_load_by_rate_and_hold(void **state)
{
	struct world *w = *state;

	assert_false(hsgate_under_load(&w->g, NOW));
	load_by_rate(w, NOW);
	assert_int_equal(w->g.under_load_entered, 1);
	/* The hold: still under load just before HSGATE_HOLD_MS... */
	assert_true(hsgate_under_load(&w->g, NOW + HSGATE_HOLD_MS - 1));
	/* ...not after, and a message then passes without mac2. */
	assert_false(hsgate_under_load(&w->g, NOW + HSGATE_HOLD_MS));
	hsgate_wake(&w->g);
	assert_int_equal(check(w, &w->src, NOW + HSGATE_HOLD_MS + 500), HSGATE_PASS);
	assert_int_equal(w->g.under_load_entered, 1);
}

static void test_hsgate_load_by_budget(void **state)
{
	struct world *w = *state;

	/* One wake-up: the budget passes, the next is refused and that is
	 * load, though the rate is far below HSGATE_LOAD_PER_SECOND. */
	hsgate_wake(&w->g);
	for (unsigned i = 0; i < HSGATE_BUDGET_PER_WAKE; i++)
		assert_int_equal(check(w, &w->src, NOW), HSGATE_PASS);
	assert_false(hsgate_under_load(&w->g, NOW));
	assert_int_equal(check(w, &w->src, NOW), HSGATE_DROP_BUDGET);
	assert_true(hsgate_under_load(&w->g, NOW));
	assert_int_equal(w->g.under_load_entered, 1);
	assert_int_equal(w->g.verdicts[HSGATE_PASS], HSGATE_BUDGET_PER_WAKE);
	assert_int_equal(w->g.verdicts[HSGATE_DROP_BUDGET], 1);
	/* The next wake-up has a full budget again. */
	hsgate_wake(&w->g);
	assert_int_equal(w->g.budget, HSGATE_BUDGET_PER_WAKE);
}

static void test_hsgate_cookie_then_bucket(void **state)
{
	struct world *w = *state;
	uint64_t now = NOW;

	load_by_rate(w, now);
	/* The reply load_by_rate got is one a's maker accepts: it is bound to
	 * the mac1 of a's last initiation. */
	assert_int_equal(
	    cookie_reply_consume(&w->mk, (const uint8_t *)&w->reply, sizeof(w->reply), now), 0);
	assert_int_equal(w->g.cookie_replies_sent, 1);
	/* With mac2: the source's bucket gives 5 at once, then refuses. */
	new_init(w, now);
	for (unsigned i = 0; i < RATELIMIT_BURST; i++) {
		hsgate_wake(&w->g);
		assert_int_equal(check(w, &w->src, now), HSGATE_PASS);
	}
	hsgate_wake(&w->g);
	assert_int_equal(check(w, &w->src, now), HSGATE_DROP_RATELIMITED);
	/* Refill: one more after RATELIMIT_COST_MS (50 ms), then refused again. */
	now += RATELIMIT_COST_MS;
	assert_int_equal(check(w, &w->src, now), HSGATE_PASS);
	assert_int_equal(check(w, &w->src, now), HSGATE_DROP_RATELIMITED);
	/* mac2 is for this source only: from another port it is no proof. */
	{
		struct sockaddr_storage other;

		set_v4(&other, "198.51.100.7", 51821);
		assert_int_equal(check(w, &other, now), HSGATE_SEND_COOKIE);
	}
}

static void test_hsgate_bad_mac1_and_cookie_rate(void **state)
{
	struct world *w = *state;
	struct sockaddr_storage spoofed;
	unsigned cookies = 0, refused = 0;

	/* Not under load, a bad mac1 is dropped too, and a flood of them
	 * neither spends the budget nor counts as load. */
	w->init.mac1[3] ^= 0x80;
	hsgate_wake(&w->g);
	for (unsigned i = 0; i < 10 * HSGATE_LOAD_PER_SECOND; i++) {
		assert_int_equal(check(w, &w->src, NOW), HSGATE_DROP_INVALID);
		assert_int_equal(check(w, NULL, NOW), HSGATE_DROP_INVALID);
	}
	w->init.mac1[3] ^= 0x80;
	assert_false(hsgate_under_load(&w->g, NOW));
	assert_int_equal(w->g.budget, HSGATE_BUDGET_PER_WAKE);
	assert_int_equal(w->g.under_load_entered, 0);

	load_by_rate(w, NOW);
	/* A bad mac1 under load: no reply, no DH. */
	w->init.mac1[0] ^= 1;
	assert_int_equal(check(w, &w->src, NOW), HSGATE_DROP_INVALID);
	w->init.mac1[0] ^= 1;
	/* Wrong length: invalid as well. */
	assert_int_equal(hsgate_check(&w->g, (const uint8_t *)&w->init, sizeof(w->init) - 1,
				      &w->src, NOW, &w->reply),
			 HSGATE_DROP_INVALID);
	/* A flood from one spoofed source: cookie replies are bounded by the
	 * same 20/s, burst 5 (here: the burst, since no time passes). */
	set_v4(&spoofed, "203.0.113.9", 4000);
	for (unsigned i = 0; i < 100; i++) {
		enum hsgate_verdict v = check(w, &spoofed, NOW);

		cookies += v == HSGATE_SEND_COOKIE;
		refused += v == HSGATE_DROP_NO_MAC2;
	}
	assert_int_equal(cookies, RATELIMIT_BURST);
	assert_int_equal(refused, 100 - RATELIMIT_BURST);
}

static void test_hsgate_stream_gets_budget_only(void **state)
{
	struct world *w = *state;

	load_by_rate(w, NOW);
	/* Over TCP or the relay there is no source to prove: no cookie, the
	 * message passes without mac2, but only within the budget. */
	hsgate_wake(&w->g);
	for (unsigned i = 0; i < HSGATE_BUDGET_PER_WAKE; i++)
		assert_int_equal(check(w, NULL, NOW), HSGATE_PASS);
	assert_int_equal(check(w, NULL, NOW), HSGATE_DROP_BUDGET);
	assert_int_equal(w->g.cookie_replies_sent, 1); /* load_by_rate's only */
	/* Not under load: the same budget bounds them. */
	hsgate_wake(&w->g);
	for (unsigned i = 0; i < HSGATE_BUDGET_PER_WAKE; i++)
		assert_int_equal(check(w, NULL, NOW + 10 * HSGATE_HOLD_MS), HSGATE_PASS);
	assert_int_equal(check(w, NULL, NOW + 10 * HSGATE_HOLD_MS), HSGATE_DROP_BUDGET);
}

static void test_hsgate_limits_and_rekey(void **state)
{
	struct world *w = *state;
	struct hsgate_limits lim = {.load_per_second = 2, .budget_per_wake = 100, .hold_ms = 10};
	struct hsgate g;

	hsgate_init(&g, w->b.s_pub, &lim);
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(hsgate_check(&g, (const uint8_t *)&w->init, sizeof(w->init),
					      &w->src, NOW, &w->reply),
				 HSGATE_PASS);
	assert_int_equal(
	    hsgate_check(&g, (const uint8_t *)&w->init, sizeof(w->init), &w->src, NOW, &w->reply),
	    HSGATE_SEND_COOKIE);
	assert_false(hsgate_under_load(&g, NOW + 10));
	/* A new key: mac1 for the old one is now invalid under load. */
	hsgate_set_key(&g, w->a.s_pub);
	assert_int_equal(hsgate_check(&g, (const uint8_t *)&w->init, sizeof(w->init), &w->src,
				      NOW + 1, &w->reply),
			 HSGATE_DROP_INVALID);
	assert_string_equal(hsgate_verdict_name(HSGATE_SEND_COOKIE), "cookie");
	hsgate_cleanup(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hsgate_load_by_rate_and_hold, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hsgate_load_by_budget, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hsgate_cookie_then_bucket, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hsgate_bad_mac1_and_cookie_rate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hsgate_stream_gets_budget_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hsgate_limits_and_rekey, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
