/* NAT behaviour classification from STUN test results, with no I/O: the
 * caller (p2pvpnctl natcheck, the path engine) runs the Binding tests with
 * stun/client.h and hands in what each one saw; this computes the RFC 3489
 * section 10.1 type, the RFC 5780 section 4.3 mapping and 4.4 filtering
 * behaviour, port preservation, the port step of sequential allocation, and
 * a one-line verdict of what the VPN can do from here.
 *
 * The five tests, by where the request goes and what it asks:
 *
 *   test          destination              CHANGE-REQUEST  RFC 3489       RFC 5780
 *   PRIMARY       primary IP, primary port -               Test I         4.3 test I
 *   CHANGE_BOTH   primary IP, primary port IP and port     Test II        4.4 test II
 *   CHANGE_PORT   primary IP, primary port port            Test III       4.4 test III
 *   ALT_IP        alternate IP, primary port -             -              4.3 test II
 *   ALT_BOTH      alternate IP and port    -               Test I to      4.3 test III
 *                                                          CHANGED-ADDRESS
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum stun_natclass_test {
	STUN_NATCLASS_TEST_PRIMARY,
	STUN_NATCLASS_TEST_CHANGE_BOTH,
	STUN_NATCLASS_TEST_CHANGE_PORT,
	STUN_NATCLASS_TEST_ALT_IP,
	STUN_NATCLASS_TEST_ALT_BOTH,
	STUN_NATCLASS_TEST_MAX,
};

enum stun_natclass_outcome {
	STUN_NATCLASS_NOT_RUN = 0, /* not sent, e.g. the server has no alternate address */
	STUN_NATCLASS_NO_ANSWER,   /* sent and retransmitted, nothing came back */
	STUN_NATCLASS_ANSWERED,	   /* a success response: mapped and from are set */
	STUN_NATCLASS_REFUSED,	   /* an error response (420: no CHANGE-REQUEST support) */
};

/* The RFC 3489 section 5 types; UNKNOWN when the tests needed did not run. */
enum stun_natclass_type {
	STUN_NATCLASS_TYPE_UNKNOWN = 0,
	STUN_NATCLASS_TYPE_OPEN_INTERNET,
	STUN_NATCLASS_TYPE_FULL_CONE,
	STUN_NATCLASS_TYPE_RESTRICTED_CONE,
	STUN_NATCLASS_TYPE_PORT_RESTRICTED_CONE,
	STUN_NATCLASS_TYPE_SYMMETRIC,
	STUN_NATCLASS_TYPE_SYMMETRIC_UDP_FIREWALL,
	STUN_NATCLASS_TYPE_UDP_BLOCKED,
	STUN_NATCLASS_TYPE_MAX,
};

/* RFC 4787 / RFC 5780 mapping and filtering behaviour. */
enum stun_natclass_behaviour {
	STUN_NATCLASS_UNKNOWN = 0,
	STUN_NATCLASS_ENDPOINT_INDEPENDENT,
	STUN_NATCLASS_ADDRESS_DEPENDENT,
	STUN_NATCLASS_ADDRESS_AND_PORT_DEPENDENT,
	STUN_NATCLASS_BEHAVIOUR_MAX,
};

enum stun_natclass_tri {
	STUN_NATCLASS_TRI_UNKNOWN = 0,
	STUN_NATCLASS_TRI_NO,
	STUN_NATCLASS_TRI_YES,
};

enum stun_natclass_verdict {
	STUN_NATCLASS_VERDICT_UNKNOWN = 0,
	STUN_NATCLASS_VERDICT_DIRECT,	  /* endpoint-independent mapping or filtering */
	STUN_NATCLASS_VERDICT_NEEDS_CONE, /* mapping depends on the peer, UDP works */
	STUN_NATCLASS_VERDICT_TCP_ONLY,	  /* UDP blocked, TCP simultaneous open left */
	STUN_NATCLASS_VERDICT_RELAY_ONLY, /* UDP blocked and TCP mapping not reusable */
	STUN_NATCLASS_VERDICT_MAX,
};

/* Port steps up to this size count as sequential allocation. */
#define STUN_NATCLASS_MAX_STEP 16

struct stun_natclass_result {
	enum stun_natclass_outcome outcome;
	unsigned order;			/* when its first request left, relative to the others */
	struct sockaddr_storage mapped; /* the reflexive address the response gave */
	struct sockaddr_storage from;	/* the source address of the response datagram */
};

struct stun_natclass_input {
	/* The socket's own address as the server would see it without a NAT
	 * (the interface address, not a wildcard bind). */
	struct sockaddr_storage local;
	struct sockaddr_storage primary;   /* where PRIMARY was sent */
	struct sockaddr_storage alternate; /* OTHER-/CHANGED-ADDRESS; AF_UNSPEC if none */
	struct stun_natclass_result tests[STUN_NATCLASS_TEST_MAX];
	enum stun_natclass_tri hairpin;		  /* as measured, or unknown */
	enum stun_natclass_behaviour tcp_mapping; /* TCP mapping, if measured */
};

struct stun_natclass_report {
	enum stun_natclass_type type;
	enum stun_natclass_behaviour mapping;
	enum stun_natclass_behaviour filtering;
	struct sockaddr_storage mapped; /* PRIMARY's answer; AF_UNSPEC when none */
	enum stun_natclass_tri port_preserving;
	enum stun_natclass_tri hairpin;
	bool has_port_step;
	int port_step; /* mapped port of one new mapping minus the previous one */
	enum stun_natclass_verdict verdict;
	/* Bit (1 << test) for each test that gave no usable result although it
	 * was meant to run: not run, refused, or a change test answered from an
	 * address that shows the server did not make the change. */
	unsigned unlearned;
	/* Bit (1 << test) for the change tests among those last ones. */
	unsigned change_ignored;
};

/* Classifies; never fails: what cannot be derived is reported UNKNOWN. */
void stun_natclass_classify(const struct stun_natclass_input *in, struct stun_natclass_report *out);

/* Stable names, as in natcheck's JSON: "port-restricted-cone",
 * "address-and-port-dependent"… UNKNOWN values are "unknown" (JSON null). */
const char *stun_natclass_type_name(enum stun_natclass_type type);
const char *stun_natclass_behaviour_name(enum stun_natclass_behaviour b);
const char *stun_natclass_tri_name(enum stun_natclass_tri t);
/* "direct UDP likely", "direct UDP needs the peer to be cone", "TCP only",
 * "relay only", "unknown". */
const char *stun_natclass_verdict_name(enum stun_natclass_verdict v);
/* "primary", "change-ip-and-port", "change-port", "alternate-ip",
 * "alternate-ip-and-port", for naming what could not be learned. */
const char *stun_natclass_test_name(enum stun_natclass_test test);
