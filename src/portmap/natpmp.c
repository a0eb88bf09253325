/* NAT-PMP codec (RFC 6886), our own rather than libnatpmp's: libnatpmp
 * finds the gateway itself (by reading the routing table) and owns its
 * socket, while the engine here has to share the daemon's loop, choose the
 * gateway and the retransmission times itself and try PCP on the same port
 * first; the messages are 2, 12 and 16 octets. Responses are checked
 * strictly: NAT-PMP has no nonce, so length, version, opcode and internal
 * port (and the source, checked by the engine) are all that tells an
 * answer to us from a stray or spoofed datagram. */
#include "portmap/natpmp.h"

#include <string.h>

#include "util/be.h"

size_t natpmp_addr_encode(uint8_t out[NATPMP_ADDR_REQUEST_LEN])
{
	out[0] = NATPMP_VERSION;
	out[1] = NATPMP_OP_ADDR;
	return NATPMP_ADDR_REQUEST_LEN;
}

size_t natpmp_map_encode(const struct natpmp_map_request *r, uint8_t out[NATPMP_MAP_REQUEST_LEN])
{
	if (r->opcode != NATPMP_OP_MAP_UDP && r->opcode != NATPMP_OP_MAP_TCP)
		return 0;
	memset(out, 0, NATPMP_MAP_REQUEST_LEN);
	out[0] = NATPMP_VERSION;
	out[1] = r->opcode;
	be16_put(out + 4, r->internal_port);
	be16_put(out + 6, r->suggested_port);
	be32_put(out + 8, r->lifetime_s);
	return NATPMP_MAP_REQUEST_LEN;
}

/* The common header: version, the answer bit and opcode, and a length of
 * full (or NATPMP_ERROR_LEN for an error result). */
static bool check_header(const uint8_t *buf, size_t len, uint8_t opcode, size_t full,
			 enum natpmp_drop *why)
{
	if (len < NATPMP_ERROR_LEN)
		return *why = NATPMP_DROP_SHORT, false;
	if (len > full)
		return *why = NATPMP_DROP_LONG, false;
	if (buf[0] != NATPMP_VERSION)
		return *why = NATPMP_DROP_VERSION, false;
	if (!(buf[1] & NATPMP_RESPONSE_BIT))
		return *why = NATPMP_DROP_NOT_RESPONSE, false;
	if ((buf[1] & ~NATPMP_RESPONSE_BIT) != opcode)
		return *why = NATPMP_DROP_OPCODE, false;
	/* Only an error may stop after the epoch. */
	if (len != full && (be16_get(buf + 2) == NATPMP_SUCCESS || len != NATPMP_ERROR_LEN))
		return *why = NATPMP_DROP_SHORT, false;
	return true;
}

static void read_header(const uint8_t *buf, struct natpmp_response *out)
{
	memset(out, 0, sizeof(*out));
	out->opcode = buf[1] & ~NATPMP_RESPONSE_BIT;
	out->result = be16_get(buf + 2);
	out->epoch_s = be32_get(buf + 4);
}

bool natpmp_addr_decode(const uint8_t *buf, size_t len, struct natpmp_response *out,
			enum natpmp_drop *why)
{
	struct natpmp_response resp;

	*why = NATPMP_DROP_NONE;
	if (!check_header(buf, len, NATPMP_OP_ADDR, NATPMP_ADDR_RESPONSE_LEN, why))
		return false;
	read_header(buf, &resp);
	if (len == NATPMP_ADDR_RESPONSE_LEN)
		memcpy(&resp.external, buf + 8, 4);
	if (resp.result == NATPMP_SUCCESS) {
		uint32_t ip = ntohl(resp.external.s_addr);

		/* A gateway without an external address must say
		 * NETWORK_FAILURE (3.2); zero or multicast is no answer. */
		if (ip == 0 || ip == 0xffffffffu || (ip >> 28) == 0xe)
			return *why = NATPMP_DROP_ADDRESS, false;
	}
	*out = resp;
	return true;
}

bool natpmp_map_decode(const uint8_t *buf, size_t len, const struct natpmp_map_request *r,
		       struct natpmp_response *out, enum natpmp_drop *why)
{
	struct natpmp_response resp;

	*why = NATPMP_DROP_NONE;
	if (!check_header(buf, len, r->opcode, NATPMP_MAP_RESPONSE_LEN, why))
		return false;
	read_header(buf, &resp);
	if (len == NATPMP_MAP_RESPONSE_LEN) {
		resp.internal_port = be16_get(buf + 8);
		resp.external_port = be16_get(buf + 10);
		resp.lifetime_s = be32_get(buf + 12);
		/* The answer to another mapping of ours, or not ours. */
		if (resp.internal_port != r->internal_port)
			return *why = NATPMP_DROP_PORT, false;
		if (resp.result == NATPMP_SUCCESS && resp.lifetime_s && !resp.external_port)
			return *why = NATPMP_DROP_ADDRESS, false;
	}
	*out = resp;
	return true;
}

const char *natpmp_result_name(uint16_t result)
{
	static const char *const names[] = {
	    [NATPMP_SUCCESS] = "SUCCESS",
	    [NATPMP_UNSUPP_VERSION] = "UNSUPP_VERSION",
	    [NATPMP_NOT_AUTHORIZED] = "NOT_AUTHORIZED",
	    [NATPMP_NETWORK_FAILURE] = "NETWORK_FAILURE",
	    [NATPMP_NO_RESOURCES] = "NO_RESOURCES",
	    [NATPMP_UNSUPP_OPCODE] = "UNSUPP_OPCODE",
	};

	return result < sizeof(names) / sizeof(names[0]) ? names[result] : "unknown";
}

const char *natpmp_drop_name(enum natpmp_drop why)
{
	switch (why) {
	case NATPMP_DROP_NONE:
		return "none";
	case NATPMP_DROP_SHORT:
		return "short";
	case NATPMP_DROP_LONG:
		return "long";
	case NATPMP_DROP_VERSION:
		return "not version 0";
	case NATPMP_DROP_NOT_RESPONSE:
		return "not a response";
	case NATPMP_DROP_OPCODE:
		return "wrong opcode";
	case NATPMP_DROP_PORT:
		return "wrong internal port";
	case NATPMP_DROP_ADDRESS:
		return "no usable external address or port";
	}
	return "unknown";
}
