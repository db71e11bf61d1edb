/*
 * options.c - the module options table (see pam_agent/module.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "module.h"

enum opt_type { OPT_FLAG, OPT_STRING };

struct option_def {
	const char *name;
	enum opt_type type;
	size_t offset;
};

#define FLAG(n) { #n, OPT_FLAG, offsetof(struct pa_args, n) }
#define STRING(n) { #n, OPT_STRING, offsetof(struct pa_args, n) }

/* Sorted by name. */
static const struct option_def options[] = {
	STRING(agent_run),
	STRING(config),
	FLAG(debug),
	FLAG(optional),
	STRING(passwd_file),
	FLAG(quiet),
	STRING(token_file),
	FLAG(try_first_pass),
	FLAG(use_first_pass),
};

static int compare_option(const void *key, const void *member)
{
	const char *name = key;
	const struct option_def *def = member;
	size_t n = strlen(def->name);
	int c = strncmp(name, def->name, n);

	if (c != 0)
		return c;
	/* name may continue with "=value" */
	return (name[n] == '\0' || name[n] == '=') ? 0 : 1;
}

void pa_args_clear(struct pa_args *args)
{
	free(args->agent_run);
	free(args->config);
	free(args->token_file);
	free(args->passwd_file);
	memset(args, 0, sizeof(*args));
}

int pa_args_parse(int argc, const char **argv, struct pa_args *args,
		  char *err, size_t errlen)
{
	char shown[PA_ESCAPE_MAX];
	int i;

	memset(args, 0, sizeof(*args));
	for (i = 0; i < argc; i++) {
		const char *arg = argv[i];
		const struct option_def *def;
		const char *eq = strchr(arg, '=');

		pa_escape(arg, strlen(arg), shown, sizeof(shown));
		def = bsearch(arg, options, PA_ARRAY_SIZE(options),
			      sizeof(options[0]), compare_option);
		if (def == NULL) {
			pa_err(err, errlen, "unknown option \"%s\"", shown);
			goto fail;
		}
		if (def->type == OPT_FLAG) {
			if (eq != NULL) {
				pa_err(err, errlen, "option \"%s\" takes no value", shown);
				goto fail;
			}
			*(bool *)((char *)args + def->offset) = true;
		} else {
			char **slot = (char **)((char *)args + def->offset);

			if (eq == NULL || eq[1] == '\0') {
				pa_err(err, errlen, "option \"%s\" needs a value (%s=...)",
				       shown, def->name);
				goto fail;
			}
			if (*slot != NULL) {
				pa_err(err, errlen, "option \"%s\" given twice", def->name);
				goto fail;
			}
			*slot = strdup(eq + 1);
			if (*slot == NULL) {
				pa_err(err, errlen, "out of memory");
				goto fail;
			}
		}
	}
	/* conflicts, checked once everything is known */
	if (args->use_first_pass && args->try_first_pass) {
		pa_err(err, errlen, "options use_first_pass and try_first_pass conflict");
		goto fail;
	}
	if (args->token_file != NULL && args->use_first_pass) {
		pa_err(err, errlen, "options token_file= and use_first_pass conflict");
		goto fail;
	}
	if (args->config != NULL && args->config[0] != '/') {
		pa_escape(args->config, strlen(args->config), shown, sizeof(shown));
		pa_err(err, errlen, "config=%s: must be an absolute path", shown);
		goto fail;
	}
	if (args->token_file != NULL && args->token_file[0] != '/') {
		pa_escape(args->token_file, strlen(args->token_file), shown, sizeof(shown));
		pa_err(err, errlen, "token_file=%s: must be an absolute path", shown);
		goto fail;
	}
	if (args->agent_run != NULL && args->agent_run[0] != '/') {
		pa_escape(args->agent_run, strlen(args->agent_run), shown, sizeof(shown));
		pa_err(err, errlen, "agent_run=%s: must be an absolute path", shown);
		goto fail;
	}
	if (args->passwd_file != NULL && args->passwd_file[0] != '/') {
		pa_escape(args->passwd_file, strlen(args->passwd_file), shown, sizeof(shown));
		pa_err(err, errlen, "passwd_file=%s: must be an absolute path", shown);
		goto fail;
	}
	return 0;
fail:
	pa_args_clear(args);
	return -1;
}
