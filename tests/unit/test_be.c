/* Byte-order field helpers (util/be.h): each one against a fixed byte
 * string, at an odd offset so that no alignment is assumed, and a put/get
 * round trip of values with every byte distinct (a swapped or dropped byte
 * shows as a different value). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/be.h"

static const uint8_t bytes[9] = {0xee, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

static void test_be_get_put(void **state)
{
	uint8_t buf[9];

	assert_int_equal(be16_get(bytes + 1), 0x0123);
	assert_int_equal(be32_get(bytes + 1), 0x01234567);
	memset(buf, 0xee, sizeof(buf));
	be16_put(buf + 1, 0x0123);
	assert_memory_equal(buf, bytes, 3);
	be32_put(buf + 1, 0x01234567);
	assert_memory_equal(buf, bytes, 5);
	assert_int_equal(buf[5], 0xee);
}

static void test_le_get(void **state)
{
	assert_int_equal(le16_get(bytes + 1), 0x2301);
	assert_int_equal(le32_get(bytes + 1), 0x67452301);
	assert_true(le64_get(bytes + 1) == 0xefcdab8967452301ull);
}

static void test_le_put(void **state)
{
	uint8_t buf[9];

	memset(buf, 0xee, sizeof(buf));
	le16_put(buf + 1, 0x2301);
	assert_memory_equal(buf, bytes, 3);
	assert_int_equal(buf[3], 0xee);
	le32_put(buf + 1, 0x67452301);
	assert_memory_equal(buf, bytes, 5);
	assert_int_equal(buf[5], 0xee);
	le64_put(buf + 1, 0xefcdab8967452301ull);
	assert_memory_equal(buf, bytes, 9);
}

static void test_le_round_trip(void **state)
{
	const uint64_t v[] = {0, 1, 0x8000000000000000ull, 0x0102030405060708ull, UINT64_MAX};
	uint8_t buf[8];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		le64_put(buf, v[i]);
		assert_true(le64_get(buf) == v[i]);
		assert_int_equal(buf[0], (uint8_t)v[i]);
		assert_int_equal(buf[7], (uint8_t)(v[i] >> 56));
		le32_put(buf, (uint32_t)v[i]);
		assert_int_equal(le32_get(buf), (uint32_t)v[i]);
		le16_put(buf, (uint16_t)v[i]);
		assert_int_equal(le16_get(buf), (uint16_t)v[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_be_get_put),
	    cmocka_unit_test(test_le_get),
	    cmocka_unit_test(test_le_put),
	    cmocka_unit_test(test_le_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
