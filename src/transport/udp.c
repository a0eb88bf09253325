/* UDP transport: socket set-up, address mapping for the dual-stack socket,
 * recvmmsg/sendmmsg batching and the UDP offloads.
 *
 * GSO: udp_send_batch cuts its datagrams into groups, each one mmsghdr: a
 * run of consecutive datagrams to one address, all of the run's first
 * length except maybe the last, within the kernel's segment and byte caps,
 * goes with an iovec per datagram and a UDP_SEGMENT control message; any
 * other datagram is a group of one, sent as before. The kernel refuses a
 * GSO message when the route cannot take it: EIO (no checksum offload,
 * IPsec), EINVAL (checksums turned off on the socket, older kernels' MTU
 * check) or EMSGSIZE (a segment larger than the route's MTU, newer kernels).
 * EIO and EINVAL say GSO is unusable here: it is turned off for the socket
 * and the rest of the batch goes one datagram at a time. EMSGSIZE is about
 * one destination: only that group is resent one by one, where each
 * datagram meets the same fate it would have without GSO.
 *
 * GRO: with UDP_GRO set, each received message may hold several datagrams
 * of one size; the size comes in a UDP_GRO control message and is passed on
 * as udp_msg.segment.
 *
 * Local addresses (udp_open_addr, the rendezvous's sockets): a socket bound
 * to one address reports it as every datagram's local address; a wildcard
 * opened with UDP_OPEN_PKTINFO gets an IP_PKTINFO or IPV6_PKTINFO control
 * message with each datagram (on [::] IPv4 destinations come v4-mapped and
 * are unmapped here) and sends from msgs[i].local with the same control
 * message, so an answer leaves from the address it was asked on. Only such
 * sockets get control buffers for it: a udp_open socket parses none.
 *
 * A socket with ops (struct udp_ops: the fake network of the in-process
 * daemon tests) is handed to its backend by every call; what follows is the
 * kernel's. */
#include "transport/udp.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/addr.h"

static socklen_t to_wire(const struct udp_sock *s, const struct sockaddr_storage *in,
			 struct sockaddr_storage *out)
{
	if (s->family == AF_INET6)
		addr_map_v4(out, in);
	else
		memcpy(out, in, sizeof(*out));
	return out->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

/* Socket buffers absorb the bursts between two wake-ups (a GSO message is
 * up to 64 KiB at once). SO_*BUFFORCE passes net.core.[rw]mem_max but needs
 * CAP_NET_ADMIN; without it the capped request of the plain option stays.
 * Failing to grow them is harmless. */
static void grow_buffers(int fd)
{
	int big = 8 << 20, small = 4 << 20;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
}

/* Asks for each datagram's destination address on a wildcard socket. On
 * [::] IPV6_RECVPKTINFO also covers IPv4 datagrams (v4-mapped). */
static int want_pktinfo(int fd, int family)
{
	int one = 1;

	if (family == AF_INET)
		return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
}

/* Opens, configures and binds a socket to *at; fills every field of s but
 * offloads, ops and priv. */
static int open_bound(struct udp_sock *s, const struct sockaddr_storage *at, unsigned flags)
{
	int ret, zero = 0, fd;
	struct sockaddr_storage ss;
	socklen_t len = addr_len(at);
	bool any = addr_is_any(at);

	if (len == 0)
		return -EAFNOSUPPORT;
	fd = socket(at->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Dual-stack: IPv4 peers reach [::] as v4-mapped addresses. */
	if (at->ss_family == AF_INET6 && any &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		goto fail;
	if (any && (flags & UDP_OPEN_PKTINFO) && want_pktinfo(fd, at->ss_family) < 0)
		goto fail;
	/* No SO_REUSEADDR: on UDP it would let a second daemon bind the same
	 * port and steal half the datagrams. */
	grow_buffers(fd);
	if (bind(fd, (const struct sockaddr *)at, len) < 0)
		goto fail;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto fail;
	addr_unmap_v4(&ss);
	s->fd = fd;
	s->family = at->ss_family;
	s->bound = ss;
	s->port = addr_port(&ss);
	s->local_mode = any && (flags & UDP_OPEN_PKTINFO) ? UDP_LOCAL_PKTINFO : UDP_LOCAL_BOUND;
	return 0;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

static void reset(struct udp_sock *s)
{
	s->fd = -1;
	s->offloads = 0;
	s->gso_fallbacks = 0;
	s->ops = NULL;
	s->priv = NULL;
	s->local_mode = UDP_LOCAL_NONE;
}

static int open_any(struct udp_sock *s, int family, uint16_t port)
{
	struct sockaddr_storage any;

	memset(&any, 0, sizeof(any));
	any.ss_family = (sa_family_t)family;
	addr_set_port(&any, port);
	return open_bound(s, &any, 0);
}

int udp_open(struct udp_sock *s, uint16_t port)
{
	int ret;

	reset(s);
	ret = open_any(s, AF_INET6, port);

	/* A host (or namespace) without IPv6 still gets an IPv4 socket. */
	if (ret == -EAFNOSUPPORT || ret == -EADDRNOTAVAIL)
		ret = open_any(s, AF_INET, port);
	if (ret < 0)
		s->fd = -1;
	/* The daemon's socket: no per-datagram local address. */
	s->local_mode = UDP_LOCAL_NONE;
	return ret;
}

int udp_open_addr(struct udp_sock *s, const struct sockaddr_storage *at, unsigned flags)
{
	int ret;

	reset(s);
	ret = open_bound(s, at, flags);
	if (ret < 0)
		reset(s);
	return ret;
}

void udp_close(struct udp_sock *s)
{
	if (s->ops) {
		if (s->ops->close)
			s->ops->close(s);
		s->ops = NULL;
	} else if (s->fd >= 0) {
		close(s->fd);
	}
	s->fd = -1;
}

uint16_t udp_local_port(const struct udp_sock *s)
{
	return s->port;
}

int udp_enable_offload(struct udp_sock *s, unsigned want)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (s->ops) {
		s->offloads = s->ops->enable_offload ? (unsigned)s->ops->enable_offload(s, want) : 0;
		return (int)s->offloads;
	}
	/* GSO needs no socket state (the size rides on each message); asking
	 * for the option and clearing the socket-wide size tells whether the
	 * kernel knows UDP_SEGMENT at all (4.18+). */
	s->offloads &= ~(unsigned)UDP_OFFLOAD_GSO;
	if ((want & UDP_OFFLOAD_GSO) && getsockopt(s->fd, SOL_UDP, UDP_SEGMENT, &v, &len) == 0 &&
	    setsockopt(s->fd, SOL_UDP, UDP_SEGMENT, &(int){0}, sizeof(int)) == 0)
		s->offloads |= UDP_OFFLOAD_GSO;
	v = (want & UDP_OFFLOAD_GRO) ? 1 : 0;
	if (setsockopt(s->fd, SOL_UDP, UDP_GRO, &v, sizeof(v)) == 0 && v)
		s->offloads |= UDP_OFFLOAD_GRO;
	else
		s->offloads &= ~(unsigned)UDP_OFFLOAD_GRO;
	return (int)s->offloads;
}

/* Room for a UDP_GRO or UDP_SEGMENT and a pktinfo control message. */
union udp_cmsg {
	char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct cmsghdr align;
};

/* A datagram's destination from its pktinfo control message, with the
 * bound port; the bound address when there is none. */
static void read_local(const struct udp_sock *s, struct msghdr *h, struct sockaddr_storage *local)
{
	*local = s->bound;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;
			struct sockaddr_in *sin = (struct sockaddr_in *)local;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(local, 0, sizeof(*local));
			sin->sin_family = AF_INET;
			sin->sin_addr = pi.ipi_addr;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)local;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(local, 0, sizeof(*local));
			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr = pi.ipi6_addr;
		} else {
			continue;
		}
		addr_set_port(local, s->port);
		addr_unmap_v4(local);
		return;
	}
}

/* Writes at buf the control message that makes a send leave from local on
 * a UDP_OPEN_PKTINFO socket; returns its space, 0 when none applies (no
 * local, another socket, an IPv6 source on an IPv4 socket). */
static size_t put_source(const struct udp_sock *s, const struct sockaddr_storage *local, char *buf)
{
	struct cmsghdr *c = (struct cmsghdr *)(void *)buf;

	if (s->local_mode != UDP_LOCAL_PKTINFO || !local)
		return 0;
	if (s->family == AF_INET && local->ss_family == AF_INET) {
		struct in_pktinfo pi = {.ipi_spec_dst =
					    ((const struct sockaddr_in *)local)->sin_addr};

		memset(buf, 0, CMSG_SPACE(sizeof(pi)));
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	if (s->family == AF_INET6 &&
	    (local->ss_family == AF_INET || local->ss_family == AF_INET6)) {
		struct in6_pktinfo pi;
		struct sockaddr_storage src;

		/* The kernel takes a v4-mapped source for an IPv4 destination. */
		addr_map_v4(&src, local);
		memset(&pi, 0, sizeof(pi));
		pi.ipi6_addr = ((const struct sockaddr_in6 *)&src)->sin6_addr;
		memset(buf, 0, CMSG_SPACE(sizeof(pi)));
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	return 0;
}

/* The segment size of a received message: its UDP_GRO control message,
 * 0 when there is none or it names no second datagram. */
static uint16_t gro_segment(struct msghdr *h, size_t len)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		int seg;

		if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO ||
		    c->cmsg_len < CMSG_LEN(sizeof(seg)))
			continue;
		memcpy(&seg, CMSG_DATA(c), sizeof(seg));
		return seg > 0 && (size_t)seg < len && seg <= UINT16_MAX ? (uint16_t)seg : 0;
	}
	return 0;
}

int udp_recv_batch(struct udp_sock *s, struct udp_msg *msgs, unsigned n)
{
	struct mmsghdr mh[UDP_BATCH_MAX];
	struct iovec iov[UDP_BATCH_MAX];
	union udp_cmsg ctl[UDP_BATCH_MAX];
	bool gro = s->offloads & UDP_OFFLOAD_GRO;
	bool ctl_on = gro || s->local_mode == UDP_LOCAL_PKTINFO;
	int got, kept = 0;

	if (n > UDP_BATCH_MAX)
		n = UDP_BATCH_MAX;
	if (s->ops)
		return s->ops->recv_batch(s, msgs, n);
	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = msgs[i].data;
		iov[i].iov_len = msgs[i].cap;
		memset(&mh[i], 0, sizeof(mh[i]));
		mh[i].msg_hdr.msg_iov = &iov[i];
		mh[i].msg_hdr.msg_iovlen = 1;
		mh[i].msg_hdr.msg_name = &msgs[i].addr;
		mh[i].msg_hdr.msg_namelen = sizeof(msgs[i].addr);
		if (ctl_on) {
			mh[i].msg_hdr.msg_control = ctl[i].buf;
			mh[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
		}
	}
	got = recvmmsg(s->fd, mh, n, MSG_DONTWAIT, NULL);
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
	for (int i = 0; i < got; i++) {
		size_t len = mh[i].msg_len;

		/* A datagram larger than our buffer cannot be ours (we never send
		 * more than MTU + overhead), and a coalesced one that did not fit
		 * lost its tail: drop it rather than parse a prefix. The slot it
		 * compacts into may be smaller than its own. */
		if ((mh[i].msg_hdr.msg_flags & MSG_TRUNC) || len > msgs[kept].cap)
			continue;
		if (kept != i) {
			/* Compact: move the datagram's bytes into slot kept. */
			memmove(msgs[kept].data, msgs[i].data, len);
			memcpy(&msgs[kept].addr, &msgs[i].addr, sizeof(msgs[i].addr));
		}
		msgs[kept].len = len;
		msgs[kept].segment = gro ? gro_segment(&mh[i].msg_hdr, len) : 0;
		addr_unmap_v4(&msgs[kept].addr);
		if (s->local_mode == UDP_LOCAL_PKTINFO)
			read_local(s, &mh[i].msg_hdr, &msgs[kept].local);
		else if (s->local_mode == UDP_LOCAL_BOUND)
			msgs[kept].local = s->bound;
		else
			msgs[kept].local.ss_family = AF_UNSPEC;
		kept++;
	}
	return kept;
}

/* The send batch as the kernel sees it: groups (one mmsghdr each) over the
 * caller's datagrams; group g covers msgs[first[g] .. first[g] + count[g]). */
struct tx_batch {
	struct mmsghdr mh[UDP_BATCH_MAX];
	struct iovec iov[UDP_BATCH_MAX];
	struct sockaddr_storage to[UDP_BATCH_MAX];
	union udp_cmsg ctl[UDP_BATCH_MAX];
	unsigned first[UDP_BATCH_MAX], count[UDP_BATCH_MAX];
};

/* Same source for a send on a UDP_OPEN_PKTINFO socket (ports aside). */
static bool same_source(const struct udp_sock *s, const struct udp_msg *a, const struct udp_msg *b)
{
	if (s->local_mode != UDP_LOCAL_PKTINFO)
		return true;
	if (a->local.ss_family != b->local.ss_family)
		return false;
	return a->local.ss_family == AF_UNSPEC || addr_equal_host(&a->local, &b->local);
}

/* How many of msgs[0..n) one GSO message can carry: same address (and
 * source), the first one's length (a shorter one ends the run), within the
 * caps. */
static unsigned run_length(const struct udp_sock *s, const struct udp_msg *msgs, unsigned n)
{
	size_t seg = msgs[0].len, total = seg, max = UDP_GSO_BYTES_MAX_V4;
	unsigned c = 1;

	if (msgs[0].addr.ss_family == AF_INET6 && !addr_is_v4_mapped(&msgs[0].addr))
		max = UDP_GSO_BYTES_MAX_V6;
	if (seg == 0 || seg > UINT16_MAX)
		return 1;
	if (n > UDP_GSO_SEGMENTS_MAX)
		n = UDP_GSO_SEGMENTS_MAX;
	while (c < n && msgs[c].len > 0 && msgs[c].len <= seg && total + msgs[c].len <= max &&
	       addr_equal(&msgs[c].addr, &msgs[0].addr) && same_source(s, &msgs[c], &msgs[0])) {
		total += msgs[c].len;
		if (msgs[c++].len < seg)
			break;
	}
	return c;
}

/* Lays out msgs[from..n) into b starting at group 0; datagrams before
 * single_until, and all of them with GSO off, go one per group. Returns the
 * number of groups. */
static unsigned build(const struct udp_sock *s, struct udp_msg *msgs, unsigned from, unsigned n,
		      unsigned single_until, struct tx_batch *b)
{
	bool gso = s->offloads & UDP_OFFLOAD_GSO;
	unsigned g = 0;

	for (unsigned i = from; i < n; g++) {
		struct msghdr *h = &b->mh[g].msg_hdr;
		unsigned c = gso && i >= single_until ? run_length(s, msgs + i, n - i) : 1;
		size_t ctl_len = 0;

		memset(&b->mh[g], 0, sizeof(b->mh[g]));
		for (unsigned k = 0; k < c; k++) {
			b->iov[i + k].iov_base = msgs[i + k].data;
			b->iov[i + k].iov_len = msgs[i + k].len;
		}
		h->msg_iov = &b->iov[i];
		h->msg_iovlen = c;
		h->msg_name = &b->to[g];
		h->msg_namelen = to_wire(s, &msgs[i].addr, &b->to[g]);
		if (c > 1) {
			struct cmsghdr *cm = (struct cmsghdr *)(void *)b->ctl[g].buf;
			uint16_t seg = (uint16_t)msgs[i].len;

			/* Zeroed: the kernel reads the padding too. */
			memset(b->ctl[g].buf, 0, CMSG_SPACE(sizeof(seg)));
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
			ctl_len = CMSG_SPACE(sizeof(seg));
		}
		ctl_len += put_source(s, &msgs[i].local, b->ctl[g].buf + ctl_len);
		if (ctl_len) {
			h->msg_control = b->ctl[g].buf;
			h->msg_controllen = ctl_len;
		}
		b->first[g] = i;
		b->count[g] = c;
		i += c;
	}
	return g;
}

int udp_send_batch(struct udp_sock *s, struct udp_msg *msgs, unsigned n)
{
	struct tx_batch b;
	unsigned done = 0, g = 0, ng;

	if (n > UDP_BATCH_MAX)
		n = UDP_BATCH_MAX;
	if (s->ops)
		return s->ops->send_batch(s, msgs, n);
	ng = build(s, msgs, 0, n, 0, &b);
	while (g < ng) {
		int r = sendmmsg(s->fd, b.mh + g, ng - g, 0);
		unsigned at = b.first[g];

		if (r >= 0) {
			for (unsigned end = g + (unsigned)r; g < end; g++)
				done += b.count[g];
			continue;
		}
		if (errno == EINTR)
			continue;
		if (b.count[g] > 1 && (errno == EIO || errno == EINVAL)) {
			/* This kernel or route cannot do GSO: stop asking, and
			 * lay out what is left again, one datagram each. */
			s->offloads &= ~(unsigned)UDP_OFFLOAD_GSO;
			s->gso_fallbacks++;
			ng = build(s, msgs, at, n, 0, &b);
			g = 0;
			continue;
		}
		if (b.count[g] > 1 && errno == EMSGSIZE) {
			/* A segment over this route's MTU: resend this run one
			 * datagram each (fragmented or refused as without GSO). */
			ng = build(s, msgs, at, n, at + b.count[g], &b);
			g = 0;
			continue;
		}
		if (done == 0 && (errno == EAGAIN || errno == ENOBUFS))
			return -errno;
		/* The first unsent group was refused (no route, EMSGSIZE, ...):
		 * count its datagrams lost and go on with the rest. */
		done += b.count[g++];
	}
	return (int)done;
}

int udp_send(struct udp_sock *s, const void *data, size_t len, const struct sockaddr_storage *to)
{
	struct sockaddr_storage w;
	socklen_t wl;

	if (s->ops) {
		struct udp_msg m = {.data = (uint8_t *)data, .len = len, .cap = len, .addr = *to};
		int n = s->ops->send_batch(s, &m, 1);

		return n < 0 ? n : 0;
	}
	wl = to_wire(s, to, &w);
	if (sendto(s->fd, data, len, 0, (struct sockaddr *)&w, wl) < 0)
		return -errno;
	return 0;
}

int udp_send_from(struct udp_sock *s, const void *data, size_t len,
		  const struct sockaddr_storage *to, const struct sockaddr_storage *local)
{
	struct sockaddr_storage w;
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr mh = {.msg_name = &w, .msg_iov = &iov, .msg_iovlen = 1};
	union udp_cmsg ctl;
	size_t ctl_len;

	if (to->ss_family != AF_INET && to->ss_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (s->ops)
		return udp_send(s, data, len, to);
	ctl_len = put_source(s, local, ctl.buf);
	if (ctl_len == 0)
		return udp_send(s, data, len, to);
	mh.msg_namelen = to_wire(s, to, &w);
	mh.msg_control = ctl.buf;
	mh.msg_controllen = ctl_len;
	if (sendmsg(s->fd, &mh, 0) < 0)
		return -errno;
	return 0;
}

/* The self-probe's datagrams: PROBE_N - 1 of PROBE_SEG bytes and a shorter
 * last one, datagram i filled with (i * 31 + j). */
enum { PROBE_N = 9, PROBE_SEG = 1200, PROBE_LAST = 500, PROBE_SLOTS = 4 };

static size_t probe_len(unsigned i)
{
	return i + 1 < PROBE_N ? PROBE_SEG : PROBE_LAST;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends the probe run from tx to rx and checks what rx gets; true when all
 * PROBE_N arrived intact and in order (and, with want_coalesced, at least
 * one message held more than one). */
static bool probe_once(struct udp_sock *tx, struct udp_sock *rx, uint8_t *buf, bool want_coalesced,
		       int timeout_ms)
{
	static const uint8_t lo[4] = {127, 0, 0, 1};
	struct udp_msg msgs[PROBE_SLOTS > PROBE_N ? PROBE_SLOTS : PROBE_N];
	struct sockaddr_in *to = (struct sockaddr_in *)&msgs[0].addr;
	int64_t deadline = mono_ms() + timeout_ms;
	unsigned seen = 0;
	bool coalesced = false;

	memset(msgs, 0, sizeof(msgs));
	to->sin_family = AF_INET;
	to->sin_port = htons(rx->port);
	memcpy(&to->sin_addr, lo, sizeof(lo));
	for (unsigned i = 0; i < PROBE_N; i++) {
		msgs[i].addr = msgs[0].addr;
		msgs[i].data = buf + i * PROBE_SEG;
		msgs[i].len = probe_len(i);
		for (size_t j = 0; j < msgs[i].len; j++)
			msgs[i].data[j] = (uint8_t)(i * 31 + j);
	}
	if (udp_send_batch(tx, msgs, PROBE_N) != PROBE_N)
		return false;
	while (seen < PROBE_N) {
		struct pollfd p = {.fd = rx->fd, .events = POLLIN};
		int64_t left = deadline - mono_ms();
		int n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return false;
		for (unsigned i = 0; i < PROBE_SLOTS; i++) {
			msgs[i].data = buf + (size_t)i * UDP_GRO_BUF_MIN;
			msgs[i].cap = UDP_GRO_BUF_MIN;
		}
		n = udp_recv_batch(rx, msgs, PROBE_SLOTS);
		for (int i = 0; i < n; i++) {
			size_t off = 0, len;
			uint8_t *d;

			coalesced |= msgs[i].segment != 0;
			while (udp_msg_next_segment(&msgs[i], &off, &d, &len)) {
				if (seen >= PROBE_N || len != probe_len(seen))
					return false;
				for (size_t j = 0; j < len; j++)
					if (d[j] != (uint8_t)(seen * 31 + j))
						return false;
				seen++;
			}
		}
	}
	return !want_coalesced || coalesced;
}

/* True when this namespace's loopback is up (the probe's only path). */
static bool loopback_up(void)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool up;

	if (fd < 0)
		return false;
	memcpy(ifr.ifr_name, "lo", 3);
	up = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
	close(fd);
	return up;
}

int udp_offload_selftest(unsigned want, int timeout_ms)
{
	struct udp_sock tx = {.fd = -1}, plain = {.fd = -1}, gro = {.fd = -1};
	uint8_t *buf;
	unsigned ok = 0;

	if (!loopback_up())
		return -ENETDOWN;
	buf = malloc((size_t)PROBE_SLOTS * UDP_GRO_BUF_MIN);
	if (!buf || udp_open(&tx, 0) < 0 || udp_open(&plain, 0) < 0 || udp_open(&gro, 0) < 0)
		goto out;
	/* GSO: the kernel segments the run for a socket that takes no GRO. */
	if ((want & UDP_OFFLOAD_GSO) && udp_enable_offload(&tx, UDP_OFFLOAD_GSO) &&
	    probe_once(&tx, &plain, buf, false, timeout_ms) && tx.offloads == UDP_OFFLOAD_GSO)
		ok |= UDP_OFFLOAD_GSO;
	/* GRO: with GSO working the run arrives as one coalesced message that
	 * must walk back into the same datagrams; without it, plain datagrams
	 * must still come through a GRO socket unharmed. */
	if ((want & UDP_OFFLOAD_GRO) && udp_enable_offload(&gro, UDP_OFFLOAD_GRO) &&
	    udp_enable_offload(&tx, ok & UDP_OFFLOAD_GSO) == (int)(ok & UDP_OFFLOAD_GSO) &&
	    probe_once(&tx, &gro, buf, ok & UDP_OFFLOAD_GSO, timeout_ms))
		ok |= UDP_OFFLOAD_GRO;
out:
	udp_close(&tx);
	udp_close(&plain);
	udp_close(&gro);
	free(buf);
	return (int)ok;
}
