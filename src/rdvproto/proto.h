/* Signalling between p2pvpnd and p2pvpn-rendezvous, and the framing both
 * use on TCP. (STUN, the third protocol on the rendezvous's port, is in
 * stun/stun.h; path probes between peers are in punch/probe.h.)
 *
 * 1. Authentication. A peer makes the ordinary handshake (crypto/handshake.h,
 *    Noise IKpsk2, zero PSK) with the rendezvous's static key
 *    (`rendezvous_key`), always as initiator; the rendezvous only answers,
 *    and only keys listed in its config unless `open = yes`. The session
 *    that results carries the messages below as the inner payload of
 *    WIRE_DATA packets (wire/wire.h), where a peer session carries IP
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
 *      start_in_ms, so both NATs open their mappings together (a probe
 *      that meets a NAT not yet opened goes again 200 ms later). A peer
 *      applies the same util/addr.h rules to both reflexive addresses and
 *      the host candidates (its own addresses: the rendezvous's and its
 *      tunnel's) and skips what fails them.
 *
 *    UNKNOWN_PEER (rendezvous -> peer), 36 bytes:
 *      | type=5 | 0 0 0 | public key (32) |
 *
 * 3. Relay (WIRE_RELAY datagrams, beside the session), 36 + n bytes:
 *      0      1       4           8              12             20         36
 *      | type=7 | 0 0 0 | relay_id | receiver idx | counter (u64) | tag (16) | datagram (n) |
 *    A frame travels one hop at a time, peer -> rendezvous or rendezvous ->
 *    peer, and each hop binds it to the session between the two ends of
 *    that hop (section 1): receiver idx and counter are those of a data
 *    packet on that session (the receiver's index for the sender's current
 *    keypair, the sender's next send counter), and tag is
 *    ChaCha20-Poly1305(the sender's sending key of that keypair, nonce =
 *    counter, plaintext empty, additional data = the whole frame with the
 *    tag bytes zero): session/keypair.h sess_tag(). The counter is the data
 *    packets' own, so nonces never repeat and the receiver's replay window
 *    refuses a frame seen before, as it does a data packet; a frame tagged
 *    under the previous keypair during a rekey still passes while that
 *    keypair lives, as data packets do.
 *    Peer -> rendezvous: relay_id names the destination. The rendezvous
 *    forwards only a frame whose tag verifies under a keypair of the
 *    registered peer whose channel (UDP address or TCP connection) the
 *    frame came on, to a registered peer, within that sender's byte rate
 *    (charged only after the tag verified), rewriting relay_id to the
 *    sender's and tagging the frame again on the destination's session.
 *    Rendezvous -> peer: relay_id names the sender; the peer accepts only
 *    frames whose tag verifies on its own session with the rendezvous. So
 *    relay ids, which travel in clear, are names and never credentials: a
 *    spoofed source address with a known id can neither spend a peer's
 *    relay budget nor inject a frame, and a replayed frame is refused.
 *    (TURN's ChannelData has no MAC and trusts the 5-tuple; here the
 *    rendezvous and every peer already share a session key, so the frame
 *    can carry proof.) 36 bytes of overhead: the data packet of a
 *    1420-byte tunnel packet (padded to 1424: 1456 bytes) is a 1492-byte
 *    frame, 1520 bytes in IPv4 and 1540 in IPv6, so over a 1500-byte path
 *    the kernel fragments it; an MTU of 1392 keeps relayed packets whole
 *    over IPv4, 1376 over IPv6 as well.
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

#include "session/keypair.h"

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
	RDV_RELAY_HEADER_LEN = 36,
	RDV_RELAY_TAG_OFFSET = 20,
	RDV_FRAME_MAX = 65535,
	RDV_TCP_LEN_PREFIX = 2,
	RDV_START_DELAY_MS = 20, /* start_in_ms the rendezvous sends */
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
/* A relay frame's header fields (section 3). */
struct rdv_relay_hdr {
	uint32_t relay_id;
	uint32_t receiver_index;
	uint64_t counter;
};

/* Turns frame[0..len), whose datagram starts at frame + RDV_RELAY_HEADER_LEN
 * (the caller leaves that much headroom), into a relay frame for relay_id
 * bound to kp: header written, counter taken from kp, tag computed. 0, or
 * -EINVAL for a frame without a datagram and the errors of sess_tag()
 * (-ENOKEY, -EPERM, -EKEYEXPIRED), then the frame must not be sent. */
int rdv_relay_seal(uint8_t *frame, size_t len, uint32_t relay_id, struct sess_keypair *kp,
		   uint64_t now_ms) __attribute__((warn_unused_result));
/* Parses a relay frame: true with its header fields and the datagram (at
 * least a p2pvpn header); nothing is authenticated yet. */
bool rdv_relay_parse(const uint8_t *p, size_t len, struct rdv_relay_hdr *h, const uint8_t **inner,
		     size_t *inner_len) __attribute__((warn_unused_result));
/* Verifies a parsed frame's tag with kp (the keypair h->receiver_index
 * names) and records its counter in kp's replay window; the frame is left
 * as it was. 0, -ENOKEY (kp is not the keypair the index names), or the
 * errors of sess_tag_verify(). */
int rdv_relay_verify(uint8_t *frame, size_t len, const struct rdv_relay_hdr *h,
		     struct sess_keypair *kp, uint64_t now_ms) __attribute__((warn_unused_result));
/* rdv_addr <-> sockaddr, the one conversion of every message that carries
 * an address (signalling here, path probes in punch/probe.h).
 * from: AF_INET and AF_INET6 (a v4-mapped address as family 4: an IPv4
 * address has one encoding), AF_UNSPEC as "none" (all zero); true for
 * those, false (out all zero, as "none") for any other family.
 * to: a present address, strictly: family 4 or 6, reserved byte zero, port
 * not 0, the unused bytes of an IPv4 address zero, no v4-mapped family 6;
 * false (ss all zero) otherwise.
 * to_opt: as to, but "none" (all 20 bytes zero) is also true (ss all zero,
 * AF_UNSPEC), for fields that may be absent. */
bool rdv_addr_from_sockaddr(const struct sockaddr_storage *ss, struct rdv_addr *out);
bool rdv_addr_to_sockaddr(const struct rdv_addr *a, struct sockaddr_storage *ss)
	__attribute__((warn_unused_result));
bool rdv_addr_to_sockaddr_opt(const struct rdv_addr *a, struct sockaddr_storage *ss)
	__attribute__((warn_unused_result));
