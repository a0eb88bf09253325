/* Relaying (rdvproto/proto.h section 3). A frame is bound to the
 * sender's authenticated session with us, not to the address it came from:
 * its receiver index must name a keypair of the registered peer whose
 * channel (UDP address or TCP connection) it arrived on, and its tag,
 * ChaCha20-Poly1305 over the whole frame with an empty plaintext and the
 * session's own send counter as nonce, must verify under that keypair,
 * with the counter fresh in the keypair's replay window (the window data
 * packets use: one counter space, one window). Only then is the sender's
 * byte budget charged and the frame forwarded. Relay ids travel in clear,
 * so they name peers and prove nothing: a third host that spoofs a peer's
 * source address with a known id, replays a captured frame, or tags with
 * another peer's session is dropped (RDV_DROP_RELAY_AUTH) before it costs
 * anyone budget. The receiver is named by a relay id we drew and handed
 * out only in REGISTERED and INTRODUCE. What goes out is the same frame,
 * id rewritten to the sender's and tagged again with the destination's
 * session, so the destination can tell a frame from us from a forgery; a
 * frame can neither pick its destination address nor grow on the way, so
 * the relay amplifies nothing and reaches no one who did not register.
 * During a rekey a frame tagged under the previous (or the not yet
 * confirmed next) keypair passes while that keypair lives, as data
 * packets do. Cost: two Poly1305 passes over the frame (verify, tag
 * again) and two ChaCha20 blocks. */
#include "rendezvous/relay.h"

#include <netinet/in.h>
#include <string.h>

#include "rdvproto/proto.h"
#include "wire/wire.h"

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

/* The frame is the sender's own: its index names a keypair of the peer
 * whose channel it came on, and the tag and counter verify under it. */
static bool authentic(struct rdv_core *c, struct rdv_peer *src, uint8_t *frame, size_t len,
		      const struct rdv_relay_hdr *h, uint64_t now_ms)
{
	struct rdv_peer *owner = NULL;
	struct sess_keypair *kp = sess_index_lookup(&c->reg.index, h->receiver_index,
						    SESS_INDEX_KEYPAIR, (void **)&owner);

	if (!kp || owner != src || rdv_relay_verify(frame, len, h, kp, now_ms) < 0)
		return false;
	/* As for a data packet: a responder's new keypair is confirmed by
	 * the first authenticated packet on it. */
	(void)sess_peer_on_received(&src->sess, kp);
	return true;
}

void rdv_relay_frame(struct rdv_core *c, const struct rdv_channel *ch, uint8_t *frame, size_t len,
		     uint64_t now_ms)
{
	struct rdv_relay_hdr h;
	struct sess_keypair *out;
	const uint8_t *inner;
	size_t inner_len;
	struct rdv_peer *src, *dst;
	unsigned type;

	if (!c->cfg->relay) {
		rdv_core_drop(c, RDV_DROP_RELAY_OFF, ch, now_ms);
		return;
	}
	if (!rdv_relay_parse(frame, len, &h, &inner, &inner_len)) {
		rdv_core_drop(c, RDV_DROP_MALFORMED, ch, now_ms);
		return;
	}
	src = source_of(c, ch, now_ms);
	if (!src || !src->registered) {
		rdv_core_drop(c, src ? RDV_DROP_NOT_REGISTERED : RDV_DROP_RELAY_UNKNOWN_SRC, ch,
			      now_ms);
		return;
	}
	/* Before anything is charged or sent: a spoofed source address with
	 * a relay id read off the wire stops here. */
	if (!authentic(c, src, frame, len, &h, now_ms)) {
		rdv_core_drop(c, RDV_DROP_RELAY_AUTH, ch, now_ms);
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
	dst = rdv_registry_find_relay(&c->reg, h.relay_id);
	if (!dst || dst == src) {
		rdv_core_drop(c, RDV_DROP_RELAY_UNKNOWN_DST, ch, now_ms);
		return;
	}
	out = rdv_registry_is_reachable(dst, now_ms) ? sess_peer_send_keypair(&dst->sess, now_ms)
						     : NULL;
	if (!out) {
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
	/* The destination trusts only what its own session with us tags. */
	if (rdv_relay_seal(frame, len, src->relay_id, out, now_ms) < 0) {
		rdv_core_drop(c, RDV_DROP_SEND_FAILED, ch, now_ms);
		return;
	}
	c->relayed++;
	c->relayed_bytes += len;
	c->send(c->send_ctx, &dst->chan, frame, len);
}
