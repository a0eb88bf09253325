/* Per-peer session timers, modeled on WireGuard's timers.c but without I/O:
 * hooks record events, sess_timers_next_deadline() tells the event loop when
 * to come back, and sess_timers_expire() returns what the daemon must do.
 *
 * The timers (all times CLOCK_BOOTTIME ms; jitter is 0..333 ms):
 *  - retransmit handshake: REKEY_TIMEOUT (5 s) + jitter after an initiation
 *    with no response; resend, up to MAX_HANDSHAKES (90 s / 5 s = 18) retries,
 *    then give up (20 initiations in all, as the kernel): drop staged packets.
 *  - send keepalive: KEEPALIVE_TIMEOUT (10 s) after data was received when we
 *    sent nothing back (passive keepalive, so the peer knows we are alive).
 *  - new handshake: KEEPALIVE + REKEY_TIMEOUT (15 s) + jitter after we sent
 *    data and heard nothing at all: the session may be dead, rekey.
 *  - zero key material: REJECT_AFTER_TIME * 3 (540 s) after the last keys
 *    were derived (or after giving up): wipe every keypair and handshake.
 *  - persistent keepalive: every keepalive_s (config; 0 = off) after the last
 *    authenticated packet in either direction, to hold NAT mappings open.
 *  - fast retry (ours, not WireGuard's): over a path just made, and for the
 *    first handshake after each new session, a lost initiation is resent
 *    after FAST_RETRY (1 s), FAST_RETRIES (4) times, before the 5 s schedule
 *    takes over, so that a lossy new path does not cost 5 s per lost packet
 *    while a tunnel is set up. These retries do not count as attempts.
 *
 * Who calls what (daemon), per event:
 *  - initiation built (sent or tried): on_handshake_initiated, on_authenticated_sent
 *  - response sent (we respond):       on_authenticated_sent, on_session_derived
 *  - valid response consumed:          on_authenticated_received, on_session_derived,
 *                                      on_handshake_complete; then send a keepalive
 *  - valid initiation consumed:        on_authenticated_received
 *  - data packet sent:                 on_authenticated_sent; on_data_sent unless empty
 *  - data packet decrypted:            on_authenticated_received; on_data_received unless
 *                                      empty; on_handshake_complete when
 *                                      sess_peer_on_received() returned true
 *  - a handshake wanted (no keypair, rekey due): sess_timers_request_handshake()
 *  - the peer's path set anew (created, or moved by the path engine): on_path_new */
#pragma once
#include <stdbool.h>
#include <stdint.h>

enum {
	SESS_REKEY_TIMEOUT_JITTER_MAX_MS = 334, /* jitter is drawn from [0, 334) */
	SESS_REKEY_ATTEMPT_TIME_MS = 90 * 1000,
	SESS_MAX_TIMER_HANDSHAKES = 90 / 5,	    /* REKEY_ATTEMPT_TIME / REKEY_TIMEOUT = 18 */
	SESS_NEW_HANDSHAKE_TIMEOUT_MS = 15 * 1000,  /* KEEPALIVE_TIMEOUT + REKEY_TIMEOUT */
	SESS_ZERO_KEYS_TIMEOUT_MS = 3 * 180 * 1000, /* REJECT_AFTER_TIME * 3 */
	SESS_FAST_RETRY_MS = 1000,
	SESS_FAST_RETRIES = 4,
};

/* Actions returned by sess_timers_expire(), OR-ed together. */
enum sess_action {
	SESS_ACT_SEND_INITIATION = 1u << 0, /* build and send a handshake initiation now */
	SESS_ACT_SEND_KEEPALIVE = 1u << 1,  /* send an empty data packet (no keypair: handshake) */
	SESS_ACT_ZERO_KEYS = 1u << 2,	    /* sess_peer_clear() and drop handshake state */
	SESS_ACT_GIVE_UP = 1u << 3,	    /* handshake attempts exhausted: drop staged packets */
};

enum sess_timer_id {
	SESS_TIMER_RETRANSMIT,
	SESS_TIMER_SEND_KEEPALIVE,
	SESS_TIMER_NEW_HANDSHAKE,
	SESS_TIMER_ZERO_KEYS,
	SESS_TIMER_PERSISTENT_KEEPALIVE,
	SESS_TIMER_FAST_RETRY,
	SESS_TIMER_COUNT,
};

struct sess_timers {
	uint64_t deadline_ms[SESS_TIMER_COUNT]; /* UINT64_MAX = not armed */
	uint64_t last_initiation_ms;
	uint64_t jitter_state;
	unsigned handshake_attempts; /* retries of the current handshake */
	unsigned keepalive_s;	     /* persistent keepalive interval, 0 = off */
	unsigned fast_retries_left;  /* quick resends the next initiations may have */
	bool initiated;		     /* last_initiation_ms is meaningful */
	bool need_another_keepalive;
	bool stopped;
};

/* All timers off; keepalive_s is the persistent keepalive (0 = off); the
 * jitter source is seeded from the system RNG. */
void sess_timers_init(struct sess_timers *t, unsigned keepalive_s);
/* Reseeds the jitter source, so tests (and only tests) get fixed deadlines. */
void sess_timers_seed(struct sess_timers *t, uint64_t seed);
/* Changes the persistent keepalive interval (config reload); 0 disarms it. */
void sess_timers_set_keepalive(struct sess_timers *t, unsigned keepalive_s, uint64_t now_ms);
/* Disarms everything; hooks are ignored until sess_timers_init() (peer removed). */
void sess_timers_stop(struct sess_timers *t);

/* The daemon wants a handshake (data but no usable keypair, or a rekey is due):
 * starts a new series of attempts; true when an initiation may go out now
 * (none in the last REKEY_TIMEOUT), false to wait for the running one. */
bool sess_timers_request_handshake(struct sess_timers *t, uint64_t now_ms)
    __attribute__((warn_unused_result));
/* The peer's path was set anew: the next initiations get fast retries. */
void sess_timers_on_path_new(struct sess_timers *t);
/* An initiation was sent: arms the retransmit timer, and the fast retry
 * while some are left. */
void sess_timers_on_handshake_initiated(struct sess_timers *t, uint64_t now_ms);
/* The handshake finished (initiator: response consumed; responder: first data
 * on the new keypair): stops retransmits and resets the attempt count. */
void sess_timers_on_handshake_complete(struct sess_timers *t, uint64_t now_ms);
/* New transport keys were derived: (re)arms the 540 s zero-key timer; no
 * fast retry is pending, and the next handshake gets its fast retries. */
void sess_timers_on_session_derived(struct sess_timers *t, uint64_t now_ms);
/* A non-empty data packet was sent: arms the 15 s new-handshake timer unless armed. */
void sess_timers_on_data_sent(struct sess_timers *t, uint64_t now_ms);
/* A non-empty data packet was received: arms the 10 s keepalive, or asks for one more. */
void sess_timers_on_data_received(struct sess_timers *t, uint64_t now_ms);
/* Any authenticated packet (data, keepalive, handshake) was sent: cancels the
 * passive keepalive, restarts the persistent keepalive. */
void sess_timers_on_authenticated_sent(struct sess_timers *t, uint64_t now_ms);
/* Any authenticated packet was received: cancels the new-handshake timer,
 * restarts the persistent keepalive. */
void sess_timers_on_authenticated_received(struct sess_timers *t, uint64_t now_ms);

/* Crossing initiations (both sides initiated at once; each would answer the
 * other's and lose its own): true when the peer's initiation is to be
 * dropped so that ours completes. Ours must be outstanding and fresh (sent
 * at ours_sent_ms, less than REKEY_TIMEOUT before now; a clock that went
 * back counts as stale), our static public key the lower one (memcmp: for
 * one pair of keys exactly one side keeps its own, the other answers), and
 * theirs must have come over the path ours went out on (from elsewhere
 * ours is going where the peer is not). Equal keys (a peer with our own
 * key) keep nothing on either side. Pure: same inputs, same answer, so a
 * replayed initiation decides nothing new (the handshake refuses it by its
 * timestamp once it is let through). */
bool sess_timers_crossed_keep_ours(const uint8_t our_pub[32], const uint8_t their_pub[32],
				   bool ours_outstanding, uint64_t ours_sent_ms, bool same_path,
				   uint64_t now_ms) __attribute__((warn_unused_result));

/* The earliest armed deadline (ms), or UINT64_MAX when none is armed. */
uint64_t sess_timers_next_deadline(const struct sess_timers *t);
/* Runs every timer due at now_ms and returns the enum sess_action bits to carry out. */
unsigned sess_timers_expire(struct sess_timers *t, uint64_t now_ms);
