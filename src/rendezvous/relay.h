/* Relay frames (rdvproto/proto.h section 3): forwarded from a registered
 * peer, when the frame's tag verifies on that peer's session and it came on
 * that peer's channel, to another registered peer's channel (tagged again
 * on the destination's session), never to an address taken from the frame. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rendezvous/core.h"

/* Handles a WIRE_RELAY frame received on ch: checks source channel, the
 * frame's tag and counter on the source's session, inner datagram,
 * destination, its address and the sender's byte rate (charged only after
 * the tag verified), rewrites the relay id to the sender's, tags the frame
 * on the destination's session and sends it on the destination's channel;
 * anything else is a counted drop. */
void rdv_relay_frame(struct rdv_core *c, const struct rdv_channel *ch, uint8_t *frame, size_t len,
		     uint64_t now_ms);
/* False for addresses the relay never sends to: unspecified, loopback
 * (unless allow_loopback), link-local, multicast, broadcast, reserved, and
 * the server's own addresses own[0..n_own); v4-mapped IPv6 forms included. */
bool rdv_relay_addr_allowed(const struct sockaddr_storage *ss, const struct sockaddr_storage *own,
			    size_t n_own, bool allow_loopback) __attribute__((warn_unused_result));
