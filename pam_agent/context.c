/*
 * context.c - per-call setup and the per-handle state (pam_set_data).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "module.h"

#define CONTEXT_MAGIC 0x70616763u /* "pagc" */

int pa_call_begin(struct pa_call *call, pam_handle_t *pamh, const char *phase,
		  int flags, int argc, const char **argv)
{
	char err[256];

	memset(call, 0, sizeof(*call));
	call->pamh = pamh;
	call->phase = phase;
	call->flags = flags;
	if (pa_args_parse(argc, argv, &call->args, err, sizeof(err)) != 0) {
		pa_log(call, LOG_ERR, "bad module configuration: %s", err);
		return PAM_SERVICE_ERR;
	}
	pa_debug(call, "called with %d option(s)", argc);
	return PAM_SUCCESS;
}

void pa_call_end(struct pa_call *call)
{
	pa_args_clear(&call->args);
}

/*
 * pam_set_data destructor. PAM_DATA_SILENT means a forked child is
 * cleaning up its copy of the handle: free memory, change nothing outside.
 */
static void context_destroy(pam_handle_t *pamh, void *data, int error_status)
{
	struct pa_context *ctx = data;
	bool silent = (error_status & PAM_DATA_SILENT) != 0;

	if (ctx == NULL || ctx->magic != CONTEXT_MAGIC)
		return;
	/* an untaken hand-off record this process wrote (never a forked
	 * child's: sshd's authentication child never calls pam_end at all) */
	pa_handoff_forget(NULL, ctx, silent);
	free(ctx->handoff_dir);
	ctx->magic = 0;
	id_identity_free(ctx->identity);
	pol_decision_clear(&ctx->decision);
	pa_runtime_clear(&ctx->runtime);
	free(ctx);
}

struct pa_context *pa_context_peek(pam_handle_t *pamh)
{
	const void *data = NULL;
	const struct pa_context *ctx;

	if (pam_get_data(pamh, PA_DATA_CONTEXT, &data) != PAM_SUCCESS || data == NULL)
		return NULL;
	ctx = data;
	return ctx->magic == CONTEXT_MAGIC ? (struct pa_context *)ctx : NULL;
}

struct pa_context *pa_context_get(struct pa_call *call)
{
	struct pa_context *ctx = pa_context_peek(call->pamh);
	int ret;

	if (ctx != NULL)
		return ctx;
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		pa_log(call, LOG_CRIT, "out of memory");
		return NULL;
	}
	ctx->magic = CONTEXT_MAGIC;
	ret = pam_set_data(call->pamh, PA_DATA_CONTEXT, ctx, context_destroy);
	if (ret != PAM_SUCCESS) {
		pa_log_pam(call, LOG_CRIT, ret, "cannot store module state");
		free(ctx);
		return NULL;
	}
	return ctx;
}
