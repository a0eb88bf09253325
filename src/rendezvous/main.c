/* p2pvpn-rendezvous: the meeting point. Parses its command line, loads and
 * validates the configuration (--check stops there), and serves until
 * SIGTERM or SIGINT; SIGHUP reloads the admitted keys. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include <sodium.h>

#include "crypto/init.h"
#include "rendezvous/server.h"
#include "util/log.h"
#include "util/notify.h"

static void usage(FILE *out)
{
	fprintf(out, "Usage: p2pvpn-rendezvous [-c FILE] [-f] [--check] [-v]\n"
		     "  -c, --config FILE  configuration (default /etc/p2pvpn-rendezvous.conf)\n"
		     "  -f, --foreground   log to stderr (systemd runs it this way too)\n"
		     "      --check        validate the configuration, print problems, exit 0/1\n"
		     "  -v, --verbose      debug logs (per-packet lines are rate-limited)\n"
		     "  -h, --help         this text\n"
		     "      --version      print the version\n");
}

/* Loads and checks the file; prints every problem. */
static bool load(const char *path, struct cfg_rendezvous *cfg)
{
	struct cfg_errors errs = {0};
	bool ok = cfg_load_rendezvous(path, cfg, &errs);

	if (ok && !rdv_server_check_config(cfg, &errs)) {
		cfg_rendezvous_free(cfg);
		ok = false;
	}
	cfg_errors_print(&errs, stderr);
	cfg_errors_free(&errs);
	return ok;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"check", no_argument, NULL, 'C'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {0},
	};
	static struct rdv_server server;
	struct rdv_server_opts sopts = {.handle_signals = true, .notify = notify_send};
	const char *path = "/etc/p2pvpn-rendezvous.conf";
	struct cfg_rendezvous cfg;
	bool foreground = false, check = false, verbose = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "c:fvh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'C':
			check = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("p2pvpn-rendezvous %s\n", P2PVPN_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "p2pvpn-rendezvous: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 1;
	}
	if (crypto_init("p2pvpn-rendezvous") < 0)
		return 1;
	/* Under systemd (JOURNAL_STREAM set) stderr is the journal already. */
	log_open("p2pvpn-rendezvous", foreground || check || getenv("JOURNAL_STREAM"));
	/* Keys live in this process: no core dump may hold them, and no process
	 * of the same uid may ptrace it or read its memory. A failure removes
	 * only this extra layer (LimitCORE=0 in the unit stays), so it is not
	 * fatal. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		log_errno(LOG_LEVEL_WARN, "cannot make the process non-dumpable");
	log_set_level(verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (!load(path, &cfg))
		return 1;
	if (check) {
		printf("%s: OK\n", path);
		cfg_rendezvous_free(&cfg);
		return 0;
	}
	sopts.watchdog_ms = notify_watchdog_usec() / 1000;
	ret = rdv_server_init(&server, &cfg, path, &sopts);
	cfg_rendezvous_free(&cfg);
	if (ret < 0)
		return 1;
	ret = rdv_server_run(&server);
	rdv_server_cleanup(&server);
	return ret < 0 ? 1 : 0;
}
