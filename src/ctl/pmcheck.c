/* natcheck's port-mapping question (pmcheck.h): the engine (no I/O: bytes
 * and times in, datagrams to send out), the gateway lookup and socket, and
 * the report's line and object. States: UNCHECKED (never started),
 * NOT_ASKED (no gateway), RUNNING (a PCP ANNOUNCE and a NAT-PMP address
 * request out, resent at 250 and 750 ms until answered), DONE (both
 * answered, or given up at 1750 ms or the run's deadline). */
#include "ctl/pmcheck.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "ctl/json.h"
#include "portmap/gateway.h"
#include "tun/netlink.h"
#include "util/addr.h"

void ctl_pmcheck_start(struct ctl_pmcheck *pm, const struct sockaddr_storage *gw,
		       const struct sockaddr_storage *client, uint64_t now_ms, uint64_t deadline_ms)
{
	uint64_t end = now_ms + CTL_PMCHECK_WAIT_MS;

	memset(pm, 0, sizeof(*pm));
	if (!pcp_announce_encode(client, pm->pcp_req)) {
		ctl_pmcheck_skip(pm, "no IPv4 address towards the gateway");
		return;
	}
	(void)natpmp_addr_encode(pm->natpmp_req);
	pm->gateway = *gw;
	addr_set_port(&pm->gateway, PCP_SERVER_PORT);
	pm->state = CTL_PMCHECK_RUNNING;
	pm->start_ms = now_ms;
	pm->end_ms = end < deadline_ms ? end : deadline_ms;
	pm->tries = 1;
	pm->next_ms = now_ms + CTL_PMCHECK_RETRY_MS;
	pm->send_pcp = pm->send_natpmp = true;
}

void ctl_pmcheck_skip(struct ctl_pmcheck *pm, const char *why)
{
	memset(pm, 0, sizeof(*pm));
	pm->state = CTL_PMCHECK_NOT_ASKED;
	snprintf(pm->note, sizeof(pm->note), "%s", why);
}

void ctl_pmcheck_stop(struct ctl_pmcheck *pm)
{
	if (pm->state != CTL_PMCHECK_RUNNING)
		return;
	pm->state = CTL_PMCHECK_DONE;
	pm->send_pcp = pm->send_natpmp = false;
}

static bool pcp_over(const struct ctl_pmcheck *pm)
{
	return pm->pcp_answered || pm->pcp_unsupported;
}

/* Resends what is unanswered on the schedule (waits of 250, then 500 ms)
 * and gives up at end_ms. */
void ctl_pmcheck_on_timer(struct ctl_pmcheck *pm, uint64_t now_ms)
{
	if (pm->state != CTL_PMCHECK_RUNNING)
		return;
	if (now_ms >= pm->end_ms) {
		ctl_pmcheck_stop(pm);
		return;
	}
	if (now_ms < pm->next_ms || pm->tries >= CTL_PMCHECK_TRIES)
		return;
	pm->send_pcp = !pcp_over(pm);
	pm->send_natpmp = !pm->natpmp_answered;
	pm->tries++;
	pm->next_ms = pm->tries < CTL_PMCHECK_TRIES
			  ? pm->start_ms + CTL_PMCHECK_RETRY_MS * ((1u << pm->tries) - 1)
			  : pm->end_ms;
	if (pm->next_ms > pm->end_ms)
		pm->next_ms = pm->end_ms;
}

/* One datagram on the port-mapping socket: an answer only from
 * gateway:5351 and when a codec takes it. NAT-PMP's "unsupported version"
 * (RFC 6886 section 3.5) answers our PCP request, not the address request,
 * whose answer is still awaited. */
void ctl_pmcheck_on_datagram(struct ctl_pmcheck *pm, const struct sockaddr_storage *from,
			     const uint8_t *buf, size_t len)
{
	struct pcp_response p;
	struct natpmp_response r;
	enum pcp_drop pd;
	enum natpmp_drop nd;

	if (pm->state != CTL_PMCHECK_RUNNING || !addr_equal(from, &pm->gateway)) {
		pm->ignored++;
		return;
	}
	if (pcp_announce_decode(buf, len, &p, &pd)) {
		if (!pm->pcp_answered)
			pm->pcp = p;
		pm->pcp_answered = true;
		pm->send_pcp = false;
	} else if (pcp_is_unsupp_version(buf, len)) {
		pm->pcp_unsupported = true;
		pm->send_pcp = false;
	} else if (natpmp_addr_decode(buf, len, &r, &nd)) {
		if (!pm->natpmp_answered)
			pm->natpmp = r;
		pm->natpmp_answered = true;
		pm->send_natpmp = false;
	} else {
		pm->ignored++;
		return;
	}
	if (pcp_over(pm) && pm->natpmp_answered)
		ctl_pmcheck_stop(pm);
}

bool ctl_pmcheck_next_send(struct ctl_pmcheck *pm, const struct sockaddr_storage **dest,
			   const uint8_t **buf, size_t *len)
{
	if (pm->state != CTL_PMCHECK_RUNNING || (!pm->send_pcp && !pm->send_natpmp))
		return false;
	*dest = &pm->gateway;
	if (pm->send_pcp) {
		pm->send_pcp = false;
		*buf = pm->pcp_req;
		*len = sizeof(pm->pcp_req);
	} else {
		pm->send_natpmp = false;
		*buf = pm->natpmp_req;
		*len = sizeof(pm->natpmp_req);
	}
	return true;
}

uint64_t ctl_pmcheck_next_ms(const struct ctl_pmcheck *pm)
{
	return pm->state == CTL_PMCHECK_RUNNING ? pm->next_ms : UINT64_MAX;
}

bool ctl_pmcheck_is_running(const struct ctl_pmcheck *pm)
{
	return pm->state == CTL_PMCHECK_RUNNING;
}

/* "10.0.1.1" (no port) into buf. */
static const char *ip_text(char *buf, size_t len, const struct sockaddr_storage *ss)
{
	const void *ip = ss->ss_family == AF_INET
			     ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
			     : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	if (!addr_is_ip(ss) || !inet_ntop(ss->ss_family, ip, buf, (socklen_t)len))
		snprintf(buf, len, "(none)");
	return buf;
}

/* --- with a socket --- */

int ctl_pmcheck_open(struct ctl_pmcheck *pm, uint64_t now_ms, uint64_t deadline_ms)
{
	struct sockaddr_storage gw, client;
	struct nl_sock nl = {0};
	char why[CTL_PMCHECK_NOTE_LEN], g[INET6_ADDRSTRLEN];
	int ret, fd;

	ret = nl_open(&nl);
	if (ret == 0)
		ret = pm_gateway_default(&nl, &gw);
	nl_close(&nl);
	if (ret == -ENOENT) {
		ctl_pmcheck_skip(pm, "no IPv4 default gateway");
		return -1;
	}
	if (ret < 0) {
		snprintf(why, sizeof(why), "the routing table could not be read: %s",
			 strerror(-ret));
		ctl_pmcheck_skip(pm, why);
		return -1;
	}
	ret = addr_source_towards(&gw, &client);
	fd = ret < 0 ? ret : socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && ret == 0)
		fd = -errno;
	if (fd < 0) {
		snprintf(why, sizeof(why), "%s the gateway %s: %s",
			 ret < 0 ? "no route to" : "no socket for", ip_text(g, sizeof(g), &gw),
			 strerror(-fd));
		ctl_pmcheck_skip(pm, why);
		return -1;
	}
	ctl_pmcheck_start(pm, &gw, &client, now_ms, deadline_ms);
	if (pm->state != CTL_PMCHECK_RUNNING) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The protocol the gateway speaks: PCP when it answered the ANNOUNCE,
 * else NAT-PMP when it answered the address request; NULL for none. */
static const char *protocol(const struct ctl_pmcheck *pm)
{
	return pm->pcp_answered ? "pcp" : pm->natpmp_answered ? "nat-pmp" : NULL;
}

static bool has_external(const struct ctl_pmcheck *pm)
{
	return pm->natpmp_answered && pm->natpmp.result == NATPMP_SUCCESS;
}

void ctl_pmcheck_text(FILE *f, const struct ctl_pmcheck *pm)
{
	char g[INET6_ADDRSTRLEN], e[INET_ADDRSTRLEN] = "";

	if (pm->state == CTL_PMCHECK_UNCHECKED)
		return;
	if (pm->state == CTL_PMCHECK_NOT_ASKED) {
		fprintf(f, "port mapping: %s\n", pm->note);
		return;
	}
	ip_text(g, sizeof(g), &pm->gateway);
	if (has_external(pm))
		inet_ntop(AF_INET, &pm->natpmp.external, e, sizeof(e));
	if (pm->pcp_answered) {
		fprintf(f, "port mapping: pcp (gateway %s, epoch %u s", g, pm->pcp.epoch_s);
		if (pm->pcp.result != PCP_SUCCESS)
			fprintf(f, ", result %s", pcp_result_name(pm->pcp.result));
		fputc(')', f);
		if (pm->natpmp_answered)
			fprintf(f, ", nat-pmp too%s%s%s", e[0] ? " (external address " : "", e,
				e[0] ? ")" : "");
	} else if (pm->natpmp_answered) {
		fprintf(f, "port mapping: nat-pmp (gateway %s, ", g);
		if (e[0])
			fprintf(f, "external address %s)", e);
		else
			fprintf(f, "result %s)", natpmp_result_name(pm->natpmp.result));
	} else {
		fprintf(f, "port mapping: none answered (gateway %s", g);
		if (pm->send_errno)
			fprintf(f, "; sending failed: %s", strerror(pm->send_errno));
		fputc(')', f);
	}
	fputc('\n', f);
}

/* One answer of the gateway, on a line of its own. */
static void json_answer(FILE *f, bool first, const char *proto, const char *result,
			uint32_t epoch_s, const char *external)
{
	fprintf(f, "%s\n      {\"protocol\": \"%s\", \"result\": ", first ? "" : ",", proto);
	ctl_json_string(f, result);
	fprintf(f, ", \"epoch_s\": %u, \"external_address\": ", epoch_s);
	ctl_json_string(f, external);
	fputc('}', f);
}

void ctl_pmcheck_json(FILE *f, const struct ctl_pmcheck *pm)
{
	char g[INET6_ADDRSTRLEN], e[INET_ADDRSTRLEN];
	bool asked = pm->state != CTL_PMCHECK_NOT_ASKED, first = true;

	if (has_external(pm))
		inet_ntop(AF_INET, &pm->natpmp.external, e, sizeof(e));
	fputs("{\n    \"protocol\": ", f);
	ctl_json_string(f, protocol(pm));
	fputs(",\n    \"gateway\": ", f);
	ctl_json_string(f, asked ? ip_text(g, sizeof(g), &pm->gateway) : NULL);
	fputs(",\n    \"external_address\": ", f);
	ctl_json_string(f, has_external(pm) ? e : NULL);
	fputs(",\n    \"note\": ", f);
	ctl_json_string(f, asked ? NULL : pm->note);
	fputs(",\n    \"answers\": [", f);
	if (pm->pcp_answered) {
		json_answer(f, first, "pcp", pcp_result_name(pm->pcp.result), pm->pcp.epoch_s,
			    NULL);
		first = false;
	}
	if (pm->pcp_unsupported) {
		json_answer(f, first, "pcp", "UNSUPP_VERSION", 0, NULL);
		first = false;
	}
	if (pm->natpmp_answered) {
		json_answer(f, first, "nat-pmp", natpmp_result_name(pm->natpmp.result),
			    pm->natpmp.epoch_s, has_external(pm) ? e : NULL);
		first = false;
	}
	fputs(first ? "]" : "\n    ]", f);
	fprintf(f, ",\n    \"ignored\": %u\n  }", pm->ignored);
}
