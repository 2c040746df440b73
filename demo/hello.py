#!/usr/bin/python3
"""soad's demo app: a Python stdlib HTTP server that takes its listening
socket from soad (fd 3, per LISTEN_FDS/LISTEN_PID) and stops gracefully
on SIGTERM.  It pretends to be a big app: it takes a second to start."""
import http.server
import os
import signal
import socket
import threading
import time


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("Hello from the demo app, pid %d, up %.1f s\n"
                % (os.getpid(), time.monotonic() - STARTED)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or \
            int(os.environ.get("LISTEN_FDS", "0")) < 1:
        raise SystemExit("hello.py: run me under soad (no LISTEN_FDS)")
    time.sleep(1.0)  # a slow start, as a real app server has
    server = http.server.HTTPServer(("", 0), Hello,
                                    bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=3)
    # SIGTERM: stop accepting, finish the request in progress, exit 0.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(
        target=server.shutdown).start())
    print("demo app ready, pid %d" % os.getpid(), flush=True)
    server.serve_forever()
    print("demo app stopped", flush=True)


STARTED = time.monotonic()
main()
