/* PCP (RFC 6887) messages a port-mapping client needs: the MAP request
 * (section 11.1) and its response, and the ANNOUNCE request and response
 * (section 14.1): the request asks a server whether it speaks PCP without
 * mapping anything (natcheck), the response's epoch tells a restarted
 * gateway. No sockets and no clock: bytes in,
 * bytes out. Every field is big-endian; addresses are 128 bits, an IPv4
 * address as IPv4-mapped IPv6 (::ffff:a.b.c.d, section 5).
 *
 * Request header (24 octets), section 7.1      Response header (24), 7.2
 *   0      version = 2                           0      version = 2
 *   1      R = 0 | opcode (7 bits)               1      R = 1 | opcode
 *   2..3   reserved                              2      reserved
 *   4..7   requested lifetime (s)                3      result code
 *   8..23  PCP client's IP address               4..7   lifetime (s)
 *                                                8..11  epoch time (s)
 *                                                12..23 reserved
 * MAP opcode payload (36 octets), section 11.1 (request) and 11.2 (response)
 *   0..11  mapping nonce
 *   12     protocol (6 TCP, 17 UDP)
 *   13..15 reserved
 *   16..17 internal port
 *   18..19 suggested (request) / assigned (response) external port
 *   20..35 suggested / assigned external IP address
 * Options follow (section 7.3): code (1), reserved (1), length (2), data
 * padded to a multiple of 4. A message is at most 1100 octets and a
 * multiple of 4 (section 7). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
	PCP_VERSION = 2,
	PCP_SERVER_PORT = 5351, /* section 19.1: the server listens here */
	PCP_CLIENT_PORT = 5350, /* ANNOUNCEs go to 224.0.0.1 and ff02::1 on this port */
	PCP_HEADER_LEN = 24,
	PCP_MAP_PAYLOAD_LEN = 36,
	PCP_MAP_LEN = PCP_HEADER_LEN + PCP_MAP_PAYLOAD_LEN, /* 60 */
	PCP_MAX_LEN = 1100,
	PCP_NONCE_LEN = 12,
	PCP_R_BIT = 0x80,
	PCP_OPTION_HEADER_LEN = 4,
};

enum pcp_opcode {
	PCP_OP_ANNOUNCE = 0,
	PCP_OP_MAP = 1,
	PCP_OP_PEER = 2,
};

enum pcp_proto {
	PCP_PROTO_TCP = 6,
	PCP_PROTO_UDP = 17,
};

/* Section 7.4. */
enum pcp_result {
	PCP_SUCCESS = 0,
	PCP_UNSUPP_VERSION = 1,
	PCP_NOT_AUTHORIZED = 2,
	PCP_MALFORMED_REQUEST = 3,
	PCP_UNSUPP_OPCODE = 4,
	PCP_UNSUPP_OPTION = 5,
	PCP_MALFORMED_OPTION = 6,
	PCP_NETWORK_FAILURE = 7,
	PCP_NO_RESOURCES = 8,
	PCP_UNSUPP_PROTOCOL = 9,
	PCP_USER_EX_QUOTA = 10,
	PCP_CANNOT_PROVIDE_EXTERNAL = 11,
	PCP_ADDRESS_MISMATCH = 12,
	PCP_EXCESSIVE_REMOTE_PEERS = 13,
};

/* Why a response was refused: each has a name (pcp_drop_name). */
enum pcp_drop {
	PCP_DROP_NONE = 0,
	PCP_DROP_SHORT,	       /* under the header + payload the opcode needs */
	PCP_DROP_LONG,	       /* over PCP_MAX_LEN */
	PCP_DROP_UNALIGNED,    /* not a multiple of 4 octets */
	PCP_DROP_VERSION,      /* not version 2 */
	PCP_DROP_NOT_RESPONSE, /* R bit clear: a request (our own, looped back?) */
	PCP_DROP_OPCODE,       /* not the opcode asked for */
	PCP_DROP_NONCE,	       /* MAP: not our nonce (spoofed, or another client's) */
	PCP_DROP_PROTOCOL,     /* MAP: another protocol than ours */
	PCP_DROP_PORT,	       /* MAP: another internal port than ours */
	PCP_DROP_OPTION,       /* an option runs past the end of the message */
	PCP_DROP_ADDRESS,      /* MAP success: the assigned address is not unicast */
};

/* A MAP request: also what its response must match. */
struct pcp_map_request {
	uint32_t lifetime_s;		/* 0: delete the mapping (section 15) */
	struct sockaddr_storage client; /* our address as the server sees it (IPv4 or IPv6) */
	uint8_t nonce[PCP_NONCE_LEN];	/* random, the same for the mapping's whole life */
	uint8_t protocol;		/* enum pcp_proto */
	uint16_t internal_port;		/* host order */
	struct sockaddr_storage
	    suggested; /* external address and port wished for; AF_UNSPEC: none */
};

/* A decoded response (MAP or ANNOUNCE). */
struct pcp_response {
	uint8_t opcode;
	uint8_t result;			  /* enum pcp_result */
	uint32_t lifetime_s;		  /* of the mapping, or how long an error lasts */
	uint32_t epoch_s;		  /* the server's epoch time (section 8.5) */
	struct sockaddr_storage external; /* MAP: assigned address and port (v4 unmapped) */
};

/* Writes the MAP request r into out and returns its length (PCP_MAP_LEN);
 * 0 when r->client is neither IPv4 nor IPv6. */
size_t pcp_map_encode(const struct pcp_map_request *r, uint8_t out[PCP_MAP_LEN]);

/* Writes an ANNOUNCE request from client (our address as the server sees
 * it, IPv4 or IPv6) into out: the bare header with opcode 0 and lifetime 0
 * (section 14.1), nothing mapped or deleted. Returns PCP_HEADER_LEN, or 0
 * when client is neither IPv4 nor IPv6. */
size_t pcp_announce_encode(const struct sockaddr_storage *client, uint8_t out[PCP_HEADER_LEN]);

/* Decodes a MAP response to the request r: length, version, R bit, opcode,
 * nonce, protocol and internal port must all fit, options are walked with
 * bounds checks (and otherwise ignored). A decoded response may carry an
 * error result (out->result); a success must assign a unicast address.
 * On false, *why says what was wrong and out is untouched. */
bool pcp_map_decode(const uint8_t *buf, size_t len, const struct pcp_map_request *r,
		    struct pcp_response *out, enum pcp_drop *why)
    __attribute__((warn_unused_result));

/* Decodes an ANNOUNCE response (solicited or not, section 14.1): header
 * and options checked as above; out->epoch_s is the one field that counts. */
bool pcp_announce_decode(const uint8_t *buf, size_t len, struct pcp_response *out,
			 enum pcp_drop *why) __attribute__((warn_unused_result));

/* True when buf is an answer saying the server does not speak PCP version
 * 2: a PCP response header with UNSUPP_VERSION, or a NAT-PMP (version 0)
 * "unsupported version" answer (RFC 6886 section 3.5; RFC 6887 section 9). */
bool pcp_is_unsupp_version(const uint8_t *buf, size_t len);

/* "SUCCESS", "NOT_AUTHORIZED", ... as RFC 6887 spells them; "unknown" for
 * codes it does not define. */
const char *pcp_result_name(uint8_t result);

/* "short", "wrong nonce", ... */
const char *pcp_drop_name(enum pcp_drop why);
