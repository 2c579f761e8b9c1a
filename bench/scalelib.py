# SPDX-License-Identifier: BSD-3-Clause
"""Many tenants on one host (issue 22 item 4): N virtual machines start at
once.  Each one runs `swtpm_setup` with EK and platform certificates from
one CA shared by all (a system CA in a temp config dir), then `swtpm
socket` on the state, sends one TPM command and keeps running until all N
run, so the Pss of every instance is read while the host carries all of
them; then all stop.  bench/scale runs it for ours and Debian's 0.7.1 side
by side; tests/integration/test_scale.py runs a small N for correctness.

The certificates are read back from the TPMs' NV indexes (EK RSA, EK ECC,
platform), the same for both implementations, after the timed part."""
import concurrent.futures
import os
import signal
import socket
import struct
import subprocess
import threading
import time

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))

SETUP_ARGS = ["--tpm2", "--create-ek-cert", "--create-platform-cert",
              "--lock-nvram"]
GETRANDOM32 = bytes.fromhex("80010000000c0000017b0020")
# The NV indexes of the certificates swtpm_setup writes (TCG EK Credential
# Profile): the RSA 2048 EK's, the ECC secp384r1 EK's (its default ECC EK)
# and the platform certificate's.
CERT_INDEXES = (0x01c00002, 0x01c00016, 0x01c08000)
TPM_RS_PW = 0x40000009
TPM_RH_PLATFORM = 0x4000000C
TPMA_NV_PPREAD = 1 << 16
TPMA_NV_AUTHREAD = 1 << 18
SOCK_TIMEOUT = 120.0     # 256 setups on 2 cores take minutes


class Impl:
    """One implementation: its swtpm_setup, CA tool and swtpm."""

    def __init__(self, name, setup, localca, swtpm):
        self.name, self.setup, self.localca, self.swtpm = \
            name, setup, localca, swtpm


def ours():
    b = os.path.join(BUILD, "bin")
    return Impl("ours", os.path.join(b, "swtpm_setup"),
                os.path.join(b, "swtpm_localca"), os.path.join(b, "swtpm"))


def debian():
    return Impl("debian", "/usr/bin/swtpm_setup", "/usr/bin/swtpm_localca",
                "/usr/bin/swtpm")


def write_ca_config(impl, work):
    """A system CA of our own under work (never /var/lib/swtpm-localca):
    swtpm-localca.conf naming it, and swtpm_setup.conf naming the CA tool
    and that config.  Returns the swtpm_setup.conf path."""
    ca = os.path.join(work, "ca")
    localca = os.path.join(work, "swtpm-localca.conf")
    with open(localca, "w") as f:
        f.write("statedir = %s\nsigningkey = %s/signkey.pem\n"
                "issuercert = %s/issuercert.pem\ncertserial = %s/certserial\n"
                % (ca, ca, ca, ca))
    options = os.path.join(work, "swtpm-localca.options")
    with open(options, "w") as f:
        f.write("--platform-manufacturer Bench\n--platform-version 1\n"
                "--platform-model bench\n")
    conf = os.path.join(work, "swtpm_setup.conf")
    with open(conf, "w") as f:
        f.write("create_certs_tool = %s\ncreate_certs_tool_config = %s\n"
                "create_certs_tool_options = %s\n"
                % (impl.localca, localca, options))
    return conf


def tool_env(work):
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = os.path.join(work, "xdg")
    env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
    return env


def run_setup(impl, conf, env, state, vmid, timeout):
    argv = [impl.setup] + SETUP_ARGS + ["--tpmstate", state, "--config",
                                        conf, "--vmid", vmid]
    p = subprocess.run(argv, capture_output=True, text=True, env=env,
                       timeout=timeout)
    return argv, p


def recv_response(s):
    buf = b""
    while len(buf) < 6 or len(buf) < struct.unpack(">I", buf[2:6])[0]:
        chunk = s.recv(65536)
        if not chunk:
            raise OSError("connection closed after %d bytes" % len(buf))
        buf += chunk
    return buf


def tpm_cmd(s, cmd):
    s.sendall(cmd)
    return recv_response(s)


def connect(path, timeout):
    """Connect to a Unix socket, waiting for it to come up."""
    end = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.02)


def nv_read_public(s, index):
    """(attributes, data size) of an NV index, or None if it is absent."""
    r = tpm_cmd(s, struct.pack(">HII I", 0x8001, 14, 0x169, index))
    if struct.unpack(">I", r[6:10])[0] != 0:
        return None
    # TPM2B_NV_PUBLIC: size, nvIndex, nameAlg, attributes, authPolicy,
    # dataSize.
    off = 10 + 2 + 4 + 2
    attrs = struct.unpack(">I", r[off:off + 4])[0]
    off += 4
    plen = struct.unpack(">H", r[off:off + 2])[0]
    off += 2 + plen
    return attrs, struct.unpack(">H", r[off:off + 2])[0]


def nv_read(s, index, attrs, size, chunk=512):
    """The whole contents of an NV index, read with an empty password
    session, by the index itself or the platform hierarchy."""
    auth = index if attrs & TPMA_NV_AUTHREAD else TPM_RH_PLATFORM
    if not attrs & (TPMA_NV_AUTHREAD | TPMA_NV_PPREAD):
        raise OSError("NV index 0x%08x is not readable here" % index)
    data = b""
    while len(data) < size:
        n = min(chunk, size - len(data))
        session = struct.pack(">IHBH", TPM_RS_PW, 0, 0, 0)
        body = struct.pack(">III", auth, index, len(session)) + session + \
            struct.pack(">HH", n, len(data))
        cmd = struct.pack(">HII", 0x8002, 10 + len(body), 0x14E) + body
        r = tpm_cmd(s, cmd)
        rc = struct.unpack(">I", r[6:10])[0]
        if rc != 0:
            raise OSError("NV_Read of 0x%08x answered 0x%x" % (index, rc))
        got = struct.unpack(">H", r[14:16])[0]
        data += r[16:16 + got]
    return data


def read_certs(sock_path):
    """{index: certificate} of the EK and platform certificates in a
    running TPM's NV."""
    out = {}
    s = connect(sock_path, 10)
    try:
        for index in CERT_INDEXES:
            pub = nv_read_public(s, index)
            if pub is None:
                continue
            der = nv_read(s, index, *pub)
            out[index] = x509.load_der_x509_certificate(der)
    finally:
        s.close()
    return out


def ca_issuer(work):
    with open(os.path.join(work, "ca", "issuercert.pem"), "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def is_issued_by(cert, issuer):
    """Whether issuer's key signed cert and its name is cert's issuer
    (by hand: Debian 12's python3-cryptography 38 has no
    verify_directly_issued_by)."""
    if cert.issuer != issuer.subject:
        return False
    key = issuer.public_key()
    h = cert.signature_hash_algorithm
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes,
                       padding.PKCS1v15(), h)
        else:
            key.verify(cert.signature, cert.tbs_certificate_bytes,
                       ec.ECDSA(h))
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


class Instance:
    """One virtual machine's TPM: setup, start, one command."""

    def __init__(self, impl, conf, env, work, i):
        self.impl, self.conf, self.env = impl, conf, env
        self.vmid = "vm%d" % i
        self.state = os.path.join(work, self.vmid)
        self.sock = self.state + ".sock"
        self.ctrl = self.state + ".ctrl"
        self.log = self.state + ".log"
        self.proc = None
        self.error = None
        self.setup_done = None
        self.answered = None

    def fail(self, what):
        self.error = "%s: %s" % (self.vmid, what)

    def run(self, t0, timeout):
        os.mkdir(self.state)
        try:
            argv, p = run_setup(self.impl, self.conf, self.env, self.state,
                                self.vmid, timeout)
        except subprocess.TimeoutExpired:
            self.fail("swtpm_setup did not end in %d s" % timeout)
            return
        self.setup_done = time.monotonic() - t0
        if p.returncode != 0:
            self.fail("swtpm_setup exit %d: %s%s\nrerun: %s" % (
                p.returncode, p.stdout[-1000:], p.stderr[-1000:],
                " ".join(argv)))
            return
        self.proc = subprocess.Popen(
            [self.impl.swtpm, "socket", "--tpm2", "--tpmstate",
             "dir=" + self.state, "--server", "type=unixio,path=" + self.sock,
             "--ctrl", "type=unixio,path=" + self.ctrl, "--log",
             "file=" + self.log, "--flags", "startup-clear"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=self.env)
        try:
            s = connect(self.sock, SOCK_TIMEOUT)
            try:
                r = tpm_cmd(s, GETRANDOM32)
            finally:
                s.close()
        except OSError as e:
            self.fail("no answer on %s: %s; log: %s" % (
                self.sock, e, self.log_tail()))
            return
        if len(r) != 44 or r[6:10] != b"\0\0\0\0":
            self.fail("GetRandom answered %s" % r.hex())
            return
        self.answered = time.monotonic() - t0

    def log_tail(self):
        try:
            with open(self.log) as f:
                return f.read()[-1000:]
        except OSError:
            return "(none)"

    def pss(self):
        """Pss, Pss_Anon and Pss_File of the running swtpm, in KiB."""
        vals = {}
        with open("/proc/%d/smaps_rollup" % self.proc.pid) as f:
            for line in f:
                key = line.split(":")[0]
                if key in ("Pss", "Pss_Anon", "Pss_File"):
                    vals[key] = int(line.split()[1])
        return vals

    def stop(self):
        """SIGTERM, as libvirt stops a swtpm it started; True if it exited
        0 within 30 s."""
        if self.proc is None:
            return True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.fail("swtpm did not stop in 30 s on SIGTERM")
            return False
        if rc != 0:
            self.fail("swtpm exit %d after SIGTERM; log: %s"
                      % (rc, self.log_tail()))
            return False
        return True


def warm_ca(impl, conf, env, work, timeout):
    """Create the CA before the timed run, as a host's system CA exists
    before its VMs start."""
    d = os.path.join(work, "warmup")
    os.mkdir(d)
    argv, p = run_setup(impl, conf, env, d, "warmup", timeout)
    if p.returncode != 0:
        raise RuntimeError("%s warm-up failed (exit %d): %s%s\nrerun: %s" % (
            impl.name, p.returncode, p.stdout, p.stderr, " ".join(argv)))
    return read_certserial(work)


def read_certserial(work):
    with open(os.path.join(work, "ca", "certserial")) as f:
        return int(f.read().strip() or "0")


def run_scale(impl, n, work, timeout=1200):
    """N tenants of impl at once in the empty dir work.  Returns a dict:
    n, wall_s (start to the N-th answered command), setup_wall_s (to the
    last setup's end), failures (list of messages), certs, duplicates
    (certificates minus distinct serials), missing_certs, pss_kib,
    pss_anon_kib, pss_file_kib (lists, one per running instance),
    stop_failures."""
    conf = write_ca_config(impl, work)
    env = tool_env(work)
    warm_ca(impl, conf, env, work, timeout)
    insts = [Instance(impl, conf, env, work, i) for i in range(n)]
    go = threading.Barrier(n + 1)

    def one(inst):
        go.wait()
        inst.run(t0[0], timeout)

    t0 = [0.0]
    res = {"impl": impl.name, "n": n}
    try:
        with concurrent.futures.ThreadPoolExecutor(n) as ex:
            futs = [ex.submit(one, inst) for inst in insts]
            t0[0] = time.monotonic()
            go.wait()
            for f in futs:
                f.result()
        up = [i for i in insts if i.error is None]
        res["wall_s"] = max([i.answered for i in up] or [float("nan")])
        res["setup_wall_s"] = max([i.setup_done for i in insts
                                   if i.setup_done is not None]
                                  or [float("nan")])
        pss = [i.pss() for i in up]
        res["pss_kib"] = [p["Pss"] for p in pss]
        res["pss_anon_kib"] = [p["Pss_Anon"] for p in pss]
        res["pss_file_kib"] = [p["Pss_File"] for p in pss]
        serials, missing = [], 0
        issuer = ca_issuer(work)
        for inst in up:
            try:
                got = read_certs(inst.sock)
            except (OSError, ValueError) as e:
                inst.fail("reading certificates: %s" % e)
                continue
            missing += len(CERT_INDEXES) - len(got)
            for index, cert in sorted(got.items()):
                serials.append(cert.serial_number)
                if not is_issued_by(cert, issuer):
                    inst.fail("certificate in NV index 0x%08x is not "
                              "signed by the CA in %s/ca" % (index, work))
        res["certs"] = len(serials)
        res["duplicates"] = len(serials) - len(set(serials))
        res["missing_certs"] = missing
    finally:
        res["stop_failures"] = sum(0 if i.stop() else 1 for i in insts)
    res["failures"] = [i.error for i in insts if i.error is not None]
    return res
