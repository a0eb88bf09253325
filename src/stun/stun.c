/* STUN codec. The parser checks a datagram against the rules of RFC 8489
 * (header bits, length, attribute bounds and padding, FINGERPRINT last and
 * correct) and validates the value of every attribute type it knows, so that
 * the accessors never meet a malformed value; the first broken rule becomes
 * msg->error, a named drop reason. Everything is read through memcpy into
 * local copies, never through a pointer cast onto the buffer, because a
 * datagram may start at any alignment (CVE-2026-40613). The builder writes
 * into a caller's buffer that it zeroes first and never writes past cap.
 * Neither side allocates or does I/O. */
#include "stun/stun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>
#include <zlib.h>

#include "util/addr.h"

/* How the value of a known attribute is checked. */
enum attr_kind {
	KIND_ANY,	   /* any length (PADDING, PASSWORD) */
	KIND_FIXED,	   /* exactly min bytes */
	KIND_ADDRESS,	   /* family 1 with 8 bytes or family 2 with 20 */
	KIND_TEXT,	   /* at most max bytes */
	KIND_ERROR_CODE,   /* class 3..6, number 0..99, reason at most max bytes */
	KIND_TYPE_LIST,	   /* UNKNOWN-ATTRIBUTES: 16-bit types */
	KIND_INTEGRITY256, /* 16..32 bytes, a multiple of 4 (RFC 8489 section 14.6) */
	KIND_PORT,	   /* RESPONSE-PORT: a port that is not 0, 16 reserved bits */
};

struct attr_rule {
	uint16_t type;
	uint8_t kind;
	uint16_t len; /* KIND_FIXED: the length; KIND_TEXT, KIND_ERROR_CODE: the maximum */
	const char *name;
};

/* Every type the codec knows. A comprehension-required type missing here is
 * reported in msg->unknown so that a server can answer 420. */
static const struct attr_rule rules[] = {
    {STUN_ATTR_MAPPED_ADDRESS, KIND_ADDRESS, 0, "mapped-address"},
    {STUN_ATTR_RESPONSE_ADDRESS, KIND_ADDRESS, 0, "response-address"},
    {STUN_ATTR_CHANGE_REQUEST, KIND_FIXED, 4, "change-request"},
    {STUN_ATTR_SOURCE_ADDRESS, KIND_ADDRESS, 0, "source-address"},
    {STUN_ATTR_CHANGED_ADDRESS, KIND_ADDRESS, 0, "changed-address"},
    {STUN_ATTR_USERNAME, KIND_TEXT, STUN_USERNAME_MAX, "username"},
    {STUN_ATTR_PASSWORD, KIND_ANY, 0, "password"},
    {STUN_ATTR_MESSAGE_INTEGRITY, KIND_FIXED, STUN_INTEGRITY_LEN, "message-integrity"},
    {STUN_ATTR_ERROR_CODE, KIND_ERROR_CODE, STUN_TEXT_MAX, "error-code"},
    {STUN_ATTR_UNKNOWN_ATTRIBUTES, KIND_TYPE_LIST, 0, "unknown-attributes"},
    {STUN_ATTR_REFLECTED_FROM, KIND_ADDRESS, 0, "reflected-from"},
    {STUN_ATTR_REALM, KIND_TEXT, STUN_TEXT_MAX, "realm"},
    {STUN_ATTR_NONCE, KIND_TEXT, STUN_TEXT_MAX, "nonce"},
    {STUN_ATTR_MESSAGE_INTEGRITY_SHA256, KIND_INTEGRITY256, 0, "message-integrity-sha256"},
    {STUN_ATTR_XOR_MAPPED_ADDRESS, KIND_ADDRESS, 0, "xor-mapped-address"},
    {STUN_ATTR_PRIORITY, KIND_FIXED, 4, "priority"},
    {STUN_ATTR_USE_CANDIDATE, KIND_FIXED, 0, "use-candidate"},
    {STUN_ATTR_PADDING, KIND_ANY, 0, "padding"},
    {STUN_ATTR_RESPONSE_PORT, KIND_PORT, 4, "response-port"},
    {STUN_ATTR_SOFTWARE, KIND_TEXT, STUN_TEXT_MAX, "software"},
    {STUN_ATTR_ALTERNATE_SERVER, KIND_ADDRESS, 0, "alternate-server"},
    {STUN_ATTR_FINGERPRINT, KIND_FIXED, STUN_FINGERPRINT_LEN, "fingerprint"},
    {STUN_ATTR_ICE_CONTROLLED, KIND_FIXED, 8, "ice-controlled"},
    {STUN_ATTR_ICE_CONTROLLING, KIND_FIXED, 8, "ice-controlling"},
    {STUN_ATTR_RESPONSE_ORIGIN, KIND_ADDRESS, 0, "response-origin"},
    {STUN_ATTR_OTHER_ADDRESS, KIND_ADDRESS, 0, "other-address"},
};

static const struct attr_rule address_rule = {0, KIND_ADDRESS, 0, "address"};

static const struct attr_rule *rule_for(uint16_t type)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].type == type)
			return &rules[i];
	return NULL;
}

static uint16_t load16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return ntohs(v);
}

static uint32_t load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return ntohl(v);
}

static void store16(uint8_t *p, uint16_t v)
{
	v = htons(v);
	memcpy(p, &v, sizeof(v));
}

static void store32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, sizeof(v));
}

static size_t padded(size_t len)
{
	return (len + 3) & ~(size_t)3;
}

static bool fail(struct stun_msg *msg, enum stun_parse_error err)
{
	msg->error = err;
	return false;
}

/* Checks one value against its rule; STUN_PARSE_OK when it is well formed. */
static enum stun_parse_error check_value(const struct attr_rule *r, const uint8_t *v, size_t len)
{
	switch (r->kind) {
	case KIND_ANY:
		return STUN_PARSE_OK;
	case KIND_FIXED:
		return len == r->len ? STUN_PARSE_OK : STUN_PARSE_ATTR_LENGTH;
	case KIND_ADDRESS:
		/* RFC 8489 section 14.1: the family decides the exact length. */
		if (len < 4)
			return STUN_PARSE_ATTR_LENGTH;
		if (v[1] == STUN_FAMILY_IPV4)
			return len == sizeof(struct stun_addr4) ? STUN_PARSE_OK
								: STUN_PARSE_ATTR_LENGTH;
		if (v[1] == STUN_FAMILY_IPV6)
			return len == sizeof(struct stun_addr6) ? STUN_PARSE_OK
								: STUN_PARSE_ATTR_LENGTH;
		return STUN_PARSE_ADDR_FAMILY;
	case KIND_TEXT:
		return len <= r->len ? STUN_PARSE_OK : STUN_PARSE_ATTR_LENGTH;
	case KIND_ERROR_CODE:
		if (len < sizeof(struct stun_error_code) ||
		    len - sizeof(struct stun_error_code) > r->len)
			return STUN_PARSE_ATTR_LENGTH;
		/* Section 14.8: class 3..6, number 0..99. */
		if ((v[2] & 7) < 3 || (v[2] & 7) > 6 || v[3] > 99)
			return STUN_PARSE_ERROR_CODE;
		return STUN_PARSE_OK;
	case KIND_TYPE_LIST:
		return len % 2 == 0 ? STUN_PARSE_OK : STUN_PARSE_ATTR_LENGTH;
	case KIND_INTEGRITY256:
		return len >= 16 && len <= 32 && len % 4 == 0 ? STUN_PARSE_OK
							      : STUN_PARSE_ATTR_LENGTH;
	case KIND_PORT:
		if (len != r->len)
			return STUN_PARSE_ATTR_LENGTH;
		/* A reply to port 0 cannot be sent: refuse it here, once. */
		return load16(v) != 0 ? STUN_PARSE_OK : STUN_PARSE_BAD_VALUE;
	}
	return STUN_PARSE_BAD_VALUE;
}

static void note_unknown(struct stun_msg *msg, uint16_t type)
{
	for (size_t i = 0; i < msg->nunknown; i++)
		if (msg->unknown[i] == type)
			return;
	msg->unknown[msg->nunknown++] = type;
}

/* Records one attribute that is not ignored: validated, stored, and reported
 * when it is comprehension-required but unknown. */
static bool take_attr(struct stun_msg *msg, uint16_t type, uint16_t alen, size_t off)
{
	const struct attr_rule *r = rule_for(type);

	if (r) {
		enum stun_parse_error err = check_value(r, msg->buf + off, alen);
		if (err != STUN_PARSE_OK)
			return fail(msg, err);
	} else if (type < STUN_ATTR_OPTIONAL_MIN) {
		note_unknown(msg, type);
	}
	msg->attrs[msg->nattrs++] = (struct stun_attr){.type = type, .len = alen, .offset = off};
	return true;
}

static bool parse_header(struct stun_msg *msg)
{
	struct stun_header h;

	if (msg->len < STUN_HEADER_LEN)
		return fail(msg, STUN_PARSE_TRUNCATED);
	memcpy(&h, msg->buf, sizeof(h));
	msg->type = ntohs(h.type_be);
	/* RFC 8489 section 5: the two most significant bits are zero, which
	 * tells STUN apart from other protocols on the same port. */
	if (msg->type & 0xC000)
		return fail(msg, STUN_PARSE_NOT_STUN);
	if (ntohs(h.length_be) % 4 != 0)
		return fail(msg, STUN_PARSE_LENGTH_ALIGN);
	if ((size_t)ntohs(h.length_be) + STUN_HEADER_LEN != msg->len)
		return fail(msg, STUN_PARSE_LENGTH_MISMATCH);
	msg->method =
	    (msg->type & 0x000F) | ((msg->type & 0x00E0) >> 1) | ((msg->type & 0x3E00) >> 2);
	msg->cls = (enum stun_class)(((msg->type & 0x0010) >> 4) | ((msg->type & 0x0100) >> 7));
	msg->rfc3489 = ntohl(h.cookie_be) != STUN_COOKIE;
	memcpy(msg->id, msg->buf + 4, STUN_ID_LEN);
	return true;
}

bool stun_msg_parse(struct stun_msg *msg, const uint8_t *buf, size_t len)
{
	size_t pos = STUN_HEADER_LEN, count = 0, fp_pos = 0;
	bool after_mi = false, after_mi256 = false, have_fp = false;

	memset(msg, 0, sizeof(*msg));
	msg->buf = buf;
	msg->len = len;
	if (!parse_header(msg))
		return false;
	while (pos < len) {
		uint16_t type, alen;
		bool ignore;

		if (len - pos < STUN_ATTR_HEADER_LEN)
			return fail(msg, STUN_PARSE_ATTR_OVERRUN);
		type = load16(buf + pos);
		alen = load16(buf + pos + 2);
		if (padded(alen) > len - pos - STUN_ATTR_HEADER_LEN)
			return fail(msg, STUN_PARSE_ATTR_OVERRUN);
		/* Section 14.7: nothing may follow FINGERPRINT. */
		if (have_fp)
			return fail(msg, STUN_PARSE_FINGERPRINT_NOT_LAST);
		if (++count > STUN_MAX_ATTRS)
			return fail(msg, STUN_PARSE_TOO_MANY_ATTRS);
		/* Section 14.5/14.6: after MESSAGE-INTEGRITY only
		 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count; after
		 * MESSAGE-INTEGRITY-SHA256 only FINGERPRINT. The rest is ignored,
		 * not judged: it is outside what the HMAC covers. */
		ignore = (after_mi && type != STUN_ATTR_MESSAGE_INTEGRITY_SHA256 &&
			  type != STUN_ATTR_FINGERPRINT) ||
			 (after_mi256 && type != STUN_ATTR_FINGERPRINT);
		if (!ignore && !take_attr(msg, type, alen, pos + STUN_ATTR_HEADER_LEN))
			return false;
		if (!ignore && type == STUN_ATTR_MESSAGE_INTEGRITY)
			after_mi = true;
		if (!ignore && type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
			after_mi256 = true;
		if (type == STUN_ATTR_FINGERPRINT) {
			have_fp = true;
			fp_pos = pos;
		}
		pos += STUN_ATTR_HEADER_LEN + padded(alen);
	}
	if (have_fp) {
		/* The header length already includes FINGERPRINT, as the CRC
		 * input requires, since it is the last attribute. */
		if (load32(buf + fp_pos + STUN_ATTR_HEADER_LEN) != stun_fingerprint(buf, fp_pos))
			return fail(msg, STUN_PARSE_FINGERPRINT_MISMATCH);
		msg->has_fingerprint = true;
	}
	return true;
}

const struct stun_attr *stun_msg_find(const struct stun_msg *msg, uint16_t type)
{
	for (size_t i = 0; i < msg->nattrs; i++)
		if (msg->attrs[i].type == type)
			return &msg->attrs[i];
	return NULL;
}

static const uint8_t *value_of(const struct stun_msg *msg, const struct stun_attr *a)
{
	return msg->buf + a->offset;
}

bool stun_msg_get_address(const struct stun_msg *msg, uint16_t type, struct sockaddr_storage *out)
{
	const struct stun_attr *a = stun_msg_find(msg, type);
	bool xor = type == STUN_ATTR_XOR_MAPPED_ADDRESS;
	const uint8_t *v;
	uint16_t port;

	if (!a || check_value(&address_rule, value_of(msg, a), a->len) != STUN_PARSE_OK)
		return false;
	v = value_of(msg, a);
	memset(out, 0, sizeof(*out));
	/* Section 14.2: the port is XORed with the top half of the cookie and
	 * the address with the 16 bytes after the type and length fields. */
	port = load16(v + 2) ^ (xor? load16(msg->id) : 0);
	if (v[1] == STUN_FAMILY_IPV4) {
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
		uint8_t ip[4];

		for (int i = 0; i < 4; i++)
			ip[i] = v[4 + i] ^ (xor? msg->id[i] : 0);
		memcpy(&sin.sin_addr, ip, sizeof(ip));
		memcpy(out, &sin, sizeof(sin));
	} else {
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
		uint8_t ip[16];

		for (int i = 0; i < 16; i++)
			ip[i] = v[4 + i] ^ (xor? msg->id[i] : 0);
		memcpy(&sin6.sin6_addr, ip, sizeof(ip));
		memcpy(out, &sin6, sizeof(sin6));
	}
	return true;
}

bool stun_msg_get_mapped(const struct stun_msg *msg, struct sockaddr_storage *out)
{
	return stun_msg_get_address(msg, STUN_ATTR_XOR_MAPPED_ADDRESS, out) ||
	       stun_msg_get_address(msg, STUN_ATTR_MAPPED_ADDRESS, out);
}

bool stun_msg_get_change_request(const struct stun_msg *msg, uint32_t *flags)
{
	const struct stun_attr *a = stun_msg_find(msg, STUN_ATTR_CHANGE_REQUEST);

	if (!a || a->len != 4)
		return false;
	/* Other bits are unassigned; RFC 5780 gives them no meaning. */
	*flags = load32(value_of(msg, a)) & (STUN_CHANGE_IP | STUN_CHANGE_PORT);
	return true;
}

bool stun_msg_get_response_port(const struct stun_msg *msg, uint16_t *port)
{
	const struct stun_attr *a = stun_msg_find(msg, STUN_ATTR_RESPONSE_PORT);

	if (!a || a->len != sizeof(struct stun_response_port) || load16(value_of(msg, a)) == 0)
		return false;
	*port = load16(value_of(msg, a));
	return true;
}

bool stun_msg_get_padding(const struct stun_msg *msg, size_t *len)
{
	const struct stun_attr *a = stun_msg_find(msg, STUN_ATTR_PADDING);

	if (!a)
		return false;
	*len = a->len;
	return true;
}

bool stun_msg_get_text(const struct stun_msg *msg, uint16_t type, const uint8_t **text, size_t *len)
{
	const struct attr_rule *r = rule_for(type);
	const struct stun_attr *a;

	if (!r || r->kind != KIND_TEXT)
		return false;
	a = stun_msg_find(msg, type);
	if (!a || a->len > r->len)
		return false;
	*text = value_of(msg, a);
	*len = a->len;
	return true;
}

bool stun_msg_copy_text(const struct stun_msg *msg, uint16_t type, char *out, size_t size)
{
	const uint8_t *text;
	size_t len;

	if (!stun_msg_get_text(msg, type, &text, &len) || len >= size)
		return false;
	memcpy(out, text, len);
	out[len] = '\0';
	return true;
}

bool stun_msg_get_error(const struct stun_msg *msg, int *code, const uint8_t **reason,
			size_t *reason_len)
{
	const struct stun_attr *a = stun_msg_find(msg, STUN_ATTR_ERROR_CODE);
	const uint8_t *v;

	if (!a ||
	    check_value(rule_for(STUN_ATTR_ERROR_CODE), value_of(msg, a), a->len) != STUN_PARSE_OK)
		return false;
	v = value_of(msg, a);
	*code = (v[2] & 7) * 100 + v[3];
	*reason = v + sizeof(struct stun_error_code);
	*reason_len = a->len - sizeof(struct stun_error_code);
	return true;
}

bool stun_msg_get_unknown_attributes(const struct stun_msg *msg, uint16_t *types, size_t max,
				     size_t *n)
{
	const struct stun_attr *a = stun_msg_find(msg, STUN_ATTR_UNKNOWN_ATTRIBUTES);

	if (!a || a->len % 2 != 0)
		return false;
	*n = a->len / 2;
	for (size_t i = 0; i < *n && i < max; i++)
		types[i] = load16(value_of(msg, a) + 2 * i);
	return true;
}

bool stun_msg_get_integrity(const struct stun_msg *msg, const uint8_t **hmac, size_t *offset)
{
	const struct stun_attr *a = stun_msg_find(msg, STUN_ATTR_MESSAGE_INTEGRITY);

	if (!a || a->len != STUN_INTEGRITY_LEN)
		return false;
	*hmac = value_of(msg, a);
	*offset = a->offset - STUN_ATTR_HEADER_LEN;
	return true;
}

uint32_t stun_fingerprint(const uint8_t *buf, size_t len)
{
	return (uint32_t)crc32(0L, buf, (uInt)len) ^ STUN_FINGERPRINT_XOR;
}

uint16_t stun_type_encode(uint16_t method, enum stun_class cls)
{
	return (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
			  ((cls & 1) << 4) | ((cls & 2) << 7));
}

void stun_id_new(uint8_t id[STUN_ID_LEN])
{
	store32(id, STUN_COOKIE);
	randombytes_buf(id + 4, STUN_TXID_LEN);
}

/* Builder */

static int set_err(struct stun_builder *b, int err)
{
	if (!b->err)
		b->err = err;
	return err;
}

int stun_builder_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
		      enum stun_class cls, const uint8_t id[STUN_ID_LEN])
{
	*b = (struct stun_builder){.buf = buf, .cap = cap};
	if (cap < STUN_HEADER_LEN || method > 0x0FFF)
		return set_err(b, cap < STUN_HEADER_LEN ? -ENOSPC : -EINVAL);
	memset(buf, 0, cap);
	store16(buf, stun_type_encode(method, cls));
	memcpy(buf + 4, id, STUN_ID_LEN);
	b->len = STUN_HEADER_LEN;
	return 0;
}

/* Reserves an attribute of value length len: writes its header, moves the
 * message length, and returns where the value goes (NULL on error). */
static uint8_t *reserve(struct stun_builder *b, uint16_t type, size_t len)
{
	size_t total;

	if (b->err)
		return NULL;
	if (b->finished || !b->buf) {
		set_err(b, -EINVAL);
		return NULL;
	}
	total = STUN_ATTR_HEADER_LEN + padded(len);
	if (len > 0xFFFF || total > b->cap - b->len || b->len + total > STUN_MAX_MSG_LEN) {
		set_err(b, -ENOSPC);
		return NULL;
	}
	store16(b->buf + b->len, type);
	store16(b->buf + b->len + 2, (uint16_t)len);
	b->len += total;
	store16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN));
	/* The padding stays zero: the buffer was zeroed by init. */
	return b->buf + b->len - padded(len);
}

int stun_builder_add(struct stun_builder *b, uint16_t type, const void *value, size_t len)
{
	uint8_t *v = reserve(b, type, len);

	if (!v)
		return b->err;
	if (len)
		memcpy(v, value, len);
	return 0;
}

int stun_builder_add_address(struct stun_builder *b, uint16_t type,
			     const struct sockaddr_storage *addr)
{
	bool xor = type == STUN_ATTR_XOR_MAPPED_ADDRESS;
	struct sockaddr_storage a;
	uint8_t ip[16], *v;
	size_t iplen;
	uint16_t port;

	/* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; they are
	 * IPv4 clients and expect family 1 back. */
	a = *addr;
	addr_unmap_v4(&a);
	port = addr_port(&a);
	if (a.ss_family == AF_INET) {
		memcpy(ip, &((const struct sockaddr_in *)&a)->sin_addr, 4);
		iplen = 4;
	} else if (a.ss_family == AF_INET6) {
		memcpy(ip, &((const struct sockaddr_in6 *)&a)->sin6_addr, 16);
		iplen = 16;
	} else {
		return set_err(b, -EAFNOSUPPORT);
	}
	v = reserve(b, type, 4 + iplen);
	if (!v)
		return b->err;
	/* Section 14.2: XOR with the cookie and transaction ID, which init
	 * has put at bytes 4..19. */
	v[1] = iplen == 4 ? STUN_FAMILY_IPV4 : STUN_FAMILY_IPV6;
	store16(v + 2, port ^ (xor? load16(b->buf + 4) : 0));
	for (size_t i = 0; i < iplen; i++)
		v[4 + i] = ip[i] ^ (xor? b->buf[4 + i] : 0);
	return 0;
}

int stun_builder_add_change_request(struct stun_builder *b, uint32_t flags)
{
	uint8_t val[4];

	if (flags & ~(uint32_t)(STUN_CHANGE_IP | STUN_CHANGE_PORT))
		return set_err(b, -EINVAL);
	store32(val, flags);
	return stun_builder_add(b, STUN_ATTR_CHANGE_REQUEST, val, sizeof(val));
}

int stun_builder_add_text(struct stun_builder *b, uint16_t type, const char *text)
{
	const struct attr_rule *r = rule_for(type);
	size_t len = strlen(text);

	if (!r || r->kind != KIND_TEXT)
		return set_err(b, -EINVAL);
	if (len > r->len)
		return set_err(b, -EMSGSIZE);
	return stun_builder_add(b, type, text, len);
}

int stun_builder_add_error_code(struct stun_builder *b, int code, const char *reason)
{
	uint8_t val[sizeof(struct stun_error_code) + STUN_TEXT_MAX] = {0};
	size_t rlen = strlen(reason);

	if (code < 300 || code > 699)
		return set_err(b, -EINVAL);
	if (rlen > STUN_TEXT_MAX)
		return set_err(b, -EMSGSIZE);
	val[2] = (uint8_t)(code / 100);
	val[3] = (uint8_t)(code % 100);
	memcpy(val + sizeof(struct stun_error_code), reason, rlen);
	return stun_builder_add(b, STUN_ATTR_ERROR_CODE, val,
				sizeof(struct stun_error_code) + rlen);
}

int stun_builder_add_unknown_attributes(struct stun_builder *b, const uint16_t *types, size_t n)
{
	uint8_t *v;

	if (n == 0 || n > 0xFFFF / 2)
		return set_err(b, -EINVAL);
	v = reserve(b, STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n);
	if (!v)
		return b->err;
	for (size_t i = 0; i < n; i++)
		store16(v + 2 * i, types[i]);
	return 0;
}

int stun_builder_finish(struct stun_builder *b, bool fingerprint, size_t *len)
{
	if (fingerprint) {
		size_t fp_pos = b->len;
		uint8_t *v = reserve(b, STUN_ATTR_FINGERPRINT, STUN_FINGERPRINT_LEN);

		/* reserve() has set the length to include FINGERPRINT, which
		 * the CRC input needs (RFC 8489 section 14.7). */
		if (v)
			store32(v, stun_fingerprint(b->buf, fp_pos));
	}
	if (b->err)
		return b->err;
	if (b->finished)
		return set_err(b, -EINVAL);
	b->finished = true;
	*len = b->len;
	return 0;
}

const char *stun_class_name(enum stun_class cls)
{
	static const char *const names[] = {"request", "indication", "success", "error"};

	return (unsigned)cls < 4 ? names[cls] : "invalid";
}

const char *stun_attr_name(uint16_t type)
{
	const struct attr_rule *r = rule_for(type);

	return r ? r->name : "unknown";
}

const char *stun_parse_error_name(enum stun_parse_error err)
{
	static const char *const names[STUN_PARSE_ERROR_MAX] = {
	    [STUN_PARSE_OK] = "ok",
	    [STUN_PARSE_TRUNCATED] = "truncated",
	    [STUN_PARSE_NOT_STUN] = "not-stun",
	    [STUN_PARSE_LENGTH_ALIGN] = "length-not-multiple-of-4",
	    [STUN_PARSE_LENGTH_MISMATCH] = "length-mismatch",
	    [STUN_PARSE_ATTR_OVERRUN] = "attribute-overrun",
	    [STUN_PARSE_TOO_MANY_ATTRS] = "too-many-attributes",
	    [STUN_PARSE_ATTR_LENGTH] = "attribute-length",
	    [STUN_PARSE_ADDR_FAMILY] = "address-family",
	    [STUN_PARSE_ERROR_CODE] = "error-code",
	    [STUN_PARSE_BAD_VALUE] = "bad-value",
	    [STUN_PARSE_FINGERPRINT_NOT_LAST] = "fingerprint-not-last",
	    [STUN_PARSE_FINGERPRINT_MISMATCH] = "fingerprint-mismatch",
	};

	return (unsigned)err < STUN_PARSE_ERROR_MAX ? names[err] : "invalid";
}
