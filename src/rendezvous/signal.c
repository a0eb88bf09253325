/* Handshakes and signalling. The order of checks is the order of cost and
 * trust: sizes before crypto, mac1 and the Noise message before any lookup
 * result is acted on, admission before an entry exists, the replay and flood
 * rules of hs_accept_initiation before keys are made. A data packet changes
 * the peer's state (channel, reflexive address, candidates) only after its
 * tag verified and its counter was new.
 *
 * Before any of that, an initiation passes the flood gate (crypto/hsgate.h):
 * under load, a UDP source without a valid mac2 gets a cookie reply and no
 * DH work, and every wake-up of the server allows a bounded number of DH.
 *
 * The channel moves with authenticated data, not with an initiation: an
 * initiation can be replayed from anywhere until its timestamp is
 * superseded, data cannot. The response to an initiation still goes back
 * the way the initiation came, as nothing else is known yet.
 *
 * REGISTER stores the candidates that pass the candidate rules of
 * util/addr.h (no loopback, link-local, multicast, unspecified, broadcast,
 * reserved or v4-mapped form, no port 0, none of our own addresses: a
 * refused one is dropped and counted, the rest kept) and answers REGISTERED with the
 * relay id and the address the packet came from.
 *
 * CONNECT (rate-limited per peer) records the asker's intent to meet the
 * key it names. Two peers are introduced (INTRODUCE to both, each about the
 * other) only when both intents are fresh: each sent CONNECT for the other
 * within RDV_INTENT_WINDOW_S, in either order, and both are registered and
 * reachable. An introduction uses up the two intents. Otherwise the asker
 * gets UNKNOWN_PEER, the same bytes whether the key is not registered,
 * unreachable, or registered but not asking for it: in open mode anyone
 * may register and name any key, and knowing a key must not tell where
 * that peer is, its NAT or its relay id. */
#include "rendezvous/signal.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "rdvproto/proto.h"
#include "session/keypair.h"
#include "util/addr.h"

/* Largest message we send: INTRODUCE with RDV_MAX_HOST candidates (84
 * bytes before them, as laid out in proto.h section 2; see proto.c). */
enum { SIGNAL_OUT_MAX = 84 + RDV_MAX_HOST * RDV_ADDR_LEN };

typedef void (*signal_fn)(struct rdv_core *c, struct rdv_peer *p, const uint8_t *msg, size_t len,
			  uint64_t now_ms);

/* Seals msg in the peer's current session and sends it on its channel. */
static bool send_signal(struct rdv_core *c, struct rdv_peer *p, const uint8_t *msg, size_t len,
			uint64_t now_ms)
{
	uint8_t buf[SESS_HEADROOM + SIGNAL_OUT_MAX + SESS_TAILROOM];
	struct sess_keypair *kp = sess_peer_send_keypair(&p->sess, now_ms);
	size_t pkt_len;

	if (!kp || !p->in_chan || len > SIGNAL_OUT_MAX)
		return false;
	memcpy(buf + SESS_HEADROOM, msg, len);
	if (sess_encrypt(kp, buf + SESS_HEADROOM, len, now_ms, &pkt_len) < 0)
		return false;
	c->send(c->send_ctx, &p->chan, buf, pkt_len);
	return true;
}

/* The candidate rules, with our own addresses: the configured ones and the
 * one this peer's packets reach (with a wildcard listen socket, the only
 * way we know it). */
static bool candidate_ok(const struct rdv_core *c, const struct rdv_peer *p,
			 const struct sockaddr_storage *a, enum addr_reason *why)
{
	struct sockaddr_storage own[RDV_MAX_OWN_ADDRS + 1];
	size_t n = c->n_own;

	memcpy(own, c->own, n * sizeof(own[0]));
	if (p->chan.local.ss_family)
		own[n++] = p->chan.local;
	return addr_candidate_ok(a, own, n, why);
}

static void on_register(struct rdv_core *c, struct rdv_peer *p, const uint8_t *msg, size_t len,
			uint64_t now_ms)
{
	struct rdv_register m, kept;
	uint8_t out[RDV_REGISTERED_LEN];
	bool was = p->registered;
	size_t n;

	if (!rdv_decode_register(msg, len, &m)) {
		rdv_core_drop(c, RDV_DROP_SIGNAL_MALFORMED, &p->chan, now_ms);
		return;
	}
	kept = m;
	kept.n_host = 0;
	for (size_t i = 0; i < m.n_host && kept.n_host < RDV_MAX_HOST; i++) {
		enum addr_reason why;

		if (candidate_ok(c, p, &m.host[i], &why)) {
			kept.host[kept.n_host++] = m.host[i];
			continue;
		}
		c->candidates_refused++;
		if (log_get_level() >= LOG_LEVEL_DEBUG && log_ratelimit_ok(&c->rl, now_ms))
			log_debug("rendezvous: peer %s (%s): host candidate refused: %s", p->name,
				  rdv_channel_str(&p->chan).s, addr_reason_name(why));
	}
	if (rdv_registry_register(&c->reg, p, &kept, now_ms) < 0) {
		rdv_core_drop(c, RDV_DROP_SEND_FAILED, &p->chan, now_ms);
		return;
	}
	c->registrations++;
	n = rdv_encode_registered(p->relay_id, &p->chan.addr, out, sizeof(out));
	if (!n || !send_signal(c, p, out, n, now_ms))
		rdv_core_drop(c, RDV_DROP_SEND_FAILED, &p->chan, now_ms);
	if (!was)
		log_info("rendezvous: peer %s (%s): registered, relay id %08x, %zu host "
			 "candidate%s, NAT mapping %s",
			 p->name, rdv_channel_str(&p->chan).s, p->relay_id, kept.n_host,
			 kept.n_host == 1 ? "" : "s",
			 p->nat_mapping == RDV_MAPPING_INDEPENDENT ? "endpoint-independent"
			 : p->nat_mapping == RDV_MAPPING_DEPENDENT ? "per destination"
								   : "unknown");
	else
		log_debug("rendezvous: peer %s (%s): registration refreshed", p->name,
			  rdv_channel_str(&p->chan).s);
}

/* INTRODUCE to `to`, about `about`. */
static bool introduce(struct rdv_core *c, struct rdv_peer *to, const struct rdv_peer *about,
		      uint64_t now_ms)
{
	struct rdv_introduce m;
	uint8_t out[SIGNAL_OUT_MAX];
	size_t n;

	memset(&m, 0, sizeof(m));
	m.nat_mapping = about->nat_mapping;
	m.port_step = about->port_step;
	m.start_in_ms = RDV_START_DELAY_MS;
	memcpy(m.public_key, about->hs.rs_pub, sizeof(m.public_key));
	m.relay_id = about->relay_id;
	m.udp_reflexive = about->udp_reflexive;
	m.tcp_reflexive = about->tcp_reflexive;
	for (size_t i = 0; i < about->n_host; i++)
		if (rdv_addr_to_sockaddr(&about->host[i], &m.host[m.n_host]))
			m.n_host++;
	n = rdv_encode_introduce(&m, out, sizeof(out));
	return n && send_signal(c, to, out, n, now_ms);
}

/* An intent's time: the second of the CONNECT, + 1 so that 0 marks an
 * unused slot (CLOCK_BOOTTIME seconds fit 32 bits for 136 years). */
static uint32_t intent_time(uint64_t now_ms)
{
	return (uint32_t)(now_ms / 1000) + 1;
}

/* p asked to meet the key whose hash is h: the intent moves to the front
 * (newest), taking the slot of an older intent for h, else the first
 * unused slot, else the last (the oldest) one. */
static void intent_record(struct rdv_peer *p, uint64_t h, uint64_t now_ms)
{
	size_t i = 0;

	while (i < RDV_INTENTS_PER_PEER - 1 && p->intent_s[i] && p->intent_key[i] != h)
		i++;
	memmove(&p->intent_key[1], &p->intent_key[0], i * sizeof(p->intent_key[0]));
	memmove(&p->intent_s[1], &p->intent_s[0], i * sizeof(p->intent_s[0]));
	p->intent_key[0] = h;
	p->intent_s[0] = intent_time(now_ms);
}

/* The slot of p's fresh intent for h, or -1 (none, or older than the
 * window: 60 s counted in whole seconds). */
static int intent_find(const struct rdv_peer *p, uint64_t h, uint64_t now_ms)
{
	uint32_t now_s = intent_time(now_ms);

	for (int i = 0; i < RDV_INTENTS_PER_PEER && p->intent_s[i]; i++)
		if (p->intent_key[i] == h)
			return now_s - p->intent_s[i] < RDV_INTENT_WINDOW_S ? i : -1;
	return -1;
}

static void intent_forget(struct rdv_peer *p, int i)
{
	size_t tail = RDV_INTENTS_PER_PEER - 1 - (size_t)i;

	memmove(&p->intent_key[i], &p->intent_key[i + 1], tail * sizeof(p->intent_key[0]));
	memmove(&p->intent_s[i], &p->intent_s[i + 1], tail * sizeof(p->intent_s[0]));
	p->intent_key[RDV_INTENTS_PER_PEER - 1] = 0;
	p->intent_s[RDV_INTENTS_PER_PEER - 1] = 0;
}

static void on_connect(struct rdv_core *c, struct rdv_peer *p, const uint8_t *msg, size_t len,
		       uint64_t now_ms)
{
	uint8_t key[32], out[RDV_UNKNOWN_PEER_LEN];
	struct rdv_peer *t;
	int back = -1;
	size_t n;

	if (!p->registered) {
		rdv_core_drop(c, RDV_DROP_NOT_REGISTERED, &p->chan, now_ms);
		return;
	}
	if (!rdv_decode_connect(msg, len, key)) {
		rdv_core_drop(c, RDV_DROP_SIGNAL_MALFORMED, &p->chan, now_ms);
		return;
	}
	/* Each CONNECT costs up to two sealed sends: bound what one peer can
	 * make us do for it. */
	if (!rdv_bucket_take(&p->connect_rl, 1, RDV_CONNECT_PER_S, RDV_CONNECT_PER_S, now_ms)) {
		rdv_core_drop(c, RDV_DROP_CONNECT_RATE, &p->chan, now_ms);
		return;
	}
	t = rdv_registry_find(&c->reg, key);
	/* Recorded for a key nobody holds yet too: when that peer registers
	 * and asks for p, both meet at its first CONNECT. */
	if (t != p)
		intent_record(p, rdv_registry_key_hash(&c->reg, key), now_ms);
	/* p's own hash is its by_key link's. */
	if (t && t != p && rdv_registry_is_reachable(t, now_ms))
		back = intent_find(t, p->by_key.hash, now_ms);
	if (back < 0) {
		/* Unknown, unreachable, or not asking for p: one answer for all. */
		n = rdv_encode_unknown_peer(key, out, sizeof(out));
		if (!n || !send_signal(c, p, out, n, now_ms))
			rdv_core_drop(c, RDV_DROP_SEND_FAILED, &p->chan, now_ms);
		if (t && t != p)
			log_debug("rendezvous: peer %s (%s): asked for peer %s, which has not "
				  "asked for it (or is unreachable): UNKNOWN_PEER",
				  p->name, rdv_channel_str(&p->chan).s, t->name);
		else
			log_debug("rendezvous: peer %s (%s): asked for an unknown peer", p->name,
				  rdv_channel_str(&p->chan).s);
		return;
	}
	if (!introduce(c, p, t, now_ms) || !introduce(c, t, p, now_ms)) {
		rdv_core_drop(c, RDV_DROP_SEND_FAILED, &p->chan, now_ms);
		return;
	}
	/* Both asks are answered: the next introduction of this pair needs
	 * two new ones, so one side alone cannot make the other punch again
	 * and again. */
	intent_forget(t, back);
	intent_forget(p, 0);
	c->introductions++;
	log_debug("rendezvous: peer %s (%s): introduced to peer %s, both asked", p->name,
		  rdv_channel_str(&p->chan).s, t->name);
}

static const signal_fn signal_handlers[] = {
    [RDV_REGISTER] = on_register,
    [RDV_CONNECT] = on_connect,
};

void rdv_signal_data(struct rdv_core *c, const struct rdv_channel *ch, uint8_t *pkt, size_t len,
		     uint64_t now_ms)
{
	struct sess_keypair *kp;
	struct rdv_peer *p = NULL;
	uint8_t *inner;
	size_t inner_len;
	uint32_t idx;
	unsigned type;

	/* Bounded before any crypto: nothing a peer sends us is larger. */
	if (len > RDV_SIGNAL_PKT_MAX) {
		rdv_core_drop(c, RDV_DROP_DATA_SIZE, ch, now_ms);
		return;
	}
	if (!sess_data_parse_index(pkt, len, &idx)) {
		rdv_core_drop(c, RDV_DROP_MALFORMED, ch, now_ms);
		return;
	}
	kp = sess_index_lookup(&c->reg.index, idx, SESS_INDEX_KEYPAIR, (void **)&p);
	if (!kp || !p || sess_decrypt(kp, pkt, len, now_ms, &inner, &inner_len) < 0) {
		rdv_core_drop(c, RDV_DROP_DATA_INVALID, ch, now_ms);
		return;
	}
	(void)sess_peer_on_received(&p->sess, kp);
	if (rdv_registry_authenticated(&c->reg, p, ch, now_ms) && p->registered)
		log_info("rendezvous: peer %s: moved to %s", p->name, rdv_channel_str(ch).s);
	if (inner_len == 0)
		return; /* keepalive */
	type = rdv_msg_type_of(inner, inner_len);
	if (type >= sizeof(signal_handlers) / sizeof(signal_handlers[0]) ||
	    !signal_handlers[type]) {
		rdv_core_drop(c, RDV_DROP_SIGNAL_MALFORMED, ch, now_ms);
		return;
	}
	signal_handlers[type](c, p, inner, inner_len, now_ms);
}

/* Installs the responder's keys for an accepted initiation; the response
 * is in *resp on success. */
static int respond(struct rdv_core *c, struct rdv_peer *p, struct wire_resp *resp, uint64_t now_ms)
{
	uint8_t send_key[HS_KEY_LEN], recv_key[HS_KEY_LEN];
	uint32_t idx = sess_index_alloc(&c->reg.index, SESS_INDEX_HANDSHAKE, p, p);
	uint32_t remote;
	bool initiator;
	int ret;

	if (!idx)
		return -ENOSPC;
	ret = hs_create_response(&p->hs, idx, resp);
	if (ret < 0)
		goto fail;
	remote = p->hs.remote_index;
	ret = hs_peer_derive_keys(&p->hs, send_key, recv_key, &initiator);
	if (ret == 0)
		ret =
		    sess_peer_install(&p->sess, send_key, recv_key, idx, remote, initiator, now_ms);
	sodium_memzero(send_key, sizeof(send_key));
	sodium_memzero(recv_key, sizeof(recv_key));
	if (ret == 0)
		return 0;
fail:
	sess_index_free(&c->reg.index, idx);
	hs_peer_reset(&p->hs);
	return ret;
}

/* The entry for an initiation's key: existing, or new when admitted. */
static struct rdv_peer *admit(struct rdv_core *c, const uint8_t key[32], bool *created,
			      enum rdv_drop *why, uint64_t now_ms)
{
	const struct cfg_rendezvous_peer *cp;
	struct rdv_peer *p = rdv_registry_find(&c->reg, key);
	uint64_t evicted;

	*created = false;
	if (p)
		return p;
	cp = cfg_rendezvous_find_key(c->cfg, key);
	if (!cp && !c->cfg->open) {
		*why = RDV_DROP_UNKNOWN_KEY;
		return NULL;
	}
	evicted = c->reg.evicted_open;
	p = rdv_registry_add(&c->reg, &c->id, key, cp ? cp->name : NULL, now_ms);
	if (!p) {
		*why = errno == EINVAL ? RDV_DROP_UNKNOWN_KEY : RDV_DROP_REGISTRY_FULL;
		return NULL;
	}
	if (c->reg.evicted_open != evicted)
		log_info("rendezvous: peer %s: registry full, the open-mode entry seen least "
			 "recently was dropped for it",
			 p->name);
	*created = true;
	return p;
}

/* The flood gate (crypto/hsgate.h) before any DH: true when the initiation
 * may have its DH work now. Otherwise it is counted, and under load a UDP
 * source without a valid mac2 gets a cookie reply. Over TCP the connection
 * itself proved the source address: such initiations get only the budget. */
static bool gate_admit(struct rdv_core *c, const struct rdv_channel *ch, const uint8_t *pkt,
		       size_t len, uint64_t now_ms)
{
	uint64_t entered = c->gate.under_load_entered;
	struct wire_cookie_reply r;
	enum hsgate_verdict v = hsgate_check(
	    &c->gate, pkt, len, ch->kind == RDV_CHAN_UDP ? &ch->addr : NULL, now_ms, &r);

	if (c->gate.under_load_entered != entered && !c->load_logged) {
		c->load_logged = true;
		log_info("rendezvous: handshake load: cookies required");
	}
	switch (v) {
	case HSGATE_PASS:
		return true;
	case HSGATE_SEND_COOKIE:
		rdv_core_drop(c, RDV_DROP_HANDSHAKE_NO_MAC2, ch, now_ms);
		c->send(c->send_ctx, ch, (uint8_t *)&r, sizeof(r));
		return false;
	case HSGATE_DROP_NO_MAC2:
		rdv_core_drop(c, RDV_DROP_HANDSHAKE_NO_MAC2, ch, now_ms);
		return false;
	case HSGATE_DROP_INVALID:
		rdv_core_drop(c, RDV_DROP_HANDSHAKE_INVALID, ch, now_ms);
		return false;
	default:
		rdv_core_drop(c, RDV_DROP_HANDSHAKE_RATE, ch, now_ms);
		return false;
	}
}

void rdv_signal_initiation(struct rdv_core *c, const struct rdv_channel *ch, uint8_t *pkt,
			   size_t len, uint64_t now_ms)
{
	enum rdv_drop why = RDV_DROP_HANDSHAKE_INVALID;
	struct hs_pending pending;
	struct wire_resp resp;
	struct rdv_peer *p;
	bool created;
	int ret;

	if (!gate_admit(c, ch, pkt, len, now_ms))
		return;
	if (hs_consume_initiation(&c->id, pkt, len, &pending) < 0) {
		rdv_core_drop(c, RDV_DROP_HANDSHAKE_INVALID, ch, now_ms);
		return;
	}
	p = admit(c, pending.rs_pub, &created, &why, now_ms);
	if (!p) {
		hs_pending_cleanup(&pending);
		rdv_core_drop(c, why, ch, now_ms);
		return;
	}
	ret = hs_accept_initiation(&p->hs, &pending, now_ms);
	if (ret == 0)
		ret = respond(c, p, &resp, now_ms);
	if (ret < 0) {
		if (created)
			rdv_registry_remove(&c->reg, p);
		rdv_core_drop(c,
			      ret == -EBUSY	 ? RDV_DROP_FLOOD
			      : ret == -EALREADY ? RDV_DROP_REPLAY
						 : RDV_DROP_REGISTRY_FULL,
			      ch, now_ms);
		return;
	}
	/* An accepted initiation is fresh and authentic: it keeps the entry
	 * alive, though only data moves the channel. */
	p->last_auth_ms = now_ms;
	c->handshakes++;
	c->send(c->send_ctx, ch, (uint8_t *)&resp, sizeof(resp));
	log_debug("rendezvous: peer %s (%s): handshake answered", p->name, rdv_channel_str(ch).s);
}
