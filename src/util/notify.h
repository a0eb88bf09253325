/* systemd readiness protocol (sd_notify(3)) without libsystemd: one
 * datagram to $NOTIFY_SOCKET. Does nothing when not run by systemd. */
#pragma once
#include <stdint.h>

/* Sends state (e.g. "READY=1") to the service manager; 0, or -errno. */
int notify_send(const char *state);
/* The watchdog interval asked for by WatchdogSec= in microseconds, or 0. */
uint64_t notify_watchdog_usec(void);
