"""A misbehaving service for the orchestrator's tests; each flag is one kind of trouble.

--port N            serve GET /health (200) on 127.0.0.1:N
--start-delay S     sleep before listening (slow start)
--crash-after S     exit(3) after S seconds
--exit-code C       exit at once with C (after start-delay)
--hang-file F       while F exists, /health requests hang (a hung service)
--ignore-term       ignore SIGTERM (only SIGKILL ends it)
--grandchildren N   spawn N `sleep` grandchildren, one of them in its own session (escapes the group)
--children-file F   write the grandchildren's pids to F
--grandchild-seconds S   how long each grandchild sleeps (default 3600)
--mark F            append "<pid>" to F at start (to count spawns)
--heartbeat F       touch F every 0.2 s
--print-env K       print the value of env K at start
--signal-file F     on SIGTERM, SIGINT or SIGHUP, write the signal's name to F and exit 0
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int)
    parser.add_argument("--start-delay", type=float, default=0.0)
    parser.add_argument("--crash-after", type=float)
    parser.add_argument("--exit-code", type=int)
    parser.add_argument("--hang-file")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--grandchildren", type=int, default=0)
    parser.add_argument("--children-file")
    parser.add_argument("--grandchild-seconds", default="3600")
    parser.add_argument("--mark")
    parser.add_argument("--heartbeat")
    parser.add_argument("--print-env")
    parser.add_argument("--signal-file")
    args = parser.parse_args()

    if args.mark:
        with open(args.mark, "a") as handle:
            handle.write(f"{os.getpid()}\n")
    if args.print_env:
        print(f"{args.print_env}={os.environ.get(args.print_env, '')}", flush=True)
    if args.signal_file:
        _record_signals(args.signal_file)
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(f"service pid {os.getpid()} starting", flush=True)
    time.sleep(args.start_delay)
    if args.exit_code is not None:
        sys.exit(args.exit_code)
    _spawn_grandchildren(args.grandchildren, args.children_file, args.grandchild_seconds)
    if args.heartbeat:
        threading.Thread(target=_beat, args=(args.heartbeat,), daemon=True).start()
    if args.crash_after is not None:
        threading.Timer(args.crash_after, lambda: os._exit(3)).start()
    if args.port:
        _serve(args.port, args.hang_file)
    while True:
        time.sleep(3600)


def _record_signals(path: str) -> None:
    def record(signum: int, frame: object) -> None:
        with open(path, "w") as handle:
            handle.write(signal.Signals(signum).name)
        os._exit(0)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, record)


def _spawn_grandchildren(count: int, pid_file: str | None, seconds: str) -> None:
    pids = []
    for index in range(count):
        proc = subprocess.Popen(["sleep", seconds], start_new_session=index == 0)
        pids.append(proc.pid)
    if pid_file:
        with open(pid_file, "w") as handle:
            handle.write(" ".join(map(str, pids)))


def _beat(path: str) -> None:
    while True:
        with open(path, "a"):
            os.utime(path)
        time.sleep(0.2)


def _serve(port: int, hang_file: str | None) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            while hang_file and os.path.exists(hang_file):
                time.sleep(0.1)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
