#!/usr/bin/env python3
"""journal.py - the journal's side of tests/cli/test_journal.sh and
tests/root/root_journal.sh.

listen SOCKET OUT READY: binds SOCKET (AF_UNIX, SOCK_DGRAM) in place of
  journald's /run/systemd/journal/socket and appends every entry it gets
  to OUT, one JSON object a line: {"via": "datagram"|"memfd", "size": N,
  "fields": [[NAME, VALUE], ...]} (VALUE decoded as UTF-8, invalid bytes
  kept as \\xNN escapes), or {"error": ...}. The native protocol
  (systemd.journal-fields(7), "Native Journal Protocol"): each field is
  NAME=VALUE\\n, or NAME\\n, a 64-bit little-endian length, VALUE and \\n;
  an entry too large for a datagram comes as an empty datagram carrying a
  memfd (SCM_RIGHTS) that holds it. Touches READY once bound.

check ENTRIES AUDIT_LOG DOCS SECRETS KINDS...: for every line of AUDIT_LOG
  an entry with that line as PAM_AGENT_JSON, and with every field
  docs/audit.md promises (MESSAGE_ID of the kind as DOCS lists it, the
  PAM_AGENT_* fields of each key, one field per list entry, MESSAGE one
  line); each of KINDS seen; no line of SECRETS (nor a token's segments)
  in any field. Prints PASS/FAIL lines; exits 1 on any FAIL.
"""
import array
import json
import os
import re
import socket
import sys

SKIPPED = {"v", "time", "epoch", "host", "pid"}
LISTS = {"actors": "ACTOR", "grants": "GRANT", "reasons": "REASON", "keys": "KEY"}


def parse(data):
    """[(name, value bytes)] of one native-protocol entry; raises ValueError."""
    out, i = [], 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0:
            raise ValueError("field without a newline at byte %d" % i)
        line = data[i:nl]
        if b"=" in line:
            name, value = line.split(b"=", 1)
            i = nl + 1
        else:
            name = line
            if nl + 9 > len(data):
                raise ValueError("binary field %r without its length" % name)
            n = int.from_bytes(data[nl + 1:nl + 9], "little")
            value = data[nl + 9:nl + 9 + n]
            if len(value) != n or data[nl + 9 + n:nl + 10 + n] != b"\n":
                raise ValueError("binary field %r cut (%d of %d bytes)" % (name, len(value), n))
            i = nl + 10 + n
        if not re.fullmatch(rb"[A-Z0-9][A-Z0-9_]*", name) or len(name) > 64:
            raise ValueError("bad field name %r" % name)
        out.append((name.decode(), value))
    return out


def listen(path, out, ready):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    try:  # room for large entries (SO_RCVBUFFORCE needs CAP_NET_ADMIN)
        s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)
    except PermissionError:  # up to rmem_max; a full queue makes senders wait
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    open(ready, "w").close()
    with open(out, "a") as f:
        while True:
            msg, anc, flags, _ = s.recvmsg(16 << 20, socket.CMSG_SPACE(16 * 4))
            fds = array.array("i")
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
            rec = {"via": "datagram"}
            if fds:
                rec["via"] = "memfd"
                chunks = []
                os.lseek(fds[0], 0, os.SEEK_SET)
                while True:
                    b = os.read(fds[0], 1 << 20)
                    if not b:
                        break
                    chunks.append(b)
                msg = b"".join(chunks)
                for fd in fds:
                    os.close(fd)
            if flags & socket.MSG_TRUNC:
                rec = {"error": "datagram truncated by the receiver"}
            else:
                try:
                    rec["fields"] = [[n, v.decode("utf-8", "backslashreplace")]
                                     for n, v in parse(msg)]
                    rec["size"] = len(msg)
                except ValueError as e:
                    rec = {"error": str(e)}
            f.write(json.dumps(rec) + "\n")
            f.flush()


counts = {True: 0, False: 0}


def check(ok, name, detail=""):
    counts[bool(ok)] += 1
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok or not detail else ": " + detail),
          flush=True)
    return ok


def doc_ids(docs):
    """{event kind: MESSAGE_ID} from the table of docs/audit.md."""
    ids = {}
    with open(docs) as f:
        for line in f:
            m = re.match(r"\|\s*`([a-z_]+)`\s*\|\s*`([0-9a-f]{32})`\s*\|", line)
            if m:
                ids[m.group(1)] = m.group(2)
    return ids


def want_fields(obj):
    """[(NAME, value)] the entry of the audit line obj must carry, in order per name."""
    want = []
    for k, v in obj.items():
        if k in SKIPPED:
            continue
        if k in LISTS:
            for e in v:
                want.append(("PAM_AGENT_" + LISTS[k],
                             "%s:%s" % (e["grant"], e["serial"]) if k == "keys" else e))
        elif k == "runtime":
            for rk, rv in v.items():
                want.append(("PAM_AGENT_RUNTIME_" + rk.upper(), scalar(rv)))
        else:
            want.append(("PAM_AGENT_" + k.upper(), scalar(v)))
    return want


def scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def secret_forms(path):
    forms = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            forms.append(line)
            if line.count(".") == 2:  # a token: its payload and signature segments too
                forms += [p for p in line.split(".")[1:] if len(p) >= 16]
    return forms


def check_entries(entries_path, audit_path, docs, secrets, kinds):
    ids = doc_ids(docs)
    check(len(ids) == 8 and len(set(ids.values())) == 8,
          "docs/audit.md lists 8 distinct MESSAGE_IDs, one per event kind", repr(ids))
    entries = []
    with open(entries_path) as f:
        for line in f:
            entries.append(json.loads(line))
    bad = [e for e in entries if "error" in e]
    check(not bad and entries, "%d entries arrived, each a well-formed native-protocol entry"
          % len(entries), repr(bad[:3]))
    by_json = {}
    for e in entries:
        for n, v in e.get("fields", []):
            if n == "PAM_AGENT_JSON":
                by_json.setdefault(v, e)
    with open(audit_path) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    seen = set()
    for line in lines:
        obj = json.loads(line)
        ev, res = obj["event"], obj["result"]
        seen.add(ev)
        name = "%s %s (%d bytes)" % (ev, res, len(line))
        e = by_json.get(line)
        if not check(e is not None, name + ": in the journal, PAM_AGENT_JSON the whole audit line"):
            continue
        fields = e["fields"]
        one = {n: [v for m, v in fields if m == n] for n, _ in fields}
        check(one.get("MESSAGE_ID") == [ids.get(ev)], name + ": MESSAGE_ID of its kind",
              repr(one.get("MESSAGE_ID")))
        msg = one.get("MESSAGE", [""])
        check(len(msg) == 1 and msg[0].startswith("pam_agent audit: %s %s" % (ev, res))
              and "\n" not in msg[0], name + ": MESSAGE is one human line", repr(msg)[:300])
        check(one.get("SYSLOG_FACILITY") == ["10"] and one.get("PRIORITY", ["x"])[0] in "456",
              name + ": SYSLOG_FACILITY authpriv, PRIORITY set",
              repr((one.get("SYSLOG_FACILITY"), one.get("PRIORITY"))))
        want = want_fields(obj)
        got = [(n, v) for n, v in fields if n.startswith("PAM_AGENT_") and n != "PAM_AGENT_JSON"]
        check(sorted(got) == sorted(want) and
              all([v for n, v in got if n == w] == [v for n, v in want if n == w]
                  for w in set(n for n, _ in want)),
              name + ": a PAM_AGENT_* field per key (%d), lists in order" % len(want),
              "missing %r, extra %r" % ([w for w in want if w not in got][:5],
                                        [g for g in got if g not in want][:5]))
    for k in kinds:
        check(k in seen, "event kind %s was driven and arrived" % k)
    forms = secret_forms(secrets)
    with open(entries_path, "rb") as f:
        raw = f.read()
    hits = [s for s in forms if s.encode() in raw or json.dumps(s)[1:-1].encode() in raw]
    check(forms and not hits, "no secret or token (or token segment) in any field (%d forms)"
          % len(forms), "found %d" % len(hits))
    return counts[False] == 0


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "listen":
        listen(*sys.argv[2:5])
    elif len(sys.argv) >= 6 and sys.argv[1] == "check":
        sys.exit(0 if check_entries(*sys.argv[2:6], sys.argv[6:]) else 1)
    else:
        sys.exit("usage: journal.py listen SOCKET OUT READY | "
                 "check ENTRIES AUDIT_LOG DOCS SECRETS KINDS...")


if __name__ == "__main__":
    main()
