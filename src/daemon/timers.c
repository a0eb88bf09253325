/* Everything that happens at a time rather than on a packet: the session
 * timers of each peer (fast handshake retries included), the path engines, the
 * TCP streams, the port mapping, the rendezvous client and the systemd
 * watchdog. Each engine
 * says when it next needs to run; timers_run runs those that are due and
 * gives the event loop its epoll timeout to the earliest of the rest, so an
 * idle daemon sleeps until something is due (no fixed ticks). */
#include <stdint.h>

#include "daemon/daemon.h"
#include "daemon/peer.h"
#include "daemon/portmap.h"
#include "daemon/punch.h"
#include "daemon/rdv.h"
#include "daemon/tcpmux.h"
#include "daemon/timers.h"
#include "util/notify.h"
#include "util/time.h"

static uint64_t peer_timers(struct daemon *d, struct peer *p, uint64_t now)
{
	uint64_t t = sess_timers_next_deadline(&p->timers);

	if (t <= now) {
		peer_run_timers(d, p, now);
		t = sess_timers_next_deadline(&p->timers);
	}
	return t;
}

/* Runs everything due (session timers, path engines, streams, the
 * rendezvous client, the watchdog) and returns the epoll timeout to the
 * next deadline. */
int timers_run(struct daemon *d)
{
	uint64_t now = time_now_ms(), next = UINT64_MAX, t;

	for (size_t i = 0; i < d->n_peers; i++) {
		struct peer *p = d->peers[i];

		t = peer_timers(d, p, now);
		if (t < next)
			next = t;
		t = punch_next_deadline(&p->punch);
		if (t <= now) {
			peer_run_punch(d, p, now);
			t = punch_next_deadline(&p->punch);
		}
		if (t < next)
			next = t;
		/* No session and no candidates: ask to be introduced. Once the
		 * engine has candidates it asks again itself when it needs to
		 * (a new introduction restarts its punching schedule). */
		if (d->rdv && !sess_peer_send_keypair(&p->sess, now) &&
		    p->punch.phase == PUNCH_PHASE_IDLE) {
			rdv_client_connect(d, p, now);
			t = rdvc_connect_next(&d->rc.eng, p->connect_sent_ms);
			if (t < next)
				next = t;
		}
	}
	t = tcpmux_tick(d, now);
	if (t < next)
		next = t;
	t = portmap_tick(d, now);
	if (t < next)
		next = t;
	if (d->rdv) {
		t = peer_timers(d, d->rdv, now);
		if (t < next)
			next = t;
		t = rdv_client_tick(d, now);
		if (t < next)
			next = t;
	}
	if (d->watchdog_ms) {
		if (now - d->last_watchdog_ms >= d->watchdog_ms / 2) {
			notify_send("WATCHDOG=1");
			d->last_watchdog_ms = now;
		}
		if (d->last_watchdog_ms + d->watchdog_ms / 2 < next)
			next = d->last_watchdog_ms + d->watchdog_ms / 2;
	}
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}
