/* The rendezvous's registry: one entry per admitted public key, made when
 * that key's handshake initiation authenticates, and found by key, by relay
 * id, by channel (the UDP address or TCP connection its last authenticated
 * packet came over) and by receiver index (the session's index table).
 *
 * Entry life:  handshake accepted -> pending (responder keys wait for the
 * peer's first data packet) -> confirmed (authenticated data: the channel
 * is set) -> registered (REGISTER: candidates stored, relay id assigned).
 * Dropped (rdv_registry_expire) when the session dies: no authenticated
 * packet for RDV_IDLE_MS, the keys past their 180 s reject time without a
 * rekey, or a pending handshake unconfirmed after RDV_PENDING_MS. An entry
 * admitted by the config keeps its handshake timestamps across a drop (only
 * its session and registration go), so a replayed initiation stays a
 * replay; an entry admitted by `open = yes` is freed.
 *
 * A channel belongs to one entry at a time: an address or connection that
 * authenticates for a second key moves to it (a NAT mapping serves one
 * socket). Nothing here does I/O; times are CLOCK_BOOTTIME ms. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/handshake.h"
#include "rdvproto/proto.h"
#include "rendezvous/bucket.h"
#include "session/index.h"
#include "session/keypair.h"

enum {
	RDV_MAX_PEERS = 100000,	      /* registry entries (compile-time cap) */
	RDV_MAX_OPEN = 90000,	      /* of them admitted by open = yes (the rest: listed keys) */
	RDV_MAX_PENDING = 1024,	      /* open-mode entries not yet confirmed */
	RDV_PENDING_MS = 10 * 1000,   /* a handshake the peer never confirmed */
	RDV_IDLE_MS = 3 * 180 * 1000, /* no authenticated packet at all */
	RDV_INDEXES_PER_PEER = 3,     /* current, previous and next keypair */
	RDV_NAME_LEN = 64,
};

/* Mutual intent: two peers are introduced only when each sent CONNECT for
 * the other within the window (signal.c); each entry remembers its latest
 * CONNECT targets. */
enum {
	RDV_INTENTS_PER_PEER = 16,
	RDV_INTENT_WINDOW_S = 60,
};

enum rdv_chan_kind {
	RDV_CHAN_NONE = 0,
	RDV_CHAN_UDP,
	RDV_CHAN_TCP,
};

/* Where a peer's last authenticated packet came from, and where replies go. */
struct rdv_channel {
	enum rdv_chan_kind kind;
	struct sockaddr_storage addr;  /* UDP: the source; TCP: the connection's remote end */
	struct sockaddr_storage local; /* where it was sent (UDP: answers leave from there;
					* TCP: the connection's local end) */
	void *conn;		       /* TCP: the connection (opaque here) */
};

struct rdv_hlink {
	struct rdv_hlink *next;
	uint64_t hash;
};

struct rdv_htab {
	struct rdv_hlink **b;
	size_t mask; /* bucket count - 1 (a power of two), or 0 before first use */
	size_t n;
};

struct rdv_peer {
	struct rdv_hlink by_key, by_relay, by_chan;
	struct hs_peer hs; /* rs_pub is the key */
	struct sess_peer sess;
	struct rdv_channel chan;
	struct sockaddr_storage udp_reflexive; /* last UDP source seen (ss_family 0: none) */
	struct sockaddr_storage tcp_reflexive; /* last TCP connection's remote end */
	struct rdv_addr host[RDV_MAX_HOST];    /* as REGISTER sent them */
	uint8_t n_host;
	uint8_t nat_mapping;
	int16_t port_step;
	uint32_t relay_id; /* 0 until registered */
	uint64_t created_ms, last_auth_ms, registered_ms;
	bool confirmed;	  /* an authenticated data packet arrived on the session */
	bool registered;  /* a REGISTER arrived */
	bool from_config; /* admitted by a [peer] section (else by open = yes) */
	bool in_chan;	  /* linked in by_chan */
	struct rdv_bucket connect_rl, relay_rl;
	char name[RDV_NAME_LEN]; /* config name, or the key's first base64 characters */
	size_t slot;		 /* position in rdv_registry.peers */

	/* Mutual intent (signal.c): the keys this peer sent CONNECT for in the
	 * last RDV_INTENT_WINDOW_S, newest first, as keyed hashes
	 * (rdv_registry_key_hash) with the CONNECT's second + 1 (0: unused
	 * slot). A fixed table: a new key replaces the oldest. */
	uint64_t intent_key[RDV_INTENTS_PER_PEER];
	uint32_t intent_s[RDV_INTENTS_PER_PEER];
};

struct rdv_registry {
	struct rdv_peer **peers;
	size_t n, cap, max;
	size_t n_open, max_open; /* open-mode entries, and their cap (<= max) */
	size_t n_pending_open;	 /* open-mode entries not yet confirmed */
	uint64_t evicted_open;	 /* open-mode entries evicted for a listed key */
	size_t n_registered;
	struct rdv_htab by_key, by_relay, by_chan;
	struct sess_index_table index;
	uint8_t hash_key[16]; /* SipHash key: bucket choice is unpredictable */
};

/* Empty registry for up to max_peers entries (the index table is sized for
 * them now), of which at most RDV_MAX_OPEN (or max_peers, if smaller) are
 * open-mode entries (max_open; a test may lower it); 0, or -ENOMEM/-EINVAL. */
int rdv_registry_init(struct rdv_registry *r, size_t max_peers);
/* Frees every entry (keys wiped) and the tables. */
void rdv_registry_cleanup(struct rdv_registry *r);

/* Lookups; NULL when absent. find_channel matches a UDP address (v4-mapped
 * forms equal plain IPv4) or a TCP connection pointer. */
struct rdv_peer *rdv_registry_find(const struct rdv_registry *r, const uint8_t key[32]);
struct rdv_peer *rdv_registry_find_relay(const struct rdv_registry *r, uint32_t relay_id);
struct rdv_peer *rdv_registry_find_channel(const struct rdv_registry *r,
					   const struct rdv_channel *ch);

/* A new entry for key, admitted by the config (name set) or by open mode
 * (name NULL). A listed key is always admitted while any open-mode entry
 * exists: with the registry full, the least recently seen open-mode entry
 * is removed for it (never a listed one; counted in evicted_open). NULL
 * with errno: EEXIST already there, ENOSPC registry full (or, for open
 * mode, max_open open-mode entries), EBUSY too many open-mode handshakes
 * pending, EINVAL a low-order key or our own, ENOMEM. */
struct rdv_peer *rdv_registry_add(struct rdv_registry *r, const struct hs_identity *id,
				  const uint8_t key[32], const char *name, uint64_t now_ms);
/* Unlinks and frees the entry, wiping its keys and freeing its indexes. */
void rdv_registry_remove(struct rdv_registry *r, struct rdv_peer *p);
/* Forgets session, channel, registration and intents but keeps the entry
 * and its handshake timestamps (a config-admitted peer whose session died). */
void rdv_registry_reset(struct rdv_registry *r, struct rdv_peer *p);
/* Marks or clears config admission (reload); name NULL means open mode. */
void rdv_registry_set_admission(struct rdv_registry *r, struct rdv_peer *p, const char *name);

/* An authenticated data packet arrived on ch: confirms the entry and moves
 * its channel there (roaming), taking the channel from any other entry that
 * held it. True when the channel changed. Also records the UDP or TCP
 * reflexive address. */
bool rdv_registry_authenticated(struct rdv_registry *r, struct rdv_peer *p,
				const struct rdv_channel *ch, uint64_t now_ms);
/* A TCP connection closed: the entry using it (if any) has no channel now. */
void rdv_registry_channel_gone(struct rdv_registry *r, void *conn);
/* Stores a REGISTER's candidates and assigns a relay id on the first one:
 * 0, or -EAGAIN when no unique id could be drawn (practically never). */
int rdv_registry_register(struct rdv_registry *r, struct rdv_peer *p, const struct rdv_register *m,
			  uint64_t now_ms);

/* True while the entry has a session worth keeping (see the top of file). */
bool rdv_registry_is_live(const struct rdv_peer *p, uint64_t now_ms);
/* True when the entry can be introduced or relayed to: registered, live,
 * with a channel, and its session able to send. */
bool rdv_registry_is_reachable(struct rdv_peer *p, uint64_t now_ms);
/* Called for each entry the sweep drops, before it is reset or freed. */
typedef void (*rdv_registry_gone_fn)(void *ctx, struct rdv_peer *p);
/* Drops every entry that is no longer live; returns how many. */
size_t rdv_registry_expire(struct rdv_registry *r, uint64_t now_ms, rdv_registry_gone_fn gone,
			   void *ctx);

/* The keyed 64-bit hash of a public key, the one by_key uses (an entry's
 * own is in by_key.hash): unpredictable without hash_key. */
uint64_t rdv_registry_key_hash(const struct rdv_registry *r, const uint8_t key[32]);

/* True when two channels are the same UDP address or TCP connection. */
bool rdv_channel_equal(const struct rdv_channel *a, const struct rdv_channel *b);
