/* A per-source-IP token bucket for handshake work, WireGuard's ratelimiter:
 * RATELIMIT_PER_SECOND packets a second with a burst of RATELIMIT_BURST.
 * Memory is a fixed table (RATELIMIT_ENTRIES, set-associative), keyed by a
 * random SipHash key so that an attacker cannot aim its sources at one
 * slot; when a set is full the least recently seen entry is recycled. No
 * I/O: the caller passes the time. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
	RATELIMIT_PER_SECOND = 20,
	RATELIMIT_BURST = 5,
	RATELIMIT_COST_MS = 1000 / RATELIMIT_PER_SECOND,	/* 50 ms */
	RATELIMIT_MAX_MS = RATELIMIT_COST_MS * RATELIMIT_BURST, /* 250 ms */
	RATELIMIT_WAYS = 4,
	RATELIMIT_SETS = 1024,
	RATELIMIT_ENTRIES = RATELIMIT_WAYS * RATELIMIT_SETS,
};

struct ratelimit_entry {
	uint8_t ip[16]; /* v4 in the first 4 bytes */
	uint8_t family; /* 0: free */
	uint64_t last_ms;
	uint32_t tokens_ms; /* credit, in milliseconds of cost */
};

struct ratelimit {
	uint8_t key[16]; /* crypto_shorthash_KEYBYTES */
	struct ratelimit_entry e[RATELIMIT_ENTRIES];
};

/* Empties the table and draws a new hash key. */
void ratelimit_init(struct ratelimit *rl);
/* True when the source IP of addr (port ignored) may have one more unit of
 * handshake work now; false (refused) otherwise or for an address that is
 * neither IPv4 nor IPv6. */
bool ratelimit_allow(struct ratelimit *rl, const struct sockaddr_storage *addr, uint64_t now_ms);
