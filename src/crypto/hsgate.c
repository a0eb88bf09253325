/* The handshake flood gate's decisions (hsgate.h): the one-second load
 * window, the hold, the per-wake-up DH budget, mac1/mac2 through the cookie
 * checker and the two per-source buckets. The order of the checks is the
 * order of cost: mac1 (one BLAKE2b) always, then counting, then (under
 * load only) mac2 (one more), a cookie reply (XChaCha20-Poly1305) at most
 * 20 times a second per source, and DH only for what passes. */
#include "crypto/hsgate.h"

#include <sodium.h>
#include <string.h>

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

void hsgate_init(struct hsgate *g, const uint8_t our_pub[COOKIE_KEY_LEN],
		 const struct hsgate_limits *lim)
{
	memset(g, 0, sizeof(*g));
	ratelimit_init(&g->hs_rl);
	ratelimit_init(&g->cookie_rl);
	cookie_checker_init(&g->cookie, our_pub);
	memcpy(g->pub, our_pub, COOKIE_KEY_LEN);
	g->lim.load_per_second = or_default(lim ? lim->load_per_second : 0, HSGATE_LOAD_PER_SECOND);
	g->lim.budget_per_wake = or_default(lim ? lim->budget_per_wake : 0, HSGATE_BUDGET_PER_WAKE);
	g->lim.hold_ms = or_default(lim ? lim->hold_ms : 0, HSGATE_HOLD_MS);
	g->budget = g->lim.budget_per_wake;
}

void hsgate_set_key(struct hsgate *g, const uint8_t our_pub[COOKIE_KEY_LEN])
{
	if (sodium_memcmp(g->pub, our_pub, COOKIE_KEY_LEN) == 0)
		return;
	cookie_checker_cleanup(&g->cookie);
	cookie_checker_init(&g->cookie, our_pub);
	memcpy(g->pub, our_pub, COOKIE_KEY_LEN);
}

void hsgate_cleanup(struct hsgate *g)
{
	cookie_checker_cleanup(&g->cookie);
	sodium_memzero(g, sizeof(*g));
}

void hsgate_wake(struct hsgate *g)
{
	g->budget = g->lim.budget_per_wake;
}

bool hsgate_under_load(const struct hsgate *g, uint64_t now_ms)
{
	return now_ms < g->under_load_until_ms;
}

static void mark_under_load(struct hsgate *g, uint64_t now_ms)
{
	if (!hsgate_under_load(g, now_ms))
		g->under_load_entered++;
	g->under_load_until_ms = now_ms + g->lim.hold_ms;
}

static void count_message(struct hsgate *g, uint64_t now_ms)
{
	if (now_ms - g->window_ms >= 1000) {
		g->window_ms = now_ms;
		g->window_count = 0;
	}
	if (++g->window_count > g->lim.load_per_second)
		mark_under_load(g, now_ms);
}

/* The budget bounds DH work per wake-up in every state; running out means
 * a backlog, which is itself load. */
static enum hsgate_verdict take_budget(struct hsgate *g, uint64_t now_ms)
{
	if (!g->budget) {
		mark_under_load(g, now_ms);
		return HSGATE_DROP_BUDGET;
	}
	g->budget--;
	return HSGATE_PASS;
}

static enum hsgate_verdict decide(struct hsgate *g, const uint8_t *msg, size_t len,
				  const struct sockaddr_storage *src, uint64_t now_ms,
				  struct wire_cookie_reply *reply)
{
	/* No address family: mac1 only (a stream's messages need no mac2). */
	static const struct sockaddr_storage no_source;
	enum cookie_mac_state st;

	/* mac1 first, in every state: it costs one hash, and what fails it
	 * must not spend the budget or count as load (hs_consume_* would
	 * refuse it anyway). */
	st = cookie_check(&g->cookie, msg, len, src ? src : &no_source, now_ms);
	if (st == COOKIE_MAC_INVALID)
		return HSGATE_DROP_INVALID;
	count_message(g, now_ms);
	if (!src || !hsgate_under_load(g, now_ms))
		return take_budget(g, now_ms);
	if (st == COOKIE_MAC1_OK) {
		/* A spoofed source gets at most its bucket's worth of replies,
		 * so the gate is no amplifier (a reply is 64 bytes to 149). */
		if (!ratelimit_allow(&g->cookie_rl, src, now_ms) ||
		    cookie_reply_create(&g->cookie, msg, len, src, now_ms, reply) < 0)
			return HSGATE_DROP_NO_MAC2;
		g->cookie_replies_sent++;
		return HSGATE_SEND_COOKIE;
	}
	if (!ratelimit_allow(&g->hs_rl, src, now_ms))
		return HSGATE_DROP_RATELIMITED;
	return take_budget(g, now_ms);
}

enum hsgate_verdict hsgate_check(struct hsgate *g, const uint8_t *msg, size_t len,
				 const struct sockaddr_storage *src, uint64_t now_ms,
				 struct wire_cookie_reply *reply)
{
	enum hsgate_verdict v = decide(g, msg, len, src, now_ms, reply);

	g->verdicts[v]++;
	return v;
}

const char *hsgate_verdict_name(enum hsgate_verdict v)
{
	static const char *const names[HSGATE_VERDICT_MAX] = {
	    [HSGATE_PASS] = "pass",
	    [HSGATE_SEND_COOKIE] = "cookie",
	    [HSGATE_DROP_INVALID] = "invalid",
	    [HSGATE_DROP_NO_MAC2] = "no_mac2",
	    [HSGATE_DROP_RATELIMITED] = "ratelimited",
	    [HSGATE_DROP_BUDGET] = "budget",
	};

	return v < HSGATE_VERDICT_MAX ? names[v] : "?";
}
