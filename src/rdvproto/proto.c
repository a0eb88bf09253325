/* Encoders and decoders of the signalling messages and relay frames of
 * rdvproto/proto.h. Every field is read and written byte by byte (no
 * struct is laid over a buffer), every length is checked before a byte is
 * read, and every reserved byte must be zero, so that a decoder accepts
 * exactly one byte string per message.
 *
 * Signalling messages travel as the inner payload of a data packet, and
 * sess_decrypt() hands over the plaintext zero-padded to WIRE_PAD bytes
 * (session/keypair.h). A decoder therefore accepts the exact length and the
 * padded length, and nothing in between or beyond: the padding must be zero.
 *
 * INTRODUCE is laid out as the diagram of proto.h section 2 draws it: an
 * 8-byte head, the key (32), the relay id (4) and two addresses (40), which
 * is 84 bytes (RDV_INTRODUCE_LEN) before the host candidates. */
#include "rdvproto/proto.h"

#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>

#include "util/addr.h"
#include "util/be.h"
#include "wire/wire.h"

enum {
	/* INTRODUCE offsets (proto.h section 2). */
	INTRO_KEY = 8,
	INTRO_RELAY_ID = 40,
	INTRO_UDP = 44,
	INTRO_TCP = 64,
	INTRO_HOSTS = RDV_INTRODUCE_LEN,
	INTRODUCE_FIXED_LEN = INTRO_HOSTS,
	/* REGISTERED offsets. */
	REGISTERED_RELAY_ID = 4,
	REGISTERED_ADDR = 8,
	KEY_LEN = 32,
};

static_assert(REGISTERED_ADDR + RDV_ADDR_LEN == RDV_REGISTERED_LEN, "REGISTERED layout");
static_assert(4 + KEY_LEN == RDV_CONNECT_LEN, "CONNECT layout");
static_assert(4 + KEY_LEN == RDV_UNKNOWN_PEER_LEN, "UNKNOWN_PEER layout");
static_assert(INTRO_TCP + RDV_ADDR_LEN == INTRODUCE_FIXED_LEN, "INTRODUCE layout");

static bool all_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= p[i];
	return acc == 0;
}

/* The exact length, or the exact length padded to WIRE_PAD with zeros (what
 * sess_decrypt() returns); anything else is malformed. */
static bool length_ok(const uint8_t *p, size_t len, size_t exact)
{
	size_t padded = (exact + WIRE_PAD - 1) / WIRE_PAD * WIRE_PAD;

	if (len == exact)
		return true;
	return len == padded && all_zero(p + exact, len - exact);
}

/* Type byte and three zero bytes: the head of CONNECT, UNKNOWN_PEER and
 * REGISTERED. */
static bool head_ok(const uint8_t *p, size_t len, unsigned type)
{
	return len >= 4 && p[0] == type && all_zero(p + 1, 3);
}

bool rdv_addr_from_sockaddr(const struct sockaddr_storage *ss, struct rdv_addr *out)
{
	struct sockaddr_storage a = *ss;

	memset(out, 0, sizeof(*out));
	/* A dual-stack socket's ::ffff:a.b.c.d is an IPv4 peer. */
	addr_unmap_v4(&a);
	if (a.ss_family == AF_INET) {
		out->family = 4;
		memcpy(out->addr, &((const struct sockaddr_in *)&a)->sin_addr, 4);
	} else if (a.ss_family == AF_INET6) {
		out->family = 6;
		memcpy(out->addr, &((const struct sockaddr_in6 *)&a)->sin6_addr, 16);
	} else {
		return a.ss_family == AF_UNSPEC;
	}
	be16_put(out->port_be, addr_port(&a));
	return true;
}

bool rdv_addr_to_sockaddr(const struct rdv_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	/* An address with port 0 cannot be reached; an IPv4 address carries
	 * zeros after its 4 bytes so that each address has one encoding. */
	if (a->reserved || (a->port_be[0] == 0 && a->port_be[1] == 0))
		return false;
	if (a->family == 4) {
		struct sockaddr_in sin = {.sin_family = AF_INET};

		if (!all_zero(a->addr + 4, 12))
			return false;
		memcpy(&sin.sin_port, a->port_be, 2);
		memcpy(&sin.sin_addr, a->addr, 4);
		memcpy(ss, &sin, sizeof(sin));
		return true;
	}
	if (a->family == 6) {
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};

		memcpy(&sin6.sin6_port, a->port_be, 2);
		memcpy(&sin6.sin6_addr, a->addr, 16);
		memcpy(ss, &sin6, sizeof(sin6));
		/* ::ffff:a.b.c.d is an IPv4 address, which the encoder always
		 * writes as family 4: accepting it here too would give one
		 * address two encodings (and an IPv4 candidate that escapes
		 * rules keyed on the family). */
		if (addr_is_v4_mapped(ss)) {
			memset(ss, 0, sizeof(*ss));
			return false;
		}
		return true;
	}
	return false;
}

bool rdv_addr_to_sockaddr_opt(const struct rdv_addr *a, struct sockaddr_storage *ss)
{
	if (a->family == 0) {
		memset(ss, 0, sizeof(*ss));
		return all_zero((const uint8_t *)a, sizeof(*a));
	}
	return rdv_addr_to_sockaddr(a, ss);
}

/* Writes one address; false when ss is not AF_INET/AF_INET6. */
static bool put_addr(uint8_t *p, const struct sockaddr_storage *ss)
{
	struct rdv_addr a;

	rdv_addr_from_sockaddr(ss, &a);
	memcpy(p, &a, sizeof(a));
	return a.family != 0;
}

static bool get_addr(const uint8_t *p, struct sockaddr_storage *ss)
{
	struct rdv_addr a;

	memcpy(&a, p, sizeof(a));
	return rdv_addr_to_sockaddr(&a, ss);
}

/* An optional address: family 0 and all zero means none (ss_family 0). */
static bool get_opt_addr(const uint8_t *p, struct sockaddr_storage *ss)
{
	struct rdv_addr a;

	memcpy(&a, p, sizeof(a));
	return rdv_addr_to_sockaddr_opt(&a, ss);
}

static bool put_hosts(uint8_t *p, const struct sockaddr_storage *host, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!put_addr(p + i * RDV_ADDR_LEN, &host[i]))
			return false;
	return true;
}

static bool get_hosts(const uint8_t *p, struct sockaddr_storage *host, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!get_addr(p + i * RDV_ADDR_LEN, &host[i]))
			return false;
	return true;
}

size_t rdv_encode_register(const struct rdv_register *m, uint8_t *out, size_t cap)
{
	size_t len;

	if (m->n_host > RDV_MAX_HOST || m->nat_mapping > RDV_MAPPING_DEPENDENT)
		return 0;
	len = RDV_REGISTER_LEN + m->n_host * RDV_ADDR_LEN;
	if (cap < len)
		return 0;
	memset(out, 0, len);
	out[0] = RDV_REGISTER;
	out[1] = (uint8_t)m->n_host;
	out[2] = m->nat_mapping;
	le16_put(out + 4, (uint16_t)m->port_step);
	if (!put_hosts(out + RDV_REGISTER_LEN, m->host, m->n_host))
		return 0;
	return len;
}

bool rdv_decode_register(const uint8_t *p, size_t len, struct rdv_register *m)
{
	size_t n;

	memset(m, 0, sizeof(*m));
	if (len < RDV_REGISTER_LEN || p[0] != RDV_REGISTER || p[3] || p[6] || p[7])
		return false;
	n = p[1];
	if (n > RDV_MAX_HOST || p[2] > RDV_MAPPING_DEPENDENT ||
	    !length_ok(p, len, RDV_REGISTER_LEN + n * RDV_ADDR_LEN) ||
	    !get_hosts(p + RDV_REGISTER_LEN, m->host, n)) {
		memset(m, 0, sizeof(*m));
		return false;
	}
	m->nat_mapping = p[2];
	m->port_step = (int16_t)le16_get(p + 4);
	m->n_host = n;
	return true;
}

size_t rdv_encode_registered(uint32_t relay_id, const struct sockaddr_storage *reflexive,
			     uint8_t *out, size_t cap)
{
	if (cap < RDV_REGISTERED_LEN || relay_id == 0)
		return 0;
	memset(out, 0, RDV_REGISTERED_LEN);
	out[0] = RDV_REGISTERED;
	le32_put(out + REGISTERED_RELAY_ID, relay_id);
	if (!put_addr(out + REGISTERED_ADDR, reflexive))
		return 0;
	return RDV_REGISTERED_LEN;
}

bool rdv_decode_registered(const uint8_t *p, size_t len, uint32_t *relay_id,
			   struct sockaddr_storage *reflexive)
{
	*relay_id = 0;
	memset(reflexive, 0, sizeof(*reflexive));
	if (!head_ok(p, len, RDV_REGISTERED) || !length_ok(p, len, RDV_REGISTERED_LEN))
		return false;
	if (le32_get(p + REGISTERED_RELAY_ID) == 0 || !get_addr(p + REGISTERED_ADDR, reflexive))
		return false;
	*relay_id = le32_get(p + REGISTERED_RELAY_ID);
	return true;
}

static size_t encode_key_msg(unsigned type, const uint8_t key[32], uint8_t *out, size_t cap)
{
	if (cap < RDV_CONNECT_LEN)
		return 0;
	memset(out, 0, 4);
	out[0] = (uint8_t)type;
	memcpy(out + 4, key, KEY_LEN);
	return RDV_CONNECT_LEN;
}

static bool decode_key_msg(unsigned type, const uint8_t *p, size_t len, uint8_t key[32])
{
	memset(key, 0, KEY_LEN);
	if (!head_ok(p, len, type) || !length_ok(p, len, RDV_CONNECT_LEN))
		return false;
	memcpy(key, p + 4, KEY_LEN);
	return true;
}

size_t rdv_encode_connect(const uint8_t key[32], uint8_t *out, size_t cap)
{
	return encode_key_msg(RDV_CONNECT, key, out, cap);
}

bool rdv_decode_connect(const uint8_t *p, size_t len, uint8_t key[32])
{
	return decode_key_msg(RDV_CONNECT, p, len, key);
}

size_t rdv_encode_unknown_peer(const uint8_t key[32], uint8_t *out, size_t cap)
{
	return encode_key_msg(RDV_UNKNOWN_PEER, key, out, cap);
}

bool rdv_decode_unknown_peer(const uint8_t *p, size_t len, uint8_t key[32])
{
	return decode_key_msg(RDV_UNKNOWN_PEER, p, len, key);
}

size_t rdv_encode_introduce(const struct rdv_introduce *m, uint8_t *out, size_t cap)
{
	size_t len;

	if (m->n_host > RDV_MAX_HOST || m->nat_mapping > RDV_MAPPING_DEPENDENT || m->relay_id == 0)
		return 0;
	len = INTRODUCE_FIXED_LEN + m->n_host * RDV_ADDR_LEN;
	if (cap < len)
		return 0;
	memset(out, 0, len);
	out[0] = RDV_INTRODUCE;
	out[1] = (uint8_t)m->n_host;
	out[2] = m->nat_mapping;
	le16_put(out + 4, (uint16_t)m->port_step);
	le16_put(out + 6, m->start_in_ms);
	memcpy(out + INTRO_KEY, m->public_key, KEY_LEN);
	le32_put(out + INTRO_RELAY_ID, m->relay_id);
	/* Either reflexive address may be absent (family 0): a peer seen only
	 * over TCP has no UDP one, most have no TCP one. */
	if (m->udp_reflexive.ss_family && !put_addr(out + INTRO_UDP, &m->udp_reflexive))
		return 0;
	if (m->tcp_reflexive.ss_family && !put_addr(out + INTRO_TCP, &m->tcp_reflexive))
		return 0;
	if (!put_hosts(out + INTRO_HOSTS, m->host, m->n_host))
		return 0;
	return len;
}

bool rdv_decode_introduce(const uint8_t *p, size_t len, struct rdv_introduce *m)
{
	size_t n;

	memset(m, 0, sizeof(*m));
	if (len < INTRODUCE_FIXED_LEN || p[0] != RDV_INTRODUCE || p[3])
		return false;
	n = p[1];
	if (n > RDV_MAX_HOST || p[2] > RDV_MAPPING_DEPENDENT ||
	    !length_ok(p, len, INTRODUCE_FIXED_LEN + n * RDV_ADDR_LEN) ||
	    le32_get(p + INTRO_RELAY_ID) == 0 || !get_opt_addr(p + INTRO_UDP, &m->udp_reflexive) ||
	    !get_opt_addr(p + INTRO_TCP, &m->tcp_reflexive) ||
	    !get_hosts(p + INTRO_HOSTS, m->host, n)) {
		memset(m, 0, sizeof(*m));
		return false;
	}
	m->nat_mapping = p[2];
	m->port_step = (int16_t)le16_get(p + 4);
	m->start_in_ms = le16_get(p + 6);
	memcpy(m->public_key, p + INTRO_KEY, KEY_LEN);
	m->relay_id = le32_get(p + INTRO_RELAY_ID);
	m->n_host = n;
	return true;
}

unsigned rdv_msg_type_of(const uint8_t *p, size_t len)
{
	/* REGISTER with no host is the shortest message (8 bytes). */
	if (len < RDV_REGISTER_LEN || p[0] < RDV_REGISTER || p[0] > RDV_UNKNOWN_PEER)
		return 0;
	return p[0];
}

int rdv_relay_seal(uint8_t *frame, size_t len, uint32_t relay_id, struct sess_keypair *kp,
		   uint64_t now_ms)
{
	uint8_t tag[WIRE_TAG_LEN];
	uint64_t counter;
	int ret;

	if (len < RDV_RELAY_HEADER_LEN + WIRE_HEADER_LEN || relay_id == 0)
		return -EINVAL;
	/* The counter is only known once sess_tag() took it, and it is part
	 * of what the tag covers: peek at it (sess_tag takes exactly this
	 * one, or fails and takes none). */
	frame[0] = WIRE_RELAY;
	frame[1] = frame[2] = frame[3] = 0;
	le32_put(frame + 4, relay_id);
	le32_put(frame + 8, kp->remote_index);
	le64_put(frame + 12, kp->send_counter);
	memset(frame + RDV_RELAY_TAG_OFFSET, 0, WIRE_TAG_LEN);
	ret = sess_tag(kp, frame, len, now_ms, &counter, tag);
	if (ret < 0)
		return ret;
	memcpy(frame + RDV_RELAY_TAG_OFFSET, tag, WIRE_TAG_LEN);
	sodium_memzero(tag, sizeof(tag));
	return 0;
}

bool rdv_relay_parse(const uint8_t *p, size_t len, struct rdv_relay_hdr *h, const uint8_t **inner,
		     size_t *inner_len)
{
	memset(h, 0, sizeof(*h));
	*inner = NULL;
	*inner_len = 0;
	/* The inner datagram has at least a p2pvpn header; relay id 0 names
	 * nobody and receiver index 0 is never allocated. */
	if (len < RDV_RELAY_HEADER_LEN + WIRE_HEADER_LEN || wire_type_of(p, len) != WIRE_RELAY ||
	    le32_get(p + 4) == 0 || le32_get(p + 8) == 0)
		return false;
	h->relay_id = le32_get(p + 4);
	h->receiver_index = le32_get(p + 8);
	h->counter = le64_get(p + 12);
	*inner = p + RDV_RELAY_HEADER_LEN;
	*inner_len = len - RDV_RELAY_HEADER_LEN;
	return true;
}

int rdv_relay_verify(uint8_t *frame, size_t len, const struct rdv_relay_hdr *h,
		     struct sess_keypair *kp, uint64_t now_ms)
{
	uint8_t tag[WIRE_TAG_LEN];
	int ret;

	if (len < RDV_RELAY_HEADER_LEN)
		return -EINVAL;
	if (!kp->valid || h->receiver_index != kp->local_index)
		return -ENOKEY;
	/* The tag covers the frame with its own bytes zero. */
	memcpy(tag, frame + RDV_RELAY_TAG_OFFSET, WIRE_TAG_LEN);
	memset(frame + RDV_RELAY_TAG_OFFSET, 0, WIRE_TAG_LEN);
	ret = sess_tag_verify(kp, h->counter, frame, len, tag, now_ms);
	memcpy(frame + RDV_RELAY_TAG_OFFSET, tag, WIRE_TAG_LEN);
	return ret;
}
