#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Guest half of tests/vm/powercut: start `swtpm socket` (ours or
Debian's 0.7.1) on STATEDIR, report the counter stored in an NV index
("PC: loaded N", "PC: fresh", or "PC: start failed"), then write N+1,
N+2, ... and print "PC: ACK n" once the TPM acknowledged n, until the
host cuts the power.  With "check" it only reports and stops cleanly."""
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import helpers_reliability as rh  # noqa: E402

NV_INDEX = 0x01500030
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def say(msg):
    sys.stdout.write("PC: %s\n" % msg)
    sys.stdout.flush()


def tpm(s, cmd):
    s.sendall(cmd)
    hdr = b""
    while len(hdr) < 10:
        b = s.recv(10 - len(hdr))
        if not b:
            raise OSError("connection closed")
        hdr += b
    size = struct.unpack(">I", hdr[2:6])[0]
    body = b""
    while len(body) < size - 10:
        b = s.recv(size - 10 - len(body))
        if not b:
            raise OSError("connection closed")
        body += b
    return hdr + body


def rc(resp):
    return struct.unpack(">I", resp[6:10])[0]


def main():
    impl, statedir, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    exe = os.path.join(REPO, os.environ.get("BUILD", "build"), "bin",
                       "swtpm") if impl == "ours" else "/usr/bin/swtpm"
    path = "/tmp/pc-data.sock"
    log = open("/tmp/swtpm.log", "wb")
    p = subprocess.Popen([exe, "socket", "--tpm2", "--tpmstate",
                          ("backend-uri=" + statedir
                           if statedir.startswith("file://")
                           else "dir=" + statedir), "--server",
                          "type=unixio,path=" + path, "--ctrl",
                          "type=unixio,path=/tmp/pc-ctrl.sock", "--flags",
                          "not-need-init,startup-clear"],
                         stdout=log, stderr=log)
    s = socket.socket(socket.AF_UNIX)
    for _ in range(200):
        try:
            s.connect(path)
            break
        except OSError:
            if p.poll() is not None:
                break
            time.sleep(0.05)
    else:
        p.kill()
    if p.poll() is not None:
        say("start failed")
        sys.stdout.write(open("/tmp/swtpm.log", errors="replace").read())
        return 2
    r = rc(tpm(s, rh.nv_define(NV_INDEX, 8)))
    if r == rh.TPM_RC_NV_DEFINED:
        resp = tpm(s, rh.nv_read(NV_INDEX, 8))
        if rc(resp) == 0:
            n = struct.unpack(">Q", rh.nv_read_data(resp))[0]
            say("loaded %d" % n)
        else:
            n = 0                   # defined, never written
            say("loaded 0")
    elif r == 0:
        n = 0
        say("fresh")
    else:
        say("define failed 0x%x" % r)
        return 2
    if mode == "check":
        p.terminate()
        return 0 if p.wait() == 0 else 2
    while True:
        n += 1
        r = rc(tpm(s, rh.nv_write(NV_INDEX, struct.pack(">Q", n))))
        if r != 0:
            say("write failed 0x%x" % r)
            return 2
        say("ACK %d" % n)


if __name__ == "__main__":
    sys.exit(main())
