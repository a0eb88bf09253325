/* The Internet checksum (RFC 1071) for IPv4 headers and TCP/UDP over IPv4
 * and IPv6: what the offload code needs to finish a checksum the kernel left
 * to us (VIRTIO_NET_HDR_F_NEEDS_CSUM), to rewrite headers of split segments
 * and to verify segments before they are merged.
 *
 * Values are 16-bit words in numeric (host) form of the big-endian bytes on
 * the wire: a checksum c is stored as the bytes c >> 8, c & 0xff. Partial
 * sums are unfolded 32-bit accumulators that can be added together; only
 * the last piece of a checksummed range may have an odd length. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Adds the bytes of buf, as big-endian 16-bit words (a trailing odd byte is
 * the high byte of a last word), to the partial sum. */
uint32_t csum_add(uint32_t sum, const void *buf, size_t len);
/* Folds a partial sum into the checksum to store (ones' complement of the
 * folded sum). */
uint16_t csum_fold(uint32_t sum);
/* The pseudo-header of TCP/UDP over IPv4 (RFC 793, 768) and IPv6
 * (RFC 8200 8.1), as a partial sum; l4_len counts header and payload. */
uint32_t csum_pseudo_v4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint32_t l4_len);
uint32_t csum_pseudo_v6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
			uint32_t l4_len);
/* Stores the checksum of an IPv4 header of ihl_bytes (its checksum field,
 * bytes 10-11, is zeroed first). */
void csum_ipv4_header_set(uint8_t *hdr, size_t ihl_bytes);
