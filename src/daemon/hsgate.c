/* The daemon's glue over the handshake flood gate (crypto/hsgate.h, the
 * decisions and their reasons): it feeds the gate every handshake message
 * with its source (none for TCP and the relay, which carry no spoofable UDP
 * source: they get only the per-wake-up budget), turns the verdicts into
 * the daemon's drop counters, sends the cookie replies, stamps mac2 on our
 * own handshakes and takes the cookie replies peers send us. */
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/hsgate.h"
#include "daemon/path.h"
#include "daemon/receive.h"
#include "daemon/send.h"
#include "util/log.h"

static void gate_setup(struct daemon *d)
{
	/* The checker is keyed by our public key, which a reload may change. */
	if (!d->hs_gate_ready) {
		hsgate_init(&d->gate, d->id.s_pub, NULL);
		d->hs_gate_ready = true;
		return;
	}
	hsgate_set_key(&d->gate, d->id.s_pub);
}

void hsgate_daemon_wake(struct daemon *d)
{
	hsgate_wake(&d->gate);
}

void hsgate_daemon_cleanup(struct daemon *d)
{
	if (d->hs_gate_ready)
		hsgate_cleanup(&d->gate);
	d->hs_gate_ready = false;
}

static void send_cookie_reply(struct daemon *d, struct rx_pkt *m, const struct wire_cookie_reply *r)
{
	send_copy(d, &m->from, r, sizeof(*r));
}

bool hsgate_admit(struct daemon *d, struct rx_pkt *m, uint64_t now)
{
	uint64_t entered = d->gate.under_load_entered;
	struct wire_cookie_reply r;
	enum hsgate_verdict v;

	gate_setup(d);
	v = hsgate_check(&d->gate, m->data, m->len, m->from.kind == PATH_UDP ? &m->from.addr : NULL,
			 now, &r);
	if (d->gate.under_load_entered != entered)
		log_info("%s: handshake load: cookies required", d->cfg.ifname);
	switch (v) {
	case HSGATE_PASS:
		return true;
	case HSGATE_SEND_COOKIE:
		drop(d, DROP_HANDSHAKE_NO_MAC2, &m->from);
		send_cookie_reply(d, m, &r);
		return false;
	case HSGATE_DROP_NO_MAC2:
		drop(d, DROP_HANDSHAKE_NO_MAC2, &m->from);
		return false;
	case HSGATE_DROP_INVALID:
		drop(d, DROP_HANDSHAKE_INVALID, &m->from);
		return false;
	default: /* the source's bucket or the wake-up's budget */
		drop(d, DROP_HANDSHAKE_RATELIMITED, &m->from);
		return false;
	}
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
		  p->name, path_str(&m->from).s);
}
