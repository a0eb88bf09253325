/* Fuzz harness for the reading side of the TUN offloads (tun/gso.h). The
 * input is a frame as read from an IFF_VNET_HDR device: a 10-byte
 * virtio_net_hdr (host byte order) and the packet. Whatever the bytes:
 * tun_gso_split agrees with tun_gso_segments (same count, same refusal),
 * never writes past out_cap (each output buffer is a heap block of exactly
 * out_cap bytes, so ASan sees one byte too many), gives segments whose
 * payloads add up to the super-packet's, and every segment it makes has a
 * valid IPv4 header checksum and a valid TCP/UDP checksum. tun_csum_finish
 * runs on a heap copy of exactly the packet's length; when it accepts a
 * NEEDS_CSUM frame, the checksum it stored verifies. */
#include <errno.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tun/gso.h"
#include "util/csum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { OUT_N = 4, CAP_SMALL = 1500, CAP_BIG = 65535 };

static uint8_t *small[OUT_N], *big[OUT_N];

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void init_once(void)
{
	static bool ready;

	if (ready)
		return;
	for (int i = 0; i < OUT_N; i++) {
		small[i] = malloc(CAP_SMALL);
		big[i] = malloc(CAP_BIG);
		check(small[i] && big[i]);
	}
	ready = true;
}

/* The L4 header offset of an IPv4 or IPv6 packet without extension
 * headers, and its protocol. */
static size_t l4_of(const uint8_t *p, uint8_t *proto)
{
	if ((p[0] >> 4) == 4) {
		*proto = p[9];
		return (size_t)(p[0] & 15) * 4;
	}
	*proto = p[6];
	return 40;
}

static bool l4_csum_ok(const uint8_t *p, size_t l4, size_t len, uint8_t proto)
{
	uint32_t s = (p[0] >> 4) == 6 ? csum_pseudo_v6(p + 8, p + 24, proto, (uint32_t)(len - l4))
				      : csum_pseudo_v4(p + 12, p + 16, proto, (uint32_t)(len - l4));

	return csum_fold(csum_add(s, p + l4, len - l4)) == 0;
}

/* One segment as tun_gso_split made it: a well-formed packet. Returns its
 * payload bytes. */
static size_t check_segment(const uint8_t *seg, size_t len)
{
	uint8_t proto;
	size_t l4, hl;

	check(len >= 28);
	l4 = l4_of(seg, &proto);
	check(proto == IPPROTO_TCP || proto == IPPROTO_UDP);
	check(l4 + 8 <= len);
	if ((seg[0] >> 4) == 4) {
		check((size_t)(seg[2] << 8 | seg[3]) == len);
		check(csum_fold(csum_add(0, seg, l4)) == 0);
	} else {
		check((size_t)(seg[4] << 8 | seg[5]) + 40 == len);
	}
	hl = proto == IPPROTO_TCP ? (size_t)(seg[l4 + 12] >> 4) * 4 : 8;
	check(hl >= 8 && l4 + hl <= len);
	if (proto == IPPROTO_UDP)
		check((size_t)(seg[l4 + 4] << 8 | seg[l4 + 5]) == len - l4);
	check(l4_csum_ok(seg, l4, len, proto));
	return len - l4 - hl;
}

/* Splits the whole frame OUT_N segments at a time into buffers of cap. */
static void split_all(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len, int segs,
		      uint8_t *const out[], size_t cap)
{
	size_t out_len[OUT_N], payload = 0;
	unsigned first = 0;
	int got;

	got = tun_gso_split(h, pkt, len, 0, out, cap, out_len, 0);
	check(segs < 0 ? got == segs : got == 0);
	if (segs < 0)
		return;
	while ((got = tun_gso_split(h, pkt, len, first, out, cap, out_len, OUT_N)) > 0) {
		unsigned want = (unsigned)segs - first < OUT_N ? (unsigned)segs - first : OUT_N;

		check((unsigned)got == want);
		for (int i = 0; i < got; i++) {
			check(out_len[i] <= cap);
			if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE)
				payload += check_segment(out[i], out_len[i]);
		}
		first += (unsigned)got;
	}
	if (got == -ENOSPC || (got < 0 && h->gso_type == VIRTIO_NET_HDR_GSO_NONE))
		return; /* a segment larger than cap, or a NEEDS_CSUM it refused */
	check(got == 0 && first == (unsigned)segs);
	if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		uint8_t proto;
		size_t l4 = l4_of(pkt, &proto);
		size_t hl = proto == IPPROTO_TCP ? (size_t)(pkt[l4 + 12] >> 4) * 4 : 8;

		check(payload == len - l4 - hl);
		/* Past the end: nothing. */
		check(tun_gso_split(h, pkt, len, first, out, cap, out_len, OUT_N) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_net_hdr h;
	const uint8_t *pkt;
	uint8_t *copy;
	size_t len;
	int segs, ret;

	init_once();
	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	pkt = data + sizeof(h);
	len = size - sizeof(h);
	if (len > CAP_BIG)
		return 0;

	segs = tun_gso_segments(&h, pkt, len);
	check(segs > 0 || segs == -EINVAL || segs == -EPROTONOSUPPORT);
	if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE)
		check(segs == 1);
	else
		check(segs <= (int)len); /* at least one payload byte a segment */
	split_all(&h, pkt, len, segs, small, CAP_SMALL);
	split_all(&h, pkt, len, segs, big, CAP_BIG);

	copy = malloc(len ? len : 1);
	check(copy != NULL);
	memcpy(copy, pkt, len);
	ret = tun_csum_finish(&h, copy, len);
	check(ret == 0 || ret == -EINVAL);
	if (ret == 0 && (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
		size_t start = h.csum_start;
		uint8_t proto = (copy[0] >> 4) == 4 ? copy[9] : 0;

		/* Only the checksum field changed, and it verifies. */
		for (size_t i = 0; i < len; i++)
			check(copy[i] == pkt[i] || i == start + h.csum_offset ||
			      i == start + h.csum_offset + 1u);
		if ((copy[0] >> 4) == 6)
			proto = h.csum_offset == 16 ? IPPROTO_TCP : IPPROTO_UDP;
		check(l4_csum_ok(copy, start, len, proto));
	} else {
		/* Refused, or nothing to do: untouched. */
		check(memcmp(copy, pkt, len) == 0);
	}
	free(copy);
	return 0;
}
