/* The per-peer path engine: which addresses of a peer to try, when, over
 * which transport, which path to use, and when that path has died. It does
 * no I/O (STYLE.md section 2): the daemon reports events through the
 * punch_on_*() hooks, asks punch_next_deadline() when to come back, and
 * carries out the actions punch_expire() returns (send a probe, connect,
 * use a path, ask for an introduction). All times are CLOCK_BOOTTIME ms.
 *
 * Candidates (at most PUNCH_MAX_CANDIDATES, fixed arrays): the configured
 * endpoint, the peer's host (LAN) addresses, its UDP and TCP reflexive
 * addresses from the rendezvous, predicted ports when its NAT maps each
 * destination to the next port (symmetric, port_step != 0), and
 * peer-reflexive addresses learned from the source of its probe requests
 * (at most PUNCH_MAX_TRIGGERED unconfirmed at a time). Our side
 * of every pair is the daemon's one UDP socket (or its TCP listen_port), so
 * a pair is just a remote candidate.
 *
 * Schedule of a round, from its start moment T0 (the introduction's
 * start_in_ms):
 *   T0            a PROBE_REQUEST to every UDP candidate at once
 *   T0..T0+2 s    unanswered candidates again every 200 ms
 *   then          with no path, after half the time since T0 (1 s to 8 s);
 *                 every 5 s once a path exists (a relayed or TCP path keeps
 *                 probing to upgrade)
 *   T0+0.8 s      no UDP reply: TCP simultaneous open to every TCP candidate,
 *                 again 1 s after a failure or 3 s into a connect
 *   T0+0.9 s      nothing direct: the relay, when allowed and available
 *                 (UDP goes on probing meanwhile and replaces either once
 *                 it answers: five fast probes before TCP starts)
 *   T0+30 s       the round is over (no UDP path): an introduction is
 *                 asked for (fresh candidates; on the relay or TCP too);
 *                 the next round is due after the back-off below
 * Preference: UDP direct > TCP direct > relay; among UDP pairs host (LAN),
 * then configured/reflexive, then peer-reflexive/predicted; a better path
 * found later replaces the one in use (PUNCH_ACT_USE_PATH).
 *
 * Bounds (the rendezvous, or a peer that registers addresses of its
 * choosing, must not be able to aim our probes and connects at a third
 * host; SECURITY-NOTES section 6):
 *   budget        a round sends at most PUNCH_ROUND_PROBES probe requests
 *                 and PUNCH_ROUND_CONNECTS TCP connects, over all
 *                 candidates; what the schedule wants past that is refused
 *                 and counted (probes_refused, connects_refused), and the
 *                 candidate waits for the next round. One named number per
 *                 round, so a later schedule (birthday probing) sizes it.
 *   per candidate at most PUNCH_CAND_PROBES probes (the schedule above
 *                 spreads them over the round) and PUNCH_CAND_CONNECTS
 *                 connects a round.
 *   pacing        probes and connects of a peer draw on one token bucket,
 *                 PUNCH_PACE_PER_S with a burst of PUNCH_PACE_BURST; past it
 *                 they are delayed, not dropped.
 *   rounds        a round starts with the first introduction (or the
 *                 configured endpoint, or the peer's first probe), and
 *                 after one is over, once the back-off has passed:
 *                 PUNCH_BACKOFF_MS after the first round, doubling each
 *                 round up to PUNCH_BACKOFF_MAX_MS; a direct path confirmed
 *                 by the peer resets it. Between rounds nothing is probed.
 *                 An introduction that repeats known candidates changes no
 *                 timer and refills no budget (it keeps each candidate's
 *                 state); one with new candidates starts a round at once
 *                 only while an early-round token is left (PUNCH_EARLY_ROUNDS,
 *                 one more every PUNCH_BACKOFF_MAX_MS), otherwise they join
 *                 the running or the next round. Rotating candidates cannot
 *                 buy more than that either. The back-off level never goes
 *                 down but by a working direct path.
 *   dead paths    a path that had been confirmed (an authenticated reply or
 *                 packet over it) and dies restarts punching at once with
 *                 an early token, else after the back-off; one that never
 *                 answered (a relay or a TCP stream nobody speaks on)
 *                 restarts nothing.
 *   heartbeats    one per keepalive_s, to the selected path only.
 *   triggered     checks answer the peer's authenticated requests, one per
 *                 request at most, under the reply rate (PUNCH_REPLIES_PER_S);
 *                 they are outside the round budget.
 * A found UDP path ends the round's probing (only triggered checks and
 * heartbeats go out then).
 *
 * Evidence (ICE's rules, RFC 8445 sections 7.2.5 and 7.3.1.4): every probe
 * and heartbeat we send is recorded as outstanding (tx_id, the exact
 * address and path kind it went to, when). A reply counts only if its
 * tx_id is outstanding, it came over that path kind from exactly that
 * address, within PUNCH_TX_TIMEOUT_MS; the record is consumed by the first
 * reply, so a replay of the same reply finds nothing. A reply from an
 * address we did not probe is never learned. A peer-reflexive address is
 * learned only from an authenticated PROBE_REQUEST arriving from it: it
 * becomes a candidate in the TRIGGERED state, our own probe goes to it at
 * once (a triggered check), and only the reply to that probe, from that
 * address, makes it SUCCEEDED. A replayed request therefore draws at most
 * one reply (rate-limited) and one triggered probe to its source, and
 * moves nothing; the path moves otherwise only on counter-fresh
 * authenticated session packets (punch_on_path_authenticated: roaming).
 *
 * Liveness: on the selected path a PROBE_HEARTBEAT goes out every
 * keepalive_s after the last sign of life; three heartbeats in a row
 * without a reply (and without any authenticated packet) declare the path
 * dead: PUNCH_ACT_PATH_DEAD, a new introduction is requested, punching
 * restarts over the known candidates, and a USE_PATH moves the peer to
 * what still works meanwhile (a working path is never lost): a TCP stream
 * that is up (from a simultaneous open or a connect, kept as a succeeded
 * pair through rounds and introductions until it closes), else the relay
 * if allowed, else no path (NONE: the daemon stops sending into the dead
 * one). Probing then moves the peer up again when UDP answers.
 * keepalive_s == 0 turns heartbeats (and so this detection) off.
 *
 * Who calls what (daemon):
 *   peer added / config reloaded       punch_peer_init / punch_peer_reconfigure
 *   INTRODUCE received                 punch_on_introduce
 *   PROBE_REQUEST / HEARTBEAT opened   punch_on_probe_request (reply if true)
 *   PROBE_REPLY opened                 punch_on_probe_reply
 *   HEARTBEAT_REPLY opened             punch_on_heartbeat_reply
 *   TCP connect done / failed / closed punch_on_tcp_connected / _failed / _closed
 *   relay usable / not usable          punch_on_relay_available / _unavailable
 *   authenticated session packet       punch_on_path_authenticated
 *   loop                               punch_next_deadline, punch_expire */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "punch/probe.h"
#include "rdvproto/proto.h"

enum {
	PUNCH_MAX_CANDIDATES = 32,
	PUNCH_MAX_PREDICTED = 16,  /* predicted ports for a sequential symmetric NAT */
	PUNCH_PRFLX_RESERVE = 4,   /* slots the introduction leaves for peer-reflexive ones */
	PUNCH_FAST_RETRY_MS = 200, /* probe retry interval in the first PUNCH_FAST_PHASE_MS */
	PUNCH_FAST_PHASE_MS = 2000,
	PUNCH_RETRY_MS = 1000,	    /* then, while no path exists */
	PUNCH_SLOW_RETRY_MS = 5000, /* once a path exists (upgrade) */
	PUNCH_GIVE_UP_MS = 30000, /* from T0: the round is over; no path: ask for an introduction */
	PUNCH_TCP_AFTER_MS = 800, /* from T0: no UDP reply yet, start TCP simultaneous open */
	PUNCH_TCP_RETRY_MS = 1000, /* a failed connect is tried again after this */
	PUNCH_TCP_CONNECT_TIMEOUT_MS = 3000, /* a connect still under way is started anew */
	PUNCH_RELAY_AFTER_MS = 900,	     /* from T0: nothing direct, use the relay */
	PUNCH_DEAD_AFTER_MISSES = 3,	     /* unanswered heartbeats that kill a path */
	PUNCH_TX_TIMEOUT_MS = 4000, /* a reply later than this after its probe is ignored */
	PUNCH_MAX_OUTSTANDING = 64, /* probes awaiting a reply; the oldest is forgotten first */
	PUNCH_MAX_TRIGGERED = 4,    /* unconfirmed peer-reflexive candidates at a time */
	PUNCH_REPLY_BURST = 64,	    /* probe replies: a burst, then PUNCH_REPLIES_PER_S */
	PUNCH_REPLIES_PER_S = 32,
	PUNCH_RESULT_LEN = 48,
	/* Bounds (see Bounds above). */
	PUNCH_ROUND_PROBES = 256,  /* probe requests a round, all candidates */
	PUNCH_ROUND_CONNECTS = 32, /* TCP connects a round, all candidates */
	PUNCH_CAND_PROBES = 16,	   /* probe requests a round to one candidate */
	PUNCH_CAND_CONNECTS = 4,   /* TCP connects a round to one candidate */
	PUNCH_PACE_PER_S = 200,	   /* probes + connects a second, after the burst */
	PUNCH_PACE_BURST = 64,
	PUNCH_RETRY_MAX_MS = 8000,     /* longest retry interval within a round */
	PUNCH_BACKOFF_MS = 30000,      /* wait after the first round that found nothing */
	PUNCH_BACKOFF_MAX_MS = 300000, /* the longest wait between rounds */
	PUNCH_EARLY_ROUNDS = 2,	       /* early rounds (new candidates, dead path) in reserve */
};

enum punch_cand_type {
	PUNCH_CAND_STATIC,    /* endpoint from the config */
	PUNCH_CAND_HOST,      /* the peer's LAN address */
	PUNCH_CAND_SRFLX,     /* server-reflexive: as the rendezvous saw it */
	PUNCH_CAND_PRFLX,     /* peer-reflexive: the source of the peer's probe */
	PUNCH_CAND_PREDICTED, /* reflexive port + k * port_step */
};

enum punch_proto { PUNCH_PROTO_UDP, PUNCH_PROTO_TCP };

enum punch_pair_state {
	PUNCH_PAIR_WAITING,
	PUNCH_PAIR_IN_PROGRESS,
	PUNCH_PAIR_SUCCEEDED,
	PUNCH_PAIR_FAILED,    /* no answer for now; still retried slowly */
	PUNCH_PAIR_TRIGGERED, /* a request came from it: our probe goes out at once */
};

enum punch_phase {
	PUNCH_PHASE_IDLE,    /* no candidates: waiting for an introduction */
	PUNCH_PHASE_WAITING, /* candidates known, start moment ahead */
	PUNCH_PHASE_UDP,     /* probing UDP candidates, no path yet */
	PUNCH_PHASE_TCP,     /* UDP got nowhere: TCP simultaneous open (UDP continues) */
	PUNCH_PHASE_RELAYED, /* on the relay, probing to upgrade */
	PUNCH_PHASE_DIRECT,  /* on a direct path (TCP keeps probing UDP to upgrade) */
};

enum punch_path_kind { PUNCH_PATH_NONE, PUNCH_PATH_UDP, PUNCH_PATH_TCP, PUNCH_PATH_RELAY };

enum punch_act_type {
	PUNCH_ACT_SEND_PROBE,  /* build probe_kind, tx_id, sender time now; send on path/addr */
	PUNCH_ACT_TCP_CONNECT, /* connect from listen_port to addr (replace one under way) */
	PUNCH_ACT_USE_PATH,    /* move the peer's session to path/addr (NONE: no path) */
	PUNCH_ACT_REQUEST_INTRODUCTION, /* ask the rendezvous to introduce us again */
	PUNCH_ACT_PATH_DEAD,		/* path/addr stopped answering (a USE_PATH follows) */
};

/* One thing for the daemon to do. addr is unused (ss_family 0) for the
 * relay and for REQUEST_INTRODUCTION. */
struct punch_action {
	enum punch_act_type type;
	enum punch_path_kind path;
	struct sockaddr_storage addr;
	enum probe_kind probe_kind; /* SEND_PROBE: PROBE_REQUEST or PROBE_HEARTBEAT */
	uint64_t tx_id;		    /* SEND_PROBE */
};

/* A remote candidate and the state of the pair it makes with our socket. */
struct punch_candidate {
	struct sockaddr_storage addr;
	enum punch_cand_type type;
	enum punch_proto proto;
	enum punch_pair_state state;
	unsigned tries;	       /* probes sent or connects started */
	uint64_t last_sent_ms; /* 0: never */
	uint64_t last_ok_ms;   /* last reply or connect; 0: never */
	uint64_t learned_ms;   /* peer-reflexive: when its request taught us the address */
	uint64_t triggered_ms; /* TRIGGERED: when the request came (the probe is due then) */
	uint32_t rtt_ms;       /* last measured; valid when has_rtt */
	bool has_rtt;
	bool spent; /* the round's budget ran out on it: waits for the next round */
	bool stream_up; /* TCP: a stream is established (connected until closed) */
	char last_result[PUNCH_RESULT_LEN];
};

/* Per-peer settings from the config. */
struct punch_config {
	unsigned keepalive_s; /* heartbeat interval on an idle path; 0 = off */
	bool relay_allowed;
	uint8_t our_pub[32];
	uint8_t their_pub[32];
	struct sockaddr_storage endpoint; /* configured endpoint, tried first; ss_family 0: none */
};

/* A probe or heartbeat of ours awaiting its reply (engine.h: Evidence). */
struct punch_tx {
	bool used;
	enum probe_kind kind; /* PROBE_REQUEST or PROBE_HEARTBEAT */
	enum punch_path_kind path;
	struct sockaddr_storage addr; /* where it went (zero for the relay) */
	uint64_t tx_id;
	uint64_t sent_ms;
};

struct punch_peer {
	struct punch_config cfg;
	enum punch_phase phase;
	size_t n_cand;
	struct punch_candidate cand[PUNCH_MAX_CANDIDATES];

	uint64_t start_ms; /* T0 of the current (or next) round of punching */
	uint64_t tcp_ms;   /* when TCP simultaneous open starts this round */
	uint64_t relay_ms; /* from then on, with no path, the relay */
	bool tcp_started;  /* TCP simultaneous open began this round */
	bool relay_available;

	/* Bounds (engine.h: Bounds). */
	unsigned round_probes, round_connects; /* spent this round */
	unsigned backoff_level;		       /* rounds over without a direct path */
	unsigned early_tokens;
	uint64_t early_refill_ms;
	unsigned pace_tokens;
	uint64_t pace_refill_ms, pace_until_ms;
	bool path_confirmed; /* the selected path answered (authenticated) */
	uint64_t rounds, probes_sent, connects_sent, probes_refused, connects_refused;

	enum punch_path_kind path; /* the selected path */
	int path_cand;		   /* its candidate index (UDP/TCP), -1 for relay/none */
	struct sockaddr_storage path_addr;
	uint64_t path_since_ms;

	/* Our probes' transaction ids: epoch << 32 | sequence; the ones
	 * still awaiting a reply. */
	uint32_t tx_epoch;
	uint32_t tx_seq;
	struct punch_tx tx[PUNCH_MAX_OUTSTANDING];

	/* Heartbeats on the selected path. */
	uint64_t last_alive_ms;	  /* last reply or authenticated packet on the path */
	uint64_t hb_last_sent_ms; /* 0: none outstanding this path */
	uint64_t hb_last_tx;
	bool hb_outstanding;
	unsigned hb_misses; /* consecutive */
	uint64_t hb_sent, hb_answered;
	uint32_t rtt_ms; /* latest on the selected path */
	bool has_rtt;

	/* Reply rate limit (token bucket). */
	uint64_t reply_refill_ms;
	unsigned reply_tokens;

	/* Our address as the peer last saw it (probe replies), for explain. */
	struct sockaddr_storage observed;

	/* Queued for the next punch_expire(). */
	bool want_dead, want_use_path, want_introduction;
	enum punch_path_kind dead_path;
	struct sockaddr_storage dead_addr;
};

/* Sets up a peer: no path, no candidates but the configured endpoint; with
 * one, punching starts at the first punch_expire(). */
void punch_peer_init(struct punch_peer *p, const struct punch_config *cfg);
/* Applies new settings (reload): keepalive, relay and endpoint; keeps the
 * path and the candidates. Dropping the relay while on it kills that path. */
void punch_peer_reconfigure(struct punch_peer *p, const struct punch_config *cfg, uint64_t now);

/* The rendezvous introduced the peer: rebuilds the candidate list (host,
 * reflexive, predicted, TCP; the configured endpoint and the path's pair
 * are kept, candidates named before keep their state) and, on the first
 * introduction or when it names new candidates and an early round is left
 * (engine.h: Bounds), starts a round at now + start_in_ms: true then. An
 * introduction that repeats what we know starts nothing (false). The path
 * in use is kept. */
bool punch_on_introduce(struct punch_peer *p, const struct rdv_introduce *intro, uint64_t now);
/* TCP simultaneous open starts now in the round punch_on_introduce() just
 * started, not at T0 + PUNCH_TCP_AFTER_MS (UDP is known to be blocked);
 * the connects go out at the next punch_expire(), under the round's
 * bounds. No round starting: nothing. */
void punch_start_tcp(struct punch_peer *p, uint64_t now);
/* An authenticated PROBE_REQUEST or PROBE_HEARTBEAT arrived over via from
 * from (NULL allowed for the relay): true when the daemon should answer it
 * (PROBE_REPLY or PROBE_HEARTBEAT_REPLY back over via to from, echoing
 * tx_id and sender time, observed = from), false when over the reply rate
 * (then nothing else happens either). Over UDP, a source that is not a
 * confirmed pair gets a triggered check: a new one becomes a TRIGGERED
 * peer-reflexive candidate (the oldest unconfirmed one makes room past
 * PUNCH_MAX_TRIGGERED), a known one is probed again at once (at most every
 * PUNCH_FAST_RETRY_MS); with no round under way, punching starts. */
bool punch_on_probe_request(struct punch_peer *p, enum punch_path_kind via,
			    const struct sockaddr_storage *from, uint64_t now)
    __attribute__((warn_unused_result));
/* An authenticated PROBE_REPLY arrived over UDP from from: when it answers
 * an outstanding request of ours that went to exactly from, less than
 * PUNCH_TX_TIMEOUT_MS ago, that request is consumed, the pair with from
 * succeeded, and the best path is selected. Anything else (unknown or used
 * tx_id, another address, too late) changes nothing. The daemon passes
 * only replies that came over UDP. */
void punch_on_probe_reply(struct punch_peer *p, const struct sockaddr_storage *from,
			  const struct probe_payload *reply, uint64_t now);
/* An authenticated PROBE_HEARTBEAT_REPLY arrived over via from from (NULL
 * allowed for the relay): when it came over the selected path (from its
 * address) and answers an outstanding heartbeat sent there, the path is
 * alive (misses reset, RTT measured). From anywhere else, or a second
 * time, it changes nothing: no candidate, no move. */
void punch_on_heartbeat_reply(struct punch_peer *p, enum punch_path_kind via,
			      const struct sockaddr_storage *from,
			      const struct probe_payload *reply, uint64_t now);
/* A TCP connection to (or from) addr is established: the TCP pair succeeded
 * and is selected unless a UDP or another TCP path is in use; then it is
 * the fallback should that path die, until punch_on_tcp_closed. Both sides
 * connect from and to listen_port, so crossing SYNs make one connection,
 * not two. */
void punch_on_tcp_connected(struct punch_peer *p, const struct sockaddr_storage *addr,
			    uint64_t now);
/* A connect to addr failed (it is retried after PUNCH_TCP_RETRY_MS). */
void punch_on_tcp_failed(struct punch_peer *p, const struct sockaddr_storage *addr, uint64_t now);
/* The TCP stream to addr closed: when it was the path, the path is dead. */
void punch_on_tcp_closed(struct punch_peer *p, const struct sockaddr_storage *addr, uint64_t now);
/* The rendezvous relays for us and knows the peer (its relay_id is set). */
void punch_on_relay_available(struct punch_peer *p, uint64_t now);
/* The relay is gone (rendezvous lost): when it was the path, the path is dead. */
void punch_on_relay_unavailable(struct punch_peer *p, uint64_t now);
/* The daemon authenticated a session packet that came over kind/addr (addr
 * NULL allowed for the relay): liveness for that pair (misses reset).
 * Returns true when the session now runs on that path: it is the selected
 * one, or it is at least as good (punch_path_may_move) and becomes the
 * selected one without a USE_PATH (roaming, or the peer chose it); the
 * daemon moves the peer's sends there. False for a worse path (never
 * trade down: moving down is the engine's, on a dead path, announced with
 * a USE_PATH) and for an address the engine cannot hold as a candidate. */
bool punch_on_path_authenticated(struct punch_peer *p, enum punch_path_kind kind,
				 const struct sockaddr_storage *addr, uint64_t now)
    __attribute__((warn_unused_result));
/* The one ranking of paths, UDP direct > TCP direct > relay > none: true
 * when a session on cur may move to to on an authenticated packet (to is
 * a path, and no worse than cur). The daemon applies it to peers without
 * an engine (the rendezvous). */
bool punch_path_may_move(enum punch_path_kind cur, enum punch_path_kind to);

/* The earliest moment punch_expire() has something to do: now-or-earlier
 * when actions are queued, UINT64_MAX when nothing is scheduled. */
uint64_t punch_next_deadline(const struct punch_peer *p);
/* Runs everything due at now; writes up to max actions into out, in the
 * order to carry them out, and returns how many. Anything left over stays
 * due (punch_next_deadline() <= now). */
size_t punch_expire(struct punch_peer *p, uint64_t now, struct punch_action *out, size_t max);

/* True when we should start the handshake over a new path: the peer with the
 * lower public key (memcmp) initiates, so two peers never cross initiations. */
bool punch_should_initiate(const struct punch_peer *p);

/* Writes the engine's state as key=value lines for `p2pvpnctl explain`:
 * phase, candidate_N, path, path_since_s, rtt_ms, heartbeat_loss_pct,
 * round (budget spent, back-off), probes/connects sent and refused, next. */
void punch_explain(const struct punch_peer *p, FILE *out, uint64_t now);
/* Short names for logs and explain ("udp", "host", "succeeded", ...). */
const char *punch_path_kind_str(enum punch_path_kind kind);
const char *punch_phase_str(enum punch_phase phase);
const char *punch_cand_type_str(enum punch_cand_type type);
const char *punch_pair_state_str(enum punch_pair_state state);
