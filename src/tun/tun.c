/* The kernel TUN backend and the dispatch through struct tun_ops.
 *
 * tun_open creates a fresh, non-persistent interface and refuses to attach to
 * one that already exists: TUNSETIFF on an existing persistent tun would hand
 * us someone else's interface (and its traffic). The name is checked first so
 * the caller gets a clear -EEXIST, and IFF_TUN_EXCL makes the kernel refuse
 * an interface created between that check and TUNSETIFF.
 *
 * The backends move frames as they are on the fd; the frame layout is known
 * only to the wrappers below: with vnet_hdr_len non-zero they put a
 * virtio_net_hdr in front of each packet (all-zero from tun_write: no
 * offload) and take it off on read. tun_read, which promises one plain IP
 * packet, finishes a NEEDS_CSUM checksum itself and refuses a GSO frame. */
#include "tun/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tun/gso.h"
#include "util/be.h"
#include "util/csum.h"

/* Older uapi headers lack these (Linux 6.2). */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

enum { VNET_HDR_LEN = sizeof(struct virtio_net_hdr) };

static ssize_t kernel_read(struct tun_dev *dev, uint8_t *buf, size_t len)
{
	return read(dev->fd, buf, len);
}

static ssize_t kernel_write(struct tun_dev *dev, const uint8_t *buf, size_t len)
{
	return write(dev->fd, buf, len);
}

static ssize_t kernel_readv(struct tun_dev *dev, const struct iovec *iov, int n)
{
	return readv(dev->fd, iov, n);
}

static ssize_t kernel_writev(struct tun_dev *dev, const struct iovec *iov, int n)
{
	return writev(dev->fd, iov, n);
}

static int kernel_set_offload(struct tun_dev *dev, unsigned tun_flags)
{
	return ioctl(dev->fd, TUNSETOFFLOAD, (unsigned long)tun_flags) < 0 ? -errno : 0;
}

static void kernel_close(struct tun_dev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
	dev->ifindex = 0;
}

const struct tun_ops tun_kernel_ops = {
    .read = kernel_read,
    .write = kernel_write,
    .close = kernel_close,
    .readv = kernel_readv,
    .writev = kernel_writev,
    .set_offload = kernel_set_offload,
};

static bool name_ok(const char *name)
{
	size_t len;

	if (!name)
		return false;
	len = strnlen(name, IFNAMSIZ);
	/* The kernel's dev_valid_name rules, so the error is ours and clear. */
	if (len == 0 || len >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	return !strpbrk(name, "/: \t\n");
}

static int open_flags(struct tun_dev *dev, const char *name, short flags)
{
	struct ifreq ifr = {0};
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->fd = -1;
	if (!name_ok(name))
		return -EINVAL;
	if (if_nametoindex(name) != 0)
		return -EEXIST;

	dev->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (dev->fd < 0) {
		ret = -errno;
		goto out;
	}
	strcpy(ifr.ifr_name, name);
	ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL | flags);
	if (ioctl(dev->fd, TUNSETIFF, &ifr) < 0) {
		/* EBUSY: a tun of this name appeared after our check. */
		ret = errno == EBUSY ? -EEXIST : -errno;
		goto out;
	}
	memcpy(dev->name, ifr.ifr_name, IFNAMSIZ);
	dev->name[IFNAMSIZ - 1] = '\0';
	dev->ifindex = (int)if_nametoindex(dev->name);
	if (dev->ifindex == 0) {
		ret = errno ? -errno : -ENODEV;
		goto out;
	}
	dev->ops = &tun_kernel_ops;
	ret = 0;
out:
	if (ret < 0) {
		if (dev->fd >= 0)
			close(dev->fd);
		dev->fd = -1;
		dev->ifindex = 0;
	}
	return ret;
}

int tun_open(struct tun_dev *dev, const char *name)
{
	return open_flags(dev, name, 0);
}

/* TUN_F_* bits for TUN_OFFLOAD_* bits. */
static unsigned tun_flags_of(unsigned offloads)
{
	unsigned f = 0;

	if (offloads & (TUN_OFFLOAD_CSUM | TUN_OFFLOAD_TSO | TUN_OFFLOAD_USO))
		f |= TUN_F_CSUM;
	/* TSO_ECN: super-packets whose first segment has CWR (GSO_ECN),
	 * which tun_gso_split handles; without it the kernel segments those
	 * itself. */
	if (offloads & TUN_OFFLOAD_TSO)
		f |= TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	/* The kernel turns USO on only with both bits. */
	if (offloads & TUN_OFFLOAD_USO)
		f |= TUN_F_USO4 | TUN_F_USO6;
	return f;
}

static int set_offload(struct tun_dev *dev, unsigned offloads)
{
	int ret = 0;

	if (dev->ops->set_offload)
		ret = dev->ops->set_offload(dev, tun_flags_of(offloads));
	if (ret == 0)
		dev->offloads = offloads;
	return ret;
}

int tun_open_offload(struct tun_dev *dev, const char *name, unsigned want)
{
	int hdr_len = VNET_HDR_LEN;
	int ret;

	want &= TUN_OFFLOAD_CSUM | TUN_OFFLOAD_TSO | TUN_OFFLOAD_USO;
	if (want & (TUN_OFFLOAD_TSO | TUN_OFFLOAD_USO))
		want |= TUN_OFFLOAD_CSUM;
	ret = open_flags(dev, name, IFF_VNET_HDR);
	if (ret < 0)
		return ret;
	if (ioctl(dev->fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
		ret = -errno;
		goto out;
	}
	dev->vnet_hdr_len = VNET_HDR_LEN;
	ret = set_offload(dev, want);
	/* Before 6.2 the USO bits are unknown and refuse the whole set. */
	if (ret == -EINVAL && (want & TUN_OFFLOAD_USO))
		ret = set_offload(dev, want & ~(unsigned)TUN_OFFLOAD_USO);
out:
	if (ret < 0)
		tun_close(dev);
	return ret;
}

int tun_offload_off(struct tun_dev *dev)
{
	if (!dev->ops)
		return -EBADF;
	if (dev->vnet_hdr_len == 0)
		return -EINVAL;
	return set_offload(dev, 0);
}

void tun_close(struct tun_dev *dev)
{
	if (dev->ops && dev->ops->close)
		dev->ops->close(dev);
	dev->ops = NULL;
}

static bool vnet_len_ok(const struct tun_dev *dev)
{
	return dev->vnet_hdr_len == 0 || dev->vnet_hdr_len == VNET_HDR_LEN;
}

/* One frame from the backend into iov[0..n): its bytes, or -1 with errno. */
static ssize_t frame_read(struct tun_dev *dev, const struct iovec *iov, int n)
{
	if (n == 1 && dev->ops->read)
		return dev->ops->read(dev, iov[0].iov_base, iov[0].iov_len);
	if (!dev->ops->readv) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return dev->ops->readv(dev, iov, n);
}

static ssize_t frame_write(struct tun_dev *dev, const struct iovec *iov, int n)
{
	if (n == 1 && dev->ops->write)
		return dev->ops->write(dev, iov[0].iov_base, iov[0].iov_len);
	if (!dev->ops->writev) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return dev->ops->writev(dev, iov, n);
}

ssize_t tun_read_vnet(struct tun_dev *dev, struct virtio_net_hdr *h, uint8_t *buf, size_t len)
{
	struct iovec iov[2] = {
	    {.iov_base = h, .iov_len = dev->vnet_hdr_len},
	    {.iov_base = buf, .iov_len = len},
	};
	ssize_t n;
	int err;

	memset(h, 0, sizeof(*h));
	if (!dev->ops) {
		err = EBADF;
		goto fail;
	}
	if (!vnet_len_ok(dev)) {
		err = EINVAL;
		goto fail;
	}
	if (dev->vnet_hdr_len == 0)
		n = frame_read(dev, iov + 1, 1);
	else
		n = frame_read(dev, iov, 2);
	if (n < 0) {
		err = errno;
		goto fail;
	}
	if ((size_t)n < dev->vnet_hdr_len) {
		/* The kernel always writes the whole header; a shorter frame
		 * means the layout we assumed is wrong. */
		memset(h, 0, sizeof(*h));
		err = EPROTO;
		goto fail;
	}
	return n - (ssize_t)dev->vnet_hdr_len;
fail:
	errno = err;
	return -err;
}

ssize_t tun_write_vnet(struct tun_dev *dev, const struct virtio_net_hdr *h, const struct iovec *iov,
		       int n)
{
	static const struct virtio_net_hdr none;
	struct iovec v[TUN_IOV_MAX + 1];
	ssize_t w;
	int err;

	if (!h)
		h = &none;
	if (!dev->ops) {
		err = EBADF;
		goto fail;
	}
	if (!vnet_len_ok(dev) || n < 1 || n > TUN_IOV_MAX) {
		err = EINVAL;
		goto fail;
	}
	if (dev->vnet_hdr_len == 0 &&
	    ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || h->gso_type != VIRTIO_NET_HDR_GSO_NONE)) {
		err = EINVAL;
		goto fail;
	}
	if (dev->vnet_hdr_len == 0) {
		w = frame_write(dev, iov, n);
	} else {
		v[0] = (struct iovec){.iov_base = (void *)h, .iov_len = dev->vnet_hdr_len};
		memcpy(v + 1, iov, (size_t)n * sizeof(*iov));
		w = frame_write(dev, v, n + 1);
	}
	if (w < 0) {
		err = errno;
		goto fail;
	}
	return w < (ssize_t)dev->vnet_hdr_len ? 0 : w - (ssize_t)dev->vnet_hdr_len;
fail:
	errno = err;
	return -err;
}

ssize_t tun_read(struct tun_dev *dev, uint8_t *buf, size_t len)
{
	struct virtio_net_hdr h;
	ssize_t n = tun_read_vnet(dev, &h, buf, len);

	if (n < 0)
		return -1;
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		errno = EMSGSIZE;
		return -1;
	}
	if (tun_csum_finish(&h, buf, (size_t)n) < 0) {
		errno = EINVAL;
		return -1;
	}
	return n;
}

ssize_t tun_write(struct tun_dev *dev, const uint8_t *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	ssize_t n = tun_write_vnet(dev, NULL, &iov, 1);

	return n < 0 ? -1 : n;
}

/* One frame of two 64-byte segments, shaped as tun/gro.h shapes a merged
 * write (NEEDS_CSUM, gso_size, the folded pseudo-header sum in the L4
 * checksum field), from 192.0.2.1:9 to 192.0.2.2:9. Its IPv4 header
 * checksum is wrong on purpose: once the kernel has taken the frame, its IP
 * layer drops it before routing (counted in IpInHdrErrors). */
static ssize_t probe_write(struct tun_dev *dev, bool tcp)
{
	enum { SEG = 64, IP_HLEN = 20 };
	static const uint8_t src[4] = {192, 0, 2, 1}, dst[4] = {192, 0, 2, 2};
	uint8_t pkt[IP_HLEN + 20 + 2 * SEG] = {0};
	size_t l4_hlen = tcp ? 20 : 8, len = IP_HLEN + l4_hlen + 2 * SEG;
	uint8_t *l4 = pkt + IP_HLEN;
	struct virtio_net_hdr h = {
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .gso_type = tcp ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_UDP_L4,
	    .hdr_len = (uint16_t)(IP_HLEN + l4_hlen),
	    .gso_size = SEG,
	    .csum_start = IP_HLEN,
	    .csum_offset = tcp ? 16 : 6,
	};
	struct iovec iov = {.iov_base = pkt, .iov_len = len};

	pkt[0] = 0x45;
	be16_put(pkt + 2, (uint16_t)len);
	pkt[6] = 0x40; /* DF */
	pkt[8] = 64;
	pkt[9] = tcp ? 6 : 17;
	memcpy(pkt + 12, src, 4);
	memcpy(pkt + 16, dst, 4);
	csum_ipv4_header_set(pkt, IP_HLEN);
	pkt[10] ^= 0xff;
	be16_put(l4, 9);
	be16_put(l4 + 2, 9);
	if (tcp) {
		be32_put(l4 + 4, 1);
		be32_put(l4 + 8, 1);
		l4[12] = 5 << 4;
		l4[13] = 0x10; /* ACK */
		be16_put(l4 + 14, 65535);
	} else {
		be16_put(l4 + 4, (uint16_t)(len - IP_HLEN));
	}
	be16_put(l4 + h.csum_offset,
		 (uint16_t)~csum_fold(csum_pseudo_v4(src, dst, pkt[9], (uint32_t)(len - IP_HLEN))));
	return tun_write_vnet(dev, &h, &iov, 1);
}

int tun_probe_merged_write(struct tun_dev *dev)
{
	if (!dev->ops || dev->vnet_hdr_len == 0)
		return 0;
	if ((dev->offloads & TUN_OFFLOAD_TSO) && probe_write(dev, true) < 0)
		return -errno;
	if ((dev->offloads & TUN_OFFLOAD_USO) && probe_write(dev, false) < 0)
		return -errno;
	return 0;
}
