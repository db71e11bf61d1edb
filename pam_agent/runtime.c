/*
 * runtime.c - who asks (docs/attestation.md): the requesting process of a
 * local application, attested through a pidfd by the identity engine, and
 * for agent-run the workload it is about to start, measured on the very
 * descriptor agent-run will fexecve.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <security/pam_ext.h>

#include "module.h"

/* agent-run's channel: the number of the descriptor it will fexecve */
#define WORKLOAD_VAR "PAM_AGENT_WORKLOAD_FD"

/* What the rules of cfg need measured besides ids, unit and paths. */
#define NEED_HASH 1u   /* an executable's SHA-256 (runtime.exe_sha256, parent_exe_sha256) */
#define NEED_PARENT 2u /* the requesting process's parent (runtime.parent_exe_sha256) */

static unsigned needs(const struct pol_config *cfg)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; cfg != NULL && i < cfg->n_agents; i++) {
		if (cfg->agents[i].runtime_exe_sha256.n > 0)
			n |= NEED_HASH;
		if (cfg->agents[i].runtime_parent_sha256.n > 0)
			n |= NEED_HASH | NEED_PARENT;
	}
	return n;
}

/* Whether this process runs the agent-run the module trusts (agent_run=). */
static bool is_agent_run(const struct pa_call *call)
{
	const char *path = call->args.agent_run != NULL ? call->args.agent_run : PA_AGENT_RUN_PATH;
	struct stat self, want;

	if (stat("/proc/self/exe", &self) != 0 || stat(path, &want) != 0)
		return false;
	return self.st_dev == want.st_dev && self.st_ino == want.st_ino;
}

/* One process, read between its pidfd's opening and the confirmation. */
static int attest_proc(pid_t pid, bool hash, bool my_parent, struct id_proc *p, char *err,
		       size_t errlen)
{
	struct id_attest_handle *h = NULL;
	int ret = -1;

	if (id_attest_open(pid, &h, err, errlen) != 0)
		goto out;
	/*
	 * the pidfd names the process that had pid; while it is still our
	 * parent it cannot have been reaped, so pid was not reused
	 */
	if (my_parent && getppid() != pid) {
		pa_err(err, errlen, "the requesting process %ld exited", (long)pid);
		goto out;
	}
	if (id_attest_read(h, hash ? ID_ATTEST_HASH : 0, p, err, errlen) == 0 &&
	    id_attest_confirm(h, err, errlen) == 0)
		ret = 0;
out:
	if (h != NULL)
		id_attest_close(h);
	if (ret != 0)
		id_proc_clear(p);
	return ret;
}

/*
 * The requesting process: the parent of the application (the agent that
 * runs sudo or su, the supervisor that runs agent-run); the application
 * itself when the service manager (pid 1) started it, as a unit does.
 * Its parent too when parent: only runtime.parent_exe_sha256 looks at it.
 */
static void attest_caller(struct pa_runtime *rt, bool hash, bool parent)
{
	pid_t pid = getppid();
	bool mine = pid != 1;
	char err[256];

	if (!mine)
		pid = getpid();
	if (attest_proc(pid, hash, mine, &rt->caller.proc, err, sizeof(err)) != 0) {
		snprintf(rt->absent, sizeof(rt->absent), "the requesting process was not attested: %s",
			 err);
		return;
	}
	if (parent && rt->caller.proc.ppid > 1 &&
	    attest_proc(rt->caller.proc.ppid, hash, false, &rt->caller.parents[0], err,
			sizeof(err)) == 0)
		rt->caller.n_parents = 1;
}

/* agent-run's workload: the descriptor named by PAM_AGENT_WORKLOAD_FD. */
static void read_workload(const struct pa_call *call, struct pa_runtime *rt, bool hash)
{
	const char *v = pam_getenv(call->pamh, WORKLOAD_VAR);
	char link[64], err[256];
	struct stat st;
	ssize_t n;
	long fd;
	char *end;

	if (v == NULL)
		return;
	if (!is_agent_run(call)) {
		snprintf(rt->absent, sizeof(rt->absent),
			 "%s is set by an application that is not agent-run %s", WORKLOAD_VAR,
			 call->args.agent_run != NULL ? call->args.agent_run : PA_AGENT_RUN_PATH);
		return;
	}
	fd = strtol(v, &end, 10);
	if (end == v || *end != '\0' || fd < 3 || fd > INT_MAX || fstat((int)fd, &st) != 0 ||
	    !S_ISREG(st.st_mode)) {
		snprintf(rt->absent, sizeof(rt->absent),
			 "agent-run's %s names no open regular file", WORKLOAD_VAR);
		return;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%ld", fd);
	n = readlink(link, rt->workload_exe, sizeof(rt->workload_exe) - 1);
	if (n <= 0 || (size_t)n >= sizeof(rt->workload_exe) - 1) {
		snprintf(rt->absent, sizeof(rt->absent), "cannot name agent-run's workload");
		return;
	}
	rt->workload_exe[n] = '\0';
	if (n > 10 && strcmp(rt->workload_exe + n - 10, " (deleted)") == 0) {
		rt->workload_exe[n - 10] = '\0';
		rt->workload_deleted = true;
	}
	/* a file someone else may write can change between this hash and the exec */
	id_exe_mutable(&st, rt->workload_mutable, sizeof(rt->workload_mutable));
	if (hash && id_sha256_fd((int)fd, rt->workload_sha256, err, sizeof(err)) != 0) {
		snprintf(rt->absent, sizeof(rt->absent), "cannot hash agent-run's workload: %s", err);
		return;
	}
	rt->workload = true;
}

/* What the policy sees, pointing into rt. */
static void fill_pol(struct pa_runtime *rt)
{
	const struct id_proc *c = &rt->caller.proc;
	struct pol_runtime *p = &rt->pol;

	memset(p, 0, sizeof(*p));
	if (rt->absent[0] != '\0') {
		p->absent = rt->absent;
		return;
	}
	p->unit = c->unit;
	p->has_uid = true;
	p->uid = c->uid;
	if (rt->workload) {
		p->subject = "workload";
		p->exe = rt->workload_exe;
		p->exe_sha256 = rt->workload_sha256[0] != '\0' ? rt->workload_sha256 : NULL;
		p->exe_deleted = rt->workload_deleted;
		p->exe_mutable = rt->workload_mutable[0] != '\0' ? rt->workload_mutable : NULL;
		p->parent_exe_sha256 = c->exe_sha256[0] != '\0' ? c->exe_sha256 : NULL;
	} else {
		p->subject = "caller";
		p->exe = c->exe;
		p->exe_sha256 = c->exe_sha256[0] != '\0' ? c->exe_sha256 : NULL;
		p->exe_deleted = c->exe_deleted;
		if (rt->caller.n_parents > 0 && rt->caller.parents[0].exe_sha256[0] != '\0')
			p->parent_exe_sha256 = rt->caller.parents[0].exe_sha256;
	}
}

const struct pol_runtime *pa_runtime(const struct pa_call *call, const struct pol_config *cfg)
{
	struct pa_context *ctx = pa_context_peek(call->pamh);
	const char *rhost = pa_item(call->pamh, PAM_RHOST);
	struct pa_runtime *rt;
	unsigned need = needs(cfg);

	if (ctx == NULL)
		return NULL;
	rt = &ctx->runtime;
	/* attested once per handle; again when a rule now wants more */
	if (rt->done && (rt->absent[0] != '\0' || (need & ~rt->needs) == 0))
		return &rt->pol;
	pa_runtime_clear(rt);
	rt->done = true;
	rt->needs = need;
	if (rhost != NULL && rhost[0] != '\0') {
		char shown[PA_ESCAPE_MAX];

		pa_escape(rhost, strlen(rhost), shown, sizeof(shown));
		snprintf(rt->absent, sizeof(rt->absent),
			 "a remote login from %s: there is no local caller to attest", shown);
	} else {
		read_workload(call, rt, (need & NEED_HASH) != 0);
		/* for the workload, the requesting process is the parent the rules check */
		if (rt->absent[0] == '\0')
			attest_caller(rt, (need & NEED_HASH) != 0,
				      !rt->workload && (need & NEED_PARENT) != 0);
	}
	fill_pol(rt);
	if (rt->absent[0] != '\0')
		pa_debug(call, "runtime: %s", rt->absent);
	return &rt->pol;
}

void pa_runtime_clear(struct pa_runtime *rt)
{
	id_runtime_clear(&rt->caller);
	memset(rt, 0, sizeof(*rt));
}
