/* p2pvpnd: the peer daemon. Parses its command line, loads and validates
 * the configuration (--check stops there), and runs the interface until
 * SIGTERM or SIGINT. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include <sodium.h>

#include "crypto/init.h"
#include "daemon/daemon.h"
#include "daemon/device.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fprintf(out, "Usage: p2pvpnd [-c FILE] [-f] [--check]\n"
		     "  -c, --config FILE  configuration (default /etc/p2pvpn.conf)\n"
		     "  -f, --foreground   log to stderr (systemd runs it this way too)\n"
		     "      --check        validate the configuration, print problems, exit 0/1\n"
		     "  -h, --help         this text\n"
		     "      --version      print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	static struct daemon d;
	struct cfg_errors errs = { 0 };
	bool foreground = false, check = false;
	int c, ret;

	d.config_path = "/etc/p2pvpn.conf";
	while ((c = getopt_long(argc, argv, "c:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d.config_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'C':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("p2pvpnd %s\n", P2PVPN_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "p2pvpnd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 1;
	}
	if (crypto_init("p2pvpnd") < 0)
		return 1;
	/* Under systemd (JOURNAL_STREAM set) stderr is the journal already. */
	log_open("p2pvpnd", foreground || check || getenv("JOURNAL_STREAM"));
	/* Keys live in this process: no core dump may hold them, and no process
	 * of the same uid may ptrace it or read its memory. A failure removes
	 * only this extra layer (LimitCORE=0 in the unit stays), so it is not
	 * fatal. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		log_errno(LOG_LEVEL_WARN, "cannot make the process non-dumpable");
	if (!cfg_load_daemon(d.config_path, &d.cfg, &errs)) {
		cfg_errors_print(&errs, stderr);
		cfg_errors_free(&errs);
		return 1;
	}
	if (check) {
		printf("%s: OK\n", d.config_path);
		cfg_daemon_free(&d.cfg);
		return 0;
	}
	log_set_level(d.cfg.log_level);
	ret = daemon_start(&d);
	if (ret == 0) {
		ret = daemon_run(&d);
		daemon_stop(&d);
	}
	cfg_daemon_free(&d.cfg);
	return ret < 0 ? 1 : 0;
}
