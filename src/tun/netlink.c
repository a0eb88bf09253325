/* rtnetlink requests over libmnl. Every request goes through transact(): it
 * stamps the next sequence number, sends, and reads until the answer is
 * complete, an NLMSG_ERROR (the ack, error 0 on success) or an NLMSG_DONE
 * ending a multi-part dump. Messages carrying another sequence number are
 * answers to an earlier request and are skipped; datagrams not sent by the
 * kernel (nl_pid != 0) are dropped, so a local process cannot forge an ack.
 *
 * Replies are read into a buffer of NL_RECV_SIZE, which also caps the size of
 * the kernel's dump batches; a truncated datagram fails the request rather
 * than silently losing part of a listing. */
#include "tun/netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

enum {
	NL_RECV_SIZE = 32768,
	NL_SEND_SIZE = 512, /* the largest request: a header and three attributes */
	NL_TIMEOUT_S = 5,   /* the kernel answers at once; this only bounds a hang */
};

/* Handles one data message of a reply: 0 to go on, else a value to return. */
typedef int msg_fn(const struct nlmsghdr *nlh, void *ctx);

struct reply {
	bool done;
	bool intr;
	int err;
	int stop;
};

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static int check_prefix(int ifindex, int family, const uint8_t *addr, uint8_t plen)
{
	size_t len = addr_len(family);

	if (len == 0)
		return -EAFNOSUPPORT;
	if (ifindex <= 0 || !addr || plen > len * 8)
		return -EINVAL;
	return 0;
}

/* Copies the network part of addr/plen, host bits cleared, as the IPv4 FIB
 * demands of a route's destination. */
static void mask_prefix(uint8_t *out, const uint8_t *addr, size_t len, uint8_t plen)
{
	for (size_t i = 0; i < len; i++) {
		unsigned bits = plen > i * 8 ? plen - i * 8 : 0;
		out[i] = bits >= 8 ? addr[i] : addr[i] & (uint8_t)(0xff00u >> bits);
	}
}

static struct nlmsghdr *put_request(void *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}

/* Keeps the kernel's extended ack text (NLMSGERR_ATTR_MSG) for the caller's
 * log line. The TLVs follow the echoed request unless the ack is capped. */
static void keep_ext_msg(struct nl_sock *nl, const struct nlmsghdr *nlh, const struct nlmsgerr *e)
{
	size_t off = sizeof(*e);
	const struct nlattr *attr;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < sizeof(struct nlmsghdr))
			return;
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	}
	if (MNL_ALIGN(off) > mnl_nlmsg_get_payload_len(nlh))
		return;
	mnl_attr_for_each(attr, nlh, off)
	{
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
			snprintf(nl->err_msg, sizeof(nl->err_msg), "%s", mnl_attr_get_str(attr));
			return;
		}
	}
}

static int error_of(struct nl_sock *nl, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
		return -EBADMSG;
	if (e->error == 0)
		return 0;
	keep_ext_msg(nl, nlh, e);
	/* The kernel sends -errno; anything else is not an answer we know. */
	return e->error < 0 ? e->error : -EPROTO;
}

/* The error a dump reports in its NLMSG_DONE (0 when it completed). */
static int done_error(const struct nlmsghdr *nlh)
{
	int err;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(err))
		return 0;
	memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	return err < 0 ? err : 0;
}

static void handle_batch(struct nl_sock *nl, const void *buf, int len, msg_fn *fn, void *ctx,
			 struct reply *r)
{
	const struct nlmsghdr *nlh = buf;

	for (; mnl_nlmsg_ok(nlh, len) && !r->done; nlh = mnl_nlmsg_next(nlh, &len)) {
		if (nlh->nlmsg_seq != nl->seq)
			continue; /* a late answer to an earlier request */
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
			r->intr = true;
		switch (nlh->nlmsg_type) {
		case NLMSG_NOOP:
			break;
		case NLMSG_ERROR:
			r->err = error_of(nl, nlh);
			r->done = true;
			break;
		case NLMSG_DONE:
			r->err = done_error(nlh);
			r->done = true;
			break;
		case NLMSG_OVERRUN:
			r->err = -EOVERFLOW;
			r->done = true;
			break;
		default:
			if (fn && r->stop == 0)
				r->stop = fn(nlh, ctx);
			break;
		}
	}
}

/* Receives one datagram from the kernel: its length or -errno. */
static int recv_kernel(struct nl_sock *nl, void *buf, size_t len)
{
	struct sockaddr_nl sa;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	for (;;) {
		msg.msg_name = &sa;
		msg.msg_namelen = sizeof(sa);
		n = recvmsg(mnl_socket_get_fd(nl->mnl), &msg, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		if (msg.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		if (msg.msg_namelen != sizeof(sa) || sa.nl_family != AF_NETLINK || sa.nl_pid != 0)
			continue; /* not from the kernel */
		return (int)n;
	}
}

static int transact(struct nl_sock *nl, struct nlmsghdr *nlh, msg_fn *fn, void *ctx)
{
	uint8_t buf[NL_RECV_SIZE] __attribute__((aligned(8)));
	struct reply r = {0};
	int n;

	if (!nl->mnl)
		return -EBADF;
	nl->err_msg[0] = '\0';
	nlh->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->mnl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while (!r.done) {
		n = recv_kernel(nl, buf, sizeof(buf));
		if (n < 0)
			return n;
		handle_batch(nl, buf, n, fn, ctx, &r);
	}
	if (r.stop)
		return r.stop;
	if (r.err)
		return r.err;
	return r.intr ? -EINTR : 0;
}

int nl_open(struct nl_sock *nl)
{
	struct timeval tv = {.tv_sec = NL_TIMEOUT_S};
	int one = 1;
	int ret;

	memset(nl, 0, sizeof(*nl));
	nl->mnl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->mnl)
		return -errno;
	if (mnl_socket_bind(nl->mnl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	nl->portid = mnl_socket_get_portid(nl->mnl);
	if (setsockopt(mnl_socket_get_fd(nl->mnl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		ret = -errno;
		goto out;
	}
	/* Both only improve error reports (a text, smaller acks); kernels
	 * without them still work, so failures are ignored. */
	(void)mnl_socket_setsockopt(nl->mnl, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)mnl_socket_setsockopt(nl->mnl, NETLINK_CAP_ACK, &one, sizeof(one));
	ret = 0;
out:
	if (ret < 0)
		nl_close(nl);
	return ret;
}

void nl_close(struct nl_sock *nl)
{
	if (nl->mnl)
		mnl_socket_close(nl->mnl);
	nl->mnl = NULL;
}

static int link_request(struct nl_sock *nl, uint16_t type, int ifindex, unsigned flags,
			unsigned change, const unsigned *mtu)
{
	uint8_t buf[NL_SEND_SIZE] __attribute__((aligned(8)));
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	if (ifindex <= 0)
		return -EINVAL;
	nlh = put_request(buf, type, NLM_F_ACK);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = flags;
	ifi->ifi_change = change;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, *mtu);
	return transact(nl, nlh, NULL, NULL);
}

int nl_link_set_mtu(struct nl_sock *nl, int ifindex, unsigned mtu)
{
	return link_request(nl, RTM_SETLINK, ifindex, 0, 0, &mtu);
}

int nl_link_set_up(struct nl_sock *nl, int ifindex, bool up)
{
	return link_request(nl, RTM_SETLINK, ifindex, up ? IFF_UP : 0, IFF_UP, NULL);
}

int nl_link_delete(struct nl_sock *nl, int ifindex)
{
	return link_request(nl, RTM_DELLINK, ifindex, 0, 0, NULL);
}

struct link_info {
	int ifindex;
	bool found;
	unsigned mtu;
	bool up;
};

static int link_attr(const struct nlattr *attr, void *data)
{
	struct link_info *li = data;

	if (mnl_attr_get_type(attr) == IFLA_MTU && mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		li->mtu = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int link_msg(const struct nlmsghdr *nlh, void *ctx)
{
	struct link_info *li = ctx;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi) ||
	    ifi->ifi_index != li->ifindex)
		return 0;
	li->found = true;
	li->up = ifi->ifi_flags & IFF_UP;
	if (mnl_attr_parse(nlh, sizeof(*ifi), link_attr, li) < 0)
		return -EBADMSG;
	return 0;
}

int nl_link_get(struct nl_sock *nl, int ifindex, unsigned *mtu, bool *up)
{
	uint8_t buf[NL_SEND_SIZE] __attribute__((aligned(8)));
	struct link_info li = {.ifindex = ifindex};
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int ret;

	if (ifindex <= 0)
		return -EINVAL;
	nlh = put_request(buf, RTM_GETLINK, NLM_F_ACK);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ret = transact(nl, nlh, link_msg, &li);
	if (ret < 0)
		return ret;
	if (!li.found)
		return -ENODEV;
	if (mtu)
		*mtu = li.mtu;
	if (up)
		*up = li.up;
	return 0;
}

static int addr_request(struct nl_sock *nl, uint16_t type, uint16_t flags, int ifindex, int family,
			const uint8_t *addr, uint8_t plen)
{
	uint8_t buf[NL_SEND_SIZE] __attribute__((aligned(8)));
	size_t len = addr_len(family);
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	int ret = check_prefix(ifindex, family, addr, plen);

	if (ret < 0)
		return ret;
	nlh = put_request(buf, type, NLM_F_ACK | flags);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	/* LOCAL and ADDRESS equal: our own address, not a point-to-point
	 * peer, so the kernel adds the prefix route for plen. */
	mnl_attr_put(nlh, IFA_LOCAL, len, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, len, addr);
	if (family == AF_INET6) {
		/* Nobody else is on a TUN link: skip duplicate address
		 * detection so the address is not tentative for a second. */
		ifa->ifa_flags = IFA_F_NODAD;
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	}
	return transact(nl, nlh, NULL, NULL);
}

int nl_addr_add(struct nl_sock *nl, int ifindex, int family, const uint8_t *addr, uint8_t plen)
{
	return addr_request(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, family, addr,
			    plen);
}

int nl_addr_del(struct nl_sock *nl, int ifindex, int family, const uint8_t *addr, uint8_t plen)
{
	return addr_request(nl, RTM_DELADDR, 0, ifindex, family, addr, plen);
}

struct addr_dump {
	nl_addr_fn *fn;
	void *ctx;
	struct nl_addr a;
	bool have_local;
};

static int addr_attr(const struct nlattr *attr, void *data)
{
	struct addr_dump *d = data;
	size_t len = addr_len(d->a.family);
	uint16_t type = mnl_attr_get_type(attr);

	if ((type == IFA_LOCAL || (type == IFA_ADDRESS && !d->have_local)) &&
	    mnl_attr_get_payload_len(attr) == len) {
		memcpy(d->a.addr, mnl_attr_get_payload(attr), len);
		d->have_local |= type == IFA_LOCAL;
	} else if (type == IFA_FLAGS && mnl_attr_validate(attr, MNL_TYPE_U32) == 0) {
		d->a.flags = mnl_attr_get_u32(attr);
	}
	return MNL_CB_OK;
}

static int addr_msg(const struct nlmsghdr *nlh, void *ctx)
{
	struct addr_dump *d = ctx;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa) ||
	    addr_len(ifa->ifa_family) == 0)
		return 0;
	memset(&d->a, 0, sizeof(d->a));
	d->have_local = false;
	d->a.ifindex = (int)ifa->ifa_index;
	d->a.family = ifa->ifa_family;
	d->a.plen = ifa->ifa_prefixlen;
	d->a.flags = ifa->ifa_flags; /* IFA_FLAGS, when present, has all 32 bits */
	/* On a point-to-point link IFA_ADDRESS is the peer: IFA_LOCAL wins. */
	if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr, d) < 0)
		return -EBADMSG;
	return d->fn(&d->a, d->ctx);
}

int nl_addr_dump(struct nl_sock *nl, nl_addr_fn *fn, void *ctx)
{
	uint8_t buf[NL_SEND_SIZE] __attribute__((aligned(8)));
	struct addr_dump d = {.fn = fn, .ctx = ctx};
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;

	if (!fn)
		return -EINVAL;
	nlh = put_request(buf, RTM_GETADDR, NLM_F_DUMP);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	return transact(nl, nlh, addr_msg, &d);
}

static int route_request(struct nl_sock *nl, uint16_t type, uint16_t flags, unsigned char scope,
			 int ifindex, int family, const uint8_t *dst, uint8_t plen)
{
	uint8_t buf[NL_SEND_SIZE] __attribute__((aligned(8)));
	uint8_t net[16];
	size_t len = addr_len(family);
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int ret = check_prefix(ifindex, family, dst, plen);

	if (ret < 0)
		return ret;
	mask_prefix(net, dst, len, plen);
	nlh = put_request(buf, type, NLM_F_ACK | flags);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = plen;
	rtm->rtm_table = RT_TABLE_MAIN;
	/* Deleting matches on protocol too, so only our own routes go. */
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = scope;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, len, net);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return transact(nl, nlh, NULL, NULL);
}

int nl_route_add(struct nl_sock *nl, int ifindex, int family, const uint8_t *dst, uint8_t plen)
{
	return route_request(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, RT_SCOPE_LINK, ifindex,
			     family, dst, plen);
}

int nl_route_del(struct nl_sock *nl, int ifindex, int family, const uint8_t *dst, uint8_t plen)
{
	/* Scope "nowhere" matches a route of any scope, as ip-route does. */
	return route_request(nl, RTM_DELROUTE, 0, RT_SCOPE_NOWHERE, ifindex, family, dst, plen);
}

struct route_dump {
	nl_route_fn *fn;
	void *ctx;
	struct nl_route r;
};

static int route_attr(const struct nlattr *attr, void *data)
{
	struct route_dump *d = data;
	size_t len = addr_len(d->r.family);

	switch (mnl_attr_get_type(attr)) {
	case RTA_DST:
		if (mnl_attr_get_payload_len(attr) == len)
			memcpy(d->r.dst, mnl_attr_get_payload(attr), len);
		break;
	case RTA_OIF:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			d->r.ifindex = (int)mnl_attr_get_u32(attr);
		break;
	case RTA_GATEWAY:
		if (mnl_attr_get_payload_len(attr) == len) {
			memcpy(d->r.gateway, mnl_attr_get_payload(attr), len);
			d->r.has_gateway = true;
		}
		break;
	case RTA_PRIORITY:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			d->r.metric = mnl_attr_get_u32(attr);
		break;
	case RTA_TABLE:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			d->r.table = mnl_attr_get_u32(attr);
		break;
	}
	return MNL_CB_OK;
}

static int route_msg(const struct nlmsghdr *nlh, void *ctx)
{
	struct route_dump *d = ctx;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm) ||
	    addr_len(rtm->rtm_family) == 0)
		return 0;
	memset(&d->r, 0, sizeof(d->r));
	d->r.family = rtm->rtm_family;
	d->r.plen = rtm->rtm_dst_len;
	d->r.table = rtm->rtm_table; /* RTA_TABLE, when present, has all 32 bits */
	d->r.protocol = rtm->rtm_protocol;
	d->r.type = rtm->rtm_type;
	if (mnl_attr_parse(nlh, sizeof(*rtm), route_attr, d) < 0)
		return -EBADMSG;
	return d->fn(&d->r, d->ctx);
}

int nl_route_dump(struct nl_sock *nl, int family, nl_route_fn *fn, void *ctx)
{
	uint8_t buf[NL_SEND_SIZE] __attribute__((aligned(8)));
	struct route_dump d = {.fn = fn, .ctx = ctx};
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	if (addr_len(family) == 0)
		return -EAFNOSUPPORT;
	if (!fn)
		return -EINVAL;
	nlh = put_request(buf, RTM_GETROUTE, NLM_F_DUMP);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	return transact(nl, nlh, route_msg, &d);
}
