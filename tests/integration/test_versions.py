# SPDX-License-Identifier: BSD-3-Clause
"""What --version and the "version" key of --print-capabilities report
(docs/cli.md §11), checked the way feature-gating consumers read them:
each parser below does what that consumer's code does with the output,
and the test checks the decision it then takes, and that the command line
it then runs works here."""
import json
import re
import subprocess

import pytest

from conftest import ROOT, tool

COMPAT = "0.9.0"        # upstream swtpm release we match with libtpms 0.9
RELEASE = (ROOT / "VERSION").read_text().strip()
SECOND = ("SWTPM tools release %s, compatible with swtpm %s\n"
          % (RELEASE, COMPAT))
OURS = "Copyright (c) 2026 the SWTPM tools authors"

# First lines in upstream's format (../shared/spec/cli.md §1, §7, §8,
# §10), with our copyright where upstream names IBM's.
FIRST = {
    "swtpm": "TPM emulator version %s, %s\n" % (COMPAT, OURS),
    "swtpm_cuse": "TPM emulator CUSE interface version %s, %s\n"
                  % (COMPAT, OURS),
    "swtpm_ioctl": "TPM emulator control tool version %s, %s\n"
                   % (COMPAT, OURS),
    "swtpm_bios": "TPM emulator BIOS emulator version %s, %s\n"
                  % (COMPAT, OURS),
    "swtpm_setup": "TPM emulator setup tool version %s\n" % COMPAT,
    "swtpm_cert": "TPM certificate tool version %s, %s\n" % (COMPAT, OURS),
    "swtpm_localca": "TPM emulator local CA tool version %s\n" % COMPAT,
}


def run(name, *args, **kw):
    return subprocess.run([tool(name)] + list(args), capture_output=True,
                          text=True, timeout=60, **kw)


def version_out(name):
    p = run(name, "--version")
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    return p.stdout


@pytest.mark.parametrize("name", sorted(FIRST))
def test_version_is_upstream_line_then_our_release(name):
    assert version_out(name) == FIRST[name] + SECOND


@pytest.mark.parametrize("name", sorted(FIRST))
def test_no_ibm_copyright_claimed(name):
    assert "IBM" not in version_out(name)


# ---- the consumers' parsers ----

def _segments(v):
    """systemd's strverscmp_improved() order, which mkosi's GenericVersion
    implements: runs of digits compare as numbers and above runs of
    letters; other characters separate."""
    return [(1, int(s)) if s.isdigit() else (0, s)
            for s in re.findall(r"[0-9]+|[A-Za-z]+", v)]


def version_ge(a, b):
    return _segments(a) >= _segments(b)


def mkosi_reads(out):
    """mkosi: the last whitespace-separated word of the output."""
    return out.split()[-1]


def machine_reads(out):
    """project-machine's Go SwTPM.Setup(): strings.Split(TrimSpace(out),
    " "), the last piece, then Sscanf("%d.%d.%d")."""
    last = out.strip().split(" ")[-1]
    m = re.match(r"([0-9]+)\.([0-9]+)\.([0-9]+)", last)
    assert m, "Sscanf fails on %r" % last
    return tuple(int(x) for x in m.groups())


def regex_reads(out, prefix):
    """Toolchain pin scripts: re.search(prefix + r" (\\d+(?:\\.\\d+)*)")."""
    return re.search(re.escape(prefix) + r" (\d+(?:\.\d+)*)", out).group(1)


def grep_reads(out):
    """Shell scripts: grep -oE '[0-9]+\\.[0-9]+\\.[0-9]+' | head -1."""
    return re.findall(r"[0-9]+\.[0-9]+\.[0-9]+", out)[0]


def test_mkosi_does_not_add_profile_options(tmp_path):
    out = version_out("swtpm_setup")
    seen = mkosi_reads(out)
    assert seen == COMPAT
    add_profile = version_ge(seen, "0.10.0")
    assert not add_profile
    # Then mkosi runs exactly this, which must work here ...
    state = tmp_path / "state"
    state.mkdir()
    cmd = ["--tpm-state", str(state), "--tpm2", "--pcr-banks", "sha256",
           "--config", "/dev/null"]
    p = run("swtpm_setup", *cmd)
    assert p.returncode == 0, p.stderr
    assert (state / "tpm2-00.permall").exists()
    # ... while what it adds for 0.10.0 and later is refused with
    # libtpms 0.9: the reason the version must stay below 0.10.0.
    other = tmp_path / "other"
    other.mkdir()
    p = run("swtpm_setup", *cmd, "--profile-name=custom",
            "--profile-remove-disabled=check")
    assert p.returncode == 1
    assert "not supported with libtpms 0.9" in p.stderr


def test_version_compare_matches_systemd_order():
    assert version_ge("0.10.0", "0.10.0")
    assert version_ge("0.11.1", "0.10.0")
    assert not version_ge("0.9.0", "0.10.0")
    assert not version_ge("0.7.1", "0.10.0")
    # Not a number at all sorts below any release.
    assert not version_ge("authors", "0.10.0")


def test_machine_takes_the_tpm2_setup_path():
    # It also insists on exit status 1, which only 0.7.1 had: with
    # upstream 0.8 and later, as with ours (0), it gives up before this
    # parse.  Its parse and its gate, for when it accepts 0:
    major, minor, micro = machine_reads(version_out("swtpm_setup"))
    # It skips swtpm_setup for a TPM 2 below 0.7.3.
    skip = major == 0 and minor <= 7 and micro < 3
    assert (major, minor, micro) == (0, 9, 0) and not skip


@pytest.mark.parametrize("name", sorted(FIRST))
def test_every_parser_reads_the_upstream_version(name):
    out = version_out(name)
    prefix = FIRST[name].split(" version ")[0] + " version"
    assert regex_reads(out, prefix) == COMPAT
    assert grep_reads(out) == COMPAT
    assert mkosi_reads(out) == COMPAT
    assert machine_reads(out) == (0, 9, 0)
    # Our release is there, but on a line no parser above reads.
    assert RELEASE in out.splitlines()[1]


def test_systemd_vmspawn_uses_no_profile():
    # src/shared/swtpm-util.c: runs this, ignores the exit status, and
    # without a JSON object on stdout passes no --profile-name.
    p = run("swtpm_setup", "--tpm2", "--print-profiles")
    try:
        obj = json.loads(p.stdout)
    except ValueError:
        obj = None
    assert not isinstance(obj, dict) or "builtin" not in obj


@pytest.mark.parametrize("cmd", [
    ["swtpm", "socket"], ["swtpm", "socket", "--tpm2"],
    ["swtpm", "chardev", "--tpm2"], ["swtpm_cuse"], ["swtpm_cuse", "--tpm2"],
    ["swtpm_setup"], ["swtpm_cert"]])
def test_print_capabilities_version_key(cmd):
    p = run(cmd[0], *cmd[1:], "--print-capabilities")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["version"] == COMPAT
    assert p.stdout.endswith(', "version": "%s" }\n' % COMPAT)


# ---- swtpm_bios and swtpm_localca: --help and --version ----

@pytest.mark.parametrize("opt", ["-h", "--help", "-help"])
def test_bios_help(opt):
    p = run("swtpm_bios", opt)
    assert p.returncode == 0 and p.stderr == ""
    assert p.stdout.startswith(FIRST["swtpm_bios"] + "\nUsage: ")
    assert "--version" in p.stdout


@pytest.mark.parametrize("opt", ["-v", "--version", "-version"])
def test_bios_version(opt):
    p = run("swtpm_bios", opt)
    assert (p.returncode, p.stderr) == (0, "")
    assert p.stdout == FIRST["swtpm_bios"] + SECOND


def test_localca_version_and_help():
    p = run("swtpm_localca", "--help")
    assert p.returncode == 0 and "--version" in p.stdout
    p = run("swtpm_localca", "--version", "--type", "bogus")
    assert (p.returncode, p.stderr) == (0, "")
    assert p.stdout == FIRST["swtpm_localca"] + SECOND
