#!/usr/bin/env python3
"""check_audit.py AUDIT-FILE: every line is one JSON object with the fields
of docs/audit.md: the required ones, only documented ones, in the documented
order, each of its documented type; events and results from the documented
sets; session events carry a sid. Prints counts per event and result; exit 1
on the first 10 problems."""
import json
import re
import sys

ORDER = ["v", "time", "epoch", "event", "result", "host", "pid", "sid", "agent", "issuer",
         "actors", "delegation_depth", "task", "jti", "token_sha256", "service", "user",
         "rhost", "tty", "class", "rule", "max_session", "grants", "keys", "duration_ms",
         "runtime", "reasons", "reasons_dropped", "grants_dropped", "actors_dropped", "keys_dropped"]
TYPES = {"v": int, "time": str, "epoch": int, "event": str, "result": str, "host": str,
         "pid": int, "sid": str, "agent": str, "issuer": str, "actors": list,
         "delegation_depth": int, "task": str, "jti": str, "token_sha256": str,
         "service": str, "user": str, "rhost": str, "tty": str, "class": str, "rule": str,
         "max_session": int, "grants": list, "keys": list, "duration_ms": int, "runtime": list,
         "reasons": list, "reasons_dropped": int, "grants_dropped": int,
         "actors_dropped": int, "keys_dropped": int}
REQUIRED = ["v", "time", "epoch", "event", "result", "host", "pid"]
RESULTS = {"authenticate": {"ok", "failed"}, "decision": {"allow", "deny"},
           "credential_placed": {"ok", "failed"}, "key_revoked": {"ok", "failed"},
           "revoke_failed": {"ok", "failed"}, "session_closed": {"ok", "failed"}}
# the members of "runtime" (docs/audit.md, docs/attestation.md); objects are pair lists here
RUNTIME = {"absent", "subject", "exe", "exe_deleted", "exe_sha256", "exe_mutable", "unit", "uid",
           "parent_exe_sha256"}
SESSION = {"credential_placed", "key_revoked", "revoke_failed", "session_closed"}
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def problems_of(line):
    if not line.endswith("\n"):
        return ["no newline at the end (cut line)"]
    if not all(0x20 <= ord(c) < 0x7f for c in line[:-1]):
        return ["not printable ASCII"]
    try:
        obj = json.loads(line, object_pairs_hook=lambda p: p)
    except ValueError as e:
        return ["not JSON: %s" % e]
    if not isinstance(obj, list):
        return ["not an object"]
    keys = [k for k, _ in obj]
    d = dict(obj)
    out = []
    if len(keys) != len(d):
        out.append("duplicate member")
    for k in REQUIRED:
        if k not in d:
            out.append("missing %s" % k)
    unknown = [k for k in keys if k not in TYPES]
    if unknown:
        return out + ["undocumented member(s) %s" % unknown]
    if keys != sorted(keys, key=ORDER.index):
        out.append("members out of the documented order: %s" % keys)
    for k, v in d.items():
        if not isinstance(v, TYPES[k]) or isinstance(v, bool):
            out.append("%s has type %s" % (k, type(v).__name__))
    if out:
        return out
    if d["v"] != 1 or not TIME.match(d["time"]):
        out.append("bad v or time")
    if d["event"] not in RESULTS or d["result"] not in RESULTS[d["event"]]:
        out.append("event/result %s/%s not documented" % (d["event"], d["result"]))
    elif d["event"] in SESSION and "sid" not in d:
        out.append("session event without sid")
    for k in d.get("keys", []):
        if not isinstance(k, list) or [n for n, _ in k] != ["grant", "serial"]:
            out.append("keys entry %s is not {grant, serial}" % (k,))
        elif not isinstance(dict(k)["serial"], int) or not isinstance(dict(k)["grant"], str):
            out.append("keys entry has wrong types")
    rt = d.get("runtime")
    if rt is not None and not set(n for n, _ in rt) <= RUNTIME:
        out.append("runtime has undocumented member(s) %s" % [n for n, _ in rt if n not in RUNTIME])
    if "class" in d and d["class"] not in ("read", "write", "escalate"):
        out.append("class %s" % d["class"])
    return out


def main():
    counts = {}
    bad = 0
    n = 0
    with open(sys.argv[1], encoding="ascii", errors="replace", newline="") as f:
        for n, line in enumerate(f, 1):
            p = problems_of(line)
            if p:
                bad += 1
                if bad <= 10:
                    print("  line %d: %s" % (n, "; ".join(p)))
                continue
            d = json.loads(line)
            key = "%s/%s" % (d["event"], d["result"])
            counts[key] = counts.get(key, 0) + 1
    print("audit: %d lines, %d malformed; %s" % (n, bad, ", ".join(
        "%s %d" % (k, v) for k, v in sorted(counts.items()))))
    return 1 if bad or n == 0 else 0


sys.exit(main())
