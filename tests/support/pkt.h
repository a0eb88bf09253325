/* Packets for tests, built byte by byte without the production helpers
 * under test (util/csum): the Internet checksum one word at a time, the
 * IPv4 and IPv6 pseudo-header sum, and an IPv4/UDP datagram. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 1071, one big-endian word at a time (an odd last byte padded with
 * zero), folded to 16 bits on every step: sum plus the words of p[0..len). */
uint32_t pkt_ref_sum(uint32_t sum, const uint8_t *p, size_t len);
/* The pseudo-header sum (RFC 768, RFC 8200 section 8.1) of the IPv4 or IPv6
 * packet at p (addresses read from its header) for protocol proto and an
 * L4 part of l4_len bytes. */
uint32_t pkt_ref_pseudo(const uint8_t *p, bool v6, uint8_t proto, uint32_t l4_len);
/* Writes an IPv4/UDP datagram src:sport -> dst:dport (dotted quads) with
 * payload[0..n) into p: DF, TTL 64, IPv4 header checksum set, UDP checksum 0
 * (none, allowed for IPv4). Its length, 28 + n. */
size_t pkt_udp4(uint8_t *p, const char *src, uint16_t sport, const char *dst, uint16_t dport,
		const void *payload, size_t n);
