/* NAT classification. Each test result is first reduced to yes (a usable
 * answer), no (sent, no answer) or unknown (not run, refused, or an answer
 * that cannot be trusted for what the test asks). A change test counts only
 * if the answer really came from the changed address: a server that ignores
 * CHANGE-REQUEST and answers from its primary address would otherwise make
 * every NAT look full-cone (SECURITY-NOTES section 6 item 23). Then mapping,
 * filtering and the RFC 3489 type are derived by the flows of RFC 5780
 * sections 4.3 and 4.4 and RFC 3489 section 10.1, each falling back to
 * "unknown" only where the missing tests leave more than one answer open. */
#include "stun/natclass.h"

#include <stdlib.h>
#include <string.h>

#include "stun/client.h"

enum status { ST_UNKNOWN, ST_NO, ST_YES };

struct ctx {
	const struct stun_natclass_input *in;
	struct stun_natclass_report *out;
	enum status st[STUN_NATCLASS_TEST_MAX];
	bool has_alternate;
	bool alt_ip_differs; /* the alternate address has an IP of its own */
	bool no_translation; /* PRIMARY saw our own address: no NAT on the path */
};

static const struct sockaddr_storage *mapped(const struct ctx *c, enum stun_natclass_test t)
{
	return &c->in->tests[t].mapped;
}

/* Whether an answer to a change test came from where the change puts it:
 * another IP and port for CHANGE_BOTH, the same IP and another port for
 * CHANGE_PORT (RFC 5780 section 7.2). */
static bool change_made(const struct ctx *c, enum stun_natclass_test t)
{
	const struct sockaddr_storage *from = &c->in->tests[t].from;
	const struct sockaddr_storage *primary = &c->in->primary;
	bool port_changed =
	    stun_client_port(from) != 0 && stun_client_port(from) != stun_client_port(primary);

	if (t == STUN_NATCLASS_TEST_CHANGE_BOTH)
		return port_changed && !stun_client_same_ip(from, primary);
	if (t == STUN_NATCLASS_TEST_CHANGE_PORT)
		return port_changed && stun_client_same_ip(from, primary);
	return true;
}

static enum status status_of(struct ctx *c, enum stun_natclass_test t)
{
	const struct stun_natclass_result *r = &c->in->tests[t];
	bool alt = t == STUN_NATCLASS_TEST_ALT_IP || t == STUN_NATCLASS_TEST_ALT_BOTH;

	/* Without an alternate address the alternate tests have no meaning,
	 * and ALT_IP with the primary's IP would repeat PRIMARY. */
	if (alt && (!c->has_alternate || (t == STUN_NATCLASS_TEST_ALT_IP && !c->alt_ip_differs)))
		return ST_UNKNOWN;
	switch (r->outcome) {
	case STUN_NATCLASS_NO_ANSWER:
		return ST_NO;
	case STUN_NATCLASS_ANSWERED:
		if (stun_client_port(&r->mapped) == 0)
			return ST_UNKNOWN;
		if (!change_made(c, t)) {
			c->out->change_ignored |= 1u << t;
			return ST_UNKNOWN;
		}
		return ST_YES;
	case STUN_NATCLASS_NOT_RUN:
	case STUN_NATCLASS_REFUSED:
		break;
	}
	return ST_UNKNOWN;
}

static bool same_mapping(const struct ctx *c, enum stun_natclass_test a, enum stun_natclass_test b)
{
	return stun_client_same_endpoint(mapped(c, a), mapped(c, b));
}

/* RFC 5780 section 4.3; *dependent is set when the mapping is known to
 * change with the destination even if which kind is not known. */
static enum stun_natclass_behaviour mapping_of(const struct ctx *c, bool *dependent)
{
	enum status ip = c->st[STUN_NATCLASS_TEST_ALT_IP],
		    both = c->st[STUN_NATCLASS_TEST_ALT_BOTH];

	*dependent = false;
	if (c->st[STUN_NATCLASS_TEST_PRIMARY] != ST_YES)
		return STUN_NATCLASS_UNKNOWN;
	/* No translation at all: the mapping cannot depend on the destination. */
	if (c->no_translation)
		return STUN_NATCLASS_ENDPOINT_INDEPENDENT;
	if (ip == ST_YES) {
		if (same_mapping(c, STUN_NATCLASS_TEST_ALT_IP, STUN_NATCLASS_TEST_PRIMARY))
			return STUN_NATCLASS_ENDPOINT_INDEPENDENT;
		*dependent = true;
		if (both != ST_YES)
			return STUN_NATCLASS_UNKNOWN;
		return same_mapping(c, STUN_NATCLASS_TEST_ALT_BOTH, STUN_NATCLASS_TEST_ALT_IP)
			   ? STUN_NATCLASS_ADDRESS_DEPENDENT
			   : STUN_NATCLASS_ADDRESS_AND_PORT_DEPENDENT;
	}
	if (both != ST_YES)
		return STUN_NATCLASS_UNKNOWN;
	/* Only ALT_BOTH (the RFC 3489 flow): a destination differing in IP and
	 * port kept the mapping, so nothing it depends on changed it. With the
	 * same IP only the port differed, which rules out address-and-port
	 * dependence and nothing else. */
	if (same_mapping(c, STUN_NATCLASS_TEST_ALT_BOTH, STUN_NATCLASS_TEST_PRIMARY))
		return c->alt_ip_differs ? STUN_NATCLASS_ENDPOINT_INDEPENDENT
					 : STUN_NATCLASS_UNKNOWN;
	*dependent = true;
	return c->alt_ip_differs ? STUN_NATCLASS_UNKNOWN : STUN_NATCLASS_ADDRESS_AND_PORT_DEPENDENT;
}

/* RFC 5780 section 4.4. A change-port test without an answer already rules
 * out the two more open behaviours, whatever became of CHANGE_BOTH. */
static enum stun_natclass_behaviour filtering_of(const struct ctx *c)
{
	enum status both = c->st[STUN_NATCLASS_TEST_CHANGE_BOTH];
	enum status port = c->st[STUN_NATCLASS_TEST_CHANGE_PORT];

	if (c->st[STUN_NATCLASS_TEST_PRIMARY] != ST_YES)
		return STUN_NATCLASS_UNKNOWN;
	if (both == ST_YES)
		return STUN_NATCLASS_ENDPOINT_INDEPENDENT;
	if (port == ST_NO)
		return STUN_NATCLASS_ADDRESS_AND_PORT_DEPENDENT;
	if (both == ST_NO && port == ST_YES)
		return STUN_NATCLASS_ADDRESS_DEPENDENT;
	return STUN_NATCLASS_UNKNOWN;
}

/* RFC 3489 section 10.1, with the mapping result standing in for "Test I
 * to the changed address" so that RFC 5780 results feed it too. Its
 * symmetric NAT is any mapping that depends on the destination. */
static enum stun_natclass_type type_of(const struct ctx *c, bool dependent)
{
	enum status p = c->st[STUN_NATCLASS_TEST_PRIMARY];
	enum status both = c->st[STUN_NATCLASS_TEST_CHANGE_BOTH];
	enum status port = c->st[STUN_NATCLASS_TEST_CHANGE_PORT];

	if (p == ST_NO)
		return STUN_NATCLASS_TYPE_UDP_BLOCKED;
	if (p != ST_YES)
		return STUN_NATCLASS_TYPE_UNKNOWN;
	if (c->no_translation) {
		if (both == ST_UNKNOWN)
			return STUN_NATCLASS_TYPE_UNKNOWN;
		return both == ST_YES ? STUN_NATCLASS_TYPE_OPEN_INTERNET
				      : STUN_NATCLASS_TYPE_SYMMETRIC_UDP_FIREWALL;
	}
	if (both == ST_YES)
		return STUN_NATCLASS_TYPE_FULL_CONE;
	if (dependent)
		return STUN_NATCLASS_TYPE_SYMMETRIC;
	if (both == ST_NO && c->out->mapping == STUN_NATCLASS_ENDPOINT_INDEPENDENT) {
		if (port == ST_YES)
			return STUN_NATCLASS_TYPE_RESTRICTED_CONE;
		if (port == ST_NO)
			return STUN_NATCLASS_TYPE_PORT_RESTRICTED_CONE;
	}
	return STUN_NATCLASS_TYPE_UNKNOWN;
}

struct port_sample {
	unsigned order, test;
	const struct sockaddr_storage *mapped;
};

static int by_order(const void *a, const void *b)
{
	const struct port_sample *x = a, *y = b;

	if (x->order != y->order)
		return (x->order > y->order) - (x->order < y->order);
	return (x->test > y->test) - (x->test < y->test);
}

/* The step between the mapped ports of new mappings (one per destination),
 * in the order the requests left; reported only when every step is the same
 * small non-zero number on one external IP. */
static void port_step_of(const struct ctx *c)
{
	static const enum stun_natclass_test dests[] = {
	    STUN_NATCLASS_TEST_PRIMARY, STUN_NATCLASS_TEST_ALT_IP, STUN_NATCLASS_TEST_ALT_BOTH};
	struct port_sample s[3];
	size_t n = 0;
	int step = 0;

	for (size_t i = 0; i < 3; i++)
		if (c->st[dests[i]] == ST_YES)
			s[n++] = (struct port_sample){c->in->tests[dests[i]].order, dests[i],
						      mapped(c, dests[i])};
	if (n < 2)
		return;
	qsort(s, n, sizeof(s[0]), by_order);
	for (size_t i = 1; i < n; i++) {
		int d = (int)stun_client_port(s[i].mapped) - (int)stun_client_port(s[i - 1].mapped);

		if (!stun_client_same_ip(s[i].mapped, s[0].mapped) || d == 0 ||
		    abs(d) > STUN_NATCLASS_MAX_STEP || (i > 1 && d != step))
			return;
		step = d;
	}
	c->out->has_port_step = true;
	c->out->port_step = step;
}

static enum stun_natclass_verdict verdict_of(const struct ctx *c, bool dependent)
{
	const struct stun_natclass_report *r = c->out;

	if (r->type == STUN_NATCLASS_TYPE_UDP_BLOCKED)
		return c->in->tcp_mapping == STUN_NATCLASS_ADDRESS_DEPENDENT ||
			       c->in->tcp_mapping == STUN_NATCLASS_ADDRESS_AND_PORT_DEPENDENT
			   ? STUN_NATCLASS_VERDICT_RELAY_ONLY
			   : STUN_NATCLASS_VERDICT_TCP_ONLY;
	/* A peer can reach an endpoint-independent mapping, and with
	 * endpoint-independent filtering any mapping, from wherever it is. */
	if (r->mapping == STUN_NATCLASS_ENDPOINT_INDEPENDENT ||
	    r->filtering == STUN_NATCLASS_ENDPOINT_INDEPENDENT)
		return STUN_NATCLASS_VERDICT_DIRECT;
	if (dependent)
		return STUN_NATCLASS_VERDICT_NEEDS_CONE;
	return STUN_NATCLASS_VERDICT_UNKNOWN;
}

void stun_natclass_classify(const struct stun_natclass_input *in, struct stun_natclass_report *out)
{
	struct ctx c = {.in = in, .out = out};
	bool dependent;

	memset(out, 0, sizeof(*out));
	c.has_alternate = in->alternate.ss_family == AF_INET || in->alternate.ss_family == AF_INET6;
	c.alt_ip_differs = c.has_alternate && !stun_client_same_ip(&in->alternate, &in->primary);
	for (int t = 0; t < STUN_NATCLASS_TEST_MAX; t++) {
		c.st[t] = status_of(&c, t);
		if (c.st[t] == ST_UNKNOWN && (in->tests[t].outcome != STUN_NATCLASS_NOT_RUN ||
					      c.st[STUN_NATCLASS_TEST_PRIMARY] != ST_NO))
			out->unlearned |= 1u << t;
	}
	if (c.st[STUN_NATCLASS_TEST_PRIMARY] == ST_YES) {
		out->mapped = in->tests[STUN_NATCLASS_TEST_PRIMARY].mapped;
		c.no_translation = stun_client_same_endpoint(&out->mapped, &in->local);
		out->port_preserving =
		    stun_client_port(&out->mapped) == stun_client_port(&in->local)
			? STUN_NATCLASS_TRI_YES
			: STUN_NATCLASS_TRI_NO;
	}
	out->mapping = mapping_of(&c, &dependent);
	out->filtering = filtering_of(&c);
	out->type = type_of(&c, dependent);
	out->hairpin = in->hairpin;
	port_step_of(&c);
	out->verdict = verdict_of(&c, dependent);
}

const char *stun_natclass_type_name(enum stun_natclass_type type)
{
	static const char *const names[STUN_NATCLASS_TYPE_MAX] = {
	    [STUN_NATCLASS_TYPE_UNKNOWN] = "unknown",
	    [STUN_NATCLASS_TYPE_OPEN_INTERNET] = "open-internet",
	    [STUN_NATCLASS_TYPE_FULL_CONE] = "full-cone",
	    [STUN_NATCLASS_TYPE_RESTRICTED_CONE] = "restricted-cone",
	    [STUN_NATCLASS_TYPE_PORT_RESTRICTED_CONE] = "port-restricted-cone",
	    [STUN_NATCLASS_TYPE_SYMMETRIC] = "symmetric",
	    [STUN_NATCLASS_TYPE_SYMMETRIC_UDP_FIREWALL] = "symmetric-udp-firewall",
	    [STUN_NATCLASS_TYPE_UDP_BLOCKED] = "udp-blocked",
	};

	return (unsigned)type < STUN_NATCLASS_TYPE_MAX ? names[type] : "unknown";
}

const char *stun_natclass_behaviour_name(enum stun_natclass_behaviour b)
{
	static const char *const names[STUN_NATCLASS_BEHAVIOUR_MAX] = {
	    [STUN_NATCLASS_UNKNOWN] = "unknown",
	    [STUN_NATCLASS_ENDPOINT_INDEPENDENT] = "endpoint-independent",
	    [STUN_NATCLASS_ADDRESS_DEPENDENT] = "address-dependent",
	    [STUN_NATCLASS_ADDRESS_AND_PORT_DEPENDENT] = "address-and-port-dependent",
	};

	return (unsigned)b < STUN_NATCLASS_BEHAVIOUR_MAX ? names[b] : "unknown";
}

const char *stun_natclass_tri_name(enum stun_natclass_tri t)
{
	return t == STUN_NATCLASS_TRI_YES ? "yes" : t == STUN_NATCLASS_TRI_NO ? "no" : "unknown";
}

const char *stun_natclass_verdict_name(enum stun_natclass_verdict v)
{
	static const char *const names[STUN_NATCLASS_VERDICT_MAX] = {
	    [STUN_NATCLASS_VERDICT_UNKNOWN] = "unknown",
	    [STUN_NATCLASS_VERDICT_DIRECT] = "direct UDP likely",
	    [STUN_NATCLASS_VERDICT_NEEDS_CONE] = "direct UDP needs the peer to be cone",
	    [STUN_NATCLASS_VERDICT_TCP_ONLY] = "TCP only",
	    [STUN_NATCLASS_VERDICT_RELAY_ONLY] = "relay only",
	};

	return (unsigned)v < STUN_NATCLASS_VERDICT_MAX ? names[v] : "unknown";
}

const char *stun_natclass_test_name(enum stun_natclass_test test)
{
	static const char *const names[STUN_NATCLASS_TEST_MAX] = {
	    [STUN_NATCLASS_TEST_PRIMARY] = "primary",
	    [STUN_NATCLASS_TEST_CHANGE_BOTH] = "change-ip-and-port",
	    [STUN_NATCLASS_TEST_CHANGE_PORT] = "change-port",
	    [STUN_NATCLASS_TEST_ALT_IP] = "alternate-ip",
	    [STUN_NATCLASS_TEST_ALT_BOTH] = "alternate-ip-and-port",
	};

	return (unsigned)test < STUN_NATCLASS_TEST_MAX ? names[test] : "invalid";
}
