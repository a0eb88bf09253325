/* Test packets built by hand (pkt.h). The checksum here is the slow, obvious
 * one, so that the tests of util/csum.c, tun/gso.c and tun/gro.c compare the
 * production code against something that shares none of its code. */
#include "support/pkt.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

uint32_t pkt_ref_sum(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i += 2) {
		sum += (uint32_t)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
		sum = (sum & 0xffff) + (sum >> 16);
	}
	return sum;
}

uint32_t pkt_ref_pseudo(const uint8_t *p, bool v6, uint8_t proto, uint32_t l4_len)
{
	uint8_t ph[40];

	memset(ph, 0, sizeof(ph));
	if (v6) {
		memcpy(ph, p + 8, 32);
		ph[32] = (uint8_t)(l4_len >> 24);
		ph[33] = (uint8_t)(l4_len >> 16);
		ph[34] = (uint8_t)(l4_len >> 8);
		ph[35] = (uint8_t)l4_len;
		ph[39] = proto;
		return pkt_ref_sum(0, ph, 40);
	}
	memcpy(ph, p + 12, 8);
	ph[9] = proto;
	ph[10] = (uint8_t)(l4_len >> 8);
	ph[11] = (uint8_t)l4_len;
	return pkt_ref_sum(0, ph, 12);
}

size_t pkt_udp4(uint8_t *p, const char *src, uint16_t sport, const char *dst, uint16_t dport,
		const void *payload, size_t n)
{
	size_t tot = 28 + n;
	uint16_t c;

	memset(p, 0, 28);
	p[0] = 0x45;
	p[2] = (uint8_t)(tot >> 8);
	p[3] = (uint8_t)tot;
	p[6] = 0x40; /* DF */
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	if (inet_pton(AF_INET, src, p + 12) != 1 || inet_pton(AF_INET, dst, p + 16) != 1)
		abort(); /* a test's own literal is wrong */
	c = (uint16_t)~pkt_ref_sum(0, p, 20);
	p[10] = (uint8_t)(c >> 8);
	p[11] = (uint8_t)c;
	p[20] = (uint8_t)(sport >> 8);
	p[21] = (uint8_t)sport;
	p[22] = (uint8_t)(dport >> 8);
	p[23] = (uint8_t)dport;
	p[24] = (uint8_t)((8 + n) >> 8);
	p[25] = (uint8_t)(8 + n);
	memcpy(p + 28, payload, n);
	return tot;
}
