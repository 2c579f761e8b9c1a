# SPDX-License-Identifier: BSD-3-Clause
"""A slow control client stalls only itself: while a SET_STATEBLOB or
HASH_DATA body trickles in one byte at a time, TPM commands on the data
channel are answered and SIGTERM stops the daemon."""
import struct
import threading
import time

from helpers_swtpm import (TPM2_GETRANDOM8, rc_of,  # noqa: F401
                           swtpm_factory)

CMD_HASH_START = 6
CMD_HASH_DATA = 7
CMD_SET_STATEBLOB = 13
BODY = 40
# The reader's first read takes up to 4104 bytes within 500 ms; what
# follows is the streamed part of the body, which is what trickles here.
FIRST = 4096


class Trickler(threading.Thread):
    """Sends head, then BODY bytes one at a time, 0.25 s apart."""

    def __init__(self, sock, head):
        super().__init__(daemon=True)
        self.sock = sock
        self.head = head
        self.left = BODY
        self.stop = False

    def run(self):
        try:
            self.sock.sendall(self.head)
            while self.left > 0 and not self.stop:
                time.sleep(0.25)
                self.sock.sendall(b"\x01")
                self.left -= 1
        except OSError:
            pass


def trickle_and_serve(srv, head):
    with srv.connect_ctrl(timeout=30) as c:
        t = Trickler(c, head)
        t.start()
        try:
            for _ in range(3):
                resp = srv.tpm_cmd(TPM2_GETRANDOM8)
                assert rc_of(resp) == 0, resp.hex()
                # Answered while the control body was still coming in.
                assert t.left > 0, "data channel waited for the control body"
        finally:
            t.stop = True
            t.join()


def test_trickled_setblob_does_not_stall_tpm_commands(swtpm_factory):
    srv = swtpm_factory(extra=["--flags", "startup-clear"])
    # The TPM runs, so the blob will be refused: it still must not block.
    trickle_and_serve(srv, struct.pack(">IIII", CMD_SET_STATEBLOB, 0, 1,
                                       FIRST + BODY) + bytes(FIRST))
    assert srv.terminate() == 0


def test_trickled_hash_data_does_not_stall_tpm_commands(swtpm_factory):
    srv = swtpm_factory(extra=["--flags", "startup-clear"])
    with srv.connect_ctrl() as c:
        c.sendall(struct.pack(">I", CMD_HASH_START))
        assert c.recv(4) == bytes(4)
    trickle_and_serve(srv, struct.pack(">II", CMD_HASH_DATA, FIRST + BODY) +
                      bytes(FIRST))
    assert srv.terminate() == 0


def test_sigterm_during_trickled_control_body(swtpm_factory):
    srv = swtpm_factory()
    with srv.connect_ctrl(timeout=30) as c:
        t = Trickler(c, struct.pack(">IIII", CMD_SET_STATEBLOB, 0, 1,
                                    FIRST + BODY) + bytes(FIRST))
        t.start()
        try:
            time.sleep(0.5)
            assert srv.terminate(timeout=5) == 0, str(srv)
            assert t.left > 0
        finally:
            t.stop = True
            t.join()
