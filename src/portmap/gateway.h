/* The gateway a port-mapping request goes to, found as RFC 6887 section
 * 8.1 and RFC 6886 section 3.1 say: the IPv4 default route's next hop.
 * Shared by the daemon (daemon/portmap.c) and `p2pvpnctl natcheck`, so the
 * two ask the same box. Unlike the codecs and the engine this file does
 * I/O: an rtnetlink route dump (tun/netlink.h, the one place that speaks
 * rtnetlink). Our address towards it (PCP's client field must be the
 * request's source address) is addr_source_towards() (util/addr.h). */
#pragma once
#include <stdbool.h>
#include <sys/socket.h>

#include "tun/netlink.h"

/* The next hop (RTA_GATEWAY) of the IPv4 default route of the main table
 * with the lowest metric, as AF_INET with port 5351 (PCP_SERVER_PORT).
 * 0, -ENOENT when there is no such route, or the dump's -errno. */
int pm_gateway_default(struct nl_sock *nl, struct sockaddr_storage *gw);
