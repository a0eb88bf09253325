/* UDP sockets bound to one address each, with destination-address control
 * messages on wildcard sockets. Receives are batched (recvmmsg); sends are
 * one sendmsg each, since nearly every send answers one datagram. */
#include "rendezvous/sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "util/addr.h"

enum { CMSG_BUF = 64 };

/* An address for this socket's family: AF_INET as v4-mapped on AF_INET6. */
static socklen_t to_family(const struct rdv_sock *s, const struct sockaddr_storage *in,
			   struct sockaddr_storage *out)
{
	if (s->family == AF_INET6)
		addr_map_v4(out, in);
	else
		*out = *in;
	return addr_len(out);
}

int rdv_sock_open(struct rdv_sock *s, const struct sockaddr_storage *addr)
{
	int one = 1, zero = 0, bufsz = 4 << 20, ret;
	socklen_t len = addr_len(addr);

	memset(s, 0, sizeof(*s));
	s->fd = socket(addr->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -errno;
	s->family = addr->ss_family;
	s->wildcard = addr_is_any(addr);
	/* [::] also serves IPv4 clients, as the daemon's socket does. */
	if (s->family == AF_INET6 && s->wildcard &&
	    setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		goto fail;
	if (s->wildcard && s->family == AF_INET &&
	    setsockopt(s->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
		goto fail;
	/* On [::] IPV6_PKTINFO also reports IPv4 destinations, v4-mapped. */
	if (s->wildcard && s->family == AF_INET6 &&
	    setsockopt(s->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0)
		goto fail;
	/* No SO_REUSEADDR (a second process would share the port). Bigger
	 * buffers absorb bursts; not getting them is harmless. */
	(void)setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	(void)setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (bind(s->fd, (const struct sockaddr *)addr, len) < 0)
		goto fail;
	len = sizeof(s->bound);
	if (getsockname(s->fd, (struct sockaddr *)&s->bound, &len) < 0)
		goto fail;
	addr_unmap_v4(&s->bound);
	return 0;
fail:
	ret = -errno;
	close(s->fd);
	s->fd = -1;
	return ret;
}

void rdv_sock_close(struct rdv_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* The destination of a datagram from its control messages; the bound
 * address when there are none (a specific-address socket). */
static void read_local(const struct rdv_sock *s, struct msghdr *mh, struct sockaddr_storage *local)
{
	uint16_t port = htons(addr_port(&s->bound));

	*local = s->bound;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			struct sockaddr_in *sin = (struct sockaddr_in *)local;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(local, 0, sizeof(*local));
			sin->sin_family = AF_INET;
			sin->sin_port = port;
			sin->sin_addr = pi.ipi_addr;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)local;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(local, 0, sizeof(*local));
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = port;
			sin6->sin6_addr = pi.ipi6_addr;
			addr_unmap_v4(local);
		}
	}
}

int rdv_sock_recv(struct rdv_sock *s, struct rdv_dgram *d, unsigned n)
{
	struct mmsghdr mm[RDV_SOCK_BATCH];
	struct iovec iov[RDV_SOCK_BATCH];
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_BUF];
	} cm[RDV_SOCK_BATCH];
	int got, kept = 0;

	if (n > RDV_SOCK_BATCH)
		n = RDV_SOCK_BATCH;
	memset(mm, 0, n * sizeof(mm[0]));
	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = d[i].data;
		iov[i].iov_len = d[i].cap;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_name = &d[i].from;
		mm[i].msg_hdr.msg_namelen = sizeof(d[i].from);
		mm[i].msg_hdr.msg_control = cm[i].buf;
		mm[i].msg_hdr.msg_controllen = sizeof(cm[i].buf);
	}
	got = recvmmsg(s->fd, mm, n, MSG_DONTWAIT, NULL);
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
	for (int i = 0; i < got; i++) {
		/* A cut datagram is not the datagram that was sent. */
		if (mm[i].msg_hdr.msg_flags & MSG_TRUNC)
			continue;
		if (kept != i) {
			d[kept].from = d[i].from;
			memcpy(d[kept].data, d[i].data, mm[i].msg_len);
		}
		d[kept].len = mm[i].msg_len;
		addr_unmap_v4(&d[kept].from);
		read_local(s, &mm[i].msg_hdr, &d[kept].local);
		kept++;
	}
	return kept;
}

int rdv_sock_send(struct rdv_sock *s, const void *data, size_t len,
		  const struct sockaddr_storage *to, const struct sockaddr_storage *local)
{
	struct sockaddr_storage dst;
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_BUF];
	} cm;
	struct msghdr mh = {.msg_name = &dst, .msg_iov = &iov, .msg_iovlen = 1};

	if (to->ss_family != AF_INET && to->ss_family != AF_INET6)
		return -EAFNOSUPPORT;
	mh.msg_namelen = to_family(s, to, &dst);
	memset(&cm, 0, sizeof(cm));
	if (s->wildcard && local && local->ss_family == AF_INET && s->family == AF_INET) {
		struct cmsghdr *c = (struct cmsghdr *)cm.buf;
		struct in_pktinfo pi = {.ipi_spec_dst =
					    ((const struct sockaddr_in *)local)->sin_addr};

		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(pi));
	} else if (s->wildcard && local && s->family == AF_INET6) {
		struct cmsghdr *c = (struct cmsghdr *)cm.buf;
		struct in6_pktinfo pi;
		struct sockaddr_storage src;

		/* The kernel takes a v4-mapped source for an IPv4 destination. */
		to_family(s, local, &src);
		memset(&pi, 0, sizeof(pi));
		pi.ipi6_addr = ((const struct sockaddr_in6 *)&src)->sin6_addr;
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(pi));
	}
	if (sendmsg(s->fd, &mh, MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
}
