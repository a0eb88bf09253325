/* p2pvpnd's state: the interface (TUN, netlink, UDP socket, control socket)
 * and its peers. The daemon is the only glue between modules: it owns every
 * file descriptor and calls the I/O-free engines (handshake, session,
 * routing) with bytes and the current time. */
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
	uint64_t drops[DROP_REASON_MAX];
	uint64_t staged_dropped; /* inner packets staged and never sent (no room, gave up) */

	/* Handshake flood defence (crypto/hsgate.h, glue in hsgate.c), set up
	 * on first use with the defaults: 64 handshakes/s or a spent budget of
	 * 16 DH per wake-up put the daemon under load for 1 s. */
	bool hs_gate_ready;
	struct hsgate gate;
};

/* device.c */
/* What a daemon uses instead of the kernel's devices (in-process tests). */
struct daemon_io {
	/* A TUN device the caller opened (any tun_ops, fd pollable for
	 * EPOLLIN), NULL: the kernel TUN cfg.ifname. One without a kernel
	 * interface (ifindex 0) gets no netlink: MTU, addresses, link state
	 * and routes are only recorded (d->iface). */
	const struct tun_dev *tun;
	/* A UDP socket the caller opened (a fake backend or a real socket),
	 * NULL: udp_open(cfg.listen_port). */
	const struct udp_sock *udp;
	/* No signalfd and no change to the signal mask: the caller stops the
	 * daemon, and several may run in one process. */
	bool no_signals;
};
/* Interface set-up from d->cfg (d zeroed but for cfg and config_path): TUN,
 * MTU, addresses, link up, UDP socket, peers and routes, control socket,
 * event loop and signals, TCP listener; then a handshake to every peer
 * with an endpoint. 0, or -errno with everything undone. */
int daemon_start(struct daemon *d);
/* daemon_start with io's devices (NULL: as daemon_start): the devices
 * given are the daemon's from the call on (closed by daemon_stop through
 * their ops, also when the start fails). */
int daemon_start_io(struct daemon *d, const struct daemon_io *io);
/* One step of the event loop: runs the timers that are due, waits for
 * events at most timeout_ms (-1: until one; never past the next timer) and
 * handles them. Returns the number of events handled, or -errno. */
int daemon_poll(struct daemon *d, int timeout_ms);
/* Runs daemon_poll until SIGTERM/SIGINT; 0 on a clean stop. */
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
/* Holds an inner packet until a session exists (STAGED_MAX per peer, the
 * oldest dropped first; drops counted in d->staged_dropped). */
void peer_stage(struct daemon *d, struct peer *p, const uint8_t *pkt, size_t len);
void peer_flush_staged(struct daemon *d, struct peer *p, uint64_t now);
void peer_run_timers(struct daemon *d, struct peer *p, uint64_t now);
const char *peer_state(const struct peer *p, uint64_t now);

/* handshake glue (peer.c) */
void handle_initiation(struct daemon *d, struct rx_pkt *m, uint64_t now);
void handle_response(struct daemon *d, struct rx_pkt *m, uint64_t now);

/* send.c: the tx batch; TUN -> routing -> encrypt -> UDP */
/* The buffer of the next tx queue entry: PKT_HEADROOM writable bytes before
 * it, TUN_PACKET_MAX + PKT_TAILROOM after. Build a datagram there (it may
 * start in the headroom) and hand it to send_queue before anything else
 * asks for a slot. */
uint8_t *send_slot(struct daemon *d);
/* Sends the datagram pkt..pkt+len, which must lie in send_slot(d)'s buffer
 * (anything else is refused and logged), over path: UDP ones wait for
 * send_flush (a full batch flushes at once), TCP and relayed ones leave at
 * once (the relay header goes into the headroom in front of pkt). */
void send_queue(struct daemon *d, const struct path *path, uint8_t *pkt, size_t len);
/* Copies a datagram built elsewhere into the next slot and queues it. */
void send_copy(struct daemon *d, const struct path *path, const void *pkt, size_t len);
/* Hands the queued UDP datagrams to the kernel (one sendmmsg). */
void send_flush(struct daemon *d);
/* Encrypts inner for p and queues it over p's path, or stages it and starts
 * a handshake. inner is either send_slot(d) with PKT_TAILROOM behind it
 * (encrypted in place) or any other buffer (copied into the slot first). */
void datapath_send_inner(struct daemon *d, struct peer *p, uint8_t *inner, size_t len,
			 uint64_t now);
void datapath_tun_readable(struct daemon *d);

/* receive.c: one entry for every transport, handlers by message type */
void datapath_udp_readable(struct daemon *d);
/* Handles one received datagram from any transport. */
void datapath_receive(struct daemon *d, struct rx_pkt *m, uint64_t now);
void drop(struct daemon *d, enum drop_reason why, const struct path *from);
const char *drop_reason_str(enum drop_reason why);

/* path.c: naming, comparing and ranking paths, roaming, the relay header */
/* Moves p to a path an authenticated packet came over (roaming), unless
 * that would trade a direct path for the relay. */
void peer_update_path(struct daemon *d, struct peer *p, const struct path *from);
/* A path or an address in words, returned by value: each call has its own
 * storage, which lives until the end of the full expression (C11 6.2.4p8),
 * so one log line may name two ("moved from %s to %s", path_str(a).s,
 * path_str(b).s). A static buffer would make both the same. */
struct addr_text {
	char s[CFG_ENDPOINT_STRLEN + 32];
};
struct addr_text path_str(const struct path *path);
const char *path_kind_str(enum path_kind kind);
/* Equal paths: same kind and the same address, stream or relay id. */
bool path_equal(const struct path *a, const struct path *b);
/* UDP 3, TCP 2, relay 1, none 0: a path never moves to a lower rank by
 * itself (peer_update_path). */
int path_rank(enum path_kind kind);
/* Puts the tagged relay header in front of *pkt (moving *pkt and *len) for
 * a PATH_RELAY path; returns the path to the rendezvous the frame goes
 * over, or NULL when there is no session with it to tag under. */
const struct path *relay_seal(struct daemon *d, const struct path *path, uint8_t **pkt,
			      size_t *len);
/* Formats an address for logs ("198.51.100.7:51820"); see struct addr_text. */
struct addr_text addr_str(const struct sockaddr_storage *ss);

/* offload.c: TUN and UDP segmentation offloads */
/* Opens the TUN, with IFF_VNET_HDR and TSO/USO/checksum offloads when
 * cfg.offload allows and the kernel has them, and sets up the merging of
 * received packets. 0 or -errno (as tun_open). */
int offload_tun_open(struct daemon *d);
/* Turns on UDP GSO/GRO on d->udp when cfg.offload allows (start, reload). */
void offload_udp_enable(struct daemon *d);
/* After link up, before the first packet (offload = auto): the self-probes
 * of merged TUN writes and of UDP GSO/GRO, what failed turned off (and kept
 * off by offload_udp_enable), then UDP offloads on and the log line. */
void offload_start(struct daemon *d);
/* Sets the merging table up for what the TUN takes. */
void offload_gro_reset(struct daemon *d);
/* "TUN csum tso uso, UDP gso gro", or "off" for either. */
void offload_describe(const struct daemon *d, char *buf, size_t len);
/* Logs once what is on. */
void offload_log(const struct daemon *d);

/* hsgate.c: the handshake flood defence */
/* Decides whether a received handshake message may have DH work now; when
 * not, it is counted as dropped (and may get a cookie reply). */
bool hsgate_admit(struct daemon *d, struct rx_pkt *m, uint64_t now);
/* A new wake-up of the event loop: the DH budget is full again. */
void hsgate_daemon_wake(struct daemon *d);
/* Wipes the gate's keys and cookie secret (daemon_stop). */
void hsgate_daemon_cleanup(struct daemon *d);
/* Fills mac2 of an outgoing handshake message to p (after mac1). */
void hsgate_stamp(struct peer *p, uint8_t *msg, size_t len, uint64_t now);
void handle_cookie_reply(struct daemon *d, struct rx_pkt *m, uint64_t now);

/* rdv.c */
struct rdv_introduce;
int rdv_client_start(struct daemon *d);
void rdv_client_stop(struct daemon *d);
/* Runs the client's schedule; returns when it wants to run again. */
uint64_t rdv_client_tick(struct daemon *d, uint64_t now);
/* A STUN message on the UDP socket: true when it answered one of ours. */
bool rdv_client_stun(struct daemon *d, struct rx_pkt *m, uint64_t now);
/* A signalling message from the rendezvous's session. */
void rdv_client_receive(struct daemon *d, const uint8_t *msg, size_t len, uint64_t now);
/* Our host candidates as REGISTER sends them (addresses of every link but
 * the TUN and loopback, with our UDP port). */
struct rdv_register;
void rdv_client_host_candidates(struct daemon *d, struct rdv_register *reg);
/* Asks the rendezvous to introduce us to p (rate-limited). */
void rdv_client_connect(struct daemon *d, struct peer *p, uint64_t now);

/* punch.c: the path engine's glue: introductions, probes, TCP, relay */
void peer_on_introduce(struct daemon *d, struct peer *p, const struct rdv_introduce *intro,
		       uint64_t now);
void handle_relay(struct daemon *d, struct rx_pkt *m, uint64_t now);
void handle_probe(struct daemon *d, struct rx_pkt *m, uint64_t now);
/* Sets up the peer's path engine and probe key; false for a key that gives
 * no probe key (low-order). */
bool peer_punch_init(struct daemon *d, struct peer *p);
/* Runs the peer's path engine and carries out what it asks. */
void peer_run_punch(struct daemon *d, struct peer *p, uint64_t now);

/* tcpmux.c: TCP streams (simultaneous open, the listener, framing) */
int tcpmux_start(struct daemon *d);
void tcpmux_stop(struct daemon *d);
void tcpmux_connect(struct daemon *d, struct peer *p, const struct sockaddr_storage *to,
		    uint64_t now);
struct tcp_conn *tcpmux_find(struct daemon *d, struct peer *p, const struct sockaddr_storage *addr);
void tcpmux_send(struct daemon *d, struct tcp_conn *c, uint8_t *pkt, size_t len);
/* Drops every stream owned by p (peer removal). */
void tcpmux_forget_peer(struct daemon *d, struct peer *p);
/* An authenticated packet from p came over c: c belongs to p from now on. */
void tcpmux_adopt(struct daemon *d, struct tcp_conn *c, struct peer *p);
int tcpmux_connect_rdv(struct daemon *d, uint64_t now);
void tcpmux_accept(struct daemon *d);
void tcpmux_event(struct daemon *d, unsigned slot, uint32_t events);
uint64_t tcpmux_tick(struct daemon *d, uint64_t now);
/* rdv.c: the TCP stream to the rendezvous is up. */
void rdv_client_tcp_up(struct daemon *d, struct tcp_conn *c, uint64_t now);
/* rdv.c: the TCP stream (or the connect) to the rendezvous closed. */
void rdv_client_tcp_down(struct daemon *d);

/* reload.c */
/* Re-reads the config; on any error logs it and keeps the running one. */
void daemon_reload(struct daemon *d);

/* loop.c */
/* True (and counted, and warned about) when inner, read from the TUN and
 * routed to p (NULL: to no peer), is one of our own datagrams to a peer's
 * endpoint that a route sent into the tunnel: it must not be sent again. */
bool loop_drop(struct daemon *d, struct peer *p, const uint8_t *inner, size_t len, uint64_t now);

/* timers.c */
/* Runs what is due (session timers, path engines, streams, the rendezvous
 * client, the watchdog); returns the epoll timeout to the next deadline in
 * ms (-1: none). */
int timers_run(struct daemon *d);

/* show.c */
int daemon_control(void *ctx, const struct ctl_request *req, FILE *reply);
