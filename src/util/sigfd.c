/* The stop and reload signals as a signalfd (see sigfd.h): blocked first,
 * so none is delivered the default way between start and the first read. */
#include "util/sigfd.h"

#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>

int sigfd_open(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}
