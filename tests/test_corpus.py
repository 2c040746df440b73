"""The configuration corpus: every tests/conf/good/*.conf passes `soad -n`
silently, every tests/conf/bad/*.conf fails it with exit 78 and its
pinned messages.

A bad file opens with its expectations, one comment line each:

    # expect: LINE: REGEX     an error "PATH:LINE: MESSAGE" on stderr, the
                              whole MESSAGE matching the Python REGEX
    # errors: N               the number of errors (default: one per
                              "# expect:" line)

The first line must be an "# expect:" line.  stderr must hold exactly
those errors and end with "soad: N configuration error(s) found".
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import SOAD, SRCDIR, run_check

CONF = os.path.join(SRCDIR, "tests", "conf")
GOOD = sorted(glob.glob(os.path.join(CONF, "good", "*.conf")))
BAD = sorted(glob.glob(os.path.join(CONF, "bad", "*.conf")))

# soad -n resolves users as root only would: as anyone else, a "user"
# other than one's own is itself an error (see the README, Testing).
USER_KEY = re.compile(r"^\s*(user|socket-user|socket-group)\s*=", re.M)


def conf_id(path):
    return os.path.relpath(path, CONF)


def read(path):
    with open(path) as f:
        return f.read()


def skip_unless_root(text):
    if os.geteuid() != 0 and USER_KEY.search(text):
        pytest.skip("user switching configs are checked as root only")


def expectations(path, text):
    """[(line, regex)], count from the file's leading comments."""
    lines = text.splitlines()
    assert lines and lines[0].startswith("# expect: "), \
        "%s: the first line must be '# expect: LINE: REGEX'" % path
    want, count = [], None
    for line in lines:
        m = re.match(r"# expect: (\d+): (.*)$", line)
        if m:
            want.append((int(m.group(1)), m.group(2)))
            continue
        m = re.match(r"# errors: (\d+)$", line)
        if m:
            count = int(m.group(1))
            continue
        break
    return want, len(want) if count is None else count


def test_corpus_size():
    assert len(GOOD) >= 6, GOOD
    assert len(BAD) >= 16, BAD


@pytest.mark.parametrize("path", GOOD, ids=conf_id)
def test_good(path):
    skip_unless_root(read(path))
    rc, err = run_check(path)
    assert (rc, err) == (0, ""), "soad -n %s:\n%s" % (path, err)


@pytest.mark.parametrize("path", BAD, ids=conf_id)
def test_bad(path):
    text = read(path)
    skip_unless_root(text)
    want, count = expectations(path, text)
    rc, err = run_check(path)
    assert rc == 78, "soad -n %s exited %d:\n%s" % (path, rc, err)

    lines = err.splitlines()
    assert lines, "soad -n %s printed nothing" % path
    assert lines[-1] == "soad: %d configuration error%s found" % (
        count, "" if count == 1 else "s"), err
    errors = lines[:-1]
    prefix = re.escape(path) + r":(\d+): (.*)"
    for line in errors:
        assert re.fullmatch(prefix, line), \
            "not a %s:LINE: message line: %r" % (path, line)
    assert len(errors) == count, err
    for lineno, regex in want:
        pat = re.compile(re.escape("%s:%d: " % (path, lineno)) + regex)
        assert any(pat.fullmatch(line) for line in errors), \
            "no error matching %r at line %d:\n%s" % (regex, lineno, err)


# What `soad -n` must refuse beyond the corpus: files that are not
# regular, and sockets that could never be bound or are unsafe.  Each is
# exit 78 with the file (and line) named, and quick.

def check(path, timeout=10):
    p = subprocess.run([SOAD, "-n", "-f", path], capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stderr


SERVICE = """service web {
	server = "/bin/true"
	listen = { "%s" }
}
"""


@pytest.mark.parametrize("kind", ["fifo", "device", "directory", "huge"])
def test_not_a_regular_file(tmp_path, kind):
    path = str(tmp_path / "soad.conf")
    if kind == "fifo":
        os.mkfifo(path)         # no writer: a plain read would block
    elif kind == "device":
        path = "/dev/zero"      # a plain read would never end
    elif kind == "directory":
        os.mkdir(path)
    else:
        with open(path, "wb") as f:
            f.truncate(16 * 1024 * 1024 + 1)
    want = {"fifo": "not a regular file", "device": "not a regular file",
            "directory": "Is a directory",
            "huge": "larger than 16 MiB"}[kind]
    rc, err = check(path, timeout=5)
    assert (rc, err) == (78, "%s: cannot read: %s\n"
                        "soad: 1 configuration error found\n" % (path, want))


def write_conf(tmp_path, listen):
    conf = tmp_path / "soad.conf"
    conf.write_text(SERVICE % listen)
    return str(conf)


def need_root():
    if os.geteuid() != 0:
        pytest.skip("making files owned by another user needs root")


def test_socket_in_world_writable_dir(tmp_path):
    d = tmp_path / "www"
    d.mkdir()
    os.chmod(str(d), 0o777)
    conf = write_conf(tmp_path, "%s/web.sock" % d)
    rc, err = check(conf)
    assert rc == 78, err
    assert err.splitlines()[0] == (
        "%s:3: service web: socket %s/web.sock: unsafe directory %s: "
        "writable by others (only a sticky directory owned by root may "
        "be)" % (conf, d, d))


def test_socket_through_planted_symlink(tmp_path):
    """A link owned by another user in a sticky world-writable directory
    (as anyone could plant in /tmp) is not followed; root's is."""
    need_root()
    sticky, real = tmp_path / "sticky", tmp_path / "real"
    sticky.mkdir()
    real.mkdir()
    os.chmod(str(sticky), 0o1777)
    os.symlink(str(real), str(sticky / "evil"))
    os.lchown(str(sticky / "evil"), 65534, 65534)
    os.symlink(str(real), str(sticky / "good"))
    conf = write_conf(tmp_path, "%s/evil/web.sock" % sticky)
    rc, err = check(conf)
    assert rc == 78, err
    assert err.splitlines()[0] == (
        "%s:3: service web: socket %s/evil/web.sock: unsafe symbolic link "
        "%s/evil: owned by uid 65534, not by root or soad's user"
        % (conf, sticky, sticky))
    conf = write_conf(tmp_path, "%s/good/web.sock" % sticky)
    assert check(conf) == (0, "")


def test_socket_user_without_root():
    """As a user other than root, lchown to another socket-user fails:
    -n says so instead of letting every bind fail."""
    need_root()
    top = tempfile.mkdtemp(prefix="soad-nobody-")
    try:
        os.chmod(top, 0o755)
        sock = os.path.join(top, "s")
        os.mkdir(sock)
        os.chown(sock, 65534, 65534)
        conf = os.path.join(top, "soad.conf")
        with open(conf, "w") as f:
            f.write(SERVICE[:-2] % ("%s/web.sock" % sock) +
                    '\tsocket-user = "root"\n}\n')

        def as_nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        p = subprocess.run([SOAD, "-n", "-f", conf], capture_output=True,
                           text=True, timeout=10, preexec_fn=as_nobody)
        assert (p.returncode, p.stderr) == (78, (
            "%s:4: service web: socket-user root needs soad to run as "
            "root\nsoad: 1 configuration error found\n" % conf))
    finally:
        shutil.rmtree(top)
