/* Routing loops: a peer's endpoint routed into our own tunnel
 * (SECURITY-NOTES 6.17). When allowed_ips covers a peer's outer address, or
 * a route sends it to the TUN, each datagram we send to the peer comes back
 * out of the TUN; with a session up it is encrypted and sent again, and the
 * daemon spins (measured: 7.7 CPU seconds in 10 s and 188,000 packets/s on
 * the TUN for a 10/s ping). WireGuard refuses the same way in both its
 * implementations: the kernel's send path returns -ELOOP when the outer
 * route's device is the wg device itself, with a rate-limited message.
 *
 * Why here, on the packets read from the TUN, and not a refusal of such
 * allowed_ips at load time: the config cannot see the kernel's routes (an
 * `ip route add ... dev p2p0`, a VPN manager's routes), endpoints change at
 * run time (roaming, rendezvous candidates, the relay), and a full tunnel
 * (0.0.0.0/0) is a correct config as long as a more specific route keeps
 * the endpoint outside, which is how wg-quick users set it up without
 * fwmark. The check is exact and cheap: a looping packet is UDP from our
 * own port (no other socket can hold it: udp.c binds without SO_REUSEADDR)
 * to the endpoint we send that peer's datagrams to, and only UDP packets
 * get past the first byte comparisons. The datagram is dropped, counted as
 * drop_routing_loop, and one warning a minute per peer says what to fix.
 * TCP paths are not checked: a stream whose own segments loop stalls on
 * its window, which bounds it. */
#include <stdio.h>

#include "daemon/daemon.h"
#include "daemon/loop.h"
#include "routing/loop.h"
#include "util/addr.h"
#include "util/log.h"

enum { LOOP_WARN_INTERVAL_MS = 60 * 1000 };

/* Where p's datagrams go on the underlay, when that is a UDP address. */
static const struct sockaddr_storage *outer_udp_remote(const struct daemon *d, const struct peer *p)
{
	if (p->path.kind == PATH_UDP)
		return &p->path.addr;
	if (p->path.kind == PATH_RELAY && d->rdv && d->rdv->path.kind == PATH_UDP)
		return &d->rdv->path.addr;
	return NULL;
}

static bool loops_to(const struct daemon *d, const struct peer *p, const struct rt_udp *u)
{
	const struct sockaddr_storage *to = outer_udp_remote(d, p);

	return to && rt_udp_is_ours_to(u, udp_local_port(&d->udp), to);
}

/* The peer whose endpoint a datagram no peer's allowed_ips owns was sent
 * to: only ever reached for UDP from our own port. */
static struct peer *owner_of(const struct daemon *d, const struct rt_udp *u)
{
	if (d->rdv && loops_to(d, d->rdv, u))
		return d->rdv;
	for (size_t i = 0; i < d->n_peers; i++)
		if (loops_to(d, d->peers[i], u))
			return d->peers[i];
	return NULL;
}

static void warn(struct daemon *d, struct peer *p, bool owned, uint64_t now)
{
	char ep[ADDR_STRLEN];
	const struct sockaddr_storage *to = outer_udp_remote(d, p);

	p->loop_unwarned++;
	if (p->loop_warned_ms && now - p->loop_warned_ms < LOOP_WARN_INTERVAL_MS)
		return;
	addr_format(ep, sizeof(ep), to);
	log_warn("%s: peer %s: endpoint %s is routed into its own tunnel (%s); dropped %llu of "
		 "our datagrams to it (counted as drop_routing_loop); route the endpoint "
		 "outside %s",
		 d->cfg.ifname, p->name, ep,
		 owned ? "its allowed_ips cover it" : "a route to the interface",
		 (unsigned long long)p->loop_unwarned, d->cfg.ifname);
	p->loop_warned_ms = now;
	p->loop_unwarned = 0;
}

bool loop_drop(struct daemon *d, struct peer *p, const uint8_t *inner, size_t len, uint64_t now)
{
	struct rt_udp u;

	if (!rt_udp_parse(inner, len, &u))
		return false;
	if (p) {
		if (!loops_to(d, p, &u))
			return false;
	} else {
		/* No peer would take it, so it is dropped either way; finding
		 * whose endpoint it was for only gives the warning a name. */
		if (u.later_fragment || u.sport != udp_local_port(&d->udp))
			return false;
		p = owner_of(d, &u);
		if (!p)
			return false;
	}
	d->drops[DROP_ROUTING_LOOP]++;
	warn(d, p, p == rt_lookup(&d->rt, u.family, u.dst), now);
	return true;
}
