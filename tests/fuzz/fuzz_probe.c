/* Fuzz harness for path probes (punch/probe.h) and the path engine fed by
 * them (punch/engine.h).
 *
 * 1. The input as a received datagram: probe_pair_id() and probe_open()
 *    under the fixed pair key must never crash; probe_open() may succeed
 *    only where probe_pair_id() did and named our pair, must leave its
 *    output untouched on failure, and what it opened must seal and open
 *    again to the same payload.
 * 2. The input as a script of engine events (introductions, probe requests
 *    and replies with tx_ids near the real ones, TCP and relay events,
 *    clock steps): the engine's invariants must hold after every step
 *    (candidate table bounded, the path's candidate valid and matching,
 *    actions within the caller's bound, a deadline that moves on).
 * The seeds in corpus/probe/ are valid probes of each kind under the
 * harness's key (seed-keypair bytes 1 and 2, X25519 via
 * crypto_box_seed_keypair), so mutations start from authentic packets. */
#include <netinet/in.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "punch/engine.h"
#include "punch/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct probe_key key;
static uint8_t pub_a[32], pub_b[32];

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void init_once(void)
{
	static bool done;
	uint8_t seed[crypto_box_SEEDBYTES], priv_a[32], priv_b[32];

	if (done)
		return;
	check(sodium_init() >= 0);
	memset(seed, 1, sizeof(seed));
	crypto_box_seed_keypair(pub_a, priv_a, seed);
	memset(seed, 2, sizeof(seed));
	crypto_box_seed_keypair(pub_b, priv_b, seed);
	check(probe_key_derive(priv_a, pub_a, pub_b, &key));
	done = true;
}

static bool payload_equal(const struct probe_payload *a, const struct probe_payload *b)
{
	size_t n = a->observed.ss_family == AF_INET6  ? sizeof(struct sockaddr_in6)
		   : a->observed.ss_family == AF_INET ? sizeof(struct sockaddr_in)
						      : sizeof(a->observed.ss_family);

	return a->kind == b->kind && a->tx_id == b->tx_id &&
	       a->sender_time_ms == b->sender_time_ms && memcmp(&a->observed, &b->observed, n) == 0;
}

static void fuzz_open(const uint8_t *data, size_t size)
{
	struct probe_payload out, sentinel, again;
	uint8_t id[PROBE_PAIR_ID_LEN], pkt[PROBE_LEN];
	bool has_id, opened;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	out = sentinel;
	has_id = probe_pair_id(data, size, id);
	check(has_id == (size == PROBE_LEN && data[0] == 5 && !data[1] && !data[2] && !data[3]));
	opened = probe_open(&key, data, size, &out);
	if (!opened) {
		check(memcmp(&out, &sentinel, sizeof(out)) == 0);
		return;
	}
	check(has_id && memcmp(id, key.pair_id, PROBE_PAIR_ID_LEN) == 0);
	check(out.kind >= PROBE_REQUEST && out.kind <= PROBE_HEARTBEAT_REPLY);
	check(probe_build(&key, &out, pkt) == PROBE_LEN);
	check(probe_open(&key, pkt, sizeof(pkt), &again));
	check(payload_equal(&out, &again));
}

/* ---- the engine under a script ---- */

struct script {
	const uint8_t *p;
	size_t left;
};

static uint8_t byte(struct script *s)
{
	if (!s->left)
		return 0;
	s->left--;
	return *s->p++;
}

static uint16_t u16(struct script *s)
{
	return (uint16_t)(byte(s) | byte(s) << 8);
}

/* One of a few addresses, so events hit known candidates often. */
static struct sockaddr_storage addr(struct script *s)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	uint8_t b = byte(s);

	memset(&ss, 0, sizeof(ss));
	if (b >= 0xf0) /* sometimes not an address at all */
		return ss;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(0xc6336400u | (b & 7)); /* 198.51.100.0..7 */
	in->sin_port = htons((uint16_t)(40000 + (b >> 3)));
	return ss;
}

static void check_engine(const struct punch_peer *p)
{
	check(p->n_cand <= PUNCH_MAX_CANDIDATES);
	check(p->path_cand >= -1 && p->path_cand < (int)p->n_cand);
	if (p->path == PUNCH_PATH_UDP || p->path == PUNCH_PATH_TCP) {
		const struct punch_candidate *c = &p->cand[p->path_cand];

		check(p->path_cand >= 0);
		check(memcmp(&c->addr, &p->path_addr, sizeof(struct sockaddr_in)) == 0);
		check(c->proto == (p->path == PUNCH_PATH_TCP ? PUNCH_PROTO_TCP : PUNCH_PROTO_UDP));
	} else {
		check(p->path_cand == -1);
	}
	for (size_t i = 0; i < p->n_cand; i++)
		check(memchr(p->cand[i].last_result, 0, PUNCH_RESULT_LEN) != NULL);
}

static void fuzz_engine(const uint8_t *data, size_t size)
{
	static struct punch_peer p;
	struct punch_config cfg;
	struct script s = {data, size};
	struct punch_action acts[8];
	uint64_t now = 1000000, last_tx = 0;
	size_t replies = 0;

	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.our_pub, pub_a, 32);
	memcpy(cfg.their_pub, pub_b, 32);
	cfg.keepalive_s = byte(&s) % 8;
	cfg.relay_allowed = byte(&s) & 1;
	cfg.endpoint = addr(&s);
	punch_peer_init(&p, &cfg);

	while (s.left) {
		struct sockaddr_storage a = addr(&s);
		struct probe_payload pl;
		struct rdv_introduce m;
		enum punch_path_kind via = (enum punch_path_kind)(byte(&s) % 4);
		size_t n;

		memset(&pl, 0, sizeof(pl));
		pl.kind = (enum probe_kind)(1 + byte(&s) % 4);
		pl.tx_id = last_tx + (int8_t)byte(&s); /* near ours, or not */
		pl.sender_time_ms = now - byte(&s);
		switch (byte(&s) % 12) {
		case 0:
			memset(&m, 0, sizeof(m));
			m.nat_mapping = byte(&s) % 3;
			m.port_step = (int16_t)u16(&s);
			m.start_in_ms = u16(&s) % 1000;
			m.udp_reflexive = addr(&s);
			m.tcp_reflexive = addr(&s);
			m.n_host = byte(&s) % (RDV_MAX_HOST + 1);
			for (size_t i = 0; i < m.n_host; i++)
				m.host[i] = addr(&s);
			punch_on_introduce(&p, &m, now);
			break;
		case 1:
			replies += punch_on_probe_request(&p, via, &a, now);
			break;
		case 2:
			punch_on_probe_reply(&p, &a, &pl, now);
			break;
		case 3:
			punch_on_heartbeat_reply(&p, via, &a, &pl, now);
			break;
		case 4:
			punch_on_tcp_connected(&p, &a, now);
			break;
		case 5:
			punch_on_tcp_failed(&p, &a, now);
			break;
		case 6:
			punch_on_tcp_closed(&p, &a, now);
			break;
		case 7:
			punch_on_relay_available(&p, now);
			break;
		case 8:
			punch_on_relay_unavailable(&p, now);
			break;
		case 9:
			(void)!punch_on_path_authenticated(&p, via, &a, now);
			break;
		default: {
			/* Run the clock to the next deadline (or a step). */
			uint64_t d = punch_next_deadline(&p), step = now + u16(&s);

			now = d < step && d > now ? d : step;
			n = punch_expire(&p, now, acts, 1 + byte(&s) % 8);
			check(n <= 8);
			for (size_t i = 0; i < n; i++)
				if (acts[i].type == PUNCH_ACT_SEND_PROBE)
					last_tx = acts[i].tx_id;
			break;
		}
		}
		check_engine(&p);
	}
	check(replies <= size);
	/* Once a call returns fewer actions than it had room for, nothing
	 * is left due at that moment. */
	for (int i = 0; i < 16; i++)
		if (punch_expire(&p, now, acts, 8) < 8)
			break;
	check(punch_next_deadline(&p) > now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	if (size > 4096)
		return 0;
	fuzz_open(data, size);
	fuzz_engine(data, size);
	return 0;
}
