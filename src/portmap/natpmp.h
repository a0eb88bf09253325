/* NAT-PMP (RFC 6886) messages: the external address request (section
 * 3.2) and the mapping request (3.3), and their responses. No sockets and
 * no clock. Everything is big-endian; only IPv4. A request goes to the
 * gateway's port 5351, as for PCP (the two share it, RFC 6887 section 9).
 *
 *   address request (2)     address response (12)     map request (12)
 *   0  version = 0          0    version = 0          0     version = 0
 *   1  opcode = 0           1    128 + 0              1     1 UDP, 2 TCP
 *                           2..3 result code          2..3  reserved
 *                           4..7 epoch (s)            4..5  internal port
 *                           8..11 external IPv4       6..7  suggested external port
 *                                                     8..11 requested lifetime (s)
 *   map response (16)
 *   0 version, 1 128 + op, 2..3 result, 4..7 epoch, 8..9 internal port,
 *   10..11 mapped external port, 12..15 lifetime (s)
 * An error answer may stop after the epoch (8 octets, section 3.5). A
 * request with lifetime 0 and suggested port 0 deletes (section 3.4). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

enum {
	NATPMP_VERSION = 0,
	NATPMP_SERVER_PORT = 5351,
	NATPMP_ADDR_REQUEST_LEN = 2,
	NATPMP_ADDR_RESPONSE_LEN = 12,
	NATPMP_MAP_REQUEST_LEN = 12,
	NATPMP_MAP_RESPONSE_LEN = 16,
	NATPMP_ERROR_LEN = 8, /* header and epoch */
	NATPMP_RESPONSE_BIT = 0x80,
};

enum natpmp_opcode {
	NATPMP_OP_ADDR = 0,
	NATPMP_OP_MAP_UDP = 1,
	NATPMP_OP_MAP_TCP = 2,
};

/* Section 3.5. */
enum natpmp_result {
	NATPMP_SUCCESS = 0,
	NATPMP_UNSUPP_VERSION = 1,
	NATPMP_NOT_AUTHORIZED = 2, /* "Not Authorized/Refused" */
	NATPMP_NETWORK_FAILURE = 3,
	NATPMP_NO_RESOURCES = 4,
	NATPMP_UNSUPP_OPCODE = 5,
};

enum natpmp_drop {
	NATPMP_DROP_NONE = 0,
	NATPMP_DROP_SHORT,	  /* under the opcode's length (8 for an error) */
	NATPMP_DROP_LONG,	  /* over it */
	NATPMP_DROP_VERSION,	  /* not version 0 */
	NATPMP_DROP_NOT_RESPONSE, /* opcode under 128: a request */
	NATPMP_DROP_OPCODE,	  /* not the answer to the opcode asked */
	NATPMP_DROP_PORT,	  /* map: another internal port than ours */
	NATPMP_DROP_ADDRESS,	  /* success without a usable address or port */
};

struct natpmp_map_request {
	uint8_t opcode;		 /* NATPMP_OP_MAP_UDP or _TCP */
	uint16_t internal_port;	 /* host order */
	uint16_t suggested_port; /* 0: no preference (and for a delete) */
	uint32_t lifetime_s;	 /* 0: delete */
};

struct natpmp_response {
	uint8_t opcode;		 /* the request's (without the 128) */
	uint16_t result;	 /* enum natpmp_result */
	uint32_t epoch_s;	 /* seconds since the gateway's port-mapping table started */
	struct in_addr external; /* address response (success) */
	uint16_t internal_port;	 /* map response */
	uint16_t external_port;	 /* map response: the port the gateway gave */
	uint32_t lifetime_s;	 /* map response */
};

/* Writes the address request; returns NATPMP_ADDR_REQUEST_LEN. */
size_t natpmp_addr_encode(uint8_t out[NATPMP_ADDR_REQUEST_LEN]);

/* Writes the mapping request r; returns NATPMP_MAP_REQUEST_LEN, or 0 for an
 * opcode that is no mapping. */
size_t natpmp_map_encode(const struct natpmp_map_request *r, uint8_t out[NATPMP_MAP_REQUEST_LEN]);

/* Decodes the answer to the address request: exactly 12 octets (8 for an
 * error), version 0, opcode 128, a non-zero, non-multicast address on
 * success. On false *why names the fault and out is untouched. */
bool natpmp_addr_decode(const uint8_t *buf, size_t len, struct natpmp_response *out,
			enum natpmp_drop *why) __attribute__((warn_unused_result));

/* Decodes the answer to the mapping request r: exactly 16 octets (8 for an
 * error), version 0, opcode 128 + r's, r's internal port, and on success
 * with a lifetime a non-zero external port. */
bool natpmp_map_decode(const uint8_t *buf, size_t len, const struct natpmp_map_request *r,
		       struct natpmp_response *out, enum natpmp_drop *why)
    __attribute__((warn_unused_result));

/* "SUCCESS", "NOT_AUTHORIZED", ... (RFC 6886 section 3.5's meanings);
 * "unknown" past them. */
const char *natpmp_result_name(uint16_t result);

const char *natpmp_drop_name(enum natpmp_drop why);
