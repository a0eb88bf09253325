/* The handshake flood gate, WireGuard's under-load design without I/O, for
 * every responder of the project (p2pvpnd and p2pvpn-rendezvous). Each
 * handshake message costs its receiver two DH operations, and a valid mac1
 * needs only the receiver's public key, so a flood of them could eat the
 * CPU everything else needs. The gate decides, before any DH, whether a
 * message gets that work now:
 *
 * - A wrong size or mac1 is dropped first, in every state (one hash).
 * - It counts handshake messages; more than load_per_second in one second,
 *   or a wake-up whose DH budget ran out, puts it under load for hold_ms.
 * - Under load, a UDP message without a valid mac2 gets a cookie reply
 *   (rate-limited per source IP) and no DH; one with a valid mac2 comes from
 *   a source that proved it receives at its address and passes a per-source
 *   token bucket (crypto/ratelimit.h: 20/s, burst 5).
 * - In every state, at most budget_per_wake messages pass between two
 *   returns to the event loop (hsgate_wake).
 *
 * Messages over a stream (TCP) or the relay have no spoofable UDP source: a
 * cookie proves nothing there, so they get only the budget (src NULL).
 * The caller sends the reply and keeps its own drop counters; the gate
 * counts what it decided. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/cookie.h"
#include "crypto/ratelimit.h"
#include "wire/wire.h"

enum {
	/* p2pvpnd's figures: a handful of peers handshake every two minutes,
	 * so 64 a second is already an attack. */
	HSGATE_LOAD_PER_SECOND = 64,
	HSGATE_BUDGET_PER_WAKE = 16, /* ~1.5 ms of DH between two epoll returns */
	HSGATE_HOLD_MS = 1000,	     /* WireGuard stays under load 1 s after */
};

enum hsgate_verdict {
	HSGATE_PASS = 0,	 /* do the DH work now */
	HSGATE_SEND_COOKIE,	 /* under load, mac1 good, no valid mac2: send *reply to src */
	HSGATE_DROP_INVALID,	 /* wrong size or mac1 (in every state) */
	HSGATE_DROP_NO_MAC2,	 /* as SEND_COOKIE, but this source's cookie replies are spent */
	HSGATE_DROP_RATELIMITED, /* mac2 good, the source's bucket is empty */
	HSGATE_DROP_BUDGET,	 /* this wake-up's DH budget is spent */
	HSGATE_VERDICT_MAX,
};

struct hsgate_limits {
	unsigned load_per_second; /* 0: HSGATE_LOAD_PER_SECOND */
	unsigned budget_per_wake; /* 0: HSGATE_BUDGET_PER_WAKE */
	unsigned hold_ms;	  /* 0: HSGATE_HOLD_MS */
};

struct hsgate {
	struct cookie_checker cookie;
	uint8_t pub[COOKIE_KEY_LEN]; /* the public key the checker was made for */
	struct ratelimit hs_rl;	     /* DH work per source IP, under load */
	struct ratelimit cookie_rl;  /* cookie replies per source IP */
	struct hsgate_limits lim;
	uint64_t window_ms; /* start of the one-second counting window */
	unsigned window_count, budget;
	uint64_t under_load_until_ms;
	/* Counters: times under load was entered, replies built, and one per
	 * verdict (passed included). */
	uint64_t under_load_entered, cookie_replies_sent;
	uint64_t verdicts[HSGATE_VERDICT_MAX];
};

/* our_pub: the responder's static public key; lim NULL or zero fields for
 * the defaults. Draws the rate limiters' hash keys; the cookie secret is
 * drawn on first use. */
void hsgate_init(struct hsgate *g, const uint8_t our_pub[COOKIE_KEY_LEN],
		 const struct hsgate_limits *lim);
/* A new static key (reload): the checker is remade when it changed. */
void hsgate_set_key(struct hsgate *g, const uint8_t our_pub[COOKIE_KEY_LEN]);
/* Wipes the keys and the cookie secret. */
void hsgate_cleanup(struct hsgate *g);
/* A new wake-up of the event loop: the DH budget is full again. */
void hsgate_wake(struct hsgate *g);
bool hsgate_under_load(const struct hsgate *g, uint64_t now_ms);
/* The decision for one handshake message (initiation or response) of len
 * bytes from src (NULL: over a stream or the relay, not spoofable). On
 * HSGATE_SEND_COOKIE *reply holds the cookie reply for src. */
enum hsgate_verdict hsgate_check(struct hsgate *g, const uint8_t *msg, size_t len,
				 const struct sockaddr_storage *src, uint64_t now_ms,
				 struct wire_cookie_reply *reply);
/* The verdict's name, for logs and counters ("pass", "cookie", ...). */
const char *hsgate_verdict_name(enum hsgate_verdict v);
