/* p2pvpn-rendezvous's event loop: the sockets, one epoll, signals, the
 * once-a-second sweep, and the glue between the sockets and the engines
 * (core.h for peers, stun_responder.h for STUN, tcp.h for streams).
 *
 * Sockets: UDP and TCP on `listen`; UDP on listen port + 1 (same address)
 * for the NAT mapping test; with `alternate_address` also UDP on that
 * address's listen port and port + 1, for RFC 5780 / 3489 change requests.
 * Signalling, handshakes and relay frames are accepted on the listen UDP
 * socket and on TCP; the other three sockets answer STUN only.
 *
 * On a wildcard listen address every answer leaves from the address its
 * request came to (UDP_OPEN_PKTINFO). With `alternate_address` there, the
 * two wildcard sockets carry the alternate's requests too (the kernel will
 * not bind a specific address on a port the wildcard holds); each request
 * is numbered by the address and port it came to, a change request is
 * answered from the wildcard socket of the other port with the other
 * address as source, and non-STUN datagrams to the alternate are dropped
 * as on its own sockets. The alternate's "primary" partner (OTHER-ADDRESS
 * of a request to the alternate, the source of its change-IP answers) is
 * the address the kernel would send from towards that client (a route
 * lookup per request to the alternate), the one other address on a host
 * with one; when the kernel would use the alternate itself or has no
 * route, the request is answered as without an alternate. TCP listens on
 * the wildcard as without an alternate. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/errors.h"
#include "config/rendezvous.h"
#include "rendezvous/core.h"
#include "rendezvous/stun_responder.h"
#include "rendezvous/tcp.h"
#include "transport/udp.h"

struct rdv_server_opts {
	size_t max_peers;	     /* registry cap; 0: RDV_MAX_PEERS */
	bool allow_loopback;	     /* relay to 127/8 and ::1 (tests on loopback only) */
	bool handle_signals;	     /* SIGTERM/SIGINT stop, SIGHUP reloads (blocked, signalfd) */
	struct rdv_tcp_limits tcp;   /* zero fields: defaults */
	struct rdv_stun_limits stun; /* STUN answers over UDP; zero fields: defaults */
	uint64_t watchdog_ms;	     /* systemd watchdog interval, 0: none */
	/* Service manager notifications ("READY=1", "WATCHDOG=1"…), or NULL. */
	int (*notify)(const char *state);
};

enum { RDV_RX_SLOT = 65536, RDV_UDP_BATCH = 32 };

struct rdv_server {
	struct cfg_rendezvous cfg; /* owned; replaced on reload */
	const char *config_path;
	struct rdv_server_opts opts;
	struct rdv_core core;
	struct rdv_stun_server stun;
	struct udp_sock udp[RDV_STUN_SOCKS]; /* udp_open_addr, UDP_OPEN_PKTINFO */
	struct rdv_ev udp_ev[RDV_STUN_SOCKS];
	bool have_udp[RDV_STUN_SOCKS];
	bool alt_on_wildcard; /* alternate_address with a wildcard listen: only udp[0..1] */
	struct rdv_tcp tcp;
	int epfd, sigfd;
	struct rdv_ev sig_ev;
	bool stop;
	uint64_t next_sweep_ms, next_watchdog_ms;
	uint64_t stun_answered, stun_drops[RDV_STUN_DROP_MAX];
	struct rdv_stun_limiter *stun_limit; /* UDP answers per source IP and in all */
	uint8_t *rx;			     /* RDV_UDP_BATCH slots of RDV_RX_SLOT bytes */
	struct udp_msg dg[RDV_UDP_BATCH];
};

/* What the server needs beyond cfg_load_rendezvous's checks: a listen port
 * below 65535 (port + 1 is used too). Each problem is added to errs; false
 * when there was one. */
bool rdv_server_check_config(const struct cfg_rendezvous *cfg, struct cfg_errors *errs)
    __attribute__((warn_unused_result));
/* Takes over *cfg (left zeroed), binds every socket and is ready to run:
 * 0, or -errno with everything undone. config_path is kept for reloads. */
int rdv_server_init(struct rdv_server *s, struct cfg_rendezvous *cfg, const char *config_path,
		    const struct rdv_server_opts *opts);
/* Waits up to timeout_ms for events, handles them, runs the sweep when due:
 * 0, or -errno when epoll fails. */
int rdv_server_run_once(struct rdv_server *s, int timeout_ms);
/* Runs until stopped (signal or rdv_server_stop): 0, or -errno. */
int rdv_server_run(struct rdv_server *s);
/* Asks the loop to return after the current turn. */
void rdv_server_stop(struct rdv_server *s);
/* Re-reads config_path: admitted keys, open and relay change at once; a bad
 * file is logged and the running config kept (-EINVAL). Changes of listen,
 * alternate_address or private_key need a restart and are only logged. */
int rdv_server_reload(struct rdv_server *s);
/* Closes every socket, frees everything, wipes the keys. */
void rdv_server_cleanup(struct rdv_server *s);
