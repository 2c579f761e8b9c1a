# SPDX-License-Identifier: BSD-3-Clause
"""Cross-compatibility with Debian's swtpm 0.7.1 (socket mode): a state
directory written by it loads in swtpm_cuse with the same NV contents and
EK public key, and the reverse; plain and with an encryption key."""
import socket
import subprocess
import time

import pytest

from helpers_cuse import TPM2_STARTUP_CLEAR, cuse_tpm, rc_of, tpm2_ok
from helpers_socket import free_port_pair

pytestmark = pytest.mark.cuse

UPSTREAM = "/usr/bin/swtpm"
NV = "0x1500030"
DATA = b"written-by-one-read-by-other-32b"


class Upstream:
    def __init__(self, state, key=None):
        self.port = free_port_pair()
        self.ctrl = self.port + 1
        args = [UPSTREAM, "socket", "--tpm2", "--tpmstate",
                "dir=%s" % state, "--server",
                "type=tcp,port=%d" % self.port, "--ctrl",
                "type=tcp,port=%d" % self.ctrl,
                "--flags", "not-need-init,startup-clear"]
        if key:
            args += ["--key", key]
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.ctrl), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("upstream swtpm did not come up")

    def tcti(self):
        return "swtpm:host=127.0.0.1,port=%d" % self.port

    def tools(self, args):
        p = subprocess.run([args[0], "-T", self.tcti()] + args[1:],
                           capture_output=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return p.stdout

    def stop(self):
        subprocess.run(["/usr/bin/swtpm_ioctl", "--tcp",
                        "127.0.0.1:%d" % self.ctrl, "-s"], timeout=30)
        self.proc.wait(timeout=30)


def ek_pub(run, path):
    run(["tpm2_createek", "-c", str(path) + ".ctx", "-G", "ecc", "-u",
         str(path)])
    run(["tpm2_flushcontext", "-t"])
    return path.read_bytes()


@pytest.mark.parametrize("keyed", [False, True])
def test_upstream_state_loads_in_cuse(tmp_path, keyed):
    state = tmp_path / "st"
    state.mkdir()
    key = None
    if keyed:
        (tmp_path / "k").write_text("55" * 32)
        key = "file=%s,mode=aes-256-cbc" % (tmp_path / "k")
    (tmp_path / "d").write_bytes(DATA)
    up = Upstream(state, key)
    try:
        up.tools(["tpm2_nvdefine", NV, "-C", "o", "-s", "32", "-a",
                  "ownerread|ownerwrite"])
        up.tools(["tpm2_nvwrite", NV, "-C", "o", "-i", str(tmp_path / "d")])
        ek_up = ek_pub(up.tools, tmp_path / "ek-up.pub")
    finally:
        up.stop()
    extra = ["--key", key] if key else []
    with cuse_tpm(tmp_path, state=state, extra=extra) as t:
        with t.open() as d:
            assert d.init() == 0
            assert rc_of(d.cmd(TPM2_STARTUP_CLEAR)) == 0
        got = tpm2_ok(["tpm2_nvread", NV, "-C", "o", "-s", "32"], t.dev)
        assert got == DATA
        ek_ours = ek_pub(lambda a: tpm2_ok(a, t.dev),
                         tmp_path / "ek-ours.pub")
        assert ek_ours == ek_up


@pytest.mark.parametrize("keyed", [False, True])
def test_cuse_state_loads_in_upstream(tmp_path, keyed):
    state = tmp_path / "st"
    key = None
    if keyed:
        (tmp_path / "k").write_bytes(b"a passphrase\n")
        key = "pwdfile=%s" % (tmp_path / "k")
    (tmp_path / "d").write_bytes(DATA)
    extra = ["--key", key] if key else []
    with cuse_tpm(tmp_path, state=state, extra=extra) as t:
        with t.open() as d:
            assert d.init() == 0
            assert rc_of(d.cmd(TPM2_STARTUP_CLEAR)) == 0
        tpm2_ok(["tpm2_nvdefine", NV, "-C", "o", "-s", "32", "-a",
                 "ownerread|ownerwrite"], t.dev)
        tpm2_ok(["tpm2_nvwrite", NV, "-C", "o", "-i", str(tmp_path / "d")],
                t.dev)
        ek_ours = ek_pub(lambda a: tpm2_ok(a, t.dev),
                         tmp_path / "ek-ours.pub")
    # upstream 0.7.1 takes a classic lock; ours is released on exit
    up = Upstream(state, key)
    try:
        assert up.tools(["tpm2_nvread", NV, "-C", "o", "-s", "32"]) == DATA
        assert ek_pub(up.tools, tmp_path / "ek-up.pub") == ek_ours
    finally:
        up.stop()
