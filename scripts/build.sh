#!/bin/sh
# Configures and builds pam_agent out of tree in _build/ (or $PA_BUILD_DIR).
# Installs the Debian packages it needs first. Extra arguments go to
# configure. Idempotent: reuses an existing build directory.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PA_BUILD_DIR:-$top/_build}

"$top/scripts/deps.sh"
cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
	autoreconf -fi >"${TMPDIR:-/tmp}/pam_agent-autoreconf.log" 2>&1 || { cat "${TMPDIR:-/tmp}/pam_agent-autoreconf.log" >&2; exit 1; }
fi
if [ -f config.status ]; then
	echo "build.sh: $top was configured in-tree; run 'make distclean' there first" >&2
	exit 1
fi
mkdir -p "$build"
cd "$build"
if [ ! -f config.status ] || [ "$top/configure" -nt config.status ]; then
	"$top/configure" --enable-werror --sysconfdir=/etc "$@" >configure.out 2>&1 || {
		cat configure.out >&2
		exit 1
	}
fi
make -j"$(nproc)" >make.out 2>&1 || { cat make.out >&2; exit 1; }
echo "build.sh: built in $build"
