/*
 * json.c - jansson calls that fail when memory ran out (common/pa_json.h).
 *
 * jansson's allocator is wrapped, once per process, by one that notes a
 * failed allocation in a thread-local flag and otherwise calls the
 * allocator that was installed before (malloc, or the helper's wiping
 * free): the wrappers clear the flag, call jansson, and refuse the result
 * when it is set. errno cannot tell: jansson's number parsing clears it.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pa_json.h"
#include "util.h"

static json_malloc_t next_malloc;
static json_free_t next_free;
static pthread_once_t installed = PTHREAD_ONCE_INIT;
static __thread bool failed;

static void *noting_malloc(size_t n)
{
	void *p = next_malloc(n);

	if (p == NULL)
		failed = true;
	return p;
}

static void install(void)
{
	json_get_alloc_funcs(&next_malloc, &next_free);
	if (next_malloc == NULL || next_free == NULL) {
		next_malloc = malloc;
		next_free = free;
	}
	json_set_alloc_funcs(noting_malloc, next_free);
}

static void begin(void)
{
	pthread_once(&installed, install);
	failed = false;
}

static json_t *refuse(json_t *json, json_error_t *error)
{
	json_decref(json);
	if (error != NULL) {
		memset(error, 0, sizeof(*error));
		error->line = -1;
		error->column = -1;
		snprintf(error->text, sizeof(error->text), "out of memory");
	}
	return NULL;
}

json_t *pa_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *error)
{
	json_t *json;

	begin();
	json = json_loadb(buf, len, flags, error);
	return failed ? refuse(json, error) : json;
}

json_t *pa_json_loads(const char *text, size_t flags, json_error_t *error)
{
	json_t *json;

	begin();
	json = json_loads(text, flags, error);
	return failed ? refuse(json, error) : json;
}

char *pa_json_dumps(const json_t *json, size_t flags)
{
	char *text;

	begin();
	text = json_dumps(json, flags);
	if (text != NULL && failed) {
		pa_overwrite(text, strlen(text));
		next_free(text);
		return NULL;
	}
	return text;
}
