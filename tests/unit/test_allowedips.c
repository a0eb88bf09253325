/* Allowed-IPs table tests: numbered tables of inserts and lookups that walk
 * the edges (/0, /32, /128, nested prefixes, diverging siblings, replacement,
 * removal, v4 against v6), then a comparison against a linear scan over a few
 * thousand random, deliberately overlapping prefixes, before and after peers
 * are removed. Peers are small integers cast to pointers. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "routing/allowedips.h"

#define PEER(n) ((void *)(uintptr_t)(n))

struct prefix {
	const char *addr;
	uint8_t plen;
	int peer;
};

struct probe {
	const char *addr;
	int peer; /* 0: no owner */
};

static int family_of(const char *s)
{
	return strchr(s, ':') ? AF_INET6 : AF_INET;
}

static void parse_addr(const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(family_of(s), s, out), 1);
}

static void insert_all(struct rt_table *t, const struct prefix *p, size_t n)
{
	uint8_t a[16];

	for (size_t i = 0; i < n; i++) {
		parse_addr(p[i].addr, a);
		assert_int_equal(rt_insert(t, family_of(p[i].addr), a, p[i].plen, PEER(p[i].peer)),
				 0);
	}
}

static void check_all(const struct rt_table *t, const struct probe *q, size_t n)
{
	uint8_t a[16];

	for (size_t i = 0; i < n; i++) {
		parse_addr(q[i].addr, a);
		void *got = rt_lookup(t, family_of(q[i].addr), a);
		if (got != PEER(q[i].peer))
			fail_msg("probe %zu (%s): got peer %d, want %d", i, q[i].addr,
				 (int)(uintptr_t)got, q[i].peer);
	}
}

#define N(x) (sizeof(x) / sizeof((x)[0]))

static void test_rt_lookup_empty(void **state)
{
	static const struct probe q[] = {
	    /* 1 */ {"0.0.0.0", 0},
	    /* 2 */ {"10.1.2.3", 0},
	    /* 3 */ {"255.255.255.255", 0},
	    /* 4 */ {"::", 0},
	    /* 5 */ {"2001:db8::1", 0},
	};
	struct rt_table t;

	rt_table_init(&t);
	check_all(&t, q, N(q));
	assert_int_equal(rt_count(&t), 0);
	rt_remove_peer(&t, PEER(1)); /* on an empty table: nothing happens */
	assert_int_equal(rt_count(&t), 0);
	rt_table_cleanup(&t);
}

static void test_rt_insert_bad_input(void **state)
{
	uint8_t a[16] = {10};
	struct rt_table t;

	rt_table_init(&t);
	assert_int_equal(rt_insert(&t, AF_INET, a, 33, PEER(1)), -EINVAL);
	assert_int_equal(rt_insert(&t, AF_INET6, a, 129, PEER(1)), -EINVAL);
	assert_int_equal(rt_insert(&t, AF_INET, a, 8, NULL), -EINVAL);
	assert_int_equal(rt_insert(&t, AF_INET, NULL, 8, PEER(1)), -EINVAL);
	assert_int_equal(rt_insert(&t, AF_UNIX, a, 8, PEER(1)), -EAFNOSUPPORT);
	assert_int_equal(rt_count(&t), 0);
	assert_null(rt_lookup(&t, AF_INET, a));
	/* The longest valid lengths are accepted. */
	assert_int_equal(rt_insert(&t, AF_INET, a, 32, PEER(1)), 0);
	assert_int_equal(rt_insert(&t, AF_INET6, a, 128, PEER(2)), 0);
	assert_int_equal(rt_count(&t), 2);
	assert_null(rt_lookup(&t, AF_UNIX, a));
	rt_table_cleanup(&t);
	assert_int_equal(rt_count(&t), 0);
	assert_null(rt_lookup(&t, AF_INET, a));
}

static void test_rt_lookup_default_and_host_routes(void **state)
{
	static const struct prefix p[] = {
	    {"0.0.0.0", 0, 1},
	    {"192.0.2.1", 32, 2},
	    {"::", 0, 3},
	    {"2001:db8::1", 128, 4},
	};
	static const struct probe q[] = {
	    /* 1 */ {"192.0.2.1", 2}, /* /32 exact */
	    /* 2 */ {"192.0.2.0", 1}, /* one below: default */
	    /* 3 */ {"192.0.2.2", 1}, /* one above: default */
	    /* 4 */ {"0.0.0.0", 1},
	    /* 5 */ {"255.255.255.255", 1},
	    /* 6 */ {"2001:db8::1", 4}, /* /128 exact */
	    /* 7 */ {"2001:db8::", 3},
	    /* 8 */ {"2001:db8::3", 3}, /* last bit differs */
	    /* 9 */ {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 3},
	};
	struct rt_table t;

	rt_table_init(&t);
	insert_all(&t, p, N(p));
	assert_int_equal(rt_count(&t), 4);
	check_all(&t, q, N(q));
	rt_table_cleanup(&t);
}

static void test_rt_lookup_nested_longest_wins(void **state)
{
	/* Inserted shortest-last, so each insert lands above existing nodes. */
	static const struct prefix p[] = {
	    {"10.1.2.3", 32, 4},   {"10.1.2.0", 24, 3},	   {"10.1.0.0", 16, 2}, {"10.0.0.0", 8, 1},
	    {"10.1.2.128", 25, 5}, {"10.128.0.0", 9, 6},   {"fd00::", 8, 7},	{"fd00:1::", 32, 8},
	    {"fd00:1:2::", 48, 9}, {"fd00:1:2::", 47, 10}, /* a sibling length of the /48 */
	};
	static const struct probe q[] = {
	    /* 1 */ {"10.1.2.3", 4},
	    /* 2 */ {"10.1.2.4", 3},
	    /* 3 */ {"10.1.2.127", 3},
	    /* 4 */ {"10.1.2.128", 5},
	    /* 5 */ {"10.1.2.255", 5},
	    /* 6 */ {"10.1.3.0", 2},
	    /* 7 */ {"10.2.0.0", 1},
	    /* 8 */ {"10.127.255.255", 1},
	    /* 9 */ {"10.128.0.0", 6},
	    /* 10 */ {"10.255.255.255", 6},
	    /* 11 */ {"11.0.0.0", 0},
	    /* 12 */ {"9.255.255.255", 0},
	    /* 13 */ {"fd00:1:2::1", 9},
	    /* 14 */ {"fd00:1:3::1", 10},
	    /* 15 */ {"fd00:1:4::1", 8},
	    /* 16 */ {"fd00:2::1", 7},
	    /* 17 */ {"fe00::1", 0},
	};
	struct rt_table t;

	rt_table_init(&t);
	insert_all(&t, p, N(p));
	assert_int_equal(rt_count(&t), N(p));
	check_all(&t, q, N(q));
	rt_table_cleanup(&t);
}

static void test_rt_insert_replace(void **state)
{
	static const struct prefix p[] = {
	    {"198.51.100.0", 24, 1},  {"198.51.100.0", 24, 2}, /* same prefix: new owner */
	    {"198.51.100.77", 24, 3}, /* host bits are ignored: same prefix again */
	    {"198.51.0.0", 16, 4},    {"2001:db8::ffff", 64, 5}, /* stored as 2001:db8::/64 */
	};
	static const struct probe q[] = {
	    /* 1 */ {"198.51.100.1", 3},
	    /* 2 */ {"198.51.101.1", 4},
	    /* 3 */ {"2001:db8::1", 5},
	    /* 4 */ {"2001:db8:0:1::1", 0},
	};
	struct rt_table t;

	rt_table_init(&t);
	insert_all(&t, p, N(p));
	assert_int_equal(rt_count(&t), 3);
	check_all(&t, q, N(q));
	rt_remove_peer(&t, PEER(1)); /* replaced: owns nothing any more */
	rt_remove_peer(&t, PEER(2));
	assert_int_equal(rt_count(&t), 3);
	check_all(&t, q, N(q));
	rt_table_cleanup(&t);
}

static void test_rt_remove_peer(void **state)
{
	static const struct prefix p[] = {
	    {"10.0.0.0", 8, 1},	 {"10.1.0.0", 16, 2}, {"10.1.1.0", 24, 1}, {"10.1.1.1", 32, 3},
	    {"10.2.0.0", 16, 2}, {"10.3.0.0", 16, 3}, {"fd00::", 16, 2},   {"fd00:1::", 32, 3},
	};
	static const struct probe before[] = {
	    /* 1 */ {"10.9.9.9", 1},
	    /* 2 */ {"10.1.9.9", 2},
	    /* 3 */ {"10.1.1.9", 1},
	    /* 4 */ {"10.1.1.1", 3},
	    /* 5 */ {"10.2.0.1", 2},
	    /* 6 */ {"fd00:1::1", 3},
	    /* 7 */ {"fd00:2::1", 2},
	};
	/* Without peer 2, lookups fall through to the shorter prefixes. */
	static const struct probe without2[] = {
	    /* 1 */ {"10.9.9.9", 1},
	    /* 2 */ {"10.1.9.9", 1},
	    /* 3 */ {"10.1.1.9", 1},
	    /* 4 */ {"10.1.1.1", 3},
	    /* 5 */ {"10.2.0.1", 1},
	    /* 6 */ {"fd00:1::1", 3},
	    /* 7 */ {"fd00:2::1", 0},
	};
	static const struct probe without12[] = {
	    /* 1 */ {"10.9.9.9", 0},
	    /* 2 */ {"10.1.1.9", 0},
	    /* 3 */ {"10.1.1.1", 3},
	    /* 4 */ {"10.3.4.5", 3},
	    /* 5 */ {"fd00:1::1", 3},
	};
	static const struct probe none[] = {
	    /* 1 */ {"10.1.1.1", 0},
	    /* 2 */ {"fd00:1::1", 0},
	};
	struct rt_table t;

	rt_table_init(&t);
	insert_all(&t, p, N(p));
	check_all(&t, before, N(before));
	rt_remove_peer(&t, PEER(99)); /* owns nothing: table unchanged */
	assert_int_equal(rt_count(&t), 8);
	check_all(&t, before, N(before));
	rt_remove_peer(&t, PEER(2));
	assert_int_equal(rt_count(&t), 5);
	check_all(&t, without2, N(without2));
	rt_remove_peer(&t, PEER(1));
	assert_int_equal(rt_count(&t), 3);
	check_all(&t, without12, N(without12));
	rt_remove_peer(&t, PEER(3));
	assert_int_equal(rt_count(&t), 0);
	assert_null(t.root4);
	assert_null(t.root6);
	check_all(&t, none, N(none));
	/* The emptied table takes new entries. */
	insert_all(&t, p, N(p));
	check_all(&t, before, N(before));
	rt_table_cleanup(&t);
}

static void test_rt_lookup_family_separation(void **state)
{
	static const struct prefix p[] = {
	    {"0.0.0.0", 0, 1},
	    {"::ffff:10.0.0.0", 104, 2}, /* v4-mapped: an IPv6 prefix like any other */
	    {"a00::", 8, 3},		 /* first byte 10, as 10.0.0.0/8 */
	};
	static const struct probe q[] = {
	    /* 1 */ {"10.0.0.1", 1},
	    /* 2 */ {"::ffff:10.0.0.1", 2},
	    /* 3 */ {"a00::1", 3},
	    /* 4 */ {"2001:db8::1", 0}, /* the v4 default does not answer v6 */
	};
	struct rt_table t;
	uint8_t a[16];

	rt_table_init(&t);
	insert_all(&t, p, N(p));
	check_all(&t, q, N(q));
	/* Removing the only v4 owner leaves v6 as it was. */
	rt_remove_peer(&t, PEER(1));
	parse_addr("10.0.0.1", a);
	assert_null(rt_lookup(&t, AF_INET, a));
	parse_addr("a00::1", a);
	assert_ptr_equal(rt_lookup(&t, AF_INET6, a), PEER(3));
	rt_table_cleanup(&t);
}

/* Reference model: a list scanned in full for the longest match. */
enum { REF_MAX = 4096, PEERS = 23, POOL = 12 };

struct ref_entry {
	int family;
	uint8_t bits[16];
	uint8_t plen;
	int peer;
};

struct ref {
	struct ref_entry e[REF_MAX];
	size_t n;
};

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static bool in_prefix(const uint8_t *bits, unsigned plen, const uint8_t *a)
{
	for (unsigned i = 0; i < plen; i++) {
		unsigned m = 0x80u >> (i % 8);
		if ((bits[i / 8] & m) != (a[i / 8] & m))
			return false;
	}
	return true;
}

static void ref_insert(struct ref *r, int family, const uint8_t *a, uint8_t plen, int peer)
{
	size_t len = family == AF_INET ? 4 : 16;
	struct ref_entry x = {.family = family, .plen = plen, .peer = peer};

	for (unsigned i = 0; i < plen; i++)
		x.bits[i / 8] |= a[i / 8] & (0x80u >> (i % 8));
	for (size_t i = 0; i < r->n; i++) {
		if (r->e[i].family == family && r->e[i].plen == plen &&
		    !memcmp(r->e[i].bits, x.bits, len)) {
			r->e[i].peer = peer;
			return;
		}
	}
	assert_true(r->n < REF_MAX);
	r->e[r->n++] = x;
}

static int ref_lookup(const struct ref *r, int family, const uint8_t *a)
{
	int best = 0, best_len = -1;

	for (size_t i = 0; i < r->n; i++) {
		const struct ref_entry *x = &r->e[i];
		if (x->family == family && x->peer && (int)x->plen > best_len &&
		    in_prefix(x->bits, x->plen, a)) {
			best = x->peer;
			best_len = x->plen;
		}
	}
	return best;
}

static size_t ref_count(const struct ref *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->e[i].peer != 0;
	return n;
}

/* An address near one of a few base addresses, so that prefixes nest and
 * share long paths instead of scattering over the whole space. */
static void random_addr(uint8_t pool[POOL][16], int family, uint8_t out[16])
{
	unsigned nbits = family == AF_INET ? 32 : 128;
	unsigned flips = (unsigned)(rng() % 4);

	memcpy(out, pool[rng() % POOL], 16);
	if (family == AF_INET)
		memset(out + 4, 0, 12);
	for (unsigned i = 0; i < flips; i++) {
		unsigned bit = (unsigned)(rng() % nbits);
		out[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
	}
}

static void compare_random_lookups(const struct rt_table *t, const struct ref *r,
				   uint8_t pool[POOL][16], int rounds)
{
	for (int i = 0; i < rounds; i++) {
		int family = rng() % 2 ? AF_INET : AF_INET6;
		uint8_t a[16];
		random_addr(pool, family, a);
		int want = ref_lookup(r, family, a);
		void *got = rt_lookup(t, family, a);
		if (got != PEER(want))
			fail_msg("round %d: got peer %d, want %d", i, (int)(uintptr_t)got, want);
	}
}

static void test_rt_lookup_random_against_linear_scan(void **state)
{
	static struct ref r;
	uint8_t pool[POOL][16];
	struct rt_table t;

	for (int i = 0; i < POOL; i++)
		for (int k = 0; k < 16; k++)
			pool[i][k] = (uint8_t)rng();
	r.n = 0;
	rt_table_init(&t);
	for (int i = 0; i < 3000; i++) {
		int family = rng() % 2 ? AF_INET : AF_INET6;
		unsigned nbits = family == AF_INET ? 32 : 128;
		uint8_t a[16];
		/* Lengths lean long, with /0 and the full length reached too. */
		uint8_t plen = (uint8_t)(rng() % 5 == 0 ? rng() % (nbits + 1)
							: nbits - rng() % (nbits / 4 + 1));
		int peer = 1 + (int)(rng() % PEERS);
		random_addr(pool, family, a);
		assert_int_equal(rt_insert(&t, family, a, plen, PEER(peer)), 0);
		ref_insert(&r, family, a, plen, peer);
	}
	assert_int_equal(rt_count(&t), ref_count(&r));
	compare_random_lookups(&t, &r, pool, 20000);

	/* Remove a third of the peers and compare again. */
	for (int peer = 1; peer <= PEERS; peer += 3) {
		rt_remove_peer(&t, PEER(peer));
		for (size_t i = 0; i < r.n; i++)
			if (r.e[i].peer == peer)
				r.e[i].peer = 0;
	}
	assert_int_equal(rt_count(&t), ref_count(&r));
	compare_random_lookups(&t, &r, pool, 20000);
	for (int peer = 1; peer <= PEERS; peer++)
		rt_remove_peer(&t, PEER(peer));
	assert_int_equal(rt_count(&t), 0);
	assert_null(t.root4);
	assert_null(t.root6);
	rt_table_cleanup(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rt_lookup_empty),
	    cmocka_unit_test(test_rt_insert_bad_input),
	    cmocka_unit_test(test_rt_lookup_default_and_host_routes),
	    cmocka_unit_test(test_rt_lookup_nested_longest_wins),
	    cmocka_unit_test(test_rt_insert_replace),
	    cmocka_unit_test(test_rt_remove_peer),
	    cmocka_unit_test(test_rt_lookup_family_separation),
	    cmocka_unit_test(test_rt_lookup_random_against_linear_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
