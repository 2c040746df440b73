"""`soad -n` scales linearly with the number of services, and its
FILE:LINE: messages stay exact at 10,000 services.

The timing test compares CPU time (user + system of the child, not wall
time) at 1,000 and 10,000 services: a linear checker takes about 10 times
as long, a quadratic one 100 times; the bound is 20 times.  Each figure is
the best of three runs, which keeps a busy machine from failing it.
"""
import resource
import subprocess

from conftest import SOAD


def service(i, extra=""):
    """Service i on three lines, its own port."""
    return ('service s%d {\n\tlisten = { "127.0.0.1:%d" }\n'
            '\tserver = "/bin/true"%s }\n' % (i, 10000 + i, extra))


def write(tmp_path, name, n, patch=None):
    """N services (numbered from 1); patch(i) may replace service i's
    text.  Returns the path and {service number: its first line}."""
    lines, first, parts = 1, {}, ["# %d services\n" % n]
    for i in range(1, n + 1):
        text = patch(i) if patch else None
        text = text or service(i)
        first[i] = lines + 1
        parts.append(text)
        lines += text.count("\n")
    path = tmp_path / name
    path.write_text("".join(parts))
    return str(path), first


def cpu_of_check(path):
    """CPU seconds of one `soad -n`, best of three."""
    best = None
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run([SOAD, "-n", "-f", path], capture_output=True,
                           text=True, timeout=300)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert (p.returncode, p.stderr) == (0, ""), p.stderr[:2000]
        t = (after.ru_utime - before.ru_utime +
             after.ru_stime - before.ru_stime)
        best = t if best is None else min(best, t)
    return best


def test_check_is_linear(tmp_path):
    small, _ = write(tmp_path, "1k.conf", 1000)
    large, _ = write(tmp_path, "10k.conf", 10000)
    t_small = cpu_of_check(small)
    t_large = cpu_of_check(large)
    # A floor for the small figure: a clock tick or two of CPU would make
    # any ratio meaningless.
    assert t_large <= 20 * max(t_small, 0.01), (
        "soad -n: %.3f s CPU at 1,000 services, %.3f s at 10,000"
        % (t_small, t_large))


def test_line_numbers_at_10000_services(tmp_path):
    def patch(i):
        if i == 9999:       # a bad value
            return service(i, "\n\tbacklog = 0\n")
        if i == 9998:       # service 3's address
            return service(i).replace(str(10000 + i), str(10003))
        if i == 10000:      # service 5's name
            return service(5).replace("1000", "2000", 1)
        return None
    path, first = write(tmp_path, "10k.conf", 10000, patch)
    p = subprocess.run([SOAD, "-n", "-f", path], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 78, p.stderr
    assert p.stderr.splitlines() == [
        "%s:%d: service s9998: address 127.0.0.1:10003 is already used by "
        "service s3" % (path, first[9998] + 1),
        "%s:%d: backlog must be from 1 to 65535, not 0"
        % (path, first[9999] + 3),
        "%s:%d: service s5 is already defined at line %d"
        % (path, first[10000], first[5]),
        "soad: 3 configuration errors found",
    ]
