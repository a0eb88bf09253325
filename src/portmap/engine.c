/* Port-mapping engine (engine.h has the rules): one mapping of one port at
 * the default gateway, asked for with PCP, then NAT-PMP, renewed at half
 * its lifetime, asked for again when the gateway's epoch says it restarted,
 * deleted on stop. The state is a small machine (enum pm_state) whose every
 * state has one deadline, due_ms: the next request, or the moment to give
 * up; a held mapping also has expires_ms. Answers are accepted only from
 * the gateway's port 5351 and through the strict codecs (pcp.c, natpmp.c),
 * so a spoofed or stray datagram costs a counter and nothing else. */
#include "portmap/engine.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "util/addr.h"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The wait after request number `tries` (1-based): 250, 500, 1000 ms. */
static uint64_t retry_ms(unsigned tries)
{
	return (uint64_t)PM_RETRY_FIRST_MS << (tries - 1);
}

static void build_requests(struct pm_engine *e)
{
	memset(&e->pcp, 0, sizeof(e->pcp));
	e->pcp.lifetime_s = e->cfg.lifetime_s;
	e->pcp.client = e->cfg.client;
	memcpy(e->pcp.nonce, e->cfg.nonce, PCP_NONCE_LEN);
	e->pcp.protocol = e->cfg.protocol;
	e->pcp.internal_port = e->cfg.internal_port;
	/* The internal port suggested as external: peers and logs read
	 * easier, and NAT boxes commonly grant it when it is free. */
	e->pcp.suggested.ss_family = e->cfg.client.ss_family;
	addr_set_port(&e->pcp.suggested, e->cfg.internal_port);

	e->natpmp.opcode = e->cfg.protocol == PCP_PROTO_TCP ? NATPMP_OP_MAP_TCP : NATPMP_OP_MAP_UDP;
	e->natpmp.internal_port = e->cfg.internal_port;
	e->natpmp.suggested_port = e->cfg.internal_port;
	e->natpmp.lifetime_s = e->cfg.lifetime_s;
}

void pm_engine_init(struct pm_engine *e, const struct pm_config *cfg)
{
	memset(e, 0, sizeof(*e));
	e->cfg = *cfg;
	addr_set_port(&e->cfg.gateway, PCP_SERVER_PORT);
	if (!e->cfg.lifetime_s)
		e->cfg.lifetime_s = PM_LIFETIME_S;
	e->state = PM_OFF;
	e->due_ms = UINT64_MAX;
	build_requests(e);
}

static void enter(struct pm_engine *e, enum pm_state s, uint64_t due)
{
	e->state = s;
	e->tries = 0;
	e->due_ms = due;
}

void pm_start(struct pm_engine *e, uint64_t now)
{
	build_requests(e);
	e->proto = PM_PROTO_NONE;
	e->natpmp_have_addr = e->natpmp_have_port = false;
	e->have_epoch = false; /* the next answer starts the comparison anew */
	enter(e, PM_ASK_PCP, now);
}

static struct pm_action *send_pcp(struct pm_engine *e, struct pm_action *a)
{
	memset(a, 0, sizeof(*a));
	a->type = PM_ACT_SEND;
	a->to = e->cfg.gateway;
	a->len = pcp_map_encode(&e->pcp, a->buf);
	return a;
}

/* NAT-PMP's mapping request, after its address request when that is
 * still unanswered: returns the number of actions written. */
static size_t send_natpmp(struct pm_engine *e, struct pm_action *out)
{
	size_t n = 0;

	if (!e->natpmp_have_addr) {
		memset(&out[n], 0, sizeof(out[n]));
		out[n].type = PM_ACT_SEND;
		out[n].to = e->cfg.gateway;
		out[n].len = natpmp_addr_encode(out[n].buf);
		n++;
	}
	memset(&out[n], 0, sizeof(out[n]));
	out[n].type = PM_ACT_SEND;
	out[n].to = e->cfg.gateway;
	out[n].len = natpmp_map_encode(&e->natpmp, out[n].buf);
	return n + 1;
}

static size_t send_current(struct pm_engine *e, struct pm_action *out)
{
	if (e->proto == PM_PROTO_NATPMP || e->state == PM_ASK_NATPMP)
		return send_natpmp(e, out);
	send_pcp(e, out);
	return 1;
}

static size_t simple(struct pm_action *a, enum pm_act_type t)
{
	memset(a, 0, sizeof(*a));
	a->type = t;
	return 1;
}

/* Forgets the held mapping and asks from the start at now. */
static void restart(struct pm_engine *e, uint64_t now)
{
	memset(&e->external, 0, sizeof(e->external));
	e->lifetime_s = 0;
	pm_start(e, now);
}

bool pm_stop(struct pm_engine *e, uint64_t now)
{
	if (e->state != PM_MAPPED) {
		enter(e, PM_OFF, UINT64_MAX);
		return false;
	}
	/* Section 15 of RFC 6887 and 3.4 of RFC 6886: lifetime 0, the same
	 * nonce; NAT-PMP also wants the suggested port 0. */
	e->pcp.lifetime_s = 0;
	e->natpmp.lifetime_s = 0;
	e->natpmp.suggested_port = 0;
	e->delete_answered = false;
	enter(e, PM_DELETING, now);
	return true;
}

/* RFC 6887 section 8.5 (the same test as RFC 6886 section 3.6): an epoch
 * that went back by more than a second, or advanced much less than our
 * clock did, says the gateway lost its state. Returns true then. */
static bool epoch_lost(struct pm_engine *e, uint32_t epoch, uint64_t now)
{
	bool lost = false;

	if (e->have_epoch) {
		uint64_t client = (now - e->epoch_at_ms) / 1000;
		uint64_t server = epoch >= e->epoch_s ? epoch - e->epoch_s : 0;

		if ((uint64_t)epoch + 1 < e->epoch_s)
			lost = true;
		else if (client + 2 < server - server / 16 || server + 2 < client - client / 16)
			lost = true;
	}
	e->have_epoch = true;
	e->epoch_s = epoch;
	e->epoch_at_ms = now;
	return lost;
}

static void drop(struct pm_engine *e, const char *why)
{
	e->drops++;
	e->last_drop = why;
}

/* A mapping was granted (or renewed) at now: reports it when the external
 * address is new. */
static size_t granted(struct pm_engine *e, enum pm_proto proto, const struct sockaddr_storage *ext,
		      uint32_t lifetime_s, uint64_t now, struct pm_action *out)
{
	bool changed = e->state != PM_MAPPED || e->proto != proto || !addr_equal(&e->external, ext);
	uint64_t half = (uint64_t)lifetime_s * 1000 / 2;

	e->proto = proto;
	e->external = *ext;
	e->lifetime_s = lifetime_s;
	e->granted_ms = now;
	e->expires_ms = now + (uint64_t)lifetime_s * 1000;
	/* Renewals suggest what we hold (RFC 6887 section 11.1). */
	e->pcp.suggested = *ext;
	e->natpmp.suggested_port = addr_port(ext);
	enter(e, PM_MAPPED, now + (half < 1000 ? 1000 : half));
	if (!changed)
		return 0;
	memset(out, 0, sizeof(*out));
	out->type = PM_ACT_MAPPED;
	out->external = *ext;
	return 1;
}

/* An error answer: refused for as long as the gateway said (PCP gives the
 * error a lifetime; NAT-PMP does not), within bounds. */
static size_t refused(struct pm_engine *e, enum pm_proto proto, uint16_t result,
		      uint32_t lifetime_s, uint64_t now, struct pm_action *out)
{
	uint64_t wait = (uint64_t)lifetime_s * 1000;
	size_t n = 0;

	if (wait < PM_REFUSED_MIN_MS)
		wait = PM_REFUSED_MIN_MS;
	if (wait > PM_REFUSED_MAX_MS)
		wait = PM_REFUSED_MAX_MS;
	if (e->state == PM_MAPPED)
		n += simple(&out[n], PM_ACT_LOST);
	n += simple(&out[n], PM_ACT_NONE);
	e->proto = proto;
	e->refused_result = result;
	memset(&e->external, 0, sizeof(e->external));
	enter(e, PM_REFUSED, now + wait);
	return n;
}

static size_t deleted(struct pm_engine *e, bool answered, struct pm_action *out)
{
	e->delete_answered = answered;
	memset(&e->external, 0, sizeof(e->external));
	enter(e, PM_OFF, UINT64_MAX);
	return simple(out, PM_ACT_DELETED);
}

static size_t on_pcp(struct pm_engine *e, const uint8_t *buf, size_t len, uint64_t now,
		     struct pm_action *out)
{
	struct pcp_response r;
	enum pcp_drop why;

	if (pcp_announce_decode(buf, len, &r, &why)) {
		/* A restarted gateway's ANNOUNCE (RFC 6887 section 14.1): a
		 * held mapping is asked for again at once. */
		if (epoch_lost(e, r.epoch_s, now) && e->state == PM_MAPPED) {
			e->tries = 0;
			e->due_ms = now;
		}
		return 0;
	}
	if (!pcp_map_decode(buf, len, &e->pcp, &r, &why)) {
		drop(e, pcp_drop_name(why));
		return 0;
	}
	/* A restarted gateway answering our request has made the mapping
	 * anew already: granted() below reports it if the address moved. */
	(void)epoch_lost(e, r.epoch_s, now);
	if (e->state == PM_DELETING)
		return r.lifetime_s == 0 ? deleted(e, true, out) : 0;
	if (e->state != PM_ASK_PCP && e->state != PM_ASK_NATPMP &&
	    !(e->state == PM_MAPPED && e->proto == PM_PROTO_PCP)) {
		drop(e, "pcp answer not expected");
		return 0;
	}
	if (r.result != PCP_SUCCESS)
		return refused(e, PM_PROTO_PCP, r.result, r.lifetime_s, now, out);
	if (!r.lifetime_s) {
		drop(e, "pcp mapping with lifetime 0");
		return 0;
	}
	return granted(e, PM_PROTO_PCP, &r.external, r.lifetime_s, now, out);
}

static size_t natpmp_done(struct pm_engine *e, const struct natpmp_response *map, uint64_t now,
			  struct pm_action *out)
{
	struct sockaddr_storage ext;

	memset(&ext, 0, sizeof(ext));
	((struct sockaddr_in *)&ext)->sin_family = AF_INET;
	((struct sockaddr_in *)&ext)->sin_addr = e->natpmp_ip;
	((struct sockaddr_in *)&ext)->sin_port = htons(map->external_port);
	return granted(e, PM_PROTO_NATPMP, &ext, map->lifetime_s, now, out);
}

static size_t on_natpmp(struct pm_engine *e, const uint8_t *buf, size_t len, uint64_t now,
			struct pm_action *out)
{
	struct natpmp_response r;
	enum natpmp_drop why;
	bool asking =
	    e->state == PM_ASK_NATPMP || (e->state == PM_MAPPED && e->proto == PM_PROTO_NATPMP);

	if (len == NATPMP_ADDR_RESPONSE_LEN || (len == NATPMP_ERROR_LEN && (buf[1] & 0x7f) == 0)) {
		if (!natpmp_addr_decode(buf, len, &r, &why)) {
			drop(e, natpmp_drop_name(why));
			return 0;
		}
		/* Also what a restarted gateway multicasts (RFC 6886 3.2.1). */
		if (epoch_lost(e, r.epoch_s, now) && e->state == PM_MAPPED) {
			e->tries = 0;
			e->due_ms = now;
		}
		if (!asking && e->state != PM_MAPPED)
			return 0;
		if (r.result != NATPMP_SUCCESS)
			return refused(e, PM_PROTO_NATPMP, r.result, 0, now, out);
		e->natpmp_ip = r.external;
		e->natpmp_have_addr = true;
		/* The gateway's address changed under a held mapping (it
		 * announces that, 3.2.1): the mapping moves with it. */
		if (e->state == PM_MAPPED && e->proto == PM_PROTO_NATPMP &&
		    ((struct sockaddr_in *)&e->external)->sin_addr.s_addr != r.external.s_addr) {
			((struct sockaddr_in *)&e->external)->sin_addr = r.external;
			memset(out, 0, sizeof(*out));
			out->type = PM_ACT_MAPPED;
			out->external = e->external;
			return 1;
		}
		return 0;
	}
	if (!natpmp_map_decode(buf, len, &e->natpmp, &r, &why)) {
		drop(e, natpmp_drop_name(why));
		return 0;
	}
	(void)epoch_lost(e, r.epoch_s, now);
	if (e->state == PM_DELETING)
		return r.lifetime_s == 0 ? deleted(e, true, out) : 0;
	if (!asking) {
		drop(e, "nat-pmp answer not expected");
		return 0;
	}
	if (r.result != NATPMP_SUCCESS)
		return refused(e, PM_PROTO_NATPMP, r.result, 0, now, out);
	if (!r.lifetime_s) {
		drop(e, "nat-pmp mapping with lifetime 0");
		return 0;
	}
	if (!e->natpmp_have_addr) {
		/* The address answer may come later: keep the port, wait. */
		e->natpmp_have_port = true;
		e->natpmp_pending = r;
		return 0;
	}
	return natpmp_done(e, &r, now, out);
}

size_t pm_on_datagram(struct pm_engine *e, const struct sockaddr_storage *from, const uint8_t *buf,
		      size_t len, uint64_t now, struct pm_action *out)
{
	size_t n;

	/* Only the gateway's port-mapping port speaks for it (RFC 6887
	 * section 8.3, RFC 6886 section 3.1). */
	if (!addr_equal(from, &e->cfg.gateway)) {
		drop(e, "not from the gateway");
		return 0;
	}
	if (e->state == PM_OFF || len < 2) {
		drop(e, len < 2 ? "short" : "not asking");
		return 0;
	}
	if (e->state == PM_ASK_PCP && pcp_is_unsupp_version(buf, len)) {
		/* A NAT-PMP-only gateway (RFC 6887 section 9): move on now
		 * (the next pm_expire(), due at once, sends or gives up). */
		e->tries = PM_TRIES;
		e->due_ms = now;
		return 0;
	}
	if (buf[0] == PCP_VERSION)
		return on_pcp(e, buf, len, now, out);
	if (buf[0] == NATPMP_VERSION) {
		n = on_natpmp(e, buf, len, now, out);
		if (!n && e->state == PM_ASK_NATPMP && e->natpmp_have_addr && e->natpmp_have_port)
			n = natpmp_done(e, &e->natpmp_pending, now, out);
		return n;
	}
	drop(e, "unknown version");
	return 0;
}

size_t pm_expire(struct pm_engine *e, uint64_t now, struct pm_action *out)
{
	size_t n = 0;

	if (e->state == PM_MAPPED && now >= e->expires_ms) {
		/* Not renewed in its whole lifetime: gone. */
		n += simple(&out[n], PM_ACT_LOST);
		restart(e, now);
	}
	if (now < e->due_ms)
		return n;
	switch (e->state) {
	case PM_OFF:
		break;
	case PM_NONE:
	case PM_REFUSED:
		pm_start(e, now);
		/* fall through */
	case PM_ASK_PCP:
		if (e->tries < PM_TRIES) {
			n += send_current(e, &out[n]);
			e->due_ms = now + retry_ms(++e->tries);
			break;
		}
		/* NAT-PMP speaks IPv4 only. */
		if (e->cfg.gateway.ss_family == AF_INET) {
			enter(e, PM_ASK_NATPMP, now);
			n += send_current(e, &out[n]);
			e->due_ms = now + retry_ms(++e->tries);
			break;
		}
		/* fall through */
	case PM_ASK_NATPMP:
		if (e->state == PM_ASK_NATPMP && e->tries < PM_TRIES) {
			n += send_current(e, &out[n]);
			e->due_ms = now + retry_ms(++e->tries);
			break;
		}
		e->proto = PM_PROTO_NONE;
		enter(e, PM_NONE, now + PM_NONE_RETRY_MS);
		n += simple(&out[n], PM_ACT_NONE);
		break;
	case PM_MAPPED:
		n += send_current(e, &out[n]);
		e->tries++;
		e->due_ms = min_u64(
		    now + min_u64(retry_ms(e->tries < 9 ? e->tries : 9), PM_RENEW_RETRY_MAX_MS),
		    e->expires_ms);
		break;
	case PM_DELETING:
		if (e->tries < PM_TRIES) {
			n += send_current(e, &out[n]);
			e->due_ms = now + retry_ms(++e->tries);
			break;
		}
		n += deleted(e, false, &out[n]);
		break;
	}
	return n;
}

uint64_t pm_next_deadline(const struct pm_engine *e)
{
	if (e->state == PM_MAPPED)
		return min_u64(e->due_ms, e->expires_ms);
	return e->due_ms;
}

static uint64_t secs_until(uint64_t t, uint64_t now)
{
	return t > now ? (t - now + 999) / 1000 : 0;
}

const char *pm_describe(const struct pm_engine *e, uint64_t now, char *buf, size_t size)
{
	char ext[ADDR_STRLEN], gw[ADDR_STRLEN];
	const char *proto = pm_proto_name(e->proto);

	addr_format(ext, sizeof(ext), &e->external);
	addr_format(gw, sizeof(gw), &e->cfg.gateway);
	switch (e->state) {
	case PM_OFF:
		snprintf(buf, size, "off");
		break;
	case PM_ASK_PCP:
	case PM_ASK_NATPMP:
		snprintf(buf, size, "asking %s (%s, try %u of %d)", gw,
			 e->state == PM_ASK_PCP ? "pcp" : "nat-pmp", e->tries, PM_TRIES);
		break;
	case PM_NONE:
		snprintf(buf, size, "none answered (pcp%s), again in %" PRIu64 " s",
			 e->cfg.gateway.ss_family == AF_INET ? ", nat-pmp" : "",
			 secs_until(e->due_ms, now));
		break;
	case PM_REFUSED:
		snprintf(buf, size, "%s refused: %s, again in %" PRIu64 " s", proto,
			 e->proto == PM_PROTO_PCP ? pcp_result_name((uint8_t)e->refused_result)
						  : natpmp_result_name(e->refused_result),
			 secs_until(e->due_ms, now));
		break;
	case PM_MAPPED:
		if (e->tries)
			snprintf(buf, size, "%s %s, renewing (try %u), expires in %" PRIu64 " s",
				 proto, ext, e->tries, secs_until(e->expires_ms, now));
		else
			snprintf(buf, size, "%s %s, renews in %" PRIu64 " s", proto, ext,
				 secs_until(e->due_ms, now));
		break;
	case PM_DELETING:
		snprintf(buf, size, "deleting %s %s", proto, ext);
		break;
	}
	return buf;
}

const char *pm_state_name(enum pm_state s)
{
	switch (s) {
	case PM_OFF:
		return "off";
	case PM_ASK_PCP:
	case PM_ASK_NATPMP:
		return "asking";
	case PM_NONE:
		return "none";
	case PM_REFUSED:
		return "refused";
	case PM_MAPPED:
		return "mapped";
	case PM_DELETING:
		return "deleting";
	}
	return "unknown";
}

const char *pm_proto_name(enum pm_proto p)
{
	switch (p) {
	case PM_PROTO_NONE:
		return "none";
	case PM_PROTO_PCP:
		return "pcp";
	case PM_PROTO_NATPMP:
		return "nat-pmp";
	}
	return "unknown";
}
