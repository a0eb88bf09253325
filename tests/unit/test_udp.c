/* UDP transport (transport/udp.h) on loopback: a batch of 40 datagrams out
 * through udp_send_batch and back through udp_recv_batch, IPv4 senders seen
 * as AF_INET (never v4-mapped) on the dual-stack socket, IPv6 as AF_INET6,
 * a datagram larger than the receive slot dropped rather than truncated
 * (and the slots compacted around it), one the kernel refuses counted and
 * skipped, the batch limit, and a port that is already taken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <time.h>

#include "transport/udp.h"

enum { SLOT = 2048, WAIT_MS = 5000 };

static uint8_t tx_buf[UDP_BATCH_MAX][SLOT], rx_buf[UDP_BATCH_MAX][SLOT];
static uint8_t big[70000];

static struct sockaddr_storage sa(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	return ss;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Datagram i: i in the first byte, then (i * 7 + j). */
static size_t fill(uint8_t *p, unsigned i, size_t len)
{
	p[0] = (uint8_t)i;
	for (size_t j = 1; j < len; j++)
		p[j] = (uint8_t)(i * 7 + j);
	return len;
}

static void check(const struct udp_msg *m, unsigned i, size_t len)
{
	assert_int_equal(m->len, len);
	assert_int_equal(m->data[0], (uint8_t)i);
	for (size_t j = 1; j < len; j++)
		assert_int_equal(m->data[j], (uint8_t)(i * 7 + j));
}

static void setup_rx(struct udp_msg *rx, unsigned n, size_t cap)
{
	for (unsigned i = 0; i < n; i++) {
		memset(&rx[i], 0, sizeof(rx[i]));
		rx[i].data = rx_buf[i];
		rx[i].cap = cap;
	}
}

/* Receives until want datagrams are in rx[] (slots of cap bytes). */
static unsigned recv_all(struct udp_sock *s, struct udp_msg *rx, unsigned want, size_t cap)
{
	uint64_t deadline = now_ms() + WAIT_MS;
	unsigned got = 0;

	while (got < want && now_ms() < deadline) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		int r;

		poll(&p, 1, 100);
		setup_rx(rx + got, UDP_BATCH_MAX - got, cap);
		r = udp_recv_batch(s, rx + got, UDP_BATCH_MAX - got);
		assert_true(r >= 0);
		got += (unsigned)r;
	}
	return got;
}

static void test_udp_batch_loopback_40(void **state)
{
	struct udp_sock a, b;
	struct udp_msg tx[40], rx[UDP_BATCH_MAX];
	struct sockaddr_storage to, from;

	assert_int_equal(udp_open(&a, 0), 0);
	assert_int_equal(udp_open(&b, 0), 0);
	assert_true(udp_local_port(&a) != 0);
	/* Nothing waiting yet: 0, not an error. */
	setup_rx(rx, UDP_BATCH_MAX, SLOT);
	assert_int_equal(udp_recv_batch(&b, rx, UDP_BATCH_MAX), 0);
	to = sa("127.0.0.1", udp_local_port(&b));
	for (unsigned i = 0; i < 40; i++) {
		memset(&tx[i], 0, sizeof(tx[i]));
		tx[i].data = tx_buf[i];
		tx[i].cap = SLOT;
		tx[i].len = fill(tx_buf[i], i, 20 + i * 30);
		tx[i].addr = to;
	}
	assert_int_equal(udp_send_batch(&a, tx, 40), 40);
	assert_int_equal(recv_all(&b, rx, 40, SLOT), 40);
	from = sa("127.0.0.1", udp_local_port(&a));
	for (unsigned i = 0; i < 40; i++) {
		check(&rx[i], i, 20 + i * 30);
		/* The dual-stack socket saw ::ffff:127.0.0.1; callers see IPv4. */
		assert_int_equal(rx[i].addr.ss_family, AF_INET);
		assert_memory_equal(&rx[i].addr, &from, sizeof(struct sockaddr_in));
	}
	setup_rx(rx, UDP_BATCH_MAX, SLOT);
	assert_int_equal(udp_recv_batch(&b, rx, UDP_BATCH_MAX), 0);
	udp_close(&a);
	udp_close(&b);
}

static void test_udp_send_batch_limit_and_refused(void **state)
{
	struct udp_sock a, b;
	struct udp_msg tx[UDP_BATCH_MAX + 6], rx[UDP_BATCH_MAX];
	struct sockaddr_storage to;

	assert_int_equal(udp_open(&a, 0), 0);
	assert_int_equal(udp_open(&b, 0), 0);
	to = sa("127.0.0.1", udp_local_port(&b));
	/* Three datagrams, the middle one beyond what UDP can carry: the
	 * kernel refuses it, it counts as sent (lost), the others go. */
	for (unsigned i = 0; i < 3; i++) {
		memset(&tx[i], 0, sizeof(tx[i]));
		tx[i].data = tx_buf[i];
		tx[i].len = fill(tx_buf[i], i, 100);
		tx[i].addr = to;
	}
	tx[1].data = big;
	tx[1].len = sizeof(big);
	assert_int_equal(udp_send_batch(&a, tx, 3), 3);
	assert_int_equal(recv_all(&b, rx, 2, SLOT), 2);
	check(&rx[0], 0, 100);
	check(&rx[1], 2, 100);
	assert_int_equal(udp_send(&a, big, sizeof(big), &to), -EMSGSIZE);
	/* At most UDP_BATCH_MAX per call. */
	for (unsigned i = 0; i < UDP_BATCH_MAX + 6; i++) {
		memset(&tx[i], 0, sizeof(tx[i]));
		tx[i].data = tx_buf[i % UDP_BATCH_MAX];
		tx[i].len = fill(tx_buf[i % UDP_BATCH_MAX], i, 8);
		tx[i].addr = to;
	}
	assert_int_equal(udp_send_batch(&a, tx, UDP_BATCH_MAX + 6), UDP_BATCH_MAX);
	assert_int_equal(recv_all(&b, rx, UDP_BATCH_MAX, SLOT), UDP_BATCH_MAX);
	udp_close(&a);
	udp_close(&b);
}

static void test_udp_recv_batch_drops_oversize(void **state)
{
	static const size_t lens[] = {50, 201, 200, 60, 1000, 1};
	struct udp_sock a, b;
	struct udp_msg rx[UDP_BATCH_MAX];
	struct sockaddr_storage to;
	uint8_t buf[1000];
	int got;

	assert_int_equal(udp_open(&a, 0), 0);
	assert_int_equal(udp_open(&b, 0), 0);
	to = sa("127.0.0.1", udp_local_port(&b));
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(udp_send(&a, buf, fill(buf, i, lens[i]), &to), 0);
	/* All six are queued before one recvmmsg with 200-byte slots: the
	 * 201- and 1000-byte ones are dropped whole, the rest move up. */
	{
		struct pollfd p = {.fd = b.fd, .events = POLLIN};

		assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	}
	setup_rx(rx, UDP_BATCH_MAX, 200);
	got = udp_recv_batch(&b, rx, UDP_BATCH_MAX);
	assert_int_equal(got, 4);
	check(&rx[0], 0, 50);
	check(&rx[1], 2, 200);
	check(&rx[2], 3, 60);
	check(&rx[3], 5, 1);
	for (int i = 0; i < got; i++)
		assert_int_equal(rx[i].addr.ss_family, AF_INET);
	setup_rx(rx, UDP_BATCH_MAX, 200);
	assert_int_equal(udp_recv_batch(&b, rx, UDP_BATCH_MAX), 0);
	udp_close(&a);
	udp_close(&b);
}

static void test_udp_open_port_in_use(void **state)
{
	struct udp_sock a, b;

	assert_int_equal(udp_open(&a, 0), 0);
	/* No SO_REUSEADDR on UDP: a second socket on the port is refused
	 * rather than sharing the datagrams. */
	assert_int_equal(udp_open(&b, udp_local_port(&a)), -EADDRINUSE);
	assert_int_equal(b.fd, -1);
	udp_close(&b); /* never opened: fine */
	udp_close(&a);
	assert_int_equal(a.fd, -1);
	udp_close(&a); /* twice: fine */
	/* Once closed, the port is free again. */
	assert_int_equal(udp_open(&b, a.port), 0);
	assert_int_equal(udp_local_port(&b), a.port);
	udp_close(&b);
}

static void test_udp_ipv6_peer(void **state)
{
	struct udp_sock a, b;
	struct udp_msg rx[UDP_BATCH_MAX];
	struct sockaddr_storage to;
	uint8_t buf[64];

	assert_int_equal(udp_open(&a, 0), 0);
	assert_int_equal(udp_open(&b, 0), 0);
	to = sa("::1", udp_local_port(&b));
	if (b.family != AF_INET6 || udp_send(&a, buf, fill(buf, 9, 64), &to) < 0) {
		udp_close(&a);
		udp_close(&b);
		skip(); /* no IPv6 loopback here */
	}
	assert_int_equal(recv_all(&b, rx, 1, SLOT), 1);
	check(&rx[0], 9, 64);
	assert_int_equal(rx[0].addr.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&rx[0].addr)->sin6_port),
			 udp_local_port(&a));
	udp_close(&a);
	udp_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_udp_batch_loopback_40),
	    cmocka_unit_test(test_udp_send_batch_limit_and_refused),
	    cmocka_unit_test(test_udp_recv_batch_drops_oversize),
	    cmocka_unit_test(test_udp_open_port_in_use),
	    cmocka_unit_test(test_udp_ipv6_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
