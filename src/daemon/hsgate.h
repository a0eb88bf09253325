/* The handshake flood defence: the daemon's glue over crypto/hsgate (hsgate.c). */
#pragma once
#include "daemon/daemon.h"

/* Decides whether a received handshake message may have DH work now; when
 * not, it is counted as dropped (and may get a cookie reply). */
bool hsgate_admit(struct daemon *d, struct rx_pkt *m, uint64_t now);
/* A new wake-up of the event loop: the DH budget is full again. */
void hsgate_daemon_wake(struct daemon *d);
/* Wipes the gate's keys and cookie secret (daemon_stop). */
void hsgate_daemon_cleanup(struct daemon *d);
/* Fills mac2 of an outgoing handshake message to p (after mac1). */
void hsgate_stamp(struct peer *p, uint8_t *msg, size_t len, uint64_t now);
void handle_cookie_reply(struct daemon *d, struct rx_pkt *m, uint64_t now);
