/* STUN client transactions over UDP (RFC 8489 section 6.2.1, RFC 5780
 * section 4): one Binding request with a random transaction ID and optional
 * CHANGE-REQUEST, its retransmission schedule, and the checks a response must
 * pass before its addresses are used. No I/O: the caller sends the bytes,
 * reports the time and hands in what arrives. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun/stun.h"

/* What stun_client_on_timer() asks of the caller. */
enum stun_client_timer {
	STUN_CLIENT_WAIT,    /* nothing before stun_client_next_ms() */
	STUN_CLIENT_RESEND,  /* send the same request bytes again now */
	STUN_CLIENT_TIMEOUT, /* no answer after the last try: the test failed */
	STUN_CLIENT_IDLE,    /* no transaction outstanding */
};

/* What a received message means to the transaction. */
enum stun_client_match {
	STUN_CLIENT_IGNORED, /* not an answer to it (wrong ID, not a response, late): drop */
	STUN_CLIENT_SUCCESS, /* a usable success response: the transaction is over */
	STUN_CLIENT_ERROR,   /* an error response (error_code set): over */
	STUN_CLIENT_INVALID, /* ours but unusable (no mapped address, unknown
			      * comprehension-required attributes): over, failed */
};

struct stun_client_txn {
	uint8_t id[STUN_ID_LEN];
	struct sockaddr_storage server; /* where the request goes */
	uint32_t change;		/* CHANGE-REQUEST flags sent, 0 for none */
	uint64_t deadline_ms;
	uint32_t rto_ms;
	unsigned sends, max_sends;
	bool outstanding;
};

/* What a success or error response said. Addresses absent from it are left
 * AF_UNSPEC. */
struct stun_client_response {
	int error_code;			/* STUN_CLIENT_ERROR: 300..699 */
	struct sockaddr_storage from;	/* source of the datagram, as given */
	struct sockaddr_storage mapped; /* XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS */
	struct sockaddr_storage origin; /* RESPONSE-ORIGIN, else SOURCE-ADDRESS */
	struct sockaddr_storage other;	/* OTHER-ADDRESS, else CHANGED-ADDRESS, if a safe target */
	bool other_refused;		/* one was given but is not a safe target */
};

/* Starts a Binding transaction to server at now_ms and writes the request
 * (with FINGERPRINT, and CHANGE-REQUEST when change is not 0) into buf.
 * Retransmits after rto_ms, doubling, max_sends sends in all. Needs
 * sodium_init(). 0, -EINVAL for bad arguments, -ENOSPC. */
int stun_client_start(struct stun_client_txn *t, const struct sockaddr_storage *server,
		      uint32_t change, uint64_t now_ms, uint32_t rto_ms, unsigned max_sends,
		      uint8_t *buf, size_t cap, size_t *len);
/* Call at or after stun_client_next_ms(): resend, keep waiting, or give up. */
enum stun_client_timer stun_client_on_timer(struct stun_client_txn *t, uint64_t now_ms);
/* The next time the transaction needs stun_client_on_timer(); UINT64_MAX
 * when none is outstanding. */
uint64_t stun_client_next_ms(const struct stun_client_txn *t);
/* Matches a parsed message from address from against the transaction; on
 * SUCCESS or ERROR fills out and ends the transaction. */
enum stun_client_match stun_client_on_response(struct stun_client_txn *t,
					       const struct stun_msg *msg,
					       const struct sockaddr_storage *from,
					       struct stun_client_response *out);
/* True when target may receive further test requests: a unicast, routable
 * address of the server's family, not loopback, multicast, broadcast,
 * unspecified or link-local (also as ::ffff:a.b.c.d), with a port, and not
 * the server itself. Stops a response from aiming us at a third party. */
bool stun_client_is_safe_target(const struct sockaddr_storage *target,
				const struct sockaddr_storage *server);
/* Same address family (v4-mapped IPv6 counting as IPv4), IP and port. */
bool stun_client_same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* Same address family and IP, any port. */
bool stun_client_same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* The port of an AF_INET/AF_INET6 address in host order, 0 otherwise. */
uint16_t stun_client_port(const struct sockaddr_storage *a);
