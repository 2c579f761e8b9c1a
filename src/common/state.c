// SPDX-License-Identifier: BSD-3-Clause
/*
 * The state store's API, which calls the backend a store was opened with
 * through its table (struct state_backend, state_dir.h): the directory
 * backend here (upstream file names, atomic and durable writes relative
 * to one directory fd, the .lock file lock; docs/state.md §2.1, §6, §7)
 * or the linear file backend (state_file.c).  permall's journal policy is
 * state_jnl.c's, the replace transaction state_replace.c's.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE    /* F_OFD_SETLK */
#endif
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "ctrl_wire.h"
#include "fdio.h"
#include "log.h"
#include "state_dir.h"
#include "state_file.h"
#include "stateobj.h"
#include "statesum.h"

#define LOCK_NAME ".lock"
#define NFS_SUPER_MAGIC_ 0x6969     /* <linux/magic.h>'s NFS_SUPER_MAGIC */
/* Upstream: path length + 20 must fit in FILENAME_MAX (docs/state.md §2.1). */
#define STATE_PATH_MAX (4096 - 20)

const char *const state_obj_names[STATE_OBJS] = {
    [STATE_OBJ_PERMALL] = "permall",
    [STATE_OBJ_VOLATILE] = "volatilestate",
    [STATE_OBJ_SAVESTATE] = "savestate",
};

const char *
state_file_uri_path(const char *uri)
{
    size_t n = strlen(STATE_FILE_URI);

    return strncmp(uri, STATE_FILE_URI, n) == 0 ? uri + n : NULL;
}

int
state_fname(const struct state_store *st, enum state_prefix pfx,
            const char *name, const char *suffix, char *buf, size_t len)
{
    static const char *const prefixes[][2] = {
        [STATE_PFX_MAIN] = { "tpm", "tpm2" },
        [STATE_PFX_TMP] = { "TMP", "TMP2" },
        [STATE_PFX_NEW] = { "NEW", "NEW2" },
    };
    int n;

    if (!name || strchr(name, '/')) {
        return -EINVAL;
    }
    /* "00" is the TPM number, always 0. */
    n = snprintf(buf, len, "%s-00.%s%s", prefixes[pfx][st->tpm2], name,
                 suffix);
    if (n < 0 || (size_t)n >= len) {
        return -ENAMETOOLONG;
    }
    return 0;
}

static int
obj_name(const struct state_store *st, const char *name, bool tmp,
         char *buf, size_t len)
{
    if (!name || !*name) {
        return -EINVAL;
    }
    return state_fname(st, tmp ? STATE_PFX_TMP : STATE_PFX_MAIN, name, "",
                       buf, len);
}

static int write_atomic(const struct state_store *st, const char *tmp,
                        const char *fname, const uint8_t *obj, uint32_t len);
#define backend(st) state_backend_of(st)

/* A key left uninitialised by the caller must not reach the crypto. */
const struct state_key *
state_store_key(const struct state_store *st, int *r)
{
    if (st->filekey.len == 0) {
        *r = 0;
        return NULL;
    }
    *r = (st->filekey.len == 16 || st->filekey.len == 32) ? 0 : -EINVAL;
    return &st->filekey;
}

static int
open_error(const char *path, int e, char *err, size_t errlen)
{
    const char *fix;

    switch (e) {
    case ENOENT:
        fix = "create it and make it writable by the user swtpm runs as";
        break;
    case ENOTDIR:
        fix = "the path must name a directory";
        break;
    default:
        fix = "make it accessible and writable by the user swtpm runs as";
        break;
    }
    snprintf(err, errlen, "cannot open state directory '%s': %s; %s", path,
             strerror(e), fix);
    return -e;
}

static bool
is_on_nfs(int fd)
{
    struct statfs sfs;

    return fstatfs(fd, &sfs) == 0 && sfs.f_type == NFS_SUPER_MAGIC_;
}

/* A closed store: no descriptors, no key, an empty journal. */
static void
store_init(struct state_store *st, bool tpm2, mode_t mode,
           bool mode_explicit)
{
    st->dir_fd = -1;
    st->lock_fd = -1;
    st->lock_remote = false;
    st->file_fd = -1;
    st->file_alias_fd = -1;
    st->is_file = false;
    st->file_is_blk = false;
    st->why = NULL;
    st->tpm2 = tpm2;
    st->mode = mode & 0777;
    st->mode_explicit = mode_explicit;
    st->defer_sync = false;
    st->replace_checked = false;
    st->fallback_logged = false;
    /* No key until state_set_filekey(). */
    explicit_bzero(&st->filekey, sizeof(st->filekey));
    memset(&st->jnl, 0, sizeof(st->jnl));
    journal_init(&st->jnl);
    memset(&st->jb, 0, sizeof(st->jb));
    st->path[0] = '\0';
}

struct state_store *
state_new(void)
{
    struct state_store *st = calloc(1, sizeof(*st));

    if (st) {
        store_init(st, false, 0640, false);
    }
    return st;
}

void
state_free(struct state_store *st)
{
    if (!st) {
        return;
    }
    state_close(st);
    explicit_bzero(st, sizeof(*st));
    free(st);
}

int
state_open(struct state_store *st, const char *path, bool tpm2,
           mode_t mode, bool mode_explicit, bool create,
           char *err, size_t errlen)
{
    store_init(st, tpm2, mode, mode_explicit);
    if (state_file_uri_path(path)) {
        path = state_file_uri_path(path);
        st->is_file = true;
    }
    if (strlen(path) > STATE_PATH_MAX) {
        snprintf(err, errlen, "state directory path '%.64s...' is too long; "
                 "use a path of at most %d bytes", path, STATE_PATH_MAX);
        return -ENAMETOOLONG;
    }
    snprintf(st->path, sizeof(st->path), "%s", path);
    return backend(st)->open(st, path, create, err, errlen);
}

static int
dir_open(struct state_store *st, const char *path, bool create, char *err,
         size_t errlen)
{
    int fd;

    if (create && mkdir(path, 0775) < 0 && errno != EEXIST) {
        fd = errno;
        snprintf(err, errlen, "cannot create state directory '%s': %s; "
                 "create it and make it writable by the user swtpm runs as",
                 path, strerror(fd));
        return -fd;
    }
    fd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return open_error(path, errno, err, errlen);
    }
    st->dir_fd = fd;
    /* Here, before any seccomp filter: it has no fstatfs. */
    st->lock_remote = is_on_nfs(fd);
    return 0;
}

void
state_close(struct state_store *st)
{
    state_checkpoint(st);
    state_jnl_forget(st);
    state_unlock(st);
    backend(st)->close(st);
    key_wipe(&st->filekey);
}

static void
dir_close(struct state_store *st)
{
    if (st->dir_fd >= 0) {
        close(st->dir_fd);
        st->dir_fd = -1;
    }
}

void
state_set_tpm2(struct state_store *st, bool tpm2)
{
    st->tpm2 = tpm2;
}

void
state_move(struct state_store *to, struct state_store *from)
{
    *to = *from;
    if (from->why == from->why_buf) {
        to->why = to->why_buf;
    }
    explicit_bzero(from, sizeof(*from));
    from->dir_fd = -1;
    from->lock_fd = -1;
    from->file_fd = -1;
    from->file_alias_fd = -1;
    journal_init(&from->jnl);
}

const char *
state_path(const struct state_store *st)
{
    return st->path;
}

const char *
state_why(const struct state_store *st)
{
    return st->why;
}

void
state_clear_why(struct state_store *st)
{
    st->why = NULL;
}

bool
state_is_file(const struct state_store *st)
{
    return st->is_file;
}

int
state_fd(const struct state_store *st)
{
    return backend(st)->fd(st);
}

const struct state_key *
state_filekey(const struct state_store *st)
{
    return &st->filekey;
}

void
state_set_filekey(struct state_store *st, const struct state_key *key)
{
    key_wipe(&st->filekey);
    st->filekey = *key;
}

void
state_set_scratch(struct state_store *st)
{
    st->defer_sync = true;
}

bool
state_is_scratch(const struct state_store *st)
{
    return st->defer_sync;
}

void
state_new_start(struct state_store *st)
{
    st->fallback_logged = false;
}

/*
 * Before the first access to a directory's files: finish a replacement an
 * interrupted swtpm_setup left (state_replace_recover()), under the lock.
 * Not holding it (lock=false; an incoming migration before its first
 * write), only a committed replacement matters: it is finished under the
 * lock taken just for this, and refused while another process holds the
 * lock (a swtpm_setup in the middle of it).  0, or a negative errno with
 * st->why set: the state must not be used half replaced.
 */
static int
replace_check(struct state_store *st)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    int fd, r;

    if (!backend(st)->generations || st->defer_sync ||
        st->replace_checked || st->dir_fd < 0) {
        return 0;
    }
    fd = st->lock_fd;
    if (fd < 0 && !state_replace_pending(st)) {
        /* Nothing committed: what is staged is no reader's business. */
        st->replace_checked = true;
        return 0;
    }
    if (fd < 0) {
        fd = openat(st->dir_fd, LOCK_NAME, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) < 0) {
            r = fd < 0 ? -errno : -EBUSY;
            if (fd >= 0) {
                close(fd);
            }
            snprintf(st->why_buf, sizeof(st->why_buf), "the TPM state in "
                     "'%s' is being replaced (a swtpm_setup holds its lock "
                     "or left its swap half done): %s; let it finish, or "
                     "start with the lock so that the swap is completed",
                     st->path, strerror(-r));
            st->why = st->why_buf;
            return r;
        }
    }
    r = state_replace_recover(st);
    if (fd != st->lock_fd) {
        close(fd);
    }
    if (r < 0) {
        snprintf(st->why_buf, sizeof(st->why_buf), "cannot finish the "
                 "replacement of the TPM state in '%s' that an interrupted "
                 "swtpm_setup committed: %s; make the directory writable, "
                 "or run swtpm_setup --overwrite again", st->path,
                 strerror(-r));
        st->why = st->why_buf;
        return r;
    }
    st->replace_checked = true;
    return 0;
}

/*
 * Put our pid at the start of the lock file, written over the last
 * holder's and, with cut, then cut to its length (so a waiter never reads
 * none); on NFS also flush it, so it reaches the server now rather than
 * at close (a waiter on another host can name the holder, and
 * state_lock_check() learns whether the lock still holds).  0 or -errno.
 */
static int
lock_put_pid(const struct state_store *st, int fd, bool cut)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%ld", (long)getpid());
    ssize_t w = pwrite(fd, buf, (size_t)n, 0);

    if (w != n) {
        return w < 0 ? -errno : -EIO;
    }
    if (cut && ftruncate(fd, n) < 0) {
        return -errno;
    }
    return st->lock_remote && fdatasync(fd) < 0 ? -errno : 0;
}

/* Record our pid in the lock file (informational only). */
static void
lock_write_pid(const struct state_store *st, int fd)
{
    if (lock_put_pid(st, fd, true) < 0) {
        log_debug("cannot write pid to lock file");
    }
}

/* Who holds the lock: a classic-lock holder's pid, else the file's. */
static pid_t
lock_holder(int fd)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    char buf[24];
    ssize_t n;
    long v;
    char *end;

    if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK &&
        fl.l_pid > 0) {
        return fl.l_pid;
    }
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    errno = 0;
    v = strtol(buf, &end, 10);
    if (errno || end == buf || v <= 0 || (pid_t)v != v) {
        return 0;
    }
    return (pid_t)v;
}

int
state_lock_check(struct state_store *st)
{
    return backend(st)->lock_check(st);
}

static int
dir_lock_check(struct state_store *st)
{
    if (st->lock_fd < 0 || !st->lock_remote) {
        return 0;
    }
    return lock_put_pid(st, st->lock_fd, false);
}

int
state_lock(struct state_store *st, pid_t *out_holder)
{
    return backend(st)->lock(st, out_holder);
}

static int
dir_lock(struct state_store *st, pid_t *out_holder)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    int fd, r;

    if (st->lock_fd >= 0) {
        return 0;
    }
    /* No O_TRUNC: the holder's pid must survive until we own the lock. */
    fd = openat(st->dir_fd, LOCK_NAME,
                O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660);
    if (fd < 0) {
        r = -errno;
        log_debug("cannot open lock file in '%s'", st->path);
        return r;
    }
    /* OFD lock: owned by the open file, so it survives fork(). */
    if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
        if (errno != EAGAIN && errno != EACCES) {
            r = -errno;
            goto fail;
        }
        *out_holder = lock_holder(fd);
        r = -EAGAIN;
        goto fail;
    }
    lock_write_pid(st, fd);
    st->lock_fd = fd;
    /* Another holder may have replaced the TPM meanwhile; a failure is
     * reported by the first load or store, which tries again. */
    st->replace_checked = false;
    replace_check(st);
    return 0;
fail:
    close(fd);
    return r;
}

void
state_unlock(struct state_store *st)
{
    backend(st)->unlock(st);
}

static void
dir_unlock(struct state_store *st)
{
    if (st->lock_fd >= 0) {
        /* Whatever the journal holds goes to the main file while we still
         * own the directory; after that another writer may change both,
         * so our view of the journal is stale and must be dropped. */
        state_checkpoint(st);
        state_jnl_forget(st);
        close(st->lock_fd);
        st->lock_fd = -1;
        st->replace_checked = false;
    }
}

bool
state_is_locked(const struct state_store *st)
{
    return st->lock_fd >= 0;
}

const char *
state_kind(const struct state_store *st)
{
    return backend(st)->kind;
}

/* Repair the mode of an existing file on load (docs/state.md §7.2). */
static void
fix_mode(const struct state_store *st, int fd, mode_t cur)
{
    mode_t want = cur & 07777;

    if (st->mode_explicit) {
        want = st->mode;
    } else {
        want |= S_IWUSR;
    }
    if (want != (cur & 07777) && fchmod(fd, want) < 0) {
        log_debug("cannot change mode of a state file in '%s'", st->path);
    }
}

/* Read the whole regular file fname (at most STATEOBJ_MAX_LEN bytes). */
int
state_dir_read(const struct state_store *st, const char *fname,
               uint8_t **out, uint32_t *out_len)
{
    struct stat sb;
    uint8_t *buf = NULL;
    ssize_t n;
    int fd, r;

    /* O_NONBLOCK: a FIFO planted under a state name must not hang us in
     * open(); only a regular file is read. */
    fd = openat(st->dir_fd, fname,
                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &sb) < 0) {
        r = -errno;
        goto out;
    }
    r = -EINVAL;
    if (!S_ISREG(sb.st_mode)) {
        goto out;
    }
    r = -EFBIG;
    if (sb.st_size > STATEOBJ_MAX_LEN) {
        goto out;
    }
    fix_mode(st, fd, sb.st_mode);
    r = -ENOMEM;
    buf = malloc(sb.st_size ? (size_t)sb.st_size : 1);
    if (!buf) {
        goto out;
    }
    n = fd_read_full(fd, buf, (size_t)sb.st_size);
    if (n < 0) {
        r = (int)n;
        goto out;
    }
    *out = buf;
    *out_len = (uint32_t)n;
    buf = NULL;
    r = 0;
out:
    free(buf);
    close(fd);
    return r;
}

int
state_load(struct state_store *st, const char *name,
           uint8_t **out, uint32_t *out_len, uint32_t *out_tpm_rc)
{
    const struct state_key *key;
    char fname[STATE_NAME_MAX];
    uint8_t *obj = NULL;
    uint32_t len = 0;
    int r;

    st->why = NULL;
    key = state_store_key(st, &r);
    if (r == 0) {
        r = obj_name(st, name, /* tmp= */ false, fname, sizeof(fname));
    }
    if (r == 0) {
        r = replace_check(st);
    }
    if (r < 0) {
        *out_tpm_rc = TPM_FAIL;
        return r;
    }
    if (state_jnl_covers(st, name)) {
        return state_jnl_load(st, key, fname, out, out_len, out_tpm_rc);
    }
    r = backend(st)->read(st, name, fname, &obj, &len);
    if (r < 0) {
        /* libtpms takes TPM_RETRY as "no such object: start fresh". */
        *out_tpm_rc = r == -ENOENT ? TPM_RETRY : TPM_FAIL;
        log_debug("cannot read state file '%s/%s': %s", st->path, fname,
                  strerror(-r));
        return r;
    }
    r = stateobj_decode(obj, len, key, out, out_len, out_tpm_rc);
    if (r < 0) {
        log_debug("cannot decode state file '%s/%s'", st->path, fname);
    }
    explicit_bzero(obj, len);
    free(obj);
    return r;
}

/*
 * Write obj to a new file tmp and make it durable; out_id (may be NULL)
 * gets the file's identity for a sidecar (statesum_set_file()).
 */
int
state_dir_write_tmp(const struct state_store *st, const char *tmp,
                    const uint8_t *obj, uint32_t len,
                    struct statesum *out_id)
{
    int fd, r;

    /* Whatever sits under the temp name (a stale temp file, or a FIFO
     * that would block open()) goes; O_EXCL then opens only a new file. */
    r = journal_clear_tmp(st->dir_fd, tmp);
    if (r < 0) {
        return r;
    }
    fd = openat(st->dir_fd, tmp,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                st->mode);
    if (fd < 0) {
        return -errno;
    }
    /* An explicit mode is applied exactly, whatever the umask. */
    r = 0;
    if (st->mode_explicit && fchmod(fd, st->mode) < 0) {
        r = -errno;
    }
    if (r == 0) {
        r = fd_write_full(fd, obj, len);
    }
    if (r == 0 && !st->defer_sync && fsync(fd) < 0) {
        r = -errno;
    }
    if (r == 0 && out_id) {
        r = statesum_set_file(out_id, fd);
    }
    if (close(fd) < 0 && r == 0) {
        r = -errno;
    }
    if (r < 0) {
        unlinkat(st->dir_fd, tmp, 0);
    }
    return r;
}

/* Rename the durable temp file tmp over fname and flush the directory. */
int
state_dir_commit_tmp(const struct state_store *st, const char *tmp,
                     const char *fname)
{
    if (renameat(st->dir_fd, tmp, st->dir_fd, fname) < 0) {
        int r = -errno;

        unlinkat(st->dir_fd, tmp, 0);
        return r;
    }
    if (!st->defer_sync && fsync(st->dir_fd) < 0) {
        return -errno;
    }
    return 0;
}

/* Write obj to tmp, make it durable, and rename it over fname. */
static int
write_atomic(const struct state_store *st, const char *tmp,
             const char *fname, const uint8_t *obj, uint32_t len)
{
    int r;

    r = state_dir_write_tmp(st, tmp, obj, len, NULL);
    return r < 0 ? r : state_dir_commit_tmp(st, tmp, fname);
}

int
state_sync(struct state_store *st)
{
    return backend(st)->sync(st);
}

static int
dir_sync(struct state_store *st)
{
    char fname[STATE_NAME_MAX];
    int fd, r;

    for (size_t i = 0; i < STATE_OBJS; i++) {
        r = obj_name(st, state_obj_names[i], /* tmp= */ false, fname,
                     sizeof(fname));
        if (r < 0) {
            return r;
        }
        fd = openat(st->dir_fd, fname,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT) {
                continue;
            }
            return -errno;
        }
        r = fsync(fd) < 0 ? -errno : 0;
        close(fd);
        if (r < 0) {
            return r;
        }
    }
    return fsync(st->dir_fd) < 0 ? -errno : 0;
}

int
state_save(struct state_store *st, const char *name,
           const uint8_t *raw, uint32_t len, uint32_t *out_tpm_rc)
{
    const struct state_key *key;
    char fname[STATE_NAME_MAX];
    uint8_t *obj = NULL;
    uint32_t olen = 0;
    int r;

    key = state_store_key(st, &r);
    if (r == 0) {
        r = obj_name(st, name, /* tmp= */ false, fname, sizeof(fname));
    }
    if (r == 0) {
        r = replace_check(st);
    }
    if (r == 0 && state_jnl_covers(st, name)) {
        r = state_jnl_save(st, key, fname, raw, len);
        if (r < 0) {
            *out_tpm_rc = TPM_FAIL;
        }
        return r;
    }
    if (r == 0) {
        r = stateobj_encode(raw, len, key, &obj, &olen);
    }
    if (r == 0) {
        r = backend(st)->write(st, name, fname, obj, olen);
    }
    if (obj) {
        explicit_bzero(obj, olen);
        free(obj);
    }
    if (r < 0) {
        *out_tpm_rc = TPM_FAIL;
    }
    return r;
}

int
state_delete(struct state_store *st, const char *name, bool must_exist)
{
    char fname[STATE_NAME_MAX];
    int r;

    r = obj_name(st, name, /* tmp= */ false, fname, sizeof(fname));
    if (r == 0) {
        r = replace_check(st);
    }
    if (r < 0) {
        return r;
    }
    if (state_jnl_covers(st, name)) {
        state_jnl_delete(st, fname);
    }
    r = backend(st)->remove(st, name, fname);
    return r == -ENOENT && !must_exist ? 0 : r;
}

/* Size of the directory's regular file fname, or -errno. */
static long
dir_size(struct state_store *st, const char *name, const char *fname)
{
    struct stat sb;

    (void)name;
    if (fstatat(st->dir_fd, fname, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
        return -errno;
    }
    if (!S_ISREG(sb.st_mode)) {
        return -EINVAL;
    }
    return (long)sb.st_size;
}

/* Size of object name's file plus suffix (a generation), or -errno. */
static long
size_of(struct state_store *st, const char *name, const char *suffix)
{
    char fname[STATE_NAME_MAX], full[STATE_NAME_MAX + 16];
    int r;

    r = obj_name(st, name, /* tmp= */ false, fname, sizeof(fname));
    if (r < 0) {
        return r;
    }
    if (!suffix[0]) {
        return backend(st)->size(st, name, fname);
    }
    if (!backend(st)->generations) {
        return -ENOENT;     /* none kept beside a file:// state */
    }
    snprintf(full, sizeof(full), "%s%s", fname, suffix);
    return dir_size(st, name, full);
}

long
state_size(struct state_store *st, const char *name)
{
    return size_of(st, name, "");
}

long
state_damaged_size(struct state_store *st, const char *name)
{
    return size_of(st, name, ".damaged");
}

static int
replace_from(struct state_store *st, struct state_store *from, bool same_tpm)
{
    int r;

    r = backend(st)->replace(st, from, same_tpm);
    if (r < 0) {
        log_debug("cannot replace the TPM state in '%s': %s", st->path,
                  strerror(-r));
    }
    return r;
}

int
state_replace_from(struct state_store *st, struct state_store *from)
{
    return replace_from(st, from, false);
}

int
state_reconfigure_from(struct state_store *st, struct state_store *from)
{
    return replace_from(st, from, true);
}

static int
dir_fd(const struct state_store *st)
{
    return st->dir_fd;
}

static int
dir_read(struct state_store *st, const char *name, const char *fname,
         uint8_t **out, uint32_t *out_len)
{
    (void)name;
    return state_dir_read(st, fname, out, out_len);
}

static int
dir_write(struct state_store *st, const char *name, const char *fname,
          const uint8_t *obj, uint32_t len)
{
    char tmp[STATE_NAME_MAX];
    int r;

    r = obj_name(st, name, /* tmp= */ true, tmp, sizeof(tmp));
    if (r == 0) {
        r = write_atomic(st, tmp, fname, obj, len);
    }
    if (r < 0) {
        log_debug("cannot write state file '%s/%s': %s", st->path, fname,
                  strerror(-r));
    }
    return r;
}

static int
dir_remove(struct state_store *st, const char *name, const char *fname)
{
    (void)name;
    return unlinkat(st->dir_fd, fname, 0) < 0 ? -errno : 0;
}

static int
dir_replace(struct state_store *st, struct state_store *from, bool same_tpm)
{
    return state_replace_dir(st, from, same_tpm);
}

static const struct state_backend dir_backend = {
    .kind = "directory",
    .generations = true,
    .open = dir_open,
    .close = dir_close,
    .fd = dir_fd,
    .lock = dir_lock,
    .unlock = dir_unlock,
    .lock_check = dir_lock_check,
    .read = dir_read,
    .write = dir_write,
    .remove = dir_remove,
    .size = dir_size,
    .sync = dir_sync,
    .replace = dir_replace,
};

const struct state_backend *
state_backend_of(const struct state_store *st)
{
    return st->is_file ? &state_file_backend : &dir_backend;
}
