/* p2pvpnd's state: the interface (TUN, netlink, UDP socket, control socket)
 * and its peers. The daemon is the only glue between modules: it owns every
 * file descriptor and calls the I/O-free engines (handshake, session,
 * routing) with bytes and the current time. The functions of each file of
 * src/daemon are declared in its own header (device.h for device.c, ...). */
#pragma once
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "control/control.h"
#include "crypto/cookie.h"
#include "crypto/handshake.h"
#include "crypto/hsgate.h"
#include "daemon/iface.h"
#include "daemon/portmap.h"
#include "punch/engine.h"
#include "punch/probe.h"
#include "rdvclient/engine.h"
#include "routing/allowedips.h"
#include "session/index.h"
#include "session/keypair.h"
#include "session/timers.h"
#include "transport/udp.h"
#include "tun/gro.h"
#include "tun/netlink.h"
#include "tun/tun.h"

enum {
	/* Room kept in front of every packet buffer for outer headers: data
	 * header (16) today, TCP length prefix and relay header later, and a
	 * virtio_net_hdr when TUN offloads arrive. */
	PKT_HEADROOM = 64,
	PKT_TAILROOM = 64, /* padding to 16 and the AEAD tag */
	PKT_SLOT = PKT_HEADROOM + TUN_PACKET_MAX + PKT_TAILROOM,
	RX_BATCH = 32, /* messages per recvmmsg (with GRO, each up to 64 KiB) */
	TX_BATCH = 64, /* datagrams per sendmmsg: UDP_BATCH_MAX, GSO runs up to that */
	TUN_FRAMES_PER_WAKE = 16, /* TUN reads per wake-up with a vnet header (super-packets) */
	STAGED_MAX = 16,  /* packets held per peer while a handshake runs */
	INDEX_TABLE_MAX = 1 << 16,
	UDP_BATCHES_PER_WAKE = 4, /* then back to epoll (level-triggered) */
};
/* Every configured peer (and the rendezvous sessions, with room to spare)
 * can hold its 4 indexes at once: the table never fills. */
static_assert((int)TX_BATCH <= (int)UDP_BATCH_MAX, "one sendmmsg takes the whole tx batch");
static_assert(4 * ((int)CFG_MAX_PEERS + 16) <= (int)INDEX_TABLE_MAX,
	      "the receiver index table holds every peer's indexes");

/* Why a received datagram was dropped; one counter each (STYLE.md 5). */
enum drop_reason {
	DROP_MALFORMED,
	DROP_STUN_UNHANDLED,
	DROP_HANDSHAKE_INVALID,
	DROP_HANDSHAKE_UNKNOWN_KEY,
	DROP_HANDSHAKE_REPLAY,
	DROP_HANDSHAKE_FLOOD,
	DROP_HANDSHAKE_CROSSED, /* their initiation crossed ours on one path: ours is kept */
	DROP_DATA_UNKNOWN_INDEX,
	DROP_DATA_INVALID,
	DROP_DATA_REPLAY,
	DROP_DATA_EXPIRED,
	DROP_INNER_MALFORMED,
	DROP_INNER_SOURCE,
	DROP_NO_ROUTE,
	DROP_NO_ENDPOINT,
	DROP_ROUTING_LOOP, /* our own datagram to a peer came back out of the TUN (loop.c) */
	DROP_PROBE_INVALID,
	DROP_HANDSHAKE_RATELIMITED, /* per-source bucket or per-wake-up budget */
	DROP_HANDSHAKE_NO_MAC2,	    /* under load without a valid mac2: cookie instead */
	DROP_COOKIE_INVALID,	    /* cookie reply unrequested, wrong index or bad tag */
	DROP_RELAY_INVALID,	    /* relay frame not from the rendezvous, untagged, bad tag, replayed */
	DROP_REASON_MAX,
};

/* How a datagram reaches a peer (or came from it). */
enum path_kind { PATH_NONE = 0, PATH_UDP, PATH_TCP, PATH_RELAY };

struct tcp_conn;

struct path {
	enum path_kind kind;
	struct sockaddr_storage addr; /* UDP: the remote address; TCP: the connection's remote */
	struct tcp_conn *conn;	      /* TCP: the stream */
	uint32_t relay_id;	      /* RELAY: the other peer's id at the rendezvous */
};

/* A received datagram. Handlers may change its bytes (decryption is in
 * place) but nothing in front of them: with UDP GRO the bytes before one
 * datagram are the end of the previous one, whose decrypted packet may wait
 * in the merging table until the batch ends. */
struct rx_pkt {
	uint8_t *data;
	size_t len;
	struct path from;
};

struct peer {
	char name[CFG_NAME_MAX];
	struct cfg_peer cfg; /* own copy; cfg.allowed_ips is owned by the peer */
	struct hs_peer hs;
	struct sess_peer sess;
	/* AES-256-GCM's expanded keys for sess's three keypairs (sess.aes). */
	struct sess_aes sess_aes[3];
	struct sess_timers timers;
	uint32_t hs_index; /* index of our outstanding initiation, 0 if none */
	bool is_rendezvous; /* the meeting point: carries signalling, not IP */
	struct path path;   /* where packets to the peer go; kind NONE: unknown */
	uint64_t init_sent_ms;	     /* when the outstanding initiation left */
	uint64_t init_sent_ns;	     /* the same, finer, for the handshake RTT */
	uint64_t last_handshake_ms;  /* 0: never */
	uint64_t rtt_us;	     /* last handshake round trip; 0 unknown */
	uint64_t rx_bytes, tx_bytes; /* UDP payload bytes, as wg counts */
	uint64_t connect_sent_ms;    /* last CONNECT to the rendezvous about this peer */
	uint32_t relay_id;	     /* the peer's id at the rendezvous, 0 unknown */
	uint64_t path_since_ms;
	struct punch_peer punch;     /* the path engine's state for this peer */
	struct probe_key pkey;	     /* authenticates path probes with this peer */
	struct cookie_maker cookie;  /* mac2 for our handshakes to this peer (lazy) */
	uint64_t loop_warned_ms;     /* last warning that its endpoint loops (loop.c) */
	uint64_t loop_unwarned;	     /* looped datagrams dropped since that warning */
	/* Packets read from the TUN while no session can send: a fixed ring
	 * allocated with the peer, so staging never allocates. */
	uint8_t *staged;
	size_t staged_slot; /* bytes per slot: headroom + MTU + tailroom */
	uint16_t staged_len[STAGED_MAX];
	unsigned staged_head, staged_count;
};

enum { TCP_SLOTS_MAX = 64, EV_TCP_LISTEN = 5, EV_TCP_BASE = 100 };

/* A TCP stream (tcpmux.c): connecting (fd >= 0, no conn) or established. */
struct tcp_slot {
	struct tcp_conn *conn;
	int fd;
	struct peer *owner; /* NULL: accepted, nothing authenticated on it yet */
	bool is_rdv;
	struct sockaddr_storage to;
	uint64_t started_ms;
	uint64_t wfull_ms; /* the out ring refused a datagram and has not drained since; 0: not */
};

/* The rendezvous client's state (rdv.c): the engine's (rdvclient/engine.h). */
struct rdv_client {
	struct rdvc_engine eng;
};

struct daemon {
	const char *config_path;
	struct cfg_daemon cfg;
	struct hs_identity id;
	struct tun_dev tun;
	struct nl_sock nl;   /* iface.c's (and rdv.c's host addresses); closed without a kernel TUN */
	struct iface iface; /* what the interface was asked for (iface.c) */
	struct udp_sock udp;
	struct ctl_server ctl;
	int epfd, sigfd;
	bool running;
	uint64_t watchdog_ms, last_watchdog_ms;

	struct peer **peers;
	size_t n_peers;
	struct peer *rdv; /* the first configured rendezvous, or NULL */
	struct rdv_client rc;
	struct portmap pm; /* the gateway's mapping of listen_port (portmap.c) */
	int tcp_listen_fd;
	struct tcp_slot tcp[TCP_SLOTS_MAX];
	/* tcpmux.c's counters, logged at stop: accepted streams; refused at
	 * accept (the source IP's cap, or no slot a newcomer may take); evicted
	 * unauthenticated streams; closed for no authenticated packet in time,
	 * or for not reading what we send. */
	uint64_t tcp_accepted, tcp_refused_ip, tcp_refused, tcp_evicted, tcp_closed_unauth,
	    tcp_closed_wfull;
	struct rt_table rt;
	struct sess_index_table index;

	uint8_t *rxbuf; /* RX_BATCH slots of PKT_SLOT bytes, one per rx[i] */
	struct udp_msg rx[RX_BATCH];
	/* The tx batch (send.c): entry i owns slot i of txbuf; tx[0..n_tx)
	 * wait for the next send_flush. */
	uint8_t *txbuf;
	struct udp_msg tx[TX_BATCH];
	unsigned n_tx;
	/* Frames read from the TUN (a super-packet with offloads) before they
	 * are cut into tx slots; PKT_SLOT bytes. */
	uint8_t *tun_buf;
	/* Decrypted packets held while a UDP batch is handled, merged into
	 * super-packets for the TUN when it ends (offload.c). */
	struct tun_gro gro;
	unsigned gro_flags;	 /* TUN_GRO_* in use */
	bool rx_batch_open;	 /* in a UDP batch: data goes to gro */
	bool tun_merge_refused;	 /* the kernel refused a merged write: no more merging */
	unsigned udp_probe_failed; /* UDP_OFFLOAD_* bits the start-up probe saw fail */
	uint64_t offload_fallbacks; /* offloads turned off after a refusal (TUN) */
	/* Data ciphers offered to peers besides ChaCha20-Poly1305
	 * (HS_CIPHER_BIT; AES-256-GCM where this CPU has AES-NI). */
	uint8_t data_ciphers;
	uint64_t drops[DROP_REASON_MAX];
	uint64_t staged_dropped; /* inner packets staged and never sent (no room, gave up) */

	/* Handshake flood defence (crypto/hsgate.h, glue in hsgate.c), set up
	 * on first use with the defaults: 64 handshakes/s or a spent budget of
	 * 16 DH per wake-up put the daemon under load for 1 s. */
	bool hs_gate_ready;
	struct hsgate gate;
};
