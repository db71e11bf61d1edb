/*
 * helper_request.c - makes the request handling of pam_agent_helper
 * callable from tests: fuzz_helper_reply and tests/mem/test_allocfail. The
 * helper program parses its request in static functions of
 * helper/pam_agent_helper.c (check_members, parse_common, parse_grant,
 * do_open, do_close) and exposes no parse function, so this file compiles
 * the program's source as it is, with its main renamed, and adds one entry
 * point. What the handlers do after parsing (grant sources, keyring calls)
 * is replaced by each test through the linker's --wrap (kr_key_add,
 * kr_revoke, kr_session_revoke, hp_grant_mint/file/exec, hp_exchange_run).
 */
int pa_helper_program_main(int argc, char **argv);
#define main pa_helper_program_main
#include "../../helper/pam_agent_helper.c"
#undef main

json_t *pa_test_helper_request(const json_t *req);

/* What the helper's main does with a parsed request: the reply. */
json_t *pa_test_helper_request(const json_t *req)
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
