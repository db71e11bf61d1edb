#!/bin/sh
# Root-only: proof of possession through the distribution's own OpenSSH
# sshd and a stock ssh client (docs/proof-of-possession.md): ssh runs
# pam-agent-askpass (SSH_ASKPASS, SSH_ASKPASS_REQUIRE=force) once per
# keyboard-interactive prompt, stateless; it presents the X.509-SVID of a
# spiffe-helper directory in parts and signs the module's challenge.
#  - the X.509-SVID with its key logs the agent in: the command runs in a
#    session holding its credential, which is revoked at logout;
#  - a key-bound JWT (cnf.jkt) and a WIT-SVID (cnf.jwk, `testca wit`), each
#    with its key, log in too;
#  - refused, nothing runs, the audit says why: the copied certificate with
#    another key; the WIT-SVID with another key; the copied certificate whose challenge goes unanswered;
#    a bearer token of the trust domain that requires possession; and the
#    client refuses to sign a challenge for another audience than the host
#    it means (a host relaying another host's challenge).
. "$(dirname "$0")/lib.sh"
pa_root_require "root_sshd_pop.sh" keyctl useradd userdel setpriv ssh ssh-keygen ss timeout python3
if [ ! -x /usr/sbin/sshd ]; then
	echo "SKIP: root_sshd_pop.sh needs /usr/sbin/sshd (scripts/deps.sh installs openssh-server)"
	exit 77
fi
. "$(dirname "$0")/apps.sh"

AUD=spiffe://x509.test/host/root-sshd-pop
pa_root_work root-sshd-pop
pa_apps_user
CONF=$work/pam_agent.conf

# ---- trust domain, the agent's SVID (spiffe-helper's layout) and keys ------------------------
pa_testca "$work/ca" x509.test
"$PAM_AGENT" testca x509 "$work/ca" --id spiffe://x509.test/agents/sshpop --out "$work/svid" \
	> /dev/null || pa_die "testca x509 failed"
# keys of Python's cryptography: another key (the thief's), and a token's
# key with its RFC 7638 thumbprint
python3 - "$work" <<'PY' || pa_die "cannot make the client keys"
import base64, hashlib, json, os, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
for name in ("other", "tokkey"):
    k = ec.generate_private_key(ec.SECP256R1())
    path = os.path.join(sys.argv[1], name + ".pem")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()))
    os.close(fd)
    n = k.public_key().public_numbers()
    jwk = {"crv": "P-256", "kty": "EC", "x": b64(n.x.to_bytes(32, "big")),
           "y": b64(n.y.to_bytes(32, "big"))}
    canon = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()
    open(path + ".jkt", "w").write(b64(hashlib.sha256(canon).digest()))
PY
umask 077
printf 'S3CR3T-pop-%s\n' "$(rnd)" > "$work/pop.secret"
"$PAM_AGENT" testca mint "$work/ca" --id spiffe://x509.test/agents/sshpop --aud "$AUD" \
	--claim "cnf={\"jkt\":\"$(cat "$work/tokkey.pem.jkt")\"}" > "$work/bound.jwt"
"$PAM_AGENT" testca mint "$work/ca" --id spiffe://x509.test/agents/sshpop --aud "$AUD" \
	> "$work/bearer.jwt"
"$PAM_AGENT" testca wit "$work/ca" --id spiffe://x509.test/agents/sshpop --out "$work/wit" \
	> /dev/null || pa_die "testca wit failed"
umask 022
svc=$(pa_root_service "auth required @MODULE@ config=$CONF
account required @MODULE@ config=$CONF
session optional pam_keyinit.so force revoke
session required @MODULE@ config=$CONF")
G=pop_t$$
{
	pa_policy_head replay_dir="$work/replay" state_dir="$work/state" \
		audit_log="$work/audit.log" helper="$HELPER"
	pa_section "trust_domain x509.test" bundle="$work/ca/bundle.json" require_pop=yes
	pa_section "service $svc" class=read
	pa_section "grant $G" class=read source=file path="$work/pop.secret" ttl=10m
	pa_section "agent spiffe://x509.test/agents/sshpop" users="$tuser" services="$svc" \
		grants="$G"
} | pa_write "$CONF"
pa_check_conf "$CONF"

# ---- the private sshd, keyboard-interactive -----------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -C pam-agent-test -f "$work/hostkey"
pa_apps_sshd_up "$svc" "MaxAuthTries 3" "LoginGraceTime 60" "LogLevel DEBUG3"
mkdir -m 0700 "$work/box"
chown "$tuser:" "$work/box"

# login ASKPASS COMMAND...: a stock ssh, keyboard-interactive, its prompts
# answered by ASKPASS; the PAM_AGENT_* variables of the caller go with it
login() { pa_apps_ssh keyboard-interactive "$@"; }

# logged_in NAME: the login of the caller's PAM_AGENT_* runs the command
# in a session that reads its credential, revoked after logout
logged_in() {
	out=$work/box/$(rnd 4)
	login "$ASKPASS" "keyctl print %user:pam_agent:$G > $out; keyctl search @s user pam_agent:$G >> $out" \
		> "$work/login.out" 2>&1
	rc=$?
	check "$1: ssh exits 0" test "$rc" = 0
	[ "$rc" = 0 ] || echo "    ssh: $(tr '\n' ' ' < "$work/login.out")"
	check "$1: the session reads its credential" \
		test "$(head -n 1 "$out" 2>/dev/null)" = "$(tr -d '\n' < "$work/pop.secret")"
	# sshd's monitor closes the PAM session once the connection is gone
	check "$1: after logout pam-agent sessions lists nothing" no_sessions "$PAM_AGENT" "$CONF"
	# revoked, or already collected by the kernel (nothing here keeps it linked)
	check "$1: after logout the key is revoked" \
		sh -c 'r=$(keyctl print "$1" 2>&1) && exit 1; case $r in *revoked*|*"Required key not available"*) ;; *) exit 1 ;; esac' \
		sh "$(sed -n 2p "$out" 2>/dev/null || echo 0)"
}

# refused NAME ASKPASS AUDIT-TEXT: the login fails, nothing runs, the
# audit's last refusal says why
refused() {
	rm -f "$work/box/ran"
	login "$2" "touch $work/box/ran" > "$work/refused.out" 2>&1
	rc=$?
	check "$1: refused (ssh exits $rc, \"Permission denied\"), nothing runs" \
		sh -c '[ "$1" = 255 ] && grep -q "Permission denied" "$3" && [ ! -e "$2" ]' \
		sh "$rc" "$work/box/ran" "$work/refused.out"
	check "$1: the audit says: $3" \
		sh -c 'grep "\"result\":\"failed\"" "$1" | tail -n 1 | grep -q "$2"' sh "$work/audit.log" "$3"
}

export PAM_AGENT_AUDIENCE="$AUD"
PAM_AGENT_SVID_DIR=$work/svid logged_in "an X.509-SVID with its key (spiffe-helper's directory)"
check "the audit records the login by proof of possession" \
	grep -q '"result":"ok".*agents/sshpop' "$work/audit.log"
PAM_AGENT_TOKEN_FILE=$work/bound.jwt PAM_AGENT_POP_KEY=$work/tokkey.pem \
	logged_in "a key-bound JWT-SVID with its key"
PAM_AGENT_TOKEN_FILE=$work/wit/wit.jwt PAM_AGENT_POP_KEY=$work/wit/wit_key.pem \
	logged_in "a WIT-SVID with its cnf key (testca wit)"

# the thief has the certificate, not the key
PAM_AGENT_SVID=$work/svid/svid.pem PAM_AGENT_SVID_KEY=$work/other.pem \
	refused "the copied certificate answered with another key" "$ASKPASS" \
	"not a signature of this challenge by the evidence's key"
cat > "$work/nokey" <<EOF
#!/bin/sh
# presents the certificate, cannot answer the challenge
case "\$1" in
*"proof of possession"*) echo; exit 0 ;;
esac
exec "$ASKPASS" "\$1"
EOF
chmod 0755 "$work/nokey"
PAM_AGENT_SVID=$work/svid/svid.pem PAM_AGENT_SVID_KEY=$work/other.pem \
	refused "the copied certificate whose challenge goes unanswered" "$work/nokey" \
	"X.509-SVID refused: no answer to the challenge"
PAM_AGENT_TOKEN_FILE=$work/wit/wit.jwt PAM_AGENT_POP_KEY=$work/other.pem \
	refused "the WIT-SVID answered with another key" "$ASKPASS" \
	"not a signature of this challenge by the evidence's key"
PAM_AGENT_TOKEN_FILE=$work/bearer.jwt \
	refused "a bearer token of a trust domain with require_pop" "$ASKPASS" \
	"\[trust_domain x509.test\] requires proof of possession"
# a host that relays another host's challenge: the client does not sign it
PAM_AGENT_AUDIENCE=spiffe://x509.test/host/elsewhere PAM_AGENT_SVID_DIR=$work/svid \
	refused "a challenge for another audience is not signed" "$ASKPASS" \
	"X.509-SVID refused: no answer to the challenge"
check "the askpass said why it did not sign" \
	grep -q 'is for audience "spiffe://x509.test/host/root-sshd-pop", not "spiffe://x509.test/host/elsewhere"' \
	"$work/refused.out"
check "after the logins pam-agent sessions lists nothing" no_sessions "$PAM_AGENT" "$CONF"
pa_apps_stop "$sshd_pid"
check "the private sshd is stopped" sh -c '! kill -0 "$1" 2>/dev/null' sh "$sshd_pid"
pa_summary
