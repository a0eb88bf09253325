/* TCP streams of the daemon (DESIGN.md section 3, issue "TCP simultaneous
 * open"): the listener on listen_port, connects from listen_port towards
 * peers' TCP candidates (a simultaneous open when both sides connect at the
 * agreed moment) and towards the rendezvous when UDP gets no answer, and
 * length-prefixed datagrams over every stream (transport/tcp.h).
 *
 * A stream has a slot: connecting (fd, no conn yet) or established (conn).
 * Its owner is the peer we connected to, or, for an accepted stream, the
 * peer whose authenticated packet first came over it; a stream nobody
 * owns after TCPMUX_ADOPT_MS is closed, whatever it sends meanwhile (a
 * slowloris sender or a silent one gains nothing). Received frames are
 * copied into an rx buffer with headroom and handed to datapath_receive like
 * datagrams.
 *
 * The slot table is shared with our own connects, so a connection flood
 * must not be able to fill it: accepted streams nobody owns yet are at
 * most TCPMUX_UNAUTH_PER_IP per source IP (more are refused at accept) and
 * TCPMUX_UNAUTH_MAX in all; at that cap, or when the table is full for an
 * accept or for one of our connects, one of them is evicted (one that has
 * not completed a frame first, then the oldest). Owned streams and
 * connects under way are never evicted.
 *
 * A peer that does not read: an unowned stream is closed as soon as its
 * out ring refuses a datagram; an owned one drops datagrams whole (what
 * UDP would do to a slow reader) and is closed once the ring has refused
 * one and not drained for TCPMUX_WFULL_MS. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/path.h"
#include "daemon/punch.h"
#include "daemon/rdv.h"
#include "daemon/receive.h"
#include "daemon/send.h"
#include "daemon/tcpmux.h"
#include "transport/tcp.h"
#include "util/addr.h"
#include "util/log.h"
#include "util/time.h"

enum {
	TCPMUX_ADOPT_MS = 10 * 1000,
	TCPMUX_IDLE_MS = 120 * 1000,
	TCPMUX_CONNECT_MS = 8 * 1000,
	TCPMUX_RESTART_MS = 3 * 1000,
	TCPMUX_UNAUTH_PER_IP = 4,
	TCPMUX_UNAUTH_MAX = 16, /* of TCP_SLOTS_MAX: the rest stays for peers */
	TCPMUX_WFULL_MS = 2 * 1000,
};

static void watch_slot(struct daemon *d, unsigned i, uint32_t events, int op)
{
	struct tcp_slot *s = &d->tcp[i];
	struct epoll_event ev = { .events = events, .data.u32 = EV_TCP_BASE + i };
	int fd = s->conn ? s->conn->fd : s->fd;

	(void)epoll_ctl(d->epfd, op, fd, &ev);
}

static int free_slot(struct daemon *d)
{
	for (unsigned i = 0; i < TCP_SLOTS_MAX; i++)
		if (!d->tcp[i].conn && d->tcp[i].fd < 0)
			return (int)i;
	return -1;
}

/* Accepted, and no authenticated packet on it yet. */
static bool unowned(const struct tcp_slot *s)
{
	return s->conn && !s->owner;
}

/* The unowned stream to give up for a newcomer: one on which no complete
 * frame arrived first (bare connects, dribbled bytes), then the oldest.
 * -1 when there is none. */
static int victim(const struct daemon *d)
{
	int best = -1;

	for (unsigned i = 0; i < TCP_SLOTS_MAX; i++) {
		const struct tcp_slot *s = &d->tcp[i], *b;

		if (!unowned(s))
			continue;
		if (best < 0) {
			best = (int)i;
			continue;
		}
		b = &d->tcp[best];
		if ((!s->conn->rx_frames && b->conn->rx_frames) ||
		    (!s->conn->rx_frames == !b->conn->rx_frames && s->started_ms < b->started_ms))
			best = (int)i;
	}
	return best;
}

static void close_slot(struct daemon *d, unsigned i, const char *why);

/* A free slot, evicting an unowned stream when none is free. */
static int take_slot(struct daemon *d)
{
	int i = free_slot(d);

	if (i >= 0)
		return i;
	i = victim(d);
	if (i < 0)
		return -1;
	d->tcp_evicted++;
	close_slot(d, (unsigned)i, "evicted for a newcomer");
	return i;
}

/* Forgets the stream everywhere it may be referenced, then closes it. */
static void close_slot(struct daemon *d, unsigned i, const char *why)
{
	struct tcp_slot *s = &d->tcp[i];
	struct tcp_conn *c = s->conn;
	uint64_t now = time_now_ms();

	if (c) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		for (size_t k = 0; k < d->n_peers; k++) {
			struct peer *p = d->peers[k];
			if (p->path.kind == PATH_TCP && p->path.conn == c)
				p->path.kind = PATH_NONE;
		}
		if (d->rdv && d->rdv->path.kind == PATH_TCP && d->rdv->path.conn == c) {
			/* Back to UDP towards the rendezvous; the client retries. */
			d->rdv->path.kind = PATH_UDP;
			d->rdv->path.conn = NULL;
			d->rdv->path.addr = d->rdv->cfg.endpoint;
			rdv_client_tcp_down(d);
		}
		if (s->owner && !s->owner->is_rendezvous)
			punch_on_tcp_closed(&s->owner->punch, &c->peer, now);
		log_debug("%s: tcp %s: closed (%s)", d->cfg.ifname, addr_str(&c->peer).s, why);
		tcp_conn_free(c);
	} else if (s->fd >= 0) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, s->fd, NULL);
		close(s->fd);
		if (s->is_rdv)
			rdv_client_tcp_down(d);
	}
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

int tcpmux_start(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = EV_TCP_LISTEN };
	int ret;

	for (unsigned i = 0; i < TCP_SLOTS_MAX; i++) {
		memset(&d->tcp[i], 0, sizeof(d->tcp[i]));
		d->tcp[i].fd = -1;
	}
	ret = tcp_listen(udp_local_port(&d->udp), &d->tcp_listen_fd);
	if (ret < 0) {
		d->tcp_listen_fd = -1;
		log_error("%s: TCP port %u: %s", d->cfg.ifname, udp_local_port(&d->udp),
			  strerror(-ret));
		return ret;
	}
	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->tcp_listen_fd, &ev) < 0 ? -errno : 0;
}

void tcpmux_stop(struct daemon *d)
{
	for (unsigned i = 0; i < TCP_SLOTS_MAX; i++)
		if (d->tcp[i].conn || d->tcp[i].fd >= 0)
			close_slot(d, i, "shutdown");
	if (d->tcp_listen_fd >= 0)
		close(d->tcp_listen_fd);
	d->tcp_listen_fd = -1;
	log_info("%s: tcp: %llu accepted; refused: %llu over the per-IP cap, %llu table full; "
		 "%llu evicted; closed: %llu unauthenticated in time, %llu not reading",
		 d->cfg.ifname, (unsigned long long)d->tcp_accepted,
		 (unsigned long long)d->tcp_refused_ip, (unsigned long long)d->tcp_refused,
		 (unsigned long long)d->tcp_evicted, (unsigned long long)d->tcp_closed_unauth,
		 (unsigned long long)d->tcp_closed_wfull);
}

static int start_connect(struct daemon *d, struct peer *owner, bool is_rdv,
			 const struct sockaddr_storage *to, uint64_t now)
{
	int i = take_slot(d), fd, ret;

	if (i < 0)
		return -ENOSPC;
	ret = tcp_connect_from(udp_local_port(&d->udp), to, &fd);
	if (ret < 0 && ret != -EINPROGRESS)
		return ret;
	d->tcp[i].fd = fd;
	d->tcp[i].owner = owner;
	d->tcp[i].is_rdv = is_rdv;
	d->tcp[i].to = *to;
	d->tcp[i].started_ms = now;
	watch_slot(d, (unsigned)i, EPOLLOUT, EPOLL_CTL_ADD);
	return 0;
}

void tcpmux_connect(struct daemon *d, struct peer *p, const struct sockaddr_storage *to,
		    uint64_t now)
{
	int ret;

	/* A connect to the same address still under way is kept while young
	 * (its SYN retransmission may be what crosses the peer's), and started
	 * anew once it is old; an established stream there needs nothing. */
	for (unsigned i = 0; i < TCP_SLOTS_MAX; i++) {
		struct tcp_slot *s = &d->tcp[i];
		if (s->owner != p || !(s->conn ? tcp_addr_equal(&s->conn->peer, to)
					       : s->fd >= 0 && tcp_addr_equal(&s->to, to)))
			continue;
		if (s->conn || now - s->started_ms < TCPMUX_RESTART_MS)
			return;
		close_slot(d, i, "restarted");
	}
	ret = start_connect(d, p, false, to, now);
	if (ret < 0) {
		log_debug("%s: peer %s: tcp connect to %s: %s", d->cfg.ifname, p->name,
			  addr_str(to).s, strerror(-ret));
		punch_on_tcp_failed(&p->punch, to, now);
	}
}

int tcpmux_connect_rdv(struct daemon *d, uint64_t now)
{
	return start_connect(d, d->rdv, true, &d->rdv->cfg.endpoint, now);
}

struct tcp_conn *tcpmux_find(struct daemon *d, struct peer *p, const struct sockaddr_storage *addr)
{
	struct tcp_conn *best = NULL;

	for (unsigned i = 0; i < TCP_SLOTS_MAX; i++) {
		struct tcp_conn *c = d->tcp[i].conn;
		if (!c || d->tcp[i].owner != p || (addr && !tcp_addr_equal(&c->peer, addr)))
			continue;
		best = best ? tcp_conn_prefer(best, c, memcmp(d->id.s_pub, p->cfg.public_key, 32) < 0)
			    : c;
	}
	return best;
}

static int slot_of(struct daemon *d, const struct tcp_conn *c)
{
	for (unsigned i = 0; i < TCP_SLOTS_MAX; i++)
		if (d->tcp[i].conn == c)
			return (int)i;
	return -1;
}

void tcpmux_adopt(struct daemon *d, struct tcp_conn *c, struct peer *p)
{
	int i = slot_of(d, c);

	if (i < 0 || d->tcp[i].owner == p)
		return;
	d->tcp[i].owner = p;
	if (!p->is_rendezvous)
		punch_on_tcp_connected(&p->punch, &c->peer, time_now_ms());
}

void tcpmux_send(struct daemon *d, struct tcp_conn *c, uint8_t *pkt, size_t len)
{
	int i = slot_of(d, c), ret;

	if (i < 0)
		return;
	ret = tcp_conn_send_frame(c, pkt, len);
	if (ret == 1) {
		watch_slot(d, (unsigned)i, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
	} else if (ret == -ENOBUFS) {
		struct tcp_slot *s = &d->tcp[i];
		uint64_t now = time_now_ms();

		if (!s->wfull_ms)
			s->wfull_ms = now ? now : 1;
		if (!s->owner || now - s->wfull_ms >= TCPMUX_WFULL_MS) {
			d->tcp_closed_wfull++;
			close_slot(d, (unsigned)i, "not reading what we send");
		}
	} else if (ret < 0 && ret != -EMSGSIZE) {
		close_slot(d, (unsigned)i, strerror(-ret));
	}
}

void tcpmux_forget_peer(struct daemon *d, struct peer *p)
{
	for (unsigned i = 0; i < TCP_SLOTS_MAX; i++)
		if (d->tcp[i].owner == p)
			close_slot(d, i, "peer removed");
}

void tcpmux_accept(struct daemon *d)
{
	uint64_t now = time_now_ms();

	for (;;) {
		struct sockaddr_storage from;
		struct tcp_conn *c;
		unsigned n_ip = 0, n_unowned = 0;
		int fd, i;

		if (tcp_accept(d->tcp_listen_fd, &fd, &from) < 0)
			return;
		d->tcp_accepted++;
		for (unsigned k = 0; k < TCP_SLOTS_MAX; k++) {
			if (!unowned(&d->tcp[k]))
				continue;
			n_unowned++;
			if (addr_equal_host(&d->tcp[k].conn->peer, &from))
				n_ip++;
		}
		if (n_ip >= TCPMUX_UNAUTH_PER_IP) {
			d->tcp_refused_ip++;
			close(fd);
			continue;
		}
		i = -1;
		if (n_unowned >= TCPMUX_UNAUTH_MAX) {
			i = victim(d);
			if (i >= 0) {
				d->tcp_evicted++;
				close_slot(d, (unsigned)i, "evicted for a newcomer");
			}
		} else {
			i = take_slot(d);
		}
		c = i < 0 ? NULL : tcp_conn_new(fd, TCP_ORIGIN_ACCEPT, FRAME_MODE_FRAMED, 0, now);
		if (!c) {
			if (i < 0)
				d->tcp_refused++;
			close(fd);
			continue;
		}
		d->tcp[i].conn = c;
		d->tcp[i].started_ms = now;
		watch_slot(d, (unsigned)i, EPOLLIN, EPOLL_CTL_ADD);
		log_debug("%s: tcp %s: accepted", d->cfg.ifname, addr_str(&from).s);
	}
}

struct frame_ctx {
	struct daemon *d;
	uint64_t now;
};

static int on_frame(void *ctx, struct tcp_conn *c, const uint8_t *frame, size_t len)
{
	struct frame_ctx *fc = ctx;
	struct daemon *d = fc->d;
	struct rx_pkt m;

	/* Handlers may use headroom in front of a datagram and decrypt in
	 * place: give them an rx buffer like the UDP path does. */
	if (len > TUN_PACKET_MAX)
		return 0;
	memcpy(d->rx[0].data, frame, len);
	memset(&m, 0, sizeof(m));
	m.data = d->rx[0].data;
	m.len = len;
	m.from.kind = PATH_TCP;
	m.from.addr = c->peer;
	m.from.conn = c;
	datapath_receive(d, &m, fc->now);
	return 0;
}

static void connected(struct daemon *d, unsigned i, uint64_t now)
{
	struct tcp_slot *s = &d->tcp[i];
	int ret = tcp_connect_result(s->fd);

	if (ret == -EINPROGRESS)
		return;
	if (ret == 0) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, s->fd, NULL);
		s->conn = tcp_conn_new(s->fd, TCP_ORIGIN_CONNECT, FRAME_MODE_FRAMED, 0, now);
		if (s->conn) {
			s->fd = -1;
			watch_slot(d, i, EPOLLIN, EPOLL_CTL_ADD);
			log_debug("%s: tcp %s: connected", d->cfg.ifname, addr_str(&s->conn->peer).s);
			if (s->is_rdv)
				rdv_client_tcp_up(d, s->conn, now);
			else if (s->owner)
				punch_on_tcp_connected(&s->owner->punch, &s->to, now);
			if (s->owner && !s->owner->is_rendezvous)
				peer_run_punch(d, s->owner, now);
			return;
		}
		ret = -errno;
	}
	if (s->owner && !s->is_rdv)
		punch_on_tcp_failed(&s->owner->punch, &s->to, now);
	close_slot(d, i, strerror(-ret));
}

void tcpmux_event(struct daemon *d, unsigned i, uint32_t events)
{
	struct tcp_slot *s;
	uint64_t now = time_now_ms();
	struct frame_ctx fc = { d, now };
	int ret;

	if (i >= TCP_SLOTS_MAX)
		return;
	s = &d->tcp[i];
	if (!s->conn) {
		if (s->fd >= 0)
			connected(d, i, now);
		return;
	}
	if (events & EPOLLOUT) {
		size_t before = s->conn->out_len;

		ret = tcp_conn_flush(s->conn);
		if (ret < 0) {
			close_slot(d, i, strerror(-ret));
			return;
		}
		if (s->conn->out_len < before)
			s->wfull_ms = 0; /* it reads: slowly perhaps, but it reads */
		if (ret == 0)
			watch_slot(d, i, EPOLLIN, EPOLL_CTL_MOD);
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ret = tcp_conn_read(s->conn, now, on_frame, &fc);
		/* on_frame may have closed streams (peer removal): look again. */
		if (d->tcp[i].conn && ret < 0)
			close_slot(d, i, ret == -ECONNRESET || ret == -EPIPE ? "reset" : "closed");
		send_flush(d);
	}
}

uint64_t tcpmux_tick(struct daemon *d, uint64_t now)
{
	for (unsigned i = 0; i < TCP_SLOTS_MAX; i++) {
		struct tcp_slot *s = &d->tcp[i];
		if (!s->conn && s->fd >= 0 && now - s->started_ms > TCPMUX_CONNECT_MS) {
			if (s->owner && !s->is_rdv)
				punch_on_tcp_failed(&s->owner->punch, &s->to, now);
			close_slot(d, i, "connect timed out");
		} else if (s->conn && !s->owner && now - s->started_ms > TCPMUX_ADOPT_MS) {
			d->tcp_closed_unauth++;
			close_slot(d, i, "nothing authenticated on it");
		} else if (s->conn && s->wfull_ms && tcp_conn_wants_write(s->conn) &&
			   now - s->wfull_ms >= TCPMUX_WFULL_MS) {
			d->tcp_closed_wfull++;
			close_slot(d, i, "not reading what we send");
		} else if (s->conn && tcp_conn_is_idle(s->conn, now, TCPMUX_IDLE_MS)) {
			close_slot(d, i, "idle");
		}
	}
	return now + 1000;
}
