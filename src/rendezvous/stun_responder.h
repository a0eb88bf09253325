/* The rendezvous's STUN Binding server (RFC 8489, RFC 5780, RFC 3489),
 * without I/O: a request and the socket it came in on go in, a response and
 * the socket to send it from come out.
 *
 * Sockets are numbered by what they differ in: bit 0 is the port (0: the
 * listen port, 1: the next one), bit 1 the IP (0: the listen address,
 * 1: alternate_address). Without an alternate address only 0 and 1 exist.
 * The numbers are logical: on a wildcard listen address the server has two
 * sockets and numbers each request by the port and the address it came to.
 *
 * On a wildcard listen address ip[0] is that wildcard, and what it stands
 * for comes with each request (rdv_stun_request.primary): the address a
 * request to the listen side was sent to, or the primary partner of the
 * alternate address for one that was sent to the alternate (server.c's
 * rule). Without it the partner is unknown, and the request is answered as
 * by a server without an alternate address: no OTHER-ADDRESS or
 * CHANGED-ADDRESS, silence for change IP. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rendezvous/bucket.h"

enum {
	RDV_STUN_SOCKS = 4,
	RDV_STUN_CHANGE_PORT_BIT = 1,
	RDV_STUN_CHANGE_IP_BIT = 2,
	RDV_STUN_REPLY_MAX = 512, /* largest answer: a 420 listing 64 types */
	RDV_STUN_MAX_RATIO = 2,	  /* UDP answer <= this times the request */
	/* Answers per source IP and for all sources together, per second. */
	RDV_STUN_PER_IP_RATE = 20,
	RDV_STUN_PER_IP_BURST = 40,
	RDV_STUN_GLOBAL_RATE = 5000,
	RDV_STUN_GLOBAL_BURST = 5000,
	RDV_STUN_SETS = 1024, /* rate table: 1024 sets of 4 sources (160 KiB) */
	RDV_STUN_WAYS = 4,
};

struct rdv_stun_server {
	struct sockaddr_storage ip[2]; /* listen (maybe a wildcard) and alternate; no ports */
	uint16_t port[2];	       /* listen port and listen port + 1 */
	bool has_alternate;
};

/* Why a request got no answer (each its own counter); 0 means answered. */
enum rdv_stun_drop {
	RDV_STUN_ANSWERED = 0,
	RDV_STUN_MALFORMED,    /* not a well-formed STUN message */
	RDV_STUN_NOT_REQUEST,  /* an indication, response, or another method */
	RDV_STUN_NO_ALTERNATE, /* change IP asked of a server with one address */
	RDV_STUN_BUILD_FAILED, /* our own answer did not fit (a bug) */
	RDV_STUN_TOO_SMALL,    /* even the mapped address breaks the 2x rule */
	RDV_STUN_RATE_LIMITED, /* source IP or all sources over their rate */
	RDV_STUN_DROP_MAX,
};

struct rdv_stun_request {
	const uint8_t *data;
	size_t len;
	unsigned sock; /* socket it arrived on (0..3); TCP: 0, or 2 on the alternate */
	bool tcp;      /* STUN over TCP: no change requests */
	const struct sockaddr_storage *from; /* the client, as seen */
	/* What ip[0] stands for in this request: the address it was sent to
	 * (sock's IP bit 0) or the alternate's primary partner (IP bit 1);
	 * NULL: ip[0] itself, unknown when that is a wildcard. */
	const struct sockaddr_storage *primary;
};

/* Answers a Binding request, over UDP in at most RDV_STUN_MAX_RATIO times
 * the request's bytes (attributes by priority, see stun_responder.c):
 * XOR-MAPPED-ADDRESS and MAPPED-ADDRESS,
 * RESPONSE-ORIGIN, OTHER-ADDRESS and CHANGED-ADDRESS (with an alternate),
 * FINGERPRINT when the request had one; a request without the magic cookie
 * gets the RFC 3489 form (MAPPED-ADDRESS, SOURCE-ADDRESS, CHANGED-ADDRESS).
 * CHANGE-REQUEST picks the socket to answer from (*send_sock). Unknown
 * comprehension-required attributes, RESPONSE-ADDRESS and RESPONSE-PORT
 * (we never answer elsewhere than to the source) get 420. The answer is
 * built in out (zeroed first); returns RDV_STUN_ANSWERED with *out_len, or
 * the reason for staying silent. */
enum rdv_stun_drop rdv_stun_answer(const struct rdv_stun_server *s,
				   const struct rdv_stun_request *req, uint8_t *out, size_t cap,
				   size_t *out_len, unsigned *send_sock);
/* The address socket sock answers from (primary stands for ip[0] when set). */
void rdv_stun_sock_addr(const struct rdv_stun_server *s, unsigned sock,
			const struct sockaddr_storage *primary, struct sockaddr_storage *out);
/* Name of a drop reason for logs. */
const char *rdv_stun_drop_name(enum rdv_stun_drop d);

/* Per-source-IP and global rate of STUN answers over UDP. */
struct rdv_stun_limits {
	uint64_t per_ip_rate, per_ip_burst; /* answers/s and burst per source IP */
	uint64_t global_rate, global_burst; /* for all sources together */
};

struct rdv_stun_source {
	uint8_t ip[16]; /* IPv4 v4-mapped */
	bool used;
	uint64_t last_ms;
	struct rdv_bucket bucket;
};

struct rdv_stun_limiter {
	struct rdv_stun_limits lim;
	uint8_t key[16]; /* of the table's hash: sources cannot pick their set */
	struct rdv_bucket global;
	struct rdv_stun_source src[RDV_STUN_SETS * RDV_STUN_WAYS];
};

/* Empty table, a random hash key (needs sodium_init()). */
void rdv_stun_limiter_init(struct rdv_stun_limiter *l, const struct rdv_stun_limits *lim);
/* True when one more answer to from's IP may go out now (and counts it). */
bool rdv_stun_limiter_allow(struct rdv_stun_limiter *l, const struct sockaddr_storage *from,
			    uint64_t now_ms) __attribute__((warn_unused_result));
