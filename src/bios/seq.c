// SPDX-License-Identifier: BSD-3-Clause
/*
 * swtpm_bios command sequences (docs/setup-and-bios.md §1).  Each TPM
 * command gets its own connection, as upstream does.  A TPM error is
 * reported and the sequence goes on (exit 128 at the end); a transport
 * failure stops it (exit 255).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <tss2/tss2_tpm2_types.h>

#include "bios.h"
#include "crypto.h"
#include "log.h"
#include "tpm12_names.h"

/* Upstream reads at most this many response bytes. */
#define BIOS_RESP_MAX 1024
#define TIMEOUT_MS          (20 * 1000)
#define TIMEOUT_SELFTEST_MS (600 * 1000)

/* TSC_PhysicalPresence values. */
#define PP_CMD_ENABLE                0x0020u
#define PP_PRESENT                   0x0008u
#define PP_NOTPRESENT_LOCK           0x0014u
#define PLATFORM_AUTH_LEN            20

/* Offset of TPM_PERMANENT_FLAGS.deactivated in the GetCapability reply. */
#define PERM_FLAGS_DEACTIVATED_OFF   18

struct bios {
    const struct opts *o;
    bool tpm_error;             /* some command returned non-zero */
};

/*
 * Send one command on a fresh connection.  Returns 0 and fills resp, or -1
 * after reporting a transport failure.
 */
static int
transact(struct bios *b, const char *name, const uint8_t *cmd, size_t len,
         uint8_t *resp, size_t *out_len, int timeout_ms)
{
    struct client c;
    char msg[CLIENT_DESC_MAX + 128];
    int r;

    r = client_open(&c, &b->o->target, timeout_ms);
    if (r < 0) {
        client_open_errmsg(&c, r, msg, sizeof(msg));
        log_err("%s", msg);
        return -1;
    }
    r = client_tpm_cmd(&c, cmd, len, resp, BIOS_RESP_MAX, out_len,
                       timeout_ms);
    if (r == -EPROTO) {
        log_err("%s on %s: Returned packet is too short.", name, c.desc);
    } else if (r == -EBADMSG) {
        log_err("%s on %s: Malformed response.", name, c.desc);
    } else if (r == -ETIMEDOUT) {
        log_err("%s on %s: no response within %d s", name, c.desc,
                timeout_ms / 1000);
    } else if (r == -ECONNRESET) {
        log_err("%s on %s: connection closed without a response", name,
                c.desc);
    } else if (r < 0) {
        log_errno(-r, "%s on %s failed", name, c.desc);
    }
    client_close(&c);
    return r < 0 ? -1 : 0;
}

/*
 * Run one command and check its return code; a TPM error is printed
 * (stderr for TPM 1.2, stdout for TPM 2, as upstream) and remembered.
 * Returns -1 on transport failure, else 0.
 */
static int
tpm_cmd(struct bios *b, const char *name, const uint8_t *cmd, size_t len,
        uint8_t *resp, size_t *out_len, int timeout_ms)
{
    uint32_t rc;

    if (transact(b, name, cmd, len, resp, out_len, timeout_ms) < 0) {
        return -1;
    }
    rc = be32_get(resp + 6);
    if (rc != 0) {
        fprintf(b->o->tpm2 ? stdout : stderr,
                "%s returned error code 0x%08x\n", name, rc);
        b->tpm_error = true;
    }
    return 0;
}

/*
 * Build the 10-byte header plus plen parameter bytes (at most 6:
 * IncrementalSelfTest's count and algorithm); buf holds 10 + plen.
 */
static size_t
build(uint8_t *buf, uint16_t tag, uint32_t ord, const uint8_t *param,
      size_t plen)
{
    be16_put(buf, tag);
    be32_put(buf + 2, (uint32_t)(10 + plen));
    be32_put(buf + 6, ord);
    if (plen) {
        memcpy(buf + 10, param, plen);
    }
    return 10 + plen;
}

static int
simple(struct bios *b, const char *name, uint16_t tag, uint32_t ord,
       const uint8_t *param, size_t plen, int timeout_ms)
{
    uint8_t cmd[64], resp[BIOS_RESP_MAX];
    size_t len = build(cmd, tag, ord, param, plen), rlen;

    return tpm_cmd(b, name, cmd, len, resp, &rlen, timeout_ms);
}

static int
tpm12_pp(struct bios *b, uint16_t pp)
{
    uint8_t p[2];

    be16_put(p, pp);
    return simple(b, "TSC_PhysicalPresence", TPM_TAG_RQU_COMMAND_12,
                  TSC_ORD_PHYSICAL_PRESENCE, p, 2, TIMEOUT_MS);
}

/* TPM_GetCapability(TPM_CAP_FLAG, TPM_CAP_FLAG_PERMANENT). */
static int
tpm12_is_deactivated(struct bios *b, bool *out)
{
    static const uint8_t cmd[] = {
        0x00, 0xC1, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x65,
        0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04,
        0x00, 0x00, 0x01, 0x08,
    };
    uint8_t resp[BIOS_RESP_MAX];
    size_t rlen = 0;

    *out = false;
    if (tpm_cmd(b, "TPM_GetCapability", cmd, sizeof(cmd), resp, &rlen,
                TIMEOUT_MS) < 0) {
        return -1;
    }
    if (be32_get(resp + 6) != 0) {
        return 0;
    }
    if (rlen <= PERM_FLAGS_DEACTIVATED_OFF) {
        log_err("TPM_GetCapability: Returned packet is too short.");
        return -1;
    }
    *out = resp[PERM_FLAGS_DEACTIVATED_OFF] != 0;
    return 0;
}

/* Returns an exit code. */
static int
run_tpm12(struct bios *b)
{
    const struct opts *o = b->o;
    uint8_t p[2], zero = 0;
    bool deactivated = false;

    if (o->startup != STARTUP_NONE) {
        be16_put(p, (uint16_t)o->startup);
        if (simple(b, "TPM_Startup", TPM_TAG_RQU_COMMAND_12, TPM_ORD_STARTUP, p, 2,
                   TIMEOUT_MS) < 0) {
            return BIOS_EXIT_COMM;
        }
    }
    if (o->follow_ups) {
        if (tpm12_pp(b, PP_CMD_ENABLE) < 0 || tpm12_pp(b, PP_PRESENT) < 0 ||
            (o->ensure_activated && tpm12_is_deactivated(b, &deactivated) < 0)
            || simple(b, "TPM_PhysicalEnable", TPM_TAG_RQU_COMMAND_12,
                      TPM_ORD_PHYSICAL_ENABLE, NULL, 0, TIMEOUT_MS) < 0 ||
            simple(b, "TPM_PhysicalSetDeactivated", TPM_TAG_RQU_COMMAND_12,
                   TPM_ORD_PHYSICAL_SET_DEACT, &zero, 1, TIMEOUT_MS) < 0) {
            return BIOS_EXIT_COMM;
        }
        if (o->ensure_activated && deactivated) {
            printf("TPM requires a reset\n");
            return BIOS_EXIT_NEED_RESET;
        }
    }
    if (o->self_test &&
        simple(b, "TPM_ContinueSelfTest", TPM_TAG_RQU_COMMAND_12, TPM_ORD_CONTINUE_SELF_TEST,
               NULL, 0, TIMEOUT_SELFTEST_MS) < 0) {
        return BIOS_EXIT_COMM;
    }
    if (o->unassert_pp &&
        (tpm12_pp(b, PP_CMD_ENABLE) < 0 ||
         tpm12_pp(b, PP_NOTPRESENT_LOCK) < 0)) {
        return BIOS_EXIT_COMM;
    }
    return b->tpm_error ? BIOS_EXIT_TPM_ERROR : BIOS_EXIT_OK;
}

/* TPM2_HierarchyChangeAuth(platform) to 20 random bytes, password auth. */
static int
tpm2_lock_platform(struct bios *b)
{
    uint8_t cmd[49], resp[BIOS_RESP_MAX];
    size_t rlen;

    be16_put(cmd, TPM2_ST_SESSIONS);
    be32_put(cmd + 2, sizeof(cmd));
    be32_put(cmd + 6, TPM2_CC_HierarchyChangeAuth);
    be32_put(cmd + 10, TPM2_RH_PLATFORM);
    be32_put(cmd + 14, 9);              /* authorization area size */
    be32_put(cmd + 18, TPM2_RS_PW);
    be16_put(cmd + 22, 0);              /* empty nonce */
    cmd[24] = 0x01;                     /* continueSession */
    be16_put(cmd + 25, 0);              /* empty password: current auth */
    be16_put(cmd + 27, PLATFORM_AUTH_LEN);
    if (crypto_random(cmd + 29, PLATFORM_AUTH_LEN) < 0) {
        log_err("cannot get random bytes for the platform password");
        return -1;
    }
    return tpm_cmd(b, "TPM2_HierarchyChangeAuth", cmd, sizeof(cmd), resp,
                   &rlen, TIMEOUT_MS);
}

static int
run_tpm2(struct bios *b)
{
    const struct opts *o = b->o;
    uint8_t p[6];
    bool startup = o->startup == STARTUP_CLEAR ||
                   o->startup == STARTUP_STATE;

    if (startup) {
        be16_put(p, o->startup == STARTUP_STATE ? 1 : 0);
        if (simple(b, "TPM2_Startup", TPM2_ST_NO_SESSIONS, TPM2_CC_Startup, p, 2,
                   TIMEOUT_MS) < 0) {
            return BIOS_EXIT_COMM;
        }
    }
    if (o->self_test) {
        be32_put(p, 1);                 /* one algorithm to test */
        be16_put(p + 4, TPM2_ALG_SHA256);
        if (simple(b, "TPM2_IncrementalSelfTest", TPM2_ST_NO_SESSIONS,
                   TPM2_CC_IncrementalSelfTest, p, 6, TIMEOUT_MS) < 0) {
            return BIOS_EXIT_COMM;
        }
    }
    if (o->unassert_pp && tpm2_lock_platform(b) < 0) {
        return BIOS_EXIT_COMM;
    }
    return b->tpm_error ? BIOS_EXIT_TPM_ERROR : BIOS_EXIT_OK;
}

int
run(const struct opts *o)
{
    struct bios b = { .o = o };
    int r;

    signal(SIGPIPE, SIG_IGN);
    r = o->tpm2 ? run_tpm2(&b) : run_tpm12(&b);
    fflush(stdout);
    return r;
}
