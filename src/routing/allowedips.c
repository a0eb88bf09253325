/* A path-compressed binary trie per address family, after WireGuard's
 * allowedips.c. Every node stores its whole prefix (bits, masked past cidr)
 * and its length, so a chain of one-child nodes is never needed: a node's
 * children differ from it at bit `cidr` and from each other after that.
 * Nodes with a peer are table entries; nodes without one only join two
 * subtrees and always have both children (removal collapses them).
 *
 * Insertion allocates at most two nodes before touching the trie, so a failed
 * allocation leaves it unchanged. Lookup only reads. */
#include "routing/allowedips.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct rt_node {
	struct rt_node *child[2];
	void *peer;
	uint8_t bits[16];
	uint8_t cidr;
};

static unsigned family_bits(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

static unsigned bit_at(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

/* Number of leading bits a and b share, at most limit. */
static unsigned common_bits(const uint8_t *a, const uint8_t *b, unsigned limit)
{
	unsigned i;

	for (i = 0; i * 8 < limit; i++) {
		uint8_t x = a[i] ^ b[i];
		if (x) {
			unsigned n = i * 8 + (unsigned)__builtin_clz(x) - 24;
			return n < limit ? n : limit;
		}
	}
	return limit;
}

static void mask_copy(uint8_t *out, const uint8_t *addr, unsigned nbits, unsigned cidr)
{
	for (unsigned i = 0; i < nbits / 8; i++) {
		unsigned keep = cidr > i * 8 ? cidr - i * 8 : 0;
		out[i] = keep >= 8 ? addr[i] : addr[i] & (uint8_t)(0xff00u >> keep);
	}
}

static struct rt_node *node_new(const uint8_t *addr, unsigned nbits, unsigned cidr, void *peer)
{
	struct rt_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	mask_copy(n->bits, addr, nbits, cidr);
	n->cidr = (uint8_t)cidr;
	n->peer = peer;
	return n;
}

static void free_tree(struct rt_node *n)
{
	if (!n)
		return;
	free_tree(n->child[0]);
	free_tree(n->child[1]);
	free(n);
}

void rt_table_init(struct rt_table *t)
{
	memset(t, 0, sizeof(*t));
}

void rt_table_cleanup(struct rt_table *t)
{
	free_tree(t->root4);
	free_tree(t->root6);
	rt_table_init(t);
}

static struct rt_node **root_of(struct rt_table *t, int family)
{
	return family == AF_INET ? &t->root4 : &t->root6;
}

int rt_insert(struct rt_table *t, int family, const uint8_t *addr, uint8_t plen, void *peer)
{
	unsigned nbits = family_bits(family);
	struct rt_node **slot, *n, *leaf, *mid;
	uint8_t key[16];
	unsigned common = 0;

	if (nbits == 0)
		return -EAFNOSUPPORT;
	if (!addr || !peer || plen > nbits)
		return -EINVAL;
	mask_copy(key, addr, nbits, plen);

	/* Walk down while the node's prefix is a proper prefix of ours. */
	slot = root_of(t, family);
	for (n = *slot; n; n = *slot) {
		common = common_bits(n->bits, key, n->cidr < plen ? n->cidr : plen);
		if (common != n->cidr || n->cidr == plen)
			break;
		slot = &n->child[bit_at(key, n->cidr)];
	}
	if (n && common == plen && n->cidr == plen) {
		/* Same prefix: a join node becomes an entry, or the owner changes. */
		if (!n->peer)
			t->count++;
		n->peer = peer;
		return 0;
	}

	leaf = node_new(key, nbits, plen, peer);
	if (!leaf)
		return -ENOMEM;
	if (!n) {
		*slot = leaf;
	} else if (common == plen) {
		/* Ours is a proper prefix of n: it goes above n. */
		leaf->child[bit_at(n->bits, plen)] = n;
		*slot = leaf;
	} else {
		/* They part at bit `common`: a join node holds both. */
		mid = node_new(key, nbits, common, NULL);
		if (!mid) {
			free(leaf);
			return -ENOMEM;
		}
		mid->child[bit_at(key, common)] = leaf;
		mid->child[bit_at(n->bits, common)] = n;
		*slot = mid;
	}
	t->count++;
	return 0;
}

/* Drops peer's entries under *slot, then removes nodes left with no peer and
 * fewer than two children (a lone child takes its parent's place: it keeps
 * its whole prefix, so the path to it stays correct). */
static void prune(struct rt_node **slot, void *peer, size_t *count)
{
	struct rt_node *n = *slot;

	if (!n)
		return;
	prune(&n->child[0], peer, count);
	prune(&n->child[1], peer, count);
	if (n->peer == peer) {
		n->peer = NULL;
		(*count)--;
	}
	if (n->peer || (n->child[0] && n->child[1]))
		return;
	*slot = n->child[0] ? n->child[0] : n->child[1];
	free(n);
}

void rt_remove_peer(struct rt_table *t, void *peer)
{
	if (!peer)
		return;
	prune(&t->root4, peer, &t->count);
	prune(&t->root6, peer, &t->count);
}

void *rt_lookup(const struct rt_table *t, int family, const uint8_t *addr)
{
	unsigned nbits = family_bits(family);
	const struct rt_node *n;
	void *best = NULL;

	if (nbits == 0)
		return NULL;
	n = family == AF_INET ? t->root4 : t->root6;
	while (n && common_bits(n->bits, addr, n->cidr) == n->cidr) {
		if (n->peer)
			best = n->peer;
		if (n->cidr == nbits)
			break;
		n = n->child[bit_at(addr, n->cidr)];
	}
	return best;
}

size_t rt_count(const struct rt_table *t)
{
	return t->count;
}
