// SPDX-License-Identifier: BSD-3-Clause
/* Start-up steps shared by swtpm_cuse and swtpm socket/chardev. */
#include "daemon_setup.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"
#include "subopt.h"

int
daemon_apply_opts(struct daemon_cfg *c, const struct daemon_opt_strings *s,
                  char *err, size_t errlen)
{
    const char *tpm_path = getenv("TPM_PATH");
    int r = 0;

    if (s->tpmstate) {
        r = daemon_parse_tpmstate(c, s->tpmstate, err, errlen);
    } else if (tpm_path && *tpm_path) {
        /* Taken verbatim, as upstream does: commas are no sub-options. */
        if (strlen(tpm_path) + 20 >= sizeof(c->state_path)) {
            snprintf(err, errlen, "TPM_PATH is too long");
            r = -EINVAL;
        } else {
            snprintf(c->state_path, sizeof(c->state_path), "%s", tpm_path);
        }
    }
    if (r == 0 && s->locality) {
        r = daemon_parse_locality(c, s->locality, err, errlen);
    }
    if (r == 0 && s->flags) {
        r = daemon_parse_flags(c, s->flags, err, errlen);
    }
    if (r == 0 && s->pid) {
        r = daemon_parse_pid(c, s->pid, err, errlen);
    }
    if (r == 0 && s->seccomp) {
        r = daemon_parse_seccomp(c, s->seccomp, err, errlen);
    }
    if (r == 0 && s->migration) {
        r = daemon_parse_migration(c, s->migration, err, errlen);
    }
    if (r == 0 && c->log_opt) {
        r = daemon_check_log(c->log_opt, err, errlen);
    }
    if (r == 0 && c->startup == TPM_STARTUP_DEACTIVATED && c->tpm2) {
        snprintf(err, errlen, "--flags startup-deactivated is only valid "
                 "for a TPM 1.2");
        r = -EINVAL;
    }
    return r < 0 ? -EINVAL : 0;
}

int
daemon_print_states(const struct daemon_cfg *c, const char *prog)
{
    static const char *const names[] = {
        "permall", "volatilestate", "savestate" };
    struct state_store st;
    const char *sep = "";
    char err[600];
    long sz;

    if (!c->state_path[0]) {
        fprintf(stderr, "%s: --print-states needs --tpmstate or TPM_PATH\n",
                prog);
        return 1;
    }
    /* A missing file:// state has no objects; do not create it here. */
    if (strncmp(c->state_path, "file://", 7) == 0 &&
        access(c->state_path + 7, F_OK) < 0 && errno == ENOENT) {
        printf("{ \"type\": \"swtpm\", \"states\": [] }");
        return 0;
    }
    if (state_open(&st, c->state_path, c->tpm2, 0640, false,
                   /* create= */ false, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 1;
    }
    printf("{ \"type\": \"swtpm\", \"states\": [");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        sz = state_size(&st, names[i]);
        if (sz >= 0) {
            printf("%s {\"name\": \"%s\", \"size\": %ld}", sep, names[i], sz);
            sep = ",";
        }
    }
    /* Upstream prints an empty list as "[]". */
    printf("%s", *sep ? " ]" : "]");
    /* Ours, and only after a recovery, so upstream's output stays. */
    sep = "";
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        sz = state_damaged_size(&st, names[i]);
        if (sz >= 0) {
            printf("%s {\"name\": \"%s\", \"size\": %ld}",
                   *sep ? sep : ", \"damaged\": [", names[i], sz);
            sep = ",";
        }
    }
    printf("%s }", *sep ? " ]" : "");
    state_close(&st);
    return 0;
}

int
daemon_resolve_user(const char *runas, struct daemon_user *out,
                    char *err, size_t errlen)
{
    struct passwd *pw;
    unsigned long v;

    memset(out, 0, sizeof(*out));
    if (!runas) {
        return 0;
    }
    out->set = true;
    if (parse_uint(runas, 0, 0xfffffffeUL, &v) == 0) {
        /* A number is used as both uid and gid, without groups. */
        out->uid = (uid_t)v;
        out->gid = (gid_t)v;
        return 0;
    }
    pw = getpwnam(runas);
    if (!pw) {
        snprintf(err, errlen, "user '%s' for --runas does not exist",
                 runas);
        return -ENOENT;
    }
    out->uid = pw->pw_uid;
    out->gid = pw->pw_gid;
    out->ngroups = DAEMON_USER_MAX_GROUPS;
    if (getgrouplist(pw->pw_name, pw->pw_gid, out->groups,
                     &out->ngroups) < 0) {
        /* More groups than we keep: the primary group is enough. */
        out->groups[0] = pw->pw_gid;
        out->ngroups = 1;
    }
    return 0;
}

int
daemon_become_user(const struct daemon_user *u, char *err, size_t errlen)
{
    uid_t ruid, euid, suid;

    if (!u->set) {
        return 0;
    }
    if (setgroups((size_t)u->ngroups, u->ngroups ? u->groups : NULL) < 0 ||
        setresgid(u->gid, u->gid, u->gid) < 0 ||
        setresuid(u->uid, u->uid, u->uid) < 0) {
        snprintf(err, errlen, "cannot switch to uid %u: %s",
                 (unsigned int)u->uid, strerror(errno));
        return -EPERM;
    }
    /* Verify the change held: no way back to the old identity. */
    if (getresuid(&ruid, &euid, &suid) < 0 || ruid != u->uid ||
        euid != u->uid || suid != u->uid ||
        (u->uid != 0 && setuid(0) == 0)) {
        snprintf(err, errlen, "privilege drop to uid %u did not hold",
                 (unsigned int)u->uid);
        return -EPERM;
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return 0;
}

static int
lock_state(const struct daemon_cfg *c, struct tpm_instance *inst,
           char *err, size_t errlen)
{
    pid_t holder = 0;
    int r = state_lock(&inst->store, 0, &holder);

    const char *kind = state_kind(&inst->store);
    const char *path = inst->store.path;

    if (r == -EAGAIN && holder > 0) {
        snprintf(err, errlen, "TPM state %s '%s' is locked by "
                 "process %d; stop that emulator or use another %s",
                 kind, path, (int)holder, kind);
    } else if (r == -EAGAIN) {
        snprintf(err, errlen, "TPM state %s '%s' is locked by "
                 "another process; stop that emulator or use another "
                 "%s", kind, path, kind);
    } else if (r < 0 && inst->store.is_file) {
        snprintf(err, errlen, "cannot lock TPM state file '%s': %s", path,
                 strerror(-r));
    } else if (r < 0) {
        /* No lock file (read-only file system, no permission): say so
         * rather than blame another process. */
        snprintf(err, errlen, "cannot create or open the lock file in TPM "
                 "state directory '%s': %s", c->state_path, strerror(-r));
    }
    return r;
}

int
daemon_open_tpm(const struct daemon_cfg *c, struct tpm_instance *inst,
                bool create_dir, bool lock_now, char *err, size_t errlen)
{
    char msg[512];
    int r;

    inst->tpm2 = c->tpm2;
    inst->reject_locality4 = c->reject_locality4;
    inst->allow_set_locality = c->allow_set_locality;
    inst->disable_auto_shutdown = c->disable_auto_shutdown;
    inst->incoming_migration = c->incoming;
    inst->release_lock_outgoing = c->release_lock_outgoing;
    /* The source gives shared storage up only after it has answered
     * QEMU's last GET_STATEBLOB, so the destination's first SET_STATEBLOB
     * can arrive a moment before: wait for it as after a hand-over. */
    if (c->incoming) {
        inst->lock_retries = TPM_LOCK_RETRIES_MAX;
    }
    inst->no_lock = !c->state_lock;
    r = state_open(&inst->store, c->state_path, c->tpm2, c->state_mode,
                   c->state_mode_explicit, create_dir, err, errlen);
    if (r < 0) {
        return r;
    }
    /* With --migration the lock waits for the first state access, as
     * upstream documents: shared storage hands it over then. */
    if (lock_now && c->state_lock && !c->incoming &&
        !c->release_lock_outgoing) {
        r = lock_state(c, inst, err, errlen);
        if (r < 0) {
            return r;
        }
    }
    if (daemon_load_keys(c, inst, msg,
                         sizeof(msg)) < 0) {
        snprintf(err, errlen, "%s", msg);
        return -EKEYREJECTED;
    }
    if (tpm_setup(inst) < 0) {
        snprintf(err, errlen, "libtpms cannot emulate a TPM %s",
                 c->tpm2 ? "2.0" : "1.2");
        return -EINVAL;
    }
    tpm_debug_setup(log_get_level(), log_get_fd(), log_get_prefix());
    return 0;
}

int
daemon_autostart_tpm(const struct daemon_cfg *c, struct tpm_instance *inst,
                     char *err, size_t errlen)
{
    uint32_t rc = 0;
    int r;

    if (!c->not_need_init) {
        return 0;
    }
    r = tpm_start(inst, false, &rc);
    if (r == -ENOLCK) {
        err[0] = '\0';  /* tpm_ensure_locked() said why */
        return r;
    }
    if (r < 0) {
        snprintf(err, errlen, "the TPM could not start (TPM result 0x%x); "
                 "check the state in '%s' and the --key", rc,
                 c->state_path);
        return -EIO;
    }
    if (tpm_send_startup(inst, c->startup, &rc) < 0) {
        snprintf(err, errlen, "libtpms could not run the startup command");
        return -EIO;
    }
    if (rc != 0) {
        /* The response is discarded (docs/control-channel.md §8.6); a TPM error
         * is not fatal. */
        log_warn("the TPM answered its startup command with 0x%x", rc);
    }
    return 0;
}
