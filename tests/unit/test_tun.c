/* TUN device tests against the real kernel, inside a private network
 * namespace (and mount namespace, for a sysfs that shows it) created by the
 * test process with unshare(): every interface made here dies with the
 * process and none of the host's is visible. Skipped without root or where
 * namespaces are not allowed.
 *
 * Covers creation and removal, refusing existing names, packets both ways
 * between the TUN and sockets of the namespace's own stack (SECURITY-NOTES
 * 6.16: reads at the MTU, MTU+1 and 65535), malformed writes, and the ops
 * indirection a fake device uses. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "routing/inner.h"
#include "tun/netlink.h"
#include "tun/tun.h"

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

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* An IPv4/UDP packet 10.77.0.2:5555 -> 10.77.0.1:UDP_PORT carrying text (UDP
 * checksum 0: none, allowed for IPv4). */
static size_t build_udp4(uint8_t *p, const char *text)
{
	size_t n = strlen(text), tot = 28 + n;

	memset(p, 0, 28);
	p[0] = 0x45;
	p[2] = (uint8_t)(tot >> 8);
	p[3] = (uint8_t)tot;
	p[6] = 0x40; /* DF */
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	assert_int_equal(inet_pton(AF_INET, "10.77.0.2", p + 12), 1);
	assert_int_equal(inet_pton(AF_INET, "10.77.0.1", p + 16), 1);
	uint16_t c = ip_checksum(p, 20);
	p[10] = (uint8_t)(c >> 8);
	p[11] = (uint8_t)c;
	p[20] = 5555 >> 8;
	p[21] = 5555 & 0xff;
	p[22] = UDP_PORT >> 8;
	p[23] = UDP_PORT & 0xff;
	p[24] = (uint8_t)((8 + n) >> 8);
	p[25] = (uint8_t)(8 + n);
	memcpy(p + 28, text, n);
	return tot;
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
	/* Drain what the kernel sent on link-up (IPv6 solicitations). */
	while (tun_read(tun, buf, sizeof(buf)) > 0)
		;
	assert_int_equal(tun_read(tun, buf, sizeof(buf)), -1);
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

/* The read and write wrappers own the frame layout: a header length the
 * backend cannot carry is refused rather than guessed at. */
static void test_tun_vnet_hdr_len_unsupported(void **state)
{
	struct tun_dev *tun = *state;
	uint8_t pkt[64];
	size_t len;

	REQUIRE_NETNS();
	len = build_udp4(pkt, "x");
	tun->vnet_hdr_len = 4096;
	assert_int_equal(tun_write(tun, pkt, len), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(tun_read(tun, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EINVAL);
	tun->vnet_hdr_len = 0;
}

/* A fake device: what tests of the data path plug in instead of the kernel. */
struct fake {
	uint8_t last[64];
	size_t last_len;
	int closed;
};

static ssize_t fake_read(struct tun_dev *dev, uint8_t *out, size_t len)
{
	static const uint8_t pkt[20] = {0x45, 0, 0, 20};

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

static void test_tun_fake_ops(void **state)
{
	static const struct tun_ops ops = {fake_read, fake_write, fake_close};
	struct fake f = {0};
	struct tun_dev dev = {.ops = &ops, .fd = -1, .priv = &f};
	uint8_t out[64];

	assert_int_equal(tun_read(&dev, out, sizeof(out)), 20);
	assert_int_equal(out[0], 0x45);
	assert_int_equal(tun_read(&dev, out, 10), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(tun_write(&dev, (const uint8_t *)"abc", 3), 3);
	assert_int_equal(f.last_len, 3);
	assert_memory_equal(f.last, "abc", 3);
	tun_close(&dev);
	tun_close(&dev);
	assert_int_equal(f.closed, 1);
	assert_int_equal(tun_write(&dev, (const uint8_t *)"abc", 3), -1);
	assert_int_equal(errno, EBADF);
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
	    cmocka_unit_test(test_tun_fake_ops),
	};

	enter_private_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
