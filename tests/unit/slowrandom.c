/* LD_PRELOAD shim for test_getrandom: the random source of early boot, or of
 * a system without one, under the real p2pvpnd, p2pvpn-rendezvous and
 * p2pvpnctl (SECURITY-NOTES section 6 item 31). libsodium 1.0.18 takes its
 * randomness from glibc's getrandom() (and getentropy()); P2PVPN_GETRANDOM
 * picks what they do:
 *
 *   block   the pool is not initialised for the first 2 s after the program
 *           started: GRND_NONBLOCK calls fail with EAGAIN, blocking ones
 *           (and getentropy) sleep until then, then the real call answers
 *   enosys  getrandom and getentropy fail with ENOSYS (a kernel before 3.17)
 *   eperm   they fail with EPERM (a seccomp filter refusing the call)
 *   nodev   ENOSYS, and /dev/random and /dev/urandom cannot be opened either
 *           (a chroot or container without /dev)
 *
 * Every call, and every open of a random device, is noted on stderr as
 * "slowrandom: ..." so the test can tell which source was used. Nothing of
 * the project is replaced. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { BLOCK_MS = 2000 };

static struct timespec started;

__attribute__((constructor)) static void slowrandom_start(void)
{
	clock_gettime(CLOCK_MONOTONIC, &started);
}

static const char *mode(void)
{
	const char *m = getenv("P2PVPN_GETRANDOM");

	return m ? m : "";
}

static long ms_left(void)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - started.tv_sec) * 1000 + (now.tv_nsec - started.tv_nsec) / 1000000;
	return ms >= BLOCK_MS ? 0 : BLOCK_MS - ms;
}

static void note(const char *what)
{
	/* write(2): no stdio state touched inside the library's call. */
	char line[128];
	int n = snprintf(line, sizeof(line), "slowrandom: %s (%s)\n", what, mode());

	if (n > 0)
		(void)!write(2, line, (size_t)n);
}

/* 0: go on to the real call; else fail with this errno. */
static int gate(int nonblock)
{
	long left;

	if (strcmp(mode(), "enosys") == 0 || strcmp(mode(), "nodev") == 0)
		return ENOSYS;
	if (strcmp(mode(), "eperm") == 0)
		return EPERM;
	if (strcmp(mode(), "block") != 0 || (left = ms_left()) == 0)
		return 0;
	if (nonblock)
		return EAGAIN;
	note("blocked until the pool is ready");
	{
		struct timespec ts = {left / 1000, (left % 1000) * 1000000};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	return 0;
}

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
	int err = gate(flags & GRND_NONBLOCK);

	note(err ? strerror(err) : "getrandom");
	if (err) {
		errno = err;
		return -1;
	}
	return syscall(SYS_getrandom, buf, len, flags);
}

int getentropy(void *buf, size_t len)
{
	int err = gate(0);
	long n;

	note(err ? strerror(err) : "getentropy");
	if (err || len > 256) {
		errno = err ? err : EIO;
		return -1;
	}
	n = syscall(SYS_getrandom, buf, len, 0);
	return n == (long)len ? 0 : -1;
}

static int is_random_dev(const char *path)
{
	return strcmp(path, "/dev/urandom") == 0 || strcmp(path, "/dev/random") == 0;
}

int open(const char *path, int flags, ...)
{
	static int (*real_open)(const char *, int, ...);
	mode_t m = 0;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		m = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (is_random_dev(path) && strcmp(mode(), "nodev") == 0) {
		note("open of a random device refused");
		errno = ENOENT;
		return -1;
	}
	if (is_random_dev(path))
		note(strcmp(path, "/dev/urandom") == 0 ? "opened /dev/urandom"
						       : "opened /dev/random");
	if (!real_open)
		real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	return real_open(path, flags, m);
}
