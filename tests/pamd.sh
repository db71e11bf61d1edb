# pamd.sh - sourced by the shell tests that run agent-run through pam_agent.
# pam_service_dir DIR CONF: makes DIR with the service agent-run (pam_agent
# with config=CONF for auth, account and session, then pam_permit) and the
# service other (deny everything). Needs PA_MODULE (from the test environment).
pam_service_dir() {
	mkdir "$1" || return 1
	cat > "$1/agent-run" <<SVC
auth     required $PA_MODULE config=$2
account  required $PA_MODULE config=$2
session  required $PA_MODULE config=$2
session  required pam_permit.so
SVC
	printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\n' \
		> "$1/other"
}
