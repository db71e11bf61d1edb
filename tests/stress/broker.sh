#!/bin/sh
# broker.sh issue|revoke LOG [SECRET]: a recording exec broker for the stress
# tests. "issue" answers a credential whose handle names the session and
# the grant; "revoke" accepts any handle. Each call appends one line, in one
# write(2), to LOG: "issue SID GRANT HANDLE" or "revoke SID GRANT HANDLE"
# (the sid and grant of the request: a revoke run without a handle still
# names them, see docs/helper.md).
in=$(cat)
field() {
	printf '%s' "$in" | sed -n "s/.*\"$1\": *\"\\([^\"]*\\)\".*/\\1/p"
}
sid=$(field sid)
grant=$(field grant)
# no request (its helper was killed while writing it): refuse, issue nothing
if [ -z "$sid" ] || [ -z "$grant" ]; then
	echo "broker.sh: no sid or grant in the request" >&2
	exit 1
fi
case "$1" in
issue)
	h="lease-$sid-$grant-$$"
	echo "issue $sid $grant $h" >> "$2"
	printf '{"secret":"%s-%s","expires_at":null,"revoke_handle":"%s"}\n' "${3:-S3CR3T}" "$$" "$h"
	;;
revoke)
	h=$(field handle)
	echo "revoke $sid $grant ${h:-null}" >> "$2"
	;;
*)
	echo "broker.sh: unknown operation $1" >&2
	exit 2
	;;
esac
