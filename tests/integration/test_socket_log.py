# SPDX-License-Identifier: BSD-3-Clause
"""--log file= on a FIFO (issue 21 item 7): the daemon never blocks on a
log it does not own.  Without a reader the start fails at once with a
message; a reader that stops reading costs log lines, never the TPM, and
SIGTERM still ends the daemon within a second."""
import os
import socket

from helpers_swtpm import (TPM2_GETRANDOM8, ends_on_sigterm, kill_if_running,
                           popen_unix_swtpm, rc_of, wait_for_path)

# a command larger than the TPM's buffer: one warning, connection closed
TOO_BIG = bytes.fromhex("80010100000000000000017b")


def command(path, cmd):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(str(path))
    s.sendall(cmd)
    rc = rc_of(s.recv(4096))
    s.close()
    return rc


def test_log_fifo_without_reader_is_refused(tmp_path):
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    p = popen_unix_swtpm(tmp_path, ["--log", "file=%s" % fifo])
    try:
        assert p.wait(timeout=10) == 1
    finally:
        kill_if_running(p)
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
    p = popen_unix_swtpm(tmp_path, ["--log", "file=%s" % fifo])
    try:
        wait_for_path(p, tmp_path / "d.sock", p.stderr.read)
        for _ in range(1500):
            assert command(tmp_path / "d.sock", TOO_BIG) != 0
        assert command(tmp_path / "d.sock", TPM2_GETRANDOM8) == 0
        # the FIFO did fill: its reader finds a full pipe of lines
        assert len(os.read(reader, 1 << 20)) >= 60000
        ends_on_sigterm(p)
    finally:
        kill_if_running(p)
        os.close(reader)
