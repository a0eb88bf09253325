/* natcheck's port-mapping question (ctl/natcheck.h): does the IPv4 default
 * gateway speak PCP (RFC 6887) or NAT-PMP (RFC 6886), the protocols
 * p2pvpnd's portmap uses? Asked without mapping anything: a PCP ANNOUNCE
 * request (section 14.1: opcode 0, lifetime 0; a server answers with an
 * ANNOUNCE response and its epoch) and a NAT-PMP external address request
 * (section 3.2; the answer holds the external IPv4 address), both to
 * gateway:5351, at 0, 250 and 750 ms until answered, given up at 1750 ms
 * or at the run's deadline. Only datagrams from gateway:5351 that the
 * codecs accept count; the rest are counted in ignored. A NAT-PMP
 * "unsupported version" answer (RFC 6886 section 3.5) answers the PCP
 * request and ends it.
 *
 * The gateway comes from our own routing table, never from the STUN
 * server, so no server can aim these datagrams anywhere: it is a private
 * LAN address by nature and needs no stun_client_is_safe_target() check,
 * and nothing else is sent on its socket.
 *
 * An engine without I/O, as natcheck's (the caller sends what
 * ctl_pmcheck_next_send() hands out and feeds what arrives), plus
 * ctl_pmcheck_open(), which finds the gateway as p2pvpnd does
 * (portmap/gateway.h) and opens the socket; and the text line and JSON
 * object of the report. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "portmap/natpmp.h"
#include "portmap/pcp.h"

enum {
	CTL_PMCHECK_TRIES = 3,
	CTL_PMCHECK_RETRY_MS = 250, /* then 500 */
	CTL_PMCHECK_WAIT_MS = 1750, /* from the start to giving up */
	CTL_PMCHECK_NOTE_LEN = 128,
};

enum ctl_pmcheck_state {
	CTL_PMCHECK_UNCHECKED = 0, /* never started: no port mapping in the report */
	CTL_PMCHECK_NOT_ASKED,	   /* no gateway to ask (note says why) */
	CTL_PMCHECK_RUNNING,	   /* requests out, waiting */
	CTL_PMCHECK_DONE,	   /* both protocols answered, or the time is up */
};

struct ctl_pmcheck {
	enum ctl_pmcheck_state state;
	char note[CTL_PMCHECK_NOTE_LEN]; /* NOT_ASKED: "no IPv4 default gateway", ... */
	struct sockaddr_storage gateway; /* port 5351 */
	uint64_t start_ms, next_ms, end_ms;
	unsigned tries;
	bool send_pcp, send_natpmp; /* (re)send now */
	uint8_t pcp_req[PCP_HEADER_LEN];
	uint8_t natpmp_req[NATPMP_ADDR_REQUEST_LEN];
	bool pcp_answered;    /* an ANNOUNCE response: the gateway speaks PCP */
	bool pcp_unsupported; /* an "unsupported version" answer to the PCP request */
	bool natpmp_answered; /* an address response: the gateway speaks NAT-PMP */
	struct pcp_response pcp;
	struct natpmp_response natpmp;
	unsigned ignored;
	int send_errno; /* the first send error, 0 if none (set by the caller) */
};

/* Starts asking gw from client (our address towards it, PCP's client
 * field) at now_ms, giving up by deadline_ms at the latest. A client that
 * is neither IPv4 nor IPv6 ends as NOT_ASKED. */
void ctl_pmcheck_start(struct ctl_pmcheck *pm, const struct sockaddr_storage *gw,
		       const struct sockaddr_storage *client, uint64_t now_ms,
		       uint64_t deadline_ms);
/* Records that there is no gateway to ask, and why. */
void ctl_pmcheck_skip(struct ctl_pmcheck *pm, const char *why);
/* The next datagram to send to *dest (the gateway); false when none is due. */
bool ctl_pmcheck_next_send(struct ctl_pmcheck *pm, const struct sockaddr_storage **dest,
			   const uint8_t **buf, size_t *len);
/* Feeds one datagram that arrived on the question's socket. */
void ctl_pmcheck_on_datagram(struct ctl_pmcheck *pm, const struct sockaddr_storage *from,
			     const uint8_t *buf, size_t len);
/* Resends or gives up what is due at now_ms. */
void ctl_pmcheck_on_timer(struct ctl_pmcheck *pm, uint64_t now_ms);
/* When ctl_pmcheck_on_timer() is next needed; UINT64_MAX when not running. */
uint64_t ctl_pmcheck_next_ms(const struct ctl_pmcheck *pm);
bool ctl_pmcheck_is_running(const struct ctl_pmcheck *pm);
/* Ends the question now (the run's deadline); what answered stays. */
void ctl_pmcheck_stop(struct ctl_pmcheck *pm);

/* Finds the IPv4 default gateway and our address towards it, opens an
 * unbound (ephemeral) IPv4 UDP socket and starts the question. Returns the
 * socket, or -1 with the question NOT_ASKED and the note saying why. */
int ctl_pmcheck_open(struct ctl_pmcheck *pm, uint64_t now_ms, uint64_t deadline_ms);

/* Writes "port mapping: pcp (gateway 10.0.1.1, epoch 123 s)" and the like,
 * with a newline; nothing when UNCHECKED. */
void ctl_pmcheck_text(FILE *f, const struct ctl_pmcheck *pm);
/* Writes the "port_mapping" value, a JSON object indented as a member of
 * natcheck's top-level object: protocol, gateway, external_address, note,
 * answers ([{protocol, result, epoch_s, external_address}]), ignored. */
void ctl_pmcheck_json(FILE *f, const struct ctl_pmcheck *pm);
