/* Which addresses a peer may be told to probe, or may probe when told: the
 * rules for host and reflexive candidates, shared by the rendezvous (what a
 * REGISTER offers) and by p2pvpnd (what an INTRODUCE hands it). A candidate
 * is an address a stranger chose; these rules keep a peer from being turned
 * against its own host (loopback), its own link (link-local, multicast,
 * broadcast) or the rendezvous itself. Private ranges and the documentation
 * ranges stay allowed: LAN host candidates are private. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

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
