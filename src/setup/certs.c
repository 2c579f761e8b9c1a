// SPDX-License-Identifier: BSD-3-Clause
/*
 * Certificate back ends: the create_certs_tool protocol
 * (docs/setup-and-bios.md §6) for an external tool, or the built-in local CA.
 */
#include "certs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "fdio.h"
#include "localca.h"
#include "log.h"

#define CERT_MAX_SIZE (64 * 1024)
#define TOOL_ARGS_MAX 40
#define KEY_PARAM_MAX (2 * 1024 + 128)
#define TOOL_TIMEOUT_S 120

struct certs {
    char *tool;                 /* NULL: built-in local CA */
    char *tool_config;
    char *tool_options;
    char dir[SETUP_PATH_MAX];   /* temp dir for the tool's output */
    struct localca *ca;
};

static bool
is_localca_name(const char *tool)
{
    const char *base = strrchr(tool, '/');

    return strcmp(base ? base + 1 : tool, "swtpm_localca") == 0;
}

int
certs_init(struct setup_ctx *ctx, struct certs **out)
{
    struct certs *c = calloc(1, sizeof(*c));
    const char *tmpdir = getenv("TMPDIR");
    int r = 0;

    if (!c) {
        return -ENOMEM;
    }
    c->tool = conf_get(ctx->conf_text, "create_certs_tool");
    c->tool_config = conf_get(ctx->conf_text, "create_certs_tool_config");
    c->tool_options = conf_get(ctx->conf_text, "create_certs_tool_options");
    if (c->tool && (!*c->tool || is_localca_name(c->tool))) {
        free(c->tool);
        c->tool = NULL;
    }
    if (!c->tool) {
        r = localca_open(c->tool_config && *c->tool_config ? c->tool_config
                                                           : NULL,
                         c->tool_options, &c->ca);
    } else {
        snprintf(c->dir, sizeof(c->dir), "%s/swtpm_setup.certs.XXXXXX",
                 tmpdir && *tmpdir ? tmpdir : "/tmp");
        if (!mkdtemp(c->dir)) {
            r = -errno;
            log_errno(-r, "cannot create a temporary directory for "
                      "certificates in '%s'", tmpdir ? tmpdir : "/tmp");
            c->dir[0] = '\0';
        }
    }
    if (r < 0) {
        certs_free(c);
        return r;
    }
    *out = c;
    return 0;
}

void
certs_free(struct certs *c)
{
    if (!c) {
        return;
    }
    if (c->dir[0]) {
        static const char *const names[] = { "ek.cert", "platform.cert" };

        for (size_t i = 0; i < 2; i++) {
            char p[SETUP_PATH_MAX + 32];

            snprintf(p, sizeof(p), "%s/%s", c->dir, names[i]);
            unlink(p);
        }
        rmdir(c->dir);
    }
    localca_free(c->ca);
    free(c->tool);
    free(c->tool_config);
    free(c->tool_options);
    free(c);
}

/* Read and delete the tool's output file. */
static int
read_cert_file(const char *path, uint8_t **out, size_t *out_len)
{
    uint8_t *p = NULL;
    struct stat sb;
    ssize_t n;
    int fd, r = 0;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        r = errno;
        log_errno(r, "the certificate tool did not create '%s'", path);
        return -r;
    }
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
        sb.st_size > CERT_MAX_SIZE) {
        log_err("certificate file '%s' is empty, too big or not a regular "
                "file", path);
        r = EINVAL;
        goto out;
    }
    p = malloc((size_t)sb.st_size);
    n = p ? read(fd, p, (size_t)sb.st_size) : -1;
    if (n != sb.st_size) {
        log_err("cannot read certificate file '%s'", path);
        r = EIO;
        goto out;
    }
    *out = p;
    *out_len = (size_t)n;
    p = NULL;
out:
    free(p);
    close(fd);
    unlink(path);
    return -r;
}

/* How long a certificate tool may take, in seconds: the default, or
 * SWTPM_SETUP_TOOL_TIMEOUT (1 to 86400). */
static int
tool_timeout_s(void)
{
    const char *v = getenv("SWTPM_SETUP_TOOL_TIMEOUT");
    char *end;
    long s;

    if (!v || !*v) {
        return TOOL_TIMEOUT_S;
    }
    errno = 0;
    s = strtol(v, &end, 10);
    return errno || *end || s < 1 || s > 86400 ? TOOL_TIMEOUT_S : (int)s;
}

/* Log each line of the tool's output as "<tool>: <line>" until it
 * closes its output: 0, or -ETIMEDOUT at deadline_ms. */
static int
log_tool_output(const char *tool, int fd, int64_t deadline_ms)
{
    const char *base = strrchr(tool, '/');
    char buf[4096];
    size_t len = 0;
    ssize_t n;

    base = base ? base + 1 : tool;
    for (;;) {
        char *nl;

        /* another error than the timeout: the read() says what */
        if (fd_wait(fd, POLLIN, deadline_ms) == -ETIMEDOUT) {
            return -ETIMEDOUT;
        }
        n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }

        len += (size_t)n;
        buf[len] = '\0';
        while ((nl = strchr(buf, '\n')) != NULL) {
            *nl = '\0';
            say("%s: %s", base, buf);
            len -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, len + 1);
        }
        if (len == sizeof(buf) - 1) {
            say("%s: %s", base, buf);
            len = 0;
        }
    }
    if (len) {
        say("%s: %s", base, buf);
    }
    return 0;
}

/*
 * Run the certificate tool with its output logged.  One that has not
 * finished within tool_timeout_s() (it waits on a FIFO, a lock, a
 * terminal) is killed with everything it started (its own process
 * group), so that swtpm_setup, and the TPM state it holds, is not held
 * for ever.
 */
static int
run_tool(struct certs *c, char **argv)
{
    int pfd[2], status = 0, timeout_s = tool_timeout_s(), r;
    pid_t pid;

    if (pipe2(pfd, O_CLOEXEC) < 0) {
        return -errno;
    }
    pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -errno;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);

        setpgid(0, 0);
        dup2(nul, STDIN_FILENO);
        dup2(pfd[1], STDOUT_FILENO);
        dup2(pfd[1], STDERR_FILENO);
        execvp(c->tool, argv);
        dprintf(STDERR_FILENO, "cannot run '%s': %s\n", c->tool,
                strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);          /* also here: no race with the kill */
    close(pfd[1]);
    r = log_tool_output(c->tool, pfd[0],
                        fd_clock_ms() + (int64_t)timeout_s * 1000);
    close(pfd[0]);
    if (r == -ETIMEDOUT) {
        kill(-pid, SIGKILL);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (r == -ETIMEDOUT) {
        log_err("certificate tool '%s' did not finish within %d s and was "
                "stopped; check what it waits for, or set "
                "SWTPM_SETUP_TOOL_TIMEOUT", c->tool, timeout_s);
        return r;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        log_err("certificate tool '%s' failed (status 0x%x)", c->tool,
                status);
        return -EIO;
    }
    return 0;
}

/* The key argument (docs/setup-and-bios.md §4.2): modulus hex, or
 * x=..,y=..,id=<curve>. */
static void
tool_key_param(const struct cert_req *req, char *key, size_t keylen)
{
    key[0] = '\0';
    if (req->is_ecc) {
        char *x = malloc(2 * req->ecc_len + 1), *y = malloc(2 * req->ecc_len
                                                            + 1);

        if (x && y) {
            hex_encode(req->ecc_x, req->ecc_len, x);
            hex_encode(req->ecc_y, req->ecc_len, y);
            snprintf(key, keylen, "x=%s,y=%s,id=%s", x, y,
                     req->curve);
        }
        free(x);
        free(y);
    } else if (2 * req->modulus_len < keylen) {
        hex_encode(req->modulus, req->modulus_len, key);
    }
}

/* Build the tool's argv (docs/setup-and-bios.md §6) and run it. */
static int
tool_create(struct certs *c, struct setup_ctx *ctx,
            const struct cert_req *req, uint8_t **out, size_t *out_len)
{
    const struct opts *o = ctx->o;
    const struct tpm_ident *id = &ctx->ident;
    char level[24], rev[24], path[SETUP_PATH_MAX + 32];
    char *key = malloc(KEY_PARAM_MAX);
    const char *argv[TOOL_ARGS_MAX];
    size_t n = 0;
    int r;

    if (!key) {
        return -ENOMEM;
    }
    tool_key_param(req, key, KEY_PARAM_MAX);
    snprintf(level, sizeof(level), "%lu", id->level);
    snprintf(rev, sizeof(rev), "%lu", id->revision);
    argv[n++] = c->tool;
    argv[n++] = "--type";
    argv[n++] = req->type == CERT_EK ? "ek" : "platform";
    argv[n++] = "--ek";
    argv[n++] = key;
    argv[n++] = "--dir";
    argv[n++] = c->dir;
    if (o->allow_signing) {
        argv[n++] = "--allow-signing";
        if (o->decryption) {
            argv[n++] = "--decryption";
        }
    }
    if (o->logfile) {
        argv[n++] = "--logfile";
        argv[n++] = o->logfile;
    }
    if (o->vmid) {
        argv[n++] = "--vmid";
        argv[n++] = o->vmid;
    }
    argv[n++] = "--tpm-spec-family";
    argv[n++] = id->family;
    argv[n++] = "--tpm-spec-level";
    argv[n++] = level;
    argv[n++] = "--tpm-spec-revision";
    argv[n++] = rev;
    argv[n++] = "--tpm-manufacturer";
    argv[n++] = id->manufacturer;
    argv[n++] = "--tpm-model";
    argv[n++] = id->model;
    argv[n++] = "--tpm-version";
    argv[n++] = id->version;
    if (req->tpm2) {
        argv[n++] = "--tpm2";
    }
    if (c->tool_config && *c->tool_config) {
        argv[n++] = "--configfile";
        argv[n++] = c->tool_config;
    }
    if (c->tool_options && *c->tool_options) {
        argv[n++] = "--optsfile";
        argv[n++] = c->tool_options;
    }
    argv[n] = NULL;
    say("  Invoking %s --type %s ...", c->tool, argv[2]);
    r = run_tool(c, (char **)argv);
    free(key);
    if (r < 0) {
        return r;
    }
    snprintf(path, sizeof(path), "%s/%s.cert", c->dir, argv[2]);
    return read_cert_file(path, out, out_len);
}

/* The built-in CA signs req: serial under the CA's lock, then the
 * certificate with the TPM's identity from CMD_GET_INFO. */
static int
issue_locally(struct localca *ca, struct setup_ctx *ctx,
              const struct cert_req *req, uint8_t **out_der,
              size_t *out_len)
{
    struct x509_params p = {
        .req = req,
        .tpm_manufacturer = ctx->ident.manufacturer,
        .tpm_model = ctx->ident.model,
        .tpm_version = ctx->ident.version,
        .spec_family = ctx->ident.family,
        .spec_level = ctx->ident.level,
        .spec_revision = ctx->ident.revision,
        .allow_signing = ctx->o->allow_signing,
        .decryption = ctx->o->decryption,
        .add_header = !req->tpm2,
        .days = -1,
    };
    char serial[64], err[300], cn[256], subject[264];
    void *key, *cert;
    int r;

    localca_platform(ca, &p.plat_manufacturer, &p.plat_model,
                     &p.plat_version);
    localca_subject_cn(ctx->o->vmid, cn, sizeof(cn));
    snprintf(subject, sizeof(subject), "CN=%s", cn);
    p.subject = subject;
    r = localca_reserve(ca, serial, sizeof(serial), &key, &cert);
    if (r < 0) {
        return r;
    }
    p.serial_dec = serial;
    r = x509_make_cert(&p, key, cert, out_der, out_len, err, sizeof(err));
    if (r < 0) {
        log_err("local CA: %s", err);
        return r;
    }
    /* the serial is spent only by a certificate that was made; when
     * another follows (the EK's, then the platform's), the lock is kept
     * and the counter written after the last */
    r = req->more ? localca_keep(ca) : localca_commit(ca);
    if (r < 0) {
        free(*out_der);
        *out_der = NULL;
        return r;
    }
    say("Successfully created %s certificate locally.",
        req->type == CERT_EK ? "EK" : "platform");
    return 0;
}

int
certs_create(struct setup_ctx *ctx, const struct cert_req *req,
             uint8_t **out_der, size_t *out_len)
{
    struct certs *c = ctx->certs;

    if (!c) {
        log_err("no certificate back end configured");
        return -EINVAL;
    }
    if (c->tool) {
        return tool_create(c, ctx, req, out_der, out_len);
    }
    return issue_locally(c->ca, ctx, req, out_der, out_len);
}
