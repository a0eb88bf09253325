/* Userspace GRO for the packets the daemon writes to the TUN: decrypted TCP
 * (and, with the TUN's USO offload, UDP) segments of one flow are coalesced
 * into one super-packet with a virtio_net_hdr that asks the kernel to
 * segment it again (GSO) and to finish its checksum (NEEDS_CSUM), as the
 * kernel's own GRO and wireguard-go's tun GRO do. One write then carries up
 * to 64 KiB instead of one MTU.
 *
 * Zero-copy and allocation-free: the table holds pointers to the caller's
 * packets for one batch (up to TUN_GRO_BATCH), and a super-packet leaves as
 * an iovec of [first packet with rewritten headers, payload of the 2nd, ...].
 * Frames go out through a callback, so the module knows nothing of the
 * device it feeds.
 *
 * Limits chosen (see gro.c for the kernel rules behind them): a super-packet
 * is at most TUN_GRO_MAX_LEN bytes from its IP header on (so an IPv6 one has
 * a payload length of at most 65495) and at most TUN_GRO_MAX_SEGS segments. */
#pragma once
#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* UDP segmentation (USO) came to the uapi header with Linux 6.2; the build
 * host's headers may be older than the kernel it runs on. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

enum {
	TUN_GRO_BATCH = 128,	 /* packets held between two flushes */
	TUN_GRO_MAX_SEGS = 64,	 /* segments in one super-packet */
	TUN_GRO_MAX_LEN = 65535, /* bytes of one super-packet, IP header included */
};

/* What may be coalesced: the TUN's TSO (TCP) and USO (UDP) offloads. */
enum { TUN_GRO_TCP = 1, TUN_GRO_UDP = 2 };

/* Where coalesced frames go: one frame = vnet header + the bytes of
 * iov[0..n). Header fields are in host byte order (the legacy virtio header
 * of a TUN on a little-endian host). Returns 0 or -errno. */
typedef int (*tun_gro_emit_fn)(void *ctx, const struct virtio_net_hdr *h, const struct iovec *iov,
			       int n);

/* One held packet. */
struct tun_gro_seg {
	uint8_t *pkt;
	size_t len;
	uint16_t hdr_len; /* IP + L4 header bytes: what a follower leaves out */
	int16_t next;	  /* next segment of the same run, -1 at its end */
};

/* A run: packets that leave as one frame, in order of arrival of their first
 * packet. The first packet's bytes stand for the whole run's headers. */
struct tun_gro_run {
	uint32_t hash;	   /* of kind and flow key, to skip other flows quickly */
	uint32_t len;	   /* bytes of the super-packet so far */
	uint32_t next_seq; /* TCP: the sequence number a follower must carry */
	int16_t head, tail;
	uint16_t nsegs;
	uint16_t gso_size; /* payload bytes of the first segment */
	uint16_t l4_off;   /* IP header bytes */
	uint8_t kind;	   /* 0 (joins nothing) or a TCP/UDP over IPv4/IPv6 kind */
	uint8_t closed;	   /* nothing more joins (shorter or PSH segment, or refused) */
	uint8_t psh;	   /* a segment of the run had PSH */
};

struct tun_gro {
	unsigned flags;
	tun_gro_emit_fn emit;
	void *ctx;
	int err; /* first emit error of a flush that tun_gro_add made */
	uint16_t nsegs, nruns;
	struct tun_gro_seg segs[TUN_GRO_BATCH];
	struct tun_gro_run runs[TUN_GRO_BATCH];
	struct iovec iov[TUN_GRO_MAX_SEGS];
};

/* Sets up an empty table; flags is a mask of TUN_GRO_TCP/TUN_GRO_UDP (0:
 * every packet leaves alone, with a zero header). */
void tun_gro_init(struct tun_gro *g, unsigned flags, tun_gro_emit_fn emit, void *ctx);
/* Takes one decrypted IP packet. pkt must stay valid and may be modified (its
 * headers are rewritten when it heads a super-packet) until the next
 * tun_gro_flush. When the table is full, it flushes first (an emit error of
 * that flush is returned by the next tun_gro_flush). */
void tun_gro_add(struct tun_gro *g, uint8_t *pkt, size_t len);
/* Emits everything held and empties the table; returns the first emit error
 * or 0 (it still emits the rest after an error). */
int tun_gro_flush(struct tun_gro *g);
