/* The one home of a path (struct path): how it is named in logs, how paths
 * compare and rank, how a peer moves between them (roaming), and what a
 * relayed datagram carries in front so the rendezvous forwards it. Sending
 * over a path is send.c's (send_queue). */
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/path.h"
#include "daemon/send.h"
#include "daemon/tcpmux.h"
#include "rdvproto/proto.h"
#include "util/addr.h"
#include "util/log.h"
#include "util/time.h"

struct addr_text addr_str(const struct sockaddr_storage *ss)
{
	struct addr_text t;

	addr_format(t.s, sizeof(t.s), ss);
	return t;
}

const char *path_kind_str(enum path_kind kind)
{
	static const char *const names[] = {"none", "udp-direct", "tcp-direct", "relay"};

	return kind <= PATH_RELAY ? names[kind] : "?";
}

struct addr_text path_str(const struct path *path)
{
	struct addr_text t;

	switch (path->kind) {
	case PATH_UDP:
		return addr_str(&path->addr);
	case PATH_TCP:
		memcpy(t.s, "tcp ", 4);
		addr_format(t.s + 4, sizeof(t.s) - 4, &path->addr);
		return t;
	case PATH_RELAY:
		snprintf(t.s, sizeof(t.s), "relay id %08x", path->relay_id);
		return t;
	default:
		snprintf(t.s, sizeof(t.s), "no path");
		return t;
	}
}

enum punch_path_kind path_punch_kind(enum path_kind k)
{
	switch (k) {
	case PATH_UDP:
		return PUNCH_PATH_UDP;
	case PATH_TCP:
		return PUNCH_PATH_TCP;
	case PATH_RELAY:
		return PUNCH_PATH_RELAY;
	default:
		return PUNCH_PATH_NONE;
	}
}

bool path_equal(const struct path *a, const struct path *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == PATH_RELAY)
		return a->relay_id == b->relay_id;
	if (a->kind == PATH_TCP)
		return a->conn == b->conn;
	return cfg_endpoint_equal(&a->addr, &b->addr);
}

/* Endpoints move only after authentication (roaming, DESIGN.md section 3),
 * and only where the path engine says (punch_on_path_authenticated: never
 * trade down). While a better path is being made, both may carry packets
 * for a moment; the better one wins. */
void peer_update_path(struct daemon *d, struct peer *p, const struct path *from)
{
	enum punch_path_kind kind = path_punch_kind(from->kind);
	bool move;

	if (from->kind == PATH_TCP)
		tcpmux_adopt(d, from->conn, p);
	/* The rendezvous has no path engine; the same ranking applies. */
	if (p->is_rendezvous)
		move = punch_path_may_move(path_punch_kind(p->path.kind), kind);
	else
		move = punch_on_path_authenticated(&p->punch, kind, &from->addr, time_now_ms());
	if (!move || path_equal(&p->path, from))
		return;
	if (p->path.kind != PATH_NONE)
		log_info("%s: peer %s: path moved from %s to %s", d->cfg.ifname, p->name,
			 path_str(&p->path).s, path_str(from).s);
	p->path = *from;
	p->path_since_ms = time_now_ms();
}

/* A relayed data packet over the rendezvous's TCP channel: the length
 * prefix, relay header and data header all go in front of the inner packet. */
static_assert(RDV_TCP_LEN_PREFIX + RDV_RELAY_HEADER_LEN + SESS_HEADROOM <= PKT_HEADROOM,
	      "the relay header fits the headroom");

const struct path *relay_seal(struct daemon *d, const struct path *path, uint8_t **pkt, size_t *len)
{
	uint64_t now = time_now_ms();
	struct sess_keypair *kp;

	if (path->kind != PATH_RELAY || !d->rdv)
		return NULL;
	/* The relay header goes in the headroom every sender leaves, tagged
	 * on our session with the rendezvous (proto.h section 3): without a
	 * session that can send there is no relay. */
	kp = sess_peer_send_keypair(&d->rdv->sess, now);
	if (!kp)
		return NULL;
	*pkt -= RDV_RELAY_HEADER_LEN;
	*len += RDV_RELAY_HEADER_LEN;
	if (rdv_relay_seal(*pkt, *len, path->relay_id, kp, now) < 0)
		return NULL;
	return &d->rdv->path;
}
