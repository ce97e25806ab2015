"""A local web page with a form for the browser tests: `python form_site.py PORT` (127.0.0.1 only).

GET / shows a form with a name field; POST /submit answers a page whose #result reads "Thanks, NAME!".
"""

from __future__ import annotations

import html
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

FORM = b"""<!doctype html><html><head><title>Sign up</title></head><body>
<h1>Sign up</h1>
<form method="post" action="/submit">
  <label>Name <input id="name" name="name"></label>
  <button id="go" type="submit">Send</button>
</form></body></html>"""


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._send(FORM)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        fields = parse_qs(self.rfile.read(length).decode())
        name = html.escape(fields.get("name", [""])[0])
        self._send(
            f"<!doctype html><html><head><title>Done</title></head><body>"
            f"<p id='result'>Thanks, {name}!</p></body></html>".encode()
        )

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
