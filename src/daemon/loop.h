/* Routing loops: our own datagrams routed into the tunnel (loop.c). */
#pragma once
#include "daemon/daemon.h"

/* True (and counted, and warned about) when inner, read from the TUN and
 * routed to p (NULL: to no peer), is one of our own datagrams to a peer's
 * endpoint that a route sent into the tunnel: it must not be sent again. */
bool loop_drop(struct daemon *d, struct peer *p, const uint8_t *inner, size_t len, uint64_t now);
