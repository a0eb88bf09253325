/* TCP connections of the rendezvous: accept (with the per-source and
 * unauthenticated caps, and eviction), read and frame, write with a
 * bounded backlog, time limits, deferred free. A connection is freed only
 * by rdv_tcp_reap, after the event loop has handled every event of the
 * current batch: an event for a connection closed earlier in the same
 * batch then finds it marked dead instead of freed. */
#include "rendezvous/tcp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util/addr.h"
#include "util/log.h"

enum {
	ACCEPT_PER_EVENT = 64,
	READS_PER_EVENT = 16, /* then let other sockets have a turn */
};

void rdv_tcp_limits_default(struct rdv_tcp_limits *lim)
{
	if (!lim->max_conns)
		lim->max_conns = RDV_TCP_MAX_CONNS;
	if (!lim->first_frame_ms)
		lim->first_frame_ms = RDV_TCP_FIRST_FRAME_MS;
	if (!lim->max_unauth)
		lim->max_unauth = RDV_TCP_MAX_UNAUTH;
	if (!lim->unauth_per_ip)
		lim->unauth_per_ip = RDV_TCP_UNAUTH_PER_IP;
	if (!lim->wbuf_max)
		lim->wbuf_max = RDV_TCP_WBUF_MAX;
	if (!lim->wbuf_unauth)
		lim->wbuf_unauth = RDV_TCP_WBUF_UNAUTH;
	if (!lim->frame_ms)
		lim->frame_ms = RDV_TCP_FRAME_MS;
	if (!lim->auth_ms)
		lim->auth_ms = RDV_TCP_AUTH_MS;
	if (!lim->wfull_ms)
		lim->wfull_ms = RDV_TCP_WFULL_MS;
	if (!lim->idle_ms)
		lim->idle_ms = RDV_TCP_IDLE_MS;
	if (!lim->auth_idle_ms)
		lim->auth_idle_ms = RDV_TCP_AUTH_IDLE_MS;
	if (!lim->wstall_ms)
		lim->wstall_ms = RDV_TCP_WSTALL_MS;
}

int rdv_tcp_open(struct rdv_tcp *t, const struct sockaddr_storage *addr, int epfd,
		 const struct rdv_tcp_limits *lim, const struct rdv_tcp_ops *ops, void *ctx)
{
	struct epoll_event ev = {.events = EPOLLIN};
	socklen_t len = addr_len(addr);
	int one = 1, zero = 0, ret;

	memset(t, 0, sizeof(*t));
	t->lim = *lim;
	rdv_tcp_limits_default(&t->lim);
	t->ops = ops;
	t->ctx = ctx;
	t->epfd = epfd;
	t->ev.kind = RDV_EV_LISTEN;
	t->conns = calloc(t->lim.max_conns, sizeof(*t->conns));
	if (!t->conns)
		return -ENOMEM;
	t->listen_fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->listen_fd < 0)
		goto fail;
	/* SO_REUSEADDR on a TCP listener only lets a restart bind while old
	 * connections sit in TIME_WAIT; two listeners are still refused. */
	if (setsockopt(t->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (addr->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)addr)->sin6_addr) &&
	    setsockopt(t->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		goto fail;
	if (bind(t->listen_fd, (const struct sockaddr *)addr, len) < 0 ||
	    listen(t->listen_fd, 128) < 0)
		goto fail;
	ev.data.ptr = &t->ev;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, t->listen_fd, &ev) < 0)
		goto fail;
	return 0;
fail:
	ret = -errno;
	if (t->listen_fd >= 0)
		close(t->listen_fd);
	t->listen_fd = -1;
	free(t->conns);
	t->conns = NULL;
	return ret;
}

static void free_conn(struct rdv_tcp_conn *c)
{
	free(c->rbuf);
	free(c->wbuf);
	free(c);
}

void rdv_tcp_close(struct rdv_tcp *t, struct rdv_tcp_conn *c)
{
	size_t last;

	if (c->dead)
		return;
	c->dead = true;
	(void)epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	if (t->ops->on_close)
		t->ops->on_close(t->ctx, c);
	if (!c->authed)
		t->n_unauth--;
	last = t->n - 1;
	t->conns[c->slot] = t->conns[last];
	t->conns[c->slot]->slot = c->slot;
	t->n--;
	c->next_dead = t->dead;
	t->dead = c;
}

void rdv_tcp_reap(struct rdv_tcp *t)
{
	while (t->dead) {
		struct rdv_tcp_conn *c = t->dead;

		t->dead = c->next_dead;
		free_conn(c);
	}
}

void rdv_tcp_close_all(struct rdv_tcp *t)
{
	while (t->n)
		rdv_tcp_close(t, t->conns[t->n - 1]);
	rdv_tcp_reap(t);
	if (t->listen_fd >= 0) {
		(void)epoll_ctl(t->epfd, EPOLL_CTL_DEL, t->listen_fd, NULL);
		close(t->listen_fd);
	}
	t->listen_fd = -1;
	free(t->conns);
	t->conns = NULL;
}

static bool is_authenticated(struct rdv_tcp *t, struct rdv_tcp_conn *c)
{
	return t->ops->is_authenticated && t->ops->is_authenticated(t->ctx, c);
}

/* A connection gains a session only through a frame read on it, and loses
 * it when the registry moves or expires it: asked after every frame and at
 * every expire, so the cache is at most one sweep late in the safe
 * direction (a lost session still protects the connection for ~1 s). */
static void refresh_authed(struct rdv_tcp *t, struct rdv_tcp_conn *c)
{
	bool a = is_authenticated(t, c);

	if (a == c->authed)
		return;
	c->authed = a;
	if (a)
		t->n_unauth--;
	else
		t->n_unauth++;
}

static size_t unauth_from(struct rdv_tcp *t, const struct sockaddr_storage *ip)
{
	size_t k = 0;

	for (size_t i = 0; i < t->n; i++)
		if (!t->conns[i]->authed && addr_equal_host(&t->conns[i]->remote, ip))
			k++;
	return k;
}

/* The connection without a session to close for a newcomer: one that has
 * not completed a single frame first (a flood of bare connects or of
 * dribbled bytes goes before a peer whose handshake is under way), then
 * the oldest. Never one that carries a session. */
static struct rdv_tcp_conn *victim(struct rdv_tcp *t)
{
	struct rdv_tcp_conn *best = NULL;

	for (size_t i = 0; i < t->n; i++) {
		struct rdv_tcp_conn *c = t->conns[i];

		if (c->authed)
			continue;
		if (!best || (!c->last_frame_ms && best->last_frame_ms) ||
		    (!c->last_frame_ms == !best->last_frame_ms &&
		     c->accepted_ms < best->accepted_ms))
			best = c;
	}
	return best;
}

/* Room for one more connection without a session from remote: false when
 * its IP already has unauth_per_ip, or when every connection carries a
 * session; at max_unauth or max_conns a victim() makes room. */
static bool make_room(struct rdv_tcp *t, const struct sockaddr_storage *remote)
{
	struct rdv_tcp_conn *v;

	if (unauth_from(t, remote) >= t->lim.unauth_per_ip) {
		t->refused_ip++;
		return false;
	}
	if (t->n < t->lim.max_conns && t->n_unauth < t->lim.max_unauth)
		return true;
	v = victim(t);
	if (!v) {
		t->refused++;
		return false;
	}
	t->evicted++;
	log_debug("rendezvous: tcp connection: evicted for a newcomer (no session yet)");
	rdv_tcp_close(t, v);
	return true;
}

static void add_conn(struct rdv_tcp *t, int fd, const struct sockaddr_storage *remote,
		     uint64_t now_ms)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
	struct rdv_tcp_conn *c = calloc(1, sizeof(*c));
	socklen_t len = sizeof(struct sockaddr_storage);
	int one = 1;

	if (c)
		c->rbuf = malloc(RDV_TCP_RBUF_MIN);
	if (!c || !c->rbuf) {
		if (c)
			free(c);
		close(fd);
		return;
	}
	c->ev.kind = RDV_EV_CONN;
	c->fd = fd;
	c->rcap = RDV_TCP_RBUF_MIN;
	c->remote = *remote;
	addr_unmap_v4(&c->remote);
	if (getsockname(fd, (struct sockaddr *)&c->local, &len) == 0)
		addr_unmap_v4(&c->local);
	c->accepted_ms = now_ms;
	/* Relayed packets are latency-sensitive, and each is one write. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ev.data.ptr = &c->ev;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free_conn(c);
		close(fd);
		return;
	}
	c->slot = t->n;
	t->conns[t->n++] = c;
	t->n_unauth++;
	t->accepted++;
}

void rdv_tcp_accept(struct rdv_tcp *t, uint64_t now_ms)
{
	for (int i = 0; i < ACCEPT_PER_EVENT; i++) {
		struct sockaddr_storage remote;
		socklen_t len = sizeof(remote);
		int fd = accept4(t->listen_fd, (struct sockaddr *)&remote, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			/* EAGAIN: done. EMFILE and the like: the backlog keeps
			 * the rest for a later turn. */
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_debug("rendezvous: tcp accept: %s", strerror(errno));
			return;
		}
		addr_unmap_v4(&remote);
		if (!make_room(t, &remote)) {
			close(fd);
			continue;
		}
		add_conn(t, fd, &remote, now_ms);
	}
}

static void set_want_out(struct rdv_tcp *t, struct rdv_tcp_conn *c, bool want)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u)};

	if (c->want_out == want)
		return;
	ev.data.ptr = &c->ev;
	if (epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->want_out = want;
}

static void bad(struct rdv_tcp *t, struct rdv_tcp_conn *c, const char *why)
{
	t->closed_bad++;
	log_debug("rendezvous: tcp connection: %s, closed", why);
	rdv_tcp_close(t, c);
}

/* Makes room for need bytes in the read buffer. */
static bool reserve(struct rdv_tcp_conn *c, size_t need)
{
	uint8_t *b;

	if (need <= c->rcap)
		return true;
	b = realloc(c->rbuf, need);
	if (!b)
		return false;
	c->rbuf = b;
	c->rcap = need;
	return true;
}

static void consume(struct rdv_tcp_conn *c, size_t n, uint64_t now_ms)
{
	memmove(c->rbuf, c->rbuf + n, c->rlen - n);
	c->rlen -= n;
	c->last_frame_ms = now_ms;
	c->frame_start_ms = 0;
	/* A frame far above the usual size leaves a big buffer behind; give it
	 * back once it is drained. */
	if (c->rlen == 0 && c->rcap > 4 * RDV_TCP_RBUF_MIN) {
		uint8_t *b = realloc(c->rbuf, RDV_TCP_RBUF_MIN);

		if (b) {
			c->rbuf = b;
			c->rcap = RDV_TCP_RBUF_MIN;
		}
	}
}

struct peek_ctx {
	struct rdv_tcp *t;
	struct rdv_tcp_conn *c;
};

/* frame_peek's per-type limit: the owner's, for this connection. */
static size_t conn_frame_max(void *ctx, uint8_t type)
{
	struct peek_ctx *p = ctx;

	return p->t->ops->frame_max(p->t->ctx, p->c, type);
}

/* One complete frame or STUN message at the start of rbuf: 1 handed over,
 * 0 more bytes needed, -1 connection closed. The framing rules are
 * transport/frame's frame_peek; the buffer grows to the frame under way
 * (its limit depends on its type and on the connection). */
static int take_one(struct rdv_tcp *t, struct rdv_tcp_conn *c, uint64_t now_ms)
{
	struct peek_ctx pc = {t, c};
	const struct frame_rules rules = {
	    .stun_max = RDV_TCP_STUN_MAX, .frame_max = conn_frame_max, .ctx = &pc};
	size_t need = 0;
	enum frame_verdict v = frame_peek(c->rbuf, c->rlen, &c->mode, &rules, &need);

	if (v < 0) {
		bad(t, c, frame_verdict_str(v));
		return -1;
	}
	if (!reserve(c, need)) {
		bad(t, c, "out of memory");
		return -1;
	}
	if (v == FRAME_MORE)
		return 0;
	if (c->mode == FRAME_MODE_STUN)
		t->ops->on_stun(t->ctx, c, c->rbuf, need);
	else
		t->ops->on_frame(t->ctx, c, c->rbuf + FRAME_PREFIX_LEN, need - FRAME_PREFIX_LEN);
	if (c->dead)
		return -1;
	refresh_authed(t, c);
	consume(c, need, now_ms);
	return 1;
}

static void do_read(struct rdv_tcp *t, struct rdv_tcp_conn *c, uint64_t now_ms)
{
	for (int i = 0; i < READS_PER_EVENT && !c->dead; i++) {
		ssize_t n;
		int r;

		/* The buffer always has room for the frame under way (take_one
		 * reserved it), so a full one means a framing bug: stay bounded. */
		if (c->rlen == c->rcap) {
			bad(t, c, "read buffer full");
			return;
		}
		n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, MSG_DONTWAIT);
		if (n == 0) {
			rdv_tcp_close(t, c);
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			rdv_tcp_close(t, c);
			return;
		}
		if (c->rlen == 0)
			c->frame_start_ms = now_ms;
		c->rlen += (size_t)n;
		while ((r = take_one(t, c, now_ms)) > 0)
			if (c->rlen)
				c->frame_start_ms = now_ms;
		if (r < 0)
			return;
	}
}

static void flush(struct rdv_tcp *t, struct rdv_tcp_conn *c, uint64_t now_ms)
{
	while (c->wlen) {
		ssize_t n = send(c->fd, c->wbuf, c->wlen, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			rdv_tcp_close(t, c);
			return;
		}
		memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
		c->wlen -= (size_t)n;
		c->wstall_ms = now_ms;
	}
	set_want_out(t, c, c->wlen != 0);
}

void rdv_tcp_event(struct rdv_tcp *t, struct rdv_tcp_conn *c, uint32_t events, uint64_t now_ms)
{
	if (c->dead)
		return;
	if (events & EPOLLIN)
		do_read(t, c, now_ms);
	if (!c->dead && (events & EPOLLOUT))
		flush(t, c, now_ms);
	/* Peer gone or half-closed: we keep no half-open connections. */
	if (!c->dead && (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)))
		rdv_tcp_close(t, c);
}

static bool append(struct rdv_tcp_conn *c, const uint8_t *data, size_t len, size_t max)
{
	if (c->wlen + len > c->wcap) {
		size_t cap = c->wcap ? c->wcap : 4096;
		uint8_t *b;

		while (cap < c->wlen + len)
			cap *= 2;
		if (cap > max)
			cap = max;
		if (c->wlen + len > cap)
			return false;
		b = realloc(c->wbuf, cap);
		if (!b)
			return false;
		c->wbuf = b;
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, data, len);
	c->wlen += len;
	return true;
}

void rdv_tcp_send(struct rdv_tcp *t, struct rdv_tcp_conn *c, bool framed, const uint8_t *data,
		  size_t len, uint64_t now_ms)
{
	uint8_t prefix[2] = {(uint8_t)(len >> 8), (uint8_t)len};
	struct iovec iov[2] = {{prefix, 2}, {(void *)data, len}};
	struct msghdr mh = {.msg_iov = framed ? iov : iov + 1, .msg_iovlen = framed ? 2 : 1};
	size_t hdr = framed ? 2 : 0, sent = 0, off, before = c->wlen;
	size_t max = c->authed ? t->lim.wbuf_max : t->lim.wbuf_unauth;
	ssize_t n;

	if (c->dead || len > 0xFFFF)
		return;
	if (c->wlen == 0) {
		n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			rdv_tcp_close(t, c);
			return;
		}
		sent = n > 0 ? (size_t)n : 0;
		if (sent == hdr + len)
			return;
		c->wstall_ms = now_ms;
	} else if (c->wlen + hdr + len > max) {
		/* A client that does not read: without a session it only ever
		 * gets replies to what it sent, so a full buffer means it asks
		 * without reading; with one, a slow reader loses datagrams
		 * (whole frames: the stream must stay parseable) until nothing
		 * has drained for wfull_ms. */
		if (!c->authed || now_ms - c->wstall_ms >= t->lim.wfull_ms) {
			t->closed_wfull++;
			log_debug(
			    "rendezvous: tcp connection: write buffer full, not read, closed");
			rdv_tcp_close(t, c);
			return;
		}
		t->dropped_frames++;
		return;
	}
	/* The unsent tail of this frame goes to the buffer. */
	off = sent > hdr ? sent - hdr : 0;
	if ((sent < hdr && !append(c, prefix + sent, hdr - sent, max)) ||
	    !append(c, data + off, len - off, max)) {
		/* Out of memory: a frame begun on the wire cannot be dropped. */
		if (sent) {
			rdv_tcp_close(t, c);
			return;
		}
		c->wlen = before;
		t->dropped_frames++;
		return;
	}
	set_want_out(t, c, true);
}

void rdv_tcp_expire(struct rdv_tcp *t, uint64_t now_ms)
{
	static const char no_session[] = "no session in time";

	for (size_t i = t->n; i-- > 0;) {
		struct rdv_tcp_conn *c = t->conns[i];
		uint64_t idle, since = c->last_frame_ms ? c->last_frame_ms : c->accepted_ms;
		const char *why = NULL;

		refresh_authed(t, c);
		idle = c->authed ? t->lim.auth_idle_ms : t->lim.idle_ms;
		if (!c->last_frame_ms && now_ms - c->accepted_ms >= t->lim.first_frame_ms)
			why = "no complete first frame in time";
		else if (!c->authed && now_ms - c->accepted_ms >= t->lim.auth_ms)
			why = no_session;
		else if (c->frame_start_ms && now_ms - c->frame_start_ms >= t->lim.frame_ms)
			why = "frame not completed in time";
		else if (now_ms - since >= idle)
			why = "idle";
		else if (c->wlen && now_ms - c->wstall_ms >= t->lim.wstall_ms)
			why = "not reading what we send";
		if (!why)
			continue;
		t->closed_timeout++;
		if (why == no_session)
			t->closed_auth++;
		log_debug("rendezvous: tcp connection: %s, closed", why);
		rdv_tcp_close(t, c);
	}
}

void rdv_tcp_log_stats(const struct rdv_tcp *t)
{
	log_info("rendezvous: tcp: %llu accepted, %zu open (%zu without a session); refused: %llu "
		 "over the per-IP cap, %llu table full of sessions; %llu evicted; closed: %llu "
		 "timed out (%llu without a session in time), %llu framing, %llu not reading; "
		 "%llu frames dropped",
		 (unsigned long long)t->accepted, t->n, t->n_unauth,
		 (unsigned long long)t->refused_ip, (unsigned long long)t->refused,
		 (unsigned long long)t->evicted, (unsigned long long)t->closed_timeout,
		 (unsigned long long)t->closed_auth, (unsigned long long)t->closed_bad,
		 (unsigned long long)t->closed_wfull, (unsigned long long)t->dropped_frames);
}
