/* Feeds arbitrary bytes to the handshake's two receive paths. Each input is
 * tried as it is (stopped by length, header or mac1) and again with a valid
 * mac1 written over it, so mutations reach the Noise parsing and the DH/AEAD
 * checks behind mac1. Responses are tried against an initiator waiting on
 * the receiver index the input names. Peer state is copied per input, and
 * any state change after a refused message is a crash. Keys are fixed, so
 * seed files made with the same keys stay meaningful. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Same private keys as the seeds: initiator 0x01..., responder 0x02...
 * (corpus/handshake/initiation offers AES-256-GCM, initiation-chacha-only
 * nothing; the responses answer initiations of another run, so they are
 * shapes for the mutator, not answers this process can take). */
static struct hs_identity init_id, resp_id;
static struct hs_peer init_peer; /* at the initiator, for the responder, INIT_SENT */
static struct hs_peer resp_peer; /* at the responder, for the initiator */

static void setup(void)
{
	uint8_t k[32], ts[12] = {0x40};
	struct wire_init m;

	if (sodium_init() < 0)
		abort();
	memset(k, 1, sizeof(k));
	if (!hs_identity_init(&init_id, k))
		abort();
	memset(k, 2, sizeof(k));
	if (!hs_identity_init(&resp_id, k))
		abort();
	if (!hs_peer_init(&init_peer, &init_id, resp_id.s_pub, NULL) ||
	    !hs_peer_init(&resp_peer, &resp_id, init_id.s_pub, NULL))
		abort();
	/* Both offer AES-256-GCM, so every cipher rule is reachable. */
	init_peer.ciphers = resp_peer.ciphers = HS_CIPHER_BIT(WIRE_CIPHER_AES256GCM);
	if (hs_create_initiation(&init_id, &init_peer, 1, ts, &m) != 0)
		abort();
}

static void try_initiation(const uint8_t *msg, size_t len)
{
	struct hs_pending p;
	struct hs_peer peer = resp_peer;

	if (hs_consume_initiation(&resp_id, msg, len, &p) != 0) {
		if (!sodium_is_zero((const uint8_t *)&p, sizeof(p)))
			abort();
		return;
	}
	if (hs_accept_initiation(&peer, &p, 1000) == 0) {
		struct wire_resp r;

		if (peer.state != HS_STATE_INIT_CONSUMED || hs_create_response(&peer, 2, &r) != 0)
			abort();
	} else if (memcmp(&peer, &resp_peer, sizeof(peer)) != 0) {
		abort();
	}
	hs_peer_cleanup(&peer);
}

static void try_response(const uint8_t *msg, size_t len)
{
	struct hs_peer peer = init_peer, before;
	uint32_t idx;

	if (hs_response_receiver_index(msg, len, &idx))
		peer.local_index = idx;
	before = peer;
	if (hs_consume_response(&init_id, &peer, msg, len) == 0) {
		uint8_t s[32], r[32];
		bool initiator;

		if (peer.state != HS_STATE_RESP_CONSUMED ||
		    hs_peer_derive_keys(&peer, s, r, &initiator) != 0 || !initiator)
			abort();
	} else if (memcmp(&peer, &before, sizeof(peer)) != 0) {
		abort();
	}
	hs_peer_cleanup(&peer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static uint8_t buf[WIRE_INIT_LEN];

	if (!ready) {
		setup();
		ready = true;
	}
	try_initiation(data, size);
	try_response(data, size);
	/* Again behind a valid mac1, for the receiver each frame is meant for. */
	if (size == WIRE_INIT_LEN) {
		memcpy(buf, data, size);
		if (hs_mac1(resp_id.mac1_key, buf, offsetof(struct wire_init, mac1),
			    buf + offsetof(struct wire_init, mac1)) == 0)
			try_initiation(buf, size);
	} else if (size == WIRE_RESP_LEN) {
		memcpy(buf, data, size);
		if (hs_mac1(init_id.mac1_key, buf, offsetof(struct wire_resp, mac1),
			    buf + offsetof(struct wire_resp, mac1)) == 0)
			try_response(buf, size);
	}
	return 0;
}
