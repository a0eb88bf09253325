/* Userspace GRO (tun/gro.h) against a fake emit that records every frame.
 * Segments are built here with their own checksum code; each emitted
 * super-packet is checked field by field (vnet header, rewritten lengths, the
 * pseudo-header sum NEEDS_CSUM expects) and then split back, by a reference
 * splitter written here the way the kernel's GSO splits (ids counting up,
 * PSH on the last segment only, full checksums), into the original segments
 * byte for byte. Each refusal rule has its own case, as do per-flow order,
 * the length and segment limits, a full table, emit errors and UDP. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/pkt.h"
#include "tun/gro.h"
#include "tun/netlink.h"
#include "util/be.h"

enum { PKT_MAX = 1600, NPKTS = 300, NFRAMES = 300 };

/* ---- packets ---- */

struct spec {
	bool v6, udp;
	uint8_t tos, ttl; /* IPv6: traffic class, hop limit */
	bool no_df;
	uint16_t id;
	uint32_t flow_label;
	uint16_t sport, dport;
	uint8_t src_last; /* last byte of the source address */
	uint8_t dst_net;  /* IPv4 10.N.0.x, IPv6 fdN::x (hex) */
	uint8_t dst_last; /* last byte of the destination address (0: 2) */
	uint32_t seq, ack;
	uint16_t win;
	uint8_t flags;
	const uint8_t *opts;
	size_t optlen;	/* TCP options, a multiple of 4 */
	size_t ip_opts; /* IPv4 option bytes (NOPs), a multiple of 4 */
	bool v6_hbh;	/* an 8-byte hop-by-hop header before the L4 header */
	uint16_t frag;	/* IPv4 MF and offset bits */
	bool zero_csum; /* UDP checksum 0 */
	bool bad_csum;	/* L4 checksum off by one */
	bool bad_ip_csum;
	size_t plen;
	uint8_t fill;
};

static const uint8_t ts_opts[12] = {1, 1, 8, 10, 0, 1, 2, 3, 4, 5, 6, 7};

static uint16_t ref_csum(uint32_t sum)
{
	return (uint16_t)~sum;
}

static void set_l4_csum(uint8_t *p, size_t len, bool v6, bool udp, size_t l4)
{
	size_t off = l4 + (udp ? 6 : 16);
	uint16_t c;

	be16_put(p + off, 0);
	c = ref_csum(pkt_ref_sum(pkt_ref_pseudo(p, v6, udp ? 17 : 6, (uint32_t)(len - l4)), p + l4,
				 len - l4));
	if (udp && c == 0)
		c = 0xffff;
	be16_put(p + off, c);
}

static size_t build(uint8_t *b, const struct spec *s)
{
	size_t l4, lh = s->udp ? 8 : 20 + s->optlen, len;
	uint8_t proto = s->udp ? 17 : 6;

	memset(b, 0, PKT_MAX);
	if (s->v6) {
		l4 = 40 + (s->v6_hbh ? 8 : 0);
		len = l4 + lh + s->plen;
		be32_put(b, 6u << 28 | (uint32_t)s->tos << 20 | s->flow_label);
		be16_put(b + 4, len - 40);
		b[6] = s->v6_hbh ? 0 : proto;
		b[7] = s->ttl;
		b[8] = 0xfd;
		b[23] = s->src_last;
		b[24] = 0xfd;
		b[25] = s->dst_net;
		b[39] = s->dst_last ? s->dst_last : 2;
		if (s->v6_hbh) {
			b[40] = proto; /* next header; length 0 = 8 bytes, PadN */
			b[42] = 1;
			b[43] = 4;
		}
	} else {
		l4 = 20 + s->ip_opts;
		len = l4 + lh + s->plen;
		b[0] = (uint8_t)(0x40 | l4 / 4);
		b[1] = s->tos;
		be16_put(b + 2, len);
		be16_put(b + 4, s->id);
		be16_put(b + 6, (s->no_df ? 0 : 0x4000) | s->frag);
		b[8] = s->ttl;
		b[9] = proto;
		b[12] = 10;
		b[15] = s->src_last;
		b[16] = 10;
		b[17] = s->dst_net;
		b[19] = s->dst_last ? s->dst_last : 2;
		memset(b + 20, 1, s->ip_opts);
		be16_put(b + 10, ref_csum(pkt_ref_sum(0, b, l4)) + (s->bad_ip_csum ? 1 : 0));
	}
	be16_put(b + l4, s->sport);
	be16_put(b + l4 + 2, s->dport);
	if (s->udp) {
		be16_put(b + l4 + 4, 8 + s->plen);
	} else {
		be32_put(b + l4 + 4, s->seq);
		be32_put(b + l4 + 8, s->ack);
		b[l4 + 12] = (uint8_t)((20 + s->optlen) / 4 << 4);
		b[l4 + 13] = s->flags;
		be16_put(b + l4 + 14, s->win);
		memcpy(b + l4 + 20, s->opts, s->optlen);
	}
	for (size_t i = 0; i < s->plen; i++)
		b[l4 + lh + i] = (uint8_t)(s->fill + i * 7 + (s->seq + i) / 3);
	if (!s->zero_csum)
		set_l4_csum(b, len, s->v6, s->udp, l4);
	if (s->bad_csum)
		b[l4 + (s->udp ? 6 : 16) + 1] ^= 1;
	return len;
}

static struct spec tcp_spec(bool v6, uint32_t seq, size_t plen)
{
	return (struct spec){.v6 = v6,
			     .ttl = 64,
			     .id = (uint16_t)(100 + seq / 1000),
			     .sport = 40000,
			     .dport = 5201,
			     .seq = seq,
			     .ack = 77,
			     .win = 500,
			     .flags = 0x10,
			     .opts = ts_opts,
			     .optlen = sizeof(ts_opts),
			     .plen = plen,
			     .fill = 3};
}

static struct spec udp_spec(bool v6, size_t plen, uint8_t fill)
{
	return (struct spec){.v6 = v6,
			     .udp = true,
			     .ttl = 64,
			     .sport = 40001,
			     .dport = 4242,
			     .plen = plen,
			     .fill = fill};
}

/* ---- the batch under test and the recorder ---- */

struct frame {
	struct virtio_net_hdr h;
	uint8_t *data;
	size_t len;
	int niov;
};

static uint8_t pkts[NPKTS][PKT_MAX], orig[NPKTS][PKT_MAX];
static size_t lens[NPKTS];
static int npkts;
static struct frame frames[NFRAMES];
static int nframes;
static int fail_at = -1; /* the frame whose emit returns -EIO */
static struct tun_gro gro;

static int record(void *ctx, const struct virtio_net_hdr *h, const struct iovec *iov, int n)
{
	struct frame *f = &frames[nframes];
	size_t len = 0;

	assert_ptr_equal(ctx, &gro);
	assert_true(nframes < NFRAMES);
	assert_true(n >= 1 && n <= TUN_GRO_MAX_SEGS);
	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	f->h = *h;
	f->data = malloc(len + 1);
	assert_non_null(f->data);
	f->len = 0;
	for (int i = 0; i < n; i++) {
		memcpy(f->data + f->len, iov[i].iov_base, iov[i].iov_len);
		f->len += iov[i].iov_len;
	}
	f->niov = n;
	return nframes++ == fail_at ? -EIO : 0;
}

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < nframes; i++)
		free(frames[i].data);
	nframes = npkts = 0;
	fail_at = -1;
	tun_gro_init(&gro, TUN_GRO_TCP | TUN_GRO_UDP, record, &gro);
	return 0;
}

/* Builds a packet, keeps a copy of it and adds it. */
static int add(const struct spec *s)
{
	int i = npkts++;

	assert_true(i < NPKTS);
	lens[i] = build(pkts[i], s);
	memcpy(orig[i], pkts[i], lens[i]);
	tun_gro_add(&gro, pkts[i], lens[i]);
	return i;
}

/* Adds n segments of one TCP flow, plen bytes each, from seq on. */
static uint32_t add_tcp_run(struct spec s, int n, size_t plen)
{
	for (int i = 0; i < n; i++) {
		s.plen = plen;
		s.id = (uint16_t)(s.id + (i ? 1 : 0));
		add(&s);
		s.seq += (uint32_t)plen;
	}
	return s.seq;
}

/* ---- the reference splitter and frame checks ---- */

static bool is_zero_hdr(const struct virtio_net_hdr *h)
{
	static const struct virtio_net_hdr zero;

	return !memcmp(h, &zero, sizeof(zero));
}

/* Checks a super-packet's header against its bytes, then splits it into
 * out[]; returns the number of segments. */
static int split(const struct frame *f, uint8_t (*out)[PKT_MAX], size_t *out_len)
{
	const uint8_t *p = f->data;
	bool v6 = p[0] >> 4 == 6;
	bool udp = f->h.gso_type == VIRTIO_NET_HDR_GSO_UDP_L4;
	size_t l4 = f->h.csum_start, hl, gso = f->h.gso_size, total;
	static uint8_t fin[TUN_GRO_MAX_LEN + 1];
	uint32_t sum;
	int n = 0;

	if (is_zero_hdr(&f->h)) {
		memcpy(out[0], p, f->len);
		out_len[0] = f->len;
		return 1;
	}
	assert_int_equal(f->h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(f->h.gso_type, udp  ? VIRTIO_NET_HDR_GSO_UDP_L4
					: v6 ? VIRTIO_NET_HDR_GSO_TCPV6
					     : VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(l4, v6 ? 40 : 20);
	assert_int_equal(f->h.csum_offset, udp ? 6 : 16);
	hl = l4 + (udp ? 8 : (size_t)(p[l4 + 12] >> 4) * 4);
	assert_int_equal(f->h.hdr_len, hl);
	assert_true(f->len <= TUN_GRO_MAX_LEN);
	assert_true(gso > 0 && f->len - hl > gso);
	/* Lengths cover the whole frame; the IPv4 header checksum is valid. */
	if (v6) {
		assert_int_equal(be16_get(p + 4), f->len - 40);
	} else {
		assert_int_equal(be16_get(p + 2), f->len);
		assert_int_equal(pkt_ref_sum(0, p, 20), 0xffff);
	}
	if (udp)
		assert_int_equal(be16_get(p + l4 + 4), f->len - l4);
	/* NEEDS_CSUM: finishing the checksum as the kernel does (the sum of
	 * the bytes from csum_start on, the field's value included) gives a
	 * packet whose full checksum verifies, so the field held the
	 * pseudo-header sum over the whole length. */
	memcpy(fin, p, f->len);
	sum = pkt_ref_sum(0, fin + l4, f->len - l4);
	be16_put(fin + l4 + f->h.csum_offset, ref_csum(sum));
	assert_int_equal(pkt_ref_sum(pkt_ref_pseudo(fin, v6, udp ? 17 : 6, (uint32_t)(f->len - l4)),
				     fin + l4, f->len - l4),
			 0xffff);

	total = f->len - hl;
	for (size_t off = 0; off < total; off += gso, n++) {
		size_t plen = total - off < gso ? total - off : gso;
		uint8_t *o = out[n];
		bool last = off + plen == total;

		memcpy(o, p, hl);
		memcpy(o + hl, p + hl + off, plen);
		out_len[n] = hl + plen;
		if (v6) {
			be16_put(o + 4, hl - 40 + plen);
		} else {
			be16_put(o + 2, hl + plen);
			be16_put(o + 4, be16_get(p + 4) + (uint32_t)n);
			be16_put(o + 10, 0);
			be16_put(o + 10, ref_csum(pkt_ref_sum(0, o, 20)));
		}
		if (udp) {
			be16_put(o + l4 + 4, 8 + plen);
		} else {
			be32_put(o + l4 + 4, be32_get(p + l4 + 4) + (uint32_t)off);
			if (!last)
				o[l4 + 13] &= (uint8_t)~0x09; /* PSH, FIN */
		}
		set_l4_csum(o, hl + plen, v6, udp, l4);
	}
	return n;
}

/* Every frame split back gives the packets order[0..n) as added, byte for
 * byte; segs[i] (when given) is the number of segments of frame i. */
static void expect(const int *order, int n, const int *segs, int nf)
{
	static uint8_t out[TUN_GRO_MAX_SEGS][PKT_MAX];
	size_t out_len[TUN_GRO_MAX_SEGS];
	int k = 0;

	assert_int_equal(nframes, nf);
	for (int i = 0; i < nframes; i++) {
		int m = split(&frames[i], out, out_len);

		assert_int_equal(m, frames[i].niov);
		if (segs)
			assert_int_equal(m, segs[i]);
		for (int j = 0; j < m; j++, k++) {
			assert_true(k < n);
			assert_int_equal(out_len[j], lens[order[k]]);
			assert_memory_equal(out[j], orig[order[k]], out_len[j]);
		}
	}
	assert_int_equal(k, n);
}

/* The packets 0..n-1 in the order added. */
static void expect_in_order(const int *segs, int nf)
{
	int order[NPKTS];

	for (int i = 0; i < npkts; i++)
		order[i] = i;
	expect(order, npkts, segs, nf);
}

/* ---- cases ---- */

static void test_gro_add_tcp4_timestamps(void **state)
{
	struct spec s = tcp_spec(false, 1000, 0);
	const struct frame *f;

	(void)state;
	s.seq = add_tcp_run(s, 10, 1200);
	s.plen = 700;
	s.flags = 0x18; /* ACK|PSH ends the run */
	s.id = (uint16_t)(s.id + 10);
	add(&s);
	assert_int_equal(nframes, 0);
	assert_int_equal(tun_gro_flush(&gro), 0);
	f = &frames[0];
	assert_int_equal(f->h.gso_size, 1200);
	assert_int_equal(f->h.hdr_len, 20 + 32);
	assert_int_equal(f->len, 52 + 10 * 1200 + 700);
	/* PSH of the last segment is on the super-packet. */
	assert_int_equal(f->data[20 + 13], 0x18);
	/* Followers are passed by their payload only. */
	assert_int_equal(f->niov, 11);
	expect_in_order((const int[]){11}, 1);
	/* The table is empty again. */
	assert_int_equal(tun_gro_flush(&gro), 0);
	assert_int_equal(nframes, 1);
}

static void test_gro_add_tcp6(void **state)
{
	struct spec s = tcp_spec(true, 5, 0);

	(void)state;
	s.flow_label = 0x12345;
	s.tos = 0x10;
	add_tcp_run(s, 8, 1000);
	assert_int_equal(tun_gro_flush(&gro), 0);
	assert_int_equal(frames[0].h.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
	assert_int_equal(frames[0].h.hdr_len, 40 + 32);
	expect_in_order((const int[]){8}, 1);
}

static void test_gro_add_single_is_plain(void **state)
{
	struct spec s = tcp_spec(false, 1, 900);

	(void)state;
	add(&s);
	assert_int_equal(tun_gro_flush(&gro), 0);
	assert_int_equal(nframes, 1);
	assert_true(is_zero_hdr(&frames[0].h));
	assert_int_equal(frames[0].len, lens[0]);
	assert_memory_equal(frames[0].data, orig[0], lens[0]);
}

/* Two good segments, one that differs by `bad`, two more good ones that
 * continue the sequence: the odd one is refused, and it ends the run. */
static void refused_between(void (*bad)(struct spec *), const int *segs, int nf)
{
	struct spec s = tcp_spec(false, 1000, 1000), b;

	s.seq = add_tcp_run(s, 2, 1000);
	b = s;
	b.id = (uint16_t)(s.id + 2);
	bad(&b);
	add(&b);
	s.seq += (uint32_t)b.plen;
	s.id = (uint16_t)(s.id + 3);
	add_tcp_run(s, 2, 1000);
	assert_int_equal(tun_gro_flush(&gro), 0);
	expect_in_order(segs, nf);
}

static void flag_syn(struct spec *s)
{
	s->flags = 0x12;
}
static void flag_fin(struct spec *s)
{
	s->flags = 0x11;
}
static void flag_rst(struct spec *s)
{
	s->flags = 0x14;
}
static void flag_urg(struct spec *s)
{
	s->flags = 0x30;
}
static void flag_cwr(struct spec *s)
{
	s->flags = 0x90;
}
static void other_ttl(struct spec *s)
{
	s->ttl = 63;
}
static void other_tos(struct spec *s)
{
	s->tos = 0x04;
}
static void other_options(struct spec *s)
{
	static const uint8_t o[12] = {1, 1, 8, 10, 0, 1, 2, 4, 4, 5, 6, 7};

	s->opts = o;
}
static void no_options(struct spec *s)
{
	s->optlen = 0;
}
static void other_ack(struct spec *s)
{
	s->ack++;
}
static void other_window(struct spec *s)
{
	s->win++;
}
static void bad_csum(struct spec *s)
{
	s->bad_csum = true;
}
static void bad_ip_csum(struct spec *s)
{
	s->bad_ip_csum = true;
}
static void ip_options(struct spec *s)
{
	s->ip_opts = 4;
}
static void more_fragments(struct spec *s)
{
	s->frag = 0x2000;
}
static void no_payload(struct spec *s)
{
	s->plen = 0;
}

static void test_gro_add_refuses_flags(void **state)
{
	void (*f[])(struct spec *) = {flag_syn, flag_fin, flag_rst, flag_urg, flag_cwr};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		setup(state);
		refused_between(f[i], (const int[]){2, 1, 2}, 3);
	}
}

static void test_gro_add_refuses_other_headers(void **state)
{
	void (*f[])(struct spec *) = {other_ttl,  other_tos, other_options,
				      no_options, other_ack, other_window};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		setup(state);
		refused_between(f[i], (const int[]){2, 1, 2}, 3);
	}
}

static void test_gro_add_refuses_bad_checksums(void **state)
{
	void (*f[])(struct spec *) = {bad_csum, bad_ip_csum};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		setup(state);
		refused_between(f[i], (const int[]){2, 1, 2}, 3);
		/* The bad one leaves alone and unchanged. */
		assert_true(is_zero_hdr(&frames[1].h));
		assert_memory_equal(frames[1].data, orig[2], lens[2]);
	}
}

static void test_gro_add_refuses_ip_options_fragments_empty(void **state)
{
	void (*f[])(struct spec *) = {ip_options, more_fragments, no_payload};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		setup(state);
		refused_between(f[i], (const int[]){2, 1, 2}, 3);
	}
}

/* A later fragment and an IPv6 packet with an extension header may belong to
 * any flow between their addresses: they end those runs too. */
static void test_gro_add_later_fragment_and_exthdr_keep_order(void **state)
{
	struct spec s = tcp_spec(false, 1000, 1000), b;

	(void)state;
	s.seq = add_tcp_run(s, 2, 1000);
	b = s;
	b.frag = 100; /* offset 800 */
	add(&b);
	s.id = (uint16_t)(s.id + 3);
	add_tcp_run(s, 2, 1000);
	assert_int_equal(tun_gro_flush(&gro), 0);
	expect_in_order((const int[]){2, 1, 2}, 3);

	setup(state);
	s = tcp_spec(true, 1000, 1000);
	s.seq = add_tcp_run(s, 2, 1000);
	b = s;
	b.v6_hbh = true;
	add(&b);
	add_tcp_run(s, 2, 1000);
	assert_int_equal(tun_gro_flush(&gro), 0);
	expect_in_order((const int[]){2, 1, 2}, 3);
	assert_true(is_zero_hdr(&frames[1].h));
}

static void test_gro_add_refuses_gap_and_bigger(void **state)
{
	struct spec s = tcp_spec(false, 1000, 1000);

	(void)state;
	/* A gap: the segment after it heads a new run its followers join. */
	s.seq = add_tcp_run(s, 3, 1000);
	s.seq += 1;
	s.id = (uint16_t)(s.id + 3);
	add_tcp_run(s, 3, 1000);
	assert_int_equal(tun_gro_flush(&gro), 0);
	expect_in_order((const int[]){3, 3}, 2);

	/* A shorter segment ends the run: the next, of full size, cannot
	 * follow it even though its seq is right. */
	setup(state);
	s = tcp_spec(false, 1000, 1000);
	s.seq = add_tcp_run(s, 2, 1000);
	s.id = (uint16_t)(s.id + 2);
	s.seq = add_tcp_run(s, 1, 500);
	s.id = (uint16_t)(s.id + 1);
	add_tcp_run(s, 2, 1000);
	assert_int_equal(tun_gro_flush(&gro), 0);
	expect_in_order((const int[]){3, 2}, 2);

	/* A bigger segment after the first cannot join either. */
	setup(state);
	s = tcp_spec(false, 1000, 1000);
	s.seq = add_tcp_run(s, 1, 800);
	s.id = (uint16_t)(s.id + 1);
	add_tcp_run(s, 2, 1000);
	assert_int_equal(tun_gro_flush(&gro), 0);
	expect_in_order((const int[]){1, 2}, 2);
}

static void test_gro_add_ipv4_ids(void **state)
{
	struct spec s = tcp_spec(false, 1000, 1000);

	(void)state;
	/* DF set: ids need not be consecutive (they come out renumbered by
	 * GSO, so the split-back compare is not byte for byte here). */
	for (int i = 0; i < 3; i++) {
		s.id = (uint16_t)(7 * i);
		add(&s);
		s.seq += 1000;
	}
	assert_int_equal(tun_gro_flush(&gro), 0);
	assert_int_equal(nframes, 1);
	assert_int_equal(frames[0].niov, 3);

	/* DF clear: they must be, since GSO numbers the segments. */
	setup(state);
	s = tcp_spec(false, 1000, 1000);
	s.no_df = true;
	s.seq = add_tcp_run(s, 3, 1000);
	s.id = (uint16_t)(s.id + 4); /* skips one */
	add_tcp_run(s, 2, 1000);
	assert_int_equal(tun_gro_flush(&gro), 0);
	expect_in_order((const int[]){3, 2}, 2);
}

static void test_gro_add_length_limit(void **state)
{
	struct spec s = tcp_spec(false, 1000, 1400);
	int first = (TUN_GRO_MAX_LEN - 52) / 1400;

	(void)state;
	add_tcp_run(s, 50, 1400);
	assert_int_equal(tun_gro_flush(&gro), 0);
	expect_in_order((const int[]){first, 50 - first}, 2);
	assert_true(frames[0].len <= TUN_GRO_MAX_LEN);
	assert_true(frames[0].len + 1400 > TUN_GRO_MAX_LEN);

	/* IPv6: the same bound counts the 40-byte header. */
	setup(state);
	s = tcp_spec(true, 1000, 1400);
	first = (TUN_GRO_MAX_LEN - 72) / 1400;
	add_tcp_run(s, 50, 1400);
	assert_int_equal(tun_gro_flush(&gro), 0);
	expect_in_order((const int[]){first, 50 - first}, 2);
}

static void test_gro_add_segment_limit(void **state)
{
	struct spec s = tcp_spec(false, 1000, 100);

	(void)state;
	add_tcp_run(s, 100, 100);
	assert_int_equal(tun_gro_flush(&gro), 0);
	expect_in_order((const int[]){TUN_GRO_MAX_SEGS, 100 - TUN_GRO_MAX_SEGS}, 2);
}

static void test_gro_add_interleaved_flows(void **state)
{
	struct spec a = tcp_spec(false, 1000, 1000), b = tcp_spec(false, 9000, 1000), c;
	int order[8], k = 0, ia[4], ib[3], ic;

	(void)state;
	b.sport = 40002;
	c = a;
	c.src_last = 9; /* same ports, other source address: another flow */
	for (int i = 0; i < 3; i++) {
		ia[i] = add(&a);
		a.seq += 1000;
		a.id++;
		ib[i] = add(&b);
		b.seq += 1000;
		b.id++;
	}
	ic = add(&c);
	a.flags = 0x11; /* FIN with payload: held after A's run */
	ia[3] = add(&a);
	assert_int_equal(tun_gro_flush(&gro), 0);
	for (int i = 0; i < 3; i++)
		order[k++] = ia[i];
	for (int i = 0; i < 3; i++)
		order[k++] = ib[i];
	order[k++] = ic;
	order[k++] = ia[3];
	expect(order, k, (const int[]){3, 3, 1, 1}, 4);
}

static void test_gro_add_full_table_flushes(void **state)
{
	struct spec s = tcp_spec(false, 1000, 20);

	(void)state;
	s.seq = add_tcp_run(s, TUN_GRO_BATCH, 20);
	assert_int_equal(nframes, 0);
	s.id = (uint16_t)(s.id + TUN_GRO_BATCH);
	add_tcp_run(s, 1, 20);
	/* The 129th packet made room by emitting the first 128. */
	assert_int_equal(nframes, 2);
	assert_int_equal(tun_gro_flush(&gro), 0);
	expect_in_order((const int[]){64, 64, 1}, 3);
}

static void test_gro_flush_reports_first_error(void **state)
{
	struct spec a = tcp_spec(false, 1000, 1000), b = a;

	(void)state;
	b.sport = 1;
	add(&a);
	add(&b);
	fail_at = 0;
	assert_int_equal(tun_gro_flush(&gro), -EIO);
	assert_int_equal(nframes, 2); /* the rest still left */

	/* An error of the flush a full table makes comes from the next one. */
	setup(state);
	fail_at = 0;
	a.flags = 0x11;
	for (int i = 0; i <= TUN_GRO_BATCH; i++)
		add(&a);
	assert_int_equal(nframes, TUN_GRO_BATCH);
	assert_int_equal(tun_gro_flush(&gro), -EIO);
	assert_int_equal(tun_gro_flush(&gro), 0);
}

static void test_gro_add_udp(void **state)
{
	struct spec s;

	(void)state;
	for (int v6 = 0; v6 < 2; v6++) {
		setup(state);
		for (int i = 0; i < 10; i++) {
			s = udp_spec(v6, 1200, (uint8_t)i);
			s.id = (uint16_t)i;
			add(&s);
		}
		s = udp_spec(v6, 300, 99);
		s.id = 10; /* GSO numbers IPv4 ids from the first */
		add(&s);   /* shorter: ends the run */
		s = udp_spec(v6, 1200, 100);
		add(&s);
		assert_int_equal(tun_gro_flush(&gro), 0);
		expect_in_order((const int[]){11, 1}, 2);
		assert_int_equal(frames[0].h.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
		assert_int_equal(frames[0].h.gso_size, 1200);
		assert_int_equal(frames[0].h.hdr_len, (v6 ? 40 : 20) + 8);
	}
}

static void test_gro_add_udp_checksums(void **state)
{
	struct spec s;

	/* IPv4 without a checksum joins (the kernel adds one). */
	(void)state;
	for (int i = 0; i < 3; i++) {
		s = udp_spec(false, 500, (uint8_t)i);
		s.zero_csum = true;
		add(&s);
	}
	assert_int_equal(tun_gro_flush(&gro), 0);
	assert_int_equal(nframes, 1);
	assert_int_equal(frames[0].niov, 3);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(frames[0].data + 28 + i * 500, orig[i] + 28, 500);

	/* IPv6 without one, and a wrong one, are refused. */
	for (int bad = 0; bad < 2; bad++) {
		setup(state);
		for (int i = 0; i < 5; i++) {
			s = udp_spec(true, 500, (uint8_t)i);
			if (i == 2) {
				s.zero_csum = !bad;
				s.bad_csum = bad;
			}
			add(&s);
		}
		assert_int_equal(tun_gro_flush(&gro), 0);
		expect_in_order((const int[]){2, 1, 2}, 3);
	}
}

static void test_gro_add_udp_off(void **state)
{
	struct spec s;

	(void)state;
	tun_gro_init(&gro, TUN_GRO_TCP, record, &gro);
	for (int i = 0; i < 4; i++) {
		s = udp_spec(false, 1000, (uint8_t)i);
		add(&s);
	}
	assert_int_equal(tun_gro_flush(&gro), 0);
	expect_in_order((const int[]){1, 1, 1, 1}, 4);

	/* And TCP off: TCP segments all leave alone. */
	setup(state);
	tun_gro_init(&gro, TUN_GRO_UDP, record, &gro);
	add_tcp_run(tcp_spec(false, 1, 0), 4, 1000);
	assert_int_equal(tun_gro_flush(&gro), 0);
	expect_in_order((const int[]){1, 1, 1, 1}, 4);
}

static void test_gro_add_garbage(void **state)
{
	static uint8_t junk[4][64];
	size_t jl[4] = {0, 1, 19, 64};

	(void)state;
	memset(junk[3], 0x45, sizeof(junk[3]));
	for (int i = 0; i < 4; i++)
		tun_gro_add(&gro, junk[i], jl[i]);
	assert_int_equal(tun_gro_flush(&gro), 0);
	assert_int_equal(nframes, 4);
	for (int i = 0; i < 4; i++) {
		assert_true(is_zero_hdr(&frames[i].h));
		assert_int_equal(frames[i].len, jl[i]);
	}
}

/* ---- against the kernel ---- */

/* Linux 6.2 uapi; the build host's headers may be older. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

enum { KERNEL_SEGS = 12, WAIT_MS = 2000 };

static struct {
	bool ready; /* namespace and devices up */
	bool uso;   /* the kernel takes UDP GSO from a TUN */
	int in_fd;  /* gro0: IFF_VNET_HDR with offloads; the test writes here */
	int out_fd; /* gro1: plain, no offloads; forwarded packets leave here */
	int frames, gso_frames;
} k = {.in_fd = -1, .out_fd = -1};

static int tun_create(const char *name, bool vnet)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	return ok;
}

/* 10.net.0.1/24 and fdnet::1/64, up. */
static bool link_setup(struct nl_sock *nl, const char *name, uint8_t net)
{
	uint8_t a4[4] = {10, net, 0, 1}, a6[16] = {0xfd, net};
	int ifindex = (int)if_nametoindex(name);

	a6[15] = 1;
	return ifindex > 0 && nl_addr_add(nl, ifindex, AF_INET, a4, 24) == 0 &&
	       nl_addr_add(nl, ifindex, AF_INET6, a6, 64) == 0 &&
	       nl_link_set_up(nl, ifindex, true) == 0;
}

static int count_local(const struct nl_route *rt, void *ctx)
{
	int *n = ctx;

	if (rt->type == RTN_LOCAL && rt->plen == 128 && rt->dst[0] == 0xfd && rt->dst[15] == 1)
		(*n)++;
	return 0;
}

/* IPv6 installs the local route of an address from a work queue, after the
 * address itself: until then a packet for fd00::1 is forwarded, not
 * delivered, although a socket can already bind to it. */
static bool wait_local_routes(struct nl_sock *nl)
{
	for (int tries = 0; tries < 300; tries++) {
		int n = 0;

		if (nl_route_dump(nl, AF_INET6, count_local, &n) == 0 && n == 2)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

/* Moves the process into a network namespace of its own holding gro0
 * (10.0.0.1/24, fd00::1/64: the test plays 10.0.0.2 / fd00::2 behind it) and
 * gro1 (10.1.0.1/24, fd01::1/64), with forwarding on: a super-packet written
 * to gro0 for 10.1.0.2 is segmented by the kernel's GSO, its checksums
 * computed in software (gro1 has no offloads), and read back from gro1. */
static void kernel_setup(void)
{
	unsigned off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
	const char *why = NULL;
	struct nl_sock nl;

	if (geteuid() != 0)
		why = "not root";
	else if (unshare(CLONE_NEWNET) < 0)
		why = "unshare(CLONE_NEWNET) failed";
	else if ((k.in_fd = tun_create("gro0", true)) < 0 ||
		 (k.out_fd = tun_create("gro1", false)) < 0)
		why = "cannot create TUN devices";
	else if (ioctl(k.in_fd, TUNSETOFFLOAD, off) < 0)
		why = "TUNSETOFFLOAD refused";
	else if (nl_open(&nl) < 0)
		why = "no rtnetlink";
	else {
		if (!link_setup(&nl, "gro0", 0) || !link_setup(&nl, "gro1", 1))
			why = "cannot configure the links";
		else if (!wait_local_routes(&nl))
			why = "no IPv6 local routes after 3 s";
		nl_close(&nl);
	}
	if (!why && (!write_file("/proc/sys/net/ipv4/ip_forward", "1") ||
		     !write_file("/proc/sys/net/ipv6/conf/all/forwarding", "1")))
		why = "cannot enable forwarding";
	/* USO came with Linux 6.2; the TCP cases run without it. */
	k.uso = !why && ioctl(k.in_fd, TUNSETOFFLOAD, off | TUN_F_USO4 | TUN_F_USO6) == 0;
	if (why)
		fprintf(stderr, "test_gro: kernel cases skipped: %s\n", why);
	else if (!k.uso)
		fprintf(stderr, "test_gro: UDP kernel cases skipped: no TUN_F_USO4/6\n");
	k.ready = !why;
}

/* Writes a frame to gro0 as the daemon will: vnet header, then the iovec. */
static int tun_emit(void *ctx, const struct virtio_net_hdr *h, const struct iovec *iov, int n)
{
	struct iovec v[TUN_GRO_MAX_SEGS + 1];
	size_t len = sizeof(*h);
	ssize_t r;

	(void)ctx;
	v[0] = (struct iovec){.iov_base = (void *)h, .iov_len = sizeof(*h)};
	for (int i = 0; i < n; i++) {
		v[i + 1] = iov[i];
		len += iov[i].iov_len;
	}
	k.frames++;
	if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE)
		k.gso_frames++;
	r = writev(k.in_fd, v, n + 1);
	if (r < 0)
		return -errno;
	return r == (ssize_t)len ? 0 : -EIO;
}

/* The next packet of proto in fd (after skip bytes of header), skipping
 * others (the kernel's own ICMPv6): its length, or 0 after WAIT_MS. */
static size_t read_packet(int fd, size_t skip, uint8_t *b, size_t cap, bool v6, uint8_t proto)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, WAIT_MS) <= 0)
			return 0;
		r = read(fd, b, cap);
		if (r < (ssize_t)(skip + 40))
			continue;
		if (v6 ? b[skip] >> 4 == 6 && b[skip + 6] == proto
		       : b[skip] >> 4 == 4 && b[skip + 9] == proto)
			return (size_t)r;
	}
}

static void drain(int fd)
{
	static uint8_t b[TUN_GRO_MAX_LEN + 64];
	struct pollfd p = {.fd = fd, .events = POLLIN};

	while (poll(&p, 1, 0) == 1 && read(fd, b, sizeof(b)) > 0)
		;
}

/* n segments of plen bytes through gro, the last one of last_plen (and PSH
 * for TCP); checks they left as one GSO frame the kernel took. */
static void write_run(struct spec s, int n, size_t plen, size_t last_plen)
{
	tun_gro_init(&gro, TUN_GRO_TCP | TUN_GRO_UDP, tun_emit, NULL);
	k.frames = k.gso_frames = 0;
	npkts = 0;
	for (int i = 0; i < n; i++) {
		bool last = i == n - 1;

		s.plen = last ? last_plen : plen;
		if (!s.udp && last)
			s.flags |= 0x08;
		s.id = (uint16_t)(500 + i);
		s.fill = (uint8_t)(i * 31);
		add(&s);
		s.seq += (uint32_t)s.plen;
	}
	assert_int_equal(tun_gro_flush(&gro), 0);
	assert_int_equal(k.frames, 1);
	assert_int_equal(k.gso_frames, 1);
}

/* Forwarded to gro1, the super-packet comes out as the original segments,
 * one hop later, byte for byte: the kernel's GSO (ids counting up from the
 * first, its checksums) inverts our GRO. */
static void kernel_forward(bool v6, bool udp, int n, size_t plen, size_t last_plen)
{
	static uint8_t b[TUN_GRO_MAX_LEN + 64];
	struct spec s = udp ? udp_spec(v6, 0, 0) : tcp_spec(v6, 1000, 0);

	if (!k.ready || (udp && !k.uso))
		skip();
	drain(k.out_fd);
	s.src_last = 2;
	s.dst_net = 1;
	write_run(s, n, plen, last_plen);
	for (int i = 0; i < n; i++) {
		size_t len = read_packet(k.out_fd, 0, b, sizeof(b), v6, udp ? 17 : 6);

		if (v6) {
			orig[i][7]--;
		} else {
			orig[i][8]--;
			be16_put(orig[i] + 10, 0);
			be16_put(orig[i] + 10, ref_csum(pkt_ref_sum(0, orig[i], 20)));
		}
		assert_int_equal(len, lens[i]);
		assert_memory_equal(b, orig[i], len);
	}
}

static void test_gro_kernel_forward_tcp4(void **state)
{
	(void)state;
	kernel_forward(false, false, KERNEL_SEGS, 1000, 333);
	/* As many 1400-byte segments as fit in one super-packet. */
	kernel_forward(false, false, (TUN_GRO_MAX_LEN - 52) / 1400, 1400, 1400);
}

static void test_gro_kernel_forward_tcp6(void **state)
{
	(void)state;
	kernel_forward(true, false, KERNEL_SEGS, 1000, 333);
	/* As many 1400-byte segments as fit in one super-packet. */
	kernel_forward(true, false, (TUN_GRO_MAX_LEN - 72) / 1400, 1400, 1400);
}

static void test_gro_kernel_forward_udp4(void **state)
{
	(void)state;
	kernel_forward(false, true, KERNEL_SEGS, 1000, 333);
	/* As many 1400-byte segments as fit in one super-packet. */
	kernel_forward(false, true, (TUN_GRO_MAX_LEN - 28) / 1400, 1400, 1400);
}

static void test_gro_kernel_forward_udp6(void **state)
{
	(void)state;
	kernel_forward(true, true, KERNEL_SEGS, 1000, 333);
	/* As many 1400-byte segments as fit in one super-packet. */
	kernel_forward(true, true, (TUN_GRO_MAX_LEN - 48) / 1400, 1400, 1400);
}

/* A UDP super-packet for a socket of the namespace: every datagram arrives
 * whole and in order. */
static void kernel_udp_socket(bool v6)
{
	static uint8_t b[TUN_GRO_MAX_LEN];
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(4242)};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(4242)};
	struct timeval tv = {.tv_sec = WAIT_MS / 1000};
	struct spec s = udp_spec(v6, 0, 0);
	size_t hl = (v6 ? 40 : 20) + 8;
	int fd;

	if (!k.ready || !k.uso)
		skip();
	a6.sin6_addr.s6_addr[0] = 0xfd;
	a6.sin6_addr.s6_addr[15] = 1;
	a4.sin_addr.s_addr = htonl(0x0a000001);
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(v6 ? bind(fd, (struct sockaddr *)&a6, sizeof(a6))
			    : bind(fd, (struct sockaddr *)&a4, sizeof(a4)),
			 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	s.src_last = 2;
	s.dst_last = 1;
	write_run(s, KERNEL_SEGS, 1000, 333);
	for (int i = 0; i < KERNEL_SEGS; i++) {
		ssize_t r = recv(fd, b, sizeof(b), 0);

		assert_int_equal(r, lens[i] - hl);
		assert_memory_equal(b, orig[i] + hl, lens[i] - hl);
	}
	assert_int_equal(recv(fd, b, sizeof(b), MSG_DONTWAIT), -1);
	close(fd);
}

static void test_gro_kernel_udp4_socket(void **state)
{
	(void)state;
	kernel_udp_socket(false);
}

static void test_gro_kernel_udp6_socket(void **state)
{
	(void)state;
	kernel_udp_socket(true);
}

/* The SYN-ACK the server sent to the test's client port: its seq. */
static uint32_t read_syn_ack(bool v6, uint32_t isn)
{
	static uint8_t b[TUN_GRO_MAX_LEN + 64];
	size_t vh = sizeof(struct virtio_net_hdr), l4 = vh + (v6 ? 40 : 20);

	for (;;) {
		size_t len = read_packet(k.in_fd, vh, b, sizeof(b), v6, 6);

		assert_true(len >= l4 + 20);
		if (be16_get(b + l4 + 2) == 40000 && b[l4 + 13] == 0x12) {
			assert_int_equal(be32_get(b + l4 + 8), isn + 1);
			return be32_get(b + l4 + 4);
		}
	}
}

/* The test as a TCP client behind gro0 of a server of the namespace: the
 * handshake by hand, then the data as one super-packet, which the server
 * reads as the same bytes. */
static void kernel_tcp_server(bool v6)
{
	static uint8_t b[KERNEL_SEGS * 1000];
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(5201)};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(5201)};
	struct timeval tv = {.tv_sec = WAIT_MS / 1000};
	struct spec s = tcp_spec(v6, 0x1000, 0);
	struct pollfd p = {.events = POLLIN};
	size_t hl = (v6 ? 40 : 20) + 20, got = 0, want = 0;
	uint32_t srv;
	int lfd, cfd;

	if (!k.ready)
		skip();
	a6.sin6_addr.s6_addr[0] = 0xfd;
	a6.sin6_addr.s6_addr[15] = 1;
	a4.sin_addr.s_addr = htonl(0x0a000001);
	lfd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(v6 ? bind(lfd, (struct sockaddr *)&a6, sizeof(a6))
			    : bind(lfd, (struct sockaddr *)&a4, sizeof(a4)),
			 0);
	assert_int_equal(listen(lfd, 1), 0);
	drain(k.in_fd);

	/* SYN (no options), SYN-ACK, ACK. */
	tun_gro_init(&gro, TUN_GRO_TCP | TUN_GRO_UDP, tun_emit, NULL);
	s.src_last = 2;
	s.dst_last = 1;
	s.optlen = 0;
	s.flags = 0x02;
	s.ack = 0;
	s.win = 65535;
	add(&s);
	assert_int_equal(tun_gro_flush(&gro), 0);
	srv = read_syn_ack(v6, s.seq);
	s.seq++;
	s.ack = srv + 1;
	s.flags = 0x10;
	add(&s);
	assert_int_equal(tun_gro_flush(&gro), 0);
	p.fd = lfd;
	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	assert_int_equal(setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);

	write_run(s, KERNEL_SEGS, 1000, 333);
	for (int i = 0; i < npkts; i++)
		want += lens[i] - hl;
	while (got < want) {
		ssize_t r = recv(cfd, b + got, sizeof(b) - got, 0);

		assert_true(r > 0);
		got += (size_t)r;
	}
	for (int i = 0, off = 0; i < npkts; off += (int)(lens[i] - hl), i++)
		assert_memory_equal(b + off, orig[i] + hl, lens[i] - hl);
	close(cfd);
	close(lfd);
}

static void test_gro_kernel_tcp4_server(void **state)
{
	(void)state;
	kernel_tcp_server(false);
}

static void test_gro_kernel_tcp6_server(void **state)
{
	(void)state;
	kernel_tcp_server(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_gro_add_tcp4_timestamps, setup),
	    cmocka_unit_test_setup(test_gro_add_tcp6, setup),
	    cmocka_unit_test_setup(test_gro_add_single_is_plain, setup),
	    cmocka_unit_test_setup(test_gro_add_refuses_flags, setup),
	    cmocka_unit_test_setup(test_gro_add_refuses_other_headers, setup),
	    cmocka_unit_test_setup(test_gro_add_refuses_bad_checksums, setup),
	    cmocka_unit_test_setup(test_gro_add_refuses_ip_options_fragments_empty, setup),
	    cmocka_unit_test_setup(test_gro_add_later_fragment_and_exthdr_keep_order, setup),
	    cmocka_unit_test_setup(test_gro_add_refuses_gap_and_bigger, setup),
	    cmocka_unit_test_setup(test_gro_add_ipv4_ids, setup),
	    cmocka_unit_test_setup(test_gro_add_length_limit, setup),
	    cmocka_unit_test_setup(test_gro_add_segment_limit, setup),
	    cmocka_unit_test_setup(test_gro_add_interleaved_flows, setup),
	    cmocka_unit_test_setup(test_gro_add_full_table_flushes, setup),
	    cmocka_unit_test_setup(test_gro_flush_reports_first_error, setup),
	    cmocka_unit_test_setup(test_gro_add_udp, setup),
	    cmocka_unit_test_setup(test_gro_add_udp_checksums, setup),
	    cmocka_unit_test_setup(test_gro_add_udp_off, setup),
	    cmocka_unit_test_setup(test_gro_add_garbage, setup),
	    cmocka_unit_test_setup(test_gro_kernel_forward_tcp4, setup),
	    cmocka_unit_test_setup(test_gro_kernel_forward_tcp6, setup),
	    cmocka_unit_test_setup(test_gro_kernel_forward_udp4, setup),
	    cmocka_unit_test_setup(test_gro_kernel_forward_udp6, setup),
	    cmocka_unit_test_setup(test_gro_kernel_udp4_socket, setup),
	    cmocka_unit_test_setup(test_gro_kernel_udp6_socket, setup),
	    cmocka_unit_test_setup(test_gro_kernel_tcp4_server, setup),
	    cmocka_unit_test_setup(test_gro_kernel_tcp6_server, setup),
	};

	kernel_setup();

	return cmocka_run_group_tests(tests, NULL, setup);
}
