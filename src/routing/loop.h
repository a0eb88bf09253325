/* Recognises our own encrypted datagrams among the packets read from the
 * TUN, without I/O. When a route sends a peer's endpoint into the tunnel
 * (allowed_ips covering the peer's outer address, or an `ip route ... dev
 * p2p0`), every datagram the daemon sends to that endpoint comes back out
 * of the TUN as an inner packet; encrypting it again makes a new datagram
 * that loops the same way, and with a session up the daemon spins at full
 * CPU (SECURITY-NOTES 6.17). Such a packet is UDP from the daemon's own
 * port to the endpoint's address and port; the kernel may have fragmented
 * it, and a later fragment carries no ports, so it is matched on the
 * address alone. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The UDP header fields of an inner IPv4 or IPv6 packet. */
struct rt_udp {
	int family;	    /* AF_INET or AF_INET6 */
	const uint8_t *dst; /* 4 or 16 bytes inside the packet */
	uint16_t sport, dport;
	bool later_fragment; /* a fragment past the first: no ports (both 0) */
};

/* True when pkt[0..len) is a UDP packet (or a fragment of one) whose header
 * is whole; fills out. IPv6: UDP right after the fixed header or after one
 * fragment header, as the kernel builds our own datagrams. */
bool rt_udp_parse(const uint8_t *pkt, size_t len, struct rt_udp *out)
    __attribute__((warn_unused_result));
/* True when u is (part of) a datagram sent from our_port to endpoint (an
 * AF_INET or AF_INET6 address, never v4-mapped). */
bool rt_udp_is_ours_to(const struct rt_udp *u, uint16_t our_port,
		       const struct sockaddr_storage *endpoint) __attribute__((warn_unused_result));
