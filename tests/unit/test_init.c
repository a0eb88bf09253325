/* crypto_init(), the start-up of libsodium shared by the three programs
 * (SECURITY-NOTES section 6 item 31: sodium_init() failure). This test is
 * linked with -Wl,--wrap=sodium_init, so crypto_init's call lands in
 * __wrap_sodium_init below and the failure is forced without mocking any
 * project code. Then the real binaries are run with failsodium.so preloaded:
 * each must exit 1 and name libsodium on stderr, before reading any config,
 * socket or key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/init.h"

int __real_sodium_init(void);
int __wrap_sodium_init(void);

static int forced = 0; /* 0: call the real one; else return this */
static unsigned calls;

int __wrap_sodium_init(void)
{
	calls++;
	return forced ? forced : __real_sodium_init();
}

/* Runs fn with stderr sent to a temporary file; returns what it wrote. */
static int with_stderr(char *buf, size_t cap, int (*fn)(void))
{
	char path[] = "/tmp/test_init.XXXXXX";
	int fd = mkstemp(path), saved = dup(2), ret;
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	fflush(stderr);
	assert_true(dup2(fd, 2) == 2);
	ret = fn();
	fflush(stderr);
	assert_true(dup2(saved, 2) == 2);
	close(saved);
	n = pread(fd, buf, cap - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	close(fd);
	return ret;
}

static int call_init(void)
{
	return crypto_init("prog");
}

static void test_crypto_init_ok(void **state)
{
	char err[256];

	(void)state;
	forced = 0;
	calls = 0;
	assert_int_equal(with_stderr(err, sizeof(err), call_init), 0);
	assert_string_equal(err, "");
	/* Already initialised (sodium_init returns 1) is success too. */
	assert_int_equal(with_stderr(err, sizeof(err), call_init), 0);
	forced = 1;
	assert_int_equal(with_stderr(err, sizeof(err), call_init), 0);
	assert_int_equal(calls, 3);
}

static void test_crypto_init_failure(void **state)
{
	char err[256];

	(void)state;
	forced = -1;
	calls = 0;
	assert_int_equal(with_stderr(err, sizeof(err), call_init), -EIO);
	assert_int_equal(calls, 1);
	assert_non_null(strstr(err, "prog: "));
	assert_non_null(strstr(err, "libsodium"));
	forced = 0;
}

/* Runs a program with failsodium.so preloaded; exit status, stderr in err. */
static int run_failing(const char *prog, char *const argv[], char *err, size_t cap)
{
	char path[] = "/tmp/test_init.XXXXXX";
	int fd = mkstemp(path), status = 0;
	pid_t pid;
	ssize_t n;

	assert_true(fd >= 0);
	unlink(path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(fd, 2);
		setenv("LD_PRELOAD", P2PVPN_FAILSODIUM, 1);
		/* ASan builds want their runtime first; the shim only adds a symbol. */
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
		execv(prog, argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	n = pread(fd, err, cap - 1, 0);
	err[n > 0 ? n : 0] = 0;
	close(fd);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_programs_refuse_without_libsodium(void **state)
{
	/* Commands that would succeed or fail differently with a working
	 * libsodium: genkey prints a key and exits 0; the daemons would complain
	 * about the config file, not about libsodium. */
	static const struct {
		const char *name;
		char *argv[4];
	} progs[] = {
	    {"p2pvpnctl", {"p2pvpnctl", "genkey", NULL}},
	    {"p2pvpnd", {"p2pvpnd", "-c", "/nonexistent/p2pvpn.conf", NULL}},
	    {"p2pvpn-rendezvous", {"p2pvpn-rendezvous", "-c", "/nonexistent/rdv.conf", NULL}},
	};
	char path[512], err[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", P2PVPN_BINARY_DIR, progs[i].name);
		assert_int_equal(run_failing(path, progs[i].argv, err, sizeof(err)), 1);
		assert_non_null(strstr(err, progs[i].name));
		assert_non_null(strstr(err, "libsodium"));
	}
	/* Control: without the shim genkey works, so the shim made the difference. */
	{
		pid_t pid = fork();
		int status = 0;

		assert_true(pid >= 0);
		if (pid == 0) {
			int null = open("/dev/null", O_RDWR);

			dup2(null, 1);
			dup2(null, 2);
			snprintf(path, sizeof(path), "%s/p2pvpnctl", P2PVPN_BINARY_DIR);
			execl(path, "p2pvpnctl", "genkey", (char *)NULL);
			_exit(127);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crypto_init_ok),
	    cmocka_unit_test(test_crypto_init_failure),
	    cmocka_unit_test(test_programs_refuse_without_libsodium),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
