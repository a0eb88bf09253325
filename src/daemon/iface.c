/* The interface's kernel state: MTU, addresses, link up and the device
 * routes of peers' allowed_ips, all through rtnetlink (tun/netlink.h), in
 * the order the kernel needs (MTU and addresses, then up, then routes: a
 * route through a link that is down is refused). Start-up, peers and reload
 * call these and nothing else of netlink.
 *
 * A TUN without a kernel interface (ifindex 0: the fake device of the
 * in-process tests) gets no netlink socket; each call records what it was
 * asked (struct iface) and succeeds, so the rest of the daemon runs the
 * same steps with or without a kernel. */
#include <errno.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/iface.h"
#include "util/log.h"

int iface_open(struct daemon *d)
{
	int ret;

	memset(&d->iface, 0, sizeof(d->iface));
	if (d->tun.ifindex <= 0)
		return 0;
	ret = nl_open(&d->nl);
	if (ret < 0) {
		log_error("%s: rtnetlink: %s", d->cfg.ifname, strerror(-ret));
		return ret;
	}
	d->iface.kernel = true;
	return 0;
}

void iface_close(struct daemon *d)
{
	nl_close(&d->nl);
	d->iface.kernel = false;
}

int iface_set_mtu(struct daemon *d, unsigned mtu)
{
	int ret = d->iface.kernel ? nl_link_set_mtu(&d->nl, d->tun.ifindex, mtu) : 0;

	if (ret == 0)
		d->iface.mtu = mtu;
	return ret;
}

int iface_set_up(struct daemon *d)
{
	int ret = d->iface.kernel ? nl_link_set_up(&d->nl, d->tun.ifindex, true) : 0;

	if (ret == 0)
		d->iface.up = true;
	return ret;
}

static int addr_add(struct daemon *d, const struct cfg_prefix *a)
{
	return d->iface.kernel ? nl_addr_add(&d->nl, d->tun.ifindex, a->family, a->addr, a->plen)
			       : 0;
}

static void addr_del(struct daemon *d, const struct cfg_prefix *a)
{
	if (d->iface.kernel)
		(void)nl_addr_del(&d->nl, d->tun.ifindex, a->family, a->addr, a->plen);
}

int iface_apply_addresses(struct daemon *d, const struct cfg_daemon *old,
			  const struct cfg_daemon *new)
{
	char buf[CFG_PREFIX_STRLEN];

	for (size_t i = 0; old && i < old->n_addresses; i++) {
		const struct cfg_prefix *a = &old->addresses[i];
		bool keep = false;

		for (size_t j = 0; j < new->n_addresses; j++)
			keep |= memcmp(a, &new->addresses[j], sizeof(*a)) == 0;
		if (!keep)
			addr_del(d, a);
	}
	for (size_t i = 0; i < new->n_addresses; i++) {
		const struct cfg_prefix *a = &new->addresses[i];
		int ret = addr_add(d, a);

		if (ret < 0 && ret != -EEXIST) {
			cfg_prefix_to_string(a, buf, sizeof(buf));
			log_error("%s: address %s: %s%s%s", new->ifname, buf, strerror(-ret),
				  d->nl.err_msg[0] ? ": " : "", d->nl.err_msg);
			return ret;
		}
	}
	return 0;
}

int iface_route_add(struct daemon *d, const struct cfg_prefix *a)
{
	int ret = 0;

	if (d->iface.kernel)
		ret = nl_route_add(&d->nl, d->tun.ifindex, a->family, a->addr, a->plen);
	if (ret == -EEXIST)
		ret = 0;
	if (ret == 0)
		d->iface.n_routes++;
	return ret;
}

void iface_route_del(struct daemon *d, const struct cfg_prefix *a)
{
	if (d->iface.kernel)
		(void)nl_route_del(&d->nl, d->tun.ifindex, a->family, a->addr, a->plen);
	if (d->iface.n_routes)
		d->iface.n_routes--;
}
