#!/bin/sh
# Install the Debian 12 packages pam_agent needs to build, test and demo.
# Idempotent: installs only what is missing. Must run as root (or with sudo).
set -eu

PKGS="build-essential autoconf automake libtool pkg-config autoconf-archive
libpam0g-dev libpam-modules libpam-runtime libkeyutils-dev keyutils libssl-dev openssl
libjansson-dev libinih-dev libcurl4-openssl-dev libcmocka-dev libpam-wrapper libpamtest0-dev
python3 python3-cryptography groff-base mandoc clang libclang-rt-dev valgrind
pamtester util-linux libnss-wrapper libfaketime cppcheck clang-tools
openssh-server openssh-client sudo libsystemd-dev
debhelper dh-autoreconf dpkg-dev fakeroot lintian
libjwt-dev"
# (libjwt-dev: make bench only, bench_verify compares against it)

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
		exit 1
	fi
else
	SUDO=
fi
echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
