// SPDX-License-Identifier: BSD-3-Clause
/*
 * The journal policy of the directory backend (docs/state.md §7.4,
 * docs/robustness.md "Generations"): which generation of permall a load
 * uses (the journal's newest slot, the main file, .bak, each verified
 * against the sidecar), why one is refused, and when the journal is
 * checkpointed into the upstream-format main file.  The slots themselves
 * are journal.c's.
 */
#include "state_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctrl_wire.h"
#include "log.h"
#include "stateobj.h"
#include "statesum.h"

/*
 * permall's journal (journal.h).  The main file stays in upstream's format
 * and is rewritten only at checkpoints; in between, each new permall goes
 * to a journal slot with one flush.  volatilestate and savestate are
 * written rarely and keep the temp file + rename path.
 */
#define JNL_CHECKPOINT_WRITES 256
#define JNL_NAME_MAX (STATE_NAME_MAX + 16)

bool
state_jnl_covers(const struct state_store *st, const char *name)
{
    /* The file backend's writes are crash-safe in place (§8.3). */
    return !st->defer_sync && state_backend_of(st)->generations &&
           strcmp(name, "permall") == 0;
}

/* fname with a suffix; for tmp, upstream's TMP prefix instead of tpm. */
static void
jnl_name(const struct state_store *st, const char *fname, bool tmp,
         const char *suffix, char *buf, size_t len)
{
    const char *rest = strchr(fname, '-');

    if (tmp) {
        snprintf(buf, len, "%s%s%s", st->tpm2 ? "TMP2" : "TMP", rest,
                 suffix);
    } else {
        snprintf(buf, len, "%s%s", fname, suffix);
    }
}

static void
jnl_drop_pending(struct state_jbook *b)
{
    if (b->pending) {
        explicit_bzero(b->pending, b->pending_len);
        free(b->pending);
    }
    b->pending = NULL;
    b->pending_len = 0;
}

void
state_jnl_forget(struct state_store *st)
{
    jnl_drop_pending(&st->jb);
    journal_close(&st->jnl);
    memset(&st->jnl, 0, sizeof(st->jnl));
    journal_init(&st->jnl);
    memset(&st->jb, 0, sizeof(st->jb));
}

/* A copy of the newest valid journal slot. */
struct jnl_newest {
    bool found;
    uint64_t seq;
    uint8_t base[CRYPTO_SHA256_LEN];
    uint8_t *obj;
    uint32_t len;
};

static void
newest_free(struct jnl_newest *n)
{
    if (n->obj) {
        explicit_bzero(n->obj, n->len);
        free(n->obj);
    }
    n->obj = NULL;
}

/*
 * st->why for a state file fname that exists but cannot be read, naming
 * it, the reason and the fix (r: state_dir_read()'s or journal_open()'s error).
 */
static void
why_unreadable(struct state_store *st, const char *fname, int r)
{
    char *b = st->why_buf;
    size_t n = sizeof(st->why_buf);

    switch (-r) {
    case EACCES:
    case EPERM:
        snprintf(b, n, "'%s/%s' is not readable by uid %ld (%s); give "
                 "that user read and write permission on it",
                 st->path, fname, (long)geteuid(), strerror(-r));
        break;
    case ELOOP:
        snprintf(b, n, "'%s/%s' is a symbolic link (%s), which is never "
                 "followed; put the file itself there", st->path, fname,
                 strerror(-r));
        break;
    case EINVAL:
    case EISDIR:
        snprintf(b, n, "'%s/%s' is not a regular file (a FIFO, directory "
                 "or device); move it away and put the state file there",
                 st->path, fname);
        break;
    default:
        snprintf(b, n, "cannot read '%s/%s': %s", st->path, fname,
                 strerror(-r));
        break;
    }
    st->why = b;
}

/*
 * Did decoding obj fail because of the key rather than damage?  A file
 * flagged encrypted without a key, one not flagged with a key, and an
 * HMAC or key size mismatch all are: another generation must not be
 * taken for them (the key may belong to another TPM).
 */
static bool
is_key_failure(const uint8_t *obj, uint32_t len,
               const struct state_key *key, uint32_t rc)
{
    bool flagged;

    if (len < STATEOBJ_HDR_LEN) {
        return false;
    }
    flagged = (obj[5] & 0x01) != 0;     /* docs/state.md §3.1 flags */
    if (!key) {
        return flagged;
    }
    return !flagged || rc == TPM_DECRYPT_ERROR ||
           rc == TPM_BAD_KEY_PROPERTY;
}

static void
why_key(struct state_store *st, const char *fname, bool have_key)
{
    snprintf(st->why_buf, sizeof(st->why_buf),
             have_key ? "'%s/%s' does not decrypt with the given --key "
                        "(integrity check failed: wrong --key or damaged "
                        "file); start with the key it was written with; no "
                        "other generation was tried"
                      : "'%s/%s' is encrypted and no --key was given; "
                        "start with the key it was written with; no other "
                        "generation was tried",
             st->path, fname);
    st->why = st->why_buf;
}

/* Log what journal_open() passed over, once per start (libtpms reads
 * the permall more than once while it starts; state_jnl_load() marks it). */
static void
jnl_report(const struct state_store *st, const char *jname)
{
    const struct journal *j = &st->jnl;

    if (st->fallback_logged) {
        return;
    }
    if (j->misfit) {
        log_warn("journal '%s/%s' has %lld bytes, which fits no journal "
                 "(cut short or grown); %s", st->path, jname,
                 (long long)j->size,
                 j->seq ? "read the slots found in it, it is replaced at "
                          "the next write"
                        : "no valid slot found in it");
    }
    for (int i = 0; i < 2; i++) {
        if (j->skipped & (1u << i)) {
            log_warn("journal '%s/%s': slot %c is incomplete or damaged "
                     "(a write cut short?); skipped", st->path, jname,
                     'A' + i);
        }
    }
}

/*
 * Open the journal of main file fname whose current bytes are main (NULL:
 * no main file).  *out_obj is the newest slot's object if it extends this
 * main file, else NULL; newest gets a copy of the newest slot either way.
 */
static int
jnl_attach(struct state_store *st, const char *fname, const uint8_t *main,
           uint32_t main_len, uint8_t **out_obj, uint32_t *out_len,
           struct jnl_newest *newest)
{
    struct journal *j = &st->jnl;
    struct state_jbook *b = &st->jb;
    struct journal_slot slot;
    char jname[JNL_NAME_MAX];
    uint8_t *buf = NULL;
    bool found;
    int r;

    *out_obj = NULL;
    state_jnl_forget(st);
    b->attached = true;
    if (main) {
        r = crypto_sha256(main, main_len, b->base);
        if (r < 0) {
            return r;
        }
        b->base_valid = true;
    }
    jnl_name(st, fname, false, ".journal", jname, sizeof(jname));
    r = journal_open(j, st->dir_fd, jname, &slot, &found, &buf);
    if (r < 0) {
        why_unreadable(st, jname, r);
        return r;
    }
    jnl_report(st, jname);
    if (!found) {
        return 0;
    }
    r = -ENOMEM;
    if (newest) {
        newest->obj = malloc(slot.len ? slot.len : 1);
        if (!newest->obj) {
            goto out;
        }
        memcpy(newest->obj, slot.payload, slot.len);
        newest->len = slot.len;
        newest->seq = slot.seq;
        memcpy(newest->base, slot.base, CRYPTO_SHA256_LEN);
        newest->found = true;
    }
    /* Without a main file a journal is stale: the state was deleted. */
    if (b->base_valid &&
        memcmp(slot.base, b->base, CRYPTO_SHA256_LEN) == 0) {
        b->pending = malloc(slot.len ? slot.len : 1);
        if (!b->pending) {
            goto out;
        }
        memcpy(b->pending, slot.payload, slot.len);
        b->pending_len = slot.len;
        *out_obj = b->pending;
        *out_len = slot.len;
    }
    r = 0;
out:
    explicit_bzero(buf, j->buf_len);
    free(buf);
    return r;
}

/* Decode obj; record the raw blob's hash as the durable content. */
static int
jnl_decode(struct state_store *st, const struct state_key *key,
           const uint8_t *obj, uint32_t len, uint8_t **out,
           uint32_t *out_len, uint32_t *out_tpm_rc)
{
    int r;

    r = stateobj_decode(obj, len, key, out, out_len, out_tpm_rc);
    if (r == 0) {
        st->jb.last_valid =
            crypto_sha256(*out, *out_len, st->jb.last) == 0;
    }
    return r;
}

/* Is the SHA-256 of file fname's bytes equal to sum? */
static bool
file_has_sum(const struct state_store *st, const char *fname,
             const uint8_t sum[CRYPTO_SHA256_LEN])
{
    uint8_t *obj = NULL, got[CRYPTO_SHA256_LEN];
    uint32_t len = 0;
    bool same;

    if (state_dir_read(st, fname, &obj, &len) < 0) {
        return false;
    }
    same = crypto_sha256(obj, len, got) == 0 &&
           memcmp(got, sum, sizeof(got)) == 0;
    explicit_bzero(obj, len);
    free(obj);
    return same;
}

/*
 * The sidecar of main file fname, if it describes the file now there:
 * written by us for this very file (inode number and birth time).  A main
 * file replaced since (another swtpm renames its own file into place)
 * makes it stale: then nothing is verified, as without a sidecar.
 * false: none to go by.
 */
static bool
sum_current(const struct state_store *st, const char *fname,
            struct statesum *out)
{
    char name[JNL_NAME_MAX];
    bool same;
    int fd, r;

    jnl_name(st, fname, false, ".sum", name, sizeof(name));
    r = statesum_read(st->dir_fd, name, out);
    if (r == -EBADMSG) {
        log_warn("checksum file '%s/%s' is damaged; '%s' is not verified",
                 st->path, name, fname);
    }
    if (r < 0) {
        return false;
    }
    fd = openat(st->dir_fd, fname,
                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    same = statesum_is_file(out, fd);
    close(fd);
    return same;
}

/*
 * st->why when main file fname (damaged: reason) has no generation to
 * stand in for it: what its journal offered (none, or no intact slot)
 * and why .bak is not used (bak_why), so that every file tried is named.
 */
static void
why_no_generation(struct state_store *st, const char *fname,
                  const char *reason, const char *bak, const char *bak_why)
{
    char jname[JNL_NAME_MAX];

    jnl_name(st, fname, false, ".journal", jname, sizeof(jname));
    snprintf(st->why_buf, sizeof(st->why_buf), "'%s/%s' is damaged (%s); "
             "%s '%s' %s; and '%s' %s; restore '%s' from a backup",
             st->path, fname, reason,
             st->jnl.active ? "its journal" : "there is no journal", jname,
             st->jnl.active ? "holds no intact slot" : "beside it", bak,
             bak_why, fname);
    st->why = st->why_buf;
}

/*
 * Main file fname cannot be used (reason: why, in words).  A valid journal
 * slot that extends a generation of this TPM (recorded in the sidecar sc,
 * NULL without a current one, or the .bak itself) is the newest state.
 * With one that extends something else, .bak would lose the writes it
 * holds and the slot cannot be tied to this TPM: refuse.  Without one,
 * .bak is the previous generation, if the sidecar knows it (without one:
 * if it decodes).
 */
static int
jnl_fallback(struct state_store *st, const struct state_key *key,
             const char *fname, int err, const char *reason,
             const struct statesum *sc, struct jnl_newest *newest,
             uint8_t **out, uint32_t *out_len, uint32_t *out_tpm_rc)
{
    char bak[JNL_NAME_MAX], jname[JNL_NAME_MAX];
    uint8_t *obj = NULL, sum[CRYPTO_SHA256_LEN];
    uint32_t len = 0, rc = 0;
    int r;

    jnl_name(st, fname, false, ".bak", bak, sizeof(bak));
    jnl_name(st, fname, false, ".journal", jname, sizeof(jname));
    if (newest->found && !(sc && statesum_knows(sc, newest->base)) &&
        !file_has_sum(st, bak, newest->base)) {
        snprintf(st->why_buf, sizeof(st->why_buf), "'%s/%s' is damaged "
                 "(%s) and its journal '%s' holds newer writes "
                 "(sequence %llu) based on a main file no longer there; "
                 "loading '%s' would lose them: restore '%s' from a "
                 "backup", st->path, fname, reason, jname,
                 (unsigned long long)newest->seq, bak, fname);
        st->why = st->why_buf;
        return err;
    }
    if (newest->found) {
        r = jnl_decode(st, key, newest->obj, newest->len, out, out_len,
                       &rc);
        if (r < 0) {
            return err;
        }
        if (!st->fallback_logged) {
            log_warn("state file '%s/%s' is damaged (%s); loaded its "
                     "newest generation from the journal '%s/%s' "
                     "(sequence %llu) instead", st->path, fname,
                     reason, st->path, jname,
                     (unsigned long long)newest->seq);
        }
        st->fallback_logged = true;
        st->jb.pending = newest->obj;
        st->jb.pending_len = newest->len;
        newest->obj = NULL;
        st->jb.main_damaged = true;
        *out_tpm_rc = 0;
        return 0;
    }
    r = state_dir_read(st, bak, &obj, &len);
    if (r == 0 && sc && (crypto_sha256(obj, len, sum) < 0 ||
                         !statesum_knows(sc, sum))) {
        why_no_generation(st, fname, reason, bak, "is not the generation "
                          "recorded before it (its checksum differs)");
        r = -EBADMSG;
    } else if (r < 0) {
        why_no_generation(st, fname, reason, bak, r == -ENOENT
                          ? "does not exist" : "cannot be read");
    }
    if (r == 0) {
        r = jnl_decode(st, key, obj, len, out, out_len, &rc);
        if (r < 0) {
            why_no_generation(st, fname, reason, bak, "does not decode "
                              "either");
        }
    }
    if (obj) {
        explicit_bzero(obj, len);
        free(obj);
    }
    if (r < 0) {
        return err;
    }
    /* libtpms reads the permall more than once per start: say it once. */
    if (!st->fallback_logged) {
        log_warn("state file '%s/%s' is damaged (%s); loaded the previous "
                 "generation '%s/%s' instead", st->path, fname,
                 reason, st->path, bak);
    }
    st->fallback_logged = true;
    st->jb.main_damaged = true;
    *out_tpm_rc = 0;
    return 0;
}

/* The main file loads; say so if that passes over a newer journal slot. */
static void
jnl_report_stale(const struct state_store *st, const char *fname,
                 const uint8_t *main, uint32_t main_len,
                 const struct jnl_newest *newest)
{
    char jname[JNL_NAME_MAX];

    /* After a checkpoint the newest slot holds the main file's bytes. */
    if (!newest->found || (newest->len == main_len &&
                           memcmp(newest->obj, main, main_len) == 0)) {
        return;
    }
    jnl_name(st, fname, false, ".journal", jname, sizeof(jname));
    log_warn("journal '%s/%s' (sequence %llu) does not extend '%s/%s', "
             "which changed after it was written (by another swtpm, or "
             "damage); loaded '%s' and skipped the journal", st->path,
             jname, (unsigned long long)newest->seq, st->path, fname,
             fname);
}

int
state_jnl_load(struct state_store *st, const struct state_key *key,
               const char *fname, uint8_t **out, uint32_t *out_len,
               uint32_t *out_tpm_rc)
{
    struct jnl_newest newest = { 0 };
    struct statesum sc;
    uint8_t *main = NULL, *obj = NULL;
    uint32_t main_len = 0, len = 0;
    bool have_sum;
    char reason[JNL_NAME_MAX + 96];
    int r, rm;

    *out_tpm_rc = TPM_FAIL;
    rm = state_dir_read(st, fname, &main, &main_len);
    if (rm < 0 && rm != -ENOENT) {
        /* Unreadable is not damaged: no other generation stands in. */
        why_unreadable(st, fname, rm);
        r = rm;
        goto out;
    }
    r = jnl_attach(st, fname, rm == 0 ? main : NULL, main_len, &obj, &len,
                   &newest);
    if (r < 0) {
        goto out;
    }
    if (obj) {
        log_debug("state '%s/%s': newest version is in the journal",
                  st->path, fname);
        r = jnl_decode(st, key, obj, len, out, out_len, out_tpm_rc);
        if (r < 0 && is_key_failure(obj, len, key, *out_tpm_rc)) {
            char jname[JNL_NAME_MAX];

            jnl_name(st, fname, false, ".journal", jname, sizeof(jname));
            why_key(st, jname, key != NULL);
        }
        goto out;
    }
    if (rm == -ENOENT) {
        *out_tpm_rc = TPM_RETRY;    /* no such object: start fresh */
        r = rm;
        goto out;
    }
    r = jnl_decode(st, key, main, main_len, out, out_len, out_tpm_rc);
    /* Changed in place since we wrote it (no swtpm writes in place):
     * damage, even if it still parses (libtpms would fail on it), and
     * not a key problem even if its HMAC fails now. */
    have_sum = sum_current(st, fname, &sc);
    if (have_sum && !statesum_knows(&sc, st->jb.base)) {
        if (r == 0) {
            explicit_bzero(*out, *out_len);
            free(*out);
            *out = NULL;
            *out_tpm_rc = TPM_FAIL;
        }
        if (r == 0 || is_key_failure(main, main_len, key, *out_tpm_rc)) {
            snprintf(reason, sizeof(reason), "its SHA-256 differs from "
                     "the one recorded in '%s.sum' when it was written",
                     fname);
            r = -EBADMSG;
        } else {
            snprintf(reason, sizeof(reason), "%s", strerror(-r));
        }
        r = jnl_fallback(st, key, fname, r, reason, &sc, &newest, out,
                         out_len, out_tpm_rc);
    } else if (r == 0) {
        jnl_report_stale(st, fname, main, main_len, &newest);
    } else if (is_key_failure(main, main_len, key, *out_tpm_rc)) {
        why_key(st, fname, key != NULL);
    } else {
        r = jnl_fallback(st, key, fname, r, strerror(-r),
                         have_sum ? &sc : NULL, &newest, out, out_len,
                         out_tpm_rc);
    }
out:
    if (st->jnl.misfit || st->jnl.skipped) {
        st->fallback_logged = true;     /* jnl_report() said it */
    }
    newest_free(&newest);
    if (main) {
        explicit_bzero(main, main_len);
        free(main);
    }
    return r;
}

/*
 * Does a current sidecar of main file fname record a generation other
 * than the one whose SHA-256 is base?  Then the file changed in place
 * since we wrote it, even if it still decodes.  Quiet: the load has
 * already said when the sidecar itself is damaged.
 */
static bool
main_unrecorded(const struct state_store *st, const char *fname,
                const uint8_t base[CRYPTO_SHA256_LEN])
{
    char name[JNL_NAME_MAX];
    struct statesum sc;
    bool current;
    int fd;

    jnl_name(st, fname, false, ".sum", name, sizeof(name));
    if (statesum_read(st->dir_fd, name, &sc) < 0) {
        return false;
    }
    fd = openat(st->dir_fd, fname,
                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    current = statesum_is_file(&sc, fd);
    close(fd);
    return current && !statesum_knows(&sc, base);
}

/* Does the main file fname decode with the store's key? */
static bool
main_decodes(const struct state_store *st, const char *fname)
{
    const struct state_key *key;
    uint8_t *obj = NULL, *raw = NULL;
    uint32_t len = 0, raw_len = 0, rc = 0;
    int r;

    key = state_store_key(st, &r);
    if (r == 0) {
        r = state_dir_read(st, fname, &obj, &len);
    }
    if (r == 0) {
        r = stateobj_decode(obj, len, key, &raw, &raw_len, &rc);
        explicit_bzero(obj, len);
        free(obj);
    }
    if (raw) {
        explicit_bzero(raw, raw_len);
        free(raw);
    }
    return r == 0;
}

/*
 * The sidecar for obj, about to become main file fname (out has its file
 * identity already): the TPM identity of the sidecar there (a new one if
 * none is readable), obj's checksum, and that of the file that is .bak
 * once obj is in place.
 */
static void
sum_make(const struct state_store *st, const char *fname,
         const uint8_t *obj, uint32_t len, struct statesum *out)
{
    struct statesum old;
    const struct state_jbook *b = &st->jb;
    char name[JNL_NAME_MAX];
    uint8_t *bak = NULL;
    uint32_t bak_len = 0;

    jnl_name(st, fname, false, ".sum", name, sizeof(name));
    if (statesum_read(st->dir_fd, name, &old) == 0) {
        memcpy(out->id, old.id, sizeof(out->id));
    } else if (crypto_random(out->id, sizeof(out->id)) < 0) {
        memset(out->id, 0, sizeof(out->id));
    }
    if (crypto_sha256(obj, len, out->main) < 0) {
        memset(out->main, 0, sizeof(out->main));
    }
    out->has_bak = false;
    if (b->base_valid && !b->main_damaged) {
        memcpy(out->bak, b->base, sizeof(out->bak));
        out->has_bak = true;
    } else if (b->main_damaged) {
        jnl_name(st, fname, false, ".bak", name, sizeof(name));
        if (state_dir_read(st, name, &bak, &bak_len) == 0) {
            out->has_bak = crypto_sha256(bak, bak_len, out->bak) == 0;
            explicit_bzero(bak, bak_len);
            free(bak);
        }
    }
}

/*
 * Write obj as the new main file, the old one kept as .bak: the
 * checkpoint.  The journal's newest slot must already hold obj (or there
 * must be no main file yet), so a crash at any point leaves the newest
 * state either in the main file or in a slot that extends it.  The
 * sidecar is renamed into place just before the main file: until then it
 * names another file, so a crash between the two leaves it stale, never
 * wrong.
 */
static int
jnl_write_main(struct state_store *st, const char *fname,
               const uint8_t *obj, uint32_t len)
{
    struct state_jbook *b = &st->jb;
    char tmp[JNL_NAME_MAX], bak[JNL_NAME_MAX], bak_tmp[JNL_NAME_MAX];
    char sname[JNL_NAME_MAX], stmp[JNL_NAME_MAX];
    struct statesum sc = { 0 };
    int r;

    /* A damaged main file must not replace the good previous one, also
     * when the load that found it was before a restart (a journal slot
     * written after the fallback extends the damaged file, so that load
     * took the slot without looking at the sidecar), or when it changed
     * on disk after we loaded it. */
    if (b->base_valid && !b->main_damaged &&
        (!file_has_sum(st, fname, b->base) || !main_decodes(st, fname) ||
         main_unrecorded(st, fname, b->base))) {
        b->main_damaged = true;
    }
    jnl_name(st, fname, true, "", tmp, sizeof(tmp));
    jnl_name(st, fname, false, b->main_damaged ? ".damaged" : ".bak", bak,
             sizeof(bak));
    jnl_name(st, fname, true, ".bak", bak_tmp, sizeof(bak_tmp));
    jnl_name(st, fname, false, ".sum", sname, sizeof(sname));
    jnl_name(st, fname, true, ".sum", stmp, sizeof(stmp));
    if (b->base_valid) {
        /* Keep the previous generation; the main file never vanishes. */
        unlinkat(st->dir_fd, bak_tmp, 0);
        if (linkat(st->dir_fd, fname, st->dir_fd, bak_tmp, 0) == 0 &&
            renameat(st->dir_fd, bak_tmp, st->dir_fd, bak) < 0) {
            unlinkat(st->dir_fd, bak_tmp, 0);
        }
    }
    r = state_dir_write_tmp(st, tmp, obj, len, &sc);
    if (r < 0) {
        return r;
    }
    sum_make(st, fname, obj, len, &sc);
    if (statesum_write(st->dir_fd, sname, stmp, st->mode, st->mode_explicit,
                       &sc) < 0) {
        /* The old sidecar names the old inode: stale, so not used. */
        log_debug("cannot write '%s/%s'; '%s' goes unverified", st->path,
                  sname, fname);
    }
    r = state_dir_commit_tmp(st, tmp, fname);
    if (r < 0) {
        return r;
    }
    r = crypto_sha256(obj, len, b->base);
    b->base_valid = r == 0;
    b->main_damaged = false;
    b->writes = 0;
    return r;
}

/* state_checkpoint() without the warning: the periodic one retries at
 * every write while it fails, and would repeat it each time. */
static int
checkpoint(struct state_store *st)
{
    struct state_jbook *b = &st->jb;
    char fname[STATE_NAME_MAX];
    int r;

    if (!b->pending) {
        return 0;
    }
    r = state_fname(st, STATE_PFX_MAIN, state_obj_names[STATE_OBJ_PERMALL],
                    "", fname, sizeof(fname));
    if (r == 0) {
        r = jnl_write_main(st, fname, b->pending, b->pending_len);
    }
    if (r < 0) {
        log_debug("cannot checkpoint '%s/%s': %s", st->path, fname,
                  strerror(-r));
        return r;
    }
    jnl_drop_pending(b);
    return 0;
}

int
state_checkpoint(struct state_store *st)
{
    int r = checkpoint(st);

    if (r < 0) {
        log_warn("cannot write the journaled state into '%s'; it stays "
                 "in the journal file there", st->path);
    }
    return r;
}

/* Put obj into a journal slot (creating or growing the journal). */
static int
jnl_append(struct state_store *st, const char *fname, const uint8_t *obj,
           uint32_t len)
{
    struct journal *j = &st->jnl;
    struct state_jbook *b = &st->jb;
    char jname[JNL_NAME_MAX], jtmp[JNL_NAME_MAX];
    int r;

    r = journal_append(j, b->base, obj, len);
    if (r == -EFBIG || r == -EBADF) {
        jnl_name(st, fname, false, ".journal", jname, sizeof(jname));
        jnl_name(st, fname, true, ".journal", jtmp, sizeof(jtmp));
        r = journal_create(j, st->dir_fd, jname, jtmp, st->mode,
                           st->mode_explicit, b->base, obj, len);
        if (r < 0) {
            snprintf(st->why_buf, sizeof(st->why_buf), "cannot create "
                     "the journal '%s' through '%s/%s': %s; remove what "
                     "is in the way there", jname, st->path, jtmp,
                     strerror(-r));
            st->why = st->why_buf;
        }
    }
    return r;
}

int
state_jnl_save(struct state_store *st, const struct state_key *key,
               const char *fname, const uint8_t *raw, uint32_t len)
{
    struct state_jbook *b = &st->jb;
    uint8_t sum[CRYPTO_SHA256_LEN];
    uint8_t *obj = NULL, *main = NULL;
    uint32_t olen = 0, main_len = 0;
    int r;

    if (!b->attached) {
        /* Written before any load: find out what is on disk. */
        r = state_dir_read(st, fname, &main, &main_len);
        r = jnl_attach(st, fname, r == 0 ? main : NULL, main_len, &obj,
                       &olen, NULL);
        free(main);
        obj = NULL;
        if (r < 0) {
            return r;
        }
    }
    r = crypto_sha256(raw, len, sum);
    if (r < 0) {
        return r;
    }
    if (b->last_valid && memcmp(sum, b->last, sizeof(sum)) == 0) {
        return 0;   /* unchanged: already durable */
    }
    r = stateobj_encode(raw, len, key, &obj, &olen);
    if (r < 0) {
        return r;
    }
    if (!b->base_valid) {
        /* First permall: no older state to protect, write it directly. */
        r = jnl_write_main(st, fname, obj, olen);
    } else {
        r = jnl_append(st, fname, obj, olen);
        if (r == 0) {
            jnl_drop_pending(b);
            b->pending = obj;
            b->pending_len = olen;
            obj = NULL;
            if (++b->writes >= JNL_CHECKPOINT_WRITES) {
                checkpoint(st);
            }
        }
    }
    if (r == 0) {
        memcpy(b->last, sum, sizeof(sum));
        b->last_valid = true;
    } else {
        log_debug("cannot write state '%s/%s': %s", st->path, fname,
                  strerror(-r));
    }
    if (obj) {
        explicit_bzero(obj, olen);
        free(obj);
    }
    return r;
}

/* permall is being deleted: its journal goes with it. */
void
state_jnl_delete(struct state_store *st, const char *fname)
{
    char jname[JNL_NAME_MAX];

    jnl_name(st, fname, false, ".journal", jname, sizeof(jname));
    unlinkat(st->dir_fd, jname, 0);
    jnl_name(st, fname, false, ".sum", jname, sizeof(jname));
    unlinkat(st->dir_fd, jname, 0);
    state_jnl_forget(st);
    st->jb.attached = true;    /* nothing on disk now */
}

int
state_fold_journal(struct state_store *st)
{
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;
    int r;

    if (!state_backend_of(st)->generations || st->defer_sync) {
        return 0;
    }
    st->fallback_logged = false;
    r = state_load(st, "permall", &raw, &len, &rc);
    if (raw) {
        explicit_bzero(raw, len);
        free(raw);
    }
    if (r == -ENOENT) {
        return 0;
    }
    if (r == 0) {
        r = checkpoint(st);
    }
    /* The other implementation may change the main file: let go. */
    state_jnl_forget(st);
    return r;
}
