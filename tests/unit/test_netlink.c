/* rtnetlink tests against the real kernel, inside a private network namespace
 * (and mount namespace, for a sysfs that shows it) that the test process
 * creates with unshare() and that dies with it: nothing here can see or touch
 * the host's interfaces. Without root, or where namespaces are not allowed,
 * every test is skipped.
 *
 * Each test gets a fresh TUN "p2ptest0" and checks what the kernel reports
 * back through the dump helpers and through /sys/class/net, then the failure
 * the kernel or our own checks give for bad input. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "tun/netlink.h"
#include "tun/tun.h"

#define TEST_IF "p2ptest0"

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
		fprintf(stderr, "test_netlink: skipping: %s\n", why);
	netns_ready = !why;
}

struct fixture {
	struct nl_sock nl;
	struct tun_dev tun;
};

static int setup(void **state)
{
	static struct fixture f;

	*state = &f;
	memset(&f, 0, sizeof(f));
	f.tun.fd = -1;
	if (!netns_ready)
		return 0;
	assert_int_equal(nl_open(&f.nl), 0);
	assert_int_equal(tun_open(&f.tun, TEST_IF), 0);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tun_close(&f->tun);
	nl_close(&f->nl);
	return 0;
}

#define REQUIRE_NETNS()                                                                            \
	do {                                                                                       \
		if (!netns_ready)                                                                  \
			skip();                                                                    \
	} while (0)

/* Reads /sys/class/net/<ifname>/<attr> as a number; -1 if it is not there. */
static long sysfs_read(const char *ifname, const char *attr)
{
	char path[128], buf[64] = {0};
	long v = -1;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, attr);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) > 0)
		v = strtol(buf, NULL, 0);
	close(fd);
	return v;
}

static void pton(const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(strchr(s, ':') ? AF_INET6 : AF_INET, s, out), 1);
}

/* Address and route searches over the dumps. */
struct find {
	int ifindex;
	int family;
	uint8_t addr[16];
	uint8_t plen;
	int found;
	uint32_t flags;
	struct nl_route route;
};

static int find_addr(const struct nl_addr *a, void *ctx)
{
	struct find *q = ctx;

	if (a->ifindex == q->ifindex && a->family == q->family && a->plen == q->plen &&
	    !memcmp(a->addr, q->addr, a->family == AF_INET ? 4 : 16)) {
		q->found++;
		q->flags = a->flags;
	}
	return 0;
}

static int find_route(const struct nl_route *r, void *ctx)
{
	struct find *q = ctx;

	if (r->ifindex == q->ifindex && r->family == q->family && r->plen == q->plen &&
	    r->table == RT_TABLE_MAIN && !memcmp(r->dst, q->addr, r->family == AF_INET ? 4 : 16)) {
		q->found++;
		q->route = *r;
	}
	return 0;
}

static int addr_present(struct nl_sock *nl, int ifindex, const char *addr, uint8_t plen,
			uint32_t *flags)
{
	struct find q = {.ifindex = ifindex, .plen = plen};

	q.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	pton(addr, q.addr);
	assert_int_equal(nl_addr_dump(nl, find_addr, &q), 0);
	if (flags)
		*flags = q.flags;
	return q.found;
}

static int route_present(struct nl_sock *nl, int ifindex, const char *dst, uint8_t plen,
			 struct nl_route *out)
{
	struct find q = {.ifindex = ifindex, .plen = plen};

	q.family = strchr(dst, ':') ? AF_INET6 : AF_INET;
	pton(dst, q.addr);
	assert_int_equal(nl_route_dump(nl, q.family, find_route, &q), 0);
	if (out)
		*out = q.route;
	return q.found;
}

static void test_nl_link_set_mtu(void **state)
{
	struct fixture *f = *state;
	unsigned mtu = 0;

	REQUIRE_NETNS();
	assert_int_equal(nl_link_set_mtu(&f->nl, f->tun.ifindex, 1420), 0);
	assert_string_equal(f->nl.err_msg, "");
	assert_int_equal(nl_link_get(&f->nl, f->tun.ifindex, &mtu, NULL), 0);
	assert_int_equal(mtu, 1420);
	assert_int_equal(sysfs_read(TEST_IF, "mtu"), 1420);
	/* A TUN takes 68..65535: the kernel refuses past the edges and says why. */
	assert_int_equal(nl_link_set_mtu(&f->nl, f->tun.ifindex, 65535), 0);
	assert_int_equal(sysfs_read(TEST_IF, "mtu"), 65535);
	assert_int_equal(nl_link_set_mtu(&f->nl, f->tun.ifindex, 65536), -EINVAL);
	assert_string_not_equal(f->nl.err_msg, "");
	assert_int_equal(nl_link_set_mtu(&f->nl, f->tun.ifindex, 67), -EINVAL);
	assert_int_equal(nl_link_set_mtu(&f->nl, f->tun.ifindex, 68), 0);
	assert_int_equal(sysfs_read(TEST_IF, "mtu"), 68);
	assert_int_equal(nl_link_set_mtu(&f->nl, 0, 1420), -EINVAL);
	assert_int_equal(nl_link_set_mtu(&f->nl, -3, 1420), -EINVAL);
	assert_int_equal(nl_link_set_mtu(&f->nl, 99999, 1420), -ENODEV);
	assert_int_equal(sysfs_read(TEST_IF, "mtu"), 68);
}

static void test_nl_link_set_up(void **state)
{
	struct fixture *f = *state;
	bool up = true;

	REQUIRE_NETNS();
	assert_int_equal(nl_link_get(&f->nl, f->tun.ifindex, NULL, &up), 0);
	assert_false(up);
	assert_int_equal(nl_link_set_up(&f->nl, f->tun.ifindex, true), 0);
	assert_int_equal(nl_link_get(&f->nl, f->tun.ifindex, NULL, &up), 0);
	assert_true(up);
	assert_true(sysfs_read(TEST_IF, "flags") & 0x1); /* IFF_UP */
	assert_int_equal(nl_link_set_up(&f->nl, f->tun.ifindex, false), 0);
	assert_int_equal(nl_link_get(&f->nl, f->tun.ifindex, NULL, &up), 0);
	assert_false(up);
	assert_false(sysfs_read(TEST_IF, "flags") & 0x1);
	assert_int_equal(nl_link_set_up(&f->nl, 0, true), -EINVAL);
	assert_int_equal(nl_link_set_up(&f->nl, 99999, true), -ENODEV);
}

static void test_nl_link_get(void **state)
{
	struct fixture *f = *state;
	unsigned mtu = 0;
	bool up = true;

	REQUIRE_NETNS();
	/* The new namespace's loopback: index 1, MTU 65536, down. */
	assert_int_equal(nl_link_get(&f->nl, 1, &mtu, &up), 0);
	assert_int_equal(mtu, 65536);
	assert_false(up);
	assert_int_equal(nl_link_get(&f->nl, f->tun.ifindex, &mtu, NULL), 0);
	assert_int_equal(mtu, (unsigned)sysfs_read(TEST_IF, "mtu"));
	assert_int_equal(nl_link_get(&f->nl, 99999, &mtu, &up), -ENODEV);
	assert_int_equal(nl_link_get(&f->nl, 0, &mtu, &up), -EINVAL);
}

static void test_nl_addr_add_and_del(void **state)
{
	struct fixture *f = *state;
	int ifi = f->tun.ifindex;
	uint8_t v4[16], v6[16];
	uint32_t flags = 0;

	REQUIRE_NETNS();
	pton("10.77.0.1", v4);
	pton("fd77::1", v6);
	assert_int_equal(nl_link_set_mtu(&f->nl, ifi, 1420), 0);
	assert_int_equal(nl_addr_add(&f->nl, ifi, AF_INET, v4, 24), 0);
	assert_int_equal(nl_addr_add(&f->nl, ifi, AF_INET6, v6, 64), 0);
	assert_int_equal(nl_link_set_up(&f->nl, ifi, true), 0);

	assert_int_equal(addr_present(&f->nl, ifi, "10.77.0.1", 24, NULL), 1);
	assert_int_equal(addr_present(&f->nl, ifi, "fd77::1", 64, &flags), 1);
	assert_true(flags & IFA_F_NODAD);
	assert_false(flags & IFA_F_TENTATIVE); /* usable at once */
	/* The kernel's prefix route for the IPv4 address. */
	assert_int_equal(route_present(&f->nl, ifi, "10.77.0.0", 24, NULL), 1);

	/* Again: refused, still listed once. */
	assert_int_equal(nl_addr_add(&f->nl, ifi, AF_INET, v4, 24), -EEXIST);
	assert_int_equal(nl_addr_add(&f->nl, ifi, AF_INET6, v6, 64), -EEXIST);
	assert_int_equal(addr_present(&f->nl, ifi, "10.77.0.1", 24, NULL), 1);

	/* Bad input never reaches the kernel, or the kernel refuses it. */
	assert_int_equal(nl_addr_add(&f->nl, ifi, AF_INET, v4, 33), -EINVAL);
	assert_int_equal(nl_addr_add(&f->nl, ifi, AF_INET6, v6, 129), -EINVAL);
	assert_int_equal(nl_addr_add(&f->nl, ifi, AF_UNIX, v4, 8), -EAFNOSUPPORT);
	assert_int_equal(nl_addr_add(&f->nl, 0, AF_INET, v4, 24), -EINVAL);
	assert_int_equal(nl_addr_add(&f->nl, ifi, AF_INET, NULL, 24), -EINVAL);
	assert_int_equal(nl_addr_add(&f->nl, 99999, AF_INET, v4, 24), -ENODEV);

	assert_int_equal(nl_addr_del(&f->nl, ifi, AF_INET, v4, 24), 0);
	assert_int_equal(nl_addr_del(&f->nl, ifi, AF_INET6, v6, 64), 0);
	assert_int_equal(addr_present(&f->nl, ifi, "10.77.0.1", 24, NULL), 0);
	assert_int_equal(addr_present(&f->nl, ifi, "fd77::1", 64, NULL), 0);
	assert_int_equal(route_present(&f->nl, ifi, "10.77.0.0", 24, NULL), 0);
	assert_int_equal(nl_addr_del(&f->nl, ifi, AF_INET, v4, 24), -EADDRNOTAVAIL);
	assert_int_equal(nl_addr_del(&f->nl, ifi, AF_INET6, v6, 64), -EADDRNOTAVAIL);
}

static void test_nl_route_add_and_del(void **state)
{
	struct fixture *f = *state;
	int ifi = f->tun.ifindex;
	uint8_t r4[16], r6[16], host[16], any[16] = {0};
	struct nl_route r;
	char cmd[128];

	REQUIRE_NETNS();
	pton("10.88.0.0", r4);
	pton("fd88::", r6);
	/* Down link: the kernel refuses. */
	assert_int_equal(nl_route_add(&f->nl, ifi, AF_INET, r4, 16), -ENETDOWN);
	assert_int_equal(nl_route_add(&f->nl, ifi, AF_INET6, r6, 32), -ENETDOWN);
	assert_int_equal(nl_link_set_up(&f->nl, ifi, true), 0);

	assert_int_equal(nl_route_add(&f->nl, ifi, AF_INET, r4, 16), 0);
	assert_int_equal(nl_route_add(&f->nl, ifi, AF_INET6, r6, 32), 0);
	assert_int_equal(route_present(&f->nl, ifi, "10.88.0.0", 16, &r), 1);
	assert_int_equal(r.protocol, RTPROT_STATIC);
	assert_int_equal(r.type, RTN_UNICAST);
	assert_int_equal(route_present(&f->nl, ifi, "fd88::", 32, &r), 1);
	assert_int_equal(r.protocol, RTPROT_STATIC);
	assert_false(r.has_gateway); /* ours go straight into the tunnel */
	assert_int_equal(nl_route_add(&f->nl, ifi, AF_INET, r4, 16), -EEXIST);

	/* A route through a next hop (as the default route the port mapping
	 * looks for): its gateway and metric are read. */
	pton("10.87.0.1", host);
	assert_int_equal(nl_addr_add(&f->nl, ifi, AF_INET, host, 24), 0);
	snprintf(cmd, sizeof(cmd), "ip route add 10.90.0.0/16 via 10.87.0.254 dev %s metric 7",
		 f->tun.name);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(route_present(&f->nl, ifi, "10.90.0.0", 16, &r), 1);
	assert_true(r.has_gateway);
	pton("10.87.0.254", host);
	assert_memory_equal(r.gateway, host, 4);
	assert_int_equal(r.metric, 7);
	assert_int_equal(system("ip route del 10.90.0.0/16"), 0);
	assert_int_equal(nl_route_add(&f->nl, ifi, AF_INET6, r6, 32), -EEXIST);

	/* Host bits are cleared: 10.89.1.2/16 is 10.89.0.0/16. */
	pton("10.89.1.2", host);
	assert_int_equal(nl_route_add(&f->nl, ifi, AF_INET, host, 16), 0);
	assert_int_equal(route_present(&f->nl, ifi, "10.89.0.0", 16, NULL), 1);
	assert_int_equal(nl_route_del(&f->nl, ifi, AF_INET, host, 16), 0);
	assert_int_equal(route_present(&f->nl, ifi, "10.89.0.0", 16, NULL), 0);

	/* The default routes of both families, through the tunnel. */
	assert_int_equal(nl_route_add(&f->nl, ifi, AF_INET, any, 0), 0);
	assert_int_equal(nl_route_add(&f->nl, ifi, AF_INET6, any, 0), 0);
	assert_int_equal(route_present(&f->nl, ifi, "0.0.0.0", 0, NULL), 1);
	assert_int_equal(route_present(&f->nl, ifi, "::", 0, NULL), 1);
	assert_int_equal(nl_route_del(&f->nl, ifi, AF_INET, any, 0), 0);
	assert_int_equal(nl_route_del(&f->nl, ifi, AF_INET6, any, 0), 0);

	assert_int_equal(nl_route_add(&f->nl, ifi, AF_INET, r4, 33), -EINVAL);
	assert_int_equal(nl_route_add(&f->nl, ifi, AF_INET6, r6, 129), -EINVAL);
	assert_int_equal(nl_route_add(&f->nl, 0, AF_INET, r4, 16), -EINVAL);
	assert_int_equal(nl_route_add(&f->nl, ifi, AF_PACKET, r4, 16), -EAFNOSUPPORT);
	assert_int_equal(nl_route_add(&f->nl, 99999, AF_INET, r4, 16), -ENODEV);
	assert_int_equal(nl_route_dump(&f->nl, AF_UNIX, find_route, NULL), -EAFNOSUPPORT);

	assert_int_equal(nl_route_del(&f->nl, ifi, AF_INET, r4, 16), 0);
	assert_int_equal(nl_route_del(&f->nl, ifi, AF_INET6, r6, 32), 0);
	assert_int_equal(route_present(&f->nl, ifi, "10.88.0.0", 16, NULL), 0);
	assert_int_equal(route_present(&f->nl, ifi, "fd88::", 32, NULL), 0);
	assert_int_equal(nl_route_del(&f->nl, ifi, AF_INET, r4, 16), -ESRCH);
	assert_int_equal(nl_route_del(&f->nl, ifi, AF_INET6, r6, 32), -ESRCH);
}

struct counter {
	int ifindex;
	int seen;
	int stop_after;
};

static int count_addrs(const struct nl_addr *a, void *ctx)
{
	struct counter *c = ctx;

	if (a->ifindex == c->ifindex && a->family == AF_INET && a->plen == 32)
		c->seen++;
	return c->stop_after && c->seen >= c->stop_after ? 7 : 0;
}

/* Enough addresses that the dump spans many datagrams (each carries at most
 * 32 KiB), so the multi-part path and the draining after a stop are used. */
static void test_nl_addr_dump_multipart(void **state)
{
	enum { MANY = 1000 };
	struct fixture *f = *state;
	struct counter c = {.ifindex = f->tun.ifindex};
	uint8_t a[16] = {10, 99};
	unsigned mtu = 0;

	REQUIRE_NETNS();
	for (int i = 0; i < MANY; i++) {
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		assert_int_equal(nl_addr_add(&f->nl, f->tun.ifindex, AF_INET, a, 32), 0);
	}
	assert_int_equal(nl_addr_dump(&f->nl, count_addrs, &c), 0);
	assert_int_equal(c.seen, MANY);

	/* A callback that stops: its value comes back, the rest is drained and
	 * the next request on the socket gets its own answer. */
	c.seen = 0;
	c.stop_after = 10;
	assert_int_equal(nl_addr_dump(&f->nl, count_addrs, &c), 7);
	assert_int_equal(c.seen, 10);
	assert_int_equal(nl_link_get(&f->nl, f->tun.ifindex, &mtu, NULL), 0);
	assert_int_equal(mtu, 1500);
	assert_int_equal(nl_addr_dump(&f->nl, NULL, NULL), -EINVAL);
}

/* An ack forged by a local process (another netlink socket sending to our
 * port) must not be taken for the kernel's answer. */
static void test_nl_forged_ack_ignored(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_nl to = {.nl_family = AF_NETLINK};
	struct {
		struct nlmsghdr h;
		struct nlmsgerr e;
	} msg = {0};
	unsigned mtu = 0;
	int fd;

	REQUIRE_NETNS();
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	assert_true(fd >= 0);
	to.nl_pid = f->nl.portid;
	msg.h.nlmsg_len = sizeof(msg);
	msg.h.nlmsg_type = NLMSG_ERROR;
	msg.h.nlmsg_seq = f->nl.seq + 1; /* the next request's number */
	msg.h.nlmsg_pid = f->nl.portid;
	msg.e.error = -EPERM;
	assert_int_equal(sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&to, sizeof(to)),
			 (ssize_t)sizeof(msg));
	close(fd);
	/* Queued before the real ack, yet the real one decides. */
	assert_int_equal(nl_link_set_mtu(&f->nl, f->tun.ifindex, 1280), 0);
	assert_int_equal(nl_link_get(&f->nl, f->tun.ifindex, &mtu, NULL), 0);
	assert_int_equal(mtu, 1280);
}

static void test_nl_link_delete(void **state)
{
	struct fixture *f = *state;
	int ifi = f->tun.ifindex;

	REQUIRE_NETNS();
	assert_true(sysfs_read(TEST_IF, "ifindex") == ifi);
	assert_int_equal(nl_link_delete(&f->nl, ifi), 0);
	assert_int_equal(nl_link_get(&f->nl, ifi, NULL, NULL), -ENODEV);
	assert_int_equal(sysfs_read(TEST_IF, "ifindex"), -1);
	assert_int_equal(if_nametoindex(TEST_IF), 0);
	assert_int_equal(nl_link_delete(&f->nl, ifi), -ENODEV);
	assert_int_equal(nl_link_delete(&f->nl, 0), -EINVAL);
	/* The fd of a deleted TUN still closes cleanly. */
	tun_close(&f->tun);
	assert_int_equal(f->tun.fd, -1);
}

static void test_nl_closed_socket(void **state)
{
	struct fixture *f = *state;

	REQUIRE_NETNS();
	nl_close(&f->nl);
	nl_close(&f->nl); /* twice is fine */
	assert_int_equal(nl_link_set_mtu(&f->nl, f->tun.ifindex, 1420), -EBADF);
	assert_int_equal(nl_link_get(&f->nl, f->tun.ifindex, NULL, NULL), -EBADF);
	assert_int_equal(nl_open(&f->nl), 0);
	assert_int_equal(nl_link_set_mtu(&f->nl, f->tun.ifindex, 1420), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_nl_link_set_mtu, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nl_link_set_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nl_link_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nl_addr_add_and_del, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nl_route_add_and_del, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nl_addr_dump_multipart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nl_forged_ack_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nl_link_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nl_closed_socket, setup, teardown),
	};

	enter_private_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
