/* The peer's side of the rendezvous protocol in its simplest form, without
 * I/O: one static key, a handshake as initiator, a session, and sealing and
 * opening of signalling messages. p2pvpnd has the real client (daemon/
 * rdv.c); this one drives the server in tests and in tools/rdv-load, where
 * thousands of them run in one process. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cookie.h"
#include "crypto/handshake.h"
#include "session/keypair.h"

struct rdv_sim {
	struct hs_identity id;
	struct hs_peer hs; /* the rendezvous, as this peer's remote */
	struct sess_peer sess;
	uint32_t hs_index;
	struct cookie_maker cookie; /* mac2 once the rendezvous sent a cookie */
};

/* A peer with private key priv (NULL: a new random one) talking to the
 * rendezvous whose public key is server_pub: 0, or -EINVAL. */
int rdv_sim_init(struct rdv_sim *sim, const uint8_t priv[32], const uint8_t server_pub[32]);
/* Wipes every key. */
void rdv_sim_cleanup(struct rdv_sim *sim);
/* Builds a handshake initiation (WIRE_INIT_LEN bytes) into out: 0 or -errno. */
int rdv_sim_initiation(struct rdv_sim *sim, uint8_t out[WIRE_INIT_LEN]);
/* A cookie reply to our last initiation (the rendezvous was under load):
 * 0 when accepted, and the next initiations carry its mac2 (the sim does
 * not age the cookie); -errno as cookie_reply_consume. */
int rdv_sim_cookie(struct rdv_sim *sim, const uint8_t *msg, size_t len, uint64_t now_ms);
/* Consumes the rendezvous's response and installs the session: 0 or -errno. */
int rdv_sim_response(struct rdv_sim *sim, const uint8_t *msg, size_t len, uint64_t now_ms);
/* Seals msg (len 0: keepalive) as a data packet into out (cap bytes): 0 with
 * *out_len, or -errno (no session, too small a buffer). */
int rdv_sim_seal(struct rdv_sim *sim, const uint8_t *msg, size_t len, uint8_t *out, size_t cap,
		 size_t *out_len, uint64_t now_ms);
/* Opens a data packet in place: 0 with the padded plaintext, or -errno. */
int rdv_sim_open(struct rdv_sim *sim, uint8_t *pkt, size_t len, uint64_t now_ms, uint8_t **inner,
		 size_t *inner_len);
