/* Rendezvous client engine tests: time is walked by hand from T0 and the
 * actions of rdvc_expire() and rdvc_on_signal() are checked against the
 * rules in rdvclient/engine.h, each at its exact moment and one millisecond
 * before: the STUN retry and refresh schedule, the mapping and port step
 * from the two answers, the TCP fallback, REGISTER's cadence and its
 * re-registration when our NAT data changes, the dead-after rule and a
 * restarted rendezvous, the CONNECT pace per peer, and introductions handed
 * on with the candidates we must not aim at taken out. STUN answers are
 * real Binding success messages built with stun/'s builder and signalling
 * messages come from rdvproto/proto.h's encoders. */
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

#include "config/parse.h"
#include "rdvclient/engine.h"
#include "stun/stun.h"

enum { T0 = 10000000, RDV_PORT = 3478 };

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

static uint16_t port_of(const struct sockaddr_storage *a)
{
	return ntohs(((const struct sockaddr_in *)a)->sin_port);
}

static bool same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return cfg_endpoint_equal(a, b);
}

static const struct rdvc_status NO_SESSION = {.session = false, .path_udp = true};
static const struct rdvc_status SESSION = {.session = true, .path_udp = true};

/* The actions of one call, and how many of a type. */
struct acts {
	struct rdvc_action a[RDVC_MAX_ACTIONS];
	size_t n;
};

static size_t count(const struct acts *x, enum rdvc_act_type t)
{
	size_t k = 0;

	for (size_t i = 0; i < x->n; i++)
		k += x->a[i].type == t;
	return k;
}

static const struct rdvc_action *find(const struct acts *x, enum rdvc_act_type t, size_t nth)
{
	for (size_t i = 0; i < x->n; i++)
		if (x->a[i].type == t && nth-- == 0)
			return &x->a[i];
	return NULL;
}

static struct acts expire(struct rdvc_engine *e, const struct rdvc_status *st, uint64_t now)
{
	struct acts x;

	x.n = rdvc_expire(e, st, now, x.a);
	assert_true(x.n <= RDVC_MAX_ACTIONS);
	return x;
}

static void engine(struct rdvc_engine *e)
{
	struct sockaddr_storage rdv = sa4("198.51.100.1", RDV_PORT);

	rdvc_engine_init(e, &rdv, T0);
}

/* A Binding success answering id, with XOR-MAPPED-ADDRESS mapped. */
static size_t answer(uint8_t *buf, size_t cap, const uint8_t id[RDVC_ID_LEN],
		     const struct sockaddr_storage *mapped, enum stun_class cls)
{
	struct stun_builder b;
	size_t len;

	assert_int_equal(stun_builder_init(&b, buf, cap, STUN_METHOD_BINDING, cls, id), 0);
	if (mapped)
		assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, mapped),
				 0);
	assert_int_equal(stun_builder_finish(&b, true, &len), 0);
	return len;
}

static enum rdvc_stun_result stun_in(struct rdvc_engine *e, const uint8_t id[RDVC_ID_LEN],
				     const struct sockaddr_storage *mapped, uint64_t now)
{
	uint8_t buf[128];
	size_t len = answer(buf, sizeof(buf), id, mapped, STUN_CLASS_SUCCESS);

	return rdvc_on_stun(e, buf, len, now);
}

/* Sends the STUN round due at now and answers it: towards the
 * rendezvous's port the NAT shows port0, towards port + 1 port1. */
static enum rdvc_stun_result stun_round(struct rdvc_engine *e, const struct rdvc_status *st,
					uint64_t now, uint16_t port0, uint16_t port1)
{
	struct acts x = expire(e, st, now);
	const struct rdvc_action *s0 = find(&x, RDVC_ACT_SEND_STUN, 0);
	const struct rdvc_action *s1 = find(&x, RDVC_ACT_SEND_STUN, 1);
	struct sockaddr_storage m0 = sa4("203.0.113.9", port0), m1 = sa4("203.0.113.9", port1);

	assert_non_null(s0);
	assert_non_null(s1);
	assert_int_equal(stun_in(e, s0->stun_id, &m0, now), RDVC_STUN_ANSWER);
	return stun_in(e, s1->stun_id, &m1, now);
}

static struct acts signal_in(struct rdvc_engine *e, const uint8_t *msg, size_t len, uint64_t now)
{
	static const struct sockaddr_storage rdv_addrs[1] = {{.ss_family = 0}};
	struct rdvc_own own = {.rendezvous = rdv_addrs, .n_rendezvous = 0};
	struct acts x;

	x.n = rdvc_on_signal(e, msg, len, &own, now, x.a);
	assert_true(x.n <= RDVC_MAX_ACTIONS);
	return x;
}

static struct acts registered_in(struct rdvc_engine *e, uint32_t relay_id, uint64_t now)
{
	struct sockaddr_storage refl = sa4("203.0.113.9", 40000);
	uint8_t buf[64];
	size_t len = rdv_encode_registered(relay_id, &refl, buf, sizeof(buf));

	assert_true(len > 0);
	return signal_in(e, buf, len, now);
}

/* A client with its mapping test done at T0 (endpoint-independent, port
 * 40000), its session up and registered at T0 + 10 (REGISTER left at T0). */
static void registered_engine(struct rdvc_engine *e)
{
	struct acts x;

	engine(e);
	assert_int_equal(stun_round(e, &SESSION, T0, 40000, 40000), RDVC_STUN_NAT_CHANGED);
	x = expire(e, &SESSION, T0);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
	x = registered_in(e, 7, T0 + 10);
	assert_int_equal(count(&x, RDVC_ACT_REGISTERED), 1);
}

/* STUN: two requests at T0, to the port and port + 1, with fresh ids; each
 * unanswered one again every RDVC_STUN_RETRY_MS (not a millisecond sooner)
 * with the same id (RFC 8489 section 6.2.1), so an answer to the first
 * send that comes after a retransmission still counts; an answered one is
 * not sent again; the deadline says so. */
static void test_rdvc_expire_stun_retry(void **state)
{
	struct sockaddr_storage m0 = sa4("203.0.113.9", 40000), m1 = sa4("203.0.113.9", 40001);
	struct rdvc_engine e;
	uint8_t id0[RDVC_ID_LEN], id1[RDVC_ID_LEN];
	struct acts x;

	(void)state;
	engine(&e);
	assert_true(rdvc_next_deadline(&e) <= T0); /* due at once */
	x = expire(&e, &NO_SESSION, T0);
	assert_int_equal(count(&x, RDVC_ACT_SEND_STUN), 2);
	assert_int_equal(port_of(&find(&x, RDVC_ACT_SEND_STUN, 0)->addr), RDV_PORT);
	assert_int_equal(port_of(&find(&x, RDVC_ACT_SEND_STUN, 1)->addr), RDV_PORT + 1);
	memcpy(id0, find(&x, RDVC_ACT_SEND_STUN, 0)->stun_id, RDVC_ID_LEN);
	memcpy(id1, find(&x, RDVC_ACT_SEND_STUN, 1)->stun_id, RDVC_ID_LEN);
	assert_memory_not_equal(id0, id1, RDVC_ID_LEN);
	assert_int_equal(rdvc_next_deadline(&e), T0 + RDVC_STUN_RETRY_MS);

	x = expire(&e, &NO_SESSION, T0 + RDVC_STUN_RETRY_MS - 1);
	assert_int_equal(count(&x, RDVC_ACT_SEND_STUN), 0);
	x = expire(&e, &NO_SESSION, T0 + RDVC_STUN_RETRY_MS);
	assert_int_equal(count(&x, RDVC_ACT_SEND_STUN), 2);
	assert_memory_equal(find(&x, RDVC_ACT_SEND_STUN, 0)->stun_id, id0, RDVC_ID_LEN);
	assert_memory_equal(find(&x, RDVC_ACT_SEND_STUN, 1)->stun_id, id1, RDVC_ID_LEN);
	assert_int_equal(rdvc_next_deadline(&e), T0 + 2 * RDVC_STUN_RETRY_MS);
	/* The answer to the first request to port + 1 arrives 300 ms late. */
	assert_int_equal(stun_in(&e, id1, &m1, T0 + 300), RDVC_STUN_ANSWER);
	assert_true(e.have_mapped[1]);
	x = expire(&e, &NO_SESSION, T0 + 2 * RDVC_STUN_RETRY_MS);
	assert_int_equal(count(&x, RDVC_ACT_SEND_STUN), 1);
	assert_int_equal(port_of(&x.a[0].addr), RDV_PORT);
	assert_memory_equal(x.a[0].stun_id, id0, RDVC_ID_LEN);
	assert_int_equal(stun_in(&e, id0, &m0, T0 + 600), RDVC_STUN_NAT_CHANGED);
	assert_int_equal(e.port_step, 1);
	/* The refresh is a new test: new ids. */
	x = expire(&e, &NO_SESSION, T0 + 600 + RDVC_STUN_REFRESH_MS);
	x = expire(&e, &NO_SESSION, T0 + 600 + RDVC_STUN_REFRESH_MS);
	assert_int_equal(count(&x, RDVC_ACT_SEND_STUN), 2);
	assert_memory_not_equal(find(&x, RDVC_ACT_SEND_STUN, 0)->stun_id, id0, RDVC_ID_LEN);
	assert_memory_not_equal(find(&x, RDVC_ACT_SEND_STUN, 1)->stun_id, id1, RDVC_ID_LEN);
}

/* The same mapped port towards both rendezvous ports: endpoint-independent,
 * no step; no more STUN until RDVC_STUN_REFRESH_MS after the second answer,
 * then a new round; an unchanged result is not news. */
static void test_rdvc_on_stun_independent_and_refresh(void **state)
{
	struct rdvc_engine e;
	uint64_t done = T0 + 40;
	struct acts x;

	(void)state;
	engine(&e);
	x = expire(&e, &NO_SESSION, T0);
	assert_int_equal(stun_in(&e, find(&x, RDVC_ACT_SEND_STUN, 0)->stun_id, NULL, T0 + 20),
			 RDVC_STUN_NOT_OURS); /* no address in it: not an answer */
	{
		struct sockaddr_storage m = sa4("203.0.113.9", 40000);

		assert_int_equal(stun_in(&e, find(&x, RDVC_ACT_SEND_STUN, 0)->stun_id, &m, T0 + 20),
				 RDVC_STUN_ANSWER);
		assert_false(e.have_reflexive); /* one answer is no test */
		assert_int_equal(stun_in(&e, find(&x, RDVC_ACT_SEND_STUN, 1)->stun_id, &m, done),
				 RDVC_STUN_NAT_CHANGED);
		assert_true(e.have_reflexive);
		assert_true(same(&e.reflexive, &m));
	}
	assert_int_equal(e.nat_mapping, RDV_MAPPING_INDEPENDENT);
	assert_int_equal(e.port_step, 0);
	/* Without a session the next look is the poll, before the refresh. */
	assert_int_equal(rdvc_next_deadline(&e), T0 + RDVC_POLL_MS);

	x = expire(&e, &NO_SESSION, T0 + 250);
	assert_int_equal(count(&x, RDVC_ACT_SEND_STUN), 0);
	x = expire(&e, &NO_SESSION, done + RDVC_STUN_REFRESH_MS - 1);
	assert_int_equal(count(&x, RDVC_ACT_SEND_STUN), 0);
	assert_true(e.have_mapped[0] && e.have_mapped[1]);
	/* The refresh forgets the answers; the round goes out at the next call. */
	x = expire(&e, &NO_SESSION, done + RDVC_STUN_REFRESH_MS);
	assert_false(e.have_mapped[0] || e.have_mapped[1]);
	assert_true(rdvc_next_deadline(&e) <= done + RDVC_STUN_REFRESH_MS);
	assert_int_equal(stun_round(&e, &NO_SESSION, done + RDVC_STUN_REFRESH_MS, 40000, 40000),
			 RDVC_STUN_ANSWER);
	assert_true(e.have_reflexive);
}

/* Ports 40000 and 40002: a mapping per destination with step 2; a step of
 * -16 is kept, one of 17 is not a sequence (0); a new port is news. */
static void test_rdvc_on_stun_port_step(void **state)
{
	struct rdvc_engine e;

	(void)state;
	engine(&e);
	assert_int_equal(stun_round(&e, &NO_SESSION, T0, 40000, 40002), RDVC_STUN_NAT_CHANGED);
	assert_int_equal(e.nat_mapping, RDV_MAPPING_DEPENDENT);
	assert_int_equal(e.port_step, 2);
	assert_int_equal(port_of(&e.reflexive), 40000);

	engine(&e);
	assert_int_equal(stun_round(&e, &NO_SESSION, T0, 40016, 40000), RDVC_STUN_NAT_CHANGED);
	assert_int_equal(e.nat_mapping, RDV_MAPPING_DEPENDENT);
	assert_int_equal(e.port_step, -16);

	engine(&e);
	assert_int_equal(stun_round(&e, &NO_SESSION, T0, 40000, 40017), RDVC_STUN_NAT_CHANGED);
	assert_int_equal(e.nat_mapping, RDV_MAPPING_DEPENDENT);
	assert_int_equal(e.port_step, 0);
	/* The next test maps to another port: news again. */
	e.have_mapped[0] = e.have_mapped[1] = false;
	assert_int_equal(stun_round(&e, &NO_SESSION, T0 + 250, 40100, 40117),
			 RDVC_STUN_NAT_CHANGED);
	assert_int_equal(port_of(&e.reflexive), 40100);
}

/* Only a Binding success with an outstanding id counts, once: a replay, a
 * request with our id and garbage change nothing. */
static void test_rdvc_on_stun_refuses(void **state)
{
	struct rdvc_engine e;
	struct sockaddr_storage m = sa4("203.0.113.9", 40000), evil = sa4("192.0.2.66", 1);
	uint8_t buf[128];
	size_t len;
	struct acts x;

	(void)state;
	engine(&e);
	x = expire(&e, &NO_SESSION, T0);
	len = answer(buf, sizeof(buf), find(&x, RDVC_ACT_SEND_STUN, 0)->stun_id, &evil,
		     STUN_CLASS_REQUEST);
	assert_int_equal(rdvc_on_stun(&e, buf, len, T0 + 1), RDVC_STUN_NOT_OURS);
	assert_int_equal(rdvc_on_stun(&e, (const uint8_t *)"garbage", 7, T0 + 1),
			 RDVC_STUN_NOT_OURS);
	assert_int_equal(stun_in(&e, find(&x, RDVC_ACT_SEND_STUN, 0)->stun_id, &m, T0 + 2),
			 RDVC_STUN_ANSWER);
	assert_int_equal(stun_in(&e, find(&x, RDVC_ACT_SEND_STUN, 0)->stun_id, &evil, T0 + 3),
			 RDVC_STUN_NOT_OURS);
	assert_true(same(&e.mapped[0], &m));
	assert_false(e.have_mapped[1]);
}

/* No STUN answer at all: TCP to the rendezvous RDVC_TCP_FALLBACK_MS after
 * T0, once; a connect that cannot start is tried again that long after; a
 * closed one at once. Not over TCP when UDP answered, or when the
 * rendezvous is not reached over UDP. */
static void test_rdvc_expire_tcp_fallback(void **state)
{
	struct rdvc_engine e;
	struct acts x;

	(void)state;
	engine(&e);
	x = expire(&e, &NO_SESSION, T0);
	assert_int_equal(count(&x, RDVC_ACT_TCP_OPEN), 0);
	assert_int_equal(count(&x, RDVC_ACT_INITIATE), 1);
	x = expire(&e, &NO_SESSION, T0 + RDVC_TCP_FALLBACK_MS - 1);
	assert_int_equal(count(&x, RDVC_ACT_TCP_OPEN), 0);
	x = expire(&e, &NO_SESSION, T0 + RDVC_TCP_FALLBACK_MS);
	assert_int_equal(count(&x, RDVC_ACT_TCP_OPEN), 1);
	assert_int_equal(e.tcp_state, RDVC_TCP_CONNECTING);
	x = expire(&e, &NO_SESSION, T0 + 5000);
	assert_int_equal(count(&x, RDVC_ACT_TCP_OPEN), 0); /* one connect under way */

	/* A failed connect: the next after twice the wait. */
	rdvc_on_tcp_failed(&e, T0 + 5000);
	assert_int_equal(e.tcp_state, RDVC_TCP_NONE);
	x = expire(&e, &NO_SESSION, T0 + 5000 + 2 * RDVC_TCP_FALLBACK_MS - 1);
	assert_int_equal(count(&x, RDVC_ACT_TCP_OPEN), 0);
	assert_int_equal(rdvc_next_deadline(&e) <= T0 + 5000 + 2 * RDVC_TCP_FALLBACK_MS, 1);
	x = expire(&e, &NO_SESSION, T0 + 5000 + 2 * RDVC_TCP_FALLBACK_MS);
	assert_int_equal(count(&x, RDVC_ACT_TCP_OPEN), 1);
	rdvc_on_tcp_up(&e);
	assert_int_equal(e.tcp_state, RDVC_TCP_UP);
	x = expire(&e, &NO_SESSION, T0 + 9000);
	assert_int_equal(count(&x, RDVC_ACT_TCP_OPEN), 0);
	/* Closed (or a connect refused after it left): again after the same
	 * wait as a failure, never in a loop. */
	rdvc_on_tcp_down(&e, T0 + 9001);
	assert_int_equal(e.tcp_state, RDVC_TCP_NONE);
	x = expire(&e, &NO_SESSION, T0 + 9001);
	assert_int_equal(count(&x, RDVC_ACT_TCP_OPEN), 0);
	assert_int_equal(rdvc_next_deadline(&e) <= T0 + 9001 + RDVC_TCP_FALLBACK_MS, 1);
	assert_int_equal(rdvc_next_deadline(&e) > T0 + 9001, 1);
	x = expire(&e, &NO_SESSION, T0 + 9001 + RDVC_TCP_FALLBACK_MS - 1);
	assert_int_equal(count(&x, RDVC_ACT_TCP_OPEN), 0);
	x = expire(&e, &NO_SESSION, T0 + 9001 + RDVC_TCP_FALLBACK_MS);
	assert_int_equal(count(&x, RDVC_ACT_TCP_OPEN), 1);
	rdvc_on_tcp_down(&e, T0 + 9001 + RDVC_TCP_FALLBACK_MS);
	x = expire(&e, &NO_SESSION, T0 + 9001 + RDVC_TCP_FALLBACK_MS);
	assert_int_equal(count(&x, RDVC_ACT_TCP_OPEN), 0);

	/* A rendezvous whose TCP port refuses: every connect that closes
	 * without coming up doubles the wait, up to RDVC_TCP_RETRY_MAX_MS. */
	{
		uint64_t t = T0 + 20000, wait = RDVC_TCP_FALLBACK_MS, opens = 0;

		engine(&e);
		(void)expire(&e, &NO_SESSION, T0);
		t = T0 + RDVC_TCP_FALLBACK_MS;
		for (int k = 0; k < 10; k++) {
			x = expire(&e, &NO_SESSION, t - 1);
			assert_int_equal(count(&x, RDVC_ACT_TCP_OPEN), 0);
			x = expire(&e, &NO_SESSION, t);
			assert_int_equal(count(&x, RDVC_ACT_TCP_OPEN), 1);
			opens++;
			rdvc_on_tcp_down(&e, t + 1);
			wait = 2 * wait > RDVC_TCP_RETRY_MAX_MS ? RDVC_TCP_RETRY_MAX_MS : 2 * wait;
			assert_int_equal(rdvc_next_deadline(&e) <= t + 1 + wait, 1);
			t += 1 + wait;
		}
		assert_int_equal(wait, RDVC_TCP_RETRY_MAX_MS);
		assert_int_equal(opens, 10);
	}

	/* Not over UDP: nothing to fall back from. */
	engine(&e);
	x = expire(&e, &(struct rdvc_status){.session = false, .path_udp = false}, T0 + 2000);
	assert_int_equal(count(&x, RDVC_ACT_TCP_OPEN), 0);
	/* One STUN answer: UDP works, no TCP. */
	engine(&e);
	x = expire(&e, &NO_SESSION, T0);
	{
		struct sockaddr_storage m = sa4("203.0.113.9", 40000);

		assert_int_equal(stun_in(&e, find(&x, RDVC_ACT_SEND_STUN, 1)->stun_id, &m, T0 + 5),
				 RDVC_STUN_ANSWER);
	}
	x = expire(&e, &NO_SESSION, T0 + 2000);
	assert_int_equal(count(&x, RDVC_ACT_TCP_OPEN), 0);
}

/* With a session, REGISTER waits for the mapping test, at most
 * RDVC_STUN_WAIT_MS after T0, and is sent again every
 * RDVC_REGISTER_RETRY_MS until answered. */
static void test_rdvc_expire_register_waits_for_stun(void **state)
{
	struct rdvc_engine e;
	struct acts x;

	(void)state;
	engine(&e);
	x = expire(&e, &SESSION, T0);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 0);
	assert_int_equal(count(&x, RDVC_ACT_INITIATE), 0);
	x = expire(&e, &SESSION, T0 + RDVC_STUN_WAIT_MS - 1);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 0);
	assert_int_equal(rdvc_next_deadline(&e) <= T0 + RDVC_STUN_WAIT_MS, 1);
	x = expire(&e, &SESSION, T0 + RDVC_STUN_WAIT_MS);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
	assert_int_equal(e.nat_mapping, RDV_MAPPING_UNKNOWN);
	x = expire(&e, &SESSION, T0 + RDVC_STUN_WAIT_MS + RDVC_REGISTER_RETRY_MS - 1);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 0);
	x = expire(&e, &SESSION, T0 + RDVC_STUN_WAIT_MS + RDVC_REGISTER_RETRY_MS);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);

	/* A test done early: REGISTER at once. */
	engine(&e);
	assert_int_equal(stun_round(&e, &NO_SESSION, T0, 40000, 40002), RDVC_STUN_NAT_CHANGED);
	x = expire(&e, &SESSION, T0 + 100);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
	assert_int_equal(e.register_sent_ms, T0 + 100);
}

/* A port mapping being asked for holds the first REGISTER until it
 * answers, at most RDVC_CANDIDATES_WAIT_MS after T0; once it answered
 * (pending false) the REGISTER goes at once. */
static void test_rdvc_expire_register_waits_for_portmap(void **state)
{
	static const struct rdvc_status PENDING = {
	    .session = true, .path_udp = true, .candidates_pending = true};
	struct rdvc_engine e;
	struct acts x;

	(void)state;
	engine(&e);
	assert_int_equal(stun_round(&e, &NO_SESSION, T0, 40000, 40000), RDVC_STUN_NAT_CHANGED);
	x = expire(&e, &PENDING, T0 + RDVC_CANDIDATES_WAIT_MS / 2);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 0);
	assert_int_equal(rdvc_next_deadline(&e), T0 + RDVC_CANDIDATES_WAIT_MS);
	x = expire(&e, &PENDING, T0 + RDVC_CANDIDATES_WAIT_MS - 1);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 0);
	x = expire(&e, &PENDING, T0 + RDVC_CANDIDATES_WAIT_MS);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);

	/* The mapping answered before the wait was over: REGISTER with it
	 * then. */
	engine(&e);
	assert_int_equal(stun_round(&e, &NO_SESSION, T0, 40000, 40000), RDVC_STUN_NAT_CHANGED);
	x = expire(&e, &PENDING, T0 + RDVC_CANDIDATES_WAIT_MS / 2);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 0);
	x = expire(&e, &SESSION, T0 + RDVC_CANDIDATES_WAIT_MS / 2 + 1);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
}

/* Registered: REGISTER every RDVC_REGISTER_INTERVAL_MS, not sooner;
 * CONNECT is allowed only while registered. */
static void test_rdvc_expire_register_cadence(void **state)
{
	struct rdvc_engine e;
	uint64_t sent = 0;
	struct acts x;

	(void)state;
	registered_engine(&e);
	assert_int_equal(e.relay_id, 7);
	assert_int_equal(rdvc_next_deadline(&e), T0 + RDVC_REGISTER_INTERVAL_MS);
	for (unsigned k = 1; k <= 3; k++) {
		uint64_t due = T0 + k * RDVC_REGISTER_INTERVAL_MS;

		x = expire(&e, &SESSION, due - 1);
		assert_int_equal(count(&x, RDVC_ACT_REGISTER), 0);
		x = expire(&e, &SESSION, due);
		assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
		x = registered_in(&e, 7, due + 5);
		assert_int_equal(x.n, 0); /* already registered: nothing to log */
	}
	assert_true(rdvc_connect_due(&e, &sent, T0 + 20000));
	/* The next one: due exactly when rdvc_connect_next says, not before. */
	assert_int_equal(rdvc_connect_next(&e, sent), T0 + 20000 + RDVC_CONNECT_INTERVAL_MS);
	assert_false(rdvc_connect_due(&e, &sent, rdvc_connect_next(&e, sent) - 1));
	assert_true(rdvc_connect_due(&e, &sent, rdvc_connect_next(&e, sent)));
	assert_int_equal(sent, T0 + 20000 + RDVC_CONNECT_INTERVAL_MS);
	e.registered_ms = 0;
	sent = 0;
	assert_false(rdvc_connect_due(&e, &sent, T0 + 20000));
	assert_int_equal(sent, 0);
	assert_int_equal(rdvc_connect_next(&e, sent), UINT64_MAX);
}

/* REGISTERED stops: a REGISTER unanswered for RDVC_REGISTER_ANSWER_MS goes
 * again (an answer within that time, or to a repeat, keeps the
 * registration), and after RDVC_REGISTER_UNANSWERED_MAX in a row the
 * session is lost; then a handshake, and at once with the new session a
 * REGISTER, whose REGISTERED asks for fresh introductions. */
static void test_rdvc_expire_dead_after(void **state)
{
	const uint64_t t1 = T0 + RDVC_REGISTER_INTERVAL_MS;
	struct rdvc_engine e;
	uint64_t t3;
	struct acts x;

	(void)state;
	registered_engine(&e);
	/* At t1: answered only after one repeat. */
	x = expire(&e, &SESSION, t1);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
	assert_int_equal(rdvc_next_deadline(&e), t1 + RDVC_REGISTER_ANSWER_MS);
	x = expire(&e, &SESSION, t1 + RDVC_REGISTER_ANSWER_MS - 1);
	assert_int_equal(x.n, 0);
	x = expire(&e, &SESSION, t1 + RDVC_REGISTER_ANSWER_MS);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
	x = registered_in(&e, 7, t1 + RDVC_REGISTER_ANSWER_MS + 30);
	assert_int_equal(x.n, 0); /* still the same registration */
	assert_int_equal(e.unanswered, 0);
	/* The next one is an interval after the last REGISTER. */
	t3 = t1 + RDVC_REGISTER_ANSWER_MS + RDVC_REGISTER_INTERVAL_MS;
	assert_int_equal(rdvc_next_deadline(&e), t3);

	/* From t3 on nothing answers: two repeats, then the verdict. */
	for (unsigned k = 0; k < RDVC_REGISTER_UNANSWERED_MAX; k++) {
		x = expire(&e, &SESSION, t3 + k * RDVC_REGISTER_ANSWER_MS);
		assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
		assert_int_equal(count(&x, RDVC_ACT_SESSION_LOST), 0);
	}
	x = expire(&e, &SESSION, t3 + RDVC_REGISTER_UNANSWERED_MAX * RDVC_REGISTER_ANSWER_MS - 1);
	assert_int_equal(x.n, 0);
	x = expire(&e, &SESSION, t3 + RDVC_REGISTER_UNANSWERED_MAX * RDVC_REGISTER_ANSWER_MS);
	assert_int_equal(count(&x, RDVC_ACT_SESSION_LOST), 1);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 0);
	assert_int_equal(e.registered_ms, 0);
	/* The last REGISTERED was answered just before t3 - interval: the
	 * verdict comes within RDVC_DEAD_AFTER_MS of it. */
	assert_true(t3 + RDVC_REGISTER_UNANSWERED_MAX * RDVC_REGISTER_ANSWER_MS -
			(t1 + RDVC_REGISTER_ANSWER_MS + 30) <=
		    RDVC_DEAD_AFTER_MS);

	/* The daemon dropped the session: a handshake, then at once a
	 * REGISTER whose answer reintroduces. */
	t3 += RDVC_REGISTER_UNANSWERED_MAX * RDVC_REGISTER_ANSWER_MS;
	assert_int_equal(rdvc_next_deadline(&e), t3 + RDVC_POLL_MS);
	x = expire(&e, &NO_SESSION, t3 + 10);
	assert_int_equal(count(&x, RDVC_ACT_INITIATE), 1);
	x = expire(&e, &SESSION, t3 + 50);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
	x = registered_in(&e, 99, t3 + 60);
	assert_int_equal(x.n, 2);
	assert_int_equal(x.a[0].type, RDVC_ACT_REGISTERED);
	assert_int_equal(x.a[1].type, RDVC_ACT_REINTRODUCE);
	assert_int_equal(e.relay_id, 99);
}

/* A rendezvous that lost our session before it ever answered a REGISTER:
 * the REGISTERs of a registration that never came are counted the same
 * way, and the session is made again. */
static void test_rdvc_restart_registration_lost(void **state)
{
	struct rdvc_engine e;
	uint64_t sent = 0, t = T0;
	struct acts x;
	bool lost = false;

	(void)state;
	engine(&e);
	assert_int_equal(stun_round(&e, &NO_SESSION, T0, 40000, 40000), RDVC_STUN_NAT_CHANGED);
	for (unsigned k = 0; k < RDVC_REGISTER_UNANSWERED_MAX; k++, t += RDVC_REGISTER_RETRY_MS) {
		x = expire(&e, &SESSION, t);
		assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
	}
	assert_false(rdvc_connect_due(&e, &sent, t));
	x = expire(&e, &SESSION, t);
	lost = count(&x, RDVC_ACT_SESSION_LOST) == 1;
	assert_true(lost);
	x = expire(&e, &NO_SESSION, t + 10);
	assert_int_equal(count(&x, RDVC_ACT_INITIATE), 1);
	x = expire(&e, &SESSION, t + 200);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
	x = registered_in(&e, 99, t + 210);
	assert_int_equal(x.a[0].type, RDVC_ACT_REGISTERED);
	assert_int_equal(port_of(&x.a[0].addr), 40000);
	assert_true(rdvc_connect_due(&e, &sent, t + 210));
	assert_int_equal(sent, t + 210);
}

/* Walks the REGISTER schedule from the one due at from to the one before
 * to, each answered 5 ms later: the registration stays alive. */
static void keep_registered(struct rdvc_engine *e, uint64_t from, uint64_t to)
{
	for (uint64_t t = from; t < to; t += RDVC_REGISTER_INTERVAL_MS) {
		struct acts x = expire(e, &SESSION, t);

		assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
		x = registered_in(e, 7, t + 5);
		assert_int_equal(x.n, 0);
	}
}

/* Our NAT maps to a new port at the refresh while registered: registered
 * anew (at most RDVC_REGISTER_RETRY_MS after the last REGISTER), and the
 * REGISTERED that follows asks for introductions once (REINTRODUCE); a
 * refresh with the same result changes nothing. */
static void test_rdvc_on_stun_nat_change_reregisters(void **state)
{
	struct rdvc_engine e;
	uint64_t r1 = T0 + RDVC_STUN_REFRESH_MS, r2 = r1 + RDVC_STUN_REFRESH_MS;
	struct acts x;

	(void)state;
	registered_engine(&e);
	keep_registered(&e, T0 + RDVC_REGISTER_INTERVAL_MS, r1);
	/* First refresh (the test was done at T0): the same port. */
	x = expire(&e, &SESSION, r1);
	assert_int_equal(count(&x, RDVC_ACT_SEND_STUN), 0); /* answers forgotten first */
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
	assert_int_equal(stun_round(&e, &SESSION, r1, 40000, 40000), RDVC_STUN_ANSWER);
	assert_int_not_equal(e.registered_ms, 0);
	assert_false(e.reintroduce);
	registered_in(&e, 7, r1 + 5);
	keep_registered(&e, r1 + RDVC_REGISTER_INTERVAL_MS, r2);
	/* Second refresh: the NAT now maps us to 41000. */
	x = expire(&e, &SESSION, r2);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
	assert_int_equal(stun_round(&e, &SESSION, r2, 41000, 41000), RDVC_STUN_NAT_CHANGED);
	assert_int_equal(e.registered_ms, 0);
	assert_true(e.reintroduce);
	assert_int_equal(port_of(&e.reflexive), 41000);
	x = expire(&e, &SESSION, r2 + RDVC_REGISTER_RETRY_MS - 1);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 0);
	assert_int_equal(rdvc_next_deadline(&e), r2 + RDVC_REGISTER_RETRY_MS);
	x = expire(&e, &SESSION, r2 + RDVC_REGISTER_RETRY_MS);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
	x = registered_in(&e, 7, r2 + RDVC_REGISTER_RETRY_MS + 20);
	assert_int_equal(x.n, 2);
	assert_int_equal(x.a[0].type, RDVC_ACT_REGISTERED);
	assert_int_equal(x.a[1].type, RDVC_ACT_REINTRODUCE);
	x = registered_in(&e, 7, r2 + RDVC_REGISTER_RETRY_MS + 5020);
	assert_int_equal(x.n, 0);
}

/* A port mapping came while registered: REGISTER at the next call, even
 * right after the last one (no retry wait), and its REGISTERED asks for
 * introductions once; not registered, nothing changes. */
static void test_rdvc_candidates_changed_reregisters(void **state)
{
	struct rdvc_engine e;
	uint64_t t = T0 + RDVC_REGISTER_INTERVAL_MS;
	struct acts x;

	(void)state;
	registered_engine(&e);
	x = expire(&e, &SESSION, t);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
	registered_in(&e, 7, t + 5);
	rdvc_candidates_changed(&e);
	assert_int_equal(e.registered_ms, 0);
	assert_true(e.reintroduce);
	assert_true(rdvc_next_deadline(&e) <= t + 10);
	x = expire(&e, &SESSION, t + 10);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
	x = registered_in(&e, 7, t + 15);
	assert_int_equal(x.n, 2);
	assert_int_equal(x.a[0].type, RDVC_ACT_REGISTERED);
	assert_int_equal(x.a[1].type, RDVC_ACT_REINTRODUCE);
	assert_false(e.reintroduce);

	/* Not registered (a fresh engine): no REGISTER before its time. */
	engine(&e);
	rdvc_candidates_changed(&e);
	assert_false(e.reintroduce);
	x = expire(&e, &SESSION, T0);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 0);
}

/* CONNECT for one peer at most every RDVC_CONNECT_INTERVAL_MS; peers do not
 * share the pace. */
static void test_rdvc_connect_due_rate_limit(void **state)
{
	struct rdvc_engine e;
	uint64_t a = 0, b = 0;
	uint64_t t = T0 + 100;

	(void)state;
	registered_engine(&e);
	assert_true(rdvc_connect_due(&e, &a, t));
	assert_int_equal(a, t);
	assert_false(rdvc_connect_due(&e, &a, t + RDVC_CONNECT_INTERVAL_MS - 1));
	assert_int_equal(a, t);
	assert_true(rdvc_connect_due(&e, &b, t + 1));
	assert_true(rdvc_connect_due(&e, &a, t + RDVC_CONNECT_INTERVAL_MS));
	assert_int_equal(a, t + RDVC_CONNECT_INTERVAL_MS);
	/* The daemon forces one (a new introduction wanted) by forgetting it. */
	b = 0;
	assert_true(rdvc_connect_due(&e, &b, t + 2));
}

/* INTRODUCE is handed on with the candidates that pass: a loopback host,
 * a tunnel address and the rendezvous's own address are taken out and
 * listed with their reasons; UNKNOWN_PEER names the key; anything that does
 * not decode is malformed. */
static void test_rdvc_on_signal_introduce(void **state)
{
	struct rdvc_engine e;
	struct sockaddr_storage rdv[2] = {sa4("198.51.100.1", RDV_PORT), sa4("198.51.100.2", 1)};
	struct cfg_prefix tun = {.family = AF_INET, .addr = {10, 99, 0, 2}, .plen = 24};
	struct rdvc_own own = {rdv, 2, &tun, 1};
	struct rdv_introduce in;
	uint8_t buf[512];
	size_t len;
	struct acts x;

	(void)state;
	registered_engine(&e);
	memset(&in, 0, sizeof(in));
	memset(in.public_key, 0x22, 32);
	in.relay_id = 5;
	in.nat_mapping = RDV_MAPPING_DEPENDENT;
	in.port_step = 1;
	in.udp_reflexive = sa4("203.0.113.50", 40000);
	in.tcp_reflexive = sa4("198.51.100.2", 51820); /* the second meeting point */
	in.n_host = 3;
	in.host[0] = sa4("127.0.0.1", 51820);
	in.host[1] = sa4("10.0.2.5", 51820);
	in.host[2] = sa4("10.99.0.2", 51820); /* our tunnel address */
	len = rdv_encode_introduce(&in, buf, sizeof(buf));
	assert_true(len > 0);
	x.n = rdvc_on_signal(&e, buf, len, &own, T0 + 100, x.a);
	assert_int_equal(x.n, 1);
	assert_int_equal(x.a[0].type, RDVC_ACT_INTRODUCE);
	assert_memory_equal(x.a[0].intro.public_key, in.public_key, 32);
	assert_int_equal(x.a[0].intro.relay_id, 5);
	assert_int_equal(x.a[0].intro.port_step, 1);
	assert_true(same(&x.a[0].intro.udp_reflexive, &in.udp_reflexive));
	assert_int_equal(x.a[0].intro.tcp_reflexive.ss_family, 0);
	assert_int_equal(x.a[0].intro.n_host, 1);
	assert_true(same(&x.a[0].intro.host[0], &in.host[1]));
	assert_int_equal(x.a[0].n_skipped, 3);
	assert_string_equal(x.a[0].skipped[0].what, "tcp reflexive");
	assert_int_equal(x.a[0].skipped[0].why, ADDR_OWN);
	assert_string_equal(x.a[0].skipped[1].what, "host");
	assert_int_equal(x.a[0].skipped[1].why, ADDR_LOOPBACK);
	assert_int_equal(x.a[0].skipped[2].why, ADDR_OWN);
	assert_true(same(&x.a[0].skipped[2].addr, &in.host[2]));

	len = rdv_encode_unknown_peer(in.public_key, buf, sizeof(buf));
	x = signal_in(&e, buf, len, T0 + 200);
	assert_int_equal(x.n, 1);
	assert_int_equal(x.a[0].type, RDVC_ACT_NOT_INTRODUCED);
	assert_memory_equal(x.a[0].key, in.public_key, 32);

	x = signal_in(&e, buf, len - 1, T0 + 300);
	assert_int_equal(x.n, 1);
	assert_int_equal(x.a[0].type, RDVC_ACT_MALFORMED);
	buf[0] = 0x7f;
	x = signal_in(&e, buf, len, T0 + 300);
	assert_int_equal(x.a[0].type, RDVC_ACT_MALFORMED);
	x = signal_in(&e, buf, 0, T0 + 300);
	assert_int_equal(x.a[0].type, RDVC_ACT_MALFORMED);
	/* A malformed REGISTERED is not a heartbeat. */
	{
		uint64_t before = e.registered_ms;
		struct sockaddr_storage refl = sa4("203.0.113.9", 40000);

		len = rdv_encode_registered(8, &refl, buf, sizeof(buf));
		x = signal_in(&e, buf, len - 1, T0 + 400);
		assert_int_equal(x.a[0].type, RDVC_ACT_MALFORMED);
		assert_int_equal(e.registered_ms, before);
		assert_int_equal(e.relay_id, 7);
	}
}

/* REGISTERED before any STUN answer gives us the reflexive address the
 * rendezvous saw; STUN's later answer takes over. */
static void test_rdvc_on_signal_registered_reflexive(void **state)
{
	struct rdvc_engine e;
	struct acts x;

	(void)state;
	engine(&e);
	x = expire(&e, &SESSION, T0 + RDVC_STUN_WAIT_MS);
	assert_int_equal(count(&x, RDVC_ACT_REGISTER), 1);
	x = registered_in(&e, 3, T0 + RDVC_STUN_WAIT_MS + 5);
	assert_int_equal(x.n, 1);
	assert_true(e.have_reflexive);
	assert_int_equal(port_of(&e.reflexive), 40000);
	assert_int_equal(
	    stun_round(&e, &SESSION, T0 + RDVC_STUN_WAIT_MS + RDVC_STUN_RETRY_MS, 40500, 40500),
	    RDVC_STUN_NAT_CHANGED);
	assert_int_equal(port_of(&e.reflexive), 40500);
}

/* A forged answer with an all-zero transaction id (an RFC 3489 one: no
 * magic cookie) matches no slot, neither before anything was sent nor once
 * both answers are in: it cannot move our reflexive address or mapping. */
static void test_rdvc_on_stun_zero_id(void **state)
{
	static const uint8_t zero[RDVC_ID_LEN];
	struct sockaddr_storage evil = sa4("192.0.2.66", 1234);
	struct rdvc_engine e;
	struct stun_builder b;
	uint8_t buf[128];
	size_t len;

	(void)state;
	assert_int_equal(
	    stun_builder_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, zero),
	    0);
	assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_MAPPED_ADDRESS, &evil), 0);
	assert_int_equal(stun_builder_finish(&b, false, &len), 0);
	engine(&e);
	assert_int_equal(rdvc_on_stun(&e, buf, len, T0), RDVC_STUN_NOT_OURS);
	assert_false(e.have_mapped[0] || e.have_mapped[1] || e.udp_heard);
	assert_int_equal(stun_round(&e, &NO_SESSION, T0, 40000, 40002), RDVC_STUN_NAT_CHANGED);
	assert_int_equal(rdvc_on_stun(&e, buf, len, T0 + 10), RDVC_STUN_NOT_OURS);
	assert_int_equal(port_of(&e.reflexive), 40000);
	assert_int_equal(port_of(&e.mapped[0]), 40000);
	assert_int_equal(port_of(&e.mapped[1]), 40002);
	assert_int_equal(e.port_step, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rdvc_expire_stun_retry),
	    cmocka_unit_test(test_rdvc_on_stun_independent_and_refresh),
	    cmocka_unit_test(test_rdvc_on_stun_port_step),
	    cmocka_unit_test(test_rdvc_on_stun_refuses),
	    cmocka_unit_test(test_rdvc_on_stun_zero_id),
	    cmocka_unit_test(test_rdvc_expire_tcp_fallback),
	    cmocka_unit_test(test_rdvc_expire_register_waits_for_stun),
	    cmocka_unit_test(test_rdvc_expire_register_waits_for_portmap),
	    cmocka_unit_test(test_rdvc_expire_register_cadence),
	    cmocka_unit_test(test_rdvc_expire_dead_after),
	    cmocka_unit_test(test_rdvc_restart_registration_lost),
	    cmocka_unit_test(test_rdvc_on_stun_nat_change_reregisters),
	    cmocka_unit_test(test_rdvc_candidates_changed_reregisters),
	    cmocka_unit_test(test_rdvc_connect_due_rate_limit),
	    cmocka_unit_test(test_rdvc_on_signal_introduce),
	    cmocka_unit_test(test_rdvc_on_signal_registered_reflexive),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
