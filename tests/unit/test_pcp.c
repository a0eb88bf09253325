/* PCP codec tests (portmap/pcp.h): a MAP request against bytes written out
 * by hand from RFC 6887's layout (sections 7.1 and 11.1), an ANNOUNCE
 * request (section 14.1) likewise, the decoding of a
 * hand-made success, error, delete and ANNOUNCE response, and the refusal
 * of every malformation one at a time (short, long, unaligned, version, R
 * bit, opcode, nonce, protocol, port, options, address), each leaving the
 * output untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "portmap/pcp.h"

static struct sockaddr_storage sa4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage sa6(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
	return ss;
}

static struct pcp_map_request request(void)
{
	struct pcp_map_request r;

	memset(&r, 0, sizeof(r));
	r.lifetime_s = 7200;
	r.client = sa4("192.168.1.10", 0);
	for (int i = 0; i < PCP_NONCE_LEN; i++)
		r.nonce[i] = (uint8_t)(i + 1);
	r.protocol = PCP_PROTO_UDP;
	r.internal_port = 51820;
	r.suggested.ss_family = AF_UNSPEC;
	return r;
}

/* The request above, field by field. */
static const uint8_t request_bytes[PCP_MAP_LEN] = {
    0x02, 0x01, 0x00, 0x00, /* version 2, R=0 MAP, reserved */
    0x00, 0x00, 0x1c, 0x20, /* requested lifetime 7200 s */
    0,	  0,	0,    0,    0, 0, 0, 0, 0, 0,  0xff, 0xff,
    192,  168,	1,    10,				 /* client ::ffff:192.168.1.10 */
    1,	  2,	3,    4,    5, 6, 7, 8, 9, 10, 11,   12, /* mapping nonce */
    17,	  0,	0,    0,				 /* protocol UDP, reserved */
    0xca, 0x6c, 0xca, 0x6c, /* internal port 51820, suggested external port 51820 */
    0,	  0,	0,    0,    0, 0, 0, 0, 0, 0,  0xff, 0xff,
    0,	  0,	0,    0, /* suggested ::ffff:0.0.0.0 */
};

/* A success for it: 40000 on 100.128.77.1 for 3600 s, epoch 0x1234. */
static const uint8_t response_bytes[PCP_MAP_LEN] = {
    0x02, 0x81, 0x00, 0x00,				/* version 2, R=1 MAP, reserved, SUCCESS */
    0x00, 0x00, 0x0e, 0x10,				/* lifetime 3600 s */
    0x00, 0x00, 0x12, 0x34,				/* epoch time */
    0,	  0,	0,    0,    0, 0, 0, 0, 0, 0,  0,    0, /* reserved */
    1,	  2,	3,    4,    5, 6, 7, 8, 9, 10, 11,   12,   17,	0,   0,	 0,
    0xca, 0x6c, 0x9c, 0x40, /* internal 51820, assigned external 40000 */
    0,	  0,	0,    0,    0, 0, 0, 0, 0, 0,  0xff, 0xff, 100, 128, 77, 1,
};

static void test_pcp_map_encode_v4(void **state)
{
	struct pcp_map_request r = request();
	uint8_t out[PCP_MAP_LEN];

	r.suggested = sa4("0.0.0.0", 51820);
	assert_int_equal(pcp_map_encode(&r, out), PCP_MAP_LEN);
	assert_memory_equal(out, request_bytes, PCP_MAP_LEN);
	/* No suggestion at all: port 0, address still the IPv4 zero. */
	r.suggested.ss_family = AF_UNSPEC;
	assert_int_equal(pcp_map_encode(&r, out), PCP_MAP_LEN);
	assert_int_equal(out[42], 0);
	assert_int_equal(out[43], 0);
	assert_memory_equal(out + 44, request_bytes + 44, 16);
}

static void test_pcp_map_encode_v6_delete(void **state)
{
	struct pcp_map_request r = request();
	uint8_t out[PCP_MAP_LEN], want[PCP_MAP_LEN];
	static const uint8_t client[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
					   0,	 0,    0,    0,	   0, 0, 0, 5};

	r.client = sa6("2001:db8::5", 0);
	r.lifetime_s = 0; /* section 15: a delete */
	r.protocol = PCP_PROTO_TCP;
	r.suggested.ss_family = AF_UNSPEC;
	memcpy(want, request_bytes, sizeof(want));
	memset(want + 4, 0, 4);
	memcpy(want + 8, client, 16);
	want[36] = 6;
	want[42] = want[43] = 0;
	memset(want + 44, 0, 16); /* no preference in IPv6 is :: */
	assert_int_equal(pcp_map_encode(&r, out), PCP_MAP_LEN);
	assert_memory_equal(out, want, PCP_MAP_LEN);
}

static void test_pcp_map_encode_bad_family(void **state)
{
	struct pcp_map_request r = request();
	uint8_t out[PCP_MAP_LEN];

	r.client.ss_family = AF_UNIX;
	assert_int_equal(pcp_map_encode(&r, out), 0);
}

static void test_pcp_map_decode_success(void **state)
{
	struct pcp_map_request r = request();
	struct pcp_response resp;
	struct sockaddr_storage want = sa4("100.128.77.1", 40000);
	enum pcp_drop why;

	assert_true(pcp_map_decode(response_bytes, sizeof(response_bytes), &r, &resp, &why));
	assert_int_equal(why, PCP_DROP_NONE);
	assert_int_equal(resp.opcode, PCP_OP_MAP);
	assert_int_equal(resp.result, PCP_SUCCESS);
	assert_int_equal(resp.lifetime_s, 3600);
	assert_int_equal(resp.epoch_s, 0x1234);
	assert_memory_equal(&resp.external, &want, sizeof(struct sockaddr_in));
}

static void test_pcp_map_decode_v6_external(void **state)
{
	struct pcp_map_request r = request();
	struct pcp_response resp;
	struct sockaddr_storage want = sa6("2001:db8::77", 40000);
	uint8_t b[PCP_MAP_LEN];
	enum pcp_drop why;

	memcpy(b, response_bytes, sizeof(b));
	memcpy(b + 44, &((struct sockaddr_in6 *)&want)->sin6_addr, 16);
	assert_true(pcp_map_decode(b, sizeof(b), &r, &resp, &why));
	assert_memory_equal(&resp.external, &want, sizeof(struct sockaddr_in6));
}

static void test_pcp_map_decode_options(void **state)
{
	struct pcp_map_request r = request();
	struct pcp_response resp;
	uint8_t b[PCP_MAP_LEN + 16];
	enum pcp_drop why;

	memcpy(b, response_bytes, PCP_MAP_LEN);
	/* Two options: code 1 with 2 octets padded to 4, code 0x80 empty,
	 * then code 3 with 4 octets: exactly to the end. */
	memcpy(b + 60, (uint8_t[]){1, 0, 0, 2, 0xaa, 0xbb, 0, 0, 0x80, 0, 0, 0}, 12);
	assert_true(pcp_map_decode(b, PCP_MAP_LEN + 12, &r, &resp, &why));
	memcpy(b + 60, (uint8_t[]){3, 0, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 16);
	assert_true(pcp_map_decode(b, PCP_MAP_LEN + 16, &r, &resp, &why));
	assert_int_equal(resp.lifetime_s, 3600);
}

static void test_pcp_map_decode_error_result(void **state)
{
	struct pcp_map_request r = request();
	struct pcp_response resp;
	uint8_t b[PCP_MAP_LEN];
	enum pcp_drop why;

	memcpy(b, response_bytes, sizeof(b));
	b[3] = PCP_NO_RESOURCES;
	b[4] = 0, b[5] = 0, b[6] = 0, b[7] = 30; /* the error lasts 30 s */
	memset(b + 44, 0, 16);			 /* errors need no address */
	assert_true(pcp_map_decode(b, sizeof(b), &r, &resp, &why));
	assert_int_equal(resp.result, PCP_NO_RESOURCES);
	assert_int_equal(resp.lifetime_s, 30);
	assert_string_equal(pcp_result_name(resp.result), "NO_RESOURCES");
}

static void test_pcp_map_decode_delete_answer(void **state)
{
	struct pcp_map_request r = request();
	struct pcp_response resp;
	uint8_t b[PCP_MAP_LEN];
	enum pcp_drop why;

	memcpy(b, response_bytes, sizeof(b));
	memset(b + 4, 0, 4);   /* lifetime 0: deleted */
	memset(b + 42, 0, 18); /* port and address zero */
	assert_true(pcp_map_decode(b, sizeof(b), &r, &resp, &why));
	assert_int_equal(resp.lifetime_s, 0);
}

/* Each case changes the good response in one way; all are refused with
 * their reason and leave the output as it was. */
static void test_pcp_map_decode_malformed(void **state)
{
	struct pcp_map_request r = request();
	static uint8_t b[PCP_MAX_LEN + 8];
	struct {
		const char *what;
		size_t len;
		size_t at; /* SIZE_MAX: no byte changed */
		uint8_t value;
		enum pcp_drop why;
	} cases[] = {
	    {"empty", 0, SIZE_MAX, 0, PCP_DROP_SHORT},
	    {"header cut", 20, SIZE_MAX, 0, PCP_DROP_SHORT},
	    {"header only", 24, SIZE_MAX, 0, PCP_DROP_SHORT},
	    {"payload cut", 56, SIZE_MAX, 0, PCP_DROP_SHORT},
	    {"one octet short", 59, SIZE_MAX, 0, PCP_DROP_UNALIGNED},
	    {"one octet more", 61, SIZE_MAX, 0, PCP_DROP_UNALIGNED},
	    {"over 1100", 1104, SIZE_MAX, 0, PCP_DROP_LONG},
	    {"version 1", 60, 0, 1, PCP_DROP_VERSION},
	    {"version 0", 60, 0, 0, PCP_DROP_VERSION},
	    {"a request", 60, 1, PCP_OP_MAP, PCP_DROP_NOT_RESPONSE},
	    {"PEER", 60, 1, PCP_R_BIT | PCP_OP_PEER, PCP_DROP_OPCODE},
	    {"ANNOUNCE", 60, 1, PCP_R_BIT | PCP_OP_ANNOUNCE, PCP_DROP_OPCODE},
	    {"nonce first", 60, 24, 0x41, PCP_DROP_NONCE},
	    {"nonce last", 60, 35, 0x41, PCP_DROP_NONCE},
	    {"TCP", 60, 36, PCP_PROTO_TCP, PCP_DROP_PROTOCOL},
	    {"internal port", 60, 41, 0x6d, PCP_DROP_PORT},
	    {"multicast", 60, 56, 224, PCP_DROP_ADDRESS},
	    {"option longer than the rest", 64, 62, 1, PCP_DROP_OPTION}, /* length 256 */
	    {"second option past the end", 68, 67, 8, PCP_DROP_OPTION},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pcp_response resp, sentinel;
		enum pcp_drop why;

		memset(b, 0, sizeof(b));
		memcpy(b, response_bytes, PCP_MAP_LEN);
		if (cases[i].at != SIZE_MAX)
			b[cases[i].at] = cases[i].value;
		if (cases[i].len == 68) /* an empty option first, then one that says 8 */
			b[60] = 1, b[64] = 2;
		memset(&sentinel, 0x5a, sizeof(sentinel));
		resp = sentinel;
		assert_false(pcp_map_decode(b, cases[i].len, &r, &resp, &why));
		if (why != cases[i].why)
			fail_msg("%s: %s, want %s", cases[i].what, pcp_drop_name(why),
				 pcp_drop_name(cases[i].why));
		assert_memory_equal(&resp, &sentinel, sizeof(resp));
	}
	/* A success with the zero address is no mapping either. */
	{
		struct pcp_response resp;
		enum pcp_drop why;

		memcpy(b, response_bytes, PCP_MAP_LEN);
		memset(b + 56, 0, 4);
		assert_false(pcp_map_decode(b, PCP_MAP_LEN, &r, &resp, &why));
		assert_int_equal(why, PCP_DROP_ADDRESS);
		memcpy(b, response_bytes, PCP_MAP_LEN);
		b[42] = b[43] = 0; /* port 0 */
		assert_false(pcp_map_decode(b, PCP_MAP_LEN, &r, &resp, &why));
		assert_int_equal(why, PCP_DROP_ADDRESS);
	}
}

static void test_pcp_announce_decode(void **state)
{
	uint8_t b[PCP_HEADER_LEN] = {2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
	struct pcp_response resp;
	enum pcp_drop why;

	assert_true(pcp_announce_decode(b, sizeof(b), &resp, &why));
	assert_int_equal(resp.opcode, PCP_OP_ANNOUNCE);
	assert_int_equal(resp.epoch_s, 9);
	b[1] = 0x81;
	assert_false(pcp_announce_decode(b, sizeof(b), &resp, &why));
	assert_int_equal(why, PCP_DROP_OPCODE);
	b[1] = 0x00;
	assert_false(pcp_announce_decode(b, sizeof(b), &resp, &why));
	assert_int_equal(why, PCP_DROP_NOT_RESPONSE);
	assert_false(pcp_announce_decode(response_bytes, 22, &resp, &why));
	assert_int_equal(why, PCP_DROP_SHORT);
}

/* ANNOUNCE request (14.1): the 24-octet header, opcode 0, lifetime 0, the
 * client's address; written out by hand. */
static void test_pcp_announce_encode(void **state)
{
	static const uint8_t want_v4[PCP_HEADER_LEN] = {
	    0x02, 0x00, 0x00, 0x00, /* version 2, R=0 ANNOUNCE, reserved */
	    0x00, 0x00, 0x00, 0x00, /* lifetime 0 */
	    0,	  0,	0,    0,    0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 10,
	};
	struct sockaddr_storage v4 = sa4("192.168.1.10", 5350), v6 = sa6("2001:db8::7", 0);
	struct sockaddr_storage none = {.ss_family = AF_UNIX};
	uint8_t out[PCP_HEADER_LEN], mapped[16] = {0x20, 0x01, 0x0d, 0xb8};

	memset(out, 0xa5, sizeof(out));
	assert_int_equal(pcp_announce_encode(&v4, out), PCP_HEADER_LEN);
	assert_memory_equal(out, want_v4, PCP_HEADER_LEN);
	assert_int_equal(pcp_announce_encode(&v6, out), PCP_HEADER_LEN);
	mapped[15] = 7;
	assert_int_equal(out[0], PCP_VERSION);
	assert_int_equal(out[1], PCP_OP_ANNOUNCE);
	assert_memory_equal(out + 2, (uint8_t[6]){0}, 6);
	assert_memory_equal(out + 8, mapped, 16);
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(pcp_announce_encode(&none, out), 0);
	assert_int_equal(out[0], 0xa5); /* untouched */
	/* A server's echo of our request is not its answer. */
	{
		struct pcp_response resp;
		enum pcp_drop why;

		assert_int_equal(pcp_announce_encode(&v4, out), PCP_HEADER_LEN);
		assert_false(pcp_announce_decode(out, sizeof(out), &resp, &why));
		assert_int_equal(why, PCP_DROP_NOT_RESPONSE);
		out[1] |= PCP_R_BIT;
		assert_true(pcp_announce_decode(out, sizeof(out), &resp, &why));
		assert_int_equal(resp.lifetime_s, 0);
	}
}

static void test_pcp_is_unsupp_version(void **state)
{
	/* NAT-PMP gateway answering our version 2 (RFC 6886 3.5). */
	const uint8_t natpmp[8] = {0, 0x81, 0, 1, 0, 0, 0, 5};
	uint8_t b[PCP_MAP_LEN];

	assert_true(pcp_is_unsupp_version(natpmp, sizeof(natpmp)));
	assert_false(pcp_is_unsupp_version(natpmp, 7));
	memcpy(b, response_bytes, sizeof(b));
	assert_false(pcp_is_unsupp_version(b, sizeof(b)));
	b[3] = PCP_UNSUPP_VERSION;
	b[0] = 1; /* the server's own version */
	assert_true(pcp_is_unsupp_version(b, PCP_HEADER_LEN));
	b[1] = PCP_OP_MAP; /* no R bit: not an answer */
	assert_false(pcp_is_unsupp_version(b, PCP_HEADER_LEN));
}

static void test_pcp_result_name(void **state)
{
	static const char *const want[] = {
	    "SUCCESS",		 "UNSUPP_VERSION",	   "NOT_AUTHORIZED",
	    "MALFORMED_REQUEST", "UNSUPP_OPCODE",	   "UNSUPP_OPTION",
	    "MALFORMED_OPTION",	 "NETWORK_FAILURE",	   "NO_RESOURCES",
	    "UNSUPP_PROTOCOL",	 "USER_EX_QUOTA",	   "CANNOT_PROVIDE_EXTERNAL",
	    "ADDRESS_MISMATCH",	 "EXCESSIVE_REMOTE_PEERS",
	};

	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(pcp_result_name((uint8_t)i), want[i]);
	assert_string_equal(pcp_result_name(14), "unknown");
	assert_string_equal(pcp_result_name(255), "unknown");
	for (int d = PCP_DROP_NONE; d <= PCP_DROP_ADDRESS; d++)
		assert_string_not_equal(pcp_drop_name((enum pcp_drop)d), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pcp_map_encode_v4),
	    cmocka_unit_test(test_pcp_map_encode_v6_delete),
	    cmocka_unit_test(test_pcp_map_encode_bad_family),
	    cmocka_unit_test(test_pcp_map_decode_success),
	    cmocka_unit_test(test_pcp_map_decode_v6_external),
	    cmocka_unit_test(test_pcp_map_decode_options),
	    cmocka_unit_test(test_pcp_map_decode_error_result),
	    cmocka_unit_test(test_pcp_map_decode_delete_answer),
	    cmocka_unit_test(test_pcp_map_decode_malformed),
	    cmocka_unit_test(test_pcp_announce_decode),
	    cmocka_unit_test(test_pcp_announce_encode),
	    cmocka_unit_test(test_pcp_is_unsupp_version),
	    cmocka_unit_test(test_pcp_result_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
