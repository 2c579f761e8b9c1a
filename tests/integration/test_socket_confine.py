# SPDX-License-Identifier: BSD-3-Clause
"""A compromised emulator (issue 21, docs/cli.md §4): we make a running,
confined `swtpm socket` execute, as itself, the system calls that code
injected through a libtpms bug would (helpers_inject.py: ptrace, no hook
in our binaries): open another instance's state directory and state
file and /etc/shadow, create files in /tmp and /var/tmp, reach another
instance's control socket, run /bin/sh, trace another process, open a
TCP port.

Every attempt fails with EACCES (Landlock) or EPERM (the confinement's
seccomp filter) and the daemon serves on.  Under the default --seccomp
action=kill, what the allowlist does not hold (execve, ptrace, bind)
kills the daemon instead: test_allowlist_kills_on_execve shows it.
With --confine mode=none the same calls succeed, so the probes can tell
the two apart.  docs/robustness.md rows 100-113 record them and the same
probes against Debian's swtpm 0.7.1.
"""
import errno
import pathlib
import signal
import subprocess

import pytest

from conftest import tool
from helpers_inject import AT_FDCWD, Injector, Killed
from helpers_swtpm import swtpm_factory  # noqa: F401 (fixture)

TPM2_GETRANDOM8 = bytes.fromhex("80010000000c0000017b0008")
O_DIRECTORY = 0o200000
O_RDWR = 2
O_WRONLY_CREAT = 0o101
AF_UNIX, AF_INET = 1, 2
SOCK_STREAM, SOCK_DGRAM = 1, 2
PTRACE_ATTACH = 16


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict((k, v.strip()) for k, v in
                    (line.split(":", 1) for line in f))


def serves(t):
    return t.tpm_cmd(TPM2_GETRANDOM8)[6:10] == bytes(4)


def openat(inj, path, flags=0, mode=0):
    return inj.syscall("openat", AT_FDCWD, inj.put(str(path).encode()),
                       flags, mode)


def attempts(inj, other, tag):
    """The compromised emulator's moves against instance other:
    {name: result, -errno on failure}."""
    got = {
        "open_other_dir": openat(inj, other.statedir, O_DIRECTORY),
        "open_other_state": openat(inj, other.statedir / "tpm2-00.permall"),
        "write_other_state": openat(inj, other.statedir / "tpm2-00.permall",
                                    O_RDWR),
        "open_shadow": openat(inj, "/etc/shadow"),
        "create_tmp": openat(inj, "/tmp/confine-" + tag, O_WRONLY_CREAT,
                             0o600),
        "create_var_tmp": openat(inj, "/var/tmp/confine-" + tag,
                                 O_WRONLY_CREAT, 0o600),
        # A stream socket is the kind that reaches a control channel.
        "stream_socket": inj.syscall("socket", AF_UNIX, SOCK_STREAM, 0),
        "tcp_socket": inj.syscall("socket", AF_INET, SOCK_STREAM, 0),
        "bind": inj.syscall("bind", 0, 0, 0),
        "listen": inj.syscall("listen", 0, 1),
        "execve_sh": inj.syscall("execve", inj.put(b"/bin/sh"), 0, 0),
        "ptrace_other": inj.syscall("ptrace", PTRACE_ATTACH,
                                    other.proc.pid, 0, 0),
        # signal 0: the permission check without a signal
        "kill_other": inj.syscall("kill", other.proc.pid, 0),
        "tgkill_other": inj.syscall("tgkill", other.proc.pid,
                                    other.proc.pid, 0),
        "kill_self": inj.syscall("kill", inj.pid, 0),
    }
    # The datagram socket syslog(3) keeps cannot reach a stream socket.
    fd = inj.syscall("socket", AF_UNIX, SOCK_DGRAM, 0)
    got["dgram_connect_ctrl"] = inj.syscall(
        "connect", fd, inj.sockaddr_un(other.ctrl_path), 110)
    inj.syscall("close", fd)
    for k in ("open_other_dir", "open_other_state", "write_other_state",
              "open_shadow", "stream_socket", "tcp_socket"):
        if got[k] >= 0:
            inj.syscall("close", got[k])
    return got


@pytest.fixture
def two(swtpm_factory):  # noqa: F811
    """An attacker with extra options and a victim with a state."""
    def make(*extra):
        victim = swtpm_factory(transport="unix")
        assert victim.startup() == 0
        assert (victim.statedir / "tpm2-00.permall").exists()
        attacker = swtpm_factory(transport="unix", extra=extra)
        assert attacker.startup() == 0
        return attacker, victim
    return make


def snapshot(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def probe(t, victim, tag):
    inj = Injector(t.proc.pid)
    try:
        return attempts(inj, victim, tag)
    finally:
        inj.detach()


def test_compromised_emulator_is_confined(two, tmp_path):
    """--seccomp action=log, so that what the allowlist would kill for
    reaches the confinement and answers with an errno."""
    log = tmp_path / "a.log"
    attacker, victim = two("--seccomp", "action=log",
                           "--log", "file=%s,level=2" % log)
    before = snapshot(victim.statedir)
    got = probe(attacker, victim, "log")
    want = {
        "open_other_dir": -errno.EACCES,
        "open_other_state": -errno.EACCES,
        "write_other_state": -errno.EACCES,
        "open_shadow": -errno.EACCES,
        "create_tmp": -errno.EACCES,
        "create_var_tmp": -errno.EACCES,
        "stream_socket": -errno.EPERM,
        "tcp_socket": -errno.EPERM,
        "bind": -errno.EPERM,
        "listen": -errno.EPERM,
        "execve_sh": -errno.EPERM,
        "ptrace_other": -errno.EPERM,
        "kill_other": -errno.EPERM,
        "tgkill_other": -errno.EPERM,
        "kill_self": 0,
        "dgram_connect_ctrl": -errno.EPROTOTYPE,
    }
    assert got == want
    for d in ("/tmp", "/var/tmp"):
        assert not (pathlib.Path(d) / "confine-log").exists()
    # Still serving, the other instance untouched.
    assert attacker.alive(), attacker
    assert serves(attacker) and serves(victim)
    assert snapshot(victim.statedir) == before
    assert "confined to this instance's files with Landlock ABI" in \
        log.read_text()


def test_probes_succeed_unconfined(two, tmp_path):
    """The same probes with --confine mode=none and --seccomp action=log
    get through, so the test above sees the confinement at work and not
    a broken probe."""
    attacker, victim = two("--confine", "mode=none",
                           "--seccomp", "action=log")
    inj = Injector(attacker.proc.pid)
    try:
        got = {
            "open_other_dir": openat(inj, victim.statedir, O_DIRECTORY),
            "open_other_state": openat(inj, victim.statedir /
                                       "tpm2-00.permall"),
            "open_shadow": openat(inj, "/etc/shadow"),
            "stream_socket": inj.syscall("socket", AF_UNIX, SOCK_STREAM, 0),
            "tcp_socket": inj.syscall("socket", AF_INET, SOCK_STREAM, 0),
        }
        for fd in got.values():
            if fd >= 0:
                inj.syscall("close", fd)
    finally:
        inj.detach()
    assert all(v >= 0 for v in got.values()), got
    assert serves(attacker)


def test_landlock_alone_with_seccomp_none(two, tmp_path):
    """--seccomp action=none means no filter at all, as upstream has it
    (test_cuse_options.py::test_seccomp_none_and_log reads Seccomp: 0):
    Landlock alone still refuses the files and running a program."""
    attacker, victim = two("--seccomp", "action=none")
    assert proc_status(attacker.proc.pid)["Seccomp"] == "0"
    inj = Injector(attacker.proc.pid)
    try:
        got = {
            "open_other_state": openat(inj, victim.statedir /
                                       "tpm2-00.permall"),
            "open_shadow": openat(inj, "/etc/shadow"),
            "create_tmp": openat(inj, "/tmp/confine-none", O_WRONLY_CREAT,
                                 0o600),
            "execve_sh": inj.syscall("execve", inj.put(b"/bin/sh"), 0, 0),
        }
    finally:
        inj.detach()
    assert got == {k: -errno.EACCES for k in got}
    assert serves(attacker)


def test_allowlist_kills_on_execve(two, tmp_path):
    """Under the default --seccomp action=kill, execve is not on the
    allowlist: the daemon is killed (the allowlist's kill outranks the
    confinement's EPERM) and its log names the syscall."""
    log = tmp_path / "k.log"
    attacker, victim = two("--log", "file=%s" % log)
    inj = Injector(attacker.proc.pid)
    with pytest.raises(Killed) as e:
        inj.syscall("execve", inj.put(b"/bin/sh"), 0, 0)
    assert e.value.sig == signal.SIGSYS
    # Our waitpid() in deliver() reaps it: Popen sees no status.
    assert inj.deliver() == signal.SIGKILL
    assert not pathlib.Path("/proc/%d" % attacker.proc.pid).exists()
    attacker.wait_exit(10)
    attacker.errfh.close()
    assert "seccomp: syscall 59 is not allowed" in log.read_text()
    assert serves(victim)


def test_file_backend_is_confined(swtpm_factory, tmp_path):  # noqa: F811
    """backend-uri=file://: the state file is reachable, the other files
    of its directory are not, nor may new ones be made there."""
    d = tmp_path / "files"
    d.mkdir()
    (d / "other").write_bytes(b"another instance's state")
    t = swtpm_factory(transport="unix", extra=["--seccomp", "action=log"],
                      tpmstate="backend-uri=file://%s" % (d / "mine"))
    assert t.startup() == 0
    inj = Injector(t.proc.pid)
    try:
        mine = openat(inj, d / "mine", O_RDWR)
        other = openat(inj, d / "other")
        new = openat(inj, d / "new", O_WRONLY_CREAT, 0o600)
        if mine >= 0:
            inj.syscall("close", mine)
    finally:
        inj.detach()
    assert mine >= 0
    assert (other, new) == (-errno.EACCES, -errno.EACCES)
    assert serves(t)


NO_LANDLOCK_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>

/* A kernel without Landlock, for one process: its syscall(2) says ENOSYS
 * to landlock_create_ruleset and passes everything else on. */
long
syscall(long n, ...)
{
    static long (*real)(long, ...);
    long a[6];
    va_list ap;

    va_start(ap, n);
    for (int i = 0; i < 6; i++) {
        a[i] = va_arg(ap, long);
    }
    va_end(ap);
    if (n == SYS_landlock_create_ruleset) {
        errno = ENOSYS;
        return -1;
    }
    if (!real) {
        real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    }
    return real(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
"""

NO_LANDLOCK_WARNING = (
    "the kernel has no Landlock: this instance can reach every file its "
    "user can (--confine mode=required refuses to start without it)")


@pytest.fixture
def no_landlock(tmp_path, monkeypatch):
    src = tmp_path / "nolandlock.c"
    src.write_text(NO_LANDLOCK_C)
    so = tmp_path / "nolandlock.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(so), str(src),
                    "-ldl"], check=True)
    monkeypatch.setenv("LD_PRELOAD", str(so))
    return so


def test_without_landlock_warns_once_and_serves(no_landlock,
                                                swtpm_factory):  # noqa: F811
    t = swtpm_factory(transport="unix")
    assert t.startup() == 0 and serves(t)
    assert t.stderr().count(NO_LANDLOCK_WARNING) == 1, t.stderr()
    assert t.stderr().strip() == "swtpm: " + NO_LANDLOCK_WARNING, t.stderr()


def test_without_landlock_required_refuses(no_landlock, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "tpm2-00.permall").write_bytes(b"old state")
    pid = tmp_path / "swtpm.pid"
    p = subprocess.run(
        [tool("swtpm"), "socket", "--tpm2", "--tpmstate", "dir=%s" % state,
         "--ctrl", "type=unixio,path=%s" % (tmp_path / "ctrl"),
         "--pid", "file=%s" % pid, "--confine", "mode=required"],
        capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert p.stderr == (
        "swtpm: --confine mode=required: the kernel has no Landlock "
        "(Linux 5.13 or later with landlock in its lsm= list); use "
        "--confine mode=auto to run without it\n"), p.stderr
    assert snapshot(state) == {"tpm2-00.permall": b"old state"}
    assert not pid.exists() and not (tmp_path / "ctrl").exists()


def test_confine_mode_is_checked(tmp_path):
    p = subprocess.run([tool("swtpm"), "socket", "--tpm2", "--tpmstate",
                        "dir=%s" % tmp_path, "--ctrl",
                        "type=unixio,path=%s" % (tmp_path / "c"),
                        "--confine", "mode=maybe"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert p.stderr == ("swtpm: confine mode must be auto, required or "
                        "none, got 'maybe'\n")
