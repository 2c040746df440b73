"""soad -C on the inetd.conf corpus.

tests/inetd/*.conf are samples of each dialect (OpenBSD, FreeBSD,
Debian's openbsd-inetd, netkit): `soad -C` converts each with exit 0,
only "warning:" lines on stderr, and a section for every service the
sample lists on its "# expect-services: NAME ..." line.

tests/inetd/broken/*.conf hold one broken line each and open with
"# expect: LINE: REGEX": `soad -C` exits 78, prints nothing on stdout,
and stderr is exactly that error followed by the error count.
"""
import glob
import os
import re
import subprocess

import pytest

from conftest import SOAD, SRCDIR

INETD = os.path.join(SRCDIR, "tests", "inetd")
SAMPLES = sorted(glob.glob(os.path.join(INETD, "*.conf")))
BROKEN = sorted(glob.glob(os.path.join(INETD, "broken", "*.conf")))


def convert(path):
    p = subprocess.run([SOAD, "-C", path], capture_output=True,
                       timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_corpus_size():
    assert [os.path.basename(p) for p in SAMPLES] == [
        "debian.conf", "freebsd.conf", "netkit.conf", "openbsd.conf"]
    assert len(BROKEN) >= 20, BROKEN


@pytest.mark.parametrize("path", SAMPLES, ids=os.path.basename)
def test_sample(path):
    with open(path) as f:
        text = f.read()
    m = re.search(r"^# expect-services: (.*)$", text, re.M)
    assert m, "%s: no '# expect-services:' line" % path
    want = m.group(1).split()
    rc, out, err = convert(path)
    assert rc == 0, "soad -C %s exited %d:\n%s" % (path, rc, err)
    for line in err.splitlines():
        assert re.fullmatch(re.escape(path) + r":\d+: warning: .*", line), \
            "not a warning: %r" % line
    got = re.findall(r"^service (\S+) \{$", out, re.M)
    assert got == want, "sections %s, expected %s:\n%s" % (got, want, out)
    # Every line of the sample is still in the output, as it was or as
    # a comment.
    for line in text.splitlines():
        assert line in out.splitlines() or "# " + line in out.splitlines(), \
            "line %r lost" % line


@pytest.mark.parametrize("path", BROKEN,
                         ids=lambda p: os.path.basename(p))
def test_broken(path):
    with open(path, "rb") as f:
        first = f.readline().decode()
    m = re.match(r"# expect: (\d+): (.*)$", first)
    assert m, "%s: the first line must be '# expect: LINE: REGEX'" % path
    rc, out, err = convert(path)
    assert rc == 78, "soad -C %s exited %d:\n%s" % (path, rc, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert re.fullmatch(re.escape("%s:%s: " % (path, m.group(1))) +
                        m.group(2), lines[0]), (lines[0], m.group(2))
    assert lines[1] == "soad: 1 configuration error found"


def test_missing_file(tmp_path):
    path = str(tmp_path / "nothing.conf")
    rc, out, err = convert(path)
    assert (rc, out, err) == (
        78, "", "%s: cannot read: No such file or directory\n"
        "soad: 1 configuration error found\n" % path)
