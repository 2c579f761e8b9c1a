# SPDX-License-Identifier: BSD-3-Clause
"""--pcap and --print-info of our `swtpm socket` and `swtpm_cuse`
(docs/cli.md §3): the capture is pcapng over Ethernet/IPv4/TCP to port 2321 and
tcpdump reads it back with every command and response, the internal
TPM2_Startup included; bad values fail with exit 1 and a message."""
import json
import os
import shutil
import socket
import stat
import subprocess
import time

import pytest

from conftest import tool
from helpers_swtpm import (TPM2_GETRANDOM8, TPM2_STARTUP, ends_on_sigterm,
                           kill_if_running, popen_unix_swtpm, wait_for_path,
                           rc_of, run_tool,
                           use_and_shut_down)

need_tcpdump = pytest.mark.skipif(not shutil.which("tcpdump"),
                                  reason="tcpdump not installed "
                                  "(ci/install-deps installs it)")


def run_capture(tmp_path, pcap_opt, commands=(TPM2_GETRANDOM8,)):
    """One swtpm run with --pcap: startup-clear, the commands, shutdown."""
    st = tmp_path / "state"
    st.mkdir(exist_ok=True)
    data, ctrl = tmp_path / "d.sock", tmp_path / "c.sock"
    proc = subprocess.Popen(
        [tool("swtpm"), "socket", "--tpm2", "--tpmstate", "dir=%s" % st,
         "--server", "type=unixio,path=%s" % data,
         "--ctrl", "type=unixio,path=%s" % ctrl,
         "--flags", "not-need-init,startup-clear", "--pcap", pcap_opt,
         "--pid", "file=%s" % (tmp_path / "pid")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            if (tmp_path / "pid").exists() and data.exists():
                break
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        use_and_shut_down(proc, data, ctrl, commands)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.stderr.read().decode()


def tcpdump(path):
    p = subprocess.run(["tcpdump", "-r", str(path), "-nn", "-vv", "-x"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def packets(out):
    """(header line, hex payload) per packet of `tcpdump -vv -x`."""
    pkts, cur = [], None
    for line in out.splitlines():
        if line.startswith("\t0x"):
            cur[1] += "".join(line.split(":", 1)[1].split())
        elif line.startswith(" "):
            cur[0] += line
        else:
            cur = [line, ""]
            pkts.append(cur)
    # Strip the 20-byte IP and 20-byte TCP headers (tcpdump -x starts at IP)
    return [(h, x[80:]) for h, x in pkts]


@need_tcpdump
def test_pcap_tcpdump_reads_every_exchange(tmp_path):
    cap = tmp_path / "tpm.pcap"
    run_capture(tmp_path, "file=%s,checksums" % cap)
    pk = packets(tcpdump(cap))
    assert "Flags [S]" in pk[0][0] and "> 127.0.0.1.2321" in pk[0][0]
    assert "Flags [S.]" in pk[1][0]
    assert "Flags [F.]" in pk[-3][0]
    payloads = [x for h, x in pk if x]
    # swtpm's own TPM2_Startup, its response, GetRandom and its response,
    # then the automatic TPM2_Shutdown at CMD_SHUTDOWN and its response.
    assert payloads[0] == TPM2_STARTUP.hex()
    assert payloads[1] == "80010000000a00000000"
    assert payloads[2] == TPM2_GETRANDOM8.hex()
    assert payloads[3].startswith("800100000014000000000008")
    assert payloads[4].startswith("80010000000c00000145")
    assert len(payloads) == 6
    for h, _ in pk:
        assert "cksum" in h and "(correct)" in h, h
    assert stat.S_IMODE(os.stat(cap).st_mode) == 0o640


@need_tcpdump
def test_pcap_appends_sections_truncate_and_mode(tmp_path):
    cap = tmp_path / "tpm.pcap"
    run_capture(tmp_path, "file=%s" % cap)
    one = len(packets(tcpdump(cap)))
    run_capture(tmp_path, "file=%s" % cap)
    assert len(packets(tcpdump(cap))) == 2 * one
    run_capture(tmp_path, "file=%s,truncate,mode=0600" % cap)
    assert len(packets(tcpdump(cap))) == one
    # mode applies when the file is created
    cap2 = tmp_path / "new.pcap"
    run_capture(tmp_path, "file=%s,mode=0600" % cap2)
    assert stat.S_IMODE(os.stat(cap2).st_mode) == 0o600


@need_tcpdump
def test_pcap_fd(tmp_path):
    cap = tmp_path / "fd.pcap"
    fd = os.open(cap, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        p = subprocess.Popen(
            [tool("swtpm"), "socket", "--tpm2", "--tpmstate",
             "dir=%s" % tmp_path, "--flags", "not-need-init,startup-clear",
             "--ctrl", "type=unixio,path=%s" % (tmp_path / "c"),
             "--pcap", "fd=%d" % fd], pass_fds=(fd,),
            stderr=subprocess.PIPE)
    finally:
        os.close(fd)
    for _ in range(200):
        if (tmp_path / "c").exists():
            break
        time.sleep(0.05)
    assert run_tool("swtpm_ioctl", "--unix", tmp_path / "c", "-s").rc == 0
    assert p.wait(timeout=10) == 0
    payloads = [x for h, x in packets(tcpdump(cap)) if x]
    assert payloads[0] == TPM2_STARTUP.hex()


@pytest.mark.parametrize("value,needle", [
    ("bogus=1", "bogus"),
    ("truncate", "file= or fd="),
    ("file=/x,mode=999", "mode"),
    ("file=/nonexistent-dir/x.pcap", "cannot open pcap file"),
])
def test_pcap_bad_values(tmp_path, value, needle):
    p = subprocess.run(
        [tool("swtpm"), "socket", "--tpm2", "--tpmstate",
         "dir=%s" % tmp_path, "--ctrl", "type=unixio,path=%s"
         % (tmp_path / "c"), "--pcap", value],
        capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert needle in p.stderr


@pytest.mark.parametrize("prog", ["swtpm", "swtpm_cuse"])
def test_print_info(tmp_path, prog):
    base = [tool(prog)] + (["socket"] if prog == "swtpm" else [])
    p = subprocess.run(base + ["--tpm2", "--print-info", "0x1"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith("}\n")
    spec = json.loads(p.stdout)["TPMSpecification"]
    assert spec["family"] == "2.0"
    p = subprocess.run(base + ["--print-info", "3"], capture_output=True,
                       text=True, timeout=30)
    info = json.loads(p.stdout)
    assert info["TPMSpecification"]["family"] == "1.2"
    assert "TPMAttributes" in info
    # With a state location the TPM runs first and may create its state.
    st = tmp_path / "st"
    st.mkdir()
    p = subprocess.run(base + ["--tpm2", "--tpmstate", "dir=%s" % st,
                               "--print-info", "0x4"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "RSAKeySizes" in json.loads(p.stdout)["TPMFeatures"]
    assert (st / "tpm2-00.permall").exists()
    p = subprocess.run(base + ["--print-info", "lots"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "'lots'" in p.stderr


@pytest.mark.cuse
@need_tcpdump
def test_cuse_pcap(tmp_path):
    from helpers_cuse import CuseTPM
    cap = tmp_path / "cuse.pcap"
    t = CuseTPM(tmp_path, tpm2=True, extra=["--pcap", "file=%s" % cap])
    t.start()
    try:
        with t.open() as d:
            d.init()
            assert rc_of(d.cmd(TPM2_STARTUP)) == 0
            assert rc_of(d.cmd(TPM2_GETRANDOM8)) == 0
    finally:
        t.stop()
    payloads = [x for h, x in packets(tcpdump(cap)) if x]
    assert payloads[0] == TPM2_STARTUP.hex()
    assert payloads[2] == TPM2_GETRANDOM8.hex()
    assert payloads[3].startswith("800100000014000000000008")


def start_pcap(tmp_path, pcap_opt, extra=(), **kw):
    return popen_unix_swtpm(tmp_path, ["--pcap", pcap_opt] + list(extra),
                            **kw)


def test_pcap_fifo_without_reader_is_refused(tmp_path):
    """Opening a FIFO nobody reads used to hold the start in open()."""
    fifo = tmp_path / "cap.fifo"
    os.mkfifo(fifo)
    p = start_pcap(tmp_path, "file=%s" % fifo)
    try:
        assert p.wait(timeout=10) == 1
    finally:
        kill_if_running(p)
    err = p.stderr.read().decode()
    assert "cannot open pcap file '%s'" % fifo in err, err
    assert "a FIFO with no reader" in err, err


def test_pcap_fifo_reader_that_stops_reading(tmp_path):
    """A reader that never reads: the capture stops with one warning, the
    TPM answers every command and SIGTERM ends it within a second."""
    fifo = tmp_path / "cap.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    p = start_pcap(tmp_path, "file=%s" % fifo)
    try:
        wait_for_path(p, tmp_path / "d.sock", p.stderr.read)
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(str(tmp_path / "d.sock"))
        for _ in range(2000):
            s.sendall(TPM2_GETRANDOM8)
            assert rc_of(s.recv(4096)) == 0
        s.close()
        ends_on_sigterm(p)
    finally:
        kill_if_running(p)
        os.close(reader)
    err = p.stderr.read().decode()
    assert err.count("pcap: the reader does not keep up") == 1, err


def test_pcap_closed_fd_is_refused_not_the_log(tmp_path):
    """--pcap fd=3 with 3 closed: the log file would get number 3 and the
    capture would land in it."""
    log = tmp_path / "log"
    p = start_pcap(tmp_path, "fd=3", extra=["--log", "file=%s" % log],
                   close_fds=True)
    assert p.wait(timeout=10) == 1
    err = p.stderr.read().decode()
    assert "--pcap fd=3 is not open" in err, err
    assert not log.exists() or b"\x0a\x0d\x0d\x0a" not in log.read_bytes()
