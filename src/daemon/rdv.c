/* The daemon's side of the rendezvous (rendezvous/proto.h): learning our
 * reflexive address and the NAT's mapping behaviour with STUN, the
 * authenticated session with the meeting point (an ordinary handshake; the
 * rendezvous is a struct peer flagged is_rendezvous whose inner payloads are
 * signalling, not IP), registration with our host candidates, and asking to
 * be introduced to peers we have no path to.
 *
 * States: no session -> handshake (retried by the session timers) ->
 * session -> REGISTER every RDV_REGISTER_INTERVAL_MS; a REGISTERED answer
 * is the meeting point's heartbeat: three intervals without one and the
 * session is thrown away and made again, which is how a restarted
 * rendezvous gets our registration back. Direct tunnels do not depend on
 * any of this. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "daemon/daemon.h"
#include "rendezvous/proto.h"
#include "stun/stun.h"
#include "util/addr.h"
#include "util/log.h"
#include "util/time.h"

enum {
	RDV_REGISTER_INTERVAL_MS = 5 * 1000,
	RDV_DEAD_AFTER_MS = 3 * RDV_REGISTER_INTERVAL_MS + 2000,
	RDV_STUN_RETRY_MS = 250,
	RDV_STUN_WAIT_MS = 1500, /* registration waits this long for the mapping test */
	RDV_STUN_REFRESH_MS = 60 * 1000,
	RDV_CONNECT_INTERVAL_MS = 1000, /* while the engine waits for an introduction */
	RDV_TCP_FALLBACK_MS = 1000, /* four unanswered STUN rounds */
};

void rdv_client_tcp_up(struct daemon *d, struct tcp_conn *c, uint64_t now)
{
	struct path path = { .kind = PATH_TCP, .conn = c };

	path.addr = d->rdv->cfg.endpoint;
	d->rc.tcp_state = RDV_TCP_UP;
	d->rdv->path = path;
	tcpmux_adopt(d, c, d->rdv);
	log_info("%s: rendezvous %s: connected over TCP", d->cfg.ifname, addr_str(&path.addr).s);
	sess_peer_clear(&d->rdv->sess);
	peer_send_initiation(d, d->rdv, now, true);
}

/* The second STUN port: the rendezvous answers on its port and the next. */
static void stun_target(const struct daemon *d, unsigned which, struct sockaddr_storage *out)
{
	*out = d->rdv->cfg.endpoint;
	if (which == 1) {
		if (out->ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)out;
			sin->sin_port = htons((uint16_t)(ntohs(sin->sin_port) + 1));
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
			sin6->sin6_port = htons((uint16_t)(ntohs(sin6->sin6_port) + 1));
		}
	}
}

static void send_stun(struct daemon *d, unsigned which, uint64_t now)
{
	struct rdv_client *rc = &d->rc;
	struct sockaddr_storage to;
	struct stun_builder b;
	uint8_t buf[64];
	size_t len;

	stun_id_new(rc->stun_id[which]);
	if (stun_builder_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST,
			      rc->stun_id[which]) < 0 ||
	    stun_builder_finish(&b, true, &len) < 0)
		return;
	stun_target(d, which, &to);
	(void)udp_send(&d->udp, buf, len, &to);
	rc->stun_sent_ms = now;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
					      : ((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* Both answers in: the same mapped port towards both rendezvous ports means
 * endpoint-independent mapping; different ports mean a mapping per
 * destination, and their difference is the allocation step. */
static void learn_mapping(struct daemon *d)
{
	struct rdv_client *rc = &d->rc;
	int step = (int)port_of(&rc->mapped[1]) - (int)port_of(&rc->mapped[0]);
	uint8_t mapping = step == 0 ? RDV_MAPPING_INDEPENDENT : RDV_MAPPING_DEPENDENT;

	/* A step larger than a few ports is not a sequence worth predicting. */
	int16_t pstep = (step != 0 && step >= -16 && step <= 16) ? (int16_t)step : 0;

	if (rc->nat_mapping != mapping || rc->port_step != pstep || !rc->have_reflexive ||
	    !cfg_endpoint_equal(&rc->reflexive, &rc->mapped[0])) {
		log_info("%s: reflexive address %s, NAT mapping %s%s", d->cfg.ifname,
			 addr_str(&rc->mapped[0]).s,
			 mapping == RDV_MAPPING_INDEPENDENT ? "endpoint-independent"
							    : "per destination",
			 pstep ? " (sequential)" : "");
		/* Tell the rendezvous, and have peers that are still without a
		 * session introduced again with what we know now. */
		if (rc->registered_ms) {
			rc->registered_ms = 0;
			for (size_t i = 0; i < d->n_peers; i++)
				d->peers[i]->reintroduce = true;
		}
	}
	rc->reflexive = rc->mapped[0];
	rc->have_reflexive = true;
	rc->nat_mapping = mapping;
	rc->port_step = pstep;
}

static_assert(sizeof(((struct rdv_client *)0)->stun_id[0]) == STUN_ID_LEN, "STUN id size");

bool rdv_client_stun(struct daemon *d, struct rx_pkt *m, uint64_t now)
{
	struct rdv_client *rc = &d->rc;
	struct stun_msg msg;

	if (!d->rdv || !stun_msg_parse(&msg, m->data, m->len) || msg.cls != STUN_CLASS_SUCCESS ||
	    msg.method != STUN_METHOD_BINDING)
		return false;
	for (unsigned i = 0; i < 2; i++) {
		if (memcmp(msg.id, rc->stun_id[i], STUN_ID_LEN) != 0)
			continue;
		if (!stun_msg_get_mapped(&msg, &rc->mapped[i]))
			return false;
		/* One answer per transaction: a replay cannot overwrite it. */
		memset(rc->stun_id[i], 0, STUN_ID_LEN);
		rc->have_mapped[i] = true;
		rc->udp_heard = true;
		if (rc->have_mapped[0] && rc->have_mapped[1]) {
			learn_mapping(d);
			rc->stun_done_ms = now;
		}
		return true;
	}
	return false;
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

static int add_host(const struct nl_addr *a, void *ctx)
{
	struct host_ctx *hc = ctx;
	struct rdv_register *reg = hc->reg;
	struct sockaddr_storage ss;

	if (a->ifindex == hc->d->tun.ifindex || reg->n_host >= RDV_MAX_HOST)
		return 0;
	memset(&ss, 0, sizeof(ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		if (a->addr[0] == 127)
			return 0;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(udp_local_port(&hc->d->udp));
		memcpy(&sin->sin_addr, a->addr, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		memcpy(&sin6->sin6_addr, a->addr, 16);
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) || IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
			return 0;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(udp_local_port(&hc->d->udp));
	}
	reg->host[reg->n_host++] = ss;
	return 0;
}

void rdv_client_host_candidates(struct daemon *d, struct rdv_register *reg)
{
	struct host_ctx hc = { d, reg };

	reg->n_host = 0;
	(void)nl_addr_dump(&d->nl, add_host, &hc);
}

static void send_register(struct daemon *d, uint64_t now)
{
	struct rdv_client *rc = &d->rc;
	struct rdv_register reg = { .nat_mapping = rc->nat_mapping, .port_step = rc->port_step };
	uint8_t buf[RDV_REGISTER_LEN + RDV_MAX_HOST * RDV_ADDR_LEN];
	size_t len;

	rdv_client_host_candidates(d, &reg);
	len = rdv_encode_register(&reg, buf, sizeof(buf));
	if (len)
		send_signal(d, buf, len, now);
	rc->register_sent_ms = now;
}

void rdv_client_connect(struct daemon *d, struct peer *p, uint64_t now)
{
	uint8_t buf[RDV_CONNECT_LEN];
	size_t len;

	if (!d->rdv || !d->rc.registered_ms || now - p->connect_sent_ms < RDV_CONNECT_INTERVAL_MS)
		return;
	len = rdv_encode_connect(p->cfg.public_key, buf, sizeof(buf));
	if (!len)
		return;
	send_signal(d, buf, len, now);
	p->connect_sent_ms = now;
	log_debug("%s: peer %s: asking the rendezvous for an introduction", d->cfg.ifname, p->name);
}

/* The candidate rules of util/addr.h with our own addresses: the
 * rendezvous's and our tunnel's (interface addresses are left out: a peer
 * in a container behind this host's NAT is reflexive at one of them). */
static bool intro_addr_ok(const struct daemon *d, const struct sockaddr_storage *a,
			  enum addr_reason *why)
{
	if (!addr_candidate_ok(a, d->cfg.rendezvous, d->cfg.n_rendezvous, why))
		return false;
	for (size_t i = 0; i < d->cfg.n_addresses; i++) {
		const struct cfg_prefix *t = &d->cfg.addresses[i];
		struct sockaddr_storage own;

		memset(&own, 0, sizeof(own));
		own.ss_family = (sa_family_t)t->family;
		if (t->family == AF_INET)
			memcpy(&((struct sockaddr_in *)&own)->sin_addr, t->addr, 4);
		else
			memcpy(&((struct sockaddr_in6 *)&own)->sin6_addr, t->addr, 16);
		if (!addr_candidate_ok(a, &own, 1, why))
			return false;
	}
	return true;
}

static bool intro_keep(const struct daemon *d, const struct peer *p,
		       const struct sockaddr_storage *a, const char *what)
{
	enum addr_reason why;

	if (intro_addr_ok(d, a, &why))
		return true;
	log_debug("%s: peer %s: introduced %s candidate skipped: %s", d->cfg.ifname, p->name, what,
		  addr_reason_name(why));
	return false;
}

/* An introduction names addresses we are about to send probes and TCP
 * connects to: only those that pass the candidate rules reach the engine. */
static void intro_filter(const struct daemon *d, const struct peer *p, struct rdv_introduce *in)
{
	size_t n = 0;

	if (in->udp_reflexive.ss_family && !intro_keep(d, p, &in->udp_reflexive, "udp reflexive"))
		memset(&in->udp_reflexive, 0, sizeof(in->udp_reflexive));
	if (in->tcp_reflexive.ss_family && !intro_keep(d, p, &in->tcp_reflexive, "tcp reflexive"))
		memset(&in->tcp_reflexive, 0, sizeof(in->tcp_reflexive));
	for (size_t i = 0; i < in->n_host; i++)
		if (intro_keep(d, p, &in->host[i], "host"))
			in->host[n++] = in->host[i];
	in->n_host = n;
}

void rdv_client_receive(struct daemon *d, const uint8_t *msg, size_t len, uint64_t now)
{
	struct rdv_client *rc = &d->rc;
	struct rdv_introduce intro;
	struct sockaddr_storage refl;
	uint8_t key[32];
	uint32_t id;
	struct peer *p;

	switch (rdv_msg_type_of(msg, len)) {
	case RDV_REGISTERED:
		if (!rdv_decode_registered(msg, len, &id, &refl))
			break;
		if (!rc->registered_ms) {
			char seen[CFG_ENDPOINT_STRLEN];

			/* addr_str and path_str share one buffer: copy one. */
			cfg_endpoint_to_string(&refl, seen, sizeof(seen));
			log_info("%s: registered with the rendezvous %s as %s", d->cfg.ifname,
				 path_str(&d->rdv->path).s, seen);
		}
		rc->registered_ms = now;
		rc->relay_id = id;
		for (size_t i = 0; i < d->n_peers; i++) {
			struct peer *q = d->peers[i];
			if (q->reintroduce && !sess_peer_send_keypair(&q->sess, now)) {
				q->connect_sent_ms = 0;
				rdv_client_connect(d, q, now);
			}
			q->reintroduce = false;
		}
		if (!rc->have_reflexive) {
			rc->reflexive = refl;
			rc->have_reflexive = true;
		}
		return;
	case RDV_INTRODUCE:
		if (!rdv_decode_introduce(msg, len, &intro))
			break;
		p = peer_by_key(d, intro.public_key);
		if (!p)
			return; /* introduced to someone not in our config: ignore */
		intro_filter(d, p, &intro);
		peer_on_introduce(d, p, &intro, now);
		return;
	case RDV_UNKNOWN_PEER:
		if (!rdv_decode_unknown_peer(msg, len, key))
			break;
		p = peer_by_key(d, key);
		/* The rendezvous introduces two peers only once both asked for
		 * each other, and says the same whether the peer is absent or
		 * has not asked yet: we ask again every RDV_CONNECT_INTERVAL_MS. */
		if (p)
			log_debug("%s: peer %s: no introduction yet (not at the rendezvous, or "
				  "not asking for us)",
				  d->cfg.ifname, p->name);
		return;
	default:
		break;
	}
	drop(d, DROP_MALFORMED, &d->rdv->path);
}

uint64_t rdv_client_tick(struct daemon *d, uint64_t now)
{
	struct rdv_client *rc = &d->rc;
	bool session = d->rdv && sess_peer_send_keypair(&d->rdv->sess, now);
	uint64_t next;

	if (!d->rdv)
		return UINT64_MAX;
	/* STUN: until both ports answered, then now and again to follow
	 * changes of the NAT's mapping. */
	if ((!rc->have_mapped[0] || !rc->have_mapped[1]) && now - rc->stun_sent_ms >= RDV_STUN_RETRY_MS) {
		send_stun(d, 0, now);
		send_stun(d, 1, now);
	} else if (rc->stun_done_ms && now - rc->stun_done_ms >= RDV_STUN_REFRESH_MS) {
		rc->have_mapped[0] = rc->have_mapped[1] = false;
		rc->stun_done_ms = 0;
	}
	/* Not one answer over UDP from the rendezvous (blocked?): try its TCP port,
	 * from listen_port, so that it also learns our TCP reflexive address. */
	if (!rc->udp_heard && !rc->registered_ms && rc->tcp_state == RDV_TCP_NONE &&
	    now - rc->started_ms >= RDV_TCP_FALLBACK_MS && d->rdv->path.kind == PATH_UDP) {
		log_info("%s: rendezvous %s: no answer over UDP, trying TCP", d->cfg.ifname,
			 addr_str(&d->rdv->cfg.endpoint).s);
		if (tcpmux_connect_rdv(d, now) < 0)
			rc->started_ms = now; /* try again later */
	}
	if (!session) {
		peer_send_initiation(d, d->rdv, now, false);
	} else if (now - rc->register_sent_ms >= RDV_REGISTER_INTERVAL_MS || !rc->registered_ms) {
		if (rc->registered_ms && now - rc->registered_ms > RDV_DEAD_AFTER_MS) {
			log_warn("%s: rendezvous %s stopped answering, reconnecting", d->cfg.ifname,
				 path_str(&d->rdv->path).s);
			rc->registered_ms = 0;
			sess_peer_clear(&d->rdv->sess);
			peer_send_initiation(d, d->rdv, now, false);
		} else if (now - rc->register_sent_ms >= 1000 &&
			   ((rc->have_mapped[0] && rc->have_mapped[1]) ||
			    now - rc->started_ms >= RDV_STUN_WAIT_MS)) {
			/* The introduction carries our NAT's behaviour: register
			 * once the mapping test is done (or has had its time). */
			send_register(d, now);
		}
	}
	next = now + 1000;
	return next;
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
	d->rc.started_ms = time_now_ms();
	return 0;
}

void rdv_client_stop(struct daemon *d)
{
	if (d->rdv)
		peer_free(d, d->rdv);
	d->rdv = NULL;
}
