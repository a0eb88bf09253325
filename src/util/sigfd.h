/* The signals both daemons act on (SIGTERM, SIGINT: stop; SIGHUP: reload),
 * taken from the event loop as a signalfd instead of by handlers. */
#pragma once

/* Blocks SIGTERM, SIGINT and SIGHUP for the process and returns a
 * non-blocking, close-on-exec signalfd that reads them, or -errno. */
int sigfd_open(void);
