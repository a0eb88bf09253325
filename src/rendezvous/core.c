/* The engine's entry points: set-up, the dispatch table from wire type to
 * handler, config reload of the admitted keys, the expiry sweep, and drop
 * accounting. Only three wire types are ever accepted from a peer: a
 * handshake initiation, a data packet (signalling) and a relay frame. A
 * response, cookie or probe addressed to the rendezvous is a drop: it never
 * initiates and never probes. */
#include "rendezvous/core.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <sodium.h>

#include "config/parse.h"
#include "rendezvous/relay.h"
#include "rendezvous/signal.h"
#include "util/addr.h"
#include "wire/wire.h"

typedef void (*wire_fn)(struct rdv_core *c, const struct rdv_channel *ch, uint8_t *pkt, size_t len,
			uint64_t now_ms);

static const wire_fn wire_handlers[WIRE_TYPE_MAX] = {
    [WIRE_HANDSHAKE_INIT] = rdv_signal_initiation,
    [WIRE_DATA] = rdv_signal_data,
    [WIRE_RELAY] = rdv_relay_frame,
};

static void set_own_addresses(struct rdv_core *c, const struct cfg_rendezvous *cfg)
{
	c->n_own = 0;
	if (!addr_is_any(&cfg->listen))
		c->own[c->n_own++] = cfg->listen;
	if (cfg->has_alternate)
		c->own[c->n_own++] = cfg->alternate;
}

int rdv_core_init(struct rdv_core *c, const struct cfg_rendezvous *cfg, size_t max_peers,
		  rdv_core_send_fn send, void *send_ctx)
{
	int ret;

	memset(c, 0, sizeof(*c));
	if (!hs_identity_init(&c->id, cfg->private_key))
		return -EINVAL;
	ret = rdv_registry_init(&c->reg, max_peers);
	if (ret < 0) {
		hs_identity_cleanup(&c->id);
		return ret;
	}
	c->cfg = cfg;
	c->send = send;
	c->send_ctx = send_ctx;
	set_own_addresses(c, cfg);
	hsgate_init(&c->gate, c->id.s_pub,
		    &(struct hsgate_limits){.load_per_second = RDV_HS_LOAD_PER_SECOND,
					    .budget_per_wake = RDV_HS_BUDGET_PER_WAKE});
	return 0;
}

void rdv_core_cleanup(struct rdv_core *c)
{
	hsgate_cleanup(&c->gate);
	rdv_registry_cleanup(&c->reg);
	hs_identity_cleanup(&c->id);
	sodium_memzero(c, sizeof(*c));
}

void rdv_core_set_config(struct rdv_core *c, const struct cfg_rendezvous *cfg)
{
	c->cfg = cfg;
	for (size_t i = c->reg.n; i-- > 0;) {
		struct rdv_peer *p = c->reg.peers[i];
		const struct cfg_rendezvous_peer *cp = cfg_rendezvous_find_key(cfg, p->hs.rs_pub);

		if (cp || cfg->open) {
			rdv_registry_set_admission(&c->reg, p, cp ? cp->name : NULL);
			continue;
		}
		log_info("rendezvous: peer %s: no longer admitted, dropped", p->name);
		rdv_registry_remove(&c->reg, p);
	}
}

void rdv_core_receive(struct rdv_core *c, const struct rdv_channel *ch, uint8_t *pkt, size_t len,
		      uint64_t now_ms)
{
	unsigned type = wire_type_of(pkt, len);

	if (!type || !wire_handlers[type]) {
		rdv_core_drop(c, RDV_DROP_MALFORMED, ch, now_ms);
		return;
	}
	wire_handlers[type](c, ch, pkt, len, now_ms);
}

static void on_gone(void *ctx, struct rdv_peer *p)
{
	(void)ctx;
	if (p->registered)
		log_info("rendezvous: peer %s (%s): session expired, registration dropped", p->name,
			 rdv_channel_str(&p->chan).s);
	else
		log_debug("rendezvous: peer %s: handshake not confirmed, dropped", p->name);
}

void rdv_core_wake(struct rdv_core *c)
{
	hsgate_wake(&c->gate);
}

void rdv_core_log_stats(const struct rdv_core *c, const char *when)
{
	const struct hsgate *g = &c->gate;

	log_info("rendezvous: %s: %llu handshakes, %llu registrations, %llu introductions; "
		 "handshake load entered %llu times, %llu cookie replies sent, initiations "
		 "refused: %llu without mac2, %llu rate-limited, %llu over the budget, %llu "
		 "invalid; %llu frames relayed (%llu bytes), relay frames refused: %llu "
		 "unauthenticated, %llu from unregistered channels, %llu over the rate",
		 when, (unsigned long long)c->handshakes, (unsigned long long)c->registrations,
		 (unsigned long long)c->introductions, (unsigned long long)g->under_load_entered,
		 (unsigned long long)g->cookie_replies_sent,
		 (unsigned long long)(g->verdicts[HSGATE_SEND_COOKIE] +
				      g->verdicts[HSGATE_DROP_NO_MAC2]),
		 (unsigned long long)g->verdicts[HSGATE_DROP_RATELIMITED],
		 (unsigned long long)g->verdicts[HSGATE_DROP_BUDGET],
		 (unsigned long long)g->verdicts[HSGATE_DROP_INVALID],
		 (unsigned long long)c->relayed, (unsigned long long)c->relayed_bytes,
		 (unsigned long long)c->drops[RDV_DROP_RELAY_AUTH],
		 (unsigned long long)c->drops[RDV_DROP_RELAY_UNKNOWN_SRC],
		 (unsigned long long)c->drops[RDV_DROP_RELAY_RATE]);
}

size_t rdv_core_expire(struct rdv_core *c, uint64_t now_ms)
{
	/* The end of a load episode is logged with the counters: the
	 * rendezvous has no control socket, its log is its statistics. */
	if (c->load_logged && !hsgate_under_load(&c->gate, now_ms)) {
		c->load_logged = false;
		rdv_core_log_stats(c, "handshake load over");
	}
	return rdv_registry_expire(&c->reg, now_ms, on_gone, c);
}

void rdv_core_conn_closed(struct rdv_core *c, void *conn)
{
	rdv_registry_channel_gone(&c->reg, conn);
}

const char *rdv_drop_name(enum rdv_drop why)
{
	static const char *const names[RDV_DROP_MAX] = {
	    [RDV_DROP_MALFORMED] = "malformed packet",
	    [RDV_DROP_HANDSHAKE_INVALID] = "invalid handshake initiation",
	    [RDV_DROP_UNKNOWN_KEY] = "initiation from a key not admitted",
	    [RDV_DROP_REGISTRY_FULL] = "registry full",
	    [RDV_DROP_REPLAY] = "replayed initiation",
	    [RDV_DROP_FLOOD] = "initiation flood",
	    [RDV_DROP_DATA_INVALID] = "data packet did not authenticate",
	    [RDV_DROP_DATA_SIZE] = "data packet too large",
	    [RDV_DROP_SIGNAL_MALFORMED] = "malformed signalling message",
	    [RDV_DROP_NOT_REGISTERED] = "not registered",
	    [RDV_DROP_CONNECT_RATE] = "CONNECT rate exceeded",
	    [RDV_DROP_RELAY_OFF] = "relay disabled",
	    [RDV_DROP_RELAY_UNKNOWN_SRC] = "relay frame from an unregistered channel",
	    [RDV_DROP_RELAY_UNKNOWN_DST] = "relay frame to an unknown id",
	    [RDV_DROP_RELAY_UNREACHABLE] = "relay destination unreachable",
	    [RDV_DROP_RELAY_INNER] = "relay frame with a bad inner datagram",
	    [RDV_DROP_RELAY_ACL] = "relay destination address refused",
	    [RDV_DROP_RELAY_RATE] = "relay rate exceeded",
	    [RDV_DROP_SEND_FAILED] = "answer not sent",
	    [RDV_DROP_HANDSHAKE_NO_MAC2] = "initiation under load without mac2",
	    [RDV_DROP_HANDSHAKE_RATE] = "initiation over the handshake rate",
	    [RDV_DROP_RELAY_AUTH] = "relay frame did not authenticate",
	};

	return why < RDV_DROP_MAX ? names[why] : "?";
}

struct rdv_channel_text rdv_channel_str(const struct rdv_channel *ch)
{
	struct rdv_channel_text t;
	char addr[ADDR_STRLEN];

	if (ch->kind == RDV_CHAN_NONE) {
		snprintf(t.s, sizeof(t.s), "no channel");
		return t;
	}
	addr_format(addr, sizeof(addr), &ch->addr);
	snprintf(t.s, sizeof(t.s), "%s%s", ch->kind == RDV_CHAN_TCP ? "tcp " : "", addr);
	return t;
}

void rdv_core_drop(struct rdv_core *c, enum rdv_drop why, const struct rdv_channel *ch,
		   uint64_t now_ms)
{
	if (why >= RDV_DROP_MAX)
		return;
	c->drops[why]++;
	if (log_get_level() >= LOG_LEVEL_DEBUG && log_ratelimit_ok(&c->rl, now_ms))
		log_debug("rendezvous: %s: dropped: %s", rdv_channel_str(ch).s, rdv_drop_name(why));
}
