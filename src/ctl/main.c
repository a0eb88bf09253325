/* p2pvpnctl, the operator's tool (DESIGN.md section 1). A table of commands,
 * each {name, handler, arguments, one-line help}, drives both dispatch and
 * the usage text, as in wireguard-tools src/wg.c. Misuse prints the problem
 * and the usage on stderr and exits 1; help and version go to stdout, exit 0.
 * Everything the daemon says arrives over its control socket
 * (control/control.h); formatting lives in the ctl library so it is tested. */
#include "control/client.h"
#include "control/control.h"
#include "crypto/init.h"
#include "ctl/explain.h"
#include "ctl/key.h"
#include "ctl/natcheck.h"
#include "ctl/show.h"
#include "ctl/socket.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef P2PVPN_VERSION
#define P2PVPN_VERSION "unknown"
#endif

static const char *prog = "p2pvpnctl";

struct command {
	const char *name;
	int (*handler)(const struct command *cmd, int argc, char **argv);
	const char *args;
	const char *help;
};

static int cmd_show(const struct command *cmd, int argc, char **argv);
static int cmd_explain(const struct command *cmd, int argc, char **argv);
static int cmd_genkey(const struct command *cmd, int argc, char **argv);
static int cmd_pubkey(const struct command *cmd, int argc, char **argv);

static const struct command commands[] = {
    {"show", cmd_show, "[-s SOCKET] [--json]",
     "Shows interfaces and peers: state, path, RTT, transfer"},
    {"explain", cmd_explain, "PEER [-s SOCKET]", "Explains why a peer's path is (not) direct"},
    {"natcheck", ctl_natcheck_command, CTL_NATCHECK_ARGS,
     "Tells what NAT this host is behind, by STUN tests"},
    {"genkey", cmd_genkey, "", "Writes a new private key to stdout"},
    {"pubkey", cmd_pubkey, "", "Reads a private key from stdin, writes its public key"},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s <command> [<args>]\n\nCommands:\n", prog);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char synopsis[64];

		snprintf(synopsis, sizeof(synopsis), "%s %s", commands[i].name, commands[i].args);
		fprintf(f, "  %-28s %s\n", synopsis, commands[i].help);
	}
	fprintf(f,
		"\nWithout -s, show and explain use the control sockets in %s/ (with no\n"
		"command, show). show --json prints one JSON object for one interface and\n"
		"a JSON array of them when several daemons answer. Each command takes\n"
		"--help. Also: %s --version.\n",
		CTL_SOCKET_DIR, prog);
}

static void cmd_usage(const struct command *cmd, FILE *f)
{
	fprintf(f, "Usage: %s %s %s\n", prog, cmd->name, cmd->args);
}

__attribute__((format(printf, 2, 3))) static int misuse(const struct command *cmd, const char *fmt,
							...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cmd_usage(cmd, stderr);
	return 1;
}

static bool use_colour(void)
{
	const char *no_colour = getenv("NO_COLOR");

	return isatty(STDOUT_FILENO) && !(no_colour && *no_colour);
}

/* Common options of the commands that talk to a daemon: -s, --json, --help.
 * Returns -1 on success (parsing goes on), else the exit status. */
static int parse_opts(const struct command *cmd, int argc, char **argv, const char **socket,
		      bool *json, bool allow_json)
{
	static const struct option long_opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	opterr = 0;
	optind = 0; /* glibc: full re-initialisation for each command */
	while ((c = getopt_long(argc, argv, ":s:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 's':
			*socket = optarg;
			break;
		case 'j':
			if (!allow_json)
				return misuse(cmd, "unknown option '%s'", "--json");
			*json = true;
			break;
		case 'h':
			cmd_usage(cmd, stdout);
			return 0;
		case ':':
			return misuse(cmd, "option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt)
				return misuse(cmd, "unknown option '-%c'", optopt);
			return misuse(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	return -1;
}

static const char *connect_error(int err)
{
	switch (err) {
	case ENOENT:
		return "no control socket there: is p2pvpnd running?";
	case ECONNREFUSED:
		return "connection refused: p2pvpnd is not running (stale socket)";
	case EACCES:
		return "permission denied: the control socket is root's only";
	case ETIMEDOUT:
		return "p2pvpnd did not answer in time";
	default:
		return strerror(err);
	}
}

/* One exchange with the daemon at path. Returns 0 with r filled, or prints
 * what went wrong (subject first: the socket) and returns -1. */
static int query(const char *path, const char *request, const char *const *block_keys,
		 struct ctl_reply *r)
{
	char *text = NULL;
	size_t len = 0;
	int ret = ctl_client_request(path, request, &text, &len);

	if (ret < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, connect_error(-ret));
		return -1;
	}
	ret = ctl_reply_parse(text, len, block_keys, r);
	free(text);
	if (ret < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path,
			ret == -EBADMSG ? "malformed reply from p2pvpnd" : strerror(-ret));
		return -1;
	}
	return 0;
}

/* The sockets to ask: the -s one, or all in CTL_SOCKET_DIR. Returns 0, or
 * prints why there are none and returns -1. */
static int find_sockets(const char *socket, char ***paths, size_t *n)
{
	int ret;

	if (socket) {
		*paths = malloc(sizeof(**paths));
		if (!*paths || !((*paths)[0] = strdup(socket))) {
			free(*paths);
			fprintf(stderr, "%s: %s\n", prog, strerror(ENOMEM));
			return -1;
		}
		*n = 1;
		return 0;
	}
	ret = ctl_socket_list(CTL_SOCKET_DIR, paths, n);
	if (ret < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, CTL_SOCKET_DIR, strerror(-ret));
		return -1;
	}
	if (*n == 0) {
		fprintf(stderr, "%s: no p2pvpnd is running (no control socket in %s/)\n", prog,
			CTL_SOCKET_DIR);
		return -1;
	}
	return 0;
}

static int cmd_show(const struct command *cmd, int argc, char **argv)
{
	const char *socket = NULL;
	bool json = false, colour = use_colour();
	char **paths;
	size_t n, shown = 0;
	int ret = parse_opts(cmd, argc, argv, &socket, &json, true);

	if (ret >= 0)
		return ret;
	if (optind < argc)
		return misuse(cmd, "unexpected argument '%s'", argv[optind]);
	if (find_sockets(socket, &paths, &n) < 0)
		return 1;
	ret = 0;
	if (json && n > 1)
		fputs("[", stdout);
	for (size_t i = 0; i < n; i++) {
		struct ctl_reply r;

		if (query(paths[i], "show\n\n", ctl_show_block_keys, &r) < 0) {
			ret = 1;
			continue;
		}
		if (r.err) {
			fprintf(stderr, "%s: %s: %s\n", prog, paths[i], strerror(r.err));
			ret = 1;
		} else if (json && n > 1) {
			fputs(shown++ ? ",\n  " : "\n  ", stdout);
			ctl_show_json(stdout, &r, 2);
		} else if (json) {
			ctl_show_json(stdout, &r, 0);
			fputc('\n', stdout);
		} else {
			if (shown++)
				fputc('\n', stdout);
			ctl_show_text(stdout, &r, colour);
		}
		ctl_reply_free(&r);
	}
	if (json && n > 1)
		fputs(shown ? "\n]\n" : "]\n", stdout);
	ctl_socket_free(paths, n);
	return ret;
}

static bool is_peer_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= CTL_VALUE_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int cmd_explain(const struct command *cmd, int argc, char **argv)
{
	const char *socket = NULL, *peer;
	bool json = false;
	char **paths, *request = NULL;
	size_t n;
	struct ctl_reply r;
	int ret = parse_opts(cmd, argc, argv, &socket, &json, false);

	if (ret >= 0)
		return ret;
	if (optind >= argc)
		return misuse(cmd, "%s: which peer?", "explain");
	peer = argv[optind];
	if (optind + 1 < argc)
		return misuse(cmd, "unexpected argument '%s'", argv[optind + 1]);
	if (!is_peer_name(peer))
		return misuse(cmd, "invalid peer name '%s'", peer);
	if (find_sockets(socket, &paths, &n) < 0)
		return 1;
	if (n > 1) {
		fprintf(stderr,
			"%s: several p2pvpnd are running (%s/); choose one with -s SOCKET\n", prog,
			CTL_SOCKET_DIR);
		ret = 1;
		goto out;
	}
	if (asprintf(&request, "explain\npeer=%s\n\n", peer) < 0) {
		request = NULL;
		fprintf(stderr, "%s: %s\n", prog, strerror(ENOMEM));
		ret = 1;
		goto out;
	}
	ret = 1;
	if (query(paths[0], request, ctl_explain_block_keys, &r) < 0)
		goto out;
	if (r.err == ENOENT)
		fprintf(stderr, "%s: %s: no peer named '%s'\n", prog, paths[0], peer);
	else if (r.err)
		fprintf(stderr, "%s: %s: %s\n", prog, paths[0], strerror(r.err));
	else
		ctl_explain_text(stdout, &r, use_colour());
	ret = r.err ? 1 : 0;
	ctl_reply_free(&r);
out:
	free(request);
	ctl_socket_free(paths, n);
	return ret;
}

/* For genkey and pubkey: --help, or no arguments at all. Returns -1 to go on. */
static int no_args(const struct command *cmd, int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cmd_usage(cmd, stdout);
		return 0;
	}
	if (argc > 1)
		return misuse(cmd, "unexpected argument '%s'", argv[1]);
	return -1;
}

static int cmd_genkey(const struct command *cmd, int argc, char **argv)
{
	char key[KEY_B64_LEN + 1];
	struct stat st;
	int ret = no_args(cmd, argc, argv);

	if (ret >= 0)
		return ret;
	/* As wg genkey: `p2pvpnctl genkey > private.key` under a lax umask
	 * would leave the key readable by everyone. */
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO))
		fprintf(stderr, "Warning: writing to world accessible file.\n"
				"Consider setting the umask to 077 and trying again.\n");
	ctl_key_generate(key);
	puts(key);
	sodium_memzero(key, sizeof(key));
	if (fflush(stdout) != 0) {
		fprintf(stderr, "%s: genkey: %s\n", prog, strerror(errno));
		return 1;
	}
	return 0;
}

static int cmd_pubkey(const struct command *cmd, int argc, char **argv)
{
	char in[1024], key[KEY_B64_LEN + 1];
	size_t len = 0, n;
	int ret = no_args(cmd, argc, argv);

	if (ret >= 0)
		return ret;
	/* Read to EOF (bounded): a key followed by more input is refused. */
	while (len < sizeof(in) && (n = fread(in + len, 1, sizeof(in) - len, stdin)) > 0)
		len += n;
	if (ferror(stdin) || len == sizeof(in) || !ctl_key_public(in, len, key)) {
		fprintf(stderr, "%s: pubkey: stdin is not a private key (%d base64 characters)\n",
			prog, KEY_B64_LEN);
		ret = 1;
	} else {
		puts(key);
		ret = fflush(stdout) == 0 ? 0 : 1;
	}
	sodium_memzero(in, sizeof(in));
	return ret;
}

int main(int argc, char **argv)
{
	if (crypto_init(prog) < 0)
		return 1;
	if (argc == 1) {
		/* As wg: no command means show everything. */
		static char *show_argv[] = {"show", NULL};
		return cmd_show(&commands[0], 1, show_argv);
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("%s %s\n", prog, P2PVPN_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].handler(&commands[i], argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
	usage(stderr);
	return 1;
}
