"""The cmocka unit tests (tests/unit/test_*.c), built by `make
check-programs` into $SOAD_BUILDDIR/tests/unit/.  The suite requires
libcmocka-dev: a missing binary is a failure, not a skip."""
import os
import subprocess

import pytest

from conftest import BUILDDIR

UNITS = ["test_addr", "test_conf", "test_proxyproto", "test_relay",
         "test_hostsscan", "test_inetd", "test_internal"]


@pytest.mark.parametrize("name", UNITS)
def test_unit(name):
    path = os.path.join(BUILDDIR, "tests", "unit", name)
    assert os.access(path, os.X_OK), (
        "%s is missing: install libcmocka-dev, re-run configure, then "
        "make check-programs" % path)
    p = subprocess.run([path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    assert p.returncode == 0, "%s exited %d:\n%s" % (
        name, p.returncode, p.stdout)
    assert "[  PASSED  ]" in p.stdout, p.stdout
    assert "FAILED" not in p.stdout, p.stdout
