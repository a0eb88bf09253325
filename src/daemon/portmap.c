/* Port mapping glue (portmap.h): finds the default gateway (the lookup in
 * portmap/gateway.h, shared with p2pvpnctl natcheck), runs the
 * portmap engine over the daemon's UDP socket and tells the rendezvous
 * client when the mapped address comes or goes. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon/daemon.h"
#include "daemon/path.h"
#include "daemon/portmap.h"
#include "daemon/rdv.h"
#include "portmap/gateway.h"
#include "util/addr.h"
#include "util/log.h"
#include "util/time.h"

enum {
	/* Without a default gateway (or with portmap on and the engine off):
	 * look for one again this often, a network may come up later. */
	PORTMAP_GATEWAY_RETRY_MS = 60 * 1000,
	/* The longest the exit waits for the delete's answer. */
	PORTMAP_SHUTDOWN_MAX_MS = 2500,
};

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The gateway to ask and our address towards it; false with
 * pm->idle_reason saying why not. */
static bool find_gateway(struct daemon *d, struct sockaddr_storage *gw,
			 struct sockaddr_storage *client)
{
	struct portmap *pm = &d->pm;

	if (pm->gateway_override.ss_family) {
		*gw = pm->gateway_override;
	} else if (pm_gateway_default(&d->nl, gw) < 0) {
		snprintf(pm->idle_reason, sizeof(pm->idle_reason), "no IPv4 default gateway");
		return false;
	}
	addr_set_port(gw, PCP_SERVER_PORT);
	if (addr_source_towards(gw, client) < 0) {
		snprintf(pm->idle_reason, sizeof(pm->idle_reason), "no route to the gateway %s",
			 addr_str(gw).s);
		return false;
	}
	return true;
}

static bool engine_running(const struct pm_engine *e)
{
	return e->state != PM_OFF && e->state != PM_DELETING;
}

static void set_mapped(struct daemon *d, const struct sockaddr_storage *external)
{
	struct portmap *pm = &d->pm;
	bool was = pm->mapped;

	if (external && was && addr_equal(external, &pm->external))
		return;
	pm->mapped = external != NULL;
	if (external)
		pm->external = *external;
	if (was || pm->mapped)
		rdv_client_candidates_changed(d);
}

static void carry_out(struct daemon *d, struct pm_engine *e, const struct pm_action *acts, size_t n,
		      uint64_t now)
{
	bool current = e == &d->pm.eng;
	char text[PM_DESCRIBE_LEN];

	for (size_t i = 0; i < n; i++) {
		const struct pm_action *a = &acts[i];

		switch (a->type) {
		case PM_ACT_SEND:
			(void)udp_send(&d->udp, a->buf, a->len, &a->to);
			break;
		case PM_ACT_MAPPED:
			log_info("%s: port mapping: UDP %u mapped at %s (%s)", d->cfg.ifname,
				 e->cfg.internal_port, addr_str(&a->external).s,
				 pm_describe(e, now, text, sizeof(text)));
			if (current)
				set_mapped(d, &a->external);
			break;
		case PM_ACT_LOST:
			log_info("%s: port mapping lost: %s", d->cfg.ifname,
				 pm_describe(e, now, text, sizeof(text)));
			if (current)
				set_mapped(d, NULL);
			break;
		case PM_ACT_NONE:
			/* A gateway without port mapping is common: said once. */
			if (!d->pm.none_logged)
				log_info("%s: no port mapping: %s", d->cfg.ifname,
					 pm_describe(e, now, text, sizeof(text)));
			d->pm.none_logged = true;
			break;
		case PM_ACT_DELETED:
			log_debug("%s: port mapping of UDP %u deleted (%s)", d->cfg.ifname,
				  e->cfg.internal_port,
				  e->delete_answered ? "answered" : "unanswered");
			break;
		}
	}
}

/* Moves the current engine aside to delete its mapping (a former one still
 * deleting is given up: its mapping expires at the gateway). */
static void retire(struct daemon *d, uint64_t now)
{
	struct portmap *pm = &d->pm;

	if (pm->eng.state == PM_OFF)
		return;
	if (pm->retiring.state != PM_OFF)
		log_debug("%s: port mapping of UDP %u: delete abandoned", d->cfg.ifname,
			  pm->retiring.cfg.internal_port);
	pm->retiring = pm->eng;
	if (!pm_stop(&pm->retiring, now))
		pm->retiring.state = PM_OFF;
	pm->eng.state = PM_OFF;
	pm->eng.due_ms = UINT64_MAX;
	set_mapped(d, NULL);
}

void portmap_apply(struct daemon *d, uint64_t now)
{
	struct portmap *pm = &d->pm;
	uint16_t port = udp_local_port(&d->udp);
	struct pm_config cfg = {.internal_port = port, .protocol = PCP_PROTO_UDP};

	if (d->cfg.portmap && engine_running(&pm->eng) && pm->eng.cfg.internal_port == port)
		return;
	retire(d, now);
	pm->gateway_retry_ms = UINT64_MAX;
	pm->idle_reason[0] = '\0';
	if (!d->cfg.portmap) {
		snprintf(pm->idle_reason, sizeof(pm->idle_reason), "off");
		return;
	}
	if (!find_gateway(d, &cfg.gateway, &cfg.client)) {
		log_debug("%s: port mapping: %s", d->cfg.ifname, pm->idle_reason);
		pm->gateway_retry_ms = now + PORTMAP_GATEWAY_RETRY_MS;
		return;
	}
	randombytes_buf(cfg.nonce, sizeof(cfg.nonce));
	pm_engine_init(&pm->eng, &cfg);
	pm_start(&pm->eng, now);
	pm->none_logged = false;
	log_debug("%s: port mapping: asking %s for UDP %u", d->cfg.ifname, addr_str(&cfg.gateway).s,
		  port);
}

/* Feeds one datagram to the engines that sent to its source. */
static bool feed(struct daemon *d, const struct sockaddr_storage *from, const uint8_t *buf,
		 size_t len, uint64_t now)
{
	struct pm_engine *engines[2] = {&d->pm.eng, &d->pm.retiring};
	struct pm_action acts[PM_MAX_ACTIONS];
	bool taken = false;

	if (addr_port(from) != PCP_SERVER_PORT)
		return false;
	for (unsigned i = 0; i < 2; i++) {
		struct pm_engine *e = engines[i];

		if (e->state == PM_OFF || !addr_equal(from, &e->cfg.gateway))
			continue;
		carry_out(d, e, acts, pm_on_datagram(e, from, buf, len, now, acts), now);
		taken = true;
	}
	return taken;
}

bool portmap_receive(struct daemon *d, const struct rx_pkt *m, uint64_t now)
{
	return m->from.kind == PATH_UDP && feed(d, &m->from.addr, m->data, m->len, now);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t run_engines(struct daemon *d, uint64_t now)
{
	struct pm_engine *engines[2] = {&d->pm.eng, &d->pm.retiring};
	struct pm_action acts[PM_MAX_ACTIONS];
	uint64_t next = UINT64_MAX;

	for (unsigned i = 0; i < 2; i++) {
		struct pm_engine *e = engines[i];

		if (e->state == PM_OFF)
			continue;
		if (pm_next_deadline(e) <= now)
			carry_out(d, e, acts, pm_expire(e, now, acts), now);
		next = min_u64(next, pm_next_deadline(e));
	}
	return next;
}

uint64_t portmap_tick(struct daemon *d, uint64_t now)
{
	if (d->pm.gateway_retry_ms <= now)
		portmap_apply(d, now);
	return min_u64(run_engines(d, now), d->pm.gateway_retry_ms);
}

/* Reads what waits on the UDP socket and gives the gateway's answers to
 * the engines; everything else is dropped (we are leaving). */
static void drain_for_gateway(struct daemon *d, uint64_t now)
{
	int n = udp_recv_batch(&d->udp, d->rx, RX_BATCH);

	for (int i = 0; i < n; i++) {
		size_t off = 0;
		uint8_t *data;
		size_t len;

		while (udp_msg_next_segment(&d->rx[i], &off, &data, &len))
			(void)feed(d, &d->rx[i].addr, data, len, now);
	}
}

void portmap_shutdown(struct daemon *d)
{
	struct portmap *pm = &d->pm;
	uint64_t now = time_now_ms(), give_up;

	if (d->udp.fd < 0 || !d->rxbuf)
		return;
	give_up = monotonic_ms() + PORTMAP_SHUTDOWN_MAX_MS;
	pm->gateway_retry_ms = UINT64_MAX;
	retire(d, now);
	/* The engine's schedule ends the loop (1.75 s unanswered); the
	 * bound of our own guards against a daemon clock that does not move
	 * (the tests' fake one). */
	while (pm->retiring.state != PM_OFF && monotonic_ms() < give_up) {
		struct pollfd pfd = {.fd = d->udp.fd, .events = POLLIN};
		uint64_t next;

		now = time_now_ms();
		next = run_engines(d, now);
		if (pm->retiring.state == PM_OFF || next == UINT64_MAX)
			break;
		if (poll(&pfd, 1, next <= now ? 0 : (int)min_u64(next - now, 2000)) > 0)
			drain_for_gateway(d, time_now_ms());
	}
	pm->retiring.state = PM_OFF;
}

bool portmap_pending(const struct daemon *d)
{
	return d->pm.eng.state == PM_ASK_PCP || d->pm.eng.state == PM_ASK_NATPMP;
}

const struct sockaddr_storage *portmap_external(const struct daemon *d)
{
	return d->pm.mapped ? &d->pm.external : NULL;
}

const char *portmap_describe(const struct daemon *d, uint64_t now, char *buf, size_t size)
{
	const struct portmap *pm = &d->pm;

	if (pm->eng.state != PM_OFF)
		return pm_describe(&pm->eng, now, buf, size);
	snprintf(buf, size, "%s", pm->idle_reason[0] ? pm->idle_reason : "off");
	return buf;
}
