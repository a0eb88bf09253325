/* Signalling tests (rendezvous/signal.c) on the engine without sockets:
 * REGISTER host candidates go through the candidate rules of util/addr.h.
 * Loopback, multicast, link-local, unspecified, broadcast, reserved,
 * v4-compatible and the rendezvous's own addresses (listen,
 * alternate, and the address the peer's packets reached) are dropped one
 * by one and counted, the good ones kept in order; the registration
 * itself stands. More than RDV_MAX_HOST candidates, port 0 or a v4-mapped
 * candidate make the message malformed (the decoder's rules), and an
 * INTRODUCE carries only what was kept. A listed key is admitted by a
 * registry full of open-mode entries. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sockaddr_fill.h"
#include <sodium.h>

#include "crypto/keys.h"
#include "crypto/noise.h"
#include "rendezvous/core.h"
#include "support/rdv_sim.h"
#include "wire/wire.h"

enum { T0 = 7000000 };

struct sent {
	struct rdv_channel ch;
	uint8_t pkt[2048];
	size_t len;
};

struct env {
	struct cfg_rendezvous cfg;
	struct rdv_core core;
	struct rdv_sim sim[2];
	struct rdv_channel ch[2];
	struct sent out[8];
	size_t n_out;
};

static void capture(void *ctx, const struct rdv_channel *ch, uint8_t *pkt, size_t len)
{
	struct env *e = ctx;
	struct sent *s = &e->out[e->n_out % 8];

	assert_true(len <= sizeof(s->pkt));
	s->ch = *ch;
	memcpy(s->pkt, pkt, len);
	s->len = len;
	e->n_out++;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct cfg_errors errs = {0};
	uint8_t priv[32];
	char b64[KEY_B64_LEN + 1], text[300];

	if (!e || sodium_init() < 0)
		return -1;
	key_generate(priv);
	key_to_base64(priv, b64);
	snprintf(text, sizeof(text),
		 "[rendezvous]\nlisten = 192.0.2.10:3478\nalternate_address = 192.0.2.20\n"
		 "private_key = %s\nopen = yes\n",
		 b64);
	if (!cfg_load_rendezvous_string("signal.conf", text, &e->cfg, &errs))
		return -1;
	if (rdv_core_init(&e->core, &e->cfg, 16, capture, e) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (rdv_sim_init(&e->sim[i], NULL, e->cfg.public_key) < 0)
			return -1;
		e->ch[i].kind = RDV_CHAN_UDP;
		/* As a wildcard socket reports it: the packets reached .30. */
		sockaddr_fill(&e->ch[i].local, "192.0.2.30", 3478);
	}
	sockaddr_fill(&e->ch[0].addr, "198.51.100.1", 1000);
	sockaddr_fill(&e->ch[1].addr, "198.51.100.2", 2000);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	rdv_sim_cleanup(&e->sim[0]);
	rdv_sim_cleanup(&e->sim[1]);
	rdv_core_cleanup(&e->core);
	cfg_rendezvous_free(&e->cfg);
	free(e);
	return 0;
}

static void handshake(struct env *e, int who)
{
	uint8_t init[WIRE_INIT_LEN];

	e->n_out = 0;
	assert_int_equal(rdv_sim_initiation(&e->sim[who], init), 0);
	rdv_core_receive(&e->core, &e->ch[who], init, sizeof(init), T0);
	assert_int_equal(e->n_out, 1);
	assert_int_equal(rdv_sim_response(&e->sim[who], e->out[0].pkt, e->out[0].len, T0), 0);
}

/* Seals msg for the rendezvous at now; returns how many packets it sent back. */
static size_t send_msg_at(struct env *e, int who, const uint8_t *msg, size_t len, uint64_t now)
{
	uint8_t pkt[512];
	size_t plen;

	e->n_out = 0;
	assert_int_equal(rdv_sim_seal(&e->sim[who], msg, len, pkt, sizeof(pkt), &plen, now), 0);
	rdv_core_receive(&e->core, &e->ch[who], pkt, plen, now);
	return e->n_out;
}

static size_t send_msg(struct env *e, int who, const uint8_t *msg, size_t len)
{
	return send_msg_at(e, who, msg, len, T0);
}

/* REGISTER with the given candidates ("ip", port); true when answered. */
static bool register_hosts(struct env *e, int who, const char *const *ips, const uint16_t *ports,
			   size_t n)
{
	struct rdv_register reg = {.nat_mapping = RDV_MAPPING_INDEPENDENT, .n_host = n};
	uint8_t msg[RDV_REGISTER_LEN + RDV_MAX_HOST * RDV_ADDR_LEN];
	size_t len;

	for (size_t i = 0; i < n; i++)
		sockaddr_fill(&reg.host[i], ips[i], ports[i]);
	len = rdv_encode_register(&reg, msg, sizeof(msg));
	assert_true(len > 0);
	return send_msg(e, who, msg, len) == 1;
}

static const struct rdv_peer *entry(struct env *e, int who)
{
	const struct rdv_peer *p = rdv_registry_find(&e->core.reg, e->sim[who].id.s_pub);

	assert_non_null(p);
	return p;
}

static void assert_host(const struct rdv_peer *p, size_t i, const char *ip, uint16_t port)
{
	struct sockaddr_storage want;
	struct rdv_addr a;

	sockaddr_fill(&want, ip, port);
	rdv_addr_from_sockaddr(&want, &a);
	assert_memory_equal(&p->host[i], &a, sizeof(a));
}

static void test_rdv_signal_register_candidates_filtered(void **state)
{
	struct env *e = *state;
	static const char *const mixed[] = {
	    "127.0.0.1",    "10.0.0.5",	  "224.0.0.251", "169.254.3.4",
	    "192.168.1.20", "192.0.2.10", "fd00::5",	 "fe80::1",
	};
	static const uint16_t mixed_ports[] = {51820, 51820, 5353,  51820,
					       51820, 51820, 51820, 51820};
	static const char *const bad[] = {
	    "192.0.2.20", "192.0.2.30", "0.0.0.0", "255.255.255.255",
	    "240.0.0.1",  "::1",	"ff02::1", "::198.51.100.9",
	};
	static const uint16_t bad_ports[] = {1, 2, 3, 4, 5, 6, 7, 8};
	const struct rdv_peer *p;

	handshake(e, 0);
	/* Four good among loopback, multicast, link-local and our listen IP
	 * (on another port): the good ones stay, in order. */
	assert_true(register_hosts(e, 0, mixed, mixed_ports, 8));
	p = entry(e, 0);
	assert_true(p->registered);
	assert_int_equal(p->n_host, 3);
	assert_host(p, 0, "10.0.0.5", 51820);
	assert_host(p, 1, "192.168.1.20", 51820);
	assert_host(p, 2, "fd00::5", 51820);
	assert_int_equal(e->core.candidates_refused, 5);
	/* Only bad ones, among them the alternate address and the address
	 * the packets reached: none kept, the registration still answered. */
	assert_true(register_hosts(e, 0, bad, bad_ports, 8));
	p = entry(e, 0);
	assert_true(p->registered);
	assert_int_equal(p->n_host, 0);
	assert_int_equal(e->core.candidates_refused, 13);
	assert_int_equal(e->core.registrations, 2);
}

static void test_rdv_signal_register_public_and_port_zero(void **state)
{
	struct env *e = *state;
	static const char *const ips[] = {"203.0.113.7", "198.51.100.8", "2001:db8::7"};
	static const uint16_t ports[] = {1, 4000, 65535};
	static const uint16_t zero[] = {4000, 0, 4000};
	const struct rdv_peer *p;

	handshake(e, 0);
	/* Documentation ranges (the lab's "internet") are candidates. */
	assert_true(register_hosts(e, 0, ips, ports, 3));
	p = entry(e, 0);
	assert_int_equal(p->n_host, 3);
	assert_host(p, 0, "203.0.113.7", 1);
	assert_host(p, 1, "198.51.100.8", 4000);
	assert_host(p, 2, "2001:db8::7", 65535);
	assert_int_equal(e->core.candidates_refused, 0);
	/* Port 0 cannot be reached: the decoder refuses the whole message. */
	assert_false(register_hosts(e, 0, ips, zero, 3));
	assert_int_equal(e->core.drops[RDV_DROP_SIGNAL_MALFORMED], 1);
	assert_int_equal(entry(e, 0)->n_host, 3);
}

static void test_rdv_signal_register_max_hosts(void **state)
{
	struct env *e = *state;
	static const char *const ips[] = {
	    "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4",
	    "10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8",
	};
	static const uint16_t ports[] = {1, 2, 3, 4, 5, 6, 7, 8};
	uint8_t msg[RDV_REGISTER_LEN + (RDV_MAX_HOST + 1) * RDV_ADDR_LEN + 16];
	const struct rdv_peer *p;
	size_t len;

	handshake(e, 0);
	/* Eight good ones: all kept. */
	assert_true(register_hosts(e, 0, ips, ports, RDV_MAX_HOST));
	p = entry(e, 0);
	assert_int_equal(p->n_host, RDV_MAX_HOST);
	assert_host(p, 7, "10.0.0.8", 8);
	/* Nine: the message itself is refused and the stored eight stay. */
	memset(msg, 0, sizeof(msg));
	msg[0] = RDV_REGISTER;
	msg[1] = RDV_MAX_HOST + 1;
	for (size_t i = 0; i <= RDV_MAX_HOST; i++) {
		uint8_t *a = msg + RDV_REGISTER_LEN + i * RDV_ADDR_LEN;

		a[0] = 4;
		a[3] = (uint8_t)(i + 1);
		a[4] = 10;
		a[7] = (uint8_t)(i + 20);
	}
	len = RDV_REGISTER_LEN + (RDV_MAX_HOST + 1) * RDV_ADDR_LEN;
	assert_int_equal(send_msg(e, 0, msg, len), 0);
	assert_int_equal(e->core.drops[RDV_DROP_SIGNAL_MALFORMED], 1);
	p = entry(e, 0);
	assert_int_equal(p->n_host, RDV_MAX_HOST);
	assert_host(p, 0, "10.0.0.1", 1);
	/* A v4-mapped candidate (family 6, ::ffff:a.b.c.d) is a second
	 * encoding of IPv4: the whole message is refused. */
	memset(msg, 0, sizeof(msg));
	msg[0] = RDV_REGISTER;
	msg[1] = 1;
	msg[RDV_REGISTER_LEN] = 6;
	msg[RDV_REGISTER_LEN + 3] = 9;
	msg[RDV_REGISTER_LEN + 4 + 10] = 0xff;
	msg[RDV_REGISTER_LEN + 4 + 11] = 0xff;
	msg[RDV_REGISTER_LEN + 4 + 12] = 198;
	msg[RDV_REGISTER_LEN + 4 + 13] = 51;
	msg[RDV_REGISTER_LEN + 4 + 14] = 100;
	msg[RDV_REGISTER_LEN + 4 + 15] = 9;
	assert_int_equal(send_msg(e, 0, msg, RDV_REGISTER_LEN + RDV_ADDR_LEN), 0);
	assert_int_equal(e->core.drops[RDV_DROP_SIGNAL_MALFORMED], 2);
	assert_int_equal(entry(e, 0)->n_host, RDV_MAX_HOST);
}

static void test_rdv_signal_introduce_kept_only(void **state)
{
	struct env *e = *state;
	static const char *const a_ips[] = {"127.0.0.1", "10.0.0.5", "192.0.2.10"};
	static const uint16_t a_ports[] = {51820, 51820, 51820};
	static const char *const b_ips[] = {"10.0.1.5"};
	static const uint16_t b_ports[] = {51820};
	uint8_t msg[RDV_CONNECT_LEN], *inner;
	struct rdv_introduce intro;
	size_t len, inner_len;
	struct sockaddr_storage want;

	handshake(e, 0);
	assert_true(register_hosts(e, 0, a_ips, a_ports, 3));
	handshake(e, 1);
	assert_true(register_hosts(e, 1, b_ips, b_ports, 1));
	/* Both ask (mutual intent): A first, then B, who is answered by
	 * both introductions. */
	len = rdv_encode_connect(e->sim[1].id.s_pub, msg, sizeof(msg));
	assert_int_equal(send_msg(e, 0, msg, len), 1);
	len = rdv_encode_connect(e->sim[0].id.s_pub, msg, sizeof(msg));
	assert_int_equal(send_msg(e, 1, msg, len), 2);
	/* The first INTRODUCE goes to B, about A. */
	assert_int_equal(
	    rdv_sim_open(&e->sim[1], e->out[0].pkt, e->out[0].len, T0, &inner, &inner_len), 0);
	assert_true(rdv_decode_introduce(inner, inner_len, &intro));
	assert_int_equal(intro.n_host, 1);
	sockaddr_fill(&want, "10.0.0.5", 51820);
	assert_memory_equal(&intro.host[0], &want, sizeof(struct sockaddr_in));
}

/* A listed key meets a registry full of open-mode entries (SECURITY-NOTES
 * case: docs/rendezvous.md promises it is always admitted). */
static void test_rdv_signal_listed_admitted_when_full(void **state)
{
	enum { N = 4 };
	struct cfg_errors errs = {0};
	struct cfg_rendezvous cfg;
	struct env *e = calloc(1, sizeof(*e));
	struct rdv_sim open[N + 1], alice;
	uint8_t priv[32], alice_priv[32], alice_pub[32], init[WIRE_INIT_LEN];
	char b64[KEY_B64_LEN + 1], pub64[KEY_B64_LEN + 1], text[400];

	assert_non_null(e);
	key_generate(priv);
	key_to_base64(priv, b64);
	key_generate(alice_priv);
	assert_true(key_public(alice_priv, alice_pub));
	key_to_base64(alice_pub, pub64);
	snprintf(text, sizeof(text),
		 "[rendezvous]\nlisten = 192.0.2.10:3478\nprivate_key = %s\nopen = yes\n"
		 "[peer \"alice\"]\npublic_key = %s\n",
		 b64, pub64);
	assert_true(cfg_load_rendezvous_string("full.conf", text, &cfg, &errs));
	assert_int_equal(rdv_core_init(&e->core, &cfg, N, capture, e), 0);
	e->ch[0].kind = RDV_CHAN_UDP;
	for (int i = 0; i <= N; i++) {
		assert_int_equal(rdv_sim_init(&open[i], NULL, cfg.public_key), 0);
		sockaddr_fill(&e->ch[0].addr, "198.51.100.1", (uint16_t)(1000 + i));
		e->n_out = 0;
		assert_int_equal(rdv_sim_initiation(&open[i], init), 0);
		rdv_core_receive(&e->core, &e->ch[0], init, sizeof(init), T0 + (uint64_t)i);
		/* The first N fill the registry; the next unlisted key gets nothing. */
		assert_int_equal(e->n_out, i < N ? 1 : 0);
	}
	assert_int_equal(e->core.reg.n, N);
	assert_int_equal(e->core.drops[RDV_DROP_REGISTRY_FULL], 1);
	/* Alice is listed: answered, in place of the entry seen least recently. */
	assert_int_equal(rdv_sim_init(&alice, alice_priv, cfg.public_key), 0);
	sockaddr_fill(&e->ch[0].addr, "198.51.100.9", 9000);
	e->n_out = 0;
	assert_int_equal(rdv_sim_initiation(&alice, init), 0);
	rdv_core_receive(&e->core, &e->ch[0], init, sizeof(init), T0 + 100);
	assert_int_equal(e->n_out, 1);
	assert_int_equal(rdv_sim_response(&alice, e->out[0].pkt, e->out[0].len, T0 + 100), 0);
	assert_int_equal(e->core.reg.evicted_open, 1);
	assert_int_equal(e->core.reg.n, N);
	assert_null(rdv_registry_find(&e->core.reg, open[0].id.s_pub));
	assert_non_null(rdv_registry_find(&e->core.reg, open[1].id.s_pub));
	assert_string_equal(rdv_registry_find(&e->core.reg, alice_pub)->name, "alice");
	for (int i = 0; i <= N; i++)
		rdv_sim_cleanup(&open[i]);
	rdv_sim_cleanup(&alice);
	rdv_core_cleanup(&e->core);
	cfg_rendezvous_free(&cfg);
	free(e);
}

/* The handshake flood gate before any DH: one wake-up's budget of
 * initiations (a captured one replayed from spoofed sources, each costing
 * DH until the replay check) puts the rendezvous under load; then a new
 * peer's initiation without mac2 gets a cookie reply (64 bytes, no DH, on
 * its channel), its next initiation with mac2 is answered and the session
 * works; the load ends after the hold. */
static void test_rdv_signal_flood_gate(void **state)
{
	struct env *e = *state;
	uint8_t init[WIRE_INIT_LEN], copy[WIRE_INIT_LEN];
	struct rdv_channel spoof = e->ch[1];

	assert_int_equal(rdv_sim_initiation(&e->sim[1], init), 0);
	rdv_core_wake(&e->core);
	for (unsigned i = 0; i < RDV_HS_BUDGET_PER_WAKE; i++) {
		sockaddr_fill(&spoof.addr, "203.0.113.7", (uint16_t)(1024 + i));
		memcpy(copy, init, sizeof(copy));
		rdv_core_receive(&e->core, &spoof, copy, sizeof(copy), T0);
	}
	/* The first was answered, the others were replays (DH spent on each). */
	assert_int_equal(e->core.handshakes, 1);
	assert_int_equal(e->core.drops[RDV_DROP_REPLAY], RDV_HS_BUDGET_PER_WAKE - 1);
	assert_false(hsgate_under_load(&e->core.gate, T0));
	memcpy(copy, init, sizeof(copy));
	rdv_core_receive(&e->core, &spoof, copy, sizeof(copy), T0);
	assert_int_equal(e->core.drops[RDV_DROP_HANDSHAKE_RATE], 1);
	assert_int_equal(e->core.drops[RDV_DROP_REPLAY], RDV_HS_BUDGET_PER_WAKE - 1);
	assert_true(hsgate_under_load(&e->core.gate, T0));

	/* A new peer during the load: a cookie reply, no DH. */
	rdv_core_wake(&e->core);
	e->n_out = 0;
	assert_int_equal(rdv_sim_initiation(&e->sim[0], init), 0);
	rdv_core_receive(&e->core, &e->ch[0], init, sizeof(init), T0 + 10);
	assert_int_equal(e->n_out, 1);
	assert_int_equal(e->out[0].len, WIRE_COOKIE_REPLY_LEN);
	assert_memory_equal(&e->out[0].ch.addr, &e->ch[0].addr, sizeof(e->ch[0].addr));
	assert_int_equal(e->core.handshakes, 1);
	assert_int_equal(e->core.drops[RDV_DROP_HANDSHAKE_NO_MAC2], 1);
	assert_int_equal(e->core.gate.cookie_replies_sent, 1);
	assert_null(rdv_registry_find(&e->core.reg, e->sim[0].id.s_pub));
	/* A forged cookie reply is refused by the peer; the real one taken. */
	e->out[0].pkt[40] ^= 1;
	assert_int_not_equal(rdv_sim_cookie(&e->sim[0], e->out[0].pkt, e->out[0].len, T0 + 10), 0);
	e->out[0].pkt[40] ^= 1;
	assert_int_equal(rdv_sim_cookie(&e->sim[0], e->out[0].pkt, e->out[0].len, T0 + 10), 0);
	/* The next initiation carries mac2: answered, and the session works. */
	e->n_out = 0;
	assert_int_equal(rdv_sim_initiation(&e->sim[0], init), 0);
	rdv_core_receive(&e->core, &e->ch[0], init, sizeof(init), T0 + 30);
	assert_int_equal(e->n_out, 1);
	assert_int_equal(e->out[0].len, WIRE_RESP_LEN);
	assert_int_equal(rdv_sim_response(&e->sim[0], e->out[0].pkt, e->out[0].len, T0 + 30), 0);
	assert_int_equal(e->core.handshakes, 2);
	assert_true(hsgate_under_load(&e->core.gate, T0 + 30));
	/* The hold ends; the sweep notices (and logs the counters). */
	(void)rdv_core_expire(&e->core, T0 + 30 + HSGATE_HOLD_MS + 1);
	assert_false(e->core.load_logged);
	assert_false(hsgate_under_load(&e->core.gate, T0 + 30 + HSGATE_HOLD_MS + 1));
}

/* ---- mutual intent (CONNECT) ---- */

static size_t connect_at(struct env *e, int who, const uint8_t key[32], uint64_t now)
{
	uint8_t msg[RDV_CONNECT_LEN];
	size_t len = rdv_encode_connect(key, msg, sizeof(msg));

	assert_int_equal(len, RDV_CONNECT_LEN);
	return send_msg_at(e, who, msg, len, now);
}

/* Opens captured packet i as peer who (it must have gone to who's
 * channel); returns the message type. */
static unsigned open_out(struct env *e, size_t i, int who, uint64_t now, uint8_t **inner,
			 size_t *inner_len)
{
	assert_memory_equal(&e->out[i].ch.addr, &e->ch[who].addr, sizeof(struct sockaddr_in));
	assert_int_equal(
	    rdv_sim_open(&e->sim[who], e->out[i].pkt, e->out[i].len, now, inner, inner_len), 0);
	return rdv_msg_type_of(*inner, *inner_len);
}

/* Both peers handshaken and registered, one public host candidate each. */
static void join_both(struct env *e)
{
	static const char *const ips[] = {"203.0.113.50", "203.0.113.51"};
	static const uint16_t ports[] = {51820};

	for (int who = 0; who < 2; who++) {
		handshake(e, who);
		assert_true(register_hosts(e, who, &ips[who], ports, 1));
	}
}

/* n packets went out: exactly one, to who, UNKNOWN_PEER naming key, the
 * padding zero. */
static void assert_unknown_reply(struct env *e, size_t n, int who, const uint8_t key[32],
				 uint64_t now)
{
	uint8_t want[RDV_UNKNOWN_PEER_LEN], *inner;
	size_t inner_len;

	assert_int_equal(n, 1);
	assert_int_equal(open_out(e, 0, who, now, &inner, &inner_len), RDV_UNKNOWN_PEER);
	assert_int_equal(rdv_encode_unknown_peer(key, want, sizeof(want)), sizeof(want));
	assert_true(inner_len >= sizeof(want));
	assert_memory_equal(inner, want, sizeof(want));
	for (size_t i = sizeof(want); i < inner_len; i++)
		assert_int_equal(inner[i], 0);
}

/* n packets went out: INTRODUCE to the asker, then to the other, each
 * about the other. */
static void assert_introduced(struct env *e, size_t n, int asker, uint64_t now)
{
	assert_int_equal(n, 2);
	for (size_t k = 0; k < 2; k++) {
		int to = k == 0 ? asker : 1 - asker;
		struct rdv_introduce intro;
		uint8_t *inner;
		size_t inner_len;

		assert_int_equal(open_out(e, k, to, now, &inner, &inner_len), RDV_INTRODUCE);
		assert_true(rdv_decode_introduce(inner, inner_len, &intro));
		assert_memory_equal(intro.public_key, e->sim[1 - to].id.s_pub, 32);
		assert_int_equal(intro.relay_id, entry(e, 1 - to)->relay_id);
		assert_int_equal(intro.nat_mapping, RDV_MAPPING_INDEPENDENT);
		assert_int_equal(intro.n_host, 1);
	}
}

/* A asks for B, who is registered and reachable but does not ask for A:
 * A gets what it gets for a key nobody registered (same message, same
 * size) or for itself, and nothing ever reaches B, however often A asks.
 * B asking for someone else changes nothing; B asking for A does. */
static void test_rdv_signal_connect_one_sided(void **state)
{
	struct env *e = *state;
	const uint8_t *a = e->sim[0].id.s_pub, *b = e->sim[1].id.s_pub;
	uint8_t stranger[32];
	size_t n, len_b;

	join_both(e);
	randombytes_buf(stranger, sizeof(stranger));
	n = connect_at(e, 0, b, T0);
	len_b = e->out[0].len;
	assert_unknown_reply(e, n, 0, b, T0);
	n = connect_at(e, 0, stranger, T0 + 100);
	assert_int_equal(e->out[0].len, len_b);
	assert_unknown_reply(e, n, 0, stranger, T0 + 100);
	n = connect_at(e, 0, a, T0 + 200);
	assert_int_equal(e->out[0].len, len_b);
	assert_unknown_reply(e, n, 0, a, T0 + 200);
	/* As p2pvpnd does while it waits: once a second, for 30 s. */
	for (uint64_t s = 1; s <= 30; s++) {
		n = connect_at(e, 0, b, T0 + s * 1000);
		assert_int_equal(e->out[0].len, len_b);
		assert_unknown_reply(e, n, 0, b, T0 + s * 1000);
	}
	n = connect_at(e, 1, stranger, T0 + 30500);
	assert_unknown_reply(e, n, 1, stranger, T0 + 30500);
	assert_int_equal(e->core.introductions, 0);
	n = connect_at(e, 1, a, T0 + 30600);
	assert_introduced(e, n, 1, T0 + 30600);
	assert_int_equal(e->core.introductions, 1);
}

/* Both ask, in either order: the second CONNECT introduces both. An
 * introduction uses up both intents: one more ask is one-sided again. */
static void test_rdv_signal_connect_mutual(void **state)
{
	struct env *e = *state;
	size_t n;

	join_both(e);
	for (int first = 0; first < 2; first++) {
		int second = 1 - first;
		uint64_t t = T0 + (uint64_t)first * 10000;

		n = connect_at(e, first, e->sim[second].id.s_pub, t);
		assert_unknown_reply(e, n, first, e->sim[second].id.s_pub, t);
		n = connect_at(e, second, e->sim[first].id.s_pub, t + 2500);
		assert_introduced(e, n, second, t + 2500);
		assert_int_equal(e->core.introductions, (uint64_t)first + 1);
	}
	n = connect_at(e, 0, e->sim[1].id.s_pub, T0 + 20000);
	assert_unknown_reply(e, n, 0, e->sim[1].id.s_pub, T0 + 20000);
	assert_int_equal(e->core.introductions, 2);
}

/* A asked for B before B existed: B's first CONNECT after registering
 * meets A's intent. */
static void test_rdv_signal_connect_before_target_registered(void **state)
{
	struct env *e = *state;
	static const char *const ips[] = {"203.0.113.51"};
	static const uint16_t ports[] = {51820};
	static const char *const a_ips[] = {"203.0.113.50"};
	size_t n;

	handshake(e, 0);
	assert_true(register_hosts(e, 0, a_ips, ports, 1));
	n = connect_at(e, 0, e->sim[1].id.s_pub, T0);
	assert_unknown_reply(e, n, 0, e->sim[1].id.s_pub, T0);
	assert_null(rdv_registry_find(&e->core.reg, e->sim[1].id.s_pub));
	handshake(e, 1);
	assert_true(register_hosts(e, 1, ips, ports, 1));
	n = connect_at(e, 1, e->sim[0].id.s_pub, T0 + 1500);
	assert_introduced(e, n, 1, T0 + 1500);
}

/* The window: B's CONNECT dt after A's. Within it both are introduced;
 * past it B is answered as for an unknown peer, and it is B's intent that
 * is fresh now: A's next CONNECT meets it. */
static void test_rdv_signal_connect_window(void **state)
{
	static const struct {
		uint64_t dt_ms;
		bool introduced;
	} cases[] = {
	    {0, true},
	    {1000, true},
	    {RDV_INTENT_WINDOW_S * 1000 - 1, true},
	    {RDV_INTENT_WINDOW_S * 1000, false},
	    {RDV_INTENT_WINDOW_S * 1000 + 1, false},
	    {90 * 1000, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t t = T0 + cases[i].dt_ms;
		void *st = NULL;
		struct env *e;
		size_t n;

		assert_int_equal(setup(&st), 0);
		e = st;
		join_both(e);
		n = connect_at(e, 0, e->sim[1].id.s_pub, T0);
		assert_unknown_reply(e, n, 0, e->sim[1].id.s_pub, T0);
		n = connect_at(e, 1, e->sim[0].id.s_pub, t);
		if (cases[i].introduced) {
			assert_introduced(e, n, 1, t);
		} else {
			assert_unknown_reply(e, n, 1, e->sim[0].id.s_pub, t);
			assert_int_equal(e->core.introductions, 0);
			n = connect_at(e, 0, e->sim[1].id.s_pub, t + 500);
			assert_introduced(e, n, 0, t + 500);
		}
		assert_int_equal(e->core.introductions, 1);
		assert_int_equal(teardown(&st), 0);
	}
}

/* A asks for B, then for `others` other keys (150 ms apart, within the
 * CONNECT rate); with `refresh`, for B once more after the first
 * RDV_INTENTS_PER_PEER - 1 of them. The table holds the newest
 * RDV_INTENTS_PER_PEER, newest first: B's intent survives while it is
 * among them. */
static void test_rdv_signal_connect_intents_bounded(void **state)
{
	enum { N = RDV_INTENTS_PER_PEER };
	static const struct {
		int others;
		bool refresh;
		bool introduced;
	} cases[] = {
	    {N - 1, false, true},	    /* B's is the oldest of a full table: kept */
	    {N, false, false},		    /* a 17th key replaced it */
	    {N + 20, false, false},	    /* still 16 slots */
	    {2 * (N - 1), true, true},	    /* asked again: the newest, then 15 more */
	    {2 * (N - 1) + 1, true, false}, /* one more and it is gone again */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t key[32];
		uint64_t t = T0;
		const struct rdv_peer *pa;
		size_t n, used = 0;
		void *st = NULL;
		struct env *e;

		assert_int_equal(setup(&st), 0);
		e = st;
		join_both(e);
		n = connect_at(e, 0, e->sim[1].id.s_pub, t);
		assert_unknown_reply(e, n, 0, e->sim[1].id.s_pub, t);
		for (int k = 0; k < cases[i].others; k++) {
			if (cases[i].refresh && k == N - 1) {
				t += 150;
				n = connect_at(e, 0, e->sim[1].id.s_pub, t);
				assert_unknown_reply(e, n, 0, e->sim[1].id.s_pub, t);
			}
			t += 150;
			randombytes_buf(key, sizeof(key));
			n = connect_at(e, 0, key, t);
			assert_unknown_reply(e, n, 0, key, t);
		}
		pa = entry(e, 0);
		for (size_t k = 0; k < N; k++)
			used += pa->intent_s[k] != 0;
		assert_int_equal(used, N);
		assert_true(pa->intent_key[0] == rdv_registry_key_hash(&e->core.reg, key));
		assert_int_equal(e->core.drops[RDV_DROP_CONNECT_RATE], 0);
		n = connect_at(e, 1, e->sim[0].id.s_pub, t + 150);
		if (cases[i].introduced)
			assert_introduced(e, n, 1, t + 150);
		else
			assert_unknown_reply(e, n, 1, e->sim[0].id.s_pub, t + 150);
		assert_int_equal(teardown(&st), 0);
	}
}

/* ---- SECURITY-NOTES item 26 ---- */

/* open = no: a key without a [peer] section gets no answer and no entry,
 * and its forged data packets nothing either, before and after a listed
 * key registered. A reload that unlists a key drops its entry, and its
 * old session is worth nothing. */
static void test_rdv_signal_key_not_admitted(void **state)
{
	struct cfg_errors errs = {0};
	struct cfg_rendezvous cfg, cfg2;
	struct env *e = calloc(1, sizeof(*e));
	struct rdv_sim mallory, alice;
	uint8_t priv[32], alice_priv[32], alice_pub[32], other[32], init[WIRE_INIT_LEN], pkt[512];
	char b64[KEY_B64_LEN + 1], pub64[KEY_B64_LEN + 1], text[400];
	struct rdv_register reg = {.nat_mapping = RDV_MAPPING_INDEPENDENT};
	uint8_t msg[RDV_REGISTER_LEN];
	size_t len, plen;

	(void)state;
	assert_non_null(e);
	key_generate(priv);
	key_to_base64(priv, b64);
	key_generate(alice_priv);
	assert_true(key_public(alice_priv, alice_pub));
	key_to_base64(alice_pub, pub64);
	snprintf(text, sizeof(text),
		 "[rendezvous]\nlisten = 192.0.2.10:3478\nprivate_key = %s\nopen = no\n"
		 "[peer \"alice\"]\npublic_key = %s\n",
		 b64, pub64);
	assert_true(cfg_load_rendezvous_string("closed.conf", text, &cfg, &errs));
	/* The reload lists someone else instead (a file with no key at all
	 * and open = no is refused by the loader). */
	key_generate(other);
	assert_true(key_public(other, other));
	key_to_base64(other, pub64);
	snprintf(text, sizeof(text),
		 "[rendezvous]\nlisten = 192.0.2.10:3478\nprivate_key = %s\nopen = no\n"
		 "[peer \"bob\"]\npublic_key = %s\n",
		 b64, pub64);
	assert_true(cfg_load_rendezvous_string("closed2.conf", text, &cfg2, &errs));
	assert_int_equal(rdv_core_init(&e->core, &cfg, 16, capture, e), 0);
	e->ch[0].kind = e->ch[1].kind = RDV_CHAN_UDP;
	sockaddr_fill(&e->ch[0].addr, "203.0.113.66", 4000);
	sockaddr_fill(&e->ch[1].addr, "198.51.100.5", 5000);
	assert_int_equal(rdv_sim_init(&mallory, NULL, cfg.public_key), 0);
	assert_int_equal(rdv_sim_init(&alice, alice_priv, cfg.public_key), 0);
	len = rdv_encode_register(&reg, msg, sizeof(msg));

	for (int round = 0; round < 2; round++) {
		e->n_out = 0;
		assert_int_equal(rdv_sim_initiation(&mallory, init), 0);
		rdv_core_receive(&e->core, &e->ch[0], init, sizeof(init),
				 T0 + 100 * (uint64_t)round);
		assert_int_equal(e->n_out, 0);
		assert_null(rdv_registry_find(&e->core.reg, mallory.id.s_pub));
		assert_int_equal(e->core.drops[RDV_DROP_UNKNOWN_KEY], (uint64_t)round + 1);
		/* Without a session she can only guess an index and a tag. */
		memset(pkt, 0, sizeof(pkt));
		pkt[0] = WIRE_DATA;
		randombytes_buf(pkt + 4, 60);
		rdv_core_receive(&e->core, &e->ch[0], pkt, 64, T0 + 100 * (uint64_t)round);
		assert_int_equal(e->n_out, 0);
		assert_int_equal(e->core.drops[RDV_DROP_DATA_INVALID], (uint64_t)round + 1);
		if (round)
			break;
		/* Alice is listed: admitted and registered. */
		e->n_out = 0;
		assert_int_equal(rdv_sim_initiation(&alice, init), 0);
		rdv_core_receive(&e->core, &e->ch[1], init, sizeof(init), T0 + 50);
		assert_int_equal(e->n_out, 1);
		assert_int_equal(rdv_sim_response(&alice, e->out[0].pkt, e->out[0].len, T0 + 50),
				 0);
		assert_int_equal(rdv_sim_seal(&alice, msg, len, pkt, sizeof(pkt), &plen, T0 + 50),
				 0);
		e->n_out = 0;
		rdv_core_receive(&e->core, &e->ch[1], pkt, plen, T0 + 50);
		assert_int_equal(e->n_out, 1);
		assert_true(rdv_registry_find(&e->core.reg, alice_pub)->registered);
	}
	assert_int_equal(e->core.reg.n, 1);
	/* Unlisted by a reload: dropped, and her session is refused. */
	rdv_core_set_config(&e->core, &cfg2);
	assert_int_equal(e->core.reg.n, 0);
	assert_int_equal(rdv_sim_seal(&alice, msg, len, pkt, sizeof(pkt), &plen, T0 + 300), 0);
	e->n_out = 0;
	rdv_core_receive(&e->core, &e->ch[1], pkt, plen, T0 + 300);
	assert_int_equal(e->n_out, 0);
	assert_int_equal(e->core.drops[RDV_DROP_DATA_INVALID], 3);
	rdv_sim_cleanup(&mallory);
	rdv_sim_cleanup(&alice);
	rdv_core_cleanup(&e->core);
	cfg_rendezvous_free(&cfg);
	cfg_rendezvous_free(&cfg2);
	free(e);
}

/* A captured REGISTER replayed a second later, from the peer's address and
 * from an attacker's: the session's replay window drops both, so neither
 * the registration (time, candidates, relay id) nor the channel changes.
 * A captured initiation replayed from the attacker: refused as a replay,
 * and the peer's session goes on. */
static void test_rdv_signal_register_replayed(void **state)
{
	struct env *e = *state;
	struct rdv_register reg = {.nat_mapping = RDV_MAPPING_INDEPENDENT, .n_host = 1};
	uint8_t msg[RDV_REGISTER_LEN + RDV_ADDR_LEN], pkt[512], copy[512], init[WIRE_INIT_LEN],
	    init_copy[WIRE_INIT_LEN], *inner;
	struct rdv_channel attacker = e->ch[0];
	struct sockaddr_storage refl;
	const struct rdv_peer *p;
	size_t len, plen, inner_len;
	uint32_t relay_id, id;

	sockaddr_fill(&attacker.addr, "203.0.113.66", 6666);
	sockaddr_fill(&reg.host[0], "203.0.113.50", 51820);
	len = rdv_encode_register(&reg, msg, sizeof(msg));
	assert_int_equal(rdv_sim_initiation(&e->sim[0], init), 0);
	memcpy(init_copy, init, sizeof(init));
	e->n_out = 0;
	rdv_core_receive(&e->core, &e->ch[0], init, sizeof(init), T0);
	assert_int_equal(e->n_out, 1);
	assert_int_equal(rdv_sim_response(&e->sim[0], e->out[0].pkt, e->out[0].len, T0), 0);
	assert_int_equal(rdv_sim_seal(&e->sim[0], msg, len, pkt, sizeof(pkt), &plen, T0), 0);
	memcpy(copy, pkt, plen);
	e->n_out = 0;
	rdv_core_receive(&e->core, &e->ch[0], pkt, plen, T0);
	assert_int_equal(e->n_out, 1);
	p = entry(e, 0);
	relay_id = p->relay_id;
	assert_int_not_equal(relay_id, 0);

	for (int from_attacker = 0; from_attacker < 2; from_attacker++) {
		memcpy(pkt, copy, plen);
		e->n_out = 0;
		rdv_core_receive(&e->core, from_attacker ? &attacker : &e->ch[0], pkt, plen,
				 T0 + 1000);
		assert_int_equal(e->n_out, 0);
		assert_int_equal(e->core.drops[RDV_DROP_DATA_INVALID], (uint64_t)from_attacker + 1);
	}
	p = entry(e, 0);
	assert_int_equal(e->core.registrations, 1);
	assert_true(p->registered_ms == T0);
	assert_true(p->last_auth_ms == T0);
	assert_int_equal(p->relay_id, relay_id);
	assert_int_equal(p->n_host, 1);
	assert_memory_equal(&p->chan.addr, &e->ch[0].addr, sizeof(struct sockaddr_in));

	e->n_out = 0;
	rdv_core_receive(&e->core, &attacker, init_copy, sizeof(init_copy), T0 + 2000);
	assert_int_equal(e->n_out, 0);
	assert_int_equal(e->core.drops[RDV_DROP_REPLAY], 1);
	assert_int_equal(e->core.handshakes, 1);
	/* The real peer's next REGISTER: answered on its own channel, same id. */
	assert_int_equal(send_msg_at(e, 0, msg, len, T0 + 3000), 1);
	assert_int_equal(open_out(e, 0, 0, T0 + 3000, &inner, &inner_len), RDV_REGISTERED);
	assert_true(rdv_decode_registered(inner, inner_len, &id, &refl));
	assert_int_equal(id, relay_id);
	assert_memory_equal(&refl, &e->ch[0].addr, sizeof(struct sockaddr_in));
}

/* An initiation that names `claimed` as its static key but is made with
 * priv: what someone who knows a peer's public key, not its private key,
 * can send. With claimed = priv's own public key it is a valid one. */
static void forge_initiation(const uint8_t priv[32], const uint8_t claimed[32],
			     const uint8_t server_pub[32], struct wire_init *out)
{
	static const uint8_t zero_psk[1][NOISE_PSK_LEN];
	uint8_t ts[HS_TAI64N_LEN + 1] = {0}, mac1_key[HS_KEY_LEN]; /* TAI64N, no offers */
	uint8_t msg[sizeof(out->ephemeral) + sizeof(out->enc_static) + sizeof(out->enc_payload)];
	struct noise_handshake hs;
	size_t len = 0;

	assert_int_equal(noise_handshake_init(&hs, HS_PROTOCOL_NAME, true,
					      (const uint8_t *)HS_PROLOGUE, sizeof(HS_PROLOGUE) - 1,
					      priv, server_pub, NULL, 0, NULL),
			 0);
	assert_int_equal(noise_handshake_set_psks(&hs, zero_psk, 1), 0);
	/* The s token sends this; ss is still computed with priv. */
	memcpy(hs.s_pub, claimed, 32);
	hs_tai64n_now(ts);
	assert_int_equal(noise_write_message(&hs, ts, sizeof(ts), msg, sizeof(msg), &len), 0);
	assert_int_equal(len, sizeof(msg));
	memset(out, 0, sizeof(*out));
	out->type = WIRE_HANDSHAKE_INIT;
	out->sender_index = htole32(0x4d616c6c);
	memcpy(out->ephemeral, msg, sizeof(out->ephemeral));
	memcpy(out->enc_static, msg + sizeof(out->ephemeral), sizeof(out->enc_static));
	memcpy(out->enc_payload, msg + sizeof(out->ephemeral) + sizeof(out->enc_static),
	       sizeof(out->enc_payload));
	assert_int_equal(hs_mac1_key(server_pub, mac1_key), 0);
	assert_int_equal(
	    hs_mac1(mac1_key, (const uint8_t *)out, offsetof(struct wire_init, mac1), out->mac1),
	    0);
	noise_handshake_cleanup(&hs);
}

/* Mallory claims A's public key without A's private key: the ss step (a DH
 * with the private key that belongs to the key sent) does not match ours,
 * so the initiation fails before any lookup. Her tampering with A's data
 * packets fails the tag. Nothing changes for A: entry, session, channel,
 * relay id, registration. The same forging code with her own key is
 * answered (the check, not the forger, refused her). */
static void test_rdv_signal_impostor_key(void **state)
{
	struct env *e = *state;
	struct rdv_register reg = {.nat_mapping = RDV_MAPPING_INDEPENDENT};
	uint8_t mallory[32], mallory_pub[32], msg[RDV_REGISTER_LEN], pkt[512], *inner;
	struct rdv_channel attacker = e->ch[0];
	const struct rdv_peer *p;
	struct wire_init init;
	uint32_t relay_id, local_index;
	size_t len, plen, inner_len;

	join_both(e);
	p = entry(e, 0);
	relay_id = p->relay_id;
	assert_non_null(p->sess.current);
	local_index = p->sess.current->local_index;
	sockaddr_fill(&attacker.addr, "203.0.113.66", 6666);
	key_generate(mallory);
	assert_true(key_public(mallory, mallory_pub));
	for (int i = 0; i < 3; i++) {
		e->n_out = 0;
		forge_initiation(mallory, e->sim[i == 2].id.s_pub, e->cfg.public_key, &init);
		rdv_core_receive(&e->core, &attacker, (uint8_t *)&init, sizeof(init),
				 T0 + 1000 + 100 * (uint64_t)i);
		assert_int_equal(e->n_out, 0);
	}
	assert_int_equal(e->core.drops[RDV_DROP_HANDSHAKE_INVALID], 3);
	assert_int_equal(e->core.handshakes, 2);
	/* A's sealed REGISTER with one bit flipped, sent from her address. */
	len = rdv_encode_register(&reg, msg, sizeof(msg));
	assert_int_equal(rdv_sim_seal(&e->sim[0], msg, len, pkt, sizeof(pkt), &plen, T0 + 1500), 0);
	pkt[plen - 20] ^= 1;
	e->n_out = 0;
	rdv_core_receive(&e->core, &attacker, pkt, plen, T0 + 1500);
	assert_int_equal(e->n_out, 0);
	assert_int_equal(e->core.drops[RDV_DROP_DATA_INVALID], 1);

	p = entry(e, 0);
	assert_true(p->registered);
	assert_int_equal(p->relay_id, relay_id);
	assert_int_equal(p->sess.current->local_index, local_index);
	assert_memory_equal(&p->chan.addr, &e->ch[0].addr, sizeof(struct sockaddr_in));
	assert_int_equal(e->core.reg.n, 2);
	/* A's own session still works. */
	assert_int_equal(send_msg_at(e, 0, msg, len, T0 + 2000), 1);
	assert_int_equal(open_out(e, 0, 0, T0 + 2000, &inner, &inner_len), RDV_REGISTERED);
	/* Her own key, same forger: a valid initiation, answered (open mode). */
	e->n_out = 0;
	forge_initiation(mallory, mallory_pub, e->cfg.public_key, &init);
	rdv_core_receive(&e->core, &attacker, (uint8_t *)&init, sizeof(init), T0 + 2500);
	assert_int_equal(e->n_out, 1);
	assert_int_equal(e->out[0].len, WIRE_RESP_LEN);
	assert_non_null(rdv_registry_find(&e->core.reg, mallory_pub));
	assert_int_equal(e->core.drops[RDV_DROP_HANDSHAKE_INVALID], 3);
	sodium_memzero(mallory, sizeof(mallory));
}

/* One initiation from a fresh key (open mode) on a spoofed source; true
 * when answered. With `confirm`, the handshake is completed and REGISTER
 * sent (true only when REGISTERED came back). */
static bool flood_one(struct env *e, struct rdv_sim *sim, int i, bool confirm, uint64_t now)
{
	struct rdv_register reg = {0};
	uint8_t init[WIRE_INIT_LEN], msg[RDV_REGISTER_LEN], pkt[512];
	struct rdv_channel ch = {.kind = RDV_CHAN_UDP};
	size_t len, plen;

	sockaddr_fill(&ch.addr, "203.0.113.0", (uint16_t)(1024 + i / 250));
	((struct sockaddr_in *)&ch.addr)->sin_addr.s_addr =
	    htonl(0xCB007100u + 1 + (uint32_t)(i % 250));
	assert_int_equal(rdv_sim_initiation(sim, init), 0);
	rdv_core_wake(&e->core);
	e->n_out = 0;
	rdv_core_receive(&e->core, &ch, init, sizeof(init), now);
	if (e->n_out != 1)
		return false;
	if (!confirm)
		return true;
	assert_int_equal(rdv_sim_response(sim, e->out[0].pkt, e->out[0].len, now), 0);
	len = rdv_encode_register(&reg, msg, sizeof(msg));
	assert_int_equal(rdv_sim_seal(sim, msg, len, pkt, sizeof(pkt), &plen, now), 0);
	e->n_out = 0;
	rdv_core_receive(&e->core, &ch, pkt, plen, now);
	return e->n_out == 1;
}

/* Registration floods against the open-mode caps. Handshakes that are
 * never confirmed: RDV_MAX_PENDING of them are answered, the rest not;
 * meanwhile a new open-mode key is refused too (the flood's price, for
 * RDV_PENDING_MS), but a listed key is admitted and registered peers keep
 * working; the sweep then frees the pending entries. Completed
 * registrations: no more than max_open open-mode entries, and a listed
 * key still gets in. */
static void test_rdv_signal_registration_flood(void **state)
{
	enum { MAXP = 2048, OVER = 50 };
	struct cfg_errors errs = {0};
	struct cfg_rendezvous cfg;
	struct env *e = calloc(1, sizeof(*e));
	struct rdv_sim sim, listed[2], honest;
	uint8_t priv[32], lpriv[2][32], lpub[2][32];
	char b64[KEY_B64_LEN + 1], pub64[2][KEY_B64_LEN + 1], text[600];
	uint64_t t = T0;
	size_t answered = 0;

	(void)state;
	assert_non_null(e);
	key_generate(priv);
	key_to_base64(priv, b64);
	for (int i = 0; i < 2; i++) {
		key_generate(lpriv[i]);
		assert_true(key_public(lpriv[i], lpub[i]));
		key_to_base64(lpub[i], pub64[i]);
	}
	snprintf(text, sizeof(text),
		 "[rendezvous]\nlisten = 192.0.2.10:3478\nprivate_key = %s\nopen = yes\n"
		 "[peer \"alice\"]\npublic_key = %s\n[peer \"bob\"]\npublic_key = %s\n",
		 b64, pub64[0], pub64[1]);
	assert_true(cfg_load_rendezvous_string("flood.conf", text, &cfg, &errs));
	assert_int_equal(rdv_core_init(&e->core, &cfg, MAXP, capture, e), 0);
	assert_int_equal(rdv_sim_init(&honest, NULL, cfg.public_key), 0);
	assert_true(flood_one(e, &honest, 9999, true, t));

	/* Pending flood, all in one second (under the gate's load rate). */
	for (int i = 0; i < RDV_MAX_PENDING + OVER; i++) {
		assert_int_equal(rdv_sim_init(&sim, NULL, cfg.public_key), 0);
		answered += flood_one(e, &sim, i, false, t + 1);
		rdv_sim_cleanup(&sim);
	}
	assert_int_equal(answered, RDV_MAX_PENDING);
	assert_int_equal(e->core.drops[RDV_DROP_REGISTRY_FULL], OVER);
	assert_int_equal(e->core.reg.n_pending_open, RDV_MAX_PENDING);
	assert_int_equal(e->core.reg.n, 1 + RDV_MAX_PENDING);
	assert_int_equal(rdv_sim_init(&sim, NULL, cfg.public_key), 0);
	assert_false(flood_one(e, &sim, 7000, false, t + 2));
	rdv_sim_cleanup(&sim);
	assert_int_equal(rdv_sim_init(&listed[0], lpriv[0], cfg.public_key), 0);
	assert_true(flood_one(e, &listed[0], 7001, true, t + 2));
	assert_string_equal(rdv_registry_find(&e->core.reg, lpub[0])->name, "alice");
	assert_true(flood_one(e, &honest, 9999, true, t + 100)); /* re-handshake and REGISTER */

	/* The sweep after RDV_PENDING_MS: only the unconfirmed go. */
	t += 1 + RDV_PENDING_MS;
	assert_int_equal(rdv_core_expire(&e->core, t), RDV_MAX_PENDING);
	assert_int_equal(e->core.reg.n, 2);
	assert_int_equal(e->core.reg.n_pending_open, 0);
	assert_int_equal(e->core.reg.n_registered, 2);

	/* Completed registrations against a lowered open-mode cap. */
	e->core.reg.max_open = e->core.reg.n_open + 4;
	answered = 0;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(rdv_sim_init(&sim, NULL, cfg.public_key), 0);
		answered += flood_one(e, &sim, 2000 + i, true, t + 1 + (uint64_t)i);
		rdv_sim_cleanup(&sim);
	}
	assert_int_equal(answered, 4);
	assert_int_equal(e->core.reg.n_open, e->core.reg.max_open);
	assert_int_equal(e->core.drops[RDV_DROP_REGISTRY_FULL], OVER + 1 + 16);
	assert_int_equal(rdv_sim_init(&listed[1], lpriv[1], cfg.public_key), 0);
	assert_true(flood_one(e, &listed[1], 7002, true, t + 50));
	assert_int_equal(e->core.reg.n_registered, 2 + 4 + 1);

	rdv_sim_cleanup(&honest);
	rdv_sim_cleanup(&listed[0]);
	rdv_sim_cleanup(&listed[1]);
	rdv_core_cleanup(&e->core);
	cfg_rendezvous_free(&cfg);
	free(e);
}

/* A relay frame of len bytes from peer who to relay id id, tagged on
 * who's session with the rendezvous (rdvproto/proto.h section 3). */
static void relay_frame(struct env *e, int who, uint8_t *frame, size_t len, uint32_t id,
			uint64_t now)
{
	struct sess_keypair *kp = sess_peer_send_keypair(&e->sim[who].sess, now);

	assert_non_null(kp);
	memset(frame, 0, len);
	frame[RDV_RELAY_HEADER_LEN] = WIRE_DATA;
	assert_int_equal(rdv_relay_seal(frame, len, id, kp, now), 0);
}

/* Relay frames (the core's API) through one peer's byte quota: it is the
 * key's, not the address's or the session's. Once A spent its burst, a new
 * REGISTER, roaming to another address and a new handshake do not refill
 * it; time does (10 ms = 100 kB), and B's quota is its own. */
static void test_rdv_signal_relay_quota_per_key(void **state)
{
	enum { FRAME = 1000 };
	struct env *e = *state;
	struct rdv_register reg = {.nat_mapping = RDV_MAPPING_INDEPENDENT};
	uint8_t frame[FRAME], msg[RDV_REGISTER_LEN], init[WIRE_INIT_LEN];
	const uint64_t t1 = T0 + 100;
	uint32_t to_b, to_a;
	size_t passed = 0, len;
	uint64_t rate_drops;

	join_both(e);
	to_b = entry(e, 1)->relay_id;
	to_a = entry(e, 0)->relay_id;
	for (int i = 0; i < RDV_RELAY_BURST_BYTES / FRAME + 10; i++) {
		relay_frame(e, 0, frame, FRAME, to_b, t1);
		e->n_out = 0;
		rdv_core_receive(&e->core, &e->ch[0], frame, FRAME, t1);
		passed += e->n_out;
	}
	assert_int_equal(passed, RDV_RELAY_BURST_BYTES / FRAME);
	rate_drops = e->core.drops[RDV_DROP_RELAY_RATE];
	assert_int_equal(rate_drops, 10);

	for (int step = 0; step < 3; step++) {
		if (step == 0) {
			len = rdv_encode_register(&reg, msg, sizeof(msg));
			assert_int_equal(send_msg_at(e, 0, msg, len, t1), 1);
		} else if (step == 1) {
			sockaddr_fill(&e->ch[0].addr, "198.51.100.77", 7777);
			assert_int_equal(send_msg_at(e, 0, NULL, 0, t1), 0);
			assert_memory_equal(&entry(e, 0)->chan.addr, &e->ch[0].addr,
					    sizeof(struct sockaddr_in));
		} else {
			/* A later TAI64N than the first (its grain is ~17 ms). */
			usleep(40 * 1000);
			assert_int_equal(rdv_sim_initiation(&e->sim[0], init), 0);
			e->n_out = 0;
			rdv_core_receive(&e->core, &e->ch[0], init, sizeof(init), t1);
			assert_int_equal(e->n_out, 1);
			assert_int_equal(
			    rdv_sim_response(&e->sim[0], e->out[0].pkt, e->out[0].len, t1), 0);
			assert_int_equal(send_msg_at(e, 0, NULL, 0, t1), 0);
			assert_int_equal(e->core.handshakes, 3);
		}
		relay_frame(e, 0, frame, FRAME, to_b, t1);
		e->n_out = 0;
		rdv_core_receive(&e->core, &e->ch[0], frame, FRAME, t1);
		assert_int_equal(e->n_out, 0);
		assert_int_equal(e->core.drops[RDV_DROP_RELAY_RATE], ++rate_drops);
	}
	passed = 0;
	for (int i = 0; i < 200; i++) {
		relay_frame(e, 0, frame, FRAME, to_b, t1 + 10);
		e->n_out = 0;
		rdv_core_receive(&e->core, &e->ch[0], frame, FRAME, t1 + 10);
		passed += e->n_out;
	}
	assert_int_equal(passed, RDV_RELAY_BYTES_PER_S / 100 / FRAME);
	relay_frame(e, 1, frame, FRAME, to_a, t1 + 10);
	e->n_out = 0;
	rdv_core_receive(&e->core, &e->ch[1], frame, FRAME, t1 + 10);
	assert_int_equal(e->n_out, 1);
	assert_memory_equal(&e->out[0].ch.addr, &e->ch[0].addr, sizeof(struct sockaddr_in));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rdv_signal_register_candidates_filtered, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_signal_register_public_and_port_zero, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_signal_register_max_hosts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_signal_introduce_kept_only, setup, teardown),
	    cmocka_unit_test(test_rdv_signal_listed_admitted_when_full),
	    cmocka_unit_test_setup_teardown(test_rdv_signal_flood_gate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_signal_connect_one_sided, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_signal_connect_mutual, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_signal_connect_before_target_registered, setup,
					    teardown),
	    cmocka_unit_test(test_rdv_signal_connect_window),
	    cmocka_unit_test(test_rdv_signal_connect_intents_bounded),
	    cmocka_unit_test(test_rdv_signal_key_not_admitted),
	    cmocka_unit_test_setup_teardown(test_rdv_signal_register_replayed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_signal_impostor_key, setup, teardown),
	    cmocka_unit_test(test_rdv_signal_registration_flood),
	    cmocka_unit_test_setup_teardown(test_rdv_signal_relay_quota_per_key, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
