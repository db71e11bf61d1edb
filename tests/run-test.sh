#!/bin/sh
# Runs one test program under a new anonymous session keyring, so no test
# sees or leaves keys in the caller's keyrings. Without keyctl the test
# still runs, and says so.
if command -v keyctl >/dev/null 2>&1; then
	exec keyctl session - "$@"
fi
echo "run-test.sh: keyctl not found (install keyutils); running without a session keyring of its own" >&2
exec "$@"
