# SPDX-License-Identifier: BSD-3-Clause
"""A private libvirtd for tests, with our build dir first on its PATH:
Debian 12's libvirtd 9.0 from the host ("9"), or bookworm-backports'
libvirtd 11.x from the root tests/libvirt/mkroot caches ("11").

libvirtd as root always uses the system paths (/etc/libvirt,
/var/lib/libvirt, /run/libvirt, /var/log/swtpm, ...) and has no option to
move them.  So the daemon runs in its own mount namespace on a root of its
own, made of fresh mounts only:

- "9": the host's / bound alone (none of the host's other mounts come
  along), with overlays on /etc and /var whose upper layers live in the
  test's temp dir;
- "11": one overlay whose lower layers are `make install` of this checkout
  (PREFIX=/usr, into the temp dir) and the cached root, upper layer in the
  temp dir; the checkout, the guest kernel cache and pytest's temp dirs
  are bound in at the paths they have on the host;

then a new proc, sysfs, a cgroup2 hierarchy and a tmpfs /run, and
pivot_root into it.  What the daemon (or QEMU, swtpm_setup, swtpm) writes
stays in the temp dir and vanishes with it; the host's files and mount
table are never touched, and no mount of the host's (a chroot's /sys under
/var, say) is in the table libvirtd reads its cgroups from.  The clients
(virsh, the test's reads) enter that namespace and root with nsenter.

What libvirtd needs in a plain root shell without systemd, dbus or udev
(found by trying): the user `libvirt-qemu` it was built for must exist even
when qemu.conf says otherwise; `security_driver = "none"` (no AppArmor or
SELinux here); no cgroup controllers; `namespaces = [ ]`;
`stdio_handler = "file"` (no virtlogd); `swtpm_user`/`swtpm_group` tss as
Debian ships it.  Its complaints about dbus, dnsmasq, dmidecode and
/dev/kvm are harmless.
"""
import os
import pathlib
import signal
import subprocess
import time

from conftest import BIN, ROOT

VIRSH_TIMEOUT = 120
START_TIMEOUT = 60
MKROOT = ROOT / "tests/libvirt/mkroot"
MKROOT_TIMEOUT = 1200

# Debian's swtpm-tools ships these; the "9" daemon adds them (inside the
# namespace only) where a host lacks them.  The "11" root has no
# swtpm-tools: `make install` provides ours.
DEBIAN_CA_FILES = {
    "swtpm_setup.conf":
        "# Program invoked for creating certificates\n"
        "create_certs_tool= /usr/bin/swtpm_localca\n"
        "create_certs_tool_config = /etc/swtpm-localca.conf\n"
        "create_certs_tool_options = /etc/swtpm-localca.options\n"
        "# Comma-separated list (no spaces) of PCR banks to activate by "
        "default\n"
        "active_pcr_banks = sha256\n",
    "swtpm-localca.conf":
        "statedir = /var/lib/swtpm-localca\n"
        "signingkey = /var/lib/swtpm-localca/signkey.pem\n"
        "issuercert = /var/lib/swtpm-localca/issuercert.pem\n"
        "certserial = /var/lib/swtpm-localca/certserial\n",
    "swtpm-localca.options":
        "--platform-manufacturer Fedora\n"
        "--platform-version 2.1\n"
        "--platform-model QEMU\n",
}
CA_DIR = "/var/lib/swtpm-localca"

QEMU_CONF = """\
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
swtpm_user = "tss"
swtpm_group = "tss"
"""

# $NEW becomes the daemon's root.  $LOWER empty: the host's / ("9"), else
# the overlay's lower layers ("11").  $BINDS: host paths bound in at the
# same path.  $DECOY (tests only): first copy the host's /sys, with its
# cgroup mounts, under /var/tmp in this namespace, as a chroot would.
NS_SCRIPT = """\
set -e
mount --make-rprivate /
if [ -n "$DECOY" ]; then
    mount -t tmpfs decoy /var/tmp
    mkdir -p /var/tmp/chroot/sys
    mount --rbind /sys /var/tmp/chroot/sys
fi
NEW=$ROOT/sysroot
mkdir -p "$NEW"
if [ -z "$LOWER" ]; then
    mount --bind / "$NEW"
    for d in etc var; do
        mount -t overlay overlay \\
            -o "lowerdir=/$d,upperdir=$ROOT/$d-up,workdir=$ROOT/$d-work" \\
            "$NEW/$d"
    done
else
    mount -t overlay overlay \\
        -o "lowerdir=$LOWER,upperdir=$ROOT/root-up,workdir=$ROOT/root-work" \\
        "$NEW"
fi
for b in $BINDS; do
    mkdir -p "$NEW$b"
    mount --bind "$b" "$NEW$b"
done
mount -t proc proc "$NEW/proc"
mount -t sysfs sysfs "$NEW/sys"
mount -t cgroup2 cgroup2 "$NEW/sys/fs/cgroup"
mount --rbind /dev "$NEW/dev"
mount -t tmpfs -o mode=0755 run "$NEW/run"
mkdir -p "$NEW/.oldroot"
cd "$NEW"
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
cd /
exec libvirtd --config "$ROOT/libvirtd.conf" --pid-file "$ROOT/libvirtd.pid"
"""


def libvirt11_root():
    """The cached bookworm root with libvirt 11.x, made on first use."""
    res = subprocess.run([str(MKROOT)], capture_output=True, text=True,
                         timeout=MKROOT_TIMEOUT)
    assert res.returncode == 0, "%s failed:\n%s" % (MKROOT, res.stderr)
    return pathlib.Path(res.stdout.strip().splitlines()[-1])


def _getent(db, name):
    return subprocess.run(["getent", db, name], capture_output=True,
                          timeout=10).returncode == 0


class Libvirtd:
    """One private libvirtd; `virsh()` talks to it, `stop()` ends it and
    everything it started.  `flavor` is "9" or "11"; `binds` are host
    paths the test needs in its root (the "9" root has all of them);
    `log_filters` goes to libvirtd.conf."""

    def __init__(self, root, flavor="9", binds=(), decoy=False,
                 log_filters=None, qemu_conf=""):
        self.root = pathlib.Path(root)
        self.flavor = flavor
        self.sockdir = self.root / "sock"
        self.log = self.root / "libvirtd.log"
        self.proc = None
        self.mntns = None
        self.decoy = decoy
        self.log_filters = log_filters
        self.qemu_conf = QEMU_CONF + qemu_conf
        # The guest kernel's cache may be a symlink to another checkout's.
        self.binds = [str(ROOT), os.path.realpath(ROOT / "tests/vm/cache"),
                      str(self.root)] + [str(b) for b in binds]
        self.lower = ""
        if flavor == "11":
            self.lower = "%s:%s" % (self.root / "inst", libvirt11_root())
            self.etc_up = self.root / "root-up/etc"
            self.var_up = self.root / "root-up/var"
        else:
            self.etc_up = self.root / "etc-up"
            self.var_up = self.root / "var-up"
        self._prepare()
        self._start()

    def _prepare(self):
        if self.flavor == "11":
            (self.root / "root-work").mkdir(parents=True)
            self._install()
        else:
            for d in ("etc", "var"):
                (self.root / ("%s-work" % d)).mkdir(parents=True)
        self.etc_up.mkdir(parents=True)
        self.var_up.mkdir(parents=True)
        self.sockdir.mkdir()
        etc = self.etc_up
        (etc / "libvirt").mkdir()
        (etc / "libvirt/qemu.conf").write_text(self.qemu_conf)
        if self.flavor == "9":
            self._host_users(etc)
        # The system CA as Debian's package (or our tmpfiles-swtpm.conf)
        # leaves it, empty and owned by tss, whatever earlier runs left in
        # the host's: an opaque upper directory hides the lower one.
        ca = self.var_up / CA_DIR[len("/var/"):]
        ca.mkdir(parents=True)
        os.chmod(ca, 0o750)
        os.chown(ca, _uid("tss"), 0)
        os.setxattr(ca, "trusted.overlay.opaque", b"y")
        conf = ('unix_sock_dir = "%s"\n'
                'auth_unix_ro = "none"\n'
                'auth_unix_rw = "none"\n'
                'log_outputs = "3:file:%s"\n' % (self.sockdir, self.log))
        if self.log_filters:
            conf = conf.replace('"3:file:', '"1:file:')
            conf += 'log_filters = "%s"\n' % self.log_filters
        (self.root / "libvirtd.conf").write_text(conf)
        (self.root / "ns.sh").write_text(NS_SCRIPT)

    def _host_users(self, etc):
        if not _getent("passwd", "libvirt-qemu"):
            (etc / "passwd").write_text(
                pathlib.Path("/etc/passwd").read_text() +
                "libvirt-qemu:x:64055:64055::/nonexistent:/usr/sbin/nologin\n")
        if not _getent("group", "libvirt-qemu"):
            (etc / "group").write_text(
                pathlib.Path("/etc/group").read_text() +
                "libvirt-qemu:x:64055:\n")
        for name, text in DEBIAN_CA_FILES.items():
            if not os.path.exists("/etc/" + name):
                (etc / name).write_text(text)

    def _install(self):
        """`make install` of this checkout, as a user would on a system
        without Debian's swtpm packages: tools and config files."""
        build = os.environ.get("BUILD", "build")
        res = subprocess.run(
            ["make", "-s", "-C", str(ROOT), "BUILD=" + build, "install",
             "DESTDIR=%s" % (self.root / "inst"), "PREFIX=/usr"],
            capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, "make install: %s%s" % (res.stdout,
                                                           res.stderr)

    def _start(self):
        env = {"PATH": "%s:/usr/sbin:/usr/bin:/sbin:/bin" % BIN,
               "HOME": "/root", "LC_ALL": "C", "ROOT": str(self.root),
               "LOWER": self.lower, "BINDS": " ".join(self.binds),
               "DECOY": "1" if self.decoy else ""}
        self.out = open(self.root / "libvirtd.out", "wb")
        self.proc = subprocess.Popen(
            ["unshare", "-m", "sh", str(self.root / "ns.sh")], env=env,
            stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.out)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.mntns is None:
                # Only once unshare has made the new namespace.
                ns = _mntns(self.proc.pid)
                if ns is not None and ns != _mntns(os.getpid()):
                    self.mntns = ns
            if (self.sockdir / "libvirt-sock").exists():
                if self.virsh("version", check=False).returncode == 0:
                    return
            time.sleep(0.2)
        diag = self.diag()
        self.stop()
        raise AssertionError("libvirtd did not come up\n" + diag)

    def uri(self):
        return "qemu:///system?socket=%s/libvirt-sock" % self.sockdir

    def _enter(self):
        return ["nsenter", "-t", str(self.proc.pid), "-m", "-r", "-w", "--"]

    def virsh(self, *args, check=True, timeout=VIRSH_TIMEOUT):
        """The daemon's own virsh (from its root), on its socket."""
        argv = self._enter() + ["env", "LC_ALL=C", "virsh", "-q", "-c",
                                self.uri()] + [str(a) for a in args]
        try:
            res = subprocess.run(argv, capture_output=True, text=True,
                                 timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise AssertionError("timed out: %s\n%s" % (argv, self.diag()))
        if check:
            assert res.returncode == 0, "%s: exit %d\n%s%s\n%s" % (
                argv, res.returncode, res.stdout, res.stderr, self.diag())
        return res

    def ns(self, *argv, check=True):
        """Run argv in libvirtd's mount namespace and root (its view of
        files)."""
        res = subprocess.run(self._enter() + [str(a) for a in argv],
                             capture_output=True, timeout=60)
        if check:
            assert res.returncode == 0, "%s: %s" % (argv, res.stderr)
        return res

    def exists(self, path):
        return self.ns("test", "-e", path, check=False).returncode == 0

    def read(self, path):
        return self.ns("cat", path).stdout

    def version(self):
        """libvirtd's version as (major, minor)."""
        out = self.virsh("version", "--daemon").stdout
        for line in out.splitlines():
            if line.startswith("Running against daemon:"):
                v = line.split()[-1].split(".")
                return int(v[0]), int(v[1])
        raise AssertionError("no daemon version in %r" % out)

    def pids(self):
        """Processes in libvirtd's mount namespace (QEMU, swtpm, ...)."""
        out = []
        if self.mntns is None or self.mntns == _mntns(os.getpid()):
            return out
        for p in os.listdir("/proc"):
            if p.isdigit() and _mntns(int(p)) == self.mntns:
                out.append(int(p))
        return out

    def exe_of(self, pid):
        try:
            return os.readlink("/proc/%d/exe" % pid)
        except OSError:
            return ""

    def cmdline_of(self, pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                return f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return ""

    def diag(self, domain=None):
        """libvirtd's log, and the QEMU, swtpm and console logs."""
        parts = []

        def add(title, path):
            try:
                text = pathlib.Path(path).read_text(errors="replace")
            except OSError:
                return
            parts.append("==== %s\n%s" % (title, text[-6000:]))

        add("libvirtd.log", self.log)
        add("libvirtd stdout/stderr", self.root / "libvirtd.out")
        for sub in ("log/libvirt/qemu", "log/swtpm/libvirt/qemu"):
            d = self.var_up / sub
            if d.is_dir():
                for f in sorted(d.iterdir()):
                    if domain is None or f.name.startswith(domain):
                        add("/var/%s/%s" % (sub, f.name), f)
        for f in sorted(self.root.glob("*.console")):
            if domain is None or f.name.startswith(domain):
                add("console " + f.name, f)
        return "\n".join(parts)

    def stop(self):
        """Undefine every domain and secret, stop libvirtd, kill what is
        left in its namespace."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            for args in (("destroy",), ("undefine", "--tpm", "--nvram")):
                res = self.virsh("list", "--all", "--name", check=False,
                                 timeout=30)
                for name in res.stdout.split():
                    self.virsh(*args, name, check=False, timeout=60)
            res = self.virsh("secret-list", check=False, timeout=30)
            for line in res.stdout.splitlines():
                if line.split():
                    self.virsh("secret-undefine", line.split()[0],
                               check=False, timeout=30)
        leftovers = [p for p in self.pids() if p != self.proc.pid]
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for p in leftovers + self.pids():
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        self.out.close()
        self.proc = None


def _uid(user):
    import pwd
    return pwd.getpwnam(user).pw_uid


def _mntns(pid):
    try:
        return os.readlink("/proc/%d/ns/mnt" % pid)
    except OSError:
        return None
