/* Socket addresses for both daemons: the one home of what every module
 * needs of a struct sockaddr_storage (its port, its length for a syscall,
 * equality, v4-mapped IPv6 to and from AF_INET, text for logs), and the
 * rules for host and reflexive candidates, shared by the rendezvous (what
 * a REGISTER offers) and by p2pvpnd (what an INTRODUCE hands it).
 *
 * Candidates: a candidate is an address a stranger chose; these rules keep
 * a peer from being turned against its own host (loopback), its own link
 * (link-local, multicast, broadcast) or the rendezvous itself. Private
 * ranges and the documentation ranges stay allowed: LAN host candidates are
 * private. */
#pragma once
#include <stdbool.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
	/* Text of addr_format, NUL included: "[" INET6_ADDRSTRLEN "]:65535". */
	ADDR_STRLEN = INET6_ADDRSTRLEN + 8,
};

/* True for an AF_INET or AF_INET6 address (the only families below know). */
bool addr_is_ip(const struct sockaddr_storage *a);
/* out = the AF_INET (ip: 4 bytes) or AF_INET6 (ip: 16 bytes) address ip
 * with port (host order), the rest of the storage zeroed, as netlink and
 * wire formats hand over an address. False for any other family (out all
 * zero). */
bool addr_from_ip(struct sockaddr_storage *out, int family, const void *ip, uint16_t port);
/* The port in host order; 0 for a family without one. */
uint16_t addr_port(const struct sockaddr_storage *a);
/* Sets the port (host order) of an AF_INET or AF_INET6 address; any other
 * family is left as it is. */
void addr_set_port(struct sockaddr_storage *a, uint16_t port);
/* The length to pass with a to bind, connect or sendto: the size of a
 * sockaddr_in or sockaddr_in6, 0 for any other family. */
socklen_t addr_len(const struct sockaddr_storage *a);
/* True for the wildcard address of its family, 0.0.0.0 or :: (any port). */
bool addr_is_any(const struct sockaddr_storage *a);
/* True when a is ::ffff:a.b.c.d (an IPv4 peer as a dual-stack socket sees it). */
bool addr_is_v4_mapped(const struct sockaddr_storage *a);
/* ::ffff:a.b.c.d:port as AF_INET a.b.c.d:port, in place (the rest of the
 * storage zeroed); any other address is left as it is. */
void addr_unmap_v4(struct sockaddr_storage *a);
/* out = in as an AF_INET6 socket takes it: AF_INET a.b.c.d:port becomes
 * ::ffff:a.b.c.d:port (the rest zeroed), anything else is copied. out may
 * be in. */
void addr_map_v4(struct sockaddr_storage *out, const struct sockaddr_storage *in);
/* Same family, address and port (and scope id for IPv6). False for any
 * other family; no v4-mapped folding: unmap both first where a dual-stack
 * socket may hand either form. */
bool addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* Same IP, ports and scope ids aside, a v4-mapped address equal to its
 * AF_INET form. False unless both are IP addresses. */
bool addr_equal_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* "192.0.2.1:51820" or "[2001:db8::1]:51820" into buf (v4-mapped shown as
 * "[::ffff:192.0.2.1]:51820", no scope id), "(none)" for any other family;
 * cut to size - 1 characters, always terminated when size > 0 (ADDR_STRLEN
 * holds every address). Returns buf, for use as a printf argument. */
const char *addr_format(char *buf, size_t size, const struct sockaddr_storage *a);

/* The source address the kernel would give a datagram to `to` (a route
 * lookup: connect() of a UDP socket, which sends nothing), port 0, a
 * v4-mapped one as AF_INET. 0 or -errno (-ENETUNREACH: no route). */
int addr_source_towards(const struct sockaddr_storage *to, struct sockaddr_storage *out);

/* Why addr_candidate_ok refused an address (ADDR_OK: it did not). */
enum addr_reason {
	ADDR_OK = 0,
	ADDR_BAD_FAMILY,   /* neither AF_INET nor AF_INET6 */
	ADDR_PORT_ZERO,	   /* port 0 */
	ADDR_UNSPECIFIED,  /* 0.0.0.0, :: */
	ADDR_THIS_NETWORK, /* 0.0.0.0/8 */
	ADDR_LOOPBACK,	   /* 127.0.0.0/8, ::1 */
	ADDR_MULTICAST,	   /* 224.0.0.0/4, ff00::/8 */
	ADDR_LINK_LOCAL,   /* 169.254.0.0/16, fe80::/10 */
	ADDR_BROADCAST,	   /* 255.255.255.255 */
	ADDR_RESERVED,	   /* 240.0.0.0/4 (class E) */
	ADDR_V4_MAPPED,	   /* ::ffff:0:0/96: IPv4 has one encoding, AF_INET */
	ADDR_V4_COMPAT,	   /* ::/96 (deprecated IPv4-compatible) */
	ADDR_OWN,	   /* one of own[] (address match, any port) */
	ADDR_REASON_MAX,
};

/* True when a may be used as a candidate: an AF_INET or AF_INET6 address
 * with a non-zero port, none of the classes of enum addr_reason, and not
 * the address of any of own[0..n_own) (an own entry in v4-mapped form
 * matches the plain IPv4 address). When why is not NULL it receives the
 * reason (ADDR_OK when true). */
bool addr_candidate_ok(const struct sockaddr_storage *a, const struct sockaddr_storage *own,
		       size_t n_own, enum addr_reason *why) __attribute__((warn_unused_result));
/* A short name of the reason, for logs ("loopback", "own address"...). */
const char *addr_reason_name(enum addr_reason why);
