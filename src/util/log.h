/* Logging: levels as in log_level, stderr in the foreground, syslog
 * (the journal) otherwise. Subject first: "p2p0: peer bob (addr): what". */
#pragma once
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Set where logs go: to_stderr for -f, else syslog under ident. */
void log_open(const char *ident, bool to_stderr);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error|warn|info|debug"; false on anything else. */
bool log_parse_level(const char *s, enum log_level *out) __attribute__((warn_unused_result));

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* As log_msg, with ": strerror(errno)" appended (warn(3) vs warnx(3)). */
void log_errno(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Token bucket for per-packet debug lines: true when a line may be printed
 * now (at most burst lines, refilled at one per second). */
struct log_ratelimit {
	uint64_t last_ms;
	unsigned tokens;
};
bool log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_ms);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                   \
	do {                                                                             \
		if (log_get_level() >= LOG_LEVEL_DEBUG)                                  \
			log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);                           \
	} while (0)
