/* The daemon's side of the rendezvous (rdvproto/proto.h): the glue that
 * carries out what the client's engine (rdvclient/engine.h) decides. The
 * engine holds the state and the rules: the STUN mapping test towards the
 * rendezvous's two ports, the TCP fallback, the REGISTER schedule and its
 * heartbeat (three intervals without a REGISTERED answer and the session is
 * made again, which is how a restarted rendezvous gets our registration
 * back), the CONNECT pace and the reading of signalling messages. This file
 * owns the I/O: it builds and sends the STUN requests, REGISTER and CONNECT
 * messages, opens the TCP stream, drives the session with the meeting point
 * (an ordinary handshake; the rendezvous is a struct peer flagged
 * is_rendezvous whose inner payloads are signalling, not IP), gathers our
 * host candidates, hands introductions to the path engine, and logs.
 * Direct tunnels do not depend on any of this. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "daemon/daemon.h"
#include "daemon/path.h"
#include "daemon/peer.h"
#include "daemon/punch.h"
#include "daemon/portmap.h"
#include "daemon/rdv.h"
#include "daemon/receive.h"
#include "daemon/send.h"
#include "daemon/tcpmux.h"
#include "rdvproto/proto.h"
#include "stun/stun.h"
#include "util/addr.h"
#include "util/log.h"
#include "util/time.h"

void rdv_client_tcp_up(struct daemon *d, struct tcp_conn *c, uint64_t now)
{
	struct path path = {.kind = PATH_TCP, .conn = c};

	path.addr = d->rdv->cfg.endpoint;
	rdvc_on_tcp_up(&d->rc.eng);
	d->rdv->path = path;
	tcpmux_adopt(d, c, d->rdv);
	log_info("%s: rendezvous %s: connected over TCP", d->cfg.ifname, addr_str(&path.addr).s);
	sess_peer_clear(&d->rdv->sess);
	peer_send_initiation(d, d->rdv, now, true);
}

void rdv_client_tcp_down(struct daemon *d)
{
	rdvc_on_tcp_down(&d->rc.eng, time_now_ms());
}

static void send_stun(struct daemon *d, const struct rdvc_action *a)
{
	struct stun_builder b;
	uint8_t buf[64];
	size_t len;

	if (stun_builder_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST,
			      a->stun_id) < 0 ||
	    stun_builder_finish(&b, true, &len) < 0)
		return;
	(void)udp_send(&d->udp, buf, len, &a->addr);
}

bool rdv_client_stun(struct daemon *d, struct rx_pkt *m, uint64_t now)
{
	const struct rdvc_engine *e = &d->rc.eng;

	if (!d->rdv)
		return false;
	switch (rdvc_on_stun(&d->rc.eng, m->data, m->len, now)) {
	case RDVC_STUN_NOT_OURS:
		return false;
	case RDVC_STUN_NAT_CHANGED:
		log_info("%s: reflexive address %s, NAT mapping %s%s", d->cfg.ifname,
			 addr_str(&e->reflexive).s,
			 e->nat_mapping == RDV_MAPPING_INDEPENDENT ? "endpoint-independent"
								   : "per destination",
			 e->port_step ? " (sequential)" : "");
		break;
	case RDVC_STUN_ANSWER:
		break;
	}
	return true;
}

static void send_signal(struct daemon *d, const uint8_t *msg, size_t len, uint64_t now)
{
	uint8_t buf[PKT_HEADROOM + 512 + PKT_TAILROOM];

	if (len > 512)
		return;
	memcpy(buf + PKT_HEADROOM, msg, len);
	datapath_send_inner(d, d->rdv, buf + PKT_HEADROOM, len, now);
	send_flush(d);
}

struct host_ctx {
	struct daemon *d;
	struct rdv_register *reg;
};

/* One interface address as a host candidate on our UDP port. Only what
 * the rendezvous would pass on (util/addr's candidate rules): loopback and
 * link-local addresses stay home. */
static int add_host(const struct nl_addr *a, void *ctx)
{
	struct host_ctx *hc = ctx;
	struct rdv_register *reg = hc->reg;
	struct sockaddr_storage ss;

	if (a->ifindex == hc->d->tun.ifindex || reg->n_host >= RDV_MAX_HOST)
		return 0;
	if (!addr_from_ip(&ss, a->family, a->addr, udp_local_port(&hc->d->udp)) ||
	    !addr_candidate_ok(&ss, NULL, 0, NULL))
		return 0;
	reg->host[reg->n_host++] = ss;
	return 0;
}

void rdv_client_host_candidates(struct daemon *d, struct rdv_register *reg)
{
	const struct sockaddr_storage *mapped = portmap_external(d);
	struct host_ctx hc = {d, reg};

	reg->n_host = 0;
	/* The gateway forwards its mapped port to us from anywhere: the
	 * candidate most likely to work, so the first. */
	if (mapped && addr_candidate_ok(mapped, NULL, 0, NULL))
		reg->host[reg->n_host++] = *mapped;
	if (d->nl.mnl)
		(void)nl_addr_dump(&d->nl, add_host, &hc);
}

void rdv_client_candidates_changed(struct daemon *d)
{
	if (d->rdv)
		rdvc_candidates_changed(&d->rc.eng);
}

static void send_register(struct daemon *d, uint64_t now)
{
	const struct rdvc_engine *e = &d->rc.eng;
	struct rdv_register reg = {.nat_mapping = e->nat_mapping, .port_step = e->port_step};
	uint8_t buf[RDV_REGISTER_LEN + RDV_MAX_HOST * RDV_ADDR_LEN];
	size_t len;

	rdv_client_host_candidates(d, &reg);
	len = rdv_encode_register(&reg, buf, sizeof(buf));
	if (len)
		send_signal(d, buf, len, now);
}

void rdv_client_connect(struct daemon *d, struct peer *p, uint64_t now)
{
	uint8_t buf[RDV_CONNECT_LEN];
	size_t len;

	if (!d->rdv || !rdvc_connect_due(&d->rc.eng, &p->connect_sent_ms, now))
		return;
	len = rdv_encode_connect(p->cfg.public_key, buf, sizeof(buf));
	if (!len)
		return;
	send_signal(d, buf, len, now);
	log_debug("%s: peer %s: asking the rendezvous for an introduction", d->cfg.ifname, p->name);
}

/* Our NAT data or candidates changed, or the rendezvous lost our
 * registration: every peer still without a session, or reached through the
 * relay (whose ids a restarted rendezvous has renewed), is introduced again
 * with what the rendezvous knows now. */
static void reintroduce(struct daemon *d, uint64_t now)
{
	for (size_t i = 0; i < d->n_peers; i++) {
		struct peer *q = d->peers[i];

		if (sess_peer_send_keypair(&q->sess, now) && q->path.kind != PATH_RELAY)
			continue;
		q->connect_sent_ms = 0;
		rdv_client_connect(d, q, now);
	}
}

static void introduce(struct daemon *d, const struct rdvc_action *a, uint64_t now)
{
	struct peer *p = peer_by_key(d, a->intro.public_key);

	if (!p)
		return; /* introduced to someone not in our config: ignore */
	for (size_t i = 0; i < a->n_skipped; i++)
		log_debug("%s: peer %s: introduced %s candidate skipped: %s", d->cfg.ifname,
			  p->name, a->skipped[i].what, addr_reason_name(a->skipped[i].why));
	peer_on_introduce(d, p, &a->intro, now);
}

static void signal_action(struct daemon *d, const struct rdvc_action *a, uint64_t now)
{
	struct peer *p;

	switch (a->type) {
	case RDVC_ACT_REGISTERED:
		log_info("%s: registered with the rendezvous %s as %s", d->cfg.ifname,
			 path_str(&d->rdv->path).s, addr_str(&a->addr).s);
		break;
	case RDVC_ACT_REINTRODUCE:
		reintroduce(d, now);
		break;
	case RDVC_ACT_INTRODUCE:
		introduce(d, a, now);
		break;
	case RDVC_ACT_NOT_INTRODUCED:
		/* The rendezvous introduces two peers only once both asked for
		 * each other, and says the same whether the peer is absent or
		 * has not asked yet: we ask again every RDVC_CONNECT_INTERVAL_MS. */
		p = peer_by_key(d, a->key);
		if (p)
			log_debug("%s: peer %s: no introduction yet (not at the rendezvous, or "
				  "not asking for us)",
				  d->cfg.ifname, p->name);
		break;
	case RDVC_ACT_MALFORMED:
		drop(d, DROP_MALFORMED, &d->rdv->path);
		break;
	default:
		break;
	}
}

void rdv_client_receive(struct daemon *d, const uint8_t *msg, size_t len, uint64_t now)
{
	const struct rdvc_own own = {
	    .rendezvous = d->cfg.rendezvous,
	    .n_rendezvous = d->cfg.n_rendezvous,
	    .tunnel = d->cfg.addresses,
	    .n_tunnel = d->cfg.n_addresses,
	};
	struct rdvc_action acts[RDVC_MAX_ACTIONS];
	size_t n = rdvc_on_signal(&d->rc.eng, msg, len, &own, now, acts);

	for (size_t i = 0; i < n; i++)
		signal_action(d, &acts[i], now);
}

static void tick_action(struct daemon *d, const struct rdvc_action *a, uint64_t now)
{
	switch (a->type) {
	case RDVC_ACT_SEND_STUN:
		send_stun(d, a);
		break;
	case RDVC_ACT_TCP_OPEN:
		/* From listen_port, so that the rendezvous also learns our TCP
		 * reflexive address. */
		log_info("%s: rendezvous %s: no answer over UDP, trying TCP", d->cfg.ifname,
			 addr_str(&d->rdv->cfg.endpoint).s);
		if (tcpmux_connect_rdv(d, now) < 0)
			rdvc_on_tcp_failed(&d->rc.eng, now);
		break;
	case RDVC_ACT_INITIATE:
		peer_send_initiation(d, d->rdv, now, false);
		break;
	case RDVC_ACT_SESSION_LOST:
		log_warn("%s: rendezvous %s stopped answering, reconnecting", d->cfg.ifname,
			 path_str(&d->rdv->path).s);
		sess_peer_clear(&d->rdv->sess);
		peer_send_initiation(d, d->rdv, now, false);
		break;
	case RDVC_ACT_REGISTER:
		send_register(d, now);
		break;
	default:
		break;
	}
}

uint64_t rdv_client_tick(struct daemon *d, uint64_t now)
{
	struct rdvc_action acts[RDVC_MAX_ACTIONS];
	struct rdvc_status st;
	size_t n;

	if (!d->rdv)
		return UINT64_MAX;
	st.session = sess_peer_send_keypair(&d->rdv->sess, now);
	st.path_udp = d->rdv->path.kind == PATH_UDP;
	st.candidates_pending = portmap_pending(d);
	n = rdvc_expire(&d->rc.eng, &st, now, acts);
	for (size_t i = 0; i < n; i++)
		tick_action(d, &acts[i], now);
	return rdvc_next_deadline(&d->rc.eng);
}

int rdv_client_start(struct daemon *d)
{
	struct cfg_peer rp;

	memset(&d->rc, 0, sizeof(d->rc));
	if (!d->cfg.n_rendezvous || !d->cfg.has_rendezvous_key)
		return 0;
	memset(&rp, 0, sizeof(rp));
	snprintf(rp.name, sizeof(rp.name), "rendezvous");
	memcpy(rp.public_key, d->cfg.rendezvous_key, 32);
	rp.has_endpoint = true;
	rp.endpoint = d->cfg.rendezvous[0];
	d->rdv = peer_new(d, &rp);
	if (!d->rdv)
		return -errno ? -errno : -ENOMEM;
	d->rdv->is_rendezvous = true;
	rdvc_engine_init(&d->rc.eng, &d->rdv->cfg.endpoint, time_now_ms());
	return 0;
}

void rdv_client_stop(struct daemon *d)
{
	if (d->rdv)
		peer_free(d, d->rdv);
	d->rdv = NULL;
}
