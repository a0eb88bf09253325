/* NAT-PMP codec tests (portmap/natpmp.h): requests against bytes written
 * from RFC 6886's layout (sections 3.2 to 3.4), hand-made answers (address,
 * mapping, delete, errors full and 8 octets long), and the refusal of each
 * malformation alone (short, long, version, a request, another opcode,
 * another internal port, a success without address or port), the output
 * left untouched every time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "portmap/natpmp.h"

static const struct natpmp_map_request map_req = {
    .opcode = NATPMP_OP_MAP_UDP,
    .internal_port = 51820,
    .suggested_port = 51820,
    .lifetime_s = 7200,
};

/* 100.128.77.1, epoch 0x1234. */
static const uint8_t addr_resp[NATPMP_ADDR_RESPONSE_LEN] = {
    0, 128, 0, 0, 0, 0, 0x12, 0x34, 100, 128, 77, 1,
};

/* 51820 -> 40000 for 3600 s, epoch 0x1234. */
static const uint8_t map_resp[NATPMP_MAP_RESPONSE_LEN] = {
    0, 129, 0, 0, 0, 0, 0x12, 0x34, 0xca, 0x6c, 0x9c, 0x40, 0, 0, 0x0e, 0x10,
};

static void test_natpmp_addr_encode(void **state)
{
	uint8_t out[NATPMP_ADDR_REQUEST_LEN];

	assert_int_equal(natpmp_addr_encode(out), 2);
	assert_memory_equal(out, ((uint8_t[]){0, 0}), 2);
}

static void test_natpmp_map_encode(void **state)
{
	static const uint8_t want[] = {0, 1, 0, 0, 0xca, 0x6c, 0xca, 0x6c, 0, 0, 0x1c, 0x20};
	static const uint8_t want_del[] = {0, 2, 0, 0, 0xca, 0x6c, 0, 0, 0, 0, 0, 0};
	struct natpmp_map_request r = map_req;
	uint8_t out[NATPMP_MAP_REQUEST_LEN];

	assert_int_equal(natpmp_map_encode(&r, out), NATPMP_MAP_REQUEST_LEN);
	assert_memory_equal(out, want, sizeof(want));
	r.opcode = NATPMP_OP_MAP_TCP; /* a TCP delete (3.4) */
	r.suggested_port = 0;
	r.lifetime_s = 0;
	assert_int_equal(natpmp_map_encode(&r, out), NATPMP_MAP_REQUEST_LEN);
	assert_memory_equal(out, want_del, sizeof(want_del));
	r.opcode = NATPMP_OP_ADDR;
	assert_int_equal(natpmp_map_encode(&r, out), 0);
	r.opcode = 3;
	assert_int_equal(natpmp_map_encode(&r, out), 0);
}

static void test_natpmp_addr_decode_success(void **state)
{
	struct natpmp_response resp;
	enum natpmp_drop why;
	char ip[INET_ADDRSTRLEN];

	assert_true(natpmp_addr_decode(addr_resp, sizeof(addr_resp), &resp, &why));
	assert_int_equal(why, NATPMP_DROP_NONE);
	assert_int_equal(resp.result, NATPMP_SUCCESS);
	assert_int_equal(resp.epoch_s, 0x1234);
	assert_string_equal(inet_ntop(AF_INET, &resp.external, ip, sizeof(ip)), "100.128.77.1");
}

static void test_natpmp_map_decode_success(void **state)
{
	struct natpmp_response resp;
	enum natpmp_drop why;

	assert_true(natpmp_map_decode(map_resp, sizeof(map_resp), &map_req, &resp, &why));
	assert_int_equal(resp.opcode, NATPMP_OP_MAP_UDP);
	assert_int_equal(resp.internal_port, 51820);
	assert_int_equal(resp.external_port, 40000);
	assert_int_equal(resp.lifetime_s, 3600);
	assert_int_equal(resp.epoch_s, 0x1234);
}

static void test_natpmp_decode_errors(void **state)
{
	uint8_t b[NATPMP_MAP_RESPONSE_LEN];
	struct natpmp_response resp;
	enum natpmp_drop why;

	/* Full length, result NOT_AUTHORIZED. */
	memcpy(b, map_resp, sizeof(b));
	b[3] = NATPMP_NOT_AUTHORIZED;
	b[10] = b[11] = 0;
	assert_true(natpmp_map_decode(b, sizeof(b), &map_req, &resp, &why));
	assert_int_equal(resp.result, NATPMP_NOT_AUTHORIZED);
	/* Header and epoch only (3.5). */
	b[3] = NATPMP_UNSUPP_OPCODE;
	assert_true(natpmp_map_decode(b, NATPMP_ERROR_LEN, &map_req, &resp, &why));
	assert_int_equal(resp.result, NATPMP_UNSUPP_OPCODE);
	memcpy(b, addr_resp, sizeof(addr_resp));
	b[3] = NATPMP_NETWORK_FAILURE;
	memset(b + 8, 0, 4);
	assert_true(natpmp_addr_decode(b, NATPMP_ADDR_RESPONSE_LEN, &resp, &why));
	assert_int_equal(resp.result, NATPMP_NETWORK_FAILURE);
	assert_true(natpmp_addr_decode(b, NATPMP_ERROR_LEN, &resp, &why));
	/* A delete's answer: lifetime and port 0. */
	memcpy(b, map_resp, sizeof(b));
	memset(b + 10, 0, 6);
	assert_true(natpmp_map_decode(b, sizeof(b), &map_req, &resp, &why));
	assert_int_equal(resp.lifetime_s, 0);
}

struct bad {
	const char *what;
	size_t len;
	int at; /* -1: no byte changed */
	uint8_t value;
	enum natpmp_drop why;
};

static void run_bad(const uint8_t *good, size_t good_len, const struct bad *cases, size_t n,
		    bool map)
{
	uint8_t b[64];

	for (size_t i = 0; i < n; i++) {
		struct natpmp_response resp, sentinel;
		enum natpmp_drop why;
		bool ok;

		memset(b, 0, sizeof(b));
		memcpy(b, good, good_len);
		if (cases[i].at >= 0)
			b[cases[i].at] = cases[i].value;
		memset(&sentinel, 0x5a, sizeof(sentinel));
		resp = sentinel;
		ok = map ? natpmp_map_decode(b, cases[i].len, &map_req, &resp, &why)
			 : natpmp_addr_decode(b, cases[i].len, &resp, &why);
		if (ok || why != cases[i].why)
			fail_msg("%s: %s, want %s", cases[i].what,
				 ok ? "accepted" : natpmp_drop_name(why),
				 natpmp_drop_name(cases[i].why));
		assert_memory_equal(&resp, &sentinel, sizeof(resp));
	}
}

static void test_natpmp_map_decode_malformed(void **state)
{
	static const struct bad cases[] = {
	    {"empty", 0, -1, 0, NATPMP_DROP_SHORT},
	    {"7 octets", 7, -1, 0, NATPMP_DROP_SHORT},
	    {"success in 8", 8, -1, 0, NATPMP_DROP_SHORT},
	    {"success in 12", 12, -1, 0, NATPMP_DROP_SHORT},
	    {"error in 12", 12, 3, 2, NATPMP_DROP_SHORT},
	    {"17 octets", 17, -1, 0, NATPMP_DROP_LONG},
	    {"version 2 (PCP)", 16, 0, 2, NATPMP_DROP_VERSION},
	    {"a request", 16, 1, 1, NATPMP_DROP_NOT_RESPONSE},
	    {"TCP's answer", 16, 1, 130, NATPMP_DROP_OPCODE},
	    {"address answer", 16, 1, 128, NATPMP_DROP_OPCODE},
	    {"internal port", 16, 9, 0x6d, NATPMP_DROP_PORT},
	};
	uint8_t b[NATPMP_MAP_RESPONSE_LEN];

	run_bad(map_resp, sizeof(map_resp), cases, sizeof(cases) / sizeof(cases[0]), true);
	/* A success with port 0 and a lifetime is no mapping. */
	memcpy(b, map_resp, sizeof(b));
	b[10] = b[11] = 0;
	{
		struct natpmp_response resp;
		enum natpmp_drop why;

		assert_false(natpmp_map_decode(b, sizeof(b), &map_req, &resp, &why));
		assert_int_equal(why, NATPMP_DROP_ADDRESS);
	}
}

static void test_natpmp_addr_decode_malformed(void **state)
{
	static const struct bad cases[] = {
	    {"empty", 0, -1, 0, NATPMP_DROP_SHORT},
	    {"success in 8", 8, -1, 0, NATPMP_DROP_SHORT},
	    {"11 octets", 11, -1, 0, NATPMP_DROP_SHORT},
	    {"13 octets", 13, -1, 0, NATPMP_DROP_LONG},
	    {"16 octets", 16, -1, 0, NATPMP_DROP_LONG},
	    {"version 1", 12, 0, 1, NATPMP_DROP_VERSION},
	    {"a request", 12, 1, 0, NATPMP_DROP_NOT_RESPONSE},
	    {"map answer", 12, 1, 129, NATPMP_DROP_OPCODE},
	    {"multicast", 12, 8, 224, NATPMP_DROP_ADDRESS},
	};
	uint8_t zero[NATPMP_ADDR_RESPONSE_LEN];

	run_bad(addr_resp, sizeof(addr_resp), cases, sizeof(cases) / sizeof(cases[0]), false);
	memcpy(zero, addr_resp, sizeof(zero));
	memset(zero + 8, 0, 4);
	run_bad(zero, sizeof(zero), (struct bad[]){{"0.0.0.0", 12, -1, 0, NATPMP_DROP_ADDRESS}}, 1,
		false);
	memset(zero + 8, 0xff, 4);
	run_bad(zero, sizeof(zero),
		(struct bad[]){{"255.255.255.255", 12, -1, 0, NATPMP_DROP_ADDRESS}}, 1, false);
}

static void test_natpmp_result_name(void **state)
{
	static const char *const want[] = {"SUCCESS",	      "UNSUPP_VERSION", "NOT_AUTHORIZED",
					   "NETWORK_FAILURE", "NO_RESOURCES",	"UNSUPP_OPCODE"};

	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(natpmp_result_name((uint16_t)i), want[i]);
	assert_string_equal(natpmp_result_name(6), "unknown");
	assert_string_equal(natpmp_result_name(0xffff), "unknown");
	for (int d = NATPMP_DROP_NONE; d <= NATPMP_DROP_ADDRESS; d++)
		assert_string_not_equal(natpmp_drop_name((enum natpmp_drop)d), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_natpmp_addr_encode),
	    cmocka_unit_test(test_natpmp_map_encode),
	    cmocka_unit_test(test_natpmp_addr_decode_success),
	    cmocka_unit_test(test_natpmp_map_decode_success),
	    cmocka_unit_test(test_natpmp_decode_errors),
	    cmocka_unit_test(test_natpmp_map_decode_malformed),
	    cmocka_unit_test(test_natpmp_addr_decode_malformed),
	    cmocka_unit_test(test_natpmp_result_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
