/* Parsers for the value kinds of both config files, shared with p2pvpnctl so
 * that the CLI and the files accept exactly the same text. None of them does
 * I/O: names are never resolved here. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An IPv4 or IPv6 prefix; addr holds 4 or 16 bytes in network order. */
struct cfg_prefix {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t plen;
};

enum {
	CFG_PREFIX_STRLEN = 46 + 4,   /* INET6_ADDRSTRLEN + "/128" */
	CFG_ENDPOINT_STRLEN = 46 + 8, /* INET6_ADDRSTRLEN + "[]:65535" */
};

/* Parses "ADDR/LEN" (or a bare ADDR as a host prefix). Without
 * allow_host_bits a prefix with bits set past LEN is refused. */
bool cfg_parse_prefix(const char *s, bool allow_host_bits, struct cfg_prefix *out)
    __attribute__((warn_unused_result));
/* Parses a numeric "a.b.c.d:PORT" or "[IPv6]:PORT", port 1-65535; out is
 * left untouched on failure. Host names are refused (see cfg_resolve_endpoint). */
bool cfg_parse_endpoint(const char *s, struct sockaddr_storage *out)
    __attribute__((warn_unused_result));
/* Parses a bare IPv4 or IPv6 address (no port, no brackets); port left 0. */
bool cfg_parse_address(const char *s, struct sockaddr_storage *out)
    __attribute__((warn_unused_result));
/* Parses yes/no (also true/false, on/off, 1/0; any case). */
bool cfg_parse_bool(const char *s, bool *out) __attribute__((warn_unused_result));
/* Parses a decimal integer in [min, max]: no sign, no spaces, no leading zeros. */
bool cfg_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
    __attribute__((warn_unused_result));
/* True when s is a name the kernel accepts for a network interface. */
bool cfg_parse_ifname(const char *s) __attribute__((warn_unused_result));
/* True for "HOST:PORT" with a syntactically valid DNS name and port. */
bool cfg_parse_hostport(const char *s) __attribute__((warn_unused_result));
/* Resolves "HOST:PORT" with getaddrinfo (numeric port only). Does network I/O;
 * returns 0 or an EAI_* code for gai_strerror. */
int cfg_resolve_endpoint(const char *s, struct sockaddr_storage *out);

/* "10.0.0.0/8", "fd00::/64". len >= CFG_PREFIX_STRLEN never truncates. */
void cfg_prefix_to_string(const struct cfg_prefix *p, char *buf, size_t len);
/* "IP:PORT" or "[IPv6]:PORT". len >= CFG_ENDPOINT_STRLEN never truncates. */
void cfg_endpoint_to_string(const struct sockaddr_storage *ss, char *buf, size_t len);
/* True when every address of inner lies in outer (same family only). */
bool cfg_prefix_contains(const struct cfg_prefix *outer, const struct cfg_prefix *inner);
/* True when the two prefixes share at least one address. */
bool cfg_prefix_overlaps(const struct cfg_prefix *a, const struct cfg_prefix *b);
/* True when both hold the same family, address and port. */
bool cfg_endpoint_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* True for an address a packet can be sent to: not unspecified, multicast
 * or broadcast, and with a non-zero port. */
bool cfg_endpoint_is_unicast(const struct sockaddr_storage *ss);
