# SPDX-License-Identifier: BSD-3-Clause
"""swtpm_ioctl against a real `swtpm socket` over TCP and Unix sockets,
for TPM 1.2 and TPM 2 (docs/cli.md §7, docs/control-channel.md)."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import tool
from helpers_socket import (expect_fail, expect_ok, free_port, make_swtpm,
                            need_swtpm, rc_of, run_tool)

__all__ = ["make_swtpm", "need_swtpm"]

VARIANTS = [(False, "tcp"), (False, "unix"), (True, "tcp"), (True, "unix")]
IDS = ["tpm12-tcp", "tpm12-unix", "tpm2-tcp", "tpm2-unix"]


@pytest.fixture(params=VARIANTS, ids=IDS)
def srv(request, need_swtpm, make_swtpm):
    tpm2, transport = request.param
    return make_swtpm(tpm2, transport)


def test_capability(srv):
    res = expect_ok(srv.ioctl("-c"))
    # Upstream 0.7.1 socket: 0x7fff for TPM 1.2, 0xffff (with the
    # command-header bit) for TPM 2.
    caps = int(res.out.split()[-1], 16)
    assert res.out.startswith("ptm capability is 0x"), str(res)
    assert caps & 0x7fff == 0x7fff, str(res)
    assert bool(caps & 0x8000) == srv.tpm2, str(res)


def test_single_dash_and_double_dash_forms(srv):
    for opt in ("-c", "--c"):
        assert expect_ok(srv.ioctl(opt)).out.startswith("ptm capability")
    expect_ok(srv.ioctl("-stop"))
    expect_ok(srv.ioctl("-i"))


def test_init_stop_and_not_running(srv):
    expect_ok(srv.ioctl("-i"))
    expect_ok(srv.ioctl("--stop"))
    assert srv.proc.poll() is None
    # GET_TPMESTABLISHED needs a running TPM: TPM_BAD_ORDINAL.
    res = expect_fail(srv.ioctl("-e"))
    assert res.err == "TPM result from PTM_GET_TPMESTABLISHED: 0xa\n", \
        str(res)
    expect_ok(srv.ioctl("-i"))
    assert expect_ok(srv.ioctl("-e")).out == "tpmEstablished is 0\n"


def test_shutdown_ends_process(srv):
    expect_ok(srv.ioctl("-s"))
    assert srv.wait_exit() is not None, srv.stderr()


def test_established_hash_and_reset(srv):
    assert srv.startup() == 0
    before = srv.pcr_read(17)
    data = "hello DRTM " * 1000        # > 4096 bytes: several chunks
    expect_ok(srv.ioctl("-h", data))
    after = srv.pcr_read(17)
    assert after != before
    assert after == srv.expect_drtm_pcr(data.encode())
    assert expect_ok(srv.ioctl("-e")).out == "tpmEstablished is 1\n"
    expect_fail(srv.ioctl("-r", "0"),
                "TPM result from PTM_RESET_TPMESTABLISHED: 0x3d")
    expect_ok(srv.ioctl("-r", "3"))
    assert expect_ok(srv.ioctl("-e")).out == "tpmEstablished is 0\n"


def test_hash_from_stdin(srv):
    assert srv.startup() == 0
    data = os.urandom(10000)
    expect_ok(srv.ioctl("-h", "-", input=data))
    assert srv.pcr_read(17) == srv.expect_drtm_pcr(data)


def test_locality(srv):
    for loc in range(5):
        expect_ok(srv.ioctl("-l", str(loc)))
    expect_fail(srv.ioctl("-l", "5"), "locality must be 0-4, got '5'")
    expect_fail(srv.ioctl("-l", "abc"), "got 'abc'")
    expect_fail(srv.ioctl("-r", "7"), "got '7'")


def test_cancel_volatile_config(srv):
    if srv.tpm2:
        expect_ok(srv.ioctl("-C"))
    else:
        # libtpms' TPM 1.2 cannot cancel: the result is TPM_FAIL.
        expect_fail(srv.ioctl("-C"), "TPM result from PTM_CANCEL_TPM_CMD: 0x9")
    expect_ok(srv.ioctl("-v"))
    assert (expect_ok(srv.ioctl("-g")).out ==
            "ptm configuration flags: 0x0\n")


def test_buffersize(srv):
    res = expect_ok(srv.ioctl("-b", "0"))
    lines = res.out.splitlines()
    assert len(lines) == 3, str(res)
    assert lines[0] == "TPM buffersize: 4096"
    assert lines[1].startswith("minimum size  : ")
    assert lines[2] == "maximum size  : 4096"
    expect_fail(srv.ioctl("-b", "3000"),
                "TPM result from PTM_SET_BUFFERSIZE: 0xa")
    expect_ok(srv.ioctl("--stop"))
    res = expect_ok(srv.ioctl("-b", "3000"))
    want = 3000 if srv.tpm2 else 3072       # TPM 1.2 minimum is 3072
    assert res.out.splitlines()[0] == "TPM buffersize: %d" % want, str(res)


def test_info(srv):
    family = "2.0" if srv.tpm2 else "1.2"
    spec = json.loads(expect_ok(srv.ioctl("--info", "1")).out)
    assert spec["TPMSpecification"]["family"] == family
    attrs = json.loads(expect_ok(srv.ioctl("--info", "2")).out)
    assert attrs["TPMAttributes"]["model"] == "swtpm"
    both = json.loads(expect_ok(srv.ioctl("--info", "0x3")).out)
    assert list(both) == ["TPMSpecification", "TPMAttributes"]


def test_lock_storage_unsupported(srv):
    # 0.7.1 has no LOCK_STORAGE: the server answers TPM_BAD_ORDINAL.
    res = srv.ioctl("--lock-storage", "0")
    if res.rc == 0:
        pytest.skip("server supports LOCK_STORAGE")
    expect_fail(res)
    assert res.err == "TPM result from PTM_LOCK_STORAGE: 0xa\n", str(res)


DEBIAN_IOCTL = "/usr/bin/swtpm_ioctl"


def tpm_errors(srv, tmp_path):
    """Argument lists that end in a TPM result error on srv."""
    assert srv.startup() == 0
    blob = tmp_path / "perm.blob"
    expect_ok(srv.ioctl("--save", "permanent", blob))
    # 0.7.1's client has no --lock-storage: test_lock_storage_unsupported
    # holds that line to upstream's format.
    return [["-b", "3000"], ["-r", "0"], ["--load", "permanent", str(blob)]]


def test_tpm_error_stderr_matches_debian(srv, tmp_path):
    # Into a pipe: Debian's one line, byte for byte, and the same exit.
    if not os.access(DEBIAN_IOCTL, os.X_OK):
        pytest.skip("%s is not installed" % DEBIAN_IOCTL)
    cases = tpm_errors(srv, tmp_path) + [["--stop"], ["-e"]]
    for args in cases:
        if args == ["--stop"]:
            expect_ok(srv.ioctl(*args))
            continue
        ours = srv.ioctl(*args)
        theirs = subprocess.run([DEBIAN_IOCTL] + srv.ctrl_args() + args,
                                capture_output=True, text=True, timeout=60)
        assert ours.rc == theirs.returncode == 1, str(ours)
        assert ours.err == theirs.stderr, "%s\nDebian's: %r" % (
            ours, theirs.stderr)
        assert ours.err.startswith("TPM result from PTM_"), str(ours)
        assert ours.out == theirs.stdout == "", str(ours)


def test_tpm_error_explained_on_a_terminal(srv, tmp_path):
    # stderr a terminal: a person reads it, so the explanation is added.
    import pty
    expect_ok(srv.ioctl("--stop"))
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([tool("swtpm_ioctl")] + srv.ctrl_args() +
                              ["-e"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=slave,
                              timeout=60)
        os.close(slave)
        slave = -1
        text = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            text += chunk
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    err = text.decode().replace("\r\n", "\n")
    assert proc.returncode == 1, err
    assert proc.stdout == b""
    lines = err.splitlines()
    assert lines[0] == "TPM result from PTM_GET_TPMESTABLISHED: 0xa", err
    assert len(lines) == 2, err
    assert lines[1].startswith("swtpm_ioctl: PTM_GET_TPMESTABLISHED on "), err
    assert "failed: TPM result 0xa (command not allowed" in lines[1], err


def test_save_load_roundtrip_pcr(srv, make_swtpm, tmp_path):
    assert srv.startup() == 0
    expect_ok(srv.ioctl("-h", "migrate me"))
    pcr = srv.pcr_read(17)
    perm, vol = tmp_path / "perm.blob", tmp_path / "vol.blob"
    expect_ok(srv.ioctl("--save", "permanent", perm))
    expect_ok(srv.ioctl("--save", "volatile", vol))
    assert perm.stat().st_mode & 0o777 == 0o600
    assert perm.stat().st_size > 0 and vol.stat().st_size > 0
    dst = make_swtpm(srv.tpm2, srv.transport, running=False)
    expect_ok(dst.ioctl("--load", "permanent", perm))
    expect_ok(dst.ioctl("--load", "volatile", vol))
    expect_ok(dst.ioctl("-i"))
    # The volatile state carries the started TPM and its PCRs.
    assert dst.pcr_read(17) == pcr
    assert expect_ok(dst.ioctl("-e")).out == "tpmEstablished is 1\n"


def test_save_missing_blob_gives_empty_file(srv, tmp_path):
    out = tmp_path / "savestate.blob"
    expect_ok(srv.ioctl("--save", "savestate", out))
    assert out.stat().st_size == 0


def test_save_refuses_symlink(srv, tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    link = tmp_path / "link"
    link.symlink_to(victim)
    expect_fail(srv.ioctl("--save", "permanent", link),
                "not a regular file")
    assert link.is_symlink() and victim.read_bytes() == b"keep"


def test_save_replaces_regular_file_with_mode_0600(srv, tmp_path):
    target = tmp_path / "old"
    target.write_bytes(b"old contents")
    expect_ok(srv.ioctl("--save", "permanent", target))
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.read_bytes() != b"old contents"


def test_load_into_running_tpm_refused(srv, tmp_path):
    blob = tmp_path / "perm.blob"
    expect_ok(srv.ioctl("--save", "permanent", blob))
    expect_fail(srv.ioctl("--load", "permanent", blob),
                "TPM result from PTM_SET_STATEBLOB: 0xa")
    # The emulator is still usable afterwards.
    expect_ok(srv.ioctl("-c"))


@pytest.mark.parametrize("kind", ["truncated", "garbage"])
def test_load_bad_blob_keeps_state(srv, tmp_path, kind):
    assert srv.startup() == 0
    blob = tmp_path / "perm.blob"
    expect_ok(srv.ioctl("--save", "permanent", blob))
    good = blob.read_bytes()
    bad = tmp_path / "bad.blob"
    bad.write_bytes(good[:100] if kind == "truncated"
                    else os.urandom(len(good)))
    expect_ok(srv.ioctl("--stop"))
    expect_fail(srv.ioctl("--load", "permanent", bad),
                "TPM result from PTM_SET_STATEBLOB: 0x")
    # INIT falls back to the stored state, which is still the good one.
    expect_ok(srv.ioctl("-i"))
    saved = tmp_path / "again.blob"
    expect_ok(srv.ioctl("--save", "permanent", saved))
    assert saved.read_bytes() == good


def test_load_oversized_refused_client_side(srv, tmp_path):
    big = tmp_path / "big.blob"
    big.write_bytes(bytes(512 * 1024 + 1))
    expect_ok(srv.ioctl("--stop"))
    expect_fail(srv.ioctl("--load", "permanent", big), "too big",
                str(big))
    expect_ok(srv.ioctl("-i"))


def test_load_missing_file(srv, tmp_path):
    expect_fail(srv.ioctl("--load", "permanent", tmp_path / "nope"),
                "cannot open")


def test_tpm2_nv_survives_migration(need_swtpm, make_swtpm, tmp_path):
    if not shutil.which("tpm2_nvdefine"):
        pytest.skip("tpm2-tools not installed")
    src = make_swtpm(True, "tcp")
    assert src.startup() == 0

    def t2(*args, server):
        p = subprocess.run(list(args) + ["-T", server.tcti()],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, "%s\n%s%s" % (args, p.stdout, p.stderr)
        return p

    t2("tpm2_nvdefine", "0x1500016", "-C", "o", "-s", "32", "-a",
       "ownerread|ownerwrite", server=src)
    payload = tmp_path / "payload"
    payload.write_bytes(b"0123456789abcdef")
    t2("tpm2_nvwrite", "0x1500016", "-C", "o", "-i", str(payload),
       server=src)
    perm, vol = tmp_path / "perm", tmp_path / "vol"
    expect_ok(src.ioctl("--save", "permanent", perm))
    expect_ok(src.ioctl("--save", "volatile", vol))

    dst = make_swtpm(True, "tcp", running=False)
    expect_ok(dst.ioctl("--load", "permanent", perm))
    expect_ok(dst.ioctl("--load", "volatile", vol))
    expect_ok(dst.ioctl("-i"))
    out = tmp_path / "out"
    t2("tpm2_nvread", "0x1500016", "-C", "o", "-s", "16", "-o", str(out),
       server=dst)
    assert out.read_bytes() == b"0123456789abcdef"

    # A garbage blob is refused and the NV index stays readable.
    garbage = tmp_path / "garbage"
    garbage.write_bytes(os.urandom(2000))
    expect_ok(dst.ioctl("--stop"))
    expect_fail(dst.ioctl("--load", "permanent", garbage),
                "TPM result from PTM_SET_STATEBLOB")
    expect_ok(dst.ioctl("-i"))
    assert dst.startup() == 0
    t2("tpm2_nvread", "0x1500016", "-C", "o", "-s", "16", "-o", str(out),
       server=dst)
    assert out.read_bytes() == b"0123456789abcdef"


# ---- command line and connection errors (no server needed) ----

def ioctl(*args, **kw):
    return run_tool("swtpm_ioctl", *args, **kw)


def test_version_and_help():
    res = expect_ok(ioctl("--version"))
    assert res.out.startswith("TPM emulator control tool version ")
    assert res.out.splitlines()[0].endswith(
        ", Copyright (c) 2026 the SWTPM tools authors")
    res = expect_ok(ioctl("--help"))
    assert res.out.startswith("TPM emulator control tool version ")
    for opt in ("--tcp", "--unix", "--save", "--load", "--info",
                "--lock-storage", "-b", "-h", "--stop"):
        assert opt in res.out


@pytest.mark.parametrize("args,needle", [
    (["--bogus", "/dev/null"], "unrecognized option"),
    (["-c", "-e", "/dev/null"], "Only one command may be given."),
    (["/dev/null"], "No valid command."),
    (["-c"], "Error: Missing device name."),
    (["--save", "permanent"], "Missing filename argument for --save"),
    (["--load", "permanent", "-c"], "Missing filename argument for --load"),
    (["--save", "bogus", "f", "/dev/null"], "unknown state blob type"),
    (["-l", "abc", "/dev/null"], "locality must be 0-4, got 'abc'"),
    (["-l", "5", "/dev/null"], "locality must be 0-4, got '5'"),
    (["-b", "x", "/dev/null"], "got 'x'"),
    (["--info", "zz", "/dev/null"], "got 'zz'"),
    (["--tcp", "127.0.0.1:70000", "-c"], "cannot parse --tcp"),
    (["--tcp", ":abc", "-c"], "cannot parse --tcp"),
])
def test_usage_errors(args, needle):
    expect_fail(ioctl(*args), needle)


def test_nonexistent_device():
    expect_fail(ioctl("-c", "/nonexistent/vtpm"),
                "'/nonexistent/vtpm'", "No such file or directory")


@pytest.mark.parametrize("path", ["/dev/null", "regular"])
def test_not_a_tpm_device(tmp_path, path):
    if path == "regular":
        path = tmp_path / "file"
        path.write_bytes(b"x" * 100)
    res = expect_fail(ioctl("-c", path), "PTM_GET_CAPABILITY",
                      "'%s'" % path, "not a TPM device")
    assert res.out == ""


def test_unreachable_tcp():
    port = free_port()
    expect_fail(ioctl("--tcp", ":%d" % port, "-c"),
                "cannot connect to 127.0.0.1:%d" % port,
                "Connection refused")


def test_unreachable_unix(tmp_path):
    expect_fail(ioctl("--unix", tmp_path / "nosock", "-c"),
                "cannot connect to", "nosock")


def test_tpm_device_option_with_positional_order(tmp_path):
    # --tpm-device wins; the device may also follow the command.
    expect_fail(ioctl("--tpm-device", "/nonexistent/a", "-c"),
                "'/nonexistent/a'")
    expect_fail(ioctl("/nonexistent/b", "-c"), "'/nonexistent/b'")


def test_extra_argument_is_ignored_with_warning(need_swtpm, make_swtpm):
    srv = make_swtpm(True, "tcp")
    res = expect_ok(srv.ioctl("-c", "/dev/extra"))
    assert "ignoring extra argument '/dev/extra'" in res.err


def test_unresolvable_host():
    expect_fail(ioctl("--tcp", "no-such-host.invalid:1", "-c"),
                "cannot connect to no-such-host.invalid:1",
                "cannot resolve the host name")


def test_rc_helper_sanity():
    assert rc_of(bytes.fromhex("80010000000a00000100")) == 0x100


# ---- a scripted fake control server: short, long and garbage replies ----

from helpers_socket import fake_server  # noqa: E402

__all__ += ["fake_server"]


@pytest.mark.parametrize("args,reply,needle", [
    (["-c"], b"\0\0\0\0", "connection closed by the emulator"),
    (["-c"], b"", "connection closed by the emulator"),
    (["-g"], bytes(12), "malformed or wrong-size reply"),
    (["-e"], b"\0\0\0", "connection closed by the emulator"),
    (["-b", "0"], bytes(17), "malformed or wrong-size reply"),
    (["--stop"], bytes(5), "malformed or wrong-size reply"),
    (["--info", "1"], bytes(4) + b"\xff" * 8, "malformed or wrong-size"),
    (["--info", "1"], bytes(4) + b"\0\0\0\x05\0\0\0\x09" + bytes(9),
     "malformed or wrong-size"),
    (["--save", "permanent", "OUT"],
     bytes(8) + b"\0\0\0\x05\0\0\0\x04" + bytes(4), "malformed or wrong"),
    (["--save", "permanent", "OUT"], bytes(4) + b"\x7f" * 12,
     "malformed or wrong"),
])
def test_bad_replies(fake_server, tmp_path, args, reply, needle):
    srv = fake_server([reply])
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    res = expect_fail(ioctl("--tcp", ":%d" % srv.port, *args),
                      "on 127.0.0.1:%d failed: %s" % (srv.port, needle))
    assert res.out == ""
    assert not (tmp_path / "out").exists()


def test_request_bytes_on_the_wire(fake_server, tmp_path):
    srv = fake_server([b"\0\0\0\0", b"\0\0\0\0", [bytes(4)] * 3,
                       b"\0\0\0\0" + bytes(8)])
    expect_ok(ioctl("--tcp", ":%d" % srv.port, "-i"))
    expect_ok(ioctl("--tcp", ":%d" % srv.port, "-l", "3"))
    expect_ok(ioctl("--tcp", ":%d" % srv.port, "-h", "ab"))
    res = expect_ok(ioctl("--tcp", ":%d" % srv.port, "--info", "0"))
    assert res.out == "\n"
    assert srv.requests[0] == bytes.fromhex("0000000200000001")
    assert srv.requests[1] == bytes.fromhex("0000000503000000")
    assert srv.requests[2] == bytes.fromhex("00000006")   # HASH_START
    assert srv.requests[3] == bytes.fromhex("00000007" "00000002") + b"ab"
    assert srv.requests[4] == bytes.fromhex("00000008")   # HASH_END
    assert srv.requests[5] == bytes.fromhex(
        "00000012" "0000000000000000" "00000000" "00000000")


def test_load_sends_one_request(fake_server, tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(b"B" * 5000)
    srv = fake_server([b"\0\0\0\0"])
    expect_ok(ioctl("--tcp", ":%d" % srv.port, "--load", "volatile", blob))
    req = srv.requests[0]
    assert req[:16] == bytes.fromhex("0000000d" "00000000" "00000002"
                                     "00001388")


# Each option and the request it must put on the wire: the command code
# (docs/control-channel.md) and the option's argument.  A reply of the
# right size with result 0 follows, so the run must also succeed.
@pytest.mark.parametrize("args,wire,reply", [
    (["-c"], "00000001", bytes(8)),
    (["-i"], "00000002" "00000001", bytes(4)),
    (["-s"], "00000003", bytes(4)),
    (["-e"], "00000004", bytes(8)),
    (["-l", "2"], "00000005" "02000000", bytes(4)),
    (["-h", "ab"], "00000006", [bytes(4)] * 3),
    (["-C"], "00000009", bytes(4)),
    (["-v"], "0000000a", bytes(4)),
    (["-r", "3"], "0000000b" "03000000", bytes(4)),
    (["--save", "volatile", "OUT"], "0000000c" "00000001" "00000002"
     "00000000", bytes(16)),
    (["--stop"], "0000000e", bytes(4)),
    (["-g"], "0000000f", bytes(8)),
    (["-b", "4096"], "00000011" "00001000", bytes(16)),
    (["--info", "1"], "00000012" "0000000000000001" "00000000" "00000000",
     bytes(12)),
    (["--lock-storage", "7"], "00000013" "00000007", bytes(4)),
])
def test_each_option_sends_its_command(fake_server, tmp_path, args, wire,
                                       reply):
    srv = fake_server([reply])
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    expect_ok(ioctl("--tcp", ":%d" % srv.port, *args))
    assert srv.requests[0] == bytes.fromhex(wire), args
