# SPDX-License-Identifier: BSD-3-Clause
"""Make a running process execute system calls of our choosing, as code
injected through a libtpms bug would (x86-64 Linux, root).

We stop the process with ptrace, point its instruction pointer at the
`syscall` instruction it is blocked in, load the registers and single-step:
the kernel runs the call as the process itself, under its Landlock domain
and seccomp filters.  Then its registers go back and it resumes where it
was.  gdb's `call` would do the same through libc, but gdb 13 cannot write
the x86 extended register state on the test hosts ("Couldn't write
extended state status: Bad address"), so we set the general registers
only.  Nothing of this is compiled into our binaries.
"""
import ctypes
import os
import struct

PTRACE_POKEDATA = 5
PTRACE_CONT = 7
PTRACE_SINGLESTEP = 9
PTRACE_GETREGS = 12
PTRACE_SETREGS = 13
PTRACE_ATTACH = 16
PTRACE_DETACH = 17

# x86-64 system call numbers
SYS = {"close": 3, "mmap": 9, "munmap": 11, "socket": 41, "connect": 42,
       "bind": 49, "listen": 50, "execve": 59, "kill": 62, "ptrace": 101,
       "tgkill": 234, "openat": 257}
AT_FDCWD = -100

# struct user_regs_struct (sys/user.h), in order
REGS = ("r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi "
        "orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs").split()
ARGS = ("rdi", "rsi", "rdx", "r10", "r8", "r9")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.restype = ctypes.c_long
_libc.ptrace.argtypes = (ctypes.c_long, ctypes.c_int, ctypes.c_void_p,
                         ctypes.c_void_p)


class Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_ulonglong) for n in REGS]


def _ptrace(req, pid, addr=0, data=0):
    r = _libc.ptrace(req, pid, addr, data)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, "ptrace(%d): %s" % (req, os.strerror(e)))
    return r


class Killed(Exception):
    """The process got a signal instead of finishing the call (seccomp)."""

    def __init__(self, sig):
        super().__init__("stopped by signal %d" % sig)
        self.sig = sig


class Injector:
    def __init__(self, pid):
        self.pid = pid
        self.pending = 0
        _ptrace(PTRACE_ATTACH, pid)
        self._wait()
        self.saved = self._getregs()
        rip = self.saved.rip
        with open("/proc/%d/mem" % pid, "rb") as f:
            f.seek(rip - 2)
            assert f.read(2) == b"\x0f\x05", "not stopped in a syscall"
        self.syscall_at = rip - 2
        self.scratch = None
        self.used = 0

    def _wait(self):
        _, status = os.waitpid(self.pid, 0x40000000)   # __WALL
        if not os.WIFSTOPPED(status):
            raise Killed(os.WTERMSIG(status) if os.WIFSIGNALED(status)
                         else 0)
        return os.WSTOPSIG(status)

    def _getregs(self):
        r = Regs()
        _ptrace(PTRACE_GETREGS, self.pid, 0, ctypes.addressof(r))
        return r

    def _setregs(self, r):
        _ptrace(PTRACE_SETREGS, self.pid, 0, ctypes.addressof(r))

    def syscall(self, name, *args):
        """Run one system call; returns its result (-errno on failure)."""
        r = Regs.from_buffer_copy(bytes(self.saved))
        r.rip = self.syscall_at
        r.rax = SYS[name]
        r.orig_rax = (1 << 64) - 1   # no syscall restart on resume
        for reg, v in zip(ARGS, args):
            setattr(r, reg, v & ((1 << 64) - 1))
        self._setregs(r)
        _ptrace(PTRACE_SINGLESTEP, self.pid)
        sig = self._wait()
        if sig != 5:    # not the SIGTRAP of the step: seccomp's SIGSYS
            self.pending = sig
            raise Killed(sig)
        v = self._getregs().rax
        return v - (1 << 64) if v >= 1 << 63 else v

    def put(self, data):
        """Copy bytes (a NUL is added) into the process; their address."""
        if self.scratch is None:
            # PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
            a = self.syscall("mmap", 0, 65536, 3, 0x22, -1, 0)
            assert a > 0, a
            self.scratch = a
        data = bytes(data) + b"\0"
        addr = self.scratch + self.used
        self.used += (len(data) + 15) & ~15
        with open("/proc/%d/mem" % self.pid, "r+b") as f:
            f.seek(addr)
            f.write(data)
        return addr

    def sockaddr_un(self, path):
        return self.put(struct.pack("=H", 1) + path.encode())

    def deliver(self):
        """After Killed: let the process take its signal, swallowing the
        trap of our single step that is still pending, until it ends;
        returns the signal that ended it."""
        sig = self.pending
        while True:
            _ptrace(PTRACE_CONT, self.pid, 0, sig)
            try:
                sig = self._wait()
            except Killed as e:
                return e.sig
            if sig == 5:
                sig = 0

    def detach(self):
        """Resume the process where it was (or with the pending signal)."""
        if not self.pending:
            if self.scratch is not None:
                self.syscall("munmap", self.scratch, 65536)
            self._setregs(self.saved)
        _ptrace(PTRACE_DETACH, self.pid, 0, self.pending)
