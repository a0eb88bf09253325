/* Relay tests: the destination address rules (SECURITY-NOTES item 25),
 * the token bucket, and the relay path of the engine (rendezvous/core.h)
 * driven without sockets on a fake clock: two peers register through
 * rdv_core_receive, frames go from one to the other until the sender's
 * byte budget is spent, a destination on a refused address gets nothing,
 * frames not tagged by the sender's own session (untagged, bad tag,
 * replayed, another session's, a stranger's address) are dropped without
 * charging anyone, and a rekey lets both keypairs' frames through. */
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
#include "rendezvous/bucket.h"
#include "rendezvous/core.h"
#include "rendezvous/relay.h"
#include "support/rdv_sim.h"
#include "wire/wire.h"

enum { T0 = 5000000, FRAME = 1000 };

static void test_rdv_relay_addr_allowed(void **state)
{
	static const struct {
		const char *ip;
		bool allowed, with_loopback;
	} cases[] = {
	    {"198.51.100.7", true, true},	 /* 1. an ordinary address */
	    {"10.1.2.3", true, true},		 /* 2. private ranges are peers too */
	    {"0.0.0.0", false, false},		 /* 3. this network */
	    {"0.1.2.3", false, false},		 /* 4. */
	    {"127.0.0.1", false, true},		 /* 5. loopback */
	    {"127.255.0.9", false, true},	 /* 6. */
	    {"169.254.1.1", false, false},	 /* 7. link-local */
	    {"224.0.0.1", false, false},	 /* 8. multicast */
	    {"239.255.255.250", false, false},	 /* 9. */
	    {"240.0.0.1", false, false},	 /* 10. reserved */
	    {"255.255.255.255", false, false},	 /* 11. broadcast */
	    {"192.0.2.10", false, false},	 /* 12. the server's own listen address */
	    {"192.0.2.20", false, false},	 /* 13. and its alternate */
	    {"2001:db8::1", true, true},	 /* 14. */
	    {"::", false, false},		 /* 15. */
	    {"::1", false, true},		 /* 16. */
	    {"::ffff:127.0.0.1", false, true},	 /* 17. v4-mapped loopback */
	    {"::ffff:0.0.0.0", false, false},	 /* 18. */
	    {"::ffff:192.0.2.10", false, false}, /* 19. v4-mapped own address */
	    {"::ffff:198.51.100.7", true, true}, /* 20. */
	    {"fe80::1", false, false},		 /* 21. link-local */
	    {"ff02::1", false, false},		 /* 22. multicast */
	    {"::7.7.7.7", false, false},	 /* 23. IPv4-compatible (deprecated) */
	};
	struct sockaddr_storage own[2], ss;

	sockaddr_fill(&own[0], "192.0.2.10", 3478);
	sockaddr_fill(&own[1], "192.0.2.20", 3478);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sockaddr_fill(&ss, cases[i].ip, 51820);
		if (rdv_relay_addr_allowed(&ss, own, 2, false) != cases[i].allowed)
			fail_msg("case %zu (%s)", i + 1, cases[i].ip);
		if (rdv_relay_addr_allowed(&ss, own, 2, true) != cases[i].with_loopback)
			fail_msg("case %zu (%s) with loopback", i + 1, cases[i].ip);
	}
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_false(rdv_relay_addr_allowed(&ss, NULL, 0, true));
}

static void test_rdv_bucket_take(void **state)
{
	struct rdv_bucket b = {0};

	/* Full at first use, then empty; refilled in proportion to time. */
	for (int i = 0; i < 10; i++)
		assert_true(rdv_bucket_take(&b, 1, 10, 10, T0));
	assert_false(rdv_bucket_take(&b, 1, 10, 10, T0));
	assert_false(rdv_bucket_take(&b, 1, 10, 10, T0 + 99));
	assert_true(rdv_bucket_take(&b, 1, 10, 10, T0 + 100));
	assert_false(rdv_bucket_take(&b, 1, 10, 10, T0 + 150));
	/* The half token of those 50 ms was kept. */
	assert_true(rdv_bucket_take(&b, 1, 10, 10, T0 + 200));
	/* Years later: full, not overflowed. */
	assert_false(rdv_bucket_take(&b, 11, 10, 10, T0 + 100000000000ull));
	assert_true(rdv_bucket_take(&b, 10, 10, 10, T0 + 100000000000ull));
	/* A cost larger than the burst never passes. */
	memset(&b, 0, sizeof(b));
	assert_false(rdv_bucket_take(&b, RDV_RELAY_BURST_BYTES + 1, RDV_RELAY_BYTES_PER_S,
				     RDV_RELAY_BURST_BYTES, T0));
}

/* ---- the engine, without sockets ---- */

struct sent {
	struct rdv_channel ch;
	uint8_t pkt[2048];
	size_t len;
};

struct env {
	struct cfg_rendezvous cfg;
	struct rdv_core core;
	uint8_t srv_pub[32];
	struct rdv_sim sim[2];
	struct rdv_channel ch[2];
	uint32_t relay_id[2];
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

static void deliver(struct env *e, int who, uint8_t *pkt, size_t len, uint64_t now)
{
	rdv_core_receive(&e->core, &e->ch[who], pkt, len, now);
}

static void join(struct env *e, int who, uint64_t now)
{
	struct rdv_register reg = {0};
	uint8_t init[WIRE_INIT_LEN], msg[64], pkt[256], *inner;
	size_t len, plen, inner_len;
	struct sockaddr_storage refl;

	e->n_out = 0;
	assert_int_equal(rdv_sim_initiation(&e->sim[who], init), 0);
	deliver(e, who, init, sizeof(init), now);
	assert_int_equal(e->n_out, 1);
	assert_int_equal(rdv_sim_response(&e->sim[who], e->out[0].pkt, e->out[0].len, now), 0);
	len = rdv_encode_register(&reg, msg, sizeof(msg));
	assert_int_equal(rdv_sim_seal(&e->sim[who], msg, len, pkt, sizeof(pkt), &plen, now), 0);
	deliver(e, who, pkt, plen, now);
	assert_int_equal(e->n_out, 2);
	assert_int_equal(
	    rdv_sim_open(&e->sim[who], e->out[1].pkt, e->out[1].len, now, &inner, &inner_len), 0);
	assert_true(rdv_decode_registered(inner, inner_len, &e->relay_id[who], &refl));
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct cfg_errors errs = {0};
	uint8_t priv[32];
	char b64[KEY_B64_LEN + 1], text[256];

	if (!e || sodium_init() < 0)
		return -1;
	key_generate(priv);
	key_to_base64(priv, b64);
	snprintf(text, sizeof(text),
		 "[rendezvous]\nlisten = 192.0.2.10:3478\nprivate_key = %s\nopen = yes\n", b64);
	if (!cfg_load_rendezvous_string("relay.conf", text, &e->cfg, &errs))
		return -1;
	if (rdv_core_init(&e->core, &e->cfg, 16, capture, e) < 0)
		return -1;
	memcpy(e->srv_pub, e->cfg.public_key, 32);
	for (int i = 0; i < 2; i++) {
		if (rdv_sim_init(&e->sim[i], NULL, e->srv_pub) < 0)
			return -1;
		e->ch[i].kind = RDV_CHAN_UDP;
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

/* A frame from peer who to relay id id, tagged on who's session with the
 * rendezvous (its current keypair, or kp when given). */
static void frame_to(struct env *e, int who, uint8_t *frame, uint32_t id, uint64_t now)
{
	struct sess_keypair *kp = sess_peer_send_keypair(&e->sim[who].sess, now);

	assert_non_null(kp);
	memset(frame, 0, FRAME);
	frame[RDV_RELAY_HEADER_LEN] = WIRE_DATA;
	assert_int_equal(rdv_relay_seal(frame, FRAME, id, kp, now), 0);
}

/* What the destination does with a frame from the rendezvous: true when
 * its tag and counter verify on the destination's own session. */
static bool dest_accepts(struct env *e, int who, uint8_t *frame, size_t len, uint64_t now)
{
	struct rdv_relay_hdr h;
	struct sess_keypair *kp;
	const uint8_t *inner;
	size_t inner_len;

	if (!rdv_relay_parse(frame, len, &h, &inner, &inner_len))
		return false;
	kp = sess_peer_find(&e->sim[who].sess, h.receiver_index);
	return kp && rdv_relay_verify(frame, len, &h, kp, now) == 0;
}

static void test_rdv_relay_frame_rate(void **state)
{
	struct env *e = *state;
	uint8_t frame[FRAME];
	size_t passed = 0;

	join(e, 0, T0);
	join(e, 1, T0);
	/* The burst passes, then the rest of the same millisecond is dropped. */
	e->n_out = 0;
	for (int i = 0; i < RDV_RELAY_BURST_BYTES / FRAME + 50; i++) {
		frame_to(e, 0, frame, e->relay_id[1], T0);
		deliver(e, 0, frame, FRAME, T0);
	}
	passed = e->n_out;
	assert_int_equal(passed, RDV_RELAY_BURST_BYTES / FRAME);
	assert_int_equal(e->core.drops[RDV_DROP_RELAY_RATE], 50);
	/* What went out went to B's channel, carrying A's id. */
	assert_int_equal(e->out[0].len, FRAME);
	assert_memory_equal(&e->out[0].ch.addr, &e->ch[1].addr, sizeof(struct sockaddr_in));
	assert_int_equal(e->out[0].pkt[4] | e->out[0].pkt[5] << 8 | e->out[0].pkt[6] << 16 |
			     (uint32_t)e->out[0].pkt[7] << 24,
			 e->relay_id[0]);
	/* It is tagged again for B: B's session with the rendezvous verifies
	 * it, once (a replay of it is refused), and A's tag would not do. */
	assert_true(dest_accepts(e, 1, e->out[0].pkt, e->out[0].len, T0));
	assert_false(dest_accepts(e, 1, e->out[0].pkt, e->out[0].len, T0));
	frame_to(e, 0, frame, e->relay_id[1], T0);
	assert_false(dest_accepts(e, 1, frame, FRAME, T0));
	/* 10 ms later: 100 kB more at 10 MB/s. */
	e->n_out = 0;
	for (int i = 0; i < 200; i++) {
		frame_to(e, 0, frame, e->relay_id[1], T0 + 10);
		deliver(e, 0, frame, FRAME, T0 + 10);
	}
	assert_int_equal(e->n_out, RDV_RELAY_BYTES_PER_S / 100 / FRAME);
	/* B's own budget is untouched by A's. */
	e->n_out = 0;
	frame_to(e, 1, frame, e->relay_id[0], T0 + 10);
	deliver(e, 1, frame, FRAME, T0 + 10);
	assert_int_equal(e->n_out, 1);
}

static void test_rdv_relay_frame_refused(void **state)
{
	struct env *e = *state;
	uint8_t frame[FRAME];

	join(e, 0, T0);
	/* B registers from a loopback address (a forged-looking source that
	 * authenticated anyway): it is never sent to. */
	sockaddr_fill(&e->ch[1].addr, "127.0.0.1", 2000);
	join(e, 1, T0);
	e->n_out = 0;
	frame_to(e, 0, frame, e->relay_id[1], T0);
	deliver(e, 0, frame, FRAME, T0);
	assert_int_equal(e->n_out, 0);
	assert_int_equal(e->core.drops[RDV_DROP_RELAY_ACL], 1);
	/* The other way round works: A's address is fine. */
	frame_to(e, 1, frame, e->relay_id[0], T0);
	deliver(e, 1, frame, FRAME, T0);
	assert_int_equal(e->n_out, 1);
	/* relay = no: nothing at all. */
	e->cfg.relay = false;
	frame_to(e, 1, frame, e->relay_id[0], T0);
	deliver(e, 1, frame, FRAME, T0);
	assert_int_equal(e->n_out, 1);
	assert_int_equal(e->core.drops[RDV_DROP_RELAY_OFF], 1);
	e->cfg.relay = true;
	/* After the sender's keys expired (180 s, no rekey): dropped. */
	frame_to(e, 1, frame, e->relay_id[0], T0);
	deliver(e, 1, frame, FRAME, T0 + 180000);
	assert_int_equal(e->n_out, 1);
	assert_int_equal(e->core.drops[RDV_DROP_RELAY_UNKNOWN_SRC], 1);
	assert_int_equal(rdv_core_expire(&e->core, T0 + 180000), 2);
	assert_int_equal(e->core.reg.n, 0);
}

/* Frames that do not carry A's own fresh tag, all arriving on A's channel
 * (a third host spoofing A's address, with ids read off the wire): each is
 * dropped before anything is charged or sent. */
static void test_rdv_relay_frame_forged(void **state)
{
	struct env *e = *state;
	uint8_t frame[FRAME], good[FRAME];
	struct rdv_channel stranger = e->ch[0];
	uint64_t auth = 0;

	join(e, 0, T0);
	join(e, 1, T0);
	e->n_out = 0;
	/* 1. A real frame passes, once; 2. its replay does not. */
	frame_to(e, 0, good, e->relay_id[1], T0);
	memcpy(frame, good, FRAME);
	deliver(e, 0, frame, FRAME, T0);
	assert_int_equal(e->n_out, 1);
	for (int i = 0; i < 3000; i++) {
		memcpy(frame, good, FRAME);
		deliver(e, 0, frame, FRAME, T0);
	}
	assert_int_equal(e->n_out, 1);
	assert_int_equal(e->core.drops[RDV_DROP_RELAY_AUTH], auth += 3000);
	/* 3. No tag at all, with A's receiver index and a fresh counter. */
	frame_to(e, 0, frame, e->relay_id[1], T0);
	memset(frame + RDV_RELAY_TAG_OFFSET, 0, WIRE_TAG_LEN);
	deliver(e, 0, frame, FRAME, T0);
	/* 4. A flipped tag bit, and a flipped datagram byte. */
	frame_to(e, 0, frame, e->relay_id[1], T0);
	frame[RDV_RELAY_TAG_OFFSET] ^= 1;
	deliver(e, 0, frame, FRAME, T0);
	frame_to(e, 0, frame, e->relay_id[1], T0);
	frame[FRAME - 1] ^= 1;
	deliver(e, 0, frame, FRAME, T0);
	/* 5. The id rewritten after tagging (to send A's frame elsewhere). */
	frame_to(e, 0, frame, e->relay_id[1], T0);
	frame[4] ^= 1;
	deliver(e, 0, frame, FRAME, T0);
	/* 6. Tagged on B's session (B's frame, or anyone's) but on A's channel. */
	frame_to(e, 1, frame, e->relay_id[0], T0);
	deliver(e, 0, frame, FRAME, T0);
	/* 7. An index nobody holds. */
	frame_to(e, 0, frame, e->relay_id[1], T0);
	frame[8] ^= 0x55;
	deliver(e, 0, frame, FRAME, T0);
	assert_int_equal(e->n_out, 1);
	assert_int_equal(e->core.drops[RDV_DROP_RELAY_AUTH], auth += 6);
	/* 8. A's real, fresh frame from an address that is not A's channel:
	 * the source binding refuses it before any crypto. */
	sockaddr_fill(&stranger.addr, "203.0.113.66", 1000);
	frame_to(e, 0, frame, e->relay_id[1], T0);
	rdv_core_receive(&e->core, &stranger, frame, FRAME, T0);
	assert_int_equal(e->n_out, 1);
	assert_int_equal(e->core.drops[RDV_DROP_RELAY_UNKNOWN_SRC], 1);
	/* None of the 3006 forged frames (3 MB) spent A's budget: the whole
	 * burst, less the one real frame, still passes in the same ms. */
	e->n_out = 0;
	for (int i = 0; i < RDV_RELAY_BURST_BYTES / FRAME; i++) {
		frame_to(e, 0, frame, e->relay_id[1], T0);
		deliver(e, 0, frame, FRAME, T0);
	}
	assert_int_equal(e->n_out, RDV_RELAY_BURST_BYTES / FRAME - 1);
	assert_int_equal(e->core.drops[RDV_DROP_RELAY_RATE], 1);
	assert_int_equal(e->core.drops[RDV_DROP_RELAY_AUTH], auth);
}

/* A rekey: frames tagged under the new keypair and, while it lives, under
 * the previous one both pass, each counter once. */
static void test_rdv_relay_frame_rekey(void **state)
{
	struct env *e = *state;
	uint8_t frame[FRAME], init[WIRE_INIT_LEN], old_frame[FRAME];
	struct sess_keypair *old;
	uint64_t t = T0 + 120000;

	join(e, 0, T0);
	join(e, 1, T0);
	/* A tags one frame under the old keypair, then rekeys. */
	frame_to(e, 0, old_frame, e->relay_id[1], t);
	old = sess_peer_send_keypair(&e->sim[0].sess, t);
	e->n_out = 0;
	/* The initiation's TAI64N stamp is the wall clock's, coarsened like
	 * WireGuard's: it must move on from the first handshake's. */
	usleep(50 * 1000);
	assert_int_equal(rdv_sim_initiation(&e->sim[0], init), 0);
	deliver(e, 0, init, sizeof(init), t);
	assert_int_equal(e->n_out, 1);
	assert_int_equal(rdv_sim_response(&e->sim[0], e->out[0].pkt, e->out[0].len, t), 0);
	assert_ptr_equal(e->sim[0].sess.previous, old);
	assert_ptr_not_equal(sess_peer_send_keypair(&e->sim[0].sess, t), old);
	/* The first frame on the new keys confirms them at the rendezvous
	 * (they waited as its next keypair), like a data packet would. */
	e->n_out = 0;
	frame_to(e, 0, frame, e->relay_id[1], t);
	deliver(e, 0, frame, FRAME, t);
	assert_int_equal(e->n_out, 1);
	assert_true(dest_accepts(e, 1, e->out[0].pkt, e->out[0].len, t));
	/* The frame of the old keypair, still in flight, passes. */
	deliver(e, 0, old_frame, FRAME, t);
	assert_int_equal(e->n_out, 2);
	/* ...and is not accepted twice. */
	frame_to(e, 0, frame, e->relay_id[1], t);
	memcpy(frame, old_frame, FRAME);
	deliver(e, 0, frame, FRAME, t);
	assert_int_equal(e->n_out, 2);
	assert_int_equal(e->core.drops[RDV_DROP_RELAY_AUTH], 1);
	/* Once the old keypair is 180 s old, its frames are refused. */
	assert_int_equal(rdv_relay_seal(old_frame, FRAME, e->relay_id[1], old, t), 0);
	deliver(e, 0, old_frame, FRAME, T0 + 180000);
	assert_int_equal(e->n_out, 2);
	assert_int_equal(e->core.drops[RDV_DROP_RELAY_AUTH], 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rdv_relay_addr_allowed),
	    cmocka_unit_test(test_rdv_bucket_take),
	    cmocka_unit_test_setup_teardown(test_rdv_relay_frame_rate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_relay_frame_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_relay_frame_forged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_relay_frame_rekey, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
