/* Replay protection for data packets: the RFC 6479 sliding window with the
 * exact semantics of WireGuard's counter_validate() (drivers/net/wireguard/
 * receive.c): an 8192-bit ring of 64-bit words, of which one word is always
 * being recycled, so W = 8192 - 64 = 8128 counters below the highest one seen
 * are remembered. Counters at or above REPLAY_REJECT_AFTER_MESSAGES are never
 * accepted, so a sender can never make the window wrap. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

enum {
	REPLAY_BITS_TOTAL = 8192,
	REPLAY_BITS_PER_WORD = 64,
	REPLAY_WORDS = REPLAY_BITS_TOTAL / REPLAY_BITS_PER_WORD,
	REPLAY_WINDOW_SIZE = REPLAY_BITS_TOTAL - REPLAY_BITS_PER_WORD, /* W = 8128 */
};

/* The first counter that is never accepted: U64_MAX - W - 1 = 2^64 - 8130,
 * the kernel's REJECT_AFTER_MESSAGES (not wireguard-go's, which is 63 lower). */
#define REPLAY_REJECT_AFTER_MESSAGES (UINT64_MAX - (uint64_t)REPLAY_WINDOW_SIZE - 1)

struct replay_window {
	uint64_t next;		       /* highest counter accepted + 1; 0 = none yet */
	uint64_t bitmap[REPLAY_WORDS]; /* bit (c + 1) % 8192 set = counter c seen */
};

/* Empties the window: every counter below the limit is acceptable again. */
void replay_init(struct replay_window *w);
/* Read-only pre-check, cheap enough to run before the AEAD: false when the
 * counter is at/over the limit, more than W below the highest, or already seen. */
bool replay_check(const struct replay_window *w, uint64_t counter)
    __attribute__((warn_unused_result));
/* Checks and records the counter; call only after the AEAD tag verified, so a
 * forged packet can never move the window. True when the packet is fresh. */
bool replay_accept(struct replay_window *w, uint64_t counter) __attribute__((warn_unused_result));
