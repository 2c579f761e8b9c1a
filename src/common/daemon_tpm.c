// SPDX-License-Identifier: BSD-3-Clause
/* The TPM side of the daemons' start-up. */
#include "daemon_tpm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "key.h"
#include "log.h"
#include "subopt.h"

static int
load_keys(const struct daemon_cfg *c, struct tpm_instance *inst,
          char *err, size_t errlen)
{
    struct state_key key = { .len = 0 };
    char msg[300];

    if (c->key_opt) {
        if (key_load_from_opts(c->key_opt, &key, msg, sizeof(msg)) < 0) {
            snprintf(err, errlen, "--key: %s", msg);
            return -EINVAL;
        }
        state_set_filekey(inst->store, &key);
        key_wipe(&key);
    }
    if (c->migkey_opt &&
        key_load_from_opts(c->migkey_opt, &inst->migkey, msg,
                           sizeof(msg)) < 0) {
        snprintf(err, errlen, "--migration-key: %s", msg);
        return -EINVAL;
    }
    return 0;
}

int
daemon_open_tpm(const struct daemon_cfg *c, struct tpm_instance *inst,
                struct pcap_writer *w, bool create_dir, bool lock_now,
                char *err, size_t errlen)
{
    char msg[512];
    int r;

    err[0] = '\0';
    if (c->pcap.given) {
        r = pcap_open(&c->pcap, w, err, errlen);
        if (r < 0) {
            return r;
        }
        inst->pcap = w;
    }
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
    inst->store = state_new();
    if (!inst->store) {
        snprintf(err, errlen, "cannot open the state '%s': out of memory",
                 c->state_path);
        return -ENOMEM;
    }
    r = state_open(inst->store, c->state_path, c->tpm2, c->state_mode,
                   c->state_mode_explicit, create_dir, err, errlen);
    if (r < 0) {
        return r;
    }
    /* With --migration the lock waits for the first state access, as
     * upstream documents: shared storage hands it over then. */
    if (lock_now && c->state_lock && !c->incoming &&
        !c->release_lock_outgoing) {
        r = tpm_ensure_locked(inst);
        if (r < 0) {
            return r;
        }
    }
    if (load_keys(c, inst, msg, sizeof(msg)) < 0) {
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
        tpm_start_strerror(inst, rc, err, errlen);
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

/* --print-states: the JSON on stdout; returns the exit status (0 or 1). */
static int
daemon_print_states(const struct daemon_cfg *c, const char *prog)
{
    struct state_store *st;
    const char *sep = "";
    char err[600];
    long sz;

    if (!c->state_path[0]) {
        fprintf(stderr, "%s: --print-states needs --tpmstate or TPM_PATH\n",
                prog);
        return 1;
    }
    /* A missing file:// state has no objects; do not create it here. */
    if (state_file_uri_path(c->state_path) &&
        access(state_file_uri_path(c->state_path), F_OK) < 0 &&
        errno == ENOENT) {
        printf("{ \"type\": \"swtpm\", \"states\": [] }");
        return 0;
    }
    st = state_new();
    if (!st) {
        fprintf(stderr, "%s: cannot open the state '%s': out of memory\n",
                prog, c->state_path);
        return 1;
    }
    if (state_open(st, c->state_path, c->tpm2, 0640, false,
                   /* create= */ false, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        state_free(st);
        return 1;
    }
    printf("{ \"type\": \"swtpm\", \"states\": [");
    for (size_t i = 0; i < STATE_OBJS; i++) {
        sz = state_size(st, state_obj_names[i]);
        if (sz >= 0) {
            printf("%s {\"name\": \"%s\", \"size\": %ld}", sep,
                   state_obj_names[i], sz);
            sep = ",";
        }
    }
    /* Upstream prints an empty list as "[]". */
    printf("%s", *sep ? " ]" : "]");
    /* Ours, and only after a recovery, so upstream's output stays. */
    sep = "";
    for (size_t i = 0; i < STATE_OBJS; i++) {
        sz = state_damaged_size(st, state_obj_names[i]);
        if (sz >= 0) {
            printf("%s {\"name\": \"%s\", \"size\": %ld}",
                   *sep ? sep : ", \"damaged\": [", state_obj_names[i], sz);
            sep = ",";
        }
    }
    printf("%s }", *sep ? " ]" : "");
    state_free(st);
    return 0;
}

/* --print-info: with a state location the TPM runs on it first. */
static int
print_info(struct daemon_cfg *c, struct tpm_instance *inst,
           struct pcap_writer *w, const struct daemon_print_rules *rules)
{
    char err[600] = "";
    int r = 0;

    inst->tpm2 = c->tpm2;
    if (c->state_path[0]) {
        c->not_need_init = true;
        r = daemon_open_tpm(c, inst, w, rules->create_dir, rules->lock_now,
                            err, sizeof(err));
        if (r == 0) {
            r = daemon_autostart_tpm(c, inst, err, sizeof(err));
        }
    } else if (tpm_setup(inst) < 0) {
        snprintf(err, sizeof(err), "libtpms cannot emulate a TPM %s",
                 c->tpm2 ? "2.0" : "1.2");
        r = -EINVAL;
    }
    if (r < 0) {
        if (err[0]) {
            log_err("%s", err);
        }
        r = r == -EKEYREJECTED ? rules->key_code : rules->tpm_code;
    } else {
        r = caps_print_info((unsigned int)c->info_flags) < 0 ? 1 : 0;
    }
    tpm_stop(inst);
    return r;
}

bool
daemon_print_wanted(const struct daemon_cfg *c)
{
    return c->print_caps || c->print_states || c->print_info;
}

int
daemon_print_mode(struct daemon_cfg *c, struct tpm_instance *inst,
                  struct pcap_writer *w,
                  const struct daemon_print_rules *rules)
{
    if (c->print_caps) {
        return caps_print("swtpm", c->tpm2, rules->cuse) < 0 ? 1 : 0;
    }
    if (c->print_states) {
        return daemon_print_states(c, rules->prog);
    }
    if (c->print_info) {
        return print_info(c, inst, w, rules);
    }
    return OPTS_CONTINUE;
}
