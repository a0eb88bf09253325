/* The receive side: one entry (datapath_receive) for UDP datagrams, TCP
 * frames and relay frames, a dispatch table of short handlers by message
 * type, the drop reasons, and UDP -> decrypt -> replay -> source check ->
 * TUN for data. Each wake-up takes up to UDP_BATCHES_PER_WAKE batches of
 * RX_BATCH messages (with UDP GRO, each a run of datagrams from one sender)
 * into buffers allocated at start; decrypted packets of a batch are merged
 * per flow into super-packets for the TUN when the batch ends (offload.c),
 * and replies queued while handling it leave in one sendmmsg after it.
 * Nothing here allocates. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/hsgate.h"
#include "daemon/offload.h"
#include "daemon/path.h"
#include "daemon/portmap.h"
#include "daemon/peer.h"
#include "daemon/punch.h"
#include "daemon/rdv.h"
#include "daemon/receive.h"
#include "daemon/send.h"
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

void drop(struct daemon *d, enum drop_reason why, const struct path *from)
{
	static struct log_ratelimit rl;

	d->drops[why]++;
	if (log_get_level() >= LOG_LEVEL_DEBUG && log_ratelimit_ok(&rl, time_now_ms()))
		log_debug("%s: dropped packet from %s: %s", d->cfg.ifname,
			  from ? path_str(from).s : "tun", drop_reason_str(why));
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
		drop(d,
		     ret == -EALREADY	   ? DROP_DATA_REPLAY
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
	/* In a UDP batch the packet waits in the rx buffer, to leave merged
	 * with the rest of its flow when the batch ends; a TCP frame's buffer
	 * is the stream's ring, reused once we return, so it leaves now. */
	if (d->rx_batch_open)
		tun_gro_add(&d->gro, inner, in.ip_len);
	else if (tun_write(&d->tun, inner, in.ip_len) < 0 && errno != EAGAIN)
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

/* One handler per message type (wire/wire.h); NULL types are dropped. */
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
		/* The gateway's port-mapping answers come to this socket too
		 * and are no message of ours (PCP's second octet, NAT-PMP's
		 * first, are never a type's): looked at only here, off the
		 * data path; only the gateway's address and port 5351 count
		 * (portmap.c). */
		if (!portmap_receive(d, m, now))
			drop(d, DROP_MALFORMED, &m->from);
		return;
	}
	rx_handlers[type](d, m, now);
}

/* One received message: a datagram, or with GRO several of one size from
 * one sender back to back, handled in order. */
static void receive_message(struct daemon *d, struct udp_msg *msg, uint64_t now)
{
	struct rx_pkt m = {.from = {.kind = PATH_UDP, .addr = msg->addr}};
	size_t off = 0;

	while (udp_msg_next_segment(msg, &off, &m.data, &m.len))
		datapath_receive(d, &m, now);
}

void datapath_udp_readable(struct daemon *d)
{
	/* A bounded number of batches, then back to epoll: it is
	 * level-triggered, so what is left wakes us again after the TUN, the
	 * control socket and the timers had their turn. */
	for (unsigned b = 0; b < UDP_BATCHES_PER_WAKE; b++) {
		int n = udp_recv_batch(&d->udp, d->rx, RX_BATCH);
		uint64_t now = time_now_ms();

		if (n <= 0) {
			if (n < 0)
				log_debug("%s: udp receive: %s", d->cfg.ifname, strerror(-n));
			break;
		}
		d->rx_batch_open = true;
		for (int i = 0; i < n; i++)
			receive_message(d, &d->rx[i], now);
		/* The rx buffers are reused by the next batch: what the merging
		 * table holds leaves now. */
		(void)tun_gro_flush(&d->gro);
		d->rx_batch_open = false;
		if (d->tun_merge_refused && d->gro_flags)
			offload_gro_reset(d);
		send_flush(d);
		if (n < RX_BATCH)
			break;
	}
}
