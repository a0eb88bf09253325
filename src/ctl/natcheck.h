/* `p2pvpnctl natcheck --server HOST:PORT`: what NAT this host is behind
 * (DESIGN.md section 1). Three parts: an engine with no I/O that runs the
 * Binding tests of RFC 3489 section 10.1 and RFC 5780 section 4 as
 * concurrent stun/client.h transactions and a hairpin probe, and hands back
 * the datagrams to send; a runner that owns the two UDP sockets; and the
 * text and --json formatters of the result:
 *
 *   {"server", "server_address", "other_address", "local_address",
 *    "mapped_address", "rfc3489_type", "mapping", "filtering",
 *    "port_preserving", "port_step", "hairpin", "verdict", "not_learned",
 *    "tests": [{"name", "result", "destination", "mapped", "from",
 *               "error_code"}],
 *    "ignored": {"not_stun", "unknown_transaction"},
 *    "port_mapping": {"protocol", "gateway", "external_address", "note",
 *                     "answers": [{"protocol", "result", "epoch_s",
 *                                  "external_address"}], "ignored"}}
 *
 * Anything not learned is null in JSON and "unknown" in text. The schedule,
 * out of a total timeout T: the primary test (T/15 first retransmission
 * timeout, four sends, given up at T) and the two change tests (given up at
 * T/2) leave at once, primary first. Only once the change-IP-and-port test
 * is over do the two tests to the alternate IP leave, because a packet sent
 * there opens an address-dependent filter to the answer that test waits
 * for; then the hairpin probe. Everything ends by T. The port-mapping
 * question runs beside them on its own socket (0, 250, 750 ms; given up at
 * 1750 ms or T). "port_mapping" is left out when it was never started
 * (ctl/pmcheck.h), as by an engine without sockets. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "ctl/pmcheck.h"
#include "stun/client.h"
#include "stun/natclass.h"

enum {
	CTL_NATCHECK_TIMEOUT_MS = 3000, /* default total time */
	CTL_NATCHECK_REQ_MAX = 64,	/* a Binding request with CHANGE-REQUEST */
	CTL_NATCHECK_NOTES_MAX = 8,
	CTL_NATCHECK_NOTE_LEN = 192,
	CTL_NATCHECK_NAME_LEN = 256,
};

/* The arguments, for the usage text of p2pvpnctl's dispatch table. */
#define CTL_NATCHECK_ARGS "--server HOST:PORT [--json] [--port N] [--timeout S]"

/* The sockets: the one under test, the one the hairpin probe leaves from
 * (it must not be the first, or the NAT would not see a second flow), and
 * an IPv4 one for the port-mapping question to the gateway. */
enum ctl_natcheck_sock {
	CTL_NATCHECK_SOCK_MAIN,
	CTL_NATCHECK_SOCK_HAIRPIN,
	CTL_NATCHECK_SOCK_PORTMAP,
	CTL_NATCHECK_SOCK_MAX,
};

/* What became of one test, more finely than stun_natclass_outcome, so that
 * the "not learned" list can say why. */
enum ctl_natcheck_why {
	CTL_NATCHECK_PENDING = 0,      /* not started yet */
	CTL_NATCHECK_RUNNING,	       /* transaction outstanding */
	CTL_NATCHECK_ANSWERED,	       /* a usable success response */
	CTL_NATCHECK_NO_ANSWER,	       /* every retransmission unanswered */
	CTL_NATCHECK_ERROR_RESPONSE,   /* an error response (error_code) */
	CTL_NATCHECK_INVALID,	       /* ours, but no usable mapped address */
	CTL_NATCHECK_NO_PRIMARY,       /* not run: the primary test has no answer */
	CTL_NATCHECK_NO_ALTERNATE,     /* not run: no OTHER-/CHANGED-ADDRESS */
	CTL_NATCHECK_UNSAFE_ALTERNATE, /* not run: that address is not a safe target */
	CTL_NATCHECK_SAME_IP,	       /* not run: the alternate has the primary's IP */
	CTL_NATCHECK_UNSAFE_MAPPED,    /* hairpin not run: mapped address not a safe target */
	CTL_NATCHECK_NO_TIME,	       /* not run: too little of the timeout left */
	CTL_NATCHECK_WHY_MAX,
};

struct ctl_natcheck_test {
	enum ctl_natcheck_why why;
	int error_code;		      /* CTL_NATCHECK_ERROR_RESPONSE: 300..699 */
	struct sockaddr_storage dest; /* where the request went; AF_UNSPEC if not sent */
	struct stun_client_txn txn;
	uint8_t req[CTL_NATCHECK_REQ_MAX];
	size_t req_len;
	bool send_due; /* (re)send req now */
};

/* One datagram the engine wants sent. */
struct ctl_natcheck_send {
	enum ctl_natcheck_sock sock;
	const struct sockaddr_storage *dest;
	const uint8_t *buf;
	size_t len;
};

struct ctl_natcheck {
	/* Given: the server as the user named it and as resolved. */
	char server_name[CTL_NATCHECK_NAME_LEN];
	struct sockaddr_storage server;
	unsigned timeout_ms;
	uint64_t start_ms, deadline_ms;
	/* What the server named as its alternate, even when refused. */
	struct sockaddr_storage other;
	bool other_refused;
	/* Tests, classifier input (local, primary, alternate, results) and output. */
	struct ctl_natcheck_test tests[STUN_NATCLASS_TEST_MAX];
	struct ctl_natcheck_test hairpin;
	struct stun_natclass_input in;
	struct stun_natclass_report report;
	unsigned next_order;
	bool alt_started;
	/* Datagrams dropped: not STUN at all, or STUN for no transaction of
	 * ours (wrong transaction ID, a request, a late duplicate). */
	unsigned not_stun, unmatched;
	int send_errno;	       /* the first send error, 0 if none */
	struct ctl_pmcheck pm; /* the port-mapping question */
	bool finished;
	/* Filled by ctl_natcheck_finish(): what could not be learned, in words. */
	char notes[CTL_NATCHECK_NOTES_MAX][CTL_NATCHECK_NOTE_LEN];
	unsigned n_notes;
};

/* Starts a run at now_ms against server (name as the user wrote it) from
 * local, the main socket's interface address and port: the primary and the
 * two change tests become due. Needs sodium_init(). */
void ctl_natcheck_init(struct ctl_natcheck *nc, const char *name,
		       const struct sockaddr_storage *server, const struct sockaddr_storage *local,
		       unsigned timeout_ms, uint64_t now_ms);
/* The next datagram to send, in the order the tests must leave; false when
 * none is due. Each one is handed out once per (re)transmission. */
bool ctl_natcheck_next_send(struct ctl_natcheck *nc, struct ctl_natcheck_send *out);
/* Feeds one datagram received on sock from from. Anything that is not an
 * answer to an outstanding test (or the hairpin probe arriving on the main
 * socket) is counted and dropped. */
void ctl_natcheck_on_datagram(struct ctl_natcheck *nc, enum ctl_natcheck_sock sock,
			      const struct sockaddr_storage *from, const uint8_t *buf, size_t len,
			      uint64_t now_ms);
/* Retransmits or gives up what is due at now_ms; past the deadline ends
 * everything still outstanding as unanswered. */
void ctl_natcheck_on_timer(struct ctl_natcheck *nc, uint64_t now_ms);
/* When ctl_natcheck_on_timer() is next needed; never after the deadline. */
uint64_t ctl_natcheck_next_ms(const struct ctl_natcheck *nc);
/* True when nothing is outstanding and nothing more will start. */
bool ctl_natcheck_is_done(const struct ctl_natcheck *nc);
/* Classifies what the tests saw (stun_natclass_classify) and writes the
 * "not learned" notes. Call once, when done. */
void ctl_natcheck_finish(struct ctl_natcheck *nc);

/* The whole run with real sockets: a UDP socket bound to port (0 for an
 * ephemeral one) on the wildcard address of the server's family, a second
 * one for the hairpin probe, and, when there is an IPv4 default gateway
 * (portmap/gateway.h, as p2pvpnd finds it), an ephemeral IPv4 one for the
 * port-mapping question; sends only to the server, its safe alternate
 * address, our own mapped address and the gateway's port 5351. Returns 0 with nc finished, or
 * -errno when the sockets cannot be set up (nothing was sent then). */
int ctl_natcheck_run(struct ctl_natcheck *nc, const char *name,
		     const struct sockaddr_storage *server, uint16_t port, unsigned timeout_ms);

/* p2pvpnctl's natcheck command, an entry of the dispatch table in main.c
 * (its struct command is not needed here): parses the options, runs, prints
 * the text or JSON report on stdout and any problem on stderr. Returns the
 * exit status: 1 for misuse (with the usage on stderr) and when nothing
 * could be learned, else 0. */
struct command;
int ctl_natcheck_command(const struct command *cmd, int argc, char **argv);

/* True when the primary test got no usable answer: nothing was learned and
 * p2pvpnctl exits 1. */
bool ctl_natcheck_learned_nothing(const struct ctl_natcheck *nc);
/* Writes the one-line explanation of why nothing was learned ("no answer from
 * S within 3 s: UDP blocked or server down"), without prefix or newline. */
void ctl_natcheck_problem(FILE *f, const struct ctl_natcheck *nc);
/* Writes the result as "key: value" lines. */
void ctl_natcheck_text(FILE *f, const struct ctl_natcheck *nc);
/* Writes the result as one JSON object and a newline. */
void ctl_natcheck_json(FILE *f, const struct ctl_natcheck *nc);
