/* The handshake token bucket. Each entry keeps credit in milliseconds: time
 * since the last packet earns credit up to RATELIMIT_MAX_MS and a packet
 * costs RATELIMIT_COST_MS, which is 20/s with a burst of 5. A new source
 * starts with a full bucket minus this packet, as WireGuard's does. The
 * table never grows: a source not seen lately loses its entry to a new
 * one, which can only give that source a fresh (full) bucket, never take
 * credit from anyone. */
#include "crypto/ratelimit.h"

#include <assert.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>

void ratelimit_init(struct ratelimit *rl)
{
	memset(rl, 0, sizeof(*rl));
	randombytes_buf(rl->key, sizeof(rl->key));
}

static bool addr_key(const struct sockaddr_storage *a, uint8_t ip[16], uint8_t *family)
{
	memset(ip, 0, 16);
	if (a->ss_family == AF_INET) {
		memcpy(ip, &((const struct sockaddr_in *)a)->sin_addr, 4);
		*family = 4;
		return true;
	}
	if (a->ss_family == AF_INET6) {
		memcpy(ip, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
		*family = 6;
		return true;
	}
	return false;
}

bool ratelimit_allow(struct ratelimit *rl, const struct sockaddr_storage *addr, uint64_t now_ms)
{
	uint8_t ip[17], h[crypto_shorthash_BYTES];
	struct ratelimit_entry *set, *victim;
	uint64_t hv;
	uint8_t family;

	static_assert(sizeof(rl->key) == crypto_shorthash_KEYBYTES, "siphash key size");
	if (!addr_key(addr, ip, &family))
		return false;
	ip[16] = family;
	if (crypto_shorthash(h, ip, sizeof(ip), rl->key) != 0)
		return false;
	memcpy(&hv, h, sizeof(hv));
	set = &rl->e[(hv % RATELIMIT_SETS) * RATELIMIT_WAYS];
	victim = &set[0];
	for (unsigned i = 0; i < RATELIMIT_WAYS; i++) {
		struct ratelimit_entry *e = &set[i];
		uint64_t credit;

		if (e->family == family && memcmp(e->ip, ip, 16) == 0) {
			credit = e->tokens_ms + (now_ms > e->last_ms ? now_ms - e->last_ms : 0);
			if (credit > RATELIMIT_MAX_MS)
				credit = RATELIMIT_MAX_MS;
			e->last_ms = now_ms;
			if (credit < RATELIMIT_COST_MS) {
				e->tokens_ms = (uint32_t)credit;
				return false;
			}
			e->tokens_ms = (uint32_t)(credit - RATELIMIT_COST_MS);
			return true;
		}
		if (!e->family)
			victim = e;
		else if (victim->family && e->last_ms < victim->last_ms)
			victim = e;
	}
	memcpy(victim->ip, ip, 16);
	victim->family = family;
	victim->last_ms = now_ms;
	victim->tokens_ms = RATELIMIT_MAX_MS - RATELIMIT_COST_MS;
	return true;
}
