/* p2pvpnd start-up, event loop and shutdown. Start-up goes in a fixed order
 * (identity, TUN, addresses, MTU, link up, UDP socket, peers and routes,
 * control socket) and unwinds in reverse on the first failure, so a failed
 * start leaves no interface, route or socket behind. The loop waits on one
 * epoll set (TUN, UDP, control socket, signalfd) with a timeout that is the
 * nearest peer timer. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon/daemon.h"
#include "daemon/notify.h"
#include "util/log.h"
#include "util/time.h"

enum ev_tag { EV_TUN = 1, EV_UDP, EV_CTL, EV_SIG }; /* EV_TCP_* in daemon.h */

static int watch(struct daemon *d, int fd, enum ev_tag tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int daemon_apply_addresses(struct daemon *d, const struct cfg_daemon *old,
			   const struct cfg_daemon *new)
{
	char buf[CFG_PREFIX_STRLEN];

	for (size_t i = 0; old && i < old->n_addresses; i++) {
		const struct cfg_prefix *a = &old->addresses[i];
		bool keep = false;
		for (size_t j = 0; j < new->n_addresses; j++)
			keep |= memcmp(a, &new->addresses[j], sizeof(*a)) == 0;
		if (!keep)
			(void)nl_addr_del(&d->nl, d->tun.ifindex, a->family, a->addr, a->plen);
	}
	for (size_t i = 0; i < new->n_addresses; i++) {
		const struct cfg_prefix *a = &new->addresses[i];
		int ret = nl_addr_add(&d->nl, d->tun.ifindex, a->family, a->addr, a->plen);
		if (ret < 0 && ret != -EEXIST) {
			cfg_prefix_to_string(a, buf, sizeof(buf));
			log_error("%s: address %s: %s%s%s", new->ifname, buf, strerror(-ret),
				  d->nl.err_msg[0] ? ": " : "", d->nl.err_msg);
			return ret;
		}
	}
	return 0;
}

static int alloc_buffers(struct daemon *d)
{
	/* Untouched pages cost no memory: a slot of a plain packet uses its
	 * first pages only, and only GRO fills whole rx slots. */
	d->rxbuf = malloc((size_t)RX_BATCH * PKT_SLOT);
	d->txbuf = malloc((size_t)TX_BATCH * PKT_SLOT);
	d->tun_buf = malloc(PKT_SLOT);
	if (!d->rxbuf || !d->txbuf || !d->tun_buf)
		return -ENOMEM;
	for (unsigned i = 0; i < RX_BATCH; i++) {
		d->rx[i].data = d->rxbuf + (size_t)i * PKT_SLOT + PKT_HEADROOM;
		d->rx[i].cap = TUN_PACKET_MAX;
	}
	return 0;
}

static int add_peers(struct daemon *d)
{
	d->peers = calloc(d->cfg.n_peers ? d->cfg.n_peers : 1, sizeof(*d->peers));
	if (!d->peers)
		return -ENOMEM;
	for (size_t i = 0; i < d->cfg.n_peers; i++) {
		struct peer *p = peer_new(d, &d->cfg.peers[i]);
		int ret;

		if (!p)
			return -errno ? -errno : -ENOMEM;
		d->peers[d->n_peers++] = p;
		ret = peer_add_routes(d, p);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int open_signals(struct daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return d->sigfd < 0 ? -errno : 0;
}

int daemon_start(struct daemon *d)
{
	struct cfg_daemon *c = &d->cfg;
	int ret;

	d->epfd = d->sigfd = -1;
	d->udp.fd = -1;
	d->ctl.fd = -1;
	d->tun.fd = -1;
	d->tcp_listen_fd = -1;
	for (unsigned i = 0; i < TCP_SLOTS_MAX; i++)
		d->tcp[i].fd = -1;
	rt_table_init(&d->rt);
	if (!hs_identity_init(&d->id, c->private_key)) {
		log_error("%s: private key gives no usable public key", c->ifname);
		return -EINVAL;
	}
	if ((ret = sess_index_init(&d->index, INDEX_TABLE_MAX)) < 0 ||
	    (ret = alloc_buffers(d)) < 0)
		goto fail;
	if ((ret = nl_open(&d->nl)) < 0) {
		log_error("%s: rtnetlink: %s", c->ifname, strerror(-ret));
		goto fail;
	}
	if ((ret = offload_tun_open(d)) < 0) {
		log_error("%s: cannot create TUN interface: %s", c->ifname, strerror(-ret));
		goto fail;
	}
	if ((ret = nl_link_set_mtu(&d->nl, d->tun.ifindex, c->mtu)) < 0) {
		log_error("%s: mtu %u: %s", c->ifname, c->mtu, strerror(-ret));
		goto fail;
	}
	if ((ret = daemon_apply_addresses(d, NULL, c)) < 0)
		goto fail;
	if ((ret = nl_link_set_up(&d->nl, d->tun.ifindex, true)) < 0) {
		log_error("%s: link up: %s", c->ifname, strerror(-ret));
		goto fail;
	}
	if ((ret = udp_open(&d->udp, c->listen_port)) < 0) {
		log_error("%s: UDP port %u: %s", c->ifname, c->listen_port, strerror(-ret));
		goto fail;
	}
	offload_udp_enable(d);
	offload_log(d);
	if ((ret = add_peers(d)) < 0 || (ret = rdv_client_start(d)) < 0)
		goto fail;
	if ((ret = ctl_server_open(&d->ctl, c->control_socket)) < 0) {
		log_error("%s: control socket %s: %s", c->ifname, c->control_socket,
			  strerror(-ret));
		goto fail;
	}
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0 || (ret = open_signals(d)) < 0 || (ret = watch(d, d->tun.fd, EV_TUN)) < 0 ||
	    (ret = watch(d, d->udp.fd, EV_UDP)) < 0 || (ret = watch(d, d->ctl.fd, EV_CTL)) < 0 ||
	    (ret = watch(d, d->sigfd, EV_SIG)) < 0) {
		ret = ret ? ret : -errno;
		log_error("%s: event loop: %s", c->ifname, strerror(-ret));
		goto fail;
	}
	if ((ret = tcpmux_start(d)) < 0)
		goto fail;
	return 0;
fail:
	daemon_stop(d);
	return ret;
}

void daemon_stop(struct daemon *d)
{
	if (d->epfd >= 0)
		tcpmux_stop(d);
	rdv_client_stop(d);
	for (size_t i = 0; i < d->n_peers; i++)
		peer_free(d, d->peers[i]);
	free(d->peers);
	d->peers = NULL;
	d->n_peers = 0;
	ctl_server_close(&d->ctl);
	udp_close(&d->udp);
	/* Closing the TUN removes the interface, and with it its addresses and
	 * routes. */
	tun_close(&d->tun);
	nl_close(&d->nl);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->sigfd >= 0)
		close(d->sigfd);
	d->epfd = d->sigfd = -1;
	rt_table_cleanup(&d->rt);
	sess_index_cleanup(&d->index);
	free(d->rxbuf);
	free(d->txbuf);
	free(d->tun_buf);
	d->rxbuf = d->txbuf = d->tun_buf = NULL;
	hsgate_daemon_cleanup(d);
	hs_identity_cleanup(&d->id);
}

static void handle_signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			notify_send("RELOADING=1");
			daemon_reload(d);
			notify_send("READY=1");
		} else {
			log_info("%s: signal %u, shutting down", d->cfg.ifname, si.ssi_signo);
			d->running = false;
		}
	}
}

int daemon_run(struct daemon *d)
{
	struct epoll_event evs[8];

	d->running = true;
	d->watchdog_ms = notify_watchdog_usec() / 1000;
	/* Peers with a known endpoint are handshaken with at once. */
	for (size_t i = 0; i < d->n_peers; i++)
		if (d->peers[i]->path.kind != PATH_NONE)
			peer_send_initiation(d, d->peers[i], time_now_ms(), false);
	notify_send("READY=1");
	log_info("%s: up, listening on UDP port %u, %zu peer%s", d->cfg.ifname,
		 udp_local_port(&d->udp), d->n_peers, d->n_peers == 1 ? "" : "s");
	while (d->running) {
		int timeout = timers_run(d);
		int n = epoll_wait(d->epfd, evs, 8, timeout);

		/* Handshake DH work allowed until the next wake-up (hsgate.c). */
		hsgate_daemon_wake(d);

		if (n < 0 && errno != EINTR) {
			log_errno(LOG_LEVEL_ERROR, "%s: epoll_wait", d->cfg.ifname);
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case EV_TUN:
				datapath_tun_readable(d);
				break;
			case EV_UDP:
				datapath_udp_readable(d);
				break;
			case EV_CTL:
				ctl_server_handle(&d->ctl, daemon_control, d);
				break;
			case EV_SIG:
				handle_signals(d);
				break;
			case EV_TCP_LISTEN:
				tcpmux_accept(d);
				break;
			default:
				tcpmux_event(d, evs[i].data.u32 - EV_TCP_BASE, evs[i].events);
				break;
			}
		}
	}
	notify_send("STOPPING=1");
	return 0;
}
