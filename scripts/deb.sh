#!/bin/bash
# Builds the Debian packages (debian/, docs/deploying.md "Packages") with
# `dpkg-buildpackage -us -uc -b` in a copy of the source tree, so the
# checkout and its _build stay as they are, then runs lintian on them.
# Usage: scripts/deb.sh [OUTDIR]   (default: _build-deb)
# OUTDIR gets the .debs, the .changes/.buildinfo, build.log and lintian.log.
# Exits non-zero when the build fails or lintian reports an error.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/_build-deb}
"$top/scripts/deps.sh"

rm -rf "$out"
mkdir -p "$out/src"
out=$(cd "$out" && pwd)
# the files git knows (tracked, and new ones not ignored): no build output
# of the checkout reaches the package
cd "$top"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf - | tar -xf - -C "$out/src"
else
	# an unpacked release tarball: everything but build directories
	tar --exclude='./_build*' --exclude="./${out#"$top"/}" -cf - . | tar -xf - -C "$out/src"
fi

cd "$out/src"
jobs=$(nproc 2>/dev/null || echo 2)
if ! DEB_BUILD_OPTIONS="nocheck parallel=$jobs" dpkg-buildpackage -us -uc -b \
	>"$out/build.log" 2>&1; then
	tail -n 60 "$out/build.log"
	echo "deb.sh: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
	exit 1
fi
cd "$out"
ls -1 ./*.deb
# errors fail the build; warnings are listed in the log (and in
# docs/deploying.md, "Packages", with why each is kept)
lintian --fail-on error --display-info --tag-display-limit 0 ./*.changes >"$out/lintian.log" 2>&1 || {
	cat "$out/lintian.log"
	echo "deb.sh: lintian reported errors" >&2
	exit 1
}
cat "$out/lintian.log"
echo "deb.sh: packages in $out"
