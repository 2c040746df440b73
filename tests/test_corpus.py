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

import pytest

from conftest import SRCDIR, run_check

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
