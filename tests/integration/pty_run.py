#!/usr/bin/python3
"""pty_run.py ANSWER PROMPT COMMAND...: run COMMAND with a new pseudo-terminal as its controlling
terminal (and its stdin, stdout and stderr), type ANSWER and Enter once PROMPT has appeared, and
print everything the terminal showed. Exits with COMMAND's exit status; 124 when PROMPT did not
appear within 120 s (COMMAND is then killed)."""
import os
import pty
import select
import signal
import sys
import time


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    answer, prompt, argv = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    shown = b""
    answered = False
    deadline = time.monotonic() + 120
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            sys.stdout.write(shown.decode(errors="replace"))
            print("\npty_run: timed out")
            return 124
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the other side closed
            data = b""
        if not data:
            break
        shown += data
        if not answered and prompt in shown:
            os.write(fd, answer + b"\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(shown.decode(errors="replace"))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
