/* End-to-end tests of p2pvpn-rendezvous's server, run in this process on
 * 127.0.0.1 (one on 0.0.0.0 with alternate_address 127.0.0.2, traffic on
 * loopback only): real sockets, the real event loop (one turn at a time), and
 * peers made of the same handshake and session code as p2pvpnd
 * (support/rdv_sim.h). Each test drives one exchange and also checks what
 * must not happen: no answer to a key that is not admitted, to a replay, to
 * a forged packet or to a relay frame from a stranger; connections closed
 * for framing violations and slow senders. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/keys.h"
#include "rdvproto/proto.h"
#include "rendezvous/server.h"
#include "stun/stun.h"
#include "support/rdv_sim.h"
#include "util/addr.h"
#include "util/time.h"
#include "wire/wire.h"

enum {
	NO_ANSWER_MS = 150,
	FRAME_MS = 300, /* the test server's TCP time limits */
	BUF = 2048,
};

struct peer {
	struct rdv_sim sim;
	uint8_t priv[32], pub[32];
	int fd; /* UDP, or a connected TCP socket */
	bool tcp;
	struct sockaddr_storage addr; /* the socket's own address */
	uint32_t relay_id;
};

struct env {
	struct rdv_server srv;
	uint8_t srv_priv[32], srv_pub[32];
	uint16_t port;
	char path[64];
	struct peer a, b, c; /* a and b are listed in the config, c is not */
	bool wild;	     /* listen = 0.0.0.0, alternate_address = 127.0.0.2 */
};

/* ---- plumbing ---- */

static void b64(const uint8_t key[32], char out[KEY_B64_LEN + 1])
{
	key_to_base64(key, out);
}

static void write_config(struct env *e, bool list_b, bool open)
{
	char s[KEY_B64_LEN + 1], a[KEY_B64_LEN + 1], b[KEY_B64_LEN + 1];
	FILE *f = fopen(e->path, "w");

	assert_non_null(f);
	/* It holds the key inline: the loader refuses it unless it is private. */
	assert_int_equal(fchmod(fileno(f), 0600), 0);
	b64(e->srv_priv, s);
	b64(e->a.pub, a);
	b64(e->b.pub, b);
	fprintf(f,
		"[rendezvous]\nlisten = %s:%u\n%sprivate_key = %s\nopen = %s\n\n"
		"[peer \"alice\"]\npublic_key = %s\n",
		e->wild ? "0.0.0.0" : "127.0.0.1", e->port,
		e->wild ? "alternate_address = 127.0.0.2\n" : "", s, open ? "yes" : "no", a);
	if (list_b)
		fprintf(f, "[peer \"bob\"]\npublic_key = %s\n", b);
	fclose(f);
}

static void make_peer(struct peer *p)
{
	memset(p, 0, sizeof(*p));
	key_generate(p->priv);
	assert_true(key_public(p->priv, p->pub));
	p->fd = -1;
}

static void server_addr(const struct env *e, struct sockaddr_in *sin, uint16_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* 127.0.0.1 (ip 1) or the wildcard server's alternate 127.0.0.2 (ip 2). */
static void send_to_ip(struct env *e, int fd, uint8_t ip, uint16_t port, const void *data,
		       size_t len)
{
	struct sockaddr_in sin;

	server_addr(e, &sin, port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK - 1 + ip);
	assert_int_equal(sendto(fd, data, len, 0, (struct sockaddr *)&sin, sizeof(sin)),
			 (ssize_t)len);
	for (int i = 0; i < 4; i++)
		assert_int_equal(rdv_server_run_once(&e->srv, 10), 0);
}

static int udp_socket(struct sockaddr_storage *bound)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(*bound);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	memset(bound, 0, sizeof(*bound));
	assert_int_equal(getsockname(fd, (struct sockaddr *)bound, &len), 0);
	return fd;
}

static int tcp_socket(const struct env *e, struct sockaddr_storage *bound)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(*bound);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	server_addr(e, &sin, e->port);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	memset(bound, 0, sizeof(*bound));
	assert_int_equal(getsockname(fd, (struct sockaddr *)bound, &len), 0);
	return fd;
}

/* One turn of the server's loop: what is waiting gets handled. */
static void pump(struct env *e)
{
	for (int i = 0; i < 4; i++)
		assert_int_equal(rdv_server_run_once(&e->srv, 10), 0);
}

static void send_to(struct env *e, int fd, uint16_t port, const void *data, size_t len)
{
	struct sockaddr_in sin;

	server_addr(e, &sin, port);
	assert_int_equal(sendto(fd, data, len, 0, (struct sockaddr *)&sin, sizeof(sin)),
			 (ssize_t)len);
	pump(e);
}

/* A datagram within ms (the server is pumped meanwhile), else -1. */
static ssize_t recv_within(struct env *e, int fd, uint8_t *buf, size_t cap, int ms,
			   struct sockaddr_storage *from)
{
	uint64_t end = time_now_ms() + (uint64_t)ms;

	while (time_now_ms() < end) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		socklen_t len = sizeof(*from);

		pump(e);
		if (poll(&pfd, 1, 10) == 1)
			return recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &len);
	}
	return -1;
}

/* ---- TCP framing ---- */

static void send_frame(struct env *e, struct peer *p, const uint8_t *data, size_t len)
{
	uint8_t buf[2 + BUF];

	buf[0] = (uint8_t)(len >> 8);
	buf[1] = (uint8_t)len;
	memcpy(buf + 2, data, len);
	assert_int_equal(send(p->fd, buf, len + 2, 0), (ssize_t)(len + 2));
	pump(e);
}

/* Reads exactly n bytes within the deadline; false on EOF or timeout. */
static bool read_exact(struct env *e, int fd, uint8_t *buf, size_t n, uint64_t end)
{
	size_t got = 0;

	while (got < n && time_now_ms() < end) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t r;

		pump(e);
		if (poll(&pfd, 1, 10) != 1)
			continue;
		r = recv(fd, buf + got, n - got, 0);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return got == n;
}

static ssize_t recv_frame(struct env *e, struct peer *p, uint8_t *buf, size_t cap, int ms)
{
	uint64_t end = time_now_ms() + (uint64_t)ms;
	uint8_t pre[2];
	size_t len;

	if (!read_exact(e, p->fd, pre, 2, end))
		return -1;
	len = (size_t)(pre[0] << 8 | pre[1]);
	if (len > cap || !read_exact(e, p->fd, buf, len, end))
		return -1;
	return (ssize_t)len;
}

/* True when the server closed the connection within ms. */
static bool closed_within(struct env *e, int fd, int ms)
{
	uint64_t end = time_now_ms() + (uint64_t)ms;

	while (time_now_ms() < end) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint8_t b[256];

		pump(e);
		if (poll(&pfd, 1, 10) == 1) {
			ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);

			if (r == 0 || (r < 0 && errno == ECONNRESET))
				return true;
		}
	}
	return false;
}

/* ---- peers ---- */

static void peer_send(struct env *e, struct peer *p, const uint8_t *data, size_t len)
{
	if (p->tcp)
		send_frame(e, p, data, len);
	else
		send_to(e, p->fd, e->port, data, len);
}

static ssize_t peer_recv(struct env *e, struct peer *p, uint8_t *buf, size_t cap, int ms)
{
	struct sockaddr_storage from;

	return p->tcp ? recv_frame(e, p, buf, cap, ms) : recv_within(e, p->fd, buf, cap, ms, &from);
}

static void peer_open(struct env *e, struct peer *p, bool tcp)
{
	assert_int_equal(rdv_sim_init(&p->sim, p->priv, e->srv_pub), 0);
	p->tcp = tcp;
	p->fd = tcp ? tcp_socket(e, &p->addr) : udp_socket(&p->addr);
	pump(e);
}

static void peer_close(struct peer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	rdv_sim_cleanup(&p->sim);
}

/* Handshake and first keepalive: true when the server answered. */
static bool handshake(struct env *e, struct peer *p)
{
	uint8_t init[WIRE_INIT_LEN], buf[BUF], ka[64];
	ssize_t n;
	size_t len;

	assert_int_equal(rdv_sim_initiation(&p->sim, init), 0);
	peer_send(e, p, init, sizeof(init));
	n = peer_recv(e, p, buf, sizeof(buf), NO_ANSWER_MS * 2);
	if (n < 0)
		return false;
	assert_int_equal(rdv_sim_response(&p->sim, buf, (size_t)n, time_now_ms()), 0);
	assert_int_equal(rdv_sim_seal(&p->sim, NULL, 0, ka, sizeof(ka), &len, time_now_ms()), 0);
	peer_send(e, p, ka, len);
	return true;
}

static void send_signal(struct env *e, struct peer *p, const uint8_t *msg, size_t len)
{
	uint8_t pkt[BUF];
	size_t plen;

	assert_int_equal(rdv_sim_seal(&p->sim, msg, len, pkt, sizeof(pkt), &plen, time_now_ms()),
			 0);
	peer_send(e, p, pkt, plen);
}

/* The next signalling message for p: its type, the plaintext in *inner. */
static unsigned recv_signal(struct env *e, struct peer *p, uint8_t *buf, uint8_t **inner,
			    size_t *inner_len)
{
	ssize_t n = peer_recv(e, p, buf, BUF, NO_ANSWER_MS * 2);

	if (n < 0)
		return 0;
	if (rdv_sim_open(&p->sim, buf, (size_t)n, time_now_ms(), inner, inner_len) < 0)
		return 0;
	return rdv_msg_type_of(*inner, *inner_len);
}

static void do_register(struct env *e, struct peer *p)
{
	struct rdv_register reg = {.nat_mapping = RDV_MAPPING_INDEPENDENT, .n_host = 2};
	struct sockaddr_storage refl;
	uint8_t msg[BUF], buf[BUF], *inner;
	size_t len, inner_len;

	reg.host[0] = p->addr;
	((struct sockaddr_in *)&reg.host[1])->sin_family = AF_INET; /* 127.0.0.2: refused */
	((struct sockaddr_in *)&reg.host[1])->sin_port = htons(9);
	((struct sockaddr_in *)&reg.host[1])->sin_addr.s_addr = htonl(0x7f000002);
	reg.host[0].ss_family = AF_INET;
	((struct sockaddr_in *)&reg.host[0])->sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1 */
	len = rdv_encode_register(&reg, msg, sizeof(msg));
	assert_true(len > 0);
	send_signal(e, p, msg, len);
	assert_int_equal(recv_signal(e, p, buf, &inner, &inner_len), RDV_REGISTERED);
	assert_true(rdv_decode_registered(inner, inner_len, &p->relay_id, &refl));
	assert_int_not_equal(p->relay_id, 0);
	/* The reflexive address is where the packet came from. */
	assert_memory_equal(&((struct sockaddr_in *)&refl)->sin_port,
			    &((struct sockaddr_in *)&p->addr)->sin_port, 2);
}

/* ---- fixtures ---- */

/* Tags frame (its datagram already in place after the header) for relay
 * id id on p's session with the rendezvous, as p2pvpnd does. */
static void relay_seal(struct peer *p, uint8_t *frame, size_t len, uint32_t id)
{
	uint64_t now = time_now_ms();
	struct sess_keypair *kp = sess_peer_send_keypair(&p->sim.sess, now);

	assert_non_null(kp);
	assert_int_equal(rdv_relay_seal(frame, len, id, kp, now), 0);
}

/* Parses a frame the rendezvous sent p and checks its tag on p's session. */
static bool relay_open(struct peer *p, uint8_t *buf, size_t len, uint32_t *id,
		       const uint8_t **inner, size_t *inner_len)
{
	struct rdv_relay_hdr h;
	struct sess_keypair *kp;

	if (!rdv_relay_parse(buf, len, &h, inner, inner_len))
		return false;
	*id = h.relay_id;
	kp = sess_peer_find(&p->sim.sess, h.receiver_index);
	return kp && rdv_relay_verify(buf, len, &h, kp, time_now_ms()) == 0;
}

static int setup_env(void **state, bool wild)
{
	struct env *e = calloc(1, sizeof(*e));
	struct rdv_server_opts opts = {.allow_loopback = true, .max_peers = 64};

	if (!e || sodium_init() < 0)
		return -1;
	e->wild = wild;
	opts.tcp.first_frame_ms = FRAME_MS;
	opts.tcp.frame_ms = FRAME_MS;
	opts.tcp.idle_ms = 2 * FRAME_MS;
	key_generate(e->srv_priv);
	if (!key_public(e->srv_priv, e->srv_pub))
		return -1;
	make_peer(&e->a);
	make_peer(&e->b);
	make_peer(&e->c);
	snprintf(e->path, sizeof(e->path), "/tmp/test_rdv_server.%d.conf", (int)getpid());
	/* A free pair of ports: the listen port and the next one. */
	for (int tries = 0; tries < 50; tries++) {
		struct cfg_rendezvous cfg;
		struct cfg_errors errs = {0};
		int ret;

		e->port = (uint16_t)(20000 + randombytes_uniform(40000));
		write_config(e, true, false);
		if (!cfg_load_rendezvous(e->path, &cfg, &errs)) {
			cfg_errors_print(&errs, stderr);
			return -1;
		}
		ret = rdv_server_init(&e->srv, &cfg, e->path, &opts);
		cfg_rendezvous_free(&cfg);
		if (ret == 0) {
			*state = e;
			return 0;
		}
		if (ret != -EADDRINUSE)
			return -1;
	}
	return -1;
}

static int setup(void **state)
{
	return setup_env(state, false);
}

static int setup_wild(void **state)
{
	return setup_env(state, true);
}

static int teardown(void **state)
{
	struct env *e = *state;

	peer_close(&e->a);
	peer_close(&e->b);
	peer_close(&e->c);
	rdv_server_cleanup(&e->srv);
	unlink(e->path);
	free(e);
	return 0;
}

/* ---- tests ---- */

static size_t stun_request(uint8_t *buf, size_t cap, uint8_t id[STUN_ID_LEN], uint32_t change)
{
	struct stun_builder b;
	size_t len;

	stun_id_new(id);
	assert_int_equal(
	    stun_builder_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, id), 0);
	if (change)
		assert_int_equal(stun_builder_add_change_request(&b, change), 0);
	assert_int_equal(stun_builder_finish(&b, true, &len), 0);
	return len;
}

static void test_server_stun_udp(void **state)
{
	struct env *e = *state;
	struct sockaddr_storage me, from, mapped, origin;
	uint8_t req[128], buf[BUF], id[STUN_ID_LEN];
	struct stun_msg msg;
	int fd = udp_socket(&me);
	size_t len = stun_request(req, sizeof(req), id, 0);
	ssize_t n;

	/* Binding: mapped address is ours, origin is the listen socket. */
	send_to(e, fd, e->port, req, len);
	n = recv_within(e, fd, buf, sizeof(buf), NO_ANSWER_MS, &from);
	assert_true(n > 0);
	assert_true(stun_msg_parse(&msg, buf, (size_t)n));
	assert_int_equal(msg.cls, STUN_CLASS_SUCCESS);
	assert_memory_equal(msg.id, id, STUN_ID_LEN);
	assert_true(stun_msg_get_mapped(&msg, &mapped));
	assert_memory_equal(&mapped, &me, sizeof(struct sockaddr_in));
	assert_true(stun_msg_get_address(&msg, STUN_ATTR_RESPONSE_ORIGIN, &origin));
	assert_int_equal(ntohs(((struct sockaddr_in *)&origin)->sin_port), e->port);
	assert_null(stun_msg_find(&msg, STUN_ATTR_OTHER_ADDRESS)); /* no alternate */
	assert_int_equal(ntohs(((struct sockaddr_in *)&from)->sin_port), e->port);
	/* Change port: the answer leaves from port + 1 and says so. */
	len = stun_request(req, sizeof(req), id, STUN_CHANGE_PORT);
	send_to(e, fd, e->port, req, len);
	n = recv_within(e, fd, buf, sizeof(buf), NO_ANSWER_MS, &from);
	assert_true(n > 0);
	assert_int_equal(ntohs(((struct sockaddr_in *)&from)->sin_port), e->port + 1);
	assert_true(stun_msg_parse(&msg, buf, (size_t)n));
	assert_true(stun_msg_get_address(&msg, STUN_ATTR_RESPONSE_ORIGIN, &origin));
	assert_int_equal(ntohs(((struct sockaddr_in *)&origin)->sin_port), e->port + 1);
	/* Change IP without an alternate address: silence. */
	len = stun_request(req, sizeof(req), id, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	send_to(e, fd, e->port, req, len);
	assert_true(recv_within(e, fd, buf, sizeof(buf), NO_ANSWER_MS, &from) < 0);
	/* Garbage and a truncated request: silence, on both ports. */
	len = stun_request(req, sizeof(req), id, 0);
	send_to(e, fd, e->port, req, len - 4);
	send_to(e, fd, e->port + 1, "\xc0\x01\x00\x00garbage-garbage!", 20);
	send_to(e, fd, e->port, "\x00\x01\x00\x04garbage-garbage!\x80\x00\x00\x09", 24);
	send_to(e, fd, e->port, "", 0);
	assert_true(recv_within(e, fd, buf, sizeof(buf), NO_ANSWER_MS, &from) < 0);
	assert_int_equal(e->srv.stun_drops[RDV_STUN_MALFORMED], 4);
	/* And it still answers afterwards, on port + 1 too. */
	send_to(e, fd, e->port + 1, req, len);
	assert_true(recv_within(e, fd, buf, sizeof(buf), NO_ANSWER_MS, &from) > 0);
	close(fd);
}

static uint8_t ip_of(const struct sockaddr_storage *ss)
{
	return (uint8_t)(ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) & 0xff);
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* One Binding request to ip:port with change flags (padded: every
 * attribute fits within 2x); the answer's source, RESPONSE-ORIGIN and
 * OTHER-ADDRESS. */
static void stun_ask(struct env *e, int fd, uint8_t ip, uint16_t port, uint32_t change,
		     struct sockaddr_storage *from, struct sockaddr_storage *origin,
		     struct sockaddr_storage *other)
{
	uint8_t req[128], buf[BUF], id[STUN_ID_LEN], pad[32] = {0};
	struct stun_builder b;
	struct stun_msg msg;
	size_t len;
	ssize_t n;

	stun_id_new(id);
	assert_int_equal(
	    stun_builder_init(&b, req, sizeof(req), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, id),
	    0);
	assert_int_equal(stun_builder_add_change_request(&b, change), 0);
	assert_int_equal(stun_builder_add(&b, STUN_ATTR_PADDING, pad, sizeof(pad)), 0);
	assert_int_equal(stun_builder_finish(&b, true, &len), 0);

	send_to_ip(e, fd, ip, port, req, len);
	n = recv_within(e, fd, buf, sizeof(buf), NO_ANSWER_MS, from);
	assert_true(n > 0);
	assert_true(stun_msg_parse(&msg, buf, (size_t)n));
	assert_memory_equal(msg.id, id, STUN_ID_LEN);
	assert_true(stun_msg_get_address(&msg, STUN_ATTR_RESPONSE_ORIGIN, origin));
	assert_true(stun_msg_get_address(&msg, STUN_ATTR_OTHER_ADDRESS, other));
}

/* listen = 0.0.0.0 with alternate_address = 127.0.0.2: answers leave from
 * the address and port they name, requests to either address get the
 * other as OTHER-ADDRESS (the alternate's partner: 127.0.0.1, the kernel's
 * source towards a client on 127.0.0.1), change requests go from the other
 * address and port, and the alternate takes no signalling. */
static void test_server_wildcard_alternate(void **state)
{
	static const uint32_t changes[] = {0, STUN_CHANGE_PORT, STUN_CHANGE_IP,
					   STUN_CHANGE_IP | STUN_CHANGE_PORT};
	struct env *e = *state;
	struct sockaddr_storage me, from, origin, other;
	int fd = udp_socket(&me);

	assert_true(e->srv.alt_on_wildcard);
	assert_false(e->srv.have_udp[2] || e->srv.have_udp[3]);
	for (uint8_t ip = 1; ip <= 2; ip++) {
		for (unsigned p = 0; p < 2; p++) {
			for (unsigned c = 0; c < 4; c++) {
				uint8_t want_ip = (changes[c] & STUN_CHANGE_IP) ? 3 - ip : ip;
				unsigned want_port = p ^ ((changes[c] & STUN_CHANGE_PORT) ? 1 : 0);

				stun_ask(e, fd, ip, (uint16_t)(e->port + p), changes[c], &from,
					 &origin, &other);
				assert_int_equal(ip_of(&from), want_ip);
				assert_int_equal(port_of(&from), e->port + want_port);
				assert_int_equal(ip_of(&origin), want_ip);
				assert_int_equal(port_of(&origin), e->port + want_port);
				assert_int_equal(ip_of(&other), 3 - ip);
				assert_int_equal(port_of(&other), e->port + (p ^ 1));
			}
		}
	}
	/* A handshake to the alternate is dropped; to 127.0.0.1 it works
	 * (handshake talks to 127.0.0.1). */
	{
		uint64_t before = e->srv.core.drops[RDV_DROP_MALFORMED];
		uint8_t init[WIRE_INIT_LEN], buf[BUF];

		peer_open(e, &e->a, false);
		assert_int_equal(rdv_sim_initiation(&e->a.sim, init), 0);
		send_to_ip(e, e->a.fd, 2, e->port, init, sizeof(init));
		assert_true(recv_within(e, e->a.fd, buf, sizeof(buf), NO_ANSWER_MS, &from) < 0);
		assert_int_equal(e->srv.core.drops[RDV_DROP_MALFORMED], before + 1);
		assert_true(handshake(e, &e->a));
	}
	close(fd);
}

/* rdv_server_check_config: a wildcard listen with alternate_address is
 * accepted; port 65535 (port + 1 is used) is not, and says why. */
static void test_server_check_config(void **state)
{
	struct env *e = *state;
	struct cfg_rendezvous cfg;
	struct cfg_errors errs = {0};
	uint16_t port = e->port;

	assert_true(cfg_load_rendezvous(e->path, &cfg, &errs));
	assert_true(addr_is_any(&cfg.listen) && cfg.has_alternate);
	assert_true(rdv_server_check_config(&cfg, &errs));
	assert_int_equal(errs.n, 0);
	cfg_rendezvous_free(&cfg);
	e->port = 65535;
	write_config(e, true, false);
	e->port = port;
	assert_true(cfg_load_rendezvous(e->path, &cfg, &errs));
	assert_false(rdv_server_check_config(&cfg, &errs));
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msgs[0], "port must be 1..65534"));
	cfg_errors_free(&errs);
	cfg_rendezvous_free(&cfg);
}

static void test_server_stun_tcp(void **state)
{
	struct env *e = *state;
	struct sockaddr_storage me, mapped;
	uint8_t req[128], buf[BUF], id[STUN_ID_LEN];
	struct stun_msg msg;
	size_t len = stun_request(req, sizeof(req), id, 0);
	int fd = tcp_socket(e, &me);
	uint64_t end;

	pump(e);
	assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
	end = time_now_ms() + NO_ANSWER_MS * 2;
	assert_true(read_exact(e, fd, buf, 20, end));
	len = (size_t)(buf[2] << 8 | buf[3]);
	assert_true(read_exact(e, fd, buf + 20, len, end));
	assert_true(stun_msg_parse(&msg, buf, 20 + len));
	assert_true(stun_msg_get_mapped(&msg, &mapped));
	assert_memory_equal(&mapped, &me, sizeof(struct sockaddr_in));
	/* A change request cannot be honoured on a stream: 400. */
	len = stun_request(req, sizeof(req), id, STUN_CHANGE_PORT);
	assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
	end = time_now_ms() + NO_ANSWER_MS * 2;
	assert_true(read_exact(e, fd, buf, 20, end));
	len = (size_t)(buf[2] << 8 | buf[3]);
	assert_true(read_exact(e, fd, buf + 20, len, end));
	assert_true(stun_msg_parse(&msg, buf, 20 + len));
	assert_int_equal(msg.cls, STUN_CLASS_ERROR);
	/* Garbage on the STUN stream closes it. */
	assert_int_equal(send(fd, "\xff\xff\xff\xff", 4, 0), 4);
	assert_true(closed_within(e, fd, NO_ANSWER_MS * 2));
	close(fd);
}

static void test_server_register_introduce_relay(void **state)
{
	struct env *e = *state;
	struct rdv_introduce intro;
	struct sockaddr_storage stranger_addr, from;
	uint8_t msg[BUF], buf[BUF], *inner, frame[64];
	size_t len, inner_len;
	uint32_t id;
	const uint8_t *fin;
	size_t fin_len;
	int stranger;
	ssize_t n;

	peer_open(e, &e->a, false);
	peer_open(e, &e->b, false);
	assert_true(handshake(e, &e->a));
	assert_true(handshake(e, &e->b));
	do_register(e, &e->a);
	do_register(e, &e->b);
	assert_int_not_equal(e->a.relay_id, e->b.relay_id);
	assert_int_equal(e->srv.core.reg.n_registered, 2);

	/* CONNECT from A alone: answered as for an unknown key. Then B asks
	 * for A (mutual intent): both get INTRODUCE, each about the other. */
	len = rdv_encode_connect(e->b.pub, msg, sizeof(msg));
	send_signal(e, &e->a, msg, len);
	assert_int_equal(recv_signal(e, &e->a, buf, &inner, &inner_len), RDV_UNKNOWN_PEER);
	len = rdv_encode_connect(e->a.pub, msg, sizeof(msg));
	send_signal(e, &e->b, msg, len);
	assert_int_equal(recv_signal(e, &e->a, buf, &inner, &inner_len), RDV_INTRODUCE);
	assert_true(rdv_decode_introduce(inner, inner_len, &intro));
	assert_memory_equal(intro.public_key, e->b.pub, 32);
	assert_int_equal(intro.relay_id, e->b.relay_id);
	assert_int_equal(intro.start_in_ms, RDV_START_DELAY_MS);
	assert_int_equal(intro.nat_mapping, RDV_MAPPING_INDEPENDENT);
	assert_memory_equal(&intro.udp_reflexive, &e->b.addr, sizeof(struct sockaddr_in));
	assert_int_equal(intro.tcp_reflexive.ss_family, 0);
	assert_int_equal(intro.n_host, 1); /* the loopback candidate was left out */
	assert_int_equal(recv_signal(e, &e->b, buf, &inner, &inner_len), RDV_INTRODUCE);
	assert_true(rdv_decode_introduce(inner, inner_len, &intro));
	assert_memory_equal(intro.public_key, e->a.pub, 32);
	assert_int_equal(intro.relay_id, e->a.relay_id);

	/* Relay A -> B: B gets the frame with A's id and the same inner bytes. */
	memset(frame, 0, sizeof(frame));
	frame[RDV_RELAY_HEADER_LEN] = WIRE_DATA;
	for (size_t i = RDV_RELAY_HEADER_LEN + 4; i < sizeof(frame); i++)
		frame[i] = (uint8_t)i;
	relay_seal(&e->a, frame, sizeof(frame), e->b.relay_id);
	send_to(e, e->a.fd, e->port, frame, sizeof(frame));
	n = recv_within(e, e->b.fd, buf, sizeof(buf), NO_ANSWER_MS, &from);
	assert_int_equal(n, (ssize_t)sizeof(frame));
	assert_true(relay_open(&e->b, buf, (size_t)n, &id, &fin, &fin_len));
	assert_int_equal(id, e->a.relay_id);
	assert_memory_equal(fin, frame + RDV_RELAY_HEADER_LEN,
			    sizeof(frame) - RDV_RELAY_HEADER_LEN);
	assert_int_equal(e->srv.core.relayed, 1);

	/* The same frame, replayed: dropped unauthenticated. A fresh one,
	 * properly tagged, from an address that carries no session: dropped. */
	send_to(e, e->a.fd, e->port, frame, sizeof(frame));
	assert_true(recv_within(e, e->b.fd, buf, sizeof(buf), NO_ANSWER_MS, &from) < 0);
	assert_int_equal(e->srv.core.drops[RDV_DROP_RELAY_AUTH], 1);
	stranger = udp_socket(&stranger_addr);
	relay_seal(&e->a, frame, sizeof(frame), e->b.relay_id);
	send_to(e, stranger, e->port, frame, sizeof(frame));
	assert_true(recv_within(e, e->b.fd, buf, sizeof(buf), NO_ANSWER_MS, &from) < 0);
	assert_int_equal(e->srv.core.drops[RDV_DROP_RELAY_UNKNOWN_SRC], 1);
	close(stranger);
	/* To an id nobody has, and to oneself: dropped. */
	relay_seal(&e->a, frame, sizeof(frame), e->b.relay_id ^ 0x5a5a5a5a);
	send_to(e, e->a.fd, e->port, frame, sizeof(frame));
	relay_seal(&e->a, frame, sizeof(frame), e->a.relay_id);
	send_to(e, e->a.fd, e->port, frame, sizeof(frame));
	assert_int_equal(e->srv.core.drops[RDV_DROP_RELAY_UNKNOWN_DST], 2);
	/* A relay frame carrying a relay frame, or STUN: dropped. */
	frame[RDV_RELAY_HEADER_LEN] = WIRE_RELAY;
	relay_seal(&e->a, frame, sizeof(frame), e->b.relay_id);
	send_to(e, e->a.fd, e->port, frame, sizeof(frame));
	assert_int_equal(e->srv.core.drops[RDV_DROP_RELAY_INNER], 1);
	assert_true(recv_within(e, e->b.fd, buf, sizeof(buf), NO_ANSWER_MS, &from) < 0);
}

static void test_server_unknown_key_and_replays(void **state)
{
	struct env *e = *state;
	uint8_t init[WIRE_INIT_LEN], buf[BUF], msg[BUF], pkt[BUF], copy[BUF], *inner;
	size_t len, plen, inner_len;
	struct sockaddr_storage from;

	/* C is not listed: its valid initiation gets no answer, no entry. */
	peer_open(e, &e->c, false);
	assert_false(handshake(e, &e->c));
	assert_int_equal(e->srv.core.reg.n, 0);
	assert_int_equal(e->srv.core.drops[RDV_DROP_UNKNOWN_KEY], 1);

	/* A replayed initiation is refused (no second answer). */
	peer_open(e, &e->a, false);
	assert_int_equal(rdv_sim_initiation(&e->a.sim, init), 0);
	send_to(e, e->a.fd, e->port, init, sizeof(init));
	assert_true(recv_within(e, e->a.fd, buf, sizeof(buf), NO_ANSWER_MS, &from) > 0);
	assert_int_equal(rdv_sim_response(&e->a.sim, buf, WIRE_RESP_LEN, time_now_ms()), 0);
	send_to(e, e->a.fd, e->port, init, sizeof(init));
	assert_true(recv_within(e, e->a.fd, buf, sizeof(buf), NO_ANSWER_MS, &from) < 0);
	assert_int_equal(e->srv.core.drops[RDV_DROP_REPLAY] + e->srv.core.drops[RDV_DROP_FLOOD], 1);

	/* A flipped bit in a sealed REGISTER: no answer, no registration; the
	 * intact packet then registers, and its replay is dropped. */
	{
		struct rdv_register reg = {0};

		len = rdv_encode_register(&reg, msg, sizeof(msg));
	}
	assert_int_equal(rdv_sim_seal(&e->a.sim, msg, len, pkt, sizeof(pkt), &plen, time_now_ms()),
			 0);
	memcpy(copy, pkt, plen);
	copy[plen - 1] ^= 1;
	send_to(e, e->a.fd, e->port, copy, plen);
	assert_true(recv_within(e, e->a.fd, buf, sizeof(buf), NO_ANSWER_MS, &from) < 0);
	assert_int_equal(e->srv.core.reg.n_registered, 0);
	send_to(e, e->a.fd, e->port, pkt, plen);
	assert_int_equal(recv_signal(e, &e->a, buf, &inner, &inner_len), RDV_REGISTERED);
	send_to(e, e->a.fd, e->port, pkt, plen);
	assert_true(recv_within(e, e->a.fd, buf, sizeof(buf), NO_ANSWER_MS, &from) < 0);
	assert_int_equal(e->srv.core.drops[RDV_DROP_DATA_INVALID], 2);

	/* Oversized data and unexpected types: dropped before any crypto. */
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = WIRE_DATA;
	send_to(e, e->a.fd, e->port, pkt, RDV_SIGNAL_PKT_MAX + 16);
	assert_int_equal(e->srv.core.drops[RDV_DROP_DATA_SIZE], 1);
	pkt[0] = WIRE_HANDSHAKE_RESP;
	send_to(e, e->a.fd, e->port, pkt, WIRE_RESP_LEN);
	pkt[0] = WIRE_PROBE;
	send_to(e, e->a.fd, e->port, pkt, 64);
	assert_int_equal(e->srv.core.drops[RDV_DROP_MALFORMED], 2);
	assert_true(recv_within(e, e->a.fd, buf, sizeof(buf), NO_ANSWER_MS, &from) < 0);
}

static void test_server_connect_unknown_and_roaming(void **state)
{
	struct env *e = *state;
	uint8_t msg[BUF], buf[BUF], key[32], *inner, frame[48];
	size_t len, inner_len;
	struct sockaddr_storage from, newaddr;
	int newfd;

	peer_open(e, &e->a, false);
	peer_open(e, &e->b, false);
	assert_true(handshake(e, &e->a));
	do_register(e, &e->a);
	/* B has a session but no registration: A learns it is unknown. */
	assert_true(handshake(e, &e->b));
	len = rdv_encode_connect(e->b.pub, msg, sizeof(msg));
	send_signal(e, &e->a, msg, len);
	assert_int_equal(recv_signal(e, &e->a, buf, &inner, &inner_len), RDV_UNKNOWN_PEER);
	assert_true(rdv_decode_unknown_peer(inner, inner_len, key));
	assert_memory_equal(key, e->b.pub, 32);
	/* Before registering, B may neither CONNECT nor relay. */
	len = rdv_encode_connect(e->a.pub, msg, sizeof(msg));
	send_signal(e, &e->b, msg, len);
	assert_int_equal(e->srv.core.drops[RDV_DROP_NOT_REGISTERED], 1);
	do_register(e, &e->b);

	/* A roams: an authenticated keepalive from a new socket moves it. */
	newfd = udp_socket(&newaddr);
	assert_int_equal(rdv_sim_seal(&e->a.sim, NULL, 0, buf, sizeof(buf), &len, time_now_ms()),
			 0);
	send_to(e, newfd, e->port, buf, len);
	memset(frame, 0, sizeof(frame));
	frame[RDV_RELAY_HEADER_LEN] = WIRE_DATA;
	relay_seal(&e->b, frame, sizeof(frame), e->a.relay_id);
	send_to(e, e->b.fd, e->port, frame, sizeof(frame));
	assert_true(recv_within(e, newfd, buf, sizeof(buf), NO_ANSWER_MS, &from) > 0);
	assert_true(recv_within(e, e->a.fd, buf, sizeof(buf), NO_ANSWER_MS, &from) < 0);
	/* A forged keepalive from the old socket does not move it back. */
	assert_int_equal(rdv_sim_seal(&e->a.sim, NULL, 0, buf, sizeof(buf), &len, time_now_ms()),
			 0);
	buf[20] ^= 0x80;
	send_to(e, e->a.fd, e->port, buf, len);
	relay_seal(&e->b, frame, sizeof(frame), e->a.relay_id);
	send_to(e, e->b.fd, e->port, frame, sizeof(frame));
	assert_true(recv_within(e, newfd, buf, sizeof(buf), NO_ANSWER_MS, &from) > 0);
	assert_true(recv_within(e, e->a.fd, buf, sizeof(buf), NO_ANSWER_MS, &from) < 0);
	close(newfd);
	/* The old socket no longer carries A's session: its frames are a stranger's. */
	relay_seal(&e->a, frame, sizeof(frame), e->b.relay_id);
	send_to(e, e->a.fd, e->port, frame, sizeof(frame));
	assert_int_equal(e->srv.core.drops[RDV_DROP_RELAY_UNKNOWN_SRC], 1);
	/* CONNECTs beyond the per-peer rate are dropped. The first meets A's
	 * CONNECT from before B registered and introduces both; that uses up
	 * both intents, so the others are one-sided. */
	len = rdv_encode_connect(e->a.pub, msg, sizeof(msg));
	for (int i = 0; i < RDV_CONNECT_PER_S + 5; i++) {
		struct sockaddr_in sin;
		size_t plen;

		assert_int_equal(
		    rdv_sim_seal(&e->b.sim, msg, len, buf, sizeof(buf), &plen, time_now_ms()), 0);
		server_addr(e, &sin, e->port);
		assert_int_equal(
		    sendto(e->b.fd, buf, plen, 0, (struct sockaddr *)&sin, sizeof(sin)),
		    (ssize_t)plen);
	}
	pump(e);
	assert_true(e->srv.core.drops[RDV_DROP_CONNECT_RATE] >= 4);
	assert_int_equal(e->srv.core.introductions, 1);
}

static void test_server_tcp_peer(void **state)
{
	struct env *e = *state;
	uint8_t buf[BUF], frame[40];
	struct sockaddr_storage from;
	const uint8_t *fin;
	size_t fin_len;
	uint32_t id;
	ssize_t n;

	/* A over TCP, B over UDP; relay both ways. */
	peer_open(e, &e->a, true);
	peer_open(e, &e->b, false);
	assert_true(handshake(e, &e->a));
	assert_true(handshake(e, &e->b));
	do_register(e, &e->a);
	do_register(e, &e->b);
	memset(frame, 0, sizeof(frame));
	frame[RDV_RELAY_HEADER_LEN] = WIRE_DATA;
	relay_seal(&e->b, frame, sizeof(frame), e->a.relay_id);
	send_to(e, e->b.fd, e->port, frame, sizeof(frame));
	n = recv_frame(e, &e->a, buf, sizeof(buf), NO_ANSWER_MS);
	assert_int_equal(n, (ssize_t)sizeof(frame));
	assert_true(relay_open(&e->a, buf, (size_t)n, &id, &fin, &fin_len));
	assert_int_equal(id, e->b.relay_id);
	relay_seal(&e->a, frame, sizeof(frame), e->b.relay_id);
	send_frame(e, &e->a, frame, sizeof(frame));
	n = recv_within(e, e->b.fd, buf, sizeof(buf), NO_ANSWER_MS, &from);
	assert_int_equal(n, (ssize_t)sizeof(frame));
	assert_true(relay_open(&e->b, buf, (size_t)n, &id, &fin, &fin_len));
	assert_int_equal(id, e->a.relay_id);
	/* A frame over its type's limit closes the connection, and the
	 * closed connection is no longer A's channel. */
	memset(buf, 0, sizeof(buf));
	buf[0] = 0x04;
	buf[1] = 0x00;
	buf[2] = WIRE_DATA; /* 1024 bytes of "data" */
	assert_int_equal(send(e->a.fd, buf, 3, 0), 3);
	assert_true(closed_within(e, e->a.fd, NO_ANSWER_MS * 2));
	relay_seal(&e->b, frame, sizeof(frame), e->a.relay_id);
	send_to(e, e->b.fd, e->port, frame, sizeof(frame));
	assert_true(e->srv.core.drops[RDV_DROP_RELAY_UNREACHABLE] >= 1);
}

static void test_server_tcp_limits(void **state)
{
	struct env *e = *state;
	struct sockaddr_storage me;
	uint8_t b[64] = {0};
	int fd;

	/* Length prefix 0: closed. */
	fd = tcp_socket(e, &me);
	assert_int_equal(send(fd, b, 8, 0), 8);
	assert_true(closed_within(e, fd, NO_ANSWER_MS * 2));
	close(fd);
	/* A relay frame on a connection without a session: closed. */
	fd = tcp_socket(e, &me);
	b[0] = 0;
	b[1] = 40;
	b[2] = WIRE_RELAY;
	assert_int_equal(send(fd, b, 8, 0), 8);
	assert_true(closed_within(e, fd, NO_ANSWER_MS * 2));
	close(fd);
	/* A 149-byte initiation frame sent one byte at a time, too slowly:
	 * closed when the frame time runs out, before it completes. */
	fd = tcp_socket(e, &me);
	b[0] = 0;
	b[1] = WIRE_INIT_LEN;
	b[2] = WIRE_HANDSHAKE_INIT;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(send(fd, b + i, 1, 0), 1);
		pump(e);
		usleep(50 * 1000);
	}
	assert_true(closed_within(e, fd, FRAME_MS * 4));
	close(fd);
	/* A connection that never sends anything: closed after the first-frame time. */
	fd = tcp_socket(e, &me);
	assert_true(closed_within(e, fd, FRAME_MS * 4));
	close(fd);
	assert_true(e->srv.tcp.closed_timeout >= 2);
	assert_true(e->srv.tcp.closed_bad >= 2);
	assert_int_equal(e->srv.tcp.n, 0);
}

static void test_server_reload(void **state)
{
	struct env *e = *state;

	peer_open(e, &e->a, false);
	peer_open(e, &e->b, false);
	assert_true(handshake(e, &e->a));
	assert_true(handshake(e, &e->b));
	do_register(e, &e->b);
	assert_int_equal(e->srv.core.reg.n, 2);
	/* A broken file changes nothing. */
	{
		FILE *f = fopen(e->path, "w");

		assert_non_null(f);
		fputs("[rendezvous]\nlisten = nonsense\n", f);
		fclose(f);
	}
	assert_int_equal(rdv_server_reload(&e->srv), -EINVAL);
	assert_int_equal(e->srv.core.reg.n, 2);
	/* Bob removed from the file: his registration goes. */
	write_config(e, false, false);
	assert_int_equal(rdv_server_reload(&e->srv), 0);
	assert_int_equal(e->srv.core.reg.n, 1);
	assert_int_equal(e->srv.core.reg.n_registered, 0);
	assert_false(handshake(e, &e->b));
	/* open = yes: anyone (C too) gets in. */
	write_config(e, false, true);
	assert_int_equal(rdv_server_reload(&e->srv), 0);
	peer_open(e, &e->c, false);
	assert_true(handshake(e, &e->c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_server_stun_udp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_stun_tcp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_wildcard_alternate, setup_wild, teardown),
	    cmocka_unit_test_setup_teardown(test_server_check_config, setup_wild, teardown),
	    cmocka_unit_test_setup_teardown(test_server_register_introduce_relay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_unknown_key_and_replays, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_connect_unknown_and_roaming, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_server_tcp_peer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_tcp_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_reload, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
