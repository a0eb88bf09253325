/* The p2pvpn handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b with prologue
 * "p2pvpn v2", framed as wire/wire.h's wire_init (149 bytes) and wire_resp
 * (93 bytes), with WireGuard's mac1 and TAI64N replay protection. The
 * encrypted payloads also agree the data cipher: the initiation carries the
 * ciphers the initiator offers besides ChaCha20-Poly1305 (hs_peer.ciphers),
 * the response the one the responder chose (AES-256-GCM when both offer it),
 * so the choice is authenticated like the rest and a third party cannot
 * change it.
 *
 * Initiator:  hs_create_initiation -> send -> hs_consume_response ->
 *             hs_peer_derive_keys.
 * Responder:  hs_consume_initiation (learns the initiator's static key) ->
 *             caller looks the key up -> hs_accept_initiation ->
 *             hs_create_response -> send -> hs_peer_derive_keys.
 * A message that fails any check gets no answer and changes no peer state.
 * No I/O here except hs_tai64n_now reading the wall clock. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/noise.h"
#include "wire/wire.h"

#define HS_PROTOCOL_NAME "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b"
#define HS_PROLOGUE "p2pvpn v2" /* v2: the data cipher agreed in the payloads */

enum {
	HS_KEY_LEN = 32,
	HS_TAI64N_LEN = 12,
	HS_INITIATIONS_PER_SECOND = 50,
	HS_MIN_INITIATION_INTERVAL_MS = 1000 / HS_INITIATIONS_PER_SECOND,
};

/* Where a peer's handshake stands (WireGuard's noise_handshake_state). */
enum hs_state {
	HS_STATE_NONE = 0,
	HS_STATE_INIT_SENT,	/* initiator: waiting for the response */
	HS_STATE_INIT_CONSUMED, /* responder: initiation accepted, response not yet made */
	HS_STATE_RESP_SENT,	/* responder: complete, keys ready */
	HS_STATE_RESP_CONSUMED, /* initiator: complete, keys ready */
};

/* A data cipher's bit in hs_peer.ciphers and the initiation's offer. */
#define HS_CIPHER_BIT(c) (1u << (c))
/* The offers this version knows (ChaCha20-Poly1305 is implied, never a bit). */
#define HS_CIPHERS_KNOWN HS_CIPHER_BIT(WIRE_CIPHER_AES256GCM)

/* Our own static key pair and the mac1 key others use to reach us. */
struct hs_identity {
	uint8_t s_priv[HS_KEY_LEN];
	uint8_t s_pub[HS_KEY_LEN];
	uint8_t mac1_key[HS_KEY_LEN]; /* BLAKE2b-256("mac1----" || s_pub) */
};

/* One remote peer's handshake state. */
struct hs_peer {
	uint8_t rs_pub[HS_KEY_LEN];
	uint8_t psk[HS_KEY_LEN];
	uint8_t mac1_key[HS_KEY_LEN];	       /* BLAKE2b-256("mac1----" || rs_pub) */
	uint8_t last_timestamp[HS_TAI64N_LEN]; /* greatest accepted TAI64N */
	uint64_t last_init_ms;		       /* when that initiation was accepted */
	bool has_last_init;
	enum hs_state state;
	uint32_t local_index;  /* our index for this handshake (we receive on it) */
	uint32_t remote_index; /* the peer's index (we send to it) */
	/* Set by the caller: the data ciphers (HS_CIPHER_BIT) we offer and
	 * accept with this peer besides ChaCha20-Poly1305; 0 after hs_peer_init. */
	uint8_t ciphers;
	uint8_t offered;	 /* initiator: what our initiation offered; responder: theirs */
	enum wire_cipher cipher; /* agreed; valid from RESP_SENT / RESP_CONSUMED */
	struct noise_handshake noise;
};

/* An initiation that authenticated but is not yet bound to a peer. */
struct hs_pending {
	uint8_t rs_pub[HS_KEY_LEN];	  /* the initiator's static public key */
	uint8_t timestamp[HS_TAI64N_LEN]; /* its TAI64N */
	uint32_t sender_index;		  /* its index (host order) */
	uint8_t offered;		  /* its data cipher offers, known bits only */
	struct noise_handshake noise;
};

/* Loads our static private key; false (identity wiped) when it gives no
 * usable public key. */
bool hs_identity_init(struct hs_identity *id, const uint8_t priv[HS_KEY_LEN])
    __attribute__((warn_unused_result));
/* Wipes the identity. */
void hs_identity_cleanup(struct hs_identity *id);

/* Prepares a peer with static key rs_pub and psk (NULL = all zero). False for
 * a low-order rs_pub or for our own public key. */
bool hs_peer_init(struct hs_peer *peer, const struct hs_identity *id,
		  const uint8_t rs_pub[HS_KEY_LEN], const uint8_t psk[HS_KEY_LEN])
    __attribute__((warn_unused_result));
/* Forgets any handshake in progress (keys, indices); timestamps are kept so
 * a replay stays a replay. */
void hs_peer_reset(struct hs_peer *peer);
/* Wipes everything in peer. */
void hs_peer_cleanup(struct hs_peer *peer);

/* The current time as TAI64N (2^62 + UNIX seconds, nanoseconds rounded down
 * to a multiple of 2^24 so the timestamp does not leak a precise clock). */
void hs_tai64n_now(uint8_t out[HS_TAI64N_LEN]);

/* Builds an initiation to peer with our index local_index and timestamp
 * tai64n. On success the peer is in HS_STATE_INIT_SENT (any earlier handshake
 * is replaced); on error the peer is unchanged. */
int hs_create_initiation(const struct hs_identity *id, struct hs_peer *peer, uint32_t local_index,
			 const uint8_t tai64n[HS_TAI64N_LEN], struct wire_init *out);
/* Checks a received initiation: exact length, type, zero reserved bytes, mac1
 * (before any DH), then the Noise message. On 0, p holds the initiator's
 * static key for the caller to look up; -EBADMSG / -EKEYREJECTED otherwise
 * (p wiped). Call hs_pending_cleanup on p when dropping it. */
int hs_consume_initiation(const struct hs_identity *id, const uint8_t *msg, size_t len,
			  struct hs_pending *p);
/* Binds a consumed initiation to the peer that owns p->rs_pub. Rejects a
 * different key (-ENOKEY), a timestamp not greater than the last accepted one
 * (-EALREADY, replay), and a second initiation within
 * HS_MIN_INITIATION_INTERVAL_MS of the last accepted one (-EBUSY, flood);
 * the peer changes only on 0 (then HS_STATE_INIT_CONSUMED). p is wiped either
 * way. An initiator whose wall clock went back is refused until its clock
 * passes the last accepted timestamp; keep the peer (not a fresh one) across
 * reloads so that replays stay refused. */
int hs_accept_initiation(struct hs_peer *peer, struct hs_pending *p, uint64_t now_ms);
/* Wipes a pending initiation that will not be accepted. */
void hs_pending_cleanup(struct hs_pending *p);
/* Builds the response to an accepted initiation with our index local_index
 * and the cipher chosen on accepting (the best both offered: peer->cipher);
 * peer goes to HS_STATE_RESP_SENT (keys ready). -EINVAL without an accepted
 * initiation; the peer is unchanged on error. */
int hs_create_response(struct hs_peer *peer, uint32_t local_index, struct wire_resp *out);
/* Checks a received response against peer: exact length, type, reserved
 * bytes, mac1 (first), receiver index == peer->local_index with an initiation
 * outstanding, then the Noise message, whose cipher must be ChaCha20-Poly1305
 * or one our initiation offered (-EPROTO). 0 puts the peer in
 * HS_STATE_RESP_CONSUMED with peer->cipher set; any error changes nothing. */
int hs_consume_response(const struct hs_identity *id, struct hs_peer *peer, const uint8_t *msg,
			size_t len);
/* After a complete handshake (RESP_SENT or RESP_CONSUMED): the transport keys
 * (the initiator sends with the first Split key) and our role (the agreed
 * data cipher is peer->cipher, which stays until the next handshake); the handshake
 * state is wiped and the peer returns to HS_STATE_NONE. -EINVAL otherwise. */
int hs_peer_derive_keys(struct hs_peer *peer, uint8_t send_key[HS_KEY_LEN],
			uint8_t recv_key[HS_KEY_LEN], bool *initiator);

/* The receiver index of a response-sized message (host order), so the caller
 * can find the peer before hs_consume_response; false on a wrong length/type. */
bool hs_response_receiver_index(const uint8_t *msg, size_t len, uint32_t *index)
    __attribute__((warn_unused_result));
/* mac1 = BLAKE2b-128(key, msg[0..len)) as placed in both handshake messages.
 * 0, or -EIO when libsodium fails (out is then zeroed, which never verifies
 * as a sender's mac1 by chance only). */
int hs_mac1(const uint8_t key[HS_KEY_LEN], const uint8_t *msg, size_t len,
	    uint8_t out[WIRE_MAC_LEN]) __attribute__((warn_unused_result));
/* mac1 key for a receiver: BLAKE2b-256("mac1----" || pub); 0 or -EIO. */
int hs_mac1_key(const uint8_t pub[HS_KEY_LEN], uint8_t out[HS_KEY_LEN])
    __attribute__((warn_unused_result));
