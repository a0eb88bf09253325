/* Checks on the inner IP packet, without I/O. A decrypted packet is only
 * written to the TUN if its header is consistent with the bytes that arrived
 * (SECURITY-NOTES 6.9); the sender's padding to a multiple of 16 is cut off
 * using the length the IP header states. The source check against the peer's
 * allowed IPs is rt_lookup(table, in.family, in.src) == peer. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why rt_inner_parse refused a packet, one drop counter each. */
enum rt_inner_drop {
	RT_INNER_OK = 0,
	RT_INNER_TOO_SHORT,   /* shorter than the fixed header of its version */
	RT_INNER_BAD_VERSION, /* version nibble neither 4 nor 6 */
	RT_INNER_BAD_IHL,     /* IPv4 header length below 20 bytes */
	RT_INNER_BAD_LENGTH,  /* IPv4 total length below the header or past the data */
	RT_INNER_V6_LENGTH,   /* IPv6 40 + payload length past the data */
	RT_INNER_DROP_MAX,
};

struct rt_inner {
	int family;	    /* AF_INET or AF_INET6 */
	const uint8_t *src; /* 4 or 16 bytes inside the packet */
	const uint8_t *dst;
	size_t ip_len;		 /* length the header states; bytes after it are padding */
	enum rt_inner_drop drop; /* RT_INNER_OK, or why parsing failed */
};

/* Validates the IP header of pkt[0..len) and fills out (on failure only
 * out->drop is meaningful). True when the packet may be delivered, trimmed to
 * out->ip_len. */
bool rt_inner_parse(const uint8_t *pkt, size_t len, struct rt_inner *out)
    __attribute__((warn_unused_result));
/* For a packet read from the TUN: its family and destination address (inside
 * pkt), enough to pick the peer; false when it is not IPv4 or IPv6 or is too
 * short to hold the address. */
bool rt_packet_dst(const uint8_t *pkt, size_t len, int *family, const uint8_t **dst)
    __attribute__((warn_unused_result));
/* A short lower-case name for a drop reason, for logs and counters. */
const char *rt_inner_drop_str(enum rt_inner_drop drop);
