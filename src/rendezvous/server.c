/* The rendezvous server: set-up and tear-down of its sockets, the epoll
 * loop, and the callbacks that connect sockets and engines. States: init
 * (sockets bound, READY sent) -> running (events, sweep every second,
 * watchdog) -> stopping (SIGTERM/SIGINT; STOPPING sent) -> cleanup. SIGHUP
 * reloads in place. Only this file and tcp.c make syscalls here (UDP goes
 * through transport/udp's udp_open_addr sockets). */
#include "rendezvous/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sodium.h>

#include "config/parse.h"
#include "crypto/keys.h"
#include "util/addr.h"
#include "util/log.h"
#include "util/sigfd.h"
#include "util/time.h"
#include "wire/wire.h"

enum {
	SWEEP_MS = 1000,
	EVENTS = 64,
	/* Then back to epoll (level-triggered), as p2pvpnd does: TCP, signals,
	 * the sweep and the watchdog get their turn during a flood. */
	UDP_BATCHES_PER_EVENT = 4,
};

bool rdv_server_check_config(const struct cfg_rendezvous *cfg, struct cfg_errors *errs)
{
	char shown[CFG_ENDPOINT_STRLEN];
	bool ok = true;

	cfg_endpoint_to_string(&cfg->listen, shown, sizeof(shown));
	if (addr_port(&cfg->listen) == 0 || addr_port(&cfg->listen) == 65535) {
		ok = false;
		(void)cfg_errors_add(errs,
				     "%s: listen: port must be 1..65534 (port + 1 also answers "
				     "STUN): '%s'",
				     cfg->path, shown);
	}
	return ok;
}

/* ---- sending ---- */

static void send_channel(void *ctx, const struct rdv_channel *ch, uint8_t *pkt, size_t len)
{
	struct rdv_server *s = ctx;
	int ret;

	if (ch->kind == RDV_CHAN_TCP) {
		rdv_tcp_send(&s->tcp, ch->conn, true, pkt, len, time_now_ms());
		return;
	}
	if (ch->kind != RDV_CHAN_UDP)
		return;
	/* From the address the peer reached us on (ss_family 0: the kernel's
	 * choice). */
	ret = udp_send_from(&s->udp[0], pkt, len, &ch->addr, &ch->local);
	if (ret < 0)
		rdv_core_drop(&s->core, RDV_DROP_SEND_FAILED, ch, time_now_ms());
}

/* ---- the alternate address on a wildcard ---- */

/* The socket that carries logical STUN socket sock (stun_responder.h): on
 * a wildcard with an alternate address, the alternate's requests come to
 * the two wildcard sockets too (a specific address cannot be bound on a
 * port the wildcard holds). */
static unsigned udp_index(const struct rdv_server *s, unsigned sock)
{
	return s->alt_on_wildcard ? sock & RDV_STUN_CHANGE_PORT_BIT : sock;
}

/* The logical socket of what came to socket index at address local. */
static unsigned arrival_sock(const struct rdv_server *s, unsigned index,
			     const struct sockaddr_storage *local)
{
	if (s->alt_on_wildcard && addr_equal_host(local, &s->cfg.alternate))
		return index | RDV_STUN_CHANGE_IP_BIT;
	return index;
}

/* The primary partner of the alternate address for a request from client,
 * on a wildcard listen address: the source address the kernel would use
 * towards the client (a route lookup: connect() of a UDP socket, which
 * sends nothing). On a host with one address besides the alternate that is
 * the one. False when there is no route or the kernel would use the
 * alternate itself: the partner is unknown then. */
static bool primary_towards(const struct rdv_server *s, const struct sockaddr_storage *client,
			    struct sockaddr_storage *out)
{
	return addr_source_towards(client, out) == 0 && addr_is_ip(out) &&
	       !addr_equal_host(out, &s->cfg.alternate);
}

/* What ip[0] stands for in a request to logical socket sock that came to
 * local from client (rdv_stun_request.primary): local on the listen side,
 * the alternate's partner on the alternate side of a wildcard, NULL when
 * that is unknown or ip[0] is a specific address. */
static const struct sockaddr_storage *request_primary(const struct rdv_server *s, unsigned sock,
						      const struct sockaddr_storage *local,
						      const struct sockaddr_storage *client,
						      struct sockaddr_storage *buf)
{
	if (!(sock & RDV_STUN_CHANGE_IP_BIT))
		return local;
	if (s->alt_on_wildcard && primary_towards(s, client, buf))
		return buf;
	return NULL;
}

/* ---- UDP ---- */

static void answer_stun(struct rdv_server *s, unsigned sock, struct udp_msg *d)
{
	struct rdv_stun_request req = {
	    .data = d->data, .len = d->len, .sock = sock, .from = &d->addr, .primary = NULL};
	struct sockaddr_storage primary, source;
	uint8_t out[RDV_STUN_REPLY_MAX];
	unsigned send_sock;
	size_t len;
	enum rdv_stun_drop why;

	/* A wildcard socket tells us the address it was asked on; the
	 * alternate's partner costs a route lookup, asked only below for a
	 * request that gets an answer. */
	if (!(sock & RDV_STUN_CHANGE_IP_BIT))
		req.primary = &d->local;
	why = rdv_stun_answer(&s->stun, &req, out, sizeof(out), &len, &send_sock);
	if (why == RDV_STUN_NO_ALTERNATE && s->alt_on_wildcard)
		why = RDV_STUN_ANSWERED; /* may be, once the partner is known */
	if (why != RDV_STUN_ANSWERED) {
		s->stun_drops[why]++;
		return;
	}
	/* Counted only for what would be answered: garbage costs nobody's
	 * budget. Over TCP the handshake proves the source: no limit there. */
	if (!rdv_stun_limiter_allow(s->stun_limit, &d->addr, time_now_ms())) {
		s->stun_drops[RDV_STUN_RATE_LIMITED]++;
		return;
	}
	if (s->alt_on_wildcard && (sock & RDV_STUN_CHANGE_IP_BIT)) {
		req.primary = request_primary(s, sock, &d->local, &d->addr, &primary);
		why = rdv_stun_answer(&s->stun, &req, out, sizeof(out), &len, &send_sock);
	}
	if (why != RDV_STUN_ANSWERED || !s->have_udp[udp_index(s, send_sock)]) {
		s->stun_drops[why == RDV_STUN_ANSWERED ? RDV_STUN_BUILD_FAILED : why]++;
		return;
	}
	/* From the address the answer names as its origin (a socket on a
	 * specific address ignores it and sends from that address). */
	rdv_stun_sock_addr(&s->stun, send_sock, req.primary, &source);
	if (udp_send_from(&s->udp[udp_index(s, send_sock)], out, len, &d->addr, &source) == 0)
		s->stun_answered++;
}

static void handle_dgram(struct rdv_server *s, unsigned sock, struct udp_msg *d, uint64_t now)
{
	struct rdv_channel ch;

	/* The magic cookie marks STUN; a p2pvpn header never has it. What is
	 * neither may still be an RFC 3489 request (no cookie), or garbage,
	 * which the STUN parser drops. */
	if (wire_is_stun(d->data, d->len) || !wire_type_of(d->data, d->len)) {
		answer_stun(s, sock, d);
		return;
	}
	memset(&ch, 0, sizeof(ch));
	ch.kind = RDV_CHAN_UDP;
	ch.addr = d->addr;
	ch.local = d->local;
	if (sock != 0) {
		rdv_core_drop(&s->core, RDV_DROP_MALFORMED, &ch, now);
		return;
	}
	rdv_core_receive(&s->core, &ch, d->data, d->len, now);
}

static void read_udp(struct rdv_server *s, unsigned index, uint64_t now)
{
	for (int b = 0; b < UDP_BATCHES_PER_EVENT; b++) {
		int n = udp_recv_batch(&s->udp[index], s->dg, RDV_UDP_BATCH);

		for (int i = 0; i < n; i++)
			handle_dgram(s, arrival_sock(s, index, &s->dg[i].local), &s->dg[i], now);
		if (n < RDV_UDP_BATCH)
			return;
	}
}

/* ---- TCP callbacks ---- */

static struct rdv_channel tcp_channel(struct rdv_tcp_conn *conn)
{
	struct rdv_channel ch;

	memset(&ch, 0, sizeof(ch));
	ch.kind = RDV_CHAN_TCP;
	ch.addr = conn->remote;
	ch.local = conn->local; /* not used to send: one of our own addresses */
	ch.conn = conn;
	return ch;
}

static bool tcp_is_authenticated(void *ctx, struct rdv_tcp_conn *conn)
{
	struct rdv_server *s = ctx;
	struct rdv_channel ch = tcp_channel(conn);

	return rdv_registry_find_channel(&s->core.reg, &ch) != NULL;
}

/* What each frame type may weigh on a connection: exactly what a peer
 * sends us, and relay frames only from a connection that already carries
 * a session (a stranger cannot make us hold 64 KiB). */
static size_t tcp_frame_max(void *ctx, struct rdv_tcp_conn *conn, uint8_t type)
{
	struct rdv_server *s = ctx;

	switch (type) {
	case WIRE_HANDSHAKE_INIT:
		return WIRE_INIT_LEN;
	case WIRE_DATA:
		return RDV_SIGNAL_PKT_MAX;
	case WIRE_RELAY:
		return s->cfg.relay && tcp_is_authenticated(ctx, conn) ? RDV_FRAME_MAX : 0;
	default:
		return 0;
	}
}

static void tcp_on_frame(void *ctx, struct rdv_tcp_conn *conn, uint8_t *frame, size_t len)
{
	struct rdv_server *s = ctx;
	struct rdv_channel ch = tcp_channel(conn);

	rdv_core_receive(&s->core, &ch, frame, len, time_now_ms());
}

static void tcp_on_stun(void *ctx, struct rdv_tcp_conn *conn, const uint8_t *msg, size_t len)
{
	struct rdv_server *s = ctx;
	struct rdv_stun_request req = {.data = msg,
				       .len = len,
				       .sock = arrival_sock(s, 0, &conn->local),
				       .tcp = true,
				       .from = &conn->remote,
				       .primary = NULL};
	struct sockaddr_storage primary;
	uint8_t out[RDV_STUN_REPLY_MAX];
	unsigned send_sock;
	size_t out_len;
	enum rdv_stun_drop why;

	req.primary = request_primary(s, req.sock, &conn->local, &conn->remote, &primary);
	why = rdv_stun_answer(&s->stun, &req, out, sizeof(out), &out_len, &send_sock);

	if (why != RDV_STUN_ANSWERED) {
		s->stun_drops[why]++;
		/* Garbage on a STUN stream: nothing else will follow it. */
		rdv_tcp_close(&s->tcp, conn);
		return;
	}
	s->stun_answered++;
	rdv_tcp_send(&s->tcp, conn, false, out, out_len, time_now_ms());
}

static void tcp_on_close(void *ctx, struct rdv_tcp_conn *conn)
{
	struct rdv_server *s = ctx;

	rdv_core_conn_closed(&s->core, conn);
}

static const struct rdv_tcp_ops tcp_ops = {
    .frame_max = tcp_frame_max,
    .on_frame = tcp_on_frame,
    .on_stun = tcp_on_stun,
    .is_authenticated = tcp_is_authenticated,
    .on_close = tcp_on_close,
};

/* ---- set-up ---- */

static int add_fd(struct rdv_server *s, int fd, struct rdv_ev *ev)
{
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = ev};

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

static int open_udp(struct rdv_server *s, unsigned i, const struct sockaddr_storage *ip,
		    uint16_t port)
{
	struct sockaddr_storage addr = *ip;
	char shown[CFG_ENDPOINT_STRLEN];
	int ret;

	addr_set_port(&addr, port);
	ret = udp_open_addr(&s->udp[i], &addr, UDP_OPEN_PKTINFO);
	if (ret == 0) {
		s->have_udp[i] = true;
		s->udp_ev[i].kind = RDV_EV_UDP;
		s->udp_ev[i].index = i;
		ret = add_fd(s, s->udp[i].fd, &s->udp_ev[i]);
	}
	if (ret < 0) {
		cfg_endpoint_to_string(&addr, shown, sizeof(shown));
		log_error("rendezvous: udp %s: %s", shown, strerror(-ret));
	}
	return ret;
}

static int open_signals(struct rdv_server *s)
{
	s->sigfd = sigfd_open();
	if (s->sigfd < 0)
		return s->sigfd;
	s->sig_ev.kind = RDV_EV_SIGNAL;
	return add_fd(s, s->sigfd, &s->sig_ev);
}

static int open_sockets(struct rdv_server *s)
{
	uint16_t port = addr_port(&s->cfg.listen);
	char shown[CFG_ENDPOINT_STRLEN];
	int ret;

	s->stun.ip[0] = s->cfg.listen;
	s->stun.port[0] = port;
	s->stun.port[1] = (uint16_t)(port + 1);
	s->stun.has_alternate = s->cfg.has_alternate;
	if (s->cfg.has_alternate)
		s->stun.ip[1] = s->cfg.alternate;
	s->alt_on_wildcard = s->cfg.has_alternate && addr_is_any(&s->cfg.listen);
	for (unsigned i = 0; i < RDV_STUN_SOCKS; i++) {
		if ((i & RDV_STUN_CHANGE_IP_BIT) && (!s->cfg.has_alternate || s->alt_on_wildcard))
			continue;
		ret = open_udp(s, i, &s->stun.ip[i >> 1], s->stun.port[i & 1]);
		if (ret < 0)
			return ret;
	}
	ret = rdv_tcp_open(&s->tcp, &s->cfg.listen, s->epfd, &s->opts.tcp, &tcp_ops, s);
	if (ret < 0) {
		cfg_endpoint_to_string(&s->cfg.listen, shown, sizeof(shown));
		log_error("rendezvous: tcp %s: %s", shown, strerror(-ret));
	}
	return ret;
}

static void log_start(const struct rdv_server *s)
{
	char listen[CFG_ENDPOINT_STRLEN], alt[CFG_ENDPOINT_STRLEN], key[KEY_B64_LEN + 1];

	cfg_endpoint_to_string(&s->cfg.listen, listen, sizeof(listen));
	key_to_base64(s->core.id.s_pub, key);
	if (s->cfg.has_alternate)
		cfg_endpoint_to_string(&s->cfg.alternate, alt, sizeof(alt));
	log_info("rendezvous: listening on %s (UDP and TCP), STUN also on port %u%s%s; relay %s; "
		 "%s; public key %s",
		 listen, (unsigned)s->stun.port[1],
		 s->cfg.has_alternate ? " and on the alternate address " : "",
		 s->cfg.has_alternate ? alt : "", s->cfg.relay ? "on" : "off",
		 s->cfg.open ? "open to any key" : "listed keys only", key);
}

static uint64_t or_default(uint64_t v, uint64_t def)
{
	return v ? v : def;
}

static const struct rdv_stun_limits *stun_limits(const struct rdv_stun_limits *in,
						 struct rdv_stun_limits *out)
{
	out->per_ip_rate = or_default(in->per_ip_rate, RDV_STUN_PER_IP_RATE);
	out->per_ip_burst = or_default(in->per_ip_burst, RDV_STUN_PER_IP_BURST);
	out->global_rate = or_default(in->global_rate, RDV_STUN_GLOBAL_RATE);
	out->global_burst = or_default(in->global_burst, RDV_STUN_GLOBAL_BURST);
	return out;
}

int rdv_server_init(struct rdv_server *s, struct cfg_rendezvous *cfg, const char *config_path,
		    const struct rdv_server_opts *opts)
{
	struct rdv_stun_limits lim;
	struct cfg_errors errs = {0};
	int ret;

	memset(s, 0, sizeof(*s));
	s->epfd = s->sigfd = -1;
	s->tcp.listen_fd = -1;
	for (unsigned i = 0; i < RDV_STUN_SOCKS; i++)
		s->udp[i].fd = -1;
	if (!rdv_server_check_config(cfg, &errs)) {
		for (size_t i = 0; i < errs.n; i++)
			log_error("%s", errs.msgs[i]);
		cfg_errors_free(&errs);
		return -EINVAL;
	}
	s->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	s->config_path = config_path;
	s->opts = *opts;
	s->rx = malloc((size_t)RDV_UDP_BATCH * RDV_RX_SLOT);
	s->stun_limit = malloc(sizeof(*s->stun_limit));
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!s->rx || !s->stun_limit || s->epfd < 0) {
		ret = s->rx && s->stun_limit ? -errno : -ENOMEM;
		goto fail;
	}
	rdv_stun_limiter_init(s->stun_limit, stun_limits(&opts->stun, &lim));
	for (unsigned i = 0; i < RDV_UDP_BATCH; i++) {
		s->dg[i].data = s->rx + (size_t)i * RDV_RX_SLOT;
		s->dg[i].cap = RDV_RX_SLOT;
	}
	ret = rdv_core_init(&s->core, &s->cfg, opts->max_peers ? opts->max_peers : RDV_MAX_PEERS,
			    send_channel, s);
	if (ret < 0) {
		log_error("rendezvous: cannot start: %s", strerror(-ret));
		goto fail;
	}
	s->core.allow_loopback = opts->allow_loopback;
	ret = open_sockets(s);
	if (ret == 0 && opts->handle_signals)
		ret = open_signals(s);
	if (ret < 0)
		goto fail;
	log_start(s);
	if (s->opts.notify)
		(void)s->opts.notify("READY=1");
	return 0;
fail:
	rdv_server_cleanup(s);
	return ret;
}

void rdv_server_cleanup(struct rdv_server *s)
{
	if (s->tcp.conns)
		rdv_tcp_close_all(&s->tcp);
	for (unsigned i = 0; i < RDV_STUN_SOCKS; i++)
		if (s->have_udp[i] || s->udp[i].fd >= 0)
			udp_close(&s->udp[i]);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->core.reg.max)
		rdv_core_cleanup(&s->core);
	free(s->rx);
	free(s->stun_limit);
	cfg_rendezvous_free(&s->cfg);
	memset(s, 0, sizeof(*s));
	s->epfd = s->sigfd = -1;
}

/* ---- reload, signals, loop ---- */

int rdv_server_reload(struct rdv_server *s)
{
	struct cfg_rendezvous next;
	struct cfg_errors errs = {0};
	bool loaded;

	if (s->opts.notify)
		(void)s->opts.notify("RELOADING=1");
	loaded = cfg_load_rendezvous(s->config_path, &next, &errs);
	if (!loaded || !rdv_server_check_config(&next, &errs)) {
		for (size_t i = 0; i < errs.n; i++)
			log_error("%s", errs.msgs[i]);
		log_error("rendezvous: reload of %s failed, keeping the running configuration",
			  s->config_path);
		cfg_errors_free(&errs);
		if (loaded)
			cfg_rendezvous_free(&next);
		if (s->opts.notify)
			(void)s->opts.notify("READY=1");
		return -EINVAL;
	}
	if (!cfg_endpoint_equal(&next.listen, &s->cfg.listen) ||
	    next.has_alternate != s->cfg.has_alternate ||
	    (next.has_alternate && !cfg_endpoint_equal(&next.alternate, &s->cfg.alternate)) ||
	    sodium_memcmp(next.private_key, s->cfg.private_key, 32) != 0)
		log_warn("rendezvous: listen, alternate_address or the private key changed: "
			 "restart to apply them");
	/* Keep what was applied at start-up, take the rest. */
	next.listen = s->cfg.listen;
	next.has_alternate = s->cfg.has_alternate;
	next.alternate = s->cfg.alternate;
	memcpy(next.private_key, s->cfg.private_key, 32);
	memcpy(next.public_key, s->cfg.public_key, 32);
	cfg_rendezvous_free(&s->cfg);
	s->cfg = next;
	rdv_core_set_config(&s->core, &s->cfg);
	log_info("rendezvous: configuration reloaded: %zu listed peer%s, %s, relay %s",
		 s->cfg.n_peers, s->cfg.n_peers == 1 ? "" : "s",
		 s->cfg.open ? "open to any key" : "listed keys only", s->cfg.relay ? "on" : "off");
	if (s->opts.notify)
		(void)s->opts.notify("READY=1");
	return 0;
}

void rdv_server_stop(struct rdv_server *s)
{
	s->stop = true;
}

static void read_signals(struct rdv_server *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			(void)rdv_server_reload(s);
		} else {
			log_info("rendezvous: signal %u, stopping", si.ssi_signo);
			s->stop = true;
		}
	}
}

static void sweep(struct rdv_server *s, uint64_t now)
{
	if (now >= s->next_sweep_ms) {
		(void)rdv_core_expire(&s->core, now);
		rdv_tcp_expire(&s->tcp, now);
		s->next_sweep_ms = now + SWEEP_MS;
	}
	if (s->opts.watchdog_ms && s->opts.notify && now >= s->next_watchdog_ms) {
		(void)s->opts.notify("WATCHDOG=1");
		s->next_watchdog_ms = now + s->opts.watchdog_ms / 2;
	}
}

int rdv_server_run_once(struct rdv_server *s, int timeout_ms)
{
	struct epoll_event ev[EVENTS];
	uint64_t now = time_now_ms();
	int n;

	if (s->next_sweep_ms > now && timeout_ms > (int)(s->next_sweep_ms - now))
		timeout_ms = (int)(s->next_sweep_ms - now);
	n = epoll_wait(s->epfd, ev, EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	now = time_now_ms();
	/* Handshake DH work allowed until the next wake-up. */
	rdv_core_wake(&s->core);
	for (int i = 0; i < n; i++) {
		struct rdv_ev *e = ev[i].data.ptr;

		switch (e->kind) {
		case RDV_EV_UDP:
			read_udp(s, e->index, now);
			break;
		case RDV_EV_LISTEN:
			rdv_tcp_accept(&s->tcp, now);
			break;
		case RDV_EV_CONN:
			rdv_tcp_event(&s->tcp, (struct rdv_tcp_conn *)e, ev[i].events, now);
			break;
		case RDV_EV_SIGNAL:
			read_signals(s);
			break;
		}
	}
	/* Connections closed during this batch are freed only now. */
	rdv_tcp_reap(&s->tcp);
	sweep(s, time_now_ms());
	return 0;
}

int rdv_server_run(struct rdv_server *s)
{
	int ret = 0;

	while (!s->stop && ret == 0)
		ret = rdv_server_run_once(s, SWEEP_MS);
	if (s->opts.notify)
		(void)s->opts.notify("STOPPING=1");
	rdv_core_log_stats(&s->core, "stopping");
	rdv_tcp_log_stats(&s->tcp);
	if (ret < 0)
		log_error("rendezvous: event loop: %s", strerror(-ret));
	return ret;
}
