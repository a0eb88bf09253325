/* natcheck: the NAT behaviour tests of RFC 3489 section 10.1 and RFC 5780
 * section 4, run from one UDP socket against one server, and their report.
 *
 * Each test is one stun/client.h transaction and goes through the states
 * PENDING (not started), RUNNING (outstanding, retransmitting) and one final
 * state that says what happened or why it never ran. The engine starts the
 * primary and both change tests at once; the tests to the alternate IP wait
 * until the change-IP-and-port test is over (a request to the alternate IP
 * would open an address-dependent filter for the very answer that test is
 * waiting for, and make every restricted NAT look full-cone), and the
 * hairpin probe leaves last, after them, so that a NAT that allocates ports
 * in sequence shows its step in the three mappings the tests create, in
 * send order. The alternate address is used only when
 * stun_client_is_safe_target() accepts it, and the hairpin probe goes only
 * to our own mapped address under the same check: a hostile server must not
 * aim us at anyone else (SECURITY-NOTES section 6 item 23). A server that
 * names no alternate address gets no change tests counted at all: its
 * silence to a CHANGE-REQUEST says nothing about the NAT. The
 * port-mapping question to the default gateway (pmcheck.h) runs beside the
 * tests on a third socket and ends by the same deadline. */
#include "ctl/natcheck.h"

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/parse.h"
#include "ctl/json.h"
#include "stun/stun.h"
#include "util/addr.h"
#include "util/time.h"

enum {
	SENDS = 4,	    /* a transaction lasts 15 times its first timeout */
	MIN_BUDGET_MS = 15, /* below this a test is not worth starting */
	RECV_MAX = 2048,    /* longer datagrams are not answers to a Binding */
	TIMEOUT_MAX_S = 60,
};

static const enum stun_natclass_test change_tests[] = {STUN_NATCLASS_TEST_CHANGE_BOTH,
						       STUN_NATCLASS_TEST_CHANGE_PORT};
static const enum stun_natclass_test alt_tests[] = {STUN_NATCLASS_TEST_ALT_IP,
						    STUN_NATCLASS_TEST_ALT_BOTH};

/* ss with its port replaced. */
static struct sockaddr_storage with_port(const struct sockaddr_storage *ss, uint16_t port)
{
	struct sockaddr_storage out = *ss;

	addr_set_port(&out, port);
	return out;
}

/* Starts x toward dest with a schedule that ends within budget_ms. */
static void start(struct ctl_natcheck_test *x, const struct sockaddr_storage *dest, uint32_t change,
		  uint64_t now_ms, uint64_t budget_ms)
{
	uint64_t rto = budget_ms / ((1u << SENDS) - 1);
	int ret;

	if (budget_ms < MIN_BUDGET_MS) {
		x->why = CTL_NATCHECK_NO_TIME;
		return;
	}
	ret = stun_client_start(&x->txn, dest, change, now_ms, (uint32_t)rto, SENDS, x->req,
				sizeof(x->req), &x->req_len);
	/* dest is always AF_INET/AF_INET6 and the request fits: a failure here
	 * is our bug, not the server's doing. */
	assert(ret == 0);
	(void)ret;
	x->dest = *dest;
	x->why = CTL_NATCHECK_RUNNING;
	x->send_due = true;
}

static void start_test(struct ctl_natcheck *nc, enum stun_natclass_test t,
		       const struct sockaddr_storage *dest, uint32_t change, uint64_t now_ms,
		       uint64_t budget_ms)
{
	start(&nc->tests[t], dest, change, now_ms, budget_ms);
	if (nc->tests[t].why == CTL_NATCHECK_RUNNING)
		nc->in.tests[t].order = nc->next_order++;
}

static void stop(struct ctl_natcheck_test *x, enum ctl_natcheck_why why)
{
	x->txn.outstanding = false;
	x->send_due = false;
	x->why = why;
}

static bool alternate_usable(const struct ctl_natcheck *nc)
{
	return addr_is_ip(&nc->other) && !nc->other_refused;
}

static uint64_t left_ms(const struct ctl_natcheck *nc, uint64_t now_ms)
{
	return now_ms < nc->deadline_ms ? nc->deadline_ms - now_ms : 0;
}

/* The second stage: the mapping tests to the alternate IP, then the hairpin
 * probe. Runs once, when the primary test has answered and the
 * change-IP-and-port test is over. */
static void maybe_start_alt(struct ctl_natcheck *nc, uint64_t now_ms)
{
	const struct sockaddr_storage *mapped = &nc->in.tests[STUN_NATCLASS_TEST_PRIMARY].mapped;
	uint64_t left = left_ms(nc, now_ms), hairpin_budget = nc->timeout_ms / 4;

	if (nc->alt_started || nc->tests[STUN_NATCLASS_TEST_PRIMARY].why != CTL_NATCHECK_ANSWERED ||
	    nc->tests[STUN_NATCLASS_TEST_CHANGE_BOTH].why == CTL_NATCHECK_RUNNING)
		return;
	nc->alt_started = true;
	if (alternate_usable(nc)) {
		struct sockaddr_storage alt_ip =
		    with_port(&nc->other, stun_client_port(&nc->server));

		if (stun_client_same_ip(&nc->other, &nc->server))
			stop(&nc->tests[STUN_NATCLASS_TEST_ALT_IP], CTL_NATCHECK_SAME_IP);
		else
			start_test(nc, STUN_NATCLASS_TEST_ALT_IP, &alt_ip, 0, now_ms, left);
		start_test(nc, STUN_NATCLASS_TEST_ALT_BOTH, &nc->other, 0, now_ms, left);
	}
	if (!stun_client_is_safe_target(mapped, &nc->server)) {
		stop(&nc->hairpin, CTL_NATCHECK_UNSAFE_MAPPED);
		return;
	}
	start(&nc->hairpin, mapped, 0, now_ms, hairpin_budget < left ? hairpin_budget : left);
}

/* Tests still PENDING that can no longer start get their final state. */
static void settle(struct ctl_natcheck *nc)
{
	enum ctl_natcheck_why p = nc->tests[STUN_NATCLASS_TEST_PRIMARY].why;
	enum ctl_natcheck_why why = CTL_NATCHECK_NO_PRIMARY;

	if (p == CTL_NATCHECK_PENDING || p == CTL_NATCHECK_RUNNING)
		return;
	if (p == CTL_NATCHECK_ANSWERED) {
		if (alternate_usable(nc))
			return;
		why = nc->other_refused ? CTL_NATCHECK_UNSAFE_ALTERNATE : CTL_NATCHECK_NO_ALTERNATE;
	}
	for (size_t i = 0; i < 2; i++)
		if (nc->tests[alt_tests[i]].why == CTL_NATCHECK_PENDING)
			stop(&nc->tests[alt_tests[i]], why);
	if (p != CTL_NATCHECK_ANSWERED && nc->hairpin.why == CTL_NATCHECK_PENDING)
		stop(&nc->hairpin, CTL_NATCHECK_NO_PRIMARY);
}

void ctl_natcheck_init(struct ctl_natcheck *nc, const char *name,
		       const struct sockaddr_storage *server, const struct sockaddr_storage *local,
		       unsigned timeout_ms, uint64_t now_ms)
{
	memset(nc, 0, sizeof(*nc));
	snprintf(nc->server_name, sizeof(nc->server_name), "%s", name);
	nc->server = *server;
	nc->timeout_ms = timeout_ms;
	nc->start_ms = now_ms;
	nc->deadline_ms = now_ms + timeout_ms;
	nc->in.local = *local;
	nc->in.primary = *server;
	/* Primary first, so that the mapping the change tests probe exists
	 * before their requests reach the NAT. */
	start_test(nc, STUN_NATCLASS_TEST_PRIMARY, server, 0, now_ms, timeout_ms);
	start_test(nc, STUN_NATCLASS_TEST_CHANGE_BOTH, server, STUN_CHANGE_IP | STUN_CHANGE_PORT,
		   now_ms, timeout_ms / 2);
	start_test(nc, STUN_NATCLASS_TEST_CHANGE_PORT, server, STUN_CHANGE_PORT, now_ms,
		   timeout_ms / 2);
}

bool ctl_natcheck_next_send(struct ctl_natcheck *nc, struct ctl_natcheck_send *out)
{
	struct ctl_natcheck_test *x = NULL;

	for (int t = 0; t < STUN_NATCLASS_TEST_MAX && !x; t++)
		if (nc->tests[t].send_due)
			x = &nc->tests[t];
	if (!x && nc->hairpin.send_due)
		x = &nc->hairpin;
	if (!x) {
		if (!ctl_pmcheck_next_send(&nc->pm, &out->dest, &out->buf, &out->len))
			return false;
		out->sock = CTL_NATCHECK_SOCK_PORTMAP;
		return true;
	}
	x->send_due = false;
	out->sock = x == &nc->hairpin ? CTL_NATCHECK_SOCK_HAIRPIN : CTL_NATCHECK_SOCK_MAIN;
	out->dest = &x->dest;
	out->buf = x->req;
	out->len = x->req_len;
	return true;
}

/* The primary answer decides whether the server can run the change tests:
 * without an alternate address (or with one we will not use) their results
 * would be read as filtering behaviour that was never measured. */
static void on_primary(struct ctl_natcheck *nc, const struct stun_msg *msg,
		       const struct stun_client_response *r, uint64_t now_ms)
{
	if (stun_msg_get_address(msg, STUN_ATTR_OTHER_ADDRESS, &nc->other) ||
	    stun_msg_get_address(msg, STUN_ATTR_CHANGED_ADDRESS, &nc->other))
		nc->other_refused = r->other_refused;
	else
		memset(&nc->other, 0, sizeof(nc->other));
	if (!alternate_usable(nc)) {
		enum ctl_natcheck_why why =
		    nc->other_refused ? CTL_NATCHECK_UNSAFE_ALTERNATE : CTL_NATCHECK_NO_ALTERNATE;

		for (size_t i = 0; i < 2; i++)
			if (nc->tests[change_tests[i]].why != CTL_NATCHECK_ERROR_RESPONSE)
				stop(&nc->tests[change_tests[i]], why);
	}
	settle(nc);
	maybe_start_alt(nc, now_ms);
}

static void on_answer(struct ctl_natcheck *nc, enum stun_natclass_test t, enum stun_client_match m,
		      const struct stun_msg *msg, const struct stun_client_response *r,
		      uint64_t now_ms)
{
	struct ctl_natcheck_test *x = &nc->tests[t];
	struct stun_natclass_result *res = &nc->in.tests[t];

	x->send_due = false;
	res->from = r->from;
	if (m == STUN_CLIENT_SUCCESS) {
		x->why = CTL_NATCHECK_ANSWERED;
		res->mapped = r->mapped;
	} else if (m == STUN_CLIENT_ERROR) {
		x->why = CTL_NATCHECK_ERROR_RESPONSE;
		x->error_code = r->error_code;
	} else {
		x->why = CTL_NATCHECK_INVALID;
	}
	if (t == STUN_NATCLASS_TEST_PRIMARY) {
		if (m == STUN_CLIENT_SUCCESS)
			on_primary(nc, msg, r, now_ms);
		else
			settle(nc);
	} else if (t == STUN_NATCLASS_TEST_CHANGE_BOTH) {
		maybe_start_alt(nc, now_ms);
	}
}

/* True when id belongs to a transaction of ours that is already over: a
 * duplicate answer to a retransmission, or a retransmitted hairpin probe,
 * dropped without counting. */
static bool is_late_duplicate(const struct ctl_natcheck *nc, const uint8_t *id)
{
	for (int t = 0; t < STUN_NATCLASS_TEST_MAX; t++)
		if (addr_is_ip(&nc->tests[t].dest) &&
		    memcmp(nc->tests[t].txn.id, id, STUN_ID_LEN) == 0)
			return true;
	return addr_is_ip(&nc->hairpin.dest) && memcmp(nc->hairpin.txn.id, id, STUN_ID_LEN) == 0;
}

void ctl_natcheck_on_datagram(struct ctl_natcheck *nc, enum ctl_natcheck_sock sock,
			      const struct sockaddr_storage *from, const uint8_t *buf, size_t len,
			      uint64_t now_ms)
{
	struct stun_client_response r;
	struct stun_msg msg;

	if (nc->finished)
		return;
	if (sock == CTL_NATCHECK_SOCK_PORTMAP) {
		ctl_pmcheck_on_datagram(&nc->pm, from, buf, len);
		return;
	}
	if (!stun_msg_parse(&msg, buf, len)) {
		nc->not_stun++;
		return;
	}
	/* Our own probe, looped back by the NAT to the socket under test. */
	if (sock == CTL_NATCHECK_SOCK_MAIN && nc->hairpin.why == CTL_NATCHECK_RUNNING &&
	    msg.cls == STUN_CLASS_REQUEST && msg.method == STUN_METHOD_BINDING &&
	    memcmp(msg.id, nc->hairpin.txn.id, STUN_ID_LEN) == 0) {
		stop(&nc->hairpin, CTL_NATCHECK_ANSWERED);
		return;
	}
	if (sock == CTL_NATCHECK_SOCK_MAIN) {
		for (int t = 0; t < STUN_NATCLASS_TEST_MAX; t++) {
			enum stun_client_match m;

			if (nc->tests[t].why != CTL_NATCHECK_RUNNING)
				continue;
			m = stun_client_on_response(&nc->tests[t].txn, &msg, from, &r);
			if (m != STUN_CLIENT_IGNORED) {
				on_answer(nc, t, m, &msg, &r, now_ms);
				return;
			}
		}
	}
	if (is_late_duplicate(nc, msg.id))
		return;
	nc->unmatched++;
}

/* Everything still outstanding at the deadline ends unanswered; what never
 * started ran out of time. */
static void expire(struct ctl_natcheck *nc)
{
	for (int t = 0; t < STUN_NATCLASS_TEST_MAX; t++) {
		if (nc->tests[t].why == CTL_NATCHECK_RUNNING)
			stop(&nc->tests[t], CTL_NATCHECK_NO_ANSWER);
	}
	if (nc->hairpin.why == CTL_NATCHECK_RUNNING)
		stop(&nc->hairpin, CTL_NATCHECK_NO_ANSWER);
	settle(nc);
	for (int t = 0; t < STUN_NATCLASS_TEST_MAX; t++)
		if (nc->tests[t].why == CTL_NATCHECK_PENDING)
			stop(&nc->tests[t], CTL_NATCHECK_NO_TIME);
	if (nc->hairpin.why == CTL_NATCHECK_PENDING)
		stop(&nc->hairpin, CTL_NATCHECK_NO_TIME);
	ctl_pmcheck_stop(&nc->pm);
}

static bool timer(struct ctl_natcheck_test *x, uint64_t now_ms)
{
	if (x->why != CTL_NATCHECK_RUNNING)
		return false;
	switch (stun_client_on_timer(&x->txn, now_ms)) {
	case STUN_CLIENT_RESEND:
		x->send_due = true;
		return false;
	case STUN_CLIENT_TIMEOUT:
		stop(x, CTL_NATCHECK_NO_ANSWER);
		return true;
	case STUN_CLIENT_WAIT:
	case STUN_CLIENT_IDLE:
		break;
	}
	return false;
}

void ctl_natcheck_on_timer(struct ctl_natcheck *nc, uint64_t now_ms)
{
	if (nc->finished)
		return;
	if (now_ms >= nc->deadline_ms) {
		expire(nc);
		return;
	}
	for (int t = 0; t < STUN_NATCLASS_TEST_MAX; t++) {
		if (!timer(&nc->tests[t], now_ms))
			continue;
		if (t == STUN_NATCLASS_TEST_PRIMARY)
			settle(nc);
		else if (t == STUN_NATCLASS_TEST_CHANGE_BOTH)
			maybe_start_alt(nc, now_ms);
	}
	timer(&nc->hairpin, now_ms);
	ctl_pmcheck_on_timer(&nc->pm, now_ms);
}

uint64_t ctl_natcheck_next_ms(const struct ctl_natcheck *nc)
{
	uint64_t next = nc->deadline_ms;

	for (int t = 0; t < STUN_NATCLASS_TEST_MAX; t++)
		if (nc->tests[t].why == CTL_NATCHECK_RUNNING &&
		    stun_client_next_ms(&nc->tests[t].txn) < next)
			next = stun_client_next_ms(&nc->tests[t].txn);
	if (nc->hairpin.why == CTL_NATCHECK_RUNNING && stun_client_next_ms(&nc->hairpin.txn) < next)
		next = stun_client_next_ms(&nc->hairpin.txn);
	if (ctl_pmcheck_next_ms(&nc->pm) < next)
		next = ctl_pmcheck_next_ms(&nc->pm);
	return next;
}

static bool is_open(enum ctl_natcheck_why why)
{
	return why == CTL_NATCHECK_PENDING || why == CTL_NATCHECK_RUNNING;
}

bool ctl_natcheck_is_done(const struct ctl_natcheck *nc)
{
	for (int t = 0; t < STUN_NATCLASS_TEST_MAX; t++)
		if (is_open(nc->tests[t].why))
			return false;
	return !is_open(nc->hairpin.why) && !ctl_pmcheck_is_running(&nc->pm);
}

/* --- what could not be learned, in words --- */

static const char *const test_words[STUN_NATCLASS_TEST_MAX] = {
    [STUN_NATCLASS_TEST_PRIMARY] = "primary test (RFC 3489 test I)",
    [STUN_NATCLASS_TEST_CHANGE_BOTH] = "change-IP-and-port test (RFC 3489 test II)",
    [STUN_NATCLASS_TEST_CHANGE_PORT] = "change-port test (RFC 3489 test III)",
    [STUN_NATCLASS_TEST_ALT_IP] = "alternate-IP test (RFC 5780 mapping test II)",
    [STUN_NATCLASS_TEST_ALT_BOTH] = "alternate-address test (RFC 5780 mapping test III)",
};

__attribute__((format(printf, 2, 3))) static void note(struct ctl_natcheck *nc, const char *fmt,
						       ...)
{
	va_list ap;

	if (nc->n_notes >= CTL_NATCHECK_NOTES_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(nc->notes[nc->n_notes++], CTL_NATCHECK_NOTE_LEN, fmt, ap);
	va_end(ap);
}

/* Why one test gave nothing usable, or NULL when it did (or when its
 * silence is itself the result, as for a change test). */
static const char *reason(const struct ctl_natcheck *nc, const struct ctl_natcheck_test *x,
			  char *buf, size_t len)
{
	char a[CFG_ENDPOINT_STRLEN];

	switch (x->why) {
	case CTL_NATCHECK_NO_ANSWER:
		return "no answer";
	case CTL_NATCHECK_ERROR_RESPONSE:
		snprintf(buf, len, "the server answered with error %d", x->error_code);
		return buf;
	case CTL_NATCHECK_INVALID:
		return "the answer holds no usable mapped address";
	case CTL_NATCHECK_SAME_IP:
		return "not run: the alternate address has the primary's IP";
	case CTL_NATCHECK_UNSAFE_MAPPED:
		return "not run: the mapped address is not one we may send to";
	case CTL_NATCHECK_NO_TIME:
		return "not run: the timeout ran out first";
	case CTL_NATCHECK_NO_ALTERNATE:
		return "not run: the server names no alternate address";
	case CTL_NATCHECK_UNSAFE_ALTERNATE:
		addr_format(a, sizeof(a), &nc->other);
		snprintf(buf, len,
			 "not run: the server's alternate address %s is not a safe target", a);
		return buf;
	default:
		return NULL;
	}
}

static void write_notes(struct ctl_natcheck *nc)
{
	const struct stun_natclass_report *rep = &nc->report;
	char buf[CTL_NATCHECK_NOTE_LEN], a[CFG_ENDPOINT_STRLEN];
	const char *why;

	why = reason(nc, &nc->tests[STUN_NATCLASS_TEST_PRIMARY], buf, sizeof(buf));
	if (why) {
		note(nc, "%s: %s", test_words[STUN_NATCLASS_TEST_PRIMARY], why);
		note(nc, "mapping, filtering, port preservation and hairpin: they need the "
			 "primary test's answer");
		return;
	}
	if (!alternate_usable(nc)) {
		why = reason(nc, &nc->tests[STUN_NATCLASS_TEST_ALT_BOTH], buf, sizeof(buf));
		note(nc, "change tests and alternate-address tests (filtering, mapping): %s",
		     why ? why : "not run");
	}
	for (int t = 1; t < STUN_NATCLASS_TEST_MAX; t++) {
		const struct ctl_natcheck_test *x = &nc->tests[t];
		bool change =
		    t == STUN_NATCLASS_TEST_CHANGE_BOTH || t == STUN_NATCLASS_TEST_CHANGE_PORT;

		if (!alternate_usable(nc) && x->why != CTL_NATCHECK_ERROR_RESPONSE)
			continue;
		if (rep->change_ignored & (1u << t)) {
			addr_format(a, sizeof(a), &nc->in.tests[t].from);
			note(nc,
			     "%s: answered from %s, so the server did not change its address "
			     "as asked",
			     test_words[t], a);
			continue;
		}
		/* Silence to a change request is the filtering result itself. */
		if (change && x->why == CTL_NATCHECK_NO_ANSWER)
			continue;
		why = reason(nc, x, buf, sizeof(buf));
		if (why)
			note(nc, "%s: %s", test_words[t], why);
	}
	if (nc->hairpin.why != CTL_NATCHECK_ANSWERED && nc->hairpin.why != CTL_NATCHECK_NO_ANSWER) {
		why = reason(nc, &nc->hairpin, buf, sizeof(buf));
		note(nc, "hairpin test: %s", why ? why : "not run");
	}
}

void ctl_natcheck_finish(struct ctl_natcheck *nc)
{
	static const enum stun_natclass_outcome outcome[CTL_NATCHECK_WHY_MAX] = {
	    [CTL_NATCHECK_ANSWERED] = STUN_NATCLASS_ANSWERED,
	    [CTL_NATCHECK_INVALID] = STUN_NATCLASS_ANSWERED, /* mapped stays empty */
	    [CTL_NATCHECK_NO_ANSWER] = STUN_NATCLASS_NO_ANSWER,
	    [CTL_NATCHECK_ERROR_RESPONSE] = STUN_NATCLASS_REFUSED,
	};

	expire(nc); /* nothing may still look outstanding in the report */
	for (int t = 0; t < STUN_NATCLASS_TEST_MAX; t++)
		nc->in.tests[t].outcome = outcome[nc->tests[t].why];
	if (alternate_usable(nc))
		nc->in.alternate = nc->other;
	else
		memset(&nc->in.alternate, 0, sizeof(nc->in.alternate));
	nc->in.hairpin = nc->hairpin.why == CTL_NATCHECK_ANSWERED    ? STUN_NATCLASS_TRI_YES
			 : nc->hairpin.why == CTL_NATCHECK_NO_ANSWER ? STUN_NATCLASS_TRI_NO
								     : STUN_NATCLASS_TRI_UNKNOWN;
	stun_natclass_classify(&nc->in, &nc->report);
	nc->n_notes = 0;
	write_notes(nc);
	nc->finished = true;
}

/* --- the run, with sockets --- */

/* The address the kernel would send from toward server: what the server
 * sees when there is no NAT. connect() on a UDP socket sends nothing. */
static int source_address(const struct sockaddr_storage *server, struct sockaddr_storage *out)
{
	socklen_t len = sizeof(*out);
	int fd = socket(server->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	memset(out, 0, sizeof(*out));
	if (connect(fd, (const struct sockaddr *)server, addr_len(server)) < 0 ||
	    getsockname(fd, (struct sockaddr *)out, &len) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int open_socket(int family, uint16_t port)
{
	struct sockaddr_storage any = {.ss_family = (sa_family_t)family};
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	any = with_port(&any, port);
	if (bind(fd, (struct sockaddr *)&any, addr_len(&any)) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

static void drain(struct ctl_natcheck *nc, int fd, enum ctl_natcheck_sock sock)
{
	uint8_t buf[RECV_MAX];
	struct sockaddr_storage from;
	socklen_t len;
	ssize_t n;

	for (;;) {
		len = sizeof(from);
		memset(&from, 0, sizeof(from));
		n = recvfrom(fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &len);
		if (n < 0)
			return; /* EAGAIN; an ICMP error reported late is no answer either */
		if ((size_t)n > sizeof(buf) && sock == CTL_NATCHECK_SOCK_PORTMAP)
			nc->pm.ignored++;
		else if ((size_t)n > sizeof(buf))
			nc->not_stun++;
		else
			ctl_natcheck_on_datagram(nc, sock, &from, buf, (size_t)n, time_now_ms());
	}
}

int ctl_natcheck_run(struct ctl_natcheck *nc, const char *name,
		     const struct sockaddr_storage *server, uint16_t port, unsigned timeout_ms)
{
	struct pollfd pfd[CTL_NATCHECK_SOCK_MAX] = {{.fd = -1}, {.fd = -1}, {.fd = -1}};
	struct sockaddr_storage local, bound;
	socklen_t len = sizeof(bound);
	struct ctl_natcheck_send s;
	int ret;

	ret = source_address(server, &local);
	if (ret < 0)
		goto out;
	for (int i = 0; i < CTL_NATCHECK_SOCK_PORTMAP; i++) {
		pfd[i].fd = open_socket(server->ss_family, i == CTL_NATCHECK_SOCK_MAIN ? port : 0);
		pfd[i].events = POLLIN;
		if (pfd[i].fd < 0) {
			ret = pfd[i].fd;
			goto out;
		}
	}
	if (getsockname(pfd[0].fd, (struct sockaddr *)&bound, &len) < 0) {
		ret = -errno;
		goto out;
	}
	local = with_port(&local, stun_client_port(&bound));
	ctl_natcheck_init(nc, name, server, &local, timeout_ms, time_now_ms());
	pfd[CTL_NATCHECK_SOCK_PORTMAP].fd =
	    ctl_pmcheck_open(&nc->pm, time_now_ms(), nc->deadline_ms);
	pfd[CTL_NATCHECK_SOCK_PORTMAP].events = POLLIN;
	for (;;) {
		uint64_t now = time_now_ms(), next;
		int n;

		ctl_natcheck_on_timer(nc, now);
		while (ctl_natcheck_next_send(nc, &s)) {
			int *err = s.sock == CTL_NATCHECK_SOCK_PORTMAP ? &nc->pm.send_errno
								       : &nc->send_errno;

			if (sendto(pfd[s.sock].fd, s.buf, s.len, 0, (const struct sockaddr *)s.dest,
				   addr_len(s.dest)) < 0 &&
			    !*err)
				*err = errno;
		}
		if (ctl_natcheck_is_done(nc))
			break;
		next = ctl_natcheck_next_ms(nc);
		now = time_now_ms();
		n = poll(pfd, CTL_NATCHECK_SOCK_MAX,
			 next <= now		? 0
			 : next - now > INT_MAX ? INT_MAX
						: (int)(next - now));
		if (n < 0 && errno != EINTR) {
			ret = -errno;
			goto out;
		}
		for (int i = 0; n > 0 && i < CTL_NATCHECK_SOCK_MAX; i++)
			if (pfd[i].revents)
				drain(nc, pfd[i].fd, (enum ctl_natcheck_sock)i);
	}
	ctl_natcheck_finish(nc);
out:
	for (int i = 0; i < CTL_NATCHECK_SOCK_MAX; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	return ret;
}

/* --- output --- */

bool ctl_natcheck_learned_nothing(const struct ctl_natcheck *nc)
{
	return nc->tests[STUN_NATCLASS_TEST_PRIMARY].why != CTL_NATCHECK_ANSWERED;
}

void ctl_natcheck_problem(FILE *f, const struct ctl_natcheck *nc)
{
	const struct ctl_natcheck_test *p = &nc->tests[STUN_NATCLASS_TEST_PRIMARY];
	double secs = nc->timeout_ms / 1000.0;

	switch (p->why) {
	case CTL_NATCHECK_ANSWERED:
		return;
	case CTL_NATCHECK_ERROR_RESPONSE:
		fprintf(f, "%s refused the Binding request with error %d", nc->server_name,
			p->error_code);
		return;
	case CTL_NATCHECK_INVALID:
		fprintf(f, "%s answered without a usable mapped address", nc->server_name);
		return;
	default:
		break;
	}
	if (nc->not_stun || nc->unmatched) {
		fprintf(f,
			"no STUN answer from %s within %g s; ignored: %u datagrams that are not "
			"STUN, %u STUN messages with a transaction ID we did not send",
			nc->server_name, secs, nc->not_stun, nc->unmatched);
	} else if (nc->send_errno) {
		fprintf(f, "no answer from %s within %g s: sending failed: %s", nc->server_name,
			secs, strerror(nc->send_errno));
	} else {
		fprintf(f, "no answer from %s within %g s: UDP blocked or server down",
			nc->server_name, secs);
	}
}

static const char *unknown_null(const char *name)
{
	return strcmp(name, "unknown") == 0 ? NULL : name;
}

static void text_addr(FILE *f, const char *key, const struct sockaddr_storage *ss)
{
	char a[CFG_ENDPOINT_STRLEN];

	addr_format(a, sizeof(a), ss);
	fprintf(f, "%s: %s\n", key, addr_is_ip(ss) ? a : "unknown");
}

void ctl_natcheck_text(FILE *f, const struct ctl_natcheck *nc)
{
	const struct stun_natclass_report *r = &nc->report;
	char a[CFG_ENDPOINT_STRLEN], o[CFG_ENDPOINT_STRLEN];

	addr_format(a, sizeof(a), &nc->server);
	addr_format(o, sizeof(o), &nc->other);
	fprintf(f, "server: %s", nc->server_name);
	if (strcmp(a, nc->server_name) != 0)
		fprintf(f, " (%s)", a);
	fprintf(f, ", other address %s%s\n", addr_is_ip(&nc->other) ? o : "none",
		nc->other_refused ? " (refused: not a safe target)" : "");
	text_addr(f, "local address", &nc->in.local);
	text_addr(f, "mapped address", &r->mapped);
	fprintf(f, "NAT type (RFC 3489): %s\n", stun_natclass_type_name(r->type));
	fprintf(f, "mapping (RFC 5780): %s\n", stun_natclass_behaviour_name(r->mapping));
	fprintf(f, "filtering (RFC 5780): %s\n", stun_natclass_behaviour_name(r->filtering));
	fprintf(f, "port preserving: %s\n", stun_natclass_tri_name(r->port_preserving));
	if (r->has_port_step)
		fprintf(f, "port step: %+d\n", r->port_step);
	else
		fprintf(f, "port step: %s\n",
			r->mapping == STUN_NATCLASS_UNKNOWN ? "unknown" : "none");
	fprintf(f, "hairpin: %s\n", stun_natclass_tri_name(r->hairpin));
	fprintf(f, "verdict: %s\n", stun_natclass_verdict_name(r->verdict));
	ctl_pmcheck_text(f, &nc->pm);
	for (unsigned i = 0; i < nc->n_notes; i++)
		fprintf(f, "%s%s", i ? "; " : "not learned: ", nc->notes[i]);
	if (nc->n_notes)
		fputc('\n', f);
}

/* JSON members, one a line, as show --json writes them. */
struct member {
	FILE *f;
	int depth;
	bool first;
};

static void key(struct member *m, const char *name)
{
	fprintf(m->f, "%s\n%*s\"%s\": ", m->first ? "" : ",", m->depth, "", name);
	m->first = false;
}

static void json_str(struct member *m, const char *name, const char *value)
{
	key(m, name);
	ctl_json_string(m->f, value);
}

static void json_addr(struct member *m, const char *name, const struct sockaddr_storage *ss)
{
	char a[CFG_ENDPOINT_STRLEN];

	addr_format(a, sizeof(a), ss);
	json_str(m, name, addr_is_ip(ss) ? a : NULL);
}

static void json_tri(struct member *m, const char *name, enum stun_natclass_tri t)
{
	key(m, name);
	fputs(t == STUN_NATCLASS_TRI_YES  ? "true"
	      : t == STUN_NATCLASS_TRI_NO ? "false"
					  : "null",
	      m->f);
}

static const char *why_name(enum ctl_natcheck_why why)
{
	static const char *const names[CTL_NATCHECK_WHY_MAX] = {
	    [CTL_NATCHECK_PENDING] = "pending",
	    [CTL_NATCHECK_RUNNING] = "running",
	    [CTL_NATCHECK_ANSWERED] = "answered",
	    [CTL_NATCHECK_NO_ANSWER] = "no-answer",
	    [CTL_NATCHECK_ERROR_RESPONSE] = "error-response",
	    [CTL_NATCHECK_INVALID] = "invalid-answer",
	    [CTL_NATCHECK_NO_PRIMARY] = "not-run-no-primary-answer",
	    [CTL_NATCHECK_NO_ALTERNATE] = "not-run-no-alternate",
	    [CTL_NATCHECK_UNSAFE_ALTERNATE] = "not-run-unsafe-alternate",
	    [CTL_NATCHECK_SAME_IP] = "not-run-same-ip",
	    [CTL_NATCHECK_UNSAFE_MAPPED] = "not-run-unsafe-mapped",
	    [CTL_NATCHECK_NO_TIME] = "not-run-no-time",
	};

	return (unsigned)why < CTL_NATCHECK_WHY_MAX ? names[why] : "unknown";
}

static void json_test(FILE *f, const char *name, const struct ctl_natcheck_test *x,
		      const struct stun_natclass_result *res, int depth)
{
	struct member m = {f, depth + 2, true};
	static const struct sockaddr_storage none;

	fputc('{', f);
	json_str(&m, "name", name);
	json_str(&m, "result", why_name(x->why));
	json_addr(&m, "destination", &x->dest);
	json_addr(&m, "mapped", res ? &res->mapped : &none);
	json_addr(&m, "from", res ? &res->from : &none);
	key(&m, "error_code");
	if (x->why == CTL_NATCHECK_ERROR_RESPONSE)
		fprintf(f, "%d", x->error_code);
	else
		fputs("null", f);
	fprintf(f, "\n%*s}", depth, "");
}

void ctl_natcheck_json(FILE *f, const struct ctl_natcheck *nc)
{
	const struct stun_natclass_report *r = &nc->report;
	struct member m = {f, 2, true}, ig = {f, 4, true};

	fputc('{', f);
	json_str(&m, "server", nc->server_name);
	json_addr(&m, "server_address", &nc->server);
	json_addr(&m, "other_address", &nc->other);
	json_addr(&m, "local_address", &nc->in.local);
	json_addr(&m, "mapped_address", &r->mapped);
	json_str(&m, "rfc3489_type", unknown_null(stun_natclass_type_name(r->type)));
	json_str(&m, "mapping", unknown_null(stun_natclass_behaviour_name(r->mapping)));
	json_str(&m, "filtering", unknown_null(stun_natclass_behaviour_name(r->filtering)));
	json_tri(&m, "port_preserving", r->port_preserving);
	key(&m, "port_step");
	if (r->has_port_step)
		fprintf(f, "%d", r->port_step);
	else
		fputs("null", f);
	json_tri(&m, "hairpin", r->hairpin);
	json_str(&m, "verdict", stun_natclass_verdict_name(r->verdict));
	key(&m, "not_learned");
	fputc('[', f);
	for (unsigned i = 0; i < nc->n_notes; i++) {
		fprintf(f, "%s\n    ", i ? "," : "");
		ctl_json_string(f, nc->notes[i]);
	}
	fputs(nc->n_notes ? "\n  ]" : "]", f);
	key(&m, "tests");
	fputc('[', f);
	for (int t = 0; t < STUN_NATCLASS_TEST_MAX; t++) {
		fprintf(f, "%s\n    ", t ? "," : "");
		json_test(f, stun_natclass_test_name(t), &nc->tests[t], &nc->in.tests[t], 4);
	}
	fputs(",\n    ", f);
	json_test(f, "hairpin", &nc->hairpin, NULL, 4);
	fputs("\n  ]", f);
	key(&m, "ignored");
	fputc('{', f);
	key(&ig, "not_stun");
	fprintf(f, "%u", nc->not_stun);
	key(&ig, "unknown_transaction");
	fprintf(f, "%u", nc->unmatched);
	fputs("\n  }", f);
	if (nc->pm.state != CTL_PMCHECK_UNCHECKED) {
		key(&m, "port_mapping");
		ctl_pmcheck_json(f, &nc->pm);
	}
	fputs("\n}\n", f);
}

/* --- the command --- */

static void usage(FILE *f)
{
	fprintf(f, "Usage: p2pvpnctl natcheck %s\n", CTL_NATCHECK_ARGS);
}

__attribute__((format(printf, 1, 2))) static int misuse(const char *fmt, ...)
{
	va_list ap;

	fputs("p2pvpnctl: natcheck: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	return 1;
}

/* Numeric HOST:PORT as the config files take it, else a DNS name resolved. */
static int server_address(const char *s, struct sockaddr_storage *out)
{
	int rc;

	if (cfg_parse_endpoint(s, out))
		return 0;
	if (!cfg_parse_hostport(s))
		return misuse("--server expects HOST:PORT (IPv6 as [ADDR]:PORT), got '%s'", s);
	rc = cfg_resolve_endpoint(s, out);
	if (rc) {
		fprintf(stderr, "p2pvpnctl: natcheck: %s: %s\n", s, gai_strerror(rc));
		return 1;
	}
	return 0;
}

int ctl_natcheck_command(const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"server", required_argument, NULL, 's'},  {"port", required_argument, NULL, 'p'},
	    {"timeout", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},	       {NULL, 0, NULL, 0},
	};
	const char *server_text = NULL;
	struct sockaddr_storage server;
	struct ctl_natcheck *nc;
	unsigned port = 0, timeout_s = 0;
	bool json = false;
	int c, ret;

	(void)cmd;
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			server_text = optarg;
			break;
		case 'p':
			if (!cfg_parse_uint(optarg, 1, 65535, &port))
				return misuse("--port expects 1..65535, got '%s'", optarg);
			break;
		case 't':
			if (!cfg_parse_uint(optarg, 1, TIMEOUT_MAX_S, &timeout_s))
				return misuse("--timeout expects whole seconds 1..%d, got '%s'",
					      TIMEOUT_MAX_S, optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return misuse("option '%s' needs an argument", argv[optind - 1]);
		default:
			return misuse("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return misuse("unexpected argument '%s'", argv[optind]);
	if (!server_text)
		return misuse("which server? --server HOST:PORT is required");
	ret = server_address(server_text, &server);
	if (ret)
		return ret;
	nc = malloc(sizeof(*nc));
	if (!nc) {
		fprintf(stderr, "p2pvpnctl: natcheck: %s\n", strerror(ENOMEM));
		return 1;
	}
	ret = ctl_natcheck_run(nc, server_text, &server, (uint16_t)port,
			       timeout_s ? timeout_s * 1000 : CTL_NATCHECK_TIMEOUT_MS);
	if (ret < 0) {
		if (port && ret == -EADDRINUSE)
			fprintf(stderr, "p2pvpnctl: natcheck: port %u: %s\n", port, strerror(-ret));
		else
			fprintf(stderr, "p2pvpnctl: natcheck: %s: %s\n", server_text,
				strerror(-ret));
		free(nc);
		return 1;
	}
	if (json)
		ctl_natcheck_json(stdout, nc);
	else
		ctl_natcheck_text(stdout, nc);
	ret = 0;
	if (ctl_natcheck_learned_nothing(nc)) {
		fputs("p2pvpnctl: natcheck: ", stderr);
		ctl_natcheck_problem(stderr, nc);
		fputc('\n', stderr);
		ret = 1;
	}
	free(nc);
	if (fflush(stdout) != 0)
		ret = 1;
	return ret;
}
