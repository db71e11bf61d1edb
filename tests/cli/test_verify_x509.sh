#!/bin/sh
# pam-agent verify --x509 over the chains of an independent implementation
# (tests/data/x509, Python cryptography), the [trust_domain] key
# x509_authorities through pam-agent check and verify --config, and
# pam-agent testca x509 (spiffe-helper's files) verified end to end.
set -u
. "$(dirname "$0")/../lib/lib.sh"
pa_workdir pa-verify-x509
AUD=spiffe://example.org/host/web01
D=${PA_TEST_DATA:-$(cd "$(dirname "$0")/../data" && pwd)}/x509
need python3

now=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["now"])' "$D/cases.json")
# one line per case: FILE, then "ok ID" or "refused REASON"
python3 - "$D/cases.json" > "$work/cases" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1]))["cases"]:
    print(c["chain"], "ok " + c["id"] if c["ok"] else "refused " + c["error"])
PY
check "the fixtures have 20 cases or more" test "$(wc -l < "$work/cases")" -ge 20
while read -r file what rest; do
	if [ "$what" = ok ]; then
		expect "verify --x509 $file" 0 "\"agent_id\":\"$rest\"" \
			"$PAM_AGENT" verify --bundle example.org="$D/bundle.json" \
			--bundle other.test="$D/other.json" --now "$now" --json --x509 "$D/$file"
	else
		expect "verify --x509 $file refused" 1 "rejected: " \
			"$PAM_AGENT" verify --bundle example.org="$D/bundle.json" \
			--bundle other.test="$D/other.json" --now "$now" --x509 "$D/$file"
		expect "verify --x509 $file: its reason" 1 "$rest" \
			"$PAM_AGENT" verify --bundle example.org="$D/bundle.json" \
			--bundle other.test="$D/other.json" --now "$now" --x509 "$D/$file"
	fi
done < "$work/cases"
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["compact"]["chain"])' \
	"$D/cases.json" > "$work/compact"
expect "the compact form from standard input" 0 '"sub": "spiffe://example.org/agents/x509"' \
	sh -c "'$PAM_AGENT' verify --bundle example.org='$D/bundle.json' --now $now --x509 - < '$work/compact'"
expect "--x509 with a bundle without TD=" 2 "write each bundle as TD=FILE" \
	"$PAM_AGENT" verify --bundle "$D/bundle.json" --now "$now" --x509 "$D/ok-ec-p256.pem"
head -c 40000 /dev/zero | tr '\000' 'A' > "$work/big"
expect "a chain over 32 KiB" 1 "larger than 32768 bytes" \
	"$PAM_AGENT" verify --bundle example.org="$D/bundle.json" --x509 "$work/big"

# the configuration: x509_authorities replaces the bundle's x509-svid elements
pa_testca
cp "$D/authorities.pem" "$work/authorities.pem"
{
	pa_section global audience="$AUD"
	pa_section "trust_domain example.org" bundle="$work/ca/bundle.json" \
		x509_authorities="$work/authorities.pem"
} | pa_write "$work/conf"
pa_check_conf "$work/conf"
expect "verify --config: x509_authorities" 0 '"sub": "spiffe://example.org/agents/x509"' \
	"$PAM_AGENT" verify --config "$work/conf" --now "$now" --x509 "$D/ok-ed25519.pem"
printf 'not a certificate\n' | pa_write "$work/authorities.pem"
expect "check: an unusable x509_authorities file" 1 "x509_authorities: " \
	"$PAM_AGENT" check --config "$work/conf"
expect "verify: its trust domain is refused" 1 "trust domain example.org cannot be used" \
	"$PAM_AGENT" verify --config "$work/conf" --now "$now" --x509 "$D/ok-ed25519.pem"
pa_section global audience="$AUD" x509_authorities=/x | pa_write "$work/conf2"
expect "check: x509_authorities belongs to [trust_domain]" 1 "x509_authorities" \
	"$PAM_AGENT" check --config "$work/conf2"

# testca x509: spiffe-helper's files, verified against the test CA's bundle
expect "testca x509" 0 "svid:   $work/svid/svid.pem" \
	"$PAM_AGENT" testca x509 "$work/ca" --id spiffe://example.org/agents/bot --out "$work/svid"
check "svid_key.pem is 0600" test "$(stat -c %a "$work/svid/svid_key.pem")" = 600
check "bundle.pem is the CA's root" cmp -s "$work/svid/bundle.pem" "$work/ca/x509_ca.pem"
expect "its X.509-SVID verifies" 0 '"agent_id":"spiffe://example.org/agents/bot"' \
	"$PAM_AGENT" verify --bundle example.org="$work/ca/bundle.json" --json --x509 "$work/svid/svid.pem"
if command -v openssl >/dev/null 2>&1; then
	expect "openssl verify agrees" 0 "OK" openssl verify -CAfile "$work/svid/bundle.pem" \
		"$work/svid/svid.pem"
fi
expect "testca x509 again replaces the files" 0 "X.509-SVID spiffe://example.org/agents/bot" \
	"$PAM_AGENT" testca x509 "$work/ca" --id spiffe://example.org/agents/bot --out "$work/svid" \
	--ttl 2m
expect "expired after its ttl" 1 "leaf expired at" \
	"$PAM_AGENT" verify --bundle example.org="$work/ca/bundle.json" \
	--now "$(($(date +%s) + 600))" --x509 "$work/svid/svid.pem"
expect "testca x509 refuses an id of another trust domain" 2 "is not in trust domain" \
	"$PAM_AGENT" testca x509 "$work/ca" --id spiffe://other.org/a --out "$work/svid"
"$PAM_AGENT" testca init "$work/ca512" --trust-domain example.org --alg ES512 >/dev/null
expect "an ES512 test CA has no X.509 root" 2 "testca init" \
	"$PAM_AGENT" testca x509 "$work/ca512" --id spiffe://example.org/a --out "$work/svid512"
pa_summary
