# SPDX-License-Identifier: BSD-3-Clause
"""swtpm_ioctl against swtpm_cuse devices (in the VM), for TPM 1.2 and
2.0: every operation with its output format and exit code, error paths,
--save/--load between devices, and an upstream-style script run with our
swtpm_ioctl and with Debian's 0.7.1 swtpm_ioctl (interoperability of the
ioctl ABI in both directions)."""
import hashlib
import json
import os
import subprocess

import pytest

from conftest import tool
from helpers_cuse import (TPM12_GETRANDOM_8, TPM12_STARTUP_CLEAR,
                          TPM2_GETRANDOM_8, TPM2_STARTUP_CLEAR, cuse_tpm,
                          rc_of, tpm2_ok)

pytestmark = pytest.mark.cuse

OURS = tool("swtpm_ioctl")
DEBIAN = "/usr/bin/swtpm_ioctl"


def ioctl(args, client=OURS, **kw):
    return subprocess.run([client] + args, capture_output=True, text=True,
                          timeout=60, **kw)


def ok(args, client=OURS, **kw):
    p = ioctl(args, client, **kw)
    assert p.returncode == 0, "%s: %s" % (args, p.stderr)
    return p.stdout


@pytest.fixture(params=[True, False], ids=["tpm2", "tpm12"])
def dev(request, tmp_path):
    with cuse_tpm(tmp_path, tpm2=request.param) as t:
        t.tpm2 = request.param
        yield t


def test_every_operation(dev):
    d = dev.dev
    assert ok(["-c", d]) == "ptm capability is 0x16fff\n"
    # before INIT: commands needing a running TPM fail with 0xa
    p = ioctl(["-e", d])
    assert p.returncode == 1 and "0xa" in p.stderr
    ok(["-i", d])
    assert ok(["-e", d]) == "tpmEstablished is 0\n"
    for loc in range(5):
        ok(["-l", str(loc), d])
    p = ioctl(["-l", "5", d])
    assert p.returncode == 1 and "5" in p.stderr
    ok(["-l", "0", d])
    p = ioctl(["-r", "0", d])
    assert p.returncode == 1 and "0x3d" in p.stderr.lower()
    ok(["-r", "3", d])
    ok(["-v", d])
    if dev.tpm2:
        ok(["-C", d])
    else:
        # libtpms' TPM 1.2 has no cancellation: its TPM_FAIL is passed on
        p = ioctl(["-C", d])
        assert p.returncode == 1 and "0x9" in p.stderr
    assert ok(["-g", d]) == "ptm configuration flags: 0x0\n"
    out = ok(["-b", "0", d]).splitlines()
    assert out[0].startswith("TPM buffersize: 4096")
    info = json.loads(ok(["--info", "3", d]))
    fam = info["TPMSpecification"]["family"]
    assert fam == ("2.0" if dev.tpm2 else "1.2")
    ok(["--lock-storage", "0", d])
    ok(["--stop", d])
    p = ioctl(["-e", d])
    assert p.returncode == 1
    ok(["-i", d])
    ok(["-s", d])
    for _ in range(200):
        if not dev.alive():
            break
        import time
        time.sleep(0.02)
    assert not dev.alive()


def test_hash_extends_pcr17(tmp_path):
    data = b"a measured launch environment\n" * 300   # > 4096 bytes
    with cuse_tpm(tmp_path) as t:
        ok(["-i", t.dev])
        tpm2_ok(["tpm2_startup", "-c"], t.dev)
        ok(["-h", "-", t.dev], input=data.decode())
        assert ok(["-e", t.dev]) == "tpmEstablished is 1\n"
        out = tpm2_ok(["tpm2_pcrread", "sha256:17"], t.dev).decode()
        want = hashlib.sha256(bytes(32) + hashlib.sha256(data).digest())
        assert "0x" + want.hexdigest().upper() in out
        ok(["-h", "short string", t.dev])
        ok(["-r", "4", t.dev])
        assert ok(["-e", t.dev]) == "tpmEstablished is 0\n"


@pytest.mark.parametrize("bufsize", [None, "1000"])
def test_save_load_between_devices(tmp_path, bufsize):
    """--save from one device, --load into another: NV contents and PCRs
    come along; also with SWTPM_IOCTL_BUFFERSIZE's read()/write() mode."""
    env = dict(os.environ)
    if bufsize:
        env["SWTPM_IOCTL_BUFFERSIZE"] = bufsize
    data = tmp_path / "nv"
    data.write_bytes(b"moved between two vtpms via blobs")
    perm, vol = str(tmp_path / "perm"), str(tmp_path / "vol")
    with cuse_tpm(tmp_path) as a:
        ok(["-i", a.dev])
        tpm2_ok(["tpm2_startup", "-c"], a.dev)
        tpm2_ok(["tpm2_nvdefine", "0x1500040", "-C", "o", "-s",
                 str(len(data.read_bytes())), "-a", "ownerread|ownerwrite"],
                a.dev)
        tpm2_ok(["tpm2_nvwrite", "0x1500040", "-C", "o", "-i", str(data)],
                a.dev)
        tpm2_ok(["tpm2_pcrextend", "23:sha256=" + "ee" * 32], a.dev)
        pcr = tpm2_ok(["tpm2_pcrread", "sha256:23"], a.dev)
        ok(["--save", "permanent", perm, a.dev], env=env)
        ok(["--save", "volatile", vol, a.dev], env=env)
        assert os.stat(perm).st_mode & 0o777 == 0o600
    with cuse_tpm(tmp_path) as b:
        # refused while running: TPM_BAD_ORDINAL, nothing changes
        ok(["-i", b.dev])
        p = ioctl(["--load", "permanent", perm, b.dev], env=env)
        assert p.returncode == 1 and "0xa" in p.stderr
        ok(["--stop", b.dev])
        ok(["--load", "permanent", perm, b.dev], env=env)
        ok(["--load", "volatile", vol, b.dev], env=env)
        ok(["-i", b.dev])
        got = tpm2_ok(["tpm2_nvread", "0x1500040", "-C", "o", "-s",
                       str(len(data.read_bytes()))], b.dev)
        assert got == data.read_bytes()
        assert tpm2_ok(["tpm2_pcrread", "sha256:23"], b.dev) == pcr


def test_bad_blob_files_leave_state_alone(tmp_path):
    with cuse_tpm(tmp_path) as t:
        ok(["-i", t.dev])
        tpm2_ok(["tpm2_startup", "-c"], t.dev)
        blob = str(tmp_path / "perm")
        ok(["--save", "permanent", blob, t.dev])
        whole = open(blob, "rb").read()
        ok(["--stop", t.dev])
        for name, content in (("trunc", whole[:len(whole) // 2]),
                              ("garbage", os.urandom(len(whole))),
                              ("hdr", whole[:10])):
            f = tmp_path / name
            f.write_bytes(content)
            p = ioctl(["--load", "permanent", str(f), t.dev])
            assert p.returncode == 1, name
            assert "TPM result from PTM_SET_STATEBLOB" in p.stderr
        p = ioctl(["--load", "permanent", str(tmp_path / "missing"), t.dev])
        assert p.returncode == 1 and "missing" in p.stderr
        # the TPM still starts from its own state
        ok(["-i", t.dev])
        with t.open() as d:
            assert rc_of(d.cmd(TPM2_STARTUP_CLEAR)) == 0


def test_bad_devices_and_options(tmp_path):
    p = ioctl(["-i", "/dev/no-such-vtpm"])
    assert p.returncode == 1 and "/dev/no-such-vtpm" in p.stderr
    p = ioctl(["-i", "/dev/null"])
    assert p.returncode == 1 and "/dev/null" in p.stderr
    f = tmp_path / "file"
    f.write_text("x")
    p = ioctl(["-c", str(f)])
    assert p.returncode == 1 and str(f) in p.stderr
    p = ioctl(["--bogus", "/dev/null"])
    assert p.returncode == 1
    p = ioctl(["-l", "abc", "/dev/null"])
    assert p.returncode == 1
    p = ioctl(["-i"])
    assert p.returncode == 1 and "device" in p.stderr.lower()


UPSTREAM_SCRIPT = """\
set -e
swtpm_ioctl -i "$DEV"
swtpm_ioctl -l 0 "$DEV"
swtpm_ioctl --save permanent "$WORK/perm.$TAG" "$DEV"
swtpm_ioctl --save volatile "$WORK/vol.$TAG" "$DEV"
swtpm_ioctl --stop "$DEV"
swtpm_ioctl --load permanent "$WORK/perm.$TAG" "$DEV"
swtpm_ioctl --load volatile "$WORK/vol.$TAG" "$DEV"
swtpm_ioctl -i "$DEV"
swtpm_ioctl -c "$DEV"
swtpm_ioctl -s "$DEV"
"""


@pytest.mark.parametrize("client", [OURS, DEBIAN], ids=["ours", "debian"])
@pytest.mark.parametrize("tpm2", [True, False], ids=["tpm2", "tpm12"])
def test_upstream_style_script(tmp_path, client, tpm2):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    link = bindir / "swtpm_ioctl"
    if not link.exists():
        link.symlink_to(client)
    with cuse_tpm(tmp_path, tpm2=tpm2) as t:
        env = dict(os.environ, DEV=t.dev, WORK=str(tmp_path), TAG="x",
                   PATH="%s:%s" % (bindir, os.environ["PATH"]))
        p = subprocess.run(["sh", "-c", UPSTREAM_SCRIPT], env=env,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        assert "ptm capability is 0x16fff" in p.stdout
        assert os.path.getsize(tmp_path / "perm.x") > 100


def test_debian_client_operations(tmp_path):
    """Debian's swtpm_ioctl speaks the same ioctl ABI to our device."""
    with cuse_tpm(tmp_path) as t:
        ok(["-i", t.dev], DEBIAN)
        with t.open() as d:
            assert rc_of(d.cmd(TPM2_STARTUP_CLEAR)) == 0
            assert rc_of(d.cmd(TPM2_GETRANDOM_8)) == 0
        assert ok(["-e", t.dev], DEBIAN) == "tpmEstablished is 0\n"
        ok(["-l", "3", t.dev], DEBIAN)
        ok(["-h", "data", t.dev], DEBIAN)
        assert ok(["-e", t.dev], DEBIAN) == "tpmEstablished is 1\n"
        ok(["-r", "3", t.dev], DEBIAN)
        assert "0x0" in ok(["-g", t.dev], DEBIAN)
        assert "TPMSpecification" in ok(["--info", "1", t.dev], DEBIAN)
        ok(["--stop", t.dev], DEBIAN)
        ok(["-i", t.dev], DEBIAN)


def test_tpm12_getrandom_after_ioctl_init(tmp_path):
    with cuse_tpm(tmp_path, tpm2=False) as t:
        ok(["-i", t.dev])
        with t.open() as d:
            assert rc_of(d.cmd(TPM12_STARTUP_CLEAR)) == 0
            assert rc_of(d.cmd(TPM12_GETRANDOM_8)) in (0, 6, 7)
