/* The kernel TUN backend and the dispatch through struct tun_ops.
 *
 * tun_open creates a fresh, non-persistent interface and refuses to attach to
 * one that already exists: TUNSETIFF on an existing persistent tun would hand
 * us someone else's interface (and its traffic). The name is checked first so
 * the caller gets a clear -EEXIST, and IFF_TUN_EXCL makes the kernel refuse
 * an interface created between that check and TUNSETIFF.
 *
 * Frame layout on the fd is known only to kernel_read and kernel_write: with
 * vnet_hdr_len non-zero they move a virtio_net_hdr in front of each packet
 * (all-zero on write: no offload), so callers keep seeing bare IP packets. */
#include "tun/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

/* Room for the largest virtio_net_hdr variant (virtio_net_hdr_v1_hash). */
enum { VNET_HDR_MAX = 24 };

static ssize_t kernel_read(struct tun_dev *dev, uint8_t *buf, size_t len)
{
	uint8_t hdr[VNET_HDR_MAX];
	struct iovec iov[2] = {
	    {.iov_base = hdr, .iov_len = dev->vnet_hdr_len},
	    {.iov_base = buf, .iov_len = len},
	};
	ssize_t n;

	if (dev->vnet_hdr_len == 0)
		return read(dev->fd, buf, len);
	if (dev->vnet_hdr_len > sizeof(hdr)) {
		errno = EINVAL;
		return -1;
	}
	n = readv(dev->fd, iov, 2);
	if (n < 0)
		return -1;
	if ((size_t)n < dev->vnet_hdr_len) {
		/* The kernel always writes the whole header; a shorter frame
		 * means the layout we assumed is wrong. */
		errno = EPROTO;
		return -1;
	}
	return n - (ssize_t)dev->vnet_hdr_len;
}

static ssize_t kernel_write(struct tun_dev *dev, const uint8_t *buf, size_t len)
{
	static const uint8_t hdr[VNET_HDR_MAX]; /* zero: no checksum offload, no GSO */
	struct iovec iov[2] = {
	    {.iov_base = (void *)hdr, .iov_len = dev->vnet_hdr_len},
	    {.iov_base = (void *)buf, .iov_len = len},
	};
	ssize_t n;

	if (dev->vnet_hdr_len == 0)
		return write(dev->fd, buf, len);
	if (dev->vnet_hdr_len > sizeof(hdr)) {
		errno = EINVAL;
		return -1;
	}
	n = writev(dev->fd, iov, 2);
	if (n < 0)
		return -1;
	return n < (ssize_t)dev->vnet_hdr_len ? 0 : n - (ssize_t)dev->vnet_hdr_len;
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

int tun_open(struct tun_dev *dev, const char *name)
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
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL;
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

void tun_close(struct tun_dev *dev)
{
	if (dev->ops && dev->ops->close)
		dev->ops->close(dev);
	dev->ops = NULL;
}

ssize_t tun_read(struct tun_dev *dev, uint8_t *buf, size_t len)
{
	if (!dev->ops) {
		errno = EBADF;
		return -1;
	}
	return dev->ops->read(dev, buf, len);
}

ssize_t tun_write(struct tun_dev *dev, const uint8_t *buf, size_t len)
{
	if (!dev->ops) {
		errno = EBADF;
		return -1;
	}
	return dev->ops->write(dev, buf, len);
}
