/* Naming, comparing and ranking paths, roaming, the relay header (path.c). */
#pragma once
#include "daemon/daemon.h"
#include "punch/engine.h"

/* Moves p to a path an authenticated packet came over (roaming) when the
 * path engine agrees (punch_on_path_authenticated: never to a worse kind). */
void peer_update_path(struct daemon *d, struct peer *p, const struct path *from);
/* A path or an address in words, returned by value: each call has its own
 * storage, which lives until the end of the full expression (C11 6.2.4p8),
 * so one log line may name two ("moved from %s to %s", path_str(a).s,
 * path_str(b).s). A static buffer would make both the same. */
struct addr_text {
	char s[CFG_ENDPOINT_STRLEN + 32];
};
struct addr_text path_str(const struct path *path);
const char *path_kind_str(enum path_kind kind);
/* Equal paths: same kind and the same address, stream or relay id. */
bool path_equal(const struct path *a, const struct path *b);
/* The path engine's name for a kind of path. */
enum punch_path_kind path_punch_kind(enum path_kind kind);
/* Puts the tagged relay header in front of *pkt (moving *pkt and *len) for
 * a PATH_RELAY path; returns the path to the rendezvous the frame goes
 * over, or NULL when there is no session with it to tag under. */
const struct path *relay_seal(struct daemon *d, const struct path *path, uint8_t **pkt,
			      size_t *len);
/* Formats an address for logs ("198.51.100.7:51820"); see struct addr_text. */
struct addr_text addr_str(const struct sockaddr_storage *ss);
