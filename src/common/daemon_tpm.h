/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TPM side of both daemons' start-up: open and lock the state as the
 * options say, load the keys, set up libtpms and --pcap, start the TPM
 * for --flags not-need-init, and --print-states.  Errors come back as
 * messages in err for the front end to print.
 */
#ifndef SWTPM_DAEMON_TPM_H
#define SWTPM_DAEMON_TPM_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon_opts.h"
#include "pcap.h"

/*
 * Open (creating it with create_dir) the state c names, load the keys,
 * set up libtpms for inst and open the --pcap capture into w.  lock_now
 * takes the state lock at once (unless lock=false or --migration).
 * Returns 0, -EKEYREJECTED for a key that cannot be loaded, or another
 * negative errno; err says what happened and what to do, or is empty
 * when the lock was refused (tpm_ensure_locked() said why).
 */
int daemon_open_tpm(const struct daemon_cfg *c, struct tpm_instance *inst,
                    struct pcap_writer *w, bool create_dir, bool lock_now,
                    char *err, size_t errlen);

/*
 * With --flags not-need-init or startup-*: start the TPM and send the
 * Startup command.  A TPM error in the Startup response is only logged.
 * Returns 0, -ENOLCK when the state lock is held elsewhere (already
 * logged: err is empty), or -EIO with a message in err.
 */
int daemon_autostart_tpm(const struct daemon_cfg *c,
                         struct tpm_instance *inst, char *err,
                         size_t errlen);

/* Whether a print mode is asked for: then no daemon starts (no fork,
 * socket activation, NOTIFY_SOCKET or channel checks). */
bool daemon_print_wanted(const struct daemon_cfg *c);

/* How a daemon's print modes open the state and fail. */
struct daemon_print_rules {
    const char *prog;           /* in messages */
    bool cuse;                  /* the CUSE capability list */
    bool create_dir, lock_now;  /* as for daemon_open_tpm() */
    int tpm_code, key_code;     /* exit codes: TPM or key cannot start */
};

/*
 * The print modes of both daemons (docs/cli.md §3), one place:
 * --print-capabilities (as type "swtpm", the CUSE list if cuse),
 * --print-states, and --print-info, which with a state location first
 * starts the TPM on it, opened by the daemon's own rules.  Returns
 * OPTS_CONTINUE when no print mode is asked for, else the exit status:
 * 0, 1, or when --print-info's TPM could not start (logged) key_code
 * for a key that cannot be loaded, else tpm_code.
 */
int daemon_print_mode(struct daemon_cfg *c, struct tpm_instance *inst,
                      struct pcap_writer *w,
                      const struct daemon_print_rules *rules);

#endif
