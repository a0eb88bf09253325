/* Registry entries and their three lookups. Entries are individually
 * allocated and listed in a dense array (swap-remove, so the expiry sweep
 * is a plain loop); the lookups are chained hash tables whose links live
 * inside the entries, so adding a peer allocates one entry and, now and
 * then, a bigger bucket array. Keys and addresses are hashed with keyed
 * SipHash (crypto_shorthash): a stranger choosing many keys or source ports
 * cannot pile them into one bucket. */
#include "rendezvous/registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/keys.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static_assert(crypto_shorthash_KEYBYTES == sizeof(((struct rdv_registry *)0)->hash_key),
	      "SipHash key size");

/* ---- chained hash table ---- */

static int htab_grow(struct rdv_htab *t)
{
	size_t nb = t->mask ? (t->mask + 1) * 2 : 64;
	struct rdv_hlink **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; t->mask && i <= t->mask; i++) {
		struct rdv_hlink *l = t->b[i], *next;

		for (; l; l = next) {
			next = l->next;
			l->next = b[l->hash & (nb - 1)];
			b[l->hash & (nb - 1)] = l;
		}
	}
	free(t->b);
	t->b = b;
	t->mask = nb - 1;
	return 0;
}

/* Inserting never fails once the table exists: growing is an optimisation,
 * and a failed grow only makes chains longer. */
static int htab_insert(struct rdv_htab *t, struct rdv_hlink *l, uint64_t hash)
{
	if ((!t->mask || t->n > t->mask) && htab_grow(t) < 0 && !t->mask)
		return -ENOMEM;
	l->hash = hash;
	l->next = t->b[hash & t->mask];
	t->b[hash & t->mask] = l;
	t->n++;
	return 0;
}

static void htab_remove(struct rdv_htab *t, struct rdv_hlink *l)
{
	struct rdv_hlink **pp;

	if (!t->mask)
		return;
	for (pp = &t->b[l->hash & t->mask]; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			l->next = NULL;
			t->n--;
			return;
		}
	}
}

static struct rdv_hlink *htab_first(const struct rdv_htab *t, uint64_t hash)
{
	return t->mask ? t->b[hash & t->mask] : NULL;
}

static void htab_free(struct rdv_htab *t)
{
	free(t->b);
	memset(t, 0, sizeof(*t));
}

static uint64_t hash_bytes(const struct rdv_registry *r, const void *p, size_t len)
{
	uint8_t out[crypto_shorthash_BYTES];
	uint64_t h;

	/* SipHash cannot fail; if it did, every key would share bucket 0,
	 * which is slower but still correct (lookups compare whole keys). */
	if (crypto_shorthash(out, p, len, r->hash_key) != 0)
		return 0;
	memcpy(&h, out, sizeof(h));
	return h;
}

/* One byte string per channel: the kind, then the canonical address
 * (rdv_addr folds v4-mapped IPv6 into IPv4) or the connection pointer. */
static size_t channel_bytes(const struct rdv_channel *ch, uint8_t out[1 + RDV_ADDR_LEN])
{
	memset(out, 0, 1 + RDV_ADDR_LEN);
	out[0] = (uint8_t)ch->kind;
	if (ch->kind == RDV_CHAN_UDP) {
		struct rdv_addr a;

		rdv_addr_from_sockaddr(&ch->addr, &a);
		memcpy(out + 1, &a, sizeof(a));
		return 1 + RDV_ADDR_LEN;
	}
	memcpy(out + 1, &ch->conn, sizeof(ch->conn));
	return 1 + sizeof(ch->conn);
}

bool rdv_channel_equal(const struct rdv_channel *a, const struct rdv_channel *b)
{
	uint8_t x[1 + RDV_ADDR_LEN], y[1 + RDV_ADDR_LEN];

	if (a->kind != b->kind || a->kind == RDV_CHAN_NONE)
		return false;
	channel_bytes(a, x);
	channel_bytes(b, y);
	return !memcmp(x, y, sizeof(x));
}

static uint64_t channel_hash(const struct rdv_registry *r, const struct rdv_channel *ch)
{
	uint8_t bytes[1 + RDV_ADDR_LEN];
	size_t len = channel_bytes(ch, bytes);

	return hash_bytes(r, bytes, len);
}

static uint64_t relay_hash(uint32_t id)
{
	/* Relay ids are drawn at random by us: no keyed hash needed. */
	return (uint64_t)id * 0x9E3779B97F4A7C15ull;
}

uint64_t rdv_registry_key_hash(const struct rdv_registry *r, const uint8_t key[32])
{
	return hash_bytes(r, key, 32);
}

/* ---- lookups ---- */

struct rdv_peer *rdv_registry_find(const struct rdv_registry *r, const uint8_t key[32])
{
	uint64_t h = hash_bytes(r, key, 32);

	for (struct rdv_hlink *l = htab_first(&r->by_key, h); l; l = l->next) {
		struct rdv_peer *p = container_of(l, struct rdv_peer, by_key);

		if (l->hash == h && !sodium_memcmp(p->hs.rs_pub, key, 32))
			return p;
	}
	return NULL;
}

struct rdv_peer *rdv_registry_find_relay(const struct rdv_registry *r, uint32_t relay_id)
{
	uint64_t h = relay_hash(relay_id);

	if (!relay_id)
		return NULL;
	for (struct rdv_hlink *l = htab_first(&r->by_relay, h); l; l = l->next) {
		struct rdv_peer *p = container_of(l, struct rdv_peer, by_relay);

		if (p->relay_id == relay_id)
			return p;
	}
	return NULL;
}

struct rdv_peer *rdv_registry_find_channel(const struct rdv_registry *r,
					   const struct rdv_channel *ch)
{
	uint64_t h;

	if (ch->kind == RDV_CHAN_NONE)
		return NULL;
	h = channel_hash(r, ch);
	for (struct rdv_hlink *l = htab_first(&r->by_chan, h); l; l = l->next) {
		struct rdv_peer *p = container_of(l, struct rdv_peer, by_chan);

		if (l->hash == h && rdv_channel_equal(&p->chan, ch))
			return p;
	}
	return NULL;
}

/* ---- life cycle ---- */

int rdv_registry_init(struct rdv_registry *r, size_t max_peers)
{
	int ret;

	memset(r, 0, sizeof(*r));
	if (!max_peers)
		return -EINVAL;
	r->max = max_peers;
	r->max_open = max_peers < RDV_MAX_OPEN ? max_peers : RDV_MAX_OPEN;
	randombytes_buf(r->hash_key, sizeof(r->hash_key));
	ret = sess_index_init(&r->index, max_peers * RDV_INDEXES_PER_PEER);
	if (ret < 0)
		return ret;
	if (htab_grow(&r->by_key) < 0 || htab_grow(&r->by_relay) < 0 ||
	    htab_grow(&r->by_chan) < 0) {
		rdv_registry_cleanup(r);
		return -ENOMEM;
	}
	return 0;
}

static void unlink_channel(struct rdv_registry *r, struct rdv_peer *p)
{
	if (p->in_chan)
		htab_remove(&r->by_chan, &p->by_chan);
	p->in_chan = false;
	memset(&p->chan, 0, sizeof(p->chan));
}

static void free_peer(struct rdv_peer *p)
{
	sess_peer_clear(&p->sess);
	hs_peer_cleanup(&p->hs);
	sodium_memzero(p, sizeof(*p));
	free(p);
}

void rdv_registry_cleanup(struct rdv_registry *r)
{
	for (size_t i = 0; i < r->n; i++)
		free_peer(r->peers[i]);
	free(r->peers);
	htab_free(&r->by_key);
	htab_free(&r->by_relay);
	htab_free(&r->by_chan);
	sess_index_cleanup(&r->index);
	sodium_memzero(r, sizeof(*r));
}

static void set_name(struct rdv_peer *p, const char *name)
{
	char b64[KEY_B64_LEN + 1];

	if (name) {
		snprintf(p->name, sizeof(p->name), "%s", name);
		return;
	}
	/* Enough of the key to tell peers apart in a log, as wg(8) does. */
	key_to_base64(p->hs.rs_pub, b64);
	snprintf(p->name, sizeof(p->name), "%.8s", b64);
}

/* The open-mode entry seen least recently (oldest last_auth_ms), or NULL.
 * A linear walk, but only a listed key meeting a full registry pays it, and
 * each listed key does so at most once (its entry then stays). */
static struct rdv_peer *oldest_open(const struct rdv_registry *r)
{
	struct rdv_peer *old = NULL;

	for (size_t i = 0; i < r->n; i++) {
		struct rdv_peer *p = r->peers[i];

		if (!p->from_config && (!old || p->last_auth_ms < old->last_auth_ms))
			old = p;
	}
	return old;
}

/* Room for one more entry: open mode within its caps; a listed key by
 * evicting an open-mode entry when the registry is full. 0 or -errno. */
static int make_room(struct rdv_registry *r, bool listed)
{
	struct rdv_peer *victim;

	if (!listed) {
		if (r->n >= r->max || r->n_open >= r->max_open)
			return -ENOSPC;
		/* Handshakes that never complete must not fill an open registry. */
		return r->n_pending_open >= RDV_MAX_PENDING ? -EBUSY : 0;
	}
	if (r->n < r->max)
		return 0;
	victim = oldest_open(r);
	if (!victim)
		return -ENOSPC;
	rdv_registry_remove(r, victim);
	r->evicted_open++;
	return 0;
}

struct rdv_peer *rdv_registry_add(struct rdv_registry *r, const struct hs_identity *id,
				  const uint8_t key[32], const char *name, uint64_t now_ms)
{
	struct rdv_peer *p;
	int ret;

	if (rdv_registry_find(r, key)) {
		errno = EEXIST;
		return NULL;
	}
	/* Cheap refusals first; a listed key's eviction waits for its key check. */
	ret = name ? (r->n >= r->max && !r->n_open ? -ENOSPC : 0) : make_room(r, false);
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	/* hs_peer_init refuses low-order keys and our own: checked before a
	 * listed key evicts anyone. */
	if (!hs_peer_init(&p->hs, id, key, NULL)) {
		free(p);
		errno = EINVAL;
		return NULL;
	}
	if (name && (ret = make_room(r, true)) < 0) {
		free_peer(p);
		errno = -ret;
		return NULL;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct rdv_peer **peers = realloc(r->peers, cap * sizeof(*peers));

		if (!peers) {
			free_peer(p);
			errno = ENOMEM;
			return NULL;
		}
		r->peers = peers;
		r->cap = cap;
	}
	sess_peer_init(&p->sess, &r->index, p);
	if (htab_insert(&r->by_key, &p->by_key, hash_bytes(r, key, 32)) < 0) {
		free_peer(p);
		errno = ENOMEM;
		return NULL;
	}
	p->from_config = name != NULL;
	set_name(p, name);
	p->created_ms = p->last_auth_ms = now_ms;
	p->slot = r->n;
	r->peers[r->n++] = p;
	if (!p->from_config) {
		r->n_open++;
		r->n_pending_open++;
	}
	return p;
}

static void unregister(struct rdv_registry *r, struct rdv_peer *p)
{
	if (p->relay_id)
		htab_remove(&r->by_relay, &p->by_relay);
	p->relay_id = 0;
	if (p->registered)
		r->n_registered--;
	p->registered = false;
	p->n_host = 0;
}

void rdv_registry_remove(struct rdv_registry *r, struct rdv_peer *p)
{
	size_t last = r->n - 1;

	unregister(r, p);
	unlink_channel(r, p);
	htab_remove(&r->by_key, &p->by_key);
	if (!p->from_config) {
		r->n_open--;
		if (!p->confirmed)
			r->n_pending_open--;
	}
	r->peers[p->slot] = r->peers[last];
	r->peers[p->slot]->slot = p->slot;
	r->n--;
	free_peer(p);
}

void rdv_registry_reset(struct rdv_registry *r, struct rdv_peer *p)
{
	unregister(r, p);
	unlink_channel(r, p);
	sess_peer_clear(&p->sess);
	hs_peer_reset(&p->hs);
	/* From here it waits like a new entry; only the timestamps remain. */
	if (p->confirmed && !p->from_config)
		r->n_pending_open++;
	p->confirmed = false;
	memset(&p->udp_reflexive, 0, sizeof(p->udp_reflexive));
	memset(&p->tcp_reflexive, 0, sizeof(p->tcp_reflexive));
	memset(&p->connect_rl, 0, sizeof(p->connect_rl));
	memset(&p->relay_rl, 0, sizeof(p->relay_rl));
	/* A new session asks anew: whoever it wanted to meet before is not
	 * evidence of what the next one wants. */
	memset(p->intent_key, 0, sizeof(p->intent_key));
	memset(p->intent_s, 0, sizeof(p->intent_s));
}

void rdv_registry_set_admission(struct rdv_registry *r, struct rdv_peer *p, const char *name)
{
	bool from_config = name != NULL;

	if (p->from_config != from_config) {
		if (from_config)
			r->n_open--;
		else
			r->n_open++;
	}
	if (!p->confirmed && p->from_config != from_config) {
		if (from_config)
			r->n_pending_open--;
		else
			r->n_pending_open++;
	}
	p->from_config = from_config;
	set_name(p, name);
}

/* ---- events ---- */

bool rdv_registry_authenticated(struct rdv_registry *r, struct rdv_peer *p,
				const struct rdv_channel *ch, uint64_t now_ms)
{
	struct rdv_peer *holder;

	p->last_auth_ms = now_ms;
	if (!p->confirmed && !p->from_config)
		r->n_pending_open--;
	p->confirmed = true;
	if (ch->kind == RDV_CHAN_UDP)
		p->udp_reflexive = ch->addr;
	else if (ch->kind == RDV_CHAN_TCP)
		p->tcp_reflexive = ch->addr;
	if (p->in_chan && rdv_channel_equal(&p->chan, ch))
		return false;
	holder = rdv_registry_find_channel(r, ch);
	if (holder)
		unlink_channel(r, holder);
	unlink_channel(r, p);
	p->chan = *ch;
	if (ch->kind != RDV_CHAN_NONE &&
	    htab_insert(&r->by_chan, &p->by_chan, channel_hash(r, ch)) == 0)
		p->in_chan = true;
	else
		memset(&p->chan, 0, sizeof(p->chan));
	return true;
}

void rdv_registry_channel_gone(struct rdv_registry *r, void *conn)
{
	struct rdv_channel ch = {.kind = RDV_CHAN_TCP, .conn = conn};
	struct rdv_peer *p = rdv_registry_find_channel(r, &ch);

	if (p)
		unlink_channel(r, p);
}

int rdv_registry_register(struct rdv_registry *r, struct rdv_peer *p, const struct rdv_register *m,
			  uint64_t now_ms)
{
	if (!p->relay_id) {
		uint32_t id = 0;

		/* 2^32 ids for at most RDV_MAX_PEERS entries: a collision is
		 * rare, sixteen in a row impossible in practice. */
		for (int tries = 0; tries < 16 && (!id || rdv_registry_find_relay(r, id)); tries++)
			randombytes_buf(&id, sizeof(id));
		if (!id || rdv_registry_find_relay(r, id))
			return -EAGAIN;
		if (htab_insert(&r->by_relay, &p->by_relay, relay_hash(id)) < 0)
			return -ENOMEM;
		p->relay_id = id;
	}
	p->n_host = (uint8_t)(m->n_host <= RDV_MAX_HOST ? m->n_host : RDV_MAX_HOST);
	for (size_t i = 0; i < p->n_host; i++)
		rdv_addr_from_sockaddr(&m->host[i], &p->host[i]);
	p->nat_mapping = m->nat_mapping;
	p->port_step = m->port_step;
	if (!p->registered)
		r->n_registered++;
	p->registered = true;
	p->registered_ms = now_ms;
	return 0;
}

/* ---- liveness ---- */

bool rdv_registry_is_live(const struct rdv_peer *p, uint64_t now_ms)
{
	const struct sess_keypair *cur = p->sess.current, *next = p->sess.next;

	if (now_ms - p->last_auth_ms >= RDV_IDLE_MS)
		return false;
	if (cur && cur->valid && !sess_keypair_is_expired(cur, now_ms))
		return true;
	/* A handshake the peer has not confirmed yet (first one or rekey). */
	return next && next->valid && now_ms - next->created_ms < RDV_PENDING_MS;
}

bool rdv_registry_is_reachable(struct rdv_peer *p, uint64_t now_ms)
{
	return p->registered && p->in_chan && rdv_registry_is_live(p, now_ms) &&
	       sess_peer_send_keypair(&p->sess, now_ms) != NULL;
}

/* A config-admitted entry that was reset and has not handshaken since. */
static bool is_dormant(const struct rdv_peer *p)
{
	return p->from_config && !p->sess.current && !p->sess.next && !p->registered && !p->in_chan;
}

size_t rdv_registry_expire(struct rdv_registry *r, uint64_t now_ms, rdv_registry_gone_fn gone,
			   void *ctx)
{
	size_t dropped = 0;

	/* Backwards, so that swap-remove only moves entries already seen. */
	for (size_t i = r->n; i-- > 0;) {
		struct rdv_peer *p = r->peers[i];

		if (is_dormant(p) || rdv_registry_is_live(p, now_ms))
			continue;
		if (gone)
			gone(ctx, p);
		if (p->from_config)
			rdv_registry_reset(r, p);
		else
			rdv_registry_remove(r, p);
		dropped++;
	}
	return dropped;
}
