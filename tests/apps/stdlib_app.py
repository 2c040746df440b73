#!/usr/bin/python3
"""A socket-activatable HTTP server with nothing but Python's stdlib.

It serves every listener passed in the systemd/soad way (fds 3.. per
LISTEN_FDS, only if LISTEN_PID is our pid), TCP or UNIX, one thread per
connection.  On SIGTERM or SIGINT it stops accepting, closes its
listeners, lets the requests in flight finish and exits 0: the graceful
stop soad expects.  GET /slow logs "slow request begins" and sleeps
0.3 s; other paths answer
"hello from PID".
"""
import http.server
import os
import signal
import socket
import sys
import threading
import time

SD_LISTEN_FDS_START = 3


def listen_fds():
    """The inherited listening sockets (empty if not socket-activated)."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return []
    n = int(os.environ.get("LISTEN_FDS", "0"))
    for k in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(k, None)     # not for our children
    # fileno= detects the family and type of the inherited socket.
    return [socket.socket(fileno=fd)
            for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + n)]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/slow":
            print("slow request begins in pid %d" % os.getpid(),
                  file=sys.stderr, flush=True)
            time.sleep(0.3)
            body = b"slow hello from %d\n" % os.getpid()
        else:
            body = b"hello from %d\n" % os.getpid()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self):
        # UNIX-socket clients have no (host, port) address.
        return self.client_address[0] if self.client_address else "unix"

    def log_message(self, fmt, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = False      # server_close() waits for requests in flight


def serve(socks):
    # Block the stop signals before starting threads: only sigwait()
    # below sees them.
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    servers = []
    for sock in socks:
        srv = Server(("", 0), Handler, bind_and_activate=False)
        srv.socket.close()
        srv.socket = sock       # already bound and listening
        srv.address_family = sock.family
        servers.append(srv)
        threading.Thread(target=srv.serve_forever, args=(0.1,)).start()
    print("stdlib_app: ready, pid %d, %d listeners" % (os.getpid(),
          len(servers)), file=sys.stderr, flush=True)
    sig = signal.sigwait(stop)
    print("stdlib_app: signal %d, stopping" % sig, file=sys.stderr,
          flush=True)
    for srv in servers:
        srv.shutdown()          # no more accepts
    for srv in servers:
        srv.server_close()      # close the listener, join request threads
    print("stdlib_app: stopped", file=sys.stderr, flush=True)


def main():
    socks = listen_fds()
    if not socks and len(sys.argv) > 1:     # not activated: --port style
        socks = [socket.create_server(("127.0.0.1", int(sys.argv[1])))]
    if not socks:
        print("stdlib_app: no LISTEN_FDS for pid %d" % os.getpid(),
              file=sys.stderr)
        return 2
    serve(socks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
