/* STUN Binding answers for p2pvpn-rendezvous. Decisions, in order:
 *
 *  1. Anything the codec does not accept, and anything but a Binding
 *     request, is dropped without a word: an answer to garbage would make
 *     the server a reflector.
 *  2. A comprehension-required attribute we do not act on gets 420 with
 *     UNKNOWN-ATTRIBUTES (RFC 8489 section 6.3.1.1). RESPONSE-ADDRESS
 *     (RFC 3489) and RESPONSE-PORT (RFC 5780 section 7.5) are in that list
 *     on purpose: answering to an address other than the source would let a
 *     spoofed request aim the server at a third party.
 *  3. CHANGE-REQUEST: change IP needs the alternate address. A server
 *     without one stays silent, which is what an RFC 3489 client expects of
 *     a server that cannot do it (its test II times out and it reports what
 *     it could not learn); an error would be misread by such clients as a
 *     filtering result. Change port alone is honoured from listen port + 1
 *     either way. Over TCP a non-zero CHANGE-REQUEST gets 400: the answer
 *     can only travel on the connection it came in.
 *  4. The answer goes from the chosen socket and says so: RESPONSE-ORIGIN
 *     (RFC 5780) or SOURCE-ADDRESS (RFC 3489), and OTHER-ADDRESS /
 *     CHANGED-ADDRESS, the socket that differs from the receiving one in
 *     both IP and port, only when there is an alternate address.
 *
 * The answer is never more than a few address attributes (at most 148 bytes
 * for IPv6, 88 for IPv4): no PADDING, no SOFTWARE, FINGERPRINT only when the
 * client used it, and the builder zeroes its buffer first (CVE-2020-4067). */
#include "rendezvous/stun_responder.h"

#include <netinet/in.h>
#include <string.h>

#include "stun/stun.h"

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

void rdv_stun_sock_addr(const struct rdv_stun_server *s, unsigned sock,
			const struct sockaddr_storage *local, struct sockaddr_storage *out)
{
	unsigned ip = (sock & RDV_STUN_CHANGE_IP_BIT) ? 1 : 0;

	*out = (ip == 0 && local) ? *local : s->ip[ip];
	set_port(out, s->port[sock & RDV_STUN_CHANGE_PORT_BIT]);
}

/* Attributes we know but will not act on: they ask for the answer to go
 * somewhere else than the source. */
static size_t refused_attrs(const struct stun_msg *msg, uint16_t *types, size_t max)
{
	static const uint16_t refused[] = {STUN_ATTR_RESPONSE_ADDRESS, STUN_ATTR_RESPONSE_PORT};
	size_t n = 0;

	for (size_t i = 0; i < msg->nunknown && n < max; i++)
		types[n++] = msg->unknown[i];
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]) && n < max; i++)
		if (stun_msg_find(msg, refused[i]))
			types[n++] = refused[i];
	return n;
}

static enum rdv_stun_drop finish(struct stun_builder *b, bool fingerprint, size_t *out_len)
{
	return stun_builder_finish(b, fingerprint, out_len) == 0 ? RDV_STUN_ANSWERED
								 : RDV_STUN_BUILD_FAILED;
}

static enum rdv_stun_drop answer_error(const struct stun_msg *msg, int code, const char *reason,
				       const uint16_t *types, size_t n, uint8_t *out, size_t cap,
				       size_t *out_len)
{
	struct stun_builder b;

	stun_builder_init(&b, out, cap, STUN_METHOD_BINDING, STUN_CLASS_ERROR, msg->id);
	stun_builder_add_error_code(&b, code, reason);
	if (n)
		stun_builder_add_unknown_attributes(&b, types, n);
	return finish(&b, msg->has_fingerprint, out_len);
}

static enum rdv_stun_drop answer_success(const struct rdv_stun_server *s,
					 const struct rdv_stun_request *req,
					 const struct stun_msg *msg, unsigned send_sock,
					 uint8_t *out, size_t cap, size_t *out_len)
{
	struct sockaddr_storage origin, other;
	struct stun_builder b;
	/* The socket that differs from the receiving one in IP and port. */
	unsigned other_sock = req->sock ^ (RDV_STUN_CHANGE_IP_BIT | RDV_STUN_CHANGE_PORT_BIT);

	rdv_stun_sock_addr(s, send_sock, req->local, &origin);
	rdv_stun_sock_addr(s, other_sock, req->local, &other);
	stun_builder_init(&b, out, cap, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, msg->id);
	if (msg->rfc3489) {
		/* RFC 3489 section 11.2: what a classic client parses, nothing
		 * comprehension-required that it would not know. */
		stun_builder_add_address(&b, STUN_ATTR_MAPPED_ADDRESS, req->from);
		stun_builder_add_address(&b, STUN_ATTR_SOURCE_ADDRESS, &origin);
		if (s->has_alternate)
			stun_builder_add_address(&b, STUN_ATTR_CHANGED_ADDRESS, &other);
		return finish(&b, false, out_len);
	}
	stun_builder_add_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, req->from);
	stun_builder_add_address(&b, STUN_ATTR_MAPPED_ADDRESS, req->from);
	stun_builder_add_address(&b, STUN_ATTR_RESPONSE_ORIGIN, &origin);
	if (s->has_alternate) {
		stun_builder_add_address(&b, STUN_ATTR_OTHER_ADDRESS, &other);
		stun_builder_add_address(&b, STUN_ATTR_CHANGED_ADDRESS, &other);
	}
	return finish(&b, msg->has_fingerprint, out_len);
}

enum rdv_stun_drop rdv_stun_answer(const struct rdv_stun_server *s,
				   const struct rdv_stun_request *req, uint8_t *out, size_t cap,
				   size_t *out_len, unsigned *send_sock)
{
	uint16_t types[STUN_MAX_ATTRS + 2];
	struct stun_msg msg;
	uint32_t flags = 0;
	size_t n;

	*out_len = 0;
	*send_sock = req->sock;
	if (req->sock >= RDV_STUN_SOCKS ||
	    (!s->has_alternate && (req->sock & RDV_STUN_CHANGE_IP_BIT)) ||
	    !stun_msg_parse(&msg, req->data, req->len))
		return RDV_STUN_MALFORMED;
	if (msg.method != STUN_METHOD_BINDING || msg.cls != STUN_CLASS_REQUEST)
		return RDV_STUN_NOT_REQUEST;
	n = refused_attrs(&msg, types, sizeof(types) / sizeof(types[0]));
	if (n)
		return answer_error(&msg, STUN_ERROR_UNKNOWN_ATTRIBUTE, "Unknown Attribute", types,
				    n, out, cap, out_len);
	if (!stun_msg_get_change_request(&msg, &flags))
		flags = 0;
	if (req->tcp && flags)
		return answer_error(&msg, STUN_ERROR_BAD_REQUEST, "Change request over TCP", NULL,
				    0, out, cap, out_len);
	if ((flags & STUN_CHANGE_IP) && !s->has_alternate)
		return RDV_STUN_NO_ALTERNATE;
	if (flags & STUN_CHANGE_IP)
		*send_sock ^= RDV_STUN_CHANGE_IP_BIT;
	if (flags & STUN_CHANGE_PORT)
		*send_sock ^= RDV_STUN_CHANGE_PORT_BIT;
	return answer_success(s, req, &msg, *send_sock, out, cap, out_len);
}

const char *rdv_stun_drop_name(enum rdv_stun_drop d)
{
	static const char *const names[RDV_STUN_DROP_MAX] = {
	    [RDV_STUN_ANSWERED] = "answered",
	    [RDV_STUN_MALFORMED] = "malformed STUN",
	    [RDV_STUN_NOT_REQUEST] = "not a Binding request",
	    [RDV_STUN_NO_ALTERNATE] = "change IP without an alternate address",
	    [RDV_STUN_BUILD_FAILED] = "answer did not fit",
	};

	return d < RDV_STUN_DROP_MAX ? names[d] : "?";
}
