/* Relaying. The frame carries no MAC of its own (proto.h section 3): the
 * sender is known by the channel it arrived on, which is the channel of a
 * peer whose last authenticated packet came from there, and the receiver by
 * a relay id we drew and handed out only in REGISTERED and INTRODUCE. What
 * goes out is the same frame with the id rewritten to the sender's, so a
 * frame can neither pick its destination address nor grow on the way: the
 * relay amplifies nothing and reaches no one who did not register. The
 * per-sender token bucket bounds what one peer can push through. */
#include "rendezvous/relay.h"

#include <netinet/in.h>
#include <string.h>

#include "rendezvous/proto.h"
#include "session/wire.h"

static bool v4_allowed(const uint8_t a[4], bool allow_loopback)
{
	if (a[0] == 0) /* 0.0.0.0/8 "this network" */
		return false;
	if (a[0] == 127) /* 127.0.0.0/8 */
		return allow_loopback;
	if (a[0] == 169 && a[1] == 254) /* link-local */
		return false;
	return a[0] < 224; /* multicast 224/4, reserved 240/4, broadcast */
}

static bool same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct rdv_addr x, y;

	rdv_addr_from_sockaddr(a, &x);
	rdv_addr_from_sockaddr(b, &y);
	return x.family && x.family == y.family && !memcmp(x.addr, y.addr, sizeof(x.addr));
}

bool rdv_relay_addr_allowed(const struct sockaddr_storage *ss, const struct sockaddr_storage *own,
			    size_t n_own, bool allow_loopback)
{
	struct rdv_addr a;

	/* rdv_addr folds ::ffff:a.b.c.d into IPv4, so both forms meet the
	 * same rules. */
	rdv_addr_from_sockaddr(ss, &a);
	/* With loopback allowed (a test on one host), the peers share the
	 * server's own address. */
	if (allow_loopback && a.family == 4 && a.addr[0] == 127)
		return true;
	for (size_t i = 0; i < n_own; i++)
		if (same_ip(ss, &own[i]))
			return false;
	if (a.family == 4)
		return v4_allowed(a.addr, allow_loopback);
	if (a.family != 6)
		return false;
	{
		struct in6_addr in6;

		memcpy(&in6, a.addr, sizeof(in6));
		if (IN6_IS_ADDR_UNSPECIFIED(&in6) || IN6_IS_ADDR_MULTICAST(&in6) ||
		    IN6_IS_ADDR_LINKLOCAL(&in6))
			return false;
		/* ::/96 (IPv4-compatible, deprecated) holds :: and ::1 too. */
		if (IN6_IS_ADDR_LOOPBACK(&in6))
			return allow_loopback;
		if (IN6_IS_ADDR_V4COMPAT(&in6))
			return false;
	}
	return true;
}

/* The sender: a registered, live peer whose channel this is. */
static struct rdv_peer *source_of(struct rdv_core *c, const struct rdv_channel *ch, uint64_t now_ms)
{
	struct rdv_peer *p = rdv_registry_find_channel(&c->reg, ch);

	if (!p || !rdv_registry_is_live(p, now_ms))
		return NULL;
	return p;
}

void rdv_relay_frame(struct rdv_core *c, const struct rdv_channel *ch, uint8_t *frame, size_t len,
		     uint64_t now_ms)
{
	const uint8_t *inner;
	size_t inner_len;
	uint32_t id;
	struct rdv_peer *src, *dst;
	unsigned type;

	if (!c->cfg->relay) {
		rdv_core_drop(c, RDV_DROP_RELAY_OFF, ch, now_ms);
		return;
	}
	if (!rdv_relay_parse(frame, len, &id, &inner, &inner_len)) {
		rdv_core_drop(c, RDV_DROP_MALFORMED, ch, now_ms);
		return;
	}
	src = source_of(c, ch, now_ms);
	if (!src || !src->registered) {
		rdv_core_drop(c, src ? RDV_DROP_NOT_REGISTERED : RDV_DROP_RELAY_UNKNOWN_SRC, ch,
			      now_ms);
		return;
	}
	/* Only what a peer would send a peer: handshakes, data and probes,
	 * never STUN, signalling or a frame inside a frame. */
	type = wire_type_of(inner, inner_len);
	if (type != WIRE_HANDSHAKE_INIT && type != WIRE_HANDSHAKE_RESP && type != WIRE_DATA &&
	    type != WIRE_PROBE) {
		rdv_core_drop(c, RDV_DROP_RELAY_INNER, ch, now_ms);
		return;
	}
	dst = rdv_registry_find_relay(&c->reg, id);
	if (!dst || dst == src) {
		rdv_core_drop(c, RDV_DROP_RELAY_UNKNOWN_DST, ch, now_ms);
		return;
	}
	if (!rdv_registry_is_reachable(dst, now_ms)) {
		rdv_core_drop(c, RDV_DROP_RELAY_UNREACHABLE, ch, now_ms);
		return;
	}
	if (!rdv_relay_addr_allowed(&dst->chan.addr, c->own, c->n_own, c->allow_loopback)) {
		rdv_core_drop(c, RDV_DROP_RELAY_ACL, ch, now_ms);
		return;
	}
	if (!rdv_bucket_take(&src->relay_rl, len, RDV_RELAY_BYTES_PER_S, RDV_RELAY_BURST_BYTES,
			     now_ms)) {
		rdv_core_drop(c, RDV_DROP_RELAY_RATE, ch, now_ms);
		return;
	}
	rdv_relay_header(frame, src->relay_id);
	c->relayed++;
	c->relayed_bytes += len;
	c->send(c->send_ctx, &dst->chan, frame, len);
}
