/*
 * errors.c - the list of configuration problems that pol_config_load and
 * `pam-agent check` report, each one line naming file, line and reason.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

void pol_errors_add(struct pol_errors *e, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	char **grown;

	if (e->n >= POL_ERRORS_MAX) {
		e->dropped++;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg == NULL) {
		e->dropped++;
		return;
	}
	grown = realloc(e->msgs, (e->n + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(msg);
		e->dropped++;
		return;
	}
	e->msgs = grown;
	e->msgs[e->n++] = msg;
}

void pol_errors_clear(struct pol_errors *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->msgs[i]);
	free(e->msgs);
	e->msgs = NULL;
	e->n = 0;
	e->dropped = 0;
}

void pol_errors_move(struct pol_errors *to, struct pol_errors *from)
{
	size_t i;

	for (i = 0; i < from->n; i++)
		pol_errors_add(to, "%s", from->msgs[i]);
	to->dropped += from->dropped;
	pol_errors_clear(from);
}
