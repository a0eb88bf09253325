/* Peers of the running interface: their life cycle (created from a config
 * section, destroyed on removal), their routes, their handshakes and their
 * timers. The handshake engine (crypto/handshake.c) decides; this file
 * moves its messages and installs the resulting keys in the session. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "daemon/daemon.h"
#include "daemon/hsgate.h"
#include "daemon/path.h"
#include "daemon/peer.h"
#include "daemon/punch.h"
#include "daemon/receive.h"
#include "daemon/send.h"
#include "daemon/tcpmux.h"
#include "util/log.h"
#include "util/time.h"

struct peer *peer_new(struct daemon *d, const struct cfg_peer *cfg)
{
	struct peer *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cfg = *cfg;
	p->cfg.allowed_ips = calloc(cfg->n_allowed_ips ? cfg->n_allowed_ips : 1,
				  sizeof(*cfg->allowed_ips));
	/* Staged packets come from the TUN, so none is larger than the MTU
	 * (the kernel enforces it); slots sized for it keep a peer's ring at
	 * tens of KiB instead of a megabyte. A larger MTU after a reload only
	 * means larger packets are not staged (see peer_stage). */
	p->staged_slot = PKT_HEADROOM + (d->cfg.mtu > 1500 ? d->cfg.mtu : 1500) + PKT_TAILROOM;
	p->staged = malloc((size_t)STAGED_MAX * p->staged_slot);
	if (!p->cfg.allowed_ips || !p->staged)
		goto fail;
	memcpy(p->cfg.allowed_ips, cfg->allowed_ips, cfg->n_allowed_ips * sizeof(*cfg->allowed_ips));
	snprintf(p->name, sizeof(p->name), "%s", cfg->name);
	if (!hs_peer_init(&p->hs, &d->id, cfg->public_key, cfg->has_psk ? cfg->psk : NULL)) {
		log_error("%s: peer %s: unusable public key", d->cfg.ifname, p->name);
		errno = EINVAL;
		goto fail;
	}
	p->hs.ciphers = d->data_ciphers;
	sess_peer_init(&p->sess, &d->index, p);
	p->sess.aes = &p->sess_aes;
	if (!peer_punch_init(d, p)) {
		errno = EINVAL;
		goto fail;
	}
	sess_timers_init(&p->timers, d->cfg.keepalive_s);
	sess_timers_on_path_new(&p->timers);
	if (cfg->has_endpoint) {
		p->path.kind = PATH_UDP;
		p->path.addr = cfg->endpoint;
	}
	return p;
fail:
	free(p->cfg.allowed_ips);
	free(p->staged);
	free(p);
	return NULL;
}

void peer_free(struct daemon *d, struct peer *p)
{
	if (!p)
		return;
	if (p->hs_index)
		sess_index_free(&d->index, p->hs_index);
	tcpmux_forget_peer(d, p);
	sess_peer_clear(&p->sess);
	hs_peer_cleanup(&p->hs);
	probe_key_cleanup(&p->pkey);
	/* The cookie this peer gave us (and the key that opens its replies):
	 * wiped, as a rebuilt peer starts a new maker. */
	cookie_maker_cleanup(&p->cookie);
	rt_remove_peer(&d->rt, p);
	sodium_memzero(&p->cfg.psk, sizeof(p->cfg.psk));
	if (p->staged)
		sodium_memzero(p->staged, (size_t)STAGED_MAX * p->staged_slot);
	free(p->staged);
	free(p->cfg.allowed_ips);
	free(p);
}

/* True when the kernel already routes prefix to the interface through one of
 * the interface's own addresses (then adding a route would duplicate it). */
static bool covered_by_interface(const struct daemon *d, const struct cfg_prefix *pfx)
{
	for (size_t i = 0; i < d->cfg.n_addresses; i++) {
		struct cfg_prefix net = d->cfg.addresses[i];
		if (cfg_prefix_contains(&net, pfx))
			return true;
	}
	return false;
}

int peer_add_routes(struct daemon *d, struct peer *p)
{
	char buf[CFG_PREFIX_STRLEN];

	for (size_t i = 0; i < p->cfg.n_allowed_ips; i++) {
		const struct cfg_prefix *a = &p->cfg.allowed_ips[i];
		int ret = rt_insert(&d->rt, a->family, a->addr, a->plen, p);

		if (ret < 0)
			return ret;
		if (covered_by_interface(d, a))
			continue;
		ret = iface_route_add(d, a);
		if (ret < 0) {
			cfg_prefix_to_string(a, buf, sizeof(buf));
			log_error("%s: peer %s: route %s: %s", d->cfg.ifname, p->name, buf,
				  strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void peer_remove_routes(struct daemon *d, struct peer *p)
{
	rt_remove_peer(&d->rt, p);
	for (size_t i = 0; i < p->cfg.n_allowed_ips; i++) {
		const struct cfg_prefix *a = &p->cfg.allowed_ips[i];
		if (!covered_by_interface(d, a))
			iface_route_del(d, a);
	}
}

struct peer *peer_by_key(struct daemon *d, const uint8_t pub[32])
{
	for (size_t i = 0; i < d->n_peers; i++)
		if (sodium_memcmp(d->peers[i]->cfg.public_key, pub, 32) == 0)
			return d->peers[i];
	return NULL;
}

const char *peer_state(const struct peer *p, uint64_t now)
{
	struct sess_peer *sp = (struct sess_peer *)&p->sess;

	if (sess_peer_send_keypair(sp, now))
		return "up";
	if (p->hs.state != HS_STATE_NONE || p->hs_index)
		return "handshaking";
	return "down";
}

void peer_send_initiation(struct daemon *d, struct peer *p, uint64_t now, bool retry)
{
	struct wire_init msg;
	uint8_t ts[HS_TAI64N_LEN];
	uint32_t idx;
	int ret;

	if (p->path.kind == PATH_NONE) {
		log_debug("%s: peer %s: no path yet, handshake waits", d->cfg.ifname, p->name);
		return;
	}
	/* Demand-driven initiations are rate-limited by the timers (one per
	 * REKEY_TIMEOUT); the retransmit timer's own are not. */
	if (!retry && !sess_timers_request_handshake(&p->timers, now))
		return;
	if (p->hs_index)
		sess_index_free(&d->index, p->hs_index);
	p->hs_index = 0;
	idx = sess_index_alloc(&d->index, SESS_INDEX_HANDSHAKE, p, p);
	if (!idx) {
		log_warn("%s: peer %s: receiver index table full", d->cfg.ifname, p->name);
		return;
	}
	hs_tai64n_now(ts);
	ret = hs_create_initiation(&d->id, &p->hs, idx, ts, &msg);
	if (ret < 0) {
		sess_index_free(&d->index, idx);
		log_warn("%s: peer %s: cannot create initiation: %s", d->cfg.ifname, p->name,
			 strerror(-ret));
		return;
	}
	p->hs_index = idx;
	p->init_sent_ms = now;
	p->init_sent_ns = time_now_ns();
	hsgate_stamp(p, (uint8_t *)&msg, sizeof(msg), now); /* mac2 if we hold a cookie */
	send_copy(d, &p->path, &msg, sizeof(msg));
	send_flush(d);
	p->tx_bytes += sizeof(msg);
	log_debug("%s: peer %s (%s): handshake initiation sent", d->cfg.ifname, p->name,
		  path_str(&p->path).s);
	sess_timers_on_handshake_initiated(&p->timers, now);
	sess_timers_on_authenticated_sent(&p->timers, now);
}

void peer_send_keepalive(struct daemon *d, struct peer *p, uint64_t now)
{
	/* A keepalive is an empty data packet; it needs a session. */
	if (!sess_peer_send_keypair(&p->sess, now)) {
		peer_send_initiation(d, p, now, false);
		return;
	}
	datapath_send_inner(d, p, send_slot(d), 0, now);
	send_flush(d);
}

void peer_stage(struct daemon *d, struct peer *p, const uint8_t *pkt, size_t len)
{
	unsigned slot;

	if (len + PKT_HEADROOM + PKT_TAILROOM > p->staged_slot) {
		d->staged_dropped++; /* larger than the MTU the ring was sized for */
		return;
	}
	/* A full ring drops the oldest packet: the newest are the likeliest to
	 * still matter when the handshake completes. */
	if (p->staged_count == STAGED_MAX) {
		p->staged_head = (p->staged_head + 1) % STAGED_MAX;
		p->staged_count--;
		d->staged_dropped++;
	}
	slot = (p->staged_head + p->staged_count) % STAGED_MAX;
	memcpy(p->staged + (size_t)slot * p->staged_slot + PKT_HEADROOM, pkt, len);
	p->staged_len[slot] = (uint16_t)len;
	p->staged_count++;
}

void peer_flush_staged(struct daemon *d, struct peer *p, uint64_t now)
{
	while (p->staged_count && sess_peer_send_keypair(&p->sess, now)) {
		unsigned slot = p->staged_head;
		uint8_t *inner = p->staged + (size_t)slot * p->staged_slot + PKT_HEADROOM;

		p->staged_head = (p->staged_head + 1) % STAGED_MAX;
		p->staged_count--;
		datapath_send_inner(d, p, inner, p->staged_len[slot], now);
	}
	send_flush(d);
}

static void complete_handshake(struct daemon *d, struct peer *p, uint32_t local_index,
			       uint32_t remote_index, uint64_t now)
{
	uint8_t send_key[HS_KEY_LEN], recv_key[HS_KEY_LEN];
	bool initiator;
	int ret = hs_peer_derive_keys(&p->hs, send_key, recv_key, &initiator);

	if (ret == 0)
		ret = sess_peer_install_cipher(&p->sess, send_key, recv_key, local_index,
					       remote_index, initiator,
					       (enum sess_cipher)p->hs.cipher, now);
	sodium_memzero(send_key, sizeof(send_key));
	sodium_memzero(recv_key, sizeof(recv_key));
	if (ret < 0) {
		sess_index_free(&d->index, local_index);
		log_warn("%s: peer %s: cannot install keys: %s", d->cfg.ifname, p->name,
			 strerror(-ret));
		return;
	}
	sess_timers_on_session_derived(&p->timers, now);
}

void handle_initiation(struct daemon *d, struct rx_pkt *m, uint64_t now)
{
	struct hs_pending pending;
	struct wire_resp resp;
	struct peer *p;
	uint32_t idx;
	int ret;

	ret = hs_consume_initiation(&d->id, m->data, m->len, &pending);
	if (ret < 0) {
		drop(d, DROP_HANDSHAKE_INVALID, &m->from);
		return;
	}
	p = peer_by_key(d, pending.rs_pub);
	if (!p) {
		/* A valid initiation from a key we do not know: no answer. */
		hs_pending_cleanup(&pending);
		drop(d, DROP_HANDSHAKE_UNKNOWN_KEY, &m->from);
		return;
	}
	/* Crossing initiations: the session engine's tie-break decides
	 * whether ours is kept (sess_timers_crossed_keep_ours); theirs is
	 * then dropped here, else answered and ours forgotten below. */
	if (sess_timers_crossed_keep_ours(d->id.s_pub, p->cfg.public_key,
					  p->hs.state == HS_STATE_INIT_SENT && p->hs_index != 0,
					  p->init_sent_ms, path_equal(&p->path, &m->from), now)) {
		hs_pending_cleanup(&pending);
		drop(d, DROP_HANDSHAKE_CROSSED, &m->from);
		log_debug("%s: peer %s: initiations crossed, keeping ours", d->cfg.ifname, p->name);
		return;
	}
	ret = hs_accept_initiation(&p->hs, &pending, now);
	if (ret < 0) {
		drop(d, ret == -EBUSY ? DROP_HANDSHAKE_FLOOD : DROP_HANDSHAKE_REPLAY, &m->from);
		return;
	}
	/* Their initiation replaces ours: our outstanding one can no longer
	 * complete, since the handshake state now belongs to theirs. */
	if (p->hs_index)
		sess_index_free(&d->index, p->hs_index);
	p->hs_index = 0;
	idx = sess_index_alloc(&d->index, SESS_INDEX_HANDSHAKE, p, p);
	if (!idx || hs_create_response(&p->hs, idx, &resp) < 0) {
		if (idx)
			sess_index_free(&d->index, idx);
		hs_peer_reset(&p->hs);
		return;
	}
	/* An initiation proves only that its bytes were made by the peer once:
	 * after a restart (replay state lost) a captured one is accepted again.
	 * So while the peer has a working session, its endpoint moves only
	 * when the new keypair is confirmed by a transport packet from the new
	 * address (datapath, peer_update_path); without one, the initiation's
	 * source is all we have. The response goes to that source either way. */
	if (p->path.kind == PATH_NONE || !sess_peer_send_keypair(&p->sess, now))
		peer_update_path(d, p, &m->from);
	complete_handshake(d, p, idx, p->hs.remote_index, now);
	/* The response goes back the way the initiation came. */
	hsgate_stamp(p, (uint8_t *)&resp, sizeof(resp), now);
	send_copy(d, &m->from, &resp, sizeof(resp));
	send_flush(d);
	p->tx_bytes += sizeof(resp);
	p->rx_bytes += m->len;
	p->last_handshake_ms = now;
	sess_timers_on_authenticated_received(&p->timers, now);
	sess_timers_on_authenticated_sent(&p->timers, now);
	log_debug("%s: peer %s (%s): initiation accepted, response sent", d->cfg.ifname, p->name,
		  path_str(&m->from).s);
}

void handle_response(struct daemon *d, struct rx_pkt *m, uint64_t now)
{
	struct peer *p = NULL;
	uint32_t idx, remote;
	bool was_up;

	if (!hs_response_receiver_index(m->data, m->len, &idx) ||
	    !sess_index_lookup(&d->index, idx, SESS_INDEX_HANDSHAKE, (void **)&p) || !p ||
	    p->hs_index != idx) {
		drop(d, DROP_HANDSHAKE_INVALID, &m->from);
		return;
	}
	if (hs_consume_response(&d->id, &p->hs, m->data, m->len) < 0) {
		drop(d, DROP_HANDSHAKE_INVALID, &m->from);
		return;
	}
	remote = p->hs.remote_index;
	p->hs_index = 0; /* the index now names the new keypair */
	was_up = p->last_handshake_ms != 0;
	p->rtt_us = (time_now_ns() - p->init_sent_ns) / 1000;
	peer_update_path(d, p, &m->from);
	complete_handshake(d, p, idx, remote, now);
	p->rx_bytes += m->len;
	p->last_handshake_ms = now;
	sess_timers_on_handshake_complete(&p->timers, now);
	sess_timers_on_authenticated_received(&p->timers, now);
	if (!was_up)
		log_info("%s: peer %s (%s): tunnel up (%s)", d->cfg.ifname, p->name,
			 path_str(&p->path).s, path_kind_str(p->path.kind));
	/* The responder may send only once it has heard from us on the new
	 * keys: give it a packet at once, staged data or a keepalive. */
	if (p->staged_count)
		peer_flush_staged(d, p, now);
	else
		peer_send_keepalive(d, p, now);
}

void peer_run_timers(struct daemon *d, struct peer *p, uint64_t now)
{
	unsigned act = sess_timers_expire(&p->timers, now);

	if (act & SESS_ACT_GIVE_UP) {
		log_info("%s: peer %s: handshake unanswered for 90 s, giving up until traffic",
			 d->cfg.ifname, p->name);
		d->staged_dropped += p->staged_count;
		p->staged_count = 0;
		if (p->hs_index)
			sess_index_free(&d->index, p->hs_index);
		p->hs_index = 0;
		hs_peer_reset(&p->hs);
	}
	if (act & SESS_ACT_ZERO_KEYS) {
		log_debug("%s: peer %s: no new keys for 540 s, zeroing", d->cfg.ifname, p->name);
		sess_peer_clear(&p->sess);
	}
	if (act & SESS_ACT_SEND_INITIATION)
		peer_send_initiation(d, p, now, true);
	if (act & SESS_ACT_SEND_KEEPALIVE)
		peer_send_keepalive(d, p, now);
}
