/* UDP transport (transport/udp.h) on loopback: a batch of 40 datagrams out
 * through udp_send_batch and back through udp_recv_batch, IPv4 senders seen
 * as AF_INET (never v4-mapped) on the dual-stack socket, IPv6 as AF_INET6,
 * a datagram larger than the receive slot dropped rather than truncated
 * (and the slots compacted around it), one the kernel refuses counted and
 * skipped, the batch limit, and a port that is already taken.
 * Offloads, on real loopback sockets: GSO runs (cut by destination, length,
 * segment and byte caps) arrive whole and in order; the kernel's refusal of
 * GSO (checksums off on the socket) turns it off once and loses nothing;
 * GRO messages carry their segment size and the iterator walks them; a
 * coalesced message too big for its slot is dropped whole; the start-up
 * self-probe; buffer sizes.
 * Local addresses (udp_open_addr): a pktinfo wildcard, IPv4 alone or
 * dual-stack, reports 127.0.0.1 vs 127.0.0.2 (and ::1) as each datagram's
 * destination and answers from the address asked for, alone, in a batch
 * and in GSO runs (never one run across two sources); a specific address
 * reports itself; truncated datagrams are still dropped. On
 * loopback the kernel hands a GSO message to a GRO socket as it was sent,
 * so a GRO receiver shows where udp_send_batch cut its batch. */
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
#include <net/if.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* ---- Offloads: GSO on send, GRO on receive ------------------------------ */

enum { BIG_SLOT = 65536, RUN_MAX = 256 };

static uint8_t gro_buf[UDP_BATCH_MAX][BIG_SLOT];
static uint8_t seq_buf[RUN_MAX][SLOT];

/* Datagram with sequence number seq: seq big-endian in the first four
 * bytes, then (seq * 13 + j), so a datagram out of place, cut or glued to
 * its neighbour is seen. */
static size_t fill_seq(uint8_t *p, uint32_t seq, size_t len)
{
	p[0] = (uint8_t)(seq >> 24);
	p[1] = (uint8_t)(seq >> 16);
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	for (size_t j = 4; j < len; j++)
		p[j] = (uint8_t)(seq * 13 + j);
	return len;
}

static uint32_t check_seq(const uint8_t *p, size_t len)
{
	uint32_t seq;

	assert_true(len >= 4);
	seq = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	for (size_t j = 4; j < len; j++)
		assert_int_equal(p[j], (uint8_t)(seq * 13 + j));
	return seq;
}

/* What a receiver saw: each datagram (seq, len) and each message (len,
 * segment), in arrival order. */
struct seen {
	unsigned n, n_msgs;
	uint32_t seq[RUN_MAX];
	size_t len[RUN_MAX];
	size_t msg_len[RUN_MAX];
	uint16_t msg_segment[RUN_MAX];
	int family;
};

/* Receives into 64 KiB slots until want datagrams arrived or WAIT_MS
 * passed, walking coalesced messages with udp_msg_next_segment; then waits
 * a little for any datagram too many. */
static void collect(struct udp_sock *s, unsigned want, struct seen *out)
{
	static struct udp_msg rx[UDP_BATCH_MAX];
	uint64_t deadline = now_ms() + WAIT_MS;

	memset(out, 0, sizeof(*out));
	while (now_ms() < deadline) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		int r;

		if (poll(&p, 1, out->n < want ? 100 : 50) == 0 && out->n >= want)
			break;
		for (unsigned i = 0; i < UDP_BATCH_MAX; i++) {
			memset(&rx[i], 0, sizeof(rx[i]));
			rx[i].data = gro_buf[i];
			rx[i].cap = BIG_SLOT;
			rx[i].segment = 0xdead; /* must be overwritten */
		}
		r = udp_recv_batch(s, rx, UDP_BATCH_MAX);
		assert_true(r >= 0);
		for (int i = 0; i < r; i++) {
			size_t off = 0, len;
			uint8_t *d;

			assert_true(out->n_msgs < RUN_MAX);
			assert_true(rx[i].segment < rx[i].len || rx[i].segment == 0);
			out->msg_len[out->n_msgs] = rx[i].len;
			out->msg_segment[out->n_msgs++] = rx[i].segment;
			out->family = rx[i].addr.ss_family;
			while (udp_msg_next_segment(&rx[i], &off, &d, &len)) {
				assert_true(out->n < RUN_MAX);
				out->len[out->n] = len;
				out->seq[out->n++] = check_seq(d, len);
			}
		}
	}
}

/* Whether IPv6 loopback works here between a and b (to is b's ::1): one
 * datagram through, consumed. */
static bool v6_ok(struct udp_sock *a, struct udp_sock *b, const struct sockaddr_storage *to)
{
	struct seen got;

	if (b->family != AF_INET6 || udp_send(a, seq_buf[0], fill_seq(seq_buf[0], 9999, 8), to) < 0)
		return false;
	collect(b, 1, &got);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.seq[0], 9999);
	return true;
}

static void setup_tx(struct udp_msg *tx, unsigned i, uint32_t seq, size_t len,
		     const struct sockaddr_storage *to)
{
	memset(tx, 0, sizeof(*tx));
	tx->data = seq_buf[i];
	tx->cap = SLOT;
	tx->len = fill_seq(seq_buf[i], seq, len);
	tx->addr = *to;
}

static void open_gso(struct udp_sock *s)
{
	assert_int_equal(udp_open(s, 0), 0);
	assert_int_equal(s->offloads, 0); /* off until asked for */
	if (!(udp_enable_offload(s, UDP_OFFLOAD_GSO) & UDP_OFFLOAD_GSO)) {
		udp_close(s);
		skip(); /* kernel without UDP_SEGMENT (before 4.18) */
	}
	assert_int_equal(s->offloads, UDP_OFFLOAD_GSO);
}

static void open_gro(struct udp_sock *s)
{
	assert_int_equal(udp_open(s, 0), 0);
	if (!(udp_enable_offload(s, UDP_OFFLOAD_GRO) & UDP_OFFLOAD_GRO)) {
		udp_close(s);
		skip(); /* kernel without UDP_GRO (before 5.0) */
	}
	assert_int_equal(s->offloads, UDP_OFFLOAD_GRO);
}

/* 20 x 1400 + 1 x 300 to a receiver without GRO: one GSO message out, the
 * kernel cuts it, 21 datagrams in order come in. */
static void test_udp_send_batch_gso_run(void **state)
{
	struct udp_sock a, b;
	struct udp_msg tx[21];
	struct sockaddr_storage to;
	struct seen got;

	open_gso(&a);
	assert_int_equal(udp_open(&b, 0), 0);
	to = sa("127.0.0.1", udp_local_port(&b));
	for (unsigned i = 0; i < 21; i++)
		setup_tx(&tx[i], i, 1000 + i, i < 20 ? 1400 : 300, &to);
	assert_int_equal(udp_send_batch(&a, tx, 21), 21);
	collect(&b, 21, &got);
	assert_int_equal(got.n, 21);
	assert_int_equal(got.n_msgs, 21); /* no GRO: one datagram per message */
	for (unsigned i = 0; i < 21; i++) {
		assert_int_equal(got.seq[i], 1000 + i);
		assert_int_equal(got.len[i], i < 20 ? 1400 : 300);
		assert_int_equal(got.msg_segment[i], 0);
	}
	assert_int_equal(got.family, AF_INET);
	/* GSO stayed on: loopback takes it. */
	assert_int_equal(a.offloads, UDP_OFFLOAD_GSO);
	assert_int_equal(a.gso_fallbacks, 0);
	udp_close(&a);
	udp_close(&b);
}

/* One batch to two receivers with a length change in the middle:
 *   #  to  len    run
 *   0-3 B  1000   B1 (4)
 *   4-6 C  1000   C1 (3)
 *   7-10 B 1000 x3, 700   B2 (4, the last shorter ends it)
 *   11-12 B 1000  B3 (2)
 *   13 C 1000, 14 C 1200 (longer: own run), 15-16 C 1200  C2 (1) C3 (3)
 *   17 B 50, 18 B 60 (longer than 50: own run)  B4 (1) B5 (1)
 * Each receiver gets exactly its datagrams in order; with GRO on the
 * receivers, the messages are the runs (on loopback the kernel hands a GSO
 * message to a GRO socket whole), which shows where the batch was cut. */
static void test_udp_send_batch_gso_split(void **state)
{
	static const struct {
		char to;
		size_t len;
	} plan[] = {
	    {'B', 1000}, {'B', 1000}, {'B', 1000}, {'B', 1000}, {'C', 1000},
	    {'C', 1000}, {'C', 1000}, {'B', 1000}, {'B', 1000}, {'B', 1000},
	    {'B', 700},	 {'B', 1000}, {'B', 1000}, {'C', 1000}, {'C', 1200},
	    {'C', 1200}, {'C', 1200}, {'B', 50},   {'B', 60},
	};
	enum { N = sizeof(plan) / sizeof(plan[0]) };
	static const size_t b_msgs[][2] = {
	    {4000, 1000}, {3700, 1000}, {2000, 1000}, {50, 0}, {60, 0}};
	static const size_t c_msgs[][2] = {{3000, 1000}, {1000, 0}, {3600, 1200}};

	for (int gro = 0; gro < 2; gro++) {
		struct udp_sock a, b, c;
		struct udp_msg tx[N];
		struct sockaddr_storage to_b, to_c;
		struct seen got_b, got_c;
		unsigned nb = 0, nc = 0;

		open_gso(&a);
		if (gro) {
			open_gro(&b);
			open_gro(&c);
		} else {
			assert_int_equal(udp_open(&b, 0), 0);
			assert_int_equal(udp_open(&c, 0), 0);
		}
		to_b = sa("127.0.0.1", udp_local_port(&b));
		to_c = sa("127.0.0.1", udp_local_port(&c));
		for (unsigned i = 0; i < N; i++)
			setup_tx(&tx[i], i, i, plan[i].len, plan[i].to == 'B' ? &to_b : &to_c);
		assert_int_equal(udp_send_batch(&a, tx, N), N);
		collect(&b, 12, &got_b);
		collect(&c, 7, &got_c);
		assert_int_equal(got_b.n, 12);
		assert_int_equal(got_c.n, 7);
		for (unsigned i = 0; i < N; i++) {
			struct seen *g = plan[i].to == 'B' ? &got_b : &got_c;
			unsigned k = plan[i].to == 'B' ? nb++ : nc++;

			assert_int_equal(g->seq[k], i);
			assert_int_equal(g->len[k], plan[i].len);
		}
		if (!gro) {
			assert_int_equal(got_b.n_msgs, 12);
			assert_int_equal(got_c.n_msgs, 7);
		} else {
			assert_int_equal(got_b.n_msgs, 5);
			for (unsigned m = 0; m < 5; m++) {
				assert_int_equal(got_b.msg_len[m], b_msgs[m][0]);
				assert_int_equal(got_b.msg_segment[m], b_msgs[m][1]);
			}
			assert_int_equal(got_c.n_msgs, 3);
			for (unsigned m = 0; m < 3; m++) {
				assert_int_equal(got_c.msg_len[m], c_msgs[m][0]);
				assert_int_equal(got_c.msg_segment[m], c_msgs[m][1]);
			}
		}
		assert_int_equal(a.gso_fallbacks, 0);
		udp_close(&a);
		udp_close(&b);
		udp_close(&c);
	}
}

/* Runs longer than one GSO message may be: 100 x 1400 (two calls, 64 and
 * 36: the batch limit) arrive complete and in order; a GRO receiver shows
 * the byte cap cutting them: 46 x 1400 = 64400 <= 65489 < 47 x 1400. 64 x
 * 100 fill the segment cap exactly. Per family, ten datagrams just under
 * the byte cap go as one message (delivered whole: the kernel did not have
 * to cut it up in software) and ten just over as 9 + 1. */
static void test_udp_send_batch_gso_caps(void **state)
{
	struct udp_sock a, b;
	struct udp_msg tx[UDP_BATCH_MAX];
	struct sockaddr_storage to;
	struct seen got;

	open_gso(&a);
	open_gro(&b);
	to = sa("127.0.0.1", udp_local_port(&b));
	for (unsigned i = 0; i < UDP_BATCH_MAX; i++)
		setup_tx(&tx[i], i, i, 1400, &to);
	assert_int_equal(udp_send_batch(&a, tx, UDP_BATCH_MAX), UDP_BATCH_MAX);
	for (unsigned i = 0; i < 36; i++)
		setup_tx(&tx[i], i, 64 + i, 1400, &to);
	assert_int_equal(udp_send_batch(&a, tx, 36), 36);
	collect(&b, 100, &got);
	assert_int_equal(got.n, 100);
	for (unsigned i = 0; i < 100; i++) {
		assert_int_equal(got.seq[i], i);
		assert_int_equal(got.len[i], 1400);
	}
	/* 64 = 46 + 18, then 36 in one. */
	assert_int_equal(got.n_msgs, 3);
	assert_int_equal(got.msg_len[0], 46 * 1400);
	assert_int_equal(got.msg_len[1], 18 * 1400);
	assert_int_equal(got.msg_len[2], 36 * 1400);

	/* The segment cap: 64 small ones fit in one message. */
	for (unsigned i = 0; i < UDP_BATCH_MAX; i++)
		setup_tx(&tx[i], i, i, 100, &to);
	assert_int_equal(udp_send_batch(&a, tx, UDP_BATCH_MAX), UDP_BATCH_MAX);
	collect(&b, 64, &got);
	assert_int_equal(got.n, 64);
	assert_int_equal(got.n_msgs, 1);
	assert_int_equal(got.msg_len[0], 6400);
	assert_int_equal(got.msg_segment[0], 100);

	/* The byte cap, per family: {size fitting 10 times, size that does not}. */
	for (int v6 = 0; v6 < 2; v6++) {
		const size_t sizes[2][2] = {{6548, 6549}, {6546, 6547}};

		to = sa(v6 ? "::1" : "127.0.0.1", udp_local_port(&b));
		if (v6 && !v6_ok(&a, &b, &to))
			break; /* no IPv6 loopback here */
		for (int over = 0; over < 2; over++) {
			size_t len = sizes[v6][over];

			assert_true((10 * len > (v6 ? UDP_GSO_BYTES_MAX_V6
						    : UDP_GSO_BYTES_MAX_V4)) == (over == 1));
			for (unsigned i = 0; i < 10; i++) {
				memset(&tx[i], 0, sizeof(tx[i]));
				tx[i].data = big + i * len;
				tx[i].len = fill_seq(tx[i].data, 500 + i, len);
				tx[i].addr = to;
			}
			assert_int_equal(udp_send_batch(&a, tx, 10), 10);
			collect(&b, 10, &got);
			assert_int_equal(got.n, 10);
			for (unsigned i = 0; i < 10; i++)
				assert_int_equal(got.seq[i], 500 + i);
			assert_int_equal(got.family, v6 ? AF_INET6 : AF_INET);
			if (!over) {
				assert_int_equal(got.n_msgs, 1);
				assert_int_equal(got.msg_len[0], 10 * len);
				assert_int_equal(got.msg_segment[0], len);
			} else {
				assert_int_equal(got.n_msgs, 2);
				assert_int_equal(got.msg_len[0], 9 * len);
				assert_int_equal(got.msg_segment[0], len);
				assert_int_equal(got.msg_len[1], len);
				assert_int_equal(got.msg_segment[1], 0);
			}
		}
	}
	assert_int_equal(a.gso_fallbacks, 0);
	udp_close(&a);
	udp_close(&b);
}

/* A real refusal: with UDP checksums off on the sending socket (SO_NO_CHECK
 * for IPv4, UDP_NO_CHECK6_TX for IPv6) the kernel fails every GSO message
 * with EINVAL (net/ipv4/udp.c udp_send_skb, net/ipv6/udp.c udp_v6_send_skb),
 * as it fails them with EIO on a route without checksum offload. GSO goes
 * off once, counted, and every datagram still arrives, in order, as plain
 * datagrams (segment 0 at a GRO receiver). */
static void test_udp_send_batch_gso_fallback(void **state)
{
	for (int v6 = 0; v6 < 2; v6++) {
		struct udp_sock a, b;
		struct udp_msg tx[30];
		struct sockaddr_storage to;
		struct seen got;
		int one = 1;

		open_gso(&a);
		open_gro(&b);
		to = sa(v6 ? "::1" : "127.0.0.1", udp_local_port(&b));
		if (v6 && !v6_ok(&a, &b, &to)) {
			udp_close(&a);
			udp_close(&b);
			break; /* no IPv6 loopback here */
		}
		if (v6) {
			/* IPv6 requires the checksum: the receiver must allow
			 * its absence (RFC 6936). */
			assert_int_equal(
			    setsockopt(a.fd, SOL_UDP, UDP_NO_CHECK6_TX, &one, sizeof(one)), 0);
			assert_int_equal(
			    setsockopt(b.fd, SOL_UDP, UDP_NO_CHECK6_RX, &one, sizeof(one)), 0);
		} else {
			assert_int_equal(
			    setsockopt(a.fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one)), 0);
		}
		/* A single first (no GSO, goes), then a run of 20 x 1200 and
		 * a shorter last one (refused as GSO, resent one by one), then
		 * a run of 8, sent plain since GSO is off by then. */
		setup_tx(&tx[0], 0, 0, 500, &to);
		for (unsigned i = 1; i < 21; i++)
			setup_tx(&tx[i], i, i, 1200, &to);
		for (unsigned i = 21; i < 30; i++)
			setup_tx(&tx[i], i, i, 800, &to);
		assert_int_equal(udp_send_batch(&a, tx, 30), 30);
		assert_int_equal(a.gso_fallbacks, 1);
		assert_int_equal(a.offloads & UDP_OFFLOAD_GSO, 0);
		collect(&b, 30, &got);
		assert_int_equal(got.n, 30);
		assert_int_equal(got.n_msgs, 30);
		for (unsigned i = 0; i < 30; i++) {
			assert_int_equal(got.seq[i], i);
			assert_int_equal(got.msg_segment[i], 0);
		}
		/* Off stays off: the next batch goes plain, no second count. */
		assert_int_equal(udp_send_batch(&a, tx + 1, 20), 20);
		assert_int_equal(a.gso_fallbacks, 1);
		collect(&b, 20, &got);
		assert_int_equal(got.n, 20);
		assert_int_equal(got.n_msgs, 20);
		udp_close(&a);
		udp_close(&b);
	}
}

/* In a network namespace of its own (needs CAP_SYS_ADMIN: skipped
 * without), loopback with an MTU of 1280: a run of 5 x 1400 + 1000 has
 * segments over the route's MTU, the kernel refuses it (EMSGSIZE; EINVAL
 * on older kernels), and that run is resent one datagram each, which the
 * kernel fragments as it would without GSO; the run of 4 x 1000 after it
 * still goes as one GSO message. The child reports through its exit code
 * (cmocka's asserts cannot leave a forked child). */
static int mtu_child(bool v6)
{
	static struct udp_msg rx[UDP_BATCH_MAX];
	struct udp_sock a, b;
	struct udp_msg tx[10];
	struct sockaddr_storage to;
	struct ifreq ifr;
	unsigned n = 0, msgs = 0;
	uint64_t deadline;
	int c;

	if (unshare(CLONE_NEWNET) < 0)
		return 77;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	c = socket(AF_INET, SOCK_DGRAM, 0);
	ifr.ifr_mtu = 1280;
	if (c < 0 || ioctl(c, SIOCSIFMTU, &ifr) < 0 || ioctl(c, SIOCGIFFLAGS, &ifr) < 0)
		return 10;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(c, SIOCSIFFLAGS, &ifr) < 0)
		return 11;
	close(c);
	if (udp_open(&a, 0) < 0 || udp_open(&b, 0) < 0)
		return 12;
	if (udp_enable_offload(&a, UDP_OFFLOAD_GSO) != UDP_OFFLOAD_GSO ||
	    udp_enable_offload(&b, UDP_OFFLOAD_GRO) != UDP_OFFLOAD_GRO)
		return 77;
	if (v6 && b.family != AF_INET6)
		return 77;
	to = sa(v6 ? "::1" : "127.0.0.1", udp_local_port(&b));
	for (unsigned i = 0; i < 10; i++)
		setup_tx(&tx[i], i, i, i < 5 ? 1400 : 1000, &to);
	if (udp_send_batch(&a, tx, 10) != 10)
		return 13;
	deadline = now_ms() + WAIT_MS;
	while (n < 10 && now_ms() < deadline) {
		struct pollfd p = {.fd = b.fd, .events = POLLIN};
		int r;

		poll(&p, 1, 100);
		for (unsigned i = 0; i < UDP_BATCH_MAX; i++)
			rx[i] = (struct udp_msg){.data = gro_buf[i], .cap = BIG_SLOT};
		r = udp_recv_batch(&b, rx, UDP_BATCH_MAX);
		for (int i = 0; i < r; i++) {
			size_t off = 0, len;
			uint8_t *d;

			msgs++;
			while (udp_msg_next_segment(&rx[i], &off, &d, &len)) {
				const uint8_t *q = d;
				uint32_t seq = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 |
					       (uint32_t)q[2] << 8 | q[3];

				if (seq != n || len != (n < 5 ? 1400u : 1000u) ||
				    q[len - 1] != (uint8_t)(seq * 13 + len - 1))
					return 14;
				n++;
			}
		}
	}
	if (n != 10)
		return 15;
	/* Kept on (EMSGSIZE: 6 + 1 messages) or, on older kernels, turned
	 * off (EINVAL: 10 messages, counted). */
	if (a.gso_fallbacks == 0 && a.offloads == UDP_OFFLOAD_GSO && msgs == 7)
		return 0;
	if (a.gso_fallbacks == 1 && a.offloads == 0 && msgs == 10)
		return 0;
	return 16;
}

static void test_udp_send_batch_gso_over_mtu(void **state)
{
	for (int v6 = 0; v6 < 2; v6++) {
		int status;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(mtu_child(v6));
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		if (WEXITSTATUS(status) == 77)
			skip(); /* no namespace (unprivileged) or no offloads */
		assert_int_equal(WEXITSTATUS(status), 0);
	}
}

/* GRO: 10 x 1200 from a GSO sender arrive as one message of segment 1200,
 * walked in order; a plain sender's datagrams say segment 0; over IPv4
 * (the dual-stack socket's v4-mapped sender comes out AF_INET) and IPv6. */
static void test_udp_recv_batch_gro(void **state)
{
	for (int v6 = 0; v6 < 2; v6++) {
		struct udp_sock a, p, b;
		struct udp_msg tx[10];
		struct sockaddr_storage to;
		struct seen got;
		bool seg1200 = false;

		open_gso(&a);
		assert_int_equal(udp_open(&p, 0), 0);
		open_gro(&b);
		to = sa(v6 ? "::1" : "127.0.0.1", udp_local_port(&b));
		if (v6 && !v6_ok(&p, &b, &to)) {
			udp_close(&a);
			udp_close(&p);
			udp_close(&b);
			break; /* no IPv6 loopback here */
		}
		for (unsigned i = 0; i < 10; i++)
			setup_tx(&tx[i], i, 100 + i, 1200, &to);
		assert_int_equal(udp_send_batch(&a, tx, 10), 10);
		collect(&b, 10, &got);
		assert_int_equal(got.n, 10);
		for (unsigned i = 0; i < 10; i++) {
			assert_int_equal(got.seq[i], 100 + i);
			assert_int_equal(got.len[i], 1200);
		}
		for (unsigned m = 0; m < got.n_msgs; m++)
			seg1200 |= got.msg_segment[m] == 1200;
		assert_true(seg1200);
		assert_int_equal(got.family, v6 ? AF_INET6 : AF_INET);

		/* The plain sender: same sizes, one message each, segment 0. */
		assert_int_equal(udp_send_batch(&p, tx, 10), 10);
		collect(&b, 10, &got);
		assert_int_equal(got.n, 10);
		assert_int_equal(got.n_msgs, 10);
		for (unsigned i = 0; i < 10; i++) {
			assert_int_equal(got.seq[i], 100 + i);
			assert_int_equal(got.msg_len[i], 1200);
			assert_int_equal(got.msg_segment[i], 0);
		}
		assert_int_equal(got.family, v6 ? AF_INET6 : AF_INET);
		udp_close(&a);
		udp_close(&p);
		udp_close(&b);
	}
}

/* A GRO receiver with slots too small for a coalesced message: the kernel
 * truncates it (MSG_TRUNC) and it is dropped whole, while a datagram that
 * fits, queued behind it, still comes through (compacted into slot 0). */
static void test_udp_recv_batch_gro_truncated(void **state)
{
	struct udp_sock a, b;
	struct udp_msg tx[10], rx[UDP_BATCH_MAX];
	struct sockaddr_storage to;
	struct pollfd p;
	int got;

	open_gso(&a);
	open_gro(&b);
	to = sa("127.0.0.1", udp_local_port(&b));
	for (unsigned i = 0; i < 10; i++)
		setup_tx(&tx[i], i, i, 1200, &to);
	assert_int_equal(udp_send_batch(&a, tx, 10), 10);
	assert_int_equal(udp_send(&a, seq_buf[0], fill_seq(seq_buf[0], 77, 1200), &to), 0);
	p = (struct pollfd){.fd = b.fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	setup_rx(rx, UDP_BATCH_MAX, SLOT);
	got = udp_recv_batch(&b, rx, UDP_BATCH_MAX);
	if (got == 0) { /* the single one was not queued yet */
		assert_int_equal(poll(&p, 1, WAIT_MS), 1);
		setup_rx(rx, UDP_BATCH_MAX, SLOT);
		got = udp_recv_batch(&b, rx, UDP_BATCH_MAX);
	}
	assert_int_equal(got, 1);
	assert_int_equal(rx[0].len, 1200);
	assert_int_equal(rx[0].segment, 0);
	assert_int_equal(check_seq(rx[0].data, rx[0].len), 77);
	setup_rx(rx, UDP_BATCH_MAX, SLOT);
	assert_int_equal(udp_recv_batch(&b, rx, UDP_BATCH_MAX), 0);
	udp_close(&a);
	udp_close(&b);
}

/* The start-up self-probe passes what this kernel does right (loopback
 * here is sound: what udp_enable_offload accepts) and only what was asked
 * for; in a namespace whose loopback is down it says it could not try
 * (-ENETDOWN) rather than failing the offloads. */
static void test_udp_offload_selftest(void **state)
{
	struct udp_sock s;
	int have, status;
	pid_t pid;

	assert_int_equal(udp_open(&s, 0), 0);
	have = udp_enable_offload(&s, UDP_OFFLOAD_GSO | UDP_OFFLOAD_GRO);
	udp_close(&s);
	assert_int_equal(udp_offload_selftest(UDP_OFFLOAD_GSO | UDP_OFFLOAD_GRO, 1000), have);
	assert_int_equal(udp_offload_selftest(UDP_OFFLOAD_GSO, 1000), have & UDP_OFFLOAD_GSO);
	assert_int_equal(udp_offload_selftest(UDP_OFFLOAD_GRO, 1000), have & UDP_OFFLOAD_GRO);
	assert_int_equal(udp_offload_selftest(0, 1000), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			_exit(77);
		_exit(udp_offload_selftest(UDP_OFFLOAD_GSO | UDP_OFFLOAD_GRO, 100) == -ENETDOWN
			  ? 0
			  : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip(); /* no namespace (unprivileged) */
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The iterator on its own, edge by edge. */
static void test_udp_msg_next_segment(void **state)
{
	static const struct {
		size_t len;
		uint16_t segment;
		unsigned n;
		size_t sizes[4];
	} cases[] = {
	    /* 1 */ {100, 40, 3, {40, 40, 20}},
	    /* 2 */ {120, 40, 3, {40, 40, 40}},
	    /* 3 */ {100, 0, 1, {100}},
	    /* 4 */ {0, 0, 1, {0}}, /* an empty datagram is still one */
	    /* 5 */ {41, 40, 2, {40, 1}},
	    /* 6 */ {40, 40, 1, {40}}, /* segment == len: one */
	    /* 7 */ {30, 40, 1, {30}}, /* segment > len: one */
	};
	static uint8_t buf[200];

	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct udp_msg m = {.data = buf, .len = cases[c].len, .segment = cases[c].segment};
		size_t off = 0, len, at = 0;
		uint8_t *d;
		unsigned k = 0;

		while (udp_msg_next_segment(&m, &off, &d, &len)) {
			assert_true(k < cases[c].n);
			assert_ptr_equal(d, buf + at);
			assert_int_equal(len, cases[c].sizes[k]);
			at += len;
			k++;
		}
		assert_int_equal(k, cases[c].n);
		/* Once at the end, it stays there. */
		assert_false(udp_msg_next_segment(&m, &off, &d, &len));
	}
}

/* udp_enable_offload turns off what is not asked for; socket buffers are
 * several MiB (8 MiB forced when privileged). */
static void test_udp_enable_offload_and_buffers(void **state)
{
	struct udp_sock s;
	int v = 0;
	socklen_t l = sizeof(v);

	assert_int_equal(udp_open(&s, 0), 0);
	assert_int_equal(s.offloads, 0);
	assert_int_equal(s.gso_fallbacks, 0);
	v = udp_enable_offload(&s, UDP_OFFLOAD_GSO | UDP_OFFLOAD_GRO);
	assert_int_equal((unsigned)v, s.offloads);
	assert_int_equal(udp_enable_offload(&s, UDP_OFFLOAD_GRO), v & UDP_OFFLOAD_GRO);
	assert_int_equal(udp_enable_offload(&s, 0), 0);
	l = sizeof(v);
	assert_int_equal(getsockopt(s.fd, SOL_UDP, UDP_GRO, &v, &l), 0);
	assert_int_equal(v, 0);
	/* The kernel reports twice what was set (bookkeeping overhead). */
	l = sizeof(v);
	assert_int_equal(getsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &v, &l), 0);
	if (geteuid() == 0)
		assert_true(v >= 2 * (8 << 20));
	l = sizeof(v);
	assert_int_equal(getsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &v, &l), 0);
	if (geteuid() == 0)
		assert_true(v >= 2 * (8 << 20));
	udp_close(&s);
}

/* ---- Local addresses: udp_open_addr, pktinfo ------------------------------ */

/* Same IP as ip (AF_INET or AF_INET6 text), and port when port != 0. */
static void assert_addr(const struct sockaddr_storage *a, const char *ip, uint16_t port)
{
	struct sockaddr_storage want = sa(ip, port);

	assert_int_equal(a->ss_family, want.ss_family);
	if (a->ss_family == AF_INET)
		assert_memory_equal(&((const struct sockaddr_in *)a)->sin_addr,
				    &((struct sockaddr_in *)&want)->sin_addr, 4);
	else
		assert_memory_equal(&((const struct sockaddr_in6 *)a)->sin6_addr,
				    &((struct sockaddr_in6 *)&want)->sin6_addr, 16);
	if (port)
		assert_int_equal(ntohs(((const struct sockaddr_in *)a)->sin_port), port);
}

/* The first datagram rx gets (waiting up to WAIT_MS). */
static void recv_one(struct udp_sock *s, struct udp_msg *rx, size_t cap)
{
	assert_int_equal(recv_all(s, rx, 1, cap), 1);
}

/* A wildcard of family with UDP_OPEN_PKTINFO: datagrams to 127.0.0.1 and
 * 127.0.0.2 (both loopback on Linux) report each as local, unmapped on
 * [::]; answers from either address leave from it, one by one
 * (udp_send_from) and in a batch (udp_send_batch). */
static void pktinfo_v4(int family)
{
	struct udp_sock w, c;
	struct udp_msg rx[UDP_BATCH_MAX], tx[2];
	struct sockaddr_storage any, to1, to2, from;
	uint8_t buf[64];
	uint16_t port;

	memset(&any, 0, sizeof(any));
	any.ss_family = (sa_family_t)family;
	if (udp_open_addr(&w, &any, UDP_OPEN_PKTINFO) == -EAFNOSUPPORT && family == AF_INET6)
		skip(); /* no IPv6 here */
	assert_int_equal(w.fd >= 0, 1);
	assert_int_equal(w.family, family);
	assert_int_equal(w.local_mode, UDP_LOCAL_PKTINFO);
	port = udp_local_port(&w);
	assert_int_not_equal(port, 0);
	assert_int_equal(udp_open(&c, 0), 0);
	to1 = sa("127.0.0.1", port);
	to2 = sa("127.0.0.2", port);
	assert_int_equal(udp_send(&c, buf, fill(buf, 1, 20), &to1), 0);
	assert_int_equal(udp_send(&c, buf, fill(buf, 2, 30), &to2), 0);
	assert_int_equal(recv_all(&w, rx, 2, SLOT), 2);
	for (unsigned i = 0; i < 2; i++) {
		bool first = rx[i].data[0] == 1;

		check(&rx[i], first ? 1 : 2, first ? 20 : 30);
		assert_addr(&rx[i].local, first ? "127.0.0.1" : "127.0.0.2", port);
		assert_addr(&rx[i].addr, "127.0.0.1", udp_local_port(&c));
	}
	from = rx[0].addr;

	/* One answer from 127.0.0.2, one from 127.0.0.1. */
	assert_int_equal(udp_send_from(&w, buf, fill(buf, 3, 40), &from, &to2), 0);
	recv_one(&c, rx, SLOT);
	check(&rx[0], 3, 40);
	assert_addr(&rx[0].addr, "127.0.0.2", port);
	assert_int_equal(udp_send_from(&w, buf, fill(buf, 4, 40), &from, &to1), 0);
	recv_one(&c, rx, SLOT);
	check(&rx[0], 4, 40);
	assert_addr(&rx[0].addr, "127.0.0.1", port);

	/* A batch: each datagram from its own local. */
	memset(tx, 0, sizeof(tx));
	for (unsigned i = 0; i < 2; i++) {
		tx[i].data = tx_buf[i];
		tx[i].len = fill(tx_buf[i], 5 + i, 50);
		tx[i].addr = from;
		tx[i].local = i ? to1 : to2;
	}
	assert_int_equal(udp_send_batch(&w, tx, 2), 2);
	assert_int_equal(recv_all(&c, rx, 2, SLOT), 2);
	for (unsigned i = 0; i < 2; i++) {
		check(&rx[i], rx[i].data[0], 50);
		assert_addr(&rx[i].addr, rx[i].data[0] == 5 ? "127.0.0.2" : "127.0.0.1", port);
	}
	/* The daemon's socket reports no local address. */
	assert_int_equal(rx[0].local.ss_family, AF_UNSPEC);
	udp_close(&w);
	udp_close(&c);
}

static void test_udp_open_addr_pktinfo_v4(void **state)
{
	pktinfo_v4(AF_INET);
}

static void test_udp_open_addr_pktinfo_dual_stack(void **state)
{
	pktinfo_v4(AF_INET6);
}

/* [::] with UDP_OPEN_PKTINFO: a datagram to ::1 reports ::1 as local, an
 * answer from ::1 arrives from ::1. */
static void test_udp_open_addr_pktinfo_v6(void **state)
{
	struct udp_sock w, c;
	struct udp_msg rx[UDP_BATCH_MAX];
	struct sockaddr_storage any = sa("::", 0), to;
	uint8_t buf[64];
	uint16_t port;

	if (udp_open_addr(&w, &any, UDP_OPEN_PKTINFO) < 0)
		skip(); /* no IPv6 here */
	port = udp_local_port(&w);
	assert_int_equal(udp_open(&c, 0), 0);
	to = sa("::1", port);
	if (c.family != AF_INET6 || udp_send(&c, buf, fill(buf, 7, 33), &to) < 0) {
		udp_close(&w);
		udp_close(&c);
		skip(); /* no IPv6 loopback here */
	}
	recv_one(&w, rx, SLOT);
	check(&rx[0], 7, 33);
	assert_addr(&rx[0].local, "::1", port);
	assert_addr(&rx[0].addr, "::1", udp_local_port(&c));
	to = rx[0].addr;
	assert_int_equal(udp_send_from(&w, buf, fill(buf, 8, 34), &to, &rx[0].local), 0);
	recv_one(&c, rx, SLOT);
	check(&rx[0], 8, 34);
	assert_addr(&rx[0].addr, "::1", port);
	udp_close(&w);
	udp_close(&c);
}

/* A specific address reports itself as every datagram's local (the flag
 * asks for nothing there), sends leave from it whatever local says, and
 * the port is taken without SO_REUSEADDR. */
static void test_udp_open_addr_specific(void **state)
{
	struct udp_sock w, c, again;
	struct udp_msg rx[UDP_BATCH_MAX];
	struct sockaddr_storage at = sa("127.0.0.2", 0), to, other = sa("127.0.0.1", 0);
	uint8_t buf[64];
	uint16_t port;

	assert_int_equal(udp_open_addr(&w, &at, UDP_OPEN_PKTINFO), 0);
	assert_int_equal(w.local_mode, UDP_LOCAL_BOUND);
	port = udp_local_port(&w);
	assert_addr(&w.bound, "127.0.0.2", port);
	assert_int_equal(udp_open(&c, 0), 0);
	to = sa("127.0.0.2", port);
	assert_int_equal(udp_send(&c, buf, fill(buf, 1, 21), &to), 0);
	recv_one(&w, rx, SLOT);
	check(&rx[0], 1, 21);
	assert_addr(&rx[0].local, "127.0.0.2", port);
	to = rx[0].addr;
	assert_int_equal(udp_send_from(&w, buf, fill(buf, 2, 22), &to, &other), 0);
	recv_one(&c, rx, SLOT);
	check(&rx[0], 2, 22);
	assert_addr(&rx[0].addr, "127.0.0.2", port);

	at = sa("127.0.0.2", port);
	assert_int_equal(udp_open_addr(&again, &at, 0), -EADDRINUSE);
	assert_int_equal(again.fd, -1);
	udp_close(&again);
	memset(&at, 0, sizeof(at));
	at.ss_family = AF_UNIX;
	assert_int_equal(udp_open_addr(&again, &at, 0), -EAFNOSUPPORT);
	assert_int_equal(udp_send_from(&w, buf, 1, &at, NULL), -EAFNOSUPPORT);
	udp_close(&w);
	udp_close(&c);
}

/* On a pktinfo socket a datagram larger than its slot is still dropped
 * whole, and the ones compacted around it keep their own local address. */
static void test_udp_open_addr_pktinfo_truncated(void **state)
{
	static const size_t lens[] = {50, 201, 60, 200};
	static const char *const dst[] = {"127.0.0.2", "127.0.0.1", "127.0.0.1", "127.0.0.2"};
	struct udp_sock w, c;
	struct udp_msg rx[UDP_BATCH_MAX];
	struct sockaddr_storage any = sa("0.0.0.0", 0), to;
	uint8_t buf[300];
	uint16_t port;
	int got;

	assert_int_equal(udp_open_addr(&w, &any, UDP_OPEN_PKTINFO), 0);
	port = udp_local_port(&w);
	assert_int_equal(udp_open(&c, 0), 0);
	for (unsigned i = 0; i < 4; i++) {
		to = sa(dst[i], port);
		assert_int_equal(udp_send(&c, buf, fill(buf, i, lens[i]), &to), 0);
	}
	/* All queued before one recvmmsg (loopback delivers at once). */
	{
		struct pollfd p = {.fd = w.fd, .events = POLLIN};

		assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	}
	setup_rx(rx, UDP_BATCH_MAX, 200);
	got = udp_recv_batch(&w, rx, UDP_BATCH_MAX);
	assert_int_equal(got, 3);
	check(&rx[0], 0, 50);
	assert_addr(&rx[0].local, "127.0.0.2", port);
	check(&rx[1], 2, 60);
	assert_addr(&rx[1].local, "127.0.0.1", port);
	check(&rx[2], 3, 200);
	assert_addr(&rx[2].local, "127.0.0.2", port);
	udp_close(&w);
	udp_close(&c);
}

/* GSO on a pktinfo socket: equal datagrams to one peer but from two
 * sources are never one run; each arrives from its own source. */
static void test_udp_open_addr_pktinfo_gso_sources(void **state)
{
	static const char *const src[] = {"127.0.0.1", "127.0.0.1", "127.0.0.2",
					  "127.0.0.2", "127.0.0.1", "127.0.0.1"};
	struct udp_sock w, c;
	struct udp_msg rx[UDP_BATCH_MAX], tx[6];
	struct sockaddr_storage any = sa("0.0.0.0", 0);
	uint16_t port;

	assert_int_equal(udp_open_addr(&w, &any, UDP_OPEN_PKTINFO), 0);
	port = udp_local_port(&w);
	(void)udp_enable_offload(&w, UDP_OFFLOAD_GSO);
	assert_int_equal(udp_open(&c, 0), 0);
	memset(tx, 0, sizeof(tx));
	for (unsigned i = 0; i < 6; i++) {
		tx[i].data = tx_buf[i];
		tx[i].len = fill(tx_buf[i], i, 300);
		tx[i].addr = sa("127.0.0.1", udp_local_port(&c));
		tx[i].local = sa(src[i], 0);
	}
	assert_int_equal(udp_send_batch(&w, tx, 6), 6);
	assert_int_equal(recv_all(&c, rx, 6, SLOT), 6);
	for (unsigned i = 0; i < 6; i++) {
		unsigned k = rx[i].data[0];

		assert_true(k < 6);
		check(&rx[i], k, 300);
		assert_addr(&rx[i].addr, src[k], port);
	}
	assert_int_equal(w.gso_fallbacks, 0);
	udp_close(&w);
	udp_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_udp_batch_loopback_40),
	    cmocka_unit_test(test_udp_send_batch_limit_and_refused),
	    cmocka_unit_test(test_udp_recv_batch_drops_oversize),
	    cmocka_unit_test(test_udp_open_port_in_use),
	    cmocka_unit_test(test_udp_ipv6_peer),
	    cmocka_unit_test(test_udp_send_batch_gso_run),
	    cmocka_unit_test(test_udp_send_batch_gso_split),
	    cmocka_unit_test(test_udp_send_batch_gso_caps),
	    cmocka_unit_test(test_udp_send_batch_gso_fallback),
	    cmocka_unit_test(test_udp_send_batch_gso_over_mtu),
	    cmocka_unit_test(test_udp_recv_batch_gro),
	    cmocka_unit_test(test_udp_recv_batch_gro_truncated),
	    cmocka_unit_test(test_udp_offload_selftest),
	    cmocka_unit_test(test_udp_msg_next_segment),
	    cmocka_unit_test(test_udp_enable_offload_and_buffers),
	    cmocka_unit_test(test_udp_open_addr_pktinfo_v4),
	    cmocka_unit_test(test_udp_open_addr_pktinfo_dual_stack),
	    cmocka_unit_test(test_udp_open_addr_pktinfo_v6),
	    cmocka_unit_test(test_udp_open_addr_specific),
	    cmocka_unit_test(test_udp_open_addr_pktinfo_truncated),
	    cmocka_unit_test(test_udp_open_addr_pktinfo_gso_sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
