#!/bin/sh
# Shows that configure, with one dependency missing, stops with a message
# naming the Debian package to install. pkg-config dependencies are hidden
# with a pkg-config wrapper; header dependencies through configure's cache
# variables. Needs a generated ./configure (autoreconf -fi).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
real_pc=$(command -v pkg-config)

cat >"$work/pkg-config" <<WRAP
#!/bin/sh
# pkg-config that pretends \$PA_HIDE is not installed
for a in "\$@"; do
	case "\$a" in "\$PA_HIDE"|"\$PA_HIDE "*) exit 1 ;; esac
done
exec $real_pc "\$@"
WRAP
chmod +x "$work/pkg-config"

fails=0 passes=0
# check NAME PACKAGE [VAR=VALUE...]: configure must fail naming PACKAGE
check() {
	name=$1 pkg=$2
	shift 2
	mkdir -p "$work/b"
	if (cd "$work/b" && env "$@" PKG_CONFIG="$work/pkg-config" \
		"$top/configure" -q >"$work/out" 2>&1); then
		echo "FAIL: configure without $name succeeded"
		fails=$((fails + 1))
	elif grep -q "install the Debian package $pkg" "$work/out"; then
		echo "PASS: without $name: $(grep 'error:' "$work/out" | head -n 1)"
		passes=$((passes + 1))
	else
		echo "FAIL: without $name, configure said:"
		tail -n 3 "$work/out"
		fails=$((fails + 1))
	fi
	rm -rf "$work/b"
}

check "Linux-PAM headers" libpam0g-dev ac_cv_header_security_pam_modules_h=no
check "libpam" libpam0g-dev ac_cv_lib_pam_pam_start=no
check "keyutils.h" libkeyutils-dev ac_cv_header_keyutils_h=no
check "OpenSSL libcrypto" libssl-dev PA_HIDE=libcrypto
check "jansson" libjansson-dev PA_HIDE=jansson
check "libinih" libinih-dev PA_HIDE=inih
check "libcurl" libcurl4-openssl-dev PA_HIDE=libcurl
check "libsystemd" libsystemd-dev PA_HIDE=libsystemd
check "cmocka" libcmocka-dev PA_HIDE=cmocka
# optional: pam_wrapper missing is a visible warning, not an error
mkdir -p "$work/b"
if (cd "$work/b" && env PA_HIDE=libpamtest PKG_CONFIG="$work/pkg-config" \
	"$top/configure" -q >"$work/out" 2>&1) &&
	grep -q "PAM-stack tests will be SKIPPED (install libpam-wrapper libpamtest0-dev)" "$work/out"; then
	echo "PASS: without libpamtest: configure warns and goes on"
	passes=$((passes + 1))
else
	echo "FAIL: without libpamtest:"; tail -n 3 "$work/out"
	fails=$((fails + 1))
fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
