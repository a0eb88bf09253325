/* The random source under the real programs (SECURITY-NOTES section 6 item
 * 31: getrandom() blocking at early boot, or missing). slowrandom.so is
 * preloaded into p2pvpnctl genkey, p2pvpnd --check and p2pvpn-rendezvous
 * --check:
 *   block         getrandom waits 2 s (GRND_NONBLOCK: EAGAIN): each program
 *                 waits, then works; genkey prints a valid key only after the
 *                 wait, and two runs give different keys;
 *   enosys/eperm  libsodium reads /dev/urandom instead, and the programs work;
 *   nodev         no source at all: exit 1 with a line naming the random
 *                 source, never a signal (libsodium would abort). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { OUT_MAX = 4096 };

struct run {
	int status; /* as waitpid gives it */
	long ms;    /* wall time */
	char out[OUT_MAX], err[OUT_MAX];
};

static char dir[] = "/tmp/test_getrandom.XXXXXX";
static char dconf[256], rconf[256];

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void slurp(int fd, char *buf)
{
	ssize_t n = pread(fd, buf, OUT_MAX - 1, 0);

	buf[n > 0 ? n : 0] = 0;
	close(fd);
}

/* Runs BINARY_DIR/prog argv with the shim in mode (NULL: no shim). */
static void run(const char *mode, const char *prog, char *const argv[], struct run *r)
{
	char path[512], o[] = "/tmp/test_getrandom.o.XXXXXX", e[] = "/tmp/test_getrandom.e.XXXXXX";
	int ofd = mkstemp(o), efd = mkstemp(e);
	long t0 = now_ms();
	pid_t pid;

	assert_true(ofd >= 0 && efd >= 0);
	unlink(o);
	unlink(e);
	snprintf(path, sizeof(path), "%s/%s", P2PVPN_BINARY_DIR, prog);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		if (mode) {
			setenv("LD_PRELOAD", P2PVPN_SLOWRANDOM, 1);
			setenv("P2PVPN_GETRANDOM", mode, 1);
			setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
		}
		execv(path, argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &r->status, 0), pid);
	r->ms = now_ms() - t0;
	slurp(ofd, r->out);
	slurp(efd, r->err);
}

static bool exited(const struct run *r, int code)
{
	if (!WIFEXITED(r->status)) {
		fprintf(stderr, "killed by signal %d; stderr:\n%s", WTERMSIG(r->status), r->err);
		return false;
	}
	if (WEXITSTATUS(r->status) != code)
		fprintf(stderr, "exit %d; stderr:\n%s", WEXITSTATUS(r->status), r->err);
	return WEXITSTATUS(r->status) == code;
}

/* A genkey line: base64 of 32 bytes. */
static bool is_key(const char *out)
{
	unsigned char key[32];
	size_t len;

	return strlen(out) == 45 && out[44] == '\n' &&
	       sodium_base642bin(key, sizeof(key), out, 44, NULL, &len, NULL,
				 sodium_base64_VARIANT_ORIGINAL) == 0 &&
	       len == 32;
}

static char *genkey_argv[] = {"p2pvpnctl", "genkey", NULL};

static int setup(void **state)
{
	struct run r;
	char key[256];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	run(NULL, "p2pvpnctl", genkey_argv, &r);
	assert_true(exited(&r, 0) && is_key(r.out));
	snprintf(key, sizeof(key), "%s/a.key", dir);
	snprintf(dconf, sizeof(dconf), "%s/p2pvpn.conf", dir);
	snprintf(rconf, sizeof(rconf), "%s/rdv.conf", dir);
	umask(077);
	assert_non_null(f = fopen(key, "w"));
	fputs(r.out, f);
	fclose(f);
	assert_non_null(f = fopen(dconf, "w"));
	fprintf(f, "[interface]\naddress = 10.77.0.1/24\nprivate_key_file = %s\n", key);
	fclose(f);
	assert_non_null(f = fopen(rconf, "w"));
	fprintf(f, "[rendezvous]\nlisten = 127.0.0.1:3478\nopen = yes\nprivate_key = %.44s\n",
		r.out);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	char path[300];

	(void)state;
	snprintf(path, sizeof(path), "%s/a.key", dir);
	unlink(path);
	unlink(dconf);
	unlink(rconf);
	rmdir(dir);
	return 0;
}

static void test_getrandom_blocking_waits_then_works(void **state)
{
	char *dargv[] = {"p2pvpnd", "--check", "-c", dconf, NULL};
	char *rargv[] = {"p2pvpn-rendezvous", "--check", "-c", rconf, NULL};
	struct run a, b;

	(void)state;
	run("block", "p2pvpnctl", genkey_argv, &a);
	assert_true(exited(&a, 0));
	assert_true(is_key(a.out));
	assert_non_null(strstr(a.err, "slowrandom: blocked until the pool is ready"));
	assert_true(a.ms >= 1900); /* nothing came out before the pool was ready */
	run("block", "p2pvpnctl", genkey_argv, &b);
	assert_true(exited(&b, 0) && is_key(b.out));
	assert_string_not_equal(a.out, b.out);
	fprintf(stderr, "genkey with a blocking getrandom: %ld ms, %ld ms\n", a.ms, b.ms);

	run("block", "p2pvpnd", dargv, &a);
	assert_true(exited(&a, 0));
	assert_true(a.ms >= 1900);
	run("block", "p2pvpn-rendezvous", rargv, &b);
	assert_true(exited(&b, 0));
	assert_true(b.ms >= 1900);
	fprintf(stderr, "--check with a blocking getrandom: p2pvpnd %ld ms, rendezvous %ld ms\n",
		a.ms, b.ms);
}

static void test_getrandom_missing_uses_urandom(void **state)
{
	static const char *const modes[] = {"enosys", "eperm"};
	char *dargv[] = {"p2pvpnd", "--check", "-c", dconf, NULL};
	char *rargv[] = {"p2pvpn-rendezvous", "--check", "-c", rconf, NULL};
	struct run r;

	(void)state;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		run(modes[i], "p2pvpnctl", genkey_argv, &r);
		assert_true(exited(&r, 0) && is_key(r.out));
		/* The shim refused getrandom, so the key's bytes are /dev/urandom's. */
		assert_non_null(strstr(r.err, "slowrandom: opened /dev/urandom"));
		run(modes[i], "p2pvpnd", dargv, &r);
		assert_true(exited(&r, 0));
		assert_non_null(strstr(r.err, "slowrandom: opened /dev/urandom"));
		run(modes[i], "p2pvpn-rendezvous", rargv, &r);
		assert_true(exited(&r, 0));
		assert_non_null(strstr(r.err, "slowrandom: opened /dev/urandom"));
	}
}

static void test_no_random_source_exits_cleanly(void **state)
{
	char *dargv[] = {"p2pvpnd", "--check", "-c", dconf, NULL};
	char *rargv[] = {"p2pvpn-rendezvous", "--check", "-c", rconf, NULL};
	struct {
		const char *prog;
		char **argv;
	} progs[] = {{"p2pvpnctl", genkey_argv}, {"p2pvpnd", dargv}, {"p2pvpn-rendezvous", rargv}};
	struct run r;

	(void)state;
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		run("nodev", progs[i].prog, progs[i].argv, &r);
		assert_true(exited(&r, 1));
		assert_string_equal(r.out, ""); /* no key, nothing half-made */
		assert_non_null(strstr(r.err, progs[i].prog));
		assert_non_null(strstr(r.err, "no random source"));
		assert_non_null(strstr(r.err, "getrandom"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_getrandom_blocking_waits_then_works),
	    cmocka_unit_test(test_getrandom_missing_uses_urandom),
	    cmocka_unit_test(test_no_random_source_exits_cleanly),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
