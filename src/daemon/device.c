/* The device: struct daemon's start-up and shutdown, its event loop, its
 * signals and the systemd watchdog. Start-up goes in a fixed order
 * (identity, TUN, netlink, MTU, addresses, link up, UDP socket, peers and
 * routes, rendezvous client, control socket, epoll and signals, TCP
 * listener) and unwinds in reverse on the first failure, so a failed start
 * leaves no interface, route or socket behind. The interface's kernel state
 * is iface.c's.
 *
 * The loop is one step repeated: daemon_poll runs the timers that are due
 * (timers.c), waits on one epoll set (TUN, UDP, control socket, TCP
 * streams, signalfd) no longer than the nearest deadline, and handles what
 * is ready. daemon_run repeats it until a signal stops the daemon; a test
 * calls it itself, alternating between daemons that live in one process
 * and one thread, each started with daemon_start_io on a fake TUN (any
 * tun_ops), a fake or loopback UDP socket and no signalfd. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon/daemon.h"
#include "daemon/device.h"
#include "daemon/hsgate.h"
#include "daemon/offload.h"
#include "daemon/peer.h"
#include "daemon/portmap.h"
#include "daemon/rdv.h"
#include "daemon/receive.h"
#include "daemon/reload.h"
#include "daemon/send.h"
#include "daemon/show.h"
#include "daemon/tcpmux.h"
#include "daemon/timers.h"
#include "daemon/iface.h"
#include "util/notify.h"
#include "util/log.h"
#include "util/sigfd.h"
#include "util/time.h"

/* reload.c re-adds the UDP socket as 2 (EV_UDP); EV_TCP_* in daemon.h. */
enum ev_tag { EV_TUN = 1, EV_UDP = 2, EV_CTL = 3, EV_SIG = 4 };
enum { EVENTS_PER_POLL = 8 };

static int watch(struct daemon *d, int fd, enum ev_tag tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
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

/* The data ciphers to offer peers: AES-256-GCM where the CPU runs it
 * (libsodium needs AES-NI and PCLMUL), unless the caller or the environment
 * (P2PVPN_DATA_CIPHER=chacha20-poly1305, for comparisons and tests) asks
 * for ChaCha20-Poly1305 alone. */
static int choose_data_ciphers(struct daemon *d, const struct daemon_io *io)
{
	const char *env = io ? NULL : getenv("P2PVPN_DATA_CIPHER");
	bool chacha_only = io && io->chacha_only;

	if (env && strcmp(env, "chacha20-poly1305") == 0)
		chacha_only = true;
	else if (env && *env && strcmp(env, "auto") != 0) {
		log_error("%s: P2PVPN_DATA_CIPHER=%s: expected auto or chacha20-poly1305",
			  d->cfg.ifname, env);
		return -EINVAL;
	}
	d->data_ciphers = 0;
	if (!chacha_only && sess_cipher_aes256gcm_available())
		d->data_ciphers = HS_CIPHER_BIT(WIRE_CIPHER_AES256GCM);
	log_info("%s: data ciphers: %s", d->cfg.ifname,
		 d->data_ciphers ? "aes-256-gcm (with peers that offer it), chacha20-poly1305"
		 : chacha_only	 ? "chacha20-poly1305 (P2PVPN_DATA_CIPHER)"
				 : "chacha20-poly1305 (no AES-NI on this CPU)");
	return 0;
}

static int open_signals(struct daemon *d)
{
	d->sigfd = sigfd_open();
	return d->sigfd < 0 ? d->sigfd : 0;
}

/* The TUN: the caller's device, or the kernel's, with offloads as the
 * config says (offload.c). */
static int open_tun(struct daemon *d, const struct daemon_io *io)
{
	int ret;

	if (!io || !io->tun) {
		ret = offload_tun_open(d);
		if (ret < 0)
			log_error("%s: cannot create TUN interface: %s", d->cfg.ifname,
				  strerror(-ret));
		return ret;
	}
	offload_gro_reset(d);
	return 0;
}

/* MTU, addresses and link up, in the order the kernel needs (iface.c). */
static int setup_iface(struct daemon *d)
{
	struct cfg_daemon *c = &d->cfg;
	int ret;

	if ((ret = iface_open(d)) < 0)
		return ret;
	if ((ret = iface_set_mtu(d, c->mtu)) < 0) {
		log_error("%s: mtu %u: %s", c->ifname, c->mtu, strerror(-ret));
		return ret;
	}
	if ((ret = iface_apply_addresses(d, NULL, c)) < 0)
		return ret;
	if ((ret = iface_set_up(d)) < 0) {
		log_error("%s: link up: %s", c->ifname, strerror(-ret));
		return ret;
	}
	return 0;
}

static int open_udp(struct daemon *d, const struct daemon_io *io)
{
	int ret = 0;

	if (!io || !io->udp)
		ret = udp_open(&d->udp, d->cfg.listen_port);
	if (ret < 0) {
		log_error("%s: UDP port %u: %s", d->cfg.ifname, d->cfg.listen_port, strerror(-ret));
		return ret;
	}
	offload_start(d);
	return 0;
}

static int open_loop(struct daemon *d, const struct daemon_io *io)
{
	int ret = 0;

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		ret = -errno;
	if (!ret && !(io && io->no_signals))
		ret = open_signals(d);
	if (!ret && (ret = watch(d, d->tun.fd, EV_TUN)) == 0 &&
	    (ret = watch(d, d->udp.fd, EV_UDP)) == 0 && (ret = watch(d, d->ctl.fd, EV_CTL)) == 0 &&
	    d->sigfd >= 0)
		ret = watch(d, d->sigfd, EV_SIG);
	if (ret < 0)
		log_error("%s: event loop: %s", d->cfg.ifname, strerror(-ret));
	return ret;
}

int daemon_start_io(struct daemon *d, const struct daemon_io *io)
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
	/* The caller's devices are ours from here on, failure or not. */
	if (io && io->tun)
		d->tun = *io->tun;
	if (io && io->udp)
		d->udp = *io->udp;
	if (io && io->portmap_gateway)
		d->pm.gateway_override = *io->portmap_gateway;
	rt_table_init(&d->rt);
	if (!hs_identity_init(&d->id, c->private_key)) {
		log_error("%s: private key gives no usable public key", c->ifname);
		ret = -EINVAL;
		goto fail;
	}
	if ((ret = choose_data_ciphers(d, io)) < 0 ||
	    (ret = sess_index_init(&d->index, INDEX_TABLE_MAX)) < 0 ||
	    (ret = alloc_buffers(d)) < 0 || (ret = open_tun(d, io)) < 0 ||
	    (ret = setup_iface(d)) < 0 || (ret = open_udp(d, io)) < 0)
		goto fail;
	if ((ret = add_peers(d)) < 0 || (ret = rdv_client_start(d)) < 0)
		goto fail;
	if ((ret = ctl_server_open(&d->ctl, c->control_socket)) < 0) {
		log_error("%s: control socket %s: %s", c->ifname, c->control_socket,
			  strerror(-ret));
		goto fail;
	}
	if ((ret = open_loop(d, io)) < 0 || (ret = tcpmux_start(d)) < 0)
		goto fail;
	portmap_apply(d, time_now_ms());
	/* Peers with a known endpoint are handshaken with at once. */
	for (size_t i = 0; i < d->n_peers; i++)
		if (d->peers[i]->path.kind != PATH_NONE)
			peer_send_initiation(d, d->peers[i], time_now_ms(), false);
	return 0;
fail:
	daemon_stop(d);
	return ret;
}

int daemon_start(struct daemon *d)
{
	return daemon_start_io(d, NULL);
}

void daemon_stop(struct daemon *d)
{
	if (d->epfd >= 0)
		tcpmux_stop(d);
	/* The mapping is deleted from the socket it maps, so before that
	 * closes. */
	portmap_shutdown(d);
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
	iface_close(d);
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

static void dispatch(struct daemon *d, const struct epoll_event *ev)
{
	switch (ev->data.u32) {
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
		tcpmux_event(d, ev->data.u32 - EV_TCP_BASE, ev->events);
		break;
	}
}

int daemon_poll(struct daemon *d, int timeout_ms)
{
	struct epoll_event evs[EVENTS_PER_POLL];
	int next = timers_run(d), n;

	if (timeout_ms < 0 || (next >= 0 && next < timeout_ms))
		timeout_ms = next;
	n = epoll_wait(d->epfd, evs, EVENTS_PER_POLL, timeout_ms);
	/* Handshake DH work allowed until the next wake-up (hsgate.c). */
	hsgate_daemon_wake(d);
	if (n < 0) {
		int err = errno;

		if (err == EINTR)
			return 0;
		log_errno(LOG_LEVEL_ERROR, "%s: epoll_wait", d->cfg.ifname);
		return -err;
	}
	for (int i = 0; i < n; i++)
		dispatch(d, &evs[i]);
	return n;
}

int daemon_run(struct daemon *d)
{
	int ret = 0;

	d->running = true;
	d->watchdog_ms = notify_watchdog_usec() / 1000;
	notify_send("READY=1");
	log_info("%s: up, listening on UDP port %u, %zu peer%s", d->cfg.ifname,
		 udp_local_port(&d->udp), d->n_peers, d->n_peers == 1 ? "" : "s");
	while (d->running && ret >= 0)
		ret = daemon_poll(d, -1);
	notify_send("STOPPING=1");
	return ret < 0 ? ret : 0;
}
