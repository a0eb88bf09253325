/* TCP streams: simultaneous open, the listener, framing (tcpmux.c). */
#pragma once
#include "daemon/daemon.h"

int tcpmux_start(struct daemon *d);
void tcpmux_stop(struct daemon *d);
void tcpmux_connect(struct daemon *d, struct peer *p, const struct sockaddr_storage *to,
		    uint64_t now);
struct tcp_conn *tcpmux_find(struct daemon *d, struct peer *p, const struct sockaddr_storage *addr);
void tcpmux_send(struct daemon *d, struct tcp_conn *c, uint8_t *pkt, size_t len);
/* Drops every stream owned by p (peer removal). */
void tcpmux_forget_peer(struct daemon *d, struct peer *p);
/* An authenticated packet from p came over c: c belongs to p from now on. */
void tcpmux_adopt(struct daemon *d, struct tcp_conn *c, struct peer *p);
int tcpmux_connect_rdv(struct daemon *d, uint64_t now);
void tcpmux_accept(struct daemon *d);
void tcpmux_event(struct daemon *d, unsigned slot, uint32_t events);
uint64_t tcpmux_tick(struct daemon *d, uint64_t now);
