/* PCP codec (RFC 6887): encodes MAP and ANNOUNCE requests and decodes MAP
 * and ANNOUNCE responses. Decoding is strict because the answers come over UDP from
 * whoever can reach our port: a response counts only when every rule of
 * section 8.3 and 11.3 holds (length within 24..1100 and a multiple of 4,
 * version 2, R bit, the opcode we asked, for MAP our nonce, protocol and
 * internal port) and its options stay inside the message. What the fields
 * mean for the mapping's life is the engine's business (engine.c). */
#include "portmap/pcp.h"

#include <netinet/in.h>
#include <string.h>

#include "util/be.h"

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Writes a as the 128-bit form of section 5; AF_UNSPEC is the all-zero
 * address of the family of like (::ffff:0.0.0.0 for IPv4). */
static bool put_addr(uint8_t out[16], const struct sockaddr_storage *a, int like)
{
	int family = a->ss_family == AF_UNSPEC ? like : a->ss_family;

	memset(out, 0, 16);
	if (family == AF_INET) {
		memcpy(out, v4_prefix, sizeof(v4_prefix));
		if (a->ss_family == AF_INET)
			memcpy(out + 12, &((const struct sockaddr_in *)a)->sin_addr, 4);
		return true;
	}
	if (family == AF_INET6) {
		if (a->ss_family == AF_INET6)
			memcpy(out, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
		return true;
	}
	return false;
}

static void get_addr(struct sockaddr_storage *out, const uint8_t in[16], uint16_t port)
{
	memset(out, 0, sizeof(*out));
	if (memcmp(in, v4_prefix, sizeof(v4_prefix)) == 0) {
		struct sockaddr_in *s = (struct sockaddr_in *)out;

		s->sin_family = AF_INET;
		memcpy(&s->sin_addr, in + 12, 4);
		s->sin_port = htons(port);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)out;

		s->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, in, 16);
		s->sin6_port = htons(port);
	}
}

/* An assigned external address must be one a peer can send to: not
 * unspecified, multicast or broadcast, and with a port. */
static bool is_unicast(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)a;
		uint32_t ip = ntohl(s->sin_addr.s_addr);

		return ip != 0 && ip != 0xffffffffu && (ip >> 28) != 0xe && s->sin_port;
	}
	const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)a;

	return !IN6_IS_ADDR_UNSPECIFIED(&s->sin6_addr) && !IN6_IS_ADDR_MULTICAST(&s->sin6_addr) &&
	       s->sin6_port;
}

size_t pcp_map_encode(const struct pcp_map_request *r, uint8_t out[PCP_MAP_LEN])
{
	int family = r->client.ss_family;
	uint8_t *p = out + PCP_HEADER_LEN;

	if (family != AF_INET && family != AF_INET6)
		return 0;
	memset(out, 0, PCP_MAP_LEN);
	out[0] = PCP_VERSION;
	out[1] = PCP_OP_MAP; /* R = 0: a request */
	be32_put(out + 4, r->lifetime_s);
	put_addr(out + 8, &r->client, family);
	memcpy(p, r->nonce, PCP_NONCE_LEN);
	p[12] = r->protocol;
	be16_put(p + 16, r->internal_port);
	if (r->suggested.ss_family == AF_INET || r->suggested.ss_family == AF_INET6)
		be16_put(p + 18, ntohs(((const struct sockaddr_in *)&r->suggested)->sin_port));
	/* No preference is the all-zero address of the client's family (11.1);
	 * a suggestion of another family than AF_INET/6 is none either. */
	if (!put_addr(p + 20, &r->suggested, family))
		put_addr(p + 20, &(struct sockaddr_storage){.ss_family = AF_UNSPEC}, family);
	return PCP_MAP_LEN;
}

size_t pcp_announce_encode(const struct sockaddr_storage *client, uint8_t out[PCP_HEADER_LEN])
{
	int family = client->ss_family;

	if (family != AF_INET && family != AF_INET6)
		return 0;
	memset(out, 0, PCP_HEADER_LEN);
	out[0] = PCP_VERSION;
	out[1] = PCP_OP_ANNOUNCE; /* R = 0: a request; lifetime 0 */
	put_addr(out + 8, client, family);
	return PCP_HEADER_LEN;
}

/* The common part of every response: sizes, version, R bit, opcode and the
 * options after payload_len octets of opcode payload. */
static bool check_response(const uint8_t *buf, size_t len, uint8_t opcode, size_t payload_len,
			   enum pcp_drop *why)
{
	size_t off = PCP_HEADER_LEN + payload_len;

	if (len > PCP_MAX_LEN)
		return *why = PCP_DROP_LONG, false;
	if (len < PCP_HEADER_LEN)
		return *why = PCP_DROP_SHORT, false;
	if (len % 4)
		return *why = PCP_DROP_UNALIGNED, false;
	if (buf[0] != PCP_VERSION)
		return *why = PCP_DROP_VERSION, false;
	if (!(buf[1] & PCP_R_BIT))
		return *why = PCP_DROP_NOT_RESPONSE, false;
	if ((buf[1] & ~PCP_R_BIT) != opcode)
		return *why = PCP_DROP_OPCODE, false;
	if (len < off)
		return *why = PCP_DROP_SHORT, false;
	/* Options (7.3): each header and its padded data inside the message. */
	while (off < len) {
		size_t data;

		if (len - off < PCP_OPTION_HEADER_LEN)
			return *why = PCP_DROP_OPTION, false;
		data = ((size_t)be16_get(buf + off + 2) + 3) & ~(size_t)3;
		if (data > len - off - PCP_OPTION_HEADER_LEN)
			return *why = PCP_DROP_OPTION, false;
		off += PCP_OPTION_HEADER_LEN + data;
	}
	return true;
}

static void read_header(const uint8_t *buf, struct pcp_response *out)
{
	memset(out, 0, sizeof(*out));
	out->opcode = buf[1] & ~PCP_R_BIT;
	out->result = buf[3];
	out->lifetime_s = be32_get(buf + 4);
	out->epoch_s = be32_get(buf + 8);
}

bool pcp_map_decode(const uint8_t *buf, size_t len, const struct pcp_map_request *r,
		    struct pcp_response *out, enum pcp_drop *why)
{
	const uint8_t *p = buf + PCP_HEADER_LEN;
	struct pcp_response resp;

	*why = PCP_DROP_NONE;
	if (!check_response(buf, len, PCP_OP_MAP, PCP_MAP_PAYLOAD_LEN, why))
		return false;
	/* Section 11.3: a response belongs to our mapping only with our
	 * nonce, protocol and internal port; anything else is ignored. */
	if (memcmp(p, r->nonce, PCP_NONCE_LEN) != 0)
		return *why = PCP_DROP_NONCE, false;
	if (p[12] != r->protocol)
		return *why = PCP_DROP_PROTOCOL, false;
	if (be16_get(p + 16) != r->internal_port)
		return *why = PCP_DROP_PORT, false;
	read_header(buf, &resp);
	get_addr(&resp.external, p + 20, be16_get(p + 18));
	/* A delete's answer (lifetime 0) and an error carry no address to use. */
	if (resp.result == PCP_SUCCESS && resp.lifetime_s && !is_unicast(&resp.external))
		return *why = PCP_DROP_ADDRESS, false;
	*out = resp;
	return true;
}

bool pcp_announce_decode(const uint8_t *buf, size_t len, struct pcp_response *out,
			 enum pcp_drop *why)
{
	*why = PCP_DROP_NONE;
	if (!check_response(buf, len, PCP_OP_ANNOUNCE, 0, why))
		return false;
	read_header(buf, out);
	return true;
}

bool pcp_is_unsupp_version(const uint8_t *buf, size_t len)
{
	/* NAT-PMP's answer to a version it does not know: version 0, opcode
	 * 128 + ours, result 1 as 16 bits, then its epoch (RFC 6886 3.5). */
	if (len >= 8 && buf[0] == 0 && (buf[1] & PCP_R_BIT) && be16_get(buf + 2) == 1)
		return true;
	return len >= PCP_HEADER_LEN && len <= PCP_MAX_LEN && len % 4 == 0 &&
	       (buf[1] & PCP_R_BIT) && buf[3] == PCP_UNSUPP_VERSION;
}

const char *pcp_result_name(uint8_t result)
{
	static const char *const names[] = {
	    [PCP_SUCCESS] = "SUCCESS",
	    [PCP_UNSUPP_VERSION] = "UNSUPP_VERSION",
	    [PCP_NOT_AUTHORIZED] = "NOT_AUTHORIZED",
	    [PCP_MALFORMED_REQUEST] = "MALFORMED_REQUEST",
	    [PCP_UNSUPP_OPCODE] = "UNSUPP_OPCODE",
	    [PCP_UNSUPP_OPTION] = "UNSUPP_OPTION",
	    [PCP_MALFORMED_OPTION] = "MALFORMED_OPTION",
	    [PCP_NETWORK_FAILURE] = "NETWORK_FAILURE",
	    [PCP_NO_RESOURCES] = "NO_RESOURCES",
	    [PCP_UNSUPP_PROTOCOL] = "UNSUPP_PROTOCOL",
	    [PCP_USER_EX_QUOTA] = "USER_EX_QUOTA",
	    [PCP_CANNOT_PROVIDE_EXTERNAL] = "CANNOT_PROVIDE_EXTERNAL",
	    [PCP_ADDRESS_MISMATCH] = "ADDRESS_MISMATCH",
	    [PCP_EXCESSIVE_REMOTE_PEERS] = "EXCESSIVE_REMOTE_PEERS",
	};

	return result < sizeof(names) / sizeof(names[0]) ? names[result] : "unknown";
}

const char *pcp_drop_name(enum pcp_drop why)
{
	switch (why) {
	case PCP_DROP_NONE:
		return "none";
	case PCP_DROP_SHORT:
		return "short";
	case PCP_DROP_LONG:
		return "longer than 1100 octets";
	case PCP_DROP_UNALIGNED:
		return "not a multiple of 4 octets";
	case PCP_DROP_VERSION:
		return "not version 2";
	case PCP_DROP_NOT_RESPONSE:
		return "not a response";
	case PCP_DROP_OPCODE:
		return "wrong opcode";
	case PCP_DROP_NONCE:
		return "wrong nonce";
	case PCP_DROP_PROTOCOL:
		return "wrong protocol";
	case PCP_DROP_PORT:
		return "wrong internal port";
	case PCP_DROP_OPTION:
		return "option past the end";
	case PCP_DROP_ADDRESS:
		return "no unicast external address";
	}
	return "unknown";
}
