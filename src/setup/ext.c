// SPDX-License-Identifier: BSD-3-Clause
/*
 * The external emulator of --tpm (docs/setup-and-bios.md §2.1): swtpm
 * runs as a child with --server type=tcp,fd=A --ctrl type=unixio,
 * clientfd=B, A and B being one end each of two socketpairs.  Commands
 * use the shared client helper on the other ends.
 */
#include "ext.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "run.h"

#define EXT_ARGS_MAX    64
#define EXT_TIMEOUT_MS  30000       /* longest TPM command (RSA keygen) */

struct ext_tpm {
    pid_t pid;
    struct client data;
    struct client ctrl;
    uint8_t resp[CLIENT_TPM_RESP_MAX];
};

/* Split the --tpm string at spaces into argv (modifies buf). */
static size_t
split_words(char *buf, const char **argv, size_t max)
{
    size_t n = 0;
    char *save = NULL;

    for (char *w = strtok_r(buf, " ", &save); w && n < max;
         w = strtok_r(NULL, " ", &save)) {
        argv[n++] = w;
    }
    return n;
}

/* Is prog an executable, directly or in PATH? */
static bool
is_executable(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[SETUP_PATH_MAX], *copy, *save = NULL;
    bool found = false;

    if (strchr(prog, '/')) {
        return access(prog, X_OK) == 0;
    }
    copy = strdup(path ? path : "/usr/bin:/bin");
    for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d && !found;
         d = strtok_r(NULL, ":", &save)) {
        found = path_join(buf, sizeof(buf), d, prog) == 0 &&
                access(buf, X_OK) == 0;
    }
    free(copy);
    return found;
}

static void
child_exec(const struct opts *o, const char **argv, int a, int b)
{
    int nul = open("/dev/null", O_RDWR);

    if (nul >= 0) {
        dup2(nul, STDIN_FILENO);
        if (o->logfile) {
            dup2(nul, STDOUT_FILENO);
            dup2(nul, STDERR_FILENO);
        }
    }
    /* the two channel fds must survive exec */
    fcntl(a, F_SETFD, 0);
    fcntl(b, F_SETFD, 0);
    execvp(argv[0], (char **)argv);
    dprintf(STDERR_FILENO, "cannot run '%s': %s\n", argv[0],
            strerror(errno));
    _exit(127);
}

static int
spawn(const struct opts *o, const char *state_dir, const char *keyopt,
      struct ext_tpm *e)
{
    char *words = strdup(o->tpm_prog), state[SETUP_PATH_MAX + 32];
    char server[48], ctrl[48], log[SETUP_PATH_MAX + 16];
    const char *argv[EXT_ARGS_MAX];
    int dsv[2] = { -1, -1 }, csv[2] = { -1, -1 }, r = 0;
    size_t n;

    if (!words) {
        return -ENOMEM;
    }
    n = split_words(words, argv, EXT_ARGS_MAX - 16);
    if (n == 0 || !is_executable(argv[0])) {
        log_err("--tpm: '%s' is not an executable program", argv[0]);
        free(words);
        return -ENOENT;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, dsv) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, csv) < 0) {
        r = -errno;
        goto out;
    }
    /* state_dir is a directory, or a file:// URI when reconfiguring. */
    snprintf(state, sizeof(state), "backend-uri=%s%s",
             state_file_uri_path(state_dir) ? "" : "dir://",
             state_dir);
    snprintf(server, sizeof(server), "type=tcp,fd=%d", dsv[1]);
    snprintf(ctrl, sizeof(ctrl), "type=unixio,clientfd=%d", csv[1]);
    argv[n++] = "--flags";
    argv[n++] = "not-need-init,startup-clear";
    argv[n++] = "--tpmstate";
    argv[n++] = state;
    if (o->tpm2) {
        argv[n++] = "--tpm2";
    }
    if (keyopt) {
        argv[n++] = "--key";
        argv[n++] = keyopt;
    }
    if (o->logfile) {
        snprintf(log, sizeof(log), "file=%s", o->logfile);
        argv[n++] = "--log";
        argv[n++] = log;
    }
    argv[n++] = "--server";
    argv[n++] = server;
    argv[n++] = "--ctrl";
    argv[n++] = ctrl;
    argv[n] = NULL;
    e->pid = fork();
    if (e->pid < 0) {
        r = -errno;
        goto out;
    }
    if (e->pid == 0) {
        child_exec(o, argv, dsv[1], csv[1]);
    }
    e->data.fd = dsv[0];
    e->ctrl.fd = csv[0];
    dsv[0] = csv[0] = -1;
out:
    for (int i = 0; i < 2; i++) {
        if (dsv[i] >= 0) {
            close(dsv[i]);
        }
        if (csv[i] >= 0) {
            close(csv[i]);
        }
    }
    free(words);
    return r;
}

static int
get_ident(struct ext_tpm *e, struct tpm_ident *id)
{
    struct ptm_getinfo gi;
    uint32_t rc = 0;
    int r;

    memset(&gi, 0, sizeof(gi));
    gi.u.req.flags = 3;         /* specification | attributes */
    r = client_ctrl(&e->ctrl, CMD_GET_INFO, &gi, &rc);
    if (r < 0 || rc != 0) {
        return r < 0 ? r : -EIO;
    }
    if (gi.u.resp.length >= sizeof(gi.u.resp.buffer)) {
        return -EBADMSG;
    }
    gi.u.resp.buffer[gi.u.resp.length] = '\0';
    tpm_ident_parse(gi.u.resp.buffer, id);
    return 0;
}

int
ext_start(const struct opts *o, const char *state_dir, const char *keyopt,
          struct tpm_ident *ident, struct ext_tpm **out)
{
    struct ext_tpm *e = calloc(1, sizeof(*e));
    int r;

    if (!e) {
        return -ENOMEM;
    }
    e->pid = -1;
    e->data = (struct client){ .kind = CLIENT_UNIX, .fd = -1,
                               .timeout_ms = EXT_TIMEOUT_MS };
    e->ctrl = e->data;
    snprintf(e->data.desc, sizeof(e->data.desc), "the emulator's data "
             "channel");
    snprintf(e->ctrl.desc, sizeof(e->ctrl.desc), "the emulator's control "
             "channel");
    r = spawn(o, state_dir, keyopt, e);
    if (r == 0) {
        /* the first control reply also tells that the emulator is up */
        r = get_ident(e, ident);
        if (r < 0) {
            log_err("the TPM emulator '%s' did not start or does not "
                    "answer CMD_GET_INFO", o->tpm_prog);
        }
    }
    if (r < 0) {
        ext_stop(e);
        return r;
    }
    say("TPM is listening on Unix socket.");
    *out = e;
    return 0;
}

int
ext_tpm_cmd(struct ext_tpm *e, const uint8_t *cmd, uint32_t len,
            const uint8_t **out_resp, uint32_t *out_len)
{
    size_t n = 0;
    int r;

    r = client_tpm_cmd(&e->data, cmd, len, e->resp, sizeof(e->resp), &n,
                       EXT_TIMEOUT_MS);
    if (r < 0) {
        log_errno(-r, "no valid response from the TPM emulator");
        return r;
    }
    *out_resp = e->resp;
    *out_len = (uint32_t)n;
    return 0;
}

void
ext_stop(struct ext_tpm *e)
{
    uint32_t res = 0, rc = 0;
    int status;

    if (!e) {
        return;
    }
    if (e->ctrl.fd >= 0) {
        client_ctrl(&e->ctrl, CMD_SHUTDOWN, &res, &rc);
    }
    client_close(&e->data);
    client_close(&e->ctrl);
    if (e->pid > 0) {
        for (int i = 0; i < 100; i++) {         /* 500 ms */
            if (waitpid(e->pid, &status, WNOHANG) == e->pid) {
                e->pid = -1;
                break;
            }
            nanosleep(&(struct timespec){ 0, 5 * 1000 * 1000 }, NULL);
        }
        if (e->pid > 0) {
            kill(e->pid, SIGKILL);
            waitpid(e->pid, &status, 0);
        }
    }
    free(e);
}
