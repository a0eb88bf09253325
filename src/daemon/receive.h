/* One entry for every transport, handlers by message type, drop counters (receive.c). */
#pragma once
#include "daemon/daemon.h"

void datapath_udp_readable(struct daemon *d);
/* Handles one received datagram from any transport. */
void datapath_receive(struct daemon *d, struct rx_pkt *m, uint64_t now);
void drop(struct daemon *d, enum drop_reason why, const struct path *from);
const char *drop_reason_str(enum drop_reason why);
