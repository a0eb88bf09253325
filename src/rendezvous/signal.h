/* The authenticated side of the rendezvous: handshakes (always as
 * responder) and the signalling messages carried in data packets
 * (rdvproto/proto.h section 2). Handlers of rdv_core's dispatch table. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "rendezvous/core.h"

/* A WIRE_HANDSHAKE_INIT on ch: admits the key (config, or open mode within
 * the caps), applies replay and flood rules, installs the responder keys
 * and answers on ch. The channel itself moves only with data (below). */
void rdv_signal_initiation(struct rdv_core *c, const struct rdv_channel *ch, uint8_t *pkt,
			   size_t len, uint64_t now_ms);
/* A WIRE_DATA on ch: decrypts in place, confirms the session, moves the
 * peer's channel to ch, and runs REGISTER or CONNECT (empty = keepalive). */
void rdv_signal_data(struct rdv_core *c, const struct rdv_channel *ch, uint8_t *pkt, size_t len,
		     uint64_t now_ms);
