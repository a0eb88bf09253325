/* Path engine tests: time is walked by hand from T0 and the actions of
 * punch_expire() are checked against the schedule in punch/engine.h: what
 * goes out at the start moment and not a millisecond before, which reply
 * selects which path, when TCP and the relay come in and when a direct path
 * replaces them, heartbeats and the third miss. Each case also checks a
 * refusal: a reply with a foreign tx_id, a step of 0, relay not allowed,
 * an answer from the wrong place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sodium.h>

#include "sockaddr_fill.h"

#include "punch/engine.h"
#include "util/addr.h"

enum { T0 = 10000000, START_IN = 200, MAXA = 64 };

static struct sockaddr_storage sa4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;

	sockaddr_fill(&ss, ip, port);
	return ss;
}

static struct punch_config config(bool relay, unsigned keepalive_s)
{
	struct punch_config c;

	memset(&c, 0, sizeof(c));
	c.keepalive_s = keepalive_s;
	c.relay_allowed = relay;
	memset(c.our_pub, 0x11, 32);
	memset(c.their_pub, 0x22, 32);
	return c;
}

/* A fresh engine for a peer configured as config(relay, keepalive_s). */
static void peer_init(struct punch_peer *p, bool relay, unsigned keepalive_s)
{
	struct punch_config c = config(relay, keepalive_s);

	punch_peer_init(p, &c);
}

/* The peer's candidates as the rendezvous sends them: LAN 10.0.2.5,
 * reflexive 198.51.100.7:40000 (UDP) and :40000 (TCP) when tcp. */
static struct rdv_introduce intro(bool tcp)
{
	struct rdv_introduce m;

	memset(&m, 0, sizeof(m));
	m.nat_mapping = RDV_MAPPING_INDEPENDENT;
	m.start_in_ms = START_IN;
	m.udp_reflexive = sa4("198.51.100.7", 40000);
	if (tcp)
		m.tcp_reflexive = sa4("198.51.100.7", 40000);
	m.n_host = 1;
	m.host[0] = sa4("10.0.2.5", 51820);
	return m;
}

struct acts {
	size_t n;
	struct punch_action a[MAXA];
};

static struct acts run(struct punch_peer *p, uint64_t now)
{
	struct acts r;

	r.n = punch_expire(p, now, r.a, MAXA);
	return r;
}

static size_t count_type(const struct acts *r, enum punch_act_type type)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->a[i].type == type;
	return n;
}

/* The action of type to addr (any address when addr is NULL), or NULL. */
static const struct punch_action *find_act(const struct acts *r, enum punch_act_type type,
					   const struct sockaddr_storage *addr)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->a[i].type == type && (!addr || addr_equal(&r->a[i].addr, addr)))
			return &r->a[i];
	return NULL;
}

/* The last action of type to addr, or NULL. */
static const struct punch_action *find_last_act(const struct acts *r, enum punch_act_type type,
						const struct sockaddr_storage *addr)
{
	for (size_t i = r->n; i-- > 0;)
		if (r->a[i].type == type && addr_equal(&r->a[i].addr, addr))
			return &r->a[i];
	return NULL;
}

static struct probe_payload reply_to(const struct punch_action *a, uint64_t sent)
{
	struct probe_payload pl;

	memset(&pl, 0, sizeof(pl));
	pl.kind = a->probe_kind == PROBE_HEARTBEAT ? PROBE_HEARTBEAT_REPLY : PROBE_REPLY;
	pl.tx_id = a->tx_id;
	pl.sender_time_ms = sent;
	pl.observed = sa4("203.0.113.2", 51820);
	return pl;
}

/* Runs the engine from `from` to `to` (inclusive) at every deadline,
 * collecting everything it does. */
static struct acts run_until(struct punch_peer *p, uint64_t from, uint64_t to)
{
	struct acts all = {0};
	uint64_t now = from;

	for (;;) {
		struct acts r;
		uint64_t d = punch_next_deadline(p);

		now = d > now ? d : now;
		if (now > to)
			break;
		r = run(p, now);
		for (size_t i = 0; i < r.n && all.n < MAXA; i++)
			all.a[all.n++] = r.a[i];
		if (!r.n && punch_next_deadline(p) <= now)
			fail_msg("deadline %llu does not move", (unsigned long long)now);
	}
	return all;
}

/* Peer introduced at T0, start moment reached, first probes collected. */
static struct acts introduced(struct punch_peer *p, bool relay, bool tcp, unsigned keepalive)
{
	struct rdv_introduce m = intro(tcp);

	peer_init(p, relay, keepalive);
	punch_on_introduce(p, &m, T0);
	return run(p, T0 + START_IN);
}

static void test_punch_on_introduce_probes_at_start_moment(void **state)
{
	struct punch_peer p;
	struct rdv_introduce m = intro(false);
	struct sockaddr_storage lan = sa4("10.0.2.5", 51820), refl = sa4("198.51.100.7", 40000);
	struct acts r;

	peer_init(&p, true, 0);
	assert_true(punch_next_deadline(&p) == UINT64_MAX);
	assert_int_equal(p.phase, PUNCH_PHASE_IDLE);
	punch_on_introduce(&p, &m, T0);
	assert_int_equal(p.phase, PUNCH_PHASE_WAITING);
	/* The LAN candidate first, the reflexive, and the LAN address for TCP
	 * (the same listen_port). */
	assert_int_equal(p.n_cand, 3);
	assert_int_equal(p.cand[0].type, PUNCH_CAND_HOST);
	assert_int_equal(p.cand[1].type, PUNCH_CAND_SRFLX);
	assert_int_equal(p.cand[2].type, PUNCH_CAND_HOST);
	assert_int_equal(p.cand[2].proto, PUNCH_PROTO_TCP);

	/* Not before the start moment. */
	assert_true(punch_next_deadline(&p) == T0 + START_IN);
	assert_int_equal(run(&p, T0 + START_IN - 1).n, 0);

	/* At it: one request to every candidate, each its own tx_id. */
	r = run(&p, T0 + START_IN);
	assert_int_equal(r.n, 2);
	assert_non_null(find_act(&r, PUNCH_ACT_SEND_PROBE, &lan));
	assert_non_null(find_act(&r, PUNCH_ACT_SEND_PROBE, &refl));
	assert_int_equal(r.a[0].probe_kind, PROBE_REQUEST);
	assert_int_equal(r.a[0].path, PUNCH_PATH_UDP);
	assert_true(r.a[0].tx_id != r.a[1].tx_id);
	assert_int_equal(p.phase, PUNCH_PHASE_UDP);
	assert_int_equal(p.cand[0].state, PUNCH_PAIR_IN_PROGRESS);

	/* Nothing twice at the same moment; the retry 200 ms later. */
	assert_int_equal(run(&p, T0 + START_IN).n, 0);
	assert_true(punch_next_deadline(&p) == T0 + START_IN + PUNCH_FAST_RETRY_MS);
	assert_int_equal(run(&p, T0 + START_IN + PUNCH_FAST_RETRY_MS - 1).n, 0);
	r = run(&p, T0 + START_IN + PUNCH_FAST_RETRY_MS);
	assert_int_equal(count_type(&r, PUNCH_ACT_SEND_PROBE), 2);
	assert_int_equal(p.cand[0].tries, 2);
}

/* The gap the schedule leaves after a probe sent at sent (no path). */
static uint64_t expected_gap(uint64_t start, uint64_t sent)
{
	uint64_t half = (sent - start) / 2;

	if (sent < start + PUNCH_FAST_PHASE_MS)
		return PUNCH_FAST_RETRY_MS;
	if (half < PUNCH_RETRY_MS)
		return PUNCH_RETRY_MS;
	return half > PUNCH_RETRY_MAX_MS ? PUNCH_RETRY_MAX_MS : half;
}

static void test_punch_expire_retry_schedule(void **state)
{
	struct punch_peer p;
	struct acts r;
	uint64_t start = T0 + START_IN, last = start;
	unsigned sent = 1, fast = 0;

	struct rdv_introduce m = intro(false);

	m.n_host = 0; /* one candidate, UDP only: nothing but its probes */
	peer_init(&p, false, 0);
	punch_on_introduce(&p, &m, T0);
	assert_int_equal(run(&p, start).n, 1);
	/* 200 ms gaps for 2 s, then half the round's age (1 s to 8 s), until
	 * the candidate's cap for the round. */
	while (punch_next_deadline(&p) < start + PUNCH_GIVE_UP_MS) {
		uint64_t d = punch_next_deadline(&p);

		r = run(&p, d);
		assert_int_equal(count_type(&r, PUNCH_ACT_SEND_PROBE), 1);
		assert_int_equal(r.n, 1);
		if (d - last != expected_gap(start, last))
			fail_msg("gap %llu after %llu", (unsigned long long)(d - last),
				 (unsigned long long)(last - start));
		fast += d - last == PUNCH_FAST_RETRY_MS;
		last = d;
		sent++;
	}
	assert_int_equal(fast, PUNCH_FAST_PHASE_MS / PUNCH_FAST_RETRY_MS);
	/* Per-candidate cap: PUNCH_CAND_PROBES, and they reach into the
	 * second half of the round rather than ending in its first seconds. */
	assert_int_equal(sent, PUNCH_CAND_PROBES);
	assert_true(last > start + PUNCH_GIVE_UP_MS / 2);
	assert_int_equal(p.cand[0].tries, PUNCH_CAND_PROBES);
	/* Past the fast phase unanswered pairs show as failed. */
	assert_int_equal(p.cand[0].state, PUNCH_PAIR_FAILED);
	/* 30 s without a path: ask for a new introduction; then nothing at
	 * all until the back-off has passed, and a new round from there. */
	assert_true(punch_next_deadline(&p) == start + PUNCH_GIVE_UP_MS);
	r = run(&p, start + PUNCH_GIVE_UP_MS);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.a[0].type, PUNCH_ACT_REQUEST_INTRODUCTION);
	assert_int_equal(p.phase, PUNCH_PHASE_WAITING);
	assert_true(punch_next_deadline(&p) == start + PUNCH_GIVE_UP_MS + PUNCH_BACKOFF_MS);
	assert_int_equal(run(&p, start + PUNCH_GIVE_UP_MS + PUNCH_BACKOFF_MS - 1).n, 0);
	r = run(&p, start + PUNCH_GIVE_UP_MS + PUNCH_BACKOFF_MS);
	assert_int_equal(count_type(&r, PUNCH_ACT_SEND_PROBE), 1);
	assert_int_equal(p.cand[0].tries, 1);
	/* Failure: no path, no relay: never a USE_PATH. */
	assert_int_equal(p.path, PUNCH_PATH_NONE);
}

/* ---- bounds (engine.h: Bounds) ---- */

/* An introduction with every candidate it can carry: 8 hosts (UDP and
 * TCP), both reflexive ones and predicted ports of a sequential NAT. */
static struct rdv_introduce big_intro(void)
{
	struct rdv_introduce m = intro(true);
	char ip[32];

	m.n_host = RDV_MAX_HOST;
	for (size_t i = 0; i < RDV_MAX_HOST; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%zu", 67 + i);
		m.host[i] = sa4(ip, 51820);
	}
	m.nat_mapping = RDV_MAPPING_DEPENDENT;
	m.port_step = 1;
	return m;
}

/* Actions of type to addr in r. */
static unsigned count_to(const struct acts *r, enum punch_act_type type,
			 const struct sockaddr_storage *addr)
{
	unsigned n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->a[i].type == type && addr_equal(&r->a[i].addr, addr);
	return n;
}

/* Runs from..to, counting (not keeping) the probes and connects per
 * candidate address and the other actions. */
struct tally {
	unsigned probes, connects, intros, use_path, max_probes_one, max_connects_one;
	uint64_t first_ms, last_ms;
};

static struct tally run_tally(struct punch_peer *p, uint64_t from, uint64_t to)
{
	struct tally t = {0};
	unsigned per_udp[PUNCH_MAX_CANDIDATES] = {0}, per_tcp[PUNCH_MAX_CANDIDATES] = {0};
	uint64_t now = from;

	for (;;) {
		uint64_t d = punch_next_deadline(p);
		struct acts r;

		now = d > now ? d : now;
		if (now > to)
			break;
		r = run(p, now);
		if (!r.n && punch_next_deadline(p) <= now)
			fail_msg("deadline %llu does not move", (unsigned long long)now);
		for (size_t i = 0; i < r.n; i++) {
			const struct punch_action *a = &r.a[i];
			int k = -1;

			for (size_t j = 0; j < p->n_cand && k < 0; j++)
				if (addr_equal(&p->cand[j].addr, &a->addr) &&
				    p->cand[j].proto == (a->type == PUNCH_ACT_TCP_CONNECT
							     ? PUNCH_PROTO_TCP
							     : PUNCH_PROTO_UDP))
					k = (int)j;
			if (a->type == PUNCH_ACT_SEND_PROBE && a->probe_kind == PROBE_REQUEST) {
				t.probes++;
				if (k >= 0 && ++per_udp[k] > t.max_probes_one)
					t.max_probes_one = per_udp[k];
			} else if (a->type == PUNCH_ACT_TCP_CONNECT) {
				t.connects++;
				if (k >= 0 && ++per_tcp[k] > t.max_connects_one)
					t.max_connects_one = per_tcp[k];
			} else if (a->type == PUNCH_ACT_REQUEST_INTRODUCTION) {
				t.intros++;
			} else if (a->type == PUNCH_ACT_USE_PATH) {
				t.use_path++;
			}
			if (a->type == PUNCH_ACT_SEND_PROBE || a->type == PUNCH_ACT_TCP_CONNECT) {
				if (!t.first_ms)
					t.first_ms = now;
				t.last_ms = now;
			}
		}
	}
	return t;
}

/* One round toward as many candidates as an introduction can name: the
 * round's budget and the per-candidate caps hold, what is refused is
 * counted, and the fast phase still goes out in full. */
static void test_punch_round_budget(void **state)
{
	struct rdv_introduce m = big_intro();
	uint64_t start = T0 + START_IN;
	struct punch_peer p;
	struct tally t;
	size_t udp = 0, tcp = 0;

	peer_init(&p, false, 0);
	assert_true(punch_on_introduce(&p, &m, T0));
	for (size_t i = 0; i < p.n_cand; i++)
		*(p.cand[i].proto == PUNCH_PROTO_UDP ? &udp : &tcp) += 1;
	/* Enough candidates that the caps alone would allow more. */
	assert_true(udp * PUNCH_CAND_PROBES > PUNCH_ROUND_PROBES);
	assert_true(tcp * PUNCH_CAND_CONNECTS > PUNCH_ROUND_CONNECTS);
	t = run_tally(&p, T0, start + PUNCH_GIVE_UP_MS - 1);
	assert_int_equal(t.probes, PUNCH_ROUND_PROBES);
	assert_int_equal(t.connects, PUNCH_ROUND_CONNECTS);
	assert_true(t.max_probes_one <= PUNCH_CAND_PROBES);
	assert_true(t.max_connects_one <= PUNCH_CAND_CONNECTS);
	assert_true(p.probes_refused > 0);
	assert_true(p.connects_refused > 0);
	assert_int_equal(p.probes_sent, PUNCH_ROUND_PROBES);
	assert_int_equal(p.connects_sent, PUNCH_ROUND_CONNECTS);
	/* The fast phase (every candidate every 200 ms for 2 s) is whole. */
	assert_true(udp * (PUNCH_FAST_PHASE_MS / PUNCH_FAST_RETRY_MS + 1) <= PUNCH_ROUND_PROBES);
	/* Past the budget, nothing more this round... */
	t = run_tally(&p, start + PUNCH_GIVE_UP_MS - 1, start + PUNCH_GIVE_UP_MS);
	assert_int_equal(t.probes + t.connects, 0);
	assert_int_equal(t.intros, 1);
	/* ...and the next round, after the back-off, has its budget again. */
	t = run_tally(&p, start + PUNCH_GIVE_UP_MS,
		      start + PUNCH_GIVE_UP_MS + PUNCH_BACKOFF_MS + PUNCH_GIVE_UP_MS - 1);
	assert_true(t.first_ms == start + PUNCH_GIVE_UP_MS + PUNCH_BACKOFF_MS);
	assert_int_equal(t.probes, PUNCH_ROUND_PROBES);
	assert_int_equal(t.connects, PUNCH_ROUND_CONNECTS);
}

/* Pacing: the first probes of a large round go out at once up to the
 * burst, the rest as tokens come, never faster than PUNCH_PACE_PER_S. */
static void test_punch_pacing(void **state)
{
	struct rdv_introduce m = big_intro();
	uint64_t start = T0 + START_IN;
	struct punch_peer p;
	struct tally t;

	peer_init(&p, false, 0);
	p.pace_tokens = 3; /* as if most of the burst had been spent */
	p.pace_refill_ms = start;
	punch_on_introduce(&p, &m, T0);
	t = run_tally(&p, T0, start);
	assert_int_equal(t.probes, 3);
	/* The rest wait for tokens: a deadline a few ms ahead, not now. */
	assert_true(punch_next_deadline(&p) > start);
	assert_true(punch_next_deadline(&p) <= start + 1000 / PUNCH_PACE_PER_S + 1);
	t = run_tally(&p, start + 1, start + 50);
	assert_true(t.probes >= 50 * PUNCH_PACE_PER_S / 1000 - 1);
	assert_true(t.probes <= 50 * PUNCH_PACE_PER_S / 1000 + 1);
	assert_int_equal(p.probes_refused, 0);
}

/* The wait between rounds: 30 s, doubling, capped at PUNCH_BACKOFF_MAX_MS;
 * nothing at all is sent in between. */
static void test_punch_backoff_growth_and_cap(void **state)
{
	struct rdv_introduce m = intro(false);
	struct punch_peer p;
	uint64_t round_start = T0 + START_IN, want = PUNCH_BACKOFF_MS;

	m.n_host = 0;
	peer_init(&p, false, 0);
	punch_on_introduce(&p, &m, T0);
	for (int k = 0; k < 8; k++) {
		uint64_t end = round_start + PUNCH_GIVE_UP_MS;
		struct tally t = run_tally(&p, round_start, end);

		assert_true(t.first_ms == round_start);
		assert_int_equal(t.probes, PUNCH_CAND_PROBES);
		assert_int_equal(t.intros, 1);
		/* Silence for the whole wait, then the next round. */
		t = run_tally(&p, end + 1, end + want - 1);
		assert_int_equal(t.probes + t.connects + t.intros, 0);
		assert_true(punch_next_deadline(&p) == end + want);
		round_start = end + want;
		want = want * 2 > PUNCH_BACKOFF_MAX_MS ? PUNCH_BACKOFF_MAX_MS : want * 2;
	}
	assert_true(want == PUNCH_BACKOFF_MAX_MS);
}

/* An introduction that repeats what we know changes nothing: not in a
 * round (no restart of the schedule, no fresh budget), not in a back-off
 * wait (no early round), however often it comes. */
static void test_punch_repeated_introduction_keeps_backoff(void **state)
{
	struct rdv_introduce m = intro(true);
	uint64_t start = T0 + START_IN, end = start + PUNCH_GIVE_UP_MS, now;
	struct punch_peer p;
	struct tally t;
	unsigned probes = 0;

	peer_init(&p, false, 0);
	assert_true(punch_on_introduce(&p, &m, T0));
	/* In the round: once a second, as a CONNECT flood would make it. */
	for (now = start; now < end; now += 1000) {
		t = run_tally(&p, now, now + 999);
		probes += t.probes;
		assert_false(punch_on_introduce(&p, &m, now + 999));
	}
	assert_true(probes <= 2 * PUNCH_CAND_PROBES); /* two UDP candidates */
	t = run_tally(&p, end - 1, end);
	assert_int_equal(t.intros, 1);
	/* In the wait: still nothing, and the next round stays where it was. */
	for (now = end + 1; now < end + PUNCH_BACKOFF_MS; now += 1000) {
		uint64_t to =
		    now + 999 < end + PUNCH_BACKOFF_MS ? now + 999 : end + PUNCH_BACKOFF_MS - 1;

		assert_false(punch_on_introduce(&p, &m, now));
		t = run_tally(&p, now, to);
		assert_int_equal(t.probes + t.connects, 0);
	}
	assert_true(punch_next_deadline(&p) == end + PUNCH_BACKOFF_MS);
	assert_int_equal(p.early_tokens, PUNCH_EARLY_ROUNDS);
}

/* New candidates start a round at once, while early rounds are left; past
 * them they wait for the next scheduled round, and the back-off level is
 * never reset by them. */
static void test_punch_new_candidates_start_early(void **state)
{
	struct rdv_introduce m = intro(false);
	uint64_t start = T0 + START_IN, end = start + PUNCH_GIVE_UP_MS, now = end + 5000;
	struct sockaddr_storage h2 = sa4("10.0.2.6", 51820), h3 = sa4("10.0.2.7", 51820),
				h4 = sa4("10.0.2.8", 51820);
	struct punch_peer p;
	struct acts r;
	struct tally t;

	peer_init(&p, false, 0);
	punch_on_introduce(&p, &m, T0);
	(void)run_tally(&p, T0, end);
	assert_int_equal(p.backoff_level, 1);
	/* In the wait, a new host candidate: a round at now + start_in. */
	m.n_host = 2;
	m.host[1] = h2;
	assert_true(punch_on_introduce(&p, &m, now));
	assert_int_equal(p.phase, PUNCH_PHASE_WAITING);
	r = run(&p, now + START_IN);
	assert_int_equal(count_type(&r, PUNCH_ACT_SEND_PROBE), 3);
	assert_int_equal(count_to(&r, PUNCH_ACT_SEND_PROBE, &h2), 1);
	/* The same again: nothing. Another new one: the second early round. */
	assert_false(punch_on_introduce(&p, &m, now + 1000));
	m.n_host = 3;
	m.host[2] = h3;
	assert_true(punch_on_introduce(&p, &m, now + 2000));
	/* A third new one: no early round left. It joins the running round
	 * (probed at once, under its budget), without a new start moment. */
	m.n_host = 4;
	m.host[3] = h4;
	now += 3000;
	(void)run_tally(&p, now - 1000, now - 1);
	assert_false(punch_on_introduce(&p, &m, now));
	r = run(&p, now);
	assert_int_equal(count_to(&r, PUNCH_ACT_SEND_PROBE, &h4), 1);
	assert_true(p.start_ms == now - 1000 + START_IN);
	/* The back-off level went on: the early rounds ended like any other. */
	t = run_tally(&p, now, p.start_ms + PUNCH_GIVE_UP_MS);
	assert_int_equal(t.intros, 1);
	assert_int_equal(p.backoff_level, 2);
	assert_true(punch_next_deadline(&p) == p.start_ms);
	assert_true(p.start_ms == now - 1000 + START_IN + PUNCH_GIVE_UP_MS + 2 * PUNCH_BACKOFF_MS);
	/* A fresh early round comes back after PUNCH_BACKOFF_MAX_MS. */
	m.n_host = 1;
	assert_false(punch_on_introduce(&p, &m, now + 10000)); /* fewer: nothing new */
	m.n_host = 4;
	m.host[3] = sa4("10.0.2.9", 51820);
	assert_false(punch_on_introduce(&p, &m, now + 20000));
	m.host[3] = sa4("10.0.2.10", 51820);
	assert_true(punch_on_introduce(&p, &m, T0 + PUNCH_BACKOFF_MAX_MS + 60000));
}

/* A UDP path found ends the probing: nothing more to the other
 * candidates, no end of round, no introduction asked for. */
static void test_punch_path_found_stops_probing(void **state)
{
	struct sockaddr_storage refl = sa4("198.51.100.7", 40000);
	struct punch_peer p;
	struct acts r = introduced(&p, false, true, 0);
	const struct punch_action *a = find_act(&r, PUNCH_ACT_SEND_PROBE, &refl);
	struct probe_payload pl = reply_to(a, T0 + START_IN);
	struct tally t;

	punch_on_probe_reply(&p, &refl, &pl, T0 + START_IN + 20);
	assert_int_equal(p.path, PUNCH_PATH_UDP);
	t = run_tally(&p, T0 + START_IN + 20, T0 + START_IN + 10 * PUNCH_BACKOFF_MAX_MS);
	assert_int_equal(t.probes, 0);
	assert_int_equal(t.connects, 0);
	assert_int_equal(t.intros, 0);
	assert_int_equal(p.backoff_level, 0);
	assert_true(punch_next_deadline(&p) == UINT64_MAX);
}

/* A relay path that never answered dies (heartbeats) without buying a
 * new round: the round and its budget go on as before. */
static void test_punch_unconfirmed_dead_path_restarts_nothing(void **state)
{
	struct punch_peer p;
	uint64_t start = T0 + START_IN;
	struct tally t;
	uint64_t rounds;

	(void)introduced(&p, true, false, 5);
	punch_on_relay_available(&p, start);
	t = run_tally(&p, start, start + PUNCH_RELAY_AFTER_MS);
	assert_int_equal(p.path, PUNCH_PATH_RELAY);
	rounds = p.rounds;
	/* Keepalive 5 s: the relay's third unanswered heartbeat is ~17 s in. */
	t = run_tally(&p, start + PUNCH_RELAY_AFTER_MS, start + PUNCH_GIVE_UP_MS - 1);
	assert_true(p.hb_sent >= PUNCH_DEAD_AFTER_MISSES);
	assert_int_equal(p.rounds, rounds);
	assert_true(t.probes <= 2 * PUNCH_CAND_PROBES);
	assert_true(p.round_probes <= 2 * PUNCH_CAND_PROBES);
}

static void test_punch_on_probe_reply_selects_path(void **state)
{
	struct punch_peer p;
	struct sockaddr_storage refl = sa4("198.51.100.7", 40000);
	struct acts r = introduced(&p, true, false, 0);
	const struct punch_action *a = find_act(&r, PUNCH_ACT_SEND_PROBE, &refl);
	struct probe_payload pl = reply_to(a, T0 + START_IN);

	/* Failure first: a reply naming a tx_id we never used changes nothing. */
	pl.tx_id ^= 1ull << 40; /* another epoch */
	punch_on_probe_reply(&p, &refl, &pl, T0 + START_IN + 30);
	pl.tx_id = a->tx_id + 1000; /* a sequence not sent yet */
	punch_on_probe_reply(&p, &refl, &pl, T0 + START_IN + 30);
	pl = reply_to(a, T0 + START_IN);
	pl.kind = PROBE_HEARTBEAT_REPLY; /* wrong kind for this hook */
	punch_on_probe_reply(&p, &refl, &pl, T0 + START_IN + 30);
	assert_int_equal(p.path, PUNCH_PATH_NONE);
	assert_int_equal(p.cand[1].state, PUNCH_PAIR_IN_PROGRESS);
	assert_true(punch_next_deadline(&p) == T0 + START_IN + PUNCH_FAST_RETRY_MS);

	/* The real reply: the pair succeeded, RTT from the echoed time. */
	pl = reply_to(a, T0 + START_IN);
	punch_on_probe_reply(&p, &refl, &pl, T0 + START_IN + 30);
	assert_int_equal(p.cand[1].state, PUNCH_PAIR_SUCCEEDED);
	assert_int_equal(p.cand[1].rtt_ms, 30);
	assert_true(punch_next_deadline(&p) <= T0 + START_IN + 30);
	r = run(&p, T0 + START_IN + 30);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.a[0].type, PUNCH_ACT_USE_PATH);
	assert_int_equal(r.a[0].path, PUNCH_PATH_UDP);
	assert_true(addr_equal(&r.a[0].addr, &refl));
	assert_int_equal(p.phase, PUNCH_PHASE_DIRECT);
	assert_int_equal(p.rtt_ms, 30);
	/* On a UDP path: no more probes, no TCP, no relay, nothing scheduled
	 * (keepalive off). */
	assert_true(punch_next_deadline(&p) == UINT64_MAX);
	punch_on_relay_available(&p, T0 + 5000);
	assert_int_equal(run(&p, T0 + 60000).n, 0);
	assert_int_equal(p.path, PUNCH_PATH_UDP);
}

static void test_punch_select_prefers_lan(void **state)
{
	struct sockaddr_storage lan = sa4("10.0.2.5", 51820), refl = sa4("198.51.100.7", 40000);
	struct punch_peer p;
	struct acts r = introduced(&p, false, false, 0);
	struct probe_payload to_lan =
	    reply_to(find_act(&r, PUNCH_ACT_SEND_PROBE, &lan), T0 + START_IN);
	struct probe_payload to_refl =
	    reply_to(find_act(&r, PUNCH_ACT_SEND_PROBE, &refl), T0 + START_IN);

	/* 1. The reflexive answers first: used at once. */
	punch_on_probe_reply(&p, &refl, &to_refl, T0 + START_IN + 5);
	r = run(&p, T0 + START_IN + 5);
	assert_non_null(find_act(&r, PUNCH_ACT_USE_PATH, &refl));
	/* 2. The LAN pair answers later: it replaces the reflexive one. */
	punch_on_probe_reply(&p, &lan, &to_lan, T0 + START_IN + 8);
	r = run(&p, T0 + START_IN + 8);
	assert_int_equal(r.n, 1);
	assert_non_null(find_act(&r, PUNCH_ACT_USE_PATH, &lan));
	/* 3. Failure: the reflexive again, even faster, does not take it back. */
	to_refl.sender_time_ms = T0 + START_IN + 9;
	punch_on_probe_reply(&p, &refl, &to_refl, T0 + START_IN + 10);
	assert_int_equal(run(&p, T0 + START_IN + 10).n, 0);
	assert_true(addr_equal(&p.path_addr, &lan));

	/* 4. The other order: LAN first, then the reflexive: one USE_PATH. */
	r = introduced(&p, false, false, 0);
	to_lan = reply_to(find_act(&r, PUNCH_ACT_SEND_PROBE, &lan), T0 + START_IN);
	to_refl = reply_to(find_act(&r, PUNCH_ACT_SEND_PROBE, &refl), T0 + START_IN);
	punch_on_probe_reply(&p, &lan, &to_lan, T0 + START_IN + 5);
	punch_on_probe_reply(&p, &refl, &to_refl, T0 + START_IN + 6);
	r = run(&p, T0 + START_IN + 6);
	assert_int_equal(r.n, 1);
	assert_non_null(find_act(&r, PUNCH_ACT_USE_PATH, &lan));
}

static void test_punch_on_introduce_predicted_ports(void **state)
{
	/* step, reflexive port, mapping: predicted ports expected. */
	static const struct {
		int16_t step;
		uint16_t port;
		uint8_t mapping;
		unsigned first, n;
	} rows[] = {
	    {1, 20000, RDV_MAPPING_DEPENDENT, 20001, PUNCH_MAX_PREDICTED},
	    {2, 20000, RDV_MAPPING_DEPENDENT, 20002, PUNCH_MAX_PREDICTED},
	    {-1, 20000, RDV_MAPPING_DEPENDENT, 19999, PUNCH_MAX_PREDICTED},
	    {1, 65530, RDV_MAPPING_DEPENDENT, 65531, 5}, /* stops at 65535 */
	    {0, 20000, RDV_MAPPING_DEPENDENT, 0, 0},	 /* random: no prediction */
	    {1, 20000, RDV_MAPPING_INDEPENDENT, 0, 0},	 /* EIM: the reflexive is it */
	    {1, 20000, RDV_MAPPING_UNKNOWN, 0, 0},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct punch_config c = config(false, 0);
		struct rdv_introduce m = intro(false);
		struct punch_peer p;
		struct acts r;
		unsigned predicted = 0;

		m.nat_mapping = rows[i].mapping;
		m.port_step = rows[i].step;
		m.udp_reflexive = sa4("198.51.100.7", rows[i].port);
		punch_peer_init(&p, &c);
		punch_on_introduce(&p, &m, T0);
		for (size_t k = 0; k < p.n_cand; k++) {
			if (p.cand[k].type != PUNCH_CAND_PREDICTED)
				continue;
			assert_int_equal(addr_port(&p.cand[k].addr),
					 rows[i].first + (int)predicted * rows[i].step);
			predicted++;
		}
		assert_int_equal(predicted, rows[i].n);
		/* All of them are probed at the start moment with the rest. */
		r = run(&p, T0 + START_IN);
		assert_int_equal(count_type(&r, PUNCH_ACT_SEND_PROBE), 2 + rows[i].n);
	}
}

static void test_punch_fallback_tcp_then_relay(void **state)
{
	struct sockaddr_storage tcp_refl = sa4("198.51.100.7", 40000), lan = sa4("10.0.2.5", 51820);
	uint64_t start = T0 + START_IN;
	struct punch_peer p;
	struct acts r;

	(void)introduced(&p, true, true, 0);
	punch_on_relay_available(&p, T0 + 100);
	/* Until 2 s: UDP only. */
	r = run_until(&p, start + 1, start + PUNCH_TCP_AFTER_MS - 1);
	assert_int_equal(count_type(&r, PUNCH_ACT_TCP_CONNECT), 0);
	assert_int_equal(count_type(&r, PUNCH_ACT_USE_PATH), 0);
	/* At 2 s: simultaneous open to the TCP reflexive and the LAN address. */
	r = run(&p, start + PUNCH_TCP_AFTER_MS);
	assert_int_equal(count_type(&r, PUNCH_ACT_TCP_CONNECT), 2);
	assert_non_null(find_act(&r, PUNCH_ACT_TCP_CONNECT, &tcp_refl));
	assert_non_null(find_act(&r, PUNCH_ACT_TCP_CONNECT, &lan));
	assert_int_equal(p.phase, PUNCH_PHASE_TCP);
	/* A refused connect is tried again a second later. */
	punch_on_tcp_failed(&p, &lan, start + PUNCH_TCP_AFTER_MS + 10);
	/* Not the relay before 2.5 s; at 2.5 s the relay. */
	r = run_until(&p, start + PUNCH_TCP_AFTER_MS + 1, start + PUNCH_RELAY_AFTER_MS - 1);
	assert_int_equal(count_type(&r, PUNCH_ACT_USE_PATH), 0);
	r = run(&p, start + PUNCH_RELAY_AFTER_MS);
	assert_int_equal(r.a[0].type, PUNCH_ACT_USE_PATH);
	assert_int_equal(r.a[0].path, PUNCH_PATH_RELAY);
	assert_int_equal(p.phase, PUNCH_PHASE_RELAYED);
	/* On the relay, UDP goes on at the fast pace to the end of the fast
	 * phase, then UDP and TCP keep trying, but every 5 s. */
	r = run_until(&p, start + PUNCH_RELAY_AFTER_MS + 1, start + PUNCH_FAST_PHASE_MS);
	assert_int_equal(count_type(&r, PUNCH_ACT_USE_PATH), 0);
	r = run_until(&p, start + PUNCH_FAST_PHASE_MS + 1, start + 2 * PUNCH_SLOW_RETRY_MS);
	assert_true(count_type(&r, PUNCH_ACT_SEND_PROBE) >= 2);
	assert_true(count_type(&r, PUNCH_ACT_SEND_PROBE) <= 6);
	assert_non_null(find_act(&r, PUNCH_ACT_TCP_CONNECT, &lan));
	assert_int_equal(count_type(&r, PUNCH_ACT_USE_PATH), 0);
	/* The round ends on the relay: fresh candidates are asked for (once),
	 * the relay stays. */
	r = run_until(&p, start + 2 * PUNCH_SLOW_RETRY_MS + 1, start + PUNCH_GIVE_UP_MS - 1);
	assert_int_equal(count_type(&r, PUNCH_ACT_REQUEST_INTRODUCTION), 0);
	r = run_until(&p, start + PUNCH_GIVE_UP_MS, start + PUNCH_GIVE_UP_MS + 1);
	assert_int_equal(count_type(&r, PUNCH_ACT_REQUEST_INTRODUCTION), 1);
	assert_int_equal(count_type(&r, PUNCH_ACT_USE_PATH), 0);
	assert_int_equal(p.path, PUNCH_PATH_RELAY);

	/* Failure: relay not allowed: TCP every second, never the relay. */
	(void)introduced(&p, false, true, 0);
	punch_on_relay_available(&p, T0 + 100);
	r = run_until(&p, start + 1, start + 6000);
	assert_int_equal(count_type(&r, PUNCH_ACT_USE_PATH), 0);
	/* Connects still under way are restarted every 3 s: at 2, 5 s. */
	assert_int_equal(count_type(&r, PUNCH_ACT_TCP_CONNECT), 4);
	punch_on_tcp_failed(&p, &lan, start + 6000);
	r = run_until(&p, start + 6001, start + 7000);
	assert_non_null(find_act(&r, PUNCH_ACT_TCP_CONNECT, &lan));
}

static void test_punch_upgrade_replaces_relay(void **state)
{
	struct sockaddr_storage refl = sa4("198.51.100.7", 40000), tcp_refl = refl;
	uint64_t start = T0 + START_IN, now;
	struct punch_peer p;
	const struct punch_action *probe;
	struct probe_payload pl;
	struct acts r;

	(void)introduced(&p, true, true, 0);
	punch_on_relay_available(&p, T0);
	r = run_until(&p, start + 1, start + PUNCH_RELAY_AFTER_MS);
	assert_int_equal(p.path, PUNCH_PATH_RELAY);

	/* 1. TCP connects: TCP direct beats the relay. */
	now = start + 3000;
	punch_on_tcp_connected(&p, &tcp_refl, now);
	r = run(&p, now);
	assert_int_equal(r.a[0].type, PUNCH_ACT_USE_PATH);
	assert_int_equal(r.a[0].path, PUNCH_PATH_TCP);
	assert_int_equal(p.phase, PUNCH_PHASE_DIRECT);

	/* 2. A slow upgrade probe finally gets a UDP reply: UDP beats TCP. */
	r = run_until(&p, now + 1, now + PUNCH_SLOW_RETRY_MS);
	probe = find_act(&r, PUNCH_ACT_SEND_PROBE, &refl);
	assert_non_null(probe);
	assert_int_equal(count_type(&r, PUNCH_ACT_TCP_CONNECT), 0);
	now += PUNCH_SLOW_RETRY_MS;
	pl = reply_to(probe, now - 20);
	punch_on_probe_reply(&p, &refl, &pl, now);
	r = run(&p, now);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.a[0].path, PUNCH_PATH_UDP);
	assert_true(addr_equal(&r.a[0].addr, &refl));

	/* 3. Failure: TCP connecting again while on UDP changes nothing. */
	punch_on_tcp_connected(&p, &tcp_refl, now + 1);
	assert_int_equal(run(&p, now + 1).n, 0);
	assert_int_equal(p.path, PUNCH_PATH_UDP);

	/* 4. UDP straight from the relay, without TCP in between. */
	(void)introduced(&p, true, false, 0);
	punch_on_relay_available(&p, T0);
	r = run_until(&p, start + 1, start + 8000);
	assert_int_equal(p.path, PUNCH_PATH_RELAY);
	/* The slow upgrade probe sent at start + 8 s is the one answered (an
	 * early one is long past PUNCH_TX_TIMEOUT_MS). */
	probe = find_last_act(&r, PUNCH_ACT_SEND_PROBE, &refl);
	pl = reply_to(probe, start + 8000);
	punch_on_probe_reply(&p, &refl, &pl, start + 8030);
	r = run(&p, start + 8030);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.a[0].type, PUNCH_ACT_USE_PATH);
	assert_int_equal(r.a[0].path, PUNCH_PATH_UDP);
}

/* Puts p on the UDP reflexive path at `at`; keepalive 5 s. */
static uint64_t on_udp_path(struct punch_peer *p, bool relay)
{
	struct sockaddr_storage refl = sa4("198.51.100.7", 40000);
	struct acts r = introduced(p, relay, false, 5);
	struct probe_payload pl =
	    reply_to(find_act(&r, PUNCH_ACT_SEND_PROBE, &refl), T0 + START_IN);
	uint64_t at = T0 + START_IN + 10;

	if (relay)
		punch_on_relay_available(p, T0);
	punch_on_probe_reply(p, &refl, &pl, at);
	r = run(p, at);
	assert_non_null(find_act(&r, PUNCH_ACT_USE_PATH, &refl));
	return at;
}

static void test_punch_heartbeats_and_dead_path(void **state)
{
	struct sockaddr_storage refl = sa4("198.51.100.7", 40000), lan = sa4("10.0.2.5", 51820);
	struct punch_peer p;
	uint64_t at = on_udp_path(&p, true), hb;
	struct probe_payload pl;
	struct acts r;

	/* 1. The first heartbeat keepalive after the path came up. */
	assert_true(punch_next_deadline(&p) == at + 5000);
	assert_int_equal(run(&p, at + 4999).n, 0);
	r = run(&p, at + 5000);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.a[0].type, PUNCH_ACT_SEND_PROBE);
	assert_int_equal(r.a[0].probe_kind, PROBE_HEARTBEAT);
	assert_true(addr_equal(&r.a[0].addr, &refl));
	/* Answered: the next one keepalive after the answer. */
	pl = reply_to(&r.a[0], at + 5000);
	punch_on_heartbeat_reply(&p, PUNCH_PATH_UDP, &refl, &pl, at + 5040);
	assert_int_equal(p.rtt_ms, 40);
	assert_true(punch_next_deadline(&p) == at + 10040);

	/* 2. Authenticated traffic counts as life and postpones heartbeats. */
	assert_true(punch_on_path_authenticated(&p, PUNCH_PATH_UDP, &refl, at + 8000));
	assert_true(punch_next_deadline(&p) == at + 13000);
	hb = at + 13000;

	/* 3. Three heartbeats unanswered. A reply with a foreign tx_id, or
	 * from another path, does not help. */
	r = run(&p, hb);
	pl = reply_to(&r.a[0], hb);
	pl.tx_id ^= 1ull << 63;
	punch_on_heartbeat_reply(&p, PUNCH_PATH_UDP, &refl, &pl, hb + 10);
	pl = reply_to(&r.a[0], hb);
	punch_on_heartbeat_reply(&p, PUNCH_PATH_RELAY, NULL, &pl, hb + 10);
	assert_false(punch_on_path_authenticated(&p, PUNCH_PATH_RELAY, &refl, hb + 10));
	assert_int_equal(p.path, PUNCH_PATH_UDP);
	r = run(&p, hb + 5000);
	assert_int_equal(p.hb_misses, 1);
	assert_int_equal(r.a[0].probe_kind, PROBE_HEARTBEAT);
	r = run(&p, hb + 10000);
	assert_int_equal(p.hb_misses, 2);
	assert_int_equal(count_type(&r, PUNCH_ACT_PATH_DEAD), 0);
	assert_int_equal(run(&p, hb + 14999).n, 0);
	r = run(&p, hb + 15000);
	/* Dead: said first, then the relay meanwhile, a new introduction, and
	 * probes to every known candidate at once. */
	assert_int_equal(r.a[0].type, PUNCH_ACT_PATH_DEAD);
	assert_true(addr_equal(&r.a[0].addr, &refl));
	assert_int_equal(r.a[1].type, PUNCH_ACT_USE_PATH);
	assert_int_equal(r.a[1].path, PUNCH_PATH_RELAY);
	assert_int_equal(r.a[2].type, PUNCH_ACT_REQUEST_INTRODUCTION);
	assert_non_null(find_act(&r, PUNCH_ACT_SEND_PROBE, &refl));
	assert_non_null(find_act(&r, PUNCH_ACT_SEND_PROBE, &lan));
	assert_int_equal(p.phase, PUNCH_PHASE_RELAYED);
	/* Re-punching runs the fast schedule again. */
	assert_true(punch_next_deadline(&p) == hb + 15000 + PUNCH_FAST_RETRY_MS);
	assert_int_equal(p.hb_sent, 4);
	assert_int_equal(p.hb_answered, 1);
}

static void test_punch_dead_path_without_relay(void **state)
{
	struct sockaddr_storage refl = sa4("198.51.100.7", 40000);
	struct punch_peer p;
	uint64_t at = on_udp_path(&p, false);
	struct acts r;

	r = run_until(&p, at + 1, at + 20000);
	assert_int_equal(count_type(&r, PUNCH_ACT_SEND_PROBE), 3 + 2); /* 3 heartbeats, 2 probes */
	assert_int_equal(count_type(&r, PUNCH_ACT_PATH_DEAD), 1);
	assert_int_equal(count_type(&r, PUNCH_ACT_REQUEST_INTRODUCTION), 1);
	/* No relay and no stream to fall back on: one USE_PATH to no path,
	 * so the daemon stops sending into the dead one. */
	assert_int_equal(count_type(&r, PUNCH_ACT_USE_PATH), 1);
	assert_int_equal(find_act(&r, PUNCH_ACT_USE_PATH, NULL)->path, PUNCH_PATH_NONE);
	assert_true(find_act(&r, PUNCH_ACT_USE_PATH, NULL) >
		    find_act(&r, PUNCH_ACT_PATH_DEAD, NULL));
	assert_int_equal(p.path, PUNCH_PATH_NONE);
	assert_int_equal(p.phase, PUNCH_PHASE_UDP);
	assert_int_equal(p.cand[1].state, PUNCH_PAIR_IN_PROGRESS);
	assert_true(addr_equal(&p.cand[1].addr, &refl));
}

/* Puts p on the UDP reflexive path with a TCP stream to the reflexive
 * address up beside it (a simultaneous open that lost to UDP); keepalive
 * 5 s. */
static uint64_t on_udp_path_with_stream(struct punch_peer *p, bool relay)
{
	struct sockaddr_storage refl = sa4("198.51.100.7", 40000);
	struct acts r = introduced(p, relay, true, 5);
	struct probe_payload pl =
	    reply_to(find_act(&r, PUNCH_ACT_SEND_PROBE, &refl), T0 + START_IN);
	uint64_t at = T0 + START_IN + 10;

	if (relay)
		punch_on_relay_available(p, T0);
	punch_on_probe_reply(p, &refl, &pl, at);
	r = run(p, at);
	assert_non_null(find_act(&r, PUNCH_ACT_USE_PATH, &refl));
	/* The stream comes up while on UDP: it does not take the path. */
	punch_on_tcp_connected(p, &refl, at + 1);
	assert_int_equal(run(p, at + 1).n, 0);
	assert_int_equal(p->path, PUNCH_PATH_UDP);
	return at;
}

/* The UDP path dies with a TCP stream up: the peer moves to the stream
 * (not the relay, not nowhere), once; probing goes on, and UDP answering
 * again moves it back up. */
static void test_punch_dead_path_falls_back_to_stream(void **state)
{
	struct sockaddr_storage refl = sa4("198.51.100.7", 40000);
	struct rdv_introduce m = intro(true);
	struct punch_peer p;
	uint64_t at = on_udp_path_with_stream(&p, true), dead_at, sent = 0;
	const struct punch_action *dead, *use, *probe;
	unsigned hb_tcp;
	struct probe_payload pl;
	struct acts r;

	/* A repeated introduction and the round it may start keep the
	 * stream a succeeded pair. */
	punch_on_introduce(&p, &m, at + 2);
	assert_int_equal(p.path, PUNCH_PATH_UDP);
	r = run_until(&p, at + 2, at + 20000);
	dead = find_act(&r, PUNCH_ACT_PATH_DEAD, NULL);
	use = find_act(&r, PUNCH_ACT_USE_PATH, NULL);
	assert_non_null(dead);
	assert_non_null(use);
	assert_int_equal(dead->path, PUNCH_PATH_UDP);
	assert_true(addr_equal(&dead->addr, &refl));
	assert_true(use > dead);
	assert_int_equal(use->path, PUNCH_PATH_TCP);
	assert_true(addr_equal(&use->addr, &refl));
	assert_int_equal(count_type(&r, PUNCH_ACT_USE_PATH), 1);
	assert_int_equal(count_type(&r, PUNCH_ACT_PATH_DEAD), 1);
	/* The live stream is not connected again. */
	assert_int_equal(count_type(&r, PUNCH_ACT_TCP_CONNECT), 0);
	assert_int_equal(p.path, PUNCH_PATH_TCP);
	assert_int_equal(p.phase, PUNCH_PHASE_DIRECT);
	dead_at = at + 5000 + 3 * 5000;

	/* On the stream: its heartbeats go over TCP, and UDP is probed for
	 * the way back up. */
	r = run_until(&p, dead_at + 1, dead_at + 5000);
	probe = NULL;
	hb_tcp = 0;
	for (size_t i = 0; i < r.n; i++) {
		if (r.a[i].type != PUNCH_ACT_SEND_PROBE)
			continue;
		if (r.a[i].probe_kind == PROBE_HEARTBEAT) {
			assert_int_equal(r.a[i].path, PUNCH_PATH_TCP);
			hb_tcp++;
		} else if (r.a[i].path == PUNCH_PATH_UDP && addr_equal(&r.a[i].addr, &refl)) {
			probe = &r.a[i];
		}
	}
	assert_int_equal(hb_tcp, 1);
	assert_non_null(probe);
	/* Its reply, within PUNCH_TX_TIMEOUT_MS of the probe (the engine's own
	 * record of when it went out). */
	for (size_t i = 0; i < PUNCH_MAX_OUTSTANDING; i++)
		if (p.tx[i].used && p.tx[i].tx_id == probe->tx_id)
			sent = p.tx[i].sent_ms;
	assert_true(sent >= dead_at && sent + PUNCH_TX_TIMEOUT_MS > dead_at + 5000);
	pl = reply_to(probe, sent);
	punch_on_probe_reply(&p, &refl, &pl, dead_at + 5000);
	r = run(&p, dead_at + 5000);
	use = find_act(&r, PUNCH_ACT_USE_PATH, NULL);
	assert_non_null(use);
	assert_int_equal(use->path, PUNCH_PATH_UDP);
	assert_true(addr_equal(&use->addr, &refl));
	assert_int_equal(p.path, PUNCH_PATH_UDP);
}

/* The stream closed before the UDP path died: the relay, then. Neither
 * relay nor stream: no path. A TCP path that dies does not fall back on
 * itself. */
static void test_punch_dead_path_fallback_order(void **state)
{
	struct sockaddr_storage refl = sa4("198.51.100.7", 40000);
	struct punch_peer p;
	uint64_t at = on_udp_path_with_stream(&p, true);
	const struct punch_action *use;
	struct acts r;

	punch_on_tcp_closed(&p, &refl, at + 100);
	assert_int_equal(p.path, PUNCH_PATH_UDP);
	r = run_until(&p, at + 101, at + 20000);
	use = find_act(&r, PUNCH_ACT_USE_PATH, NULL);
	assert_non_null(use);
	assert_int_equal(use->path, PUNCH_PATH_RELAY);
	assert_int_equal(count_type(&r, PUNCH_ACT_USE_PATH), 1);

	at = on_udp_path_with_stream(&p, false);
	punch_on_tcp_closed(&p, &refl, at + 100);
	r = run_until(&p, at + 101, at + 20000);
	use = find_act(&r, PUNCH_ACT_USE_PATH, NULL);
	assert_non_null(use);
	assert_int_equal(use->path, PUNCH_PATH_NONE);

	/* On the stream (UDP dead), the stream's own heartbeats go
	 * unanswered too: it is dead and no fallback for itself. */
	at = on_udp_path_with_stream(&p, false);
	r = run_until(&p, at + 2, at + 20000);
	assert_int_equal(p.path, PUNCH_PATH_TCP);
	r = run_until(&p, at + 20001, at + 40000);
	assert_int_equal(count_type(&r, PUNCH_ACT_PATH_DEAD), 1);
	use = find_act(&r, PUNCH_ACT_USE_PATH, NULL);
	assert_non_null(use);
	assert_int_equal(use->path, PUNCH_PATH_NONE);
	assert_int_equal(p.path, PUNCH_PATH_NONE);
}

/* A reply is evidence only for the exact probe it answers (engine.h:
 * Evidence). Each row sends the probe's reply with one thing changed; only
 * the genuine ones select the path. */
static void test_punch_on_probe_reply_only_for_outstanding_probe(void **state)
{
	static const struct {
		const char *what;
		const char *ip;
		uint16_t port;
		uint64_t tx_xor;
		uint64_t delay_ms;
		bool counts;
	} rows[] = {
	    {"genuine", "198.51.100.7", 40000, 0, 30, true},
	    {"at the timeout", "198.51.100.7", 40000, 0, PUNCH_TX_TIMEOUT_MS, true},
	    {"after the timeout", "198.51.100.7", 40000, 0, PUNCH_TX_TIMEOUT_MS + 1, false},
	    {"another port", "198.51.100.7", 53111, 0, 30, false},
	    {"another host", "203.0.113.66", 40000, 0, 30, false},
	    {"unknown tx", "198.51.100.7", 40000, 1000, 30, false},
	    {"another epoch", "198.51.100.7", 40000, 1ull << 40, 30, false},
	};
	struct sockaddr_storage refl = sa4("198.51.100.7", 40000);

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sockaddr_storage from = sa4(rows[i].ip, rows[i].port);
		struct punch_peer p;
		struct acts r = introduced(&p, false, false, 0);
		const struct punch_action a = *find_act(&r, PUNCH_ACT_SEND_PROBE, &refl);
		struct probe_payload pl = reply_to(&a, T0 + START_IN);
		uint64_t at = T0 + START_IN + rows[i].delay_ms;
		size_t n_cand = p.n_cand;

		pl.tx_id ^= rows[i].tx_xor;
		punch_on_probe_reply(&p, &from, &pl, at);
		r = run(&p, at);
		if (rows[i].counts != (find_act(&r, PUNCH_ACT_USE_PATH, &refl) != NULL))
			fail_msg("%s: counted %d", rows[i].what, !rows[i].counts);
		/* Never a candidate learned from a reply. */
		assert_int_equal(p.n_cand, n_cand);
		if (!rows[i].counts) {
			assert_int_equal(p.path, PUNCH_PATH_NONE);
			assert_int_not_equal(p.cand[1].state, PUNCH_PAIR_SUCCEEDED);
		}
	}
}

static void test_punch_on_probe_reply_replayed_is_ignored(void **state)
{
	struct sockaddr_storage lan = sa4("10.0.2.5", 51820), refl = sa4("198.51.100.7", 40000),
				evil = sa4("203.0.113.66", 4444);
	struct punch_peer p;
	struct acts r = introduced(&p, false, false, 0);
	const struct punch_action a = *find_act(&r, PUNCH_ACT_SEND_PROBE, &refl);
	struct probe_payload pl = reply_to(&a, T0 + START_IN);
	uint64_t at = T0 + START_IN + 20;

	/* A copy from elsewhere before the genuine one does not use it up. */
	punch_on_probe_reply(&p, &evil, &pl, at - 5);
	punch_on_probe_reply(&p, &refl, &pl, at);
	assert_int_equal(p.cand[1].state, PUNCH_PAIR_SUCCEEDED);
	assert_int_equal(p.cand[1].rtt_ms, 20);
	r = run(&p, at);
	assert_non_null(find_act(&r, PUNCH_ACT_USE_PATH, &refl));
	/* The same bytes again, from the same place and from elsewhere, many
	 * times: consumed, nothing moves, nothing is measured, nothing learned. */
	for (int k = 1; k <= 100; k++) {
		punch_on_probe_reply(&p, &refl, &pl, at + 10 * k);
		punch_on_probe_reply(&p, &evil, &pl, at + 10 * k);
		punch_on_probe_reply(&p, &lan, &pl, at + 10 * k);
	}
	assert_int_equal(p.cand[1].last_ok_ms, at);
	assert_int_equal(p.cand[1].rtt_ms, 20);
	assert_int_equal(p.n_cand, 3);
	assert_int_equal(run(&p, at + 1000).n, 0);
	assert_true(addr_equal(&p.path_addr, &refl));
}

static void test_punch_on_heartbeat_reply_only_from_path(void **state)
{
	struct sockaddr_storage refl = sa4("198.51.100.7", 40000), lan = sa4("10.0.2.5", 51820),
				evil = sa4("203.0.113.66", 4444);
	struct punch_peer p;
	uint64_t at = on_udp_path(&p, true), hb = at + 5000;
	size_t n_cand = p.n_cand;
	struct probe_payload pl;
	struct acts r = run(&p, hb);

	assert_int_equal(r.a[0].probe_kind, PROBE_HEARTBEAT);
	pl = reply_to(&r.a[0], hb);
	/* From another address, another known candidate, or the relay: no
	 * move, no candidate, no sign of life. */
	punch_on_heartbeat_reply(&p, PUNCH_PATH_UDP, &evil, &pl, hb + 10);
	punch_on_heartbeat_reply(&p, PUNCH_PATH_UDP, &lan, &pl, hb + 10);
	punch_on_heartbeat_reply(&p, PUNCH_PATH_RELAY, NULL, &pl, hb + 10);
	assert_int_equal(run(&p, hb + 10).n, 0);
	assert_int_equal(p.n_cand, n_cand);
	assert_true(addr_equal(&p.path_addr, &refl));
	assert_true(p.hb_outstanding);
	assert_int_equal(p.hb_answered, 0);
	/* A heartbeat's tx_id in a probe reply from elsewhere: nothing either. */
	pl.kind = PROBE_REPLY;
	punch_on_probe_reply(&p, &evil, &pl, hb + 10);
	assert_int_equal(p.n_cand, n_cand);
	/* The genuine reply from the path counts, once. */
	pl = reply_to(&r.a[0], hb);
	punch_on_heartbeat_reply(&p, PUNCH_PATH_UDP, &refl, &pl, hb + 25);
	assert_int_equal(p.hb_answered, 1);
	assert_int_equal(p.rtt_ms, 25);
	assert_true(p.last_alive_ms == hb + 25);
	punch_on_heartbeat_reply(&p, PUNCH_PATH_UDP, &refl, &pl, hb + 900);
	assert_true(p.last_alive_ms == hb + 25);
	assert_int_equal(p.rtt_ms, 25);

	/* Too late: the next heartbeat's reply after PUNCH_TX_TIMEOUT_MS. */
	hb += 25 + 5000;
	r = run(&p, hb);
	assert_int_equal(r.a[0].probe_kind, PROBE_HEARTBEAT);
	pl = reply_to(&r.a[0], hb);
	punch_on_heartbeat_reply(&p, PUNCH_PATH_UDP, &refl, &pl, hb + PUNCH_TX_TIMEOUT_MS + 1);
	assert_int_equal(p.hb_answered, 1);
	assert_true(p.last_alive_ms == hb - 5000);
}

/* ICE's triggered check: a request from an address we do not know makes it
 * a candidate that only our own probe's reply from there confirms. The
 * peer's NAT mapping it per destination is the case this is for. */
static void test_punch_on_probe_request_triggered_check(void **state)
{
	struct sockaddr_storage refl = sa4("198.51.100.7", 40000),
				other = sa4("198.51.100.7", 53111),
				evil = sa4("203.0.113.66", 4444);
	struct punch_peer p;
	struct acts r = introduced(&p, false, false, 0);
	const struct punch_action to_refl = *find_act(&r, PUNCH_ACT_SEND_PROBE, &refl);
	const struct punch_action *check;
	struct punch_action check_copy;
	struct probe_payload pl;
	uint64_t at = T0 + START_IN + 5;

	assert_true(punch_on_probe_request(&p, PUNCH_PATH_UDP, &other, at));
	assert_int_equal(p.n_cand, 4);
	assert_int_equal(p.cand[3].type, PUNCH_CAND_PRFLX);
	assert_int_equal(p.cand[3].state, PUNCH_PAIR_TRIGGERED);
	assert_true(punch_next_deadline(&p) <= at);
	r = run(&p, at);
	assert_int_equal(r.n, 1);
	check = find_act(&r, PUNCH_ACT_SEND_PROBE, &other);
	assert_non_null(check);
	/* r is run again below: keep the check's action, not a pointer into r. */
	check_copy = *check;
	check = &check_copy;
	assert_int_equal(check->probe_kind, PROBE_REQUEST);
	assert_int_equal(p.cand[3].state, PUNCH_PAIR_IN_PROGRESS);
	/* The request itself is no evidence, and neither is a reply to the
	 * check from elsewhere or a reply from there to another probe. */
	pl = reply_to(check, at);
	punch_on_probe_reply(&p, &evil, &pl, at + 10);
	punch_on_probe_reply(&p, &refl, &pl, at + 10);
	pl = reply_to(&to_refl, T0 + START_IN);
	punch_on_probe_reply(&p, &other, &pl, at + 10);
	assert_int_equal(p.path, PUNCH_PATH_NONE);
	assert_int_equal(p.cand[3].state, PUNCH_PAIR_IN_PROGRESS);
	/* A second request from there at once: no second check (at most one
	 * per PUNCH_FAST_RETRY_MS). */
	assert_true(punch_on_probe_request(&p, PUNCH_PATH_UDP, &other, at + 20));
	r = run(&p, at + 20);
	assert_null(find_act(&r, PUNCH_ACT_SEND_PROBE, &other));
	/* The reply to the check, from there: succeeded and used. */
	pl = reply_to(check, at);
	punch_on_probe_reply(&p, &other, &pl, at + 30);
	assert_int_equal(p.cand[3].state, PUNCH_PAIR_SUCCEEDED);
	r = run(&p, at + 30);
	assert_non_null(find_act(&r, PUNCH_ACT_USE_PATH, &other));
	/* The reflexive answering later ranks higher and replaces it. */
	pl = reply_to(&to_refl, T0 + START_IN);
	punch_on_probe_reply(&p, &refl, &pl, at + 40);
	r = run(&p, at + 40);
	assert_non_null(find_act(&r, PUNCH_ACT_USE_PATH, &refl));

	/* On a UDP path, a request from a new address still gets its check,
	 * but even its genuine reply does not move the path to a worse pair. */
	pl = reply_to(&to_refl, T0 + START_IN);
	assert_true(punch_on_probe_request(&p, PUNCH_PATH_UDP, &evil, at + 50));
	r = run(&p, at + 50);
	check = find_act(&r, PUNCH_ACT_SEND_PROBE, &evil);
	assert_non_null(check);
	pl = reply_to(check, at + 50);
	punch_on_probe_reply(&p, &evil, &pl, at + 60);
	assert_int_equal(run(&p, at + 60).n, 0);
	assert_true(addr_equal(&p.path_addr, &refl));
}

/* One captured request replayed from many spoofed sources, for a minute:
 * replies and triggered probes stay within the reply rate, unconfirmed
 * candidates within PUNCH_MAX_TRIGGERED, the path and the introduced
 * candidates stay. */
static void test_punch_on_probe_request_replayed_is_bounded(void **state)
{
	struct sockaddr_storage refl = sa4("198.51.100.7", 40000);
	struct punch_peer p;
	uint64_t at = on_udp_path(&p, false), now = at;
	unsigned replies = 0, probes = 0, srcs = 0;

	for (unsigned ms = 1; ms <= 60000; ms++) {
		now = at + ms;
		for (int k = 0; k < 10; k++) {
			struct sockaddr_storage from =
			    sa4("203.0.113.66", (uint16_t)(1024 + srcs++ % 60000));
			struct acts r;

			replies += punch_on_probe_request(&p, PUNCH_PATH_UDP, &from, now);
			r = run(&p, now);
			probes += (unsigned)count_type(&r, PUNCH_ACT_SEND_PROBE);
			assert_int_equal(count_type(&r, PUNCH_ACT_USE_PATH), 0);
		}
		assert_true(p.n_cand <= 3 + PUNCH_MAX_TRIGGERED);
		/* The real peer's traffic keeps the path alive meanwhile. */
		if (ms % 1000 == 0)
			assert_true(punch_on_path_authenticated(&p, PUNCH_PATH_UDP, &refl, now));
	}
	/* 600,000 requests: a burst, then PUNCH_REPLIES_PER_S. */
	assert_true(replies <= PUNCH_REPLY_BURST + 60 * PUNCH_REPLIES_PER_S + 1);
	assert_true(replies >= 60 * PUNCH_REPLIES_PER_S);
	assert_true(probes <= replies);
	assert_int_equal(p.path, PUNCH_PATH_UDP);
	assert_true(addr_equal(&p.path_addr, &refl));
	assert_int_equal(p.cand[1].type, PUNCH_CAND_SRFLX);
	assert_int_equal(p.cand[0].type, PUNCH_CAND_HOST);
	print_message("replayed requests: 600000, replies %u, triggered probes %u\n", replies,
		      probes);
}

static void test_punch_on_probe_request_learns_prflx(void **state)
{
	struct sockaddr_storage from = sa4("203.0.113.50", 61000);
	struct punch_peer p;
	struct acts r;
	unsigned ok = 0;

	/* Before any introduction: the peer's probe teaches us where it is,
	 * and we probe back at once. */
	peer_init(&p, false, 0);
	assert_true(punch_on_probe_request(&p, PUNCH_PATH_UDP, &from, T0));
	assert_int_equal(p.n_cand, 1);
	assert_int_equal(p.cand[0].type, PUNCH_CAND_PRFLX);
	assert_int_equal(p.cand[0].state, PUNCH_PAIR_TRIGGERED);
	r = run(&p, T0);
	assert_non_null(find_act(&r, PUNCH_ACT_SEND_PROBE, &from));
	/* The same source again is not a second candidate; TCP or relay
	 * sources are not learned as UDP candidates. */
	assert_true(punch_on_probe_request(&p, PUNCH_PATH_UDP, &from, T0));
	assert_true(punch_on_probe_request(&p, PUNCH_PATH_RELAY, NULL, T0));
	assert_int_equal(p.n_cand, 1);

	/* Failure: replies are rate-limited (a replayed probe cannot make us
	 * send without bound), and the budget comes back with time. */
	for (int i = 0; i < 1000; i++)
		ok += punch_on_probe_request(&p, PUNCH_PATH_UDP, &from, T0 + 1);
	assert_true(ok < PUNCH_REPLY_BURST);
	assert_false(punch_on_probe_request(&p, PUNCH_PATH_UDP, &from, T0 + 1));
	assert_true(punch_on_probe_request(&p, PUNCH_PATH_UDP, &from, T0 + 1001));
}

static void test_punch_through_loss(void **state)
{
	/* 10% loss each way (seeded): over 200 runs a path is always found,
	 * and in well under the 2 s after which TCP and the relay come in. */
	uint32_t rng = 12345;
	uint64_t worst = 0;

	for (int run_i = 0; run_i < 200; run_i++) {
		struct punch_peer p;
		struct acts r = introduced(&p, true, false, 0);
		uint64_t now = T0 + START_IN;

		while (p.path == PUNCH_PATH_NONE && now < T0 + START_IN + 3000) {
			for (size_t i = 0; i < r.n; i++) {
				struct probe_payload pl;

				if (r.a[i].type != PUNCH_ACT_SEND_PROBE)
					continue;
				rng = rng * 1103515245u + 12345u;
				if ((rng >> 16) % 100 < 10) /* request lost */
					continue;
				rng = rng * 1103515245u + 12345u;
				if ((rng >> 16) % 100 < 10) /* reply lost */
					continue;
				pl = reply_to(&r.a[i], now);
				punch_on_probe_reply(&p, &r.a[i].addr, &pl, now + 20);
			}
			if (p.path != PUNCH_PATH_NONE)
				break;
			now = punch_next_deadline(&p);
			r = run(&p, now);
		}
		assert_int_equal(p.path, PUNCH_PATH_UDP);
		worst = now - (T0 + START_IN) > worst ? now - (T0 + START_IN) : worst;
	}
	assert_true(worst < PUNCH_TCP_AFTER_MS);
}

static void test_punch_on_path_authenticated_roaming(void **state)
{
	struct sockaddr_storage moved = sa4("198.51.100.99", 1234);
	struct punch_peer p;
	uint64_t at = on_udp_path(&p, false);
	struct acts r;

	/* The daemon moved the session to a new address after authenticating
	 * a packet from it: the engine follows, without asking to move. */
	assert_true(punch_on_path_authenticated(&p, PUNCH_PATH_UDP, &moved, at + 100));
	assert_int_equal(p.path, PUNCH_PATH_UDP);
	assert_true(addr_equal(&p.path_addr, &moved));
	r = run(&p, at + 100);
	assert_int_equal(count_type(&r, PUNCH_ACT_USE_PATH), 0);
	/* Heartbeats now go there. */
	r = run(&p, at + 5100);
	assert_non_null(find_act(&r, PUNCH_ACT_SEND_PROBE, &moved));
	/* Failure: a relayed packet does not pull a direct path to the relay. */
	assert_false(punch_on_path_authenticated(&p, PUNCH_PATH_RELAY, NULL, at + 5200));
	assert_int_equal(p.path, PUNCH_PATH_UDP);
}

/* The one ranking, UDP > TCP > relay > none: a move is allowed to a path
 * no worse than the current one, never to "none", never down. */
static void test_punch_path_may_move(void **state)
{
	static const enum punch_path_kind k[] = {PUNCH_PATH_NONE, PUNCH_PATH_RELAY, PUNCH_PATH_TCP,
						 PUNCH_PATH_UDP}; /* worst to best */

	(void)state;
	for (size_t cur = 0; cur < 4; cur++)
		for (size_t to = 0; to < 4; to++)
			assert_int_equal(punch_path_may_move(k[cur], k[to]), to > 0 && to >= cur);
}

/* Never trade down, in the engine: on the relay, an authenticated TCP
 * packet moves the session up to the stream, then a UDP one up to UDP;
 * a relayed or TCP packet after that moves nothing back down, and the
 * engine still follows UDP roaming. No USE_PATH is asked for any of it
 * (the daemon has already moved). */
static void test_punch_authenticated_moves_up_never_down(void **state)
{
	struct sockaddr_storage tcp = sa4("198.51.100.7", 51820), udp = sa4("198.51.100.7", 40000),
				roam = sa4("198.51.100.8", 40001);
	struct punch_peer p;
	struct acts r;
	const uint64_t t = T0 + 1000;

	(void)state;
	peer_init(&p, true, 0);
	punch_on_relay_available(&p, T0);
	/* Nothing selected: the relay is taken on its first authenticated packet. */
	assert_true(punch_on_path_authenticated(&p, PUNCH_PATH_RELAY, NULL, t));
	assert_int_equal(p.path, PUNCH_PATH_RELAY);
	assert_true(punch_on_path_authenticated(&p, PUNCH_PATH_TCP, &tcp, t + 1));
	assert_int_equal(p.path, PUNCH_PATH_TCP);
	assert_true(punch_on_path_authenticated(&p, PUNCH_PATH_UDP, &udp, t + 2));
	assert_int_equal(p.path, PUNCH_PATH_UDP);
	assert_true(addr_equal(&p.path_addr, &udp));
	/* Down: refused, and the selected path stays where it was. */
	assert_false(punch_on_path_authenticated(&p, PUNCH_PATH_TCP, &tcp, t + 3));
	assert_false(punch_on_path_authenticated(&p, PUNCH_PATH_RELAY, NULL, t + 4));
	assert_int_equal(p.path, PUNCH_PATH_UDP);
	assert_true(addr_equal(&p.path_addr, &udp));
	/* The same path again, and a UDP move (roaming): both accepted. */
	assert_true(punch_on_path_authenticated(&p, PUNCH_PATH_UDP, &udp, t + 5));
	assert_true(punch_on_path_authenticated(&p, PUNCH_PATH_UDP, &roam, t + 6));
	assert_true(addr_equal(&p.path_addr, &roam));
	/* NONE is no path to be on. */
	assert_false(punch_on_path_authenticated(&p, PUNCH_PATH_NONE, NULL, t + 7));
	r = run(&p, t + 7);
	assert_int_equal(count_type(&r, PUNCH_ACT_USE_PATH), 0);
}

static void test_punch_peer_init_static_endpoint(void **state)
{
	struct punch_config c = config(false, 0);
	struct sockaddr_storage ep = sa4("192.0.2.44", 51820);
	struct punch_peer p;
	struct rdv_introduce m = intro(false);
	struct acts r;

	c.endpoint = ep;
	punch_peer_init(&p, &c);
	assert_int_equal(p.n_cand, 1);
	assert_int_equal(p.cand[0].type, PUNCH_CAND_STATIC);
	/* Due at once: the first expire probes the configured endpoint. */
	assert_true(punch_next_deadline(&p) == 0);
	r = run(&p, T0);
	assert_int_equal(r.n, 1);
	assert_true(addr_equal(&r.a[0].addr, &ep));
	assert_true(punch_next_deadline(&p) == T0 + PUNCH_FAST_RETRY_MS);
	/* An introduction keeps it, first, next to the new candidates. */
	punch_on_introduce(&p, &m, T0 + 50);
	assert_int_equal(p.n_cand, 4);
	assert_int_equal(p.cand[0].type, PUNCH_CAND_STATIC);
	/* Failure: without an endpoint nothing is due. */
	c = config(false, 0);
	punch_peer_init(&p, &c);
	assert_true(punch_next_deadline(&p) == UINT64_MAX);
	assert_int_equal(run(&p, T0).n, 0);
}

static void test_punch_should_initiate(void **state)
{
	struct punch_config a = config(false, 0), b = config(false, 0);
	struct punch_peer pa, pb;

	memcpy(b.our_pub, a.their_pub, 32);
	memcpy(b.their_pub, a.our_pub, 32);
	punch_peer_init(&pa, &a);
	punch_peer_init(&pb, &b);
	/* Exactly one side initiates: the one with the lower key (0x11..). */
	assert_true(punch_should_initiate(&pa));
	assert_false(punch_should_initiate(&pb));
}

/* ---- two engines through emulated NATs ----
 *
 * A small model of the lab's NAT types (NAT-LAB-NOTES.md): EIM types keep
 * the port (51820); symmetric-seq takes the next port per destination,
 * symmetric-random a random one. Filtering: full-cone lets in anything to a
 * live mapping, restricted-cone what comes from an IP it sent to,
 * port-restricted and both symmetric types only what comes from an
 * IP:port it sent to. `none` is a public host with no firewall. Both
 * engines get each other's candidates as the rendezvous would report them
 * and their probes cross the model with 10 ms latency; a hole punched only
 * through the model's rules, so the table below is the matrix at
 * the level of the engine. */

enum nat_type { NAT_NONE, NAT_FULL, NAT_RESTRICTED, NAT_PORT, NAT_SEQ, NAT_RANDOM };

enum { SIM_MAX_MAP = 256, SIM_MAX_PKT = 4096, SIM_PORT = 51820, SIM_LATENCY = 10 };

struct sim_map {
	uint32_t dip;
	uint16_t dport, ext;
};

struct sim_host {
	enum nat_type nat;
	uint32_t priv_ip, pub_ip;
	size_t n_map;
	struct sim_map map[SIM_MAX_MAP];
	uint16_t next_port;
	struct punch_peer eng;
};

struct sim_pkt {
	uint64_t at;
	int to; /* host index */
	bool lan;
	uint32_t sip, dip;
	uint16_t sport, dport;
	struct probe_payload pl;
};

struct sim {
	struct sim_host h[2];
	size_t n_pkt;
	struct sim_pkt pkt[SIM_MAX_PKT];
	uint32_t rng;
	unsigned loss_pct;
	bool same_lan; /* both behind one NAT without hairpin */
	bool no_host;  /* the rendezvous reports no host candidates */
};

static uint32_t sim_rand(struct sim *s)
{
	s->rng = s->rng * 1103515245u + 12345u;
	return s->rng >> 8;
}

static bool eim(enum nat_type t)
{
	return t == NAT_FULL || t == NAT_RESTRICTED || t == NAT_PORT;
}

/* The source port host h's packet to dip:dport leaves with (mapping made
 * or reused, and remembered for filtering). */
static uint16_t sim_out(struct sim *s, struct sim_host *h, uint32_t dip, uint16_t dport)
{
	uint16_t ext = SIM_PORT;

	if (h->nat == NAT_NONE)
		return SIM_PORT;
	for (size_t i = 0; i < h->n_map; i++)
		if (h->map[i].dip == dip && h->map[i].dport == dport)
			return h->map[i].ext;
	if (h->nat == NAT_SEQ)
		ext = h->next_port++;
	else if (h->nat == NAT_RANDOM)
		ext = (uint16_t)(1024 + sim_rand(s) % 60000);
	assert_true(h->n_map < SIM_MAX_MAP);
	h->map[h->n_map++] = (struct sim_map){dip, dport, ext};
	return ext;
}

static bool sim_in(const struct sim_host *h, uint32_t sip, uint16_t sport, uint16_t dport)
{
	if (h->nat == NAT_NONE)
		return dport == SIM_PORT;
	for (size_t i = 0; i < h->n_map; i++) {
		const struct sim_map *m = &h->map[i];

		if (m->ext != dport)
			continue;
		if (h->nat == NAT_FULL || (h->nat == NAT_RESTRICTED && m->dip == sip) ||
		    (m->dip == sip && m->dport == sport))
			return true;
	}
	return false;
}

static struct sockaddr_storage ss_of(uint32_t ip, uint16_t port)
{
	struct sockaddr_storage ss;
	uint32_t be = htonl(ip);

	assert_true(addr_from_ip(&ss, AF_INET, &be, port));
	return ss;
}

static void sim_send(struct sim *s, int from, const struct sockaddr_storage *to,
		     const struct probe_payload *pl, uint64_t now)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)to;
	struct sim_host *h = &s->h[from];
	struct sim_pkt *p;
	uint32_t dip = ntohl(in->sin_addr.s_addr);
	uint16_t dport = addr_port(to);
	bool lan = s->same_lan && dip == s->h[!from].priv_ip;
	uint16_t sport = lan ? SIM_PORT : sim_out(s, h, dip, dport);

	if (sim_rand(s) % 100 < s->loss_pct)
		return;
	/* Another network's LAN address, or our shared NAT's public address
	 * (no hairpin): nothing arrives. */
	if (!lan && (dip != s->h[!from].pub_ip || s->same_lan))
		return;
	assert_true(s->n_pkt < SIM_MAX_PKT);
	p = &s->pkt[s->n_pkt++];
	*p = (struct sim_pkt){
	    now + SIM_LATENCY, !from, lan, lan ? h->priv_ip : h->pub_ip, dip, sport, dport, *pl};
}

static void sim_deliver(struct sim *s, const struct sim_pkt *p, uint64_t now)
{
	struct sim_host *h = &s->h[p->to];
	struct sockaddr_storage from = ss_of(p->sip, p->sport);
	struct probe_payload reply = p->pl;

	if (!p->lan && !sim_in(h, p->sip, p->sport, p->dport))
		return;
	switch (p->pl.kind) {
	case PROBE_REQUEST:
	case PROBE_HEARTBEAT:
		if (!punch_on_probe_request(&h->eng, PUNCH_PATH_UDP, &from, now))
			return;
		reply.kind = p->pl.kind == PROBE_REQUEST ? PROBE_REPLY : PROBE_HEARTBEAT_REPLY;
		reply.observed = from;
		sim_send(s, p->to, &from, &reply, now);
		return;
	case PROBE_REPLY:
		punch_on_probe_reply(&h->eng, &from, &p->pl, now);
		return;
	case PROBE_HEARTBEAT_REPLY:
		punch_on_heartbeat_reply(&h->eng, PUNCH_PATH_UDP, &from, &p->pl, now);
		return;
	}
}

/* What the rendezvous tells one side about the other. */
static struct rdv_introduce sim_intro(struct sim *s, int of)
{
	static const uint32_t rdv = 0xc000020a; /* 192.0.2.10 */
	struct sim_host *h = &s->h[of];
	struct rdv_introduce m;
	uint16_t p1 = sim_out(s, h, rdv, 3478), p2 = sim_out(s, h, rdv, 3479);

	memset(&m, 0, sizeof(m));
	m.start_in_ms = START_IN;
	m.udp_reflexive = ss_of(h->pub_ip, p2);
	m.nat_mapping =
	    h->nat == NAT_NONE || eim(h->nat) ? RDV_MAPPING_INDEPENDENT : RDV_MAPPING_DEPENDENT;
	/* A daemon that sees random steps reports none (0). */
	m.port_step = h->nat == NAT_SEQ ? (int16_t)(p2 - p1) : 0;
	m.n_host = s->no_host ? 0 : 1;
	m.host[0] = ss_of(h->priv_ip, SIM_PORT);
	return m;
}

/* Runs both engines from T0 for duration ms; returns when each selected a
 * UDP path in *t_a, *t_b (0: never). */
static void sim_run(struct sim *s, uint64_t duration, uint64_t *t_a, uint64_t *t_b)
{
	struct rdv_introduce ia = sim_intro(s, 1), ib = sim_intro(s, 0);
	uint64_t *t[2] = {t_a, t_b};

	punch_on_introduce(&s->h[0].eng, &ia, T0);
	punch_on_introduce(&s->h[1].eng, &ib, T0);
	*t_a = *t_b = 0;
	for (uint64_t now = T0; now < T0 + duration; now++) {
		for (size_t i = 0; i < s->n_pkt;) {
			if (s->pkt[i].at > now) {
				i++;
				continue;
			}
			struct sim_pkt p = s->pkt[i];

			s->pkt[i] = s->pkt[--s->n_pkt];
			sim_deliver(s, &p, now);
		}
		for (int k = 0; k < 2; k++) {
			struct punch_peer *e = &s->h[k].eng;
			struct acts r;

			if (punch_next_deadline(e) > now)
				continue;
			r = run(e, now);
			for (size_t i = 0; i < r.n; i++) {
				struct probe_payload pl = {
				    r.a[i].probe_kind, r.a[i].tx_id, now, {0}};

				if (r.a[i].type == PUNCH_ACT_SEND_PROBE &&
				    r.a[i].path == PUNCH_PATH_UDP)
					sim_send(s, k, &r.a[i].addr, &pl, now);
				if (r.a[i].type == PUNCH_ACT_USE_PATH &&
				    r.a[i].path == PUNCH_PATH_UDP && !*t[k])
					*t[k] = now;
			}
		}
	}
}

static void sim_init(struct sim *s, enum nat_type a, enum nat_type b, unsigned loss, uint32_t seed)
{
	struct punch_config ca = config(false, 5), cb = config(false, 5);

	memset(s, 0, sizeof(*s));
	s->rng = seed;
	s->loss_pct = loss;
	s->h[0] = (struct sim_host){
	    .nat = a, .priv_ip = 0x0a000102, .pub_ip = 0xcb007102, .next_port = 20000};
	s->h[1] = (struct sim_host){
	    .nat = b, .priv_ip = 0x0a000202, .pub_ip = 0xcb007202, .next_port = 20000};
	if (a == NAT_NONE)
		s->h[0].pub_ip = 0xc6336402;
	if (b == NAT_NONE)
		s->h[1].pub_ip = 0xc6336502;
	memcpy(cb.our_pub, ca.their_pub, 32);
	memcpy(cb.their_pub, ca.our_pub, 32);
	punch_peer_init(&s->h[0].eng, &ca);
	punch_peer_init(&s->h[1].eng, &cb);
}

static void test_punch_pair_through_nats(void **state)
{
	static const char *const names[] = {
	    "none",	     "full-cone",	"restricted-cone", "port-restricted",
	    "symmetric-seq", "symmetric-random"};
	/* Expected: UDP direct for both sides, or no direct path at all. */
	static const struct {
		enum nat_type a, b;
		bool direct;
	} rows[] = {
	    {NAT_NONE, NAT_NONE, true},
	    {NAT_NONE, NAT_PORT, true},
	    {NAT_FULL, NAT_PORT, true},
	    {NAT_RESTRICTED, NAT_PORT, true},
	    {NAT_PORT, NAT_PORT, true},
	    {NAT_PORT, NAT_SEQ, true}, /* predicted ports */
	    {NAT_RESTRICTED, NAT_SEQ, true},
	    {NAT_FULL, NAT_RANDOM, true}, /* peer-reflexive: reply to the source */
	    {NAT_RESTRICTED, NAT_RANDOM, true},
	    {NAT_NONE, NAT_RANDOM, true},
	    {NAT_PORT, NAT_RANDOM, false}, /* no way in either direction */
	    {NAT_RANDOM, NAT_RANDOM, false},
	};
	static struct sim s;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (int dir = 0; dir < 2; dir++) {
			enum nat_type a = dir ? rows[i].b : rows[i].a,
				      b = dir ? rows[i].a : rows[i].b;
			uint64_t ta, tb;

			/* Without loss: within one retry of the start moment. */
			sim_init(&s, a, b, 0, 7 + (uint32_t)i);
			sim_run(&s, 3000, &ta, &tb);
			if (rows[i].direct != (ta && tb))
				fail_msg("%s / %s: direct %d %d", names[a], names[b], ta != 0,
					 tb != 0);
			if (rows[i].direct &&
			    (ta > T0 + START_IN + PUNCH_FAST_RETRY_MS + 2 * SIM_LATENCY ||
			     tb > T0 + START_IN + PUNCH_FAST_RETRY_MS + 2 * SIM_LATENCY))
				fail_msg("%s / %s: slow: %llu %llu ms", names[a], names[b],
					 (unsigned long long)(ta - T0),
					 (unsigned long long)(tb - T0));
			/* 10% loss each way, several seeds: the same outcome, before
			 * TCP would have started. */
			for (uint32_t seed = 1; seed <= 10; seed++) {
				sim_init(&s, a, b, 10, seed * 7919);
				sim_run(&s, 3000, &ta, &tb);
				if (rows[i].direct != (ta && tb))
					fail_msg("%s / %s, loss, seed %u: direct %d %d", names[a],
						 names[b], seed, ta != 0, tb != 0);
				if (rows[i].direct && (ta >= T0 + START_IN + PUNCH_TCP_AFTER_MS ||
						       tb >= T0 + START_IN + PUNCH_TCP_AFTER_MS))
					fail_msg("%s / %s, loss: too slow", names[a], names[b]);
			}
		}
	}
}

static void test_punch_pair_same_nat(void **state)
{
	static struct sim s;
	uint64_t ta, tb;

	/* Both behind one port-restricted NAT that does not hairpin: only the
	 * LAN candidates work, and both sides use them. */
	sim_init(&s, NAT_PORT, NAT_PORT, 0, 99);
	s.same_lan = true;
	s.h[1].priv_ip = 0x0a000103; /* 10.0.1.3, beside 10.0.1.2 */
	sim_run(&s, 3000, &ta, &tb);
	assert_true(ta && tb);
	assert_int_equal(s.h[0].eng.cand[s.h[0].eng.path_cand].type, PUNCH_CAND_HOST);
	assert_int_equal(s.h[1].eng.cand[s.h[1].eng.path_cand].type, PUNCH_CAND_HOST);
	/* Failure: without the host candidates, the same NAT without hairpin
	 * gives no direct path (the reflexive addresses do not loop back). */
	sim_init(&s, NAT_PORT, NAT_PORT, 0, 99);
	s.same_lan = true;
	s.no_host = true;
	s.h[1].priv_ip = 0x0a000103;
	sim_run(&s, 3000, &ta, &tb);
	assert_true(!ta && !tb);
}

static void test_punch_explain(void **state)
{
	struct punch_peer p;
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *f;
	bool saw_next = false, saw_cand = false, saw_path = false;
	uint64_t at = on_udp_path(&p, false);

	f = open_memstream(&buf, &len);
	assert_non_null(f);
	punch_explain(&p, f, at + 3000);
	fclose(f);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		assert_non_null(eq);
		assert_true(eq > line && eq - line < 32);
		for (char *k = line; k < eq; k++)
			if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '_'))
				fail_msg("bad key character in '%s'", line);
		saw_next |= strncmp(line, "next=heartbeat in 2000 ms", 25) == 0;
		saw_cand |= strcmp(line, "candidate_1=srflx udp 198.51.100.7:40000 succeeded "
					 "tries=1 rtt=10 ms result=reply in 10 ms") == 0;
		saw_path |= strcmp(line, "path=udp 198.51.100.7:40000") == 0;
		/* Failure: the path is not reported as none. */
		assert_string_not_equal(line, "path=none");
	}
	assert_true(saw_next && saw_cand && saw_path);
	free(buf);
}

static int setup(void **state)
{
	return sodium_init() < 0 ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_punch_on_introduce_probes_at_start_moment),
	    cmocka_unit_test(test_punch_expire_retry_schedule),
	    cmocka_unit_test(test_punch_round_budget),
	    cmocka_unit_test(test_punch_pacing),
	    cmocka_unit_test(test_punch_backoff_growth_and_cap),
	    cmocka_unit_test(test_punch_repeated_introduction_keeps_backoff),
	    cmocka_unit_test(test_punch_new_candidates_start_early),
	    cmocka_unit_test(test_punch_path_found_stops_probing),
	    cmocka_unit_test(test_punch_unconfirmed_dead_path_restarts_nothing),
	    cmocka_unit_test(test_punch_on_probe_reply_selects_path),
	    cmocka_unit_test(test_punch_select_prefers_lan),
	    cmocka_unit_test(test_punch_on_introduce_predicted_ports),
	    cmocka_unit_test(test_punch_fallback_tcp_then_relay),
	    cmocka_unit_test(test_punch_upgrade_replaces_relay),
	    cmocka_unit_test(test_punch_heartbeats_and_dead_path),
	    cmocka_unit_test(test_punch_dead_path_falls_back_to_stream),
	    cmocka_unit_test(test_punch_dead_path_fallback_order),
	    cmocka_unit_test(test_punch_dead_path_without_relay),
	    cmocka_unit_test(test_punch_on_probe_reply_only_for_outstanding_probe),
	    cmocka_unit_test(test_punch_on_probe_reply_replayed_is_ignored),
	    cmocka_unit_test(test_punch_on_heartbeat_reply_only_from_path),
	    cmocka_unit_test(test_punch_on_probe_request_triggered_check),
	    cmocka_unit_test(test_punch_on_probe_request_replayed_is_bounded),
	    cmocka_unit_test(test_punch_on_probe_request_learns_prflx),
	    cmocka_unit_test(test_punch_through_loss),
	    cmocka_unit_test(test_punch_on_path_authenticated_roaming),
	    cmocka_unit_test(test_punch_path_may_move),
	    cmocka_unit_test(test_punch_authenticated_moves_up_never_down),
	    cmocka_unit_test(test_punch_peer_init_static_endpoint),
	    cmocka_unit_test(test_punch_should_initiate),
	    cmocka_unit_test(test_punch_explain),
	    cmocka_unit_test(test_punch_pair_through_nats),
	    cmocka_unit_test(test_punch_pair_same_nat),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
