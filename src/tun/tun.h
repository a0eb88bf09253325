/* The TUN device: one L3 interface whose fd carries IP packets (IFF_TUN |
 * IFF_NO_PI). All I/O goes through struct tun_ops so that tests and the
 * in-process end-to-end harness can put a fake device in its place. The
 * backend only moves frames as they are on the fd; the wrappers here own the
 * frame layout: the bare packet on a device opened with tun_open
 * (vnet_hdr_len 0), a struct virtio_net_hdr (vnet_hdr_len 10) in front of
 * each packet on one opened with tun_open_offload (IFF_VNET_HDR).
 *
 * tun_read/tun_write see one plain IP packet per call on both kinds of
 * device. tun_read_vnet/tun_write_vnet carry the header, with the offloads
 * it expresses: checksums left to finish (NEEDS_CSUM) and GSO super-packets
 * of up to 65535 bytes, split by tun/gso.h on the read side and built by
 * tun/gro.h on the write side.
 *
 * The device lives as long as its fd: it is not persistent, so closing it (or
 * the process dying) removes the interface, its addresses and its routes. */
#pragma once
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct virtio_net_hdr;

/* A buffer this large never truncates a packet read from the device. */
enum { TUN_PACKET_MAX = 65535 };

/* Bits of tun_dev.offloads: what the kernel accepted through TUNSETOFFLOAD. */
enum tun_offload {
	TUN_OFFLOAD_CSUM = 1 << 0, /* TUN_F_CSUM: reads may carry NEEDS_CSUM */
	TUN_OFFLOAD_TSO = 1 << 1,  /* TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN */
	TUN_OFFLOAD_USO = 1 << 2,  /* TUN_F_USO4 | TUN_F_USO6 (Linux 6.2) */
};

/* At most this many iovecs in one tun_write_vnet (the header takes one
 * more). */
enum { TUN_IOV_MAX = 64 };

struct tun_dev;

/* Backend of a tun_dev. readv and writev move one frame exactly as it is on
 * the fd: with vnet_hdr_len non-zero, the header's bytes and then the
 * packet's; both return the frame's bytes, or -1 with errno (EAGAIN when no
 * frame is queued). read and write are the same for a bare frame and may be
 * NULL: the wrappers then use readv/writev with one iovec; a fake that has
 * only read and write works on a device with vnet_hdr_len 0. set_offload
 * takes TUN_F_* bits (TUNSETOFFLOAD), returns 0 or -errno, and may be NULL
 * (a fake: the request is only recorded in offloads). close releases what
 * the backend holds and may be called once. */
struct tun_ops {
	ssize_t (*read)(struct tun_dev *dev, uint8_t *buf, size_t len);
	ssize_t (*write)(struct tun_dev *dev, const uint8_t *buf, size_t len);
	void (*close)(struct tun_dev *dev);
	ssize_t (*readv)(struct tun_dev *dev, const struct iovec *iov, int n);
	ssize_t (*writev)(struct tun_dev *dev, const struct iovec *iov, int n);
	int (*set_offload)(struct tun_dev *dev, unsigned tun_flags);
};

struct tun_dev {
	const struct tun_ops *ops;
	int fd;		     /* for epoll; -1 when closed (a fake may use any fd) */
	int ifindex;	     /* 0 for a fake without a kernel interface */
	size_t vnet_hdr_len; /* 0, or sizeof(struct virtio_net_hdr) (IFF_VNET_HDR) */
	unsigned offloads;   /* TUN_OFFLOAD_* bits on (0 without vnet header) */
	char name[IFNAMSIZ];
	void *priv; /* backend state of a fake; unused by the kernel backend */
};

/* The kernel backend used by tun_open and tun_open_offload. */
extern const struct tun_ops tun_kernel_ops;

/* Creates the TUN interface `name` (fewer than IFNAMSIZ characters) and fills
 * dev, its fd non-blocking and close-on-exec. Never attaches to an existing
 * interface: -EEXIST when one of that name exists (tun or not), -EINVAL on a
 * bad name, else -errno from the kernel. On failure dev->fd is -1. */
int tun_open(struct tun_dev *dev, const char *name) __attribute__((warn_unused_result));
/* Closes the device through its ops (removing a kernel interface); safe to
 * call twice and on a dev whose tun_open failed. */
void tun_close(struct tun_dev *dev);
/* Reads one IP packet into buf: its length, or -1 with errno (EAGAIN when none
 * is queued). The kernel silently cuts a packet longer than len, so buf must
 * hold the link MTU (TUN_PACKET_MAX fits any MTU). On a vnet device a frame
 * whose checksum was left to us (NEEDS_CSUM) is finished here (EINVAL when
 * its headers do not allow it), and a GSO super-packet, which is not one IP
 * packet, is consumed and refused with EMSGSIZE: a device with TSO/USO on is
 * read with tun_read_vnet. */
ssize_t tun_read(struct tun_dev *dev, uint8_t *buf, size_t len);
/* Writes one IP packet (delivered to the host's stack as received on the
 * interface): len, or -1 with errno (EINVAL for a packet the kernel refuses).
 * On a vnet device an all-zero header (no offload) goes in front. */
ssize_t tun_write(struct tun_dev *dev, const uint8_t *buf, size_t len);

/* Like tun_open, with IFF_VNET_HDR (TUNSETVNETHDRSZ: sizeof(struct
 * virtio_net_hdr)) and TUNSETOFFLOAD asking for `want` (TUN_OFFLOAD_* bits;
 * TSO and USO imply CSUM, without which the kernel has neither). USO
 * refused by a kernel older than 6.2 (EINVAL) is retried without it.
 * dev->offloads says what is on (0 for want 0: a vnet device with no
 * offload), dev->vnet_hdr_len is sizeof(struct virtio_net_hdr). 0 or
 * -errno, as tun_open. */
int tun_open_offload(struct tun_dev *dev, const char *name, unsigned want)
    __attribute__((warn_unused_result));
/* Turns all offloads off on an open vnet device at run time (TUNSETOFFLOAD
 * 0): the fallback when the kernel refuses what we wrote (EINVAL/EIO). The
 * header stays on the fd (the kernel cannot drop it); from now on it sends
 * no NEEDS_CSUM and no GSO frame, though ones queued before may still come.
 * 0 (also when nothing was on), -EINVAL on a device without vnet header,
 * else -errno from the backend (offloads unchanged then). */
int tun_offload_off(struct tun_dev *dev) __attribute__((warn_unused_result));
/* Start-up probe for kernels that refuse GSO writes (some 6.1 and 6.6
 * kernels answer EINVAL): writes one two-segment TCP super-packet (with
 * TUN_OFFLOAD_TSO on) and one UDP one (with TUN_OFFLOAD_USO), shaped as
 * tun/gro.h's merged writes, that the kernel drops after taking them (their
 * IPv4 header checksum is wrong: the IP layer counts them as header errors
 * and nothing else sees them). The link must be up: a down TUN refuses every
 * write with EIO. 0 when both were taken (or nothing is on to probe), the
 * -errno of the refused write otherwise. */
int tun_probe_merged_write(struct tun_dev *dev) __attribute__((warn_unused_result));
/* Reads one frame: the vnet header into *h (zeroed on a device without one)
 * and the packet (maybe a GSO super-packet of up to 65535 bytes, maybe with
 * NEEDS_CSUM: see tun/gso.h) into buf, cut to len as by tun_read. Returns
 * the packet length, or -errno with errno set as well (-EAGAIN when none is
 * queued, -EPROTO for a frame shorter than the header, -EINVAL for a
 * vnet_hdr_len other than 0 and sizeof(struct virtio_net_hdr)). */
ssize_t tun_read_vnet(struct tun_dev *dev, struct virtio_net_hdr *h, uint8_t *buf, size_t len);
/* Writes one frame: the vnet header *h, then the packet gathered from
 * iov[0..n) (1 <= n <= TUN_IOV_MAX). On a device without vnet header, h is
 * not written and must ask for nothing (flags without NEEDS_CSUM, gso_type
 * GSO_NONE): -EINVAL otherwise. Returns the packet bytes
 * written, or -errno with errno set as well (-EINVAL also for a frame the
 * kernel refuses: see tun_offload_off). h may be NULL: no offload. */
ssize_t tun_write_vnet(struct tun_dev *dev, const struct virtio_net_hdr *h, const struct iovec *iov,
		       int n);
