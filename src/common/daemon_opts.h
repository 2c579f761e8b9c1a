/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The options swtpm_cuse and swtpm socket/chardev share, written once:
 * their getopt rows (DAEMON_LONG_OPTS), the getopt loop that stores them
 * (daemon_getopt), their --help lines (daemon_usage) and the parsers
 * of their sub-option groups (daemon_apply_opts), all into one struct
 * daemon_cfg.  Nothing here touches the process: daemon_proc.h does.
 */
#ifndef SWTPM_DAEMON_OPTS_H
#define SWTPM_DAEMON_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "pcap.h"
#include "subopt.h"
#include "tpm.h"

enum seccomp_action {
    SECCOMP_ACTION_KILL = 0,    /* default */
    SECCOMP_ACTION_LOG,
    SECCOMP_ACTION_NONE,
};

/* --confine mode= (docs/cli.md §4) */
enum confine_mode {
    CONFINE_MODE_AUTO = 0,      /* default: Landlock where the kernel has it */
    CONFINE_MODE_REQUIRED,      /* start fails without it */
    CONFINE_MODE_NONE,
};

struct daemon_cfg {
    bool tpm2;
    /* --tpmstate / TPM_PATH */
    char state_path[4096];
    mode_t state_mode;
    bool state_mode_explicit;
    bool state_lock;
    /* --locality */
    bool reject_locality4;
    bool allow_set_locality;
    /* --flags */
    bool not_need_init;
    enum tpm_startup startup;
    bool disable_auto_shutdown;
    /* --migration */
    bool incoming;
    bool release_lock_outgoing;
    /* --pid */
    char pid_path[4096];
    int pid_fd;                 /* -1 if none */
    /* The pid file this process wrote: its directory (kept open so the
     * file can be removed after --chroot) and inode; dir_fd -1 if none. */
    int pid_dir_fd;
    dev_t pid_dev;
    ino_t pid_ino;
    /* --seccomp */
    enum seccomp_action seccomp;
    /* --confine */
    enum confine_mode confine;
    /* --pcap */
    struct pcap_opts pcap;
    /* --print-capabilities, --print-states, --print-info FLAGS */
    bool print_caps, print_states, print_info;
    unsigned long info_flags;
    /* raw strings, applied later */
    const char *key_opt;
    const char *migkey_opt;
    const char *log_opt;
    const char *runas;
    const char *chroot_dir;
    /* the groups daemon_apply_opts() parses */
    const char *tpmstate_opt, *locality_opt, *flags_opt, *pid_opt;
    const char *seccomp_opt, *migration_opt, *pcap_opt, *confine_opt;
};

void daemon_cfg_init(struct daemon_cfg *c);

/* getopt values of the shared long options (the short ones: -r, -R). */
enum {
    DAEMON_OPT_TPM2 = 2000, DAEMON_OPT_TPMSTATE, DAEMON_OPT_LOG,
    DAEMON_OPT_LOCALITY, DAEMON_OPT_KEY, DAEMON_OPT_MIGKEY, DAEMON_OPT_PID,
    DAEMON_OPT_SECCOMP, DAEMON_OPT_FLAGS, DAEMON_OPT_MIGRATION,
    DAEMON_OPT_PRINT_CAPS, DAEMON_OPT_PRINT_STATES, DAEMON_OPT_PRINT_INFO,
    DAEMON_OPT_PCAP, DAEMON_OPT_CONFINE,
};

/* The shared short options, for each front end's getopt string. */
#define DAEMON_SHORT_OPTS "R:r:"

/* The shared rows of each front end's struct option table. */
#define DAEMON_LONG_OPTS                                                   \
    { "chroot", required_argument, NULL, 'R' },                            \
    { "confine", required_argument, NULL, DAEMON_OPT_CONFINE },            \
    { "flags", required_argument, NULL, DAEMON_OPT_FLAGS },                \
    { "key", required_argument, NULL, DAEMON_OPT_KEY },                    \
    { "locality", required_argument, NULL, DAEMON_OPT_LOCALITY },          \
    { "log", required_argument, NULL, DAEMON_OPT_LOG },                    \
    { "migration", required_argument, NULL, DAEMON_OPT_MIGRATION },        \
    { "migration-key", required_argument, NULL, DAEMON_OPT_MIGKEY },       \
    { "pcap", required_argument, NULL, DAEMON_OPT_PCAP },                  \
    { "pid", required_argument, NULL, DAEMON_OPT_PID },                    \
    { "print-capabilities", no_argument, NULL, DAEMON_OPT_PRINT_CAPS },    \
    { "print-info", required_argument, NULL, DAEMON_OPT_PRINT_INFO },      \
    { "print-states", no_argument, NULL, DAEMON_OPT_PRINT_STATES },        \
    { "runas", required_argument, NULL, 'r' },                             \
    { "seccomp", required_argument, NULL, DAEMON_OPT_SECCOMP },            \
    { "tpm2", no_argument, NULL, DAEMON_OPT_TPM2 },                        \
    { "tpmstate", required_argument, NULL, DAEMON_OPT_TPMSTATE }

#define DAEMON_GETOPT_BAD (-2)

/*
 * getopt_long() that stores the shared options in c itself: returns the
 * next option that is the front end's own (or '?', as getopt does), -1 at
 * the end, or DAEMON_GETOPT_BAD for a bad value of a shared option with
 * the message in err.
 */
int daemon_getopt(int argc, char **argv, const char *shortopts,
                  const struct option *longopts, struct daemon_cfg *c,
                  char *err, size_t errlen);

/*
 * Print the --help lines of the shared options.  cuse selects the
 * wording where the two daemons differ (when --runas, --chroot and --pid
 * take effect: swtpm_cuse after creating the device, swtpm first).
 */
void daemon_usage(FILE *f, bool cuse);

/*
 * Parse every stored group into c (TPM_PATH when --tpmstate is absent),
 * --pcap, and check --log's syntax.  Returns 0 or -EINVAL with a message
 * in err.
 */
int daemon_apply_opts(struct daemon_cfg *c, char *err, size_t errlen);

/*
 * Parse --log into out (the caller frees it with subopts_free) and its
 * level (default 1).  0 or -EINVAL with a message in err.
 */
int daemon_parse_log(const char *s, struct subopts *out,
                     unsigned long *level, char *err, size_t errlen);

#endif
