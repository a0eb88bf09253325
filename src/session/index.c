/* Receiver index table: open addressing, linear probing, at most half full.
 * Indexes are random, but lookups take attacker-chosen numbers, so the slot is
 * picked by a multiplicative hash rather than the raw bits; with load <= 1/2
 * the expected probe length stays below two for any key. Deletion shifts the
 * following run back instead of leaving tombstones, so the table never
 * degrades however many handshakes come and go. */
#include "session/index.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum {
	/* Attempts to draw an unused random index before calling the table full;
	 * at load <= 1/2 of at most 2^31 slots, each draw collides rarely. */
	ALLOC_TRIES = 64,
};

static size_t home(const struct sess_index_table *t, uint32_t index)
{
	return (size_t)((index * 0x9E3779B1u) ^ (index >> 16)) & t->mask;
}

int sess_index_init(struct sess_index_table *t, size_t max_entries)
{
	size_t slots = 16;

	memset(t, 0, sizeof(*t));
	if (max_entries == 0 || max_entries > (1u << 30))
		return -EINVAL;
	while (slots < 2 * max_entries)
		slots *= 2;
	t->slots = calloc(slots, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = slots - 1;
	t->max = max_entries;
	return 0;
}

void sess_index_cleanup(struct sess_index_table *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static struct sess_index_entry *find(const struct sess_index_table *t, uint32_t index)
{
	if (!t->slots || index == 0)
		return NULL;
	for (size_t i = home(t, index);; i = (i + 1) & t->mask) {
		struct sess_index_entry *e = &t->slots[i];

		if (e->index == index)
			return e;
		/* Never loops forever: at least half the slots are free. */
		if (e->index == 0)
			return NULL;
	}
}

uint32_t sess_index_alloc(struct sess_index_table *t, enum sess_index_kind kind, void *owner,
			  void *ptr)
{
	if (!t->slots || t->count >= t->max)
		return 0;
	for (int tries = 0; tries < ALLOC_TRIES; tries++) {
		uint32_t index = randombytes_random();
		size_t i;

		if (index == 0 || find(t, index))
			continue;
		for (i = home(t, index); t->slots[i].index; i = (i + 1) & t->mask)
			;
		t->slots[i] = (struct sess_index_entry){index, kind, owner, ptr};
		t->count++;
		return index;
	}
	return 0;
}

void *sess_index_lookup(const struct sess_index_table *t, uint32_t index, unsigned kinds,
			void **owner)
{
	const struct sess_index_entry *e = find(t, index);

	if (!e || !(e->kind & kinds))
		return NULL;
	if (owner)
		*owner = e->owner;
	return e->ptr;
}

bool sess_index_contains(const struct sess_index_table *t, uint32_t index)
{
	return find(t, index) != NULL;
}

int sess_index_replace(struct sess_index_table *t, uint32_t index, enum sess_index_kind kind,
		       void *owner, void *ptr)
{
	struct sess_index_entry *e = find(t, index);

	if (!e)
		return -ENOENT;
	e->kind = kind;
	e->owner = owner;
	e->ptr = ptr;
	return 0;
}

/* True when home slot h lies cyclically in (hole, j]: the entry at j may not
 * move back into the hole without becoming unreachable from its home. */
static bool stays(size_t hole, size_t j, size_t h)
{
	if (hole <= j)
		return hole < h && h <= j;
	return hole < h || h <= j;
}

void sess_index_free(struct sess_index_table *t, uint32_t index)
{
	struct sess_index_entry *e = find(t, index);
	size_t hole, j;

	if (!e)
		return;
	hole = (size_t)(e - t->slots);
	for (j = (hole + 1) & t->mask; t->slots[j].index; j = (j + 1) & t->mask) {
		if (stays(hole, j, home(t, t->slots[j].index)))
			continue;
		t->slots[hole] = t->slots[j];
		hole = j;
	}
	memset(&t->slots[hole], 0, sizeof(t->slots[hole]));
	t->count--;
}
