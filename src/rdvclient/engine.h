/* The rendezvous client's engine: when to send STUN Binding requests to the
 * rendezvous (its port and port + 1) and what their answers say about our
 * NAT, when to fall back to TCP, when to REGISTER, when the meeting point is
 * dead, when a CONNECT for a peer may go out, and what the signalling
 * messages from the rendezvous mean. It does no I/O and reads no clock
 * (STYLE.md section 2): the daemon (daemon/rdv.c) reports events through
 * the rdvc_on_*() hooks, calls rdvc_expire() with the current time and
 * carries out the actions it returns. All times are CLOCK_BOOTTIME ms.
 *
 * Rules, with T0 the moment the client started (rdvc_engine_init):
 *   STUN          two Binding requests (to port and port + 1) with fresh
 *                 ids; each unanswered one again every RDVC_STUN_RETRY_MS
 *                 with the same id (RFC 8489 section 6.2.1) until both are
 *                 answered; a new test (new ids) RDVC_STUN_REFRESH_MS after
 *                 the second answer, to follow changes of the NAT's
 *                 mapping. Each id is answered once; an all-zero id never
 *                 (it is no id of ours). There is no give-up: the
 *                 requests go on while unanswered. The same mapped port
 *                 towards both is endpoint-independent mapping; different
 *                 ports a mapping per destination, their difference the
 *                 port step (kept when within +-RDVC_PORT_STEP_MAX, else 0).
 *   TCP fallback  not one STUN answer, not registered, no TCP channel, the
 *                 rendezvous reached over UDP, and RDVC_TCP_FALLBACK_MS
 *                 since T0: open TCP to the rendezvous. A connect that
 *                 fails, or closes without having come up, doubles the wait
 *                 before the next (up to RDVC_TCP_RETRY_MAX_MS); a stream
 *                 that was up and closed is tried again after
 *                 RDVC_TCP_FALLBACK_MS.
 *   session       without a session with the rendezvous: ask for a
 *                 handshake at every call (the session timers pace them).
 *   REGISTER      with a session and not registered: once the mapping test
 *                 is done, or RDVC_STUN_WAIT_MS after T0, and while a port
 *                 mapping is being asked for (rdvc_status.candidates_pending)
 *                 not before RDVC_CANDIDATES_WAIT_MS after T0; at most every
 *                 RDVC_REGISTER_RETRY_MS. (Peers are introduced once both
 *                 asked, and one already on a path asks no more: what the
 *                 first REGISTER lacks, they may never learn.) Registered: every
 *                 RDVC_REGISTER_INTERVAL_MS. A REGISTERED answer is the
 *                 rendezvous's heartbeat.
 *   dead after    registered, a REGISTER unanswered for
 *                 RDVC_REGISTER_ANSWER_MS goes again, and after
 *                 RDVC_REGISTER_UNANSWERED_MAX in a row the session is
 *                 thrown away and made again (a restarted rendezvous lost
 *                 our registration and our session), registration anew;
 *                 so at most RDVC_DEAD_AFTER_MS after the last REGISTERED.
 *                 The REGISTERED of that new registration asks for fresh
 *                 introductions (RDVC_ACT_REINTRODUCE): the relay ids of a
 *                 restarted rendezvous are new, and relayed peers learn
 *                 them only from an introduction.
 *   NAT change    new STUN results while registered: registered again at
 *                 once, and the next REGISTERED asks for fresh
 *                 introductions (RDVC_ACT_REINTRODUCE). The same when our
 *                 host candidates change (rdvc_candidates_changed).
 *   CONNECT       only while registered, at most every
 *                 RDVC_CONNECT_INTERVAL_MS per peer (rdvc_connect_due).
 *   INTRODUCE     handed on (RDVC_ACT_INTRODUCE) with the candidates that
 *                 fail util/addr.h's rules (our tunnel's and the
 *                 rendezvous's addresses included) taken out and listed.
 *
 * Who calls what (daemon/rdv.c):
 *   client started                 rdvc_engine_init
 *   STUN message on the UDP socket rdvc_on_stun
 *   signalling message             rdvc_on_signal
 *   TCP to the rendezvous up/failed/closed  rdvc_on_tcp_up / _failed / _down
 *   CONNECT wanted for a peer      rdvc_connect_due, rdvc_connect_next
 *   every wake-up                  rdvc_expire, rdvc_next_deadline */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "rdvproto/proto.h"
#include "util/addr.h"

enum {
	RDVC_REGISTER_INTERVAL_MS = 5 * 1000,
	RDVC_REGISTER_ANSWER_MS = 1000,	  /* a REGISTERED later than this: REGISTER again */
	RDVC_REGISTER_UNANSWERED_MAX = 3, /* then the session is lost */
	RDVC_DEAD_AFTER_MS =
	    RDVC_REGISTER_INTERVAL_MS + RDVC_REGISTER_UNANSWERED_MAX * RDVC_REGISTER_ANSWER_MS,
	RDVC_REGISTER_RETRY_MS = 1000, /* while not registered */
	RDVC_STUN_RETRY_MS = 250,
	RDVC_STUN_WAIT_MS = 1500,      /* registration waits this long for the mapping test */
	RDVC_CANDIDATES_WAIT_MS = 50, /* and this long for a port mapping's answer */
	RDVC_STUN_REFRESH_MS = 60 * 1000,
	RDVC_CONNECT_INTERVAL_MS = 1000,   /* while a peer waits for an introduction */
	RDVC_TCP_FALLBACK_MS = 1000,	   /* four unanswered STUN rounds */
	RDVC_TCP_RETRY_MAX_MS = 30 * 1000, /* the longest wait between failed connects */
	RDVC_POLL_MS = 1000,		   /* without a session: look again this often */
	RDVC_PORT_STEP_MAX = 16,	   /* larger steps are not a sequence worth predicting */
	RDVC_ID_LEN = 16,		   /* STUN_ID_LEN */
	RDVC_MAX_ACTIONS = 4,		   /* a call never returns more */
	RDVC_MAX_SKIPPED = 2 + RDV_MAX_HOST,
};

enum rdvc_tcp_state { RDVC_TCP_NONE, RDVC_TCP_CONNECTING, RDVC_TCP_UP };

enum rdvc_act_type {
	RDVC_ACT_SEND_STUN, /* a Binding request with id to addr, over UDP */
	RDVC_ACT_TCP_OPEN,  /* connect to the rendezvous's TCP port; failure: rdvc_on_tcp_failed */
	RDVC_ACT_INITIATE,  /* no session: start a handshake with the rendezvous (paced) */
	RDVC_ACT_SESSION_LOST, /* the rendezvous stopped answering: drop the session, initiate */
	RDVC_ACT_REGISTER,   /* send REGISTER with nat_mapping, port_step and our host candidates */
	RDVC_ACT_REGISTERED, /* first REGISTERED of a registration: addr is what it saw */
	RDVC_ACT_REINTRODUCE, /* our NAT data changed: CONNECT now for every peer without session */
	RDVC_ACT_INTRODUCE,   /* hand intro on to the peer named by intro.public_key */
	RDVC_ACT_NOT_INTRODUCED, /* UNKNOWN_PEER about key: no introduction yet */
	RDVC_ACT_MALFORMED,	 /* a signalling message that does not decode: count it */
};

/* An introduced candidate taken out, and why. */
struct rdvc_skipped {
	const char *what; /* "udp reflexive", "tcp reflexive", "host" */
	struct sockaddr_storage addr;
	enum addr_reason why;
};

/* One thing for the daemon to do. */
struct rdvc_action {
	enum rdvc_act_type type;
	struct sockaddr_storage addr; /* SEND_STUN: where; REGISTERED: our reflexive address */
	uint8_t stun_id[RDVC_ID_LEN]; /* SEND_STUN */
	uint8_t key[32];	      /* NOT_INTRODUCED */
	struct rdv_introduce intro;   /* INTRODUCE: the candidates that passed */
	size_t n_skipped;	      /* INTRODUCE: the ones that did not */
	struct rdvc_skipped skipped[RDVC_MAX_SKIPPED];
};

/* What the daemon knows that the engine needs at each rdvc_expire(). */
struct rdvc_status {
	bool session;		 /* the session with the rendezvous can send */
	bool path_udp;		 /* the rendezvous is reached over UDP */
	bool candidates_pending; /* a port mapping is being asked for */
};

/* Addresses introduced candidates must not be (util/addr.h): the meeting
 * points and our tunnel's addresses, read at the call (they change on
 * reload). */
struct rdvc_own {
	const struct sockaddr_storage *rendezvous;
	size_t n_rendezvous;
	const struct cfg_prefix *tunnel;
	size_t n_tunnel;
};

struct rdvc_engine {
	struct sockaddr_storage endpoint; /* the rendezvous (UDP and TCP port) */
	uint64_t started_ms;		  /* T0; a failed or closed TCP connect moves it */

	/* STUN: outstanding requests (zero id: answered) and answers. */
	uint8_t stun_id[2][RDVC_ID_LEN];
	bool have_mapped[2];
	struct sockaddr_storage mapped[2]; /* towards the rendezvous's port and port + 1 */
	uint64_t stun_sent_ms, stun_done_ms;

	/* What we know of our NAT. */
	bool have_reflexive;
	struct sockaddr_storage reflexive;
	uint8_t nat_mapping; /* enum rdv_nat_mapping */
	int16_t port_step;

	uint32_t relay_id;			  /* ours, as the rendezvous knows us */
	uint64_t register_sent_ms, registered_ms; /* registered_ms 0: not registered */
	unsigned unanswered;			  /* REGISTERs since the last REGISTERED */
	bool reintroduce;	       /* NAT data changed: the next REGISTERED reintroduces */
	enum rdvc_tcp_state tcp_state; /* the TCP channel, tried when UDP gets no answer */
	uint32_t tcp_wait_ms;	       /* from started_ms to the next connect (0: FALLBACK) */
	bool udp_heard;		       /* the rendezvous answered us over UDP at least once */

	/* The last rdvc_expire(), for rdvc_next_deadline(). */
	struct rdvc_status last;
	uint64_t last_expire_ms;
};

/* Starts the client for the rendezvous at endpoint, at now (T0): nothing
 * known, nothing sent; the first rdvc_expire() sends STUN. */
void rdvc_engine_init(struct rdvc_engine *e, const struct sockaddr_storage *endpoint, uint64_t now);

/* Where STUN request which (0 or 1) goes: the endpoint, its port + 1 for 1. */
void rdvc_stun_target(const struct rdvc_engine *e, unsigned which, struct sockaddr_storage *out);

/* Result of rdvc_on_stun(). */
enum rdvc_stun_result {
	RDVC_STUN_NOT_OURS = 0, /* not a Binding success answering an outstanding id */
	RDVC_STUN_ANSWER,	/* answered one of ours */
	RDVC_STUN_NAT_CHANGED,	/* and completed a test whose result is new: log it */
};
/* A STUN message arrived over UDP (any source: only our ids count). */
enum rdvc_stun_result rdvc_on_stun(struct rdvc_engine *e, const uint8_t *msg, size_t len,
				   uint64_t now);

/* A signalling message from the rendezvous's session: writes up to
 * RDVC_MAX_ACTIONS actions into out and returns how many. */
size_t rdvc_on_signal(struct rdvc_engine *e, const uint8_t *msg, size_t len,
		      const struct rdvc_own *own, uint64_t now, struct rdvc_action *out);

/* The TCP stream to the rendezvous is established / a connect could not
 * start (tried again RDVC_TCP_FALLBACK_MS later) / the stream or the
 * connect closed. */
void rdvc_on_tcp_up(struct rdvc_engine *e);
void rdvc_on_tcp_failed(struct rdvc_engine *e, uint64_t now);
void rdvc_on_tcp_down(struct rdvc_engine *e, uint64_t now);

/* Our host candidates changed (a port mapping came, went or moved): while
 * registered, REGISTER again at the next rdvc_expire() (no retry wait),
 * and the REGISTERED that answers it asks for fresh introductions
 * (RDVC_ACT_REINTRODUCE), as a change of our NAT's behaviour does. Not
 * registered: the next REGISTER carries them anyway; nothing changes. */
void rdvc_candidates_changed(struct rdvc_engine *e);

/* True when a CONNECT for a peer whose last one left at *sent_ms (0:
 * never) may go out now: registered, and RDVC_CONNECT_INTERVAL_MS since;
 * then *sent_ms = now. */
bool rdvc_connect_due(const struct rdvc_engine *e, uint64_t *sent_ms, uint64_t now)
    __attribute__((warn_unused_result));
/* When the next CONNECT for that peer may go out (its timer: the caller
 * wakes then); UINT64_MAX while not registered (registration is an event,
 * and the caller asks again after it). */
uint64_t rdvc_connect_next(const struct rdvc_engine *e, uint64_t sent_ms);

/* Runs the rules above at now with the daemon's status; writes up to
 * RDVC_MAX_ACTIONS actions into out, in the order to carry them out, and
 * returns how many. Calling it early is harmless. */
size_t rdvc_expire(struct rdvc_engine *e, const struct rdvc_status *st, uint64_t now,
		   struct rdvc_action *out);

/* When rdvc_expire() has something to do next, assuming the status of the
 * last call (without a session: RDVC_POLL_MS after that call). */
uint64_t rdvc_next_deadline(const struct rdvc_engine *e);
