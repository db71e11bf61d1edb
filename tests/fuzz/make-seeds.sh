#!/bin/sh
# Regenerates the seed corpora of the fuzz targets in tests/fuzz/corpus/
# from real inputs: tokens minted by `pam-agent testca mint` with the test
# CA in tests/fuzz/testca (its public key is embedded in fuzz_jws.c), the
# independent fixtures of tests/data/independent, the policy files of
# tests/data/policy, the examples of docs/helper.md, and the session records
# the module wrote for two real sessions (agent-run through the real
# Linux-PAM library and pam_wrapper, in a throwaway session keyring; needs
# the built module, helper and agent-run, pam_wrapper and keyctl).
# Usage: tests/fuzz/make-seeds.sh BUILD-DIR   (where pam-agent was built)
# Regression seeds (regress-*) are kept; everything else is rewritten.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: make-seeds.sh BUILD-DIR}
pa="$build/pam-agent"
corpus=$top/tests/fuzz/corpus
tmp=$(mktemp -d)
cleanup() {
	# pam_wrapper's copies of the service files of the sessions below (a
	# process that loaded it and then exec'd leaves its copy): only ours
	for d in /tmp/pam.?; do
		[ -d "$d" ] && grep -qs -- "$tmp" "$d"/* && rm -rf -- "$d"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

for t in fuzz_jws fuzz_jwks fuzz_config fuzz_helper_reply fuzz_b64url fuzz_session fuzz_nssdb fuzz_x509 fuzz_pop; do
	mkdir -p "$corpus/$t"
	find "$corpus/$t" -type f ! -name 'regress-*' -delete
done

# ---- fuzz_jws: minted tokens, the independent cases, split and claims forms
# testca mint wants its key root-owned (or ours) and 0600: git keeps 0644
cp -r "$top/tests/fuzz/testca" "$tmp/ca"
chmod 700 "$tmp/ca"
chmod 600 "$tmp/ca/signing.key"
aud=spiffe://example.org/host/test
now=1700000050
mint() { # NAME ARGS…
	name=$1
	shift
	"$pa" testca mint "$tmp/ca" --now "$now" "$@" | tr -d '\n' >"$corpus/fuzz_jws/$name"
}
mint testca-basic --id spiffe://fuzz.example/agents/bot --aud $aud
mint testca-task-scope --id spiffe://fuzz.example/agents/bot --aud $aud \
	--claim task=T-42 --claim scope=tickets:read
mint testca-aud-array --id spiffe://fuzz.example/agents/bot --aud $aud --aud other
mint testca-act --id spiffe://fuzz.example/agents/bot --aud $aud \
	--claim 'act={"sub":"spiffe://fuzz.example/orchestrator","act":{"sub":"spiffe://example.org/human/alice"}}'
mint testca-nbf --id spiffe://fuzz.example/agents/bot --aud $aud --claim nbf=1700000040
mint testca-expired --id spiffe://fuzz.example/agents/bot --aud $aud --ttl 10s
mint testca-too-long --id spiffe://fuzz.example/agents/bot --aud $aud --ttl 2h
mint testca-oidc --id spiffe://fuzz.example/agents/bot --aud pam-agent-fuzz \
	--claim iss=https://issuer.fuzz.example --claim sub=ci-runner-7
mint testca-real-times --id spiffe://fuzz.example/agents/bot --aud $aud \
	--claim iat=1700000050.5 --claim exp=1700000300.9
python3 - "$top/tests/data/independent/cases.json" "$corpus/fuzz_jws" <<'EOF'
import base64, json, re, sys
cases, out = sys.argv[1], sys.argv[2]
def name(s):
    return re.sub(r'[^a-z0-9]+', '-', s.lower()).strip('-')
def b64d(s):
    return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))
for c in json.load(open(cases))['cases']:
    tok = c['token']
    open(f"{out}/case-{name(c['name'])}", 'w').write(tok)
import glob
for path in sorted(glob.glob(out + '/case-valid-*') + glob.glob(out + '/testca-*')):
    parts = open(path).read().split('.')
    if len(parts) != 3:
        continue
    try:
        h, p, s = (b64d(x) for x in parts)
    except Exception:
        continue
    base = path.rsplit('/', 1)[1]
    # split form: HEADER \0 PAYLOAD \0 SIG
    open(f"{out}/split-{base}", 'wb').write(h + b'\0' + p + b'\0' + s)
    # claims form: the payload alone (signed by the target's own keys)
    open(f"{out}/claims-{base}", 'wb').write(p)
EOF

# ---- fuzz_jwks: bundles and JWKS
cp "$top/tests/data/independent/bundle.json" "$corpus/fuzz_jwks/independent-bundle.json"
cp "$top/tests/data/independent/oidc_jwks.json" "$corpus/fuzz_jwks/independent-oidc-jwks.json"
cp "$top/tests/fuzz/testca/bundle.json" "$corpus/fuzz_jwks/testca-es256-bundle.json"
for alg in ES384 ES512 RS256 PS256; do
	"$pa" testca init "$tmp/ca-$alg" --trust-domain fuzz.example --alg $alg >/dev/null
	cp "$tmp/ca-$alg/bundle.json" "$corpus/fuzz_jwks/testca-$(echo $alg | tr A-Z a-z)-bundle.json"
done
# the bundle consumption cases (unknown use and kty, X25519, x509-svid, empty,
# duplicate kid, ...), "@KEY@" replaced by the test CA's jwt-svid key
for f in "$top"/tests/data/bundles/*.json; do
	case $f in */cases.json) continue ;; esac
	python3 -c 'import json, sys
key = json.dumps(json.load(open(sys.argv[1]))["keys"][0])
sys.stdout.write(open(sys.argv[2]).read().replace("\"@KEY@\"", key))' \
		"$top/tests/fuzz/testca/bundle.json" "$f" > "$corpus/fuzz_jwks/bundle-$(basename "$f")"
done

# ---- fuzz_config: the policy files, and main + drop-in for pol_config_load
for f in base.conf narrow.conf base.d/50-deny.conf; do
	cp "$top/tests/data/policy/$f" "$corpus/fuzz_config/$(echo "$f" | tr / -)"
done
{
	cat "$top/tests/data/policy/base.conf"
	printf '\n#%%drop-in\n'
	cat "$top/tests/data/policy/base.d/50-deny.conf"
} >"$corpus/fuzz_config/base-with-dropin.conf"
{
	cat "$top/tests/data/policy/narrow.conf"
	printf '\n#%%drop-in\n[service sshd]\nclass = write\n#%%drop-in\n'
	printf '[deny spiffe://example.org/agents/*]\nreason = maintenance\n'
} >"$corpus/fuzz_config/narrow-with-two-dropins.conf"

# ---- fuzz_helper_reply: the docs/helper.md examples
h=$corpus/fuzz_helper_reply
cat >"$h/open-request.json" <<'EOF'
{"op":"open","sid":"6f1c","ring":123456789,
 "agent":"spiffe://example.org/agents/bot","task":"T-42","scope":"read",
 "act":{"sub":"spiffe://example.org/agents/orchestrator"},
 "user":"svc-bot","uid":1001,"max_session":900,"timeout":30,
 "grants":[
   {"name":"tickets-ro","class":"read","source":"mint",
    "audience":"https://tickets.example.org","scope":"tickets:read","ttl":600,
    "command":null,"revoke":null,"path":null},
   {"name":"tickets-rw","class":"write","source":"exec","audience":null,
    "scope":null,"ttl":300,"command":"/usr/libexec/vault-broker issue tickets-rw",
    "revoke":"/usr/libexec/vault-broker revoke","path":null}],
 "broker":{"key":"/etc/pam_agent/broker.key",
           "issuer":"pam_agent:web01","jwks":"/run/pam_agent/broker.jwks"}}
EOF
cat >"$h/open-reply-ok.json" <<'EOF'
{"ok":true,"keys":[
  {"grant":"tickets-ro","serial":402918,"expires_at":1718014200,"handle":null,"revoke":null},
  {"grant":"tickets-rw","serial":402919,"expires_at":1718013900,"handle":"lease-1",
   "revoke":"/usr/libexec/vault-broker revoke"}]}
EOF
cat >"$h/open-reply-refused.json" <<'EOF'
{"ok":false,"error":"broker /usr/libexec/vault-broker exited with status 1 (stderr: denied)",
 "grant":"tickets-rw"}
EOF
cat >"$h/close-request.json" <<'EOF'
{"op":"close","sid":"6f1c","ring":123456789,
 "agent":"spiffe://example.org/agents/bot","timeout":30,
 "keys":[{"grant":"tickets-rw","serial":402919,"expires_at":1718013900,
          "revoke":"/usr/libexec/vault-broker revoke","handle":"lease-1"}]}
EOF
cat >"$h/close-reply.json" <<'EOF'
{"ok":false,"ring_revoked":true,"results":[
  {"grant":"tickets-ro","serial":402918,"revoked":true,"broker":"none"},
  {"grant":"tickets-rw","serial":402919,"revoked":true,
   "broker":"failed: revoke /usr/libexec/vault-broker exited with status 2 (stderr: lease not found)"}]}
EOF
cat >"$h/keys-state.json" <<'EOF'
[{"grant":"tickets-ro","serial":402918,"expires_at":1718014200},
 {"grant":"tickets-rw","serial":402919,"expires_at":1718013900,"handle":"lease-1",
  "revoke":"/usr/libexec/vault-broker revoke"}]
EOF
cat >"$h/broker-answer.json" <<'EOF'
{"secret":"hvs.CAESIJ","expires_at":1718013900,"revoke_handle":"auth/token/lease-1"}
EOF
cat >"$h/broker-answer-rfc3339.json" <<'EOF'
{"secret":"AKIA-secret","expires_at":"2024-06-10T10:00:00.123+02:00","Version":1}
EOF
printf '/usr/libexec/vault-broker issue  tickets-rw\t--ttl 300' >"$h/command-line.txt"

# ---- fuzz_b64url: segments of real tokens
b=$corpus/fuzz_b64url
i=0
for f in "$corpus"/fuzz_jws/testca-basic "$corpus"/fuzz_jws/case-valid-rs256 \
	"$corpus"/fuzz_jws/case-valid-eddsa-oidc; do
	for seg in 1 2 3; do
		i=$((i + 1))
		cut -d. -f$seg "$f" | tr -d '\n' >"$b/segment-$i"
	done
done
printf 'AQAB' >"$b/rsa-exponent"
printf 'QQ' >"$b/one-byte"
printf 'QUI' >"$b/two-bytes"
: >"$b/empty"
# ---- fuzz_x509: the chains of tests/data/x509 as PEM, compact and DER, and
# a test CA's X.509-SVID; its X.509 bundle seeds fuzz_jwks too
cp "$top/tests/data/x509/bundle.json" "$corpus/fuzz_jwks/x509-bundle.json"
python3 - "$top/tests/data/x509" "$corpus/fuzz_x509" <<'EOF'
import base64, json, os, re, sys
src, out = sys.argv[1], sys.argv[2]
cases = json.load(open(os.path.join(src, "cases.json")))
for c in cases["cases"]:
    name = c["chain"][:-4]
    pem = open(os.path.join(src, c["chain"])).read()
    ders = [base64.b64decode("".join(b.split())) for b in
            re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem, re.S)]
    open(os.path.join(out, "pem-" + name), "w").write(pem)
    open(os.path.join(out, "compact-" + name), "w").write(".".join(
        base64.urlsafe_b64encode(d).rstrip(b"=").decode() for d in ders))
    open(os.path.join(out, "der-" + name), "wb").write(b"".join(ders))
EOF
"$pa" testca x509 "$tmp/ca-ES384" --id spiffe://fuzz.example/agents/bot --out "$tmp/svid" >/dev/null
cp "$tmp/svid/svid.pem" "$corpus/fuzz_x509/pem-testca-es384"

# ---- fuzz_jws: WIT-SVID claims (claims mode signs them as typ wit+jwt too)
python3 - "$corpus/fuzz_jws" <<'EOF'
import base64, json, os, sys
from cryptography.hazmat.primitives.asymmetric import ec
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
n = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
jwk = {"kty": "EC", "crv": "P-256", "x": b64(n.x.to_bytes(32, "big")),
       "y": b64(n.y.to_bytes(32, "big")), "alg": "ES256"}
c = {"sub": "spiffe://fuzz.example/agents/bot", "iat": 1700000050, "exp": 1700000300,
     "jti": "w1", "cnf": {"jwk": jwk}}
for name, claims in (("claims-wit-svid", c),
                     ("claims-wit-svid-aud", dict(c, aud="spiffe://example.org/host/test"))):
    open(os.path.join(sys.argv[1], name), "w").write(json.dumps(claims, separators=(",", ":")))
EOF

# ---- fuzz_pop: pam_agent's prompts as a client sees them (ssh's prefix
# too), challenges for the target's audience and another, answers' forms
python3 - "$corpus/fuzz_pop" <<'EOF'
import base64, json, os, sys
out = sys.argv[1]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def chal(aud):
    return "pa-pop1." + b64(json.dumps({"aud": aud, "ev": "00", "exp": 1800000060,
        "iat": 1800000000, "nonce": "00" * 16, "svc": "sshd"},
        separators=(",", ":"), sort_keys=True).encode())
jwk = b64(json.dumps({"crv": "P-256", "kty": "EC", "x": b64(bytes(32)), "y": b64(bytes(32))},
                     separators=(",", ":"), sort_keys=True).encode())
seeds = {
    "token-prompt": "Agent token: ",
    "token-prompt-ssh": "(agent@127.0.0.1) Agent token: ",
    "continued-400": "Agent token (continued at 400): ",
    "continued-800": "(agent@h) Agent token (continued at 800): ",
    "continued-end": "Agent token (continued at 1000): ",
    "password": "Password: ",
    "x509-challenge": "pam_agent proof of possession (X.509-SVID key): %s\nSignature: "
        % chal("spiffe://fuzz.example/host/h"),
    "token-challenge": "(agent@h) pam_agent proof of possession (token key): %s\nSignature: "
        % chal("spiffe://fuzz.example/host/h"),
    "other-aud-challenge": "pam_agent proof of possession (X.509-SVID key): %s\nSignature: "
        % chal("spiffe://fuzz.example/host/other"),
    "answer-sig": b64(bytes(64)),
    "answer-jwk-sig": jwk + "." + b64(bytes(64)),
    "answer-bad-jwk": b64(b"[1]") + "." + b64(bytes(64)),
}
for name, text in seeds.items():
    open(os.path.join(out, name), "w").write(text)
EOF

# ---- fuzz_session: records written by the module, and hand-written forms
s=$corpus/fuzz_session
pw=$(sed -n 's/^PAM_WRAPPER_SO = //p' "$build/Makefile")
if [ -z "$pw" ] || [ ! -f "$pw" ] || ! command -v keyctl >/dev/null 2>&1; then
	echo "make-seeds.sh: fuzz_session needs pam_wrapper (libpam-wrapper) and keyctl (keyutils)" >&2
	exit 1
fi
bdir=$(cd "$build" && pwd)
w=$tmp/session
mkdir -p "$w/pam.d" "$w/out"
chmod 755 "$tmp" "$w"
me=$(id -un)
printf 'S3CR3T-seed\n' >"$w/file.secret"
chmod 600 "$w/file.secret"
printf '#!/bin/sh\ncat >/dev/null\necho %s\n' \
	"'{\"secret\":\"seed-secret\",\"expires_at\":null,\"revoke_handle\":\"lease-42\"}'" >"$w/issue"
printf '#!/bin/sh\ncat >/dev/null\n' >"$w/revoke"
# the agent: copies the record of its own session while the session is open
printf '#!/bin/sh\ncp "$1"/state/sessions/* "$1/out/$2"\n' >"$w/cmd"
chmod 755 "$w/issue" "$w/revoke" "$w/cmd"
{
	printf '[global]\naudience = %s\nbroker_key = %s\nhelper = %s\n' \
		"$aud" "$tmp/ca/signing.key" "$bdir/pam_agent_helper"
	printf 'state_dir = %s\naudit_log = %s\n' "$w/state" "$w/audit.log"
	printf '[trust_domain fuzz.example]\nbundle = %s\n' "$tmp/ca/bundle.json"
	printf '[service agent-run]\nclass = read\n'
	printf '[grant legacy-db]\nclass = read\nsource = file\npath = %s\nttl = 10m\n' \
		"$w/file.secret"
	printf '[grant tickets-ro]\nclass = read\nsource = mint\n'
	printf 'audience = https://tickets.example.org\nttl = 10m\n'
	printf '[grant vault-ro]\nclass = read\nsource = exec\ncommand = %s\n' "$w/issue"
	printf 'revoke = %s %s\nttl = 10m\n' "$w/revoke" "$w/revoked.log"
	printf '[agent spiffe://fuzz.example/agents/bot]\nusers = %s\nservices = agent-run\n' "$me"
	printf 'grants = legacy-db tickets-ro vault-ro\n'
	printf '[agent spiffe://fuzz.example/agents/plain]\nusers = %s\nservices = agent-run\n' "$me"
} >"$w/pam_agent.conf"
chmod 644 "$w/pam_agent.conf"
for f in auth account session; do
	echo "$f required $bdir/.libs/pam_agent.so config=$w/pam_agent.conf"
done >"$w/pam.d/agent-run"
printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\n' \
	>"$w/pam.d/other"
session() { # NAME MINT-ARGS...: one real session; its record becomes the seed module-NAME
	name=$1
	shift
	"$pa" testca mint "$tmp/ca" "$@" --aud "$aud" >"$w/token"
	rm -rf "$w/state"
	if ! keyctl session - env LD_PRELOAD="$pw" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$w/pam.d" \
		UID_WRAPPER_DISABLE_DEEPBIND=1 "$bdir/agent-run" --token-file "$w/token" \
		--user "$me" -- "$w/cmd" "$w" "$name" >"$w/agent-run.out" 2>&1 ||
		[ ! -s "$w/out/$name" ]; then
		cat "$w/agent-run.out" >&2
		echo "make-seeds.sh: the session for the seed module-$name failed" >&2
		exit 1
	fi
	cat "$w/out/$name" >"$s/module-$name"
}
session three-grants --id spiffe://fuzz.example/agents/bot --claim task=T-42
session no-grants --id spiffe://fuzz.example/agents/plain
# the forms tests/cli/test_sessions.sh writes by hand (its record()): pid
# reuse with a broker revoke, two keys and a keyring, no keys, limits
rec() { # NAME SID PID START RING TASK KEYS
	printf '{"agent":"spiffe://example.org/agents/bot","expires":1700000600,"keys":%s,"opened":1700000000,"pid":%s,"ring":%s,"sid":"%s","start_time":%s,"task":%s,"uid":1000,"user":"svc-bot"}' \
		"$7" "$3" "$5" "$2" "$4" "$6" >"$s/$1"
}
sid=6f1c2a9e0b3d4c5f8a7e6d5c4b3a2918
rec hand-pid-reuse $sid 4242 1 0 null \
	'[{"grant":"g1","serial":402918,"expires_at":1,"handle":"h1","revoke":"/usr/libexec/vault-broker revoke"}]'
rec hand-two-keys $sid 4242 987654 123456789 '"T-42"' \
	'[{"grant":"g4a","serial":402918,"expires_at":1718014200,"handle":"a","revoke":"/usr/libexec/vault-broker revoke"},{"grant":"g4b","serial":402919,"expires_at":1718013900,"handle":"b","revoke":"/usr/libexec/vault-broker revoke --flaky"}]'
rec hand-no-keys $sid 1 0 0 null '[]'
rec hand-limits 0123456789abcdef 2147483647 9223372036854775807 2147483647 '"x"' \
	'[{"grant":"tickets-ro","serial":2147483647,"expires_at":-1}]'
printf '{"sid":"%s", not json' $sid >"$s/hand-not-json"
# SES_GRANTS_MAX (256) keys, and one more (refused)
keys() { # N
	i=1
	printf '['
	while [ "$i" -le "$1" ]; do
		[ "$i" -gt 1 ] && printf ','
		printf '{"grant":"g%d","serial":%d}' "$i" "$i"
		i=$((i + 1))
	done
	printf ']'
}
rec hand-256-keys $sid 4242 1 0 null "$(keys 256)"
rec hand-257-keys $sid 4242 1 0 null "$(keys 257)"

# ---- fuzz_nssdb: agent account databases as pam-agent check --write-nss-db
# compiles them (docs/nss.md): no account, one, ten with explicit and derived
# names and uids
nssdb_seed() { # NAME N
	{
		printf '[global]\naudience = a\nuid_range = 61000-61999\n'
		printf '[service agent-run]\nclass = read\n'
		i=0
		while [ "$i" -lt "$2" ]; do
			printf '[agent spiffe://example.org/agents/a%d]\nusers = self\nservices = agent-run\n' "$i"
			[ $((i % 3)) -eq 1 ] && printf 'account = acct-%d\nuid = %d\n' "$i" $((61100 + i))
			i=$((i + 1))
		done
	} >"$tmp/nss-$1.conf"
	chmod 0644 "$tmp/nss-$1.conf"
	"$pa" check --config "$tmp/nss-$1.conf" --nss-db "$corpus/fuzz_nssdb/$1" --write-nss-db \
		--passwd-file /dev/null --group-file /dev/null >/dev/null || true
	test -s "$corpus/fuzz_nssdb/$1"
}
nssdb_seed none 0
nssdb_seed one 1
nssdb_seed ten 10

echo "make-seeds.sh: corpora written under $corpus"
