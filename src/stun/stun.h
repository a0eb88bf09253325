/* STUN wire format: RFC 8489 (which obsoletes RFC 5389), the classic RFC 3489
 * messages without a magic cookie, and the RFC 5780 NAT behaviour discovery
 * attributes. This header is the whole codec: a parser that turns a datagram
 * into a view (no copy, no allocation) and a builder that writes into a
 * caller's buffer. Nothing here touches a socket.
 *
 * Message header (RFC 8489 section 5), all fields big-endian:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |0 0|     STUN Message Type     |         Message Length        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                Magic Cookie (0x2112A442)                      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                  Transaction ID (96 bits)                     |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 *   Message Type: M11..M7 C1 M6..M4 C0 M3..M0 (method bits interleaved with
 *   the two class bits). Message Length: bytes after the header, a multiple
 *   of 4. RFC 3489 has no cookie: bytes 4..19 are a 128-bit transaction ID.
 *   This codec keeps bytes 4..19 together as the message "id", so comparing
 *   16 bytes matches a transaction of either kind.
 *
 * Attribute (RFC 8489 section 14): type (16), length (16, of the value
 * without padding), value, padding to a multiple of 4 (any content: RFC 5769
 * pads with 0x20). Types below 0x8000 are comprehension-required.
 *
 * Address value (MAPPED-ADDRESS section 14.1, and every RFC 3489/5780
 * address attribute):
 *
 *   | 0 0 0 0 0 0 0 0 | family (1 v4, 2 v6) |   port (16)   |
 *   |             address (32 bits or 128 bits)             |
 *
 * XOR-MAPPED-ADDRESS (section 14.2): port XOR the top 16 bits of the cookie,
 * IPv4 address XOR the cookie, IPv6 address XOR cookie || transaction ID.
 *
 * ERROR-CODE (section 14.8): 21 zero bits, class (3 bits, 3..6), number (8
 * bits, 0..99), then a UTF-8 reason phrase of fewer than 763 bytes.
 * CHANGE-REQUEST (RFC 5780 section 7.2): 32 bits, A = 0x4 change IP,
 * B = 0x2 change port. RESPONSE-PORT (RFC 5780 section 7.5): port, 16 bits
 * of padding. FINGERPRINT (section 14.7): CRC-32 of the message up to it,
 * XOR 0x5354554e, and always the last attribute.
 */
#pragma once
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
	STUN_HEADER_LEN = 20,
	STUN_ATTR_HEADER_LEN = 4,
	/* Bytes 4..19 of the header: cookie and transaction ID, or the RFC 3489 ID. */
	STUN_ID_LEN = 16,
	STUN_TXID_LEN = 12,
	/* Attributes kept per message; more is a parse error, so a datagram of
	 * 10,000 empty attributes costs a bounded loop and no memory. */
	STUN_MAX_ATTRS = 64,
	STUN_MAX_MSG_LEN = STUN_HEADER_LEN + 0xFFFF,
	STUN_INTEGRITY_LEN = 20,
	STUN_FINGERPRINT_LEN = 4,
	/* RFC 8489 section 14: limits in bytes ("fewer than"). RFC 5389 allows
	 * USERNAME up to 512 bytes, RFC 8489 up to 508; accept the older limit. */
	STUN_USERNAME_MAX = 512,
	STUN_TEXT_MAX = 762, /* REALM, NONCE, SOFTWARE, ERROR-CODE reason */
};

/* The magic cookie, RFC 8489 section 5 (wire/wire.h has the same value for
 * its demultiplexer). */
#define STUN_COOKIE 0x2112A442u
/* FINGERPRINT = CRC-32 XOR this (RFC 8489 section 14.7, "STUN" in ASCII). */
#define STUN_FINGERPRINT_XOR 0x5354554eu

enum stun_class {
	STUN_CLASS_REQUEST = 0,
	STUN_CLASS_INDICATION = 1,
	STUN_CLASS_SUCCESS = 2,
	STUN_CLASS_ERROR = 3,
};

enum stun_method {
	STUN_METHOD_BINDING = 0x001,
};

/* Attribute types: RFC 8489 section 18.3, RFC 3489 section 11.2, RFC 5780
 * section 9.1, and the two ICE attributes of the RFC 5769 samples. */
enum stun_attr_type {
	STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	STUN_ATTR_RESPONSE_ADDRESS = 0x0002, /* RFC 3489 */
	STUN_ATTR_CHANGE_REQUEST = 0x0003,   /* RFC 3489, RFC 5780 */
	STUN_ATTR_SOURCE_ADDRESS = 0x0004,   /* RFC 3489 */
	STUN_ATTR_CHANGED_ADDRESS = 0x0005,  /* RFC 3489 */
	STUN_ATTR_USERNAME = 0x0006,
	STUN_ATTR_PASSWORD = 0x0007, /* RFC 3489 */
	STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
	STUN_ATTR_ERROR_CODE = 0x0009,
	STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
	STUN_ATTR_REFLECTED_FROM = 0x000B, /* RFC 3489 */
	STUN_ATTR_REALM = 0x0014,
	STUN_ATTR_NONCE = 0x0015,
	STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
	STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	STUN_ATTR_PRIORITY = 0x0024,	  /* RFC 8445 */
	STUN_ATTR_USE_CANDIDATE = 0x0025, /* RFC 8445 */
	STUN_ATTR_PADDING = 0x0026,	  /* RFC 5780 */
	STUN_ATTR_RESPONSE_PORT = 0x0027, /* RFC 5780 */
	STUN_ATTR_SOFTWARE = 0x8022,
	STUN_ATTR_ALTERNATE_SERVER = 0x8023,
	STUN_ATTR_FINGERPRINT = 0x8028,
	STUN_ATTR_ICE_CONTROLLED = 0x8029,  /* RFC 8445 */
	STUN_ATTR_ICE_CONTROLLING = 0x802A, /* RFC 8445 */
	STUN_ATTR_RESPONSE_ORIGIN = 0x802B, /* RFC 5780 */
	STUN_ATTR_OTHER_ADDRESS = 0x802C,   /* RFC 5780 */
};

/* First attribute type that a receiver may ignore when it does not know it. */
#define STUN_ATTR_OPTIONAL_MIN 0x8000u

enum stun_family {
	STUN_FAMILY_IPV4 = 1,
	STUN_FAMILY_IPV6 = 2,
};

/* CHANGE-REQUEST flags (RFC 5780 section 7.2, RFC 3489 section 11.2.4). */
enum stun_change {
	STUN_CHANGE_PORT = 0x2,
	STUN_CHANGE_IP = 0x4,
};

/* Error codes used by a Binding server (RFC 8489 section 14.8). */
enum stun_error {
	STUN_ERROR_TRY_ALTERNATE = 300,
	STUN_ERROR_BAD_REQUEST = 400,
	STUN_ERROR_UNAUTHORIZED = 401,
	STUN_ERROR_UNKNOWN_ATTRIBUTE = 420,
	STUN_ERROR_SERVER_ERROR = 500,
};

/* Why a datagram was not accepted as STUN: one name and counter each. */
enum stun_parse_error {
	STUN_PARSE_OK = 0,
	STUN_PARSE_TRUNCATED,	    /* shorter than the 20-byte header */
	STUN_PARSE_NOT_STUN,	    /* top two bits of the type are not zero */
	STUN_PARSE_LENGTH_ALIGN,    /* message length not a multiple of 4 */
	STUN_PARSE_LENGTH_MISMATCH, /* message length != datagram length - 20 */
	STUN_PARSE_ATTR_OVERRUN,    /* an attribute or its padding runs past the end */
	STUN_PARSE_TOO_MANY_ATTRS,  /* more than STUN_MAX_ATTRS attributes */
	STUN_PARSE_ATTR_LENGTH,	    /* a known attribute with a length its RFC forbids */
	STUN_PARSE_ADDR_FAMILY,	    /* address family not 1 or 2 */
	STUN_PARSE_ERROR_CODE,	    /* ERROR-CODE class outside 3..6 or number > 99 */
	STUN_PARSE_BAD_VALUE,	    /* another value rule (RESPONSE-PORT 0, odd list) */
	STUN_PARSE_FINGERPRINT_NOT_LAST,
	STUN_PARSE_FINGERPRINT_MISMATCH,
	STUN_PARSE_ERROR_MAX,
};

/* Message header, as on the wire (big-endian fields). */
struct stun_header {
	uint16_t type_be;
	uint16_t length_be;
	uint32_t cookie_be;
	uint8_t txid[STUN_TXID_LEN];
} __attribute__((packed));

struct stun_attr_header {
	uint16_t type_be;
	uint16_t length_be;
} __attribute__((packed));

/* Address attribute value, IPv4 (8 bytes) and IPv6 (20 bytes). */
struct stun_addr4 {
	uint8_t reserved;
	uint8_t family;
	uint16_t port_be;
	uint8_t addr[4];
} __attribute__((packed));

struct stun_addr6 {
	uint8_t reserved;
	uint8_t family;
	uint16_t port_be;
	uint8_t addr[16];
} __attribute__((packed));

/* ERROR-CODE value before the reason phrase. */
struct stun_error_code {
	uint16_t reserved_be;
	uint8_t err_class; /* low 3 bits */
	uint8_t number;
} __attribute__((packed));

/* RESPONSE-PORT value. */
struct stun_response_port {
	uint16_t port_be;
	uint16_t reserved;
} __attribute__((packed));

static_assert(sizeof(struct stun_header) == STUN_HEADER_LEN, "STUN header is 20 bytes");
static_assert(sizeof(struct stun_attr_header) == STUN_ATTR_HEADER_LEN, "attr header is 4 bytes");
static_assert(sizeof(struct stun_addr4) == 8, "IPv4 address value is 8 bytes");
static_assert(sizeof(struct stun_addr6) == 20, "IPv6 address value is 20 bytes");
static_assert(sizeof(struct stun_error_code) == 4, "ERROR-CODE head is 4 bytes");
static_assert(sizeof(struct stun_response_port) == 4, "RESPONSE-PORT is 4 bytes");

/* One attribute of a parsed message: its value is buf[offset, offset + len). */
struct stun_attr {
	uint16_t type;
	uint16_t len;
	uint32_t offset;
};

/* A parsed message: a view into the caller's buffer, valid while it lives. */
struct stun_msg {
	const uint8_t *buf;
	size_t len;
	uint16_t type;
	uint16_t method;
	enum stun_class cls;
	bool rfc3489; /* no magic cookie: a classic RFC 3489 message */
	uint8_t id[STUN_ID_LEN];
	/* Attributes in wire order, duplicates included (lookups return the
	 * first); those after MESSAGE-INTEGRITY are left out except
	 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT (RFC 8489 section 14.5). */
	size_t nattrs;
	struct stun_attr attrs[STUN_MAX_ATTRS];
	/* Comprehension-required types the codec does not know, once each, for
	 * a 420 answer's UNKNOWN-ATTRIBUTES. */
	size_t nunknown;
	uint16_t unknown[STUN_MAX_ATTRS];
	bool has_fingerprint; /* present, last, and verified */
	enum stun_parse_error error;
};

/* Parses one datagram. On success msg is a view into buf; on failure
 * msg->error names the first rule broken. Never reads outside buf[0, len). */
bool stun_msg_parse(struct stun_msg *msg, const uint8_t *buf, size_t len)
    __attribute__((warn_unused_result));
/* The first attribute of this type, or NULL. */
const struct stun_attr *stun_msg_find(const struct stun_msg *msg, uint16_t type);
/* Decodes any address-format attribute of this type into AF_INET/AF_INET6;
 * XOR-MAPPED-ADDRESS is un-XORed with the message id. False when absent. */
bool stun_msg_get_address(const struct stun_msg *msg, uint16_t type, struct sockaddr_storage *out)
    __attribute__((warn_unused_result));
/* The reflexive address: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS. The XOR form
 * wins when both disagree, since ALGs rewrite the plain one (RFC 8489 14.2). */
bool stun_msg_get_mapped(const struct stun_msg *msg, struct sockaddr_storage *out)
    __attribute__((warn_unused_result));
/* CHANGE-REQUEST flags, masked to STUN_CHANGE_IP | STUN_CHANGE_PORT. */
bool stun_msg_get_change_request(const struct stun_msg *msg, uint32_t *flags)
    __attribute__((warn_unused_result));
/* RESPONSE-PORT (never 0: the parser refuses that). */
bool stun_msg_get_response_port(const struct stun_msg *msg, uint16_t *port)
    __attribute__((warn_unused_result));
/* Length of the PADDING attribute's value (RFC 5780 section 7.6). */
bool stun_msg_get_padding(const struct stun_msg *msg, size_t *len)
    __attribute__((warn_unused_result));
/* A text attribute (USERNAME, SOFTWARE, REALM, NONCE): pointer into the
 * message and length, not NUL-terminated, within its RFC limit. */
bool stun_msg_get_text(const struct stun_msg *msg, uint16_t type, const uint8_t **text, size_t *len)
    __attribute__((warn_unused_result));
/* As stun_msg_get_text, copied NUL-terminated; false when absent or when it
 * does not fit in size bytes. */
bool stun_msg_copy_text(const struct stun_msg *msg, uint16_t type, char *out, size_t size)
    __attribute__((warn_unused_result));
/* ERROR-CODE as class * 100 + number (300..699) and its reason phrase. */
bool stun_msg_get_error(const struct stun_msg *msg, int *code, const uint8_t **reason,
			size_t *reason_len) __attribute__((warn_unused_result));
/* UNKNOWN-ATTRIBUTES: up to max types into types[], their count in *n. */
bool stun_msg_get_unknown_attributes(const struct stun_msg *msg, uint16_t *types, size_t max,
				     size_t *n) __attribute__((warn_unused_result));
/* MESSAGE-INTEGRITY: its 20-byte HMAC and the offset of the attribute in the
 * message, the end of the HMAC input (RFC 8489 section 14.5). Not verified. */
bool stun_msg_get_integrity(const struct stun_msg *msg, const uint8_t **hmac, size_t *offset)
    __attribute__((warn_unused_result));

/* CRC-32 (zlib) of buf[0, len) XOR 0x5354554e: the FINGERPRINT value. */
uint32_t stun_fingerprint(const uint8_t *buf, size_t len);
/* The 14-bit message type for a method and class (RFC 8489 section 5). */
uint16_t stun_type_encode(uint16_t method, enum stun_class cls);
/* A new RFC 8489 id: magic cookie then 12 random bytes. Needs sodium_init(). */
void stun_id_new(uint8_t id[STUN_ID_LEN]);

/* Builder: writes one message into a caller's buffer, which it zeroes first
 * so that no stale memory can leak into padding (CVE-2020-4067). Errors are
 * sticky: the first one is returned again by stun_builder_finish(). */
struct stun_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
	bool finished;
};

/* Starts a message of this method and class with the 16-byte id (cookie and
 * transaction ID, or an RFC 3489 request's id echoed). 0, or -ENOSPC. */
int stun_builder_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
		      enum stun_class cls, const uint8_t id[STUN_ID_LEN]);
/* Appends an attribute with a raw value and zero padding. 0, -ENOSPC, -EINVAL. */
int stun_builder_add(struct stun_builder *b, uint16_t type, const void *value, size_t len);
/* Appends an address attribute (MAPPED-ADDRESS, XOR-MAPPED-ADDRESS (XORed with
 * the id), OTHER-ADDRESS, CHANGED-ADDRESS, RESPONSE-ORIGIN, SOURCE-ADDRESS…).
 * -EAFNOSUPPORT for anything but AF_INET/AF_INET6. */
int stun_builder_add_address(struct stun_builder *b, uint16_t type,
			     const struct sockaddr_storage *addr);
/* Appends CHANGE-REQUEST; flags other than STUN_CHANGE_* give -EINVAL. */
int stun_builder_add_change_request(struct stun_builder *b, uint32_t flags);
/* Appends a text attribute (SOFTWARE, USERNAME, REALM, NONCE) within its RFC
 * limit, else -EMSGSIZE. */
int stun_builder_add_text(struct stun_builder *b, uint16_t type, const char *text);
/* Appends ERROR-CODE for code 300..699 with a reason phrase. */
int stun_builder_add_error_code(struct stun_builder *b, int code, const char *reason);
/* Appends UNKNOWN-ATTRIBUTES listing n types (a 420 answer). */
int stun_builder_add_unknown_attributes(struct stun_builder *b, const uint16_t *types, size_t n);
/* Ends the message, with FINGERPRINT when asked; *len is its size. Returns
 * the first error met while building, if any. */
int stun_builder_finish(struct stun_builder *b, bool fingerprint, size_t *len);

/* Names for logs and JSON: "binding", "success", "xor-mapped-address"… */
const char *stun_class_name(enum stun_class cls);
const char *stun_attr_name(uint16_t type);
const char *stun_parse_error_name(enum stun_parse_error err);
