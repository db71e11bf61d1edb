#!/usr/bin/env python3
"""F1 of the security review of 2026-12 (docs/security.md, "### agent-run"):
an agent must not reach the terminal of the root shell that started it.

tiocsti.py inject OUT MARKER
    CMD, run by agent-run as the unprivileged test user: records its
    session id, its controlling terminal (tty_nr of /proc/self/stat, what
    /dev/tty opens) and pushes "touch MARKER" into its controlling terminal
    (else into any terminal on fds 0-2) with TIOCSTI; writes JSON to OUT.

tiocsti.py drive WORK AGENT_RUN CONFDIR USER
    The operator: an interactive root /bin/sh in a pseudo-terminal of its
    own types two agent-run command lines (stdin the terminal; stdin
    /dev/null with stdout and stderr the terminal: either way CMD gets a
    pty of its own, review 2026-12), then `exit`. Checks
    CMD's session and terminal against the shell's, and that no injected
    command ran in the shell after agent-run returned. Prints PASS/FAIL/SKIP
    lines; exit 1 on any FAIL.
"""
import fcntl
import json
import os
import pty
import re
import select
import sys
import termios
import time


def stat_fields(pid):
    with open("/proc/%s/stat" % pid) as f:
        s = f.read()
    # after "pid (comm) ": state ppid pgrp session tty_nr
    return s[s.rindex(")") + 2:].split()


def tty_name(nr):
    """The device a tty_nr of /proc/PID/stat names (pts only), for the report."""
    major, minor = (nr >> 8) & 0xFFF, (nr & 0xFF) | ((nr >> 12) & 0xFFF00)
    if 136 <= major <= 143:
        return "/dev/pts/%d" % ((major - 136) * 256 + minor)
    return "none" if nr == 0 else "%d:%d" % (major, minor)


def inject(out, marker):
    f = stat_fields("self")
    res = {"pid": os.getpid(), "uid": os.getuid(), "sid": os.getsid(0), "tty_nr": int(f[4])}
    fd = None
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        res["devtty"] = "opened"
    except OSError as e:
        res["devtty"] = "none (%s)" % e.strerror
    targets = [fd] if fd is not None else [t for t in (0, 1, 2) if os.isatty(t)]
    res["tiocsti"] = "no terminal to inject into"
    for t in targets:
        try:
            for c in ("touch %s\n" % marker).encode():
                fcntl.ioctl(t, termios.TIOCSTI, bytes([c]))
            res["tiocsti"] = "injected into " + os.ttyname(t)
            break
        except OSError as e:
            res["tiocsti"] = "refused on %s: %s" % (os.ttyname(t), e.strerror)
    with open(out, "w") as f:
        json.dump(res, f)
    return 0


fails = 0


def check(ok, what, detail=""):
    global fails
    if ok:
        print("PASS: " + what)
    else:
        fails += 1
        print("FAIL: " + what + (": " + detail if detail else ""))


def drive(work, agent_run, confdir, user):
    me = os.path.abspath(__file__)
    parts = [("pty", ""), ("nopty", " < /dev/null")]
    lines = []
    for name, redir in parts:
        lines.append("%s --config %s --user %s -- python3 %s inject %s/out/%s.json "
                     "%s/marker.%s%s" % (agent_run, confdir, user, me, work, name, work, name,
                                         redir))
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(work)
        os.execve("/bin/sh", ["sh", "-i"], {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                            "PS1": "$ ", "TERM": "dumb", "HOME": work})
    buf = b""

    def read_until(pattern, seconds):
        nonlocal buf
        deadline = time.time() + seconds
        while time.time() < deadline:
            m = re.search(pattern, buf) if pattern else None
            if m:
                return m
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    return None
                if not data:
                    return None
                buf += data
        return None

    # the shell's first prompt: it runs, in its session, on its terminal
    read_until(rb"\$ ", 60)
    outer = {"sid": os.getsid(pid), "tty_nr": int(stat_fields(pid)[4])}
    status = []
    for i, line in enumerate(lines):
        os.write(master, line.encode() + b"; echo AR-END-%d-$?\n" % i)
        m = read_until(rb"AR-END-%d-(\d+)" % i, 120)
        status.append(int(m.group(1)) if m else None)
    # whatever the agent pushed into this terminal is read by the shell now
    os.write(master, b"exit\n")
    read_until(None, 30)
    os.waitpid(pid, 0)
    transcript = buf.decode(errors="replace")

    try:
        with open("/proc/sys/dev/tty/legacy_tiocsti") as f:
            legacy = f.read().strip() == "1"
    except OSError:
        legacy = True  # kernels before 6.2 have no switch: TIOCSTI is allowed
    for (name, _), st in zip(parts, status):
        label = ("stdin a terminal (own pty)" if name == "pty" else
                 "stdin /dev/null, stdout/stderr a terminal (own pty)")
        check(st == 0, "F1 %s: agent-run ran CMD and returned 0" % label,
              "status %s; transcript:\n%s" % (st, transcript[-1500:]))
        try:
            with open(os.path.join(work, "out", name + ".json")) as f:
                cmd = json.load(f)
        except (OSError, ValueError) as e:
            check(False, "F1 %s: CMD's report" % label, str(e))
            continue
        print("INFO: %s: operator sid %d terminal %s; CMD uid %d sid %d terminal %s, /dev/tty: "
              "%s, TIOCSTI: %s" % (label, outer["sid"], tty_name(outer["tty_nr"]), cmd["uid"],
                                   cmd["sid"], tty_name(cmd["tty_nr"]), cmd["devtty"],
                                   cmd["tiocsti"]))
        check(cmd["uid"] != 0, "F1 %s: CMD runs unprivileged (uid %d)" % (label, cmd["uid"]))
        check(cmd["sid"] != outer["sid"],
              "F1 %s (structure): CMD's session %d is not the operator's %d" %
              (label, cmd["sid"], outer["sid"]))
        # a terminal on any of fds 0-2 gives CMD a pty of its own (before
        # the review of 2026-12, stdin /dev/null left the operator's on 1-2)
        check(cmd["tty_nr"] != 0 and cmd["tty_nr"] != outer["tty_nr"],
              "F1 %s (structure): CMD's controlling terminal (tty_nr %d) is a pty of its "
              "own (%s), not the operator's (%d, %s); /dev/tty: %s" %
              (label, cmd["tty_nr"], tty_name(cmd["tty_nr"]), outer["tty_nr"],
               tty_name(outer["tty_nr"]), cmd["devtty"]))
        marker = os.path.join(work, "marker." + name)
        if legacy:
            check(not os.path.exists(marker),
                  "F1 %s (attack, dev.tty.legacy_tiocsti=1): the command CMD pushed with "
                  "TIOCSTI did not run in the operator's shell after agent-run returned" % label,
                  "%s exists; transcript:\n%s" % (marker, transcript[-1500:]))
        else:
            print("SKIP: F1 %s (attack part): dev.tty.legacy_tiocsti=0 on this kernel, an "
                  "unprivileged TIOCSTI is refused anyway; the structure checks above stand "
                  "for it" % label)
            check(not os.path.exists(marker), "F1 %s: no injected command ran" % label)
    return 1 if fails else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "inject":
        sys.exit(inject(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 6 and sys.argv[1] == "drive":
        sys.exit(drive(*sys.argv[2:]))
    sys.stderr.write(__doc__)
    sys.exit(2)
