/* Token bucket: full at first use, refilled in proportion to the time since
 * the last call, never above its burst. The elapsed time is clamped before
 * it is multiplied, so a bucket left alone for years cannot overflow. */
#include "rendezvous/bucket.h"

bool rdv_bucket_take(struct rdv_bucket *b, uint64_t cost, uint64_t rate_per_s, uint64_t burst,
		     uint64_t now_ms)
{
	if (!b->started) {
		b->tokens = burst;
		b->last_ms = now_ms;
		b->started = true;
	} else if (now_ms > b->last_ms) {
		uint64_t elapsed = now_ms - b->last_ms;
		uint64_t full_ms = rate_per_s ? burst * 1000 / rate_per_s + 1 : 0;

		if (elapsed > full_ms)
			elapsed = full_ms;
		b->tokens += elapsed * rate_per_s / 1000;
		if (b->tokens > burst)
			b->tokens = burst;
		/* Keep the remainder of a partial token: advance the clock only
		 * by the time that was turned into tokens. */
		b->last_ms = rate_per_s && b->tokens < burst
				 ? b->last_ms + elapsed * rate_per_s / 1000 * 1000 / rate_per_s
				 : now_ms;
	}
	if (b->tokens < cost)
		return false;
	b->tokens -= cost;
	return true;
}
