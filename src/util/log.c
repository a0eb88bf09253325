/* Logging backend. Messages never contain keys or packet contents; callers
 * pass peer names and addresses only. */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static enum log_level current_level = LOG_LEVEL_INFO;
static bool use_stderr = true;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void log_open(const char *ident, bool to_stderr)
{
	use_stderr = to_stderr;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

bool log_parse_level(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

static void emit(enum log_level level, const char *msg)
{
	if (use_stderr)
		fprintf(stderr, "%s: %s\n", level_names[level], msg);
	else
		syslog(syslog_prio[level], "%s", msg);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	emit(level, buf);
}

void log_errno(enum log_level level, const char *fmt, ...)
{
	char buf[1024];
	int saved = errno;
	va_list ap;
	size_t n;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = strlen(buf);
	snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(saved));
	emit(level, buf);
	errno = saved;
}

enum { RATELIMIT_BURST = 5 };

bool log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_ms)
{
	if (rl->last_ms == 0 || now_ms - rl->last_ms >= 1000) {
		uint64_t refill = rl->last_ms == 0 ? RATELIMIT_BURST : (now_ms - rl->last_ms) / 1000;
		rl->tokens = refill + rl->tokens > RATELIMIT_BURST ? RATELIMIT_BURST
								    : (unsigned)(refill + rl->tokens);
		rl->last_ms = now_ms;
	}
	if (rl->tokens == 0)
		return false;
	rl->tokens--;
	return true;
}
