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
 *     both IP and port, only when there is an alternate address and both
 *     of its IPs are known (a wildcard listen address stands for the
 *     request's primary; without one, 3. and 4. act as without an
 *     alternate).
 *
 * Amplification. A UDP source address can be spoofed, so over UDP an answer
 * is never more than twice the request (STUN bytes; the IP and UDP headers
 * only lower the ratio). Attributes go in by priority while they fit:
 * the mapped address (XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS for an RFC 3489
 * request), then MAPPED-ADDRESS for RFC 5389 clients that read only it,
 * then OTHER-ADDRESS / CHANGED-ADDRESS (a NAT test needs it to go on), then
 * RESPONSE-ORIGIN / SOURCE-ADDRESS, FINGERPRINT last and only when the
 * request had one. No SOFTWARE, no PADDING. What the common clients send
 * and get (IPv4):
 *  - p2pvpnd and natcheck: header + FINGERPRINT (28 bytes, 36 with a
 *    CHANGE-REQUEST): XOR-MAPPED, MAPPED and OTHER-ADDRESS fit in 56; with
 *    a CHANGE-REQUEST (72) RESPONSE-ORIGIN and FINGERPRINT fit as well.
 *  - Debian's stun-client (RFC 3489, no cookie) sends CHANGE-REQUEST in
 *    every test (28 bytes): MAPPED, CHANGED and SOURCE-ADDRESS make 56.
 *  - coturn's turnutils_natdiscovery (RFC 5780) sends CHANGE-REQUEST in
 *    every test too (28 bytes), or RFC 5780 PADDING to the MTU with -f;
 *    XOR-MAPPED, MAPPED and OTHER-ADDRESS fit.
 * A bare 20-byte request gets only the mapped address over IPv4 (32 bytes);
 * over IPv6 even that (44 bytes) would break the rule, so a bare IPv6
 * request over UDP gets no answer (a client that wants one adds
 * FINGERPRINT, SOFTWARE or PADDING, as RFC 5780 section 7.6 foresees).
 * Over TCP the handshake proves the source, and answers are complete.
 *
 * Rate. A fixed table of per-source-IP token buckets (keyed hash, 4-way
 * sets, the least recently used entry of a full set is replaced) and one
 * global bucket cap the answers a flood of requests can draw, whatever the
 * sources. The builder zeroes its buffer first (CVE-2020-4067). */
#include "rendezvous/stun_responder.h"

#include <netinet/in.h>
#include <string.h>

#include <sodium.h>

#include "stun/stun.h"
#include "util/addr.h"

void rdv_stun_sock_addr(const struct rdv_stun_server *s, unsigned sock,
			const struct sockaddr_storage *primary, struct sockaddr_storage *out)
{
	unsigned ip = (sock & RDV_STUN_CHANGE_IP_BIT) ? 1 : 0;

	*out = (ip == 0 && primary) ? *primary : s->ip[ip];
	addr_set_port(out, s->port[sock & RDV_STUN_CHANGE_PORT_BIT]);
}

/* An alternate address whose partner is known for this request: the
 * listen address is specific, or the request says what it stands for. */
static bool has_partner(const struct rdv_stun_server *s, const struct rdv_stun_request *req)
{
	const struct sockaddr_storage *ip0 = req->primary ? req->primary : &s->ip[0];

	return s->has_alternate && !addr_is_any(ip0);
}

/* Room left for the answer: the whole buffer over TCP, twice the request
 * over UDP. */
struct budget {
	struct stun_builder b;
	size_t max;
};

static size_t addr_attr_len(const struct sockaddr_storage *ss)
{
	bool v4 = ss->ss_family == AF_INET || addr_is_v4_mapped(ss);

	return STUN_ATTR_HEADER_LEN + (v4 ? 8 : 20);
}

static bool fits(const struct budget *bu, size_t attr_len)
{
	return bu->b.len + attr_len <= bu->max;
}

/* Adds the address when it fits; true when it was added. */
static bool add_address(struct budget *bu, uint16_t type, const struct sockaddr_storage *ss)
{
	if (!fits(bu, addr_attr_len(ss)))
		return false;
	return stun_builder_add_address(&bu->b, type, ss) == 0;
}

static void budget_init(struct budget *bu, const struct rdv_stun_request *req,
			const struct stun_msg *msg, enum stun_class cls, uint8_t *out, size_t cap)
{
	bu->max =
	    req->tcp || req->len * RDV_STUN_MAX_RATIO > cap ? cap : req->len * RDV_STUN_MAX_RATIO;
	stun_builder_init(&bu->b, out, cap, STUN_METHOD_BINDING, cls, msg->id);
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

/* FINGERPRINT only when the client used it and it fits. */
static enum rdv_stun_drop finish(struct budget *bu, bool fingerprint, size_t *out_len)
{
	fingerprint = fingerprint && fits(bu, STUN_ATTR_HEADER_LEN + STUN_FINGERPRINT_LEN);
	return stun_builder_finish(&bu->b, fingerprint, out_len) == 0 ? RDV_STUN_ANSWERED
								      : RDV_STUN_BUILD_FAILED;
}

/* The types list is always within 2x (each type costs the request at
 * least 4 bytes and the answer 2); the reason phrase goes in only if it
 * fits as well, else an empty one. */
static enum rdv_stun_drop answer_error(const struct rdv_stun_request *req,
				       const struct stun_msg *msg, int code, const char *reason,
				       const uint16_t *types, size_t n, uint8_t *out, size_t cap,
				       size_t *out_len)
{
	size_t types_len = n ? STUN_ATTR_HEADER_LEN + (2 * n + 3) / 4 * 4 : 0;
	size_t code_len = STUN_ATTR_HEADER_LEN + 4 + (strlen(reason) + 3) / 4 * 4;
	struct budget bu;

	budget_init(&bu, req, msg, STUN_CLASS_ERROR, out, cap);
	if (!fits(&bu, code_len + types_len))
		reason = "";
	if (!fits(&bu, STUN_ATTR_HEADER_LEN + 4 + types_len))
		return RDV_STUN_TOO_SMALL;
	stun_builder_add_error_code(&bu.b, code, reason);
	if (n)
		stun_builder_add_unknown_attributes(&bu.b, types, n);
	return finish(&bu, msg->has_fingerprint, out_len);
}

static enum rdv_stun_drop answer_success(const struct rdv_stun_server *s,
					 const struct rdv_stun_request *req,
					 const struct stun_msg *msg, unsigned send_sock,
					 uint8_t *out, size_t cap, size_t *out_len)
{
	struct sockaddr_storage origin, other;
	bool alt = has_partner(s, req);
	struct budget bu;
	/* The socket that differs from the receiving one in IP and port. */
	unsigned other_sock = req->sock ^ (RDV_STUN_CHANGE_IP_BIT | RDV_STUN_CHANGE_PORT_BIT);

	rdv_stun_sock_addr(s, send_sock, req->primary, &origin);
	rdv_stun_sock_addr(s, other_sock, req->primary, &other);
	budget_init(&bu, req, msg, STUN_CLASS_SUCCESS, out, cap);
	if (msg->rfc3489) {
		/* RFC 3489 section 11.2: what a classic client parses, nothing
		 * comprehension-required that it would not know. */
		if (!add_address(&bu, STUN_ATTR_MAPPED_ADDRESS, req->from))
			return RDV_STUN_TOO_SMALL;
		if (alt)
			add_address(&bu, STUN_ATTR_CHANGED_ADDRESS, &other);
		add_address(&bu, STUN_ATTR_SOURCE_ADDRESS, &origin);
		return finish(&bu, false, out_len);
	}
	if (!add_address(&bu, STUN_ATTR_XOR_MAPPED_ADDRESS, req->from))
		return RDV_STUN_TOO_SMALL;
	add_address(&bu, STUN_ATTR_MAPPED_ADDRESS, req->from);
	if (alt)
		add_address(&bu, STUN_ATTR_OTHER_ADDRESS, &other);
	add_address(&bu, STUN_ATTR_RESPONSE_ORIGIN, &origin);
	if (alt)
		add_address(&bu, STUN_ATTR_CHANGED_ADDRESS, &other);
	return finish(&bu, msg->has_fingerprint, out_len);
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
		return answer_error(req, &msg, STUN_ERROR_UNKNOWN_ATTRIBUTE, "Unknown Attribute",
				    types, n, out, cap, out_len);
	if (!stun_msg_get_change_request(&msg, &flags))
		flags = 0;
	if (req->tcp && flags)
		return answer_error(req, &msg, STUN_ERROR_BAD_REQUEST, "Change request over TCP",
				    NULL, 0, out, cap, out_len);
	if ((flags & STUN_CHANGE_IP) && !has_partner(s, req))
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
	    [RDV_STUN_TOO_SMALL] = "request too small for an answer within 2x",
	    [RDV_STUN_RATE_LIMITED] = "rate limited",
	};

	return d < RDV_STUN_DROP_MAX ? names[d] : "?";
}

/* ---- rate limit ---- */

/* The source's IP as 16 bytes (IPv4 v4-mapped, so both forms are one
 * client); false for another family. */
static bool ip_key(const struct sockaddr_storage *ss, uint8_t ip[16])
{
	struct sockaddr_storage m;

	if (!addr_is_ip(ss))
		return false;
	addr_map_v4(&m, ss);
	memcpy(ip, &((const struct sockaddr_in6 *)&m)->sin6_addr, 16);
	return true;
}

void rdv_stun_limiter_init(struct rdv_stun_limiter *l, const struct rdv_stun_limits *lim)
{
	memset(l, 0, sizeof(*l));
	l->lim = *lim;
	randombytes_buf(l->key, sizeof(l->key));
}

static struct rdv_stun_source *find_source(struct rdv_stun_limiter *l, const uint8_t ip[16],
					   uint64_t now_ms)
{
	uint8_t h[crypto_shorthash_BYTES];
	struct rdv_stun_source *set, *lru;
	uint64_t idx;

	/* A failure (SipHash has none) would only put every source in set 0. */
	if (crypto_shorthash(h, ip, 16, l->key) != 0)
		memset(h, 0, sizeof(h));
	memcpy(&idx, h, sizeof(idx));
	set = &l->src[(idx % RDV_STUN_SETS) * RDV_STUN_WAYS];
	lru = set;
	for (unsigned i = 0; i < RDV_STUN_WAYS; i++) {
		if (set[i].used && memcmp(set[i].ip, ip, 16) == 0)
			return &set[i];
		if (!set[i].used || (lru->used && set[i].last_ms < lru->last_ms))
			lru = &set[i];
	}
	/* A new source (or one whose entry was replaced) starts full: the
	 * global bucket bounds what replacing entries can gain. */
	memset(lru, 0, sizeof(*lru));
	memcpy(lru->ip, ip, 16);
	lru->used = true;
	lru->last_ms = now_ms;
	return lru;
}

bool rdv_stun_limiter_allow(struct rdv_stun_limiter *l, const struct sockaddr_storage *from,
			    uint64_t now_ms)
{
	struct rdv_stun_source *src;
	uint8_t ip[16];

	if (!ip_key(from, ip))
		return false;
	src = find_source(l, ip, now_ms);
	src->last_ms = now_ms;
	/* The per-source bucket first: a source over its limit must not
	 * spend the global budget of everyone else. */
	if (!rdv_bucket_take(&src->bucket, 1, l->lim.per_ip_rate, l->lim.per_ip_burst, now_ms))
		return false;
	return rdv_bucket_take(&l->global, 1, l->lim.global_rate, l->lim.global_burst, now_ms);
}
