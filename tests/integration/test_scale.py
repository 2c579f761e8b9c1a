# SPDX-License-Identifier: BSD-3-Clause
"""Many tenants on one host, a small N of `make bench-scale` (issue 22
item 4) as a correctness test: eight VMs start at once, each runs
swtpm_setup with EK and platform certificates from one CA, then swtpm
socket and one command.  No timing is asserted; every run must succeed,
every certificate be in NV, signed by that CA, with a serial of its own,
and every swtpm stop cleanly."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "bench"))
import scalelib  # noqa: E402

N = 8


def check(res):
    assert res["failures"] == [], "\n".join(res["failures"])
    assert res["stop_failures"] == 0, res
    assert res["missing_certs"] == 0, res
    assert res["certs"] == len(scalelib.CERT_INDEXES) * N, res
    assert res["duplicates"] == 0, res
    assert len(res["pss_kib"]) == N, res


def test_eight_tenants_at_once_on_one_ca(tmp_path):
    check(scalelib.run_scale(scalelib.ours(), N, str(tmp_path)))


def test_eight_tenants_at_once_debian_peer(tmp_path):
    """The same run with Debian's 0.7.1, so the bench's side-by-side
    numbers compare two runs that both work."""
    if not all(os.access(p, os.X_OK) for p in
               (scalelib.debian().setup, scalelib.debian().swtpm)):
        pytest.skip("Debian's swtpm-tools 0.7.1 is not installed")
    check(scalelib.run_scale(scalelib.debian(), N, str(tmp_path)))
