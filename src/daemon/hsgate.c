/* The handshake flood defence, WireGuard's: every handshake message costs
 * two DH operations, so a flood of them (a valid mac1 needs only our public
 * key) could eat the CPU the data path and the control socket need. The
 * daemon counts handshake messages; past HS_LOAD_PER_SECOND a second, or
 * when one wake-up's DH budget is spent, it is under load for the next
 * UNDER_LOAD_HOLD_MS. Under load a message without a valid mac2 gets a
 * cookie reply (itself rate-limited per source) and no DH; one with a valid
 * mac2 comes from a source that proved it receives at its address, and
 * passes a per-source token bucket (20/s, burst 5). A DH budget per
 * wake-up bounds the work between two returns to epoll in every state.
 * Handshakes over TCP or the relay carry no spoofable UDP source: they get
 * only the budget. */
#include <string.h>

#include <sodium.h>

#include "daemon/daemon.h"
#include "util/log.h"

static void gate_setup(struct daemon *d)
{
	/* The checker is keyed by our public key, which a reload may change. */
	if (d->hs_gate_ready && sodium_memcmp(d->cookie_pub, d->id.s_pub, 32) == 0)
		return;
	if (!d->hs_gate_ready) {
		ratelimit_init(&d->hs_rl);
		ratelimit_init(&d->cookie_rl);
	}
	cookie_checker_cleanup(&d->cookie);
	cookie_checker_init(&d->cookie, d->id.s_pub);
	memcpy(d->cookie_pub, d->id.s_pub, 32);
	d->hs_gate_ready = true;
}

bool hsgate_under_load(const struct daemon *d, uint64_t now)
{
	return now < d->under_load_until_ms;
}

static void mark_under_load(struct daemon *d, uint64_t now)
{
	if (!hsgate_under_load(d, now)) {
		d->under_load_entered++;
		log_info("%s: handshake load: cookies required", d->cfg.ifname);
	}
	d->under_load_until_ms = now + UNDER_LOAD_HOLD_MS;
}

static void count_handshake(struct daemon *d, uint64_t now)
{
	if (now - d->hs_window_ms >= 1000) {
		d->hs_window_ms = now;
		d->hs_window_count = 0;
	}
	if (++d->hs_window_count > HS_LOAD_PER_SECOND)
		mark_under_load(d, now);
}

static bool take_budget(struct daemon *d, struct rx_pkt *m, uint64_t now)
{
	if (!d->hs_budget) {
		mark_under_load(d, now);
		drop(d, DROP_HANDSHAKE_RATELIMITED, &m->from);
		return false;
	}
	d->hs_budget--;
	return true;
}

static void send_cookie_reply(struct daemon *d, struct rx_pkt *m, uint64_t now)
{
	/* The slot of the tx queue entry this reply will take: a slot is
	 * reused only after the queue was flushed. */
	uint8_t *buf = d->cookie_tx[d->n_tx] + PKT_HEADROOM;
	struct wire_cookie_reply r;

	if (!ratelimit_allow(&d->cookie_rl, &m->from.addr, now))
		return;
	if (cookie_reply_create(&d->cookie, m->data, m->len, &m->from.addr, now, &r) < 0)
		return;
	memcpy(buf, &r, sizeof(r));
	datapath_send(d, &m->from, buf, sizeof(r));
	d->cookie_replies_sent++;
}

bool hsgate_admit(struct daemon *d, struct rx_pkt *m, uint64_t now)
{
	enum cookie_mac_state st;

	gate_setup(d);
	count_handshake(d, now);
	if (m->from.kind != PATH_UDP || !hsgate_under_load(d, now))
		return take_budget(d, m, now);
	st = cookie_check(&d->cookie, m->data, m->len, &m->from.addr, now);
	if (st == COOKIE_MAC_INVALID) {
		drop(d, DROP_HANDSHAKE_INVALID, &m->from);
		return false;
	}
	if (st == COOKIE_MAC1_OK) {
		drop(d, DROP_HANDSHAKE_NO_MAC2, &m->from);
		send_cookie_reply(d, m, now);
		return false;
	}
	if (!ratelimit_allow(&d->hs_rl, &m->from.addr, now)) {
		drop(d, DROP_HANDSHAKE_RATELIMITED, &m->from);
		return false;
	}
	return take_budget(d, m, now);
}

void hsgate_stamp(struct peer *p, uint8_t *msg, size_t len, uint64_t now)
{
	if (!p->cookie.ready)
		cookie_maker_init(&p->cookie, p->cfg.public_key);
	if (cookie_maker_stamp(&p->cookie, msg, len, now) < 0)
		log_debug("peer %s: no mac2 on this handshake", p->name);
}

void handle_cookie_reply(struct daemon *d, struct rx_pkt *m, uint64_t now)
{
	struct peer *p = NULL;
	uint32_t idx;
	int ret;

	/* The reply names the sender index of our initiation (a handshake
	 * index) or of our response (by now a keypair's index). */
	if (!cookie_reply_receiver_index(m->data, m->len, &idx) ||
	    !sess_index_contains(&d->index, idx)) {
		drop(d, DROP_COOKIE_INVALID, &m->from);
		return;
	}
	(void)sess_index_lookup(&d->index, idx, SESS_INDEX_ANY, (void **)&p);
	if (!p || !p->cookie.ready) {
		drop(d, DROP_COOKIE_INVALID, &m->from);
		return;
	}
	ret = cookie_reply_consume(&p->cookie, m->data, m->len, now);
	if (ret < 0) {
		drop(d, DROP_COOKIE_INVALID, &m->from);
		return;
	}
	log_debug("%s: peer %s (%s): cookie received, next handshake carries mac2", d->cfg.ifname,
		  p->name, path_str(&m->from));
}
