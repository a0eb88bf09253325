/* Peer lifetime, lookup and staging, the handshake messages (peer.c). */
#pragma once
#include "daemon/daemon.h"

struct peer *peer_new(struct daemon *d, const struct cfg_peer *cfg);
void peer_free(struct daemon *d, struct peer *p);
int peer_add_routes(struct daemon *d, struct peer *p);
void peer_remove_routes(struct daemon *d, struct peer *p);
struct peer *peer_by_key(struct daemon *d, const uint8_t pub[32]);
void peer_send_initiation(struct daemon *d, struct peer *p, uint64_t now, bool retry);
void peer_send_keepalive(struct daemon *d, struct peer *p, uint64_t now);
/* Holds an inner packet until a session exists (STAGED_MAX per peer, the
 * oldest dropped first; drops counted in d->staged_dropped). */
void peer_stage(struct daemon *d, struct peer *p, const uint8_t *pkt, size_t len);
void peer_flush_staged(struct daemon *d, struct peer *p, uint64_t now);
void peer_run_timers(struct daemon *d, struct peer *p, uint64_t now);
const char *peer_state(const struct peer *p, uint64_t now);

/* The handshake messages a peer sends us: initiations and responses. */
void handle_initiation(struct daemon *d, struct rx_pkt *m, uint64_t now);
void handle_response(struct daemon *d, struct rx_pkt *m, uint64_t now);
