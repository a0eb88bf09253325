/* p2pvpnd's state: the interface (TUN, netlink, UDP socket, control socket)
 * and its peers. The daemon is the only glue between modules: it owns every
 * file descriptor and calls the I/O-free engines (handshake, session,
 * routing) with bytes and the current time. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "control/control.h"
#include "crypto/handshake.h"
#include "routing/allowedips.h"
#include "session/index.h"
#include "session/keypair.h"
#include "session/timers.h"
#include "transport/udp.h"
#include "tun/netlink.h"
#include "tun/tun.h"

enum {
	/* Room kept in front of every packet buffer for outer headers: data
	 * header (16) today, TCP length prefix and relay header later, and a
	 * virtio_net_hdr when TUN offloads arrive. */
	PKT_HEADROOM = 64,
	PKT_TAILROOM = 64, /* padding to 16 and the AEAD tag */
	PKT_SLOT = PKT_HEADROOM + TUN_PACKET_MAX + PKT_TAILROOM,
	PKT_BATCH = 32,	  /* datagrams moved per wake-up and direction */
	STAGED_MAX = 16,  /* packets held per peer while a handshake runs */
	INDEX_TABLE_MAX = 1 << 16,
};

/* Why a received datagram was dropped; one counter each (STYLE.md 5). */
enum drop_reason {
	DROP_MALFORMED,
	DROP_STUN_UNHANDLED,
	DROP_HANDSHAKE_INVALID,
	DROP_HANDSHAKE_UNKNOWN_KEY,
	DROP_HANDSHAKE_REPLAY,
	DROP_HANDSHAKE_FLOOD,
	DROP_DATA_UNKNOWN_INDEX,
	DROP_DATA_INVALID,
	DROP_DATA_REPLAY,
	DROP_DATA_EXPIRED,
	DROP_INNER_MALFORMED,
	DROP_INNER_SOURCE,
	DROP_NO_ROUTE,
	DROP_NO_ENDPOINT,
	DROP_REASON_MAX,
};

struct peer {
	char name[CFG_NAME_MAX];
	struct cfg_peer cfg; /* own copy; cfg.allowed_ips is owned by the peer */
	struct hs_peer hs;
	struct sess_peer sess;
	struct sess_timers timers;
	uint32_t hs_index; /* index of our outstanding initiation, 0 if none */
	bool has_endpoint;
	struct sockaddr_storage endpoint;
	uint64_t init_sent_ms;	     /* when the outstanding initiation left */
	uint64_t last_handshake_ms;  /* 0: never */
	uint64_t rtt_us;	     /* last handshake round trip; 0 unknown */
	uint64_t rx_bytes, tx_bytes; /* UDP payload bytes, as wg counts */
	/* Packets read from the TUN while no session can send: a fixed ring
	 * allocated with the peer, so staging never allocates. */
	uint8_t *staged;
	uint16_t staged_len[STAGED_MAX];
	unsigned staged_head, staged_count;
};

struct daemon {
	const char *config_path;
	struct cfg_daemon cfg;
	struct hs_identity id;
	struct tun_dev tun;
	struct nl_sock nl;
	struct udp_sock udp;
	struct ctl_server ctl;
	int epfd, sigfd;
	bool running;
	uint64_t watchdog_ms, last_watchdog_ms;

	struct peer **peers;
	size_t n_peers;
	struct rt_table rt;
	struct sess_index_table index;

	uint8_t *rxbuf, *txbuf; /* PKT_BATCH slots of PKT_SLOT bytes each */
	struct udp_msg rx[PKT_BATCH], tx[PKT_BATCH];
	unsigned n_tx;
	uint64_t drops[DROP_REASON_MAX];
};

/* Interface set-up from d->cfg: TUN, addresses, MTU, link up, UDP and control
 * sockets, peers and routes. 0, or -errno with everything undone. */
int daemon_start(struct daemon *d);
/* Runs the event loop until SIGTERM/SIGINT; 0 on a clean stop. */
int daemon_run(struct daemon *d);
/* Removes peers, routes, addresses and the interface; closes every socket. */
void daemon_stop(struct daemon *d);

/* peer.c */
struct peer *peer_new(struct daemon *d, const struct cfg_peer *cfg);
void peer_free(struct daemon *d, struct peer *p);
int peer_add_routes(struct daemon *d, struct peer *p);
void peer_remove_routes(struct daemon *d, struct peer *p);
struct peer *peer_by_key(struct daemon *d, const uint8_t pub[32]);
void peer_send_initiation(struct daemon *d, struct peer *p, uint64_t now, bool retry);
void peer_send_keepalive(struct daemon *d, struct peer *p, uint64_t now);
void peer_stage(struct peer *p, const uint8_t *pkt, size_t len);
void peer_flush_staged(struct daemon *d, struct peer *p, uint64_t now);
void peer_run_timers(struct daemon *d, struct peer *p, uint64_t now);
const char *peer_state(const struct peer *p, uint64_t now);

/* handshake glue (peer.c) */
void handle_initiation(struct daemon *d, struct udp_msg *m, uint64_t now);
void handle_response(struct daemon *d, struct udp_msg *m, uint64_t now);

/* datapath.c */
void datapath_tun_readable(struct daemon *d);
void datapath_udp_readable(struct daemon *d);
/* Queues an encrypted packet for the next batch send. */
void datapath_queue(struct daemon *d, uint8_t *pkt, size_t len, const struct sockaddr_storage *to);
void datapath_flush(struct daemon *d);
/* Encrypts inner (with PKT_HEADROOM/PKT_TAILROOM around it) for p and sends
 * or stages it; starts a handshake when needed. */
void datapath_send_inner(struct daemon *d, struct peer *p, uint8_t *inner, size_t len,
			 uint64_t now);
void drop(struct daemon *d, enum drop_reason why, const struct sockaddr_storage *from);
const char *drop_reason_str(enum drop_reason why);

/* reload.c */
/* Re-reads the config; on any error logs it and keeps the running one. */
void daemon_reload(struct daemon *d);
int daemon_apply_addresses(struct daemon *d, const struct cfg_daemon *old, const struct cfg_daemon *new);

/* show.c */
int daemon_control(void *ctx, const struct ctl_request *req, FILE *reply);

/* Formats an address for logs ("198.51.100.7:51820"). */
const char *addr_str(const struct sockaddr_storage *ss);
