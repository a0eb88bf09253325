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

#include <cmocka.h>

#include "sockaddr_fill.h"
#include <sodium.h>

#include "crypto/keys.h"
#include "rendezvous/core.h"
#include "rendezvous/sim.h"
#include "session/wire.h"

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

/* Seals msg for the rendezvous; returns how many packets it sent back. */
static size_t send_msg(struct env *e, int who, const uint8_t *msg, size_t len)
{
	uint8_t pkt[512];
	size_t plen;

	e->n_out = 0;
	assert_int_equal(rdv_sim_seal(&e->sim[who], msg, len, pkt, sizeof(pkt), &plen, T0), 0);
	rdv_core_receive(&e->core, &e->ch[who], pkt, plen, T0);
	return e->n_out;
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
