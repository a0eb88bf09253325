/* p2pvpnctl natcheck (ctl/natcheck.h) without a network: a simulated NAT and
 * STUN server answer the engine's datagrams one millisecond after they
 * leave. A table of NAT types and server behaviours (honest RFC 5780 and
 * RFC 3489 servers, one without an alternate address, one that ignores or
 * refuses CHANGE-REQUEST, one naming loopback as its alternate, garbage,
 * wrong transaction IDs, silence, answers to only some tests) checks the
 * classification, that nothing goes anywhere but the server, its safe
 * alternate and our own mapping, that no request reaches the alternate IP
 * while the change-IP-and-port test still waits, and that every run ends
 * by its timeout. Then the text and JSON output of full and partial runs,
 * character for character. Last the port-mapping question against a
 * simulated gateway (PCP and NAT-PMP, NAT-PMP only, a PCP error, silence,
 * none): its schedule, that answers from anywhere but gateway:5351 or that
 * the codecs refuse do not count, and its text and JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/natcheck.h"
#include "stun/stun.h"

#define P_IP "192.0.2.10"
#define A_IP "192.0.2.20"
#define P_PORT 3478
#define A_PORT 3479
#define LAN_IP "10.0.1.2"
#define NAT_IP "203.0.113.2"
#define LOCAL_PORT 40000
#define HAIRPIN_PORT 50000
#define T0 1000000u
#define TIMEOUT 3000u
#define MAX_EVENTS 64

static struct sockaddr_storage addr(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	return ss;
}

static bool same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return stun_client_same_endpoint(a, b);
}

enum nat_kind { NAT_NONE, NAT_EIM, NAT_SEQ }; /* NAT_SEQ: APDM, +1 per new flow */
enum filter_kind { F_EIF, F_ADF, F_APDF, F_UDP_BLOCKED };
enum server_kind {
	S_RFC5780,	  /* XOR-MAPPED, OTHER-ADDRESS, RESPONSE-ORIGIN */
	S_RFC3489,	  /* MAPPED, CHANGED-ADDRESS, SOURCE-ADDRESS (stund) */
	S_NO_ALTERNATE,	  /* no OTHER-ADDRESS; drops change requests silently */
	S_IGNORES_CHANGE, /* names an alternate, answers everything from where asked */
	S_REFUSES_CHANGE, /* names an alternate, answers change requests with 420 */
	S_UNSAFE_OTHER,	  /* names 127.0.0.1:3479 as its alternate */
	S_GARBAGE,	  /* answers every request with bytes that are not STUN */
	S_WRONG_ID,	  /* answers with someone else's transaction ID */
	S_SILENT,	  /* down */
	S_PRIMARY_ONLY,	  /* its alternate address never answers */
};

struct sim_case {
	const char *what;
	enum nat_kind nat;
	enum filter_kind filter;
	enum server_kind server;
	bool hairpin;
	struct {
		enum stun_natclass_type type;
		enum stun_natclass_behaviour mapping, filtering;
		enum stun_natclass_tri preserving, hairpin;
		int step; /* 0: none */
		bool nothing;
		unsigned notes;
	} want;
};

struct event {
	uint64_t at;
	enum ctl_natcheck_sock sock;
	struct sockaddr_storage from;
	uint8_t buf[256];
	size_t len;
};

struct sim {
	const struct sim_case *c;
	struct ctl_natcheck nc;
	uint64_t now;
	struct event q[MAX_EVENTS];
	size_t nq;
	struct sockaddr_storage flows[8]; /* destinations the NAT has seen, in order */
	size_t nflows;
	unsigned sends, sends_to_alt_ip;
	bool alt_ip_too_early, sent_elsewhere;
};

static void push(struct sim *s, enum ctl_natcheck_sock sock, const struct sockaddr_storage *from,
		 const uint8_t *buf, size_t len)
{
	struct event *e = &s->q[s->nq++];

	assert_true(s->nq <= MAX_EVENTS);
	assert_true(len <= sizeof(e->buf));
	e->at = s->now + 1;
	e->sock = sock;
	e->from = *from;
	memcpy(e->buf, buf, len);
	e->len = len;
}

/* The NAT: the external address of the flow to dest, and whether an answer
 * from from gets back in. */
static struct sockaddr_storage nat_map(struct sim *s, const struct sockaddr_storage *dest)
{
	size_t i;

	for (i = 0; i < s->nflows; i++)
		if (same(&s->flows[i], dest))
			break;
	if (i == s->nflows)
		s->flows[s->nflows++] = *dest;
	if (s->c->nat == NAT_SEQ)
		return addr(NAT_IP, (uint16_t)(20000 + i));
	return addr(NAT_IP, LOCAL_PORT);
}

static bool nat_lets_in(const struct sim *s, const struct sockaddr_storage *from)
{
	for (size_t i = 0; i < s->nflows; i++) {
		if (s->c->filter == F_ADF && stun_client_same_ip(&s->flows[i], from))
			return true;
		if (s->c->filter == F_APDF && same(&s->flows[i], from))
			return true;
	}
	return s->c->filter == F_EIF;
}

/* The server's answer to a request that reached dest. */
static void serve(struct sim *s, const struct sockaddr_storage *dest, const uint8_t *req,
		  size_t len, const struct sockaddr_storage *mapped)
{
	enum server_kind k = s->c->server;
	struct sockaddr_storage from = *dest, other = addr(A_IP, A_PORT);
	bool at_alt_ip = stun_client_same_ip(dest, &other);
	uint8_t out[256], id[STUN_ID_LEN];
	struct stun_builder b;
	struct stun_msg msg;
	uint32_t change = 0;
	size_t n;

	assert_true(stun_msg_parse(&msg, req, len));
	memcpy(id, msg.id, sizeof(id));
	if (!stun_msg_get_change_request(&msg, &change))
		change = 0;
	if (k == S_SILENT || (k == S_PRIMARY_ONLY && at_alt_ip) || (k == S_NO_ALTERNATE && change))
		return;
	if (k == S_GARBAGE) {
		from = *dest;
		if (nat_lets_in(s, &from))
			push(s, CTL_NATCHECK_SOCK_MAIN, &from, (const uint8_t *)"hello, world", 12);
		return;
	}
	if (k == S_WRONG_ID)
		id[STUN_ID_LEN - 1] ^= 1;
	if (k != S_IGNORES_CHANGE && k != S_REFUSES_CHANGE) {
		struct sockaddr_in *f = (struct sockaddr_in *)&from;

		if (change & STUN_CHANGE_IP)
			inet_pton(AF_INET, at_alt_ip ? P_IP : A_IP, &f->sin_addr);
		if (change & STUN_CHANGE_PORT)
			f->sin_port = htons(ntohs(f->sin_port) == P_PORT ? A_PORT : P_PORT);
	}
	if (k == S_UNSAFE_OTHER)
		other = addr("127.0.0.1", A_PORT);
	if (k == S_REFUSES_CHANGE && change) {
		stun_builder_init(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_ERROR, id);
		stun_builder_add_error_code(&b, 420, "Unknown Attribute");
	} else {
		bool classic = k == S_RFC3489;

		stun_builder_init(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_SUCCESS,
				  id);
		stun_builder_add_address(
		    &b, classic ? STUN_ATTR_MAPPED_ADDRESS : STUN_ATTR_XOR_MAPPED_ADDRESS, mapped);
		if (k != S_NO_ALTERNATE)
			stun_builder_add_address(
			    &b, classic ? STUN_ATTR_CHANGED_ADDRESS : STUN_ATTR_OTHER_ADDRESS,
			    &other);
		stun_builder_add_address(
		    &b, classic ? STUN_ATTR_SOURCE_ADDRESS : STUN_ATTR_RESPONSE_ORIGIN, &from);
	}
	assert_int_equal(stun_builder_finish(&b, true, &n), 0);
	if (nat_lets_in(s, &from))
		push(s, CTL_NATCHECK_SOCK_MAIN, &from, out, n);
}

static void on_send(struct sim *s, const struct ctl_natcheck_send *snd)
{
	struct sockaddr_storage p = addr(P_IP, P_PORT), mapped_self = addr(NAT_IP, LOCAL_PORT);
	struct sockaddr_storage alt_ip = addr(A_IP, P_PORT), alt = addr(A_IP, A_PORT), m;

	s->sends++;
	if (snd->sock == CTL_NATCHECK_SOCK_HAIRPIN) {
		/* The probe goes to our own mapping and nowhere else. */
		if (!same(snd->dest, &s->nc.in.tests[STUN_NATCLASS_TEST_PRIMARY].mapped))
			s->sent_elsewhere = true;
		if (s->c->hairpin && same(snd->dest, &mapped_self)) {
			struct sockaddr_storage from = addr(NAT_IP, HAIRPIN_PORT);

			push(s, CTL_NATCHECK_SOCK_MAIN, &from, snd->buf, snd->len);
		}
		return;
	}
	if (!same(snd->dest, &p) && !same(snd->dest, &alt_ip) && !same(snd->dest, &alt))
		s->sent_elsewhere = true;
	if (stun_client_same_ip(snd->dest, &alt)) {
		s->sends_to_alt_ip++;
		if (s->nc.tests[STUN_NATCLASS_TEST_CHANGE_BOTH].why == CTL_NATCHECK_RUNNING)
			s->alt_ip_too_early = true;
	}
	if (s->c->filter == F_UDP_BLOCKED)
		return;
	m = s->c->nat == NAT_NONE ? addr(NAT_IP, LOCAL_PORT) : nat_map(s, snd->dest);
	if (s->c->nat == NAT_NONE && s->nflows < 8)
		s->flows[s->nflows++] = *snd->dest;
	serve(s, snd->dest, snd->buf, snd->len, &m);
}

/* Runs the engine against the simulation until it says it is done. */
static void sim_run(struct sim *s, const struct sim_case *c, const char *name)
{
	struct sockaddr_storage server = addr(P_IP, P_PORT);
	struct sockaddr_storage local = addr(c->nat == NAT_NONE ? NAT_IP : LAN_IP, LOCAL_PORT);
	struct ctl_natcheck_send snd;

	memset(s, 0, sizeof(*s));
	s->c = c;
	s->now = T0;
	ctl_natcheck_init(&s->nc, name, &server, &local, TIMEOUT, s->now);
	for (int guard = 0; guard < 1000; guard++) {
		uint64_t next;

		ctl_natcheck_on_timer(&s->nc, s->now);
		while (ctl_natcheck_next_send(&s->nc, &snd))
			on_send(s, &snd);
		if (ctl_natcheck_is_done(&s->nc))
			break;
		next = ctl_natcheck_next_ms(&s->nc);
		assert_true(next <= T0 + TIMEOUT);
		for (size_t i = 0; i < s->nq; i++)
			if (s->q[i].at < next)
				next = s->q[i].at;
		s->now = next > s->now ? next : s->now;
		for (size_t i = 0; i < s->nq;) {
			if (s->q[i].at > s->now) {
				i++;
				continue;
			}
			ctl_natcheck_on_datagram(&s->nc, s->q[i].sock, &s->q[i].from, s->q[i].buf,
						 s->q[i].len, s->now);
			s->q[i] = s->q[--s->nq];
		}
	}
	assert_true(ctl_natcheck_is_done(&s->nc));
	assert_true(s->now <= T0 + TIMEOUT);
	ctl_natcheck_finish(&s->nc);
}

#define EI STUN_NATCLASS_ENDPOINT_INDEPENDENT
#define AD STUN_NATCLASS_ADDRESS_DEPENDENT
#define APD STUN_NATCLASS_ADDRESS_AND_PORT_DEPENDENT
#define UNK STUN_NATCLASS_UNKNOWN
#define YES STUN_NATCLASS_TRI_YES
#define NO STUN_NATCLASS_TRI_NO
#define TUNK STUN_NATCLASS_TRI_UNKNOWN
#define T_(x) STUN_NATCLASS_TYPE_##x

static const struct sim_case cases[] = {
    /* The lab's types against an honest RFC 5780 server. */
    {"1 none",
     NAT_NONE,
     F_EIF,
     S_RFC5780,
     true,
     {T_(OPEN_INTERNET), EI, EI, YES, YES, 0, false, 0}},
    {"2 full-cone",
     NAT_EIM,
     F_EIF,
     S_RFC5780,
     false,
     {T_(FULL_CONE), EI, EI, YES, NO, 0, false, 0}},
    {"3 restricted-cone",
     NAT_EIM,
     F_ADF,
     S_RFC5780,
     false,
     {T_(RESTRICTED_CONE), EI, AD, YES, NO, 0, false, 0}},
    {"4 port-restricted",
     NAT_EIM,
     F_APDF,
     S_RFC5780,
     false,
     {T_(PORT_RESTRICTED_CONE), EI, APD, YES, NO, 0, false, 0}},
    {"5 symmetric-seq",
     NAT_SEQ,
     F_APDF,
     S_RFC5780,
     false,
     {T_(SYMMETRIC), APD, APD, NO, NO, 1, false, 0}},
    {"6 udp-blocked",
     NAT_EIM,
     F_UDP_BLOCKED,
     S_RFC5780,
     false,
     {T_(UDP_BLOCKED), UNK, UNK, TUNK, TUNK, 0, true, 2}},
    {"7 full-cone with hairpin",
     NAT_EIM,
     F_EIF,
     S_RFC5780,
     true,
     {T_(FULL_CONE), EI, EI, YES, YES, 0, false, 0}},
    /* The classic server (stund): CHANGED-ADDRESS, MAPPED-ADDRESS. */
    {"8 RFC 3489 server, restricted-cone",
     NAT_EIM,
     F_ADF,
     S_RFC3489,
     false,
     {T_(RESTRICTED_CONE), EI, AD, YES, NO, 0, false, 0}},
    {"9 RFC 3489 server, symmetric-seq",
     NAT_SEQ,
     F_APDF,
     S_RFC3489,
     false,
     {T_(SYMMETRIC), APD, APD, NO, NO, 1, false, 0}},
    /* Partial answers: a clear list of what is missing, exit status 0. */
    {"10 no alternate: silence to change requests is not APDF",
     NAT_EIM,
     F_APDF,
     S_NO_ALTERNATE,
     false,
     {T_(UNKNOWN), UNK, UNK, YES, NO, 0, false, 1}},
    {"11 server ignores CHANGE-REQUEST: not full-cone",
     NAT_EIM,
     F_APDF,
     S_IGNORES_CHANGE,
     false,
     {T_(UNKNOWN), EI, UNK, YES, NO, 0, false, 2}},
    {"12 server refuses CHANGE-REQUEST (420)",
     NAT_EIM,
     F_APDF,
     S_REFUSES_CHANGE,
     false,
     {T_(UNKNOWN), EI, UNK, YES, NO, 0, false, 2}},
    {"13 alternate is loopback: never used",
     NAT_EIM,
     F_EIF,
     S_UNSAFE_OTHER,
     false,
     {T_(UNKNOWN), UNK, UNK, YES, NO, 0, false, 1}},
    {"14 alternate address never answers",
     NAT_EIM,
     F_APDF,
     S_PRIMARY_ONLY,
     false,
     {T_(UNKNOWN), UNK, APD, YES, NO, 0, false, 2}},
    /* Nothing learned: exit status 1, and still within the timeout. */
    {"15 garbage only",
     NAT_EIM,
     F_EIF,
     S_GARBAGE,
     false,
     {T_(UDP_BLOCKED), UNK, UNK, TUNK, TUNK, 0, true, 2}},
    {"16 wrong transaction IDs only",
     NAT_EIM,
     F_EIF,
     S_WRONG_ID,
     false,
     {T_(UDP_BLOCKED), UNK, UNK, TUNK, TUNK, 0, true, 2}},
    {"17 server down",
     NAT_NONE,
     F_EIF,
     S_SILENT,
     false,
     {T_(UDP_BLOCKED), UNK, UNK, TUNK, TUNK, 0, true, 2}},
};

static void test_ctl_natcheck_engine_cases(void **state)
{
	struct sim *s = malloc(sizeof(*s));

	assert_non_null(s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct sim_case *c = &cases[i];
		const struct stun_natclass_report *r = &s->nc.report;

		print_message("case %s\n", c->what);
		sim_run(s, c, "192.0.2.10:3478");
		assert_int_equal(r->type, c->want.type);
		assert_int_equal(r->mapping, c->want.mapping);
		assert_int_equal(r->filtering, c->want.filtering);
		assert_int_equal(r->port_preserving, c->want.preserving);
		assert_int_equal(r->hairpin, c->want.hairpin);
		assert_int_equal(r->has_port_step, c->want.step != 0);
		if (c->want.step)
			assert_int_equal(r->port_step, c->want.step);
		assert_int_equal(ctl_natcheck_learned_nothing(&s->nc), c->want.nothing);
		assert_int_equal(s->nc.n_notes, c->want.notes);
		/* Only the server, its alternate and our own mapping are sent to,
		 * and the alternate IP not before test II is over. */
		assert_false(s->sent_elsewhere);
		assert_false(s->alt_ip_too_early);
		/* Retransmissions are bounded: 4 sends per test at most. */
		assert_true(s->sends <= 4 * (STUN_NATCLASS_TEST_MAX + 1));
	}
	free(s);
}

/* What each failing server leaves behind: counts and the one-line problem. */
static void test_ctl_natcheck_engine_bad_servers(void **state)
{
	struct sim *s = malloc(sizeof(*s));
	char *text = NULL;
	size_t len;
	FILE *f;

	assert_non_null(s);
	sim_run(s, &cases[14], "192.0.2.10:3478");  /* garbage */
	assert_int_equal(s->nc.not_stun, s->sends); /* one for every request */
	assert_int_equal(s->nc.unmatched, 0);
	f = open_memstream(&text, &len);
	ctl_natcheck_problem(f, &s->nc);
	fclose(f);
	assert_string_equal(text, "no STUN answer from 192.0.2.10:3478 within 3 s; ignored: 12 "
				  "datagrams that are not STUN, 0 STUN messages with a "
				  "transaction ID we did not send");
	free(text);

	sim_run(s, &cases[15], "192.0.2.10:3478"); /* wrong IDs */
	assert_int_equal(s->nc.not_stun, 0);
	assert_int_equal(s->nc.unmatched, s->sends);
	assert_int_equal(s->nc.tests[STUN_NATCLASS_TEST_PRIMARY].why, CTL_NATCHECK_NO_ANSWER);

	sim_run(s, &cases[16], "192.0.2.10:3478"); /* silent */
	assert_int_equal(s->now, T0 + TIMEOUT);	   /* gave up at the timeout, not later */
	f = open_memstream(&text, &len);
	ctl_natcheck_problem(f, &s->nc);
	fclose(f);
	assert_string_equal(text, "no answer from 192.0.2.10:3478 within 3 s: UDP blocked or "
				  "server down");
	free(text);

	/* An honest server leaves no problem to report. */
	sim_run(s, &cases[3], "192.0.2.10:3478");
	f = open_memstream(&text, &len);
	ctl_natcheck_problem(f, &s->nc);
	fclose(f);
	assert_string_equal(text, "");
	free(text);
	/* port-restricted: the change tests wait until T/2, the hairpin T/4. */
	assert_int_equal(s->now, T0 + TIMEOUT / 2 + TIMEOUT / 4);
	free(s);
}

/* Runs fn's output into a string; free() it. */
#define CAPTURE(out, call)                                                                         \
	do {                                                                                       \
		size_t cap_len_;                                                                   \
		FILE *f = open_memstream(&(out), &cap_len_);                                       \
		assert_non_null(f);                                                                \
		call;                                                                              \
		assert_int_equal(fclose(f), 0);                                                    \
	} while (0)

static void test_ctl_natcheck_text_full(void **state)
{
	struct sim *s = malloc(sizeof(*s));
	char *out;

	assert_non_null(s);
	sim_run(s, &cases[3], "192.0.2.10:3478"); /* port-restricted */
	CAPTURE(out, ctl_natcheck_text(f, &s->nc));
	assert_string_equal(out, "server: 192.0.2.10:3478, other address 192.0.2.20:3479\n"
				 "local address: 10.0.1.2:40000\n"
				 "mapped address: 203.0.113.2:40000\n"
				 "NAT type (RFC 3489): port-restricted-cone\n"
				 "mapping (RFC 5780): endpoint-independent\n"
				 "filtering (RFC 5780): address-and-port-dependent\n"
				 "port preserving: yes\n"
				 "port step: none\n"
				 "hairpin: no\n"
				 "verdict: direct UDP likely\n");
	free(out);

	/* symmetric-seq, named by host: the resolved address follows the name. */
	sim_run(s, &cases[4], "stun.lab.test:3478");
	CAPTURE(out, ctl_natcheck_text(f, &s->nc));
	assert_string_equal(out, "server: stun.lab.test:3478 (192.0.2.10:3478), other address "
				 "192.0.2.20:3479\n"
				 "local address: 10.0.1.2:40000\n"
				 "mapped address: 203.0.113.2:20000\n"
				 "NAT type (RFC 3489): symmetric\n"
				 "mapping (RFC 5780): address-and-port-dependent\n"
				 "filtering (RFC 5780): address-and-port-dependent\n"
				 "port preserving: no\n"
				 "port step: +1\n"
				 "hairpin: no\n"
				 "verdict: direct UDP needs the peer to be cone\n");
	free(out);
	free(s);
}

static void test_ctl_natcheck_text_partial(void **state)
{
	struct sim *s = malloc(sizeof(*s));
	char *out;

	assert_non_null(s);
	sim_run(s, &cases[9], "192.0.2.10:3478"); /* no alternate */
	CAPTURE(out, ctl_natcheck_text(f, &s->nc));
	assert_string_equal(out,
			    "server: 192.0.2.10:3478, other address none\n"
			    "local address: 10.0.1.2:40000\n"
			    "mapped address: 203.0.113.2:40000\n"
			    "NAT type (RFC 3489): unknown\n"
			    "mapping (RFC 5780): unknown\n"
			    "filtering (RFC 5780): unknown\n"
			    "port preserving: yes\n"
			    "port step: unknown\n"
			    "hairpin: no\n"
			    "verdict: unknown\n"
			    "not learned: change tests and alternate-address tests (filtering, "
			    "mapping): not run: the server names no alternate address\n");
	free(out);

	sim_run(s, &cases[10], "192.0.2.10:3478"); /* ignores CHANGE-REQUEST */
	CAPTURE(out, ctl_natcheck_text(f, &s->nc));
	assert_non_null(strstr(out, "\nfiltering (RFC 5780): unknown\n"));
	assert_non_null(strstr(out, "\nnot learned: change-IP-and-port test (RFC 3489 test II): "
				    "answered from 192.0.2.10:3478, so the server did not change "
				    "its address as asked; change-port test (RFC 3489 test III): "
				    "answered from 192.0.2.10:3478, so the server did not change "
				    "its address as asked\n"));
	free(out);

	sim_run(s, &cases[12], "192.0.2.10:3478"); /* loopback alternate */
	CAPTURE(out, ctl_natcheck_text(f, &s->nc));
	assert_non_null(strstr(out, "other address 127.0.0.1:3479 (refused: not a safe target)\n"));
	assert_non_null(strstr(out, "not run: the server's alternate address 127.0.0.1:3479 is not "
				    "a safe target\n"));
	free(out);

	sim_run(s, &cases[5], "192.0.2.10:3478"); /* udp-blocked */
	CAPTURE(out, ctl_natcheck_text(f, &s->nc));
	assert_string_equal(out, "server: 192.0.2.10:3478, other address none\n"
				 "local address: 10.0.1.2:40000\n"
				 "mapped address: unknown\n"
				 "NAT type (RFC 3489): udp-blocked\n"
				 "mapping (RFC 5780): unknown\n"
				 "filtering (RFC 5780): unknown\n"
				 "port preserving: unknown\n"
				 "port step: unknown\n"
				 "hairpin: unknown\n"
				 "verdict: TCP only\n"
				 "not learned: primary test (RFC 3489 test I): no answer; mapping, "
				 "filtering, port preservation and hairpin: they need the primary "
				 "test's answer\n");
	free(out);
	free(s);
}

static void test_ctl_natcheck_json_full(void **state)
{
	struct sim *s = malloc(sizeof(*s));
	char *out;

	assert_non_null(s);
	sim_run(s, &cases[4], "192.0.2.10:3478"); /* symmetric-seq */
	CAPTURE(out, ctl_natcheck_json(f, &s->nc));
	assert_string_equal(out, "{\n"
				 "  \"server\": \"192.0.2.10:3478\",\n"
				 "  \"server_address\": \"192.0.2.10:3478\",\n"
				 "  \"other_address\": \"192.0.2.20:3479\",\n"
				 "  \"local_address\": \"10.0.1.2:40000\",\n"
				 "  \"mapped_address\": \"203.0.113.2:20000\",\n"
				 "  \"rfc3489_type\": \"symmetric\",\n"
				 "  \"mapping\": \"address-and-port-dependent\",\n"
				 "  \"filtering\": \"address-and-port-dependent\",\n"
				 "  \"port_preserving\": false,\n"
				 "  \"port_step\": 1,\n"
				 "  \"hairpin\": false,\n"
				 "  \"verdict\": \"direct UDP needs the peer to be cone\",\n"
				 "  \"not_learned\": [],\n"
				 "  \"tests\": [\n"
				 "    {\n"
				 "      \"name\": \"primary\",\n"
				 "      \"result\": \"answered\",\n"
				 "      \"destination\": \"192.0.2.10:3478\",\n"
				 "      \"mapped\": \"203.0.113.2:20000\",\n"
				 "      \"from\": \"192.0.2.10:3478\",\n"
				 "      \"error_code\": null\n"
				 "    },\n"
				 "    {\n"
				 "      \"name\": \"change-ip-and-port\",\n"
				 "      \"result\": \"no-answer\",\n"
				 "      \"destination\": \"192.0.2.10:3478\",\n"
				 "      \"mapped\": null,\n"
				 "      \"from\": null,\n"
				 "      \"error_code\": null\n"
				 "    },\n"
				 "    {\n"
				 "      \"name\": \"change-port\",\n"
				 "      \"result\": \"no-answer\",\n"
				 "      \"destination\": \"192.0.2.10:3478\",\n"
				 "      \"mapped\": null,\n"
				 "      \"from\": null,\n"
				 "      \"error_code\": null\n"
				 "    },\n"
				 "    {\n"
				 "      \"name\": \"alternate-ip\",\n"
				 "      \"result\": \"answered\",\n"
				 "      \"destination\": \"192.0.2.20:3478\",\n"
				 "      \"mapped\": \"203.0.113.2:20001\",\n"
				 "      \"from\": \"192.0.2.20:3478\",\n"
				 "      \"error_code\": null\n"
				 "    },\n"
				 "    {\n"
				 "      \"name\": \"alternate-ip-and-port\",\n"
				 "      \"result\": \"answered\",\n"
				 "      \"destination\": \"192.0.2.20:3479\",\n"
				 "      \"mapped\": \"203.0.113.2:20002\",\n"
				 "      \"from\": \"192.0.2.20:3479\",\n"
				 "      \"error_code\": null\n"
				 "    },\n"
				 "    {\n"
				 "      \"name\": \"hairpin\",\n"
				 "      \"result\": \"no-answer\",\n"
				 "      \"destination\": \"203.0.113.2:20000\",\n"
				 "      \"mapped\": null,\n"
				 "      \"from\": null,\n"
				 "      \"error_code\": null\n"
				 "    }\n"
				 "  ],\n"
				 "  \"ignored\": {\n"
				 "    \"not_stun\": 0,\n"
				 "    \"unknown_transaction\": 0\n"
				 "  }\n"
				 "}\n");
	free(out);
	free(s);
}

static void test_ctl_natcheck_json_partial(void **state)
{
	struct sim *s = malloc(sizeof(*s));
	char *out;

	assert_non_null(s);
	/* udp-blocked, and a server name that needs escaping in JSON. */
	sim_run(s, &cases[5], "bad\"name\\:3478");
	CAPTURE(out, ctl_natcheck_json(f, &s->nc));
	assert_non_null(strstr(out,
			       "{\n  \"server\": \"bad\\\"name\\\\:3478\",\n"
			       "  \"server_address\": \"192.0.2.10:3478\",\n"
			       "  \"other_address\": null,\n"
			       "  \"local_address\": \"10.0.1.2:40000\",\n"
			       "  \"mapped_address\": null,\n"
			       "  \"rfc3489_type\": \"udp-blocked\",\n"
			       "  \"mapping\": null,\n"
			       "  \"filtering\": null,\n"
			       "  \"port_preserving\": null,\n"
			       "  \"port_step\": null,\n"
			       "  \"hairpin\": null,\n"
			       "  \"verdict\": \"TCP only\",\n"
			       "  \"not_learned\": [\n"
			       "    \"primary test (RFC 3489 test I): no answer\",\n"
			       "    \"mapping, filtering, port preservation and hairpin: they need "
			       "the primary test's answer\"\n"
			       "  ],\n"));
	assert_non_null(strstr(out, "      \"name\": \"alternate-ip\",\n"
				    "      \"result\": \"not-run-no-primary-answer\",\n"
				    "      \"destination\": null,\n"));
	free(out);

	/* Refused change requests: error_code is the server's. */
	sim_run(s, &cases[11], "192.0.2.10:3478");
	CAPTURE(out, ctl_natcheck_json(f, &s->nc));
	assert_non_null(strstr(out, "      \"name\": \"change-port\",\n"
				    "      \"result\": \"error-response\",\n"
				    "      \"destination\": \"192.0.2.10:3478\",\n"
				    "      \"mapped\": null,\n"
				    "      \"from\": \"192.0.2.10:3478\",\n"
				    "      \"error_code\": 420\n"));
	assert_non_null(strstr(out, "    \"change-port test (RFC 3489 test III): the server "
				    "answered with error 420\"\n"));
	assert_non_null(strstr(out, "  \"filtering\": null,\n"));
	free(out);

	/* Garbage counted in "ignored". */
	sim_run(s, &cases[14], "192.0.2.10:3478");
	CAPTURE(out, ctl_natcheck_json(f, &s->nc));
	assert_non_null(strstr(out, "  \"ignored\": {\n"
				    "    \"not_stun\": 12,\n"
				    "    \"unknown_transaction\": 0\n"
				    "  }\n}\n"));
	free(out);
	free(s);
}

/* --- the port-mapping question, against a simulated gateway --- */

#define GW_IP "10.0.1.1"

enum gw_kind {
	GW_BOTH,	/* answers the ANNOUNCE and the address request (miniupnpd) */
	GW_NATPMP_ONLY, /* "unsupported version" to PCP, then the address */
	GW_PCP_REFUSES, /* PCP NOT_AUTHORIZED; no NAT-PMP */
	GW_SILENT,
};

struct pm_sim {
	struct ctl_natcheck nc;
	uint64_t now, pm_done_at;
	uint64_t pcp_at[8], natpmp_at[8];
	unsigned pcp_sends, natpmp_sends, elsewhere;
	struct {
		uint64_t at;
		struct sockaddr_storage from;
		uint8_t buf[64];
		size_t len;
	} q[32];
	size_t nq;
};

static void pm_push(struct pm_sim *s, const struct sockaddr_storage *from, const void *buf,
		    size_t len)
{
	assert_true(s->nq < 32 && len <= 64);
	s->q[s->nq].at = s->now + 1;
	s->q[s->nq].from = *from;
	memcpy(s->q[s->nq].buf, buf, len);
	s->q[s->nq++].len = len;
}

static void gateway_serve(struct pm_sim *s, enum gw_kind k, const struct ctl_natcheck_send *snd)
{
	struct sockaddr_storage gw = addr(GW_IP, 5351), other = addr("10.0.1.99", 5351);
	struct sockaddr_storage gw_5350 = addr(GW_IP, 5350);
	uint8_t pcp[24] = {2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 77};
	const uint8_t natpmp[12] = {0, 0x80, 0, 0, 0, 0, 0, 78, 100, 128, 77, 2};
	const uint8_t unsupp[8] = {0, 0x80, 0, 1, 0, 0, 0, 78}; /* RFC 6886 3.5 */
	const uint8_t garbage[5] = {2, 0x80, 0, 0, 0};

	if (snd->sock != CTL_NATCHECK_SOCK_PORTMAP) {
		/* STUN to the server (which is down here) and nowhere else. */
		struct sockaddr_storage p = addr(P_IP, P_PORT);

		if (!same(snd->dest, &p))
			s->elsewhere++;
		return;
	}
	if (!same(snd->dest, &gw)) {
		s->elsewhere++;
		return;
	}
	if (snd->len == 24) {
		/* The ANNOUNCE request: version 2, opcode 0, lifetime 0, our address. */
		assert_int_equal(snd->buf[0], 2);
		assert_int_equal(snd->buf[1], 0);
		assert_memory_equal(snd->buf + 4, (uint8_t[4]){0}, 4);
		assert_memory_equal(snd->buf + 18, ((uint8_t[6]){0xff, 0xff, 10, 0, 1, 2}), 6);
		s->pcp_at[s->pcp_sends++ % 8] = s->now;
		/* Before any answer: the same answer from elsewhere, from the
		 * gateway's other port, and a malformed one from the gateway. */
		if (s->pcp_sends == 1 && k != GW_SILENT) {
			pm_push(s, &other, pcp, sizeof(pcp));
			pm_push(s, &gw_5350, pcp, sizeof(pcp));
			pm_push(s, &gw, garbage, sizeof(garbage));
		}
		if (k == GW_BOTH)
			pm_push(s, &gw, pcp, sizeof(pcp));
		if (k == GW_PCP_REFUSES) {
			pcp[3] = 2; /* NOT_AUTHORIZED */
			pm_push(s, &gw, pcp, sizeof(pcp));
		}
		if (k == GW_NATPMP_ONLY)
			pm_push(s, &gw, unsupp, sizeof(unsupp));
		return;
	}
	assert_int_equal(snd->len, 2);
	assert_int_equal(snd->buf[0], 0);
	assert_int_equal(snd->buf[1], 0);
	s->natpmp_at[s->natpmp_sends++ % 8] = s->now;
	if (k == GW_BOTH || k == GW_NATPMP_ONLY)
		pm_push(s, &gw, natpmp, sizeof(natpmp));
}

static void pm_run(struct pm_sim *s, enum gw_kind k)
{
	struct sockaddr_storage server = addr(P_IP, P_PORT), local = addr(LAN_IP, LOCAL_PORT);
	struct sockaddr_storage gw = addr(GW_IP, 0), client = addr(LAN_IP, 0);
	struct ctl_natcheck_send snd;

	memset(s, 0, sizeof(*s));
	s->now = T0;
	ctl_natcheck_init(&s->nc, "192.0.2.10:3478", &server, &local, TIMEOUT, s->now);
	ctl_pmcheck_start(&s->nc.pm, &gw, &client, s->now, s->nc.deadline_ms);
	assert_int_equal(s->nc.pm.state, CTL_PMCHECK_RUNNING);
	for (int guard = 0; guard < 1000; guard++) {
		uint64_t next;

		ctl_natcheck_on_timer(&s->nc, s->now);
		while (ctl_natcheck_next_send(&s->nc, &snd))
			gateway_serve(s, k, &snd);
		if (!s->pm_done_at && s->nc.pm.state == CTL_PMCHECK_DONE)
			s->pm_done_at = s->now;
		if (ctl_natcheck_is_done(&s->nc))
			break;
		next = ctl_natcheck_next_ms(&s->nc);
		for (size_t i = 0; i < s->nq; i++)
			if (s->q[i].at < next)
				next = s->q[i].at;
		s->now = next > s->now ? next : s->now;
		for (size_t i = 0; i < s->nq;) {
			if (s->q[i].at > s->now) {
				i++;
				continue;
			}
			ctl_natcheck_on_datagram(&s->nc, CTL_NATCHECK_SOCK_PORTMAP, &s->q[i].from,
						 s->q[i].buf, s->q[i].len, s->now);
			s->q[i] = s->q[--s->nq];
		}
		if (!s->pm_done_at && s->nc.pm.state == CTL_PMCHECK_DONE)
			s->pm_done_at = s->now;
	}
	assert_true(ctl_natcheck_is_done(&s->nc));
	assert_true(s->now <= T0 + TIMEOUT);
	ctl_natcheck_finish(&s->nc);
	assert_int_equal(s->elsewhere, 0);
}

static void test_ctl_natcheck_portmap(void **state)
{
	struct pm_sim *s = calloc(1, sizeof(*s));
	char *out;

	assert_non_null(s);
	/* miniupnpd: both answer at once; the three strays are ignored. */
	pm_run(s, GW_BOTH);
	assert_int_equal(s->pcp_sends, 1);
	assert_int_equal(s->natpmp_sends, 1);
	assert_int_equal(s->pm_done_at, T0 + 1);
	assert_int_equal(s->nc.pm.ignored, 3);
	CAPTURE(out, ctl_natcheck_text(f, &s->nc));
	assert_non_null(strstr(out, "\nport mapping: pcp (gateway 10.0.1.1, epoch 77 s), nat-pmp "
				    "too (external address 100.128.77.2)\n"));
	free(out);
	CAPTURE(out, ctl_natcheck_json(f, &s->nc));
	assert_non_null(strstr(out, "  },\n"
				    "  \"port_mapping\": {\n"
				    "    \"protocol\": \"pcp\",\n"
				    "    \"gateway\": \"10.0.1.1\",\n"
				    "    \"external_address\": \"100.128.77.2\",\n"
				    "    \"note\": null,\n"
				    "    \"answers\": [\n"
				    "      {\"protocol\": \"pcp\", \"result\": \"SUCCESS\", "
				    "\"epoch_s\": 77, \"external_address\": null},\n"
				    "      {\"protocol\": \"nat-pmp\", \"result\": \"SUCCESS\", "
				    "\"epoch_s\": 78, \"external_address\": \"100.128.77.2\"}\n"
				    "    ],\n"
				    "    \"ignored\": 3\n"
				    "  }\n}\n"));
	free(out);

	/* NAT-PMP only: its "unsupported version" stops the PCP requests. */
	pm_run(s, GW_NATPMP_ONLY);
	assert_int_equal(s->pcp_sends, 1);
	assert_int_equal(s->pm_done_at, T0 + 1);
	CAPTURE(out, ctl_natcheck_text(f, &s->nc));
	assert_non_null(strstr(
	    out, "\nport mapping: nat-pmp (gateway 10.0.1.1, external address 100.128.77.2)\n"));
	free(out);
	CAPTURE(out, ctl_natcheck_json(f, &s->nc));
	assert_non_null(strstr(out, "    \"protocol\": \"nat-pmp\",\n"));
	assert_non_null(
	    strstr(out, "      {\"protocol\": \"pcp\", \"result\": \"UNSUPP_VERSION\""));
	free(out);

	/* A PCP error still says PCP; NAT-PMP is asked all three times. */
	pm_run(s, GW_PCP_REFUSES);
	assert_int_equal(s->pcp_sends, 1);
	assert_int_equal(s->natpmp_sends, 3);
	assert_int_equal(s->pm_done_at, T0 + 1750);
	CAPTURE(out, ctl_natcheck_text(f, &s->nc));
	assert_non_null(strstr(
	    out, "\nport mapping: pcp (gateway 10.0.1.1, epoch 77 s, result NOT_AUTHORIZED)\n"));
	free(out);

	/* Silence: 0, 250 and 750 ms, given up at 1750 ms. */
	pm_run(s, GW_SILENT);
	assert_int_equal(s->pcp_sends, 3);
	assert_int_equal(s->natpmp_sends, 3);
	assert_int_equal(s->pcp_at[0], T0);
	assert_int_equal(s->pcp_at[1], T0 + 250);
	assert_int_equal(s->pcp_at[2], T0 + 750);
	assert_int_equal(s->natpmp_at[2], T0 + 750);
	assert_int_equal(s->pm_done_at, T0 + 1750);
	CAPTURE(out, ctl_natcheck_text(f, &s->nc));
	assert_non_null(strstr(out, "\nport mapping: none answered (gateway 10.0.1.1)\n"));
	free(out);
	CAPTURE(out, ctl_natcheck_json(f, &s->nc));
	assert_non_null(strstr(out, "    \"protocol\": null,\n"
				    "    \"gateway\": \"10.0.1.1\",\n"
				    "    \"external_address\": null,\n"
				    "    \"note\": null,\n"
				    "    \"answers\": [],\n"
				    "    \"ignored\": 0\n"));
	free(out);

	/* No gateway: said, and nothing asked. */
	{
		struct sockaddr_storage server = addr(P_IP, P_PORT), local = addr(LAN_IP, 1);
		struct ctl_natcheck_send snd;

		ctl_natcheck_init(&s->nc, "192.0.2.10:3478", &server, &local, TIMEOUT, T0);
		ctl_pmcheck_skip(&s->nc.pm, "no IPv4 default gateway");
		while (ctl_natcheck_next_send(&s->nc, &snd))
			assert_int_not_equal(snd.sock, CTL_NATCHECK_SOCK_PORTMAP);
		ctl_natcheck_finish(&s->nc);
		CAPTURE(out, ctl_natcheck_text(f, &s->nc));
		assert_non_null(strstr(out, "\nport mapping: no IPv4 default gateway\n"));
		free(out);
		CAPTURE(out, ctl_natcheck_json(f, &s->nc));
		assert_non_null(strstr(out, "    \"protocol\": null,\n"
					    "    \"gateway\": null,\n"
					    "    \"external_address\": null,\n"
					    "    \"note\": \"no IPv4 default gateway\",\n"));
		free(out);
	}
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ctl_natcheck_engine_cases),
	    cmocka_unit_test(test_ctl_natcheck_engine_bad_servers),
	    cmocka_unit_test(test_ctl_natcheck_text_full),
	    cmocka_unit_test(test_ctl_natcheck_text_partial),
	    cmocka_unit_test(test_ctl_natcheck_json_full),
	    cmocka_unit_test(test_ctl_natcheck_json_partial),
	    cmocka_unit_test(test_ctl_natcheck_portmap),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
