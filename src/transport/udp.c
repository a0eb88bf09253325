/* UDP transport: socket set-up, address mapping for the dual-stack socket,
 * and recvmmsg/sendmmsg batching. The layer is where UDP GSO/GRO will plug
 * in (UDP_SEGMENT / UDP_GRO control messages) without changing callers:
 * a udp_msg may then carry several segments of one size. */
#include "transport/udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static socklen_t to_wire(const struct udp_sock *s, const struct sockaddr_storage *in,
			 struct sockaddr_storage *out)
{
	if (s->family == AF_INET6 && in->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)in;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;

		memset(sin6, 0, sizeof(*sin6));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = sin->sin_port;
		sin6->sin6_addr.s6_addr[10] = 0xff;
		sin6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&sin6->sin6_addr.s6_addr[12], &sin->sin_addr, 4);
		return sizeof(*sin6);
	}
	memcpy(out, in, sizeof(*out));
	return in->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static void from_wire(struct sockaddr_storage *addr)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)addr;
	struct sockaddr_in sin;

	if (addr->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = sin6->sin6_port;
	memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
	memset(addr, 0, sizeof(*addr));
	memcpy(addr, &sin, sizeof(sin));
}

static int open_family(struct udp_sock *s, int family, uint16_t port)
{
	int ret, zero = 0;
	int bufsz = 4 << 20;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		/* Dual-stack: IPv4 peers reach us as v4-mapped addresses. */
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
			goto fail;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	}
	/* No SO_REUSEADDR: on UDP it would let a second daemon bind the same
	 * port and steal half the datagrams. Bigger buffers absorb bursts
	 * between two wake-ups; failing to grow them is harmless. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		goto fail;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto fail;
	s->fd = fd;
	s->family = family;
	s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

int udp_open(struct udp_sock *s, uint16_t port)
{
	int ret = open_family(s, AF_INET6, port);

	/* A host (or namespace) without IPv6 still gets an IPv4 socket. */
	if (ret == -EAFNOSUPPORT || ret == -EADDRNOTAVAIL)
		ret = open_family(s, AF_INET, port);
	if (ret < 0)
		s->fd = -1;
	return ret;
}

void udp_close(struct udp_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

uint16_t udp_local_port(const struct udp_sock *s)
{
	return s->port;
}

int udp_recv_batch(struct udp_sock *s, struct udp_msg *msgs, unsigned n)
{
	struct mmsghdr mh[UDP_BATCH_MAX];
	struct iovec iov[UDP_BATCH_MAX];
	int got, kept = 0;

	if (n > UDP_BATCH_MAX)
		n = UDP_BATCH_MAX;
	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = msgs[i].data;
		iov[i].iov_len = msgs[i].cap;
		memset(&mh[i], 0, sizeof(mh[i]));
		mh[i].msg_hdr.msg_iov = &iov[i];
		mh[i].msg_hdr.msg_iovlen = 1;
		mh[i].msg_hdr.msg_name = &msgs[i].addr;
		mh[i].msg_hdr.msg_namelen = sizeof(msgs[i].addr);
	}
	got = recvmmsg(s->fd, mh, n, MSG_DONTWAIT, NULL);
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
	for (int i = 0; i < got; i++) {
		/* A datagram larger than our buffer cannot be ours (we never send
		 * more than MTU + overhead): drop it rather than parse a prefix. */
		if (mh[i].msg_hdr.msg_flags & MSG_TRUNC)
			continue;
		if (kept != i) {
			/* Compact: move the datagram's bytes into slot kept. */
			memmove(msgs[kept].data, msgs[i].data, mh[i].msg_len);
			memcpy(&msgs[kept].addr, &msgs[i].addr, sizeof(msgs[i].addr));
		}
		msgs[kept].len = mh[i].msg_len;
		from_wire(&msgs[kept].addr);
		kept++;
	}
	return kept;
}

int udp_send_batch(struct udp_sock *s, struct udp_msg *msgs, unsigned n)
{
	struct mmsghdr mh[UDP_BATCH_MAX];
	struct iovec iov[UDP_BATCH_MAX];
	struct sockaddr_storage to[UDP_BATCH_MAX];
	unsigned done = 0;

	if (n > UDP_BATCH_MAX)
		n = UDP_BATCH_MAX;
	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = msgs[i].data;
		iov[i].iov_len = msgs[i].len;
		memset(&mh[i], 0, sizeof(mh[i]));
		mh[i].msg_hdr.msg_iov = &iov[i];
		mh[i].msg_hdr.msg_iovlen = 1;
		mh[i].msg_hdr.msg_name = &to[i];
		mh[i].msg_hdr.msg_namelen = to_wire(s, &msgs[i].addr, &to[i]);
	}
	while (done < n) {
		int r = sendmmsg(s->fd, mh + done, n - done, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (done == 0 && (errno == EAGAIN || errno == ENOBUFS))
				return -errno;
			/* The first unsent datagram was refused (no route,
			 * EMSGSIZE, ...): count it lost and go on with the rest. */
			done++;
			continue;
		}
		done += (unsigned)r;
	}
	return (int)done;
}

int udp_send(struct udp_sock *s, const void *data, size_t len, const struct sockaddr_storage *to)
{
	struct sockaddr_storage w;
	socklen_t wl = to_wire(s, to, &w);

	if (sendto(s->fd, data, len, 0, (struct sockaddr *)&w, wl) < 0)
		return -errno;
	return 0;
}
