/* The path engine of one peer (schedule and preferences in engine.h). State
 * is a fixed candidate table, the selected path, a round of punching that
 * starts at start_ms, and heartbeat counters. Hooks only change state and
 * queue what must be said at once (path dead, path to use, introduction
 * wanted); every timer is a due time computed from that state by the same
 * helpers in punch_next_deadline() and punch_expire(), so the two cannot
 * disagree:
 *   - phase:     WAITING -> UDP at start_ms
 *   - udp probe: per UDP candidate without a reply, start_ms first, then
 *                200 ms / 1 s / 5 s after its last probe (udp_interval)
 *   - tcp start: start_ms + 2 s without a UDP reply, if TCP candidates exist
 *   - tcp retry: per TCP candidate, 1 s after a failure (5 s on the relay),
 *                a connect still under way is restarted after 3 s
 *   - relay:     relay_ms (start_ms + 2.5 s of the first round that wanted
 *                it) without any path, relay allowed and available
 *   - round over: start_ms + 30 s without a UDP path: the next round is
 *                scheduled after the back-off (start_ms moves ahead), and
 *                with no path at all an introduction is asked for
 *   - heartbeat: keepalive_s after the later of the last sign of life and
 *                the last heartbeat; one still unanswered then is a miss,
 *                and the third miss kills the path.
 * Probe transaction ids are epoch << 32 | sequence, the epoch random per
 * peer. Each probe sent is recorded in the outstanding table (tx_record);
 * a reply is evidence only through tx_take, which checks the tx_id, the
 * kind, the path kind, the exact address and the age, and consumes the
 * record, so a replay of a reply, a reply from elsewhere and a late one
 * all find nothing.
 * Bounds: every probe and connect of the schedule passes send_paced(),
 * the one place that charges the round's budget and the pacing bucket;
 * the per-candidate caps end a candidate's schedule in udp_due/tcp_due. */
#include "punch/engine.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <string.h>

#include "util/addr.h"

static const uint64_t OFF = UINT64_MAX;
static const uint64_t START_AT_NEXT_EXPIRE = 0; /* start_ms: a round starts at the next expire */

/* ---- small helpers ---- */

/* A destination: an IP address with a port. */
static bool addr_usable(const struct sockaddr_storage *a)
{
	return a && addr_port(a) != 0;
}

/* addr_format's text, "-" for no address (what punch_explain shows). */
static void addr_fmt(const struct sockaddr_storage *a, char *buf, size_t len)
{
	if (addr_is_ip(a))
		addr_format(buf, len, a);
	else
		snprintf(buf, len, "-");
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void set_result(struct punch_candidate *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_result(struct punch_candidate *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->last_result, sizeof(c->last_result), fmt, ap);
	va_end(ap);
}

/* Lower is better: LAN first (works behind one NAT with or without
 * hairpin), then addresses someone told us, then ones we inferred. */
static unsigned cand_rank(enum punch_cand_type type)
{
	switch (type) {
	case PUNCH_CAND_HOST:
		return 0;
	case PUNCH_CAND_STATIC:
	case PUNCH_CAND_SRFLX:
		return 1;
	default:
		return 2;
	}
}

/* UDP direct > TCP direct > relay > none. */
static unsigned path_pref(enum punch_path_kind kind)
{
	switch (kind) {
	case PUNCH_PATH_UDP:
		return 3;
	case PUNCH_PATH_TCP:
		return 2;
	case PUNCH_PATH_RELAY:
		return 1;
	default:
		return 0;
	}
}

static enum punch_proto proto_of(enum punch_path_kind kind)
{
	return kind == PUNCH_PATH_TCP ? PUNCH_PROTO_TCP : PUNCH_PROTO_UDP;
}

static int find(const struct punch_peer *p, enum punch_proto proto,
		const struct sockaddr_storage *addr)
{
	for (size_t i = 0; i < p->n_cand; i++)
		if (p->cand[i].proto == proto && addr_equal(&p->cand[i].addr, addr))
			return (int)i;
	return -1;
}

static void cand_fill(struct punch_candidate *c, enum punch_cand_type type, enum punch_proto proto,
		      const struct sockaddr_storage *addr)
{
	memset(c, 0, sizeof(*c));
	c->addr = *addr;
	c->type = type;
	c->proto = proto;
	c->state = PUNCH_PAIR_WAITING;
	set_result(c, "not tried");
}

/* A slot for a learned candidate when the table is full: a speculative one
 * (predicted, then peer-reflexive) that never answered and is not the path. */
static int evictable(const struct punch_peer *p)
{
	static const enum punch_cand_type order[] = {PUNCH_CAND_PREDICTED, PUNCH_CAND_PRFLX};

	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++)
		for (size_t i = 0; i < p->n_cand; i++)
			if (p->cand[i].type == order[o] && (int)i != p->path_cand &&
			    p->cand[i].state != PUNCH_PAIR_SUCCEEDED)
				return (int)i;
	return -1;
}

/* The index of (proto, addr), added as type when new; -1 when unusable or
 * no slot is free. */
static int learn(struct punch_peer *p, enum punch_cand_type type, enum punch_proto proto,
		 const struct sockaddr_storage *addr)
{
	int i;

	if (!addr_usable(addr))
		return -1;
	i = find(p, proto, addr);
	if (i >= 0)
		return i;
	if (p->n_cand < PUNCH_MAX_CANDIDATES)
		i = (int)p->n_cand++;
	else if ((i = evictable(p)) < 0)
		return -1;
	cand_fill(&p->cand[i], type, proto, addr);
	return i;
}

static uint64_t next_tx(struct punch_peer *p)
{
	return (uint64_t)p->tx_epoch << 32 | ++p->tx_seq;
}

static bool tx_expired(const struct punch_tx *t, uint64_t now)
{
	return now < t->sent_ms || now - t->sent_ms > PUNCH_TX_TIMEOUT_MS;
}

/* Remembers a probe just sent; a full table forgets its oldest probe (the
 * least likely to be answered in time). */
static void tx_record(struct punch_peer *p, enum probe_kind kind, enum punch_path_kind path,
		      const struct sockaddr_storage *addr, uint64_t tx_id, uint64_t now)
{
	struct punch_tx *t = &p->tx[0];

	for (size_t i = 0; i < PUNCH_MAX_OUTSTANDING; i++) {
		struct punch_tx *x = &p->tx[i];

		if (!x->used || tx_expired(x, now)) {
			t = x;
			break;
		}
		if (x->sent_ms < t->sent_ms)
			t = x;
	}
	memset(t, 0, sizeof(*t));
	t->used = true;
	t->kind = kind;
	t->path = path;
	if (addr && path != PUNCH_PATH_RELAY)
		t->addr = *addr;
	t->tx_id = tx_id;
	t->sent_ms = now;
}

/* True, with *sent_ms, when a reply over path from from answers our
 * outstanding probe tx_id of this kind: the record is consumed. A reply
 * that names the tx_id but comes from elsewhere leaves the record for the
 * genuine one. */
static bool tx_take(struct punch_peer *p, enum probe_kind kind, enum punch_path_kind path,
		    const struct sockaddr_storage *from, uint64_t tx_id, uint64_t now,
		    uint64_t *sent_ms)
{
	for (size_t i = 0; i < PUNCH_MAX_OUTSTANDING; i++) {
		struct punch_tx *t = &p->tx[i];

		if (!t->used || t->tx_id != tx_id)
			continue;
		if (t->kind != kind || t->path != path)
			return false;
		if (path != PUNCH_PATH_RELAY && (!from || !addr_equal(from, &t->addr)))
			return false;
		t->used = false;
		if (tx_expired(t, now))
			return false;
		*sent_ms = t->sent_ms;
		return true;
	}
	return false;
}

/* ---- path selection ---- */

static void alive(struct punch_peer *p, uint64_t now)
{
	p->last_alive_ms = now;
	p->hb_misses = 0;
}

static void update_phase(struct punch_peer *p, uint64_t now)
{
	if (p->path == PUNCH_PATH_UDP || p->path == PUNCH_PATH_TCP)
		p->phase = PUNCH_PHASE_DIRECT;
	else if (p->path == PUNCH_PATH_RELAY)
		p->phase = PUNCH_PHASE_RELAYED;
	else if (p->start_ms == OFF)
		p->phase = PUNCH_PHASE_IDLE;
	else if (now < p->start_ms)
		p->phase = PUNCH_PHASE_WAITING;
	else
		p->phase = p->tcp_started ? PUNCH_PHASE_TCP : PUNCH_PHASE_UDP;
}

static void set_path(struct punch_peer *p, enum punch_path_kind kind, int idx, uint64_t now,
		     bool announce)
{
	p->path_confirmed = false;
	p->path = kind;
	p->path_cand = idx;
	memset(&p->path_addr, 0, sizeof(p->path_addr));
	if (idx >= 0)
		p->path_addr = p->cand[idx].addr;
	p->path_since_ms = now;
	p->hb_outstanding = false;
	p->hb_last_sent_ms = 0;
	p->has_rtt = idx >= 0 && p->cand[idx].has_rtt;
	p->rtt_ms = p->has_rtt ? p->cand[idx].rtt_ms : 0;
	alive(p, now);
	if (announce)
		p->want_use_path = true;
	update_phase(p, now);
}

/* The best UDP pair that answered, or -1. */
static int best_udp(const struct punch_peer *p)
{
	int best = -1;

	for (size_t i = 0; i < p->n_cand; i++) {
		const struct punch_candidate *c = &p->cand[i], *b;

		if (c->proto != PUNCH_PROTO_UDP || c->state != PUNCH_PAIR_SUCCEEDED)
			continue;
		if (best < 0) {
			best = (int)i;
			continue;
		}
		b = &p->cand[best];
		if (cand_rank(c->type) < cand_rank(b->type) ||
		    (cand_rank(c->type) == cand_rank(b->type) && c->has_rtt &&
		     (!b->has_rtt || c->rtt_ms < b->rtt_ms)))
			best = (int)i;
	}
	return best;
}

/* Moves to the best UDP pair when it beats the path in use: any UDP beats
 * TCP and relay; another UDP pair only with a better rank, so two pairs of
 * the same rank with jittery RTTs do not make the path flap. */
static void select_udp(struct punch_peer *p, uint64_t now)
{
	int b = best_udp(p);

	if (b < 0 || b == p->path_cand)
		return;
	if (p->path == PUNCH_PATH_UDP && p->path_cand >= 0 &&
	    p->cand[p->path_cand].state == PUNCH_PAIR_SUCCEEDED &&
	    cand_rank(p->cand[b].type) >= cand_rank(p->cand[p->path_cand].type))
		return;
	set_path(p, PUNCH_PATH_UDP, b, now, true);
}

static bool relay_usable(const struct punch_peer *p)
{
	return p->cfg.relay_allowed && p->relay_available;
}

/* The selected path answered with authenticated evidence: a dead path
 * may restart punching (path_dead), and a direct one ends the back-off. */
static void confirmed(struct punch_peer *p)
{
	p->path_confirmed = true;
	if (p->path == PUNCH_PATH_UDP || p->path == PUNCH_PATH_TCP)
		p->backoff_level = 0;
}

/* ---- rounds of punching ---- */

/* Starts a round at t0 with a fresh budget: every pair but the path's own
 * is untried again. */
static void start_round(struct punch_peer *p, uint64_t t0, uint64_t now)
{
	p->start_ms = max64(t0, 1); /* never START_AT_NEXT_EXPIRE */
	p->tcp_ms = p->start_ms + PUNCH_TCP_AFTER_MS;
	/* The relay fallback keeps its first moment: a round after a
	 * back-off does not hold the relay back. */
	p->relay_ms = min64(p->relay_ms, p->start_ms + PUNCH_RELAY_AFTER_MS);
	p->tcp_started = false;
	p->round_probes = 0;
	p->round_connects = 0;
	p->rounds++;
	for (size_t i = 0; i < p->n_cand; i++) {
		struct punch_candidate *c = &p->cand[i];

		/* A stream that is up stays a succeeded pair (a fallback). */
		if ((int)i == p->path_cand || c->stream_up)
			continue;
		c->state = PUNCH_PAIR_WAITING;
		c->tries = 0;
		c->last_sent_ms = 0;
		c->spent = false;
	}
	update_phase(p, now);
}

/* The wait before the next round at the current back-off level. */
static uint64_t backoff_ms(const struct punch_peer *p)
{
	uint64_t w = PUNCH_BACKOFF_MS;

	for (unsigned k = 0; k < p->backoff_level && w < PUNCH_BACKOFF_MAX_MS; k++)
		w *= 2;
	return min64(w, PUNCH_BACKOFF_MAX_MS);
}

/* A round over without a UDP path: the next one after the back-off, which
 * grows (the level stops where the wait reaches its cap). Without a direct
 * UDP path (none, TCP or the relay) an introduction is asked for: the
 * peer's candidates may have changed since (a port mapping that came
 * late, a NAT that moved), and the peer asks at its round's end too, so
 * the rendezvous sees both asks. One that repeats known candidates starts
 * nothing (punch_on_introduce). */
static void end_round(struct punch_peer *p, uint64_t now)
{
	uint64_t wait = backoff_ms(p);

	if (wait < PUNCH_BACKOFF_MAX_MS)
		p->backoff_level++;
	if (p->path != PUNCH_PATH_UDP)
		p->want_introduction = true;
	start_round(p, now + wait, now);
}

/* One of the PUNCH_EARLY_ROUNDS tokens (one back every
 * PUNCH_BACKOFF_MAX_MS) for a round out of the back-off schedule. */
static bool take_early(struct punch_peer *p, uint64_t now)
{
	uint64_t add;

	if (now < p->early_refill_ms)
		p->early_refill_ms = now;
	add = (now - p->early_refill_ms) / PUNCH_BACKOFF_MAX_MS;
	if (add) {
		p->early_tokens = (unsigned)min64(PUNCH_EARLY_ROUNDS, p->early_tokens + add);
		p->early_refill_ms += add * PUNCH_BACKOFF_MAX_MS;
	}
	if (p->early_tokens >= PUNCH_EARLY_ROUNDS)
		p->early_refill_ms = now; /* a full bucket does not save up */
	if (!p->early_tokens)
		return false;
	p->early_tokens--;
	return true;
}

/* A TCP pair whose stream is up, but not dead (its index), the best
 * ranked first; -1 when none is. */
static int live_stream(const struct punch_peer *p, int dead)
{
	int best = -1;

	for (size_t i = 0; i < p->n_cand; i++) {
		const struct punch_candidate *c = &p->cand[i];

		if ((int)i == dead || c->proto != PUNCH_PROTO_TCP || !c->stream_up)
			continue;
		if (best < 0 || cand_rank(c->type) < cand_rank(p->cand[best].type))
			best = (int)i;
	}
	return best;
}

/* Where a peer goes when its path died (engine.h: Liveness): never lose a
 * working path, so a TCP stream still up comes first, then the relay, then
 * no path at all. Each is announced (USE_PATH, NONE included) so the daemon
 * stops sending into the dead path; probing goes on from there and moves
 * the peer up again when a better path answers. */
static void fall_back(struct punch_peer *p, enum punch_path_kind was, int dead, uint64_t now)
{
	int t = live_stream(p, dead);

	if (t >= 0)
		set_path(p, PUNCH_PATH_TCP, t, now, true);
	else if (was != PUNCH_PATH_RELAY && relay_usable(p))
		set_path(p, PUNCH_PATH_RELAY, -1, now, true);
	else
		p->want_use_path = true;
}

static void path_dead(struct punch_peer *p, const char *why, uint64_t now)
{
	enum punch_path_kind was = p->path;
	bool had_answered = p->path_confirmed;
	int dead = p->path_cand;

	if (was == PUNCH_PATH_NONE)
		return;
	p->want_dead = true;
	p->dead_path = was;
	p->dead_addr = p->path_addr;
	if (dead >= 0) {
		p->cand[dead].state = PUNCH_PAIR_FAILED;
		/* A stream nobody answers on is no fallback either. */
		p->cand[dead].stream_up = false;
		set_result(&p->cand[dead], "%s", why);
	}
	set_path(p, PUNCH_PATH_NONE, -1, now, false);
	/* Candidates may be stale (the peer moved, a NAT rebooted): ask for
	 * fresh ones, and punch with what we know meanwhile. Only a path that
	 * had answered earns a new round: one that never did (a relay nobody
	 * answers on, a stream nobody speaks over) must not turn its death
	 * into a fresh budget every few heartbeats. */
	p->want_introduction = true;
	if (had_answered)
		start_round(p, take_early(p, now) ? now : now + backoff_ms(p), now);
	fall_back(p, was, dead, now);
}

/* ---- init and configuration ---- */

static void add_static(struct punch_peer *p)
{
	if (addr_usable(&p->cfg.endpoint))
		(void)learn(p, PUNCH_CAND_STATIC, PUNCH_PROTO_UDP, &p->cfg.endpoint);
}

void punch_peer_init(struct punch_peer *p, const struct punch_config *cfg)
{
	memset(p, 0, sizeof(*p));
	p->cfg = *cfg;
	p->path_cand = -1;
	p->start_ms = OFF;
	p->relay_ms = OFF;
	p->reply_tokens = PUNCH_REPLY_BURST;
	p->early_tokens = PUNCH_EARLY_ROUNDS;
	p->pace_tokens = PUNCH_PACE_BURST;
	randombytes_buf(&p->tx_epoch, sizeof(p->tx_epoch));
	add_static(p);
	/* A configured endpoint is tried at the first punch_expire(), which
	 * knows the time: START_AT_NEXT_EXPIRE until then. */
	if (p->n_cand)
		p->start_ms = START_AT_NEXT_EXPIRE;
	update_phase(p, 0);
}

void punch_peer_reconfigure(struct punch_peer *p, const struct punch_config *cfg, uint64_t now)
{
	bool endpoint_changed = !addr_equal(&p->cfg.endpoint, &cfg->endpoint);

	p->cfg = *cfg;
	if (endpoint_changed) {
		for (size_t i = 0; i < p->n_cand; i++)
			if (p->cand[i].type == PUNCH_CAND_STATIC)
				p->cand[i].type = PUNCH_CAND_PRFLX; /* no longer configured */
		add_static(p);
		if (p->path != PUNCH_PATH_UDP && addr_usable(&cfg->endpoint))
			start_round(p, now, now);
	}
	if (p->path == PUNCH_PATH_RELAY && !cfg->relay_allowed)
		path_dead(p, "relay no longer allowed", now);
}

/* ---- introductions ---- */

static void add_predicted(struct punch_peer *p, const struct rdv_introduce *intro, size_t room)
{
	struct sockaddr_storage a = intro->udp_reflexive;
	int base = addr_port(&intro->udp_reflexive);

	for (int k = 1; k <= PUNCH_MAX_PREDICTED && room; k++) {
		long port = base + (long)k * intro->port_step;

		if (port < 1 || port > 65535)
			break;
		addr_set_port(&a, (uint16_t)port);
		if (find(p, PUNCH_PROTO_UDP, &a) < 0) {
			(void)learn(p, PUNCH_CAND_PREDICTED, PUNCH_PROTO_UDP, &a);
			room--;
		}
	}
}

bool punch_on_introduce(struct punch_peer *p, const struct rdv_introduce *intro, uint64_t now)
{
	size_t host = intro->n_host < RDV_MAX_HOST ? intro->n_host : RDV_MAX_HOST;
	struct punch_candidate old[PUNCH_MAX_CANDIDATES];
	size_t n_old = p->n_cand;
	bool fresh = false;
	int j;

	memcpy(old, p->cand, n_old * sizeof(old[0]));

	/* Keep the path's own pair (so the path stays put) and the configured
	 * endpoint; everything else comes from the introduction, and
	 * peer-reflexive ones are learned again from the peer's probes. */
	if (p->path_cand >= 0) {
		p->cand[0] = p->cand[p->path_cand];
		p->n_cand = 1;
	} else {
		p->n_cand = 0;
	}
	/* So are TCP streams that are up: the fallback when the path dies. */
	for (size_t k = 0; k < n_old; k++)
		if (old[k].stream_up && (int)k != p->path_cand)
			p->cand[p->n_cand++] = old[k];
	if (p->path_cand >= 0)
		p->path_cand = 0;
	add_static(p);
	for (size_t i = 0; i < host; i++)
		(void)learn(p, PUNCH_CAND_HOST, PUNCH_PROTO_UDP, &intro->host[i]);
	(void)learn(p, PUNCH_CAND_SRFLX, PUNCH_PROTO_UDP, &intro->udp_reflexive);
	(void)learn(p, PUNCH_CAND_SRFLX, PUNCH_PROTO_TCP, &intro->tcp_reflexive);
	for (size_t i = 0; i < host; i++)
		(void)learn(p, PUNCH_CAND_HOST, PUNCH_PROTO_TCP, &intro->host[i]);
	/* A symmetric NAT that steps its ports: the peer's next mappings (the
	 * ones its probes to us will use) are reflexive + k * step. A random
	 * one (step 0) cannot be predicted; its probes still teach us the
	 * address as a peer-reflexive candidate. */
	if (intro->nat_mapping == RDV_MAPPING_DEPENDENT && intro->port_step != 0 &&
	    addr_usable(&intro->udp_reflexive) &&
	    p->n_cand + PUNCH_PRFLX_RESERVE < PUNCH_MAX_CANDIDATES)
		add_predicted(p, intro, PUNCH_MAX_CANDIDATES - PUNCH_PRFLX_RESERVE - p->n_cand);
	/* What we knew keeps its state (tries, timers, spent budget): an
	 * introduction that repeats it must not restart anything. */
	for (size_t i = 0; i < p->n_cand; i++) {
		struct punch_candidate *c = &p->cand[i];

		if ((int)i == p->path_cand)
			continue;
		j = -1;
		for (size_t k = 0; k < n_old && j < 0; k++)
			if (old[k].proto == c->proto && addr_equal(&old[k].addr, &c->addr))
				j = (int)k;
		if (j >= 0) {
			enum punch_cand_type type = c->type;

			*c = old[j];
			c->type = type;
		} else if (c->type != PUNCH_CAND_STATIC) {
			fresh = true;
		}
	}
	if (p->start_ms == OFF || p->start_ms == START_AT_NEXT_EXPIRE ||
	    (fresh && take_early(p, now))) {
		start_round(p, now + intro->start_in_ms, now);
		return true;
	}
	/* New candidates without an early round join the round under way
	 * (due at once, under its budget) or the next one. */
	update_phase(p, now);
	return false;
}

void punch_start_tcp(struct punch_peer *p, uint64_t now)
{
	if (p->start_ms == OFF || p->start_ms == START_AT_NEXT_EXPIRE || path_pref(p->path) >= 2)
		return;
	p->tcp_started = true;
	p->tcp_ms = now;
	update_phase(p, now);
}

/* ---- probes ---- */

static bool take_reply_token(struct punch_peer *p, uint64_t now)
{
	uint64_t add =
	    now > p->reply_refill_ms ? (now - p->reply_refill_ms) * PUNCH_REPLIES_PER_S / 1000 : 0;

	if (add) {
		p->reply_tokens = (unsigned)min64(PUNCH_REPLY_BURST, p->reply_tokens + add);
		p->reply_refill_ms = now;
	}
	if (!p->reply_tokens)
		return false;
	p->reply_tokens--;
	return true;
}

/* A new peer-reflexive candidate from a request's source. Unconfirmed ones
 * are capped: past PUNCH_MAX_TRIGGERED the oldest makes room, so replayed
 * requests from many sources cannot fill the table or our probe schedule
 * (the genuine peer keeps sending requests and is learned again). */
static int learn_triggered(struct punch_peer *p, const struct sockaddr_storage *from, uint64_t now)
{
	size_t n = 0;
	int i, oldest = -1;

	for (size_t k = 0; k < p->n_cand; k++) {
		const struct punch_candidate *c = &p->cand[k];

		if (c->type != PUNCH_CAND_PRFLX || c->proto != PUNCH_PROTO_UDP ||
		    c->state == PUNCH_PAIR_SUCCEEDED || (int)k == p->path_cand)
			continue;
		n++;
		if (oldest < 0 || c->learned_ms < p->cand[oldest].learned_ms)
			oldest = (int)k;
	}
	if (n >= PUNCH_MAX_TRIGGERED) {
		i = oldest;
		cand_fill(&p->cand[i], PUNCH_CAND_PRFLX, PUNCH_PROTO_UDP, from);
	} else {
		i = learn(p, PUNCH_CAND_PRFLX, PUNCH_PROTO_UDP, from);
	}
	if (i >= 0)
		p->cand[i].learned_ms = now;
	return i;
}

/* ICE's triggered check: the pair a request came over is probed by us at
 * once, unless it is confirmed already or was probed a moment ago. */
static void trigger(struct punch_peer *p, int i, uint64_t now)
{
	struct punch_candidate *c = &p->cand[i];

	if (c->state == PUNCH_PAIR_SUCCEEDED || c->state == PUNCH_PAIR_TRIGGERED)
		return;
	if (c->last_sent_ms && now < c->last_sent_ms + PUNCH_FAST_RETRY_MS)
		return;
	c->state = PUNCH_PAIR_TRIGGERED;
	c->triggered_ms = now;
	set_result(c, "request from it: triggered check");
}

bool punch_on_probe_request(struct punch_peer *p, enum punch_path_kind via,
			    const struct sockaddr_storage *from, uint64_t now)
{
	int i;

	/* Over the rate, a request (maybe replayed) gets no reply and
	 * teaches nothing: replay work stays bounded. */
	if (!take_reply_token(p, now))
		return false;
	if (via != PUNCH_PATH_UDP || !addr_usable(from))
		return true;
	i = find(p, PUNCH_PROTO_UDP, from);
	if (i < 0)
		i = learn_triggered(p, from, now);
	if (i < 0)
		return true;
	if (p->start_ms == OFF && p->path == PUNCH_PATH_NONE)
		/* The peer punches towards us before any introduction reached
		 * us (or it has our address configured): keep probing it. */
		start_round(p, now, now);
	trigger(p, i, now);
	return true;
}

/* Our probe to candidate i, sent at sent_ms, was answered from there. */
static void udp_success(struct punch_peer *p, int i, uint64_t sent_ms,
			const struct probe_payload *reply, uint64_t now)
{
	struct punch_candidate *c = &p->cand[i];

	c->state = PUNCH_PAIR_SUCCEEDED;
	c->last_ok_ms = now;
	/* The RTT comes from our own record of the probe, not from the
	 * echoed sender time, which only the peer's honesty keeps right. */
	c->rtt_ms = (uint32_t)(now - sent_ms);
	c->has_rtt = true;
	set_result(c, "reply in %u ms", c->rtt_ms);
	if (reply->observed.ss_family)
		p->observed = reply->observed;
	if (i == p->path_cand) {
		alive(p, now);
		p->rtt_ms = c->rtt_ms;
		p->has_rtt = true;
	}
	select_udp(p, now);
	if (i == p->path_cand)
		confirmed(p);
}

void punch_on_probe_reply(struct punch_peer *p, const struct sockaddr_storage *from,
			  const struct probe_payload *reply, uint64_t now)
{
	uint64_t sent;
	int i;

	if (reply->kind != PROBE_REPLY ||
	    !tx_take(p, PROBE_REQUEST, PUNCH_PATH_UDP, from, reply->tx_id, now, &sent))
		return;
	/* The candidate may have been replaced since the probe went out. */
	i = find(p, PUNCH_PROTO_UDP, from);
	if (i >= 0)
		udp_success(p, i, sent, reply, now);
}

static bool on_path(const struct punch_peer *p, enum punch_path_kind via,
		    const struct sockaddr_storage *from)
{
	if (via != p->path || via == PUNCH_PATH_NONE)
		return false;
	return via == PUNCH_PATH_RELAY || (from && addr_equal(from, &p->path_addr));
}

void punch_on_heartbeat_reply(struct punch_peer *p, enum punch_path_kind via,
			      const struct sockaddr_storage *from,
			      const struct probe_payload *reply, uint64_t now)
{
	uint64_t sent;

	/* Only the path's own address answers a heartbeat: one from
	 * anywhere else is not evidence of anything (engine.h: Evidence). */
	if (reply->kind != PROBE_HEARTBEAT_REPLY || !on_path(p, via, from) ||
	    !tx_take(p, PROBE_HEARTBEAT, via, from, reply->tx_id, now, &sent))
		return;
	alive(p, now);
	confirmed(p);
	if (p->hb_outstanding && reply->tx_id == p->hb_last_tx) {
		p->hb_outstanding = false;
		p->hb_answered++;
	}
	p->rtt_ms = (uint32_t)(now - sent);
	p->has_rtt = true;
	if (p->path_cand >= 0) {
		p->cand[p->path_cand].rtt_ms = p->rtt_ms;
		p->cand[p->path_cand].has_rtt = true;
	}
}

/* ---- TCP and relay ---- */

void punch_on_tcp_connected(struct punch_peer *p, const struct sockaddr_storage *addr, uint64_t now)
{
	int i = learn(p, PUNCH_CAND_PRFLX, PUNCH_PROTO_TCP, addr);

	if (i < 0)
		return;
	p->cand[i].state = PUNCH_PAIR_SUCCEEDED;
	p->cand[i].stream_up = true;
	p->cand[i].last_ok_ms = now;
	set_result(&p->cand[i], "connected");
	if (p->path == PUNCH_PATH_NONE || p->path == PUNCH_PATH_RELAY)
		set_path(p, PUNCH_PATH_TCP, i, now, true);
}

void punch_on_tcp_failed(struct punch_peer *p, const struct sockaddr_storage *addr, uint64_t now)
{
	int i = find(p, PUNCH_PROTO_TCP, addr);

	if (i < 0 || i == p->path_cand || p->cand[i].stream_up)
		return;
	p->cand[i].state = PUNCH_PAIR_FAILED;
	p->cand[i].last_sent_ms = now; /* the retry counts from the failure */
	set_result(&p->cand[i], "connect failed");
}

void punch_on_tcp_closed(struct punch_peer *p, const struct sockaddr_storage *addr, uint64_t now)
{
	int i = find(p, PUNCH_PROTO_TCP, addr);

	if (i >= 0)
		p->cand[i].stream_up = false;
	if (p->path == PUNCH_PATH_TCP && addr_equal(addr, &p->path_addr)) {
		path_dead(p, "stream closed", now);
		return;
	}
	if (i >= 0) {
		p->cand[i].state = PUNCH_PAIR_FAILED;
		p->cand[i].last_sent_ms = now;
		set_result(&p->cand[i], "stream closed");
	}
}

static uint64_t relay_due(const struct punch_peer *p)
{
	if (p->path != PUNCH_PATH_NONE || !relay_usable(p) || p->start_ms == OFF ||
	    p->start_ms == START_AT_NEXT_EXPIRE)
		return OFF;
	return p->relay_ms;
}

void punch_on_relay_available(struct punch_peer *p, uint64_t now)
{
	p->relay_available = true;
	if (relay_due(p) <= now)
		set_path(p, PUNCH_PATH_RELAY, -1, now, true);
}

void punch_on_relay_unavailable(struct punch_peer *p, uint64_t now)
{
	p->relay_available = false;
	if (p->path == PUNCH_PATH_RELAY)
		path_dead(p, "relay unavailable", now);
}

bool punch_path_may_move(enum punch_path_kind cur, enum punch_path_kind to)
{
	return to != PUNCH_PATH_NONE && path_pref(to) >= path_pref(cur);
}

bool punch_on_path_authenticated(struct punch_peer *p, enum punch_path_kind kind,
				 const struct sockaddr_storage *addr, uint64_t now)
{
	int i = -1;

	if (kind == PUNCH_PATH_NONE)
		return false;
	if (on_path(p, kind, addr)) {
		alive(p, now);
		confirmed(p);
		return true;
	}
	if (kind != PUNCH_PATH_RELAY) {
		i = learn(p, PUNCH_CAND_PRFLX, proto_of(kind), addr);
		if (i < 0)
			return false;
		p->cand[i].state = PUNCH_PAIR_SUCCEEDED;
		p->cand[i].last_ok_ms = now;
		set_result(&p->cand[i], "authenticated packet");
	}
	/* Never trade down: an authenticated packet over a path at least as
	 * good as ours moves the session there (roaming, or the peer chose
	 * it); one over a worse path (a relayed packet in flight while UDP
	 * took over) only counts as evidence for that pair. Moving down is
	 * path_dead's alone. */
	if (!punch_path_may_move(p->path, kind))
		return false;
	set_path(p, kind, i, now, false);
	confirmed(p);
	return true;
}

/* ---- timers ---- */

/* Fast at first, then slower as the round ages, so PUNCH_CAND_PROBES
 * spread over the whole round rather than its first seconds. */
static uint64_t udp_interval(const struct punch_peer *p, uint64_t sent)
{
	if (sent < p->start_ms + PUNCH_FAST_PHASE_MS)
		return PUNCH_FAST_RETRY_MS;
	if (p->path != PUNCH_PATH_NONE)
		return PUNCH_SLOW_RETRY_MS;
	return min64(max64((sent - p->start_ms) / 2, PUNCH_RETRY_MS), PUNCH_RETRY_MAX_MS);
}

static bool probing(const struct punch_peer *p)
{
	return p->start_ms != OFF && p->path != PUNCH_PATH_UDP;
}

static uint64_t udp_due(const struct punch_peer *p, const struct punch_candidate *c)
{
	if (c->proto != PUNCH_PROTO_UDP || c->state == PUNCH_PAIR_SUCCEEDED)
		return OFF;
	/* A triggered check goes out even on a UDP path (no round needed). */
	if (c->state == PUNCH_PAIR_TRIGGERED)
		return c->triggered_ms;
	if (!probing(p) || c->spent || c->tries >= PUNCH_CAND_PROBES)
		return OFF;
	if (!c->last_sent_ms)
		return p->start_ms;
	return c->last_sent_ms + udp_interval(p, c->last_sent_ms);
}

static bool has_tcp(const struct punch_peer *p)
{
	for (size_t i = 0; i < p->n_cand; i++)
		if (p->cand[i].proto == PUNCH_PROTO_TCP)
			return true;
	return false;
}

static uint64_t tcp_start_due(const struct punch_peer *p)
{
	if (p->tcp_started || p->start_ms == OFF || path_pref(p->path) >= 2 || !has_tcp(p))
		return OFF;
	return p->tcp_ms;
}

static uint64_t tcp_due(const struct punch_peer *p, const struct punch_candidate *c)
{
	bool relayed = p->path == PUNCH_PATH_RELAY;

	if (!p->tcp_started || path_pref(p->path) >= 2 || c->proto != PUNCH_PROTO_TCP || c->spent ||
	    c->tries >= PUNCH_CAND_CONNECTS)
		return OFF;
	switch (c->state) {
	case PUNCH_PAIR_WAITING:
		return c->last_sent_ms ? c->last_sent_ms + PUNCH_TCP_RETRY_MS : p->tcp_ms;
	case PUNCH_PAIR_IN_PROGRESS:
		return c->last_sent_ms +
		       (relayed ? PUNCH_SLOW_RETRY_MS : PUNCH_TCP_CONNECT_TIMEOUT_MS);
	case PUNCH_PAIR_FAILED:
		return c->last_sent_ms + (relayed ? PUNCH_SLOW_RETRY_MS : PUNCH_TCP_RETRY_MS);
	default:
		return OFF;
	}
}

/* The end of the round: with a UDP path there is nothing left to find. */
static uint64_t give_up_due(const struct punch_peer *p)
{
	if (p->start_ms == OFF || p->start_ms == START_AT_NEXT_EXPIRE || p->path == PUNCH_PATH_UDP)
		return OFF;
	return p->start_ms + PUNCH_GIVE_UP_MS;
}

static uint64_t hb_due(const struct punch_peer *p)
{
	if (!p->cfg.keepalive_s || p->path == PUNCH_PATH_NONE)
		return OFF;
	return max64(p->last_alive_ms, p->hb_last_sent_ms) + p->cfg.keepalive_s * 1000ull;
}

uint64_t punch_next_deadline(const struct punch_peer *p)
{
	uint64_t d = OFF;

	if (p->want_dead || p->want_use_path || p->want_introduction ||
	    p->start_ms == START_AT_NEXT_EXPIRE)
		return 0;
	if (p->phase == PUNCH_PHASE_WAITING)
		d = p->start_ms;
	d = min64(d, relay_due(p));
	d = min64(d, tcp_start_due(p));
	d = min64(d, give_up_due(p));
	d = min64(d, hb_due(p));
	for (size_t i = 0; i < p->n_cand; i++) {
		const struct punch_candidate *c = &p->cand[i];
		uint64_t u = udp_due(p, c), t = tcp_due(p, c);

		/* Triggered checks are not paced; the schedule is. */
		if (c->state != PUNCH_PAIR_TRIGGERED && u != OFF)
			u = max64(u, p->pace_until_ms);
		if (t != OFF)
			t = max64(t, p->pace_until_ms);
		d = min64(d, min64(u, t));
	}
	return d;
}

/* Timers that only change state (what they decide is said by the queued
 * flags or by the sends that follow). */
static void run_state_timers(struct punch_peer *p, uint64_t now)
{
	if (hb_due(p) <= now && p->hb_outstanding && p->last_alive_ms < p->hb_last_sent_ms) {
		p->hb_outstanding = false;
		if (++p->hb_misses >= PUNCH_DEAD_AFTER_MISSES)
			path_dead(p, "heartbeats unanswered", now);
	}
	if (relay_due(p) <= now)
		set_path(p, PUNCH_PATH_RELAY, -1, now, true);
	if (tcp_start_due(p) <= now)
		p->tcp_started = true;
	if (give_up_due(p) <= now)
		end_round(p, now);
	update_phase(p, now);
}

static struct punch_action *push(struct punch_action *out, size_t max, size_t *n,
				 enum punch_act_type type, enum punch_path_kind path,
				 const struct sockaddr_storage *addr)
{
	struct punch_action *a;

	if (*n >= max)
		return NULL;
	a = &out[(*n)++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->path = path;
	if (addr)
		a->addr = *addr;
	return a;
}

static void send_flags(struct punch_peer *p, struct punch_action *out, size_t max, size_t *n)
{
	if (p->want_dead && push(out, max, n, PUNCH_ACT_PATH_DEAD, p->dead_path, &p->dead_addr))
		p->want_dead = false;
	if (!p->want_dead && p->want_use_path &&
	    push(out, max, n, PUNCH_ACT_USE_PATH, p->path, &p->path_addr))
		p->want_use_path = false;
	if (p->want_introduction &&
	    push(out, max, n, PUNCH_ACT_REQUEST_INTRODUCTION, PUNCH_PATH_NONE, NULL))
		p->want_introduction = false;
}

static void send_heartbeat(struct punch_peer *p, uint64_t now, struct punch_action *out, size_t max,
			   size_t *n)
{
	struct punch_action *a;

	if (hb_due(p) > now)
		return;
	a = push(out, max, n, PUNCH_ACT_SEND_PROBE, p->path, &p->path_addr);
	if (!a)
		return;
	a->probe_kind = PROBE_HEARTBEAT;
	a->tx_id = p->hb_last_tx = next_tx(p);
	tx_record(p, PROBE_HEARTBEAT, p->path, &p->path_addr, a->tx_id, now);
	p->hb_last_sent_ms = now;
	p->hb_outstanding = true;
	p->hb_sent++;
}

/* A pacing token: false (and pace_until_ms set) when the bucket is empty. */
static bool pace_take(struct punch_peer *p, uint64_t now)
{
	uint64_t add =
	    now > p->pace_refill_ms ? (now - p->pace_refill_ms) * PUNCH_PACE_PER_S / 1000 : 0;

	if (add) {
		p->pace_tokens = (unsigned)min64(PUNCH_PACE_BURST, p->pace_tokens + add);
		p->pace_refill_ms = now;
	}
	if (!p->pace_tokens) {
		p->pace_until_ms = now + (1000 + PUNCH_PACE_PER_S - 1) / PUNCH_PACE_PER_S;
		return false;
	}
	p->pace_tokens--;
	return true;
}

/* Whether the schedule's next send to c may go out now: the one check of
 * the round's budget (counting refusals; the candidate then waits for the
 * next round) and of the pacing (the send waits for a token). */
static bool send_paced(struct punch_peer *p, struct punch_candidate *c, bool tcp, uint64_t now)
{
	unsigned *spent = tcp ? &p->round_connects : &p->round_probes;
	unsigned budget = tcp ? PUNCH_ROUND_CONNECTS : PUNCH_ROUND_PROBES;

	if (*spent >= budget) {
		c->spent = true;
		if (tcp)
			p->connects_refused++;
		else
			p->probes_refused++;
		set_result(c, "round budget spent");
		return false;
	}
	if (!pace_take(p, now))
		return false;
	(*spent)++;
	if (tcp)
		p->connects_sent++;
	else
		p->probes_sent++;
	return true;
}

static void send_probes(struct punch_peer *p, uint64_t now, struct punch_action *out, size_t max,
			size_t *n)
{
	for (size_t i = 0; i < p->n_cand; i++) {
		struct punch_candidate *c = &p->cand[i];
		bool triggered = c->state == PUNCH_PAIR_TRIGGERED;
		struct punch_action *a;

		if (*n >= max)
			return;
		if (udp_due(p, c) <= now) {
			/* A triggered check answers the peer's own request:
			 * bounded by the reply rate, not by the round. */
			if (!triggered && !send_paced(p, c, false, now)) {
				if (c->spent)
					continue;
				return;
			}
			a = push(out, max, n, PUNCH_ACT_SEND_PROBE, PUNCH_PATH_UDP, &c->addr);
			a->probe_kind = PROBE_REQUEST;
			a->tx_id = next_tx(p);
			tx_record(p, PROBE_REQUEST, PUNCH_PATH_UDP, &c->addr, a->tx_id, now);
			/* Unanswered past the fast phase: failed for now, though
			 * still probed in case the far NAT opens later. */
			if (!triggered && c->tries && p->start_ms != OFF &&
			    now >= p->start_ms + PUNCH_FAST_PHASE_MS)
				c->state = PUNCH_PAIR_FAILED;
			else
				c->state = PUNCH_PAIR_IN_PROGRESS;
			c->tries++;
			c->last_sent_ms = now;
			if (c->state == PUNCH_PAIR_FAILED)
				set_result(c, "no reply to %u probes", c->tries - 1);
			else
				set_result(c, triggered ? "triggered check" : "probing");
		} else if (tcp_due(p, c) <= now) {
			if (!send_paced(p, c, true, now)) {
				if (c->spent)
					continue;
				return;
			}
			(void)push(out, max, n, PUNCH_ACT_TCP_CONNECT, PUNCH_PATH_TCP, &c->addr);
			c->state = PUNCH_PAIR_IN_PROGRESS;
			c->tries++;
			c->last_sent_ms = now;
			set_result(c, "connecting");
		}
	}
}

size_t punch_expire(struct punch_peer *p, uint64_t now, struct punch_action *out, size_t max)
{
	size_t n = 0;

	if (p->start_ms == START_AT_NEXT_EXPIRE)
		start_round(p, now, now);
	run_state_timers(p, now);
	send_flags(p, out, max, &n);
	send_heartbeat(p, now, out, max, &n);
	send_probes(p, now, out, max, &n);
	return n;
}

bool punch_should_initiate(const struct punch_peer *p)
{
	return memcmp(p->cfg.our_pub, p->cfg.their_pub, sizeof(p->cfg.our_pub)) < 0;
}

/* ---- explain ---- */

const char *punch_path_kind_str(enum punch_path_kind kind)
{
	static const char *const names[] = {"none", "udp", "tcp", "relay"};

	return (unsigned)kind < 4 ? names[kind] : "?";
}

const char *punch_phase_str(enum punch_phase phase)
{
	static const char *const names[] = {"idle",	      "waiting", "udp-punching",
					    "tcp-connecting", "relayed", "direct"};

	return (unsigned)phase < 6 ? names[phase] : "?";
}

const char *punch_cand_type_str(enum punch_cand_type type)
{
	static const char *const names[] = {"configured", "host", "srflx", "prflx", "predicted"};

	return (unsigned)type < 5 ? names[type] : "?";
}

const char *punch_pair_state_str(enum punch_pair_state state)
{
	static const char *const names[] = {"waiting", "in-progress", "succeeded", "failed",
					    "triggered"};

	return (unsigned)state < 5 ? names[state] : "?";
}

static size_t count(const struct punch_peer *p, enum punch_proto proto, bool unanswered)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_cand; i++)
		if (p->cand[i].proto == proto &&
		    (!unanswered || p->cand[i].state != PUNCH_PAIR_SUCCEEDED))
			n++;
	return n;
}

static uint64_t in_ms(uint64_t at, uint64_t now)
{
	return at > now ? at - now : 0;
}

/* What the engine does next, in words. */
static void explain_next(const struct punch_peer *p, FILE *out, uint64_t now)
{
	uint64_t d = punch_next_deadline(p), left = in_ms(d, now);
	size_t udp = count(p, PUNCH_PROTO_UDP, true);

	fputs("next=", out);
	switch (p->phase) {
	case PUNCH_PHASE_IDLE:
		fputs("wait for an introduction from the rendezvous\n", out);
		return;
	case PUNCH_PHASE_WAITING:
		fprintf(out, "start punching in %llu ms: probe %zu UDP candidates\n",
			(unsigned long long)left, udp);
		return;
	case PUNCH_PHASE_UDP:
	case PUNCH_PHASE_TCP:
		fprintf(out, "probe %zu UDP candidates", udp);
		if (p->tcp_started)
			fprintf(out, ", connect to %zu TCP candidates",
				count(p, PUNCH_PROTO_TCP, true));
		else if (tcp_start_due(p) != OFF)
			fprintf(out, ", TCP simultaneous open in %llu ms",
				(unsigned long long)in_ms(tcp_start_due(p), now));
		if (relay_due(p) != OFF)
			fprintf(out, ", relay in %llu ms",
				(unsigned long long)in_ms(relay_due(p), now));
		else if (!p->cfg.relay_allowed)
			fputs(", relay not allowed", out);
		else
			fputs(", relay not available", out);
		fprintf(out, " (next action in %llu ms)\n", (unsigned long long)left);
		return;
	case PUNCH_PHASE_RELAYED:
	case PUNCH_PHASE_DIRECT:
		if (hb_due(p) != OFF)
			fprintf(out, "heartbeat in %llu ms (%u/%d missed)",
				(unsigned long long)in_ms(hb_due(p), now), p->hb_misses,
				PUNCH_DEAD_AFTER_MISSES);
		else
			fputs("no heartbeats (keepalive off)", out);
		if (p->path != PUNCH_PATH_UDP && udp)
			fprintf(out, "; probe %zu UDP candidates to upgrade", udp);
		fputc('\n', out);
		return;
	}
}

void punch_explain(const struct punch_peer *p, FILE *out, uint64_t now)
{
	char addr[ADDR_STRLEN];
	uint64_t lost, counted;

	fprintf(out, "phase=%s\n", punch_phase_str(p->phase));
	for (size_t i = 0; i < p->n_cand; i++) {
		const struct punch_candidate *c = &p->cand[i];
		char rtt[16] = "-";

		if (c->has_rtt)
			snprintf(rtt, sizeof(rtt), "%u ms", c->rtt_ms);
		addr_fmt(&c->addr, addr, sizeof(addr));
		fprintf(out, "candidate_%zu=%s %s %s %s tries=%u rtt=%s result=%s\n", i,
			punch_cand_type_str(c->type), c->proto == PUNCH_PROTO_TCP ? "tcp" : "udp",
			addr, punch_pair_state_str(c->state), c->tries, rtt, c->last_result);
	}
	addr_fmt(&p->path_addr, addr, sizeof(addr));
	if (p->path == PUNCH_PATH_UDP || p->path == PUNCH_PATH_TCP)
		fprintf(out, "path=%s %s\n", punch_path_kind_str(p->path), addr);
	else
		fprintf(out, "path=%s\n", punch_path_kind_str(p->path));
	if (p->path != PUNCH_PATH_NONE)
		fprintf(out, "path_since_s=%llu\n",
			(unsigned long long)(in_ms(now, p->path_since_ms) / 1000));
	if (p->has_rtt)
		fprintf(out, "rtt_ms=%u\n", p->rtt_ms);
	counted = p->hb_sent - (p->hb_outstanding ? 1 : 0);
	lost = counted > p->hb_answered ? counted - p->hb_answered : 0;
	fprintf(out, "heartbeats_sent=%llu\n", (unsigned long long)p->hb_sent);
	fprintf(out, "heartbeat_loss_pct=%llu\n",
		(unsigned long long)(counted ? lost * 100 / counted : 0));
	if (p->observed.ss_family) {
		addr_fmt(&p->observed, addr, sizeof(addr));
		fprintf(out, "observed_by_peer=%s\n", addr);
	}
	fprintf(out, "round=%llu probes=%u/%d connects=%u/%d backoff_s=%llu\n",
		(unsigned long long)p->rounds, p->round_probes, PUNCH_ROUND_PROBES,
		p->round_connects, PUNCH_ROUND_CONNECTS,
		(unsigned long long)(backoff_ms(p) / 1000));
	fprintf(out,
		"probes_sent=%llu probes_refused=%llu connects_sent=%llu connects_refused=%llu\n",
		(unsigned long long)p->probes_sent, (unsigned long long)p->probes_refused,
		(unsigned long long)p->connects_sent, (unsigned long long)p->connects_refused);
	fprintf(out, "relay=%s\n",
		!p->cfg.relay_allowed ? "not allowed"
		: p->relay_available  ? "available"
				      : "not available");
	explain_next(p, out, now);
}
