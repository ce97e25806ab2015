"""The trivial service the MTTR benchmark kills: `python mttr_server.py PORT`.

Standard library only. It answers `GET /health` with 200 and the body `"<pid> <started>"`, where
`<started>` is the wall-clock time at which this script began to run (after the interpreter's own start).
The benchmark uses the pid to know that an answer comes from the new process and not from the one it
has just killed, and the start time to split a recovery into "the supervisor's part" and "the
service's own boot"."""

from __future__ import annotations

import time

STARTED = time.time()

import os  # noqa: E402  (imports after STARTED, so the time includes them)
import sys  # noqa: E402
from http.server import BaseHTTPRequestHandler, HTTPServer  # noqa: E402
from socketserver import TCPServer  # noqa: E402


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            status, body = 200, f"{os.getpid()} {STARTED:.6f}".encode()
        else:
            status, body = 404, b"not found"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet: no log line per probe
        return


class Server(HTTPServer):
    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS look-up that can take seconds.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]


def main() -> None:
    port = int(sys.argv[1])
    Server(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
