/* The daemon's start and stop order and its event loop (device.c). */
#pragma once
#include "daemon/daemon.h"

/* What a daemon uses instead of the kernel's devices (in-process tests). */
struct daemon_io {
	/* A TUN device the caller opened (any tun_ops, fd pollable for
	 * EPOLLIN), NULL: the kernel TUN cfg.ifname. One without a kernel
	 * interface (ifindex 0) gets no netlink: MTU, addresses, link state
	 * and routes are only recorded (d->iface). */
	const struct tun_dev *tun;
	/* A UDP socket the caller opened (a fake backend or a real socket),
	 * NULL: udp_open(cfg.listen_port). */
	const struct udp_sock *udp;
	/* No signalfd and no change to the signal mask: the caller stops the
	 * daemon, and several may run in one process. */
	bool no_signals;
	/* Offer only ChaCha20-Poly1305 to peers (as P2PVPN_DATA_CIPHER=
	 * chacha20-poly1305 does for daemon_start). */
	bool chacha_only;
	/* The gateway asked for a port mapping (portmap = yes) instead of
	 * the default route's; NULL: the default route's. */
	const struct sockaddr_storage *portmap_gateway;
};
/* Interface set-up from d->cfg (d zeroed but for cfg and config_path): TUN,
 * MTU, addresses, link up, UDP socket, peers and routes, control socket,
 * event loop and signals, TCP listener; then a handshake to every peer
 * with an endpoint. 0, or -errno with everything undone. */
int daemon_start(struct daemon *d);
/* daemon_start with io's devices (NULL: as daemon_start): the devices
 * given are the daemon's from the call on (closed by daemon_stop through
 * their ops, also when the start fails). */
int daemon_start_io(struct daemon *d, const struct daemon_io *io);
/* One step of the event loop: runs the timers that are due, waits for
 * events at most timeout_ms (-1: until one; never past the next timer) and
 * handles them. Returns the number of events handled, or -errno. */
int daemon_poll(struct daemon *d, int timeout_ms);
/* Runs daemon_poll until SIGTERM/SIGINT; 0 on a clean stop. */
int daemon_run(struct daemon *d);
/* Removes peers, routes, addresses and the interface; closes every socket. */
void daemon_stop(struct daemon *d);
