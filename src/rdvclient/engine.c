/* The rendezvous client's decisions (engine.h): the STUN mapping test, the
 * TCP fallback, the REGISTER schedule and its heartbeat, the CONNECT pace,
 * and the reading of the rendezvous's signalling messages. It keeps the
 * state formerly in the daemon's struct rdv_client and says what to send;
 * daemon/rdv.c sends it. */
#include "rdvclient/engine.h"

#include <arpa/inet.h>
#include <string.h>

#include "config/parse.h"
#include "stun/stun.h"

static_assert((int)RDVC_ID_LEN == (int)STUN_ID_LEN, "STUN id size");

void rdvc_engine_init(struct rdvc_engine *e, const struct sockaddr_storage *endpoint, uint64_t now)
{
	memset(e, 0, sizeof(*e));
	e->endpoint = *endpoint;
	e->started_ms = now;
	e->last_expire_ms = now;
}

/* The second STUN port: the rendezvous answers on its port and the next. */
void rdvc_stun_target(const struct rdvc_engine *e, unsigned which, struct sockaddr_storage *out)
{
	*out = e->endpoint;
	if (which != 1)
		return;
	addr_set_port(out, (uint16_t)(addr_port(out) + 1));
}

/* Both answers in: the same mapped port towards both rendezvous ports means
 * endpoint-independent mapping; different ports mean a mapping per
 * destination, and their difference is the allocation step. True when the
 * result differs from what we knew. */
static bool learn_mapping(struct rdvc_engine *e)
{
	int step = (int)addr_port(&e->mapped[1]) - (int)addr_port(&e->mapped[0]);
	uint8_t mapping = step == 0 ? RDV_MAPPING_INDEPENDENT : RDV_MAPPING_DEPENDENT;
	int16_t pstep = (step != 0 && step >= -RDVC_PORT_STEP_MAX && step <= RDVC_PORT_STEP_MAX)
			    ? (int16_t)step
			    : 0;
	bool changed = e->nat_mapping != mapping || e->port_step != pstep || !e->have_reflexive ||
		       !cfg_endpoint_equal(&e->reflexive, &e->mapped[0]);

	/* Tell the rendezvous, and have peers that are still without a
	 * session introduced again with what we know now. */
	if (changed && e->registered_ms) {
		e->registered_ms = 0;
		e->reintroduce = true;
	}
	e->reflexive = e->mapped[0];
	e->have_reflexive = true;
	e->nat_mapping = mapping;
	e->port_step = pstep;
	return changed;
}

void rdvc_candidates_changed(struct rdvc_engine *e)
{
	if (!e->registered_ms)
		return;
	e->registered_ms = 0;
	e->reintroduce = true;
	e->register_sent_ms = 0; /* no REGISTER retry wait for this one */
}

/* Ours begin with the magic cookie: a zero id is a slot with nothing out
 * (never sent, or answered), which a forged all-zero id (an RFC 3489
 * message, no cookie) must not match. */
static bool outstanding(const uint8_t id[RDVC_ID_LEN])
{
	static const uint8_t zero[RDVC_ID_LEN];

	return memcmp(id, zero, RDVC_ID_LEN) != 0;
}

enum rdvc_stun_result rdvc_on_stun(struct rdvc_engine *e, const uint8_t *msg, size_t len,
				   uint64_t now)
{
	struct stun_msg m;

	if (!stun_msg_parse(&m, msg, len) || m.cls != STUN_CLASS_SUCCESS ||
	    m.method != STUN_METHOD_BINDING)
		return RDVC_STUN_NOT_OURS;
	for (unsigned i = 0; i < 2; i++) {
		if (!outstanding(e->stun_id[i]) || memcmp(m.id, e->stun_id[i], RDVC_ID_LEN) != 0)
			continue;
		if (!stun_msg_get_mapped(&m, &e->mapped[i]))
			return RDVC_STUN_NOT_OURS;
		/* One answer per transaction: a replay cannot overwrite it. */
		memset(e->stun_id[i], 0, RDVC_ID_LEN);
		e->have_mapped[i] = true;
		e->udp_heard = true;
		if (!e->have_mapped[0] || !e->have_mapped[1])
			return RDVC_STUN_ANSWER;
		e->stun_done_ms = now;
		return learn_mapping(e) ? RDVC_STUN_NAT_CHANGED : RDVC_STUN_ANSWER;
	}
	return RDVC_STUN_NOT_OURS;
}

/* The candidate rules of util/addr.h with our own addresses: the
 * rendezvous's and our tunnel's (interface addresses are left out: a peer
 * in a container behind this host's NAT is reflexive at one of them). */
static bool candidate_ok(const struct rdvc_own *own, const struct sockaddr_storage *a,
			 enum addr_reason *why)
{
	if (!addr_candidate_ok(a, own->rendezvous, own->n_rendezvous, why))
		return false;
	for (size_t i = 0; i < own->n_tunnel; i++) {
		const struct cfg_prefix *t = &own->tunnel[i];
		struct sockaddr_storage ss;

		memset(&ss, 0, sizeof(ss));
		ss.ss_family = (sa_family_t)t->family;
		if (t->family == AF_INET)
			memcpy(&((struct sockaddr_in *)&ss)->sin_addr, t->addr, 4);
		else
			memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, t->addr, 16);
		if (!addr_candidate_ok(a, &ss, 1, why))
			return false;
	}
	return true;
}

static bool keep(const struct rdvc_own *own, struct rdvc_action *a,
		 const struct sockaddr_storage *addr, const char *what)
{
	struct rdvc_skipped *s = &a->skipped[a->n_skipped];
	enum addr_reason why;

	if (candidate_ok(own, addr, &why))
		return true;
	s->what = what;
	s->addr = *addr;
	s->why = why;
	a->n_skipped++;
	return false;
}

/* An introduction names addresses we are about to send probes and TCP
 * connects to: only those that pass the candidate rules are handed on. */
static void filter(const struct rdvc_own *own, struct rdvc_action *a)
{
	struct rdv_introduce *in = &a->intro;
	size_t n = 0;

	if (in->udp_reflexive.ss_family && !keep(own, a, &in->udp_reflexive, "udp reflexive"))
		memset(&in->udp_reflexive, 0, sizeof(in->udp_reflexive));
	if (in->tcp_reflexive.ss_family && !keep(own, a, &in->tcp_reflexive, "tcp reflexive"))
		memset(&in->tcp_reflexive, 0, sizeof(in->tcp_reflexive));
	for (size_t i = 0; i < in->n_host; i++)
		if (keep(own, a, &in->host[i], "host"))
			in->host[n++] = in->host[i];
	in->n_host = n;
}

static struct rdvc_action *push(struct rdvc_action *out, size_t *n, enum rdvc_act_type type)
{
	struct rdvc_action *a = &out[(*n)++];

	memset(a, 0, sizeof(*a));
	a->type = type;
	return a;
}

static size_t on_registered(struct rdvc_engine *e, const uint8_t *msg, size_t len, uint64_t now,
			    struct rdvc_action *out)
{
	struct sockaddr_storage refl;
	uint32_t id;
	size_t n = 0;

	if (!rdv_decode_registered(msg, len, &id, &refl)) {
		push(out, &n, RDVC_ACT_MALFORMED);
		return n;
	}
	if (!e->registered_ms)
		push(out, &n, RDVC_ACT_REGISTERED)->addr = refl;
	e->registered_ms = now;
	e->unanswered = 0;
	e->relay_id = id;
	if (e->reintroduce)
		push(out, &n, RDVC_ACT_REINTRODUCE);
	e->reintroduce = false;
	if (!e->have_reflexive) {
		e->reflexive = refl;
		e->have_reflexive = true;
	}
	return n;
}

size_t rdvc_on_signal(struct rdvc_engine *e, const uint8_t *msg, size_t len,
		      const struct rdvc_own *own, uint64_t now, struct rdvc_action *out)
{
	struct rdvc_action *a;
	size_t n = 0;

	switch (rdv_msg_type_of(msg, len)) {
	case RDV_REGISTERED:
		return on_registered(e, msg, len, now, out);
	case RDV_INTRODUCE:
		a = push(out, &n, RDVC_ACT_INTRODUCE);
		if (!rdv_decode_introduce(msg, len, &a->intro))
			break;
		filter(own, a);
		return n;
	case RDV_UNKNOWN_PEER:
		a = push(out, &n, RDVC_ACT_NOT_INTRODUCED);
		if (!rdv_decode_unknown_peer(msg, len, a->key))
			break;
		return n;
	default:
		break;
	}
	n = 0;
	push(out, &n, RDVC_ACT_MALFORMED);
	return n;
}

void rdvc_on_tcp_up(struct rdvc_engine *e)
{
	e->tcp_state = RDVC_TCP_UP;
	e->tcp_wait_ms = RDVC_TCP_FALLBACK_MS;
}

/* The next connect waits twice as long as the last (a rendezvous that is
 * down or refuses is not dialled every second forever). */
static void tcp_back_off(struct rdvc_engine *e, uint64_t now)
{
	uint32_t w = e->tcp_wait_ms ? e->tcp_wait_ms : RDVC_TCP_FALLBACK_MS;

	e->tcp_wait_ms = w >= RDVC_TCP_RETRY_MAX_MS / 2 ? RDVC_TCP_RETRY_MAX_MS : 2 * w;
	e->started_ms = now;
}

void rdvc_on_tcp_failed(struct rdvc_engine *e, uint64_t now)
{
	e->tcp_state = RDVC_TCP_NONE;
	tcp_back_off(e, now);
}

void rdvc_on_tcp_down(struct rdvc_engine *e, uint64_t now)
{
	/* A connect refused after it left counts as a failure; a stream that
	 * was up and closed is tried again after the first wait (never at
	 * once: one that drops at once would be dialled in a loop). */
	if (e->tcp_state == RDVC_TCP_UP) {
		e->tcp_wait_ms = RDVC_TCP_FALLBACK_MS;
		e->started_ms = now;
	} else {
		tcp_back_off(e, now);
	}
	e->tcp_state = RDVC_TCP_NONE;
}

bool rdvc_connect_due(const struct rdvc_engine *e, uint64_t *sent_ms, uint64_t now)
{
	if (!e->registered_ms || now - *sent_ms < RDVC_CONNECT_INTERVAL_MS)
		return false;
	*sent_ms = now;
	return true;
}

uint64_t rdvc_connect_next(const struct rdvc_engine *e, uint64_t sent_ms)
{
	return e->registered_ms ? sent_ms + RDVC_CONNECT_INTERVAL_MS : UINT64_MAX;
}

static uint64_t tcp_wait(const struct rdvc_engine *e)
{
	return e->tcp_wait_ms ? e->tcp_wait_ms : RDVC_TCP_FALLBACK_MS;
}

static bool stun_complete(const struct rdvc_engine *e)
{
	return e->have_mapped[0] && e->have_mapped[1];
}

static bool tcp_fallback_armed(const struct rdvc_engine *e, const struct rdvc_status *st)
{
	return !e->udp_heard && !e->registered_ms && e->tcp_state == RDVC_TCP_NONE && st->path_udp;
}

/* STUN: until both ports answered, then now and again to follow changes
 * of the NAT's mapping. */
static void expire_stun(struct rdvc_engine *e, uint64_t now, struct rdvc_action *out, size_t *n)
{
	if (!stun_complete(e) && now - e->stun_sent_ms >= RDVC_STUN_RETRY_MS) {
		for (unsigned i = 0; i < 2; i++) {
			struct rdvc_action *a;

			if (e->have_mapped[i])
				continue;
			/* A retransmission keeps its transaction's id (RFC 8489
			 * section 6.2.1): an answer slower than the retry
			 * interval still counts. A new test gets new ids. */
			if (!outstanding(e->stun_id[i]))
				stun_id_new(e->stun_id[i]);
			a = push(out, n, RDVC_ACT_SEND_STUN);
			memcpy(a->stun_id, e->stun_id[i], RDVC_ID_LEN);
			rdvc_stun_target(e, i, &a->addr);
		}
		e->stun_sent_ms = now;
	} else if (e->stun_done_ms && now - e->stun_done_ms >= RDVC_STUN_REFRESH_MS) {
		e->have_mapped[0] = e->have_mapped[1] = false;
		e->stun_done_ms = 0;
	}
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* When a first REGISTER may go: the mapping test done (or
 * RDVC_STUN_WAIT_MS after T0) and no port mapping being asked for (or
 * RDVC_CANDIDATES_WAIT_MS after T0). */
static uint64_t register_ready_at(const struct rdvc_engine *e, const struct rdvc_status *st)
{
	uint64_t at = stun_complete(e) ? 0 : e->started_ms + RDVC_STUN_WAIT_MS;

	if (st->candidates_pending)
		at = max_u64(at, e->started_ms + RDVC_CANDIDATES_WAIT_MS);
	return at;
}

/* Registered: the next REGISTER (or the verdict on the unanswered ones):
 * the interval after an answered one, RDVC_REGISTER_ANSWER_MS after one
 * that is still unanswered. */
static uint64_t heartbeat_due(const struct rdvc_engine *e)
{
	return e->register_sent_ms +
	       (e->unanswered ? RDVC_REGISTER_ANSWER_MS : RDVC_REGISTER_INTERVAL_MS);
}

/* REGISTER, the heartbeat it gets back, and the session it needs. */
static void expire_session(struct rdvc_engine *e, const struct rdvc_status *st, uint64_t now,
			   struct rdvc_action *out, size_t *n)
{
	if (!st->session) {
		push(out, n, RDVC_ACT_INITIATE);
		return;
	}
	/* As many REGISTERs in a row unanswered, registered or not: the
	 * rendezvous does not know our session (it restarted). */
	if (e->unanswered >= RDVC_REGISTER_UNANSWERED_MAX &&
	    now - e->register_sent_ms >= RDVC_REGISTER_ANSWER_MS) {
		e->registered_ms = 0;
		e->unanswered = 0;
		e->reintroduce = true;	 /* relay ids are new after a restart */
		e->last.session = false; /* the daemon drops it now */
		push(out, n, RDVC_ACT_SESSION_LOST);
		return;
	}
	if (e->registered_ms) {
		if (now < heartbeat_due(e))
			return;
		push(out, n, RDVC_ACT_REGISTER);
		e->register_sent_ms = now;
		e->unanswered++;
	} else if (now - e->register_sent_ms >= RDVC_REGISTER_RETRY_MS &&
		   now >= register_ready_at(e, st)) {
		/* The introduction carries our NAT's behaviour and our
		 * candidates: register once the mapping test is done and the
		 * port mapping answered (or each has had its time). */
		push(out, n, RDVC_ACT_REGISTER);
		e->register_sent_ms = now;
		e->unanswered++;
	}
}

size_t rdvc_expire(struct rdvc_engine *e, const struct rdvc_status *st, uint64_t now,
		   struct rdvc_action *out)
{
	size_t n = 0;

	e->last = *st;
	e->last_expire_ms = now;
	expire_stun(e, now, out, &n);
	/* Not one answer over UDP from the rendezvous (blocked?): try its TCP
	 * port, from listen_port, so that it also learns our TCP reflexive
	 * address. */
	if (tcp_fallback_armed(e, st) && now - e->started_ms >= tcp_wait(e)) {
		push(out, &n, RDVC_ACT_TCP_OPEN);
		e->tcp_state = RDVC_TCP_CONNECTING;
	}
	expire_session(e, st, now, out, &n);
	return n;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t rdvc_next_deadline(const struct rdvc_engine *e)
{
	uint64_t next = UINT64_MAX;

	if (!stun_complete(e))
		next = e->stun_sent_ms + RDVC_STUN_RETRY_MS;
	else if (e->stun_done_ms)
		next = e->stun_done_ms + RDVC_STUN_REFRESH_MS;
	if (tcp_fallback_armed(e, &e->last))
		next = min_u64(next, e->started_ms + tcp_wait(e));
	if (!e->last.session)
		next = min_u64(next, e->last_expire_ms + RDVC_POLL_MS);
	else if (e->registered_ms)
		next = min_u64(next, heartbeat_due(e));
	else
		next = min_u64(next, max_u64(e->register_sent_ms + RDVC_REGISTER_RETRY_MS,
					     register_ready_at(e, &e->last)));
	return next;
}
