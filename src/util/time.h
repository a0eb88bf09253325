/* Clocks. Key ages and timers run on CLOCK_BOOTTIME so a suspended machine
 * does not keep stale keys alive; only TAI64N handshake timestamps use the
 * wall clock. */
#pragma once
#include <stdint.h>

/* Milliseconds since boot (CLOCK_BOOTTIME), including suspend. */
uint64_t time_now_ms(void);
/* Nanoseconds since boot (CLOCK_BOOTTIME). */
uint64_t time_now_ns(void);
