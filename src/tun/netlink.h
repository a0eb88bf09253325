/* rtnetlink through libmnl: the only code that changes links, addresses and
 * routes. Each call is one synchronous request answered by the kernel's ack
 * (or a dump ending in NLMSG_DONE) on a private NETLINK_ROUTE socket; replies
 * are matched by sequence number and accepted only from the kernel.
 *
 * Order for bringing up the tunnel: nl_link_set_mtu, nl_addr_add, then
 * nl_link_set_up, then nl_route_add (the kernel refuses a route through a
 * link that is down). Addresses are raw network-order bytes: 4 for AF_INET,
 * 16 for AF_INET6. All calls return 0 or -errno (-EINVAL for ifindex <= 0 or
 * a prefix length too long for the family, -EAFNOSUPPORT for another family,
 * else the kernel's answer). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct mnl_socket;

struct nl_sock {
	struct mnl_socket *mnl;
	unsigned portid;
	unsigned seq;
	/* The kernel's extended ack text for the last failed request ("" if it gave
	 * none), for the log line that reports the failure. */
	char err_msg[128];
};

/* One address as listed by nl_addr_dump. */
struct nl_addr {
	int ifindex;
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t plen;
	uint32_t flags; /* IFA_F_* */
};

/* One route as listed by nl_route_dump. */
struct nl_route {
	int ifindex; /* RTA_OIF, 0 if none */
	int family;
	uint8_t dst[16];
	uint8_t plen;
	uint32_t table; /* RT_TABLE_* */
	uint8_t protocol;
	uint8_t type; /* RTN_* */
	bool has_gateway;
	uint8_t gateway[16]; /* RTA_GATEWAY: the next hop, same family */
	uint32_t metric;     /* RTA_PRIORITY, 0 if none */
};

/* Dump callbacks: return 0 to go on; anything else stops the callbacks and is
 * what the dump returns (the rest of the dump is still read and dropped). */
typedef int nl_addr_fn(const struct nl_addr *addr, void *ctx);
typedef int nl_route_fn(const struct nl_route *route, void *ctx);

/* Opens and binds the rtnetlink socket (close-on-exec); 0 or -errno. */
int nl_open(struct nl_sock *nl) __attribute__((warn_unused_result));
/* Closes the socket; safe to call twice and after a failed nl_open. */
void nl_close(struct nl_sock *nl);

/* Sets the link MTU; the kernel's error (-EINVAL) when out of the link's range. */
int nl_link_set_mtu(struct nl_sock *nl, int ifindex, unsigned mtu);
/* Sets or clears IFF_UP. */
int nl_link_set_up(struct nl_sock *nl, int ifindex, bool up);
/* Deletes a link (the TUN goes away with its fd as well; this is for others). */
int nl_link_delete(struct nl_sock *nl, int ifindex);
/* Reads the MTU and the IFF_UP flag of a link; -ENODEV when it does not exist.
 * Either output may be NULL. */
int nl_link_get(struct nl_sock *nl, int ifindex, unsigned *mtu, bool *up);

/* Adds addr/plen to the link (the kernel also adds the prefix route). IPv6
 * addresses get IFA_F_NODAD, usable at once. -EEXIST if already there. */
int nl_addr_add(struct nl_sock *nl, int ifindex, int family, const uint8_t *addr, uint8_t plen);
/* Removes addr/plen from the link; -EADDRNOTAVAIL if it is not there. */
int nl_addr_del(struct nl_sock *nl, int ifindex, int family, const uint8_t *addr, uint8_t plen);
/* Calls fn for every address of every link, both families; -EINTR when the
 * kernel reports the list changed during the dump (call again). */
int nl_addr_dump(struct nl_sock *nl, nl_addr_fn *fn, void *ctx);

/* Adds a device route dst/plen through the link in the main table
 * (protocol static, scope link); bits of dst past plen are ignored. -EEXIST if
 * the same route exists, -ENETDOWN if the link is down. */
int nl_route_add(struct nl_sock *nl, int ifindex, int family, const uint8_t *dst, uint8_t plen);
/* Removes a route added by nl_route_add; -ESRCH if there is none. */
int nl_route_del(struct nl_sock *nl, int ifindex, int family, const uint8_t *dst, uint8_t plen);
/* Calls fn for every route of family (AF_INET, AF_INET6), all tables; -EINTR
 * as for nl_addr_dump. */
int nl_route_dump(struct nl_sock *nl, int family, nl_route_fn *fn, void *ctx);
