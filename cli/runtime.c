/*
 * runtime.c - `pam-agent attest PID` (what the attestation engine sees of a
 * process) and the runtime explain decides with (--runtime-pid and the
 * --runtime-* values), built the way the module builds it
 * (docs/attestation.md).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "identity.h"
#include "pa_json.h"
#include "util.h"

/* A pid or uid argument: 0 and the value, or -1. */
static int parse_id(const char *s, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return (errno != 0 || end == s || *end != '\0' || *out < 0 || *out > max) ? -1 : 0;
}

static int attest_usage(FILE *f, int code)
{
	fprintf(f, "usage: pam-agent attest [--depth N] PID\n"
		   "Prints as JSON what pam_agent's attestation sees of process PID and\n"
		   "N of its parents (default 1): uid, gid, executable and the SHA-256 of\n"
		   "its content, systemd unit and invocation id (docs/attestation.md).\n"
		   "Exit 0, 1 when the process cannot be attested, 2 usage error.\n");
	return code;
}

int cmd_attest(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "depth", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct id_runtime rt;
	long pid, depth = 1;
	char err[512], *text;
	json_t *j;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (parse_id(optarg, ID_ATTEST_MAX_DEPTH, &depth) != 0)
				return cli_usage_error("attest: --depth %s: not a number from 0 to %d",
						       optarg, ID_ATTEST_MAX_DEPTH);
			break;
		case 'h': return attest_usage(stdout, CLI_OK);
		default: return attest_usage(stderr, CLI_USAGE);
		}
	}
	if (optind != argc - 1)
		return attest_usage(stderr, CLI_USAGE);
	if (parse_id(argv[optind], INT_MAX, &pid) != 0 || pid == 0)
		return cli_usage_error("attest: %s: not a process id", argv[optind]);
	if (id_attest((pid_t)pid, (unsigned)depth, &rt, err, sizeof(err)) != 0) {
		fprintf(stderr, "pam-agent: attest: %s\n", err);
		return CLI_REJECT;
	}
	j = id_runtime_to_json(&rt);
	text = j != NULL ? pa_json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
	json_decref(j);
	id_runtime_clear(&rt);
	if (text == NULL)
		return cli_usage_error("attest: out of memory");
	printf("%s\n", text);
	free(text);
	return CLI_OK;
}

/* ---- explain's runtime ---------------------------------------------------------- */

int cli_runtime_option(struct cli_runtime *r, int c, const char *arg)
{
	long v;

	switch (c) {
	case CLI_RT_PID:
		if (parse_id(arg, INT_MAX, &v) != 0 || v == 0)
			return cli_usage_error("explain: --runtime-pid %s: not a process id", arg);
		r->pid = (pid_t)v;
		break;
	case CLI_RT_UID:
		if (parse_id(arg, (long)UINT_MAX - 1, &v) != 0)
			return cli_usage_error("explain: --runtime-uid %s: not a uid", arg);
		r->has_uid = true;
		r->uid = (uid_t)v;
		break;
	case CLI_RT_EXE: r->exe = arg; break;
	case CLI_RT_SHA256: r->exe_sha256 = arg; break;
	case CLI_RT_PARENT_SHA256: r->parent_sha256 = arg; break;
	case CLI_RT_UNIT: r->unit = arg; break;
	case CLI_RT_WORKLOAD: r->workload = arg; break;
	default: return CLI_USAGE;
	}
	r->given = true;
	return -1;
}

/* Measures FILE as the module measures agent-run's workload. */
static int measure_workload(struct cli_runtime *r, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(r->workload, O_RDONLY | O_CLOEXEC);
	int ret = -1;

	if (fd < 0)
		return pa_err(err, errlen, "--runtime-workload %s: %s", r->workload,
			      strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		pa_err(err, errlen, "--runtime-workload %s: not a regular file", r->workload);
		goto out;
	}
	id_exe_mutable(&st, r->mutable_why, sizeof(r->mutable_why));
	ret = id_sha256_fd(fd, r->workload_sha256, err, errlen);
out:
	close(fd);
	return ret;
}

int cli_runtime_build(struct cli_runtime *r, const char *rhost, struct pol_runtime *out,
		      char *err, size_t errlen)
{
	const struct id_proc *c = &r->att.proc;

	memset(out, 0, sizeof(*out));
	if (rhost != NULL && rhost[0] != '\0') {
		snprintf(r->absent, sizeof(r->absent),
			 "a remote login from %s: there is no local caller to attest", rhost);
		out->absent = r->absent;
		return 0;
	}
	if (!r->given) {
		out->absent = "explain was given no runtime (--runtime-pid PID or --runtime-*)";
		return 0;
	}
	if (r->pid != 0 && id_attest(r->pid, 1, &r->att, err, errlen) != 0)
		return -1;
	if (r->workload != NULL && measure_workload(r, err, errlen) != 0)
		return -1;
	out->subject = r->workload != NULL ? "workload" : "caller";
	out->unit = r->pid != 0 ? c->unit : NULL;
	out->has_uid = r->pid != 0;
	out->uid = c->uid;
	if (r->workload != NULL) {
		out->exe = r->workload;
		out->exe_sha256 = r->workload_sha256;
		out->exe_mutable = r->mutable_why[0] != '\0' ? r->mutable_why : NULL;
		out->parent_exe_sha256 = r->pid != 0 ? c->exe_sha256 : NULL;
	} else if (r->pid != 0) {
		out->exe = c->exe;
		out->exe_sha256 = c->exe_sha256;
		out->exe_deleted = c->exe_deleted;
		if (r->att.n_parents > 0)
			out->parent_exe_sha256 = r->att.parents[0].exe_sha256;
	}
	/* explicit values over what was attested */
	if (r->exe != NULL)
		out->exe = r->exe;
	if (r->exe_sha256 != NULL)
		out->exe_sha256 = r->exe_sha256;
	if (r->parent_sha256 != NULL)
		out->parent_exe_sha256 = r->parent_sha256;
	if (r->unit != NULL)
		out->unit = r->unit;
	if (r->has_uid) {
		out->has_uid = true;
		out->uid = r->uid;
	}
	return 0;
}

void cli_runtime_clear(struct cli_runtime *r)
{
	id_runtime_clear(&r->att);
}
