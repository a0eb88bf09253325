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
#include "daemon/loop.h"
#include "daemon/path.h"
#include "daemon/peer.h"
#include "daemon/receive.h"
#include "daemon/send.h"
#include "daemon/tcpmux.h"
#include "routing/inner.h"
#include "tun/gso.h"
#include "util/log.h"
#include "util/time.h"

uint8_t *send_slot(struct daemon *d)
{
	/* n_tx < TX_BATCH always: send_queue flushes a full batch at once. */
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
	if (++d->n_tx == TX_BATCH)
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

/* The peer an inner packet read from the TUN goes to, or NULL (counted). */
static struct peer *route(struct daemon *d, const uint8_t *pkt, size_t len)
{
	const uint8_t *dst;
	struct peer *p;
	int family;

	if (!rt_packet_dst(pkt, len, &family, &dst)) {
		drop(d, DROP_INNER_MALFORMED, NULL);
		return NULL;
	}
	p = rt_lookup(&d->rt, family, dst);
	if (!p)
		drop(d, DROP_NO_ROUTE, NULL);
	return p;
}

/* One inner packet, in the next slot, to p (NULL: no route, already
 * counted): our own datagrams routed back into the tunnel stop here. */
static void send_packet(struct daemon *d, struct peer *p, uint8_t *inner, size_t len, uint64_t now)
{
	if (loop_drop(d, p, inner, len, now) || !p)
		return;
	datapath_send_inner(d, p, inner, len, now);
}

/* Reads without a vnet header: one plain packet per read, straight into
 * the next slot; up to TX_BATCH of them per wake-up so their datagrams
 * leave in one sendmmsg. A packet that is dropped leaves its slot to the
 * next. */
static void read_plain(struct daemon *d, uint64_t now)
{
	for (unsigned i = 0; i < TX_BATCH; i++) {
		uint8_t *inner = send_slot(d);
		ssize_t n = tun_read(&d->tun, inner, TUN_PACKET_MAX);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_errno(LOG_LEVEL_WARN, "%s: tun read", d->cfg.ifname);
			break;
		}
		send_packet(d, route(d, inner, (size_t)n), inner, (size_t)n, now);
	}
}

/* Cuts a super-packet into segments, each straight into the next slot, and
 * sends them in order (send_flush sends runs of equal sizes as one UDP GSO
 * message). */
static void send_segments(struct daemon *d, struct peer *p, const struct virtio_net_hdr *h,
			  const uint8_t *pkt, size_t len, uint64_t now)
{
	int n = tun_gso_segments(h, pkt, len);

	if (n < 0) {
		drop(d, DROP_INNER_MALFORMED, NULL);
		return;
	}
	for (unsigned k = 0; k < (unsigned)n; k++) {
		uint8_t *seg = send_slot(d);
		size_t seg_len;

		if (tun_gso_split(h, pkt, len, k, &seg, TUN_PACKET_MAX, &seg_len, 1) != 1) {
			drop(d, DROP_INNER_MALFORMED, NULL);
			return;
		}
		send_packet(d, p, seg, seg_len, now);
	}
}

/* Reads with a vnet header (offloads on): a frame may be a super-packet of
 * up to 64 KiB or leave its checksum to us. Frames land in tun_buf and are
 * cut or copied into tx slots. */
static void read_vnet(struct daemon *d, uint64_t now)
{
	for (unsigned i = 0; i < TUN_FRAMES_PER_WAKE; i++) {
		struct virtio_net_hdr h;
		ssize_t n = tun_read_vnet(&d->tun, &h, d->tun_buf, TUN_PACKET_MAX);
		struct peer *p;

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_errno(LOG_LEVEL_WARN, "%s: tun read", d->cfg.ifname);
			break;
		}
		/* All segments of a super-packet share its addresses. */
		p = route(d, d->tun_buf, (size_t)n);
		if (!p) {
			/* Our own UDP GSO run, routed back into the TUN. */
			(void)loop_drop(d, NULL, d->tun_buf, (size_t)n, now);
			continue;
		}
		if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
			send_segments(d, p, &h, d->tun_buf, (size_t)n, now);
			continue;
		}
		if (tun_csum_finish(&h, d->tun_buf, (size_t)n) < 0) {
			drop(d, DROP_INNER_MALFORMED, NULL);
			continue;
		}
		memcpy(send_slot(d), d->tun_buf, (size_t)n);
		send_packet(d, p, send_slot(d), (size_t)n, now);
	}
}

void datapath_tun_readable(struct daemon *d)
{
	uint64_t now = time_now_ms();

	if (d->tun.vnet_hdr_len)
		read_vnet(d, now);
	else
		read_plain(d, now);
	send_flush(d);
}
