# SPDX-License-Identifier: BSD-3-Clause
"""Real TPM clients against our `swtpm socket`: tpm2-tools through the
tpm2-tss swtpm TCTI (which uses the TCG command prefix of
docs/control-channel.md §8.2 and one data plus one control connection per
command), and TrouSerS' tcsd with tpm-tools for a TPM 1.2."""
import os
import shutil
import subprocess
import time

import pytest

from helpers_swtpm import swtpm_factory  # noqa: F401 (fixture)

TIMEOUT = 60


def tpm2(srv, *args, input=None):
    argv = [args[0], "-T", srv.tcti()] + [str(a) for a in args[1:]]
    p = subprocess.run(argv, capture_output=True, input=input,
                       timeout=TIMEOUT)
    assert p.returncode == 0, "%s\n%s\n%s" % (argv, p.stderr.decode(), srv)
    return p.stdout


need_tools = pytest.mark.skipif(not shutil.which("tpm2_startup"),
                                reason="tpm2-tools not installed")


@need_tools
def test_tpm2_tools_startup_random_pcr_nv(swtpm_factory, tmp_path):
    srv = swtpm_factory(tpm2=True, running=True)
    tpm2(srv, "tpm2_startup", "-c")
    rnd = tpm2(srv, "tpm2_getrandom", "--hex", "16")
    assert len(rnd.strip()) == 32
    before = tpm2(srv, "tpm2_pcrread", "sha256:16")
    tpm2(srv, "tpm2_pcrextend",
         "16:sha256=" + "11" * 32)
    after = tpm2(srv, "tpm2_pcrread", "sha256:16")
    assert before != after
    tpm2(srv, "tpm2_nvdefine", "0x1500016", "-C", "o", "-s", "32",
         "-a", "ownerread|ownerwrite|authread|authwrite")
    data = tmp_path / "nv.in"
    data.write_bytes(b"hello from our swtpm socket!!!!!")
    tpm2(srv, "tpm2_nvwrite", "0x1500016", "-C", "o", "-i", data)
    out = tpm2(srv, "tpm2_nvread", "0x1500016", "-C", "o", "-s", "32")
    assert out == data.read_bytes()
    assert srv.alive()


@need_tools
def test_tpm2_tools_state_survives_restart(swtpm_factory, tmp_path):
    srv = swtpm_factory(tpm2=True, running=True)
    tpm2(srv, "tpm2_startup", "-c")
    tpm2(srv, "tpm2_nvdefine", "0x1500017", "-C", "o", "-s", "8",
         "-a", "ownerread|ownerwrite")
    data = tmp_path / "nv.in"
    data.write_bytes(b"persist!")
    tpm2(srv, "tpm2_nvwrite", "0x1500017", "-C", "o", "-i", data)
    # SIGTERM: orderly stop with the automatic TPM2_Shutdown.
    assert srv.terminate() == 0
    # The last --tpmstate given is used: the first server's state.
    srv2 = swtpm_factory(tpm2=True, running=True,
                         extra=["--tpmstate", "dir=%s" % srv.statedir])
    tpm2(srv2, "tpm2_startup")      # resume (SU_STATE)
    out = tpm2(srv2, "tpm2_nvread", "0x1500017", "-C", "o", "-s", "8")
    assert out == b"persist!"


def _tcsd_usable():
    return (shutil.which("tcsd") and shutil.which("tpm_version") and
            os.geteuid() == 0)


@pytest.mark.skipif(not _tcsd_usable(), reason="tcsd/tpm-tools missing or "
                    "not root")
def test_trousers_tcsd_tpm_version(swtpm_factory, tmp_path):
    srv = swtpm_factory(tpm2=False, running=True)
    assert srv.startup() == 0
    os.makedirs("/var/lib/tpm", exist_ok=True)
    # Debian's tcsd takes -e (not TCSD_USE_TCP_DEVICE) to use a TCP TPM.
    env = dict(os.environ, TCSD_USE_TCP_DEVICE="1",
               TCSD_TCP_DEVICE_PORT=str(srv.port),
               TCSD_TCP_DEVICE_HOSTNAME="127.0.0.1")
    psdir = tmp_path / "ps"
    psdir.mkdir()
    conf = tmp_path / "tcsd.conf"
    tcsd_port = srv.port + 100
    conf.write_text("port = %d\nsystem_ps_file = %s\n"
                    % (tcsd_port, psdir / "system.data"))
    # tcsd insists on root:tss 0640 for its config file.
    os.chmod(conf, 0o640)
    try:
        import pwd
        tss = pwd.getpwnam("tss")
        os.chown(conf, 0, tss.pw_gid)
        os.chown(psdir, tss.pw_uid, tss.pw_gid)
    except KeyError:
        pass
    tcsd = subprocess.Popen(["tcsd", "-e", "-f", "-c", str(conf)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        tenv = dict(os.environ, TSS_TCSD_PORT=str(tcsd_port))
        deadline = time.monotonic() + 20
        while True:
            p = subprocess.run(["tpm_version"], capture_output=True,
                               env=tenv, timeout=TIMEOUT)
            if p.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert p.returncode == 0, "%s\n%s" % (p.stdout, p.stderr)
        assert b"TPM 1.2 Version Info" in p.stdout
        assert b"Chip Version" in p.stdout
    finally:
        tcsd.terminate()
        try:
            tcsd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            tcsd.kill()
    assert srv.alive()
