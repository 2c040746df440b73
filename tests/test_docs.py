"""The documentation agrees with the program.

- both man pages pass `mandoc -Tlint -W warning` without a message;
- the installed example etc/soad.conf passes `soad -n`;
- every key of the libconfuse schema in src/conf_soad.c is documented in
  soad.conf(5) as `.It Ic KEY`, no other key is, and etc/soad.conf
  mentions each of them;
- the usage line soad prints is the SYNOPSIS of soad(8).
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import SOAD, SRCDIR, run_check

MAN8 = os.path.join(SRCDIR, "man", "soad.8")
MAN5 = os.path.join(SRCDIR, "man", "soad.conf.5")
CONF_C = os.path.join(SRCDIR, "src", "conf_soad.c")
EXAMPLE = os.path.join(SRCDIR, "etc", "soad.conf")


def read(path):
    with open(path) as f:
        return f.read()


def schema():
    """(option names, section names) in the cfg_opt_t tables of CONF_C,
    e.g. CFG_INT("timeout", ...) and CFG_SEC("service", ...)."""
    opts, secs = set(), set()
    for kind, name in re.findall(r'\bCFG_([A-Z_]+)\(\s*"([^"]+)"',
                                 read(CONF_C)):
        if name.startswith("__"):		# internal, never user-visible
            continue
        (secs if kind == "SEC" else opts).add(name)
    assert len(opts) >= 10 and secs, \
        "could not find the libconfuse schema in %s" % CONF_C
    return opts, secs


def documented_keys(text):
    """Keys that soad.conf(5) describes: the `.It Ic KEY` items."""
    return set(re.findall(r"^\.It Ic ([A-Za-z0-9_-]+)", text, re.M))


@pytest.mark.parametrize("page", [MAN8, MAN5],
                         ids=lambda p: os.path.basename(p))
def test_mandoc_lint_is_silent(page):
    if shutil.which("mandoc") is None:
        pytest.skip("mandoc is not installed")
    p = subprocess.run(["mandoc", "-Tlint", "-W", "warning", page],
                       capture_output=True, text=True, timeout=30)
    assert p.stdout + p.stderr == "", "mandoc lint:\n" + p.stdout + p.stderr
    assert p.returncode == 0


def test_example_config_passes_check():
    if os.geteuid() != 0:
        pytest.skip("etc/soad.conf runs its service as nobody, which "
                    "soad -n accepts only when run as root")
    status, err = run_check(EXAMPLE)
    assert (status, err) == (0, ""), err


def test_example_config_has_one_active_service():
    active = re.findall(r"^service\s+(\S+)\s*\{", read(EXAMPLE), re.M)
    assert active == ["hello"], active


def test_every_schema_key_is_documented():
    opts, secs = schema()
    text = read(MAN5)
    documented = documented_keys(text)
    assert sorted(opts - documented) == [], "keys missing from soad.conf.5"
    assert sorted(documented - opts) == [], "soad.conf.5 documents " \
        "keys that src/conf.c does not have"
    for sec in secs:
        assert re.search(r"^%s NAME \{$" % re.escape(sec), text, re.M), \
            "section %r is not shown in soad.conf.5" % sec


def test_example_config_mentions_every_key():
    opts, secs = schema()
    text = read(EXAMPLE)
    for key in sorted(opts):
        # Set, or shown commented out: "key = ..." or "#key = ...".
        assert re.search(r"^[ \t]*#?[ \t]*%s[ \t]*=" % re.escape(key), text,
                         re.M), "etc/soad.conf does not show key %r" % key
    for sec in sorted(secs):
        assert re.search(r"^#?%s \S+ \{" % re.escape(sec), text, re.M), \
            "etc/soad.conf does not show a %r section" % sec


def synopsis_words(text):
    """The SYNOPSIS of an mdoc page as plain words: `.Op Fl dnv` becomes
    "[-dnv]", `.Op Fl f Ar file` becomes "[-f file]"."""
    m = re.search(r"^\.Sh SYNOPSIS\n(.*?)^\.Sh ", text, re.M | re.S)
    assert m, "no SYNOPSIS section"
    words = []
    for line in m.group(1).splitlines():
        if not line.startswith("."):
            words.extend(line.split())
            continue
        args = line.split()
        macro, rest = args[0], args[1:]
        if macro == ".Nm":
            words.extend(rest or ["soad"])
            continue
        assert macro == ".Op", "unexpected macro in SYNOPSIS: " + line
        out = []
        for i, a in enumerate(rest):
            if a == "Fl":
                continue
            if a == "Ar":
                continue
            prev = rest[i - 1] if i > 0 else ""
            out.append("-" + a if prev == "Fl" else a)
        words.append("[" + " ".join(out) + "]")
    return " ".join(words).split()


def test_usage_matches_synopsis():
    p = subprocess.run([SOAD, "-x"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 64
    usage = [l for l in p.stderr.splitlines() if l.startswith("usage:")]
    assert len(usage) == 1, p.stderr
    assert usage[0].split()[1:] == synopsis_words(read(MAN8))


def test_synopsis_parser_sees_a_difference():
    """The comparison above can fail: a changed flag is noticed."""
    text = read(MAN8).replace(".Op Fl dnv", ".Op Fl dv", 1)
    assert synopsis_words(text) != synopsis_words(read(MAN8))
    assert synopsis_words(read(MAN8)) == [
        "soad", "[-dnv]", "[-f", "file]", "[-i", "inetd.conf]", "[-p",
        "pidfile]"]
