/* The daemon's TCP streams (daemon/tcpmux.c) against real loopback clients
 * from several 127/8 sources, SECURITY-NOTES section 6 item 27: accepted
 * streams nobody owns are at most 4 per source IP and 16 in all; eviction
 * takes an unowned stream (one without a complete frame first, then the
 * oldest), never an owned one, and makes room for our own connect when
 * the table is full; an unowned stream goes after TCPMUX_ADOPT_MS; length
 * prefixes 0 (closed) and 1 (a datagram, dropped); a peer that does not
 * read: unowned, closed when its ring is full; owned, datagrams dropped
 * and closed once the ring has not drained for 2 s.
 *
 * The daemon here is a zeroed struct with an epoll fd, the listener and an
 * rx buffer: nothing else is needed by tcpmux for these paths (owners are
 * rendezvous-like peers, so no path engine is involved). */
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
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/tcpmux.h"
#include "transport/tcp.h"
#include "util/time.h"

enum { UNAUTH_PER_IP = 4, UNAUTH_MAX = 16, ADOPT_MS = 10 * 1000 };

struct env {
	struct daemon *d;
	uint16_t port;
	struct peer owner;
	uint8_t rx[65536 + 256];
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_non_null(e);
	e->d = calloc(1, sizeof(*e->d));
	assert_non_null(e->d);
	snprintf(e->d->cfg.ifname, sizeof(e->d->cfg.ifname), "p2ptest");
	e->d->epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(e->d->epfd >= 0);
	e->d->rx[0].data = e->rx;
	assert_int_equal(tcpmux_start(e->d), 0);
	assert_int_equal(getsockname(e->d->tcp_listen_fd, (struct sockaddr *)&ss, &len), 0);
	e->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	e->owner.is_rendezvous = true;
	snprintf(e->owner.name, sizeof(e->owner.name), "owner");
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	tcpmux_stop(e->d);
	close(e->d->epfd);
	free(e->d);
	free(e);
	return 0;
}

/* A connected client from ip; the kernel completes it before any accept. */
static int client(struct env *e, const char *ip, int rcvbuf)
{
	struct sockaddr_in me = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (rcvbuf)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	assert_int_equal(inet_pton(AF_INET, ip, &me.sin_addr), 1);
	assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &to.sin_addr), 1);
	to.sin_port = htons(e->port);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	return fd;
}

static void accept_all(struct env *e)
{
	struct pollfd p = {.fd = e->d->tcp_listen_fd, .events = POLLIN};

	while (poll(&p, 1, 50) == 1)
		tcpmux_accept(e->d);
}

static bool closed(int fd)
{
	uint8_t b[4096];

	for (;;) {
		ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);

		if (n == 0)
			return true;
		if (n < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK;
	}
}

static unsigned count(struct env *e, bool owned)
{
	unsigned n = 0;

	for (unsigned i = 0; i < TCP_SLOTS_MAX; i++)
		if (e->d->tcp[i].conn && (e->d->tcp[i].owner != NULL) == owned)
			n++;
	return n;
}

/* The slot of the stream accepted from the client whose local port is that
 * of fd. */
static int slot_of_client(struct env *e, int fd)
{
	struct sockaddr_in me;
	socklen_t len = sizeof(me);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &len), 0);
	for (unsigned i = 0; i < TCP_SLOTS_MAX; i++) {
		struct tcp_conn *c = e->d->tcp[i].conn;

		if (c && c->peer.ss_family == AF_INET &&
		    ((struct sockaddr_in *)&c->peer)->sin_port == me.sin_port &&
		    ((struct sockaddr_in *)&c->peer)->sin_addr.s_addr == me.sin_addr.s_addr)
			return (int)i;
	}
	return -1;
}

static void ip_of(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "127.0.%u.%u", 1 + i / 200, 1 + i % 200);
}

static void test_tcpmux_per_ip_cap(void **state)
{
	struct env *e = *state;
	int fd[6], other;

	for (int i = 0; i < 6; i++)
		fd[i] = client(e, "127.0.0.2", 0);
	accept_all(e);
	assert_int_equal(count(e, false), UNAUTH_PER_IP);
	assert_int_equal(e->d->tcp_refused_ip, 2);
	assert_true(closed(fd[4]) && closed(fd[5]));
	assert_false(closed(fd[0]));
	/* An owned stream does not count against its IP. */
	tcpmux_adopt(e->d, e->d->tcp[slot_of_client(e, fd[0])].conn, &e->owner);
	fd[4] = client(e, "127.0.0.2", 0);
	accept_all(e);
	assert_int_equal(count(e, false), UNAUTH_PER_IP);
	assert_int_equal(count(e, true), 1);
	assert_false(closed(fd[4]));
	other = client(e, "127.0.0.3", 0);
	accept_all(e);
	assert_int_equal(count(e, false), UNAUTH_PER_IP + 1);
	assert_int_equal(e->d->tcp_evicted, 0);
	for (int i = 0; i < 6; i++)
		close(fd[i]);
	close(other);
}

static void test_tcpmux_eviction_spares_owned(void **state)
{
	struct env *e = *state;
	uint8_t junk[3] = {0, 1, 0xFF}; /* a complete 1-byte datagram */
	int owned, busy, fd[UNAUTH_MAX + 4], s;
	char ip[32];

	owned = client(e, "127.0.0.2", 0);
	accept_all(e);
	tcpmux_adopt(e->d, e->d->tcp[slot_of_client(e, owned)].conn, &e->owner);
	/* The oldest unowned stream, with a complete frame on it. */
	busy = client(e, "127.0.0.3", 0);
	accept_all(e);
	assert_int_equal(send(busy, junk, sizeof(junk), 0), 3);
	s = slot_of_client(e, busy);
	assert_true(poll(&(struct pollfd){.fd = e->d->tcp[s].conn->fd, .events = POLLIN}, 1, 1000));
	tcpmux_event(e->d, (unsigned)s, EPOLLIN);
	assert_int_equal(e->d->tcp[s].conn->rx_frames, 1);
	assert_true(e->d->drops[DROP_MALFORMED] >= 1);
	for (unsigned i = 0; i < UNAUTH_MAX + 4; i++) {
		ip_of(ip, sizeof(ip), i);
		fd[i] = client(e, ip, 0);
		accept_all(e);
	}
	/* 16 unowned at most; the bare ones went, oldest first. */
	assert_int_equal(count(e, false), UNAUTH_MAX);
	assert_int_equal(e->d->tcp_evicted, 5);
	assert_false(closed(busy));
	assert_false(closed(owned));
	for (unsigned i = 0; i < 5; i++)
		assert_true(closed(fd[i]));
	for (unsigned i = 5; i < UNAUTH_MAX + 4; i++)
		assert_false(closed(fd[i]));
	for (unsigned i = 0; i < UNAUTH_MAX + 4; i++)
		close(fd[i]);
	close(busy);
	close(owned);
}

static void test_tcpmux_full_table_connect_evicts(void **state)
{
	struct env *e = *state;
	int fd[TCP_SLOTS_MAX + 1];
	struct sockaddr_storage to;
	char ip[32];
	unsigned n = 0;

	/* 48 owned streams, then 16 unowned: the table is full. */
	for (; n < TCP_SLOTS_MAX - UNAUTH_MAX; n++) {
		ip_of(ip, sizeof(ip), n);
		fd[n] = client(e, ip, 0);
		accept_all(e);
		tcpmux_adopt(e->d, e->d->tcp[slot_of_client(e, fd[n])].conn, &e->owner);
	}
	for (; n < TCP_SLOTS_MAX; n++) {
		ip_of(ip, sizeof(ip), n);
		fd[n] = client(e, ip, 0);
		accept_all(e);
	}
	assert_int_equal(count(e, true), TCP_SLOTS_MAX - UNAUTH_MAX);
	assert_int_equal(count(e, false), UNAUTH_MAX);
	/* One more from a new IP: an unowned one makes room. */
	ip_of(ip, sizeof(ip), n);
	fd[n] = client(e, ip, 0);
	accept_all(e);
	assert_int_equal(e->d->tcp_evicted, 1);
	assert_true(closed(fd[TCP_SLOTS_MAX - UNAUTH_MAX]));
	/* Our own connect towards a peer finds a slot the same way. */
	memset(&to, 0, sizeof(to));
	to.ss_family = AF_INET;
	((struct sockaddr_in *)&to)->sin_port = htons(e->port);
	((struct sockaddr_in *)&to)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	tcpmux_connect(e->d, &e->owner, &to, time_now_ms());
	assert_int_equal(e->d->tcp_evicted, 2);
	assert_int_equal(count(e, true), TCP_SLOTS_MAX - UNAUTH_MAX);
	for (unsigned i = 0; i < TCP_SLOTS_MAX - UNAUTH_MAX; i++)
		assert_false(closed(fd[i]));
	for (unsigned i = 0; i <= n; i++)
		close(fd[i]);
}

static void test_tcpmux_adopt_deadline_and_lengths(void **state)
{
	struct env *e = *state;
	uint8_t zero[4] = {0}, one[3] = {0, 1, 0xFF};
	int owned, silent, z, o, s;

	owned = client(e, "127.0.0.2", 0);
	silent = client(e, "127.0.0.3", 0);
	z = client(e, "127.0.0.4", 0);
	o = client(e, "127.0.0.5", 0);
	accept_all(e);
	tcpmux_adopt(e->d, e->d->tcp[slot_of_client(e, owned)].conn, &e->owner);
	/* Length 0: a framing violation, closed. Length 1: a datagram the
	 * datapath drops; the stream stays. */
	assert_int_equal(send(z, zero, sizeof(zero), 0), 4);
	assert_int_equal(send(o, one, sizeof(one), 0), 3);
	usleep(50 * 1000);
	s = slot_of_client(e, z);
	tcpmux_event(e->d, (unsigned)s, EPOLLIN);
	s = slot_of_client(e, o);
	tcpmux_event(e->d, (unsigned)s, EPOLLIN);
	assert_true(closed(z));
	assert_false(closed(o));
	/* After ADOPT_MS with nothing authenticated: the unowned ones go,
	 * however much they sent; the owned one stays. */
	tcpmux_tick(e->d, time_now_ms() + ADOPT_MS + 1);
	assert_true(closed(silent));
	assert_true(closed(o));
	assert_false(closed(owned));
	assert_int_equal(e->d->tcp_closed_unauth, 2);
	assert_int_equal(count(e, true), 1);
	assert_int_equal(count(e, false), 0);
	close(owned);
	close(silent);
	close(z);
	close(o);
}

static void test_tcpmux_peer_not_reading(void **state)
{
	struct env *e = *state;
	static uint8_t pkt[1400];
	int u, a, s;
	uint64_t t0;
	struct tcp_conn *c;

	/* Unowned: closed as soon as its ring refuses a datagram. */
	u = client(e, "127.0.0.2", 4096);
	accept_all(e);
	s = slot_of_client(e, u);
	c = e->d->tcp[s].conn;
	for (int i = 0; i < 100000 && e->d->tcp[s].conn == c; i++)
		tcpmux_send(e->d, c, pkt, sizeof(pkt));
	assert_null(e->d->tcp[s].conn);
	assert_int_equal(e->d->tcp_closed_wfull, 1);
	/* Owned: datagrams dropped while the ring is full, closed once it has
	 * not drained for 2 s. */
	a = client(e, "127.0.0.3", 4096);
	accept_all(e);
	s = slot_of_client(e, a);
	c = e->d->tcp[s].conn;
	tcpmux_adopt(e->d, c, &e->owner);
	t0 = time_now_ms();
	while (e->d->tcp[s].conn == c && time_now_ms() - t0 < 5000) {
		tcpmux_send(e->d, c, pkt, sizeof(pkt));
		if (e->d->tcp[s].conn == c && c->tx_dropped == 0)
			continue;
		usleep(10 * 1000);
		tcpmux_tick(e->d, time_now_ms());
	}
	assert_null(e->d->tcp[s].conn);
	assert_int_equal(e->d->tcp_closed_wfull, 2);
	assert_true(time_now_ms() - t0 >= 2000);
	close(u);
	close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tcpmux_per_ip_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tcpmux_eviction_spares_owned, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tcpmux_full_table_connect_evicts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tcpmux_adopt_deadline_and_lengths, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_tcpmux_peer_not_reading, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
