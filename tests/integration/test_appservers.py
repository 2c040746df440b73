"""soad with real socket-activatable application servers.

Each server (gunicorn, puma, uwsgi, a Python-stdlib server) runs the tiny
apps in tests/apps as a soad service on a TCP port and a UNIX socket:
nothing runs before the first connection, the first request starts it
and is answered by the app, the idle timeout stops it gracefully (exit
status 0, every process of it gone, the UNIX socket file left alone) and
the next request starts it again.  soad's own SIGTERM while a request is
in flight must not lose it (the server's stop-signal is graceful).  A
client loop across several stop/start cycles (gunicorn: the longest)
must lose no request.
"""
import os
import re
import shutil
import signal
import tempfile
import threading
import time

import pytest

from conftest import SRCDIR, alive, free_port, http_get, retry

APPS = os.path.join(SRCDIR, "tests", "apps")

# name: (server, args, stop-signal)
# Each stop-signal is the one that makes that server stop GRACEFULLY
# (close its listeners, finish the requests in flight, exit 0); see
# tests/apps and the README section "Making an app socket-activatable".
SERVERS = {
    # gunicorn reads LISTEN_FDS/LISTEN_PID itself; TERM = graceful stop.
    "gunicorn": ("/usr/bin/gunicorn",
                 ["gunicorn", "--workers", "1", "wsgi_app:app"], "TERM"),
    # puma >= 5: bind_to_activated_sockets "only" (puma.rb); TERM =
    # graceful stop, and raise_exception_on_sigterm false makes it exit 0.
    "puma": ("/usr/bin/puma", ["puma", "-C", "puma.rb", "config.ru"],
             "TERM"),
    # uwsgi 2.0 takes LISTEN_FDS by itself; --protocol http makes those
    # sockets speak HTTP.  Its master's TERM is a reload and INT/QUIT (and
    # TERM with --die-on-term) kill requests in flight, so TERM is mapped
    # to gracefully_kill_them_all.
    "uwsgi": ("/usr/bin/uwsgi",
              ["uwsgi", "--plugin", "python3", "--protocol", "http",
               "--master", "--wsgi-file", "wsgi_app.py",
               "--hook-master-start",
               "unix_signal:15 gracefully_kill_them_all"], "TERM"),
    # socket.socket(fileno=3..); graceful on TERM (and INT).
    "stdlib": ("/usr/bin/python3", ["python3", "stdlib_app.py"], "TERM"),
}


def short_dir(tmp_path):
    """tmp_path, or a fresh dir under /tmp if a socket path in tmp_path
    would not fit in sun_path."""
    if len(str(tmp_path)) + len("/app.sock") < 100:
        return str(tmp_path), None
    d = tempfile.mkdtemp(dir="/tmp", prefix="soad-app")
    return d, d


def service_conf(name, listens, timeout, extra=""):
    server, args, sig = SERVERS[name]
    return """timeout = %d
kill-timeout = 10
service %s {
  listen = { %s }
  server = "%s"
  args = { %s }
  stop-signal = %s
  directory = "%s"
%s}
""" % (timeout, name, ", ".join('"%s"' % a for a in listens), server,
       ", ".join('"%s"' % a for a in args), sig, APPS, extra)


def ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(") ", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None


def in_tree(pid, root):
    """Is pid root or one of root's (living) descendants?"""
    for _ in range(64):
        if pid == root:
            return True
        pid = ppid(pid)
        if pid is None or pid <= 1:
            return False
    return False


def served_by(body):
    m = re.match(r"^(?:slow )?hello from (\d+)\n$", body)
    assert m, "not the app's answer: %r" % body
    return int(m.group(1))


@pytest.fixture
def short_tmp(tmp_path):
    d, extra = short_dir(tmp_path)
    yield d
    if extra:
        shutil.rmtree(extra, ignore_errors=True)


def skip_unless_installed(name):
    if not os.access(SERVERS[name][0], os.X_OK):
        pytest.skip("%s is not installed" % SERVERS[name][0])


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_activate_idle_stop_restart(soad, short_tmp, name):
    skip_unless_installed(name)
    port = free_port()
    tcp = ("127.0.0.1", port)
    unix = os.path.join(short_tmp, "app.sock")
    soad.start(service_conf(name, ["127.0.0.1:%d" % port, unix], 2))
    started = r"^soad: %s: started pid (\d+)$" % name

    # Nothing runs before the first connection.
    assert soad.count(started) == 0, soad.log()
    assert os.path.exists(unix)

    # The first request starts the server; the app answers it.
    body = http_get(tcp)
    pid1 = int(soad.wait_log(started))
    worker = served_by(body)
    assert in_tree(worker, pid1), "answer from %d, not from pid %d's tree:" \
        "\n%s" % (worker, pid1, soad.log())
    # The UNIX socket reaches the same instance.
    last = time.monotonic()     # no arrival after this one
    worker2 = served_by(http_get(unix, "/slow"))
    assert in_tree(worker2, pid1), soad.log()
    assert soad.count(started) == 1, soad.log()

    # Idle for `timeout` seconds: a graceful stop with the stop-signal.
    soad.wait_log(r"^soad: %s: idle for 2 s, stopping pid %d with SIG%s$"
                  % (name, pid1, SERVERS[name][2]), timeout=10)
    idle_at = time.monotonic()
    soad.wait_log(r"^soad: %s: pid %d stopped \(exited with status 0\)$"
                  % (name, pid1), timeout=15)
    # Stopped `timeout` seconds after the last arrival, not earlier.
    assert 2.0 - 0.05 <= idle_at - last <= 2.0 * 1.1 + 1.0, (
        "idle stop %.2f s after the last request:\n%s"
        % (idle_at - last, soad.log()))
    assert retry(lambda: not alive(pid1) and not alive(worker),
                 what="pid %d and %d gone" % (pid1, worker))
    assert soad.count(started) == 1, soad.log()
    # The server did not unlink soad's socket file on its way out.
    assert os.path.exists(unix), "%s removed by %s:\n%s" % (unix, name,
                                                           soad.log())

    # The next request (on the UNIX socket) starts it again.
    worker3 = served_by(http_get(unix))
    pid2 = int(soad.wait_log(started, n=2))
    assert pid2 != pid1
    assert in_tree(worker3, pid2), soad.log()
    assert served_by(http_get(tcp)) and soad.count(started) == 2

    # soad's own TERM stops the running server and removes the socket.
    assert soad.stop() == 0, soad.log()
    assert re.search(r"^soad: %s: pid %d stopped \(exited with status 0\)$"
                     % (name, pid2), soad.log(), re.M), soad.log()
    assert not alive(pid2) and not alive(worker3)
    assert not os.path.exists(unix)
    assert "exited with status" not in soad.log().replace(
        "stopped (exited with status 0)", ""), soad.log()


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_stop_signal_is_graceful(soad, short_tmp, name):
    """soad's SIGTERM sends the service its stop-signal while a request is
    in flight: the server must finish it and exit 0.  (The wrong signal,
    e.g. INT for gunicorn or uwsgi's default TERM, fails here.)"""
    skip_unless_installed(name)
    unix = os.path.join(short_tmp, "app.sock")
    soad.start(service_conf(name, [unix], 0, extra="  kill-timeout = 5\n"))
    res = {}

    def slow():
        try:
            res["body"] = http_get(unix, "/slow", timeout=15)
        except Exception as e:
            res["error"] = e
    t = threading.Thread(target=slow, daemon=True)
    t.start()
    soad.wait_log(r"^soad: %s\[\d+\]: slow request begins in pid \d+$"
                  % name, timeout=15)
    pid = soad.pids(name)[0]
    soad.signal(signal.SIGTERM)
    t.join(15)
    assert not t.is_alive(), "no answer:\n" + soad.log()
    assert "error" not in res, "request in flight lost: %r\n%s" % (
        res.get("error"), soad.log())
    assert res["body"].startswith("slow hello from "), res
    assert soad.proc.wait(15) == 0, soad.log()
    assert re.search(r"^soad: %s: pid %d stopped \(exited with status 0\)$"
                     % (name, pid), soad.log(), re.M), soad.log()
    assert not alive(pid)


class Client(threading.Thread):
    """Sequential requests in bursts, alternating TCP and UNIX, every 6th
    one to /slow.  A burst lasts `burst` seconds and at least `least`
    requests; after it the next request comes `pause` seconds after the
    previous one ARRIVED (soad's idle clock runs from the last arrival
    when, as here, no connection is still open at the deadline).  Records
    every failure."""

    def __init__(self, addrs, pauses, burst=0.8, least=3, gap=0.02):
        super().__init__(daemon=True)
        self.addrs, self.pauses, self.burst, self.gap = (addrs, pauses,
                                                        burst, gap)
        self.least = least
        self.tried, self.ok, self.failed, self.workers = 0, 0, [], set()
        self.arrived = 0.0

    def one(self, i):
        addr = self.addrs[i % len(self.addrs)]
        path = "/slow" if i % 6 == 5 else "/"
        self.arrived = time.monotonic()
        self.tried += 1
        try:
            body = http_get(addr, path, timeout=15)
            w = served_by(body)
            if path == "/slow":
                assert body.startswith("slow "), body
            self.workers.add(w)
            self.ok += 1
        except Exception as e:
            self.failed.append("request %d at %.3f to %s %s: %r"
                               % (i, self.arrived, addr, path, e))

    def run(self):
        i = 0
        for pause in self.pauses + [None]:
            end, n = time.monotonic() + self.burst, 0
            while time.monotonic() < end or n < self.least:
                n += 1
                self.one(i)
                i += 1
                time.sleep(self.gap)
            if pause is not None:
                # The schedule under test, not a wait for a condition.
                time.sleep(max(0.0, self.arrived + pause - time.monotonic()))


# Pauses (seconds from the previous arrival) around the idle point: the
# 1 s timeout plus up to 0.1 s of arrival window soad credits as activity:
# some end before the stop, some right at it or while the server is
# stopping (those requests wait in soad's backlog for the next instance),
# some after it exited.  gunicorn gets the long schedule, the others a
# short one to keep the module quick.
PAUSES = {"gunicorn": [0.9, 1.3, 1.0, 1.05, 1.6, 0.97, 1.1, 1.2, 1.02, 1.15]}


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_no_lost_requests_across_cycles(soad, short_tmp, name):
    skip_unless_installed(name)
    port = free_port()
    unix = os.path.join(short_tmp, "app.sock")
    soad.start(service_conf(name, ["127.0.0.1:%d" % port, unix], 1))
    pauses = PAUSES.get(name, [1.4, 1.15, 1.25, 1.6])
    c = Client([("127.0.0.1", port), unix], pauses)
    c.start()
    c.join(60)
    assert not c.is_alive(), "client loop hung:\n" + soad.log()
    log = soad.log()
    stopped = soad.count(r"^soad: %s: pid \d+ stopped \(exited with "
                         r"status 0\)$" % name)
    starts = soad.pids(name)
    assert c.failed == [], "%d of %d requests failed:\n%s\n--- log ---\n%s" \
        % (len(c.failed), len(c.failed) + c.ok, "\n".join(c.failed), log)
    assert c.ok == c.tried >= 3 * (len(pauses) + 1), (c.ok, c.tried, log)
    assert stopped >= 3, "only %d stop/start cycles:\n%s" % (stopped, log)
    assert len(starts) in (stopped, stopped + 1), log
    # Each instance answered requests from its own process(es).
    assert len(c.workers) >= stopped, (c.workers, log)
    # Nothing but orderly stops: no SIGKILL, no unexpected exit.
    assert "killing it" not in log and "failed starts" not in log, log
    assert soad.stop() == 0, soad.log()
    assert not any(alive(p) for p in starts + sorted(c.workers))
