/* Allowed IPs: the longest-prefix table mapping tunnel addresses to peers,
 * used both ways on the data path: a packet read from the TUN goes to the peer
 * owning its destination, and a decrypted packet is accepted only if its
 * source maps back to the peer it came from (cryptokey routing, as in
 * WireGuard's allowedips.c). One path-compressed binary trie per family; a
 * lookup walks at most 33 or 129 nodes and never allocates.
 *
 * Peers are opaque non-NULL pointers owned by the caller. Addresses are raw
 * network-order bytes (4 for AF_INET, 16 for AF_INET6); bits past plen are
 * ignored. Not thread-safe: the data path and reload run on one loop. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct rt_node;

struct rt_table {
	struct rt_node *root4;
	struct rt_node *root6;
	size_t count; /* prefixes with an owner */
};

/* Prepares an empty table. */
void rt_table_init(struct rt_table *t);
/* Frees every node; the table is empty (and reusable) afterwards. */
void rt_table_cleanup(struct rt_table *t);
/* Maps addr/plen to peer, replacing the owner of an identical prefix. 0, or
 * -EINVAL (plen too long, peer NULL), -EAFNOSUPPORT, -ENOMEM (table unchanged). */
int rt_insert(struct rt_table *t, int family, const uint8_t *addr, uint8_t plen, void *peer)
    __attribute__((warn_unused_result));
/* Removes every prefix owned by peer (on peer removal or allowed_ips change). */
void rt_remove_peer(struct rt_table *t, void *peer);
/* The owner of the longest prefix containing addr, or NULL (also for an
 * unknown family). */
void *rt_lookup(const struct rt_table *t, int family, const uint8_t *addr);
/* Number of prefixes in the table. */
size_t rt_count(const struct rt_table *t);
