#!/usr/bin/env python3
"""End-to-end tests of the mops REPL, driving the built binary through a pseudo-terminal.

    python3 repl_pty.py PATH/TO/mops SCENARIO

Prints `ok SCENARIO` and exits 0, or prints what went wrong with the terminal
transcript and exits 1. Only the standard library is used (pty, select, subprocess).
"""
import os
import pty
import re
import select
import subprocess
import sys
import tempfile
import termios
import time

TIMEOUT = 20.0
CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")


def render(data):
    """The text a terminal shows for `data`: carriage returns, backspaces and the
    cursor movements libedit uses (CSI G, C, D, A, B, K) applied, colours dropped."""
    lines, row, col = [[]], 0, 0
    text = data.decode("utf-8", "replace")
    i = 0
    while i < len(text):
        c = text[i]
        m = CSI.match(text, i) if c == "\x1b" else None
        if m:
            n = int(m.group(1)) if m.group(1).isdigit() else 1
            op = m.group(2)
            if op == "G":
                col = n - 1
            elif op == "C":
                col += n
            elif op == "D":
                col = max(0, col - n)
            elif op == "A":
                row = max(0, row - n)
            elif op == "B":
                row += n
            elif op == "K":
                del lines[row][col:]
            i = m.end()
            while row >= len(lines):
                lines.append([])
            continue
        if c == "\n":
            row += 1
            while row >= len(lines):
                lines.append([])
        elif c == "\r":
            col = 0
        elif c == "\b":
            col = max(0, col - 1)
        elif c >= " " or c == "\t":
            line = lines[row]
            while len(line) < col:
                line.append(" ")
            if col < len(line):
                line[col] = c
            else:
                line.append(c)
            col += 1
        i += 1
    return "\n".join("".join(line) for line in lines)


class Failure(Exception):
    pass


TERMINALS = []


class Terminal:
    """One `mops` process on a pseudo-terminal."""

    def __init__(self, mops, home, color=False, args=()):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "xterm", "HOME": home,
               "MOPS_HISTORY": os.path.join(home, "history")}
        if not color:
            env["NO_COLOR"] = "1"
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(mops, [mops, *args], env)
        self.raw = b""
        self.seen = 0
        TERMINALS.append(self)

    def read_some(self, wait):
        ready, _, _ = select.select([self.fd], [], [], wait)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            return None
        if not data:
            return None
        self.raw += data
        return True

    @property
    def text(self):
        return render(self.raw)

    def expect(self, needle, raw=False):
        """Waits until `needle` appears after what earlier expects consumed."""
        deadline = time.time() + TIMEOUT
        while True:
            haystack = self.raw.decode("utf-8", "replace") if raw else self.text
            at = haystack.find(needle, self.seen if not raw else 0)
            if at >= 0:
                if not raw:
                    self.seen = at + len(needle)
                return
            if time.time() > deadline or self.read_some(0.1) is None:
                raise Failure(f"did not see {needle!r}")

    def prompt(self, text="mops> "):
        """Waits for a prompt and for libedit to put the terminal in raw mode: keys sent
        earlier would meet the cooked terminal (its echo, and ^D as end of file)."""
        self.expect(text)
        deadline = time.time() + TIMEOUT
        while termios.tcgetattr(self.fd)[3] & termios.ICANON:
            if time.time() > deadline:
                raise Failure(f"the terminal stayed in cooked mode after {text!r}")
            self.read_some(0.005)

    def send(self, keys):
        os.write(self.fd, keys.encode() if isinstance(keys, str) else keys)

    def line(self, text, shows=None, prompt="mops> "):
        """Types a line and Enter, waits for what it `shows`, then for the next prompt
        (keys typed before the prompt reach the terminal in cooked mode)."""
        self.send(text + "\r")
        self.expect(text)
        if shows is not None:
            self.expect(shows)
        self.prompt(prompt)

    def finish(self):
        """Waits for the process to end; returns its exit status."""
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            self.read_some(0.05)
        os.kill(self.pid, 9)
        raise Failure("mops did not exit")


def scenario_editing(mops, home):
    t = Terminal(mops, home)
    t.prompt()
    t.send("prnt 5\x01\x06\x06i\r")          # Ctrl-A, Ctrl-F twice, insert: "print 5"
    t.expect("\n5\n")
    t.prompt()
    t.send("printt\x7f 6\x1b[D\x1b[D\x1b[C\x1b[C7\r")   # backspace, arrows: "print 67"
    t.expect("\n67\n")
    t.prompt()
    t.send("\x04")
    assert_status(t.finish(), 0)


def scenario_completion(mops, home):
    t = Terminal(mops, home)
    t.prompt()
    t.line("regionx = mmap 3 pages")
    t.send("pri\t")                          # a statement keyword
    t.expect("print ")
    t.send("size regio\t")                   # a name the session bound
    t.expect("regionx ")
    t.send("\r")
    t.expect("\n12288\n")
    t.prompt()
    t.send("madvise regionx DONTF\t")        # advice names after madvise
    t.expect("DONTFORK ")
    t.send("\r")
    t.prompt()
    t.line("print flags regionx has dc", shows="\ntrue\n")
    t.send("print EBU\t")                    # errno names
    t.expect("EBUSY ")
    t.send("\r")
    t.expect("\nEBUSY\n")
    t.prompt()
    t.send(":und\t")                         # meta commands
    t.expect(":undo ")
    t.send("\r")
    t.expect("undone: print EBUSY")
    t.prompt()
    t.send("\x04")
    assert_status(t.finish(), 0)


def scenario_history(mops, home):
    t = Terminal(mops, home)
    t.prompt()
    t.line("print 4242")
    t.line("print 1717")
    t.send("\x04")
    assert_status(t.finish(), 0)
    history = open(os.path.join(home, "history")).read()
    if "4242" not in history:
        raise Failure(f"history file lacks the line: {history!r}")
    t = Terminal(mops, home)                 # a second session sees the first one's lines
    t.prompt()
    t.send("\x1b[A")                         # Up: the last line
    t.expect("print 1717")
    t.send("\r")
    t.expect("\n1717\n")
    t.prompt()
    t.send("\x124242")                       # Ctrl-R: incremental search
    t.expect("print 4242")
    t.send("\r")
    t.expect("\n4242\n")
    t.prompt()
    t.send("\x04")
    assert_status(t.finish(), 0)


def scenario_continuation(mops, home):
    t = Terminal(mops, home)
    t.prompt()
    t.line("on main {", prompt=" ...> ")
    t.line("print 1 +", prompt=" ...> ")
    t.line("2", prompt=" ...> ")
    t.line("}", shows="\n3\n")
    t.send("\x04")
    assert_status(t.finish(), 0)


def scenario_ctrl_c(mops, home):
    t = Terminal(mops, home)
    t.prompt()
    t.line("on main {", prompt=" ...> ")
    t.line("print 111", prompt=" ...> ")
    t.send("\x03")                           # abandons the block
    t.prompt()
    t.send("print 999")
    t.expect("print 999")
    t.send("\x03")                           # abandons the line
    t.prompt()
    t.line("print 2", shows="\n2\n")
    if "\n111\n" in t.text or "\n999\n" in t.text:
        raise Failure("an abandoned input ran")
    t.send("\x04")
    assert_status(t.finish(), 0)


def scenario_ctrl_c_twice(mops, home):
    t = Terminal(mops, home)
    t.prompt()
    t.send("for i in 0...1000000000 { assert true }\r")   # runs for minutes
    t.expect("assert true }\n")
    time.sleep(0.3)
    t.send("\x03")                           # remembered while the statement runs
    time.sleep(0.3)
    t.send("\x03")                           # the second one ends mops
    assert_status(t.finish(), 130)


def scenario_ctrl_d(mops, home):
    t = Terminal(mops, home)
    t.prompt()
    t.line("touch nothing", shows="error")   # an error does not end the session
    t.send("\x04")
    assert_status(t.finish(), 0)


def scenario_errors(mops, home):
    t = Terminal(mops, home)
    t.prompt()
    t.line("r = mmap 1 page")
    t.line("touch rr[0]", shows=" 2 | touch rr[0]\n   |       ^~\n")
    if "<repl>:2:7: error: `rr` is not bound; did you mean `r`?" not in t.text:
        raise Failure("no diagnostic for the bad line")
    t.line("print size r", shows="\n4096\n")
    t.send("\x04")
    assert_status(t.finish(), 0)


def scenario_color(mops, home):
    t = Terminal(mops, home, color=True)
    t.prompt()
    t.line("touch nothing", shows="is not bound")
    t.expect("\x1b[1;31merror\x1b[0m", raw=True)
    t.send("\x04")
    assert_status(t.finish(), 0)
    t = Terminal(mops, home, color=False)
    t.prompt()
    t.line("touch nothing", shows="error: `nothing` is not bound")
    t.send("\x04")
    assert_status(t.finish(), 0)
    if b"\x1b[1;31m" in t.raw:
        raise Failure("colour despite NO_COLOR")


def scenario_undo(mops, home):
    t = Terminal(mops, home)
    t.prompt()
    t.line("r = mmap 1 page")
    t.line("touch r[0] write 'A'")
    t.line("child = fork", prompt="mops[main]> ")
    t.line(":undo", shows="undone: child = fork")
    t.line(":undo", shows="undone: touch r[0] write 'A'")
    t.line("print present r[0]", shows="\nfalse\n")
    t.send("\x04")
    assert_status(t.finish(), 0)


def scenario_save_then_run(mops, home):
    path = os.path.join(home, "saved.mops")
    t = Terminal(mops, home)
    t.prompt()
    t.line("src = mmap 4 pages")
    t.line("touch src[0...2] write 'A'")
    t.line("child = fork", prompt="mops[main]> ")
    t.line("on child {", prompt="...> ")
    t.line("touch src[1] write 'B'", prompt="...> ")
    t.line("}", prompt="mops[main]> ")
    t.line("tmp = mmap 1 page", prompt="mops[main]> ")
    t.line("tmp = mmap 2 pages", prompt="mops[main]> ")   # bound again: saved under a fresh name
    t.line(":record", shows="recorded", prompt="mops[main]> ")
    t.line(f":save {path}", shows="saved", prompt="mops[main]> ")
    t.send(":quit\r")
    assert_status(t.finish(), 0)
    saved = open(path).read()
    for needle in ("tmp_2 = mmap 2 pages", "assert frame src[0] in child == frame src[0]",
                   "for i in 0...1 { assert none tmp_2[i] }"):
        if needle not in saved:
            raise Failure(f"the saved script lacks {needle!r}:\n{saved}")
    for args in ([mops, "run", path], [mops, path]):
        run = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if run.returncode != 0:
            raise Failure(f"{' '.join(args)} exited {run.returncode}:\n{run.stdout}{run.stderr}\n{saved}")


def scenario_plain_input(mops, home):
    path = os.path.join(home, "plain.mops")
    with open(path, "w") as f:
        f.write("r = mmap 4 pages\ntouch r[0...1] write 'A'\nchild = fork\non child {\n  touch r[0] write 'B'\n}\n"
                "show pages r\nprint mapcount r[1]\nassert mapcount r[0] == 2\nprint \"never\"\n")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home}
    with open(path) as stdin:
        piped = subprocess.run([mops], stdin=stdin, capture_output=True, text=True, env=env)
    run = subprocess.run([mops, "run", path], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    if piped.returncode != 1 or run.returncode != 1:
        raise Failure(f"exit statuses {piped.returncode} and {run.returncode}, expected 1")
    if piped.stdout != run.stdout:
        raise Failure(f"stdout differs:\n{piped.stdout}\n---\n{run.stdout}")
    if piped.stderr != run.stderr.replace(path + ":", "<stdin>:"):
        raise Failure(f"stderr differs:\n{piped.stderr}\n---\n{run.stderr}")
    if "mops>" in piped.stdout:
        raise Failure("a prompt on plain input")


def assert_status(status, expected):
    if status != expected:
        raise Failure(f"exit status {status}, expected {expected}")


def main():
    mops, name = sys.argv[1], sys.argv[2]
    scenario = globals()[f"scenario_{name}"]
    with tempfile.TemporaryDirectory(prefix="mops-pty-") as home:
        try:
            scenario(mops, home)
        except Failure as e:
            print(f"FAIL {name}: {e}")
            if TERMINALS:
                print("--- the last terminal showed:\n" + TERMINALS[-1].text)
            return 1
    print(f"ok {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
