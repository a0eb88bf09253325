/* The port-mapping client's engine: asks the default gateway to map one of
 * our ports (PCP, RFC 6887, then NAT-PMP, RFC 6886), keeps the mapping
 * alive and deletes it on stop. It does no I/O and reads no clock (STYLE.md
 * section 2): the caller reports datagrams from the gateway with
 * pm_on_datagram(), calls pm_expire() with the current time at
 * pm_next_deadline(), sends the datagrams of the PM_ACT_SEND actions to
 * their address from the socket whose port is mapped (or any socket bound to
 * our address: PCP and NAT-PMP identify the mapping by its internal port)
 * and carries out the others. All times are ms of one monotonic clock.
 *
 * Rules, with the state names pm_describe() prints:
 *   asking (pcp)     a PCP MAP to gateway:5351, again after 250 and 500 ms,
 *                    given up 1000 ms after the third: 1.75 s in all.
 *                    An "unsupported version" answer moves on at once.
 *   asking (nat-pmp) an address and a mapping request, the same three
 *                    times (IPv4 gateways only); both answers make the
 *                    mapping.
 *   none answered    neither answered: PM_ACT_NONE, asked again after
 *                    PM_NONE_RETRY_MS; reached 3.5 s after
 *                    the start, so a gateway without port mapping costs no more.
 *   refused          the gateway answered with an error result: PM_ACT_NONE,
 *                    again after the lifetime the error gave (PCP), kept
 *                    within PM_REFUSED_MIN_MS..PM_REFUSED_MAX_MS.
 *   mapped           PM_ACT_MAPPED with the external address (again when it
 *                    changes); renewed at half the granted lifetime with the
 *                    same nonce and the assigned port suggested, retried
 *                    with doubling waits (from 250 ms, at most
 *                    PM_RENEW_RETRY_MAX_MS) until the lifetime ends; then
 *                    PM_ACT_LOST and asking from the start.
 *   epoch            every answer carries the gateway's epoch; one that
 *                    goes back, or runs slower than our clock beyond RFC
 *                    6887 section 8.5's bound, means the gateway restarted
 *                    and lost its mappings: the mapping is asked for again at
 *                    once (an answer to that very request is already the
 *                    new mapping).
 *   deleting         pm_stop() while mapped: MAP with lifetime 0 (NAT-PMP:
 *                    lifetime and port 0) three times as above, then
 *                    PM_ACT_DELETED (answered or not) and off.
 * Answers count only from the gateway's address and port 5351 and when the
 * codec accepts them for our request (PCP: our nonce); the others are
 * counted in drops, the last reason kept for explain. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "portmap/natpmp.h"
#include "portmap/pcp.h"

enum {
	PM_TRIES = 3,			  /* requests per protocol before the next */
	PM_RETRY_FIRST_MS = 250,	  /* then 500, then 1000 before giving up */
	PM_NONE_RETRY_MS = 5 * 60 * 1000, /* ask again after nobody answered */
	PM_REFUSED_MIN_MS = 30 * 1000,	  /* after an error answer */
	PM_REFUSED_MAX_MS = 30 * 60 * 1000,
	PM_RENEW_RETRY_MAX_MS = 60 * 1000, /* longest wait between renewal tries */
	PM_LIFETIME_S = 7200,		   /* the lifetime we ask for */
	PM_MAX_ACTIONS = 4,		   /* no call returns more */
	PM_DESCRIBE_LEN = 128,
};

enum pm_proto { PM_PROTO_NONE, PM_PROTO_PCP, PM_PROTO_NATPMP };

enum pm_state {
	PM_OFF,	       /* not started, or stopped */
	PM_ASK_PCP,    /* PCP MAP sent, waiting */
	PM_ASK_NATPMP, /* NAT-PMP requests sent, waiting */
	PM_NONE,       /* nobody answered */
	PM_REFUSED,    /* an error answer */
	PM_MAPPED,     /* a mapping held (renewing at half its lifetime) */
	PM_DELETING,   /* pm_stop(): deletes sent */
};

enum pm_act_type {
	PM_ACT_SEND,	/* send buf[0..len) to `to` */
	PM_ACT_MAPPED,	/* external is our mapped address (new or changed) */
	PM_ACT_LOST,	/* the mapping is gone (expired unrenewed, or refused) */
	PM_ACT_NONE,	/* no mapping to be had for now (state says why) */
	PM_ACT_DELETED, /* after pm_stop(): done, the engine is off */
};

struct pm_action {
	enum pm_act_type type;
	struct sockaddr_storage to;	  /* SEND */
	uint8_t buf[PCP_MAP_LEN];	  /* SEND */
	size_t len;			  /* SEND */
	struct sockaddr_storage external; /* MAPPED */
};

struct pm_config {
	struct sockaddr_storage gateway; /* IPv4 or IPv6; its port is ignored (5351) */
	struct sockaddr_storage client;	 /* our address towards it: PCP's client field */
	uint16_t internal_port;		 /* the port to map */
	uint8_t protocol;		 /* PCP_PROTO_UDP or PCP_PROTO_TCP */
	uint32_t lifetime_s;		 /* asked for; 0: PM_LIFETIME_S */
	uint8_t nonce[PCP_NONCE_LEN];	 /* random, from the caller */
};

struct pm_engine {
	struct pm_config cfg;
	enum pm_state state;
	enum pm_proto proto;	    /* MAPPED, REFUSED, DELETING: which one */
	unsigned tries;		    /* requests sent in this state */
	uint64_t due_ms;	    /* next send or give-up; UINT64_MAX: none */
	struct pcp_map_request pcp; /* the request (suggests the assigned port once mapped) */
	struct natpmp_map_request natpmp;

	/* The mapping. */
	struct sockaddr_storage external;
	uint32_t lifetime_s;
	uint64_t granted_ms, expires_ms;
	bool natpmp_have_addr, natpmp_have_port; /* NAT-PMP's two answers */
	struct in_addr natpmp_ip;		 /* from its address answer */
	struct natpmp_response natpmp_pending;	 /* a mapping answer before the address */

	/* The gateway's epoch (RFC 6887 section 8.5, RFC 6886 section 3.6). */
	bool have_epoch;
	uint32_t epoch_s;
	uint64_t epoch_at_ms;

	uint16_t refused_result; /* REFUSED: the gateway's result code */
	uint64_t drops;		 /* datagrams not taken */
	const char *last_drop;	 /* why the last one was not, or NULL */
	bool delete_answered;	 /* DELETED: the gateway confirmed */
};

/* Sets the engine up for cfg; it is off until pm_start(). */
void pm_engine_init(struct pm_engine *e, const struct pm_config *cfg);

/* Starts asking at now (the first pm_expire() sends). */
void pm_start(struct pm_engine *e, uint64_t now);

/* Stops: deletes a held mapping (PM_ACT_DELETED comes from pm_expire()
 * when done) or goes off at once; returns true when a delete is under way. */
bool pm_stop(struct pm_engine *e, uint64_t now);

/* A datagram arrived from `from`; writes up to PM_MAX_ACTIONS actions into
 * out and returns how many. Datagrams that are not an answer for us are
 * counted in e->drops and change nothing else. */
size_t pm_on_datagram(struct pm_engine *e, const struct sockaddr_storage *from, const uint8_t *buf,
		      size_t len, uint64_t now, struct pm_action *out);

/* Runs the timers at now; writes up to PM_MAX_ACTIONS actions into out. */
size_t pm_expire(struct pm_engine *e, uint64_t now, struct pm_action *out);

/* When pm_expire() has something to do next; UINT64_MAX: nothing. */
uint64_t pm_next_deadline(const struct pm_engine *e);

/* The state for show and explain, e.g. "pcp 100.128.77.1:40000, renews in
 * 3500 s" or "none answered (pcp, nat-pmp), again in 300 s". */
const char *pm_describe(const struct pm_engine *e, uint64_t now, char *buf, size_t size);

/* "off", "asking", "none", "refused", "mapped", "deleting"; "pcp", "nat-pmp". */
const char *pm_state_name(enum pm_state s);
const char *pm_proto_name(enum pm_proto p);
