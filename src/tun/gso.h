/* Reading side of the TUN offloads: what a frame read from an IFF_VNET_HDR
 * device may leave to us. With TUN_F_CSUM the kernel hands over TCP/UDP
 * packets whose L4 checksum is only the pseudo-header sum
 * (VIRTIO_NET_HDR_F_NEEDS_CSUM); with TSO/USO it hands over super-packets of
 * up to 65535 bytes (one IP and one TCP/UDP header in front of many
 * segments' payload) that we cut into packets of gso_size payload bytes.
 *
 * The virtio_net_hdr comes from the kernel and is in the host's byte order
 * (we never set TUNSETVNETLE/BE). None of its hdr_len, csum_start and
 * csum_offset is trusted: the header lengths are taken from the IP and
 * TCP/UDP headers and checked against the frame length; csum_start and
 * csum_offset, when NEEDS_CSUM is set, must agree with them.
 *
 * Nothing here allocates or does I/O: the fuzzer and unit tests drive it
 * with bytes. */
#pragma once
#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdint.h>

/* Older uapi headers lack these (Linux 6.2). */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

/* Completes the L4 checksum of a frame with VIRTIO_NET_HDR_F_NEEDS_CSUM: the
 * full TCP/UDP checksum (pseudo-header, header, payload) is computed and
 * stored, whatever the field held. csum_start must be the real L4 header
 * offset (after IPv6 hop-by-hop and destination options, if any) and
 * csum_offset that of the checksum field of TCP (16) or UDP (6); the IP
 * length must be len. A frame without NEEDS_CSUM is left as it is. 0, or
 * -EINVAL for a frame that does not hold what the header says. */
int tun_csum_finish(const struct virtio_net_hdr *h, uint8_t *pkt, size_t len)
    __attribute__((warn_unused_result));

/* Number of segments a GSO super-packet splits into: ceil(payload /
 * gso_size) for gso_type TCPV4, TCPV6 and UDP_L4 (TCP with or without
 * VIRTIO_NET_HDR_GSO_ECN); 1 for GSO_NONE (whatever the packet). -EINVAL for
 * a malformed one (gso_size 0, no payload, lengths that disagree with the
 * IP length field, truncated headers, TCP data offset < 5, a gso_type that
 * does not match the packet, an IPv4 fragment, NEEDS_CSUM offsets that do
 * not match the headers); -EPROTONOSUPPORT for what we do not split (IPv6
 * extension headers, UFO). IPv4 options and TCP options are fine. */
int tun_gso_segments(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len)
    __attribute__((warn_unused_result));

/* Writes segments first..first+max_out-1 (fewer at the end) as complete IP
 * packets into out[i] (out_cap bytes each), their lengths into out_len[i]:
 * how many were written (0 when first is past the last), or what
 * tun_gso_segments refuses, or -ENOSPC when a segment in the range does not
 * fit out_cap (then nothing is written; a frame the kernel made has
 * segments no longer than the device MTU, since it sizes gso_size to the
 * route's MTU, so out_cap = MTU fits). The cursor lets a caller split a
 * super-packet of hundreds of segments over several tx batches; segment k is
 * the same whatever the calls.
 *
 * Every segment carries the headers of the super-packet with, for IPv4, the
 * total length, id base + k and a new header checksum; for IPv6, the payload
 * length; for TCP, sequence number base + k * gso_size, FIN and PSH only on
 * the last segment, CWR only on the first; for UDP, its own length; and the
 * full L4 checksum. A GSO_NONE frame is one segment: a copy, its checksum
 * finished if it has NEEDS_CSUM. */
int tun_gso_split(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len, unsigned first,
		  uint8_t *const out[], size_t out_cap, size_t out_len[], unsigned max_out)
    __attribute__((warn_unused_result));
