# SPDX-License-Identifier: BSD-3-Clause
"""--log file= on a FIFO (issue 21 item 7): the daemon never blocks on a
log it does not own.  Without a reader the start fails at once with a
message; a reader that stops reading costs log lines, never the TPM, and
SIGTERM still ends the daemon within a second."""
import os
import socket
import subprocess
import time

from conftest import tool
from helpers_swtpm import TPM2_GETRANDOM8, rc_of


def start(tmp_path, log_opt):
    st = tmp_path / "state"
    st.mkdir(exist_ok=True)
    return subprocess.Popen(
        [tool("swtpm"), "socket", "--tpm2", "--tpmstate", "dir=%s" % st,
         "--server", "type=unixio,path=%s" % (tmp_path / "d.sock"),
         "--ctrl", "type=unixio,path=%s" % (tmp_path / "c.sock"),
         "--flags", "not-need-init,startup-clear", "--log", log_opt],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(p):
    if p.poll() is None:
        p.kill()
        p.wait()


def test_log_fifo_without_reader_is_refused(tmp_path):
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    p = start(tmp_path, "file=%s" % fifo)
    try:
        assert p.wait(timeout=10) == 1
    finally:
        stop(p)
    err = p.stderr.read().decode()
    assert "cannot open log file '%s'" % fifo in err, err
    assert "a FIFO with no reader: start the reader first" in err, err


def test_log_fifo_reader_that_stops_reading(tmp_path):
    """Each command larger than the TPM's buffer logs a warning and ends
    its connection: a reader that never reads has a full FIFO after a few
    hundred, where the daemon used to freeze in write()."""
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    p = start(tmp_path, "file=%s" % fifo)
    too_big = bytes.fromhex("80010100000000000000017b")
    try:
        for _ in range(200):
            if (tmp_path / "d.sock").exists():
                break
            assert p.poll() is None, p.stderr.read()
            time.sleep(0.05)
        for _ in range(1500):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            s.connect(str(tmp_path / "d.sock"))
            s.sendall(too_big)
            assert rc_of(s.recv(4096)) != 0
            s.close()
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(str(tmp_path / "d.sock"))
        s.sendall(TPM2_GETRANDOM8)
        assert rc_of(s.recv(4096)) == 0
        s.close()
        # the FIFO did fill: its reader finds a full pipe of lines
        assert len(os.read(reader, 1 << 20)) >= 60000
        p.terminate()
        assert p.wait(timeout=1) == 0
    finally:
        stop(p)
        os.close(reader)
