/* The data-packet replay window (RFC 6479), with WireGuard's exact accept and
 * reject decisions so the vectors from its self-test apply unchanged. The
 * state is the highest counter seen (kept as highest + 1, so that zero means
 * "nothing yet" and counter 0 is still acceptable) and a ring of bit words.
 * Moving forward clears the words the window slides over, at most the whole
 * ring, so a jump costs O(ring) and never more. replay_check() answers the
 * same question without writing, for the cheap pre-AEAD reject. */
#include "session/replay.h"

#include <string.h>

void replay_init(struct replay_window *w)
{
	memset(w, 0, sizeof(*w));
}

/* Counters at the limit are refused outright (the sender must rekey long
 * before), and once the window itself reached the limit nothing more is
 * accepted on this key. Below that, a counter more than W behind the highest
 * has been forgotten and must be refused, since it cannot be told apart from
 * a replay. Counters are shifted by one here: pos = counter + 1. */
static bool in_range(const struct replay_window *w, uint64_t counter)
{
	if (counter >= REPLAY_REJECT_AFTER_MESSAGES || w->next > REPLAY_REJECT_AFTER_MESSAGES)
		return false;
	/* No overflow: counter < 2^64 - W - 2. */
	return counter + 1 + REPLAY_WINDOW_SIZE >= w->next;
}

static uint64_t word_of(uint64_t pos)
{
	return (pos / REPLAY_BITS_PER_WORD) % REPLAY_WORDS;
}

static uint64_t bit_of(uint64_t pos)
{
	return 1ull << (pos % REPLAY_BITS_PER_WORD);
}

bool replay_check(const struct replay_window *w, uint64_t counter)
{
	uint64_t pos = counter + 1;

	if (!in_range(w, counter))
		return false;
	if (pos > w->next)
		return true;
	return !(w->bitmap[word_of(pos)] & bit_of(pos));
}

bool replay_accept(struct replay_window *w, uint64_t counter)
{
	uint64_t pos = counter + 1;

	if (!replay_check(w, counter))
		return false;
	if (pos > w->next) {
		/* Slide forward: the words between the old top and the new one
		 * now stand for counters never seen. */
		uint64_t from = w->next / REPLAY_BITS_PER_WORD;
		uint64_t span = pos / REPLAY_BITS_PER_WORD - from;

		if (span > REPLAY_WORDS)
			span = REPLAY_WORDS;
		for (uint64_t i = 1; i <= span; i++)
			w->bitmap[(from + i) % REPLAY_WORDS] = 0;
		w->next = pos;
	}
	w->bitmap[word_of(pos)] |= bit_of(pos);
	return true;
}
