# SPDX-License-Identifier: BSD-3-Clause
"""swtpm_bios against a real `swtpm socket` (docs/cli.md §8,
docs/setup-and-bios.md §1)."""
import struct

import pytest

from helpers_socket import (expect_fail, expect_ok, free_port, make_swtpm,
                            need_swtpm, rc_of, run_tool)

__all__ = ["make_swtpm", "need_swtpm"]

VARIANTS = [(False, "tcp"), (False, "unix"), (True, "tcp"), (True, "unix")]
IDS = ["tpm12-tcp", "tpm12-unix", "tpm2-tcp", "tpm2-unix"]

TPM_INVALID_POSTINIT = 0x26
TPM2_RC_INITIALIZE = 0x100


@pytest.fixture(params=VARIANTS, ids=IDS)
def srv(request, need_swtpm, make_swtpm):
    tpm2, transport = request.param
    return make_swtpm(tpm2, transport)


@pytest.fixture(params=["tcp", "unix"])
def srv12(request, need_swtpm, make_swtpm):
    return make_swtpm(False, request.param)


@pytest.fixture(params=["tcp", "unix"])
def srv2(request, need_swtpm, make_swtpm):
    return make_swtpm(True, request.param)


def already_started(srv):
    want = TPM2_RC_INITIALIZE if srv.tpm2 else TPM_INVALID_POSTINIT
    return srv.startup() == want


def stclear_deactivated(srv):
    """TPM 1.2 TPM_GetCapability(TPM_CAP_FLAG, TPM_CAP_FLAG_VOLATILE)."""
    resp = srv.tpm_cmd(struct.pack(">HIIIII", 0xC1, 22, 0x65, 4, 4, 0x109))
    assert rc_of(resp) == 0, resp.hex()
    # hdr 10, respSize 4, TPM_STCLEAR_FLAGS tag 2, deactivated
    return resp[16] != 0


def test_default_sequence_starts_tpm(srv):
    res = expect_ok(srv.bios())
    assert res.out == "" and res.err == "", str(res)
    assert already_started(srv)


def test_second_run_reports_tpm_error(srv):
    expect_ok(srv.bios())
    res = srv.bios()
    assert res.rc == 128, str(res)
    if srv.tpm2:
        assert "TPM2_Startup returned error code 0x00000100" in res.out
    else:
        assert ("TPM_Startup returned error code 0x%08x"
                % TPM_INVALID_POSTINIT) in res.err


def test_no_startup(srv):
    res = srv.bios("-n")
    if srv.tpm2:
        expect_ok(res)
    else:
        # Physical presence before TPM_Startup fails; the sequence goes on.
        assert res.rc == 128, str(res)
        assert "TSC_PhysicalPresence returned error code 0x00000026" in \
            res.err
    assert srv.startup() == 0           # nothing started the TPM


def test_self_test(srv):
    expect_ok(srv.bios("-cs"))
    assert already_started(srv)


def test_tpm2_disable_platform_auth(srv2):
    expect_ok(srv2.bios("-u"))
    # The platform hierarchy now has an unknown password.
    res = srv2.bios("-n", "-u")
    assert res.rc == 128, str(res)
    assert "TPM2_HierarchyChangeAuth returned error code" in res.out


def test_tpm2_startup_state(srv2):
    expect_ok(srv2.bios())
    # TPM2_Shutdown(SU_STATE), restart the TPM, resume with -s.
    assert rc_of(srv2.tpm_cmd(bytes.fromhex("80010000000c000001450001"))) \
        == 0
    expect_ok(srv2.ioctl("-i"))
    expect_ok(srv2.bios("-s"))
    assert already_started(srv2)


def test_tpm2_ignores_d_o_ea(srv2):
    expect_ok(srv2.bios("-d", "-ea"))
    assert srv2.startup() == 0          # -d: no startup for TPM 2
    expect_ok(srv2.ioctl("-i"))
    expect_ok(srv2.bios("-o"))
    assert already_started(srv2)


def test_tpm12_only_startup(srv12):
    expect_ok(srv12.bios("-o"))
    assert already_started(srv12)


def test_tpm12_activate_needs_reset(srv12):
    # libtpms starts activated: deactivate it (with physical presence),
    # reboot, then -ea activates it again and asks for a reset.
    expect_ok(srv12.bios())
    for cmd in ("00c10000000c4000000a0020", "00c10000000c4000000a0008",
                "00c10000000b0000007201"):
        assert rc_of(srv12.tpm_cmd(bytes.fromhex(cmd))) == 0, cmd
    expect_ok(srv12.ioctl("-i"))
    res = srv12.bios("-ea")
    assert res.rc == 129, str(res)
    assert res.out == "TPM requires a reset\n"
    expect_ok(srv12.ioctl("-i"))
    expect_ok(srv12.bios("-ea"))
    assert not stclear_deactivated(srv12)


def test_tpm12_startup_deactivated(srv12):
    expect_ok(srv12.bios())             # activates for the next boot
    expect_ok(srv12.ioctl("-i"))
    expect_ok(srv12.bios("-c"))
    assert not stclear_deactivated(srv12)
    expect_ok(srv12.ioctl("-i"))
    expect_ok(srv12.bios("-d"))
    assert stclear_deactivated(srv12)


def test_tpm12_later_options_override(srv12):
    # -o then -c: follow-ups are back on; -d then -n: no startup.
    expect_ok(srv12.bios("-o", "-c"))
    assert already_started(srv12)


def test_tpm12_startup_state(srv12):
    expect_ok(srv12.bios())
    assert rc_of(srv12.tpm_cmd(bytes.fromhex("00c10000000a00000098"))) == 0
    expect_ok(srv12.ioctl("-i"))
    expect_ok(srv12.bios("-s"))
    assert already_started(srv12)


def test_tpm12_unassert_pp(srv12):
    expect_ok(srv12.bios("-u"))
    # Physical presence is now locked: asserting it again fails.
    res = srv12.bios("-n")
    assert res.rc == 128, str(res)
    assert "TSC_PhysicalPresence returned error code" in res.err


def test_env_tcp_device(need_swtpm, make_swtpm):
    srv = make_swtpm(True, "tcp")
    env = {"TCSD_USE_TCP_DEVICE": "1",
           "TCSD_TCP_DEVICE_HOSTNAME": "127.0.0.1",
           "TCSD_TCP_DEVICE_PORT": str(srv.port)}
    expect_ok(run_tool("swtpm_bios", "--tpm2", env=env))
    assert already_started(srv)


def test_env_tpm_device_missing():
    res = run_tool("swtpm_bios", env={"TPM_DEVICE": "/nonexistent/tpm"})
    expect_fail(res, "'/nonexistent/tpm'", rc=255)


def test_device_option_beats_tcp():
    res = run_tool("swtpm_bios", "--tcp", ":1", "--tpm-device",
                   "/nonexistent/tpm")
    expect_fail(res, "'/nonexistent/tpm'", rc=255)


def test_unreachable_tcp():
    port = free_port()
    res = run_tool("swtpm_bios", "--tcp", "127.0.0.1:%d" % port)
    expect_fail(res, "cannot connect to 127.0.0.1:%d" % port, rc=255)


def test_unreachable_unix(tmp_path):
    res = run_tool("swtpm_bios", "--unix", tmp_path / "nosock", "--tpm2")
    expect_fail(res, "nosock", rc=255)


def test_extra_argument_is_ignored_with_warning():
    res = run_tool("swtpm_bios", "--tpm-device", "/nonexistent/tpm",
                   "extra")
    expect_fail(res, "ignoring extra argument 'extra'", rc=255)


def test_not_a_tpm_reply(tmp_path):
    # /dev/null reads EOF: no response at all.
    res = run_tool("swtpm_bios", "--tpm-device", "/dev/null")
    assert res.rc == 255, str(res)


@pytest.mark.parametrize("args", [["--bogus"], ["-x"],
                                  ["--tcp", ":99999"], ["--tcp", ":x"]])
def test_usage_errors(args):
    res = run_tool("swtpm_bios", *args)
    assert res.rc == 1, str(res)


def test_help():
    res = expect_ok(run_tool("swtpm_bios", "-h"))
    assert res.out.startswith("TPM emulator BIOS emulator version ")
    for opt in ("--tpm2", "-cs", "-ea", "-u", "--tcp", "--unix"):
        assert opt in res.out
    # -v prints the version and succeeds, as upstream's man page says
    # (its program printed the usage and exited 1): test_versions.py.
    res = expect_ok(run_tool("swtpm_bios", "-v"))
    assert res.out.startswith("TPM emulator BIOS")


# ---- a scripted fake TPM: short and malformed responses ----

from helpers_socket import fake_server  # noqa: E402

__all__ += ["fake_server"]

OK2 = bytes.fromhex("80010000000a00000000")


@pytest.mark.parametrize("reply,needle", [
    (b"", "connection closed without a response"),
    (bytes.fromhex("800100000a"), "Returned packet is too short."),
    (bytes.fromhex("80010000000c00000000"), "Returned packet is too short."),
    (bytes.fromhex("80010000000800000000"), "Malformed response."),
    (OK2 + b"xx", "Malformed response."),
    (bytes.fromhex("80010000100000000000"), "Malformed response."),
])
def test_bad_responses(fake_server, reply, needle):
    srv = fake_server([reply])
    res = run_tool("swtpm_bios", "--tpm2", "--tcp", ":%d" % srv.port)
    expect_fail(res, needle, rc=255)


def test_tpm2_command_bytes_and_new_connection_each(fake_server):
    srv = fake_server([OK2, OK2, OK2])
    expect_ok(run_tool("swtpm_bios", "--tpm2", "--tcp", ":%d" % srv.port,
                       "-cs", "-u"))
    startup, selftest, changeauth = srv.requests
    assert startup == bytes.fromhex("80010000000c000001440000")
    assert selftest == bytes.fromhex("8001000000100000014200000001000b")
    assert changeauth[:29] == bytes.fromhex(
        "800200000031000001294000000c00000009400000090000010000" "0014")
    assert len(changeauth) == 49


def test_tpm12_command_bytes(fake_server):
    ok = bytes.fromhex("00c40000000a00000000")
    caps = bytes.fromhex("00c4000000240000000000000016001f0001000100") + \
        bytes(15)
    srv = fake_server([ok, ok, ok, caps, ok, ok, ok, ok, ok])
    expect_ok(run_tool("swtpm_bios", "--tcp", ":%d" % srv.port, "-s",
                       "-ea", "-cs", "-u"))
    assert [r.hex() for r in srv.requests] == [
        "00c10000000c000000990002",
        "00c10000000c4000000a0020",
        "00c10000000c4000000a0008",
        "00c100000016000000650000000400000004" "00000108",
        "00c10000000a0000006f",
        "00c10000000b0000007200",
        "00c10000000a00000053",
        "00c10000000c4000000a0020",
        "00c10000000c4000000a0014",
    ]


def test_tpm12_deactivated_skips_rest(fake_server):
    ok = bytes.fromhex("00c40000000a00000000")
    caps = bytes.fromhex("00c4000000240000000000000016001f0000") + \
        b"\x01" + bytes(17)
    srv = fake_server([ok, ok, ok, caps, ok, ok])
    res = run_tool("swtpm_bios", "--tcp", ":%d" % srv.port, "-ea", "-cs")
    assert res.rc == 129, str(res)
    assert res.out == "TPM requires a reset\n"
    assert len(srv.requests) == 6       # no ContinueSelfTest


def test_tpm12_errors_continue(fake_server):
    fail = bytes.fromhex("00c40000000a00000026")
    srv = fake_server([fail] * 5)
    res = run_tool("swtpm_bios", "--tcp", ":%d" % srv.port)
    assert res.rc == 128, str(res)
    assert len(srv.requests) == 5
    assert "TPM_PhysicalSetDeactivated returned error code 0x00000026" \
        in res.err
