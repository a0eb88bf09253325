/* TCP sockets of the daemon and the rendezvous: the listener on listen_port,
 * outgoing connects bound to that same port (TCP simultaneous open through
 * NATs), and framed datagrams over the resulting streams (frame.h). Every
 * socket is non-blocking and close-on-exec, and every address handed to the
 * caller is AF_INET for IPv4 peers (never v4-mapped), as in udp.h.
 *
 * Simultaneous open. Both peers connect() from their listen_port to the
 * other's listen_port (the port the rendezvous saw as their TCP reflexive
 * address) at the agreed moment. The listener and the connecting sockets all
 * carry SO_REUSEADDR and SO_REUSEPORT, which is what lets a connect bind a
 * port that a listener holds. A failed attempt (refused, timed out after
 * TCP_CONNECT_SYNCNT retransmissions, or abandoned by the caller) is closed
 * with a plain close(): a socket in SYN_SENT then vanishes without a RST, so
 * the far NAT's mapping and the peer's own attempt are left alone.
 *
 * One connection per 4-tuple. With crossing SYNs the kernel makes ONE
 * connection for the 4-tuple, reported to both sides as a completed
 * connect (TCP_ORIGIN_CONNECT on both). When one side's SYN instead reaches
 * the other's listener (no NAT in the way, or a SYN retransmitted after the
 * other side gave up), that side sees a completed connect and the other an
 * accept; the other's own connect to the same 4-tuple then fails with
 * -EADDRNOTAVAIL, so the kernel never holds two connections for one tuple.
 * Two connections to one peer exist only with different 4-tuples (several
 * candidates, or a NAT that mapped the two directions differently).
 *
 * Which one survives. Only the side with the lower public key decides: it
 * keeps the connection tcp_conn_prefer() picks (one it connected, else the
 * older one) and closes the others; the higher-key side never closes a
 * duplicate itself and drops a connection when the peer closes it. This
 * is deterministic even though a simultaneous open looks like a connect to
 * both sides, so the two could not otherwise agree on who "the connector"
 * was. The caller knows the keys; it passes we_are_lower in. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "transport/frame.h"

enum {
	TCP_LISTEN_BACKLOG = 128,
	TCP_CONNECT_SYNCNT = 2, /* SYN + 2 retransmissions: a dead attempt ends in ~7 s */
	TCP_OUT_DEFAULT = 256 * 1024,
	TCP_OUT_MIN = FRAME_BUF_SIZE, /* a partly written frame must always fit */
};

enum tcp_origin {
	TCP_ORIGIN_CONNECT, /* our connect() completed (a simultaneous open included) */
	TCP_ORIGIN_ACCEPT,  /* accepted on our listener */
};

struct tcp_conn {
	int fd;
	enum tcp_origin origin;
	struct sockaddr_storage local; /* AF_INET or AF_INET6, never mapped */
	struct sockaddr_storage peer;
	uint64_t opened_ms;  /* when the caller created it (established) */
	uint64_t last_rx_ms; /* last complete frame: partial bytes never refresh it */
	uint64_t rx_frames;  /* complete frames handed to the callback */
	uint64_t tx_frames;  /* datagrams written or queued */
	uint64_t tx_queued;  /* of those, the ones that needed the ring */
	uint64_t tx_dropped; /* datagrams dropped whole: the ring was full */
	struct frame_reader rd;
	size_t out_cap;	 /* size of out[] */
	size_t out_head; /* first queued byte */
	size_t out_len;	 /* queued bytes; they wrap around the end of out[] */
	uint8_t out[];	 /* one allocation with the struct: ~64 KiB + out_cap */
};

/* A complete frame read from c (framed: a datagram; STUN mode: a whole STUN
 * message, see c->rd.mode). Return 0 to go on; a negative value stops
 * tcp_conn_read, which returns it without touching c again (so the callback
 * may have freed c). */
typedef int (*tcp_frame_fn)(void *ctx, struct tcp_conn *c, const uint8_t *frame, size_t len);

/* Listens on port (0: any) on all addresses, dual-stack when the host has
 * IPv6; SO_REUSEADDR + SO_REUSEPORT so connects can share the port.
 * Returns 0 with *fd set, or -errno. */
int tcp_listen(uint16_t port, int *fd);
/* The local port of a bound socket; 0 or -errno. */
int tcp_local_port(int fd, uint16_t *port);
/* Accepts one waiting connection (non-blocking, TCP_NODELAY); *peer is
 * optional. Returns 0, -EAGAIN when none is waiting, or another -errno. */
int tcp_accept(int listen_fd, int *fd, struct sockaddr_storage *peer);
/* Starts a non-blocking connect from local_port on all addresses to to
 * (same family socket). Returns 0 with *fd set when the connect is under
 * way or done: watch EPOLLOUT, then call tcp_connect_result. Returns
 * -EADDRNOTAVAIL when the 4-tuple is taken (an accepted connection from
 * that peer, or a TIME_WAIT), or another -errno (no fd then). */
int tcp_connect_from(uint16_t local_port, const struct sockaddr_storage *to, int *fd);
/* Same, bound to an exact local address and port (tests, multi-homed). */
int tcp_connect_bound(const struct sockaddr_storage *local, const struct sockaddr_storage *to,
		      int *fd);
/* After EPOLLOUT (or EPOLLERR/EPOLLHUP) on a connecting fd: 0 connected,
 * -EINPROGRESS still under way, -errno failed (-ECONNREFUSED, -ETIMEDOUT,
 * ...). The caller closes a failed fd with a plain close(). */
int tcp_connect_result(int fd);
/* True when a and b are the same transport address (v4-mapped IPv6 equals
 * its IPv4 form). */
bool tcp_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* True when a and b are connections of the same 4-tuple. */
bool tcp_same_tuple(const struct tcp_conn *a, const struct tcp_conn *b);
/* Of two connections to the same peer, the one the lower-key side keeps:
 * one where the lower-key side connected (our connect when we_are_lower,
 * an accept otherwise), else the older, else the lower fd. Only the lower
 * side acts on it (see the top of this file). */
struct tcp_conn *tcp_conn_prefer(struct tcp_conn *a, struct tcp_conn *b, bool we_are_lower);

/* Wraps an established fd (connected or accepted): sets TCP_NODELAY, reads
 * both addresses, starts the reader in mode, and an out ring of out_cap
 * bytes (0: TCP_OUT_DEFAULT). Takes the fd only on success. NULL with errno
 * (EINVAL: out_cap below TCP_OUT_MIN). */
struct tcp_conn *tcp_conn_new(int fd, enum tcp_origin origin, enum frame_mode mode, size_t out_cap,
			      uint64_t now_ms);
/* Closes the socket with a plain close() (FIN, never a RST on purpose) and
 * frees c; NULL is fine. */
void tcp_conn_free(struct tcp_conn *c);
/* Reads until EAGAIN, calling fn for every complete frame. Returns 0 (the
 * connection stays), -ECONNRESET when the peer closed (FIN or RST),
 * -EBADMSG on a framing violation, the callback's negative value, or
 * another -errno. On any negative value except the callback's the caller
 * frees c. After a callback stop, frames already read stay buffered and no
 * EPOLLIN announces them: call again to get them first. */
int tcp_conn_read(struct tcp_conn *c, uint64_t now_ms, tcp_frame_fn fn, void *ctx);
/* Sends one datagram with its length prefix. 0: written; 1: partly or not
 * yet written and queued, watch EPOLLOUT and call tcp_conn_flush; -ENOBUFS:
 * the out ring is full and the datagram was dropped whole (counted in
 * tx_dropped, the connection is fine: a lost datagram, as on UDP);
 * -EMSGSIZE: len is 0 or above FRAME_MAX; another -errno: the connection
 * failed. */
int tcp_conn_send_frame(struct tcp_conn *c, const uint8_t *datagram, size_t len);
/* Same for a STUN message on a STUN-mode connection: sent as is, no prefix. */
int tcp_conn_send_stun(struct tcp_conn *c, const uint8_t *msg, size_t len);
/* Writes queued bytes after EPOLLOUT: 0 when the ring is empty (stop
 * watching EPOLLOUT), 1 when bytes remain, or -errno (connection failed). */
int tcp_conn_flush(struct tcp_conn *c);
/* True while bytes wait in the out ring (EPOLLOUT wanted). */
bool tcp_conn_wants_write(const struct tcp_conn *c);
/* True when no complete frame arrived for timeout_ms (an idle, half-open or
 * slowloris connection: partial frames do not count as activity). */
bool tcp_conn_is_idle(const struct tcp_conn *c, uint64_t now_ms, uint64_t timeout_ms);
