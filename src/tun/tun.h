/* The TUN device: one L3 interface whose fd carries bare IP packets (IFF_TUN |
 * IFF_NO_PI). All I/O goes through struct tun_ops so that tests and the
 * in-process end-to-end harness can put a fake device in its place; only the
 * read and write operations know the frame layout on the fd (today the bare
 * packet; with IFF_VNET_HDR, a virtio_net_hdr of vnet_hdr_len bytes in front),
 * so callers always see one IP packet per call.
 *
 * The device lives as long as its fd: it is not persistent, so closing it (or
 * the process dying) removes the interface, its addresses and its routes. */
#pragma once
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A buffer this large never truncates a packet read from the device. */
enum { TUN_PACKET_MAX = 65535 };

struct tun_dev;

/* Backend of a tun_dev. read and write follow tun_read/tun_write; close
 * releases what the backend holds and may be called once. */
struct tun_ops {
	ssize_t (*read)(struct tun_dev *dev, uint8_t *buf, size_t len);
	ssize_t (*write)(struct tun_dev *dev, const uint8_t *buf, size_t len);
	void (*close)(struct tun_dev *dev);
};

struct tun_dev {
	const struct tun_ops *ops;
	int fd;		     /* for epoll; -1 when closed (a fake may use any fd) */
	int ifindex;	     /* 0 for a fake without a kernel interface */
	size_t vnet_hdr_len; /* bytes of virtio_net_hdr before each frame; 0 today */
	char name[IFNAMSIZ];
	void *priv; /* backend state of a fake; unused by the kernel backend */
};

/* The kernel backend used by tun_open. */
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
 * hold the link MTU (TUN_PACKET_MAX fits any MTU). */
ssize_t tun_read(struct tun_dev *dev, uint8_t *buf, size_t len);
/* Writes one IP packet (delivered to the host's stack as received on the
 * interface): len, or -1 with errno (EINVAL for a packet the kernel refuses). */
ssize_t tun_write(struct tun_dev *dev, const uint8_t *buf, size_t len);
