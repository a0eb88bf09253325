/* WireGuard's cookie mechanism (kernel cookie.c) over BLAKE2b: a responder
 * under load answers a handshake message that carries a valid mac1 but no
 * valid mac2 with a cookie reply instead of doing DH; the initiator puts
 * that cookie's mac2 on its next messages, which proves it can receive at
 * its source address. No I/O: callers pass the time and the source address.
 *
 * Checker (the side that receives handshakes): a random secret, replaced
 * every COOKIE_SECRET_MAX_AGE_MS; cookie = BLAKE2b-128(secret, source IP ||
 * port). Maker (the side that sends them): remembers the mac1 of the last
 * message it sent, accepts a cookie reply only for that mac1, and uses the
 * cookie for COOKIE_SECRET_MAX_AGE_MS - COOKIE_LATENCY_MS. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wire/wire.h"

enum {
	COOKIE_KEY_LEN = 32,
	COOKIE_SECRET_MAX_AGE_MS = 120 * 1000,
	COOKIE_LATENCY_MS = 5 * 1000,
};

enum cookie_mac_state {
	COOKIE_MAC_INVALID = 0, /* wrong length or mac1: drop, no answer */
	COOKIE_MAC1_OK,		/* mac1 good, mac2 missing or not for this source */
	COOKIE_MAC2_OK,		/* both good: the source address is proven */
};

struct cookie_checker {
	uint8_t mac1_key[COOKIE_KEY_LEN];   /* BLAKE2b-256("mac1----" || our static public) */
	uint8_t cookie_key[COOKIE_KEY_LEN]; /* BLAKE2b-256("cookie--" || our static public) */
	uint8_t secret[COOKIE_KEY_LEN];
	uint64_t secret_birth_ms;
	bool has_secret;
	bool ready; /* keys derived: without them every message is invalid */
};

struct cookie_maker {
	uint8_t cookie_key[COOKIE_KEY_LEN]; /* BLAKE2b-256("cookie--" || peer's static public) */
	uint8_t cookie[WIRE_COOKIE_LEN];
	uint64_t cookie_birth_ms;
	bool has_cookie;
	uint8_t last_mac1[WIRE_MAC_LEN]; /* of the last message we sent */
	uint8_t last_index[4];		 /* its sender index, as on the wire */
	bool reply_expected;		 /* a cookie reply for last_mac1 is welcome */
	bool ready;			 /* keys derived */
};

/* our_pub: our static public key. The secret is drawn on first use. Should
 * libsodium fail to derive the keys, the checker stays not ready and refuses
 * every message (a zero mac1 key would be one anybody can compute). */
void cookie_checker_init(struct cookie_checker *c, const uint8_t our_pub[COOKIE_KEY_LEN]);
void cookie_checker_cleanup(struct cookie_checker *c);
/* Checks mac1 and mac2 of a handshake message (initiation or response, exact
 * size) that came from src. */
enum cookie_mac_state cookie_check(struct cookie_checker *c, const uint8_t *msg, size_t len,
				   const struct sockaddr_storage *src, uint64_t now_ms);
/* Builds the cookie reply to msg (a handshake message with a valid mac1)
 * from src; 0 or -errno (-EINVAL for a message that is not a handshake). */
int cookie_reply_create(struct cookie_checker *c, const uint8_t *msg, size_t len,
			const struct sockaddr_storage *src, uint64_t now_ms,
			struct wire_cookie_reply *out);

/* peer_pub: the static public key of the peer we send handshakes to; m->ready
 * stays false (stamp refuses, no reply is welcome) if libsodium fails. */
void cookie_maker_init(struct cookie_maker *m, const uint8_t peer_pub[COOKIE_KEY_LEN]);
void cookie_maker_cleanup(struct cookie_maker *m);
/* Called on an outgoing handshake message whose mac1 is set: remembers mac1
 * (a cookie reply to it becomes welcome) and fills mac2 when a fresh cookie
 * is held, else zeroes it. -EINVAL for a message that is not a handshake. */
int cookie_maker_stamp(struct cookie_maker *m, uint8_t *msg, size_t len, uint64_t now_ms);
/* The receiver index of a cookie-reply-sized message (host order), so the
 * caller can find the peer; false on a wrong length or type. */
bool cookie_reply_receiver_index(const uint8_t *msg, size_t len, uint32_t *index)
    __attribute__((warn_unused_result));
/* Consumes a cookie reply: -EBADMSG wrong size/type, -ENOENT none expected
 * or not for the index of our last message, -EACCES bad tag (not for our last mac1 or forged). On 0
 * the cookie is stored and no further reply is accepted until the next stamp. */
int cookie_reply_consume(struct cookie_maker *m, const uint8_t *msg, size_t len, uint64_t now_ms);
