/* The peer daemon's configuration (/etc/p2pvpn.conf, DESIGN.md section 1):
 * INI text in, a fully validated struct cfg_daemon out, or every problem found
 * as a "FILE:LINE: key: ..." message. Nothing here opens sockets or devices,
 * so a bad file can never half-apply. This header is the module's front door:
 * it also brings in the shared value parsers, the error list and the
 * rendezvous server's configuration. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "config/errors.h"
#include "config/parse.h"
#include "config/rendezvous.h"
#include "util/log.h"

enum {
	CFG_KEY_LEN = 32,
	CFG_NAME_MAX = 64,    /* peer name: 1-63 of [A-Za-z0-9._-], plus NUL */
	CFG_IFNAME_MAX = 16,  /* IFNAMSIZ */
	CFG_SOCKET_MAX = 108, /* sizeof(sun_path) */
	CFG_PATH_MAX = 4096,
	/* [peer] sections: p2pvpnd's receiver index table holds 4 indexes per
	 * peer (a handshake and three keypairs) with room to spare, so no
	 * config can exhaust it (daemon.h checks this). */
	CFG_MAX_PEERS = 10000,
};

enum cfg_load_flags {
	/* Refuse host names instead of resolving them: no DNS, for --check in
	 * sandboxes, tests and fuzzing. */
	CFG_LOAD_NUMERIC = 1u << 0,
};

/* One [peer "NAME"] section. */
struct cfg_peer {
	char name[CFG_NAME_MAX];
	uint8_t public_key[CFG_KEY_LEN];
	bool has_psk;
	uint8_t psk[CFG_KEY_LEN];	/* all zero when !has_psk (Noise IKpsk2 default) */
	struct cfg_prefix *allowed_ips; /* network prefixes, host bits clear, >= 1 */
	size_t n_allowed_ips;
	bool has_endpoint;
	struct sockaddr_storage endpoint; /* AF_INET or AF_INET6, port set */
	int line;			  /* line of the section header */
};

/* The whole of /etc/p2pvpn.conf, defaults filled in. */
struct cfg_daemon {
	char path[CFG_PATH_MAX];      /* file name used in messages */
	char ifname[CFG_IFNAME_MAX];  /* default "p2p0" */
	struct cfg_prefix *addresses; /* interface addresses, host bits kept, >= 1 */
	size_t n_addresses;
	uint8_t private_key[CFG_KEY_LEN];
	uint8_t public_key[CFG_KEY_LEN];     /* derived from private_key */
	uint16_t listen_port;		     /* default 51820 */
	unsigned mtu;			     /* default 1420 */
	unsigned keepalive_s;		     /* default 20, 0 = off */
	struct sockaddr_storage *rendezvous; /* meeting points, in file order */
	size_t n_rendezvous;
	bool has_rendezvous_key; /* always true when n_rendezvous > 0 */
	uint8_t rendezvous_key[CFG_KEY_LEN];
	bool relay;			     /* default yes */
	bool portmap; /* ask the default gateway for a mapping of listen_port: default yes */
	bool offload; /* TUN and UDP segmentation offloads: auto (true, default) or no */
	char control_socket[CFG_SOCKET_MAX]; /* default /run/p2pvpn/<ifname>.sock */
	enum log_level log_level;	     /* default info */
	struct cfg_peer *peers;		     /* in file order */
	size_t n_peers;
};

/* Reads and validates the file at path. True: *out holds the config and must
 * be released with cfg_daemon_free. False: *out is untouched and errs has at
 * least one message appended. Host names in endpoints are resolved. */
bool cfg_load_daemon(const char *path, struct cfg_daemon *out, struct cfg_errors *errs)
    __attribute__((warn_unused_result));
/* As cfg_load_daemon, reading an open stream; name is used in messages. */
bool cfg_load_daemon_stream(FILE *in, const char *name, unsigned flags, struct cfg_daemon *out,
			    struct cfg_errors *errs) __attribute__((warn_unused_result));
/* As cfg_load_daemon_stream, from a NUL-terminated string. */
bool cfg_load_daemon_string(const char *name, const char *text, unsigned flags,
			    struct cfg_daemon *out, struct cfg_errors *errs)
    __attribute__((warn_unused_result));
/* Frees what a successful load allocated and wipes every key; leaves *cfg zeroed. */
void cfg_daemon_free(struct cfg_daemon *cfg);
/* The peer called name, or NULL. */
const struct cfg_peer *cfg_daemon_find_peer(const struct cfg_daemon *cfg, const char *name);
/* True when reloading from a to b needs no new tunnel: same name, key, PSK,
 * allowed_ips (same order) and endpoint. The line number is ignored. */
bool cfg_peer_equal(const struct cfg_peer *a, const struct cfg_peer *b);
