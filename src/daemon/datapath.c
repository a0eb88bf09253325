/* The data path: TUN -> routing -> encrypt -> UDP, and UDP -> dispatch ->
 * decrypt -> replay -> source check -> TUN. Buffers are allocated once at
 * start (PKT_BATCH slots each way, with head- and tailroom so encryption
 * happens in place); every wake-up moves up to PKT_BATCH packets from the
 * TUN and UDP_BATCHES_PER_WAKE batches from the socket, and outgoing
 * datagrams leave in one sendmmsg. Nothing here allocates. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"
#include "routing/inner.h"
#include "util/log.h"
#include "util/time.h"

static const char *const drop_names[DROP_REASON_MAX] = {
	[DROP_MALFORMED] = "malformed",
	[DROP_STUN_UNHANDLED] = "stun_unhandled",
	[DROP_HANDSHAKE_INVALID] = "handshake_invalid",
	[DROP_HANDSHAKE_UNKNOWN_KEY] = "handshake_unknown_key",
	[DROP_HANDSHAKE_REPLAY] = "handshake_replay",
	[DROP_HANDSHAKE_FLOOD] = "handshake_flood",
	[DROP_HANDSHAKE_CROSSED] = "handshake_crossed",
	[DROP_DATA_UNKNOWN_INDEX] = "data_unknown_index",
	[DROP_DATA_INVALID] = "data_invalid",
	[DROP_DATA_REPLAY] = "data_replay",
	[DROP_DATA_EXPIRED] = "data_expired",
	[DROP_INNER_MALFORMED] = "inner_malformed",
	[DROP_INNER_SOURCE] = "inner_source",
	[DROP_NO_ROUTE] = "no_route",
	[DROP_NO_ENDPOINT] = "no_endpoint",
	[DROP_ROUTING_LOOP] = "routing_loop",
	[DROP_PROBE_INVALID] = "probe_invalid",
	[DROP_HANDSHAKE_RATELIMITED] = "handshake_ratelimited",
	[DROP_HANDSHAKE_NO_MAC2] = "handshake_no_mac2",
	[DROP_COOKIE_INVALID] = "cookie_invalid",
	[DROP_RELAY_INVALID] = "relay_invalid",
};

const char *drop_reason_str(enum drop_reason why)
{
	return why < DROP_REASON_MAX ? drop_names[why] : "?";
}

struct addr_text addr_str(const struct sockaddr_storage *ss)
{
	struct addr_text t;

	cfg_endpoint_to_string(ss, t.s, sizeof(t.s));
	return t;
}

void drop(struct daemon *d, enum drop_reason why, const struct path *from)
{
	static struct log_ratelimit rl;

	d->drops[why]++;
	if (log_get_level() >= LOG_LEVEL_DEBUG && log_ratelimit_ok(&rl, time_now_ms()))
		log_debug("%s: dropped packet from %s: %s", d->cfg.ifname,
			  from ? path_str(from).s : "tun", drop_reason_str(why));
}

void datapath_flush(struct daemon *d)
{
	int ret;

	if (!d->n_tx)
		return;
	ret = udp_send_batch(&d->udp, d->tx, d->n_tx);
	if (ret < 0)
		log_debug("%s: send: %s", d->cfg.ifname, strerror(-ret));
	d->n_tx = 0;
}

uint8_t *datapath_small_buf(struct daemon *d)
{
	/* n_tx < PKT_BATCH here: queue_udp flushes a full queue at once. */
	return d->small_tx[d->n_tx] + PKT_HEADROOM;
}

static void queue_udp(struct daemon *d, uint8_t *pkt, size_t len, const struct sockaddr_storage *to)
{
	struct udp_msg *m = &d->tx[d->n_tx++];

	m->data = pkt;
	m->len = len;
	m->addr = *to;
	if (d->n_tx == PKT_BATCH)
		datapath_flush(d);
}

void datapath_send(struct daemon *d, const struct path *path, uint8_t *pkt, size_t len)
{
	switch (path->kind) {
	case PATH_UDP:
		queue_udp(d, pkt, len, &path->addr);
		break;
	default:
		transport_send_other(d, path, pkt, len);
		break;
	}
}

void datapath_send_inner(struct daemon *d, struct peer *p, uint8_t *inner, size_t len,
			 uint64_t now)
{
	struct sess_keypair *kp = sess_peer_send_keypair(&p->sess, now);
	size_t pkt_len;

	if (!kp || p->path.kind == PATH_NONE) {
		peer_stage(d, p, inner, len);
		peer_send_initiation(d, p, now, false);
		return;
	}
	if (sess_encrypt(kp, inner, len, now, &pkt_len) < 0) {
		peer_stage(d, p, inner, len);
		peer_send_initiation(d, p, now, false);
		return;
	}
	datapath_send(d, &p->path, inner - SESS_HEADROOM, pkt_len);
	p->tx_bytes += pkt_len;
	if (len)
		sess_timers_on_data_sent(&p->timers, now);
	sess_timers_on_authenticated_sent(&p->timers, now);
	if (sess_keypair_needs_rekey(kp, now))
		peer_send_initiation(d, p, now, false);
}

void datapath_tun_readable(struct daemon *d)
{
	uint64_t now = time_now_ms();

	/* The TUN gives one packet per read; take up to PKT_BATCH of them per
	 * wake-up so their datagrams leave in one sendmmsg. */
	for (unsigned i = 0; i < PKT_BATCH; i++) {
		uint8_t *slot = d->txbuf + (size_t)i * PKT_SLOT;
		uint8_t *inner = slot + PKT_HEADROOM;
		const uint8_t *dst;
		struct peer *p;
		int family;
		ssize_t n = tun_read(&d->tun, inner, TUN_PACKET_MAX);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_errno(LOG_LEVEL_WARN, "%s: tun read", d->cfg.ifname);
			break;
		}
		if (!rt_packet_dst(inner, (size_t)n, &family, &dst)) {
			drop(d, DROP_INNER_MALFORMED, NULL);
			continue;
		}
		p = rt_lookup(&d->rt, family, dst);
		if (loop_drop(d, p, inner, (size_t)n, now))
			continue;
		if (!p) {
			drop(d, DROP_NO_ROUTE, NULL);
			continue;
		}
		datapath_send_inner(d, p, inner, (size_t)n, now);
	}
	datapath_flush(d);
}

static void handle_data(struct daemon *d, struct rx_pkt *m, uint64_t now)
{
	struct sess_keypair *kp;
	struct peer *p = NULL;
	struct rt_inner in;
	uint8_t *inner;
	size_t inner_len;
	uint32_t idx;
	int ret;

	if (!sess_data_parse_index(m->data, m->len, &idx)) {
		drop(d, DROP_DATA_INVALID, &m->from);
		return;
	}
	kp = sess_index_lookup(&d->index, idx, SESS_INDEX_KEYPAIR, (void **)&p);
	if (!kp || !p) {
		drop(d, DROP_DATA_UNKNOWN_INDEX, &m->from);
		return;
	}
	ret = sess_decrypt(kp, m->data, m->len, now, &inner, &inner_len);
	if (ret < 0) {
		drop(d, ret == -EALREADY      ? DROP_DATA_REPLAY
			: ret == -EKEYEXPIRED ? DROP_DATA_EXPIRED
					      : DROP_DATA_INVALID,
		     &m->from);
		return;
	}
	/* Authenticated from here on. */
	p->rx_bytes += m->len;
	peer_update_path(d, p, &m->from);
	sess_timers_on_authenticated_received(&p->timers, now);
	if (sess_peer_on_received(&p->sess, kp)) {
		sess_timers_on_handshake_complete(&p->timers, now);
		log_info("%s: peer %s (%s): tunnel up (%s)", d->cfg.ifname, p->name,
			 path_str(&p->path).s, path_kind_str(p->path.kind));
		peer_flush_staged(d, p, now);
	}
	if (sess_peer_lastminute_rekey(&p->sess, now))
		peer_send_initiation(d, p, now, false);
	if (inner_len == 0)
		return; /* keepalive */
	if (p->is_rendezvous) {
		rdv_client_receive(d, inner, inner_len, now);
		return;
	}
	sess_timers_on_data_received(&p->timers, now);
	if (!rt_inner_parse(inner, inner_len, &in)) {
		drop(d, DROP_INNER_MALFORMED, &m->from);
		return;
	}
	/* Cryptokey routing: the inner source must be one the sender owns. */
	if (rt_lookup(&d->rt, in.family, in.src) != p) {
		drop(d, DROP_INNER_SOURCE, &m->from);
		return;
	}
	if (tun_write(&d->tun, inner, in.ip_len) < 0 && errno != EAGAIN)
		log_errno(LOG_LEVEL_DEBUG, "%s: tun write", d->cfg.ifname);
}

/* Handshake messages pass the flood gate (hsgate.c) before any DH. */
static void gated_initiation(struct daemon *d, struct rx_pkt *m, uint64_t now)
{
	if (hsgate_admit(d, m, now))
		handle_initiation(d, m, now);
}

static void gated_response(struct daemon *d, struct rx_pkt *m, uint64_t now)
{
	if (hsgate_admit(d, m, now))
		handle_response(d, m, now);
}

typedef void (*rx_handler_fn)(struct daemon *d, struct rx_pkt *m, uint64_t now);

/* One handler per message type (session/wire.h); NULL types are dropped. */
static const rx_handler_fn rx_handlers[WIRE_TYPE_MAX] = {
	[WIRE_HANDSHAKE_INIT] = gated_initiation,
	[WIRE_HANDSHAKE_RESP] = gated_response,
	[WIRE_COOKIE_REPLY] = handle_cookie_reply,
	[WIRE_DATA] = handle_data,
	[WIRE_RELAY] = handle_relay,
	[WIRE_PROBE] = handle_probe,
};

void datapath_receive(struct daemon *d, struct rx_pkt *m, uint64_t now)
{
	unsigned type;

	if (wire_is_stun(m->data, m->len)) {
		if (m->from.kind != PATH_UDP || !rdv_client_stun(d, m, now))
			drop(d, DROP_STUN_UNHANDLED, &m->from);
		return;
	}
	type = wire_type_of(m->data, m->len);
	if (!type || !rx_handlers[type]) {
		drop(d, DROP_MALFORMED, &m->from);
		return;
	}
	rx_handlers[type](d, m, now);
}

void datapath_udp_readable(struct daemon *d)
{
	/* A bounded number of batches, then back to epoll: it is
	 * level-triggered, so what is left wakes us again after the TUN, the
	 * control socket and the timers had their turn. */
	for (unsigned b = 0; b < UDP_BATCHES_PER_WAKE; b++) {
		int n = udp_recv_batch(&d->udp, d->rx, PKT_BATCH);
		uint64_t now = time_now_ms();

		if (n <= 0) {
			if (n < 0)
				log_debug("%s: udp receive: %s", d->cfg.ifname, strerror(-n));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct rx_pkt m = {
				.data = d->rx[i].data,
				.len = d->rx[i].len,
				.from = { .kind = PATH_UDP, .addr = d->rx[i].addr },
			};
			datapath_receive(d, &m, now);
		}
		datapath_flush(d);
		if (n < PKT_BATCH)
			break;
	}
}
