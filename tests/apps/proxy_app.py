"""A small service for soad's proxy-mode tests.  It serves the listeners
it is handed (LISTEN_FDS, fds 3..) or, with --port N, binds 127.0.0.1:N
itself (--unix PATH: a UNIX socket there), one thread per connection, doing what argv[1] says:

  reflect         read until the peer shuts down its writing, then send
                  back every byte received (a PROXY header included) and
                  close: a reply that only starts after the half-close
  first N OUT     send N bytes (bytes 0..255 repeated), shut down writing,
                  then read until EOF and write "LENGTH SHA256HEX" to OUT
  reset           wait until at least 100 bytes are queued, read one,
                  then close with SO_LINGER 0 and unread data: a reset
  watch OUT       read "hi\\n", answer "ok\\n", then read on and write to
                  OUT how the connection ended: "eof", "reset" or the
                  error's name
"""
import hashlib
import os
import socket
import struct
import sys
import threading


def pattern(n):
    block = bytes(range(256)) * 256
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


def write_out(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def read_all(c):
    chunks = []
    while True:
        b = c.recv(1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def serve(c, args):
    mode = args[0]
    if mode == "reflect":
        c.sendall(read_all(c))
    elif mode == "first":
        c.sendall(pattern(int(args[1])))
        c.shutdown(socket.SHUT_WR)
        h, n = hashlib.sha256(), 0
        while True:
            b = c.recv(1 << 16)
            if not b:
                break
            h.update(b)
            n += len(b)
        write_out(args[2], "%d %s" % (n, h.hexdigest()))
    elif mode == "reset":
        while len(c.recv(4096, socket.MSG_PEEK)) < 100:
            pass
        c.recv(1)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
    elif mode == "watch":
        got = b""
        while not got.endswith(b"hi\n"):
            b = c.recv(16)
            if not b:
                write_out(args[1], "early eof")
                return
            got += b
        c.sendall(b"ok\n")
        try:
            while c.recv(4096):
                pass
            how = "eof"
        except ConnectionResetError:
            how = "reset"
        except OSError as e:
            how = type(e).__name__
        write_out(args[1], how)
    else:
        sys.exit("proxy_app: unknown mode %r" % mode)


def conn_thread(c, args):
    try:
        serve(c, args)
    except OSError:
        pass
    finally:
        c.close()


def accept_loop(lst, args):
    while True:
        c, _ = lst.accept()
        threading.Thread(target=conn_thread, args=(c, args),
                         daemon=True).start()


def main():
    args = sys.argv[1:]
    if args[:1] == ["--port"]:
        lst = socket.socket()
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind(("127.0.0.1", int(args[1])))
        lst.listen(128)
        listeners, args = [lst], args[2:]
    elif args[:1] == ["--unix"]:
        lst = socket.socket(socket.AF_UNIX)
        lst.bind(args[1])
        lst.listen(128)
        listeners, args = [lst], args[2:]
    else:
        if os.environ.get("LISTEN_PID") != str(os.getpid()):
            sys.exit("proxy_app: no listeners")
        listeners = [socket.socket(fileno=3 + i)
                     for i in range(int(os.environ["LISTEN_FDS"]))]
    for lst in listeners[1:]:
        threading.Thread(target=accept_loop, args=(lst, args),
                         daemon=True).start()
    print("proxy_app: ready, pid %d" % os.getpid(), file=sys.stderr,
          flush=True)
    accept_loop(listeners[0], args)


if __name__ == "__main__":
    main()
