/*
 * shared.c - what the phases share: loading the configuration with its
 * errors logged, and writing audit events with the PAM items.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_ext.h>

#include "audit.h"
#include "module.h"

/*
 * The configuration as last parsed, shared by every handle of this
 * process: files are stat()ed at every request and parsed again only when
 * one changed (a process serving many requests does not pay the parse for
 * each, which is ~60 ms with 10 000 rules). Per-handle state stays in
 * pam_set_data; this holds nothing but parsed files.
 */
static struct pol_cache *config_cache;
static pthread_once_t config_cache_once = PTHREAD_ONCE_INIT;

static void config_cache_init(void)
{
	config_cache = pol_cache_new();
}

/* Frees the cache when libpam unloads the module. */
__attribute__((destructor)) static void config_cache_fini(void)
{
	pol_cache_free(config_cache);
	config_cache = NULL;
}

/* Loads the configuration; on failure logs its problems unless quiet. */
static int config_load(struct pa_call *call, struct pol_config **cfg, bool quiet)
{
	const char *path = call->args.config != NULL ? call->args.config : PA_DEFAULT_CONFIG;
	struct pol_errors errors = { 0 };
	char dropins[4096];
	size_t i;

	*cfg = NULL;
	pa_dropin_dir(path, dropins, sizeof(dropins));
	pthread_once(&config_cache_once, config_cache_init);
	if (config_cache != NULL
		    ? pol_config_cache_get(config_cache, path, dropins, cfg, &errors) == 0
		    : pol_config_load(path, dropins, cfg, &errors) == 0)
		return 0;
	if (quiet) {
		pol_errors_clear(&errors);
		return -1;
	}
	pa_log(call, LOG_ERR, "configuration refused, denying everything (%zu problem%s; "
	       "'pam-agent check --config %s' lists them)", errors.n + errors.dropped,
	       errors.n + errors.dropped == 1 ? "" : "s", path);
	for (i = 0; i < errors.n && i < 10; i++)
		pa_log(call, LOG_ERR, "configuration: %s", errors.msgs[i]);
	pol_errors_clear(&errors);
	return -1;
}

int pa_config_load(struct pa_call *call, struct pol_config **cfg)
{
	return config_load(call, cfg, false);
}

int pa_config_load_quiet(struct pa_call *call, struct pol_config **cfg)
{
	return config_load(call, cfg, true);
}

/* Audit lines go to syslog through pam_syslog (LOG_AUTHPRIV). */
static void audit_to_pam(int priority, const char *line, void *ctx)
{
	pam_syslog(((struct pa_call *)ctx)->pamh, priority & LOG_PRIMASK,
		   "audit: %s", line);
}

const char *pa_item(pam_handle_t *pamh, int type)
{
	const void *value = NULL;

	if (pam_get_item(pamh, type, &value) != PAM_SUCCESS)
		return NULL;
	return value;
}

void pa_request_fill(const struct pa_call *call, const struct pol_config *cfg,
		     const struct id_identity *id, const char *user, int64_t now,
		     struct pol_request *req)
{
	memset(req, 0, sizeof(*req));
	req->id = id;
	req->service = pa_item(call->pamh, PAM_SERVICE);
	req->user = user;
	req->rhost = pa_item(call->pamh, PAM_RHOST);
	req->tty = pa_item(call->pamh, PAM_TTY);
	req->now = now;
	req->runtime = pa_runtime(call, cfg);
}

int pa_audit(struct pa_call *call, const struct pol_config *cfg, struct aud_event *ev)
{
	struct aud_sink sink = { 0 };
	char err[512];
	int ret;

	if (ev == NULL) {
		pa_log(call, LOG_CRIT, "out of memory for an audit event");
		return -1;
	}
	aud_event_set_context(ev, pa_item(call->pamh, PAM_SERVICE), pa_item(call->pamh, PAM_USER),
			      pa_item(call->pamh, PAM_RHOST), pa_item(call->pamh, PAM_TTY));
	/* every event of a transaction carries what attestation found */
	aud_event_set_runtime(ev, pa_runtime(call, cfg));
	sink.file = cfg != NULL ? cfg->global.audit_log : NULL;
	sink.syslog_fn = audit_to_pam;
	sink.syslog_ctx = call;
	ret = aud_emit(&sink, ev, err, sizeof(err));
	if (ret != 0)
		pa_log(call, LOG_ERR, "audit event not written, failing closed: %s", err);
	aud_event_free(ev);
	return ret;
}
