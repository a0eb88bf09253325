/* NAT classification: for each NAT type of the lab (NAT-LAB-NOTES), the test
 * results that NAT produces against a server at 192.0.2.10:3478 with the
 * alternate 192.0.2.20:3479, and the classification natcheck must print;
 * then partial results (no alternate address, refused change requests, a
 * server that ignores CHANGE-REQUEST); then the client transactions that
 * gather the results (ID matching, retransmission, unsafe OTHER-ADDRESS). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>

#include "stun/client.h"
#include "stun/natclass.h"
#include "stun/stun.h"

#define PRIMARY_IP "192.0.2.10"
#define PRIMARY_PORT 3478
#define ALT_IP "192.0.2.20"
#define ALT_PORT 3479
#define NAT_IP "203.0.113.2"

static struct sockaddr_storage addr(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	}
	return ss;
}

/* What a NAT lets through for one test: the mapped port seen, or one of: */
#define N (-1) /* no answer */
#define X (-2) /* not run */
#define R (-3) /* refused (error response) */
#define NOSTEP 0x7fff

enum server_kind {
	SERVER_RFC5780,	       /* two IPs, two ports: alternate 192.0.2.20:3479 */
	SERVER_NO_ALTERNATE,   /* one address, no OTHER-ADDRESS */
	SERVER_SAME_IP,	       /* one IP, two ports: alternate 192.0.2.10:3479 */
	SERVER_IGNORES_CHANGE, /* says it has an alternate but answers every
				* change request from the primary address */
};

struct nat_case {
	const char *what;
	struct {
		const char *local_ip; /* the host's own address */
		uint16_t local_port;
		const char *mapped_ip; /* the address the server sees */
		enum server_kind server;
	} setup;
	/* PRIMARY, CHANGE_BOTH, CHANGE_PORT, ALT_IP, ALT_BOTH, sent in this order */
	int tests[STUN_NATCLASS_TEST_MAX];
	struct {
		enum stun_natclass_type type;
		enum stun_natclass_behaviour mapping, filtering;
		enum stun_natclass_tri preserving;
		int step; /* NOSTEP: none */
		enum stun_natclass_verdict verdict;
		unsigned unlearned;
	} want;
};

#define EIM STUN_NATCLASS_ENDPOINT_INDEPENDENT
#define ADM STUN_NATCLASS_ADDRESS_DEPENDENT
#define APDM STUN_NATCLASS_ADDRESS_AND_PORT_DEPENDENT
#define UNK STUN_NATCLASS_UNKNOWN
#define YES STUN_NATCLASS_TRI_YES
#define NO STUN_NATCLASS_TRI_NO
#define TRI_UNK STUN_NATCLASS_TRI_UNKNOWN
#define T_(x) STUN_NATCLASS_TYPE_##x
#define V_(x) STUN_NATCLASS_VERDICT_##x
#define BIT(t) (1u << STUN_NATCLASS_TEST_##t)

static const struct nat_case cases[] = {
    /* The lab's NAT types (NAT-LAB-NOTES table, same ports). */
    {"1 none",
     {NAT_IP, 44461, NAT_IP, SERVER_RFC5780},
     {44461, 44461, 44461, 44461, 44461},
     {T_(OPEN_INTERNET), EIM, EIM, YES, NOSTEP, V_(DIRECT), 0}},
    {"2 full-cone",
     {"10.0.1.2", 44815, NAT_IP, SERVER_RFC5780},
     {44815, 44815, 44815, 44815, 44815},
     {T_(FULL_CONE), EIM, EIM, YES, NOSTEP, V_(DIRECT), 0}},
    {"3 restricted-cone",
     {"10.0.1.2", 46213, NAT_IP, SERVER_RFC5780},
     {46213, N, 46213, 46213, 46213},
     {T_(RESTRICTED_CONE), EIM, ADM, YES, NOSTEP, V_(DIRECT), 0}},
    {"4 port-restricted",
     {"10.0.1.2", 51599, NAT_IP, SERVER_RFC5780},
     {51599, N, N, 51599, 51599},
     {T_(PORT_RESTRICTED_CONE), EIM, APDM, YES, NOSTEP, V_(DIRECT), 0}},
    {"5 symmetric-seq (+1 per new flow)",
     {"10.0.1.2", 37906, NAT_IP, SERVER_RFC5780},
     {20003, N, N, 20004, 20005},
     {T_(SYMMETRIC), APDM, APDM, NO, 1, V_(NEEDS_CONE), 0}},
    {"6 symmetric-random",
     {"10.0.1.2", 42768, NAT_IP, SERVER_RFC5780},
     {28242, N, N, 38835, 3264},
     {T_(SYMMETRIC), APDM, APDM, NO, NOSTEP, V_(NEEDS_CONE), 0}},
    {"7 udp-blocked",
     {"10.0.1.2", 40000, NAT_IP, SERVER_RFC5780},
     {N, N, N, N, N},
     {T_(UDP_BLOCKED), UNK, UNK, TRI_UNK, NOSTEP, V_(TCP_ONLY), 0}},
    {"8 udp-blocked, nothing after Test I",
     {"10.0.1.2", 40000, NAT_IP, SERVER_RFC5780},
     {N, X, X, X, X},
     {T_(UDP_BLOCKED), UNK, UNK, TRI_UNK, NOSTEP, V_(TCP_ONLY), 0}},
    {"9 cgnat (port-restricted twice)",
     {"10.0.1.2", 34716, NAT_IP, SERVER_RFC5780},
     {34716, N, N, 34716, 34716},
     {T_(PORT_RESTRICTED_CONE), EIM, APDM, YES, NOSTEP, V_(DIRECT), 0}},
    {"10 port-restricted, port not preserved",
     {"10.0.1.2", 4242, NAT_IP, SERVER_RFC5780},
     {1024, N, N, 1024, 1024},
     {T_(PORT_RESTRICTED_CONE), EIM, APDM, NO, NOSTEP, V_(DIRECT), 0}},
    /* RFC 3489 types the lab does not build. */
    {"11 symmetric UDP firewall",
     {NAT_IP, 5000, NAT_IP, SERVER_RFC5780},
     {5000, N, N, 5000, 5000},
     {T_(SYMMETRIC_UDP_FIREWALL), EIM, APDM, YES, NOSTEP, V_(DIRECT), 0}},
    {"12 address-dependent mapping",
     {"10.0.1.2", 5000, NAT_IP, SERVER_RFC5780},
     {5000, N, N, 6000, 6000},
     {T_(SYMMETRIC), ADM, APDM, YES, NOSTEP, V_(NEEDS_CONE), 0}},
    {"13 symmetric, step -2",
     {"10.0.1.2", 5000, NAT_IP, SERVER_RFC5780},
     {30010, N, N, 30008, 30006},
     {T_(SYMMETRIC), APDM, APDM, NO, -2, V_(NEEDS_CONE), 0}},
    {"14 symmetric, uneven steps",
     {"10.0.1.2", 5000, NAT_IP, SERVER_RFC5780},
     {30010, N, N, 30011, 30013},
     {T_(SYMMETRIC), APDM, APDM, NO, NOSTEP, V_(NEEDS_CONE), 0}},
    /* RFC 3489 flow only: no ALT_IP test. */
    {"15 3489 flow, port-restricted",
     {"10.0.1.2", 51599, NAT_IP, SERVER_RFC5780},
     {51599, N, N, X, 51599},
     {T_(PORT_RESTRICTED_CONE), EIM, APDM, YES, NOSTEP, V_(DIRECT), BIT(ALT_IP)}},
    {"16 3489 flow, symmetric-seq",
     {"10.0.1.2", 37906, NAT_IP, SERVER_RFC5780},
     {20003, N, N, X, 20004},
     {T_(SYMMETRIC), UNK, APDM, NO, 1, V_(NEEDS_CONE), BIT(ALT_IP)}},
    /* Partial: a server without an alternate address. */
    {"17 no alternate, port-restricted",
     {"10.0.1.2", 51599, NAT_IP, SERVER_NO_ALTERNATE},
     {51599, R, R, X, X},
     {T_(UNKNOWN), UNK, UNK, YES, NOSTEP, V_(UNKNOWN),
      BIT(CHANGE_BOTH) | BIT(CHANGE_PORT) | BIT(ALT_IP) | BIT(ALT_BOTH)}},
    {"18 no alternate, no NAT",
     {NAT_IP, 44461, NAT_IP, SERVER_NO_ALTERNATE},
     {44461, R, R, X, X},
     {T_(UNKNOWN), EIM, UNK, YES, NOSTEP, V_(DIRECT),
      BIT(CHANGE_BOTH) | BIT(CHANGE_PORT) | BIT(ALT_IP) | BIT(ALT_BOTH)}},
    {"19 no alternate, udp-blocked",
     {"10.0.1.2", 40000, NAT_IP, SERVER_NO_ALTERNATE},
     {N, X, X, X, X},
     {T_(UDP_BLOCKED), UNK, UNK, TRI_UNK, NOSTEP, V_(TCP_ONLY), 0}},
    {"20 no alternate, answers sent anyway are not used",
     {"10.0.1.2", 5000, NAT_IP, SERVER_NO_ALTERNATE},
     {20003, R, R, 20004, 20005},
     {T_(UNKNOWN), UNK, UNK, NO, NOSTEP, V_(UNKNOWN),
      BIT(CHANGE_BOTH) | BIT(CHANGE_PORT) | BIT(ALT_IP) | BIT(ALT_BOTH)}},
    /* Partial: one IP, two ports; change-port works, change-IP is refused. */
    {"21 same-IP server, port-restricted",
     {"10.0.1.2", 51599, NAT_IP, SERVER_SAME_IP},
     {51599, R, N, X, 51599},
     {T_(UNKNOWN), UNK, APDM, YES, NOSTEP, V_(UNKNOWN), BIT(CHANGE_BOTH) | BIT(ALT_IP)}},
    {"22 same-IP server, symmetric",
     {"10.0.1.2", 5000, NAT_IP, SERVER_SAME_IP},
     {20003, R, N, X, 20004},
     {T_(SYMMETRIC), APDM, APDM, NO, 1, V_(NEEDS_CONE), BIT(CHANGE_BOTH) | BIT(ALT_IP)}},
    {"23 same-IP server, restricted-cone",
     {"10.0.1.2", 46213, NAT_IP, SERVER_SAME_IP},
     {46213, R, 46213, X, 46213},
     {T_(UNKNOWN), UNK, UNK, YES, NOSTEP, V_(UNKNOWN), BIT(CHANGE_BOTH) | BIT(ALT_IP)}},
    /* A server that answers change requests from its primary address: a
     * port-restricted NAT lets those answers in, which must not read as
     * full-cone. */
    {"24 server ignores CHANGE-REQUEST",
     {"10.0.1.2", 51599, NAT_IP, SERVER_IGNORES_CHANGE},
     {51599, 51599, 51599, 51599, 51599},
     {T_(UNKNOWN), EIM, UNK, YES, NOSTEP, V_(DIRECT), BIT(CHANGE_BOTH) | BIT(CHANGE_PORT)}},
    /* Nothing run at all. */
    {"25 nothing run",
     {"10.0.1.2", 5000, NAT_IP, SERVER_RFC5780},
     {X, X, X, X, X},
     {T_(UNKNOWN), UNK, UNK, TRI_UNK, NOSTEP, V_(UNKNOWN),
      BIT(PRIMARY) | BIT(CHANGE_BOTH) | BIT(CHANGE_PORT) | BIT(ALT_IP) | BIT(ALT_BOTH)}},
};

/* Where the answer to each test comes from, for a given server. */
static struct sockaddr_storage answer_from(enum server_kind server, enum stun_natclass_test t)
{
	const char *alt_ip = server == SERVER_SAME_IP ? PRIMARY_IP : ALT_IP;

	if (server == SERVER_IGNORES_CHANGE &&
	    (t == STUN_NATCLASS_TEST_CHANGE_BOTH || t == STUN_NATCLASS_TEST_CHANGE_PORT))
		return addr(PRIMARY_IP, PRIMARY_PORT);
	switch (t) {
	case STUN_NATCLASS_TEST_CHANGE_BOTH:
	case STUN_NATCLASS_TEST_ALT_BOTH:
		return addr(alt_ip, ALT_PORT);
	case STUN_NATCLASS_TEST_CHANGE_PORT:
		return addr(PRIMARY_IP, ALT_PORT);
	case STUN_NATCLASS_TEST_ALT_IP:
		return addr(alt_ip, PRIMARY_PORT);
	default:
		return addr(PRIMARY_IP, PRIMARY_PORT);
	}
}

static void fill_input(const struct nat_case *k, struct stun_natclass_input *in)
{
	memset(in, 0, sizeof(*in));
	in->local = addr(k->setup.local_ip, k->setup.local_port);
	in->primary = addr(PRIMARY_IP, PRIMARY_PORT);
	if (k->setup.server == SERVER_SAME_IP)
		in->alternate = addr(PRIMARY_IP, ALT_PORT);
	else if (k->setup.server != SERVER_NO_ALTERNATE)
		in->alternate = addr(ALT_IP, ALT_PORT);
	for (int t = 0; t < STUN_NATCLASS_TEST_MAX; t++) {
		int seen = k->tests[t];

		in->tests[t].order = (unsigned)t;
		in->tests[t].outcome = seen == N   ? STUN_NATCLASS_NO_ANSWER
				       : seen == X ? STUN_NATCLASS_NOT_RUN
				       : seen == R ? STUN_NATCLASS_REFUSED
						   : STUN_NATCLASS_ANSWERED;
		if (seen >= 0) {
			in->tests[t].mapped = addr(k->setup.mapped_ip, (uint16_t)seen);
			in->tests[t].from = answer_from(k->setup.server, t);
		}
	}
}

/* 1. Every NAT type and partial result of the table. */
static void test_stun_natclass_classify_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct nat_case *k = &cases[i];
		struct stun_natclass_input in;
		struct stun_natclass_report r;
		bool has_step = k->want.step != NOSTEP;

		fill_input(k, &in);
		stun_natclass_classify(&in, &r);
		if (r.type != k->want.type || r.mapping != k->want.mapping ||
		    r.filtering != k->want.filtering || r.port_preserving != k->want.preserving ||
		    r.has_port_step != has_step || (has_step && r.port_step != k->want.step) ||
		    r.verdict != k->want.verdict || r.unlearned != k->want.unlearned)
			fail_msg("case %s: got %s / %s / %s / preserving %s / step %d(%d) / %s / "
				 "unlearned %#x",
				 k->what, stun_natclass_type_name(r.type),
				 stun_natclass_behaviour_name(r.mapping),
				 stun_natclass_behaviour_name(r.filtering),
				 stun_natclass_tri_name(r.port_preserving), r.port_step,
				 r.has_port_step, stun_natclass_verdict_name(r.verdict),
				 r.unlearned);
		if (k->tests[0] >= 0) {
			struct sockaddr_storage want =
			    addr(k->setup.mapped_ip, (uint16_t)k->tests[0]);
			assert_true(stun_client_same_endpoint(&r.mapped, &want));
		} else {
			assert_int_equal(r.mapped.ss_family, AF_UNSPEC);
		}
		assert_int_equal(r.change_ignored, k->setup.server == SERVER_IGNORES_CHANGE
						       ? BIT(CHANGE_BOTH) | BIT(CHANGE_PORT)
						       : 0);
	}
}

/* 2. The port step follows the order the requests left, not the test
 * order; a different external IP or a step beyond the limit gives none. */
static void test_stun_natclass_classify_port_step(void **state)
{
	struct stun_natclass_input in;
	struct stun_natclass_report r;

	fill_input(&cases[4], &in); /* symmetric-seq: 20003, 20004, 20005 */
	in.tests[STUN_NATCLASS_TEST_ALT_BOTH].order = 10;
	in.tests[STUN_NATCLASS_TEST_ALT_IP].order = 11;
	in.tests[STUN_NATCLASS_TEST_ALT_IP].mapped = addr(NAT_IP, 20005);
	in.tests[STUN_NATCLASS_TEST_ALT_BOTH].mapped = addr(NAT_IP, 20004);
	stun_natclass_classify(&in, &r);
	assert_true(r.has_port_step);
	assert_int_equal(r.port_step, 1);
	assert_int_equal(r.mapping, APDM);

	/* Failure: the same ports in test order step +1, -1: no step. */
	in.tests[STUN_NATCLASS_TEST_ALT_BOTH].order = 11;
	in.tests[STUN_NATCLASS_TEST_ALT_IP].order = 10;
	stun_natclass_classify(&in, &r);
	assert_false(r.has_port_step);
	/* Failure: a step of 17 is not "small". */
	fill_input(&cases[4], &in);
	in.tests[STUN_NATCLASS_TEST_ALT_IP].mapped = addr(NAT_IP, 20003 + 17);
	in.tests[STUN_NATCLASS_TEST_ALT_BOTH].mapped = addr(NAT_IP, 20003 + 34);
	stun_natclass_classify(&in, &r);
	assert_false(r.has_port_step);
	/* Failure: ports from two external IPs are not comparable. */
	fill_input(&cases[4], &in);
	in.tests[STUN_NATCLASS_TEST_ALT_IP].mapped = addr("203.0.113.3", 20004);
	stun_natclass_classify(&in, &r);
	assert_false(r.has_port_step);
	assert_int_equal(r.type, STUN_NATCLASS_TYPE_SYMMETRIC);
}

/* 3. Answers that cannot be trusted: a change-port answer from another IP,
 * a mapped address without a port, and the verdict for UDP blocked with a
 * TCP mapping that depends on the destination. */
static void test_stun_natclass_classify_untrusted(void **state)
{
	struct stun_natclass_input in;
	struct stun_natclass_report r;

	fill_input(&cases[2], &in); /* restricted-cone */
	in.tests[STUN_NATCLASS_TEST_CHANGE_PORT].from = addr(ALT_IP, ALT_PORT);
	stun_natclass_classify(&in, &r);
	assert_int_equal(r.filtering, UNK);
	assert_int_equal(r.type, STUN_NATCLASS_TYPE_UNKNOWN);
	assert_int_equal(r.change_ignored, BIT(CHANGE_PORT));
	assert_int_equal(r.verdict, STUN_NATCLASS_VERDICT_DIRECT);

	fill_input(&cases[3], &in); /* port-restricted */
	memset(&in.tests[STUN_NATCLASS_TEST_PRIMARY].mapped, 0, sizeof(struct sockaddr_storage));
	stun_natclass_classify(&in, &r);
	assert_int_equal(r.type, STUN_NATCLASS_TYPE_UNKNOWN);
	assert_int_equal(r.mapped.ss_family, AF_UNSPEC);
	assert_true(r.unlearned & BIT(PRIMARY));

	fill_input(&cases[6], &in); /* udp-blocked */
	in.tcp_mapping = APDM;
	in.hairpin = STUN_NATCLASS_TRI_NO;
	stun_natclass_classify(&in, &r);
	assert_int_equal(r.verdict, STUN_NATCLASS_VERDICT_RELAY_ONLY);
	assert_int_equal(r.hairpin, STUN_NATCLASS_TRI_NO);
	in.tcp_mapping = EIM;
	stun_natclass_classify(&in, &r);
	assert_int_equal(r.verdict, STUN_NATCLASS_VERDICT_TCP_ONLY);
}

/* 4. IPv6 and v4-mapped addresses compare as the same endpoint. */
static void test_stun_natclass_classify_ipv6(void **state)
{
	struct stun_natclass_input in;
	struct stun_natclass_report r;

	fill_input(&cases[0], &in); /* none */
	in.local = addr("::ffff:" NAT_IP, 44461);
	stun_natclass_classify(&in, &r);
	assert_int_equal(r.type, STUN_NATCLASS_TYPE_OPEN_INTERNET);

	memset(&in, 0, sizeof(in));
	in.local = addr("2001:db8::2", 5000);
	in.primary = addr("2001:db8::10", 3478);
	in.alternate = addr("2001:db8::20", 3479);
	in.tests[0] = (struct stun_natclass_result){
	    STUN_NATCLASS_ANSWERED, 0, addr("2001:db8::2", 5000), addr("2001:db8::10", 3478)};
	in.tests[1] = (struct stun_natclass_result){.outcome = STUN_NATCLASS_NO_ANSWER, .order = 1};
	in.tests[2] = (struct stun_natclass_result){.outcome = STUN_NATCLASS_NO_ANSWER, .order = 2};
	stun_natclass_classify(&in, &r);
	assert_int_equal(r.type, STUN_NATCLASS_TYPE_SYMMETRIC_UDP_FIREWALL);
	assert_int_equal(r.filtering, APDM);
	/* Failure: another port is a translation, so no longer a firewall. */
	in.tests[0].mapped = addr("2001:db8::2", 5001);
	stun_natclass_classify(&in, &r);
	assert_int_equal(r.type, STUN_NATCLASS_TYPE_UNKNOWN);
	assert_int_equal(r.port_preserving, STUN_NATCLASS_TRI_NO);
}

/* 5. The names issue 4's JSON uses. */
static void test_stun_natclass_names(void **state)
{
	static const char *const types[] = {"unknown",
					    "open-internet",
					    "full-cone",
					    "restricted-cone",
					    "port-restricted-cone",
					    "symmetric",
					    "symmetric-udp-firewall",
					    "udp-blocked"};

	for (int t = 0; t < STUN_NATCLASS_TYPE_MAX; t++)
		assert_string_equal(stun_natclass_type_name(t), types[t]);
	assert_string_equal(stun_natclass_behaviour_name(EIM), "endpoint-independent");
	assert_string_equal(stun_natclass_behaviour_name(ADM), "address-dependent");
	assert_string_equal(stun_natclass_behaviour_name(APDM), "address-and-port-dependent");
	assert_string_equal(stun_natclass_behaviour_name(UNK), "unknown");
	assert_string_equal(stun_natclass_verdict_name(STUN_NATCLASS_VERDICT_DIRECT),
			    "direct UDP likely");
	assert_string_equal(stun_natclass_verdict_name(STUN_NATCLASS_VERDICT_NEEDS_CONE),
			    "direct UDP needs the peer to be cone");
	assert_string_equal(stun_natclass_verdict_name(STUN_NATCLASS_VERDICT_TCP_ONLY), "TCP only");
	assert_string_equal(stun_natclass_verdict_name(STUN_NATCLASS_VERDICT_RELAY_ONLY),
			    "relay only");
	assert_string_equal(stun_natclass_test_name(STUN_NATCLASS_TEST_ALT_BOTH),
			    "alternate-ip-and-port");
	assert_string_equal(stun_natclass_tri_name(STUN_NATCLASS_TRI_YES), "yes");
	/* Failure: out-of-range values get a fixed name, never a wild read. */
	assert_string_equal(stun_natclass_type_name(STUN_NATCLASS_TYPE_MAX), "unknown");
	assert_string_equal(stun_natclass_behaviour_name(99), "unknown");
	assert_string_equal(stun_natclass_verdict_name(-1), "unknown");
	assert_string_equal(stun_natclass_test_name(STUN_NATCLASS_TEST_MAX), "invalid");
}

/* Builds the server's answer to txn t into buf. */
static size_t answer(const struct stun_client_txn *t, enum stun_class cls, const uint8_t *id,
		     const struct sockaddr_storage *mapped, const struct sockaddr_storage *other,
		     uint8_t *buf, size_t cap)
{
	struct stun_builder b;
	struct sockaddr_storage origin = addr(PRIMARY_IP, PRIMARY_PORT);
	size_t len;

	assert_int_equal(stun_builder_init(&b, buf, cap, STUN_METHOD_BINDING, cls, id ? id : t->id),
			 0);
	if (mapped)
		assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, mapped),
				 0);
	if (other)
		assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_OTHER_ADDRESS, other), 0);
	assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_RESPONSE_ORIGIN, &origin), 0);
	if (cls == STUN_CLASS_ERROR)
		assert_int_equal(stun_builder_add_error_code(&b, 420, "Unknown Attribute"), 0);
	assert_int_equal(stun_builder_finish(&b, true, &len), 0);
	return len;
}

/* 6. A Binding request with CHANGE-REQUEST, its answer matched; wrong
 * transaction IDs, requests and late duplicates are ignored. */
static void test_stun_client_on_response(void **state)
{
	struct sockaddr_storage server = addr(PRIMARY_IP, PRIMARY_PORT),
				mapped = addr(NAT_IP, 51599), other = addr(ALT_IP, ALT_PORT);
	struct stun_client_txn t, t2;
	struct stun_client_response resp;
	struct stun_msg msg;
	uint8_t req[128], buf[256], wrong[16];
	size_t len;
	uint32_t flags;

	assert_int_equal(
	    stun_client_start(&t, &server, STUN_CHANGE_PORT, 1000, 100, 3, req, sizeof(req), &len),
	    0);
	assert_true(stun_msg_parse(&msg, req, len));
	assert_int_equal(msg.cls, STUN_CLASS_REQUEST);
	assert_int_equal(msg.method, STUN_METHOD_BINDING);
	assert_false(msg.rfc3489);
	assert_true(msg.has_fingerprint);
	assert_true(stun_msg_get_change_request(&msg, &flags));
	assert_int_equal(flags, STUN_CHANGE_PORT);
	assert_memory_equal(msg.id, t.id, STUN_ID_LEN);
	assert_int_equal(stun_client_start(&t2, &server, 0, 1000, 100, 3, req, sizeof(req), &len),
			 0);
	assert_memory_not_equal(t.id + 4, t2.id + 4, STUN_TXID_LEN);
	assert_true(stun_msg_parse(&msg, req, len));
	assert_null(stun_msg_find(&msg, STUN_ATTR_CHANGE_REQUEST));

	/* Wrong transaction ID (last byte changed): ignored, still waiting. */
	memcpy(wrong, t.id, sizeof(wrong));
	wrong[15] ^= 1;
	len = answer(&t, STUN_CLASS_SUCCESS, wrong, &mapped, &other, buf, sizeof(buf));
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_int_equal(stun_client_on_response(&t, &msg, &server, &resp), STUN_CLIENT_IGNORED);
	assert_true(t.outstanding);
	/* A request carrying our ID is not an answer. */
	len = answer(&t, STUN_CLASS_REQUEST, NULL, &mapped, NULL, buf, sizeof(buf));
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_int_equal(stun_client_on_response(&t, &msg, &server, &resp), STUN_CLIENT_IGNORED);

	/* The real answer, from the changed port. */
	struct sockaddr_storage from = addr(PRIMARY_IP, ALT_PORT);
	len = answer(&t, STUN_CLASS_SUCCESS, NULL, &mapped, &other, buf, sizeof(buf));
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_int_equal(stun_client_on_response(&t, &msg, &from, &resp), STUN_CLIENT_SUCCESS);
	assert_false(t.outstanding);
	assert_true(stun_client_same_endpoint(&resp.mapped, &mapped));
	assert_true(stun_client_same_endpoint(&resp.other, &other));
	assert_true(stun_client_same_endpoint(&resp.origin, &server));
	assert_true(stun_client_same_endpoint(&resp.from, &from));
	assert_false(resp.other_refused);
	/* The same answer again (a duplicate or a replay) is ignored. */
	assert_int_equal(stun_client_on_response(&t, &msg, &from, &resp), STUN_CLIENT_IGNORED);

	/* An error response ends the transaction with its code. */
	len = answer(&t2, STUN_CLASS_ERROR, NULL, NULL, NULL, buf, sizeof(buf));
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_int_equal(stun_client_on_response(&t2, &msg, &server, &resp), STUN_CLIENT_ERROR);
	assert_int_equal(resp.error_code, 420);
	assert_int_equal(stun_client_next_ms(&t2), UINT64_MAX);
}

/* 7. Answers that are ours but unusable end the transaction as failed. */
static void test_stun_client_on_response_invalid(void **state)
{
	struct sockaddr_storage server = addr(PRIMARY_IP, PRIMARY_PORT), zero = addr("0.0.0.0", 0);
	struct stun_client_txn t;
	struct stun_client_response resp;
	struct stun_builder b;
	struct stun_msg msg;
	uint8_t req[128], buf[256];
	size_t len;

	/* No mapped address at all. */
	assert_int_equal(stun_client_start(&t, &server, 0, 0, 100, 3, req, sizeof(req), &len), 0);
	len = answer(&t, STUN_CLASS_SUCCESS, NULL, NULL, NULL, buf, sizeof(buf));
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_int_equal(stun_client_on_response(&t, &msg, &server, &resp), STUN_CLIENT_INVALID);
	assert_false(t.outstanding);

	/* A mapped address of 0.0.0.0:0. */
	assert_int_equal(stun_client_start(&t, &server, 0, 0, 100, 3, req, sizeof(req), &len), 0);
	len = answer(&t, STUN_CLASS_SUCCESS, NULL, &zero, NULL, buf, sizeof(buf));
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_int_equal(stun_client_on_response(&t, &msg, &server, &resp), STUN_CLIENT_INVALID);
	assert_int_equal(resp.mapped.ss_family, AF_UNSPEC);

	/* An unknown comprehension-required attribute (RFC 8489 6.3.1.1). */
	struct sockaddr_storage mapped = addr(NAT_IP, 4000);
	assert_int_equal(stun_client_start(&t, &server, 0, 0, 100, 3, req, sizeof(req), &len), 0);
	assert_int_equal(
	    stun_builder_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, t.id),
	    0);
	assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped), 0);
	assert_int_equal(stun_builder_add(&b, 0x7ffe, "abcd", 4), 0);
	assert_int_equal(stun_builder_finish(&b, false, &len), 0);
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_int_equal(stun_client_on_response(&t, &msg, &server, &resp), STUN_CLIENT_INVALID);
	/* Control: the same with an optional unknown attribute succeeds. */
	assert_int_equal(stun_client_start(&t, &server, 0, 0, 100, 3, req, sizeof(req), &len), 0);
	assert_int_equal(
	    stun_builder_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, t.id),
	    0);
	assert_int_equal(stun_builder_add_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped), 0);
	assert_int_equal(stun_builder_add(&b, 0xfffe, "abcd", 4), 0);
	assert_int_equal(stun_builder_finish(&b, false, &len), 0);
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_int_equal(stun_client_on_response(&t, &msg, &server, &resp), STUN_CLIENT_SUCCESS);
}

/* 8. OTHER-ADDRESS / CHANGED-ADDRESS targets: only a routable unicast
 * address of the server's family other than the server itself. */
static void test_stun_client_is_safe_target(void **state)
{
	static const struct {
		const char *ip;
		uint16_t port;
		bool safe;
	} targets[] = {
	    {"192.0.2.20", 3479, true},
	    {"192.0.2.10", 3479, true},	 /* same IP, other port: a one-IP server */
	    {"192.0.2.10", 3478, false}, /* the server itself */
	    {"192.0.2.20", 0, false},
	    {"127.0.0.1", 3479, false},
	    {"127.1.2.3", 3479, false},
	    {"0.0.0.0", 3479, false},
	    {"0.1.2.3", 3479, false},
	    {"224.0.0.1", 3479, false},
	    {"239.255.255.250", 1900, false},
	    {"255.255.255.255", 3479, false},
	    {"169.254.1.1", 3479, false},
	    {"::ffff:127.0.0.1", 3479, false},
	    {"::ffff:192.0.2.20", 3479, true},
	    {"2001:db8::20", 3479, false}, /* family differs from the server's */
	};
	struct sockaddr_storage server = addr(PRIMARY_IP, PRIMARY_PORT);
	struct sockaddr_storage server6 = addr("2001:db8::10", 3478);

	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		struct sockaddr_storage t = addr(targets[i].ip, targets[i].port);
		if (stun_client_is_safe_target(&t, &server) != targets[i].safe)
			fail_msg("target %s:%u: want %s", targets[i].ip, targets[i].port,
				 targets[i].safe ? "safe" : "refused");
	}
	static const struct {
		const char *ip;
		bool safe;
	} targets6[] = {
	    {"2001:db8::20", true}, {"::", false},	{"::1", false},
	    {"ff02::1", false},	    {"fe80::1", false}, {"192.0.2.20", false},
	};
	for (size_t i = 0; i < sizeof(targets6) / sizeof(targets6[0]); i++) {
		struct sockaddr_storage t = addr(targets6[i].ip, 3479);
		if (stun_client_is_safe_target(&t, &server6) != targets6[i].safe)
			fail_msg("target [%s]: want %s", targets6[i].ip,
				 targets6[i].safe ? "safe" : "refused");
	}

	/* Through a response: a loopback OTHER-ADDRESS is dropped and flagged. */
	struct stun_client_txn t;
	struct stun_client_response resp;
	struct stun_msg msg;
	struct sockaddr_storage mapped = addr(NAT_IP, 4000), lo = addr("127.0.0.1", 3479);
	uint8_t req[128], buf[256];
	size_t len;

	assert_int_equal(stun_client_start(&t, &server, 0, 0, 100, 3, req, sizeof(req), &len), 0);
	len = answer(&t, STUN_CLASS_SUCCESS, NULL, &mapped, &lo, buf, sizeof(buf));
	assert_true(stun_msg_parse(&msg, buf, len));
	assert_int_equal(stun_client_on_response(&t, &msg, &server, &resp), STUN_CLIENT_SUCCESS);
	assert_int_equal(resp.other.ss_family, AF_UNSPEC);
	assert_true(resp.other_refused);
}

/* 9. Retransmission: rto, 2 rto, then give up; never past the budget. */
static void test_stun_client_on_timer(void **state)
{
	struct sockaddr_storage server = addr(PRIMARY_IP, PRIMARY_PORT), un = {0};
	struct stun_client_txn t;
	uint8_t req[128];
	size_t len;

	assert_int_equal(stun_client_start(&t, &server, 0, 1000, 100, 3, req, sizeof(req), &len),
			 0);
	assert_int_equal(stun_client_next_ms(&t), 1100);
	assert_int_equal(stun_client_on_timer(&t, 1099), STUN_CLIENT_WAIT);
	assert_int_equal(stun_client_on_timer(&t, 1100), STUN_CLIENT_RESEND);
	assert_int_equal(stun_client_next_ms(&t), 1300);
	assert_int_equal(stun_client_on_timer(&t, 1299), STUN_CLIENT_WAIT);
	assert_int_equal(stun_client_on_timer(&t, 1300), STUN_CLIENT_RESEND);
	assert_int_equal(stun_client_next_ms(&t), 1700);
	assert_int_equal(stun_client_on_timer(&t, 1700), STUN_CLIENT_TIMEOUT);
	assert_int_equal(stun_client_on_timer(&t, 1800), STUN_CLIENT_IDLE);
	assert_int_equal(stun_client_next_ms(&t), UINT64_MAX);

	/* Failure: bad arguments and a buffer too small for the request. */
	assert_int_equal(stun_client_start(&t, &server, 0, 0, 0, 3, req, sizeof(req), &len),
			 -EINVAL);
	assert_int_equal(stun_client_start(&t, &server, 0, 0, 100, 0, req, sizeof(req), &len),
			 -EINVAL);
	assert_int_equal(stun_client_start(&t, &un, 0, 0, 100, 3, req, sizeof(req), &len), -EINVAL);
	assert_int_equal(stun_client_start(&t, &server, 0x1, 0, 100, 3, req, sizeof(req), &len),
			 -EINVAL);
	assert_int_equal(stun_client_start(&t, &server, 0, 0, 100, 3, req, 27, &len), -ENOSPC);
	assert_false(t.outstanding);
	assert_int_equal(stun_client_on_timer(&t, 5000), STUN_CLIENT_IDLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stun_natclass_classify_table),
	    cmocka_unit_test(test_stun_natclass_classify_port_step),
	    cmocka_unit_test(test_stun_natclass_classify_untrusted),
	    cmocka_unit_test(test_stun_natclass_classify_ipv6),
	    cmocka_unit_test(test_stun_natclass_names),
	    cmocka_unit_test(test_stun_client_on_response),
	    cmocka_unit_test(test_stun_client_on_response_invalid),
	    cmocka_unit_test(test_stun_client_is_safe_target),
	    cmocka_unit_test(test_stun_client_on_timer),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
