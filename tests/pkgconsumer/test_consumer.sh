#!/bin/sh
# A consumer of libagentcred built the way any package builds one: its own
# configure.ac with PKG_CHECK_MODULES([AGENTCRED], [agentcred]),
# `autoreconf -fi && ./configure && make`, against an INSTALLED
# libagentcred, then run inside an agent session, where it must print the
# session's credential.
#
# usage: test_consumer.sh STAGE   (make check-pkgconsumer)
#   STAGE is a `make install DESTDIR=STAGE`: the consumer finds agentcred.pc
#   there (PKG_CONFIG_PATH, PKG_CONFIG_SYSROOT_DIR) and links the staged
#   library (its rpath); the session is the staged agent-run, module and
#   helper, through the real Linux-PAM library (service files through
#   pam_wrapper), as any user.
# usage: test_consumer.sh --system SERVICE USER POLICY-DIR
#   (tests/root/deb_install.sh, with the .debs installed): agentcred.pc from
#   the system's pkg-config path, /usr/bin/agent-run with the real
#   /etc/pam.d SERVICE as USER; POLICY-DIR holds the token file "token" and
#   "secret", what the grant "legacy-db" must give.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lib.sh"
need autoreconf make cc keyctl
pa_workdir pa-pkgconsumer
cp "$here/configure.ac" "$here/Makefile.am" "$here/agentcred-print.c" "$work/"
chmod 0755 "$work"

# build [VAR=VALUE...]: autoreconf, configure (with the settings given), make
build() {
	(cd "$work" && autoreconf -fi && env "$@" ./configure && make) > "$work/build.log" 2>&1
}

if [ "${1:-}" = --system ]; then
	svc=$2 user=$3 pol=$4
	if ! build; then
		fail "the consumer builds against the installed agentcred.pc"
		tail -n 30 "$work/build.log"
		pa_summary
		exit 1
	fi
	check "configure found agentcred through PKG_CHECK_MODULES (the installed .pc)" \
		grep -Eq "checking for (AGENTCRED|agentcred)\.\.\. yes" "$work/build.log"
	check "the consumer links the packaged libagentcred.so.0 (/usr/lib/TRIPLET, or /lib/TRIPLET on a merged /usr)" \
		sh -c 'ldd "$1" | grep -Eq "libagentcred\.so\.0 => (/usr)?/lib/[^ /]+/libagentcred\.so\.0"' sh "$work/agentcred-print"
	/usr/bin/agent-run --service "$svc" --user "$user" --token-file "$pol/token" -- \
		"$work/agentcred-print" legacy-db > "$work/run.out" 2> "$work/run.err"
	rc=$?
else
	stage=$(cd "${1:?usage: test_consumer.sh STAGE}" && pwd)
	need_pam_wrapper
	pc=$(find "$stage" -name agentcred.pc | head -n 1)
	[ -n "$pc" ] || pa_die "no agentcred.pc under $stage"
	pcdir=$(dirname "$pc")
	libdir=${pcdir%/pkgconfig}
	prefix=${libdir%/lib*}
	module=$(find "$stage" -name pam_agent.so | head -n 1)
	for f in "$libdir/libagentcred.so.0" "$module" "$prefix/bin/agent-run" "$prefix/sbin/pam-agent" \
		"$prefix/libexec/pam_agent_helper"; do
		need_built "$f"
	done
	if ! build PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$stage" LDFLAGS="-Wl,-rpath,$libdir"; then
		fail "the consumer builds against the staged agentcred.pc"
		tail -n 30 "$work/build.log"
		pa_summary
		exit 1
	fi
	check "configure found agentcred through PKG_CHECK_MODULES (the staged .pc)" \
		grep -Eq "checking for (AGENTCRED|agentcred)\.\.\. yes" "$work/build.log"
	check "the consumer links the staged libagentcred.so.0" \
		sh -c 'ldd "$1" | grep -qF "libagentcred.so.0 => $2/libagentcred.so.0"' sh "$work/agentcred-print" "$libdir"
	# a session through the staged programs
	PAM_AGENT=$prefix/sbin/pam-agent
	AUD=spiffe://example.org/host/consumer
	pol=$work/policy
	mkdir -p "$pol"
	pa_testca
	printf 'S3CR3T-consumer-%s' "$(rnd)" > "$pol/secret"
	chmod 0600 "$pol/secret"
	pa_policy_head helper="$prefix/libexec/pam_agent_helper" state_dir="$work/state" \
		audit_log="$work/audit.log" | pa_write "$work/pam_agent.conf"
	{
		pa_section "service agent-run" class=read
		pa_section "grant legacy-db" class=read source=file path="$pol/secret" ttl=10m
		pa_section "agent spiffe://example.org/agents/consumer" users="$(id -un)" \
			services=agent-run grants=legacy-db
	} >> "$work/pam_agent.conf"
	PA_MODULE=$module pa_pamd "$work/pam.d" "$work/pam_agent.conf"
	pa_mint consumer "$AUD" > "$pol/token"
	pa_wrapped "$work/pam.d" keyctl session - "$prefix/bin/agent-run" --token-file "$pol/token" \
		--user "$(id -un)" -- "$work/agentcred-print" legacy-db > "$work/run.out" 2> "$work/run.err"
	rc=$?
fi
if [ "$rc" = 0 ] && [ "$(cat "$work/run.out")" = "legacy-db=$(cat "$pol/secret")" ]; then
	pass "inside the agent-run session the consumer prints the credential legacy-db"
else
	fail "the consumer inside agent-run (exit $rc) printed:"
	sed 's/^/    /' "$work/run.out" "$work/run.err"
fi
pa_summary
