/* Signalling between p2pvpnd and p2pvpn-rendezvous, and the framing both
 * use on TCP. (STUN, the third protocol on the rendezvous's port, is in
 * stun/stun.h; path probes between peers are in punch/probe.h.)
 *
 * 1. Authentication. A peer makes the ordinary handshake (crypto/handshake.h,
 *    Noise IKpsk2, zero PSK) with the rendezvous's static key
 *    (`rendezvous_key`), always as initiator; the rendezvous only answers,
 *    and only keys listed in its config unless `open = yes`. The session
 *    that results carries the messages below as the inner payload of
 *    WIRE_DATA packets (session/wire.h), where a peer session carries IP
 *    packets. So everything the rendezvous learns about a peer (its
 *    reflexive address, its candidates) arrived authenticated, and a forged
 *    registration cannot redirect anyone's traffic. Session keepalives
 *    (every `keepalive` seconds) hold the NAT mapping to the rendezvous open.
 *    The peer's channel to the rendezvous is UDP, or TCP when UDP gets no
 *    answer: whichever transport the last authenticated packet came over.
 *
 * 2. Messages (inner payload of a data packet; little-endian like wire.h):
 *
 *    REGISTER (peer -> rendezvous), 8 + 20 * n_host bytes:
 *      | type=1 | n_host | nat_mapping | 0 | port_step (i16) | 0 0 |
 *      | host candidates: n_host x struct rdv_addr |
 *      n_host <= RDV_MAX_HOST (8; more is malformed). The rendezvous keeps
 *      only the candidates that pass util/addr.h's rules (no loopback,
 *      multicast, link-local, unspecified, broadcast, reserved, v4-mapped
 *      or v4-compatible form, port 0, nor one of its own addresses), so at
 *      most 8, and adds the reflexive address it sees (the session's UDP
 *      source, or the TCP connection's peer).
 *      tcp_port is a candidate's TCP port for simultaneous open.
 *
 *    REGISTERED (rendezvous -> peer), 28 bytes:
 *      | type=2 | 0 0 0 | relay_id (u32) | reflexive: struct rdv_addr |
 *
 *    CONNECT (peer -> rendezvous), 36 bytes: "introduce me to this key"
 *      | type=3 | 0 0 0 | public key (32) |
 *
 *    INTRODUCE (rendezvous -> both peers), 84 + 20 * n_host bytes:
 *      | type=4 | n_host | nat_mapping | 0 | port_step (i16) | start_in_ms (u16) |
 *      | public key of the other peer (32) | relay_id of the other (u32) |
 *      | udp reflexive: rdv_addr | tcp reflexive: rdv_addr (family 0: none) |
 *      | host candidates: n_host x rdv_addr |
 *      Both peers get it at the same moment; each starts punching after
 *      start_in_ms, so both NATs open their mappings together. A peer
 *      applies the same util/addr.h rules to both reflexive addresses and
 *      the host candidates (its own addresses: the rendezvous's and its
 *      tunnel's) and skips what fails them.
 *
 *    UNKNOWN_PEER (rendezvous -> peer), 36 bytes:
 *      | type=5 | 0 0 0 | public key (32) |
 *
 * 3. Relay (WIRE_RELAY datagrams, outside the session), 8 + n bytes:
 *      | type=7 | 0 0 0 | relay_id (u32) | a whole p2pvpn datagram (n) |
 *    Peer -> rendezvous: relay_id names the destination; the rendezvous
 *    forwards only from an address (or TCP connection) that carries a live
 *    authenticated session of an admitted peer, to a registered peer, within
 *    a per-peer byte rate, rewriting relay_id to the source's. Like TURN's
 *    ChannelData, the frame itself has no MAC: what it carries is already
 *    end-to-end authenticated between the peers, and the 5-tuple binding
 *    stops strangers from using the relay. 8 bytes of overhead keep a
 *    relayed 1420-byte tunnel packet inside a 1500-byte path.
 *
 *    A message arrives as the decrypted inner payload of a data packet, so
 *    it may carry zero padding up to a multiple of 16; decoders accept the
 *    exact length or that padded length, nothing else.
 *
 * 4. TCP framing (to the rendezvous, and between peers after simultaneous
 *    open): each datagram is preceded by its length, u16 big-endian,
 *    1..RDV_FRAME_MAX. On the rendezvous's TCP port a stream that starts
 *    with a STUN header (magic cookie at offset 4) is STUN over TCP
 *    (RFC 8489 section 6.2.2) instead: a peer learns its TCP reflexive
 *    address that way. In a frame, bytes 4..5 are the reserved zeros of
 *    the p2pvpn header, never the cookie, so the two cannot be confused. */
#pragma once
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum rdv_msg_type {
	RDV_REGISTER = 1,
	RDV_REGISTERED = 2,
	RDV_CONNECT = 3,
	RDV_INTRODUCE = 4,
	RDV_UNKNOWN_PEER = 5,
};

enum rdv_nat_mapping {
	RDV_MAPPING_UNKNOWN = 0,
	RDV_MAPPING_INDEPENDENT = 1, /* same mapped port towards every destination */
	RDV_MAPPING_DEPENDENT = 2,   /* a new mapping per destination (symmetric) */
};

enum {
	RDV_MAX_HOST = 8,
	RDV_ADDR_LEN = 20,
	RDV_REGISTER_LEN = 8,	/* + 20 * n_host */
	RDV_REGISTERED_LEN = 28,
	RDV_CONNECT_LEN = 36,
	RDV_INTRODUCE_LEN = 84, /* + 20 * n_host */
	RDV_UNKNOWN_PEER_LEN = 36,
	RDV_RELAY_HEADER_LEN = 8,
	RDV_FRAME_MAX = 65535,
	RDV_TCP_LEN_PREFIX = 2,
	RDV_START_DELAY_MS = 200, /* start_in_ms the rendezvous sends */
};

/* An address on the wire: family 4 or 6 (0 = none), port big-endian,
 * IPv4 in the first 4 bytes of addr, the rest zero. */
struct rdv_addr {
	uint8_t family;
	uint8_t reserved;
	uint8_t port_be[2];
	uint8_t addr[16];
} __attribute__((packed));

static_assert(sizeof(struct rdv_addr) == RDV_ADDR_LEN, "rdv_addr is 20 bytes");

/* Decoded forms, filled and checked by proto.c. */
struct rdv_register {
	uint8_t nat_mapping;
	int16_t port_step;
	size_t n_host;
	struct sockaddr_storage host[RDV_MAX_HOST];
};

struct rdv_introduce {
	uint8_t nat_mapping;
	int16_t port_step;
	uint16_t start_in_ms;
	uint8_t public_key[32];
	uint32_t relay_id;
	struct sockaddr_storage udp_reflexive; /* ss_family 0: none */
	struct sockaddr_storage tcp_reflexive;
	size_t n_host;
	struct sockaddr_storage host[RDV_MAX_HOST];
};

/* Encoders write into out (cap bytes) and return the length, or 0 when it
 * does not fit. Decoders check every length and field and return false on
 * anything malformed; they never read past len. */
size_t rdv_encode_register(const struct rdv_register *m, uint8_t *out, size_t cap);
bool rdv_decode_register(const uint8_t *p, size_t len, struct rdv_register *m)
	__attribute__((warn_unused_result));
size_t rdv_encode_registered(uint32_t relay_id, const struct sockaddr_storage *reflexive,
			     uint8_t *out, size_t cap);
bool rdv_decode_registered(const uint8_t *p, size_t len, uint32_t *relay_id,
			   struct sockaddr_storage *reflexive) __attribute__((warn_unused_result));
size_t rdv_encode_connect(const uint8_t key[32], uint8_t *out, size_t cap);
bool rdv_decode_connect(const uint8_t *p, size_t len, uint8_t key[32])
	__attribute__((warn_unused_result));
size_t rdv_encode_introduce(const struct rdv_introduce *m, uint8_t *out, size_t cap);
bool rdv_decode_introduce(const uint8_t *p, size_t len, struct rdv_introduce *m)
	__attribute__((warn_unused_result));
size_t rdv_encode_unknown_peer(const uint8_t key[32], uint8_t *out, size_t cap);
bool rdv_decode_unknown_peer(const uint8_t *p, size_t len, uint8_t key[32])
	__attribute__((warn_unused_result));
/* The message type of a signalling payload, or 0 when too short. */
unsigned rdv_msg_type_of(const uint8_t *p, size_t len);
/* Writes the 8-byte relay header in front of a datagram: the caller leaves
 * RDV_RELAY_HEADER_LEN bytes of headroom before payload. */
void rdv_relay_header(uint8_t *hdr, uint32_t relay_id);
/* Parses a relay frame: true with the id and the inner datagram. */
bool rdv_relay_parse(const uint8_t *p, size_t len, uint32_t *relay_id, const uint8_t **inner,
		     size_t *inner_len) __attribute__((warn_unused_result));
/* rdv_addr <-> sockaddr (AF_INET/AF_INET6); false for a bad family. */
void rdv_addr_from_sockaddr(const struct sockaddr_storage *ss, struct rdv_addr *out);
bool rdv_addr_to_sockaddr(const struct rdv_addr *a, struct sockaddr_storage *ss)
	__attribute__((warn_unused_result));
