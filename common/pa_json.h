/*
 * pa_json.h - jansson calls that fail when memory ran out (part of the
 * common component, libpa_common).
 *
 * jansson 2.14 does not always report a failed allocation: its parser
 * drops the byte it could not append to a string (load.c, lex_save) and
 * returns the shortened string as parsed; json_dumps drops an object key
 * it could not write. A parsed claim or a written record could then differ
 * from the bytes without any error. These wrappers watch jansson's
 * allocations (common/json.c) and refuse the result of a call during which
 * one failed. The first call installs the watch for the whole process, on
 * top of the allocator installed before it; so the module is never
 * unloaded (-z nodelete) while jansson could still call into it. Two
 * copies of this code in one process (the module and a program linking
 * the engines) chain and both watch. A component that later installs an
 * allocator of its own without chaining ends the watch: jansson's own
 * behaviour again (docs/security.md).
 */
#ifndef PA_JSON_H
#define PA_JSON_H

#include <stddef.h>

#include <jansson.h>

/* json_loadb; NULL with error->text "out of memory" when memory ran out. */
json_t *pa_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *error);

/* json_loads, likewise. */
json_t *pa_json_loads(const char *text, size_t flags, json_error_t *error);

/*
 * json_dumps; NULL when memory ran out (the partial text is wiped and
 * freed: it may hold a secret).
 */
char *pa_json_dumps(const json_t *json, size_t flags);

#endif
