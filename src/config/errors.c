/* The error list filled by both loaders. Messages are formatted once, when
 * found, so that printing them later needs no knowledge of the config. A
 * failed allocation loses that one message; loaders count errors on their
 * own, so a config is never taken as valid because a message went missing. */
#include "config/errors.h"

#include <stdarg.h>
#include <stdlib.h>

bool cfg_errors_add(struct cfg_errors *errs, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	char **grown;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return false;
	grown = realloc(errs->msgs, (errs->n + 1) * sizeof(*errs->msgs));
	if (!grown) {
		free(msg);
		return false;
	}
	errs->msgs = grown;
	errs->msgs[errs->n++] = msg;
	return true;
}

void cfg_errors_print(const struct cfg_errors *errs, FILE *out)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(out, "%s\n", errs->msgs[i]);
}

void cfg_errors_free(struct cfg_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}
