/* Session timer tests: time is walked forward by hand; each case checks that
 * an action fires exactly at its deadline, not a millisecond before, and that
 * the hooks that should cancel or hold a timer do. Jitter is made repeatable
 * with sess_timers_seed(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "session/keypair.h"
#include "session/timers.h"

enum { T0 = 5000000 };

/* The next deadline is `at`, nothing fires at at - 1, and exactly `actions` fire at `at`. */
static void fires_at(struct sess_timers *t, uint64_t at, unsigned actions)
{
	assert_int_equal(sess_timers_next_deadline(t), at);
	assert_int_equal(sess_timers_expire(t, at - 1), 0);
	assert_int_equal(sess_timers_expire(t, at), actions);
}

static void test_sess_timers_init_nothing_armed(void **state)
{
	struct sess_timers t;

	sess_timers_init(&t, 25);
	assert_true(sess_timers_next_deadline(&t) == UINT64_MAX);
	assert_int_equal(sess_timers_expire(&t, UINT64_MAX - 1), 0);

	/* Failure: after stop, hooks arm nothing and nothing may initiate. */
	sess_timers_stop(&t);
	sess_timers_on_handshake_initiated(&t, T0);
	sess_timers_on_data_received(&t, T0);
	sess_timers_on_data_sent(&t, T0);
	sess_timers_on_session_derived(&t, T0);
	sess_timers_on_authenticated_sent(&t, T0);
	assert_true(sess_timers_next_deadline(&t) == UINT64_MAX);
	assert_false(sess_timers_request_handshake(&t, T0));
	assert_int_equal(sess_timers_expire(&t, UINT64_MAX - 1), 0);
}

static void test_sess_timers_expire_retransmit_then_give_up(void **state)
{
	struct sess_timers t;
	uint64_t now = T0, last;
	int initiations = 1, give_ups = 0;

	sess_timers_init(&t, 0);
	sess_timers_seed(&t, 42);
	assert_true(sess_timers_request_handshake(&t, now));
	sess_timers_on_handshake_initiated(&t, now);
	sess_timers_on_authenticated_sent(&t, now);
	last = now;
	for (;;) {
		uint64_t d = sess_timers_next_deadline(&t);
		unsigned a;

		/* REKEY_TIMEOUT plus jitter in [0, 334) after each initiation. */
		assert_true(d >= last + SESS_REKEY_TIMEOUT_MS);
		assert_true(d < last + SESS_REKEY_TIMEOUT_MS + SESS_REKEY_TIMEOUT_JITTER_MAX_MS);
		assert_int_equal(sess_timers_expire(&t, d - 1), 0);
		a = sess_timers_expire(&t, d);
		now = d;
		if (a == SESS_ACT_GIVE_UP) {
			give_ups++;
			break;
		}
		assert_int_equal(a, SESS_ACT_SEND_INITIATION);
		sess_timers_on_handshake_initiated(&t, now);
		sess_timers_on_authenticated_sent(&t, now);
		initiations++;
		last = now;
		assert_true(initiations <= 20);
	}
	/* As the kernel: 1 + 19 retries = 20 initiations, about 100 s. */
	assert_int_equal(initiations, SESS_MAX_TIMER_HANDSHAKES + 2);
	assert_int_equal(give_ups, 1);
	assert_true(now - T0 >= 20 * SESS_REKEY_TIMEOUT_MS);
	/* Given up: no more initiations; leftovers wiped 540 s later. */
	fires_at(&t, now + SESS_ZERO_KEYS_TIMEOUT_MS, SESS_ACT_ZERO_KEYS);
	assert_true(sess_timers_next_deadline(&t) == UINT64_MAX);

	/* New traffic starts a fresh series of 20. */
	now += SESS_ZERO_KEYS_TIMEOUT_MS;
	assert_true(sess_timers_request_handshake(&t, now));
	sess_timers_on_handshake_initiated(&t, now);
	for (initiations = 1;; initiations++) {
		uint64_t d = sess_timers_next_deadline(&t);
		unsigned a = sess_timers_expire(&t, d);

		if (a == SESS_ACT_GIVE_UP)
			break;
		assert_int_equal(a, SESS_ACT_SEND_INITIATION);
		sess_timers_on_handshake_initiated(&t, d);
		assert_true(initiations < 30);
	}
	assert_int_equal(initiations, 20);
}

static void test_sess_timers_on_handshake_complete_stops_retransmit(void **state)
{
	struct sess_timers t;
	uint64_t d;

	sess_timers_init(&t, 0);
	sess_timers_seed(&t, 1);
	sess_timers_on_handshake_initiated(&t, T0);
	d = sess_timers_next_deadline(&t);
	assert_int_equal(sess_timers_expire(&t, d), SESS_ACT_SEND_INITIATION);
	sess_timers_on_handshake_initiated(&t, d);
	assert_int_equal(t.handshake_attempts, 1);

	/* The response arrives: retransmit cancelled, attempts reset. */
	sess_timers_on_authenticated_received(&t, d + 100);
	sess_timers_on_session_derived(&t, d + 100);
	sess_timers_on_handshake_complete(&t, d + 100);
	assert_int_equal(t.handshake_attempts, 0);
	/* Only the zero-key timer is left. */
	fires_at(&t, d + 100 + SESS_ZERO_KEYS_TIMEOUT_MS, SESS_ACT_ZERO_KEYS);
	assert_true(sess_timers_next_deadline(&t) == UINT64_MAX);
}

static void test_sess_timers_request_handshake_spacing(void **state)
{
	struct sess_timers t;

	sess_timers_init(&t, 0);
	assert_true(sess_timers_request_handshake(&t, T0)); /* the first is free */
	sess_timers_on_handshake_initiated(&t, T0);
	/* Failure: not again within REKEY_TIMEOUT. */
	assert_false(sess_timers_request_handshake(&t, T0 + 1));
	assert_false(sess_timers_request_handshake(&t, T0 + SESS_REKEY_TIMEOUT_MS - 1));
	assert_true(sess_timers_request_handshake(&t, T0 + SESS_REKEY_TIMEOUT_MS));
}

static void test_sess_timers_on_data_received_keepalive(void **state)
{
	struct sess_timers t;

	sess_timers_init(&t, 0);
	/* Data in, nothing out for 10 s: one passive keepalive. */
	sess_timers_on_authenticated_received(&t, T0);
	sess_timers_on_data_received(&t, T0);
	fires_at(&t, T0 + SESS_KEEPALIVE_TIMEOUT_MS, SESS_ACT_SEND_KEEPALIVE);
	assert_true(sess_timers_next_deadline(&t) == UINT64_MAX);

	/* More data while it is pending: the deadline holds, and one more
	 * keepalive follows 10 s after the first. */
	sess_timers_on_data_received(&t, T0 + 20000);
	sess_timers_on_data_received(&t, T0 + 23000);
	fires_at(&t, T0 + 30000, SESS_ACT_SEND_KEEPALIVE);
	fires_at(&t, T0 + 40000, SESS_ACT_SEND_KEEPALIVE);
	assert_true(sess_timers_next_deadline(&t) == UINT64_MAX);

	/* Failure case: we answered with data, so no keepalive is due. */
	sess_timers_on_data_received(&t, T0 + 50000);
	sess_timers_on_authenticated_sent(&t, T0 + 55000);
	assert_int_equal(sess_timers_expire(&t, T0 + 70000), 0);
	assert_true(sess_timers_next_deadline(&t) == UINT64_MAX);
}

static void test_sess_timers_on_data_sent_new_handshake(void **state)
{
	struct sess_timers t;
	uint64_t d;

	sess_timers_init(&t, 0);
	sess_timers_seed(&t, 7);
	/* Data out, nothing back: new handshake after 15 s + jitter, counted
	 * from the first unanswered packet. */
	sess_timers_on_data_sent(&t, T0);
	d = sess_timers_next_deadline(&t);
	assert_true(d >= T0 + SESS_NEW_HANDSHAKE_TIMEOUT_MS);
	assert_true(d < T0 + SESS_NEW_HANDSHAKE_TIMEOUT_MS + SESS_REKEY_TIMEOUT_JITTER_MAX_MS);
	sess_timers_on_data_sent(&t, T0 + 5000);
	fires_at(&t, d, SESS_ACT_SEND_INITIATION);

	/* Failure: anything authenticated from the peer cancels it. */
	sess_timers_on_data_sent(&t, T0 + 100000);
	sess_timers_on_authenticated_received(&t, T0 + 110000);
	assert_int_equal(sess_timers_expire(&t, T0 + 200000), 0);

	/* Due within 5 s of another initiation: no second one. */
	sess_timers_on_handshake_initiated(&t, T0 + 300000);
	sess_timers_on_handshake_complete(&t, T0 + 300000);
	sess_timers_on_data_sent(&t, T0 + 300000 - SESS_NEW_HANDSHAKE_TIMEOUT_MS + 1000);
	d = sess_timers_next_deadline(&t);
	assert_true(d < T0 + 300000 + SESS_REKEY_TIMEOUT_MS);
	assert_int_equal(sess_timers_expire(&t, d), 0);
}

static void test_sess_timers_on_session_derived_zero_keys(void **state)
{
	struct sess_timers t;

	sess_timers_init(&t, 0);
	sess_timers_on_session_derived(&t, T0);
	assert_int_equal(sess_timers_next_deadline(&t), T0 + 540000);
	/* New keys push it out: 540 s after the latest. */
	sess_timers_on_session_derived(&t, T0 + 100000);
	assert_int_equal(sess_timers_expire(&t, T0 + 540000), 0);
	fires_at(&t, T0 + 640000, SESS_ACT_ZERO_KEYS);
	assert_int_equal(sess_timers_expire(&t, T0 + 10000000), 0);
}

static void test_sess_timers_persistent_keepalive(void **state)
{
	struct sess_timers t;

	sess_timers_init(&t, 25);
	sess_timers_on_authenticated_sent(&t, T0);
	fires_at(&t, T0 + 25000, SESS_ACT_SEND_KEEPALIVE);
	/* The daemon sends it, which re-arms; traffic either way pushes it. */
	sess_timers_on_authenticated_sent(&t, T0 + 25000);
	sess_timers_on_authenticated_received(&t, T0 + 40000);
	fires_at(&t, T0 + 65000, SESS_ACT_SEND_KEEPALIVE);

	/* Turned off by a reload: nothing more. */
	sess_timers_on_authenticated_sent(&t, T0 + 65000);
	sess_timers_set_keepalive(&t, 0, T0 + 70000);
	assert_true(sess_timers_next_deadline(&t) == UINT64_MAX);
	sess_timers_on_authenticated_received(&t, T0 + 80000);
	assert_int_equal(sess_timers_expire(&t, T0 + 1000000), 0);
	/* And back on. */
	sess_timers_set_keepalive(&t, 10, T0 + 90000);
	fires_at(&t, T0 + 100000, SESS_ACT_SEND_KEEPALIVE);

	/* Failure: keepalive 0 from the start never fires. */
	sess_timers_init(&t, 0);
	sess_timers_on_authenticated_sent(&t, T0);
	sess_timers_on_authenticated_received(&t, T0);
	assert_true(sess_timers_next_deadline(&t) == UINT64_MAX);
}

static void test_sess_timers_expire_together(void **state)
{
	struct sess_timers t;

	/* Several due at once: one call returns them all, then nothing. */
	sess_timers_init(&t, 5);
	sess_timers_on_session_derived(&t, T0 - SESS_ZERO_KEYS_TIMEOUT_MS);
	sess_timers_on_data_received(&t, T0 - SESS_KEEPALIVE_TIMEOUT_MS);
	sess_timers_on_authenticated_received(&t, T0 - 5000);
	assert_int_equal(sess_timers_next_deadline(&t), T0);
	assert_int_equal(sess_timers_expire(&t, T0 - 1), 0);
	assert_int_equal(sess_timers_expire(&t, T0 + 1),
			 SESS_ACT_ZERO_KEYS | SESS_ACT_SEND_KEEPALIVE);
	assert_int_equal(sess_timers_expire(&t, T0 + 1), 0);
}

/* Fast retries: a new path gives the next initiations 4 quick resends, 1 s
 * apart, that are not attempts; then the 5 s schedule goes on and still
 * gives up after 20 initiations of its own. */
static void test_sess_timers_fast_retry_on_new_path(void **state)
{
	struct sess_timers t;
	uint64_t now = T0, d;
	int initiations = 1;

	(void)state;
	sess_timers_init(&t, 0);
	sess_timers_seed(&t, 3);
	/* Without a new path: the plain schedule (covered above). */
	sess_timers_on_handshake_initiated(&t, now);
	assert_true(sess_timers_next_deadline(&t) >= now + SESS_REKEY_TIMEOUT_MS);

	sess_timers_on_path_new(&t);
	sess_timers_on_handshake_initiated(&t, now);
	for (int k = 1; k <= SESS_FAST_RETRIES; k++) {
		fires_at(&t, now + SESS_FAST_RETRY_MS, SESS_ACT_SEND_INITIATION);
		now += SESS_FAST_RETRY_MS;
		sess_timers_on_handshake_initiated(&t, now);
		initiations++;
		assert_int_equal(t.handshake_attempts, 0);
	}
	/* Spent: the next one is the retransmit, 5 s (+ jitter) after the last. */
	d = sess_timers_next_deadline(&t);
	assert_true(d >= now + SESS_REKEY_TIMEOUT_MS);
	assert_true(d < now + SESS_REKEY_TIMEOUT_MS + SESS_REKEY_TIMEOUT_JITTER_MAX_MS);
	for (;;) {
		unsigned a;

		d = sess_timers_next_deadline(&t);
		a = sess_timers_expire(&t, d);
		if (a == SESS_ACT_GIVE_UP)
			break;
		assert_int_equal(a, SESS_ACT_SEND_INITIATION);
		sess_timers_on_handshake_initiated(&t, d);
		initiations++;
		assert_true(initiations < 40);
	}
	assert_int_equal(initiations, 1 + SESS_FAST_RETRIES + SESS_MAX_TIMER_HANDSHAKES + 1);
}

/* A response stops the fast retries at once; the session's keys grant the
 * next handshake (a rekey) its own; a new path in the middle of a series
 * grants a fresh set. */
static void test_sess_timers_fast_retry_stops_and_renews(void **state)
{
	struct sess_timers t;
	uint64_t now = T0;

	(void)state;
	sess_timers_init(&t, 0);
	sess_timers_seed(&t, 4);
	sess_timers_on_path_new(&t);
	sess_timers_on_handshake_initiated(&t, now);
	fires_at(&t, now + SESS_FAST_RETRY_MS, SESS_ACT_SEND_INITIATION);
	now += SESS_FAST_RETRY_MS;
	sess_timers_on_handshake_initiated(&t, now);
	assert_int_equal(t.fast_retries_left, SESS_FAST_RETRIES - 1);

	/* The response comes 300 ms later: no fast retry left armed. */
	now += 300;
	sess_timers_on_authenticated_received(&t, now);
	sess_timers_on_session_derived(&t, now);
	sess_timers_on_handshake_complete(&t, now);
	fires_at(&t, now + SESS_ZERO_KEYS_TIMEOUT_MS, SESS_ACT_ZERO_KEYS);
	assert_true(sess_timers_next_deadline(&t) == UINT64_MAX);

	/* The rekey 120 s on gets 4 again. */
	now += 120000;
	sess_timers_on_handshake_initiated(&t, now);
	assert_int_equal(t.fast_retries_left, SESS_FAST_RETRIES);
	fires_at(&t, now + SESS_FAST_RETRY_MS, SESS_ACT_SEND_INITIATION);
	now += SESS_FAST_RETRY_MS;
	sess_timers_on_handshake_initiated(&t, now);
	fires_at(&t, now + SESS_FAST_RETRY_MS, SESS_ACT_SEND_INITIATION);
	now += SESS_FAST_RETRY_MS;
	assert_int_equal(t.fast_retries_left, SESS_FAST_RETRIES - 2);
	/* The path engine moves the peer: a fresh set of 4. */
	sess_timers_on_path_new(&t);
	sess_timers_on_handshake_initiated(&t, now);
	for (int k = 0; k < SESS_FAST_RETRIES; k++) {
		fires_at(&t, now + SESS_FAST_RETRY_MS, SESS_ACT_SEND_INITIATION);
		now += SESS_FAST_RETRY_MS;
		sess_timers_on_handshake_initiated(&t, now);
	}
	assert_true(sess_timers_next_deadline(&t) >= now + SESS_REKEY_TIMEOUT_MS);
	/* Stopped (peer removed): nothing fires. */
	sess_timers_stop(&t);
	sess_timers_on_path_new(&t);
	sess_timers_on_handshake_initiated(&t, now);
	assert_true(sess_timers_next_deadline(&t) == UINT64_MAX);
}

static void test_sess_timers_seed_repeatable(void **state)
{
	struct sess_timers a, b;
	uint64_t seen_min = UINT64_MAX, seen_max = 0;

	sess_timers_init(&a, 0);
	sess_timers_init(&b, 0);
	sess_timers_seed(&a, 99);
	sess_timers_seed(&b, 99);
	for (int k = 0; k < 1000; k++) {
		uint64_t da, db, j;

		sess_timers_on_handshake_initiated(&a, T0);
		sess_timers_on_handshake_initiated(&b, T0);
		da = sess_timers_next_deadline(&a);
		db = sess_timers_next_deadline(&b);
		assert_int_equal(da, db); /* same seed, same jitter */
		j = da - T0 - SESS_REKEY_TIMEOUT_MS;
		assert_true(j < SESS_REKEY_TIMEOUT_JITTER_MAX_MS);
		seen_min = j < seen_min ? j : seen_min;
		seen_max = j > seen_max ? j : seen_max;
	}
	/* It does jitter: the draws cover most of [0, 334). */
	assert_true(seen_min < 20);
	assert_true(seen_max > 310);

	/* Failure: another seed gives another sequence. */
	sess_timers_seed(&b, 100);
	sess_timers_seed(&a, 99);
	{
		int differ = 0;

		for (int k = 0; k < 10; k++) {
			sess_timers_on_handshake_initiated(&a, T0);
			sess_timers_on_handshake_initiated(&b, T0);
			differ += sess_timers_next_deadline(&a) != sess_timers_next_deadline(&b);
		}
		assert_true(differ > 5);
	}
}

/* Crossed initiations: for one pair of keys exactly one side keeps its
 * own (both sides agree), only while it is outstanding, fresh and theirs
 * came the same way; equal keys keep nothing; the same inputs again (a
 * replay) give the same answer. */
static void test_sess_timers_crossed_keep_ours(void **state)
{
	uint8_t lo[32], hi[32], mid[32];
	const uint64_t sent = 100000;

	(void)state;
	memset(lo, 0x11, 32);
	memset(hi, 0x11, 32);
	hi[31] = 0x12; /* differs in the last byte only */
	memset(mid, 0x80, 32);

	/* Both sides agree: the lower key keeps its own, the higher answers. */
	assert_true(sess_timers_crossed_keep_ours(lo, hi, true, sent, true, sent + 10));
	assert_false(sess_timers_crossed_keep_ours(hi, lo, true, sent, true, sent + 10));
	assert_true(sess_timers_crossed_keep_ours(lo, mid, true, sent, true, sent + 10));
	assert_false(sess_timers_crossed_keep_ours(mid, lo, true, sent, true, sent + 10));
	assert_true(sess_timers_crossed_keep_ours(mid, hi, true, sent, true, sent + 10) !=
		    sess_timers_crossed_keep_ours(hi, mid, true, sent, true, sent + 10));
	/* Equal keys (a peer with our own key): neither side keeps its own. */
	assert_false(sess_timers_crossed_keep_ours(lo, lo, true, sent, true, sent + 10));

	/* Only while ours is outstanding and fresh. */
	assert_false(sess_timers_crossed_keep_ours(lo, hi, false, sent, true, sent + 10));
	assert_true(sess_timers_crossed_keep_ours(lo, hi, true, sent, true,
						  sent + SESS_REKEY_TIMEOUT_MS - 1));
	assert_false(
	    sess_timers_crossed_keep_ours(lo, hi, true, sent, true, sent + SESS_REKEY_TIMEOUT_MS));
	assert_false(sess_timers_crossed_keep_ours(lo, hi, true, sent, true, sent - 1));
	/* Theirs from another path than ours went out on: answered. */
	assert_false(sess_timers_crossed_keep_ours(lo, hi, true, sent, false, sent + 10));

	/* A replay of their initiation: the same answer as the first time
	 * while ours is fresh, and let through (to the handshake's own replay
	 * check) once ours is stale. */
	for (int i = 0; i < 3; i++)
		assert_true(sess_timers_crossed_keep_ours(lo, hi, true, sent, true, sent + 20));
	assert_false(sess_timers_crossed_keep_ours(lo, hi, true, sent, true, sent + 60000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sess_timers_init_nothing_armed),
	    cmocka_unit_test(test_sess_timers_expire_retransmit_then_give_up),
	    cmocka_unit_test(test_sess_timers_on_handshake_complete_stops_retransmit),
	    cmocka_unit_test(test_sess_timers_request_handshake_spacing),
	    cmocka_unit_test(test_sess_timers_on_data_received_keepalive),
	    cmocka_unit_test(test_sess_timers_on_data_sent_new_handshake),
	    cmocka_unit_test(test_sess_timers_on_session_derived_zero_keys),
	    cmocka_unit_test(test_sess_timers_persistent_keepalive),
	    cmocka_unit_test(test_sess_timers_expire_together),
	    cmocka_unit_test(test_sess_timers_fast_retry_on_new_path),
	    cmocka_unit_test(test_sess_timers_fast_retry_stops_and_renews),
	    cmocka_unit_test(test_sess_timers_seed_repeatable),
	    cmocka_unit_test(test_sess_timers_crossed_keep_ours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
