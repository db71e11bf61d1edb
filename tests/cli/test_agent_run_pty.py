#!/usr/bin/env python3
"""agent-run started from a terminal (F1 of the security review of 2026-12,
docs/security.md "### agent-run"), as any user, with a pam_permit stack
through --config: CMD gets a pseudo-terminal and a session of its own, the
way `su --pty` does it, and agent-run is a faithful relay:
 - CMD's session id and controlling terminal are not the operator's;
 - everything CMD writes arrives (20 000 lines), its exit status comes back;
 - the window size is copied at start and a change (SIGWINCH) is forwarded;
 - the operator's terminal gets its modes back (agent-run puts it in raw
   mode while CMD runs), after a normal end and after SIGTERM to agent-run.
"""
import fcntl
import os
import pwd
import pty
import select
import shutil
import struct
import sys
import tempfile
import termios
import time

B = os.path.abspath(os.environ.get("top_builddir", "."))
AGENT_RUN = os.path.join(B, "agent-run")
fails = passes = 0


def check(ok, what, detail=""):
    global fails, passes
    if ok:
        passes += 1
        print("PASS: " + what)
    else:
        fails += 1
        print("FAIL: " + what + (": " + detail if detail else ""))


def session(confdir, cmd, winsize=None, on_output=None, seconds=60, stdin_null=False,
            names=None):
    """Runs agent-run -- sh -c CMD in a fresh pty (as an operator's shell
    would; with stdin_null, stdin is /dev/null and only stdout and stderr
    are the terminal); returns (output, exit status, termios before,
    termios after, the operator's sid and tty_nr). names, a list, gets the
    operator's terminal's name."""
    r, w = os.pipe()
    r2, w2 = os.pipe()
    pid, master = pty.fork()
    if pid == 0:
        os.close(r)
        os.close(w2)
        if winsize:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", winsize[0], winsize[1], 0, 0))
        name = os.ttyname(1).encode()
        if stdin_null:
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
        os.write(w, b"ready" + name)
        os.close(w)
        os.read(r2, 2)  # the parent has read the terminal's modes and our session
        os.close(r2)
        # --user: as root, agent-run without it runs the agent's own account
        # (docs/nss.md), which this pam_permit stack does not give
        os.execv(AGENT_RUN, ["agent-run", "--config", confdir,
                             "--user", pwd.getpwuid(os.getuid()).pw_name,
                             "--", "sh", "-c", cmd])
    os.close(w)
    os.close(r2)
    got = os.read(r, 4096)  # the child has its terminal and session: read them
    os.close(r)
    if names is not None:
        names.append(got[5:].decode())
    before = termios.tcgetattr(master)
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    operator = (int(fields[3]), int(fields[4]))
    os.write(w2, b"go")
    os.close(w2)
    out, deadline, after, seen = b"", time.time() + seconds, None, set()
    while time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
        if on_output:
            on_output(out, master, pid, seen)
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    try:
        after = termios.tcgetattr(master)
    except termios.error:
        after = None
    os.close(master)
    return out.decode(errors="replace"), os.waitstatus_to_exitcode(status), before, after, operator


def main():
    work = tempfile.mkdtemp(prefix="pa-agent-run-pty.")
    try:
        confdir = os.path.join(work, "pam.d")
        os.mkdir(confdir, 0o755)
        for name in ("agent-run", "other"):
            with open(os.path.join(confdir, name), "w") as f:
                f.write("auth required pam_permit.so\naccount required pam_permit.so\n"
                        "session required pam_permit.so\n")
            os.chmod(os.path.join(confdir, name), 0o644)

        # the terminal, the session, the output and the status
        out, status, before, after, operator = session(
            confdir, "seq 1 20000; set -- $(cat /proc/$$/stat | sed 's/^.*) //'); "
            "echo \"SID=$4 TTY=$5\"; tty; exit 5")
        check(status == 5, "CMD's exit status 5 comes back", "status %s" % status)
        lines = out.split("\r\n")
        check("20000" in lines and "1" in lines and lines.index("20000") - lines.index("1") == 19999,
              "all 20 000 lines CMD wrote arrive", "last lines: %r" % lines[-6:])
        sid = tty = None
        for line in lines:
            if line.startswith("SID="):
                sid, tty = (int(x.split("=")[1]) for x in line.split())
        check(sid is not None and sid != operator[0],
              "CMD's session (%s) is not the operator's (%d)" % (sid, operator[0]))
        check(tty is not None and tty != 0 and tty != operator[1],
              "CMD's controlling terminal (tty_nr %s) is a pty of its own, not the operator's "
              "(%d)" % (tty, operator[1]))
        check(after == before, "the operator's terminal modes are restored after CMD ends",
              "before %r, after %r" % (before, after))

        # the window size, at start and on a change
        def resize(out, master, pid, seen):
            if b"READY" in out and "resized" not in seen:
                seen.add("resized")
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 132, 0, 0))
        out, status, _, _, _ = session(
            confdir, "stty size; trap 'stty size; exit 3' WINCH; echo READY; "
            "while :; do sleep 0.1; done", winsize=(24, 80), on_output=resize)
        check("24 80" in out, "CMD's terminal starts with the operator's window size",
              repr(out))
        check("50 132" in out and status == 3, "a window size change reaches CMD (SIGWINCH)",
              "status %s, output %r" % (status, out))

        # SIGTERM to agent-run: CMD ends, the terminal is restored
        def term(out, master, pid, seen):
            if b"READY" in out and "termed" not in seen:
                seen.add("termed")
                os.kill(pid, 15)
        out, status, before, after, _ = session(
            confdir, "echo READY; while :; do sleep 0.1; done", on_output=term)
        check(status == 143, "SIGTERM to agent-run ends CMD (status 143)", "status %s" % status)
        check(after == before, "the operator's terminal modes are restored after SIGTERM",
              "before %r, after %r" % (before, after))

        # review 2026-12: stdin not a terminal (--token-fd 0, < file), the
        # operator's terminal on stdout and stderr only: CMD gets a pty there
        # too, never the operator's terminal, and cannot read what the
        # operator types (head reads its stderr: before, the operator's tty)
        keys = os.path.join(work, "keys")
        def type_keys(out, master, pid, seen):
            if b"READY" in out and "typed" not in seen:
                seen.add("typed")
                os.write(master, b"SECRET-KEYS\n")
        names = []
        out, status, before, after, operator = session(
            confdir, "echo FD2=$(readlink /proc/$$/fd/2); echo FD1=$(readlink /proc/$$/fd/1); "
            "echo TTY=$(tty <&2); set -- $(cat /proc/$$/stat | sed 's/^.*) //'); "
            "echo \"SID=$4 TTYNR=$5\"; echo READY; "
            "timeout 5 head -c 6 <&2 > '%s'; exit 4" % keys,
            on_output=type_keys, stdin_null=True, names=names)
        outer = names[0] if names else "?"
        fields = dict(w.split("=", 1) for w in out.replace("\r", "").split()
                      if "=" in w and w.split("=", 1)[0] in ("FD1", "FD2", "TTY", "SID", "TTYNR"))
        check(status == 4, "stdin /dev/null: CMD runs, its exit status 4 comes back",
              "status %s, output %r" % (status, out))
        check(fields.get("FD2", outer) != outer and fields.get("FD2", "").startswith("/dev/pts/"),
              "stdin /dev/null: CMD's stderr (%s) is a pty of its own, not the operator's "
              "terminal (%s)" % (fields.get("FD2"), outer), repr(out))
        check(fields.get("FD1", outer) != outer and fields.get("TTY", outer) != outer,
              "stdin /dev/null: CMD's stdout (%s) and terminal (%s) are not the operator's (%s)"
              % (fields.get("FD1"), fields.get("TTY"), outer), repr(out))
        check(fields.get("SID") not in (None, str(operator[0])) and
              fields.get("TTYNR") not in (None, "0", str(operator[1])),
              "stdin /dev/null: CMD has a session and a controlling terminal of its own",
              repr(out))
        try:
            with open(keys, "rb") as f:
                read = f.read()
        except OSError as e:
            read = repr(e).encode()
        check(read == b"", "stdin /dev/null: keys typed on the operator's terminal do not "
              "reach CMD", "CMD read %r" % read)
        check(after == before, "stdin /dev/null: the operator's terminal modes are unchanged",
              "before %r, after %r" % (before, after))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passes, fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
