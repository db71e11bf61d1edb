/*
 * logging.c - the module's logging layer over pam_syslog.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <security/pam_ext.h>

#include "module.h"

static void vlog(const struct pa_call *call, int prio, const char *fmt,
		 va_list ap) PA_PRINTF(3, 0);

static void vlog(const struct pa_call *call, int prio, const char *fmt,
		 va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	pam_syslog(call->pamh, prio, "%s: %s", call->phase, msg);
}

void pa_log(const struct pa_call *call, int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio >= LOG_NOTICE && call->args.quiet && !call->args.debug)
		return;
	va_start(ap, fmt);
	vlog(call, prio, fmt, ap);
	va_end(ap);
}

void pa_debug(const struct pa_call *call, const char *fmt, ...)
{
	va_list ap;

	if (!call->args.debug)
		return;
	va_start(ap, fmt);
	vlog(call, LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void pa_log_pam(const struct pa_call *call, int prio, int pamret,
		const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pa_log(call, prio, "%s: %s", msg, pam_strerror(call->pamh, pamret));
}

/* Escaped copy of a PAM item, or "-" when unset. */
static const char *item(const struct pa_call *call, int type, char *buf,
			size_t buflen)
{
	const char *value = pa_item(call->pamh, type);

	if (value == NULL)
		return "-";
	return pa_escape(value, strlen(value), buf, buflen);
}

void pa_log_failure(const struct pa_call *call, const char *agent,
		    const char *reason)
{
	char service[PA_ESCAPE_MAX], user[PA_ESCAPE_MAX], rhost[PA_ESCAPE_MAX];
	char who[PA_ESCAPE_MAX];

	if (agent != NULL)
		pa_escape(agent, strlen(agent), who, sizeof(who));
	pam_syslog(call->pamh, LOG_NOTICE,
		   "%s: denied: service=%s user=%s rhost=%s agent=%s: %s",
		   call->phase, item(call, PAM_SERVICE, service, sizeof(service)),
		   item(call, PAM_USER, user, sizeof(user)),
		   item(call, PAM_RHOST, rhost, sizeof(rhost)),
		   agent != NULL ? who : "-", reason);
}

void pa_tell(const struct pa_call *call, const char *reason)
{
	if ((call->flags & (int)PAM_SILENT) != 0 || call->args.quiet)
		return;
	pam_error(call->pamh, "pam_agent: %s", reason);
}
