/* TCP transport (transport/tcp.h) on loopback, SECURITY-NOTES section 6
 * items 27-28: connects from the listener's own port, a refused connect, a
 * real simultaneous open (two sockets bound to 127.0.0.1:P1 and
 * 127.0.0.2:P2 connecting to each other at once, retried until the SYNs
 * cross), the crossing SYN of NAT-LAB-NOTES pitfall 2 in a private network
 * namespace whose firewall drops RSTs as a NAT box does, the 4-tuple an
 * accept already holds, which of two connections survives, frames larger
 * than the socket buffers, a full out ring, peers that close or reset,
 * framing violations, a slowloris sender and STUN over TCP.
 *
 * Then the rendezvous's listener (rendezvous/tcp.h) on a real epoll and
 * loopback sockets from several 127/8 sources, with a small owner whose
 * "session" is a frame of type T_AUTH: the per-source-IP cap, the cap on
 * connections without a session and whom eviction picks (never one with a
 * session), the session deadline against a client that keeps sending, a
 * slowloris and a silent client, length prefixes 0, 1, 65535 and above the
 * type's limit, and clients that do not read (with and without a session):
 * their connection goes when the small write buffer is full, and no write
 * buffer ever grows past its cap. */
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
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sys/epoll.h>

#include "rendezvous/tcp.h"
#include "transport/tcp.h"

enum { SINK_MAX = 8192, WAIT_MS = 5000 };

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

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = events};

	return poll(&p, 1, timeout_ms) == 1;
}

/* Waits for a connect to finish one way or the other. */
static int connect_wait(int fd)
{
	wait_fd(fd, POLLOUT, WAIT_MS);
	return tcp_connect_result(fd);
}

/* Reserves a port on ip without listening: a bound socket receives nothing
 * (a SYN to it gets a RST), and with SO_REUSEPORT it does not stop ours. */
static int reserve(const char *ip, uint16_t *port)
{
	struct sockaddr_storage ss = sa(ip, 0);
	socklen_t len = sizeof(ss);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = port_of(&ss);
	return fd;
}

/* ---- frames with a checkable pattern: seq (u32 BE), then (seq + j) ---- */

static size_t fill(uint8_t *buf, uint32_t seq, size_t len)
{
	for (size_t j = 0; j < len; j++)
		buf[j] = (uint8_t)(seq + j);
	if (len >= 4) {
		buf[0] = (uint8_t)(seq >> 24);
		buf[1] = (uint8_t)(seq >> 16);
		buf[2] = (uint8_t)(seq >> 8);
		buf[3] = (uint8_t)seq;
	}
	return len;
}

struct sink {
	size_t n;
	uint32_t seq[SINK_MAX];
	size_t len[SINK_MAX];
	int stop_after; /* > 0: return -ECANCELED after that many frames */
};

static int on_frame(void *ctx, struct tcp_conn *c, const uint8_t *f, size_t len)
{
	struct sink *s = ctx;
	uint32_t seq;

	assert_true(len >= 4);
	assert_true(s->n < SINK_MAX);
	seq = (uint32_t)f[0] << 24 | (uint32_t)f[1] << 16 | (uint32_t)f[2] << 8 | f[3];
	for (size_t j = 4; j < len; j++)
		if (f[j] != (uint8_t)(seq + j))
			fail_msg("frame %u byte %zu torn", seq, j);
	s->seq[s->n] = seq;
	s->len[s->n] = len;
	s->n++;
	if (s->stop_after && s->n == (size_t)s->stop_after)
		return -ECANCELED;
	return 0;
}

/* Flushes tx and reads rx until rx has want frames and tx is empty. */
static void pump(struct tcp_conn *tx, struct tcp_conn *rx, struct sink *s, size_t want)
{
	uint64_t deadline = now_ms() + WAIT_MS;

	while (s->n < want || tcp_conn_wants_write(tx)) {
		struct pollfd p[2] = {{.fd = tx->fd, .events = POLLOUT},
				      {.fd = rx->fd, .events = POLLIN}};

		assert_true(now_ms() < deadline);
		poll(p, 2, 100);
		if (tcp_conn_wants_write(tx) && (p[0].revents & POLLOUT))
			assert_true(tcp_conn_flush(tx) >= 0);
		if (p[1].revents & POLLIN)
			assert_int_equal(tcp_conn_read(rx, now_ms(), on_frame, s), 0);
	}
	assert_int_equal(s->n, want);
}

/* A connected pair over 127.0.0.1: client (connected) and server (accepted). */
static void make_pair(struct tcp_conn **client, struct tcp_conn **server, size_t out_cap,
		      enum frame_mode server_mode)
{
	struct sockaddr_storage to;
	uint16_t port;
	int l, cfd, sfd;

	assert_int_equal(tcp_listen(0, &l), 0);
	assert_int_equal(tcp_local_port(l, &port), 0);
	to = sa("127.0.0.1", port);
	assert_int_equal(tcp_connect_from(0, &to, &cfd), 0);
	assert_int_equal(connect_wait(cfd), 0);
	assert_true(wait_fd(l, POLLIN, WAIT_MS));
	assert_int_equal(tcp_accept(l, &sfd, NULL), 0);
	close(l);
	*client = tcp_conn_new(cfd, TCP_ORIGIN_CONNECT, FRAME_MODE_FRAMED, out_cap, 0);
	*server = tcp_conn_new(sfd, TCP_ORIGIN_ACCEPT, server_mode, out_cap, 0);
	assert_non_null(*client);
	assert_non_null(*server);
}

/* A small, fixed send buffer: with a receiver that does not read, the
 * kernel holds about its receive window plus this, then writes come back
 * short. (Shrinking the receive buffer of a live connection would make the
 * kernel prune and the sender retransmit: slow, and not what is tested.) */
static void small_sndbuf(struct tcp_conn *tx)
{
	int sz = 4096;

	assert_int_equal(setsockopt(tx->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
}

static bool mirrored(const struct tcp_conn *a, const struct tcp_conn *b)
{
	return tcp_addr_equal(&a->local, &b->peer) && tcp_addr_equal(&a->peer, &b->local);
}

/* Sends n frames each way and checks they arrive whole and in order. */
static void exchange(struct tcp_conn *a, struct tcp_conn *b, size_t n)
{
	static struct sink sa_, sb_;
	uint8_t buf[1500];

	memset(&sa_, 0, sizeof(sa_));
	memset(&sb_, 0, sizeof(sb_));
	for (uint32_t i = 0; i < n; i++) {
		assert_true(tcp_conn_send_frame(a, buf, fill(buf, i, 4 + i % 1400)) >= 0);
		assert_true(tcp_conn_send_frame(b, buf, fill(buf, 1000 + i, 4 + i % 700)) >= 0);
	}
	pump(a, b, &sb_, n);
	pump(b, a, &sa_, n);
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(sb_.seq[i], i);
		assert_int_equal(sb_.len[i], 4 + i % 1400);
		assert_int_equal(sa_.seq[i], 1000 + i);
	}
}

/* ---- sockets ---- */

static void test_tcp_connect_from_listen_port(void **state)
{
	struct sockaddr_storage to, peer, held;
	struct tcp_conn *c, *s;
	uint16_t server_port, own_port;
	int srv, own, cfd, sfd, plain, dummy;

	/* Our own listener on "listen_port", and a server elsewhere. */
	assert_int_equal(tcp_listen(0, &own), 0);
	assert_int_equal(tcp_local_port(own, &own_port), 0);
	assert_int_equal(tcp_listen(0, &srv), 0);
	assert_int_equal(tcp_local_port(srv, &server_port), 0);
	/* The port is held: a socket without SO_REUSEPORT cannot have it... */
	plain = socket(AF_INET, SOCK_STREAM, 0);
	held = sa("0.0.0.0", own_port);
	assert_int_equal(bind(plain, (struct sockaddr *)&held, sizeof(struct sockaddr_in)), -1);
	assert_int_equal(errno, EADDRINUSE);
	close(plain);
	/* ...but a connect from it can. */
	to = sa("127.0.0.1", server_port);
	assert_int_equal(tcp_connect_from(own_port, &to, &cfd), 0);
	assert_int_equal(connect_wait(cfd), 0);
	assert_true(wait_fd(srv, POLLIN, WAIT_MS));
	assert_int_equal(tcp_accept(srv, &sfd, &peer), 0);
	/* Dual-stack listener, IPv4 peer: AF_INET, from our listen_port. */
	assert_int_equal(peer.ss_family, AF_INET);
	assert_int_equal(port_of(&peer), own_port);
	assert_int_equal(tcp_accept(srv, &dummy, NULL), -EAGAIN);
	assert_int_equal(tcp_accept(own, &dummy, NULL), -EAGAIN);

	c = tcp_conn_new(cfd, TCP_ORIGIN_CONNECT, FRAME_MODE_FRAMED, 0, 0);
	s = tcp_conn_new(sfd, TCP_ORIGIN_ACCEPT, FRAME_MODE_FRAMED, 0, 0);
	assert_non_null(c);
	assert_non_null(s);
	assert_int_equal(c->local.ss_family, AF_INET);
	assert_int_equal(s->local.ss_family, AF_INET); /* mapped back from ::ffff:127.0.0.1 */
	assert_int_equal(port_of(&c->local), own_port);
	assert_true(tcp_addr_equal(&s->peer, &peer));
	assert_true(mirrored(c, s));
	assert_false(tcp_same_tuple(c, s)); /* the same connection seen from each end */
	exchange(c, s, 50);
	tcp_conn_free(c);
	tcp_conn_free(s);
	close(srv);
	close(own);
}

static void test_tcp_connect_result_refused(void **state)
{
	struct sockaddr_storage to, unix_to = {.ss_family = AF_UNIX};
	uint16_t port;
	int hold = reserve("127.0.0.1", &port), fd;

	to = sa("127.0.0.1", port);
	assert_int_equal(tcp_connect_from(0, &to, &fd), 0);
	assert_int_equal(connect_wait(fd), -ECONNREFUSED);
	/* Asked again after SO_ERROR was collected: still a failure. */
	assert_int_equal(tcp_connect_result(fd), -ECONNABORTED);
	close(fd);
	assert_int_equal(tcp_connect_from(0, &unix_to, &fd), -EAFNOSUPPORT);
	close(hold);
}

/* A listener on ip (any port) whose accept queue is full, so that a SYN to
 * it is dropped without an answer, as a NAT box drops an unsolicited SYN
 * (NAT-LAB-NOTES pitfall 1); *filler is the connection that fills it. It
 * holds the port as the daemon's listener holds listen_port. */
static int full_listener(const char *ip, uint16_t *port, int *filler)
{
	struct sockaddr_storage ss = sa(ip, 0);
	socklen_t len = sizeof(ss);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
	assert_int_equal(listen(fd, 0), 0); /* room for one */
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = port_of(&ss);
	*filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(*filler, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
	return fd;
}

struct racer {
	struct sockaddr_storage local, remote;
	pthread_barrier_t *start;
	int fd, result;
};

static void *race(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->start);
	r->result = tcp_connect_bound(&r->local, &r->remote, &r->fd);
	if (r->result == 0)
		r->result = connect_wait(r->fd);
	else
		r->fd = -1;
	return NULL;
}

static void test_tcp_simultaneous_open_loopback(void **state)
{
	/* Both sides connect() at the same moment from their listen_port to
	 * the other's, and neither accepts. On loopback a SYN to a port with
	 * no socket in SYN_SENT is answered at once (a RST from a bare port,
	 * a SYN-ACK from a listener), so here, as behind a NAT, each side's
	 * listener drops unsolicited SYNs: whichever SYN arrives first is
	 * lost or meets the other socket already in SYN_SENT, and the crossing
	 * SYN completes the handshake. Failed attempts are retried. */
	struct racer a, b;
	pthread_barrier_t start;
	struct tcp_conn *ca, *cb;
	struct sockaddr_storage probe_to;
	uint16_t p1, p2;
	int f1, f2, l1 = full_listener("127.0.0.1", &p1, &f1),
		    l2 = full_listener("127.0.0.2", &p2, &f2);
	int probe, acc;
	uint64_t deadline = now_ms() + 20000;
	unsigned attempts = 0;

	/* The listeners really are silent: a connect to one gets no answer. */
	probe_to = sa("127.0.0.2", p2);
	assert_int_equal(tcp_connect_from(0, &probe_to, &probe), 0);
	assert_false(wait_fd(probe, POLLOUT, 50));
	assert_int_equal(tcp_connect_result(probe), -EINPROGRESS);
	close(probe);

	a.local = sa("127.0.0.1", p1);
	a.remote = sa("127.0.0.2", p2);
	b.local = a.remote;
	b.remote = a.local;
	a.start = b.start = &start;
	for (;;) {
		pthread_t ta, tb;

		assert_true(now_ms() < deadline);
		attempts++;
		pthread_barrier_init(&start, NULL, 2);
		pthread_create(&ta, NULL, race, &a);
		pthread_create(&tb, NULL, race, &b);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		pthread_barrier_destroy(&start);
		if (a.result == 0 && b.result == 0)
			break;
		/* Failed attempts end with a plain close, never a RST. */
		if (a.fd >= 0)
			close(a.fd);
		if (b.fd >= 0)
			close(b.fd);
	}
	print_message("simultaneous open after %u attempt(s)\n", attempts);
	ca = tcp_conn_new(a.fd, TCP_ORIGIN_CONNECT, FRAME_MODE_FRAMED, 0, 1);
	cb = tcp_conn_new(b.fd, TCP_ORIGIN_CONNECT, FRAME_MODE_FRAMED, 0, 1);
	assert_non_null(ca);
	assert_non_null(cb);
	assert_true(tcp_addr_equal(&ca->local, &a.local));
	assert_true(tcp_addr_equal(&ca->peer, &a.remote));
	assert_true(mirrored(ca, cb));
	/* Nothing came through a listener: each holds only its filler. */
	assert_int_equal(tcp_accept(l1, &acc, NULL), 0);
	close(acc);
	assert_int_equal(tcp_accept(l1, &acc, NULL), -EAGAIN);
	assert_int_equal(tcp_accept(l2, &acc, NULL), 0);
	close(acc);
	assert_int_equal(tcp_accept(l2, &acc, NULL), -EAGAIN);
	exchange(ca, cb, 200);
	tcp_conn_free(ca);
	tcp_conn_free(cb);
	close(f1);
	close(f2);
	close(l1);
	close(l2);
}

/* Reads the RST counter of the private namespace's firewall. */
static long rst_count(void)
{
	char line[256];
	long n = -1;
	FILE *f = popen("nft list chain inet p2pvpn_test out 2>/dev/null", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "packets ");

		if (p)
			n = strtol(p + 8, NULL, 10);
	}
	pclose(f);
	return n;
}

static void test_tcp_simultaneous_open_first_syn_lost(void **state)
{
	/* NAT-LAB-NOTES pitfall 2, deterministic: in a network namespace of
	 * its own, a firewall drops every RST as a NAT box's input policy
	 * does. A's SYN finds nothing at B and is lost (the RST answering it
	 * is dropped); B's SYN then meets A in SYN_SENT and the crossing
	 * completes the handshake. Closing an abandoned attempt adds no RST. */
	struct tcp_conn *ca, *cb;
	struct sockaddr_storage a = sa("127.0.0.1", 6000), b = sa("127.0.0.2", 6001);
	struct sockaddr_storage c = sa("127.0.0.1", 6002), nowhere = sa("127.0.0.3", 6003);
	long rst_before, rst_after;
	int fa, fb, fc, saved;

	if (geteuid() != 0)
		skip();
	saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(saved >= 0);
	if (unshare(CLONE_NEWNET) < 0) {
		close(saved);
		skip();
	}
	if (system("ip link set lo up && nft 'add table inet p2pvpn_test; "
		   "add chain inet p2pvpn_test out { type filter hook output priority 0; }; "
		   "add rule inet p2pvpn_test out tcp flags rst counter drop' 2>/dev/null") != 0) {
		assert_int_equal(setns(saved, CLONE_NEWNET), 0);
		close(saved);
		skip();
	}
	assert_int_equal(tcp_connect_bound(&a, &b, &fa), 0);
	assert_false(wait_fd(fa, POLLOUT, 100));
	assert_int_equal(tcp_connect_result(fa), -EINPROGRESS);
	assert_int_equal(rst_count(), 1); /* B's kernel answered, the "NAT" dropped it */
	assert_int_equal(tcp_connect_bound(&b, &a, &fb), 0);
	assert_int_equal(connect_wait(fb), 0);
	assert_int_equal(connect_wait(fa), 0);
	ca = tcp_conn_new(fa, TCP_ORIGIN_CONNECT, FRAME_MODE_FRAMED, 0, 0);
	cb = tcp_conn_new(fb, TCP_ORIGIN_CONNECT, FRAME_MODE_FRAMED, 0, 0);
	assert_non_null(ca);
	assert_non_null(cb);
	assert_true(mirrored(ca, cb));
	exchange(ca, cb, 20);

	/* An attempt abandoned in SYN_SENT, then the established pair: plain
	 * closes, no RST from us. */
	assert_int_equal(tcp_connect_bound(&c, &nowhere, &fc), 0);
	assert_int_equal(tcp_connect_result(fc), -EINPROGRESS);
	rst_before = rst_count();
	assert_int_equal(rst_before, 2); /* the kernel's answer to the SYN to nowhere */
	close(fc);
	tcp_conn_free(ca);
	tcp_conn_free(cb);
	usleep(100 * 1000);
	rst_after = rst_count();
	assert_int_equal(rst_after, rst_before);
	assert_int_equal(setns(saved, CLONE_NEWNET), 0);
	close(saved);
}

static void test_tcp_connect_from_tuple_taken_by_accept(void **state)
{
	/* Without NATs the first SYN reaches the other side's listener: A's
	 * connect completes, B accepts, and B's own connect for the same
	 * 4-tuple is refused by the kernel, so one connection remains. */
	struct sockaddr_storage to_a, to_b;
	struct tcp_conn *ca, *cb;
	uint16_t pa, pb;
	int la, lb, fa, fb, dummy;

	assert_int_equal(tcp_listen(0, &la), 0);
	assert_int_equal(tcp_listen(0, &lb), 0);
	assert_int_equal(tcp_local_port(la, &pa), 0);
	assert_int_equal(tcp_local_port(lb, &pb), 0);
	to_a = sa("127.0.0.1", pa);
	to_b = sa("127.0.0.1", pb);
	assert_int_equal(tcp_connect_from(pa, &to_b, &fa), 0);
	assert_int_equal(connect_wait(fa), 0);
	assert_true(wait_fd(lb, POLLIN, WAIT_MS));
	assert_int_equal(tcp_accept(lb, &fb, NULL), 0);
	assert_int_equal(tcp_connect_from(pb, &to_a, &dummy), -EADDRNOTAVAIL);
	assert_int_equal(tcp_accept(la, &dummy, NULL), -EAGAIN);
	ca = tcp_conn_new(fa, TCP_ORIGIN_CONNECT, FRAME_MODE_FRAMED, 0, 0);
	cb = tcp_conn_new(fb, TCP_ORIGIN_ACCEPT, FRAME_MODE_FRAMED, 0, 0);
	assert_non_null(ca);
	assert_non_null(cb);
	assert_true(mirrored(ca, cb));
	assert_int_equal(port_of(&cb->local), pb);
	assert_int_equal(port_of(&cb->peer), pa);
	exchange(ca, cb, 10);
	tcp_conn_free(ca);
	tcp_conn_free(cb);
	close(la);
	close(lb);
}

static void test_tcp_conn_prefer_rule(void **state)
{
	enum { C = TCP_ORIGIN_CONNECT, A = TCP_ORIGIN_ACCEPT };
	static const struct {
		int origin[2];
		uint64_t opened[2];
		int fd[2];
		bool lower;
		int keep;
	} cases[] = {
	    /* 1 */ {{C, A}, {5, 1}, {3, 4}, true, 0}, /* lower: its connect, even if newer */
	    /* 2 */ {{A, C}, {1, 5}, {3, 4}, true, 1},
	    /* 3 */ {{C, A}, {1, 5}, {3, 4}, false, 1}, /* higher: the lower side's connect */
	    /* 4 */ {{A, C}, {5, 1}, {3, 4}, false, 0},
	    /* 5 */ {{C, C}, {5, 1}, {3, 4}, true, 1}, /* same origin: older */
	    /* 6 */ {{A, A}, {1, 5}, {3, 4}, false, 0},
	    /* 7 */ {{C, C}, {2, 2}, {9, 4}, true, 1}, /* same moment: lower fd */
	    /* 8 */ {{A, A}, {2, 2}, {4, 9}, false, 0},
	};
	struct tcp_conn *x = calloc(1, sizeof(*x)), *y = calloc(1, sizeof(*y));

	assert_non_null(x);
	assert_non_null(y);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tcp_conn *both[2] = {x, y};

		for (int k = 0; k < 2; k++) {
			both[k]->origin = (enum tcp_origin)cases[i].origin[k];
			both[k]->opened_ms = cases[i].opened[k];
			both[k]->fd = cases[i].fd[k];
		}
		assert_ptr_equal(tcp_conn_prefer(x, y, cases[i].lower), both[cases[i].keep]);
		assert_ptr_equal(tcp_conn_prefer(y, x, cases[i].lower), both[cases[i].keep]);
	}
	/* Two ordinary opens, one each way: the lower side's view (X its
	 * connect, Y its accept) and the higher side's (X its accept, Y its
	 * connect) pick the same connection, X. */
	x->origin = TCP_ORIGIN_CONNECT, y->origin = TCP_ORIGIN_ACCEPT;
	x->opened_ms = 9, y->opened_ms = 1;
	assert_ptr_equal(tcp_conn_prefer(x, y, true), x);
	x->origin = TCP_ORIGIN_ACCEPT, y->origin = TCP_ORIGIN_CONNECT;
	x->opened_ms = 1, y->opened_ms = 9;
	assert_ptr_equal(tcp_conn_prefer(x, y, false), x);
	free(x);
	free(y);
}

static void test_tcp_addr_equal(void **state)
{
	struct sockaddr_storage v4 = sa("192.0.2.1", 51820), mapped = sa("::ffff:192.0.2.1", 51820);
	struct sockaddr_storage other_port = sa("192.0.2.1", 51821), v6 = sa("2001:db8::1", 51820);
	struct sockaddr_storage un = {.ss_family = AF_UNIX};

	assert_true(tcp_addr_equal(&v4, &v4));
	assert_true(tcp_addr_equal(&v4, &mapped));
	assert_true(tcp_addr_equal(&mapped, &v4));
	assert_true(tcp_addr_equal(&v6, &v6));
	assert_false(tcp_addr_equal(&v4, &other_port));
	assert_false(tcp_addr_equal(&v4, &v6));
	assert_false(tcp_addr_equal(&un, &un));
}

/* ---- streams ---- */

static void test_tcp_conn_send_frame_larger_than_socket_buffer(void **state)
{
	static uint8_t buf[FRAME_MAX];
	static struct sink s;
	struct tcp_conn *tx, *rx;
	uint32_t sent = 0;
	int r = 0;

	make_pair(&tx, &rx, 0, FRAME_MODE_FRAMED);
	small_sndbuf(tx);
	memset(&s, 0, sizeof(s));
	/* The receiver does not read: the kernel takes a few frames, then a
	 * sendmsg comes back short and the rest is queued. */
	while (sent < 100 && (r = tcp_conn_send_frame(tx, buf, fill(buf, sent, FRAME_MAX))) == 0)
		sent++;
	assert_int_equal(r, 1);
	sent++;
	assert_true(tcp_conn_wants_write(tx));
	assert_true(tx->out_len > 0 && tx->out_len < FRAME_BUF_SIZE);
	/* More frames go behind the queued bytes, never around them. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(tcp_conn_send_frame(tx, buf, fill(buf, sent++, FRAME_MAX)), 1);
	assert_int_equal(tcp_conn_flush(tx), 1); /* still nobody reading */
	pump(tx, rx, &s, sent);
	assert_int_equal(tcp_conn_flush(tx), 0);
	assert_false(tcp_conn_wants_write(tx));
	for (uint32_t i = 0; i < sent; i++) {
		assert_int_equal(s.seq[i], i);
		assert_int_equal(s.len[i], FRAME_MAX);
	}
	assert_int_equal(tx->tx_frames, sent);
	assert_int_equal(tx->tx_queued, 3);
	assert_int_equal(tx->tx_dropped, 0);
	assert_int_equal(rx->rx_frames, sent);
	/* Lengths the prefix cannot carry. */
	assert_int_equal(tcp_conn_send_frame(tx, buf, 0), -EMSGSIZE);
	assert_int_equal(tcp_conn_send_frame(tx, buf, FRAME_MAX + 1), -EMSGSIZE);
	assert_int_equal(tx->tx_frames, sent);
	tcp_conn_free(tx);
	tcp_conn_free(rx);
}

static void test_tcp_conn_send_frame_ring_full_drops(void **state)
{
	static struct sink s;
	static uint32_t accepted[SINK_MAX];
	struct tcp_conn *tx, *rx;
	uint8_t buf[1000];
	size_t n_acc = 0, n_drop = 0;

	errno = 0;
	assert_null(tcp_conn_new(0, TCP_ORIGIN_CONNECT, FRAME_MODE_FRAMED, TCP_OUT_MIN - 1, 0));
	assert_int_equal(errno, EINVAL);
	make_pair(&tx, &rx, TCP_OUT_MIN, FRAME_MODE_FRAMED);
	small_sndbuf(tx);
	memset(&s, 0, sizeof(s));
	/* Nobody reads: the ring fills and whole datagrams are dropped. */
	for (uint32_t seq = 0; seq < SINK_MAX && n_drop < 50; seq++) {
		int r = tcp_conn_send_frame(tx, buf, fill(buf, seq, sizeof(buf)));

		if (r == -ENOBUFS) {
			n_drop++;
			continue;
		}
		assert_true(r == 0 || r == 1);
		accepted[n_acc++] = seq;
	}
	assert_int_equal(n_drop, 50);
	assert_int_equal(tx->tx_dropped, 50);
	assert_true(tx->out_len <= TCP_OUT_MIN);
	/* What was accepted arrives whole and in order, and nothing else. */
	pump(tx, rx, &s, n_acc);
	for (size_t i = 0; i < n_acc; i++)
		assert_int_equal(s.seq[i], accepted[i]);
	/* Room again once drained. */
	assert_int_equal(tcp_conn_send_frame(tx, buf, fill(buf, 99999, sizeof(buf))), 0);
	tcp_conn_free(tx);
	tcp_conn_free(rx);
}

static void test_tcp_conn_read_peer_closes(void **state)
{
	static struct sink s;
	struct tcp_conn *a, *b;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	uint8_t buf[64];

	/* FIN after two frames: both delivered, then -ECONNRESET. */
	make_pair(&a, &b, 0, FRAME_MODE_FRAMED);
	memset(&s, 0, sizeof(s));
	assert_int_equal(tcp_conn_send_frame(a, buf, fill(buf, 1, 40)), 0);
	assert_int_equal(tcp_conn_send_frame(a, buf, fill(buf, 2, 50)), 0);
	tcp_conn_free(a);
	assert_true(wait_fd(b->fd, POLLIN, WAIT_MS));
	usleep(20 * 1000);
	assert_int_equal(tcp_conn_read(b, 7, on_frame, &s), -ECONNRESET);
	assert_int_equal(s.n, 2);
	assert_int_equal(b->last_rx_ms, 7);
	tcp_conn_free(b);

	/* RST (the test's peer lingers 0 on purpose): -ECONNRESET, and a send
	 * afterwards fails rather than queueing. */
	make_pair(&a, &b, 0, FRAME_MODE_FRAMED);
	assert_int_equal(setsockopt(a->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	tcp_conn_free(a);
	assert_true(wait_fd(b->fd, POLLIN, WAIT_MS));
	assert_int_equal(tcp_conn_read(b, 0, on_frame, &s), -ECONNRESET);
	assert_int_equal(tcp_conn_send_frame(b, buf, fill(buf, 3, 40)), -EPIPE);
	assert_false(tcp_conn_wants_write(b));
	tcp_conn_free(b);
	tcp_conn_free(NULL);
}

static void test_tcp_conn_read_callback_stops(void **state)
{
	static struct sink s;
	struct tcp_conn *a, *b;
	uint8_t buf[64];

	make_pair(&a, &b, 0, FRAME_MODE_FRAMED);
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(tcp_conn_send_frame(a, buf, fill(buf, i, 10)), 0);
	usleep(20 * 1000);
	assert_int_equal(tcp_conn_read(b, 0, on_frame, &s), -ECANCELED);
	assert_int_equal(s.n, 1);
	s.stop_after = 0;
	/* The rest is already read: the next call delivers it with nothing
	 * new on the socket. */
	assert_false(wait_fd(b->fd, POLLIN, 0));
	assert_int_equal(tcp_conn_read(b, 0, on_frame, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seq[1], 1);
	assert_int_equal(s.seq[2], 2);
	tcp_conn_free(a);
	tcp_conn_free(b);
}

static void test_tcp_conn_read_framing_violation(void **state)
{
	static struct sink s;
	struct tcp_conn *a, *b;
	const uint8_t zero[] = {0x00, 0x00};

	make_pair(&a, &b, 0, FRAME_MODE_FRAMED);
	memset(&s, 0, sizeof(s));
	assert_int_equal(send(a->fd, zero, sizeof(zero), 0), 2);
	assert_true(wait_fd(b->fd, POLLIN, WAIT_MS));
	assert_int_equal(tcp_conn_read(b, 0, on_frame, &s), -EBADMSG);
	assert_int_equal(s.n, 0);
	tcp_conn_free(a);
	tcp_conn_free(b);
}

static void test_tcp_conn_is_idle_slowloris(void **state)
{
	/* A sender that dribbles a frame never counts as active: only
	 * complete frames move last_rx_ms. */
	static struct sink s;
	struct tcp_conn *a, *b;
	const uint8_t part1[] = {0x00}, part2[] = {0x05, 0, 0, 0, 9, 13};

	make_pair(&a, &b, 0, FRAME_MODE_FRAMED);
	memset(&s, 0, sizeof(s));
	b->last_rx_ms = 1000;
	assert_false(tcp_conn_is_idle(b, 1000, 4000));
	assert_false(tcp_conn_is_idle(b, 999, 4000)); /* a clock behind is not idle */
	assert_int_equal(send(a->fd, part1, 1, 0), 1);
	assert_true(wait_fd(b->fd, POLLIN, WAIT_MS));
	assert_int_equal(tcp_conn_read(b, 3000, on_frame, &s), 0);
	assert_int_equal(frame_reader_pending(&b->rd), 1);
	assert_int_equal(b->last_rx_ms, 1000);
	assert_true(tcp_conn_is_idle(b, 5000, 4000));
	assert_int_equal(send(a->fd, part2, sizeof(part2), 0), (ssize_t)sizeof(part2));
	assert_true(wait_fd(b->fd, POLLIN, WAIT_MS));
	assert_int_equal(tcp_conn_read(b, 6000, on_frame, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.seq[0], 9);
	assert_false(tcp_conn_is_idle(b, 6000, 4000));
	assert_true(tcp_conn_is_idle(b, 10000, 4000));
	tcp_conn_free(a);
	tcp_conn_free(b);
}

struct stun_sink {
	size_t n;
	enum frame_mode mode;
	uint8_t msg[64];
	size_t len;
};

static int on_stun(void *ctx, struct tcp_conn *c, const uint8_t *f, size_t len)
{
	struct stun_sink *s = ctx;

	s->n++;
	s->mode = c->rd.mode;
	s->len = len < sizeof(s->msg) ? len : sizeof(s->msg);
	memcpy(s->msg, f, s->len);
	return 0;
}

static void test_tcp_conn_read_stun_over_tcp(void **state)
{
	/* The rendezvous's port: a connection in detect mode that starts with
	 * a STUN Binding request carries STUN, answered without a prefix. */
	const uint8_t req[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1,  2,
				 3,    4,    5,	   6,	 7,    8,    9,	   10,	 11, 12};
	uint8_t resp[32];
	struct stun_sink got = {0}, back = {0};
	struct tcp_conn *client, *server;

	make_pair(&client, &server, 0, FRAME_MODE_DETECT);
	frame_reader_init(&client->rd, FRAME_MODE_STUN);
	assert_int_equal(tcp_conn_send_stun(client, req, sizeof(req)), 0);
	assert_true(wait_fd(server->fd, POLLIN, WAIT_MS));
	assert_int_equal(tcp_conn_read(server, 0, on_stun, &got), 0);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.mode, FRAME_MODE_STUN);
	assert_int_equal(got.len, 20);
	assert_memory_equal(got.msg, req, 20);
	memcpy(resp, req, 20);
	resp[0] = 0x01; /* Binding success */
	resp[3] = 12;
	memset(resp + 20, 0xab, 12);
	assert_int_equal(tcp_conn_send_stun(server, resp, sizeof(resp)), 0);
	assert_true(wait_fd(client->fd, POLLIN, WAIT_MS));
	assert_int_equal(tcp_conn_read(client, 0, on_stun, &back), 0);
	assert_int_equal(back.n, 1);
	assert_int_equal(back.len, 32);
	assert_memory_equal(back.msg, resp, 32);
	/* Shorter than a STUN header: refused. */
	assert_int_equal(tcp_conn_send_stun(server, resp, 19), -EMSGSIZE);
	/* A second message without the cookie ends the stream. */
	resp[4] = 0;
	assert_int_equal(tcp_conn_send_stun(client, resp, sizeof(resp)), 0);
	assert_true(wait_fd(server->fd, POLLIN, WAIT_MS));
	assert_int_equal(tcp_conn_read(server, 0, on_stun, &got), -EBADMSG);
	assert_int_equal(got.n, 1);
	tcp_conn_free(client);
	tcp_conn_free(server);
}

static void test_tcp_listen_ipv6_peer(void **state)
{
	/* The dual-stack listener also takes IPv6 peers, reported as such. */
	struct sockaddr_storage to, peer;
	uint16_t port;
	int l, cfd, sfd;

	assert_int_equal(tcp_listen(0, &l), 0);
	assert_int_equal(tcp_local_port(l, &port), 0);
	to = sa("::1", port);
	if (tcp_connect_from(0, &to, &cfd) < 0) {
		close(l);
		skip(); /* no IPv6 loopback here */
	}
	assert_int_equal(connect_wait(cfd), 0);
	assert_true(wait_fd(l, POLLIN, WAIT_MS));
	assert_int_equal(tcp_accept(l, &sfd, &peer), 0);
	assert_int_equal(peer.ss_family, AF_INET6);
	assert_false(tcp_addr_equal(&peer, &to)); /* a different (ephemeral) port */
	close(cfd);
	close(sfd);
	close(l);
}

/* ---- the rendezvous's listener ---- */

enum {
	T_HELLO = 1, /* any frame up to HELLO_MAX, no effect */
	T_ECHO = 2,  /* sent back as is */
	T_AUTH = 7,  /* gives the connection a session */
	T_BIG = 9,   /* up to 65535, only with a session */
	HELLO_MAX = 200,
	ECHO_MAX = 1024,
	AUTHED_MAX = 16,
};

struct renv {
	struct rdv_tcp t;
	int epfd;
	uint16_t port;
	struct rdv_tcp_conn *authed[AUTHED_MAX];
	size_t n_authed, frames, last_len;
};

static bool renv_authed(struct renv *e, const struct rdv_tcp_conn *c)
{
	for (size_t i = 0; i < e->n_authed; i++)
		if (e->authed[i] == c)
			return true;
	return false;
}

static size_t r_frame_max(void *ctx, struct rdv_tcp_conn *c, uint8_t type)
{
	switch (type) {
	case T_HELLO:
		return HELLO_MAX;
	case T_ECHO:
		return ECHO_MAX;
	case T_AUTH:
		return 8;
	case T_BIG:
		return renv_authed(ctx, c) ? 65535 : 0;
	default:
		return 0;
	}
}

static void r_on_frame(void *ctx, struct rdv_tcp_conn *c, uint8_t *f, size_t len)
{
	struct renv *e = ctx;

	e->frames++;
	e->last_len = len;
	if (f[0] == T_AUTH && !renv_authed(e, c)) {
		assert_true(e->n_authed < AUTHED_MAX);
		e->authed[e->n_authed++] = c;
	}
	if (f[0] == T_ECHO)
		rdv_tcp_send(&e->t, c, true, f, len, now_ms());
}

static void r_on_stun(void *ctx, struct rdv_tcp_conn *c, const uint8_t *m, size_t len)
{
	(void)ctx;
	(void)c;
	(void)m;
	(void)len;
}

static bool r_is_authenticated(void *ctx, struct rdv_tcp_conn *c)
{
	return renv_authed(ctx, c);
}

static void r_on_close(void *ctx, struct rdv_tcp_conn *c)
{
	struct renv *e = ctx;

	for (size_t i = 0; i < e->n_authed; i++)
		if (e->authed[i] == c)
			e->authed[i] = e->authed[--e->n_authed];
}

static const struct rdv_tcp_ops r_ops = {
    .frame_max = r_frame_max,
    .on_frame = r_on_frame,
    .on_stun = r_on_stun,
    .is_authenticated = r_is_authenticated,
    .on_close = r_on_close,
};

static struct renv *renv_open(const struct rdv_tcp_limits *lim)
{
	struct renv *e = calloc(1, sizeof(*e));
	struct sockaddr_storage ss = sa("127.0.0.1", 0);
	socklen_t len = sizeof(ss);

	assert_non_null(e);
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(e->epfd >= 0);
	assert_int_equal(rdv_tcp_open(&e->t, &ss, e->epfd, lim, &r_ops, e), 0);
	assert_int_equal(getsockname(e->t.listen_fd, (struct sockaddr *)&ss, &len), 0);
	e->port = port_of(&ss);
	return e;
}

static void renv_close(struct renv *e)
{
	rdv_tcp_close_all(&e->t);
	close(e->epfd);
	free(e);
}

/* The server's loop for ms: events, deferred free, expiry. */
static void run(struct renv *e, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	do {
		struct epoll_event ev[64];
		int n = epoll_wait(e->epfd, ev, 64, 5);

		for (int i = 0; i < n; i++) {
			struct rdv_ev *k = ev[i].data.ptr;

			if (k->kind == RDV_EV_LISTEN)
				rdv_tcp_accept(&e->t, now_ms());
			else
				rdv_tcp_event(&e->t, (struct rdv_tcp_conn *)k, ev[i].events,
					      now_ms());
		}
		rdv_tcp_reap(&e->t);
		rdv_tcp_expire(&e->t, now_ms());
	} while (now_ms() < end);
}

/* A client from ip (127/8), connected (the kernel completes the handshake
 * before any accept); rcvbuf > 0 sets a small receive buffer first. */
static int rclient(struct renv *e, const char *ip, int rcvbuf)
{
	struct sockaddr_storage me = sa(ip, 0), to = sa("127.0.0.1", e->port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (rcvbuf)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(struct sockaddr_in)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(struct sockaddr_in)), 0);
	return fd;
}

/* True when the server closed fd (EOF or RST; pending replies read away). */
static bool is_closed(int fd)
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

/* Sends a frame of type and len bytes in all (type included); 0 or -errno. */
static int rsend(int fd, uint8_t type, size_t len)
{
	static uint8_t b[2 + 65535];
	size_t off = 0;

	memset(b, 0, 2 + len);
	b[0] = (uint8_t)(len >> 8);
	b[1] = (uint8_t)len;
	b[2] = type;
	while (off < 2 + len) {
		ssize_t n = send(fd, b + off, 2 + len - off, MSG_NOSIGNAL);

		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

/* A client that gets a session, checked by an echo. */
static int rauthed(struct renv *e, const char *ip)
{
	int fd = rclient(e, ip, 0);
	uint8_t b[64];
	size_t n_before = e->n_authed;

	assert_int_equal(rsend(fd, T_AUTH, 8), 0);
	run(e, 30);
	assert_int_equal(e->n_authed, n_before + 1);
	assert_int_equal(rsend(fd, T_ECHO, 10), 0);
	run(e, 30);
	assert_true(wait_fd(fd, POLLIN, WAIT_MS));
	assert_int_equal(recv(fd, b, sizeof(b), 0), 12);
	return fd;
}

/* Still served: an echo comes back. */
static bool served(struct renv *e, int fd)
{
	uint8_t b[64];

	if (rsend(fd, T_ECHO, 10) < 0)
		return false;
	run(e, 30);
	return wait_fd(fd, POLLIN, 500) && recv(fd, b, sizeof(b), MSG_DONTWAIT) == 12;
}

static void test_rdv_tcp_per_ip_cap(void **state)
{
	struct rdv_tcp_limits lim = {0};
	struct renv *e;
	int fd[8], extra, other, closed = 0;

	(void)state;
	e = renv_open(&lim);
	assert_int_equal(e->t.lim.unauth_per_ip, RDV_TCP_UNAUTH_PER_IP);
	for (int i = 0; i < 6; i++) {
		fd[i] = rclient(e, "127.0.0.2", 0);
		run(e, 10);
	}
	run(e, 50);
	/* Four kept, the two latest refused: the early ones are not evicted
	 * for more of the same source. */
	assert_int_equal(e->t.n, RDV_TCP_UNAUTH_PER_IP);
	assert_int_equal(e->t.refused_ip, 2);
	for (int i = 0; i < 6; i++)
		closed += is_closed(fd[i]);
	assert_int_equal(closed, 2);
	assert_true(is_closed(fd[4]) && is_closed(fd[5]));
	/* One of them gets a session: it no longer counts against the IP. */
	assert_int_equal(rsend(fd[0], T_AUTH, 8), 0);
	run(e, 30);
	assert_int_equal(e->t.n_unauth, 3);
	extra = rclient(e, "127.0.0.2", 0);
	run(e, 30);
	assert_int_equal(e->t.n, 5);
	assert_false(is_closed(extra));
	fd[6] = rclient(e, "127.0.0.2", 0);
	run(e, 30);
	assert_int_equal(e->t.refused_ip, 3);
	assert_true(is_closed(fd[6]));
	/* Another source is not affected. */
	other = rclient(e, "127.0.0.3", 0);
	run(e, 30);
	assert_int_equal(e->t.n, 6);
	assert_false(is_closed(other));
	assert_int_equal(e->t.evicted, 0);
	for (int i = 0; i < 7; i++)
		close(fd[i]);
	close(extra);
	close(other);
	renv_close(e);
}

static void test_rdv_tcp_eviction_spares_sessions(void **state)
{
	struct rdv_tcp_limits lim = {.max_conns = 6, .max_unauth = 3};
	struct renv *e;
	int a1, a2, u1, u2, u3, u4, u5, u6, u7, u8;

	(void)state;
	e = renv_open(&lim);
	a1 = rauthed(e, "127.0.0.2");
	a2 = rauthed(e, "127.0.0.3");
	/* u1 has completed a frame (a handshake under way); u2, u3 are bare. */
	u1 = rclient(e, "127.0.1.1", 0);
	assert_int_equal(rsend(u1, T_HELLO, 100), 0);
	run(e, 20);
	u2 = rclient(e, "127.0.1.2", 0);
	run(e, 20);
	u3 = rclient(e, "127.0.1.3", 0);
	run(e, 20);
	assert_int_equal(e->t.n, 5);
	assert_int_equal(e->t.n_unauth, 3);
	/* At the cap of 3 without a session: the oldest bare one goes, not
	 * u1 (older, but it made progress), never a1 or a2. */
	u4 = rclient(e, "127.0.1.4", 0);
	run(e, 30);
	assert_int_equal(e->t.evicted, 1);
	assert_true(is_closed(u2));
	assert_false(is_closed(u1));
	u5 = rclient(e, "127.0.1.5", 0);
	run(e, 30);
	assert_true(is_closed(u3));
	assert_false(is_closed(u1));
	assert_false(is_closed(u4));
	assert_int_equal(e->t.n_unauth, 3);
	/* Everyone left gets a session: n = 5, then 6 with u6. */
	assert_int_equal(rsend(u1, T_AUTH, 8), 0);
	assert_int_equal(rsend(u4, T_AUTH, 8), 0);
	assert_int_equal(rsend(u5, T_AUTH, 8), 0);
	run(e, 30);
	assert_int_equal(e->t.n_unauth, 0);
	u6 = rauthed(e, "127.0.1.6");
	assert_int_equal(e->t.n, 6);
	/* A full table of sessions: the newcomer is refused, nobody evicted. */
	u7 = rclient(e, "127.0.1.7", 0);
	run(e, 30);
	assert_true(is_closed(u7));
	assert_int_equal(e->t.refused, 1);
	assert_int_equal(e->t.evicted, 2);
	assert_true(served(e, a1) && served(e, a2) && served(e, u1) && served(e, u6));
	/* A session ends (the peer goes): room again. */
	close(u6);
	run(e, 30);
	u8 = rclient(e, "127.0.1.8", 0);
	run(e, 30);
	assert_false(is_closed(u8));
	assert_int_equal(e->t.n, 6);
	close(a1);
	close(a2);
	close(u1);
	close(u2);
	close(u3);
	close(u4);
	close(u5);
	close(u7);
	close(u8);
	renv_close(e);
}

static void test_rdv_tcp_session_deadline(void **state)
{
	struct rdv_tcp_limits lim = {
	    .auth_ms = 300, .first_frame_ms = 200, .idle_ms = 2000, .frame_ms = 2000};
	struct renv *e;
	uint64_t t0 = now_ms(), closed_at = 0;
	int u, a;

	(void)state;
	e = renv_open(&lim);
	a = rauthed(e, "127.0.0.2");
	u = rclient(e, "127.0.0.3", 0);
	/* u keeps sending complete frames (never idle, never a stalled frame)
	 * but never gets a session: it goes at auth_ms after the accept. */
	while (now_ms() - t0 < 900) {
		if (rsend(u, T_HELLO, 50) < 0 || is_closed(u)) {
			closed_at = now_ms() - t0;
			break;
		}
		run(e, 40);
	}
	assert_true(closed_at >= 250 && closed_at < 900);
	assert_int_equal(e->t.closed_auth, 1);
	/* The one with a session, older than that, stays. */
	assert_true(served(e, a));
	assert_int_equal(e->t.n, 1);
	close(u);
	close(a);
	renv_close(e);
}

static void test_rdv_tcp_slowloris_and_silent(void **state)
{
	struct rdv_tcp_limits lim = {.frame_ms = 300, .first_frame_ms = 400, .auth_ms = 5000};
	struct renv *e;
	uint8_t b[3] = {0, 100, T_HELLO};
	uint64_t t0;
	int slow, silent, i;

	(void)state;
	e = renv_open(&lim);
	slow = rclient(e, "127.0.0.2", 0);
	silent = rclient(e, "127.0.0.3", 0);
	t0 = now_ms();
	/* A 100-byte frame, one byte every 50 ms: 5 s to complete it. */
	for (i = 0; i < 100 && !is_closed(slow); i++) {
		(void)send(slow, i < 3 ? b + i : b, 1, MSG_NOSIGNAL);
		run(e, 50);
	}
	assert_true(is_closed(slow));
	assert_true(now_ms() - t0 < 1000);
	assert_int_equal(e->frames, 0);
	run(e, 200);
	assert_true(is_closed(silent));
	assert_int_equal(e->t.closed_timeout, 2);
	assert_int_equal(e->t.n, 0);
	close(slow);
	close(silent);
	renv_close(e);
}

static void test_rdv_tcp_length_prefixes(void **state)
{
	struct rdv_tcp_limits lim = {0};
	struct renv *e;
	uint8_t one[3 + 8] = {0, 1, T_HELLO, 0, 6, T_HELLO, 0, 0, 0, 0, 0};
	uint8_t zero[8] = {0}, big[3] = {0xFF, 0xFF, T_HELLO},
		over[5] = {0, HELLO_MAX + 1, T_HELLO, 0, 0};
	int fd, a;

	(void)state;
	e = renv_open(&lim);
	/* 0: a violation, closed. */
	fd = rclient(e, "127.0.0.2", 0);
	assert_int_equal(send(fd, zero, sizeof(zero), 0), (ssize_t)sizeof(zero));
	run(e, 30);
	assert_true(is_closed(fd));
	close(fd);
	assert_int_equal(e->t.closed_bad, 1);
	/* 1: a datagram of one byte, handed over (the owner drops what does
	 * not parse), and the stream goes on. */
	fd = rclient(e, "127.0.0.2", 0);
	assert_int_equal(send(fd, one, sizeof(one), 0), (ssize_t)sizeof(one));
	run(e, 30);
	assert_int_equal(e->frames, 2);
	assert_int_equal(e->last_len, 6);
	assert_false(is_closed(fd));
	close(fd);
	/* 65535 and HELLO_MAX + 1 on a type that allows HELLO_MAX: closed as
	 * soon as the bytes show it is not STUN (0xFF at once, a differing
	 * byte 4 for the other) and the type byte is in: nothing buffered. */
	fd = rclient(e, "127.0.0.2", 0);
	assert_int_equal(send(fd, big, sizeof(big), 0), 3);
	run(e, 30);
	assert_true(is_closed(fd));
	close(fd);
	fd = rclient(e, "127.0.0.2", 0);
	assert_int_equal(send(fd, over, sizeof(over), 0), 5);
	run(e, 30);
	assert_true(is_closed(fd));
	close(fd);
	assert_int_equal(e->t.closed_bad, 3);
	/* 65535 where the type allows it (a relay frame with a session):
	 * delivered whole, then the big read buffer is given back. */
	a = rauthed(e, "127.0.0.3");
	assert_int_equal(rsend(a, T_BIG, 65535), 0);
	run(e, 100);
	assert_int_equal(e->last_len, 65535);
	assert_false(is_closed(a));
	assert_int_equal(e->t.n, 1);
	assert_int_equal(e->t.conns[0]->rcap, RDV_TCP_RBUF_MIN);
	/* The same frame without a session: closed. */
	fd = rclient(e, "127.0.0.4", 0);
	assert_int_equal(rsend(fd, T_BIG, 100), 0);
	run(e, 30);
	assert_true(is_closed(fd));
	close(fd);
	close(a);
	renv_close(e);
}

static void test_rdv_tcp_client_not_reading(void **state)
{
	struct rdv_tcp_limits lim = {.wfull_ms = 200};
	struct renv *e;
	static uint8_t frame[60000];
	size_t max_wcap = 0;
	uint64_t t0;
	int u, a, ok;

	(void)state;
	e = renv_open(&lim);
	/* Without a session: asks for echoes and never reads them. */
	u = rclient(e, "127.0.0.2", 4096);
	t0 = now_ms();
	ok = 1;
	while (ok && now_ms() - t0 < 5000 && e->t.closed_wfull == 0) {
		for (int i = 0; i < 16 && ok; i++)
			ok = rsend(u, T_ECHO, ECHO_MAX) == 0;
		run(e, 5);
		for (size_t i = 0; i < e->t.n; i++)
			if (e->t.conns[i]->wcap > max_wcap)
				max_wcap = e->t.conns[i]->wcap;
	}
	run(e, 20);
	assert_int_equal(e->t.closed_wfull, 1);
	assert_true(is_closed(u));
	assert_true(max_wcap <= RDV_TCP_WBUF_UNAUTH);
	assert_int_equal(e->t.n, 0);
	close(u);
	/* With a session: relay frames it does not read are dropped whole
	 * while the buffer is full, then it goes once nothing has drained for
	 * wfull_ms. */
	a = rauthed(e, "127.0.0.3");
	t0 = now_ms();
	max_wcap = 0;
	while (e->t.n == 1 && now_ms() - t0 < 5000) {
		struct rdv_tcp_conn *c = e->t.conns[0];

		rdv_tcp_send(&e->t, c, true, frame, sizeof(frame), now_ms());
		if (!c->dead && c->wcap > max_wcap)
			max_wcap = c->wcap;
		run(e, 5);
	}
	assert_int_equal(e->t.n, 0);
	assert_int_equal(e->t.closed_wfull, 2);
	assert_true(e->t.dropped_frames >= 1);
	assert_true(max_wcap <= RDV_TCP_WBUF_MAX);
	assert_true(now_ms() - t0 >= 200);
	close(a);
	renv_close(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tcp_connect_from_listen_port),
	    cmocka_unit_test(test_tcp_connect_result_refused),
	    cmocka_unit_test(test_tcp_simultaneous_open_loopback),
	    cmocka_unit_test(test_tcp_simultaneous_open_first_syn_lost),
	    cmocka_unit_test(test_tcp_connect_from_tuple_taken_by_accept),
	    cmocka_unit_test(test_tcp_conn_prefer_rule),
	    cmocka_unit_test(test_tcp_addr_equal),
	    cmocka_unit_test(test_tcp_conn_send_frame_larger_than_socket_buffer),
	    cmocka_unit_test(test_tcp_conn_send_frame_ring_full_drops),
	    cmocka_unit_test(test_tcp_conn_read_peer_closes),
	    cmocka_unit_test(test_tcp_conn_read_callback_stops),
	    cmocka_unit_test(test_tcp_conn_read_framing_violation),
	    cmocka_unit_test(test_tcp_conn_is_idle_slowloris),
	    cmocka_unit_test(test_tcp_conn_read_stun_over_tcp),
	    cmocka_unit_test(test_tcp_listen_ipv6_peer),
	    cmocka_unit_test(test_rdv_tcp_per_ip_cap),
	    cmocka_unit_test(test_rdv_tcp_eviction_spares_sessions),
	    cmocka_unit_test(test_rdv_tcp_session_deadline),
	    cmocka_unit_test(test_rdv_tcp_slowloris_and_silent),
	    cmocka_unit_test(test_rdv_tcp_length_prefixes),
	    cmocka_unit_test(test_rdv_tcp_client_not_reading),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
