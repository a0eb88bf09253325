/* TUN device tests against the real kernel, inside a private network
 * namespace (and mount namespace, for a sysfs that shows it) created by the
 * test process with unshare(): every interface made here dies with the
 * process and none of the host's is visible. Skipped without root or where
 * namespaces are not allowed.
 *
 * Covers creation and removal, refusing existing names, packets both ways
 * between the TUN and sockets of the namespace's own stack (SECURITY-NOTES
 * 6.16: reads at the MTU, MTU+1 and 65535), malformed writes, and the ops
 * indirection a fake device uses. With IFF_VNET_HDR (tun_open_offload): the
 * offloads the kernel takes (checked through ethtool's view of the device),
 * USO refused as by a kernel before 6.2 (a seccomp filter), a UDP_SEGMENT
 * send read as one UDP_L4 super-packet and split by tun/gso.h (also at the
 * MTU edges), a TCP stream the test answers as the peer read as TSO
 * super-packets, NEEDS_CSUM frames both ways, GSO frames written and
 * delivered, turning the offloads off at run time, and a fake vnet backend. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <netinet/udp.h>
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
#include <stddef.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "routing/inner.h"
#include "support/pkt.h"
#include "tun/gso.h"
#include "tun/netlink.h"
#include "tun/tun.h"
#include "util/csum.h"

#define TEST_IF "p2ptest0"
#define N(x) (sizeof(x) / sizeof((x)[0]))

enum { TEST_MTU = 1420, UDP_PORT = 4242 };

static bool netns_ready;

/* Moves the whole process into namespaces of its own. */
static void enter_private_netns(void)
{
	const char *why = NULL;

	if (geteuid() != 0)
		why = "not root";
	else if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
		why = "unshare(CLONE_NEWNET | CLONE_NEWNS) failed";
	else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		why = "cannot make mounts private";
	else if (mount("sysfs", "/sys", "sysfs", 0, NULL) < 0)
		why = "cannot mount sysfs for the new namespace";
	else if (access("/dev/net/tun", R_OK | W_OK) < 0)
		why = "no /dev/net/tun";
	if (why)
		fprintf(stderr, "test_tun: skipping: %s\n", why);
	netns_ready = !why;
}

#define REQUIRE_NETNS()                                                                            \
	do {                                                                                       \
		if (!netns_ready)                                                                  \
			skip();                                                                    \
	} while (0)

static uint8_t buf[TUN_PACKET_MAX + 64];

static bool sysfs_has(const char *ifname, const char *attr)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, attr);
	return stat(path, &st) == 0;
}

static long sysfs_read(const char *ifname, const char *attr)
{
	char path[128], text[64] = {0};
	long v = -1;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, attr);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read(fd, text, sizeof(text) - 1) > 0)
		v = strtol(text, NULL, 0);
	close(fd);
	return v;
}

/* The tunnel as the daemon sets it up: MTU, 10.77.0.1/24 and fd77::1/64, up. */
static void configure(struct tun_dev *tun, unsigned mtu)
{
	struct nl_sock nl;
	uint8_t a[16] = {0};

	assert_int_equal(nl_open(&nl), 0);
	assert_int_equal(nl_link_set_mtu(&nl, tun->ifindex, mtu), 0);
	assert_int_equal(inet_pton(AF_INET, "10.77.0.1", a), 1);
	assert_int_equal(nl_addr_add(&nl, tun->ifindex, AF_INET, a, 24), 0);
	assert_int_equal(inet_pton(AF_INET6, "fd77::1", a), 1);
	assert_int_equal(nl_addr_add(&nl, tun->ifindex, AF_INET6, a, 64), 0);
	assert_int_equal(nl_link_set_up(&nl, tun->ifindex, true), 0);
	nl_close(&nl);
}

static int setup(void **state)
{
	static struct tun_dev tun;

	*state = &tun;
	memset(&tun, 0, sizeof(tun));
	tun.fd = -1;
	if (!netns_ready)
		return 0;
	assert_int_equal(tun_open(&tun, TEST_IF), 0);
	return 0;
}

static int teardown(void **state)
{
	tun_close(*state);
	return 0;
}

/* An IPv4/UDP packet 10.77.0.2:5555 -> 10.77.0.1:UDP_PORT carrying text (UDP
 * checksum 0: none, allowed for IPv4). */
static size_t build_udp4(uint8_t *p, const char *text)
{
	return pkt_udp4(p, "10.77.0.2", 5555, "10.77.0.1", UDP_PORT, text, strlen(text));
}

static int udp_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	return fd;
}

static void send_udp(int fd, const char *dst, size_t len)
{
	static uint8_t payload[TUN_PACKET_MAX];
	struct sockaddr_storage ss = {0};
	socklen_t sl;

	memset(payload, 'p', sizeof(payload));
	if (strchr(dst, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(9);
		assert_int_equal(inet_pton(AF_INET6, dst, &s6->sin6_addr), 1);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(9);
		assert_int_equal(inet_pton(AF_INET, dst, &s4->sin_addr), 1);
		sl = sizeof(*s4);
	}
	assert_int_equal(sendto(fd, payload, len, 0, (struct sockaddr *)&ss, sl), (ssize_t)len);
}

/* Reads packets from the TUN until one of family `family` to UDP port 9
 * arrives (the kernel also sends its own, such as IPv6 router solicitations)
 * or a second passes: its length, or -1. */
static ssize_t read_udp_to_port9(struct tun_dev *tun, int family)
{
	for (int tries = 0; tries < 50; tries++) {
		struct pollfd pfd = {.fd = tun->fd, .events = POLLIN};
		struct rt_inner in;
		ssize_t n;

		if (poll(&pfd, 1, 1000) <= 0)
			return -1;
		n = tun_read(tun, buf, sizeof(buf));
		assert_true(n > 0);
		if (!rt_inner_parse(buf, (size_t)n, &in) || in.family != family)
			continue;
		const uint8_t *l4 = family == AF_INET ? buf + (buf[0] & 0x0f) * 4 : buf + 40;
		bool udp = family == AF_INET ? buf[9] == IPPROTO_UDP : buf[6] == IPPROTO_UDP;
		if (udp && l4[2] == 0 && l4[3] == 9)
			return n;
	}
	return -1;
}

static void test_tun_open_creates_interface(void **state)
{
	struct tun_dev *tun = *state;
	int ifindex;

	REQUIRE_NETNS();
	assert_string_equal(tun->name, TEST_IF);
	assert_true(tun->ifindex > 0);
	assert_int_equal(tun->ifindex, (int)if_nametoindex(TEST_IF));
	assert_int_equal(tun->vnet_hdr_len, 0);
	assert_int_equal(tun->offloads, 0);
	assert_ptr_equal(tun->ops, &tun_kernel_ops);
	assert_true(fcntl(tun->fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(tun->fd, F_GETFD) & FD_CLOEXEC);
	/* IFF_TUN | IFF_NO_PI, and not persistent. */
	assert_int_equal(sysfs_read(TEST_IF, "tun_flags"), 0x1001);
	assert_int_equal(sysfs_read(TEST_IF, "ifindex"), tun->ifindex);

	/* Closing the fd removes the interface; closing again does nothing. */
	ifindex = tun->ifindex;
	tun_close(tun);
	assert_int_equal(tun->fd, -1);
	assert_int_equal(if_nametoindex(TEST_IF), 0);
	assert_false(sysfs_has(TEST_IF, "ifindex"));
	tun_close(tun);
	assert_int_equal(tun_read(tun, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(tun_write(tun, buf, 20), -1);
	assert_int_equal(errno, EBADF);
	(void)ifindex;
}

static int match_10_77(const struct nl_addr *a, void *ctx)
{
	if (a->family == AF_INET && a->addr[0] == 10 && a->addr[1] == 77)
		++*(int *)ctx;
	return 0;
}

static int match_10_77_route(const struct nl_route *r, void *ctx)
{
	if (r->dst[0] == 10 && r->dst[1] == 77)
		++*(int *)ctx;
	return 0;
}

static int count_10_77(void)
{
	struct nl_sock nl;
	int n = 0;

	assert_int_equal(nl_open(&nl), 0);
	assert_int_equal(nl_addr_dump(&nl, match_10_77, &n), 0);
	assert_int_equal(nl_route_dump(&nl, AF_INET, match_10_77_route, &n), 0);
	nl_close(&nl);
	return n;
}

static void test_tun_close_removes_addresses_and_routes(void **state)
{
	struct tun_dev *tun = *state;
	struct tun_dev again;

	REQUIRE_NETNS();
	configure(tun, TEST_MTU);
	/* The address, and its local, broadcast and prefix routes. */
	assert_int_equal(count_10_77(), 4);
	tun_close(tun);
	assert_int_equal(if_nametoindex(TEST_IF), 0);
	assert_int_equal(count_10_77(), 0);
	/* The name is free at once, and the new device starts clean. */
	assert_int_equal(tun_open(&again, TEST_IF), 0);
	assert_int_equal(sysfs_read(TEST_IF, "mtu"), 1500);
	assert_false(sysfs_read(TEST_IF, "flags") & 0x1);
	tun_close(&again);
}

static void test_tun_open_existing_name(void **state)
{
	struct tun_dev *tun = *state;
	struct tun_dev other;

	REQUIRE_NETNS();
	/* Not a tun at all. */
	assert_int_equal(tun_open(&other, "lo"), -EEXIST);
	assert_int_equal(other.fd, -1);
	assert_null(other.ops);
	/* A tun that is not ours: never attached to. */
	assert_int_equal(tun_open(&other, TEST_IF), -EEXIST);
	assert_int_equal(other.fd, -1);
	tun_close(&other); /* harmless after a failed open */
	/* The first device is untouched. */
	assert_int_equal((int)if_nametoindex(TEST_IF), tun->ifindex);
	assert_int_equal(sysfs_read(TEST_IF, "tun_flags"), 0x1001);
}

static void test_tun_open_bad_name(void **state)
{
	static const char *const bad[] = {
	    "",	   "abcdefghijklmnop", /* 16 characters: one too many */
	    "a/b", "a b",
	    "a:b", ".",
	    "..",
	};
	struct tun_dev dev;

	REQUIRE_NETNS();
	assert_int_equal(tun_open(&dev, NULL), -EINVAL);
	for (size_t i = 0; i < N(bad); i++) {
		if (tun_open(&dev, bad[i]) != -EINVAL)
			fail_msg("name '%s' accepted", bad[i]);
		assert_int_equal(dev.fd, -1);
	}
	/* The longest valid name works. */
	assert_int_equal(tun_open(&dev, "abcdefghijklmno"), 0);
	assert_string_equal(dev.name, "abcdefghijklmno");
	tun_close(&dev);
}

static void test_tun_read_empty_queue(void **state)
{
	struct tun_dev *tun = *state;

	REQUIRE_NETNS();
	configure(tun, TEST_MTU);
	/* The kernel sends IPv6 chatter of its own after link-up (router
	 * solicitations, MLD reports, DAD) whenever its timers fire, so a
	 * second read right after an empty one may find a packet: read until
	 * the first empty one, which must say EAGAIN at once, not 0 or a
	 * block; and all that came unasked must be that IPv6 chatter. */
	for (int n = 0;; n++) {
		ssize_t k = tun_read(tun, buf, sizeof(buf));

		if (k < 0)
			break;
		assert_true(k >= 40);
		assert_int_equal(buf[0] >> 4, 6);
		assert_true(n < 100);
	}
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void test_tun_read_packet_from_stack(void **state)
{
	struct tun_dev *tun = *state;
	struct rt_inner in;
	uint8_t want[16];
	int fd4, fd6;
	ssize_t n;

	REQUIRE_NETNS();
	configure(tun, TEST_MTU);
	fd4 = udp_socket(AF_INET);
	fd6 = udp_socket(AF_INET6);

	send_udp(fd4, "10.77.0.2", 5);
	n = read_udp_to_port9(tun, AF_INET);
	assert_int_equal(n, 20 + 8 + 5);
	assert_true(rt_inner_parse(buf, (size_t)n, &in));
	assert_int_equal(inet_pton(AF_INET, "10.77.0.2", want), 1);
	assert_memory_equal(in.dst, want, 4);
	assert_int_equal(inet_pton(AF_INET, "10.77.0.1", want), 1);
	assert_memory_equal(in.src, want, 4);

	/* IPv6 from the NODAD address, usable without waiting. */
	send_udp(fd6, "fd77::2", 5);
	n = read_udp_to_port9(tun, AF_INET6);
	assert_int_equal(n, 40 + 8 + 5);
	assert_true(rt_inner_parse(buf, (size_t)n, &in));
	assert_int_equal(inet_pton(AF_INET6, "fd77::1", want), 1);
	assert_memory_equal(in.src, want, 16);

	/* Not routed through the TUN: nothing arrives. */
	assert_int_equal(sendto(fd4, "x", 1, 0,
				(struct sockaddr *)&(struct sockaddr_in){
				    .sin_family = AF_INET,
				    .sin_port = htons(9),
				    .sin_addr.s_addr = htonl(0xc6336402), /* 198.51.100.2 */
				},
				sizeof(struct sockaddr_in)),
			 -1);
	assert_int_equal(errno, ENETUNREACH);
	assert_int_equal(read_udp_to_port9(tun, AF_INET), -1);
	close(fd4);
	close(fd6);
}

/* SECURITY-NOTES 6.16: a packet of exactly the MTU is read whole; MTU+1
 * either fails at the sender (DF) or arrives fragmented, never as one frame
 * larger than the MTU; a jumbo MTU gives 65535-byte reads. */
static void test_tun_read_at_mtu_edges(void **state)
{
	struct tun_dev *tun = *state;
	struct nl_sock nl;
	int fd, opt;
	ssize_t n;
	size_t total = 0;

	REQUIRE_NETNS();
	configure(tun, TEST_MTU);
	fd = udp_socket(AF_INET);

	send_udp(fd, "10.77.0.2", TEST_MTU - 28);
	n = read_udp_to_port9(tun, AF_INET);
	assert_int_equal(n, TEST_MTU);

	opt = IP_PMTUDISC_DO;
	assert_int_equal(setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &opt, sizeof(opt)), 0);
	assert_int_equal(sendto(fd, buf, TEST_MTU - 27, 0,
				(struct sockaddr *)&(struct sockaddr_in){
				    .sin_family = AF_INET,
				    .sin_port = htons(9),
				    .sin_addr.s_addr = htonl(0x0a4d0002),
				},
				sizeof(struct sockaddr_in)),
			 -1);
	assert_int_equal(errno, EMSGSIZE);

	opt = IP_PMTUDISC_DONT;
	assert_int_equal(setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &opt, sizeof(opt)), 0);
	send_udp(fd, "10.77.0.2", TEST_MTU - 27);
	for (int frags = 0; frags < 2; frags++) {
		struct pollfd pfd = {.fd = tun->fd, .events = POLLIN};
		struct rt_inner in;
		assert_int_equal(poll(&pfd, 1, 1000), 1);
		n = tun_read(tun, buf, sizeof(buf));
		assert_true(n > 0 && n <= TEST_MTU);
		assert_true(rt_inner_parse(buf, (size_t)n, &in));
		if (in.family != AF_INET) {
			frags--; /* the kernel's own IPv6 traffic */
			continue;
		}
		total += (size_t)n - 20;
	}
	assert_int_equal(total, 8 + TEST_MTU - 27);

	assert_int_equal(nl_open(&nl), 0);
	assert_int_equal(nl_link_set_mtu(&nl, tun->ifindex, 65535), 0);
	nl_close(&nl);
	send_udp(fd, "10.77.0.2", 65535 - 28);
	n = read_udp_to_port9(tun, AF_INET);
	assert_int_equal(n, 65535);
	close(fd);
}

static int bound_udp4(void)
{
	struct sockaddr_in sin = {
	    .sin_family = AF_INET,
	    .sin_port = htons(UDP_PORT),
	    .sin_addr.s_addr = htonl(0x0a4d0001), /* 10.77.0.1 */
	};
	int fd = udp_socket(AF_INET);

	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* Waits up to timeout_ms for a datagram: its length, or -1. */
static ssize_t recv_wait(int fd, char *out, size_t len, struct sockaddr_in *from, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	socklen_t sl = sizeof(*from);

	if (poll(&pfd, 1, timeout_ms) != 1)
		return -1;
	return recvfrom(fd, out, len, 0, (struct sockaddr *)from, &sl);
}

static void test_tun_write_delivers_to_stack(void **state)
{
	struct tun_dev *tun = *state;
	struct sockaddr_in from;
	uint8_t pkt[64];
	char got[64] = {0};
	size_t len;
	int fd;

	REQUIRE_NETNS();
	configure(tun, TEST_MTU);
	fd = bound_udp4();

	len = build_udp4(pkt, "hello");
	assert_int_equal(tun_write(tun, pkt, len), (ssize_t)len);
	assert_int_equal(recv_wait(fd, got, sizeof(got), &from, 1000), 5);
	assert_string_equal(got, "hello");
	assert_int_equal(ntohl(from.sin_addr.s_addr), 0x0a4d0002);
	assert_int_equal(ntohs(from.sin_port), 5555);

	/* A broken IP checksum: the write succeeds, the stack drops it. */
	len = build_udp4(pkt, "bad");
	pkt[10] ^= 0xff;
	assert_int_equal(tun_write(tun, pkt, len), (ssize_t)len);
	assert_int_equal(recv_wait(fd, got, sizeof(got), &from, 200), -1);
	close(fd);
}

static void test_tun_write_malformed(void **state)
{
	struct tun_dev *tun = *state;
	static uint8_t big[TUN_PACKET_MAX + 2];
	struct {
		const char *what;
		size_t len;
		uint8_t first;
	} rows[] = {
	    /* 1 */ {"empty", 0, 0x45},
	    /* 2 */ {"one byte", 1, 0x45},
	    /* 3 */ {"version 0", 20, 0x05},
	    /* 4 */ {"version 5", 20, 0x55},
	    /* 5 */ {"IPv4 header cut short", 19, 0x45},
	    /* 6 */ {"IPv6 header cut short", 39, 0x60},
	    /* 7 */ {"tot_len 0 in a 65535-byte frame", TUN_PACKET_MAX, 0x45},
	    /* 8 */ {"past the largest packet", TUN_PACKET_MAX + 1, 0x45},
	    /* 9 */ {"ihl 15 in a 20-byte frame", 20, 0x4f},
	};
	struct sockaddr_in from;
	char got[64] = {0};
	uint8_t pkt[64];
	size_t len;
	int fd;

	REQUIRE_NETNS();
	configure(tun, TEST_MTU);
	fd = bound_udp4();
	for (size_t i = 0; i < N(rows); i++) {
		ssize_t n;
		memset(big, 0, sizeof(big));
		big[0] = rows[i].first;
		n = tun_write(tun, big, rows[i].len);
		/* Whatever the kernel makes of it, one frame is taken or refused. */
		if (n != (ssize_t)rows[i].len && n != -1)
			fail_msg("row %zu (%s): write returned %zd", i + 1, rows[i].what, n);
	}
	/* Nothing of it reached the socket, and the device still works. */
	assert_int_equal(recv_wait(fd, got, sizeof(got), &from, 100), -1);
	len = build_udp4(pkt, "still");
	assert_int_equal(tun_write(tun, pkt, len), (ssize_t)len);
	assert_int_equal(recv_wait(fd, got, sizeof(got), &from, 1000), 5);
	assert_string_equal(got, "still");
	close(fd);
}

/* The read and write wrappers own the frame layout: a header length other
 * than none and sizeof(struct virtio_net_hdr) (what tun_open_offload sets)
 * is refused by every wrapper rather than guessed at, and the fd is not
 * touched (the queued packet is still there afterwards). */
static void test_tun_vnet_hdr_len_unsupported(void **state)
{
	static const size_t bad[] = {1, 4, 9, 11, 12, 24, 4096};
	struct tun_dev *tun = *state;
	struct virtio_net_hdr h;
	struct iovec iov;
	uint8_t pkt[64];
	size_t len;
	int fd;

	REQUIRE_NETNS();
	configure(tun, TEST_MTU);
	while (tun_read(tun, buf, sizeof(buf)) > 0)
		;
	fd = udp_socket(AF_INET);
	send_udp(fd, "10.77.0.2", 5);
	len = build_udp4(pkt, "x");
	iov = (struct iovec){.iov_base = pkt, .iov_len = len};
	for (size_t i = 0; i < N(bad); i++) {
		tun->vnet_hdr_len = bad[i];
		assert_int_equal(tun_write(tun, pkt, len), -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(tun_read(tun, buf, sizeof(buf)), -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(tun_read_vnet(tun, &h, buf, sizeof(buf)), -EINVAL);
		assert_int_equal(tun_write_vnet(tun, NULL, &iov, 1), -EINVAL);
		assert_int_equal(errno, EINVAL);
	}
	tun->vnet_hdr_len = 0;
	assert_int_equal(read_udp_to_port9(tun, AF_INET), 20 + 8 + 5);
	close(fd);
}

/* What ethtool says of one feature of the interface (legacy ETHTOOL_G*
 * commands read the device's active features): 0, 1, or -errno. */
static int ethtool_get(const char *ifname, uint32_t cmd)
{
	struct ethtool_value ev = {.cmd = cmd};
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	assert_true(fd >= 0);
	strcpy(ifr.ifr_name, ifname);
	ifr.ifr_data = (void *)&ev;
	r = ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : (int)ev.data;
	close(fd);
	return r;
}

static const unsigned ALL_OFFLOADS = TUN_OFFLOAD_CSUM | TUN_OFFLOAD_TSO | TUN_OFFLOAD_USO;

static int setup_offload(void **state)
{
	static struct tun_dev tun;

	*state = &tun;
	memset(&tun, 0, sizeof(tun));
	tun.fd = -1;
	if (!netns_ready)
		return 0;
	assert_int_equal(tun_open_offload(&tun, TEST_IF, ALL_OFFLOADS), 0);
	return 0;
}

static void test_tun_open_offload_features(void **state)
{
	struct tun_dev *plain = *state;
	struct tun_dev dev;

	REQUIRE_NETNS();
	assert_int_equal(tun_offload_off(plain), -EINVAL);
	assert_int_equal(ethtool_get(TEST_IF, ETHTOOL_GTSO), 0);

	assert_int_equal(tun_open_offload(&dev, "p2pvnet0", ALL_OFFLOADS), 0);
	/* 6.18 here: USO (6.2) is taken as well. */
	assert_int_equal(dev.offloads, ALL_OFFLOADS);
	assert_int_equal(dev.vnet_hdr_len, sizeof(struct virtio_net_hdr));
	assert_int_equal(dev.vnet_hdr_len, 10);
	assert_ptr_equal(dev.ops, &tun_kernel_ops);
	assert_true(fcntl(dev.fd, F_GETFL) & O_NONBLOCK);
	/* IFF_TUN | IFF_NO_PI | IFF_VNET_HDR. */
	assert_int_equal(sysfs_read("p2pvnet0", "tun_flags"), 0x1001 | IFF_VNET_HDR);
	assert_int_equal(ethtool_get("p2pvnet0", ETHTOOL_GTXCSUM), 1);
	assert_int_equal(ethtool_get("p2pvnet0", ETHTOOL_GTSO), 1);
	/* Off at run time: the kernel's view follows. */
	assert_int_equal(tun_offload_off(&dev), 0);
	assert_int_equal(dev.offloads, 0);
	assert_int_equal(dev.vnet_hdr_len, 10);
	assert_int_equal(ethtool_get("p2pvnet0", ETHTOOL_GTSO), 0);
	assert_int_equal(ethtool_get("p2pvnet0", ETHTOOL_GTXCSUM), 0);
	assert_int_equal(tun_offload_off(&dev), 0);
	tun_close(&dev);
	assert_int_equal(if_nametoindex("p2pvnet0"), 0);

	/* No offload asked: a vnet device with nothing on. */
	assert_int_equal(tun_open_offload(&dev, "p2pvnet0", 0), 0);
	assert_int_equal(dev.offloads, 0);
	assert_int_equal(dev.vnet_hdr_len, 10);
	assert_int_equal(ethtool_get("p2pvnet0", ETHTOOL_GTXCSUM), 0);
	tun_close(&dev);
	/* TSO implies the checksum offload it cannot do without. */
	assert_int_equal(tun_open_offload(&dev, "p2pvnet0", TUN_OFFLOAD_TSO), 0);
	assert_int_equal(dev.offloads, TUN_OFFLOAD_CSUM | TUN_OFFLOAD_TSO);
	assert_int_equal(ethtool_get("p2pvnet0", ETHTOOL_GTSO), 1);
	tun_close(&dev);

	/* tun_open's refusals hold. */
	assert_int_equal(tun_open_offload(&dev, TEST_IF, ALL_OFFLOADS), -EEXIST);
	assert_int_equal(dev.fd, -1);
	assert_int_equal(tun_open_offload(&dev, "a/b", ALL_OFFLOADS), -EINVAL);
	assert_int_equal(dev.fd, -1);
}

/* Makes TUNSETOFFLOAD with a USO bit fail with EINVAL in this process, as
 * on a kernel older than 6.2 (the bits are unknown there). */
static int refuse_uso(void)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 5),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)TUNSETOFFLOAD, 0, 3),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
	    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x20 | 0x40, 0, 1), /* TUN_F_USO4 | USO6 */
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = N(f), .filter = f};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* A kernel without USO: tun_open_offload retries without it and says so
 * in offloads; TSO and the checksum offload are still on. Run in a child,
 * whose exit status names the first check that failed. */
static void test_tun_open_offload_uso_refused(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	REQUIRE_NETNS();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tun_dev dev;

		if (refuse_uso() < 0)
			_exit(10);
		/* The filter works: asking for USO alone is refused. */
		if (tun_open_offload(&dev, "p2pvnet1", 0) < 0)
			_exit(11);
		if (ioctl(dev.fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | 0x20 | 0x40)) == 0 ||
		    errno != EINVAL)
			_exit(12);
		tun_close(&dev);
		if (tun_open_offload(&dev, "p2pvnet1", ALL_OFFLOADS) < 0)
			_exit(13);
		if (dev.offloads != (TUN_OFFLOAD_CSUM | TUN_OFFLOAD_TSO))
			_exit(14);
		if (ethtool_get("p2pvnet1", ETHTOOL_GTSO) != 1 ||
		    ethtool_get("p2pvnet1", ETHTOOL_GTXCSUM) != 1)
			_exit(15);
		tun_close(&dev);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(if_nametoindex("p2pvnet1"), 0);
}

static void fill_pattern(uint8_t *p, size_t len, unsigned salt)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + i / 256 + salt);
}

/* Sends len bytes of pattern `salt` to dst:9 as one send with UDP_SEGMENT
 * seg (seg 0: no GSO). */
static void send_udp_gso(const char *dst, unsigned seg, size_t len, unsigned salt)
{
	static uint8_t data[TUN_PACKET_MAX];
	int family = strchr(dst, ':') ? AF_INET6 : AF_INET;
	int fd = udp_socket(family), opt = (int)seg;
	struct sockaddr_storage ss = {0};
	socklen_t sl;

	if (seg)
		assert_int_equal(setsockopt(fd, SOL_UDP, UDP_SEGMENT, &opt, sizeof(opt)), 0);
	fill_pattern(data, len, salt);
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(9);
		assert_int_equal(inet_pton(AF_INET6, dst, &s6->sin6_addr), 1);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(9);
		assert_int_equal(inet_pton(AF_INET, dst, &s4->sin_addr), 1);
		sl = sizeof(*s4);
	}
	assert_int_equal(sendto(fd, data, len, 0, (struct sockaddr *)&ss, sl), (ssize_t)len);
	close(fd);
}

/* Reads frames with tun_read_vnet until one of `family` to UDP port 9
 * arrives or a second passes: its length (header in *h), or -1. */
static ssize_t read_vnet_udp_to_port9(struct tun_dev *tun, int family, struct virtio_net_hdr *h)
{
	for (int tries = 0; tries < 50; tries++) {
		struct pollfd pfd = {.fd = tun->fd, .events = POLLIN};
		size_t l4;
		ssize_t n;

		if (poll(&pfd, 1, 1000) <= 0)
			return -1;
		n = tun_read_vnet(tun, h, buf, sizeof(buf));
		assert_true(n > 0);
		if (family == AF_INET && (buf[0] >> 4) == 4 && buf[9] == IPPROTO_UDP)
			l4 = (size_t)(buf[0] & 15) * 4;
		else if (family == AF_INET6 && (buf[0] >> 4) == 6 && buf[6] == IPPROTO_UDP)
			l4 = 40;
		else
			continue;
		if ((size_t)n >= l4 + 8 && buf[l4 + 2] == 0 && buf[l4 + 3] == 9)
			return n;
	}
	return -1;
}

static bool udp_csum_ok(const uint8_t *p, size_t len)
{
	bool v6 = (p[0] >> 4) == 6;
	size_t l4 = v6 ? 40 : (size_t)(p[0] & 15) * 4;
	uint32_t s = v6 ? csum_pseudo_v6(p + 8, p + 24, IPPROTO_UDP, (uint32_t)(len - l4))
			: csum_pseudo_v4(p + 12, p + 16, IPPROTO_UDP, (uint32_t)(len - l4));

	return csum_fold(csum_add(s, p + l4, len - l4)) == 0;
}

/* Splits the UDP_L4 super-packet in buf and checks nseg datagrams of seg
 * bytes (the last one shorter) carrying pattern `salt`, each a packet any
 * receiver takes: lengths, IPv4 header checksum and id, UDP checksum. */
static void check_udp_split(const struct virtio_net_hdr *h, size_t n, unsigned nseg, unsigned seg,
			    size_t total, unsigned salt)
{
	static uint8_t store[64][1600], want[TUN_PACKET_MAX];
	uint8_t *out[64];
	size_t out_len[64], done = 0;
	bool v6 = (buf[0] >> 4) == 6;
	size_t l4 = v6 ? 40 : (size_t)(buf[0] & 15) * 4;

	assert_true(nseg <= 64);
	for (int i = 0; i < 64; i++)
		out[i] = store[i];
	fill_pattern(want, total, salt);
	assert_int_equal(tun_gso_segments(h, buf, n), nseg);
	assert_int_equal(tun_gso_split(h, buf, n, 0, out, sizeof(store[0]), out_len, 64), nseg);
	for (unsigned k = 0; k < nseg; k++) {
		const uint8_t *p = out[k];
		size_t dlen = total - done < seg ? total - done : seg;

		assert_int_equal(out_len[k], l4 + 8 + dlen);
		if (v6) {
			assert_int_equal((p[4] << 8 | p[5]), 8 + dlen);
		} else {
			assert_int_equal((p[2] << 8 | p[3]), out_len[k]);
			assert_int_equal(csum_fold(csum_add(0, p, l4)), 0);
			assert_memory_equal(p + 6, buf + 6, 4);		/* DF, TTL, protocol */
			assert_memory_equal(p + 12, buf + 12, l4 - 12); /* addresses, options */
			assert_int_equal((p[4] << 8 | p[5]),
					 (uint16_t)((buf[4] << 8 | buf[5]) + k));
		}
		assert_int_equal((p[l4 + 4] << 8 | p[l4 + 5]), 8 + dlen);
		if (!udp_csum_ok(p, out_len[k]))
			fail_msg("datagram %u of %u: bad UDP checksum", k, nseg);
		assert_memory_equal(p + l4 + 8, want + done, dlen);
		done += dlen;
	}
	assert_int_equal(done, total);
}

/* USO: ten 1000-byte datagrams sent with UDP_SEGMENT leave the stack as ONE
 * frame (UDP_L4, gso_size 1000) that splits back into the ten. */
static void test_tun_read_vnet_udp_gso(void **state)
{
	static const struct {
		const char *dst;
		int family;
		size_t l4;
	} rows[] = {{"10.77.0.2", AF_INET, 20}, {"fd77::2", AF_INET6, 40}};
	struct tun_dev *tun = *state;
	struct virtio_net_hdr h;
	ssize_t n;

	REQUIRE_NETNS();
	assert_int_equal(tun->offloads, ALL_OFFLOADS);
	configure(tun, TEST_MTU);
	for (size_t i = 0; i < N(rows); i++) {
		send_udp_gso(rows[i].dst, 1000, 10 * 1000, (unsigned)i);
		n = read_vnet_udp_to_port9(tun, rows[i].family, &h);
		assert_int_equal(n, rows[i].l4 + 8 + 10 * 1000);
		assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
		assert_int_equal(h.gso_size, 1000);
		assert_true(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
		assert_int_equal(h.csum_start, rows[i].l4);
		assert_int_equal(h.csum_offset, 6);
		check_udp_split(&h, (size_t)n, 10, 1000, 10 * 1000, (unsigned)i);

		/* A short last datagram. */
		send_udp_gso(rows[i].dst, 1000, 10 * 1000 + 1, 3);
		n = read_vnet_udp_to_port9(tun, rows[i].family, &h);
		assert_int_equal(n, rows[i].l4 + 8 + 10 * 1000 + 1);
		assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
		check_udp_split(&h, (size_t)n, 11, 1000, 10 * 1000 + 1, 3);
	}
	/* tun_read cannot hand out a super-packet: it consumes it and says
	 * EMSGSIZE; the next packet reads normally. */
	send_udp_gso("10.77.0.2", 1000, 5 * 1000, 0);
	send_udp_gso("10.77.0.2", 0, 300, 0);
	for (int got = 0, tries = 0; got < 2 && tries < 50; tries++) {
		struct pollfd pfd = {.fd = tun->fd, .events = POLLIN};

		assert_int_equal(poll(&pfd, 1, 1000), 1);
		n = tun_read(tun, buf, sizeof(buf));
		if (n < 0) {
			assert_int_equal(errno, EMSGSIZE);
			assert_int_equal(got++, 0);
		} else if ((buf[0] >> 4) == 4) {
			assert_int_equal(n, 20 + 8 + 300);
			assert_int_equal(got++, 1);
		}
	}
}

/* MTU edges of UDP_SEGMENT (issue 8, section 3): segments of MTU-1 and of
 * exactly the MTU leave as one super-packet whose datagrams are that
 * long; one byte more is refused at the sender. Over both families. */
static void test_tun_read_vnet_udp_gso_mtu_edges(void **state)
{
	static const struct {
		const char *dst;
		int family;
		size_t l4;
	} rows[] = {{"10.77.0.2", AF_INET, 20}, {"fd77::2", AF_INET6, 40}};
	struct tun_dev *tun = *state;
	struct virtio_net_hdr h;
	ssize_t n;

	REQUIRE_NETNS();
	configure(tun, TEST_MTU);
	for (size_t i = 0; i < N(rows); i++) {
		for (unsigned edge = 1; edge <= 2; edge++) {
			/* edge 1: datagrams of MTU-1 bytes; 2: of the MTU. */
			unsigned seg = (unsigned)(TEST_MTU - rows[i].l4 - 8 - 2 + edge);

			send_udp_gso(rows[i].dst, seg, 4 * (size_t)seg, edge);
			n = read_vnet_udp_to_port9(tun, rows[i].family, &h);
			assert_int_equal(n, rows[i].l4 + 8 + 4 * seg);
			assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
			assert_int_equal(h.gso_size, seg);
			check_udp_split(&h, (size_t)n, 4, seg, 4 * (size_t)seg, edge);
		}
		/* MTU+1: the kernel refuses the segment size. */
		{
			unsigned seg = (unsigned)(TEST_MTU - rows[i].l4 - 8 + 1);
			int fd = udp_socket(rows[i].family), opt = (int)seg;
			struct sockaddr_storage ss = {0};
			socklen_t sl;

			assert_int_equal(setsockopt(fd, SOL_UDP, UDP_SEGMENT, &opt, sizeof(opt)),
					 0);
			if (rows[i].family == AF_INET) {
				struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
				s4->sin_family = AF_INET;
				s4->sin_port = htons(9);
				assert_int_equal(inet_pton(AF_INET, rows[i].dst, &s4->sin_addr), 1);
				sl = sizeof(*s4);
			} else {
				struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
				s6->sin6_family = AF_INET6;
				s6->sin6_port = htons(9);
				assert_int_equal(inet_pton(AF_INET6, rows[i].dst, &s6->sin6_addr),
						 1);
				sl = sizeof(*s6);
			}
			assert_int_equal(
			    sendto(fd, buf, 2 * (size_t)seg, 0, (struct sockaddr *)&ss, sl), -1);
			/* EMSGSIZE on this kernel; older ones said EINVAL. */
			assert_true(errno == EMSGSIZE || errno == EINVAL);
			close(fd);
		}
	}
	/* Nothing else came: the refused sends left no frame. */
	assert_int_equal(read_vnet_udp_to_port9(tun, AF_INET, &h), -1);
}

/* A super-packet with IPv4 options (issue 8, section 3): the datagrams it
 * splits into each carry the options, in a 24-byte header whose checksum
 * is right. */
static void test_tun_read_vnet_udp_gso_ip_options(void **state)
{
	static const uint8_t opts[4] = {1, 1, 1, 0}; /* NOP, NOP, NOP, end */
	struct tun_dev *tun = *state;
	struct virtio_net_hdr h;
	struct sockaddr_in dst = {
	    .sin_family = AF_INET,
	    .sin_port = htons(9),
	    .sin_addr.s_addr = htonl(0x0a4d0002),
	};
	int fd, seg = 1000;
	ssize_t n;

	REQUIRE_NETNS();
	configure(tun, TEST_MTU);
	fd = udp_socket(AF_INET);
	assert_int_equal(setsockopt(fd, IPPROTO_IP, IP_OPTIONS, opts, sizeof(opts)), 0);
	assert_int_equal(setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)), 0);
	fill_pattern(buf, 6 * 1000 + 10, 4);
	assert_int_equal(sendto(fd, buf, 6 * 1000 + 10, 0, (struct sockaddr *)&dst, sizeof(dst)),
			 6 * 1000 + 10);
	n = read_vnet_udp_to_port9(tun, AF_INET, &h);
	assert_int_equal(n, 24 + 8 + 6 * 1000 + 10);
	assert_int_equal(buf[0], 0x46);
	assert_memory_equal(buf + 20, opts, 4);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
	assert_int_equal(h.csum_start, 24);
	check_udp_split(&h, (size_t)n, 7, 1000, 6 * 1000 + 10, 4);
	close(fd);
}

/* CSUM: a plain datagram comes with NEEDS_CSUM and only the pseudo-header
 * sum in its checksum field; tun_csum_finish makes it valid, and tun_read
 * does so by itself. */
static void test_tun_read_vnet_needs_csum(void **state)
{
	struct tun_dev *tun = *state;
	struct virtio_net_hdr h;
	ssize_t n;

	REQUIRE_NETNS();
	configure(tun, TEST_MTU);
	send_udp_gso("10.77.0.2", 0, 301, 1);
	n = read_vnet_udp_to_port9(tun, AF_INET, &h);
	assert_int_equal(n, 20 + 8 + 301);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_true(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h.csum_start, 20);
	assert_int_equal(h.csum_offset, 6);
	assert_false(udp_csum_ok(buf, (size_t)n));
	assert_int_equal(tun_csum_finish(&h, buf, (size_t)n), 0);
	assert_true(udp_csum_ok(buf, (size_t)n));

	send_udp_gso("fd77::2", 0, 77, 2);
	for (int tries = 0; tries < 50; tries++) {
		struct pollfd pfd = {.fd = tun->fd, .events = POLLIN};

		assert_int_equal(poll(&pfd, 1, 1000), 1);
		n = tun_read(tun, buf, sizeof(buf));
		assert_true(n > 0);
		if ((buf[0] >> 4) == 6 && buf[6] == IPPROTO_UDP)
			break;
	}
	assert_int_equal(n, 40 + 8 + 77);
	assert_true(udp_csum_ok(buf, (size_t)n));
}

/* A UDP packet 10.77.0.2:5555 -> 10.77.0.1:UDP_PORT whose checksum field
 * holds the pseudo-header sum, as a NEEDS_CSUM frame carries it. */
static size_t build_udp4_partial(uint8_t *p, const char *text)
{
	size_t len = build_udp4(p, text);
	uint16_t ps =
	    (uint16_t)~csum_fold(csum_pseudo_v4(p + 12, p + 16, IPPROTO_UDP, (uint32_t)(len - 20)));

	p[26] = (uint8_t)(ps >> 8);
	p[27] = (uint8_t)ps;
	return len;
}

static void test_tun_write_vnet_needs_csum_delivered(void **state)
{
	struct tun_dev *tun = *state;
	struct virtio_net_hdr h = {
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 20, .csum_offset = 6};
	struct sockaddr_in from;
	struct iovec iov[3];
	char got[64] = {0};
	uint8_t pkt[64];
	size_t len;
	int fd;

	REQUIRE_NETNS();
	configure(tun, TEST_MTU);
	fd = bound_udp4();
	len = build_udp4_partial(pkt, "partial");
	/* Gathered from three pieces. */
	iov[0] = (struct iovec){.iov_base = pkt, .iov_len = 20};
	iov[1] = (struct iovec){.iov_base = pkt + 20, .iov_len = 8};
	iov[2] = (struct iovec){.iov_base = pkt + 28, .iov_len = len - 28};
	assert_int_equal(tun_write_vnet(tun, &h, iov, 3), (ssize_t)len);
	assert_int_equal(recv_wait(fd, got, sizeof(got), &from, 1000), 7);
	assert_string_equal(got, "partial");
	/* The same bytes without NEEDS_CSUM: a bad checksum, dropped. */
	assert_int_equal(tun_write_vnet(tun, NULL, iov, 3), (ssize_t)len);
	assert_int_equal(recv_wait(fd, got, sizeof(got), &from, 200), -1);
	/* Finished by us, they pass as a plain write. */
	assert_int_equal(tun_csum_finish(&h, pkt, len), 0);
	assert_int_equal(tun_write(tun, pkt, len), (ssize_t)len);
	memset(got, 0, sizeof(got));
	assert_int_equal(recv_wait(fd, got, sizeof(got), &from, 1000), 7);
	assert_string_equal(got, "partial");
	close(fd);
}

/* A UDP_L4 super-packet written in three pieces reaches the socket as the
 * three datagrams it stands for. */
static void test_tun_write_vnet_udp_gso_delivered(void **state)
{
	static uint8_t payload[1500];
	struct tun_dev *tun = *state;
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				   .gso_type = VIRTIO_NET_HDR_GSO_UDP_L4,
				   .hdr_len = 28,
				   .gso_size = 500,
				   .csum_start = 20,
				   .csum_offset = 6};
	struct sockaddr_in from;
	struct iovec iov[3];
	char got[1024];
	uint8_t hdr[28];
	uint16_t ps;
	int fd;

	REQUIRE_NETNS();
	configure(tun, TEST_MTU);
	fd = bound_udp4();
	build_udp4(hdr, "");
	fill_pattern(payload, sizeof(payload), 5);
	hdr[2] = (20 + 8 + 1500) >> 8, hdr[3] = (20 + 8 + 1500) & 0xff;
	csum_ipv4_header_set(hdr, 20);
	hdr[24] = (8 + 1500) >> 8, hdr[25] = (8 + 1500) & 0xff;
	ps = (uint16_t)~csum_fold(csum_pseudo_v4(hdr + 12, hdr + 16, IPPROTO_UDP, 8 + 1500));
	hdr[26] = (uint8_t)(ps >> 8), hdr[27] = (uint8_t)ps;
	iov[0] = (struct iovec){.iov_base = hdr, .iov_len = 28};
	iov[1] = (struct iovec){.iov_base = payload, .iov_len = 700};
	iov[2] = (struct iovec){.iov_base = payload + 700, .iov_len = 800};
	assert_int_equal(tun_write_vnet(tun, &h, iov, 3), 28 + 1500);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(recv_wait(fd, got, sizeof(got), &from, 1000), 500);
		assert_memory_equal(got, payload + 500 * k, 500);
	}
	assert_int_equal(recv_wait(fd, got, sizeof(got), &from, 100), -1);
	close(fd);
}

/* A TCP segment from the peer 10.77.0.2 / fd77::2 port TCP_PEER_PORT to the
 * local end (10.77.0.1 / fd77::1, port lport) with all checksums set. */
enum { TCP_PEER_PORT = 5201, TCP_SEND = 64 * 1024, TCP_PEER_MSS = 1360 };

static size_t build_tcp_from_peer(uint8_t *p, int family, uint16_t lport, uint32_t seq,
				  uint32_t ack, uint8_t flags, const uint8_t *opt, size_t optlen)
{
	size_t l4 = family == AF_INET ? 20 : 40, len = l4 + 20 + optlen;
	uint8_t *t = p + l4;
	uint32_t sum;
	uint16_t c;

	memset(p, 0, len);
	if (family == AF_INET) {
		p[0] = 0x45;
		p[2] = (uint8_t)(len >> 8), p[3] = (uint8_t)len;
		p[6] = 0x40;
		p[8] = 64;
		p[9] = IPPROTO_TCP;
		assert_int_equal(inet_pton(AF_INET, "10.77.0.2", p + 12), 1);
		assert_int_equal(inet_pton(AF_INET, "10.77.0.1", p + 16), 1);
		csum_ipv4_header_set(p, 20);
	} else {
		p[0] = 0x60;
		p[4] = (uint8_t)((len - 40) >> 8), p[5] = (uint8_t)(len - 40);
		p[6] = IPPROTO_TCP;
		p[7] = 64;
		assert_int_equal(inet_pton(AF_INET6, "fd77::2", p + 8), 1);
		assert_int_equal(inet_pton(AF_INET6, "fd77::1", p + 24), 1);
	}
	t[0] = TCP_PEER_PORT >> 8, t[1] = TCP_PEER_PORT & 0xff;
	t[2] = (uint8_t)(lport >> 8), t[3] = (uint8_t)lport;
	for (int i = 0; i < 4; i++) {
		t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
		t[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	t[12] = (uint8_t)(((20 + optlen) / 4) << 4);
	t[13] = flags;
	t[14] = t[15] = 0xff; /* window 65535, scaled by 2^7 after the SYN */
	memcpy(t + 20, opt, optlen);
	sum = family == AF_INET ? csum_pseudo_v4(p + 12, p + 16, IPPROTO_TCP, (uint32_t)(len - l4))
				: csum_pseudo_v6(p + 8, p + 24, IPPROTO_TCP, (uint32_t)(len - l4));
	c = csum_fold(csum_add(sum, t, len - l4));
	t[16] = (uint8_t)(c >> 8), t[17] = (uint8_t)c;
	return len;
}

static uint32_t get32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool tcp_csum_ok(const uint8_t *p, size_t len)
{
	bool v6 = (p[0] >> 4) == 6;
	size_t l4 = v6 ? 40 : (size_t)(p[0] & 15) * 4;
	uint32_t s = v6 ? csum_pseudo_v6(p + 8, p + 24, IPPROTO_TCP, (uint32_t)(len - l4))
			: csum_pseudo_v4(p + 12, p + 16, IPPROTO_TCP, (uint32_t)(len - l4));

	if (!v6 && csum_fold(csum_add(0, p, l4)) != 0)
		return false;
	return csum_fold(csum_add(s, p + l4, len - l4)) == 0;
}

/* The option `kind` in the TCP header at t (len bytes from it on), or NULL. */
static const uint8_t *tcp_option(const uint8_t *t, size_t len, uint8_t kind)
{
	size_t hl = (size_t)(t[12] >> 4) * 4;

	if (hl > len)
		return NULL;
	for (size_t i = 20; i < hl;) {
		if (t[i] == 0)
			break;
		if (t[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= hl || t[i + 1] < 2 || i + t[i + 1] > hl)
			break;
		if (t[i] == kind)
			return t + i;
		i += t[i + 1];
	}
	return NULL;
}

/* Reads one frame of the connection lport -> peer: its length, or -1 if
 * none came within timeout_ms (other traffic is skipped). */
static ssize_t read_tcp_frame(struct tun_dev *tun, int family, uint16_t lport,
			      struct virtio_net_hdr *h, int timeout_ms)
{
	for (int tries = 0; tries < 100; tries++) {
		struct pollfd pfd = {.fd = tun->fd, .events = POLLIN};
		size_t l4;
		ssize_t n;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		n = tun_read_vnet(tun, h, buf, sizeof(buf));
		assert_true(n > 0);
		if (family == AF_INET && (buf[0] >> 4) == 4 && buf[9] == IPPROTO_TCP)
			l4 = (size_t)(buf[0] & 15) * 4;
		else if (family == AF_INET6 && (buf[0] >> 4) == 6 && buf[6] == IPPROTO_TCP)
			l4 = 40;
		else
			continue;
		if ((size_t)n >= l4 + 20 && (buf[l4] << 8 | buf[l4 + 1]) == lport &&
		    (buf[l4 + 2] << 8 | buf[l4 + 3]) == TCP_PEER_PORT)
			return n;
	}
	return -1;
}

/* TSO end to end: a local TCP socket connects to a peer routed into the
 * TUN; the test is the peer (it answers the SYN and ACKs what it gets) and
 * receives 64 KiB that the stack sends as TCPV4/TCPV6 super-packets. Every
 * segment tun_gso_split makes of them must carry the next bytes of the
 * stream at the right sequence number with valid checksums; a frame without
 * GSO gets its checksum finished by tun_csum_finish. */
static void tcp_tso_stream(struct tun_dev *tun, int family, bool ecn)
{
	static uint8_t want[TCP_SEND], store[64][1600];
	/* MSS; NOP, NOP, timestamps (TSecr filled in); NOP, window scale 7. */
	uint8_t synack_opt[20] = {
	    2, 4, TCP_PEER_MSS >> 8, TCP_PEER_MSS & 0xff, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3,
	    3, 7};
	/* NOP, NOP, timestamps: ACKs echo the sender's latest TSval. */
	uint8_t ack_opt[12] = {1, 1, 8, 10, 0, 0, 0, 2};
	const uint8_t *ts;
	const char *dst = family == AF_INET ? "10.77.0.2" : "fd77::2";
	size_t l4 = family == AF_INET ? 20 : 40, sent = 0, got = 0;
	uint8_t *out[64], pkt[128], synack[128];
	size_t out_len[64], synack_len;
	struct sockaddr_storage ss = {0};
	struct virtio_net_hdr h;
	uint32_t isn, our = 0x7000fff0, next;
	unsigned gso_frames = 0, max_segs = 0, gso_size = 0, cwr_segs = 0;
	bool ece = false, ece_sent = false, syn_again = false;
	uint16_t lport;
	socklen_t sl;
	ssize_t n;
	int fd;

	for (int i = 0; i < 64; i++)
		out[i] = store[i];
	fill_pattern(want, sizeof(want), 9);
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(TCP_PEER_PORT);
		assert_int_equal(inet_pton(AF_INET, dst, &s4->sin_addr), 1);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(TCP_PEER_PORT);
		assert_int_equal(inet_pton(AF_INET6, dst, &s6->sin6_addr), 1);
		sl = sizeof(*s6);
	}
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, sl), -1);
	assert_int_equal(errno, EINPROGRESS);
	{
		struct sockaddr_storage me;
		socklen_t ml = sizeof(me);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &ml), 0);
		lport = ntohs(family == AF_INET ? ((struct sockaddr_in *)&me)->sin_port
						: ((struct sockaddr_in6 *)&me)->sin6_port);
	}

	/* SYN in, SYN-ACK out. */
	n = read_tcp_frame(tun, family, lport, &h, 1000);
	assert_true(n > 0);
	/* With ECN the SYN asks for it (ECE | CWR), and we agree (ECE). */
	assert_int_equal(buf[l4 + 13], ecn ? 0xc2 : 0x02);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(tun_csum_finish(&h, buf, (size_t)n), 0);
	assert_true(tcp_csum_ok(buf, (size_t)n));
	isn = get32be(buf + l4 + 4);
	next = isn + 1;
	/* The stack asks for timestamps: every data segment then carries
	 * the option, so the super-packets have a 32-byte TCP header. */
	ts = tcp_option(buf + l4, (size_t)n - l4, 8);
	assert_non_null(ts);
	memcpy(synack_opt + 12, ts + 2, 4);
	synack_len = build_tcp_from_peer(synack, family, lport, our, next, ecn ? 0x52 : 0x12,
					 synack_opt, sizeof(synack_opt));
	assert_int_equal(tun_write(tun, synack, synack_len), (ssize_t)synack_len);

	while (got < TCP_SEND) {
		bool acked = false;

		while (sent < TCP_SEND) {
			ssize_t w = send(fd, want + sent, TCP_SEND - sent, MSG_NOSIGNAL);
			if (w < 0) {
				assert_true(errno == EAGAIN || errno == ENOTCONN);
				break;
			}
			sent += (size_t)w;
		}
		n = read_tcp_frame(tun, family, lport, &h, 2000);
		if (n < 0)
			fail_msg("stalled after %zu of %d bytes", got, TCP_SEND);
		int segs = tun_gso_segments(&h, buf, (size_t)n);
		assert_true(segs >= 1);
		if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
			assert_int_equal(h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN,
					 family == AF_INET ? VIRTIO_NET_HDR_GSO_TCPV4
							   : VIRTIO_NET_HDR_GSO_TCPV6);
			gso_frames++;
			gso_size = h.gso_size;
			if ((unsigned)segs > max_segs)
				max_segs = (unsigned)segs;
		}
		for (unsigned first = 0; first < (unsigned)segs;) {
			int k = tun_gso_split(&h, buf, (size_t)n, first, out, sizeof(store[0]),
					      out_len, 64);
			assert_true(k > 0);
			for (int i = 0; i < k; i++) {
				const uint8_t *p = out[i];
				size_t hl = (size_t)(p[l4 + 12] >> 4) * 4;
				size_t plen = out_len[i] - l4 - hl;
				uint32_t seq = get32be(p + l4 + 4);

				if (!tcp_csum_ok(p, out_len[i]))
					fail_msg("segment at %zu: bad checksum", got);
				if ((p[l4 + 13] & 0x02) && got == 0) {
					/* Our SYN-ACK came too early: just after
					 * link-up IPv6 may not deliver to the new
					 * address yet (Ip6InAddrErrors). Answer
					 * again, as a peer does. */
					syn_again = true;
					assert_int_equal(tun_write(tun, synack, synack_len),
							 (ssize_t)synack_len);
					continue;
				}
				assert_int_equal(get32be(p + l4 + 8), our + 1);
				if (p[l4 + 13] & 0x80) {
					/* CWR answers our ECE (the sender may
					 * reduce again later; after a SYN timeout
					 * it reduces on its own), on the first
					 * segment of its super-packet only, and
					 * a super-packet with it says GSO_ECN. */
					assert_true(ecn && (ece_sent || syn_again) && i == 0 &&
						    first == 0);
					if (segs > 1)
						assert_true(h.gso_type & VIRTIO_NET_HDR_GSO_ECN);
					if (ece_sent) {
						ece = false;
						if ((unsigned)segs > cwr_segs)
							cwr_segs = (unsigned)segs;
					}
				}
				if (plen == 0)
					continue;
				/* In order: the TUN loses nothing, a retransmit
				 * of what we have is allowed. */
				assert_true(seq - next == 0 || next - seq <= got);
				if (seq != next)
					continue;
				assert_true(got + plen <= TCP_SEND);
				assert_memory_equal(p + l4 + hl, want + got, plen);
				/* Timestamps on every segment of the super-packet. */
				assert_int_equal(hl, 32);
				ts = tcp_option(p + l4, out_len[i] - l4, 8);
				assert_non_null(ts);
				memcpy(ack_opt + 8, ts + 2, 4);
				got += plen;
				next += (uint32_t)plen;
				acked = true;
			}
			first += (unsigned)k;
		}
		/* Signal congestion once, a quarter of the way in: ECE on
		 * every ACK until the sender's CWR (RFC 3168 6.1.3). */
		if (ecn && !cwr_segs && got >= TCP_SEND / 4)
			ece = ece_sent = true;
		if (acked) {
			n = (ssize_t)build_tcp_from_peer(pkt, family, lport, our + 1, next,
							 ece ? 0x50 : 0x10, ack_opt,
							 sizeof(ack_opt));
			assert_int_equal(tun_write(tun, pkt, (size_t)n), n);
		}
	}
	assert_int_equal(got, TCP_SEND);
	fprintf(stderr, "test_tun: TCP over %s: %u GSO frames, up to %u segments of %u bytes\n",
		family == AF_INET ? "IPv4" : "IPv6", gso_frames, max_segs, gso_size);
	/* The stack did use TSO: super-packets of full segments. */
	assert_true(gso_frames > 0);
	assert_true(max_segs > 1);
	/* The MSS we gave, less the timestamps option. */
	assert_int_equal(gso_size, TCP_PEER_MSS - 12);
	if (ecn) {
		fprintf(stderr, "test_tun: CWR on a GSO_ECN frame of %u segments\n", cwr_segs);
		/* The case that matters came: CWR on a super-packet. */
		assert_true(cwr_segs > 1);
	}
	close(fd);
}

static void test_tun_read_vnet_tcp_tso(void **state)
{
	struct tun_dev *tun = *state;

	REQUIRE_NETNS();
	configure(tun, TEST_MTU);
	tcp_tso_stream(tun, AF_INET, false);
	tcp_tso_stream(tun, AF_INET6, false);
}

static void set_tcp_ecn(const char *value)
{
	int fd = open("/proc/sys/net/ipv4/tcp_ecn", O_WRONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, value, strlen(value)), (ssize_t)strlen(value));
	close(fd);
}

/* TSO with ECN (TUN_F_TSO_ECN): the test, as the peer, agrees to ECN and
 * echoes congestion; the sender's CWR comes on a super-packet marked
 * GSO_ECN, and only the first segment split from it keeps CWR. */
static void test_tun_read_vnet_tcp_tso_ecn(void **state)
{
	struct tun_dev *tun = *state;

	REQUIRE_NETNS();
	configure(tun, TEST_MTU);
	set_tcp_ecn("1"); /* per network namespace: ours only */
	tcp_tso_stream(tun, AF_INET, true);
	tcp_tso_stream(tun, AF_INET6, true);
	set_tcp_ecn("2");
}

/* The run-time fallback: after tun_offload_off the kernel sends no
 * NEEDS_CSUM and no GSO frame; the header stays and reads still work. */
static void test_tun_offload_off_runtime(void **state)
{
	struct tun_dev *tun = *state;
	struct virtio_net_hdr h;
	ssize_t n;
	int fd, opt = 1000, frames = 0;
	struct sockaddr_in dst = {
	    .sin_family = AF_INET,
	    .sin_port = htons(9),
	    .sin_addr.s_addr = htonl(0x0a4d0002),
	};

	REQUIRE_NETNS();
	configure(tun, TEST_MTU);
	assert_int_equal(tun_offload_off(tun), 0);
	assert_int_equal(tun->offloads, 0);
	send_udp_gso("10.77.0.2", 0, 301, 1);
	n = read_vnet_udp_to_port9(tun, AF_INET, &h);
	assert_int_equal(n, 20 + 8 + 301);
	assert_false(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_true(udp_csum_ok(buf, (size_t)n));
	/* UDP_SEGMENT now either fails at the sender (no checksum offload to
	 * build on) or leaves as plain datagrams: never one GSO frame. */
	fd = udp_socket(AF_INET);
	assert_int_equal(setsockopt(fd, SOL_UDP, UDP_SEGMENT, &opt, sizeof(opt)), 0);
	fill_pattern(buf, 4000, 0);
	if (sendto(fd, buf, 4000, 0, (struct sockaddr *)&dst, sizeof(dst)) == 4000) {
		while ((n = read_vnet_udp_to_port9(tun, AF_INET, &h)) > 0) {
			assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
			assert_int_equal(n, 20 + 8 + 1000);
			assert_true(udp_csum_ok(buf, (size_t)n));
			frames++;
		}
		assert_int_equal(frames, 4);
		fprintf(stderr, "test_tun: UDP_SEGMENT without offloads: 4 plain frames\n");
	} else {
		assert_int_equal(errno, EIO);
		fprintf(stderr, "test_tun: UDP_SEGMENT without offloads: EIO at the sender\n");
	}
	close(fd);
}

/* A fake device: what tests of the data path plug in instead of the kernel.
 * It holds one frame to be read and keeps the last frame written, both as
 * they would be on the fd. */
struct fake {
	uint8_t frame[256];
	size_t frame_len;
	uint8_t last[256];
	size_t last_len;
	unsigned tun_flags;
	int offload_calls;
	int closed;
	int writes;	    /* writev calls */
	int writev_errno;   /* non-zero: writev fails with it */
};

static ssize_t fake_read(struct tun_dev *dev, uint8_t *out, size_t len)
{
	static const uint8_t pkt[20] = {0x45, 0, 0, 20};

	(void)dev;
	if (len < sizeof(pkt)) {
		errno = EMSGSIZE;
		return -1;
	}
	memcpy(out, pkt, sizeof(pkt));
	return sizeof(pkt);
}

static ssize_t fake_write(struct tun_dev *dev, const uint8_t *p, size_t len)
{
	struct fake *f = dev->priv;

	f->last_len = len < sizeof(f->last) ? len : sizeof(f->last);
	memcpy(f->last, p, f->last_len);
	return (ssize_t)len;
}

static void fake_close(struct tun_dev *dev)
{
	struct fake *f = dev->priv;

	f->closed++;
}

static ssize_t fake_readv(struct tun_dev *dev, const struct iovec *iov, int n)
{
	struct fake *f = dev->priv;
	size_t done = 0;

	if (f->frame_len == 0) {
		errno = EAGAIN;
		return -1;
	}
	for (int i = 0; i < n && done < f->frame_len; i++) {
		size_t k =
		    f->frame_len - done < iov[i].iov_len ? f->frame_len - done : iov[i].iov_len;
		memcpy(iov[i].iov_base, f->frame + done, k);
		done += k;
	}
	f->frame_len = 0;
	return (ssize_t)done;
}

static ssize_t fake_writev(struct tun_dev *dev, const struct iovec *iov, int n)
{
	struct fake *f = dev->priv;

	f->writes++;
	if (f->writev_errno) {
		errno = f->writev_errno;
		return -1;
	}
	f->last_len = 0;
	for (int i = 0; i < n; i++) {
		assert_true(f->last_len + iov[i].iov_len <= sizeof(f->last));
		memcpy(f->last + f->last_len, iov[i].iov_base, iov[i].iov_len);
		f->last_len += iov[i].iov_len;
	}
	return (ssize_t)f->last_len;
}

static int fake_set_offload(struct tun_dev *dev, unsigned tun_flags)
{
	struct fake *f = dev->priv;

	f->tun_flags = tun_flags;
	f->offload_calls++;
	return 0;
}

static void fake_queue(struct fake *f, const struct virtio_net_hdr *h, const uint8_t *p, size_t len)
{
	memcpy(f->frame, h, sizeof(*h));
	memcpy(f->frame + sizeof(*h), p, len);
	f->frame_len = sizeof(*h) + len;
}

/* A fake with only read and write (what existed before vnet headers). */
static void test_tun_fake_ops(void **state)
{
	static const struct tun_ops ops = {
	    .read = fake_read, .write = fake_write, .close = fake_close};
	struct fake f = {0};
	struct tun_dev dev = {.ops = &ops, .fd = -1, .priv = &f};
	struct virtio_net_hdr h;
	struct iovec iov = {.iov_base = "abc", .iov_len = 3};
	uint8_t out[64];

	(void)state;
	assert_int_equal(tun_read(&dev, out, sizeof(out)), 20);
	assert_int_equal(out[0], 0x45);
	assert_int_equal(tun_read(&dev, out, 10), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(tun_write(&dev, (const uint8_t *)"abc", 3), 3);
	assert_int_equal(f.last_len, 3);
	assert_memory_equal(f.last, "abc", 3);
	/* The vnet calls on a device without header: h zeroed on read, h that
	 * asks for nothing on write. */
	memset(&h, 0xff, sizeof(h));
	assert_int_equal(tun_read_vnet(&dev, &h, out, sizeof(out)), 20);
	assert_int_equal(h.flags | h.gso_type | h.hdr_len | h.gso_size | h.csum_start, 0);
	h.flags = 0, h.gso_type = 0;
	assert_int_equal(tun_write_vnet(&dev, &h, &iov, 1), 3);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	assert_int_equal(tun_write_vnet(&dev, &h, &iov, 1), -EINVAL);
	assert_int_equal(errno, EINVAL);
	h.flags = 0, h.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	assert_int_equal(tun_write_vnet(&dev, &h, &iov, 1), -EINVAL);
	assert_int_equal(tun_offload_off(&dev), -EINVAL);
	/* A header this backend cannot carry (no readv/writev). */
	dev.vnet_hdr_len = 10;
	assert_int_equal(tun_read(&dev, out, sizeof(out)), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	assert_int_equal(tun_write(&dev, (const uint8_t *)"abc", 3), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	dev.vnet_hdr_len = 0;
	tun_close(&dev);
	tun_close(&dev);
	assert_int_equal(f.closed, 1);
	assert_int_equal(tun_write(&dev, (const uint8_t *)"abc", 3), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(tun_write_vnet(&dev, NULL, &iov, 1), -EBADF);
	assert_int_equal(tun_read_vnet(&dev, &h, out, sizeof(out)), -EBADF);
	assert_int_equal(tun_offload_off(&dev), -EBADF);
}

/* A fake vnet device (frames of header + packet through readv/writev), as
 * the in-process daemon tests use it. */
static void test_tun_fake_vnet_ops(void **state)
{
	static const struct tun_ops ops = {.close = fake_close,
					   .readv = fake_readv,
					   .writev = fake_writev,
					   .set_offload = fake_set_offload};
	static const struct virtio_net_hdr zero;
	struct fake f = {0};
	struct tun_dev dev = {.ops = &ops,
			      .fd = -1,
			      .priv = &f,
			      .vnet_hdr_len = sizeof(struct virtio_net_hdr),
			      .offloads = ALL_OFFLOADS};
	struct virtio_net_hdr h = {0}, got;
	struct iovec iov[TUN_IOV_MAX + 1];
	uint8_t pkt[64], out[128];
	size_t len;

	(void)state;
	len = build_udp4_partial(pkt, "fake");
	/* A plain frame. */
	fake_queue(&f, &zero, pkt, len);
	assert_int_equal(tun_read(&dev, out, sizeof(out)), (ssize_t)len);
	assert_memory_equal(out, pkt, len);
	assert_int_equal(tun_read(&dev, out, sizeof(out)), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(tun_read_vnet(&dev, &got, out, sizeof(out)), -EAGAIN);
	/* NEEDS_CSUM: tun_read_vnet hands it over as it is, tun_read finishes. */
	h = (struct virtio_net_hdr){
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 20, .csum_offset = 6};
	fake_queue(&f, &h, pkt, len);
	assert_int_equal(tun_read_vnet(&dev, &got, out, sizeof(out)), (ssize_t)len);
	assert_memory_equal(&got, &h, sizeof(h));
	assert_memory_equal(out, pkt, len);
	fake_queue(&f, &h, pkt, len);
	assert_int_equal(tun_read(&dev, out, sizeof(out)), (ssize_t)len);
	assert_true(udp_csum_ok(out, len));
	/* ... and refuses one whose offsets lie. */
	h.csum_offset = 200;
	fake_queue(&f, &h, pkt, len);
	assert_int_equal(tun_read(&dev, out, sizeof(out)), -1);
	assert_int_equal(errno, EINVAL);
	/* A GSO frame: only tun_read_vnet takes it. */
	h = (struct virtio_net_hdr){.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4, .gso_size = 2};
	fake_queue(&f, &h, pkt, len);
	assert_int_equal(tun_read(&dev, out, sizeof(out)), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(f.frame_len, 0); /* consumed */
	fake_queue(&f, &h, pkt, len);
	assert_int_equal(tun_read_vnet(&dev, &got, out, sizeof(out)), (ssize_t)len);
	assert_int_equal(got.gso_size, 2);
	/* A frame shorter than the header. */
	f.frame_len = 9;
	assert_int_equal(tun_read_vnet(&dev, &got, out, sizeof(out)), -EPROTO);
	assert_int_equal(got.gso_type, 0);

	/* tun_write puts a zero header in front. */
	assert_int_equal(tun_write(&dev, pkt, len), (ssize_t)len);
	assert_int_equal(f.last_len, 10 + len);
	assert_memory_equal(f.last, &zero, 10);
	assert_memory_equal(f.last + 10, pkt, len);
	/* tun_write_vnet: the header, then the pieces in order. */
	h = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .gso_type = VIRTIO_NET_HDR_GSO_UDP_L4,
				    .hdr_len = 28,
				    .gso_size = 3,
				    .csum_start = 20,
				    .csum_offset = 6};
	iov[0] = (struct iovec){.iov_base = pkt, .iov_len = 28};
	iov[1] = (struct iovec){.iov_base = pkt + 28, .iov_len = 1};
	iov[2] = (struct iovec){.iov_base = pkt + 29, .iov_len = len - 29};
	assert_int_equal(tun_write_vnet(&dev, &h, iov, 3), (ssize_t)len);
	assert_memory_equal(f.last, &h, 10);
	assert_memory_equal(f.last + 10, pkt, len);
	for (int i = 0; i <= TUN_IOV_MAX; i++)
		iov[i] = (struct iovec){.iov_base = pkt, .iov_len = 1};
	assert_int_equal(tun_write_vnet(&dev, &h, iov, TUN_IOV_MAX), TUN_IOV_MAX);
	assert_int_equal(tun_write_vnet(&dev, &h, iov, TUN_IOV_MAX + 1), -EINVAL);
	assert_int_equal(tun_write_vnet(&dev, &h, iov, 0), -EINVAL);

	/* The fallback reaches the backend. */
	assert_int_equal(tun_offload_off(&dev), 0);
	assert_int_equal(f.offload_calls, 1);
	assert_int_equal(f.tun_flags, 0);
	assert_int_equal(dev.offloads, 0);
	tun_close(&dev);
	assert_int_equal(f.closed, 1);
}

/* The IP layer's InHdrErrors counter of this namespace (/proc/net/snmp). */
static long ip_in_hdr_errors(void)
{
	char line[1024], names[1024] = "";
	long v = -1;
	FILE *f = fopen("/proc/net/snmp", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Ip: ", 4) != 0)
			continue;
		if (!names[0]) {
			memcpy(names, line, sizeof(names));
			continue;
		}
		/* The value line: take the field at the position of InHdrErrors. */
		char *n_save, *v_save, *n = strtok_r(names, " \n", &n_save),
				       *x = strtok_r(line, " \n", &v_save);
		while (n && x && strcmp(n, "InHdrErrors") != 0) {
			n = strtok_r(NULL, " \n", &n_save);
			x = strtok_r(NULL, " \n", &v_save);
		}
		if (n && x)
			v = strtol(x, NULL, 10);
		break;
	}
	fclose(f);
	assert_true(v >= 0);
	return v;
}

/* The start-up probe against this kernel: a down TUN refuses it (EIO, the
 * reason it runs after link up); an up one takes both super-packets and its
 * IP layer drops them as header errors, so nothing answers them and no
 * packet comes back out of the TUN. */
static void test_tun_probe_merged_write_kernel(void **state)
{
	struct tun_dev *tun = *state;
	struct virtio_net_hdr h;
	long before;
	int probes;
	ssize_t n;

	REQUIRE_NETNS();
	assert_true(tun->offloads & TUN_OFFLOAD_TSO);
	probes = tun->offloads & TUN_OFFLOAD_USO ? 2 : 1;
	assert_int_equal(tun_probe_merged_write(tun), -EIO);
	configure(tun, TEST_MTU);
	before = ip_in_hdr_errors();
	assert_int_equal(tun_probe_merged_write(tun), 0);
	assert_int_equal(ip_in_hdr_errors() - before, probes);
	usleep(50 * 1000);
	while ((n = tun_read_vnet(tun, &h, buf, sizeof(buf))) > 0) {
		/* IPv6 router solicitations may come; nothing from 192.0.2.0/24. */
		if ((buf[0] >> 4) == 4)
			assert_false(buf[12] == 192 && buf[13] == 0 && buf[14] == 2);
	}
	assert_int_equal(n, -EAGAIN);
	fprintf(stderr, "test_tun: start-up probe: %d super-packet%s taken, dropped as header errors\n",
		probes, probes == 1 ? "" : "s");
}

/* The probe's frames are merged writes as tun/gro.h makes them (our own
 * splitter cuts each into two valid segments); a refusal comes back as its
 * -errno; a device without vnet header or offloads is not written to. */
static void test_tun_probe_merged_write_fake(void **state)
{
	static const struct tun_ops ops = {.close = fake_close,
					   .readv = fake_readv,
					   .writev = fake_writev,
					   .set_offload = fake_set_offload};
	struct fake f = {0};
	struct tun_dev dev = {.ops = &ops,
			      .fd = -1,
			      .priv = &f,
			      .vnet_hdr_len = sizeof(struct virtio_net_hdr),
			      .offloads = TUN_OFFLOAD_CSUM | TUN_OFFLOAD_TSO};
	struct virtio_net_hdr h;
	uint8_t *pkt = f.last + sizeof(h), seg[256], *out;
	size_t len, seg_len;

	(void)state;
	for (int tcp = 1; tcp >= 0; tcp--) {
		dev.offloads = TUN_OFFLOAD_CSUM | (tcp ? TUN_OFFLOAD_TSO : TUN_OFFLOAD_USO);
		f.writes = 0;
		assert_int_equal(tun_probe_merged_write(&dev), 0);
		assert_int_equal(f.writes, 1);
		memcpy(&h, f.last, sizeof(h));
		len = f.last_len - sizeof(h);
		assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
		assert_int_equal(h.gso_type,
				 tcp ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_UDP_L4);
		assert_int_equal(h.csum_start, 20);
		assert_int_equal(pkt[9], tcp ? 6 : 17);
		assert_int_not_equal((uint16_t)~pkt_ref_sum(0, pkt, 20), 0); /* wrong on purpose */
		assert_int_equal(tun_gso_segments(&h, pkt, len), 2);
		for (unsigned k = 0; k < 2; k++) {
			out = seg;
			assert_int_equal(tun_gso_split(&h, pkt, len, k, &out, sizeof(seg), &seg_len, 1), 1);
			assert_int_equal(seg_len, 20 + (tcp ? 20 : 8) + 64);
			if (tcp)
				assert_true(tcp_csum_ok(out, seg_len));
			else
				assert_true(udp_csum_ok(out, seg_len));
		}
	}
	dev.offloads = TUN_OFFLOAD_CSUM | TUN_OFFLOAD_TSO | TUN_OFFLOAD_USO;
	f.writes = 0;
	assert_int_equal(tun_probe_merged_write(&dev), 0);
	assert_int_equal(f.writes, 2);
	f.writev_errno = EINVAL;
	assert_int_equal(tun_probe_merged_write(&dev), -EINVAL);
	f.writev_errno = EIO;
	assert_int_equal(tun_probe_merged_write(&dev), -EIO);
	f.writes = 0;
	dev.offloads = TUN_OFFLOAD_CSUM;
	assert_int_equal(tun_probe_merged_write(&dev), 0);
	dev.offloads = ALL_OFFLOADS;
	dev.vnet_hdr_len = 0;
	assert_int_equal(tun_probe_merged_write(&dev), 0);
	assert_int_equal(f.writes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tun_open_creates_interface, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tun_close_removes_addresses_and_routes, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_tun_open_existing_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tun_open_bad_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tun_read_empty_queue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tun_read_packet_from_stack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tun_read_at_mtu_edges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tun_write_delivers_to_stack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tun_write_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tun_vnet_hdr_len_unsupported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tun_open_offload_features, setup, teardown),
	    cmocka_unit_test(test_tun_open_offload_uso_refused),
	    cmocka_unit_test_setup_teardown(test_tun_read_vnet_udp_gso, setup_offload, teardown),
	    cmocka_unit_test_setup_teardown(test_tun_read_vnet_udp_gso_mtu_edges, setup_offload,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_tun_read_vnet_udp_gso_ip_options, setup_offload,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_tun_read_vnet_needs_csum, setup_offload, teardown),
	    cmocka_unit_test_setup_teardown(test_tun_read_vnet_tcp_tso, setup_offload, teardown),
	    cmocka_unit_test_setup_teardown(test_tun_read_vnet_tcp_tso_ecn, setup_offload,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_tun_write_vnet_needs_csum_delivered, setup_offload,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_tun_write_vnet_udp_gso_delivered, setup_offload,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_tun_offload_off_runtime, setup_offload, teardown),
	    cmocka_unit_test(test_tun_fake_ops),
	    cmocka_unit_test(test_tun_fake_vnet_ops),
	    cmocka_unit_test_setup_teardown(test_tun_probe_merged_write_kernel, setup_offload,
					    teardown),
	    cmocka_unit_test(test_tun_probe_merged_write_fake),
	};

	enter_private_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
