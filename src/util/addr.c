/* Socket addresses (util/addr.h): the small operations every module used
 * to copy (port, length, equality, v4-mapped conversion, text), and the
 * candidate address rules. Text goes into the caller's buffer only: a
 * shared static buffer once made "path moved from X to Y" print X twice.
 *
 * Candidate rules: one function decides for both daemons, so the
 * rendezvous never stores what a peer would refuse and a peer refuses what
 * a rendezvous (or anyone who can make it say things) should not have
 * sent. The classes follow RFC 6890's special-purpose registries for what
 * is never a unicast host on the internet or a LAN; the own-address rule
 * stops a peer from being made to send at the rendezvous (or itself) on
 * behalf of someone else. */
#include "util/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

bool addr_is_ip(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET || a->ss_family == AF_INET6;
}

bool addr_from_ip(struct sockaddr_storage *out, int family, const void *ip, uint16_t port)
{
	memset(out, 0, sizeof(*out));
	if (family == AF_INET) {
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};

		memcpy(&sin.sin_addr, ip, 4);
		memcpy(out, &sin, sizeof(sin));
		return true;
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};

		memcpy(&sin6.sin6_addr, ip, 16);
		memcpy(out, &sin6, sizeof(sin6));
		return true;
	}
	return false;
}

uint16_t addr_port(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)a)->sin_port);
	if (a->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
	return 0;
}

void addr_set_port(struct sockaddr_storage *a, uint16_t port)
{
	if (a->ss_family == AF_INET)
		((struct sockaddr_in *)a)->sin_port = htons(port);
	else if (a->ss_family == AF_INET6)
		((struct sockaddr_in6 *)a)->sin6_port = htons(port);
}

socklen_t addr_len(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (a->ss_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

bool addr_is_any(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
	return a->ss_family == AF_INET6 &&
	       IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

bool addr_is_v4_mapped(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET6 &&
	       IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

void addr_unmap_v4(struct sockaddr_storage *a)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)a;

	if (!addr_is_v4_mapped(a))
		return;
	sin.sin_port = sin6->sin6_port;
	memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
	memset(a, 0, sizeof(*a));
	memcpy(a, &sin, sizeof(sin));
}

void addr_map_v4(struct sockaddr_storage *out, const struct sockaddr_storage *in)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	const struct sockaddr_in *sin = (const struct sockaddr_in *)in;

	if (in->ss_family != AF_INET) {
		if (out != in)
			memcpy(out, in, sizeof(*out));
		return;
	}
	sin6.sin6_port = sin->sin_port;
	sin6.sin6_addr.s6_addr[10] = 0xff;
	sin6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&sin6.sin6_addr.s6_addr[12], &sin->sin_addr, 4);
	memset(out, 0, sizeof(*out));
	memcpy(out, &sin6, sizeof(sin6));
}

bool addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		/* The scope id is part of a link-local address: fe80::1 on two
		 * links is two hosts. */
		return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return false;
}

const char *addr_format(char *buf, size_t size, const struct sockaddr_storage *a)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s:%u", ip, addr_port(a));
	} else if (a->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, ip, sizeof(ip));
		snprintf(buf, size, "[%s]:%u", ip, addr_port(a));
	} else {
		snprintf(buf, size, "(none)");
	}
	return buf;
}

static enum addr_reason v4_reason(const uint8_t b[4])
{
	if (!b[0] && !b[1] && !b[2] && !b[3])
		return ADDR_UNSPECIFIED;
	if (b[0] == 0)
		return ADDR_THIS_NETWORK;
	if (b[0] == 127)
		return ADDR_LOOPBACK;
	if (b[0] == 169 && b[1] == 254)
		return ADDR_LINK_LOCAL;
	if ((b[0] & 0xf0) == 224)
		return ADDR_MULTICAST;
	if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255)
		return ADDR_BROADCAST;
	if ((b[0] & 0xf0) == 240)
		return ADDR_RESERVED;
	return ADDR_OK;
}

static enum addr_reason v6_reason(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_UNSPECIFIED(a))
		return ADDR_UNSPECIFIED;
	if (IN6_IS_ADDR_LOOPBACK(a))
		return ADDR_LOOPBACK;
	if (IN6_IS_ADDR_MULTICAST(a))
		return ADDR_MULTICAST;
	if (IN6_IS_ADDR_LINKLOCAL(a))
		return ADDR_LINK_LOCAL;
	if (IN6_IS_ADDR_V4MAPPED(a))
		return ADDR_V4_MAPPED;
	/* ::/96 minus :: and ::1, which are caught above. */
	if (IN6_IS_ADDR_V4COMPAT(a))
		return ADDR_V4_COMPAT;
	return ADDR_OK;
}

/* The IP of ss as 4 or 16 bytes (v4-mapped folded to 4); 0 for no IP. */
static size_t ip_bytes(const struct sockaddr_storage *ss, uint8_t out[16])
{
	if (ss->ss_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		return 4;
	}
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(out, a->s6_addr + 12, 4);
			return 4;
		}
		memcpy(out, a->s6_addr, 16);
		return 16;
	}
	return 0;
}

bool addr_equal_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	uint8_t x[16], y[16];
	size_t lx = ip_bytes(a, x);

	return lx && ip_bytes(b, y) == lx && !memcmp(x, y, lx);
}

static bool is_own(const struct sockaddr_storage *a, const struct sockaddr_storage *own,
		   size_t n_own)
{
	for (size_t i = 0; i < n_own; i++)
		if (addr_equal_host(a, &own[i]))
			return true;
	return false;
}

static enum addr_reason reason_of(const struct sockaddr_storage *a,
				  const struct sockaddr_storage *own, size_t n_own)
{
	enum addr_reason why;

	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)a;

		why = v4_reason((const uint8_t *)&sin->sin_addr);
		if (why == ADDR_OK && !sin->sin_port)
			why = ADDR_PORT_ZERO;
	} else if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)a;

		why = v6_reason(&sin6->sin6_addr);
		if (why == ADDR_OK && !sin6->sin6_port)
			why = ADDR_PORT_ZERO;
	} else {
		return ADDR_BAD_FAMILY;
	}
	if (why == ADDR_OK && is_own(a, own, n_own))
		why = ADDR_OWN;
	return why;
}

bool addr_candidate_ok(const struct sockaddr_storage *a, const struct sockaddr_storage *own,
		       size_t n_own, enum addr_reason *why)
{
	enum addr_reason r = reason_of(a, own, n_own);

	if (why)
		*why = r;
	return r == ADDR_OK;
}

const char *addr_reason_name(enum addr_reason why)
{
	static const char *const names[ADDR_REASON_MAX] = {
	    [ADDR_OK] = "ok",
	    [ADDR_BAD_FAMILY] = "not an IP address",
	    [ADDR_PORT_ZERO] = "port 0",
	    [ADDR_UNSPECIFIED] = "unspecified",
	    [ADDR_THIS_NETWORK] = "0.0.0.0/8",
	    [ADDR_LOOPBACK] = "loopback",
	    [ADDR_MULTICAST] = "multicast",
	    [ADDR_LINK_LOCAL] = "link-local",
	    [ADDR_BROADCAST] = "broadcast",
	    [ADDR_RESERVED] = "reserved (240/4)",
	    [ADDR_V4_MAPPED] = "v4-mapped IPv6",
	    [ADDR_V4_COMPAT] = "v4-compatible IPv6",
	    [ADDR_OWN] = "own address",
	};

	return why < ADDR_REASON_MAX ? names[why] : "?";
}

int addr_source_towards(const struct sockaddr_storage *to, struct sockaddr_storage *out)
{
	socklen_t len = sizeof(*out);
	int fd = socket(to->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	memset(out, 0, sizeof(*out));
	if (connect(fd, (const struct sockaddr *)to, addr_len(to)) < 0 ||
	    getsockname(fd, (struct sockaddr *)out, &len) < 0)
		ret = -errno;
	close(fd);
	if (ret == 0) {
		addr_unmap_v4(out);
		addr_set_port(out, 0);
	}
	return ret;
}
