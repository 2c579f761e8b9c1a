# SPDX-License-Identifier: BSD-3-Clause
"""Concurrent swtpm_setup runs racing to create one fresh per-user local CA:
all succeed, and all certificates chain to the one CA that won."""
import concurrent.futures
import os

from helpers_setup import ca_bundle, ok, run_setup, verify

RUNS = 20


def test_concurrent_runs_share_one_ca(tmp_path):
    xdg = tmp_path / "xdg"      # no CA yet: the CA is made fresh

    def one(i):
        d = tmp_path / ("vm%d" % i)
        d.mkdir()
        return run_setup("--tpm2", "--create-ek-cert",
                         "--create-platform-cert", "--lock-nvram",
                         "--tpmstate", d, "--write-ek-cert-files", d,
                         "--vmid", "vm%d" % i, xdg=xdg)

    with concurrent.futures.ThreadPoolExecutor(RUNS) as ex:
        results = list(ex.map(one, range(RUNS)))
    for res in results:
        ok(res)
    entries = sorted(os.listdir(xdg))   # the helper's empty user config
    assert entries == ["swtpm-localca", "swtpm_setup.conf"], entries
    bundle = ca_bundle(xdg)
    serials = set()
    for i in range(RUNS):
        for f in ("ek-rsa2048.crt", "ek-secp384r1.crt"):
            path = tmp_path / ("vm%d" % i) / f
            ok(verify(bundle, path))
            serials.add(path.read_bytes()[15:40])
    assert len(serials) == 2 * RUNS     # distinct certificates
