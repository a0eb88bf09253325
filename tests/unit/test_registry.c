/* Registry tests (rendezvous/registry.h): admission limits, the three
 * lookups, channel ownership when two keys claim one address, relay ids,
 * and the expiry sweep walked along a fake clock: pending handshakes,
 * 180-second keys, the idle limit, and the difference between entries
 * admitted by the config (kept, reset) and by open mode (freed). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/keys.h"
#include "rendezvous/registry.h"

enum { T0 = 1000000, MAX = 16 };

struct env {
	struct rdv_registry r;
	struct hs_identity id;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	uint8_t priv[32];

	if (!e || sodium_init() < 0)
		return -1;
	key_generate(priv);
	if (!hs_identity_init(&e->id, priv) || rdv_registry_init(&e->r, MAX) < 0)
		return -1;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	rdv_registry_cleanup(&e->r);
	hs_identity_cleanup(&e->id);
	free(e);
	return 0;
}

static void new_key(uint8_t pub[32])
{
	uint8_t priv[32];

	key_generate(priv);
	assert_true(key_public(priv, pub));
}

static struct rdv_channel udp_ch(const char *ip, uint16_t port)
{
	struct rdv_channel ch;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ch.addr;

	memset(&ch, 0, sizeof(ch));
	ch.kind = RDV_CHAN_UDP;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	return ch;
}

/* Keys as a finished handshake would install them; initiator = true makes
 * them current at once (a confirmed session), false leaves them in next. */
static void install(struct env *e, struct rdv_peer *p, bool confirmed, uint64_t now)
{
	static const uint8_t k1[32] = {1}, k2[32] = {2};
	uint32_t idx = sess_index_alloc(&e->r.index, SESS_INDEX_HANDSHAKE, p, p);

	assert_int_not_equal(idx, 0);
	assert_int_equal(sess_peer_install(&p->sess, k1, k2, idx, 77, confirmed, now), 0);
}

static struct rdv_peer *add(struct env *e, const char *name, uint64_t now)
{
	uint8_t key[32];
	struct rdv_peer *p;

	new_key(key);
	p = rdv_registry_add(&e->r, &e->id, key, name, now);
	assert_non_null(p);
	return p;
}

static void test_rdv_registry_add_refuses(void **state)
{
	struct env *e = *state;
	static const uint8_t low_order[32] = {0}; /* the all-zero point */
	uint8_t key[32], open_key[32];
	struct rdv_peer *p;

	new_key(key);
	p = rdv_registry_add(&e->r, &e->id, key, "alice", T0);
	assert_non_null(p);
	assert_string_equal(p->name, "alice");
	assert_ptr_equal(rdv_registry_find(&e->r, key), p);
	/* The same key twice, a low-order key, our own key. */
	assert_null(rdv_registry_add(&e->r, &e->id, key, NULL, T0));
	assert_int_equal(errno, EEXIST);
	assert_null(rdv_registry_add(&e->r, &e->id, low_order, NULL, T0));
	assert_int_equal(errno, EINVAL);
	assert_null(rdv_registry_add(&e->r, &e->id, e->id.s_pub, NULL, T0));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(e->r.n, 1);
	/* An open-mode entry is named by its key's first base64 characters. */
	p = add(e, NULL, T0);
	assert_int_equal(strlen(p->name), 8);
	assert_int_equal(e->r.n_pending_open, 1);
	memcpy(open_key, p->hs.rs_pub, 32);
	/* Up to the cap, not beyond: a full registry takes a listed key in
	 * place of its one open-mode entry, then nothing more. */
	while (e->r.n < MAX)
		add(e, "listed", T0);
	new_key(key);
	assert_null(rdv_registry_add(&e->r, &e->id, key, NULL, T0));
	assert_int_equal(errno, ENOSPC);
	assert_non_null(rdv_registry_add(&e->r, &e->id, key, "listed", T0));
	assert_null(rdv_registry_find(&e->r, open_key));
	assert_int_equal(e->r.n_open, 0);
	assert_int_equal(e->r.n_pending_open, 0);
	assert_int_equal(e->r.evicted_open, 1);
	new_key(key);
	assert_null(rdv_registry_add(&e->r, &e->id, key, "listed", T0));
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(e->r.n, MAX);
	/* A low-order key evicts no one, even listed. */
	assert_null(rdv_registry_add(&e->r, &e->id, low_order, "listed", T0));
	assert_int_equal(e->r.n, MAX);
	/* Removal frees the key for a new entry. */
	rdv_registry_remove(&e->r, rdv_registry_find(&e->r, e->r.peers[0]->hs.rs_pub));
	assert_non_null(rdv_registry_add(&e->r, &e->id, key, "listed", T0));
}

static void test_rdv_registry_add_open_cap(void **state)
{
	struct env *e = *state;
	uint8_t key[32];
	struct rdv_peer *p;

	assert_int_equal(e->r.max_open, MAX); /* min(RDV_MAX_OPEN, max) */
	e->r.max_open = 4;
	for (int i = 0; i < 4; i++)
		add(e, NULL, T0);
	assert_int_equal(e->r.n_open, 4);
	/* The open cap is reached with room left: no new unlisted key... */
	new_key(key);
	assert_null(rdv_registry_add(&e->r, &e->id, key, NULL, T0));
	assert_int_equal(errno, ENOSPC);
	/* ...while listed keys still get in, without evicting anyone. */
	for (int i = 0; i < 4; i++)
		add(e, "listed", T0);
	assert_int_equal(e->r.n, 8);
	assert_int_equal(e->r.n_open, 4);
	assert_int_equal(e->r.evicted_open, 0);
	/* An open-mode entry leaving makes room for one. */
	rdv_registry_remove(&e->r, e->r.peers[0]);
	assert_int_equal(e->r.n_open, 3);
	p = rdv_registry_add(&e->r, &e->id, key, NULL, T0);
	assert_non_null(p);
	assert_int_equal(e->r.n_open, 4);
	/* A reload that lists an open-mode key moves it out of the open count,
	 * and one that unlists a key moves it in (over the cap: no new ones). */
	rdv_registry_set_admission(&e->r, p, "now-listed");
	assert_int_equal(e->r.n_open, 3);
	add(e, NULL, T0);
	rdv_registry_set_admission(&e->r, p, NULL);
	rdv_registry_set_admission(&e->r, e->r.peers[5], NULL);
	assert_int_equal(e->r.n_open, 6);
	new_key(key);
	assert_null(rdv_registry_add(&e->r, &e->id, key, NULL, T0));
	assert_int_equal(errno, ENOSPC);
}

static void test_rdv_registry_add_listed_evicts_oldest_open(void **state)
{
	struct env *e = *state;
	struct rdv_channel ch = udp_ch("198.51.100.50", 1000);
	uint8_t keys[MAX][32], key[32];
	struct rdv_peer *listed;

	/* A registry full of open-mode entries, seen at T0 + i; entry 0 is
	 * seen again later, so entry 1 is the one seen least recently. */
	for (int i = 0; i < MAX; i++) {
		struct rdv_peer *p = add(e, NULL, T0 + (uint64_t)i);

		memcpy(keys[i], p->hs.rs_pub, 32);
	}
	assert_int_equal(e->r.n_open, MAX);
	assert_true(
	    rdv_registry_authenticated(&e->r, rdv_registry_find(&e->r, keys[0]), &ch, T0 + 100));
	new_key(key);
	assert_null(rdv_registry_add(&e->r, &e->id, key, NULL, T0 + 200));
	assert_int_equal(errno, ENOSPC);
	/* The listed key is admitted in place of entry 1. */
	listed = add(e, "alice", T0 + 200);
	assert_string_equal(listed->name, "alice");
	assert_null(rdv_registry_find(&e->r, keys[1]));
	assert_non_null(rdv_registry_find(&e->r, keys[0]));
	for (int i = 2; i < MAX; i++)
		assert_non_null(rdv_registry_find(&e->r, keys[i]));
	assert_int_equal(e->r.n, MAX);
	assert_int_equal(e->r.n_open, MAX - 1);
	assert_int_equal(e->r.n_pending_open, MAX - 2); /* entry 0 is confirmed */
	assert_int_equal(e->r.evicted_open, 1);
	/* The next one takes entry 2; entry 0 and its channel stay. */
	add(e, "bob", T0 + 300);
	assert_null(rdv_registry_find(&e->r, keys[2]));
	assert_ptr_equal(rdv_registry_find_channel(&e->r, &ch), rdv_registry_find(&e->r, keys[0]));
	/* Listed keys until no open-mode entry is left, entry 0 last: then
	 * the full registry refuses, and no listed entry was ever evicted. */
	while (e->r.n_open > 1) {
		add(e, "listed", T0 + 400);
		assert_non_null(rdv_registry_find(&e->r, keys[0]));
	}
	add(e, "listed", T0 + 400);
	assert_null(rdv_registry_find(&e->r, keys[0]));
	assert_null(rdv_registry_find_channel(&e->r, &ch));
	assert_int_equal(e->r.evicted_open, MAX);
	assert_int_equal(e->r.n_pending_open, 0);
	assert_ptr_equal(rdv_registry_find(&e->r, listed->hs.rs_pub), listed);
	new_key(key);
	assert_null(rdv_registry_add(&e->r, &e->id, key, "listed", T0 + 500));
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(e->r.n, MAX);
}

static void test_rdv_registry_add_pending_cap(void **state)
{
	struct env *e = *state;
	struct rdv_registry big;
	uint8_t key[32];
	struct rdv_peer *p = NULL;

	assert_int_equal(rdv_registry_init(&big, RDV_MAX_PENDING + 8), 0);
	for (size_t i = 0; i < RDV_MAX_PENDING; i++) {
		new_key(key);
		p = rdv_registry_add(&big, &e->id, key, NULL, T0);
		assert_non_null(p);
	}
	/* Open mode is full of unconfirmed handshakes; listed keys still get in. */
	new_key(key);
	assert_null(rdv_registry_add(&big, &e->id, key, NULL, T0));
	assert_int_equal(errno, EBUSY);
	assert_non_null(rdv_registry_add(&big, &e->id, key, "listed", T0));
	/* A confirmed session frees its pending slot. */
	{
		struct rdv_channel ch = udp_ch("198.51.100.1", 1000);

		assert_true(rdv_registry_authenticated(&big, p, &ch, T0));
	}
	assert_int_equal(big.n_pending_open, RDV_MAX_PENDING - 1);
	new_key(key);
	assert_non_null(rdv_registry_add(&big, &e->id, key, NULL, T0));
	rdv_registry_cleanup(&big);
}

static void test_rdv_registry_channel_ownership(void **state)
{
	struct env *e = *state;
	struct rdv_peer *a = add(e, "a", T0), *b = add(e, "b", T0);
	struct rdv_channel ch = udp_ch("198.51.100.7", 4000), other = udp_ch("198.51.100.7", 4001);
	struct rdv_channel mapped = ch, tcp = {.kind = RDV_CHAN_TCP, .conn = &mapped};
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&mapped.addr;

	assert_null(rdv_registry_find_channel(&e->r, &ch));
	assert_true(rdv_registry_authenticated(&e->r, a, &ch, T0));
	assert_false(rdv_registry_authenticated(&e->r, a, &ch, T0 + 1)); /* unchanged */
	assert_ptr_equal(rdv_registry_find_channel(&e->r, &ch), a);
	assert_null(rdv_registry_find_channel(&e->r, &other));
	/* The v4-mapped form of the same address is the same channel. */
	memset(&mapped.addr, 0, sizeof(mapped.addr));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(4000);
	assert_int_equal(inet_pton(AF_INET6, "::ffff:198.51.100.7", &sin6->sin6_addr), 1);
	assert_ptr_equal(rdv_registry_find_channel(&e->r, &mapped), a);
	/* B authenticates from A's address: it takes the channel, A has none. */
	assert_true(rdv_registry_authenticated(&e->r, b, &ch, T0 + 2));
	assert_ptr_equal(rdv_registry_find_channel(&e->r, &ch), b);
	assert_int_equal(a->chan.kind, RDV_CHAN_NONE);
	assert_false(a->in_chan);
	/* A moves to TCP; the connection closing leaves it without a channel. */
	tcp.addr = ch.addr;
	assert_true(rdv_registry_authenticated(&e->r, a, &tcp, T0 + 3));
	assert_ptr_equal(rdv_registry_find_channel(&e->r, &tcp), a);
	assert_int_equal(a->tcp_reflexive.ss_family, AF_INET);
	rdv_registry_channel_gone(&e->r, &mapped);
	assert_null(rdv_registry_find_channel(&e->r, &tcp));
	assert_false(a->in_chan);
	/* Unknown connections are ignored. */
	rdv_registry_channel_gone(&e->r, &other);
	assert_ptr_equal(rdv_registry_find_channel(&e->r, &ch), b);
}

static void test_rdv_registry_register_relay_ids(void **state)
{
	struct env *e = *state;
	struct rdv_register m = {.nat_mapping = RDV_MAPPING_DEPENDENT, .port_step = 1, .n_host = 1};
	struct rdv_peer *p[MAX];
	uint32_t first;

	((struct sockaddr_in *)&m.host[0])->sin_family = AF_INET;
	((struct sockaddr_in *)&m.host[0])->sin_port = htons(5);
	for (size_t i = 0; i < MAX; i++) {
		p[i] = add(e, "x", T0);
		assert_int_equal(p[i]->relay_id, 0);
		assert_int_equal(rdv_registry_register(&e->r, p[i], &m, T0), 0);
		assert_int_not_equal(p[i]->relay_id, 0);
		assert_ptr_equal(rdv_registry_find_relay(&e->r, p[i]->relay_id), p[i]);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(p[i]->relay_id, p[j]->relay_id);
	}
	assert_int_equal(e->r.n_registered, MAX);
	assert_int_equal(p[0]->n_host, 1);
	assert_int_equal(p[0]->port_step, 1);
	/* A second REGISTER keeps the id. */
	first = p[0]->relay_id;
	assert_int_equal(rdv_registry_register(&e->r, p[0], &m, T0 + 10), 0);
	assert_int_equal(p[0]->relay_id, first);
	assert_int_equal(e->r.n_registered, MAX);
	/* Reset and removal give the id back. */
	rdv_registry_reset(&e->r, p[0]);
	assert_null(rdv_registry_find_relay(&e->r, first));
	assert_false(p[0]->registered);
	first = p[1]->relay_id;
	rdv_registry_remove(&e->r, p[1]);
	assert_null(rdv_registry_find_relay(&e->r, first));
	assert_int_equal(e->r.n_registered, MAX - 2);
	assert_null(rdv_registry_find_relay(&e->r, 0));
}

/* Mutual intent's storage (signal.c fills it): key hashes are the by_key
 * hashes, differ from key to key and from registry to registry (a secret
 * SipHash key each, so nobody outside can aim at a slot), survive a second
 * REGISTER, and go with a reset (the session died). */
static void test_rdv_registry_intents_reset(void **state)
{
	struct env *e = *state;
	struct rdv_peer *p = add(e, "alice", T0), *q = add(e, NULL, T0);
	struct rdv_register m = {0};
	struct rdv_registry other;

	assert_true(rdv_registry_key_hash(&e->r, p->hs.rs_pub) == p->by_key.hash);
	assert_true(rdv_registry_key_hash(&e->r, q->hs.rs_pub) == q->by_key.hash);
	assert_true(p->by_key.hash != q->by_key.hash);
	assert_int_equal(rdv_registry_init(&other, 4), 0);
	assert_true(rdv_registry_key_hash(&other, p->hs.rs_pub) != p->by_key.hash);
	rdv_registry_cleanup(&other);
	for (size_t i = 0; i < RDV_INTENTS_PER_PEER; i++)
		assert_true(p->intent_s[i] == 0 && p->intent_key[i] == 0);
	install(e, p, true, T0);
	assert_int_equal(rdv_registry_register(&e->r, p, &m, T0), 0);
	p->intent_key[0] = q->by_key.hash;
	p->intent_s[0] = T0 / 1000 + 1;
	assert_int_equal(rdv_registry_register(&e->r, p, &m, T0 + 10), 0);
	assert_true(p->intent_key[0] == q->by_key.hash);
	rdv_registry_reset(&e->r, p);
	for (size_t i = 0; i < RDV_INTENTS_PER_PEER; i++)
		assert_true(p->intent_s[i] == 0 && p->intent_key[i] == 0);
	assert_ptr_equal(rdv_registry_find(&e->r, p->hs.rs_pub), p);
}

static size_t gone_count;

static void gone(void *ctx, struct rdv_peer *p)
{
	(void)ctx;
	(void)p;
	gone_count++;
}

/* The sweep along the clock: (1) a confirmed session lives until its keys
 * are 180 s old; (2) a handshake never confirmed goes after
 * RDV_PENDING_MS; (3) an open-mode entry is freed, a listed one reset and
 * kept with its timestamps; (4) a dormant listed entry is left alone. */
static void test_rdv_registry_expire(void **state)
{
	struct env *e = *state;
	struct rdv_peer *live = add(e, "live", T0), *pending = add(e, NULL, T0),
			*listed = add(e, "listed", T0);
	struct rdv_channel ch = udp_ch("198.51.100.9", 9);
	struct rdv_register m = {0};
	uint8_t pending_key[32], listed_key[32];

	memcpy(pending_key, pending->hs.rs_pub, 32);
	memcpy(listed_key, listed->hs.rs_pub, 32);
	install(e, live, true, T0);
	assert_true(rdv_registry_authenticated(&e->r, live, &ch, T0));
	assert_int_equal(rdv_registry_register(&e->r, live, &m, T0), 0);
	install(e, pending, false, T0);
	install(e, listed, false, T0);
	listed->hs.last_timestamp[0] = 0x42; /* stands for an accepted timestamp */

	assert_int_equal(rdv_registry_expire(&e->r, T0 + RDV_PENDING_MS - 1, gone, NULL), 0);
	assert_true(rdv_registry_is_reachable(live, T0 + RDV_PENDING_MS));
	gone_count = 0;
	assert_int_equal(rdv_registry_expire(&e->r, T0 + RDV_PENDING_MS, gone, NULL), 2);
	assert_int_equal(gone_count, 2);
	assert_null(rdv_registry_find(&e->r, pending_key));
	assert_ptr_equal(rdv_registry_find(&e->r, listed_key), listed);
	assert_null(listed->sess.next);
	assert_int_equal(listed->hs.last_timestamp[0], 0x42);
	assert_int_equal(e->r.n_pending_open, 0);
	/* The reset listed entry stays dormant; the live one lives to 180 s. */
	assert_int_equal(rdv_registry_expire(&e->r, T0 + 179999, gone, NULL), 0);
	assert_ptr_equal(rdv_registry_find_channel(&e->r, &ch), live);
	assert_int_equal(rdv_registry_expire(&e->r, T0 + 180000, gone, NULL), 1);
	/* "live" was listed too: reset, not freed, and off every lookup. */
	assert_ptr_equal(rdv_registry_find(&e->r, live->hs.rs_pub), live);
	assert_null(rdv_registry_find_channel(&e->r, &ch));
	assert_int_equal(e->r.n_registered, 0);
	assert_int_equal(e->r.n, 2);
	assert_false(rdv_registry_is_reachable(live, T0 + 180000));
}

/* The idle limit: keys renewed but nothing authenticated for 540 s. */
static void test_rdv_registry_expire_idle(void **state)
{
	struct env *e = *state;
	struct rdv_peer *p = add(e, NULL, T0);
	struct rdv_channel ch = udp_ch("198.51.100.10", 10);
	uint64_t t = T0;

	install(e, p, true, t);
	assert_true(rdv_registry_authenticated(&e->r, p, &ch, t));
	/* New keys every 100 s keep the session; last_auth is not touched. */
	for (t = T0 + 100000; t < T0 + RDV_IDLE_MS; t += 100000) {
		install(e, p, true, t);
		assert_int_equal(rdv_registry_expire(&e->r, t, NULL, NULL), 0);
	}
	assert_int_equal(rdv_registry_expire(&e->r, T0 + RDV_IDLE_MS - 1, NULL, NULL), 0);
	assert_int_equal(rdv_registry_expire(&e->r, T0 + RDV_IDLE_MS, NULL, NULL), 1);
	assert_int_equal(e->r.n, 0);
}

static void test_rdv_registry_set_admission(void **state)
{
	struct env *e = *state;
	struct rdv_peer *p = add(e, NULL, T0);

	assert_int_equal(e->r.n_pending_open, 1);
	rdv_registry_set_admission(&e->r, p, "carol");
	assert_string_equal(p->name, "carol");
	assert_true(p->from_config);
	assert_int_equal(e->r.n_pending_open, 0);
	rdv_registry_set_admission(&e->r, p, NULL);
	assert_false(p->from_config);
	assert_int_equal(e->r.n_pending_open, 1);
	rdv_registry_remove(&e->r, p);
	assert_int_equal(e->r.n_pending_open, 0);
	assert_int_equal(e->r.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rdv_registry_add_refuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_registry_add_open_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_registry_add_listed_evicts_oldest_open, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_registry_add_pending_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_registry_channel_ownership, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_registry_register_relay_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_registry_intents_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_registry_expire, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_registry_expire_idle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdv_registry_set_admission, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
