/* Splitting GSO super-packets and finishing NEEDS_CSUM checksums
 * (tun/gso.h), on packets built by hand: TCP over IPv4 with IP options and
 * the timestamps option, TCP over IPv6, UDP_L4 over both, a short last
 * segment, FIN|PSH and CWR with GSO_ECN, sequence numbers and IPv4 ids that
 * wrap. Every field of every segment is checked against what the
 * super-packet says it must be, and every segment's IP header and L4
 * checksums are verified. Then the cursor (three calls give the bytes of
 * one), every malformed frame refused by both functions with the same code,
 * a lying hdr_len ignored, and tun_csum_finish for TCP and UDP over both
 * families. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tun/gso.h"
#include "util/be.h"
#include "util/csum.h"

#define N(x) (sizeof(x) / sizeof((x)[0]))

enum {
	OUT_MAX = 80,
	OUT_CAP = 1600,
	TCP_FIN = 0x01,
	TCP_SYN = 0x02,
	TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	TCP_ECE = 0x40,
	TCP_CWR = 0x80,
};

/* What a test super-packet is made of. */
struct spec {
	bool v6;
	uint8_t proto;	   /* IPPROTO_TCP or IPPROTO_UDP */
	size_t ip_opt;	   /* IPv4 option bytes (multiple of 4) */
	bool tcp_ts;	   /* TCP timestamps option (12 bytes with two NOPs) */
	size_t payload;	   /* bytes after the L4 header */
	uint8_t tcp_flags; /* ACK if 0 */
	uint32_t seq;
	uint16_t ip_id;
	unsigned gso_size;
	bool ecn; /* VIRTIO_NET_HDR_GSO_ECN */
};

static uint8_t pkt[65536 + 64];
static uint8_t out_store[OUT_MAX][OUT_CAP];
static uint8_t *out[OUT_MAX];
static size_t out_len[OUT_MAX];

static uint8_t payload_byte(size_t i)
{
	return (uint8_t)(i * 131 + i / 251 + 7);
}

static size_t l4_off_of(const struct spec *s)
{
	return s->v6 ? 40 : 20 + s->ip_opt;
}

static size_t l4_hl_of(const struct spec *s)
{
	return s->proto == IPPROTO_UDP ? 8 : 20 + (s->tcp_ts ? 12 : 0);
}

/* Builds the super-packet of s into pkt and its vnet header into *h as the
 * kernel would (NEEDS_CSUM, the L4 checksum field holding the pseudo-header
 * sum, hdr_len the header bytes): its length. */
static size_t build(const struct spec *s, struct virtio_net_hdr *h)
{
	size_t l4 = l4_off_of(s), hl = l4_hl_of(s), len = l4 + hl + s->payload;
	uint8_t *t = pkt + l4;
	uint32_t ps;

	assert_true(len <= 65535);
	memset(pkt, 0, l4 + hl);
	if (s->v6) {
		pkt[0] = 0x60;
		pkt[1] = 0x0a; /* traffic class 0x00, flow label 0xabcde */
		pkt[2] = 0xbc;
		pkt[3] = 0xde;
		be16_put(pkt + 4, (uint16_t)(len - 40));
		pkt[6] = s->proto;
		pkt[7] = 64;
		pkt[8] = 0xfd, pkt[9] = 0x77, pkt[23] = 1;
		pkt[24] = 0xfd, pkt[25] = 0x77, pkt[39] = 2;
	} else {
		pkt[0] = (uint8_t)(0x40 | (l4 / 4));
		pkt[1] = 0x02; /* ECT(0) */
		be16_put(pkt + 2, (uint16_t)len);
		be16_put(pkt + 4, s->ip_id);
		pkt[6] = 0x40; /* DF */
		pkt[8] = 64;
		pkt[9] = s->proto;
		pkt[12] = 10, pkt[13] = 77, pkt[14] = 0, pkt[15] = 1;
		pkt[16] = 10, pkt[17] = 77, pkt[18] = 0, pkt[19] = 2;
		for (size_t i = 20; i < l4; i++)
			pkt[i] = i + 1 == l4 ? 0 : 1; /* NOPs, then end of options */
		csum_ipv4_header_set(pkt, l4);
	}
	be16_put(t, 40000);
	if (s->proto == IPPROTO_TCP) {
		be16_put(t + 2, 5201);
		be32_put(t + 4, s->seq);
		be32_put(t + 8, 0x01020304);
		t[12] = (uint8_t)((hl / 4) << 4);
		t[13] = s->tcp_flags ? s->tcp_flags : TCP_ACK;
		be16_put(t + 14, 502);
		if (s->tcp_ts) {
			t[20] = 1, t[21] = 1, t[22] = 8, t[23] = 10;
			be32_put(t + 24, 0x11223344);
			be32_put(t + 28, 0x55667788);
		}
	} else {
		be16_put(t + 2, 4242);
		be16_put(t + 4, (uint16_t)(hl + s->payload));
	}
	for (size_t i = 0; i < s->payload; i++)
		pkt[l4 + hl + i] = payload_byte(i);
	ps = s->v6 ? csum_pseudo_v6(pkt + 8, pkt + 24, s->proto, (uint32_t)(len - l4))
		   : csum_pseudo_v4(pkt + 12, pkt + 16, s->proto, (uint32_t)(len - l4));
	be16_put(t + (s->proto == IPPROTO_TCP ? 16 : 6), (uint16_t)~csum_fold(ps));

	memset(h, 0, sizeof(*h));
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (s->proto == IPPROTO_UDP)
		h->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	else
		h->gso_type = s->v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	if (s->ecn)
		h->gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	h->hdr_len = (uint16_t)(l4 + hl);
	h->gso_size = (uint16_t)s->gso_size;
	h->csum_start = (uint16_t)l4;
	h->csum_offset = s->proto == IPPROTO_TCP ? 16 : 6;
	return len;
}

static void reset_out(void)
{
	for (int i = 0; i < OUT_MAX; i++) {
		out[i] = out_store[i];
		memset(out_store[i], 0xa5, OUT_CAP);
		out_len[i] = 0;
	}
}

static bool l4_csum_ok(const uint8_t *seg, size_t l4, size_t len, bool v6, uint8_t proto)
{
	uint32_t s = v6 ? csum_pseudo_v6(seg + 8, seg + 24, proto, (uint32_t)(len - l4))
			: csum_pseudo_v4(seg + 12, seg + 16, proto, (uint32_t)(len - l4));

	return csum_fold(csum_add(s, seg + l4, len - l4)) == 0;
}

/* Checks segment k of n, seg/len, against the super-packet of s in pkt. */
static void check_segment(const struct spec *s, unsigned k, unsigned n, const uint8_t *seg,
			  size_t len)
{
	size_t l4 = l4_off_of(s), hl = l4_hl_of(s), hdrs = l4 + hl;
	size_t off = (size_t)k * s->gso_size;
	size_t want = s->payload - off < s->gso_size ? s->payload - off : s->gso_size;
	const uint8_t *t = seg + l4, *st = pkt + l4;

	if (len != hdrs + want)
		fail_msg("segment %u/%u: %zu bytes, want %zu", k, n, len, hdrs + want);
	if (s->v6) {
		assert_int_equal(be16_get(seg + 4), len - 40);
		assert_memory_equal(seg, pkt, 4);
		assert_memory_equal(seg + 6, pkt + 6, 34);
	} else {
		assert_int_equal(seg[0], pkt[0]);
		assert_int_equal(seg[1], pkt[1]);
		assert_int_equal(be16_get(seg + 2), len);
		assert_int_equal(be16_get(seg + 4), (uint16_t)(s->ip_id + k));
		assert_memory_equal(seg + 6, pkt + 6, 4);	  /* flags, TTL, protocol */
		assert_memory_equal(seg + 12, pkt + 12, l4 - 12); /* addresses, options */
		if (csum_fold(csum_add(0, seg, l4)) != 0)
			fail_msg("segment %u/%u: bad IPv4 header checksum", k, n);
	}
	assert_memory_equal(t, st, 4); /* ports */
	if (s->proto == IPPROTO_TCP) {
		uint8_t f = st[13];

		assert_int_equal(be32_get(t + 4), (uint32_t)(s->seq + off));
		assert_memory_equal(t + 8, st + 8, 5); /* ack, data offset */
		if (k + 1 != n)
			f &= (uint8_t) ~(TCP_FIN | TCP_PSH);
		if (k != 0)
			f &= (uint8_t)~TCP_CWR;
		if (t[13] != f)
			fail_msg("segment %u/%u: flags %#x, want %#x", k, n, t[13], f);
		assert_memory_equal(t + 14, st + 14, 2);
		assert_memory_equal(t + 18, st + 18, hl - 18); /* urgent, options */
	} else {
		assert_int_equal(be16_get(t + 4), 8 + want);
		assert_int_not_equal(be16_get(t + 6), 0);
	}
	if (!l4_csum_ok(seg, l4, len, s->v6, s->proto))
		fail_msg("segment %u/%u: bad L4 checksum", k, n);
	assert_memory_equal(seg + hdrs, pkt + hdrs + off, want);
}

/* Builds s, splits it in one call and checks every segment: their number. */
static unsigned split_and_check(const struct spec *s)
{
	struct virtio_net_hdr h;
	size_t len = build(s, &h);
	unsigned n = (unsigned)((s->payload + s->gso_size - 1) / s->gso_size);
	int got;

	assert_true(n <= OUT_MAX);
	reset_out();
	assert_int_equal(tun_gso_segments(&h, pkt, len), n);
	got = tun_gso_split(&h, pkt, len, 0, out, OUT_CAP, out_len, OUT_MAX);
	assert_int_equal(got, n);
	for (unsigned k = 0; k < n; k++)
		check_segment(s, k, n, out[k], out_len[k]);
	/* Nothing written past the segments. */
	for (unsigned k = 0; k < n; k++)
		for (size_t i = out_len[k]; i < OUT_CAP; i++)
			if (out_store[k][i] != 0xa5)
				fail_msg("segment %u written at %zu past its end", k, i);
	assert_int_equal(out_store[n][0], 0xa5);
	return n;
}

static void test_tun_gso_split_tcp4_timestamps(void **state)
{
	struct spec s = {.proto = IPPROTO_TCP,
			 .tcp_ts = true,
			 .payload = 10 * 1448,
			 .seq = 1000,
			 .ip_id = 0x1234,
			 .gso_size = 1448};

	(void)state;
	assert_int_equal(split_and_check(&s), 10);
	/* With IPv4 options too, a short last segment, an id and a sequence
	 * number that wrap. */
	s.ip_opt = 8;
	s.payload = 7 * 1448 + 100;
	s.seq = 0xffffe000;
	s.ip_id = 0xfffd;
	assert_int_equal(split_and_check(&s), 8);
	assert_int_equal(be16_get(out[7] + 2), 28 + 32 + 100);
	assert_int_equal(be16_get(out[3] + 4), 0x0000);
}

static void test_tun_gso_split_tcp6(void **state)
{
	struct spec s = {.v6 = true,
			 .proto = IPPROTO_TCP,
			 .tcp_ts = true,
			 .payload = 44 * 1428 + 1,
			 .seq = 77,
			 .gso_size = 1428};

	(void)state;
	assert_int_equal(split_and_check(&s), 45);
	assert_int_equal(be16_get(out[44] + 4), 32 + 1);
	s.tcp_ts = false;
	s.payload = 65535 - 60;
	s.gso_size = 1440;
	assert_int_equal(split_and_check(&s), 46);
}

static void test_tun_gso_split_udp_l4(void **state)
{
	struct spec s = {.proto = IPPROTO_UDP, .payload = 10 * 1000, .ip_id = 9, .gso_size = 1000};

	(void)state;
	assert_int_equal(split_and_check(&s), 10);
	s.v6 = true;
	assert_int_equal(split_and_check(&s), 10);
	/* A short last datagram, and an odd segment size. */
	s.payload = 5 * 1001 + 3;
	s.gso_size = 1001;
	assert_int_equal(split_and_check(&s), 6);
	assert_int_equal(be16_get(out[5] + 40 + 4), 8 + 3);
	s.v6 = false;
	assert_int_equal(split_and_check(&s), 6);
	/* One segment only (payload below gso_size). */
	s.payload = 500;
	assert_int_equal(split_and_check(&s), 1);
}

static void test_tun_gso_split_fin_psh_last_only(void **state)
{
	struct spec s = {.proto = IPPROTO_TCP,
			 .payload = 3 * 1200 + 10,
			 .tcp_flags = TCP_ACK | TCP_PSH | TCP_FIN,
			 .gso_size = 1200};

	(void)state;
	assert_int_equal(split_and_check(&s), 4);
	for (int k = 0; k < 3; k++)
		assert_int_equal(out[k][20 + 13], TCP_ACK);
	assert_int_equal(out[3][20 + 13], TCP_ACK | TCP_PSH | TCP_FIN);
	s.v6 = true;
	assert_int_equal(split_and_check(&s), 4);
	assert_int_equal(out[0][40 + 13], TCP_ACK);
	assert_int_equal(out[3][40 + 13], TCP_ACK | TCP_PSH | TCP_FIN);
}

static void test_tun_gso_split_cwr_first_only(void **state)
{
	struct spec s = {.proto = IPPROTO_TCP,
			 .tcp_ts = true,
			 .payload = 4 * 1000,
			 .tcp_flags = TCP_ACK | TCP_CWR | TCP_ECE | TCP_PSH,
			 .gso_size = 1000,
			 .ecn = true};

	(void)state;
	assert_int_equal(split_and_check(&s), 4);
	assert_int_equal(out[0][20 + 13], TCP_ACK | TCP_CWR | TCP_ECE);
	assert_int_equal(out[1][20 + 13], TCP_ACK | TCP_ECE);
	assert_int_equal(out[3][20 + 13], TCP_ACK | TCP_ECE | TCP_PSH);
	s.v6 = true;
	assert_int_equal(split_and_check(&s), 4);
}

/* Split in three calls is split in one: same count, same bytes. */
static void test_tun_gso_split_cursor(void **state)
{
	static uint8_t one[OUT_MAX][OUT_CAP];
	struct spec s = {.proto = IPPROTO_TCP,
			 .tcp_ts = true,
			 .payload = 20 * 1000 + 17,
			 .tcp_flags = TCP_ACK | TCP_PSH,
			 .seq = 5,
			 .ip_id = 100,
			 .gso_size = 1000};
	size_t one_len[OUT_MAX];
	struct virtio_net_hdr h;
	size_t len;
	unsigned done = 0;
	const unsigned steps[] = {7, 7, 50};

	(void)state;
	assert_int_equal(split_and_check(&s), 21);
	for (int k = 0; k < 21; k++) {
		memcpy(one[k], out[k], out_len[k]);
		one_len[k] = out_len[k];
	}
	len = build(&s, &h);
	for (size_t i = 0; i < N(steps); i++) {
		int got;

		reset_out();
		got = tun_gso_split(&h, pkt, len, done, out, OUT_CAP, out_len, steps[i]);
		assert_int_equal(got, 7);
		for (int k = 0; k < got; k++) {
			assert_int_equal(out_len[k], one_len[done + k]);
			assert_memory_equal(out[k], one[done + k], out_len[k]);
		}
		/* max_out bounds the writes. */
		assert_int_equal(out_store[got][0], 0xa5);
		done += (unsigned)got;
	}
	assert_int_equal(done, 21);
	/* Past the end, and nothing asked for. */
	assert_int_equal(tun_gso_split(&h, pkt, len, 21, out, OUT_CAP, out_len, OUT_MAX), 0);
	assert_int_equal(tun_gso_split(&h, pkt, len, 1000, out, OUT_CAP, out_len, OUT_MAX), 0);
	assert_int_equal(tun_gso_split(&h, pkt, len, 0, out, OUT_CAP, out_len, 0), 0);
	/* The last alone needs only its own size. */
	reset_out();
	assert_int_equal(tun_gso_split(&h, pkt, len, 20, out, 20 + 32 + 17, out_len, 4), 1);
	assert_memory_equal(out[0], one[20], one_len[20]);
}

static void test_tun_gso_split_enospc(void **state)
{
	struct spec s = {.proto = IPPROTO_UDP, .payload = 3 * 1400, .gso_size = 1400};
	struct virtio_net_hdr h;
	size_t len = build(&s, &h);

	(void)state;
	reset_out();
	/* One byte short of a full segment: nothing written. */
	assert_int_equal(tun_gso_split(&h, pkt, len, 0, out, 20 + 8 + 1400 - 1, out_len, 3),
			 -ENOSPC);
	for (int k = 0; k < 3; k++)
		assert_int_equal(out_store[k][0], 0xa5);
	assert_int_equal(tun_gso_split(&h, pkt, len, 0, out, 20 + 8 + 1400, out_len, 3), 3);
	/* A GSO_NONE frame larger than out_cap. */
	h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	h.flags = 0;
	assert_int_equal(tun_gso_split(&h, pkt, len, 0, out, len - 1, out_len, 3), -ENOSPC);
}

/* GSO_NONE: one segment, a copy, its checksum finished under NEEDS_CSUM. */
static void test_tun_gso_split_none(void **state)
{
	struct spec s = {.proto = IPPROTO_UDP, .payload = 333, .gso_size = 1000};
	struct virtio_net_hdr h;
	size_t len = build(&s, &h);

	(void)state;
	h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	h.gso_size = 0;
	assert_int_equal(tun_gso_segments(&h, pkt, len), 1);
	reset_out();
	assert_int_equal(tun_gso_split(&h, pkt, len, 0, out, OUT_CAP, out_len, 4), 1);
	assert_int_equal(out_len[0], len);
	assert_true(l4_csum_ok(out[0], 20, len, false, IPPROTO_UDP));
	assert_memory_equal(out[0], pkt, 26); /* all but the checksum */
	assert_int_equal(tun_gso_split(&h, pkt, len, 1, out, OUT_CAP, out_len, 4), 0);
	/* Without NEEDS_CSUM the bytes are copied as they are. */
	h.flags = 0;
	assert_int_equal(tun_gso_split(&h, pkt, len, 0, out, OUT_CAP, out_len, 4), 1);
	assert_memory_equal(out[0], pkt, len);
	assert_false(l4_csum_ok(out[0], 20, len, false, IPPROTO_UDP));
}

/* hdr_len is never used: any value gives the same segments. */
static void test_tun_gso_split_ignores_hdr_len(void **state)
{
	static uint8_t ref[OUT_MAX][OUT_CAP];
	static const uint16_t lies[] = {0, 1, 20, 40, 100, 1500, 65535};
	struct spec s = {.proto = IPPROTO_TCP, .tcp_ts = true, .payload = 5000, .gso_size = 1300};
	struct virtio_net_hdr h;
	size_t len, ref_len[OUT_MAX];

	(void)state;
	assert_int_equal(split_and_check(&s), 4);
	for (int k = 0; k < 4; k++) {
		memcpy(ref[k], out[k], out_len[k]);
		ref_len[k] = out_len[k];
	}
	len = build(&s, &h);
	for (size_t i = 0; i < N(lies); i++) {
		h.hdr_len = lies[i];
		reset_out();
		assert_int_equal(tun_gso_segments(&h, pkt, len), 4);
		assert_int_equal(tun_gso_split(&h, pkt, len, 0, out, OUT_CAP, out_len, OUT_MAX), 4);
		for (int k = 0; k < 4; k++) {
			assert_int_equal(out_len[k], ref_len[k]);
			assert_memory_equal(out[k], ref[k], ref_len[k]);
		}
	}
}

/* A mutation of a valid super-packet and what both functions must say. */
struct bad {
	const char *what;
	struct spec s;
	void (*mutate)(struct virtio_net_hdr *h, size_t *len);
	int err;
};

static const struct spec TCP4 = {
    .proto = IPPROTO_TCP, .tcp_ts = true, .payload = 3000, .gso_size = 1000};
static const struct spec TCP6 = {
    .v6 = true, .proto = IPPROTO_TCP, .payload = 3000, .gso_size = 1000};
static const struct spec UDP4 = {.proto = IPPROTO_UDP, .payload = 3000, .gso_size = 1000};
static const struct spec UDP6 = {
    .v6 = true, .proto = IPPROTO_UDP, .payload = 3000, .gso_size = 1000};

static void m_gso_size_0(struct virtio_net_hdr *h, size_t *len)
{
	h->gso_size = 0;
	(void)len;
}

static void m_frame_longer(struct virtio_net_hdr *h, size_t *len)
{
	pkt[*len] = 0;
	++*len;
	(void)h;
}

static void m_frame_shorter(struct virtio_net_hdr *h, size_t *len)
{
	--*len;
	(void)h;
}

static void m_ip_len_bigger(struct virtio_net_hdr *h, size_t *len)
{
	if ((pkt[0] >> 4) == 4)
		be16_put(pkt + 2, (uint16_t)(be16_get(pkt + 2) + 1));
	else
		be16_put(pkt + 4, (uint16_t)(be16_get(pkt + 4) + 1));
	(void)h;
	(void)len;
}

/* The IP length and the frame both end inside the TCP header. */
static void m_tcp_truncated(struct virtio_net_hdr *h, size_t *len)
{
	size_t l4 = (pkt[0] >> 4) == 4 ? (size_t)(pkt[0] & 15) * 4 : 40;

	*len = l4 + 19;
	if ((pkt[0] >> 4) == 4)
		be16_put(pkt + 2, (uint16_t)*len);
	else
		be16_put(pkt + 4, (uint16_t)(*len - 40));
	(void)h;
}

/* The TCP header ends inside its options. */
static void m_tcp_options_truncated(struct virtio_net_hdr *h, size_t *len)
{
	size_t l4 = (pkt[0] >> 4) == 4 ? (size_t)(pkt[0] & 15) * 4 : 40;

	pkt[l4 + 12] = 0xf0; /* 60 bytes of header */
	*len = l4 + 40;
	if ((pkt[0] >> 4) == 4)
		be16_put(pkt + 2, (uint16_t)*len);
	else
		be16_put(pkt + 4, (uint16_t)(*len - 40));
	(void)h;
}

static void m_doff_4(struct virtio_net_hdr *h, size_t *len)
{
	size_t l4 = (pkt[0] >> 4) == 4 ? (size_t)(pkt[0] & 15) * 4 : 40;

	pkt[l4 + 12] = 0x40;
	(void)h;
	(void)len;
}

static void m_doff_0(struct virtio_net_hdr *h, size_t *len)
{
	size_t l4 = (pkt[0] >> 4) == 4 ? (size_t)(pkt[0] & 15) * 4 : 40;

	pkt[l4 + 12] = 0x00;
	(void)h;
	(void)len;
}

static void m_csum_offset_outside(struct virtio_net_hdr *h, size_t *len)
{
	h->csum_offset = (uint16_t)(*len + 100);
}

static void m_csum_offset_wrong(struct virtio_net_hdr *h, size_t *len)
{
	h->csum_offset = 2;
	(void)len;
}

static void m_csum_start_outside(struct virtio_net_hdr *h, size_t *len)
{
	h->csum_start = 0xffff;
	(void)len;
}

static void m_csum_start_wrong(struct virtio_net_hdr *h, size_t *len)
{
	h->csum_start = (uint16_t)(h->csum_start + 4);
	(void)len;
}

/* A hop-by-hop header of 8 bytes (PadN) in front of the L4 header. */
static void m_v6_hop_by_hop(struct virtio_net_hdr *h, size_t *len)
{
	memmove(pkt + 48, pkt + 40, *len - 40);
	pkt[40] = pkt[6];
	pkt[41] = 0;
	pkt[42] = 1, pkt[43] = 4, pkt[44] = pkt[45] = pkt[46] = pkt[47] = 0;
	pkt[6] = 0;
	*len += 8;
	be16_put(pkt + 4, (uint16_t)(*len - 40));
	h->csum_start = 48;
}

static void m_v6_fragment(struct virtio_net_hdr *h, size_t *len)
{
	m_v6_hop_by_hop(h, len);
	pkt[6] = 44;
}

static void m_v6_routing(struct virtio_net_hdr *h, size_t *len)
{
	m_v6_hop_by_hop(h, len);
	pkt[6] = 43;
}

static void m_type_tcpv6(struct virtio_net_hdr *h, size_t *len)
{
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	(void)len;
}

static void m_type_tcpv4(struct virtio_net_hdr *h, size_t *len)
{
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	(void)len;
}

static void m_type_udp_l4(struct virtio_net_hdr *h, size_t *len)
{
	h->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	(void)len;
}

static void m_type_ufo(struct virtio_net_hdr *h, size_t *len)
{
	h->gso_type = VIRTIO_NET_HDR_GSO_UDP;
	(void)len;
}

static void m_type_unknown(struct virtio_net_hdr *h, size_t *len)
{
	h->gso_type = 9;
	(void)len;
}

static void m_type_ecn_only(struct virtio_net_hdr *h, size_t *len)
{
	h->gso_type = VIRTIO_NET_HDR_GSO_ECN;
	h->flags = 0;
	(void)len;
}

static void m_udp_ecn(struct virtio_net_hdr *h, size_t *len)
{
	h->gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	(void)len;
}

static void m_v4_more_fragments(struct virtio_net_hdr *h, size_t *len)
{
	pkt[6] |= 0x20;
	(void)h;
	(void)len;
}

static void m_v4_frag_offset(struct virtio_net_hdr *h, size_t *len)
{
	pkt[7] = 1;
	(void)h;
	(void)len;
}

static void m_ihl_4(struct virtio_net_hdr *h, size_t *len)
{
	pkt[0] = 0x44;
	(void)h;
	(void)len;
}

static void m_ihl_past_frame(struct virtio_net_hdr *h, size_t *len)
{
	pkt[0] = 0x4f;
	*len = 40;
	be16_put(pkt + 2, 40);
	(void)h;
}

static void m_version_5(struct virtio_net_hdr *h, size_t *len)
{
	pkt[0] = (uint8_t)(0x50 | (pkt[0] & 15));
	(void)h;
	(void)len;
}

static void m_empty(struct virtio_net_hdr *h, size_t *len)
{
	*len = 0;
	(void)h;
}

static void m_udp_len_wrong(struct virtio_net_hdr *h, size_t *len)
{
	size_t l4 = (pkt[0] >> 4) == 4 ? (size_t)(pkt[0] & 15) * 4 : 40;

	be16_put(pkt + l4 + 4, (uint16_t)(be16_get(pkt + l4 + 4) - 1));
	(void)h;
	(void)len;
}

/* Headers only: nothing to segment. */
static void m_no_payload(struct virtio_net_hdr *h, size_t *len)
{
	size_t l4 = (pkt[0] >> 4) == 4 ? (size_t)(pkt[0] & 15) * 4 : 40;
	uint8_t proto = (pkt[0] >> 4) == 4 ? pkt[9] : pkt[6];
	size_t hl = proto == IPPROTO_UDP ? 8 : (pkt[l4 + 12] >> 4) * 4u;

	*len = l4 + hl;
	if ((pkt[0] >> 4) == 4) {
		be16_put(pkt + 2, (uint16_t)*len);
	} else {
		be16_put(pkt + 4, (uint16_t)(*len - 40));
	}
	if (hl == 8)
		be16_put(pkt + l4 + 4, 8);
	(void)h;
}

static void m_not_tcp_udp(struct virtio_net_hdr *h, size_t *len)
{
	if ((pkt[0] >> 4) == 4) {
		pkt[9] = IPPROTO_ICMP;
		csum_ipv4_header_set(pkt, (size_t)(pkt[0] & 15) * 4);
	} else {
		pkt[6] = IPPROTO_ICMPV6;
	}
	(void)h;
	(void)len;
}

static const struct bad bads[] = {
    {"gso_size 0", TCP4, m_gso_size_0, -EINVAL},
    {"gso_size 0 (UDP)", UDP6, m_gso_size_0, -EINVAL},
    {"frame longer than IPv4 length", TCP4, m_frame_longer, -EINVAL},
    {"frame shorter than IPv4 length", TCP4, m_frame_shorter, -EINVAL},
    {"frame longer than IPv6 length", TCP6, m_frame_longer, -EINVAL},
    {"frame shorter than IPv6 length", UDP6, m_frame_shorter, -EINVAL},
    {"IPv4 length past the frame", UDP4, m_ip_len_bigger, -EINVAL},
    {"IPv6 length past the frame", TCP6, m_ip_len_bigger, -EINVAL},
    {"TCP header truncated (v4)", TCP4, m_tcp_truncated, -EINVAL},
    {"TCP header truncated (v6)", TCP6, m_tcp_truncated, -EINVAL},
    {"TCP options truncated", TCP4, m_tcp_options_truncated, -EINVAL},
    {"TCP data offset 4", TCP4, m_doff_4, -EINVAL},
    {"TCP data offset 0", TCP6, m_doff_0, -EINVAL},
    {"csum_offset outside the packet", TCP4, m_csum_offset_outside, -EINVAL},
    {"csum_offset not the checksum field", UDP4, m_csum_offset_wrong, -EINVAL},
    {"csum_start outside the packet", TCP6, m_csum_start_outside, -EINVAL},
    {"csum_start not the L4 header", TCP4, m_csum_start_wrong, -EINVAL},
    {"IPv6 hop-by-hop header", TCP6, m_v6_hop_by_hop, -EPROTONOSUPPORT},
    {"IPv6 fragment header", UDP6, m_v6_fragment, -EPROTONOSUPPORT},
    {"IPv6 routing header", TCP6, m_v6_routing, -EPROTONOSUPPORT},
    {"TCPV6 on IPv4", TCP4, m_type_tcpv6, -EINVAL},
    {"TCPV4 on IPv6", TCP6, m_type_tcpv4, -EINVAL},
    {"UDP_L4 on TCP", TCP4, m_type_udp_l4, -EINVAL},
    {"TCPV4 on UDP", UDP4, m_type_tcpv4, -EINVAL},
    {"UFO", UDP4, m_type_ufo, -EPROTONOSUPPORT},
    {"unknown gso_type", TCP4, m_type_unknown, -EINVAL},
    {"GSO_ECN alone", TCP4, m_type_ecn_only, -EINVAL},
    {"GSO_ECN on UDP_L4", UDP4, m_udp_ecn, -EINVAL},
    {"IPv4 more fragments", UDP4, m_v4_more_fragments, -EINVAL},
    {"IPv4 fragment offset", TCP4, m_v4_frag_offset, -EINVAL},
    {"IPv4 ihl 4", TCP4, m_ihl_4, -EINVAL},
    {"IPv4 ihl past the frame", TCP4, m_ihl_past_frame, -EINVAL},
    {"IP version 5", UDP4, m_version_5, -EINVAL},
    {"empty frame", TCP4, m_empty, -EINVAL},
    {"UDP length disagrees", UDP4, m_udp_len_wrong, -EINVAL},
    {"UDP length disagrees (v6)", UDP6, m_udp_len_wrong, -EINVAL},
    {"no payload (TCP)", TCP4, m_no_payload, -EINVAL},
    {"no payload (UDP)", UDP6, m_no_payload, -EINVAL},
    {"ICMP with TCPV4", TCP4, m_not_tcp_udp, -EINVAL},
    {"ICMPv6 with UDP_L4", UDP6, m_not_tcp_udp, -EINVAL},
};

static void test_tun_gso_malformed_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(bads); i++) {
		struct virtio_net_hdr h;
		size_t len = build(&bads[i].s, &h);
		int n, got;

		/* Each row starts from a super-packet that splits. */
		assert_int_equal(tun_gso_segments(&h, pkt, len), 3);
		bads[i].mutate(&h, &len);
		n = tun_gso_segments(&h, pkt, len);
		reset_out();
		got = tun_gso_split(&h, pkt, len, 0, out, OUT_CAP, out_len, OUT_MAX);
		if (n != bads[i].err || got != bads[i].err)
			fail_msg("%s: segments %d, split %d, want %d", bads[i].what, n, got,
				 bads[i].err);
		assert_int_equal(out_store[0][0], 0xa5);
	}
}

/* A frame whose checksum the kernel left to us, with payload of odd length. */
static size_t build_partial(bool v6, uint8_t proto, size_t payload, struct virtio_net_hdr *h)
{
	struct spec s = {
	    .v6 = v6, .proto = proto, .tcp_ts = true, .payload = payload, .gso_size = 1};
	size_t len = build(&s, h);

	h->gso_type = VIRTIO_NET_HDR_GSO_NONE;
	h->gso_size = 0;
	return len;
}

static void test_tun_csum_finish_tcp_udp(void **state)
{
	static const struct {
		bool v6;
		uint8_t proto;
		size_t l4;
	} rows[] = {
	    {false, IPPROTO_TCP, 20},
	    {false, IPPROTO_UDP, 20},
	    {true, IPPROTO_TCP, 40},
	    {true, IPPROTO_UDP, 40},
	};

	(void)state;
	for (size_t i = 0; i < N(rows); i++) {
		for (size_t payload = 0; payload < 40; payload += 13) {
			struct virtio_net_hdr h;
			size_t len = build_partial(rows[i].v6, rows[i].proto, payload, &h);
			uint8_t copy[256];

			assert_false(l4_csum_ok(pkt, rows[i].l4, len, rows[i].v6, rows[i].proto));
			memcpy(copy, pkt, len);
			assert_int_equal(tun_csum_finish(&h, pkt, len), 0);
			if (!l4_csum_ok(pkt, rows[i].l4, len, rows[i].v6, rows[i].proto))
				fail_msg("row %zu payload %zu: checksum does not verify", i,
					 payload);
			/* Only the checksum field changed. */
			for (size_t b = 0; b < len; b++)
				if (b != h.csum_start + h.csum_offset &&
				    b != h.csum_start + h.csum_offset + 1u && pkt[b] != copy[b])
					fail_msg("row %zu: byte %zu changed", i, b);
			/* Whatever the field held before. */
			pkt[h.csum_start + h.csum_offset] ^= 0x5a;
			assert_int_equal(tun_csum_finish(&h, pkt, len), 0);
			assert_true(l4_csum_ok(pkt, rows[i].l4, len, rows[i].v6, rows[i].proto));
			/* Without NEEDS_CSUM nothing is touched. */
			pkt[h.csum_start + h.csum_offset] ^= 0x5a;
			memcpy(copy, pkt, len);
			h.flags = 0;
			assert_int_equal(tun_csum_finish(&h, pkt, len), 0);
			assert_memory_equal(pkt, copy, len);
		}
	}
}

/* A UDP checksum that computes to 0 is sent as 0xffff (0 means none). */
static void test_tun_csum_finish_udp_zero_is_ffff(void **state)
{
	struct virtio_net_hdr h;
	size_t len = build_partial(false, IPPROTO_UDP, 10, &h);
	uint32_t w;
	uint16_t c;

	(void)state;
	assert_int_equal(tun_csum_finish(&h, pkt, len), 0);
	/* Add the checksum into a payload word: the sum becomes 0xffff. */
	c = be16_get(pkt + 26);
	w = (uint32_t)be16_get(pkt + 28) + c;
	be16_put(pkt + 28, (uint16_t)((w & 0xffff) + (w >> 16)));
	assert_int_equal(tun_csum_finish(&h, pkt, len), 0);
	assert_int_equal(be16_get(pkt + 26), 0xffff);
	assert_true(l4_csum_ok(pkt, 20, len, false, IPPROTO_UDP));
}

static void test_tun_csum_finish_v6_options_walked(void **state)
{
	struct virtio_net_hdr h;
	size_t len = build_partial(true, IPPROTO_UDP, 21, &h);

	(void)state;
	m_v6_hop_by_hop(&h, &len);
	assert_int_equal(tun_csum_finish(&h, pkt, len), 0);
	assert_true(l4_csum_ok(pkt, 48, len, true, IPPROTO_UDP));
	/* csum_start at the extension header instead: refused. */
	h.csum_start = 40;
	assert_int_equal(tun_csum_finish(&h, pkt, len), -EINVAL);
	/* A routing header changes the pseudo-header: refused. */
	h.csum_start = 48;
	pkt[6] = 43;
	assert_int_equal(tun_csum_finish(&h, pkt, len), -EINVAL);
	/* Destination options are walked too. */
	pkt[6] = 60;
	assert_int_equal(tun_csum_finish(&h, pkt, len), 0);
	assert_true(l4_csum_ok(pkt, 48, len, true, IPPROTO_UDP));
	/* Hop-by-hop only first (RFC 8200 4.1), at most a few headers. */
	pkt[6] = 0;
	m_v6_hop_by_hop(&h, &len); /* hop-by-hop, hop-by-hop, UDP */
	h.csum_start = 56;
	assert_int_equal(tun_csum_finish(&h, pkt, len), -EINVAL);
	pkt[40] = 60; /* hop-by-hop, destination options, UDP */
	assert_int_equal(tun_csum_finish(&h, pkt, len), 0);
	assert_true(l4_csum_ok(pkt, 56, len, true, IPPROTO_UDP));
	for (int i = 0; i < 3; i++) {
		m_v6_hop_by_hop(&h, &len);
		pkt[40] = 60;
	}
	pkt[6] = 60; /* five destination options headers */
	h.csum_start = (uint16_t)(40 + 5 * 8);
	assert_int_equal(tun_csum_finish(&h, pkt, len), -EINVAL);
}

static void test_tun_csum_finish_refused(void **state)
{
	static void (*const muts[])(struct virtio_net_hdr *, size_t *) = {
	    m_csum_offset_outside,
	    m_csum_offset_wrong,
	    m_csum_start_outside,
	    m_csum_start_wrong,
	    m_frame_longer,
	    m_frame_shorter,
	    m_tcp_truncated,
	    m_doff_4,
	    m_not_tcp_udp,
	    m_v4_more_fragments,
	    m_empty,
	    m_version_5,
	};

	(void)state;
	for (size_t i = 0; i < N(muts); i++) {
		struct virtio_net_hdr h;
		size_t len = build_partial(false, IPPROTO_TCP, 30, &h);
		uint8_t copy[256];

		muts[i](&h, &len);
		memcpy(copy, pkt, len);
		if (tun_csum_finish(&h, pkt, len) != -EINVAL)
			fail_msg("mutation %zu accepted", i);
		assert_memory_equal(pkt, copy, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tun_gso_split_tcp4_timestamps),
	    cmocka_unit_test(test_tun_gso_split_tcp6),
	    cmocka_unit_test(test_tun_gso_split_udp_l4),
	    cmocka_unit_test(test_tun_gso_split_fin_psh_last_only),
	    cmocka_unit_test(test_tun_gso_split_cwr_first_only),
	    cmocka_unit_test(test_tun_gso_split_cursor),
	    cmocka_unit_test(test_tun_gso_split_enospc),
	    cmocka_unit_test(test_tun_gso_split_none),
	    cmocka_unit_test(test_tun_gso_split_ignores_hdr_len),
	    cmocka_unit_test(test_tun_gso_malformed_refused),
	    cmocka_unit_test(test_tun_csum_finish_tcp_udp),
	    cmocka_unit_test(test_tun_csum_finish_udp_zero_is_ffff),
	    cmocka_unit_test(test_tun_csum_finish_v6_options_walked),
	    cmocka_unit_test(test_tun_csum_finish_refused),
	};

	for (int i = 0; i < OUT_MAX; i++)
		out[i] = out_store[i];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
