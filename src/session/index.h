/* Receiver indexes: the 32-bit number a peer puts in front of every
 * handshake response and data packet so we find its state without trying
 * keys. Like WireGuard's peerlookup.c, an index is random (an on-path
 * observer learns nothing from it, and guessing a live one is hard), never
 * zero, and unique while allocated. Each entry says what it points at (a
 * handshake in progress or a keypair), so a data packet can never be handed
 * a handshake's state. The table is open addressing with linear probing and
 * backward-shift deletion, sized once at init: no allocation per packet or
 * per handshake, and at most half full so probes stay short. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sess_index_kind {
	SESS_INDEX_HANDSHAKE = 1u << 0, /* ptr is the daemon's handshake state */
	SESS_INDEX_KEYPAIR = 1u << 1,	/* ptr is a struct sess_keypair */
	SESS_INDEX_ANY = SESS_INDEX_HANDSHAKE | SESS_INDEX_KEYPAIR,
};

struct sess_index_entry {
	uint32_t index; /* 0 = free slot */
	unsigned kind;	/* one enum sess_index_kind bit */
	void *owner;	/* the daemon's peer */
	void *ptr;
};

struct sess_index_table {
	struct sess_index_entry *slots;
	size_t mask; /* slot count - 1; the slot count is a power of two */
	size_t count;
	size_t max; /* entries allowed: half the slots */
};

/* Allocates room for max_entries live indexes (the only allocation); 0 or -ENOMEM/-EINVAL. */
int sess_index_init(struct sess_index_table *t, size_t max_entries);
/* Frees the table; entries' owners and pointers are not touched. */
void sess_index_cleanup(struct sess_index_table *t);
/* Stores (kind, owner, ptr) under a fresh random non-zero index and returns
 * it; 0 when the table is full. */
uint32_t sess_index_alloc(struct sess_index_table *t, enum sess_index_kind kind, void *owner,
			  void *ptr) __attribute__((warn_unused_result));
/* The ptr stored under index when its kind is in kinds (a mask), else NULL;
 * *owner is set when owner is not NULL and the index was found. */
void *sess_index_lookup(const struct sess_index_table *t, uint32_t index, unsigned kinds,
			void **owner);
/* True when index is allocated, whatever it points at (even NULL). */
bool sess_index_contains(const struct sess_index_table *t, uint32_t index);
/* Repoints a live index, keeping the number (a handshake's index becomes its
 * keypair's, as the peer already uses it): 0, or -ENOENT if not allocated. */
int sess_index_replace(struct sess_index_table *t, uint32_t index, enum sess_index_kind kind,
		       void *owner, void *ptr);
/* Releases index; unknown indexes (and 0) are ignored. */
void sess_index_free(struct sess_index_table *t, uint32_t index);
