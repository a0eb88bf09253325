/* Our own datagrams coming back out of the TUN (loop.h): a parse of just
 * enough of the IPv4 or IPv6 header to find the UDP ports, and the match
 * against one endpoint. */
#include "routing/loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "util/addr.h"

enum {
	IPV4_HDR_MIN = 20,
	IPV4_PROTO = 9,
	IPV4_FRAG = 6, /* flags (3 bits) and fragment offset (13 bits) */
	IPV4_DST = 16,
	IPV6_HDR = 40,
	IPV6_NEXT = 6,
	IPV6_DST = 24,
	IPV6_FRAG_HDR = 8, /* next header, reserved, offset and flags, id */
	UDP_PORTS = 4,	   /* source and destination port */
	PROTO_UDP = 17,
	PROTO_V6_FRAGMENT = 44,
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The ports at l4 (when the fragment holds them) into out. */
static bool fill_ports(const uint8_t *pkt, size_t len, size_t l4, bool later, struct rt_udp *out)
{
	out->later_fragment = later;
	out->sport = out->dport = 0;
	if (later)
		return true;
	if (len < l4 + UDP_PORTS)
		return false;
	out->sport = be16(pkt + l4);
	out->dport = be16(pkt + l4 + 2);
	return true;
}

static bool parse_v4(const uint8_t *pkt, size_t len, struct rt_udp *out)
{
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;

	if (len < IPV4_HDR_MIN || ihl < IPV4_HDR_MIN || pkt[IPV4_PROTO] != PROTO_UDP)
		return false;
	out->family = AF_INET;
	out->dst = pkt + IPV4_DST;
	return fill_ports(pkt, len, ihl, (be16(pkt + IPV4_FRAG) & 0x1fff) != 0, out);
}

static bool parse_v6(const uint8_t *pkt, size_t len, struct rt_udp *out)
{
	size_t l4 = IPV6_HDR;
	bool later = false;

	if (len < IPV6_HDR)
		return false;
	if (pkt[IPV6_NEXT] == PROTO_V6_FRAGMENT) {
		if (len < IPV6_HDR + IPV6_FRAG_HDR || pkt[IPV6_HDR] != PROTO_UDP)
			return false;
		later = (be16(pkt + IPV6_HDR + 2) & 0xfff8) != 0;
		l4 += IPV6_FRAG_HDR;
	} else if (pkt[IPV6_NEXT] != PROTO_UDP) {
		return false;
	}
	out->family = AF_INET6;
	out->dst = pkt + IPV6_DST;
	return fill_ports(pkt, len, l4, later, out);
}

bool rt_udp_parse(const uint8_t *pkt, size_t len, struct rt_udp *out)
{
	if (len < 1)
		return false;
	switch (pkt[0] >> 4) {
	case 4:
		return parse_v4(pkt, len, out);
	case 6:
		return parse_v6(pkt, len, out);
	default:
		return false;
	}
}

bool rt_udp_is_ours_to(const struct rt_udp *u, uint16_t our_port,
		       const struct sockaddr_storage *endpoint)
{
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)endpoint;
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)endpoint;
	uint16_t port;

	if (u->family != endpoint->ss_family)
		return false;
	if (u->family == AF_INET ? memcmp(u->dst, &v4->sin_addr, 4) != 0
				 : memcmp(u->dst, &v6->sin6_addr, 16) != 0)
		return false;
	port = addr_port(endpoint);
	/* A later fragment has no ports: the address must do. Fragments of
	 * someone else's UDP to a peer's own outer address through that
	 * peer's tunnel are lost with it, but they would loop our own too. */
	return u->later_fragment || (u->sport == our_port && u->dport == port);
}
