/* STUN codec: the four RFC 5769 sample messages decoded field by field from
 * vectors/stun-rfc5769.json, the malformed inputs of SECURITY-NOTES section 6
 * items 18-22 as a numbered table, and builder round trips. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stun/stun.h"

/* A minimal JSON reader: enough of RFC 8259 for the vector files (objects,
 * arrays, strings with escapes, numbers, literals). */
enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jnode {
	enum jtype t;
	char *key;
	char *str;
	double num;
	struct jnode *child, *next;
};

static const char *jp;

static void jskip(void)
{
	while (*jp == ' ' || *jp == '\n' || *jp == '\r' || *jp == '\t')
		jp++;
}

static void put_utf8(char **o, unsigned c)
{
	if (c < 0x80) {
		*(*o)++ = (char)c;
	} else if (c < 0x800) {
		*(*o)++ = (char)(0xC0 | (c >> 6));
		*(*o)++ = (char)(0x80 | (c & 0x3F));
	} else {
		*(*o)++ = (char)(0xE0 | (c >> 12));
		*(*o)++ = (char)(0x80 | ((c >> 6) & 0x3F));
		*(*o)++ = (char)(0x80 | (c & 0x3F));
	}
}

static char *jstring(void)
{
	char *out = malloc(strlen(jp) + 1), *o = out;

	assert_non_null(out);
	assert_int_equal(*jp++, '"');
	while (*jp != '"') {
		assert_true(*jp != '\0');
		if (*jp != '\\') {
			*o++ = *jp++;
			continue;
		}
		jp++;
		switch (*jp) {
		case 'n':
			*o++ = '\n';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'u': {
			unsigned c = 0;
			assert_int_equal(sscanf(jp + 1, "%4x", &c), 1);
			put_utf8(&o, c);
			jp += 4;
			break;
		}
		default:
			*o++ = *jp;
			break;
		}
		jp++;
	}
	jp++;
	*o = '\0';
	return out;
}

static struct jnode *jvalue(void)
{
	struct jnode *n = calloc(1, sizeof(*n)), **tail;

	assert_non_null(n);
	jskip();
	if (*jp == '{' || *jp == '[') {
		char close = *jp == '{' ? '}' : ']';
		n->t = *jp == '{' ? J_OBJ : J_ARR;
		jp++;
		tail = &n->child;
		jskip();
		while (*jp != close) {
			char *key = NULL;
			if (n->t == J_OBJ) {
				key = jstring();
				jskip();
				assert_int_equal(*jp++, ':');
			}
			*tail = jvalue();
			(*tail)->key = key;
			tail = &(*tail)->next;
			jskip();
			if (*jp == ',')
				jp++;
			jskip();
		}
		jp++;
	} else if (*jp == '"') {
		n->t = J_STR;
		n->str = jstring();
	} else if (!strncmp(jp, "true", 4) || !strncmp(jp, "false", 5)) {
		n->t = J_BOOL;
		n->num = *jp == 't';
		jp += *jp == 't' ? 4 : 5;
	} else if (!strncmp(jp, "null", 4)) {
		jp += 4;
	} else {
		char *end;
		n->t = J_NUM;
		n->num = strtod(jp, &end);
		assert_true(end != jp);
		jp = end;
	}
	return n;
}

static const struct jnode *jget(const struct jnode *o, const char *key)
{
	for (const struct jnode *c = o ? o->child : NULL; c; c = c->next)
		if (c->key && !strcmp(c->key, key))
			return c;
	return NULL;
}

static void jfree(struct jnode *n)
{
	while (n) {
		struct jnode *next = n->next;
		jfree(n->child);
		free(n->key);
		free(n->str);
		free(n);
		n = next;
	}
}

static struct jnode *load_json(const char *path)
{
	FILE *f = fopen(path, "rb");
	static char text[1 << 16];
	size_t n;

	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	jp = text;
	return jvalue();
}

/* Hex with optional spaces to bytes; returns the byte count. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v;

	while (*hex) {
		if (*hex == ' ') {
			hex++;
			continue;
		}
		assert_true(n < cap);
		assert_int_equal(sscanf(hex, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

static void assert_addr(const struct sockaddr_storage *ss, const char *ip, unsigned port)
{
	char text[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text)));
		assert_int_equal(ntohs(sin->sin_port), port);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
		assert_int_equal(ss->ss_family, AF_INET6);
		assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text)));
		assert_int_equal(ntohs(sin6->sin6_port), port);
	}
	assert_string_equal(text, ip);
}

static struct sockaddr_storage mkaddr(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	}
	return ss;
}

/* One JSON attribute checked against the parsed message: type, length, value
 * and padding bytes, and the decoded field the JSON gives. */
static void check_vector_attr(const struct stun_msg *msg, const struct jnode *ja)
{
	uint8_t want[1024];
	unsigned type;
	const struct stun_attr *a;
	const struct jnode *j;
	size_t n;

	assert_int_equal(sscanf(jget(ja, "type")->str, "0x%x", &type), 1);
	a = stun_msg_find(msg, (uint16_t)type);
	assert_non_null(a);
	assert_int_equal(strcasecmp(stun_attr_name(a->type), jget(ja, "name")->str), 0);
	assert_int_equal(a->len, (int)jget(ja, "length")->num);
	n = unhex(jget(ja, "value_hex")->str, want, sizeof(want));
	assert_int_equal(n, a->len);
	assert_memory_equal(msg->buf + a->offset, want, n);
	n = unhex(jget(ja, "padding_hex")->str, want, sizeof(want));
	assert_int_equal(n, (4 - a->len % 4) % 4);
	if (n)
		assert_memory_equal(msg->buf + a->offset + a->len, want, n);

	if ((j = jget(ja, "value_text"))) {
		char text[800];
		assert_true(stun_msg_copy_text(msg, a->type, text, sizeof(text)));
		assert_string_equal(text, j->str);
		/* Failure: a buffer one byte short. */
		assert_false(stun_msg_copy_text(msg, a->type, text, strlen(j->str)));
	}
	if ((j = jget(ja, "family"))) {
		struct sockaddr_storage ss;
		assert_true(stun_msg_get_address(msg, a->type, &ss));
		assert_int_equal(ss.ss_family, j->num == 1 ? AF_INET : AF_INET6);
		assert_addr(&ss, jget(ja, "decoded_address")->str,
			    (unsigned)jget(ja, "decoded_port")->num);
		assert_true(stun_msg_get_mapped(msg, &ss));
		assert_addr(&ss, jget(ja, "decoded_address")->str,
			    (unsigned)jget(ja, "decoded_port")->num);
	}
	if (a->type == STUN_ATTR_MESSAGE_INTEGRITY) {
		const uint8_t *hmac;
		size_t off;
		assert_true(stun_msg_get_integrity(msg, &hmac, &off));
		assert_ptr_equal(hmac, msg->buf + a->offset);
		assert_int_equal(off, a->offset - 4);
	}
	if (a->type == STUN_ATTR_FINGERPRINT) {
		unsigned crc;
		assert_int_equal(sscanf(jget(ja, "value_uint32_hex")->str, "0x%x", &crc), 1);
		assert_true(msg->has_fingerprint);
		assert_int_equal(stun_fingerprint(msg->buf, a->offset - 4), crc);
	}
}

/* 1. RFC 5769 sections 2.1-2.4, every field the JSON lists; then every
 * single-bit flip of a message with FINGERPRINT must be refused. */
static void test_stun_msg_parse_rfc5769(void **state)
{
	struct jnode *root = load_json(P2PVPN_VECTORS_DIR "/stun-rfc5769.json");
	int count = 0;

	for (const struct jnode *v = jget(root, "vectors")->child; v; v = v->next, count++) {
		const struct jnode *dec = jget(v, "decoded");
		uint8_t buf[512], txid[12];
		struct stun_msg msg;
		unsigned type, cookie;
		size_t len = unhex(jget(v, "hex")->str, buf, sizeof(buf));
		bool has_fp = false;

		assert_int_equal(len, (size_t)jget(v, "length_bytes")->num);
		assert_true(stun_msg_parse(&msg, buf, len));
		assert_int_equal(msg.error, STUN_PARSE_OK);
		assert_int_equal(sscanf(jget(dec, "message_type")->str, "0x%x", &type), 1);
		assert_int_equal(msg.type, type);
		assert_int_equal(msg.method, STUN_METHOD_BINDING);
		assert_int_equal(msg.cls, type == 0x0001 ? STUN_CLASS_REQUEST : STUN_CLASS_SUCCESS);
		assert_int_equal(len - 20, (size_t)jget(dec, "message_length")->num);
		assert_int_equal(sscanf(jget(dec, "magic_cookie")->str, "0x%x", &cookie), 1);
		assert_int_equal(cookie, STUN_COOKIE);
		assert_false(msg.rfc3489);
		unhex(jget(dec, "transaction_id")->str, txid, sizeof(txid));
		assert_memory_equal(msg.id + 4, txid, sizeof(txid));
		/* PRIORITY is known; ICE-CONTROLLED is optional: no 420. */
		assert_int_equal(msg.nunknown, 0);

		size_t nattr = 0;
		for (const struct jnode *a = jget(dec, "attributes")->child; a; a = a->next) {
			check_vector_attr(&msg, a);
			has_fp |= !strcmp(jget(a, "name")->str, "FINGERPRINT");
			nattr++;
		}
		assert_int_equal(msg.nattrs, nattr);
		assert_int_equal(msg.has_fingerprint, has_fp);

		/* Failure cases: a flipped bit anywhere is caught by some rule
		 * or by the CRC, except in FINGERPRINT's own type field, which can
		 * turn it into another attribute (ignored after MESSAGE-INTEGRITY):
		 * then the message parses without a fingerprint, which a caller
		 * that requires one sees in has_fingerprint. */
		for (size_t i = 0; has_fp && i < len; i++) {
			buf[i] ^= 0x01;
			if (stun_msg_parse(&msg, buf, len) &&
			    (i < len - 8 || i > len - 7 || msg.has_fingerprint))
				fail_msg("flip at byte %zu of %zu accepted", i, len);
			buf[i] ^= 0x01;
		}
		/* A byte of the SOFTWARE/USERNAME text: exactly a CRC mismatch. */
		if (has_fp) {
			buf[28] ^= 0x20;
			assert_false(stun_msg_parse(&msg, buf, len));
			assert_int_equal(msg.error, STUN_PARSE_FINGERPRINT_MISMATCH);
			buf[28] ^= 0x20;
		}
		/* Truncated by one attribute-sized step: the length disagrees. */
		assert_false(stun_msg_parse(&msg, buf, len - 4));
		assert_int_equal(msg.error, STUN_PARSE_LENGTH_MISMATCH);
	}
	assert_int_equal(count, 4);
	jfree(root);
}

/* Frames attrs (hex) with a header; len_delta skews the header length. */
static size_t frame(uint8_t *out, size_t cap, uint16_t type, bool rfc3489, const char *attrs,
		    int len_delta)
{
	static const uint8_t id[16] = {0x21, 0x12, 0xa4, 0x42, 1, 2,  3,  4,
				       5,    6,	   7,	 8,    9, 10, 11, 12};
	size_t n = unhex(attrs, out + 20, cap - 20);
	uint16_t be;

	be = htons(type);
	memcpy(out, &be, 2);
	be = htons((uint16_t)((int)n + len_delta));
	memcpy(out + 2, &be, 2);
	memcpy(out + 4, id, 16);
	if (rfc3489)
		memset(out + 4, 0x5a, 4);
	return n + 20;
}

/* 2. SECURITY-NOTES section 6 items 18-22, in order: header, attributes,
 * addresses, integrity, text limits. Accepted edge cases are in the table
 * too, each next to the case it must not be confused with. */
static void test_stun_msg_parse_malformed(void **state)
{
	static const struct {
		const char *what;
		uint16_t type;
		int len_delta;
		const char *attrs;
		enum stun_parse_error expect;
	} cases[] = {
	    /* 18. header */
	    {"1 length not a multiple of 4", 0x0001, 0, "80220002 4142", STUN_PARSE_LENGTH_ALIGN},
	    {"2 length > datagram", 0x0001, 4, "80220000", STUN_PARSE_LENGTH_MISMATCH},
	    {"3 length < datagram", 0x0001, -4, "80220000", STUN_PARSE_LENGTH_MISMATCH},
	    {"4 top bit set", 0x8001, 0, "", STUN_PARSE_NOT_STUN},
	    {"5 second bit set", 0x4001, 0, "", STUN_PARSE_NOT_STUN},
	    {"6 empty body is fine", 0x0001, 0, "", STUN_PARSE_OK},
	    /* 19. attributes */
	    {"7 attribute past the end", 0x0001, 0, "80220008 41424344", STUN_PARSE_ATTR_OVERRUN},
	    {"8 0xFFFF length", 0x0001, 0, "8022ffff 41424344", STUN_PARSE_ATTR_OVERRUN},
	    {"9 padding past the end", 0x0001, 0, "80220005 41424344", STUN_PARSE_ATTR_OVERRUN},
	    {"10 missing padding", 0x0001, 0, "80220001 41 80220003 424344",
	     STUN_PARSE_ATTR_OVERRUN},
	    {"11 zero-length text", 0x0001, 0, "80220000", STUN_PARSE_OK},
	    {"12 zero-length address", 0x0101, 0, "00200000", STUN_PARSE_ATTR_LENGTH},
	    {"13 padding 0xff accepted", 0x0001, 0, "80220001 41ffffff", STUN_PARSE_OK},
	    {"14 unknown required reported", 0x0001, 0, "7fff0000", STUN_PARSE_OK},
	    /* 20. addresses */
	    {"15 family 3", 0x0101, 0, "00010008 00030001 01020304", STUN_PARSE_ADDR_FAMILY},
	    {"16 family 0", 0x0101, 0, "00200008 00000001 01020304", STUN_PARSE_ADDR_FAMILY},
	    {"17 IPv6 in 8 bytes", 0x0101, 0, "00200008 00020001 01020304", STUN_PARSE_ATTR_LENGTH},
	    {"18 IPv4 in 20 bytes", 0x0101, 0,
	     "00200014 00010001 01020304 00000000 00000000 00000000", STUN_PARSE_ATTR_LENGTH},
	    {"19 IPv4 in 8 bytes", 0x0101, 0, "00200008 00010001 01020304", STUN_PARSE_OK},
	    {"20 OTHER-ADDRESS family 2, 20 bytes", 0x0101, 0,
	     "802c0014 00020d96 20010db8 00000000 00000000 00000001", STUN_PARSE_OK},
	    /* 21. integrity */
	    {"21 MESSAGE-INTEGRITY of 19 bytes", 0x0001, 0,
	     "00080013 00000000 00000000 00000000 00000000 00000000", STUN_PARSE_ATTR_LENGTH},
	    {"22 FINGERPRINT not last", 0x0001, 0, "80280004 00000000 80220000",
	     STUN_PARSE_FINGERPRINT_NOT_LAST},
	    {"23 FINGERPRINT wrong CRC", 0x0001, 0, "80280004 00000000",
	     STUN_PARSE_FINGERPRINT_MISMATCH},
	    {"24 FINGERPRINT of 8 bytes", 0x0001, 0, "80280008 00000000 00000000",
	     STUN_PARSE_ATTR_LENGTH},
	    {"25 after MESSAGE-INTEGRITY: ignored, not judged", 0x0101, 0,
	     "00080014 00000000 00000000 00000000 00000000 00000000 00200008 00030001 01020304",
	     STUN_PARSE_OK},
	    {"26 MESSAGE-INTEGRITY-SHA256 of 12 bytes", 0x0001, 0,
	     "001c000c 00000000 00000000 00000000", STUN_PARSE_ATTR_LENGTH},
	    /* 22. text limits and ERROR-CODE */
	    {"27 ERROR-CODE class 7", 0x0111, 0, "00090004 00000714", STUN_PARSE_ERROR_CODE},
	    {"28 ERROR-CODE class 2", 0x0111, 0, "00090004 00000214", STUN_PARSE_ERROR_CODE},
	    {"29 ERROR-CODE number 100", 0x0111, 0, "00090004 00000464", STUN_PARSE_ERROR_CODE},
	    {"30 ERROR-CODE of 3 bytes", 0x0111, 0, "00090003 00000400", STUN_PARSE_ATTR_LENGTH},
	    {"31 ERROR-CODE 420", 0x0111, 0, "00090004 00000414", STUN_PARSE_OK},
	    {"32 UNKNOWN-ATTRIBUTES odd length", 0x0111, 0, "000a0003 7fff0000",
	     STUN_PARSE_ATTR_LENGTH},
	    /* RFC 5780 values */
	    {"33 CHANGE-REQUEST of 2 bytes", 0x0001, 0, "00030002 00060000",
	     STUN_PARSE_ATTR_LENGTH},
	    {"34 RESPONSE-PORT 0", 0x0001, 0, "00270004 00000000", STUN_PARSE_BAD_VALUE},
	    {"35 RESPONSE-PORT 3479", 0x0001, 0, "00270004 0d970000", STUN_PARSE_OK},
	};
	uint8_t buf[256];
	struct stun_msg msg;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = frame(buf, sizeof(buf), cases[i].type, false, cases[i].attrs,
				   cases[i].len_delta);
		bool ok = stun_msg_parse(&msg, buf, len);

		if (ok != (cases[i].expect == STUN_PARSE_OK) || msg.error != cases[i].expect)
			fail_msg("case %s: got %s, want %s", cases[i].what,
				 stun_parse_error_name(msg.error),
				 stun_parse_error_name(cases[i].expect));
	}

	/* Truncated below the header: every length from 0 to 19. */
	frame(buf, sizeof(buf), 0x0001, false, "", 0);
	for (size_t n = 0; n < 20; n++) {
		assert_false(stun_msg_parse(&msg, buf, n));
		assert_int_equal(msg.error, STUN_PARSE_TRUNCATED);
	}
	assert_true(stun_msg_parse(&msg, buf, 20));
}

/* 3. Unknown comprehension-required types are listed once each for a 420
 * answer; unknown optional ones are skipped silently. */
static void test_stun_msg_parse_unknown_attributes(void **state)
{
	uint8_t buf[256];
	struct stun_msg msg;
	size_t len = frame(buf, sizeof(buf), 0x0001, false,
			   "7fff0000 c0010000 00300004 00000000 7fff0000 80220000", 0);

	assert_true(stun_msg_parse(&msg, buf, len));
	assert_int_equal(msg.nunknown, 2);
	assert_int_equal(msg.unknown[0], 0x7fff);
	assert_int_equal(msg.unknown[1], 0x0030);
	assert_int_equal(msg.nattrs, 5);
	assert_non_null(stun_msg_find(&msg, 0xc001));

	/* Failure side: a message of known and optional types lists nothing. */
	len = frame(buf, sizeof(buf), 0x0001, false, "c0010000 80220000 00030004 00000006", 0);
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_int_equal(msg.nunknown, 0);
	/* After MESSAGE-INTEGRITY an unknown required type is not reported. */
	len = frame(buf, sizeof(buf), 0x0001, false,
		    "00080014 00000000 00000000 00000000 00000000 00000000 7fff0000", 0);
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_int_equal(msg.nunknown, 0);
	assert_null(stun_msg_find(&msg, 0x7fff));
}

/* 4. The attribute count is bounded: 64 pass, 65 and 10,000 fail. */
static void test_stun_msg_parse_attribute_count(void **state)
{
	static uint8_t buf[20 + 4 * 10000];
	struct stun_msg msg;
	const size_t counts[] = {64, 65, 10000};

	for (size_t k = 0; k < 3; k++) {
		size_t n = counts[k];
		uint16_t be = htons((uint16_t)(4 * n));

		memset(buf, 0, sizeof(buf));
		buf[1] = 0x01;
		memcpy(buf + 2, &be, 2);
		buf[4] = 0x21, buf[5] = 0x12, buf[6] = 0xa4, buf[7] = 0x42;
		for (size_t i = 0; i < n; i++)
			buf[20 + 4 * i] = 0x80, buf[21 + 4 * i] = 0x22; /* SOFTWARE, empty */
		if (n <= STUN_MAX_ATTRS) {
			assert_true(stun_msg_parse(&msg, buf, 20 + 4 * n));
			assert_int_equal(msg.nattrs, n);
		} else {
			assert_false(stun_msg_parse(&msg, buf, 20 + 4 * n));
			assert_int_equal(msg.error, STUN_PARSE_TOO_MANY_ATTRS);
		}
	}
}

/* 5. Text limits, each at the limit and one past it. */
static void test_stun_msg_parse_text_limits(void **state)
{
	static const struct {
		uint16_t type;
		size_t max;
	} limits[] = {
	    {STUN_ATTR_USERNAME, 512}, {STUN_ATTR_SOFTWARE, 762},	{STUN_ATTR_REALM, 762},
	    {STUN_ATTR_NONCE, 762},    {STUN_ATTR_ERROR_CODE, 4 + 762},
	};
	uint8_t buf[1024];
	struct stun_msg msg;

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		for (size_t len = limits[i].max; len <= limits[i].max + 1; len++) {
			uint16_t be;

			memset(buf, 0, sizeof(buf));
			buf[1] = limits[i].type == STUN_ATTR_ERROR_CODE ? 0x11 : 0x01;
			buf[0] = limits[i].type == STUN_ATTR_ERROR_CODE ? 0x01 : 0x00;
			be = htons((uint16_t)(4 + ((len + 3) & ~(size_t)3)));
			memcpy(buf + 2, &be, 2);
			buf[4] = 0x21, buf[5] = 0x12, buf[6] = 0xa4, buf[7] = 0x42;
			be = htons(limits[i].type);
			memcpy(buf + 20, &be, 2);
			be = htons((uint16_t)len);
			memcpy(buf + 22, &be, 2);
			memset(buf + 24, 'a', len);
			if (limits[i].type == STUN_ATTR_ERROR_CODE)
				buf[24] = 0, buf[25] = 0, buf[26] = 4, buf[27] = 0;
			bool ok = stun_msg_parse(&msg, buf, 24 + ((len + 3) & ~(size_t)3));
			assert_int_equal(ok, len == limits[i].max);
			if (!ok)
				assert_int_equal(msg.error, STUN_PARSE_ATTR_LENGTH);
		}
	}
}

/* 6. Duplicates: the first wins. MAPPED-ADDRESS and XOR-MAPPED-ADDRESS
 * disagreeing: the XOR form wins. RFC 3489 messages (no cookie) parse. */
static void test_stun_msg_get_mapped_precedence(void **state)
{
	uint8_t buf[256];
	struct stun_msg msg;
	struct sockaddr_storage ss;
	size_t len;

	/* MAPPED 10.0.0.1:1000, then XOR 192.0.2.1:32853 (RFC 5769 2.2 value
	 * re-XORed for this id: port 0x8055^0x2112, address ^ 0x2112a442). */
	len = frame(buf, sizeof(buf), 0x0101, false,
		    "00010008 000103e8 0a000001 00200008 0001a147 e112a643 "
		    "80220003 61626300 80220003 78797a00",
		    0);
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_true(stun_msg_get_mapped(&msg, &ss));
	assert_addr(&ss, "192.0.2.1", 32853);
	assert_true(stun_msg_get_address(&msg, STUN_ATTR_MAPPED_ADDRESS, &ss));
	assert_addr(&ss, "10.0.0.1", 1000);
	char text[8];
	assert_true(stun_msg_copy_text(&msg, STUN_ATTR_SOFTWARE, text, sizeof(text)));
	assert_string_equal(text, "abc");

	/* RFC 3489 response: no cookie, MAPPED-ADDRESS and CHANGED-ADDRESS. */
	len = frame(buf, sizeof(buf), 0x0101, true,
		    "00010008 00011234 c0000201 00050008 00010d97 c0000214", 0);
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_true(msg.rfc3489);
	assert_int_equal(msg.cls, STUN_CLASS_SUCCESS);
	assert_true(stun_msg_get_mapped(&msg, &ss));
	assert_addr(&ss, "192.0.2.1", 0x1234);
	assert_true(stun_msg_get_address(&msg, STUN_ATTR_CHANGED_ADDRESS, &ss));
	assert_addr(&ss, "192.0.2.20", 3479);
	/* Failure: attributes that are absent are reported so. */
	assert_false(stun_msg_get_address(&msg, STUN_ATTR_OTHER_ADDRESS, &ss));
	assert_false(stun_msg_copy_text(&msg, STUN_ATTR_SOFTWARE, text, sizeof(text)));
	assert_false(
	    stun_msg_get_text(&msg, STUN_ATTR_MAPPED_ADDRESS, &(const uint8_t *){0}, &(size_t){0}));
}

/* 7. Message types: every class round-trips through encode and parse. */
static void test_stun_type_encode(void **state)
{
	static const struct {
		uint16_t method;
		enum stun_class cls;
		uint16_t type;
	} types[] = {
	    {0x001, STUN_CLASS_REQUEST, 0x0001}, {0x001, STUN_CLASS_INDICATION, 0x0011},
	    {0x001, STUN_CLASS_SUCCESS, 0x0101}, {0x001, STUN_CLASS_ERROR, 0x0111},
	    {0xFFF, STUN_CLASS_ERROR, 0x3FFF},	 {0x003, STUN_CLASS_REQUEST, 0x0003},
	};
	uint8_t buf[64], id[16] = {0x21, 0x12, 0xa4, 0x42};
	struct stun_builder b;
	struct stun_msg msg;
	size_t len;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_int_equal(stun_type_encode(types[i].method, types[i].cls), types[i].type);
		assert_int_equal(
		    stun_builder_init(&b, buf, sizeof(buf), types[i].method, types[i].cls, id), 0);
		assert_int_equal(stun_builder_finish(&b, false, &len), 0);
		assert_true(stun_msg_parse(&msg, buf, len));
		assert_int_equal(msg.method, types[i].method);
		assert_int_equal(msg.cls, types[i].cls);
	}
	/* Failure: a method wider than 12 bits. */
	assert_int_equal(stun_builder_init(&b, buf, sizeof(buf), 0x1000, STUN_CLASS_REQUEST, id),
			 -EINVAL);
}

/* 8. A full RFC 5780 response built, parsed back and decoded; the XOR
 * encodings match the RFC 5769 bytes. */
static void test_stun_builder_round_trip(void **state)
{
	static const uint8_t id[16] = {0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
				       0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
	uint8_t buf[512], want[20];
	struct stun_builder b;
	struct stun_msg msg;
	struct sockaddr_storage ss, v4 = mkaddr("192.0.2.1", 32853),
				    v6 = mkaddr("2001:db8:1234:5678:11:2233:4455:6677", 32853),
				    mapped4 = mkaddr("::ffff:198.51.100.7", 40000),
				    other = mkaddr("192.0.2.20", 3479),
				    origin = mkaddr("192.0.2.10", 3478);
	const struct stun_attr *a;
	size_t len;

	memset(buf, 0xAA, sizeof(buf));
	assert_int_equal(
	    stun_builder_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, id),
	    0);
	assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &v4), 0);
	assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_MAPPED_ADDRESS, &mapped4), 0);
	assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_OTHER_ADDRESS, &other), 0);
	assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_CHANGED_ADDRESS, &other), 0);
	assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_RESPONSE_ORIGIN, &origin), 0);
	assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_SOURCE_ADDRESS, &v6), 0);
	assert_int_equal(stun_builder_add_text(&b, STUN_ATTR_SOFTWARE, "test vector"), 0);
	assert_int_equal(stun_builder_finish(&b, true, &len), 0);
	/* Everything past the message stays zero: no stale bytes leak. */
	for (size_t i = len; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);

	assert_true(stun_msg_parse(&msg, buf, len));
	assert_true(msg.has_fingerprint);
	assert_int_equal(msg.nunknown, 0);
	a = stun_msg_find(&msg, STUN_ATTR_XOR_MAPPED_ADDRESS);
	assert_non_null(a);
	unhex("0001a147e112a643", want, sizeof(want));
	assert_memory_equal(buf + a->offset, want, 8);
	assert_true(stun_msg_get_mapped(&msg, &ss));
	assert_addr(&ss, "192.0.2.1", 32853);
	assert_true(stun_msg_get_address(&msg, STUN_ATTR_MAPPED_ADDRESS, &ss));
	assert_int_equal(ss.ss_family, AF_INET); /* v4-mapped became family 1 */
	assert_addr(&ss, "198.51.100.7", 40000);
	assert_true(stun_msg_get_address(&msg, STUN_ATTR_OTHER_ADDRESS, &ss));
	assert_addr(&ss, "192.0.2.20", 3479);
	assert_true(stun_msg_get_address(&msg, STUN_ATTR_CHANGED_ADDRESS, &ss));
	assert_addr(&ss, "192.0.2.20", 3479);
	assert_true(stun_msg_get_address(&msg, STUN_ATTR_RESPONSE_ORIGIN, &ss));
	assert_addr(&ss, "192.0.2.10", 3478);
	assert_true(stun_msg_get_address(&msg, STUN_ATTR_SOURCE_ADDRESS, &ss));
	assert_addr(&ss, "2001:db8:1234:5678:11:2233:4455:6677", 32853);
	a = stun_msg_find(&msg, STUN_ATTR_SOFTWARE);
	assert_int_equal(buf[a->offset + 11], 0); /* padding is zero */

	/* IPv6 XOR-MAPPED-ADDRESS gives the RFC 5769 2.3 bytes. */
	assert_int_equal(
	    stun_builder_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, id),
	    0);
	assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &v6), 0);
	assert_int_equal(stun_builder_finish(&b, false, &len), 0);
	unhex("0002a1470113a9faa5d3f179bc25f4b5bed2b9d9", want, sizeof(want));
	assert_memory_equal(buf + 24, want, 20);
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_false(msg.has_fingerprint);
	assert_true(stun_msg_get_mapped(&msg, &ss));
	assert_addr(&ss, "2001:db8:1234:5678:11:2233:4455:6677", 32853);

	/* Failure: one changed byte breaks the FINGERPRINT the builder wrote. */
	assert_int_equal(
	    stun_builder_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, id),
	    0);
	assert_int_equal(stun_builder_add_change_request(&b, STUN_CHANGE_IP | STUN_CHANGE_PORT), 0);
	assert_int_equal(stun_builder_finish(&b, true, &len), 0);
	uint32_t flags = 0;
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_true(stun_msg_get_change_request(&msg, &flags));
	assert_int_equal(flags, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	buf[27] ^= STUN_CHANGE_IP;
	assert_false(stun_msg_parse(&msg, buf, len));
	assert_int_equal(msg.error, STUN_PARSE_FINGERPRINT_MISMATCH);
}

/* 9. A 420 answer: ERROR-CODE and UNKNOWN-ATTRIBUTES round trip. */
static void test_stun_builder_error_response(void **state)
{
	uint8_t buf[256], id[16] = {0x21, 0x12, 0xa4, 0x42, 9};
	const uint16_t unknown[] = {0x7fff, 0x0030, 0x0031};
	uint16_t got[8];
	struct stun_builder b;
	struct stun_msg msg;
	const uint8_t *reason;
	size_t len, rlen, n;
	int code;

	assert_int_equal(
	    stun_builder_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_ERROR, id), 0);
	assert_int_equal(stun_builder_add_error_code(&b, 420, "Unknown Attribute"), 0);
	assert_int_equal(stun_builder_add_unknown_attributes(&b, unknown, 3), 0);
	assert_int_equal(stun_builder_finish(&b, true, &len), 0);
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_int_equal(msg.cls, STUN_CLASS_ERROR);
	assert_true(stun_msg_get_error(&msg, &code, &reason, &rlen));
	assert_int_equal(code, 420);
	assert_int_equal(rlen, strlen("Unknown Attribute"));
	assert_memory_equal(reason, "Unknown Attribute", rlen);
	assert_true(stun_msg_get_unknown_attributes(&msg, got, 8, &n));
	assert_int_equal(n, 3);
	assert_memory_equal(got, unknown, sizeof(unknown));
	/* Failure: codes outside 300..699 are refused, and the error sticks. */
	assert_int_equal(
	    stun_builder_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_ERROR, id), 0);
	assert_int_equal(stun_builder_add_error_code(&b, 700, "x"), -EINVAL);
	assert_int_equal(stun_builder_add_error_code(&b, 299, "x"), -EINVAL);
	assert_int_equal(stun_builder_finish(&b, false, &len), -EINVAL);
}

/* 10. Builder bounds: small buffers, long text, bad families, use after
 * finish. Nothing is ever written past cap. */
static void test_stun_builder_bounds(void **state)
{
	uint8_t buf[64 + 8], id[16] = {0x21, 0x12, 0xa4, 0x42};
	struct stun_builder b;
	struct sockaddr_storage un = {.ss_family = AF_UNIX}, v6 = mkaddr("2001:db8::1", 1);
	char longtext[800];
	size_t len;

	memset(longtext, 'x', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	memset(buf, 0xAA, sizeof(buf));
	assert_int_equal(stun_builder_init(&b, buf, 19, 1, STUN_CLASS_REQUEST, id), -ENOSPC);
	assert_int_equal(buf[0], 0xAA);
	assert_int_equal(stun_builder_init(&b, buf, 43, 1, STUN_CLASS_REQUEST, id), 0);
	assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &v6), -ENOSPC);
	assert_int_equal(stun_builder_add_text(&b, STUN_ATTR_SOFTWARE, "x"), -ENOSPC);
	assert_int_equal(stun_builder_finish(&b, false, &len), -ENOSPC);
	for (size_t i = 43; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xAA);
	assert_int_equal(stun_builder_init(&b, buf, 44, 1, STUN_CLASS_REQUEST, id), 0);
	assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &v6), 0);
	assert_int_equal(stun_builder_finish(&b, false, &len), 0);
	assert_int_equal(len, 44);
	assert_int_equal(buf[44], 0xAA);
	/* After finish nothing more may be added. */
	assert_int_equal(stun_builder_add_text(&b, STUN_ATTR_SOFTWARE, "x"), -EINVAL);

	assert_int_equal(stun_builder_init(&b, buf, sizeof(buf), 1, STUN_CLASS_REQUEST, id), 0);
	assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_MAPPED_ADDRESS, &un),
			 -EAFNOSUPPORT);
	assert_int_equal(stun_builder_init(&b, buf, sizeof(buf), 1, STUN_CLASS_REQUEST, id), 0);
	assert_int_equal(stun_builder_add_text(&b, STUN_ATTR_SOFTWARE, longtext), -EMSGSIZE);
	assert_int_equal(stun_builder_finish(&b, true, &len), -EMSGSIZE);
	assert_int_equal(stun_builder_init(&b, buf, sizeof(buf), 1, STUN_CLASS_REQUEST, id), 0);
	assert_int_equal(stun_builder_add_text(&b, STUN_ATTR_MAPPED_ADDRESS, "x"), -EINVAL);
	assert_int_equal(stun_builder_init(&b, buf, sizeof(buf), 1, STUN_CLASS_REQUEST, id), 0);
	assert_int_equal(stun_builder_add_change_request(&b, 0x1), -EINVAL);
	assert_int_equal(stun_builder_init(&b, buf, sizeof(buf), 1, STUN_CLASS_REQUEST, id), 0);
	assert_int_equal(stun_builder_add_unknown_attributes(&b, NULL, 0), -EINVAL);
	/* FINGERPRINT that does not fit: 20 + 8 > 24. */
	assert_int_equal(stun_builder_init(&b, buf, 24, 1, STUN_CLASS_REQUEST, id), 0);
	assert_int_equal(stun_builder_finish(&b, true, &len), -ENOSPC);
	assert_int_equal(stun_builder_init(&b, buf, 28, 1, STUN_CLASS_REQUEST, id), 0);
	assert_int_equal(stun_builder_finish(&b, true, &len), 0);
	assert_int_equal(len, 28);
}

/* 11. PADDING and RESPONSE-PORT accessors, and names. */
static void test_stun_msg_get_padding_response_port(void **state)
{
	uint8_t buf[256];
	struct stun_msg msg;
	size_t len, plen;
	uint16_t port;

	len = frame(buf, sizeof(buf), 0x0001, false, "00270004 0d970000 00260006 20202020 20200000",
		    0);
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_true(stun_msg_get_response_port(&msg, &port));
	assert_int_equal(port, 3479);
	assert_true(stun_msg_get_padding(&msg, &plen));
	assert_int_equal(plen, 6);
	assert_string_equal(stun_attr_name(STUN_ATTR_RESPONSE_PORT), "response-port");
	assert_string_equal(stun_class_name(STUN_CLASS_ERROR), "error");
	assert_string_equal(stun_parse_error_name(STUN_PARSE_TOO_MANY_ATTRS),
			    "too-many-attributes");
	/* Failure: absent attributes, unknown names. */
	len = frame(buf, sizeof(buf), 0x0001, false, "", 0);
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_false(stun_msg_get_response_port(&msg, &port));
	assert_false(stun_msg_get_padding(&msg, &plen));
	assert_string_equal(stun_attr_name(0x7fff), "unknown");
	assert_string_equal(stun_parse_error_name(STUN_PARSE_ERROR_MAX), "invalid");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stun_msg_parse_rfc5769),
	    cmocka_unit_test(test_stun_msg_parse_malformed),
	    cmocka_unit_test(test_stun_msg_parse_unknown_attributes),
	    cmocka_unit_test(test_stun_msg_parse_attribute_count),
	    cmocka_unit_test(test_stun_msg_parse_text_limits),
	    cmocka_unit_test(test_stun_msg_get_mapped_precedence),
	    cmocka_unit_test(test_stun_type_encode),
	    cmocka_unit_test(test_stun_builder_round_trip),
	    cmocka_unit_test(test_stun_builder_error_response),
	    cmocka_unit_test(test_stun_builder_bounds),
	    cmocka_unit_test(test_stun_msg_get_padding_response_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
