/* The path engine's glue (punch/engine.h decides, this file acts): what an
 * introduction from the rendezvous starts, authenticated probes and
 * heartbeats between peers, frames relayed through the rendezvous, and
 * moving a peer's packets to the path the engine chose. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <sodium.h>

#include "daemon/daemon.h"
#include "daemon/path.h"
#include "daemon/peer.h"
#include "daemon/punch.h"
#include "daemon/rdv.h"
#include "daemon/receive.h"
#include "daemon/send.h"
#include "daemon/tcpmux.h"
#include "rdvproto/proto.h"
#include "util/addr.h"
#include "util/log.h"
#include "util/time.h"

enum { PUNCH_ACTIONS_MAX = 48 };

bool peer_punch_init(struct daemon *d, struct peer *p)
{
	struct punch_config pc;

	memset(&pc, 0, sizeof(pc));
	pc.keepalive_s = d->cfg.keepalive_s;
	pc.relay_allowed = d->cfg.relay;
	memcpy(pc.our_pub, d->id.s_pub, 32);
	memcpy(pc.their_pub, p->cfg.public_key, 32);
	if (p->cfg.has_endpoint)
		pc.endpoint = p->cfg.endpoint;
	punch_peer_init(&p->punch, &pc);
	return probe_key_derive(d->id.s_priv, d->id.s_pub, p->cfg.public_key, &p->pkey);
}

/* The path struct for an engine path: TCP paths need their stream. */
static bool make_path(struct daemon *d, struct peer *p, enum punch_path_kind kind,
		      const struct sockaddr_storage *addr, struct path *out)
{
	memset(out, 0, sizeof(*out));
	switch (kind) {
	case PUNCH_PATH_UDP:
		out->kind = PATH_UDP;
		out->addr = *addr;
		return true;
	case PUNCH_PATH_RELAY:
		if (!p->relay_id || !d->rdv || d->rdv->path.kind == PATH_NONE)
			return false;
		out->kind = PATH_RELAY;
		out->relay_id = p->relay_id;
		return true;
	case PUNCH_PATH_TCP:
		out->kind = PATH_TCP;
		out->addr = *addr;
		out->conn = tcpmux_find(d, p, addr);
		return out->conn != NULL;
	default:
		return true;
	}
}

static void send_probe(struct daemon *d, const struct path *path, const struct probe_key *k,
		       const struct probe_payload *pl)
{
	uint8_t *buf = send_slot(d);

	if (probe_build(k, pl, buf) != PROBE_LEN)
		return;
	send_queue(d, path, buf, PROBE_LEN);
}

static void use_path(struct daemon *d, struct peer *p, const struct punch_action *a, uint64_t now)
{
	struct path path;

	if (!make_path(d, p, a->path, &a->addr, &path)) {
		/* The stream the engine chose is gone here: it is told, and
		 * picks again at the next run. */
		if (a->path == PUNCH_PATH_TCP)
			punch_on_tcp_closed(&p->punch, &a->addr, now);
		return;
	}
	if (path.kind == PATH_NONE) {
		if (p->path.kind != PATH_NONE)
			log_info("%s: peer %s: no path left (was %s)", d->cfg.ifname, p->name,
				 path_str(&p->path).s);
		p->path.kind = PATH_NONE;
		return;
	}
	if (p->path.kind != path.kind || !cfg_endpoint_equal(&p->path.addr, &path.addr) ||
	    p->path.conn != path.conn)
		log_info("%s: peer %s: using %s (%s)", d->cfg.ifname, p->name,
			 path_kind_str(path.kind), path_str(&path).s);
	p->path = path;
	p->path_since_ms = now;
	sess_timers_on_path_new(&p->timers);
	/* Keys do not depend on the path: a session simply moves. Without one,
	 * the peer with the lower key starts the handshake, so that the two do
	 * not cross initiations. */
	if (!sess_peer_send_keypair(&p->sess, now) &&
	    (punch_should_initiate(&p->punch) || p->staged_count))
		peer_send_initiation(d, p, now, false);
	else if (p->staged_count)
		peer_flush_staged(d, p, now);
}

void peer_run_punch(struct daemon *d, struct peer *p, uint64_t now)
{
	struct punch_action acts[PUNCH_ACTIONS_MAX];
	size_t n = punch_expire(&p->punch, now, acts, PUNCH_ACTIONS_MAX);

	for (size_t i = 0; i < n; i++) {
		const struct punch_action *a = &acts[i];
		struct probe_payload pl;
		struct path path;

		switch (a->type) {
		case PUNCH_ACT_SEND_PROBE:
			if (!make_path(d, p, a->path, &a->addr, &path) || path.kind == PATH_NONE)
				break;
			memset(&pl, 0, sizeof(pl));
			pl.kind = a->probe_kind;
			pl.tx_id = a->tx_id;
			pl.sender_time_ms = now;
			send_probe(d, &path, &p->pkey, &pl);
			break;
		case PUNCH_ACT_TCP_CONNECT:
			tcpmux_connect(d, p, &a->addr, now);
			break;
		case PUNCH_ACT_USE_PATH:
			use_path(d, p, a, now);
			break;
		case PUNCH_ACT_REQUEST_INTRODUCTION:
			p->connect_sent_ms = 0;
			rdv_client_connect(d, p, now);
			break;
		case PUNCH_ACT_PATH_DEAD:
			/* The USE_PATH that follows moves the peer off it (to a
			 * TCP stream, the relay or no path). */
			log_info("%s: peer %s: path %s stopped answering", d->cfg.ifname, p->name,
				 path_str(&p->path).s);
			break;
		}
	}
	send_flush(d);
}

void peer_on_introduce(struct daemon *d, struct peer *p, const struct rdv_introduce *intro,
		       uint64_t now)
{
	log_debug("%s: peer %s: introduced (reflexive %s, %zu host candidates)", d->cfg.ifname,
		  p->name,
		  intro->udp_reflexive.ss_family ? addr_str(&intro->udp_reflexive).s : "none",
		  intro->n_host);
	struct rdv_introduce in = *intro;

	/* A peer that never spoke TCP to the rendezvous has no TCP reflexive
	 * address there. NATs that keep the port for UDP (endpoint-independent
	 * mapping) keep it for TCP too, and the peer listens on the same port
	 * number for both: its UDP reflexive IP and its listen port are the
	 * best guess for a simultaneous open. */
	if (!in.tcp_reflexive.ss_family && in.udp_reflexive.ss_family &&
	    in.nat_mapping != RDV_MAPPING_DEPENDENT) {
		in.tcp_reflexive = in.udp_reflexive;
		if (in.n_host)
			addr_set_port(&in.tcp_reflexive, addr_port(&in.host[0]));
	}
	/* A restarted rendezvous gives new relay ids: a relayed path takes
	 * the new one at once (the engine sees the same kind of path). */
	if (p->path.kind == PATH_RELAY && intro->relay_id && p->path.relay_id != intro->relay_id) {
		log_info("%s: peer %s: relay id %08x now (was %08x)", d->cfg.ifname, p->name,
			 intro->relay_id, p->path.relay_id);
		p->path.relay_id = intro->relay_id;
	}
	p->relay_id = intro->relay_id;
	/* When either side reached the rendezvous only over TCP, its UDP is
	 * blocked and waiting for UDP replies is time lost: both sides open
	 * TCP at once (they received this introduction at the same moment).
	 * The engine sends those connects, under its bounds, and only when
	 * the introduction started a round (a repeated one starts nothing). */
	if (punch_on_introduce(&p->punch, &in, now) &&
	    (!in.udp_reflexive.ss_family || d->rc.eng.tcp_state == RDVC_TCP_UP))
		punch_start_tcp(&p->punch, now);
	if (d->cfg.relay && p->relay_id)
		punch_on_relay_available(&p->punch, now);
	peer_run_punch(d, p, now);
}

static struct peer *peer_by_pair_id(struct daemon *d, const uint8_t id[PROBE_PAIR_ID_LEN])
{
	for (size_t i = 0; i < d->n_peers; i++)
		if (sodium_memcmp(d->peers[i]->pkey.pair_id, id, PROBE_PAIR_ID_LEN) == 0)
			return d->peers[i];
	return NULL;
}

void handle_probe(struct daemon *d, struct rx_pkt *m, uint64_t now)
{
	uint8_t id[PROBE_PAIR_ID_LEN];
	struct probe_payload pl, reply;
	enum punch_path_kind via = path_punch_kind(m->from.kind);
	struct peer *p;

	if (!probe_pair_id(m->data, m->len, id) || !(p = peer_by_pair_id(d, id)) ||
	    !probe_open(&p->pkey, m->data, m->len, &pl)) {
		drop(d, DROP_PROBE_INVALID, &m->from);
		return;
	}
	switch (pl.kind) {
	case PROBE_REQUEST:
	case PROBE_HEARTBEAT:
		if (!punch_on_probe_request(&p->punch, via, &m->from.addr, now))
			break;
		memset(&reply, 0, sizeof(reply));
		reply.kind = pl.kind == PROBE_REQUEST ? PROBE_REPLY : PROBE_HEARTBEAT_REPLY;
		reply.tx_id = pl.tx_id;
		reply.sender_time_ms = pl.sender_time_ms;
		if (m->from.kind == PATH_UDP || m->from.kind == PATH_TCP)
			reply.observed = m->from.addr;
		/* The reply goes back the way the request came. */
		send_probe(d, &m->from, &p->pkey, &reply);
		break;
	case PROBE_REPLY:
		/* Requests go out over UDP only; a reply over TCP or the relay
		 * answers none of them (and a TCP peer's address may equal a
		 * UDP candidate's, the ports being the same number). */
		if (via == PUNCH_PATH_UDP)
			punch_on_probe_reply(&p->punch, &m->from.addr, &pl, now);
		break;
	case PROBE_HEARTBEAT_REPLY:
		punch_on_heartbeat_reply(&p->punch, via, &m->from.addr, &pl, now);
		break;
	}
	peer_run_punch(d, p, now);
}

void handle_relay(struct daemon *d, struct rx_pkt *m, uint64_t now)
{
	struct rdv_relay_hdr h;
	struct sess_keypair *kp;
	const uint8_t *inner;
	size_t inner_len;
	struct rx_pkt in;
	bool from_rdv =
	    d->rdv && m->from.kind == d->rdv->path.kind &&
	    (m->from.kind == PATH_TCP ? m->from.conn == d->rdv->path.conn
				      : cfg_endpoint_equal(&m->from.addr, &d->rdv->path.addr));

	/* Only the rendezvous relays, and only over its own channel; a relay
	 * frame never nests another. */
	if (!from_rdv || !rdv_relay_parse(m->data, m->len, &h, &inner, &inner_len) ||
	    wire_type_of(inner, inner_len) == WIRE_RELAY) {
		drop(d, DROP_MALFORMED, &m->from);
		return;
	}
	/* The source address proves nothing (anyone can spoof the
	 * rendezvous's): the frame must carry a fresh tag of our session
	 * with it, as the rendezvous tags what it forwards. */
	kp = sess_peer_find(&d->rdv->sess, h.receiver_index);
	if (!kp || rdv_relay_verify(m->data, m->len, &h, kp, now) < 0) {
		drop(d, DROP_RELAY_INVALID, &m->from);
		return;
	}
	/* The frame sits in an rx buffer with headroom, so the inner datagram
	 * has the headroom a reply built in place may need. */
	in.data = (uint8_t *)inner;
	in.len = inner_len;
	memset(&in.from, 0, sizeof(in.from));
	in.from.kind = PATH_RELAY;
	in.from.relay_id = h.relay_id;
	datapath_receive(d, &in, now);
}
