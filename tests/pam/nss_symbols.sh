#!/bin/sh
# libnss_agent.so.2 must export exactly its ten _nss_agent_* entry points and
# need nothing but libc (docs/nss.md). Usage: nss_symbols.sh [LIBRARY]
# (default: $PA_NSS_MODULE, the built library)
lib=${1:-$PA_NSS_MODULE}
NM=${NM:-nm}
OBJDUMP=${OBJDUMP:-objdump}
if [ ! -f "$lib" ]; then
	echo "FAIL: library $lib not found"
	exit 1
fi
got=$($NM -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWi]$/ { print $3 }' | sort)
want=$(printf '_nss_agent_%s\n' getpwnam_r getpwuid_r setpwent getpwent_r endpwent \
	getgrnam_r getgrgid_r setgrent getgrent_r endgrent | sort)
if [ "$got" != "$want" ]; then
	echo "FAIL: $lib exports:"
	echo "$got"
	echo "expected exactly:"
	echo "$want"
	exit 1
fi
needed=$($OBJDUMP -p "$lib" | awk '$1 == "NEEDED" { print $2 }' | sort | tr '\n' ' ')
# a sanitizer build (.ci/run's) links the sanitizers' runtimes into everything
case $needed in
*libasan.so* | *libubsan.so*)
	echo "NOTE: sanitizer build: $needed- the sanitizer runtimes are not counted"
	needed=$(printf '%s\n' $needed | grep -v '^lib[a-z]*san\.so' | tr '\n' ' ')
	;;
esac
case $needed in
"libc.so.6 ") ;;
*)
	echo "FAIL: $lib needs: $needed(expected libc.so.6 only)"
	exit 1
	;;
esac
soname=$($OBJDUMP -p "$lib" | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" != libnss_agent.so.2 ]; then
	echo "FAIL: $lib has SONAME '$soname', glibc loads libnss_agent.so.2"
	exit 1
fi
echo "PASS: $lib exports exactly the ten _nss_agent_* entry points and needs libc.so.6 only"
