/* TCP transport: socket set-up for the listener and for connects that share
 * its port, connect completion, and framed datagrams over a connection.
 *
 * A connection reads straight into its frame reader (no intermediate copy)
 * and writes the 2-byte prefix and the datagram with one sendmsg. What the
 * kernel does not take is kept in a fixed ring, in order; while the ring
 * holds bytes every new datagram goes behind them, and one that does not fit
 * is dropped whole before any of its bytes is written, so the stream never
 * carries a torn frame. Dropping is the right answer for a datagram tunnel:
 * it is what UDP would do, and the tunnelled TCP flows slow down for it.
 *
 * Connection states are the kernel's: connecting (tcp_connect_* until
 * tcp_connect_result says 0), established (a struct tcp_conn), and gone
 * (read or write reports an error; the owner frees). Nothing here sends a
 * RST on purpose: no SO_LINGER of 0, and a socket still in SYN_SENT closes
 * silently. */
#include "transport/tcp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/addr.h"

/* A non-blocking socket that may share its port with the listener and with
 * other connects (both options are needed: SO_REUSEPORT to bind beside a
 * listening socket, SO_REUSEADDR to bind beside a TIME_WAIT). Anyone
 * running as our user could bind the port too; that is the price of
 * connecting from listen_port. */
static int reuse_socket(int family, int *fd)
{
	int one = 1;
	int s = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -errno;
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		int ret = -errno;

		close(s);
		return ret;
	}
	*fd = s;
	return 0;
}

static void any_addr(int family, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)family;
	addr_set_port(ss, port);
}

static int listen_family(int family, uint16_t port, int *fd)
{
	int ret, s, zero = 0;
	struct sockaddr_storage ss;

	ret = reuse_socket(family, &s);
	if (ret < 0)
		return ret;
	any_addr(family, port, &ss);
	/* Dual-stack: IPv4 peers arrive as v4-mapped and are mapped back. */
	if (family == AF_INET6 && setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		goto fail;
	if (bind(s, (struct sockaddr *)&ss, addr_len(&ss)) < 0)
		goto fail;
	if (listen(s, TCP_LISTEN_BACKLOG) < 0)
		goto fail;
	*fd = s;
	return 0;
fail:
	ret = -errno;
	close(s);
	return ret;
}

int tcp_listen(uint16_t port, int *fd)
{
	int ret = listen_family(AF_INET6, port, fd);

	/* A host (or namespace) without IPv6 still gets an IPv4 listener. */
	if (ret == -EAFNOSUPPORT || ret == -EADDRNOTAVAIL)
		ret = listen_family(AF_INET, port, fd);
	return ret;
}

int tcp_local_port(int fd, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (!addr_is_ip(&ss))
		return -EAFNOSUPPORT;
	*port = addr_port(&ss);
	return 0;
}

static void set_nodelay(int fd)
{
	int one = 1;

	/* Each frame is a whole packet of some tunnelled flow: Nagle would hold
	 * it back waiting for an ACK, adding latency to every inner RTT.
	 * Failing to set it costs latency, not correctness. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int tcp_accept(int listen_fd, int *fd, struct sockaddr_storage *peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int s;

	do {
		s = accept4(listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	} while (s < 0 && errno == EINTR);
	if (s < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	set_nodelay(s);
	if (peer) {
		addr_unmap_v4(&ss);
		*peer = ss;
	}
	*fd = s;
	return 0;
}

int tcp_connect_bound(const struct sockaddr_storage *local, const struct sockaddr_storage *to,
		      int *fd)
{
	int ret, s, syncnt = TCP_CONNECT_SYNCNT;

	if (to->ss_family != AF_INET && to->ss_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (local->ss_family != to->ss_family)
		return -EAFNOSUPPORT;
	ret = reuse_socket(to->ss_family, &s);
	if (ret < 0)
		return ret;
	/* Few SYN retransmissions: an attempt that gets no answer ends soon and
	 * the path engine starts a fresh one (the NATs' state may have
	 * changed meanwhile). */
	if (setsockopt(s, IPPROTO_TCP, TCP_SYNCNT, &syncnt, sizeof(syncnt)) < 0)
		goto fail;
	if (bind(s, (const struct sockaddr *)local, addr_len(local)) < 0)
		goto fail;
	if (connect(s, (const struct sockaddr *)to, addr_len(to)) < 0 && errno != EINPROGRESS)
		goto fail;
	set_nodelay(s);
	*fd = s;
	return 0;
fail:
	ret = -errno;
	close(s);
	return ret;
}

int tcp_connect_from(uint16_t local_port, const struct sockaddr_storage *to, int *fd)
{
	struct sockaddr_storage local;

	any_addr(to->ss_family, local_port, &local);
	return tcp_connect_bound(&local, to, fd);
}

int tcp_connect_result(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	if (err)
		return -err;
	len = sizeof(ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	switch (ti.tcpi_state) {
	case TCP_SYN_SENT:
	case TCP_SYN_RECV: /* simultaneous open: our SYN-ACK is out */
		return -EINPROGRESS;
	case TCP_CLOSE:
		/* Failed, and SO_ERROR was already collected by an earlier
		 * call: still a failure. */
		return -ECONNABORTED;
	default:
		/* ESTABLISHED, or already past it (the peer may have sent its
		 * FIN): connected; the first read tells the rest. */
		return 0;
	}
}

bool tcp_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct sockaddr_storage x = *a, y = *b;

	addr_unmap_v4(&x);
	addr_unmap_v4(&y);
	return addr_equal(&x, &y);
}

bool tcp_same_tuple(const struct tcp_conn *a, const struct tcp_conn *b)
{
	return tcp_addr_equal(&a->local, &b->local) && tcp_addr_equal(&a->peer, &b->peer);
}

struct tcp_conn *tcp_conn_prefer(struct tcp_conn *a, struct tcp_conn *b, bool we_are_lower)
{
	/* The lower-key side is the connector of a: from our side that is our
	 * connect when we are lower, and an accept when we are higher. */
	enum tcp_origin lower_connected = we_are_lower ? TCP_ORIGIN_CONNECT : TCP_ORIGIN_ACCEPT;
	bool ka = a->origin == lower_connected, kb = b->origin == lower_connected;

	if (ka != kb)
		return ka ? a : b;
	if (a->opened_ms != b->opened_ms)
		return a->opened_ms < b->opened_ms ? a : b;
	return a->fd < b->fd ? a : b;
}

struct tcp_conn *tcp_conn_new(int fd, enum tcp_origin origin, enum frame_mode mode, size_t out_cap,
			      uint64_t now_ms)
{
	struct tcp_conn *c;
	socklen_t len;
	int err;

	if (out_cap == 0)
		out_cap = TCP_OUT_DEFAULT;
	if (out_cap < TCP_OUT_MIN) {
		errno = EINVAL;
		return NULL;
	}
	/* Large enough for calloc to map fresh zero pages: the reader and the
	 * ring only cost memory as far as they are actually used. */
	c = calloc(1, sizeof(*c) + out_cap);
	if (!c)
		return NULL;
	len = sizeof(c->local);
	if (getsockname(fd, (struct sockaddr *)&c->local, &len) < 0)
		goto fail;
	len = sizeof(c->peer);
	if (getpeername(fd, (struct sockaddr *)&c->peer, &len) < 0)
		goto fail;
	addr_unmap_v4(&c->local);
	addr_unmap_v4(&c->peer);
	set_nodelay(fd);
	c->fd = fd;
	c->origin = origin;
	c->opened_ms = now_ms;
	c->last_rx_ms = now_ms;
	c->out_cap = out_cap;
	frame_reader_init(&c->rd, mode);
	return c;
fail:
	err = errno;
	free(c);
	errno = err;
	return NULL;
}

void tcp_conn_free(struct tcp_conn *c)
{
	if (!c)
		return;
	/* Plain close: FIN after the queued bytes (the kernel sends a RST
	 * only if unread bytes remain, RFC 2525 section 2.17). */
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* Hands every complete frame in the reader to fn. */
static int deliver(struct tcp_conn *c, uint64_t now_ms, tcp_frame_fn fn, void *ctx)
{
	const uint8_t *frame;
	size_t len;
	int r;

	while ((r = frame_reader_next(&c->rd, &frame, &len)) == 1) {
		int ret;

		c->rx_frames++;
		c->last_rx_ms = now_ms;
		ret = fn(ctx, c, frame, len);
		if (ret < 0)
			return ret;
	}
	return r;
}

int tcp_conn_read(struct tcp_conn *c, uint64_t now_ms, tcp_frame_fn fn, void *ctx)
{
	/* Frames left over by a callback that stopped an earlier call come
	 * first: they are already read, so no EPOLLIN will announce them. */
	int r = deliver(c, now_ms, fn, ctx);

	while (r == 0) {
		size_t room;
		uint8_t *space = frame_reader_space(&c->rd, &room);
		ssize_t n = recv(c->fd, space, room, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		}
		if (n == 0)
			return -ECONNRESET; /* FIN: a datagram tunnel has no half-close */
		frame_reader_commit(&c->rd, (size_t)n);
		r = deliver(c, now_ms, fn, ctx);
	}
	return r;
}

/* Appends bytes [skip, end) of iov[0..n) to the ring; the caller checked
 * that they fit. */
static void enqueue(struct tcp_conn *c, const struct iovec *iov, int n, size_t skip)
{
	for (int i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		p += skip;
		len -= skip;
		skip = 0;
		while (len) {
			size_t tail = (c->out_head + c->out_len) % c->out_cap;
			size_t chunk = c->out_cap - tail < len ? c->out_cap - tail : len;

			memcpy(c->out + tail, p, chunk);
			c->out_len += chunk;
			p += chunk;
			len -= chunk;
		}
	}
}

/* sendmsg without SIGPIPE; returns bytes written (0 on EAGAIN) or -errno. */
static ssize_t write_iov(int fd, struct iovec *iov, int n)
{
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
	ssize_t w;

	do {
		w = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (w < 0 && errno == EINTR);
	if (w < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	return w;
}

int tcp_conn_flush(struct tcp_conn *c)
{
	while (c->out_len) {
		struct iovec iov[2];
		size_t first = c->out_cap - c->out_head;
		int n = 1;
		ssize_t w;

		if (first >= c->out_len) {
			first = c->out_len;
		} else {
			iov[1].iov_base = c->out;
			iov[1].iov_len = c->out_len - first;
			n = 2;
		}
		iov[0].iov_base = c->out + c->out_head;
		iov[0].iov_len = first;
		w = write_iov(c->fd, iov, n);
		if (w < 0)
			return (int)w;
		if (w == 0)
			return 1;
		c->out_head = (c->out_head + (size_t)w) % c->out_cap;
		c->out_len -= (size_t)w;
	}
	c->out_head = 0;
	return 0;
}

static int send_iov(struct tcp_conn *c, struct iovec *iov, int n, size_t total)
{
	ssize_t w;

	if (c->out_len) {
		/* Bytes are waiting: they go first, and this datagram behind
		 * them (or nowhere) so frames stay in order and whole. */
		int r = tcp_conn_flush(c);

		if (r < 0)
			return r;
		if (r > 0) {
			if (c->out_cap - c->out_len < total) {
				c->tx_dropped++;
				return -ENOBUFS;
			}
			enqueue(c, iov, n, 0);
			c->tx_frames++;
			c->tx_queued++;
			return 1;
		}
	}
	w = write_iov(c->fd, iov, n);
	if (w < 0)
		return (int)w;
	c->tx_frames++;
	if ((size_t)w == total)
		return 0;
	/* The ring is empty and holds at least one whole frame (TCP_OUT_MIN):
	 * the rest always fits, and must, since part of it is on the wire. */
	enqueue(c, iov, n, (size_t)w);
	c->tx_queued++;
	return 1;
}

int tcp_conn_send_frame(struct tcp_conn *c, const uint8_t *datagram, size_t len)
{
	uint8_t hdr[FRAME_PREFIX_LEN];
	struct iovec iov[2];

	if (!frame_encode_header(hdr, len))
		return -EMSGSIZE;
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)datagram;
	iov[1].iov_len = len;
	return send_iov(c, iov, 2, sizeof(hdr) + len);
}

int tcp_conn_send_stun(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
	struct iovec iov;

	if (len < FRAME_STUN_HEADER_LEN || len > FRAME_BUF_SIZE)
		return -EMSGSIZE;
	iov.iov_base = (void *)msg;
	iov.iov_len = len;
	return send_iov(c, &iov, 1, len);
}

bool tcp_conn_wants_write(const struct tcp_conn *c)
{
	return c->out_len > 0;
}

bool tcp_conn_is_idle(const struct tcp_conn *c, uint64_t now_ms, uint64_t timeout_ms)
{
	return now_ms >= c->last_rx_ms && now_ms - c->last_rx_ms >= timeout_ms;
}
