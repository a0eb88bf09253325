/* Token buckets for the rendezvous's per-peer limits (CONNECT requests,
 * relayed bytes). Integer arithmetic on milliseconds, no clock of its own. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct rdv_bucket {
	uint64_t tokens;
	uint64_t last_ms;
	bool started; /* false: full on first use */
};

/* Refills at rate_per_s up to burst, then takes cost tokens: true when they
 * were there (the action may go ahead), false (nothing taken) otherwise. */
bool rdv_bucket_take(struct rdv_bucket *b, uint64_t cost, uint64_t rate_per_s, uint64_t burst,
		     uint64_t now_ms) __attribute__((warn_unused_result));
