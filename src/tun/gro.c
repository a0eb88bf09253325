/* Userspace GRO: coalesces the decrypted packets of one batch into TCP and
 * UDP super-packets for a TUN opened with IFF_VNET_HDR and TSO/USO offloads.
 *
 * Each packet added is parsed once. A packet of a TCP or UDP flow either
 * joins the flow's current run (the flow's newest one) or starts a new run
 * that becomes the flow's current one, which ends the old run: so within a
 * flow packets leave in arrival order, and runs leave in the order their
 * first packet arrived. Packets that belong to no flow we can parse
 * (other protocols, later fragments, garbage) are runs of one that nothing
 * joins; a later IPv4 fragment of TCP/UDP or an IPv6 packet behind extension
 * headers may belong to any flow between its two addresses, so it also ends
 * all their runs. Runs are found by scanning backwards from the newest with a hash
 * compared first: a batch holds at most 128, and one bulk flow makes only
 * a few runs.
 *
 * A segment joins only if the kernel's GRO (inet_gro_receive,
 * ipv6_gro_receive, tcp_gro_receive, udp_gro_receive) would merge it too:
 * - IPv4 without options or fragmentation (MF clear, offset 0), total length
 *   equal to the packet, valid header checksum; IPv6 with TCP/UDP as the
 *   first next header (no extension headers) and payload length equal to the
 *   packet; same TOS, TTL and DF (IPv4) or same first word (version, traffic
 *   class, flow label) and hop limit (IPv6). IPv4 ids: with DF set any id
 *   joins (the kernel ignores ids of atomic datagrams); without DF the ids
 *   must be consecutive, since GSO numbers the segments id, id+1, ...
 * - TCP: the full checksum verifies, payload is not empty, flags are exactly
 *   ACK or ACK|PSH, the same header length, options bytes, ack number and
 *   window as the first segment, and seq is the next expected one.
 * - UDP (with TUN_GRO_UDP): the checksum verifies (zero is allowed over IPv4
 *   only, RFC 768 / RFC 8200 8.1), the UDP length matches, payload is not
 *   empty.
 * - Payload sizes are all equal to the first's, except that a shorter one,
 *   or one with PSH, may end a run; nothing joins after it.
 * A packet that fails a check is held alone after its flow's run, unchanged:
 * a bad checksum is then the kernel's to drop.
 *
 * Limits: IPv4's total length is 16 bits, and the kernel's UDP GSO refuses
 * more than UDP_MAX_SEGMENTS segments, 64 in the kernels that brought UDP
 * GSO (newer ones allow 128: Linux 6.18 takes 120 from a TUN); TCP GSO has
 * no segment limit of its own. So a super-packet is at most TUN_GRO_MAX_LEN
 * (65535) bytes counting its IP header, for both families (an IPv6 one thus
 * stays 40 bytes short of the payload length field's limit), and at most
 * TUN_GRO_MAX_SEGS (64) segments for both protocols. The cap on segments only
 * binds for segments under 1 KiB; test_gro writes super-packets at the byte
 * limit through a real TUN.
 *
 * A run of two or more leaves with its first packet rewritten: IPv4 total
 * length (and header checksum) or IPv6 payload length, the UDP length, TCP
 * PSH if any segment had it, and in the L4 checksum field the folded, not
 * complemented, pseudo-header sum over the full L4 length: with NEEDS_CSUM
 * the kernel adds the bytes from csum_start on to that field, and its GSO
 * adjusts it per segment (__udp_gso_segment swaps the UDP length in it). */
#include "tun/gro.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "util/be.h"
#include "util/csum.h"

enum kind {
	KIND_NONE = 0,
	KIND_TCP4,
	KIND_TCP6,
	KIND_UDP4,
	KIND_UDP6,
};

enum {
	TCP_FIN = 0x01,
	TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	IP4_DF = 0x4000,
	IP4_MF = 0x2000,
	IP4_OFFSET = 0x1fff,
};

/* What parsing one packet found. */
struct info {
	uint8_t kind;	   /* KIND_NONE: not part of a flow */
	uint8_t ok;	   /* may join or start a run (all checks passed) */
	uint8_t tcp_flags; /* TCP flags byte */
	uint8_t barrier;   /* KIND_TCP4/6: may be of any flow between its addresses */
	uint16_t l4_off;   /* IP header bytes */
	uint16_t l4_hlen;  /* TCP/UDP header bytes */
	uint32_t payload;  /* bytes after the L4 header */
	uint32_t seq;	   /* TCP */
	uint32_t hash;
};

static bool is_v6(uint8_t kind)
{
	return kind == KIND_TCP6 || kind == KIND_UDP6;
}

static bool is_tcp(uint8_t kind)
{
	return kind == KIND_TCP4 || kind == KIND_TCP6;
}

/* The flow key: both addresses (contiguous in both headers), then both ports. */
static const uint8_t *key_addr(const uint8_t *pkt, uint8_t kind, size_t *len)
{
	*len = is_v6(kind) ? 32 : 8;
	return pkt + (is_v6(kind) ? 8 : 12);
}

static uint32_t key_hash(const uint8_t *pkt, uint8_t kind, uint16_t l4_off)
{
	size_t alen;
	const uint8_t *a = key_addr(pkt, kind, &alen);
	uint32_t h = 2166136261u ^ kind;

	/* FNV-1a: the key is at most 36 bytes. */
	for (size_t i = 0; i < alen; i++)
		h = (h ^ a[i]) * 16777619u;
	for (size_t i = 0; i < 4; i++)
		h = (h ^ pkt[l4_off + i]) * 16777619u;
	return h;
}

static uint32_t pseudo(const uint8_t *pkt, uint8_t kind, uint32_t l4_len)
{
	uint8_t proto = is_tcp(kind) ? IPPROTO_TCP : IPPROTO_UDP;

	if (is_v6(kind))
		return csum_pseudo_v6(pkt + 8, pkt + 24, proto, l4_len);
	return csum_pseudo_v4(pkt + 12, pkt + 16, proto, l4_len);
}

/* The IP layer: finds the L4 header and the kind, and whether the IP header
 * allows merging. Returns false for a packet that belongs to no flow. */
static bool parse_ip(const uint8_t *p, size_t len, struct info *in, uint8_t *proto)
{
	if (len < 20)
		return false;
	if (p[0] >> 4 == 4) {
		uint16_t ihl = (uint16_t)((p[0] & 15) * 4);
		uint16_t frag = be16_get(p + 6);

		if (ihl < 20 || len < ihl)
			return false;
		/* A later fragment carries no L4 header: its flow is unknown. */
		if (frag & IP4_OFFSET) {
			if (p[9] == IPPROTO_TCP || p[9] == IPPROTO_UDP)
				in->barrier = KIND_TCP4;
			return false;
		}
		*proto = p[9];
		in->l4_off = ihl;
		in->ok = ihl == 20 && !(frag & IP4_MF) && be16_get(p + 2) == len &&
			 csum_fold(csum_add(0, p, 20)) == 0;
		in->kind = *proto == IPPROTO_TCP ? KIND_TCP4 : KIND_UDP4;
		return true;
	}
	if (p[0] >> 4 == 6 && len >= 40) {
		*proto = p[6];
		/* Extension headers (or ESP) hide the flow; ICMPv6 and "no next
		 * header" have none. */
		if (*proto != IPPROTO_TCP && *proto != IPPROTO_UDP && *proto != IPPROTO_ICMPV6 &&
		    *proto != IPPROTO_NONE) {
			in->barrier = KIND_TCP6;
			return false;
		}
		in->l4_off = 40;
		in->ok = (size_t)be16_get(p + 4) + 40 == len;
		in->kind = *proto == IPPROTO_TCP ? KIND_TCP6 : KIND_UDP6;
		return true;
	}
	return false;
}

static void parse_tcp(const uint8_t *p, size_t len, struct info *in)
{
	const uint8_t *th = p + in->l4_off;
	uint8_t flags = th[13];

	in->l4_hlen = (uint16_t)((th[12] >> 4) * 4);
	in->tcp_flags = flags;
	in->seq = be32_get(th + 4);
	if (in->l4_hlen < 20 || in->l4_off + in->l4_hlen > len) {
		in->ok = 0;
		return;
	}
	in->payload = (uint32_t)(len - in->l4_off - in->l4_hlen);
	/* CWR, ECE, URG, SYN, RST and FIN each change what the receiver does
	 * with the segment; the kernel's GRO flushes on all of them. */
	if (!in->ok || !in->payload || (flags & ~TCP_PSH) != TCP_ACK) {
		in->ok = 0;
		return;
	}
	in->ok = csum_fold(csum_add(pseudo(p, in->kind, (uint32_t)(len - in->l4_off)), th,
				    len - in->l4_off)) == 0;
}

static void parse_udp(const uint8_t *p, size_t len, struct info *in)
{
	const uint8_t *uh = p + in->l4_off;
	uint32_t l4_len = (uint32_t)(len - in->l4_off);

	in->l4_hlen = 8;
	in->payload = l4_len - 8;
	if (!in->ok || be16_get(uh + 4) != l4_len || !in->payload) {
		in->ok = 0;
		return;
	}
	if (be16_get(uh + 6) == 0) {
		/* No checksum: allowed over IPv4 only. */
		in->ok = in->kind == KIND_UDP4;
		return;
	}
	in->ok = csum_fold(csum_add(pseudo(p, in->kind, l4_len), uh, l4_len)) == 0;
}

static void parse(const struct tun_gro *g, const uint8_t *p, size_t len, struct info *in)
{
	uint8_t proto = 0, barrier;

	memset(in, 0, sizeof(*in));
	if (!parse_ip(p, len, in, &proto))
		goto none;
	if (proto == IPPROTO_TCP && (g->flags & TUN_GRO_TCP) && len >= in->l4_off + 20u)
		parse_tcp(p, len, in);
	else if (proto == IPPROTO_UDP && (g->flags & TUN_GRO_UDP) && len >= in->l4_off + 8u)
		parse_udp(p, len, in);
	else
		goto none;
	in->hash = key_hash(p, in->kind, in->l4_off);
	return;
none:
	barrier = in->barrier;
	memset(in, 0, sizeof(*in));
	in->barrier = barrier;
}

static bool same_flow(const struct tun_gro *g, const struct tun_gro_run *r, const uint8_t *p,
		      const struct info *in)
{
	const uint8_t *h = g->segs[r->head].pkt;
	size_t alen;
	const uint8_t *ha = key_addr(h, r->kind, &alen);

	return r->kind == in->kind && r->hash == in->hash &&
	       !memcmp(ha, key_addr(p, in->kind, &alen), alen) &&
	       !memcmp(h + r->l4_off, p + in->l4_off, 4);
}

/* A packet that may belong to any flow between its two addresses ends all
 * their runs, so that it leaves after the packets that came before it. */
static void close_runs_between(struct tun_gro *g, const uint8_t *p, uint8_t family)
{
	size_t alen;
	const uint8_t *a = key_addr(p, family, &alen);

	for (uint16_t i = 0; i < g->nruns; i++) {
		struct tun_gro_run *r = &g->runs[i];

		if (r->kind && is_v6(r->kind) == is_v6(family) &&
		    !memcmp(key_addr(g->segs[r->head].pkt, r->kind, &alen), a, alen))
			r->closed = 1;
	}
}

/* The flow's current run: its newest. */
static struct tun_gro_run *find_run(struct tun_gro *g, const uint8_t *p, const struct info *in)
{
	for (int i = g->nruns - 1; i >= 0; i--)
		if (same_flow(g, &g->runs[i], p, in))
			return &g->runs[i];
	return NULL;
}

static bool ip_fields_match(const struct tun_gro_run *r, const uint8_t *h, const uint8_t *p)
{
	if (is_v6(r->kind))
		return !memcmp(h, p, 4) && h[7] == p[7];
	if (h[1] != p[1] || h[8] != p[8] || ((be16_get(h + 6) ^ be16_get(p + 6)) & IP4_DF))
		return false;
	/* Without DF, GSO's numbering must give each segment its own id back. */
	return (be16_get(h + 6) & IP4_DF) || be16_get(p + 4) == (uint16_t)(be16_get(h + 4) + r->nsegs);
}

static bool tcp_fields_match(const struct tun_gro_run *r, const uint8_t *h, const uint8_t *p,
			     const struct info *in)
{
	const uint8_t *hh = h + r->l4_off, *ph = p + in->l4_off;
	uint16_t hlen = (uint16_t)((hh[12] >> 4) * 4);

	/* Byte 12 holds the header length and the reserved bits; 8-11 the
	 * ack, 14-15 the window; options follow the 20 fixed bytes. */
	return in->l4_hlen == hlen && hh[12] == ph[12] && !memcmp(hh + 8, ph + 8, 4) &&
	       !memcmp(hh + 14, ph + 14, 2) && !memcmp(hh + 20, ph + 20, hlen - 20u) &&
	       in->seq == r->next_seq;
}

static bool can_join(const struct tun_gro *g, const struct tun_gro_run *r, const uint8_t *p,
		     const struct info *in)
{
	const uint8_t *h = g->segs[r->head].pkt;

	if (r->closed || !in->ok || in->payload > r->gso_size || r->nsegs >= TUN_GRO_MAX_SEGS ||
	    r->len + in->payload > TUN_GRO_MAX_LEN)
		return false;
	if (!ip_fields_match(r, h, p))
		return false;
	return !is_tcp(r->kind) || tcp_fields_match(r, h, p, in);
}

static void start_run(struct tun_gro *g, int16_t s, const struct info *in)
{
	struct tun_gro_run *r = &g->runs[g->nruns++];

	memset(r, 0, sizeof(*r));
	r->head = r->tail = s;
	r->nsegs = 1;
	r->len = (uint32_t)(g->segs[s].len > UINT32_MAX ? UINT32_MAX : g->segs[s].len);
	r->kind = in->kind;
	r->hash = in->hash;
	r->l4_off = in->l4_off;
	/* A refused packet heads a run nothing joins; so does one whose
	 * payload could not be a gso_size (the field is 16 bits). */
	r->closed = !in->ok || (in->tcp_flags & TCP_PSH) || in->payload > UINT16_MAX;
	r->gso_size = (uint16_t)in->payload;
	r->next_seq = in->seq + in->payload;
	r->psh = (in->tcp_flags & TCP_PSH) != 0;
}

static void join_run(struct tun_gro *g, struct tun_gro_run *r, int16_t s, const struct info *in)
{
	g->segs[r->tail].next = s;
	r->tail = s;
	r->nsegs++;
	r->len += in->payload;
	r->next_seq += in->payload;
	if (in->tcp_flags & TCP_PSH)
		r->psh = 1;
	if (in->payload < r->gso_size || (in->tcp_flags & TCP_PSH))
		r->closed = 1;
}

void tun_gro_init(struct tun_gro *g, unsigned flags, tun_gro_emit_fn emit, void *ctx)
{
	g->flags = flags;
	g->emit = emit;
	g->ctx = ctx;
	g->err = 0;
	g->nsegs = g->nruns = 0;
}

void tun_gro_add(struct tun_gro *g, uint8_t *pkt, size_t len)
{
	struct tun_gro_run *r;
	struct info in;
	int16_t s;

	if (g->nsegs == TUN_GRO_BATCH) {
		int err = tun_gro_flush(g);

		if (!g->err)
			g->err = err;
	}
	parse(g, pkt, len, &in);
	s = (int16_t)g->nsegs++;
	g->segs[s] = (struct tun_gro_seg){
	    .pkt = pkt,
	    .len = len,
	    .hdr_len = (uint16_t)(in.l4_off + in.l4_hlen),
	    .next = -1,
	};
	if (in.barrier)
		close_runs_between(g, pkt, in.barrier);
	r = in.kind ? find_run(g, pkt, &in) : NULL;
	if (r && can_join(g, r, pkt, &in)) {
		join_run(g, r, s, &in);
		return;
	}
	if (r)
		r->closed = 1;
	start_run(g, s, &in);
}

/* Rewrites the first packet's headers for the whole run and fills h. */
static void make_super(struct tun_gro *g, const struct tun_gro_run *r, struct virtio_net_hdr *h)
{
	uint8_t *p = g->segs[r->head].pkt;
	uint8_t *l4 = p + r->l4_off;
	uint32_t l4_len = r->len - r->l4_off;
	bool tcp = is_tcp(r->kind);

	if (is_v6(r->kind)) {
		be16_put(p + 4, (uint16_t)l4_len);
	} else {
		be16_put(p + 2, (uint16_t)r->len);
		csum_ipv4_header_set(p, r->l4_off);
	}
	if (tcp && r->psh)
		l4[13] |= TCP_PSH;
	if (!tcp)
		be16_put(l4 + 4, (uint16_t)l4_len);
	/* csum_fold complements; NEEDS_CSUM wants the folded sum itself. */
	be16_put(l4 + (tcp ? 16 : 6), (uint16_t)~csum_fold(pseudo(p, r->kind, l4_len)));

	*h = (struct virtio_net_hdr){
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .gso_type = tcp ? (is_v6(r->kind) ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4)
			    : VIRTIO_NET_HDR_GSO_UDP_L4,
	    .hdr_len = g->segs[r->head].hdr_len,
	    .gso_size = r->gso_size,
	    .csum_start = r->l4_off,
	    .csum_offset = tcp ? 16 : 6,
	};
}

static int emit_run(struct tun_gro *g, const struct tun_gro_run *r)
{
	struct virtio_net_hdr h = {0};
	int n = 0;

	if (r->nsegs > 1)
		make_super(g, r, &h);
	for (int16_t s = r->head; s >= 0; s = g->segs[s].next) {
		const struct tun_gro_seg *seg = &g->segs[s];
		size_t skip = s == r->head ? 0 : seg->hdr_len;

		g->iov[n++] =
		    (struct iovec){.iov_base = seg->pkt + skip, .iov_len = seg->len - skip};
	}
	return g->emit(g->ctx, &h, g->iov, n);
}

int tun_gro_flush(struct tun_gro *g)
{
	int ret = g->err;

	for (uint16_t i = 0; i < g->nruns; i++) {
		int err = emit_run(g, &g->runs[i]);

		if (err && !ret)
			ret = err;
	}
	g->nsegs = g->nruns = 0;
	g->err = 0;
	return ret;
}
