// SPDX-License-Identifier: BSD-3-Clause
/*
 * swtpm_ioctl operations: one control command (or a short sequence for
 * hashing and GET_INFO paging) on one connection, with upstream's stdout
 * lines and error reporting on stderr.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ioctl.h"
#include "log.h"

/* Sanity bound on the GET_INFO text assembled from pages. */
#define INFO_MAX (1024 * 1024)

static const char *
err_hint(int err)
{
    switch (err) {
    case -EBADMSG: return "malformed or wrong-size reply";
    case -ECONNRESET: return "connection closed by the emulator";
    case -ETIMEDOUT: return "no reply before the timeout";
    default: return NULL;
    }
}

void
report_err(const struct client *c, uint32_t cmd, int err)
{
    const char *hint = err_hint(err);

    if (hint) {
        log_err("%s on %s failed: %s", ctrl_cmd_name(cmd), c->desc, hint);
    } else if (err == -ENOTTY) {
        log_err("%s on %s failed: %s (not a TPM device?)",
                ctrl_cmd_name(cmd), c->desc, strerror(-err));
    } else {
        log_err("%s on %s failed: %s", ctrl_cmd_name(cmd), c->desc,
                strerror(-err));
    }
    /* Upstream's wording for a failed ioctl, kept for scripts. */
    fprintf(stderr, "Could not execute %s: %s\n", ctrl_cmd_name(cmd),
            hint ? hint : strerror(-err));
}

void
report_rc(const struct client *c, uint32_t cmd, uint32_t rc)
{
    /* Upstream's exact line, alone: scripts compare stderr with it. */
    fprintf(stderr, "TPM result from %s: 0x%x\n", ctrl_cmd_name(cmd), rc);
    /* Our explanation only where a person reads it, never a pipe or file. */
    if (!isatty(STDERR_FILENO)) {
        return;
    }
    log_err("%s on %s failed: TPM result 0x%x (%s)%s", ctrl_cmd_name(cmd),
            c->desc, rc, ctrl_result_str(rc),
            cmd == CMD_LOCK_STORAGE && rc == TPM_BAD_ORDINAL ?
            "; the emulator may not support this command" : "");
}

/* Run cmd with st; 0 on success, -1 after reporting the failure. */
static int
ctrl(struct client *c, uint32_t cmd, void *st)
{
    uint32_t rc = 0;
    int r = client_ctrl(c, cmd, st, &rc);

    if (r < 0) {
        report_err(c, cmd, r);
        return -1;
    }
    if (rc != 0) {
        report_rc(c, cmd, rc);
        return -1;
    }
    return 0;
}

static int
do_simple(struct client *c, uint32_t cmd)
{
    ptm_res res = 0;

    return ctrl(c, cmd, &res);
}

static int
hash_chunk(struct client *c, const void *data, size_t len)
{
    struct ptm_hdata hd;

    memset(&hd, 0, sizeof(hd));
    hd.u.req.length = (uint32_t)len;
    memcpy(hd.u.req.data, data, len);
    return ctrl(c, CMD_HASH_DATA, &hd);
}

/* HASH_START, HASH_DATA in chunks of at most 4096 bytes, HASH_END. */
static int
do_hash(struct client *c, const char *data)
{
    uint8_t buf[PTM_HDATA_SIZE];
    size_t len, off;
    ssize_t n;

    if (do_simple(c, CMD_HASH_START) < 0) {
        return -1;
    }
    if (strcmp(data, "-") == 0) {
        for (;;) {
            n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                log_errno(errno, "cannot read the data to hash from stdin");
                return -1;
            }
            if (n == 0) {
                break;
            }
            if (hash_chunk(c, buf, (size_t)n) < 0) {
                return -1;
            }
        }
    } else {
        len = strlen(data);
        for (off = 0; off < len; off += PTM_HDATA_SIZE) {
            size_t chunk = len - off > PTM_HDATA_SIZE ? PTM_HDATA_SIZE
                                                      : len - off;
            if (hash_chunk(c, data + off, chunk) < 0) {
                return -1;
            }
        }
    }
    return do_simple(c, CMD_HASH_END);
}

/* GET_INFO pages until totlength bytes (including the NUL) are in. */
static int
do_info(struct client *c, uint64_t flags)
{
    struct ptm_getinfo gi;
    char *text = NULL, *nt;
    size_t have = 0;
    uint32_t total = 0;
    int r = -1;

    do {
        memset(&gi, 0, sizeof(gi));
        gi.u.req.flags = flags;
        gi.u.req.offset = (uint32_t)have;
        if (ctrl(c, CMD_GET_INFO, &gi) < 0) {
            goto out;
        }
        total = gi.u.resp.totlength;
        if (total > INFO_MAX || total < have ||
            gi.u.resp.length > PTM_GETINFO_SIZE ||
            gi.u.resp.length > total - have ||
            (gi.u.resp.length == 0 && have < total)) {
            log_err("PTM_GET_INFO on %s: inconsistent reply lengths",
                    c->desc);
            goto out;
        }
        nt = realloc(text, have + gi.u.resp.length + 1);
        if (!nt) {
            log_err("out of memory");
            goto out;
        }
        text = nt;
        memcpy(text + have, gi.u.resp.buffer, gi.u.resp.length);
        have += gi.u.resp.length;
    } while (have < total);
    if (text) {
        text[have] = '\0';
    }
    printf("%s\n", text ? text : "");
    r = 0;
out:
    free(text);
    return r;
}

static int
do_buffersize(struct client *c, uint32_t size)
{
    struct ptm_setbuffersize sb;

    memset(&sb, 0, sizeof(sb));
    sb.u.req.buffersize = size;
    if (ctrl(c, CMD_SET_BUFFERSIZE, &sb) < 0) {
        return -1;
    }
    printf("TPM buffersize: %u\nminimum size  : %u\nmaximum size  : %u\n",
           sb.u.resp.buffersize, sb.u.resp.minsize, sb.u.resp.maxsize);
    return 0;
}

/* Commands whose request is one small field and reply is a result. */
static int
do_init(struct client *c)
{
    struct ptm_init init;

    memset(&init, 0, sizeof(init));
    init.u.req.init_flags = PTM_INIT_FLAG_DELETE_VOLATILE;
    return ctrl(c, CMD_INIT, &init);
}

static int
do_locality(struct client *c, uint32_t locality)
{
    struct ptm_loc loc;

    memset(&loc, 0, sizeof(loc));
    loc.u.req.loc = (uint8_t)locality;
    return ctrl(c, CMD_SET_LOCALITY, &loc);
}

static int
do_reset_established(struct client *c, uint32_t locality)
{
    struct ptm_reset_est rst;

    memset(&rst, 0, sizeof(rst));
    rst.u.req.loc = (uint8_t)locality;
    return ctrl(c, CMD_RESET_TPMESTABLISHED, &rst);
}

static int
do_lock_storage(struct client *c, uint32_t retries)
{
    struct ptm_lockstorage lck;

    memset(&lck, 0, sizeof(lck));
    lck.u.req.retries = retries;
    return ctrl(c, CMD_LOCK_STORAGE, &lck);
}

static int
do_capability(struct client *c)
{
    ptm_cap cap = 0;

    if (ctrl(c, CMD_GET_CAPABILITY, &cap) < 0) {
        return -1;
    }
    printf("ptm capability is 0x%" PRIx64 "\n", (uint64_t)cap);
    return 0;
}

static int
do_established(struct client *c)
{
    struct ptm_est est;

    memset(&est, 0, sizeof(est));
    if (ctrl(c, CMD_GET_TPMESTABLISHED, &est) < 0) {
        return -1;
    }
    printf("tpmEstablished is %d\n", est.u.resp.bit);
    return 0;
}

static int
do_config(struct client *c)
{
    struct ptm_getconfig cfg;

    memset(&cfg, 0, sizeof(cfg));
    if (ctrl(c, CMD_GET_CONFIG, &cfg) < 0) {
        return -1;
    }
    printf("ptm configuration flags: 0x%x\n", cfg.u.resp.flags);
    return 0;
}

/*
 * Every operation is listed and there is no default: an operation added
 * to enum ioctl_op but not here is a -Wswitch error at build time, not
 * some other command sent to a running TPM.
 */
static int
dispatch(struct client *c, const struct opts *o)
{
    switch (o->op) {
    case OP_CAPABILITY: return do_capability(c);
    case OP_INIT: return do_init(c);
    case OP_STOP: return do_simple(c, CMD_STOP);
    case OP_SHUTDOWN: return do_simple(c, CMD_SHUTDOWN);
    case OP_ESTABLISHED: return do_established(c);
    case OP_RESET_ESTABLISHED: return do_reset_established(c, o->number);
    case OP_LOCALITY: return do_locality(c, o->number);
    case OP_STORE_VOLATILE: return do_simple(c, CMD_STORE_VOLATILE);
    case OP_CANCEL: return do_simple(c, CMD_CANCEL_TPM_CMD);
    case OP_HASH: return do_hash(c, o->hash_data);
    case OP_SAVE: return save_blob(c, o);
    case OP_LOAD: return load_blob(c, o);
    case OP_CONFIG: return do_config(c);
    case OP_BUFFERSIZE: return do_buffersize(c, o->number);
    case OP_INFO: return do_info(c, o->info_flags);
    case OP_LOCK_STORAGE: return do_lock_storage(c, o->number);
    case OP_NONE: break;
    }
    /* main() refuses a command line without an operation. */
    assert(!"swtpm_ioctl: no operation");
    return -1;
}

int
run(const struct opts *o)
{
    struct client c;
    char msg[CLIENT_DESC_MAX + 128];
    int r;

    /* A closed socket must give EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    r = client_open(&c, &o->target, CLIENT_TIMEOUT_MS);
    if (r < 0) {
        client_open_errmsg(&c, r, msg, sizeof(msg));
        log_err("%s", msg);
        return EXIT_FAILURE;
    }
    r = dispatch(&c, o);
    client_close(&c);
    if (fflush(stdout) != 0) {
        log_errno(errno, "cannot write to stdout");
        return EXIT_FAILURE;
    }
    return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
