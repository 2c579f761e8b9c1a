# SPDX-License-Identifier: BSD-3-Clause
"""Hand-built TPM 2.0 commands for the reliability tests (TPM 2.0 spec
part 3; password session with empty auth), so that loops run at the speed
of the device rather than of tpm2-tools."""
import struct

TPM_RH_OWNER = 0x40000001
TPM_RS_PW = 0x40000009
TPMA_NV_AUTHWRITE = 1 << 2
TPMA_NV_AUTHREAD = 1 << 18
TPMA_NV_NO_DA = 1 << 25
TPM_ALG_SHA256 = 0x000B
TPM_RC_NV_DEFINED = 0x14C


def _cmd(tag, cc, body):
    return struct.pack(">HII", tag, 10 + len(body), cc) + body


def _pw_session():
    # authorizationSize, then TPMS_AUTH_COMMAND: handle, empty nonce,
    # attributes 0, empty password.
    s = struct.pack(">IHBH", TPM_RS_PW, 0, 0, 0)
    return struct.pack(">I", len(s)) + s


def startup_clear():
    return _cmd(0x8001, 0x144, struct.pack(">H", 0))


def nv_define(index, size):
    attrs = TPMA_NV_AUTHWRITE | TPMA_NV_AUTHREAD | TPMA_NV_NO_DA
    pub = struct.pack(">IHIHH", index, TPM_ALG_SHA256, attrs, 0, size)
    body = struct.pack(">I", TPM_RH_OWNER) + _pw_session() + \
        struct.pack(">H", 0) + struct.pack(">H", len(pub)) + pub
    return _cmd(0x8002, 0x12A, body)


def nv_write(index, data, offset=0):
    body = struct.pack(">II", index, index) + _pw_session() + \
        struct.pack(">H", len(data)) + data + struct.pack(">H", offset)
    return _cmd(0x8002, 0x137, body)


def nv_read(index, size, offset=0):
    body = struct.pack(">II", index, index) + _pw_session() + \
        struct.pack(">HH", size, offset)
    return _cmd(0x8002, 0x14E, body)


def nv_read_data(resp):
    """The TPM2B_MAX_NV_BUFFER of a successful NV_Read response."""
    n = struct.unpack(">H", resp[14:16])[0]
    return resp[16:16 + n]


def get_random(n):
    return _cmd(0x8001, 0x17B, struct.pack(">H", n))


def pcr_extend(pcr, digest):
    body = struct.pack(">I", pcr) + _pw_session() + \
        struct.pack(">IH", 1, TPM_ALG_SHA256) + digest
    return _cmd(0x8002, 0x182, body)


def pcr_read(pcr):
    sel = bytearray(3)
    sel[pcr // 8] |= 1 << (pcr % 8)
    body = struct.pack(">IHB", 1, TPM_ALG_SHA256, 3) + bytes(sel)
    return _cmd(0x8001, 0x17E, body)


def pcr_read_digest(resp):
    """The first digest of a PCR_Read response (one bank, one PCR)."""
    # header 10, updateCounter 4, pcrSelectionOut (count 4, hash 2,
    # size 1, 3 bytes), TPML_DIGEST count 4, TPM2B size 2.
    off = 10 + 4 + 4 + 2 + 1 + 3 + 4
    n = struct.unpack(">H", resp[off:off + 2])[0]
    return resp[off + 2:off + 2 + n]
