/* The handshake token bucket (crypto/ratelimit.c) against the expected
 * table of WireGuard's tests: 5 allowed at once, the 6th refused, one more
 * after 50 ms; sources independent, IPv4 and IPv6 alike; the table keeps a
 * fixed size however many sources it sees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sodium.h>

#include "crypto/ratelimit.h"

enum { T0 = 5000 };

static void addr(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, ip, &s->sin6_addr), 1);
	} else {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;
		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, ip, &s->sin_addr), 1);
	}
}

/* The table for one source: burst, refusal, refill. */
static void run_table(struct ratelimit *rl, const char *ip)
{
	struct sockaddr_storage a;

	addr(&a, ip, 1000);
	for (int i = 0; i < RATELIMIT_BURST; i++)
		assert_true(ratelimit_allow(rl, &a, T0));
	assert_false(ratelimit_allow(rl, &a, T0));
	assert_false(ratelimit_allow(rl, &a, T0 + RATELIMIT_COST_MS - 1));
	/* The port does not matter: it is the same source. */
	addr(&a, ip, 2000);
	assert_true(ratelimit_allow(rl, &a, T0 + RATELIMIT_COST_MS));
	assert_false(ratelimit_allow(rl, &a, T0 + RATELIMIT_COST_MS));
	/* A long pause refills the burst, not more. */
	for (int i = 0; i < RATELIMIT_BURST; i++)
		assert_true(ratelimit_allow(rl, &a, T0 + 60000));
	assert_false(ratelimit_allow(rl, &a, T0 + 60000));
}

static void test_table_v4(void **state)
{
	struct ratelimit *rl = malloc(sizeof(*rl));

	(void)state;
	ratelimit_init(rl);
	run_table(rl, "198.51.100.1");
	free(rl);
}

static void test_table_v6(void **state)
{
	struct ratelimit *rl = malloc(sizeof(*rl));

	(void)state;
	ratelimit_init(rl);
	run_table(rl, "2001:db8::1");
	free(rl);
}

static void test_independent(void **state)
{
	struct ratelimit *rl = malloc(sizeof(*rl));
	struct sockaddr_storage a, b, c;

	(void)state;
	ratelimit_init(rl);
	addr(&a, "198.51.100.1", 1);
	addr(&b, "198.51.100.2", 1);
	addr(&c, "::ffff:198.51.100.1", 1); /* another family is another source */
	for (int i = 0; i < RATELIMIT_BURST; i++)
		assert_true(ratelimit_allow(rl, &a, T0));
	assert_false(ratelimit_allow(rl, &a, T0));
	for (int i = 0; i < RATELIMIT_BURST; i++)
		assert_true(ratelimit_allow(rl, &b, T0));
	assert_false(ratelimit_allow(rl, &b, T0));
	assert_true(ratelimit_allow(rl, &c, T0));
	assert_false(ratelimit_allow(rl, &a, T0));
	free(rl);
}

static void test_many_sources_bounded(void **state)
{
	struct ratelimit *rl = malloc(sizeof(*rl));
	struct sockaddr_storage a, victim;
	unsigned refused = 0;

	(void)state;
	ratelimit_init(rl);
	addr(&victim, "203.0.113.9", 1);
	for (int i = 0; i < RATELIMIT_BURST; i++)
		assert_true(ratelimit_allow(rl, &victim, T0));
	/* 100k other sources, each once: all allowed, in a table that did
	 * not grow (its size is fixed by type). */
	for (uint32_t i = 0; i < 100000; i++) {
		struct sockaddr_in *s = (struct sockaddr_in *)&a;
		memset(&a, 0, sizeof(a));
		s->sin_family = AF_INET;
		s->sin_addr.s_addr = htonl(0x0A000000u + i);
		if (!ratelimit_allow(rl, &a, T0 + 1))
			refused++;
	}
	assert_int_equal(refused, 0);
	/* An unknown family is refused. */
	memset(&a, 0, sizeof(a));
	a.ss_family = AF_UNIX;
	assert_false(ratelimit_allow(rl, &a, T0));
	free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_v4),
	    cmocka_unit_test(test_table_v6),
	    cmocka_unit_test(test_independent),
	    cmocka_unit_test(test_many_sources_bounded),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
