/* The meeting point's configuration (/etc/p2pvpn-rendezvous.conf, DESIGN.md
 * section 1), validated like the daemon's: every problem is collected as a
 * "FILE:LINE: key: ..." message and nothing is applied. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "config/errors.h"

/* One [peer "NAME"] section: a key admitted when open = no. */
struct cfg_rendezvous_peer {
	char name[64];
	uint8_t public_key[32];
	int line; /* line of the section header */
};

struct cfg_rendezvous {
	char path[4096];
	struct sockaddr_storage listen; /* default 0.0.0.0:3478; UDP and TCP */
	bool has_alternate;
	struct sockaddr_storage alternate; /* same family as listen, port = listen's */
	uint8_t private_key[32];
	uint8_t public_key[32]; /* derived from private_key */
	bool relay;		/* default yes */
	bool open;		/* default no: only the peers below may register */
	struct cfg_rendezvous_peer *peers;
	size_t n_peers;
};

/* Reads and validates the file at path. True: *out holds the config and must
 * be released with cfg_rendezvous_free. False: *out is untouched and errs has
 * at least one message appended. */
bool cfg_load_rendezvous(const char *path, struct cfg_rendezvous *out, struct cfg_errors *errs)
    __attribute__((warn_unused_result));
/* As cfg_load_rendezvous, reading an open stream; name is used in messages.
 * Every address in this file is numeric, so nothing is ever resolved. */
bool cfg_load_rendezvous_stream(FILE *in, const char *name, struct cfg_rendezvous *out,
				struct cfg_errors *errs) __attribute__((warn_unused_result));
/* As cfg_load_rendezvous_stream, from a NUL-terminated string. */
bool cfg_load_rendezvous_string(const char *name, const char *text, struct cfg_rendezvous *out,
				struct cfg_errors *errs) __attribute__((warn_unused_result));
/* Frees the peer list and wipes the private key; leaves *cfg zeroed. */
void cfg_rendezvous_free(struct cfg_rendezvous *cfg);
/* The admitted peer with this public key, or NULL. */
const struct cfg_rendezvous_peer *cfg_rendezvous_find_key(const struct cfg_rendezvous *cfg,
							  const uint8_t key[32]);
