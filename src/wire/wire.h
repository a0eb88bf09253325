/* p2pvpn wire format: every datagram on the daemon's UDP socket (and every
 * frame on a TCP path) starts with a 4-byte header whose first byte names the
 * message type and whose next three bytes are zero. STUN messages share the
 * socket: their second byte is never zero for the methods we use and they
 * carry the magic cookie at offset 4 (RFC 8489 section 5), so
 * wire_is_stun() tells them apart. All multi-byte fields are little-endian
 * unless noted; structs are read with memcpy, never cast onto the buffer.
 *
 *  Handshake initiation (149 bytes), Noise IKpsk2 message 1:
 *   0      1      4            8                40              88              117    133    149
 *   | type | 0 0 0 | sender idx | ephemeral (32) | static (32+16) | payload(13+16) | mac1 | mac2 |
 *   payload: tai64n (12), then the data ciphers the initiator offers besides
 *   ChaCha20-Poly1305 (1: a bit mask, 1 << WIRE_CIPHER_AES256GCM; unknown
 *   bits are ignored).
 *
 *  Handshake response (93 bytes), Noise IKpsk2 message 2:
 *   | type | 0 0 0 | sender idx | receiver idx | ephemeral (32) | cipher (1+16) | mac1 | mac2 |
 *   cipher: the data cipher the responder chose, enum wire_cipher; one the
 *   initiator did not offer fails the handshake.
 *
 *  Cookie reply (64 bytes), sent instead of DH work while under load:
 *   0      1      4              8           32                   64
 *   | type | 0 0 0 | receiver idx | nonce (24) | cookie (16) + tag |
 *   receiver idx is the sender index of the message that asked for it; the
 *   cookie is XChaCha20-Poly1305-sealed under BLAKE2b-256("cookie--" ||
 *   replier's static public) with the triggering message's mac1 as AD.
 *
 *  Data (16 + n + 16 bytes; n is the inner packet padded to a multiple of 16):
 *   | type | 0 0 0 | receiver idx | counter (u64) | AEAD(inner packet) + tag |
 *   AEAD: the data cipher the handshake agreed, ChaCha20-Poly1305-IETF or
 *   AES-256-GCM, both with the nonce 0x00000000 || counter (u64 LE).
 *
 * mac1 = BLAKE2b-128(key = BLAKE2b-256("mac1----" || receiver static public),
 * the message up to mac1). mac2 = BLAKE2b-128(key = the cookie the receiver
 * gave us in a cookie reply, the message up to mac2), zero while we hold no
 * fresh cookie; the receiver checks it only while under load (crypto/cookie.h). */
#pragma once
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wire_type {
	WIRE_HANDSHAKE_INIT = 1,
	WIRE_HANDSHAKE_RESP = 2,
	WIRE_COOKIE_REPLY = 3,
	WIRE_DATA = 4,
	WIRE_PROBE = 5,	 /* path probes (punch/) */
	WIRE_RENDEZVOUS = 6, /* peer <-> rendezvous signalling (rdvproto/proto.h) */
	WIRE_RELAY = 7,	 /* frames relayed by the rendezvous */
	WIRE_TYPE_MAX = 8,
};

enum {
	WIRE_HEADER_LEN = 4,
	WIRE_MAC_LEN = 16,
	WIRE_TAG_LEN = 16,
	WIRE_INIT_LEN = 149,
	WIRE_RESP_LEN = 93,
	WIRE_COOKIE_LEN = 16,
	WIRE_COOKIE_NONCE_LEN = 24,
	WIRE_COOKIE_REPLY_LEN = 64,
	WIRE_DATA_HEADER_LEN = 16,
	WIRE_DATA_MIN_LEN = WIRE_DATA_HEADER_LEN + WIRE_TAG_LEN,
	WIRE_PAD = 16,
	STUN_MAGIC_COOKIE = 0x2112A442,
};

/* Data ciphers (handshake payloads). ChaCha20-Poly1305 is always there:
 * the Noise handshake itself uses it. */
enum wire_cipher {
	WIRE_CIPHER_CHACHA20POLY1305 = 0,
	WIRE_CIPHER_AES256GCM = 1,
	WIRE_CIPHER_COUNT,
};

struct wire_init {
	uint8_t type;
	uint8_t reserved[3];
	uint32_t sender_index;
	uint8_t ephemeral[32];
	uint8_t enc_static[32 + 16];
	uint8_t enc_payload[12 + 1 + 16]; /* TAI64N, offered ciphers */
	uint8_t mac1[WIRE_MAC_LEN];
	uint8_t mac2[WIRE_MAC_LEN];
} __attribute__((packed));

struct wire_resp {
	uint8_t type;
	uint8_t reserved[3];
	uint32_t sender_index;
	uint32_t receiver_index;
	uint8_t ephemeral[32];
	uint8_t enc_cipher[1 + 16]; /* the chosen data cipher */
	uint8_t mac1[WIRE_MAC_LEN];
	uint8_t mac2[WIRE_MAC_LEN];
} __attribute__((packed));

struct wire_cookie_reply {
	uint8_t type;
	uint8_t reserved[3];
	uint32_t receiver_index;
	uint8_t nonce[WIRE_COOKIE_NONCE_LEN];
	uint8_t enc_cookie[WIRE_COOKIE_LEN + WIRE_TAG_LEN];
} __attribute__((packed));

struct wire_data_header {
	uint8_t type;
	uint8_t reserved[3];
	uint32_t receiver_index;
	uint64_t counter;
} __attribute__((packed));

static_assert(sizeof(struct wire_init) == WIRE_INIT_LEN, "initiation is 149 bytes");
static_assert(sizeof(struct wire_resp) == WIRE_RESP_LEN, "response is 93 bytes");
static_assert(sizeof(struct wire_cookie_reply) == WIRE_COOKIE_REPLY_LEN,
	      "cookie reply is 64 bytes");
static_assert(sizeof(struct wire_data_header) == WIRE_DATA_HEADER_LEN, "data header is 16 bytes");

/* True when the datagram looks like STUN (RFC 8489 section 5: top two bits
 * zero, length a multiple of 4 matching the datagram, magic cookie). */
static inline bool wire_is_stun(const uint8_t *p, size_t len)
{
	if (len < 20 || (p[0] & 0xC0) != 0)
		return false;
	if (p[4] != 0x21 || p[5] != 0x12 || p[6] != 0xA4 || p[7] != 0x42)
		return false;
	return (size_t)((p[2] << 8) | p[3]) + 20 == len;
}

/* The message type of a p2pvpn datagram, or 0 when the header is malformed
 * (reserved bytes not zero, unknown type, too short). */
static inline unsigned wire_type_of(const uint8_t *p, size_t len)
{
	if (len < WIRE_HEADER_LEN || p[1] || p[2] || p[3] || p[0] == 0 || p[0] >= WIRE_TYPE_MAX)
		return 0;
	return p[0];
}
