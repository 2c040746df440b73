#!/usr/bin/python3
"""fd3_http.py - a Python stdlib (http.server) HTTP server for the soad
cold-start benchmark.

Socket-activated (LISTEN_PID == our pid, LISTEN_FDS >= 1): serves the
listener on fd 3.  Standalone: `fd3_http.py --port N` binds 127.0.0.1:N.
Answers every GET with "ok\n" (HTTP/1.0, connection closed), logs nothing.
SIGTERM kills it (default disposition), which is how soad stops it.
"""
import http.server
import os
import socket
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args):
        pass


def main():
    activated = (os.environ.get("LISTEN_PID") == str(os.getpid())
                 and int(os.environ.get("LISTEN_FDS", "0")) >= 1)
    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler,
                                 bind_and_activate=False)
    if activated:
        srv.socket.close()
        srv.socket = socket.socket(fileno=3)
    else:
        if len(sys.argv) != 3 or sys.argv[1] != "--port":
            sys.exit("usage: fd3_http.py --port N (or socket-activated)")
        srv.server_address = ("127.0.0.1", int(sys.argv[2]))
        srv.server_bind()
        srv.server_activate()
    srv.serve_forever()


if __name__ == "__main__":
    main()
