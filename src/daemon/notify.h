/* notify_send() moved to util/notify.h, below both daemons (the rendezvous
 * links it without the daemon library); this forwarding header goes once
 * nothing includes "daemon/notify.h". */
#pragma once
#include "util/notify.h"
