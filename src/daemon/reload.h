/* SIGHUP: the config read again and applied (reload.c). */
#pragma once
#include "daemon/daemon.h"

/* Re-reads the config; on any error logs it and keeps the running one. */
void daemon_reload(struct daemon *d);
