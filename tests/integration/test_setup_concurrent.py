# SPDX-License-Identifier: BSD-3-Clause
"""Concurrent swtpm_setup runs racing to create one fresh per-user local CA:
all succeed, and all certificates chain to the one CA that won."""
import concurrent.futures
import os
import subprocess
import time

from conftest import tool

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


def test_concurrent_not_overwrite_runs_on_one_state_wait_their_turn(tmp_path):
    """Eight `--not-overwrite` runs on one state at once (a host starting a
    VM's TPM from several places): each waits for the setup before it
    instead of failing "in use", so all exit 0, one made the TPM and the
    others kept it."""
    xdg = tmp_path / "xdg"
    state = tmp_path / "state"
    state.mkdir()

    def one(i):
        return run_setup("--tpm2", "--create-ek-cert", "--not-overwrite",
                         "--tpmstate", state, xdg=xdg)

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(one, range(8)))
    for res in results:
        ok(res)
    kept = [r for r in results if "Not overwriting existing state file."
            in r.out + r.err]
    assert len(kept) == 7, "\n".join(str(r) for r in results)
    assert (state / "tpm2-00.permall").stat().st_size > 0


def test_setup_does_not_wait_for_a_running_emulator(tmp_path):
    """A running TPM holds the state: swtpm_setup fails naming its pid, as
    before; only another swtpm_setup is waited for (a wait for this
    emulator, which never stops, would end in run()'s timeout)."""
    swtpm = tool("swtpm")
    state = tmp_path / "state"
    state.mkdir()
    ok(run_setup("--tpm2", "--tpmstate", state, xdg=tmp_path / "xdg"))
    sock = tmp_path / "ctrl"
    p = subprocess.Popen([swtpm, "socket", "--tpm2", "--tpmstate",
                          "dir=%s" % state, "--ctrl",
                          "type=unixio,path=%s" % sock,
                          "--server", "type=unixio,path=%s" % (tmp_path / "d"),
                          "--flags", "startup-clear"])
    try:
        for _ in range(200):
            if (state / ".lock").exists() and sock.exists():
                break
            time.sleep(0.05)
        res = run_setup("--tpm2", "--overwrite", "--tpmstate", state,
                        xdg=tmp_path / "xdg")
        assert res.rc == 1, str(res)
        assert "is in use by process %d" % p.pid in res.err, str(res)
    finally:
        p.terminate()
        p.wait(10)
