/* Relay frames (rendezvous/proto.h section 3): forwarded from a registered
 * peer's authenticated channel to another registered peer's channel, never
 * to an address taken from the frame. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rendezvous/core.h"

/* Handles a WIRE_RELAY frame received on ch: checks source, destination,
 * inner datagram, destination address and the sender's byte rate, rewrites
 * the relay id to the sender's and sends the frame on the destination's
 * channel; anything else is a counted drop. */
void rdv_relay_frame(struct rdv_core *c, const struct rdv_channel *ch, uint8_t *frame, size_t len,
		     uint64_t now_ms);
/* False for addresses the relay never sends to: unspecified, loopback
 * (unless allow_loopback), link-local, multicast, broadcast, reserved, and
 * the server's own addresses own[0..n_own); v4-mapped IPv6 forms included. */
bool rdv_relay_addr_allowed(const struct sockaddr_storage *ss, const struct sockaddr_storage *own,
			    size_t n_own, bool allow_loopback) __attribute__((warn_unused_result));
