/* Fuzz harness for the inner packet checks: whatever the bytes, a packet
 * rt_inner_parse accepts must have its stated length and both addresses
 * inside the input, agree with rt_packet_dst, and a refused one must carry a
 * drop reason. The addresses are then looked up in a small allowed-IPs table,
 * as the receive path does. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "routing/allowedips.h"
#include "routing/inner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rt_table table;

static void table_init_once(void)
{
	static const uint8_t v4[] = {10, 77, 0, 0};
	static const uint8_t v6[16] = {0xfd, 0x77};
	static int ready;

	if (ready)
		return;
	rt_table_init(&table);
	if (rt_insert(&table, AF_INET, v4, 16, &table) < 0 ||
	    rt_insert(&table, AF_INET6, v6, 16, &table) < 0)
		abort();
	ready = 1;
}

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rt_inner in;
	const uint8_t *dst = NULL;
	int family = 0;
	size_t alen;

	table_init_once();
	if (!rt_inner_parse(data, size, &in)) {
		check(in.drop != RT_INNER_OK && in.drop < RT_INNER_DROP_MAX);
		return 0;
	}
	check(in.drop == RT_INNER_OK);
	check(in.family == AF_INET || in.family == AF_INET6);
	alen = in.family == AF_INET ? 4 : 16;
	check(in.ip_len <= size && in.ip_len >= (in.family == AF_INET ? 20u : 40u));
	check(in.src >= data && in.src + alen <= data + in.ip_len);
	check(in.dst >= data && in.dst + alen <= data + in.ip_len);
	check(rt_packet_dst(data, size, &family, &dst));
	check(family == in.family && dst == in.dst);
	(void)rt_lookup(&table, in.family, in.src);
	(void)rt_lookup(&table, in.family, in.dst);
	return 0;
}
