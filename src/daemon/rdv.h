/* The rendezvous client's glue: its engine's actions carried out (rdv.c). */
#pragma once
#include "daemon/daemon.h"

struct rdv_introduce;
int rdv_client_start(struct daemon *d);
void rdv_client_stop(struct daemon *d);
/* Runs the client's schedule; returns when it wants to run again. */
uint64_t rdv_client_tick(struct daemon *d, uint64_t now);
/* A STUN message on the UDP socket: true when it answered one of ours. */
bool rdv_client_stun(struct daemon *d, struct rx_pkt *m, uint64_t now);
/* A signalling message from the rendezvous's session. */
void rdv_client_receive(struct daemon *d, const uint8_t *msg, size_t len, uint64_t now);
/* Our host candidates as REGISTER sends them: the port mapping's address
 * first (portmap.c), then the addresses of every link but the TUN and
 * loopback, with our UDP port. */
struct rdv_register;
void rdv_client_host_candidates(struct daemon *d, struct rdv_register *reg);
/* The candidates changed (a port mapping came, went or moved): registered
 * again at once, peers without a session introduced anew. */
void rdv_client_candidates_changed(struct daemon *d);
/* Asks the rendezvous to introduce us to p (rate-limited). */
void rdv_client_connect(struct daemon *d, struct peer *p, uint64_t now);

/* The TCP stream to the rendezvous is up. */
void rdv_client_tcp_up(struct daemon *d, struct tcp_conn *c, uint64_t now);
/* The TCP stream (or the connect) to the rendezvous closed. */
void rdv_client_tcp_down(struct daemon *d);
