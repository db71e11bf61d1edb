/*
 * helper_program.c - pam_agent_helper's request handling, callable from
 * tests/mem/test_allocfail: compiles helpers/pam_agent_helper.c as it is,
 * its main renamed (like tests/fuzz/helper_request.c), plus one entry point
 * that does what main does with a parsed request.
 */
int pa_helper_program_main(int argc, char **argv);
#define main pa_helper_program_main
#include "../../helpers/pam_agent_helper.c"
#undef main

json_t *mem_helper_request(const json_t *req);

/* The reply the helper's main would write for req (NULL: none). */
json_t *mem_helper_request(const json_t *req)
{
	const json_t *op = json_object_get(req, "op");

	if (!json_is_object(req))
		return fail_reply("request: not a JSON object", NULL);
	if (json_is_string(op) && strcmp(json_string_value(op), "open") == 0)
		return do_open(req);
	if (json_is_string(op) && strcmp(json_string_value(op), "close") == 0)
		return do_close(req);
	return fail_reply("request: \"op\" must be \"open\" or \"close\"", NULL);
}
