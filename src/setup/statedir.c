// SPDX-License-Identifier: BSD-3-Clause
/*
 * swtpm_setup's view of the state directory (docs/setup-and-bios.md §2
 * steps 4-6, docs/state.md §9): access checks that name the user and the
 * missing permission, the existing-state decision, locking, and moving a
 * finished state into place.
 */
#include "statedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "toolenv.h"

/* Which of read/write/search on path the current user lacks. */
static const char *
missing_perm(const char *path, bool need_x)
{
    if (access(path, R_OK) < 0) {
        return "read";
    }
    if (access(path, W_OK) < 0) {
        return "write";
    }
    if (need_x && access(path, X_OK) < 0) {
        return "search (execute)";
    }
    return NULL;
}

/* Step 4: the state directory must exist and be usable by us. */
static int
check_dir_access(const char *what, const char *path)
{
    char who[128], lock[SETUP_PATH_MAX];
    struct stat sb;
    const char *perm;

    effective_user(who, sizeof(who));
    if (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        log_err("%s '%s' does not exist or is not a directory; create it "
                "first (and make it writable by %s)", what, path, who);
        return -ENOENT;
    }
    perm = missing_perm(path, true);
    if (perm) {
        log_err("%s '%s' is not usable: %s lacks %s permission on it",
                what, path, who, perm);
        return -EACCES;
    }
    snprintf(lock, sizeof(lock), "%s/.lock", path);
    if (strcmp(what, "TPM state directory") == 0 &&
        access(lock, F_OK) == 0 && (perm = missing_perm(lock, false))) {
        log_err("lock file '%s' is not usable: %s lacks %s permission on "
                "it", lock, who, perm);
        return -EACCES;
    }
    return 0;
}

/* Remove a flat temporary directory and everything in it. */
void
statedir_remove_temp(int parent_fd, const char *name)
{
    DIR *d;
    struct dirent *e;
    int fd = openat(parent_fd, name, O_DIRECTORY | O_RDONLY | O_NOFOLLOW |
                    O_CLOEXEC);

    if (fd >= 0 && (d = fdopendir(fd)) != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                unlinkat(dirfd(d), e->d_name, 0);
            }
        }
        closedir(d);
    } else if (fd >= 0) {
        close(fd);
    }
    unlinkat(parent_fd, name, AT_REMOVEDIR);
}

/*
 * Temporary directories of runs that were killed: whoever made them held
 * the lock we hold now, so nobody uses them any more.
 */
static void
remove_stale_temps(int dir_fd)
{
    char names[16][NAME_MAX + 1];
    size_t n = 0;
    struct dirent *e;
    DIR *d;
    int fd = dup(dir_fd);

    if (fd < 0 || !(d = fdopendir(fd))) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    rewinddir(d);
    while ((e = readdir(d)) != NULL && n < 16) {
        if (strncmp(e->d_name, STATEDIR_TEMP_PREFIX,
                    strlen(STATEDIR_TEMP_PREFIX)) == 0) {
            snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
        }
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        statedir_remove_temp(dir_fd, names[i]);
    }
}

/* Step 6: what to do about an existing state. */
static int
check_existing(const struct opts *o, struct state_store *real,
               bool *out_exit0)
{
    *out_exit0 = false;
    if (o->reconfigure) {
        if (state_size(real, state_obj_names[STATE_OBJ_PERMALL]) < 0) {
            log_err("there is no TPM 2 state to reconfigure in '%s'",
                    state_path(real));
            return -ENOENT;
        }
        return 0;
    }
    if (state_size(real, state_obj_names[STATE_OBJ_PERMALL]) >= 0) {
        if (o->not_overwrite) {
            say("Not overwriting existing state file.");
            *out_exit0 = true;
            return 0;
        }
        if (!o->overwrite) {
            log_err("Found existing TPM state 'permall'. Use --overwrite to "
                    "replace it or --not-overwrite to keep it.");
            return -EEXIST;
        }
    }
    return 0;
}

/* Steps 4-6: open and check the state directory. */
int
statedir_open(const struct opts *o, struct state_store *real, bool *out_exit0)
{
    const char *path = o->state_path;
    char err[600];
    int r;

    *out_exit0 = false;
    if (state_file_uri_path(path)) {
        /* state_open() checks the file (or block device) and header. */
        r = o->ek_cert_dir ? check_dir_access("EK certificate directory",
                                              o->ek_cert_dir) : 0;
        if (r == 0) {
            r = state_open(real, path, o->tpm2, 0640, false, false, err,
                           sizeof(err));
            if (r < 0) {
                log_err("%s", err);
            }
        }
        return r < 0 ? r : check_existing(o, real, out_exit0);
    }
    if (strncmp(path, "dir://", 6) == 0) {
        path += 6;
    }
    r = check_dir_access("TPM state directory", path);
    if (r == 0 && o->ek_cert_dir) {
        r = check_dir_access("EK certificate directory", o->ek_cert_dir);
    }
    if (r < 0) {
        return r;
    }
    r = state_open(real, path, o->tpm2, 0640, false, false, err,
                   sizeof(err));
    if (r < 0) {
        log_err("%s", err);
        return r;
    }
    return check_existing(o, real, out_exit0);
}

/* How long a run waits for other swtpm_setup runs on the same state. */
#define SETUP_LOCK_WAIT_MS 120000
#define HOLDER_SETTLE_MS 500

/* Whether pid is a swtpm_setup (ours or Debian's): its run ends soon. */
static bool
holder_is_setup(pid_t pid)
{
    char path[64], comm[32] = "";
    ssize_t n;
    int fd;

    if (pid <= 0) {
        return false;
    }
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    n = read(fd, comm, sizeof(comm) - 1);
    close(fd);
    return n > 0 && strncmp(comm, "swtpm_setup\n", 12) == 0;
}

/*
 * Take the state's lock.  Another swtpm_setup holding it is waited for
 * (concurrent `--not-overwrite` runs then all succeed, as upstream's,
 * which lock only while their swtpm runs), up to SETUP_LOCK_WAIT_MS; an
 * emulator holding it is a TPM in use, refused.  A new holder writes its
 * pid just after it locks, so until then the lock file names nobody or
 * the last holder: a holder that is not a swtpm_setup is believed only
 * when it stays so for HOLDER_SETTLE_MS.
 */
static int
lock_waiting_for_setups(struct state_store *real, pid_t *holder)
{
    const struct timespec delay = { 0, 20 * 1000 * 1000 };
    unsigned int waited_ms = 0, other_ms = 0;
    int r;

    for (;;) {
        *holder = 0;
        r = state_lock(real, holder);
        if (r != -EAGAIN || waited_ms >= SETUP_LOCK_WAIT_MS) {
            return r;
        }
        other_ms = holder_is_setup(*holder) ? 0 : other_ms + 20;
        if (other_ms > HOLDER_SETTLE_MS) {
            return r;
        }
        nanosleep(&delay, NULL);
        waited_ms += 20;
    }
}

int
statedir_lock(const struct opts *o, struct state_store *real, bool *out_exit0)
{
    pid_t holder = 0;
    int r;

    r = lock_waiting_for_setups(real, &holder);
    if (r == -EAGAIN && holder_is_setup(holder)) {
        log_err("TPM state %s '%s' is still being set up by swtpm_setup "
                "(process %d) after %d s; stop that run or try again",
                state_kind(real), state_path(real),
                (int)holder, SETUP_LOCK_WAIT_MS / 1000);
    } else if (r == -EAGAIN && holder > 0) {
        log_err("TPM state %s '%s' is in use by process %d; stop that TPM "
                "emulator first", state_kind(real),
                state_path(real), (int)holder);
    } else if (r == -EAGAIN) {
        log_err("TPM state %s '%s' is in use by another process; stop "
                "that TPM emulator first",
                state_kind(real), state_path(real));
    } else if (r < 0) {
        log_errno(-r, "cannot create or open the lock file in TPM state "
                  "directory '%s'", state_path(real));
    }
    if (r < 0) {
        return -EBUSY;
    }
    if (!state_is_file(real)) {
        remove_stale_temps(state_fd(real));
    }
    return check_existing(o, real, out_exit0);
}
