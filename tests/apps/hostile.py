"""A socket-activated service that attacks what it was handed, for
soad's hardening tests.  It takes fd 3 (LISTEN_FDS) and then, per argv:

  setsig N        fcntl(3, F_SETSIG, N): pick the arrival signal
  setown-parent   fcntl(3, F_SETOWN, getppid()) with F_SETSIG SIGKILL
  setown-self     fcntl(3, F_SETOWN, getpid()) and F_SETSIG SIGUSR2
                  (handled), so the service gets its own signals
  clear-async     fcntl(3, F_SETFL, O_NONBLOCK): drop O_ASYNC
  shutdown        shutdown(3) the listener after serving one request
  unlink PATH     unlink its UNIX socket file after serving one request
  daemonize       double fork into a new session; the daemon serves
  worker          fork a worker in a new session that holds fd 3 and
                  sleeps; the parent serves
  ignore-term     ignore SIGTERM

then answers "hostile PID" to each HTTP request (one per connection).
"""
import fcntl
import os
import signal
import socket
import sys
import time

F_SETOWN = 8
F_SETSIG = 10


def serve(sock, once=False):
    while True:
        c, _ = sock.accept()
        try:
            c.settimeout(5)
            c.recv(4096)
            body = ("hostile %d\n" % os.getpid()).encode()
            c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                      % (len(body), body))
        except OSError:
            pass
        finally:
            c.close()
        if once:
            return


def main():
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        sys.exit("not socket-activated")
    args = sys.argv[1:]
    sock = socket.socket(fileno=3)
    after = []
    while args:
        a = args.pop(0)
        if a == "setsig":
            fcntl.fcntl(3, F_SETSIG, int(args.pop(0)))
        elif a == "setown-parent":
            fcntl.fcntl(3, F_SETSIG, signal.SIGKILL)
            fcntl.fcntl(3, F_SETOWN, os.getppid())
        elif a == "setown-self":
            signal.signal(signal.SIGUSR2, lambda *_: None)
            fcntl.fcntl(3, F_SETSIG, signal.SIGUSR2)
            fcntl.fcntl(3, F_SETOWN, os.getpid())
        elif a == "clear-async":
            fcntl.fcntl(3, fcntl.F_SETFL, os.O_NONBLOCK)
            sock.setblocking(True)
        elif a == "ignore-term":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        elif a in ("shutdown", "unlink"):
            after.append((a, args.pop(0) if a == "unlink" else None))
        elif a == "daemonize":
            if os.fork() > 0:
                os._exit(0)
            os.setsid()
            if os.fork() > 0:
                os._exit(0)
            print("daemon %d" % os.getpid(), flush=True)
        elif a == "worker":
            pid = os.fork()
            if pid == 0:
                os.setsid()
                print("worker %d" % os.getpid(), flush=True)
                while True:
                    time.sleep(60)
        else:
            sys.exit("unknown action %r" % a)
    print("ready %d" % os.getpid(), flush=True)
    if after:
        serve(sock, once=True)
        for what, arg in after:
            if what == "shutdown":
                sock.shutdown(socket.SHUT_RDWR)
            else:
                os.unlink(arg)
        print("broke it", flush=True)
        return
    serve(sock)


main()
