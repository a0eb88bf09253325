/* The rendezvous's protocol engine, without sockets: the identity, the
 * registry, what the config admits, counters, and one dispatch table from
 * wire type to handler (handshake initiation and data in signal.c, relay
 * frames in relay.c). The server (server.c) feeds it datagrams and frames
 * with the channel they came over, and it answers through the send
 * callback. Every handler checks before it changes anything: a packet that
 * does not authenticate gets no answer and leaves no trace but a counter. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/rendezvous.h"
#include "crypto/handshake.h"
#include "crypto/hsgate.h"
#include "rendezvous/registry.h"
#include "util/addr.h"
#include "util/log.h"

/* Why a packet was dropped: one counter and one name each. */
enum rdv_drop {
	RDV_DROP_MALFORMED = 0,	    /* bad header, unknown or unexpected type */
	RDV_DROP_HANDSHAKE_INVALID, /* initiation failed mac1 or the Noise checks */
	RDV_DROP_UNKNOWN_KEY,	    /* authenticated, but not admitted */
	RDV_DROP_REGISTRY_FULL,	    /* admitted, but no room (cap or pending cap) */
	RDV_DROP_REPLAY,	    /* initiation timestamp not newer */
	RDV_DROP_FLOOD,		    /* initiations faster than 50/s for one key */
	RDV_DROP_DATA_INVALID,	    /* unknown index, failed tag, replayed counter, old key */
	RDV_DROP_DATA_SIZE,	    /* larger than any signalling message */
	RDV_DROP_SIGNAL_MALFORMED,  /* authenticated, but not a valid message */
	RDV_DROP_NOT_REGISTERED,    /* CONNECT or relay before REGISTER */
	RDV_DROP_CONNECT_RATE,	    /* CONNECTs over the per-peer rate */
	RDV_DROP_RELAY_OFF,	    /* relay = no */
	RDV_DROP_RELAY_UNKNOWN_SRC, /* not from a registered peer's channel */
	RDV_DROP_RELAY_UNKNOWN_DST, /* no such relay id, or the sender itself */
	RDV_DROP_RELAY_UNREACHABLE, /* destination without a live session or channel */
	RDV_DROP_RELAY_INNER,	    /* inner datagram not p2pvpn, or a relay frame */
	RDV_DROP_RELAY_ACL,	    /* destination address refused (loopback, multicast…) */
	RDV_DROP_RELAY_RATE,	    /* over the sender's byte rate */
	RDV_DROP_SEND_FAILED,	    /* our answer could not be built or sent */
	RDV_DROP_HANDSHAKE_NO_MAC2, /* under load without a valid mac2: cookie reply instead */
	RDV_DROP_HANDSHAKE_RATE,    /* over the source's bucket or the wake-up's DH budget */
	RDV_DROP_RELAY_AUTH,	    /* relay frame: index not the sender's, bad tag, replayed */
	RDV_DROP_MAX,
};

enum {
	RDV_CONNECT_PER_S = 10, /* CONNECTs per peer per second, and the burst */
	RDV_RELAY_BYTES_PER_S = 10 * 1000 * 1000,
	RDV_RELAY_BURST_BYTES = 1000 * 1000,
	/* The largest data packet a peer sends us: a padded REGISTER with
	 * RDV_MAX_HOST candidates and the data framing. */
	RDV_SIGNAL_PKT_MAX = 256,
	RDV_MAX_OWN_ADDRS = 2,
	/* The handshake flood gate (crypto/hsgate.h) with a meeting point's
	 * figures: 100,000 peers rekeying every two minutes make ~830
	 * handshakes a second, so load starts above that; 32 DH per wake-up
	 * is ~3 ms of work between two returns to epoll. */
	RDV_HS_LOAD_PER_SECOND = 2048,
	RDV_HS_BUDGET_PER_WAKE = 32,
};

struct rdv_core;

/* Sends pkt (len bytes) on ch; the buffer may be changed. The server's. */
typedef void (*rdv_core_send_fn)(void *ctx, const struct rdv_channel *ch, uint8_t *pkt, size_t len);

struct rdv_core {
	struct hs_identity id;
	struct rdv_registry reg;
	const struct cfg_rendezvous *cfg; /* admission: open, relay, [peer] keys */
	/* Relay destinations never get these (SECURITY-NOTES item 25). */
	struct sockaddr_storage own[RDV_MAX_OWN_ADDRS];
	size_t n_own;
	bool allow_loopback; /* tests on 127.0.0.1 only */
	rdv_core_send_fn send;
	void *send_ctx;
	uint64_t drops[RDV_DROP_MAX];
	uint64_t handshakes, registrations, introductions, relayed, relayed_bytes;
	uint64_t candidates_refused; /* REGISTER host candidates failing util/addr.h */
	struct log_ratelimit rl;     /* per-packet debug lines */
	/* Initiations pass it before any DH (signal.c); cookie replies go out
	 * through send like every answer. */
	struct hsgate gate;
	bool load_logged; /* "under load" was logged, "over" not yet */
};

/* Loads the identity from cfg (kept by pointer: it must outlive the core
 * until the next rdv_core_set_config) and sizes the registry; 0 or -errno. */
int rdv_core_init(struct rdv_core *c, const struct cfg_rendezvous *cfg, size_t max_peers,
		  rdv_core_send_fn send, void *send_ctx);
/* Frees the registry and wipes the identity. */
void rdv_core_cleanup(struct rdv_core *c);
/* A reloaded config: entries whose key is no longer admitted are dropped,
 * the others are renamed; relay and open follow the new file. The private
 * key and addresses are not changed here. */
void rdv_core_set_config(struct rdv_core *c, const struct cfg_rendezvous *cfg);
/* Handles one datagram or TCP frame (not STUN) received on ch. */
void rdv_core_receive(struct rdv_core *c, const struct rdv_channel *ch, uint8_t *pkt, size_t len,
		      uint64_t now_ms);
/* A new wake-up of the server's event loop: the gate's DH budget is full
 * again. */
void rdv_core_wake(struct rdv_core *c);
/* One log line with the counters (handshakes, registrations, the gate's). */
void rdv_core_log_stats(const struct rdv_core *c, const char *when);
/* Drops dead sessions (call about once a second); returns how many. */
size_t rdv_core_expire(struct rdv_core *c, uint64_t now_ms);
/* A TCP connection closed: whoever used it has no channel now. */
void rdv_core_conn_closed(struct rdv_core *c, void *conn);

/* Counts a drop and writes a rate-limited debug line naming ch. */
void rdv_core_drop(struct rdv_core *c, enum rdv_drop why, const struct rdv_channel *ch,
		   uint64_t now_ms);
/* The drop reason's name, for logs. */
const char *rdv_drop_name(enum rdv_drop why);
/* The text of a channel, returned by value so that two in one log line
 * stay apart (no shared static buffer). */
struct rdv_channel_text {
	char s[ADDR_STRLEN + 8];
};
/* "IP:PORT", "tcp IP:PORT" or "no channel" (logs only: rdv_channel_str(ch).s). */
struct rdv_channel_text rdv_channel_str(const struct rdv_channel *ch);
