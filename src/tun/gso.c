/* Splitting GSO super-packets read from the TUN and finishing the checksums
 * the kernel left to us (gso.h).
 *
 * Every frame is parsed from its own headers first (struct frame): IP
 * version, IP header length, the length field against the frame length, the
 * L4 header and its length. The virtio_net_hdr only says what to do with the
 * frame; its lengths and offsets are checked against the parse, never used
 * to find data. A segment is then the super-packet's headers followed by its
 * slice of the payload, with the fields that differ per segment rewritten and
 * every checksum computed in full: the kernel's super-packet holds only a
 * pseudo-header sum in the L4 checksum field, and a segment must be a packet
 * any receiver takes as it is. */
#include "tun/gso.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "util/be.h"
#include "util/csum.h"

enum {
	IPV4_HDR_MIN = 20,
	IPV6_HDR = 40,
	TCP_HDR_MIN = 20,
	UDP_HDR = 8,
	TCP_CSUM_OFF = 16,
	UDP_CSUM_OFF = 6,
	TCP_FIN = 0x01,
	TCP_PSH = 0x08,
	TCP_CWR = 0x80,
	/* IPv6 extension headers tun_csum_finish walks to reach the L4 header;
	 * a routing header (its final destination is in the pseudo-header) or
	 * a fragment header stops it. */
	V6_EXT_WALK_MAX = 4,
};

/* A packet as its own headers describe it. */
struct frame {
	bool v6;
	uint8_t proto;	/* TCP or UDP */
	size_t l4_off;	/* IP header length (with options, IPv6 hop/dest options) */
	size_t l4_hl;	/* TCP header with options, or 8 */
	size_t payload; /* bytes after the L4 header */
	bool v6_ext;	/* IPv6 extension headers were walked */
};

static bool is_v6_ext(uint8_t nh)
{
	switch (nh) {
	case 0:	  /* hop-by-hop options */
	case 43:  /* routing */
	case 44:  /* fragment */
	case 50:  /* ESP */
	case 51:  /* AH */
	case 60:  /* destination options */
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
		return true;
	}
	return false;
}

/* IPv6: the L4 protocol and offset. Extension headers are -EPROTONOSUPPORT
 * unless walk is set, then hop-by-hop and destination options are skipped
 * (anything else is -EINVAL: nothing we can checksum). */
static int parse_v6(const uint8_t *pkt, size_t len, bool walk, struct frame *f)
{
	uint8_t nh;

	if (len < IPV6_HDR || IPV6_HDR + (size_t)be16_get(pkt + 4) != len)
		return -EINVAL;
	nh = pkt[6];
	f->l4_off = IPV6_HDR;
	for (int i = 0; is_v6_ext(nh); i++) {
		size_t hl;

		if (!walk)
			return -EPROTONOSUPPORT;
		if ((nh != 0 && nh != 60) || (nh == 0 && i > 0) || i >= V6_EXT_WALK_MAX)
			return -EINVAL;
		if (f->l4_off + 8 > len)
			return -EINVAL;
		hl = ((size_t)pkt[f->l4_off + 1] + 1) * 8;
		nh = pkt[f->l4_off];
		f->l4_off += hl;
		f->v6_ext = true;
	}
	f->proto = nh;
	return 0;
}

static int parse_v4(const uint8_t *pkt, size_t len, struct frame *f)
{
	size_t ihl;

	if (len < IPV4_HDR_MIN)
		return -EINVAL;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	if (ihl < IPV4_HDR_MIN || ihl > len || be16_get(pkt + 2) != len)
		return -EINVAL;
	/* More fragments, or an offset: an L4 checksum or a segmentation of
	 * a piece of a datagram means nothing. */
	if (be16_get(pkt + 6) & 0x3fff)
		return -EINVAL;
	f->l4_off = ihl;
	f->proto = pkt[9];
	return 0;
}

/* Parses pkt down to the end of its TCP or UDP header. */
static int parse(const uint8_t *pkt, size_t len, bool walk_v6, struct frame *f)
{
	const uint8_t *l4;
	int ret;

	memset(f, 0, sizeof(*f));
	if (len < 1)
		return -EINVAL;
	switch (pkt[0] >> 4) {
	case 4:
		ret = parse_v4(pkt, len, f);
		break;
	case 6:
		f->v6 = true;
		ret = parse_v6(pkt, len, walk_v6, f);
		break;
	default:
		ret = -EINVAL;
	}
	if (ret < 0)
		return ret;
	if (f->l4_off > len)
		return -EINVAL;
	l4 = pkt + f->l4_off;
	if (f->proto == IPPROTO_TCP) {
		if (len - f->l4_off < TCP_HDR_MIN)
			return -EINVAL;
		f->l4_hl = (size_t)(l4[12] >> 4) * 4;
		if (f->l4_hl < TCP_HDR_MIN || f->l4_hl > len - f->l4_off)
			return -EINVAL;
	} else if (f->proto == IPPROTO_UDP) {
		if (len - f->l4_off < UDP_HDR || be16_get(l4 + 4) != len - f->l4_off)
			return -EINVAL;
		f->l4_hl = UDP_HDR;
	} else {
		return -EINVAL;
	}
	f->payload = len - f->l4_off - f->l4_hl;
	return 0;
}

/* NEEDS_CSUM's offsets, where given, must name the checksum field we found. */
static bool csum_offsets_match(const struct virtio_net_hdr *h, const struct frame *f)
{
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return true;
	return h->csum_start == f->l4_off &&
	       h->csum_offset == (f->proto == IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF);
}

/* Stores the full L4 checksum of the packet whose L4 header is at l4 and
 * runs l4_len bytes (header and payload). */
static void l4_csum_set(uint8_t *pkt, const struct frame *f, uint8_t *l4, size_t l4_len)
{
	uint8_t *field = l4 + (f->proto == IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF);
	uint32_t sum;
	uint16_t c;

	be16_put(field, 0);
	if (f->v6)
		sum = csum_pseudo_v6(pkt + 8, pkt + 24, f->proto, (uint32_t)l4_len);
	else
		sum = csum_pseudo_v4(pkt + 12, pkt + 16, f->proto, (uint32_t)l4_len);
	c = csum_fold(csum_add(sum, l4, l4_len));
	/* RFC 768: a computed 0 is sent as all ones (0 means "none"); the
	 * same value for TCP, where both forms verify. */
	if (c == 0 && f->proto == IPPROTO_UDP)
		c = 0xffff;
	be16_put(field, c);
}

int tun_csum_finish(const struct virtio_net_hdr *h, uint8_t *pkt, size_t len)
{
	struct frame f;
	int ret;

	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 0;
	ret = parse(pkt, len, true, &f);
	if (ret < 0 || !csum_offsets_match(h, &f))
		return -EINVAL;
	l4_csum_set(pkt, &f, pkt + f.l4_off, len - f.l4_off);
	return 0;
}

/* Parses a GSO frame: 0 with *f and the segment count in *segs, or -errno. */
static int gso_parse(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len,
		     struct frame *f, unsigned *segs)
{
	uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	bool ecn = h->gso_type & VIRTIO_NET_HDR_GSO_ECN;
	int ret;

	switch (type) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
		break;
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		if (ecn)
			return -EINVAL;
		break;
	case VIRTIO_NET_HDR_GSO_UDP: /* UFO: IP fragmentation, never asked for */
		return -EPROTONOSUPPORT;
	default:
		return -EINVAL;
	}
	ret = parse(pkt, len, false, f);
	if (ret < 0)
		return ret;
	if ((type == VIRTIO_NET_HDR_GSO_TCPV4 && (f->v6 || f->proto != IPPROTO_TCP)) ||
	    (type == VIRTIO_NET_HDR_GSO_TCPV6 && (!f->v6 || f->proto != IPPROTO_TCP)) ||
	    (type == VIRTIO_NET_HDR_GSO_UDP_L4 && f->proto != IPPROTO_UDP))
		return -EINVAL;
	if (h->gso_size == 0 || f->payload == 0 || !csum_offsets_match(h, f))
		return -EINVAL;
	*segs = (unsigned)((f->payload + h->gso_size - 1) / h->gso_size);
	return 0;
}

int tun_gso_segments(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len)
{
	struct frame f;
	unsigned segs;
	int ret;

	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return 1;
	ret = gso_parse(h, pkt, len, &f, &segs);
	return ret < 0 ? ret : (int)segs;
}

/* Segment k of n: headers of the super-packet, its payload slice, fields. */
static size_t make_segment(const struct virtio_net_hdr *h, const uint8_t *pkt,
			   const struct frame *f, unsigned k, unsigned n, uint8_t *o)
{
	size_t hdrs = f->l4_off + f->l4_hl;
	size_t off = (size_t)k * h->gso_size;
	size_t seg = f->payload - off < h->gso_size ? f->payload - off : h->gso_size;
	size_t total = hdrs + seg;
	uint8_t *l4 = o + f->l4_off;

	memcpy(o, pkt, hdrs);
	memcpy(o + hdrs, pkt + hdrs + off, seg);
	if (f->v6) {
		be16_put(o + 4, (uint16_t)(total - IPV6_HDR));
	} else {
		be16_put(o + 2, (uint16_t)total);
		be16_put(o + 4, (uint16_t)(be16_get(pkt + 4) + k));
		csum_ipv4_header_set(o, f->l4_off);
	}
	if (f->proto == IPPROTO_TCP) {
		be32_put(l4 + 4, be32_get(pkt + f->l4_off + 4) + (uint32_t)off);
		if (k + 1 != n)
			l4[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
		if (k != 0)
			l4[13] &= (uint8_t)~TCP_CWR;
	} else {
		be16_put(l4 + 4, (uint16_t)(UDP_HDR + seg));
	}
	l4_csum_set(o, f, l4, total - f->l4_off);
	return total;
}

static int split_none(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len,
		      unsigned first, uint8_t *const out[], size_t out_cap, size_t out_len[],
		      unsigned max_out)
{
	int ret;

	if (first > 0 || max_out == 0)
		return 0;
	if (len > out_cap)
		return -ENOSPC;
	memcpy(out[0], pkt, len);
	ret = tun_csum_finish(h, out[0], len);
	if (ret < 0)
		return ret;
	out_len[0] = len;
	return 1;
}

int tun_gso_split(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len, unsigned first,
		  uint8_t *const out[], size_t out_cap, size_t out_len[], unsigned max_out)
{
	struct frame f;
	unsigned segs, end;
	size_t hdrs, biggest;
	int ret;

	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return split_none(h, pkt, len, first, out, out_cap, out_len, max_out);
	ret = gso_parse(h, pkt, len, &f, &segs);
	if (ret < 0)
		return ret;
	if (first >= segs || max_out == 0)
		return 0;
	end = segs - first < max_out ? segs : first + max_out;
	/* Every segment but the last is full: the range holds a full one
	 * unless it is the last alone. Checked before any is written. */
	hdrs = f.l4_off + f.l4_hl;
	biggest = first + 1 < segs ? h->gso_size : f.payload - (size_t)(segs - 1) * h->gso_size;
	if (hdrs + biggest > out_cap)
		return -ENOSPC;
	for (unsigned k = first; k < end; k++)
		out_len[k - first] = make_segment(h, pkt, &f, k, segs, out[k - first]);
	return (int)(end - first);
}
