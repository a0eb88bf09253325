/* Two daemons in one process, wired to each other through a fake network
 * (as wireguard-go's tuntest and bindtest): each gets a fake TUN (tun_ops)
 * and a fake UDP socket (udp_ops), both backed by in-memory queues with an
 * eventfd that the daemon's real epoll loop waits on, and the test drives
 * both loops with daemon_poll. Time is a fake clock (time_now_ms,
 * time_now_ns and the handshake's TAI64N timestamp are wrapped by the
 * linker, -Wl,--wrap in tests/CMakeLists.txt), so retries, keepalives and
 * probes run on the test's schedule without sleeping.
 *
 * Every datagram a daemon sends is recorded with its source and
 * destination before it is delivered, so the tests can look at what went
 * over the wire (probes, handshakes, where data went). A datagram to an
 * address no fake socket holds is lost, as on a network. The TCP listener
 * of each daemon is a real socket (all addresses) on the port number of its
 * fake UDP one; only the path test connects to it, over loopback.
 *
 * Cases: handshake and an IP packet each way arriving intact at the other
 * TUN; the inner source check; two probes on a path carry different bytes
 * and transaction ids and each opens under the pair's key; roaming (one
 * side's datagrams come from a new address: the other moves its path there
 * and sends there); reload of a changed config keeps the running session;
 * with UDP blocked the tunnel comes up over TCP, moves up to UDP once it
 * passes, back down to the TCP stream when UDP is blocked again (the UDP
 * path declared dead) and up again when it passes. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>
#include <sodium.h>

#include "sockaddr_fill.h"
#include "support/pkt.h"

#include "daemon/daemon.h"
#include "daemon/device.h"
#include "daemon/portmap.h"
#include "daemon/punch.h"
#include "daemon/rdv.h"
#include "daemon/receive.h"
#include "daemon/reload.h"
#include "punch/probe.h"
#include "rdvproto/proto.h"
#include "wire/wire.h"
#include "transport/udp.h"
#include "tun/tun.h"
#include "util/addr.h"
#include "util/be.h"
#include "util/log.h"

/* ---- the fake clock ---------------------------------------------------- */

static uint64_t fake_ms = 1000000;

uint64_t __wrap_time_now_ms(void);
uint64_t __wrap_time_now_ns(void);
void __wrap_hs_tai64n_now(uint8_t out[HS_TAI64N_LEN]);

uint64_t __wrap_time_now_ms(void)
{
	return fake_ms;
}

uint64_t __wrap_time_now_ns(void)
{
	return fake_ms * 1000000ull;
}

/* TAI64N from the fake clock: initiations a few fake milliseconds apart
 * must carry growing timestamps, as the wall clock gives a real daemon. */
void __wrap_hs_tai64n_now(uint8_t out[HS_TAI64N_LEN])
{
	uint64_t sec = 0x4000000000000000ull + 1700000000ull + fake_ms / 1000;
	uint32_t nsec = (uint32_t)(fake_ms % 1000) * 1000000u;

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(sec >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

/* ---- queues of frames -------------------------------------------------- */

struct frame {
	struct frame *next;
	struct sockaddr_storage from;
	size_t len;
	uint8_t data[];
};

struct fqueue {
	struct frame *head, *tail;
	unsigned n;
};

static void fq_push(struct fqueue *q, const void *data, size_t len,
		    const struct sockaddr_storage *from)
{
	struct frame *f = calloc(1, sizeof(*f) + len);

	assert_non_null(f);
	memcpy(f->data, data, len);
	f->len = len;
	if (from)
		f->from = *from;
	if (q->tail)
		q->tail->next = f;
	else
		q->head = f;
	q->tail = f;
	q->n++;
}

static struct frame *fq_pop(struct fqueue *q)
{
	struct frame *f = q->head;

	if (!f)
		return NULL;
	q->head = f->next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	return f;
}

static void fq_clear(struct fqueue *q)
{
	struct frame *f;

	while ((f = fq_pop(q)))
		free(f);
}

/* The eventfd is readable exactly while the queue holds something. */
static void efd_raise(int efd)
{
	uint64_t one = 1;

	assert_int_equal(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
}

static void efd_lower(int efd)
{
	uint64_t v;

	(void)!read(efd, &v, sizeof(v));
}

/* ---- the fake TUN ------------------------------------------------------ */

struct fake_tun {
	int efd;
	struct fqueue to_daemon;   /* packets "the kernel" hands the daemon */
	struct fqueue from_daemon; /* packets the daemon wrote */
	bool closed;
};

static ssize_t ftun_read(struct tun_dev *dev, uint8_t *buf, size_t len)
{
	struct fake_tun *t = dev->priv;
	struct frame *f = fq_pop(&t->to_daemon);
	size_t n;

	if (!t->to_daemon.n)
		efd_lower(t->efd);
	if (!f) {
		errno = EAGAIN;
		return -1;
	}
	n = f->len < len ? f->len : len;
	memcpy(buf, f->data, n);
	free(f);
	return (ssize_t)n;
}

static ssize_t ftun_write(struct tun_dev *dev, const uint8_t *buf, size_t len)
{
	struct fake_tun *t = dev->priv;

	fq_push(&t->from_daemon, buf, len, NULL);
	return (ssize_t)len;
}

static void ftun_close(struct tun_dev *dev)
{
	struct fake_tun *t = dev->priv;

	close(t->efd);
	t->efd = -1;
	fq_clear(&t->to_daemon);
	fq_clear(&t->from_daemon);
	t->closed = true;
	dev->fd = -1;
}

static const struct tun_ops fake_tun_ops = {
    .read = ftun_read,
    .write = ftun_write,
    .close = ftun_close,
};

/* ---- the fake network -------------------------------------------------- */

enum { NODES = 2, SENT_MAX = 8192 };

struct fake_net;

struct fake_sock {
	struct fake_net *net;
	int efd;
	struct sockaddr_storage addr; /* where it receives, and its source address */
	struct fqueue rx;
	bool closed;
};

/* One datagram as it went over the wire. */
struct sent {
	int from; /* node index */
	struct sockaddr_storage src, dst;
	bool delivered;
	size_t len;
	uint8_t *data;
};

struct fake_net {
	struct fake_sock *socks[NODES];
	struct sent *sent;
	size_t n_sent;
	/* Drops a datagram (before delivery; still recorded) when it returns
	 * true. */
	bool (*drop)(struct fake_net *net, int from, const uint8_t *data, size_t len);
	/* A PCP server at gw (gw_on): answers every MAP with success, the
	 * external address gw_external and the lifetime asked for. */
	bool gw_on;
	struct sockaddr_storage gw, gw_external;
	unsigned gw_maps, gw_deletes; /* MAP requests with lifetime > 0, = 0 */
};

/* The fake gateway's answer to a PCP MAP request (RFC 6887 sections 7.1,
 * 7.2 and 11.1): the request with the R bit, SUCCESS, the lifetime asked
 * for, an epoch, and the assigned external port and address. */
static void gw_answer(struct fake_net *net, struct fake_sock *s, const uint8_t *req, size_t len)
{
	uint8_t out[PCP_MAP_LEN];
	uint32_t lifetime;

	if (len != PCP_MAP_LEN || req[0] != PCP_VERSION || req[1] != PCP_OP_MAP)
		return;
	lifetime = be32_get(req + 4);
	if (lifetime)
		net->gw_maps++;
	else
		net->gw_deletes++;
	memcpy(out, req, sizeof(out));
	out[1] |= PCP_R_BIT;
	out[2] = 0;
	out[3] = PCP_SUCCESS;
	be32_put(out + 8, 1000 + net->gw_maps + net->gw_deletes); /* epoch, rising */
	memset(out + 12, 0, 12);
	be16_put(out + 42, addr_port(&net->gw_external));
	memcpy(out + 44, (const uint8_t[]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 12);
	memcpy(out + 56, &((const struct sockaddr_in *)&net->gw_external)->sin_addr, 4);
	fq_push(&s->rx, out, sizeof(out), &net->gw);
	efd_raise(s->efd);
}

static int node_of(struct fake_net *net, const struct fake_sock *s)
{
	for (int i = 0; i < NODES; i++)
		if (net->socks[i] == s)
			return i;
	return -1;
}

static int fudp_send_batch(struct udp_sock *us, struct udp_msg *msgs, unsigned n)
{
	struct fake_sock *s = us->priv;
	struct fake_net *net = s->net;
	int from = node_of(net, s);

	for (unsigned i = 0; i < n; i++) {
		struct sent *r;

		assert_true(net->n_sent < SENT_MAX);
		r = &net->sent[net->n_sent++];
		r->from = from;
		r->src = s->addr;
		r->dst = msgs[i].addr;
		r->len = msgs[i].len;
		r->data = malloc(msgs[i].len ? msgs[i].len : 1);
		assert_non_null(r->data);
		memcpy(r->data, msgs[i].data, msgs[i].len);
		if (net->drop && net->drop(net, from, msgs[i].data, msgs[i].len))
			continue;
		if (net->gw_on && addr_equal(&msgs[i].addr, &net->gw)) {
			gw_answer(net, s, msgs[i].data, msgs[i].len);
			r->delivered = true;
			continue;
		}
		for (int k = 0; k < NODES; k++) {
			struct fake_sock *to = net->socks[k];

			if (to && !to->closed && addr_equal(&to->addr, &msgs[i].addr)) {
				fq_push(&to->rx, msgs[i].data, msgs[i].len, &s->addr);
				efd_raise(to->efd);
				r->delivered = true;
			}
		}
	}
	return (int)n;
}

static int fudp_recv_batch(struct udp_sock *us, struct udp_msg *msgs, unsigned n)
{
	struct fake_sock *s = us->priv;
	unsigned got = 0;

	while (got < n && s->rx.n) {
		struct frame *f = fq_pop(&s->rx);

		/* A datagram larger than the buffer is dropped whole, as
		 * udp_recv_batch does with a truncated one. */
		if (f->len <= msgs[got].cap) {
			memcpy(msgs[got].data, f->data, f->len);
			msgs[got].len = f->len;
			msgs[got].addr = f->from;
			msgs[got].segment = 0;
			got++;
		}
		free(f);
	}
	if (!s->rx.n)
		efd_lower(s->efd);
	return (int)got;
}

static void fudp_close(struct udp_sock *us)
{
	struct fake_sock *s = us->priv;

	close(s->efd);
	s->efd = -1;
	fq_clear(&s->rx);
	s->closed = true;
}

static const struct udp_ops fake_udp_ops = {
    .recv_batch = fudp_recv_batch,
    .send_batch = fudp_send_batch,
    .close = fudp_close,
};

/* ---- two daemons ------------------------------------------------------- */

struct node {
	struct daemon *d;
	struct fake_tun tun;
	struct fake_sock sock;
	uint8_t priv[32], pub[32];
	uint16_t port;
	char conf[256], ctl[256];
	const char *ip;		 /* tunnel address */
	bool chacha_only;	 /* offer ChaCha20-Poly1305 alone (daemon_io.chacha_only) */
	bool portmap;		 /* ask the fake gateway (net.gw) for a port mapping */
	const char *iface_extra; /* more [interface] lines, or NULL */
};

struct pair {
	char dir[64];
	struct fake_net net;
	struct node n[NODES];
};

static const char *const tunnel_ip[NODES] = {"10.77.0.1", "10.77.0.2"};

static void keypair(struct node *n)
{
	randombytes_buf(n->priv, sizeof(n->priv));
	n->priv[0] &= 248;
	n->priv[31] = (uint8_t)((n->priv[31] & 127) | 64);
	assert_int_equal(crypto_scalarmult_base(n->pub, n->priv), 0);
}

static void b64(const uint8_t key[32], char *out, size_t cap)
{
	sodium_bin2base64(out, cap, key, 32, sodium_base64_VARIANT_ORIGINAL);
}

/* A TCP port that is free now: the fake UDP socket takes its number, and
 * the daemon's real TCP listener binds it. */
static uint16_t free_port(void)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin6_port);
}

/* Writes node i's config: its interface (its tunnel address, then
 * more_addresses: "" or ", a/n, ..."), then its peer (the other node),
 * then extra (more sections, or ""), with mtu and keepalive as given. */
static void write_conf(struct pair *P, int i, unsigned mtu, const char *more_addresses,
		       const char *extra)
{
	struct node *me = &P->n[i], *other = &P->n[1 - i];
	char priv[64], pub[64];
	FILE *f;
	int fd;

	b64(me->priv, priv, sizeof(priv));
	b64(other->pub, pub, sizeof(pub));
	fd = open(me->conf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f,
		"[interface]\n"
		"name = pair%d\n"
		"address = %s/24%s\n"
		"private_key = %s\n"
		"listen_port = %u\n"
		"mtu = %u\n"
		"keepalive = 5\n"
		"offload = no\n"
		"control_socket = %s\n"
		"log_level = %s\n"
		"%s"
		"\n[peer \"%s\"]\n"
		"public_key = %s\n"
		"allowed_ips = %s/32\n"
		"endpoint = 127.0.0.1:%u\n"
		"%s",
		i, me->ip, more_addresses, priv, me->port, mtu, me->ctl,
		getenv("PAIR_DEBUG") ? "debug" : "warn", me->iface_extra ? me->iface_extra : "",
		i ? "a" : "b", pub, other->ip, other->port, extra);
	assert_int_equal(fclose(f), 0);
}

static void node_start(struct pair *P, int i)
{
	struct node *n = &P->n[i];
	struct cfg_errors errs = {0};
	struct tun_dev tun = {0};
	struct udp_sock udp = {0};
	struct daemon_io io = {.tun = &tun,
			       .udp = &udp,
			       .no_signals = true,
			       .chacha_only = n->chacha_only,
			       .portmap_gateway = n->portmap ? &P->net.gw : NULL};

	n->d = calloc(1, sizeof(*n->d));
	assert_non_null(n->d);
	n->d->config_path = n->conf;
	if (!cfg_load_daemon(n->conf, &n->d->cfg, &errs)) {
		cfg_errors_print(&errs, stderr);
		fail_msg("config of node %d refused", i);
	}
	n->tun.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	n->sock.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(n->tun.efd >= 0 && n->sock.efd >= 0);
	n->sock.net = &P->net;
	sockaddr_fill(&n->sock.addr, "127.0.0.1", n->port);
	P->net.socks[i] = &n->sock;
	tun.ops = &fake_tun_ops;
	tun.fd = n->tun.efd;
	tun.priv = &n->tun;
	snprintf(tun.name, sizeof(tun.name), "pair%d", i);
	udp.ops = &fake_udp_ops;
	udp.fd = n->sock.efd;
	udp.family = AF_INET;
	udp.port = n->port;
	udp.priv = &n->sock;
	assert_int_equal(daemon_start_io(n->d, &io), 0);
}

static void node_stop(struct node *n)
{
	if (!n->d)
		return;
	daemon_stop(n->d);
	cfg_daemon_free(&n->d->cfg);
	free(n->d);
	n->d = NULL;
	assert_true(n->tun.closed);
	assert_true(n->sock.closed);
}

static int pair_setup(void **state)
{
	struct pair *P = calloc(1, sizeof(*P));

	assert_non_null(P);
	P->net.sent = calloc(SENT_MAX, sizeof(*P->net.sent));
	assert_non_null(P->net.sent);
	snprintf(P->dir, sizeof(P->dir), "/tmp/p2pvpn-pair.XXXXXX");
	assert_non_null(mkdtemp(P->dir));
	for (int i = 0; i < NODES; i++) {
		struct node *n = &P->n[i];

		keypair(n);
		n->ip = tunnel_ip[i];
		snprintf(n->conf, sizeof(n->conf), "%s/%c.conf", P->dir, 'a' + i);
		snprintf(n->ctl, sizeof(n->ctl), "%s/%c.sock", P->dir, 'a' + i);
	}
	/* Two free ports, different from each other. */
	P->n[0].port = free_port();
	do
		P->n[1].port = free_port();
	while (P->n[1].port == P->n[0].port);
	for (int i = 0; i < NODES; i++)
		write_conf(P, i, 1420, "", "");
	*state = P;
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *P = *state;

	for (int i = 0; i < NODES; i++) {
		node_stop(&P->n[i]);
		unlink(P->n[i].conf);
		unlink(P->n[i].ctl);
	}
	rmdir(P->dir);
	for (size_t i = 0; i < P->net.n_sent; i++)
		free(P->net.sent[i].data);
	free(P->net.sent);
	free(P);
	return 0;
}

/* Polls both daemons until neither has anything left to handle. */
static void settle(struct pair *P)
{
	for (int round = 0; round < 10000; round++) {
		int busy = 0;

		for (int i = 0; i < NODES; i++) {
			int r = daemon_poll(P->n[i].d, 0);

			assert_true(r >= 0);
			busy += r;
		}
		if (!busy)
			return;
	}
	fail_msg("the daemons never went idle");
}

/* Runs both daemons for ms of fake time, in steps of 10 ms. */
static void run_for(struct pair *P, unsigned ms)
{
	uint64_t end = fake_ms + ms;

	for (;;) {
		settle(P);
		if (fake_ms >= end)
			return;
		fake_ms += end - fake_ms < 10 ? end - fake_ms : 10;
	}
}

static void pair_start(struct pair *P)
{
	for (int i = 0; i < NODES; i++)
		node_start(P, i);
}

static struct peer *peer_of(struct pair *P, int i)
{
	assert_int_equal(P->n[i].d->n_peers >= 1, 1);
	return P->n[i].d->peers[0];
}

static bool up(struct pair *P, int i)
{
	return sess_peer_send_keypair(&peer_of(P, i)->sess, fake_ms) != NULL;
}

/* An IPv4/UDP packet src_ip:12345 -> dst_ip:9 carrying text. */
static size_t make_packet(uint8_t *buf, const char *src_ip, const char *dst_ip, const char *text)
{
	return pkt_udp4(buf, src_ip, 12345, dst_ip, 9, text, strlen(text));
}

/* Hands a packet to node i's TUN as if the host had routed it there. */
static void tun_inject(struct pair *P, int i, const uint8_t *pkt, size_t len)
{
	fq_push(&P->n[i].tun.to_daemon, pkt, len, NULL);
	efd_raise(P->n[i].tun.efd);
}

/* Sends text from node i to the other node through the tunnel and checks
 * that exactly that packet came out of the other's TUN. Over a real TCP
 * stream (tcp) loopback needs a little real time per step to carry it. */
static void check_crossing(struct pair *P, int i, const char *text, bool tcp)
{
	struct fake_tun *out = &P->n[1 - i].tun;
	uint8_t pkt[256];
	size_t len = make_packet(pkt, P->n[i].ip, P->n[1 - i].ip, text);
	struct frame *f;

	fq_clear(&out->from_daemon);
	tun_inject(P, i, pkt, len);
	if (tcp) {
		for (int k = 0; k < 200 && !out->from_daemon.n; k++) {
			run_for(P, 1);
			usleep(200);
		}
		run_for(P, 10);
	} else {
		run_for(P, 50);
	}
	assert_int_equal(out->from_daemon.n, 1);
	f = fq_pop(&out->from_daemon);
	assert_int_equal(f->len, len);
	assert_memory_equal(f->data, pkt, len);
	free(f);
}

static void check_packet_crosses(struct pair *P, int i, const char *text)
{
	check_crossing(P, i, text, false);
}

/* Starts both daemons and lets them run for 1 s of fake time, within which
 * the handshake completes: both have a session. */
static void pair_up(struct pair *P)
{
	pair_start(P);
	run_for(P, 1000);
	assert_true(up(P, 0));
	assert_true(up(P, 1));
}

/* Runs both daemons in 10 ms steps (with sleep_us of real time after each,
 * for real sockets) until done(P) holds, at most steps times; returns the
 * steps taken (steps when done never held). */
static int run_until(struct pair *P, bool (*done)(struct pair *P), int steps, unsigned sleep_us)
{
	int k;

	for (k = 0; k < steps && !done(P); k++) {
		run_for(P, 10);
		if (sleep_us)
			usleep(sleep_us);
	}
	return k;
}

static unsigned count_sent(struct pair *P, size_t from_index, int node, unsigned type)
{
	unsigned n = 0;

	for (size_t k = from_index; k < P->net.n_sent; k++)
		n += P->net.sent[k].from == node &&
		     wire_type_of(P->net.sent[k].data, P->net.sent[k].len) == type;
	return n;
}

/* ---- cases ------------------------------------------------------------- */

static void test_handshake_and_data(void **state)
{
	struct pair *P = *state;

	pair_start(P);
	assert_false(up(P, 0));
	assert_false(up(P, 1));
	run_for(P, 1000);
	assert_true(up(P, 0));
	assert_true(up(P, 1));
	assert_true(count_sent(P, 0, 0, WIRE_HANDSHAKE_INIT) +
			count_sent(P, 0, 1, WIRE_HANDSHAKE_INIT) >=
		    1);
	check_packet_crosses(P, 0, "hello from a");
	check_packet_crosses(P, 1, "hello from b");
	/* Data went as data packets over the fake network, A to B's socket. */
	assert_true(count_sent(P, 0, 0, WIRE_DATA) >= 1);
	assert_true(count_sent(P, 0, 1, WIRE_DATA) >= 1);
	assert_int_equal(P->n[0].d->drops[DROP_DATA_INVALID], 0);
	assert_int_equal(P->n[1].d->drops[DROP_INNER_SOURCE], 0);
}

/* A's source check: a packet from B whose inner source is not B's is
 * dropped, not written to A's TUN. */
static void test_inner_source_checked(void **state)
{
	struct pair *P = *state;
	uint8_t pkt[256];
	size_t len;

	pair_up(P);
	len = make_packet(pkt, "10.77.0.99", P->n[0].ip, "spoofed");
	/* B routes 10.77.0.1 to A whatever the source says. */
	tun_inject(P, 1, pkt, len);
	run_for(P, 50);
	assert_int_equal(P->n[0].tun.from_daemon.n, 0);
	assert_int_equal(P->n[0].d->drops[DROP_INNER_SOURCE], 1);
}

static bool drop_all_from_b(struct fake_net *net, int from, const uint8_t *data, size_t len)
{
	return from == 1;
}

/* Probes are built in the tx slot they leave from: two sent on a path are
 * two different datagrams (a random nonce and their own tx_id each), and
 * each one opens under the pair's key. A probe built in a stack buffer and
 * sent after its function returned carried whatever was there last. */
static void test_probes_differ(void **state)
{
	struct pair *P = *state;
	struct probe_payload pl[64];
	const struct sent *probes[64];
	unsigned n = 0;

	/* Nothing from B reaches A (no probe reply, no handshake): A's probe
	 * requests to B's endpoint keep coming, every 200 ms at first. */
	P->net.drop = drop_all_from_b;
	pair_start(P);
	run_for(P, 1500);
	for (size_t k = 0; k < P->net.n_sent && n < 64; k++) {
		const struct sent *s = &P->net.sent[k];

		if (s->from != 0 || wire_type_of(s->data, s->len) != WIRE_PROBE)
			continue;
		assert_true(addr_equal(&s->dst, &P->n[1].sock.addr));
		assert_int_equal(s->len, PROBE_LEN);
		/* B's key of the pair opens what A sent. */
		assert_true(probe_open(&peer_of(P, 1)->pkey, s->data, s->len, &pl[n]));
		probes[n++] = s;
	}
	assert_true(n >= 2);
	for (unsigned a = 0; a < n; a++)
		for (unsigned b = a + 1; b < n; b++) {
			assert_memory_not_equal(probes[a]->data, probes[b]->data, PROBE_LEN);
			assert_true(pl[a].tx_id != pl[b].tx_id);
		}
	assert_int_equal(pl[0].kind, PROBE_REQUEST);
}

/* B's datagrams start coming from a new address (it roamed): A moves its
 * path to B there once a packet from it is authenticated, and what A sends
 * later goes there (the old address is gone: nothing would arrive). */
static void test_roaming(void **state)
{
	struct pair *P = *state;
	struct sockaddr_storage old_b, new_b;
	size_t mark;

	pair_up(P);
	old_b = P->n[1].sock.addr;
	assert_int_equal(peer_of(P, 0)->path.kind, PATH_UDP);
	assert_true(addr_equal(&peer_of(P, 0)->path.addr, &old_b));

	sockaddr_fill(&new_b, "127.0.0.2", 40000);
	P->n[1].sock.addr = new_b;
	/* Nothing came from the new address yet: A's path stays. */
	assert_true(addr_equal(&peer_of(P, 0)->path.addr, &old_b));
	check_packet_crosses(P, 1, "b after roaming");
	assert_true(addr_equal(&peer_of(P, 0)->path.addr, &new_b));

	mark = P->net.n_sent;
	check_packet_crosses(P, 0, "a to the new address");
	for (size_t k = mark; k < P->net.n_sent; k++)
		if (P->net.sent[k].from == 0 &&
		    wire_type_of(P->net.sent[k].data, P->net.sent[k].len) == WIRE_DATA)
			assert_true(addr_equal(&P->net.sent[k].dst, &new_b));
	/* Later traffic keeps going there: keepalives and heartbeats for a
	 * while, then one more packet. */
	run_for(P, 12000);
	check_packet_crosses(P, 0, "a later");
	assert_true(addr_equal(&peer_of(P, 0)->path.addr, &new_b));
}

/* A reload with a changed MTU, one more address and one more peer: applied
 * (recorded by iface.c for a TUN without kernel interface), and the
 * unchanged peer keeps its session: no new handshake, same keypair. */
static void test_reload_keeps_session(void **state)
{
	struct pair *P = *state;
	struct daemon *a;
	struct peer *b_before;
	struct sess_keypair *kp_before;
	uint8_t cpub[32], cpriv[32];
	char extra[256], cpub64[64];
	size_t routes_before, mark;

	pair_up(P);
	a = P->n[0].d;
	assert_int_equal(a->iface.mtu, 1420);
	assert_true(a->iface.up);
	b_before = peer_of(P, 0);
	kp_before = sess_peer_send_keypair(&b_before->sess, fake_ms);
	routes_before = a->iface.n_routes;

	randombytes_buf(cpriv, sizeof(cpriv));
	assert_int_equal(crypto_scalarmult_base(cpub, cpriv), 0);
	b64(cpub, cpub64, sizeof(cpub64));
	snprintf(extra, sizeof(extra),
		 "\n[peer \"c\"]\npublic_key = %s\nallowed_ips = 10.79.0.3/32\n", cpub64);
	write_conf(P, 0, 1380, ", 10.78.0.1/24", extra);
	mark = P->net.n_sent;
	daemon_reload(a);

	assert_int_equal(a->cfg.mtu, 1380);
	assert_int_equal(a->iface.mtu, 1380);
	assert_int_equal(a->cfg.n_addresses, 2);
	assert_int_equal(a->n_peers, 2);
	assert_int_equal(a->iface.n_routes, routes_before + 1); /* c's, outside the addresses */
	assert_ptr_equal(a->peers[0], b_before);
	assert_string_equal(a->peers[1]->name, "c");
	assert_ptr_equal(sess_peer_send_keypair(&b_before->sess, fake_ms), kp_before);

	check_packet_crosses(P, 0, "after reload");
	check_packet_crosses(P, 1, "back after reload");
	assert_int_equal(count_sent(P, mark, 0, WIRE_HANDSHAKE_INIT), 0);
	assert_int_equal(count_sent(P, mark, 1, WIRE_HANDSHAKE_INIT), 0);

	/* A bad file changes nothing. */
	{
		FILE *f = fopen(P->n[0].conf, "a");

		assert_non_null(f);
		fputs("this is = [not valid\n", f);
		fclose(f);
	}
	daemon_reload(a);
	assert_int_equal(a->cfg.mtu, 1380);
	assert_int_equal(a->n_peers, 2);
	assert_ptr_equal(a->peers[0], b_before);
}

static bool block_udp;

static bool drop_when_blocked(struct fake_net *net, int from, const uint8_t *data, size_t len)
{
	return block_udp;
}

/* What the rendezvous would tell node i about the other node: its
 * addresses for UDP and TCP (the other's socket and listener, on
 * loopback). */
static void introduce(struct pair *P, int i)
{
	struct rdv_introduce in;
	struct node *other = &P->n[1 - i];

	memset(&in, 0, sizeof(in));
	in.nat_mapping = RDV_MAPPING_INDEPENDENT;
	memcpy(in.public_key, other->pub, 32);
	sockaddr_fill(&in.udp_reflexive, "127.0.0.1", other->port);
	sockaddr_fill(&in.tcp_reflexive, "127.0.0.1", other->port);
	peer_on_introduce(P->n[i].d, peer_of(P, i), &in, fake_ms);
}

static bool on_tcp(struct pair *P, int i)
{
	return peer_of(P, i)->path.kind == PATH_TCP && peer_of(P, i)->punch.path == PUNCH_PATH_TCP;
}

static bool on_udp(struct pair *P, int i)
{
	return peer_of(P, i)->path.kind == PATH_UDP && peer_of(P, i)->punch.path == PUNCH_PATH_UDP;
}

static bool both_up(struct pair *P)
{
	return up(P, 0) && up(P, 1);
}

static bool a_path_udp(struct pair *P)
{
	return peer_of(P, 0)->path.kind == PATH_UDP;
}

static bool both_on_tcp(struct pair *P)
{
	return on_tcp(P, 0) && on_tcp(P, 1);
}

static bool both_on_udp(struct pair *P)
{
	return on_udp(P, 0) && on_udp(P, 1);
}

/* UDP between the two is blocked: the path engine falls back to a TCP
 * stream (real sockets on loopback: the daemons' own listeners), the
 * tunnel comes up over it and carries data (nothing crosses the fake UDP
 * network meanwhile). UDP unblocked: the engine's probes find it and the
 * path moves up to UDP, which carries the data from then on. UDP blocked
 * again: the heartbeats go unanswered, the engine declares the UDP path
 * dead and both daemons move down to the TCP stream, still open, which
 * carries the data both ways (none goes to UDP). UDP unblocked once more:
 * up to UDP again. */
static void test_path_tcp_then_udp(void **state)
{
	struct pair *P = *state;
	size_t mark;
	int k;

	block_udp = true;
	P->net.drop = drop_when_blocked;
	pair_start(P);
	introduce(P, 0);
	introduce(P, 1);
	/* Real TCP: a little real time per step for the loopback handshakes. */
	run_until(P, both_up, 1000, 200);
	assert_true(up(P, 0) && up(P, 1));
	assert_int_equal(peer_of(P, 0)->path.kind, PATH_TCP);
	assert_int_equal(peer_of(P, 1)->path.kind, PATH_TCP);
	for (size_t j = 0; j < P->net.n_sent; j++)
		assert_false(P->net.sent[j].delivered);
	check_packet_crosses(P, 0, "a over tcp");
	check_packet_crosses(P, 1, "b over tcp");

	block_udp = false;
	run_until(P, a_path_udp, 2000, 0);
	assert_int_equal(peer_of(P, 0)->path.kind, PATH_UDP);
	assert_int_equal(peer_of(P, 0)->punch.path, PUNCH_PATH_UDP);
	mark = P->net.n_sent;
	check_packet_crosses(P, 0, "a over udp");
	check_packet_crosses(P, 1, "b over udp");
	assert_true(count_sent(P, mark, 0, WIRE_DATA) >= 1);
	assert_true(count_sent(P, mark, 1, WIRE_DATA) >= 1);

	/* UDP blocked again: each side's engine declares the UDP path dead
	 * (three heartbeats of 5 s unanswered: within 30 s) and the peer
	 * moves down to the TCP stream, still open. */
	block_udp = true;
	k = run_until(P, both_on_tcp, 6000, 100);
	assert_true(k < 3000);
	for (int i = 0; i < NODES; i++) {
		assert_int_equal(peer_of(P, i)->path.kind, PATH_TCP);
		assert_int_equal(peer_of(P, i)->punch.path, PUNCH_PATH_TCP);
		assert_non_null(peer_of(P, i)->path.conn);
	}
	/* Data crosses over it both ways, and nothing goes into the dead UDP
	 * path any more. */
	mark = P->net.n_sent;
	check_crossing(P, 0, "a over tcp again", true);
	check_crossing(P, 1, "b over tcp again", true);
	assert_int_equal(count_sent(P, mark, 0, WIRE_DATA), 0);
	assert_int_equal(count_sent(P, mark, 1, WIRE_DATA), 0);

	/* UDP back: the probes on the stream's side find it, up again. */
	block_udp = false;
	run_until(P, both_on_udp, 2000, 0);
	assert_true(on_udp(P, 0) && on_udp(P, 1));
	mark = P->net.n_sent;
	check_packet_crosses(P, 0, "a over udp again");
	check_packet_crosses(P, 1, "b over udp again");
	assert_true(count_sent(P, mark, 0, WIRE_DATA) >= 1);
	assert_true(count_sent(P, mark, 1, WIRE_DATA) >= 1);
}

/* The data cipher both daemons agreed in the handshake. */
static enum sess_cipher cipher_of(struct pair *P, int i)
{
	struct sess_keypair *kp = sess_peer_send_keypair(&peer_of(P, i)->sess, fake_ms);

	assert_non_null(kp);
	return kp->cipher;
}

/* Starts both daemons and checks that they agreed on want, that both send
 * with it and that data crosses both ways without a bad packet. */
static void check_cipher_agreed(struct pair *P, enum sess_cipher want)
{
	pair_start(P);
	run_for(P, 1000);
	assert_true(up(P, 0) && up(P, 1));
	assert_int_equal(cipher_of(P, 0), want);
	assert_int_equal(cipher_of(P, 1), want);
	check_packet_crosses(P, 0, "data from a");
	check_packet_crosses(P, 1, "data from b");
	assert_int_equal(P->n[0].d->drops[DROP_DATA_INVALID], 0);
	assert_int_equal(P->n[1].d->drops[DROP_DATA_INVALID], 0);
}

/* Both offer AES-256-GCM (this CPU has AES-NI): both send with it. */
static void test_data_cipher_aes(void **state)
{
	if (!sess_cipher_aes256gcm_available())
		skip();
	check_cipher_agreed(*state, SESS_CIPHER_AES256GCM);
}

/* One side offers ChaCha20-Poly1305 alone (no AES-NI, or asked to): both
 * fall back to it. */
static void check_cipher_fallback(struct pair *P, int only)
{
	P->n[only].chacha_only = true;
	check_cipher_agreed(P, SESS_CIPHER_CHACHA20POLY1305);
}

static void test_data_cipher_fallback_a(void **state)
{
	check_cipher_fallback(*state, 0);
}

static void test_data_cipher_fallback_b(void **state)
{
	check_cipher_fallback(*state, 1);
}

static bool a_mapped(struct pair *P)
{
	return portmap_external(P->n[0].d) != NULL;
}

/* The external address A's host candidates start with (portmap.c). */
static void check_first_candidate(struct pair *P, const struct sockaddr_storage *want)
{
	struct rdv_register reg;

	rdv_client_host_candidates(P->n[0].d, &reg);
	if (!want) {
		for (size_t k = 0; k < reg.n_host; k++)
			assert_false(addr_equal(&reg.host[k], &P->net.gw_external));
		return;
	}
	assert_true(reg.n_host >= 1);
	assert_true(addr_equal(&reg.host[0], want));
}

/* portmap = yes with a gateway that speaks PCP: A asks from its UDP socket
 * for its own port, gets the mapping, offers it as its first candidate and
 * shows it; the tunnel is unaffected. A reload with portmap = no deletes
 * it at the gateway; one with yes maps again; the daemon's stop deletes it
 * before its socket closes. B (portmap = yes, no gateway) asks nobody. */
static void test_portmap_maps_and_deletes(void **state)
{
	struct pair *P = *state;
	struct daemon *a;
	char text[PM_DESCRIBE_LEN];
	const struct sent *req = NULL;

	sockaddr_fill(&P->net.gw, "127.0.0.9", PCP_SERVER_PORT);
	sockaddr_fill(&P->net.gw_external, "198.51.100.50", 40000);
	P->net.gw_on = true;
	P->n[0].portmap = true;
	pair_up(P);
	a = P->n[0].d;
	assert_true(run_until(P, a_mapped, 100, 0) < 100);
	assert_true(addr_equal(portmap_external(a), &P->net.gw_external));
	assert_int_equal(P->net.gw_maps, 1);
	for (size_t k = 0; k < P->net.n_sent; k++)
		if (addr_equal(&P->net.sent[k].dst, &P->net.gw))
			req = &P->net.sent[k];
	assert_non_null(req);
	assert_int_equal(req->from, 0); /* B has no gateway: it asks nobody */
	assert_int_equal(be16_get(req->data + 40), P->n[0].port); /* the internal port: ours */
	portmap_describe(a, fake_ms, text, sizeof(text));
	/* Half the 7200 s asked for, less the few ms since the answer. */
	assert_string_equal(text, "pcp 198.51.100.50:40000, renews in 3599 s");
	portmap_describe(P->n[1].d, fake_ms, text, sizeof(text));
	assert_string_equal(text, "no IPv4 default gateway");
	check_first_candidate(P, &P->net.gw_external);
	check_packet_crosses(P, 0, "mapped");

	/* portmap = no: deleted (a MAP with lifetime 0, answered), no
	 * candidate, the session kept. */
	P->n[0].iface_extra = "portmap = no\n";
	write_conf(P, 0, 1420, "", "");
	daemon_reload(a);
	assert_null(portmap_external(a));
	run_for(P, 100);
	assert_int_equal(P->net.gw_deletes, 1);
	assert_int_equal(a->pm.retiring.state, PM_OFF);
	portmap_describe(a, fake_ms, text, sizeof(text));
	assert_string_equal(text, "off");
	check_first_candidate(P, NULL);
	check_packet_crosses(P, 0, "unmapped");

	/* Back on: mapped again; the stop deletes it. */
	P->n[0].iface_extra = NULL;
	write_conf(P, 0, 1420, "", "");
	daemon_reload(a);
	assert_true(run_until(P, a_mapped, 100, 0) < 100);
	assert_int_equal(P->net.gw_maps, 2);
	node_stop(&P->n[0]);
	assert_int_equal(P->net.gw_deletes, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_handshake_and_data, pair_setup, pair_teardown),
	    cmocka_unit_test_setup_teardown(test_inner_source_checked, pair_setup, pair_teardown),
	    cmocka_unit_test_setup_teardown(test_probes_differ, pair_setup, pair_teardown),
	    cmocka_unit_test_setup_teardown(test_roaming, pair_setup, pair_teardown),
	    cmocka_unit_test_setup_teardown(test_reload_keeps_session, pair_setup, pair_teardown),
	    cmocka_unit_test_setup_teardown(test_path_tcp_then_udp, pair_setup, pair_teardown),
	    cmocka_unit_test_setup_teardown(test_data_cipher_aes, pair_setup, pair_teardown),
	    cmocka_unit_test_setup_teardown(test_data_cipher_fallback_a, pair_setup, pair_teardown),
	    cmocka_unit_test_setup_teardown(test_data_cipher_fallback_b, pair_setup, pair_teardown),
	    cmocka_unit_test_setup_teardown(test_portmap_maps_and_deletes, pair_setup,
					    pair_teardown),
	};

	if (sodium_init() < 0)
		return 1;
	log_open("test_daemon_pair", true);
	log_set_level(getenv("PAIR_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
