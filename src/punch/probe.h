/* Path probes: authenticated datagrams between two peers that test whether a
 * path works and measure it, before (and without) any Noise session. Both
 * peers derive the same probe key from their static keys, so only the peer
 * can make or read a probe, and a reply says from which address the request
 * came (the requester's reflexive address as the replier saw it).
 *
 * Key for a pair (static-static X25519, the public keys in sorted order so
 * that both sides hash the same bytes):
 *   K       = BLAKE2b-256("p2pvpn probe" || DH(s_priv, their s_pub) || min(pub) || max(pub))
 *   pair_id = BLAKE2b-256("p2pvpn pair id" || K)[0..8)
 * pair_id lets the receiver find the peer without trying every key and
 * without showing public keys on the wire; it is the same in both directions.
 *
 * Wire (92 bytes, little-endian, WIRE_PROBE in wire/wire.h):
 *   0      1       4             12           36                       76         92
 *   | type | 0 0 0 | pair_id (8) | nonce (24) | sealed payload (40)   | tag (16) |
 *   \____________ AD: the first 36 bytes ____/
 * sealed with XChaCha20-Poly1305-IETF under K, the nonce random per probe.
 *
 * Payload (40 bytes, plaintext before sealing):
 *   0      1       2     4           12                   20                      40
 *   | kind | flags | 0 0 | tx_id (8) | sender_time_ms (8) | observed (rdv_addr, 20) |
 * kind is enum probe_kind; flags are zero (none defined); tx_id is the
 * requester's transaction id, echoed in the reply; sender_time_ms is the
 * requester's clock, echoed so it can compute the RTT; observed is, in a
 * reply, the source address the request came from, and zero in a request.
 *
 * Replays. Probes carry no replay protection of their own (no counter,
 * and sender_time_ms is the requester's clock, not checked by the
 * replier), so an observer can replay any probe it saw, from any source
 * address. The defence is in the path engine (punch/engine.h, Evidence):
 * a reply counts only for a request of ours still outstanding (a few
 * seconds), from exactly the address that request went to, and only once;
 * a request teaches a new address only through our own triggered probe to
 * it, which must be answered from there. A replayed reply is thus
 * ignored; a replayed request draws at most one 92-byte reply and one
 * probe to its source, under the engine's reply rate limit and its cap on
 * unconfirmed peer-reflexive candidates, and moves no path. What replay
 * cannot be stopped from doing is confirming an address on which an
 * attacker forwards our probes to the real peer and its replies back; it
 * then carries only sealed packets it could drop anyway.
 */
#pragma once
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rdvproto/proto.h"

enum probe_kind {
	PROBE_REQUEST = 1,	   /* does this path work? answer with PROBE_REPLY */
	PROBE_REPLY = 2,	   /* answer to a request, from the address it reached */
	PROBE_HEARTBEAT = 3,	   /* liveness on the selected path */
	PROBE_HEARTBEAT_REPLY = 4, /* answer to a heartbeat */
};

enum {
	PROBE_KEY_LEN = 32,
	PROBE_PAIR_ID_LEN = 8,
	PROBE_NONCE_LEN = 24,
	PROBE_HEADER_LEN = 36, /* type, reserved, pair_id, nonce: the AD */
	PROBE_PAYLOAD_LEN = 40,
	PROBE_TAG_LEN = 16,
	PROBE_LEN = PROBE_HEADER_LEN + PROBE_PAYLOAD_LEN + PROBE_TAG_LEN, /* 92 */
};

/* The wire layout, read and written with memcpy (never cast onto a buffer). */
struct probe_wire_payload {
	uint8_t kind;
	uint8_t flags;
	uint8_t reserved[2];
	uint64_t tx_id;		 /* little-endian */
	uint64_t sender_time_ms; /* little-endian */
	struct rdv_addr observed;
} __attribute__((packed));

struct probe_wire {
	uint8_t type; /* WIRE_PROBE */
	uint8_t reserved[3];
	uint8_t pair_id[PROBE_PAIR_ID_LEN];
	uint8_t nonce[PROBE_NONCE_LEN];
	uint8_t sealed[PROBE_PAYLOAD_LEN];
	uint8_t tag[PROBE_TAG_LEN];
} __attribute__((packed));

static_assert(sizeof(struct probe_wire_payload) == PROBE_PAYLOAD_LEN, "probe payload is 40 bytes");
static_assert(sizeof(struct probe_wire) == PROBE_LEN, "probe is 92 bytes");

/* The probe key of one pair of peers. Secret: wipe with probe_key_cleanup. */
struct probe_key {
	uint8_t key[PROBE_KEY_LEN];
	uint8_t pair_id[PROBE_PAIR_ID_LEN];
};

/* A payload in host form. observed is ss_family 0 when absent (requests and
 * heartbeats), else AF_INET or AF_INET6 with the port set. */
struct probe_payload {
	enum probe_kind kind;
	uint64_t tx_id;
	uint64_t sender_time_ms;
	struct sockaddr_storage observed;
};

/* Derives the pair's probe key from our static key pair and the peer's
 * public key; both sides get the same key and pair_id. False (out wiped)
 * when the DH result is all zero (a low-order their_pub) or the keys are
 * equal. */
bool probe_key_derive(const uint8_t our_priv[32], const uint8_t our_pub[32],
		      const uint8_t their_pub[32], struct probe_key *out)
    __attribute__((warn_unused_result));
/* Wipes a probe key. */
void probe_key_cleanup(struct probe_key *k);

/* Seals payload under k with a random nonce into out; returns PROBE_LEN, or
 * 0 (out untouched) for a kind outside enum probe_kind or an observed
 * address that is neither absent, AF_INET nor AF_INET6 (encoded by
 * rdv_addr_from_sockaddr: a v4-mapped one as family 4). Needs sodium_init(). */
size_t probe_build(const struct probe_key *k, const struct probe_payload *payload,
		   uint8_t out[PROBE_LEN]);
/* The pair_id of a datagram that has a probe's exact length, type and zero
 * reserved bytes (no authentication yet: use it only to find the key). */
bool probe_pair_id(const uint8_t *pkt, size_t len, uint8_t pair_id[PROBE_PAIR_ID_LEN])
    __attribute__((warn_unused_result));
/* Verifies and opens a probe under k: header checks, pair_id == k's, the
 * AEAD tag, then the payload's fields (known kind, zero flags and reserved
 * bytes, a well-formed observed address as rdv_addr_to_sockaddr_opt takes
 * it, absent in requests and heartbeats). False on anything else, with out
 * untouched. */
bool probe_open(const struct probe_key *k, const uint8_t *pkt, size_t len,
		struct probe_payload *out) __attribute__((warn_unused_result));
