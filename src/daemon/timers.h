/* Everything that happens at a time rather than on a packet (timers.c). */
#pragma once
#include "daemon/daemon.h"

/* Runs what is due (session timers, path engines, streams, the rendezvous
 * client, the watchdog); returns the epoll timeout to the next deadline in
 * ms (-1: none). */
int timers_run(struct daemon *d);
