/* The send side: the tx batch, and TUN -> routing -> encrypt -> UDP.
 *
 * Every datagram the daemon sends over UDP waits in the tx batch until the
 * next flush (one sendmmsg per wake-up and direction), so its bytes must
 * live until then. The batch therefore owns the buffers: each queue entry
 * has a slot of PKT_SLOT bytes, and a sender builds its datagram in the
 * slot of the next entry (send_slot; it may start in the slot's headroom),
 * then queues it (send_queue, which refuses anything else). Nobody
 * lends the queue a pointer into a stack frame or a packet that may change
 * before the flush; what was built elsewhere is copied in (send_copy). TCP
 * and relayed datagrams leave the slot at once (tcpmux copies them into
 * the stream's ring), so their slot is simply used again.
 *
 * Packets read from the TUN are read straight into the next slot and
 * encrypted in place: PKT_HEADROOM in front of the inner packet takes the
 * data header (and a relay header), PKT_TAILROOM behind it the padding and
 * the tag. Nothing here allocates. */
#include <errno.h>
#include <string.h>

#include "daemon/daemon.h"
#include "routing/inner.h"
#include "util/log.h"
#include "util/time.h"

uint8_t *send_slot(struct daemon *d)
{
	/* n_tx < PKT_BATCH always: send_queue flushes a full batch at once. */
	return d->txbuf + (size_t)d->n_tx * PKT_SLOT + PKT_HEADROOM;
}

void send_flush(struct daemon *d)
{
	int ret;

	if (!d->n_tx)
		return;
	ret = udp_send_batch(&d->udp, d->tx, d->n_tx);
	if (ret < 0)
		log_debug("%s: send: %s", d->cfg.ifname, strerror(-ret));
	d->n_tx = 0;
}

/* True when pkt..pkt+len lies in the slot of the next queue entry, its
 * headroom included: the only memory the batch may point at. */
static bool in_next_slot(struct daemon *d, const uint8_t *pkt, size_t len)
{
	const uint8_t *base = send_slot(d) - PKT_HEADROOM;

	return pkt >= base && len <= PKT_SLOT && (size_t)(pkt - base) <= PKT_SLOT - len;
}

static void queue_udp(struct daemon *d, uint8_t *pkt, size_t len, const struct sockaddr_storage *to)
{
	struct udp_msg *m = &d->tx[d->n_tx];

	m->data = pkt;
	m->len = len;
	m->addr = *to;
	if (++d->n_tx == PKT_BATCH)
		send_flush(d);
}

void send_queue(struct daemon *d, const struct path *path, uint8_t *pkt, size_t len)
{
	const struct path *via;

	if (!in_next_slot(d, pkt, len)) {
		log_error("%s: a datagram outside the tx slot was not sent", d->cfg.ifname);
		return;
	}
	switch (path->kind) {
	case PATH_UDP:
		queue_udp(d, pkt, len, &path->addr);
		break;
	case PATH_TCP:
		tcpmux_send(d, path->conn, pkt, len);
		break;
	case PATH_RELAY:
		/* The relay header goes into the headroom in front of pkt. */
		via = relay_seal(d, path, &pkt, &len);
		if (via && via->kind == PATH_UDP)
			queue_udp(d, pkt, len, &via->addr);
		else if (via && via->kind == PATH_TCP)
			tcpmux_send(d, via->conn, pkt, len);
		break;
	default:
		break;
	}
}

void send_copy(struct daemon *d, const struct path *path, const void *pkt, size_t len)
{
	if (len > TUN_PACKET_MAX)
		return;
	memcpy(send_slot(d), pkt, len);
	send_queue(d, path, send_slot(d), len);
}

void datapath_send_inner(struct daemon *d, struct peer *p, uint8_t *inner, size_t len, uint64_t now)
{
	struct sess_keypair *kp = sess_peer_send_keypair(&p->sess, now);
	uint8_t *slot = send_slot(d);
	size_t pkt_len;

	if (!kp || p->path.kind == PATH_NONE) {
		/* Staged before the initiation takes the slot for itself. */
		peer_stage(d, p, inner, len);
		peer_send_initiation(d, p, now, false);
		return;
	}
	if (inner != slot) {
		if (len > TUN_PACKET_MAX)
			return;
		memmove(slot, inner, len);
	}
	if (sess_encrypt(kp, slot, len, now, &pkt_len) < 0) {
		peer_stage(d, p, slot, len);
		peer_send_initiation(d, p, now, false);
		return;
	}
	/* sess_encrypt put the data header in the headroom. */
	send_queue(d, &p->path, slot - SESS_HEADROOM, pkt_len);
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

	/* The TUN gives one packet per read, straight into the next slot; take
	 * up to PKT_BATCH of them per wake-up so their datagrams leave in one
	 * sendmmsg. A packet that is dropped leaves its slot to the next. */
	for (unsigned i = 0; i < PKT_BATCH; i++) {
		uint8_t *inner = send_slot(d);
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
	send_flush(d);
}
