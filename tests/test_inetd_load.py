"""soad -i: an inetd.conf read next to (or instead of) soad.conf, checked
with -n.  And soad -C: its output for every tests/inetd/*.conf sample
passes `soad -n -f`.

Only `soad -n` runs here: serving nowait, dgram and internal services is
tested with the runtime.  The inetd.conf lines switch users, which only
root may check (see the README, Testing): as anyone else these skip.
"""
import glob
import os
import re
import subprocess

import pytest

from conftest import SOAD, SRCDIR

INETD = os.path.join(SRCDIR, "tests", "inetd")
SAMPLES = sorted(glob.glob(os.path.join(INETD, "*.conf")))


def need_root():
    if os.geteuid() != 0:
        pytest.skip("inetd.conf lines switch users: checked as root only")


def soad(*args):
    p = subprocess.run([SOAD] + list(args), capture_output=True, text=True,
                       timeout=30)
    return p.returncode, p.stdout, p.stderr


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# A server that is not installed here is a warning with -i; soad.conf
# (soad -C's output) makes it an error.  Anything else is a failure.
MISSING = r"service \S+: server \S+: No such file or directory"


@pytest.mark.parametrize("path", SAMPLES, ids=os.path.basename)
def test_converted_sample_passes_check(tmp_path, path):
    need_root()
    rc, out, err = soad("-C", path)
    assert rc == 0, err
    conf = write(tmp_path, "soad.conf", out)
    rc, _, err = soad("-n", "-f", conf)
    lines = err.splitlines()
    if rc != 0:
        assert rc == 78 and lines[-1].endswith("found"), err
        lines = lines[:-1]
    for line in lines:
        assert re.fullmatch(re.escape(conf) + r":\d+: " + MISSING, line), \
            "soad -n on soad -C %s:\n%s\n%s" % (path, err, out)


@pytest.mark.parametrize("path", SAMPLES, ids=os.path.basename)
def test_sample_with_i(path):
    """-i alone: only FILE:LINE: warnings, exit 0; the same services as
    soad -C makes, and -f with only globals changes nothing."""
    need_root()
    rc, _, err = soad("-n", "-i", path)
    assert rc == 0, err
    for line in err.splitlines():
        assert re.fullmatch(re.escape(path) + r":\d+: warning: .*", line), \
            line


def test_globals_only_soad_conf(tmp_path):
    need_root()
    inetd = write(tmp_path, "inetd.conf",
                  "echo stream tcp nowait root internal\n")
    conf = write(tmp_path, "soad.conf", "timeout = 0\nrate-pause = 60\n")
    assert soad("-n", "-f", conf, "-i", inetd) == (0, "", "")
    # Without -i, a soad.conf with no service is still an error.
    rc, _, err = soad("-n", "-f", conf)
    assert (rc, err) == (78, "%s:2: no service defined\n"
                         "soad: 1 configuration error found\n" % conf)


def test_i_without_f_reads_no_soad_conf(tmp_path):
    """-i alone never reads /etc/soad.conf (here: a directory in the
    working directory would not matter either)."""
    need_root()
    inetd = write(tmp_path, "inetd.conf",
                  "daytime stream tcp nowait root internal\n")
    p = subprocess.run([SOAD, "-n", "-i", inetd], capture_output=True,
                       text=True, timeout=30, cwd=str(tmp_path))
    assert (p.returncode, p.stderr) == (0, "")


def test_errors_in_both_files(tmp_path):
    need_root()
    inetd = write(tmp_path, "inetd.conf",
                  "# comment\n"
                  "echo stream tcp nowait root internal\n"
                  "finger stream tcp bogus nobody /bin/true\n"
                  "rstatd/1 dgram rpc/udp wait root /bin/true rstatd\n")
    conf = write(tmp_path, "soad.conf", "timeout = -1\n")
    rc, out, err = soad("-n", "-f", conf, "-i", inetd)
    assert (rc, out) == (78, "")
    assert err.splitlines() == [
        "%s:1: timeout must be from 0 to 31536000, not -1" % conf,
        "%s:3: bad wait/nowait field \"bogus\"" % inetd,
        "%s:4: warning: rpc/udp services are not supported; line not "
        "served" % inetd,
        "soad: 2 configuration errors found"]


def test_duplicate_names_across_files(tmp_path):
    need_root()
    inetd = write(tmp_path, "inetd.conf",
                  "echo stream tcp nowait root internal\n"
                  "echo dgram udp wait root internal\n")
    conf = write(tmp_path, "soad.conf",
                 "service echo-udp {\n"
                 "\tlisten = { \"7007\" }\n"
                 "\tinternal = echo\n"
                 "\tsocket-type = dgram\n"
                 "}\n")
    rc, _, err = soad("-n", "-f", conf, "-i", inetd)
    assert (rc, err) == (78, (
        "%s:2: service echo-udp is already defined in %s; rename that "
        "section\nsoad: 1 configuration error found\n" % (inetd, conf)))


def test_addresses_across_files(tmp_path):
    """A TCP and a UDP service on one port are no conflict; two TCP ones
    are, reported at the inetd.conf line."""
    need_root()
    inetd = write(tmp_path, "inetd.conf",
                  "7007 dgram udp wait root /bin/true true\n"
                  "7008 stream tcp nowait root /bin/true true\n")
    conf = write(tmp_path, "soad.conf",
                 "service e { listen = \"7007\" internal = echo }\n"
                 "service f { listen = \"7008\" internal = echo }\n")
    rc, _, err = soad("-n", "-f", conf, "-i", inetd)
    assert rc == 78, err
    assert err.splitlines() == [
        "%s:2: service 7008: address *:7008 is already used by service f"
        % inetd, "soad: 1 configuration error found"]


def test_missing_server_is_a_warning(tmp_path):
    need_root()
    inetd = write(tmp_path, "inetd.conf",
                  "finger stream tcp nowait nobody /nonexistent/fingerd "
                  "fingerd\n")
    rc, _, err = soad("-n", "-i", inetd)
    assert (rc, err) == (0, (
        "%s:1: warning: service finger: server /nonexistent/fingerd: No "
        "such file or directory; every connection fails until it is "
        "installed\n" % inetd))


def test_missing_inetd_conf(tmp_path):
    path = str(tmp_path / "nothing.conf")
    rc, _, err = soad("-n", "-i", path)
    assert (rc, err) == (78, "%s: cannot read: No such file or directory\n"
                         "soad: 1 configuration error found\n" % path)


def test_nothing_to_serve(tmp_path):
    inetd = write(tmp_path, "inetd.conf", "# all off\n")
    rc, _, err = soad("-n", "-i", inetd)
    assert (rc, err) == (78, "%s: no service defined\n"
                         "soad: 1 configuration error found\n" % inetd)
