/* Finding the gateway to ask (gateway.h). */
#include "portmap/gateway.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include <linux/rtnetlink.h>

#include "portmap/pcp.h"
#include "util/addr.h"

struct gateway_search {
	bool found;
	uint32_t metric;
	uint8_t gateway[4];
};

/* The IPv4 default route of the main table with the lowest metric. */
static int pick_default(const struct nl_route *r, void *ctx)
{
	struct gateway_search *g = ctx;

	if (r->family != AF_INET || r->plen != 0 || r->table != RT_TABLE_MAIN ||
	    r->type != RTN_UNICAST || !r->has_gateway)
		return 0;
	if (!g->found || r->metric < g->metric) {
		g->found = true;
		g->metric = r->metric;
		memcpy(g->gateway, r->gateway, 4);
	}
	return 0;
}

int pm_gateway_default(struct nl_sock *nl, struct sockaddr_storage *gw)
{
	struct gateway_search g = {0};
	int ret;

	if (!nl->mnl)
		return -EBADF;
	ret = nl_route_dump(nl, AF_INET, pick_default, &g);
	if (ret == -EINTR) { /* the table changed under the dump: once more */
		memset(&g, 0, sizeof(g));
		ret = nl_route_dump(nl, AF_INET, pick_default, &g);
	}
	if (ret < 0)
		return ret;
	if (!g.found)
		return -ENOENT;
	(void)addr_from_ip(gw, AF_INET, g.gateway, PCP_SERVER_PORT);
	return 0;
}
