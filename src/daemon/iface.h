/* The kernel side of the interface: its MTU, addresses, link state and
 * routes, set through rtnetlink (tun/netlink.h) at start and on reload. A
 * daemon whose TUN has no kernel interface (a fake device in tests: tun
 * ifindex 0) opens no netlink socket; there the calls only record what
 * would have been asked, so start, peers and reload run the same steps. */
#pragma once
#include <stdbool.h>

#include "config/config.h"

struct daemon;
struct peer;

/* What the interface was asked for. */
struct iface {
	bool kernel;	 /* a kernel interface: requests go to netlink (d->nl) */
	unsigned mtu;	 /* last MTU set (or recorded) */
	bool up;	 /* link set up */
	size_t n_routes; /* device routes added and not removed */
};

/* Opens netlink when d->tun has a kernel interface (ifindex > 0); for a
 * device without one, only records from now on. 0 or -errno. */
int iface_open(struct daemon *d);
/* Closes netlink; safe after a failed or no iface_open. */
void iface_close(struct daemon *d);
/* Sets the link MTU; 0 or -errno (logged by the caller). */
int iface_set_mtu(struct daemon *d, unsigned mtu);
/* Sets the link up; 0 or -errno. */
int iface_set_up(struct daemon *d);
/* Moves the interface's addresses from old (NULL at start) to new: removes
 * those that left, adds the new ones (an address already there is fine).
 * 0, or the first -errno, logged. */
int iface_apply_addresses(struct daemon *d, const struct cfg_daemon *old,
			  const struct cfg_daemon *new);
/* Adds (removes) the device route for prefix a (a peer's allowed_ips).
 * 0 or -errno (-EEXIST: 0); removal ignores errors (the route may be gone
 * with the interface). */
int iface_route_add(struct daemon *d, const struct cfg_prefix *a);
void iface_route_del(struct daemon *d, const struct cfg_prefix *a);
