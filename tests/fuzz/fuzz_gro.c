/* Fuzz harness for the userspace GRO (tun/gro.h).
 *
 * Input: byte 0 picks the offloads (low 2 bits: TUN_GRO_TCP, TUN_GRO_UDP);
 * the rest is packets, each a 2-byte big-endian length and that many bytes
 * (cut at the end of the input). Each packet gets a heap buffer of exactly
 * its length, so that ASan catches any read or write past it, and all are
 * added (more than a batch, so full-table flushes happen) and flushed.
 *
 * Checked beyond "no crash", on every frame: it is at most 64 KiB and 64
 * segments; each iovec lies inside one input packet; a plain frame is one
 * whole packet; a super-packet's header agrees with its bytes (lengths,
 * gso_size against every segment, csum_start/offset, hdr_len) and its
 * pseudo-header sum finishes into a valid checksum. Every packet leaves
 * exactly once, and packets of one TCP or UDP flow (as this harness reads
 * the headers) leave in the order they came. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tun/gro.h"
#include "util/csum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_PKTS = 300 };

struct pkts {
	uint8_t *buf[MAX_PKTS];
	size_t len[MAX_PKTS];
	bool seen[MAX_PKTS];
	int pos[MAX_PKTS];	   /* place in the emitted order */
	uint8_t key[MAX_PKTS][40]; /* family, proto, addresses, ports; [0] = 0: none */
	int n, emitted;
	struct tun_gro g;
};

static void check(bool ok)
{
	if (!ok)
		abort();
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The packet iov lies in: a head must start it, a follower must end it. */
static int owner(struct pkts *s, const struct iovec *v, bool head)
{
	const uint8_t *b = v->iov_base;

	for (int i = 0; i < s->n; i++) {
		const uint8_t *p = s->buf[i];

		if (b < p || b > p + s->len[i] || v->iov_len > (size_t)(p + s->len[i] - b))
			continue;
		if (head ? b == p && v->iov_len == s->len[i] : b + v->iov_len == p + s->len[i])
			return i;
	}
	abort();
}

static void check_super(const struct virtio_net_hdr *h, const struct iovec *iov, int n,
			size_t total)
{
	static uint8_t f[TUN_GRO_MAX_LEN];
	size_t off = 0, l4 = h->csum_start;
	bool v6, udp = h->gso_type == VIRTIO_NET_HDR_GSO_UDP_L4;
	uint32_t sum;

	for (int i = 0; i < n; i++) {
		memcpy(f + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	v6 = f[0] >> 4 == 6;
	check(h->flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && n >= 2 && h->gso_size > 0);
	check(h->gso_type == (udp  ? VIRTIO_NET_HDR_GSO_UDP_L4
			      : v6 ? VIRTIO_NET_HDR_GSO_TCPV6
				   : VIRTIO_NET_HDR_GSO_TCPV4));
	check(l4 == (v6 ? 40u : 20u) && h->csum_offset == (udp ? 6 : 16));
	check(h->hdr_len == l4 + (udp ? 8u : (size_t)(f[l4 + 12] >> 4) * 4));
	check(iov[0].iov_len == h->hdr_len + (size_t)h->gso_size);
	for (int i = 1; i < n; i++)
		check(iov[i].iov_len > 0 && iov[i].iov_len <= h->gso_size &&
		      (i == n - 1 || iov[i].iov_len == h->gso_size));
	check(v6 ? rd16(f + 4) + 40u == total : rd16(f + 2) == total);
	if (!v6)
		check(csum_fold(csum_add(0, f, 20)) == 0);
	if (udp)
		check(rd16(f + l4 + 4) == total - l4);
	/* Finish the checksum as the kernel does; it must then verify. */
	sum = csum_add(0, f + l4, total - l4);
	f[l4 + h->csum_offset] = (uint8_t)(csum_fold(sum) >> 8);
	f[l4 + h->csum_offset + 1] = (uint8_t)csum_fold(sum);
	sum = v6 ? csum_pseudo_v6(f + 8, f + 24, udp ? 17 : 6, (uint32_t)(total - l4))
		 : csum_pseudo_v4(f + 12, f + 16, udp ? 17 : 6, (uint32_t)(total - l4));
	check(csum_fold(csum_add(sum, f + l4, total - l4)) == 0);
}

static int emit(void *ctx, const struct virtio_net_hdr *h, const struct iovec *iov, int n)
{
	static const struct virtio_net_hdr zero;
	struct pkts *s = ctx;
	size_t total = 0;

	check(n >= 1 && n <= TUN_GRO_MAX_SEGS);
	for (int i = 0; i < n; i++) {
		int k = owner(s, &iov[i], i == 0);

		check(!s->seen[k]);
		s->seen[k] = true;
		s->pos[k] = s->emitted++;
		total += iov[i].iov_len;
	}
	if (!memcmp(h, &zero, sizeof(zero)))
		check(n == 1);
	else
		check_super(h, iov, n, total);
	check(total <= TUN_GRO_MAX_LEN);
	return 0;
}

/* The flow of a packet with a whole TCP or UDP header: family, protocol,
 * both addresses and both ports. */
static void flow_key(const uint8_t *p, size_t len, uint8_t key[40])
{
	size_t l4 = 0, alen = 0, aoff = 0;
	uint8_t proto = 0;

	memset(key, 0, 40);
	if (len >= 20 && p[0] >> 4 == 4 && !(rd16(p + 6) & 0x1fff)) {
		l4 = (size_t)(p[0] & 15) * 4;
		proto = p[9];
		aoff = 12;
		alen = 8;
	} else if (len >= 40 && p[0] >> 4 == 6) {
		l4 = 40;
		proto = p[6];
		aoff = 8;
		alen = 32;
	}
	if (l4 < 20 || (proto != 6 && proto != 17) || len < l4 + (proto == 6 ? 20 : 8))
		return;
	key[0] = p[0] >> 4;
	key[1] = proto;
	memcpy(key + 2, p + aoff, alen);
	memcpy(key + 2 + alen, p + l4, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pkts s;
	size_t off = 1;

	if (size < 1)
		return 0;
	s.n = s.emitted = 0;
	tun_gro_init(&s.g, data[0] & 3, emit, &s);
	while (off + 2 <= size && s.n < MAX_PKTS) {
		size_t len = rd16(data + off);

		off += 2;
		if (len > size - off)
			len = size - off;
		/* Exactly len bytes (one for an empty packet, so that malloc
		 * does not return NULL). */
		s.buf[s.n] = malloc(len ? len : 1);
		check(s.buf[s.n] != NULL);
		memcpy(s.buf[s.n], data + off, len);
		s.len[s.n] = len;
		s.seen[s.n] = false;
		flow_key(s.buf[s.n], len, s.key[s.n]);
		tun_gro_add(&s.g, s.buf[s.n], len);
		s.n++;
		off += len;
	}
	check(tun_gro_flush(&s.g) == 0);
	for (int i = 0; i < s.n; i++) {
		check(s.seen[i]);
		for (int j = i + 1; s.key[i][0] && j < s.n; j++)
			if (!memcmp(s.key[i], s.key[j], sizeof(s.key[i])))
				check(s.pos[i] < s.pos[j]);
		free(s.buf[i]);
	}
	return 0;
}
