/* Per-peer session timers as deadlines instead of kernel timers: each timer
 * is one absolute deadline (UINT64_MAX when disarmed); hooks arm and cancel
 * them exactly where WireGuard's timers.c calls mod_timer()/del_timer(), and
 * sess_timers_expire() runs the handlers that are due, turning their sends
 * into action bits for the daemon. The handshake attempt count and the
 * 5-second spacing of initiations live here too, since they decide when the
 * retransmit timer gives up. Jitter only spreads handshakes of many peers
 * apart; it need not be unpredictable, so a seedable xorshift serves. */
#include "session/timers.h"

#include <sodium.h>
#include <string.h>

#include "session/keypair.h"

static const uint64_t OFF = UINT64_MAX;

static uint32_t jitter(struct sess_timers *t)
{
	/* xorshift64*: enough spread, and reproducible under sess_timers_seed(). */
	uint64_t x = t->jitter_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t->jitter_state = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32) % SESS_REKEY_TIMEOUT_JITTER_MAX_MS;
}

static void arm(struct sess_timers *t, enum sess_timer_id id, uint64_t at_ms)
{
	if (!t->stopped)
		t->deadline_ms[id] = at_ms;
}

static bool armed(const struct sess_timers *t, enum sess_timer_id id)
{
	return t->deadline_ms[id] != OFF;
}

static void disarm(struct sess_timers *t, enum sess_timer_id id)
{
	t->deadline_ms[id] = OFF;
}

void sess_timers_init(struct sess_timers *t, unsigned keepalive_s)
{
	uint64_t seed;

	memset(t, 0, sizeof(*t));
	for (int i = 0; i < SESS_TIMER_COUNT; i++)
		t->deadline_ms[i] = OFF;
	t->keepalive_s = keepalive_s;
	randombytes_buf(&seed, sizeof(seed));
	sess_timers_seed(t, seed);
}

void sess_timers_seed(struct sess_timers *t, uint64_t seed)
{
	/* xorshift must not start at zero; mix so nearby seeds differ. */
	seed = (seed ^ 0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull;
	t->jitter_state = seed ? seed : 1;
}

void sess_timers_set_keepalive(struct sess_timers *t, unsigned keepalive_s, uint64_t now_ms)
{
	t->keepalive_s = keepalive_s;
	if (keepalive_s)
		arm(t, SESS_TIMER_PERSISTENT_KEEPALIVE, now_ms + keepalive_s * 1000ull);
	else
		disarm(t, SESS_TIMER_PERSISTENT_KEEPALIVE);
}

void sess_timers_stop(struct sess_timers *t)
{
	for (int i = 0; i < SESS_TIMER_COUNT; i++)
		disarm(t, i);
	t->stopped = true;
}

static bool may_initiate(const struct sess_timers *t, uint64_t now_ms)
{
	/* At most one initiation per REKEY_TIMEOUT (WireGuard send.c
	 * last_sent_handshake): each costs the peer DH work. */
	return !t->initiated || now_ms - t->last_initiation_ms >= SESS_REKEY_TIMEOUT_MS;
}

bool sess_timers_request_handshake(struct sess_timers *t, uint64_t now_ms)
{
	if (t->stopped)
		return false;
	/* Fresh demand (new data, rekey) starts a new series, so a peer that
	 * gave up earlier tries again for as long as there is traffic. */
	t->handshake_attempts = 0;
	return may_initiate(t, now_ms);
}

void sess_timers_on_path_new(struct sess_timers *t)
{
	t->fast_retries_left = SESS_FAST_RETRIES;
}

void sess_timers_on_handshake_initiated(struct sess_timers *t, uint64_t now_ms)
{
	if (t->stopped)
		return;
	t->initiated = true;
	t->last_initiation_ms = now_ms;
	arm(t, SESS_TIMER_RETRANSMIT, now_ms + SESS_REKEY_TIMEOUT_MS + jitter(t));
	if (t->fast_retries_left)
		arm(t, SESS_TIMER_FAST_RETRY, now_ms + SESS_FAST_RETRY_MS);
	else
		disarm(t, SESS_TIMER_FAST_RETRY);
}

void sess_timers_on_handshake_complete(struct sess_timers *t, uint64_t now_ms)
{
	disarm(t, SESS_TIMER_RETRANSMIT);
	disarm(t, SESS_TIMER_FAST_RETRY);
	t->handshake_attempts = 0;
}

void sess_timers_on_session_derived(struct sess_timers *t, uint64_t now_ms)
{
	arm(t, SESS_TIMER_ZERO_KEYS, now_ms + SESS_ZERO_KEYS_TIMEOUT_MS);
	/* The initiation this session answers (ours or theirs) needs no more
	 * quick resends; the next series gets its own. */
	disarm(t, SESS_TIMER_FAST_RETRY);
	t->fast_retries_left = SESS_FAST_RETRIES;
}

void sess_timers_on_data_sent(struct sess_timers *t, uint64_t now_ms)
{
	/* Not re-armed while pending: the deadline counts from the first
	 * packet that went unanswered, not the latest. */
	if (!armed(t, SESS_TIMER_NEW_HANDSHAKE))
		arm(t, SESS_TIMER_NEW_HANDSHAKE,
		    now_ms + SESS_NEW_HANDSHAKE_TIMEOUT_MS + jitter(t));
}

void sess_timers_on_data_received(struct sess_timers *t, uint64_t now_ms)
{
	if (!armed(t, SESS_TIMER_SEND_KEEPALIVE))
		arm(t, SESS_TIMER_SEND_KEEPALIVE, now_ms + SESS_KEEPALIVE_TIMEOUT_MS);
	else
		t->need_another_keepalive = true;
}

static void traversal(struct sess_timers *t, uint64_t now_ms)
{
	if (t->keepalive_s)
		arm(t, SESS_TIMER_PERSISTENT_KEEPALIVE, now_ms + t->keepalive_s * 1000ull);
}

void sess_timers_on_authenticated_sent(struct sess_timers *t, uint64_t now_ms)
{
	/* Anything we sent already tells the peer we are alive. */
	disarm(t, SESS_TIMER_SEND_KEEPALIVE);
	traversal(t, now_ms);
}

void sess_timers_on_authenticated_received(struct sess_timers *t, uint64_t now_ms)
{
	/* Anything authenticated from the peer proves the session lives. */
	disarm(t, SESS_TIMER_NEW_HANDSHAKE);
	traversal(t, now_ms);
}

uint64_t sess_timers_next_deadline(const struct sess_timers *t)
{
	uint64_t next = OFF;

	for (int i = 0; i < SESS_TIMER_COUNT; i++)
		if (t->deadline_ms[i] < next)
			next = t->deadline_ms[i];
	return next;
}

static unsigned expired_retransmit(struct sess_timers *t, uint64_t now_ms)
{
	if (t->handshake_attempts > SESS_MAX_TIMER_HANDSHAKES) {
		/* 1 + 19 initiations unanswered: stop, drop what waits for a
		 * key, and make sure the leftovers get wiped eventually. */
		disarm(t, SESS_TIMER_SEND_KEEPALIVE);
		if (!armed(t, SESS_TIMER_ZERO_KEYS))
			arm(t, SESS_TIMER_ZERO_KEYS, now_ms + SESS_ZERO_KEYS_TIMEOUT_MS);
		return SESS_ACT_GIVE_UP;
	}
	t->handshake_attempts++;
	return SESS_ACT_SEND_INITIATION;
}

static unsigned expired_send_keepalive(struct sess_timers *t, uint64_t now_ms)
{
	/* More data arrived while this one was pending: answer that too. */
	if (t->need_another_keepalive) {
		t->need_another_keepalive = false;
		arm(t, SESS_TIMER_SEND_KEEPALIVE, now_ms + SESS_KEEPALIVE_TIMEOUT_MS);
	}
	return SESS_ACT_SEND_KEEPALIVE;
}

static unsigned expired_new_handshake(struct sess_timers *t, uint64_t now_ms)
{
	/* Not a retry: a new series of attempts, within the 5 s spacing. */
	t->handshake_attempts = 0;
	return may_initiate(t, now_ms) ? SESS_ACT_SEND_INITIATION : 0;
}

static unsigned expired_zero_keys(struct sess_timers *t, uint64_t now_ms)
{
	return SESS_ACT_ZERO_KEYS;
}

static unsigned expired_persistent_keepalive(struct sess_timers *t, uint64_t now_ms)
{
	return t->keepalive_s ? SESS_ACT_SEND_KEEPALIVE : 0;
}

static unsigned expired_fast_retry(struct sess_timers *t, uint64_t now_ms)
{
	/* Not an attempt: the 5 s retransmit schedule, re-armed by the resend,
	 * still decides when to give up. */
	if (!t->fast_retries_left)
		return 0;
	t->fast_retries_left--;
	return SESS_ACT_SEND_INITIATION;
}

unsigned sess_timers_expire(struct sess_timers *t, uint64_t now_ms)
{
	static unsigned (*const handlers[SESS_TIMER_COUNT])(struct sess_timers *, uint64_t) = {
	    [SESS_TIMER_RETRANSMIT] = expired_retransmit,
	    [SESS_TIMER_SEND_KEEPALIVE] = expired_send_keepalive,
	    [SESS_TIMER_NEW_HANDSHAKE] = expired_new_handshake,
	    [SESS_TIMER_ZERO_KEYS] = expired_zero_keys,
	    [SESS_TIMER_PERSISTENT_KEEPALIVE] = expired_persistent_keepalive,
	    [SESS_TIMER_FAST_RETRY] = expired_fast_retry,
	};
	unsigned actions = 0;

	for (int i = 0; i < SESS_TIMER_COUNT; i++) {
		if (t->deadline_ms[i] > now_ms)
			continue;
		disarm(t, i);
		actions |= handlers[i](t, now_ms);
	}
	return actions;
}

bool sess_timers_crossed_keep_ours(const uint8_t our_pub[32], const uint8_t their_pub[32],
				   bool ours_outstanding, uint64_t ours_sent_ms, bool same_path,
				   uint64_t now_ms)
{
	if (!ours_outstanding || !same_path || now_ms < ours_sent_ms ||
	    now_ms - ours_sent_ms >= SESS_REKEY_TIMEOUT_MS)
		return false;
	return memcmp(our_pub, their_pub, 32) < 0;
}
