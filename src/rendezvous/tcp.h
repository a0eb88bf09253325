/* The rendezvous's TCP side: one listener on the listen address and port,
 * and per connection either u16 length-prefixed p2pvpn frames or STUN
 * messages back to back (told apart by the magic cookie at offset 4 of the
 * stream, rdvproto/proto.h section 4), by transport/frame's frame_peek, the
 * rules p2pvpnd's streams follow too.
 *
 * Every connection is bounded: its read buffer holds at most one frame of
 * the largest size the owner accepts for that frame's type (asked through
 * rdv_tcp_ops.frame_max as soon as the type byte is in), its write buffer
 * at most wbuf_unauth bytes (4 KiB) until it carries a peer's session and
 * wbuf_max (128 KiB) after, and its time: a first frame within
 * first_frame_ms, each frame completed within frame_ms of its first byte
 * (a slowloris sender is cut off), a session within auth_ms of the accept
 * whatever it sends meanwhile (tinc's timeout during authentication), no
 * idle period beyond idle_ms (auth_idle_ms once it carries a session), and
 * no stalled output beyond wstall_ms.
 *
 * A client that does not read: an unauthenticated connection whose write
 * buffer cannot take the next reply is closed at once; one with a session
 * has frames that do not fit dropped whole (a lost datagram, as a slow
 * reader's TCP would cause) and is closed when the buffer is full and no
 * byte has left it for wfull_ms.
 *
 * Floods: at most unauth_per_ip connections without a session per source
 * IP (more are refused at accept) and max_unauth in all; at that cap, or
 * at max_conns, a connection without a session is evicted (one that has
 * not completed a frame first, then oldest first), never one that carries
 * a session; when every connection carries one, the newcomer is refused.
 * Frames of length 0 or above the type's limit close the connection; a
 * frame of length 1 is handed over (the owner drops what does not parse). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "transport/frame.h"

/* What an epoll event's data.ptr points at: the server's objects and the
 * connections here all start with one. */
enum rdv_ev_kind {
	RDV_EV_UDP,
	RDV_EV_LISTEN,
	RDV_EV_CONN,
	RDV_EV_SIGNAL,
};

struct rdv_ev {
	enum rdv_ev_kind kind;
	unsigned index; /* RDV_EV_UDP: which socket */
};

enum {
	RDV_TCP_MAX_CONNS = 1024,
	RDV_TCP_MAX_UNAUTH = 256,  /* connections without a session, all sources */
	RDV_TCP_UNAUTH_PER_IP = 4, /* the same, per source IP (NATed peers share one) */
	RDV_TCP_FIRST_FRAME_MS = 5 * 1000,
	RDV_TCP_FRAME_MS = 10 * 1000,
	RDV_TCP_AUTH_MS = 10 * 1000, /* handshake + REGISTER take a few RTTs */
	RDV_TCP_IDLE_MS = 15 * 1000,
	RDV_TCP_AUTH_IDLE_MS = 90 * 1000, /* peers send something every 10-25 s */
	RDV_TCP_WSTALL_MS = 30 * 1000,
	RDV_TCP_WFULL_MS = 2 * 1000,
	RDV_TCP_WBUF_MAX = 128 * 1024,	/* two largest relay frames */
	RDV_TCP_WBUF_UNAUTH = 4 * 1024, /* replies to a handshake or STUN only */
	RDV_TCP_STUN_MAX = 1024,	/* a Binding request is far smaller */
	RDV_TCP_RBUF_MIN = 2048,
};

struct rdv_tcp_conn {
	struct rdv_ev ev; /* first: epoll's data.ptr */
	int fd;
	enum frame_mode mode; /* transport/frame's: DETECT until the first bytes settle it */
	struct sockaddr_storage remote, local;
	uint8_t *rbuf;
	size_t rlen, rcap;
	uint8_t *wbuf;
	size_t wlen, wcap;
	uint64_t accepted_ms, last_frame_ms, frame_start_ms, wstall_ms;
	bool dead, want_out;
	bool authed; /* carries a session: cached after each frame and each expire */
	size_t slot;
	struct rdv_tcp_conn *next_dead;
};

struct rdv_tcp_ops {
	/* Largest frame (length prefix not counted) accepted for this type on
	 * conn; 0 refuses the type and closes the connection. */
	size_t (*frame_max)(void *ctx, struct rdv_tcp_conn *conn, uint8_t type);
	/* A complete frame; the buffer may be changed. */
	void (*on_frame)(void *ctx, struct rdv_tcp_conn *conn, uint8_t *frame, size_t len);
	/* A complete STUN message. */
	void (*on_stun)(void *ctx, struct rdv_tcp_conn *conn, const uint8_t *msg, size_t len);
	/* True when conn carries a peer's session (longer idle, not evicted). */
	bool (*is_authenticated)(void *ctx, struct rdv_tcp_conn *conn);
	/* conn is closing; it is freed at the next rdv_tcp_reap. */
	void (*on_close)(void *ctx, struct rdv_tcp_conn *conn);
};

struct rdv_tcp_limits {
	size_t max_conns, max_unauth, unauth_per_ip, wbuf_max, wbuf_unauth;
	uint64_t first_frame_ms, frame_ms, auth_ms, idle_ms, auth_idle_ms, wstall_ms, wfull_ms;
};

struct rdv_tcp {
	struct rdv_ev ev; /* the listener's */
	int listen_fd, epfd;
	struct rdv_tcp_conn **conns;
	size_t n, n_unauth; /* n_unauth: live connections with authed false */
	struct rdv_tcp_conn *dead;
	struct rdv_tcp_limits lim;
	const struct rdv_tcp_ops *ops;
	void *ctx;
	/* refused: every connection was authenticated; refused_ip: the source
	 * IP had unauth_per_ip; closed_auth: no session within auth_ms (also
	 * counted in closed_timeout); closed_wfull: a client that did not read. */
	uint64_t accepted, evicted, refused, refused_ip, closed_bad, closed_timeout, closed_auth,
	    closed_wfull, dropped_frames;
};

/* Limits with every zero field set to its RDV_TCP_* default. */
void rdv_tcp_limits_default(struct rdv_tcp_limits *lim);
/* Listens on addr and registers with epfd; 0 or -errno. */
int rdv_tcp_open(struct rdv_tcp *t, const struct sockaddr_storage *addr, int epfd,
		 const struct rdv_tcp_limits *lim, const struct rdv_tcp_ops *ops, void *ctx);
/* Closes the listener and every connection. */
void rdv_tcp_close_all(struct rdv_tcp *t);
/* The listener is readable: accepts what is waiting. */
void rdv_tcp_accept(struct rdv_tcp *t, uint64_t now_ms);
/* Epoll events for conn: reads and hands over complete frames, writes
 * pending output, closes on error, EOF or a framing violation. */
void rdv_tcp_event(struct rdv_tcp *t, struct rdv_tcp_conn *conn, uint32_t events, uint64_t now_ms);
/* Queues one frame (with its length prefix when framed is true) or drops
 * it when the write buffer is full; never blocks. */
void rdv_tcp_send(struct rdv_tcp *t, struct rdv_tcp_conn *conn, bool framed, const uint8_t *data,
		  size_t len, uint64_t now_ms);
/* Closes conn (idempotent); its memory lives until rdv_tcp_reap. */
void rdv_tcp_close(struct rdv_tcp *t, struct rdv_tcp_conn *conn);
/* Closes connections past their time limits (call about once a second). */
void rdv_tcp_expire(struct rdv_tcp *t, uint64_t now_ms);
/* Logs the counters at info (at stop). */
void rdv_tcp_log_stats(const struct rdv_tcp *t);
/* Frees connections closed since the last call: call when no event that
 * may point at them is still to be handled. */
void rdv_tcp_reap(struct rdv_tcp *t);
