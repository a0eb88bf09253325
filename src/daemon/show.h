/* The daemon's side of the control socket (show.c). */
#pragma once
#include <stdio.h>

#include "daemon/daemon.h"

int daemon_control(void *ctx, const struct ctl_request *req, FILE *reply);
