// SPDX-License-Identifier: BSD-3-Clause
/*
 * Replacing one TPM's state by another's in a state directory as one
 * transaction (docs/state.md §7.5): the new files are staged beside the
 * old ones under NEW[2]-00.* names, one renamed commit record decides the
 * replacement, and the roll forward that follows retires every generation
 * of the old TPM.  Whoever takes the lock next finishes a roll forward
 * left half done, or removes staged files that were never committed.
 */
#include "state_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "fdio.h"
#include "journal.h"
#include "log.h"
#include "statesum.h"

#define NAME_MAX_ 96
#define COMMIT_NAME "commit"
#define COMMIT_TEXT "swtpm state replacement, committed\n"

/*
 * What a replacement brings, permall last: the main file is the last of
 * the old TPM's files to change hands.  The sidecar is staged as well
 * (a new TPM starts with its own), the generations only retired.
 */
static const char *const carried[] = {
    "volatilestate", "savestate", "permall.sum", "permall",
};
static const char *const retired[] = {
    "permall.bak", "permall.damaged", "permall.journal",
};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int
unlink_name(const struct state_store *st, enum state_prefix pfx,
            const char *name)
{
    char f[NAME_MAX_];
    int r = state_fname(st, pfx, name, "", f, sizeof(f));

    if (r == 0 && unlinkat(st->dir_fd, f, 0) < 0 && errno != ENOENT) {
        r = -errno;
    }
    return r;
}

static int
sync_dir(const struct state_store *st)
{
    return fsync(st->dir_fd) < 0 ? -errno : 0;
}

bool
state_replace_pending(const struct state_store *st)
{
    char f[NAME_MAX_];
    struct stat sb;

    return state_fname(st, STATE_PFX_NEW, COMMIT_NAME, "", f,
                       sizeof(f)) == 0 &&
           fstatat(st->dir_fd, f, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

/*
 * Give the real name of name the staged file's inode (nothing to do if it
 * has it already), or, with nothing staged, remove it.
 */
static int
carry_one(const struct state_store *st, const char *name)
{
    char nf[NAME_MAX_], mf[NAME_MAX_], tf[NAME_MAX_];
    struct stat ns, ms;
    int r;

    r = state_fname(st, STATE_PFX_NEW, name, "", nf, sizeof(nf));
    if (r == 0) {
        r = state_fname(st, STATE_PFX_MAIN, name, "", mf, sizeof(mf));
    }
    if (r == 0) {
        r = state_fname(st, STATE_PFX_TMP, name, "", tf, sizeof(tf));
    }
    if (r < 0) {
        return r;
    }
    if (fstatat(st->dir_fd, nf, &ns, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno != ENOENT) {
            return -errno;
        }
        /* The new TPM has none: the old one's goes. */
        return unlink_name(st, STATE_PFX_MAIN, name);
    }
    if (fstatat(st->dir_fd, mf, &ms, AT_SYMLINK_NOFOLLOW) == 0 &&
        ms.st_ino == ns.st_ino && ms.st_dev == ns.st_dev) {
        return 0;
    }
    /* A hard link, so the staged name stays until the end: a roll
     * forward run again after a crash sees the whole new set. */
    r = journal_clear_tmp(st->dir_fd, tf);
    if (r == 0 && linkat(st->dir_fd, nf, st->dir_fd, tf, 0) < 0) {
        r = -errno;
    }
    if (r == 0 && renameat(st->dir_fd, tf, st->dir_fd, mf) < 0) {
        r = -errno;
        unlinkat(st->dir_fd, tf, 0);
    }
    return r;
}

/*
 * After the commit point: make the real names the new TPM's, flush, then
 * remove the commit record (the end of the transaction) and the staged
 * names.  Each step can be repeated after a crash with the same result.
 */
static int
roll_forward(const struct state_store *st)
{
    int r = 0;

    for (size_t i = 0; r == 0 && i < N_OF(retired); i++) {
        r = unlink_name(st, STATE_PFX_MAIN, retired[i]);
    }
    for (size_t i = 0; r == 0 && i < N_OF(carried); i++) {
        r = carry_one(st, carried[i]);
    }
    if (r == 0) {
        r = sync_dir(st);
    }
    if (r == 0) {
        r = unlink_name(st, STATE_PFX_NEW, COMMIT_NAME);
    }
    if (r == 0) {
        r = sync_dir(st);
    }
    /* Staged names without a commit record are leftovers: no flush. */
    for (size_t i = 0; r == 0 && i < N_OF(carried); i++) {
        unlink_name(st, STATE_PFX_NEW, carried[i]);
    }
    return r;
}

/* Remove staged and temp names; *out_any: there was a staged permall. */
static void
drop_staged(const struct state_store *st, bool *out_any)
{
    char f[NAME_MAX_];
    struct stat sb;

    *out_any = state_fname(st, STATE_PFX_NEW, "permall", "", f,
                           sizeof(f)) == 0 &&
               fstatat(st->dir_fd, f, &sb, AT_SYMLINK_NOFOLLOW) == 0;
    /* Temp names too: nobody writes while we hold the lock. */
    for (size_t i = 0; i < N_OF(carried); i++) {
        unlink_name(st, STATE_PFX_NEW, carried[i]);
        unlink_name(st, STATE_PFX_TMP, carried[i]);
    }
    unlink_name(st, STATE_PFX_TMP, COMMIT_NAME);
}

/* A staged permall that is not the main file: never committed. */
static bool
staged_is_uncommitted(const struct state_store *st)
{
    char nf[NAME_MAX_], mf[NAME_MAX_];
    struct stat ns, ms;

    if (state_fname(st, STATE_PFX_NEW, "permall", "", nf, sizeof(nf)) < 0 ||
        state_fname(st, STATE_PFX_MAIN, "permall", "", mf, sizeof(mf)) < 0 ||
        fstatat(st->dir_fd, nf, &ns, AT_SYMLINK_NOFOLLOW) < 0) {
        return false;
    }
    return fstatat(st->dir_fd, mf, &ms, AT_SYMLINK_NOFOLLOW) < 0 ||
           ms.st_ino != ns.st_ino;
}

int
state_replace_recover(struct state_store *st)
{
    char nf[NAME_MAX_];
    struct stat sb;
    bool any;
    int r;

    if (state_replace_pending(st)) {
        r = state_fname(st, STATE_PFX_NEW, "permall", "", nf, sizeof(nf));
        if (r == 0 && fstatat(st->dir_fd, nf, &sb,
                              AT_SYMLINK_NOFOLLOW) < 0) {
            /* No crash leaves this (the staged files outlive the record):
             * keep what is there rather than retire it for nothing. */
            log_warn("'%s' holds a commit record of a TPM state "
                     "replacement without its new state file; removed the "
                     "record and kept the state as it is", st->path);
            return unlink_name(st, STATE_PFX_NEW, COMMIT_NAME);
        }
        state_jnl_forget(st);
        r = roll_forward(st);
        if (r < 0) {
            log_debug("cannot finish the replacement in '%s': %s",
                      st->path, strerror(-r));
            return r;
        }
        log_warn("completed the replacement of the TPM state in '%s' that "
                 "an interrupted swtpm_setup had committed; the previous "
                 "TPM's files are retired", st->path);
        return 0;
    }
    if (staged_is_uncommitted(st)) {
        log_warn("removed the new TPM state an interrupted swtpm_setup "
                 "left uncommitted in '%s'; the previous state there is "
                 "unchanged", st->path);
    }
    drop_staged(st, &any);
    return 0;
}

/* Read the whole regular file fd (a staged permall) and hash it. */
static int
hash_fd(int fd, uint8_t sum[CRYPTO_SHA256_LEN])
{
    struct stat sb;
    uint8_t *buf;
    ssize_t n;
    int r;

    if (fstat(fd, &sb) < 0) {
        return -errno;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size > 16 * 1024 * 1024) {
        return -EINVAL;
    }
    buf = malloc(sb.st_size ? (size_t)sb.st_size : 1);
    if (!buf) {
        return -ENOMEM;
    }
    n = fd_read_full(fd, buf, (size_t)sb.st_size);
    r = n < 0 ? (int)n : crypto_sha256(buf, (size_t)n, sum);
    explicit_bzero(buf, (size_t)sb.st_size);
    free(buf);
    return r;
}

/*
 * The identity of the staged sidecar: for the same TPM (reconfigured) the
 * one its sidecar records, else (or with no readable sidecar) a new one.
 */
static int
staged_id(const struct state_store *st, bool same_tpm,
          uint8_t id[STATESUM_ID_LEN])
{
    char mf[NAME_MAX_];
    struct statesum old;

    if (same_tpm &&
        state_fname(st, STATE_PFX_MAIN, "permall.sum", "", mf,
                    sizeof(mf)) == 0 &&
        statesum_read(st->dir_fd, mf, &old) == 0) {
        memcpy(id, old.id, STATESUM_ID_LEN);
        return 0;
    }
    return crypto_random(id, STATESUM_ID_LEN);
}

/* The new TPM's sidecar (docs/state.md §7.4): its identity, no .bak. */
static int
stage_sum(const struct state_store *st, bool same_tpm)
{
    char nf[NAME_MAX_], sf[NAME_MAX_], tf[NAME_MAX_];
    struct statesum s = { .has_bak = false };
    int fd, r;

    r = state_fname(st, STATE_PFX_NEW, "permall", "", nf, sizeof(nf));
    if (r == 0) {
        r = state_fname(st, STATE_PFX_NEW, "permall.sum", "", sf,
                        sizeof(sf));
    }
    if (r == 0) {
        r = state_fname(st, STATE_PFX_TMP, "permall.sum", "", tf,
                        sizeof(tf));
    }
    if (r < 0) {
        return r;
    }
    fd = openat(st->dir_fd, nf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    r = hash_fd(fd, s.main);
    if (r == 0) {
        r = statesum_set_file(&s, fd);
    }
    close(fd);
    if (r == 0) {
        r = staged_id(st, same_tpm, s.id);
    }
    return r < 0 ? r : statesum_write(st->dir_fd, sf, tf, st->mode,
                                      st->mode_explicit, &s);
}

/* Write and flush the commit record under its temp name. */
static int
write_commit_tmp(const struct state_store *st, const char *tf)
{
    int fd, r;

    r = journal_clear_tmp(st->dir_fd, tf);
    if (r < 0) {
        return r;
    }
    fd = openat(st->dir_fd, tf,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    r = fd_write_full(fd, (const uint8_t *)COMMIT_TEXT,
                      strlen(COMMIT_TEXT));
    if (r == 0 && fsync(fd) < 0) {
        r = -errno;
    }
    if (close(fd) < 0 && r == 0) {
        r = -errno;
    }
    return r;
}

/* The commit point: the record renamed into place (flushed by the caller). */
static int
commit(const struct state_store *st)
{
    char tf[NAME_MAX_], cf[NAME_MAX_];
    int r;

    r = state_fname(st, STATE_PFX_TMP, COMMIT_NAME, "", tf, sizeof(tf));
    if (r == 0) {
        r = state_fname(st, STATE_PFX_NEW, COMMIT_NAME, "", cf, sizeof(cf));
    }
    if (r == 0) {
        r = write_commit_tmp(st, tf);
    }
    if (r == 0 && renameat(st->dir_fd, tf, st->dir_fd, cf) < 0) {
        r = -errno;
    }
    if (r < 0) {
        unlinkat(st->dir_fd, tf, 0);
    }
    return r;
}

/* Move from's flushed objects to the staged names (same file system). */
static int
stage(const struct state_store *st, const struct state_store *from,
      bool same_tpm)
{
    char ff[NAME_MAX_], nf[NAME_MAX_];
    int r = 0;

    for (size_t i = 0; r == 0 && i < STATE_OBJS; i++) {
        r = state_fname(from, STATE_PFX_MAIN, state_obj_names[i], "", ff,
                        sizeof(ff));
        if (r == 0) {
            r = state_fname(st, STATE_PFX_NEW, state_obj_names[i], "", nf,
                            sizeof(nf));
        }
        if (r == 0 && renameat(from->dir_fd, ff, st->dir_fd, nf) < 0 &&
            errno != ENOENT) {
            r = -errno;
        }
    }
    if (r == 0) {
        r = stage_sum(st, same_tpm);
    }
    return r < 0 ? r : sync_dir(st);
}

int
state_replace_dir(struct state_store *st, const struct state_store *from,
                  bool same_tpm)
{
    bool any;
    int r;

    /* An earlier replacement finishes first; stale staged files go. */
    r = state_replace_recover(st);
    if (r < 0) {
        return r;
    }
    drop_staged(st, &any);
    r = stage(st, from, same_tpm);
    if (r == 0) {
        r = commit(st);
    }
    if (r < 0) {
        /* Before the commit point: the old TPM stays as it was. */
        drop_staged(st, &any);
        return r;
    }
    /* Committed: from here on a failure is finished by the next holder
     * of the lock (state_replace_recover()). */
    state_jnl_forget(st);
    r = sync_dir(st);
    return r < 0 ? r : roll_forward(st);
}

/* Does name end in an object name (upstream's test for a state file)? */
static bool
is_state_name(const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < STATE_OBJS; i++) {
        size_t s = strlen(state_obj_names[i]);

        if (n >= s && strcmp(name + n - s, state_obj_names[i]) == 0) {
            return true;
        }
    }
    return false;
}

int
state_remove_others(struct state_store *st)
{
    char mine[NAME_MAX_];
    DIR *d;
    struct dirent *e;
    int fd, r;

    if (!state_backend_of(st)->generations) {
        return 0;   /* a file:// state is one TPM's objects only */
    }
    r = state_fname(st, STATE_PFX_MAIN, "", "", mine, sizeof(mine));
    if (r < 0) {
        return r;
    }
    fd = dup(st->dir_fd);
    if (fd < 0 || !(d = fdopendir(fd))) {
        r = -errno;
        if (fd >= 0) {
            close(fd);
        }
        return r;
    }
    rewinddir(d);
    while ((e = readdir(d)) != NULL) {
        if (!is_state_name(e->d_name) ||
            strncmp(e->d_name, mine, strlen(mine)) == 0) {
            continue;
        }
        if (unlinkat(st->dir_fd, e->d_name, 0) < 0 && errno != ENOENT) {
            r = -errno;
            break;
        }
    }
    closedir(d);
    return r;
}
