# SPDX-License-Identifier: BSD-3-Clause
"""swtpm_setup for TPM 1.2 (docs/setup-and-bios.md §3): the state loads in
Debian's swtpm; the TPM is owned with the expected owner secret, the
certificates sit in NV with the TCG header and NV is locked."""
import hashlib
import hmac
import os
import re
import struct

import pytest

from helpers_setup import (ca_bundle, cert_text, debian_swtpm, fail, ok,
                           run, run_setup)
from helpers_socket import rc_of

EK_INDEX = 0x1000F000
PLATFORM_INDEX = 0x1000F002


@pytest.fixture
def work(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "xdg").mkdir()
    return tmp_path


def get_cap(srv, cap, sub):
    cmd = struct.pack(">HIIIII", 0x00C1, 22, 0x65, cap, 4, sub)
    resp = srv.tpm_cmd(cmd)
    return rc_of(resp), resp


def nv_read_owner(srv, index, size, secret):
    """TPM_NV_ReadValue with an OIAP owner authorization, in chunks."""
    data = b""
    while len(data) < size:
        n = min(512, size - len(data))
        resp = srv.tpm_cmd(bytes.fromhex("00c10000000a0000000a"))
        assert rc_of(resp) == 0, resp.hex()
        handle, nonce_even = struct.unpack(">I", resp[10:14])[0], \
            resp[14:34]
        params = struct.pack(">III", index, len(data), n)
        digest = hashlib.sha1(struct.pack(">I", 0xCF) + params).digest()
        nonce_odd = os.urandom(20)
        auth = hmac.new(secret, digest + nonce_even + nonce_odd + b"\0",
                        hashlib.sha1).digest()
        body = params + struct.pack(">I", handle) + nonce_odd + b"\0" + auth
        cmd = struct.pack(">HII", 0x00C2, 10 + len(body), 0xCF) + body
        resp = srv.tpm_cmd(cmd)
        assert rc_of(resp) == 0, resp.hex()
        ln = struct.unpack(">I", resp[10:14])[0]
        data += resp[14:14 + ln]
    return data


def nv_public(srv, index):
    rc, resp = get_cap(srv, 0x11, index)
    assert rc == 0, resp.hex()
    attrs = struct.unpack(">I", resp[74:78])[0]
    size = struct.unpack(">I", resp[-4:])[0]
    return attrs, size


def test_tpm12_full(work):
    res = ok(run_setup("--tpmstate", work / "state", "--createek",
                       "--take-ownership", "--create-ek-cert",
                       "--create-platform-cert", "--lock-nvram",
                       "--ownerpass", "owner", xdg=work / "xdg"))
    for line in ("Successfully created EK.",
                 "Successfully took ownership of the TPM.",
                 "Successfully created NVRAM area for EK certificate.",
                 "Successfully created NVRAM area for Platform certificate.",
                 "Successfully locked NVRAM access."):
        assert line in res.out, str(res)
    assert sorted(os.listdir(work / "state")) == [".lock", "tpm-00.permall",
        "tpm-00.permall.sum"]
    srv = debian_swtpm(work, tpm2=False)
    try:
        rc, resp = get_cap(srv, 5, 0x111)           # TPM_CAP_PROP_OWNER
        assert rc == 0 and resp[14] == 1, resp.hex()
        rc, resp = get_cap(srv, 4, 0x108)           # permanent flags
        assert rc == 0 and resp[31] == 1, resp.hex()    # nvLocked
        attrs, size = nv_public(srv, EK_INDEX)
        assert attrs == 0x00020002
        secret = hashlib.sha1(b"owner").digest()
        ek = nv_read_owner(srv, EK_INDEX, size, secret)
        attrs, psize = nv_public(srv, PLATFORM_INDEX)
        plat = nv_read_owner(srv, PLATFORM_INDEX, psize, secret)
    finally:
        srv.stop()
    for blob in (ek, plat):
        assert blob[:3] == bytes.fromhex("100100")
        assert struct.unpack(">H", blob[3:5])[0] == len(blob) - 5
        assert blob[5:7] == bytes.fromhex("1002")
    (work / "ek.der").write_bytes(ek[7:])
    (work / "plat.der").write_bytes(plat[7:])
    txt = cert_text(work / "ek.der")
    assert "sha1WithRSAEncryption" in txt
    assert re.search(r"Subject: *\n", txt), txt     # empty for TPM 1.2
    assert "Key Encipherment" in txt
    bundle = ca_bundle(work / "xdg")
    pem = work / "ek.der.pem"
    ok(run(["openssl", "x509", "-inform", "der", "-in", work / "ek.der",
            "-out", pem]))
    ok(run(["openssl", "verify", "-auth_level", "0", "-CAfile", bundle,
            pem]))
    # upstream's TPM 1.2 platform SAN holds two RDNSequences, which is not
    # a valid Name (docs/setup-and-bios.md §8, Notes), so openssl verify refuses
    # it; check
    # the SAN bytes and the signature over the TBSCertificate instead
    assert bytes.fromhex("06056781050201") in plat      # TPM manufacturer
    assert bytes.fromhex("06056781050204") in plat      # platform manuf.
    assert verify_signature(work, plat[7:],
                            work / "xdg" / "swtpm-localca" / "issuercert.pem")


def der_item(der, off):
    """(header length, content length) of the DER item at off."""
    n = der[off + 1]
    if n < 0x80:
        return 2, n
    k = n & 0x7f
    return 2 + k, int.from_bytes(der[off + 2:off + 2 + k], "big")


def verify_signature(work, cert, issuer_pem):
    """openssl dgst -verify of a certificate's signature with its issuer's
    key, without parsing its extensions."""
    h, _ = der_item(cert, 0)
    th, tl = der_item(cert, h)
    tbs = cert[h:h + th + tl]
    ah, al = der_item(cert, h + th + tl)
    off = h + th + tl + ah + al
    sh, sl = der_item(cert, off)
    assert cert[off] == 0x03 and cert[off + sh] == 0
    (work / "tbs").write_bytes(tbs)
    (work / "sig").write_bytes(cert[off + sh + 1:off + sh + sl])
    pub = ok(run(["openssl", "x509", "-in", issuer_pem, "-pubkey",
                  "-noout"])).out
    (work / "pub.pem").write_text(pub)
    res = run(["openssl", "dgst", "-sha1", "-verify", work / "pub.pem",
               "-signature", work / "sig", work / "tbs"])
    return res.rc == 0 and "Verified OK" in res.out


def test_tpm12_well_known_secrets(work):
    ok(run_setup("--tpmstate", work / "state", "--take-ownership",
                 "--owner-well-known", "--srk-well-known",
                 "--create-ek-cert", xdg=work / "xdg"))
    srv = debian_swtpm(work, tpm2=False)
    try:
        attrs, size = nv_public(srv, EK_INDEX)
        # upstream's "well-known" secret is SHA-1 of 20 zero bytes
        ek = nv_read_owner(srv, EK_INDEX, size,
                           hashlib.sha1(bytes(20)).digest())
    finally:
        srv.stop()
    assert len(ek) == size


def test_tpm12_default_owner_password(work):
    ok(run_setup("--tpmstate", work / "state", "--take-ownership",
                 "--create-ek-cert", xdg=work / "xdg"))
    srv = debian_swtpm(work, tpm2=False)
    try:
        attrs, size = nv_public(srv, EK_INDEX)
        nv_read_owner(srv, EK_INDEX, size, hashlib.sha1(b"ooo").digest())
    finally:
        srv.stop()


def test_tpm12_createek_only(work):
    res = ok(run_setup("--tpmstate", work / "state", "--createek",
                       xdg=work / "xdg"))
    assert "Successfully created EK." in res.out
    assert "ownership" not in res.out
    srv = debian_swtpm(work, tpm2=False)
    try:
        rc, resp = get_cap(srv, 5, 0x111)
        assert rc == 0 and resp[14] == 0
        rc, resp = get_cap(srv, 4, 0x108)
        assert resp[16] == 0 and resp[18] == 0      # enabled, activated
    finally:
        srv.stop()


def test_tpm12_encrypted(work):
    (work / "key").write_text("00112233445566778899aabbccddeeff\n")
    ok(run_setup("--tpmstate", work / "state", "--take-ownership",
                 "--keyfile", work / "key", xdg=work / "xdg"))
    srv = debian_swtpm(work, tpm2=False, key="file=%s" % (work / "key"))
    try:
        rc, resp = get_cap(srv, 5, 0x111)
        assert rc == 0 and resp[14] == 1
    finally:
        srv.stop()


def test_tpm12_existing_state(work):
    ok(run_setup("--tpmstate", work / "state", xdg=work / "xdg"))
    fail(run_setup("--tpmstate", work / "state", xdg=work / "xdg"),
         "Found existing TPM state")
