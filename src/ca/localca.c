// SPDX-License-Identifier: BSD-3-Clause
/*
 * The built-in local CA (docs/setup-and-bios.md §7): a root CA and a
 * signing CA in a per-user directory, created on first use, plus the
 * certificate serial number counter.  The default directory is created
 * atomically (built in a temporary sibling, then renamed into place), so
 * concurrent first runs all succeed and share the winner's CA; serial
 * numbers are allocated under an exclusive flock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "conf.h"
#include "fdio.h"
#include "localca.h"
#include "toolenv.h"
#include "log.h"
#include "x509.h"

#define SYSCONF_OPTIONS "/etc/swtpm-localca.options"
#define ROOT_KEY_NAME   "swtpm-localca-rootca-privkey.pem"
#define ROOT_CERT_NAME  "swtpm-localca-rootca-cert.pem"
#define LOCK_NAME       ".lock.swtpm-localca"
#define SERIAL_MAX_LEN  49

struct localca {
    char statedir[PATH_MAX];
    char signkey[PATH_MAX];
    char issuercert[PATH_MAX];
    char certserial[PATH_MAX];
    char *signkey_pwd;
    bool default_layout;        /* statedir is created atomically */
    char plat_manufacturer[128];
    char plat_model[128];
    char plat_version[128];
    EVP_PKEY *key;              /* loaded on first use */
    X509 *cert;
    /* root writing into a CA directory that belongs to someone else (the
     * system CA, owned by tss): new files go to that owner, so a later
     * run as that user (libvirt's) can still use the CA */
    bool give_away;
    uid_t owner_uid;
    gid_t owner_gid;
    /* between localca_reserve() and localca_commit(): the CA lock and
     * the serial taken, written to the counter only when it is used */
    int lock_fd;
    char pending[SERIAL_MAX_LEN + 2];
    bool kept;                  /* localca_keep(): pending is used */
};

static struct localca *
localca_new(void)
{
    struct localca *ca = calloc(1, sizeof(*ca));

    if (ca) {
        ca->lock_fd = -1;
    }
    return ca;
}

/* A file we created in the CA directory: hand it to the directory's
 * owner (under the CA lock, so no run sees it in between). */
static void
give_away(const struct localca *ca, const char *path)
{
    if (ca->give_away && lchown(path, ca->owner_uid, ca->owner_gid) < 0) {
        log_debug("local CA: cannot hand a new file to uid %u: %s",
                  (unsigned int)ca->owner_uid, strerror(errno));
    }
}

static void
log_access(const char *path, const char *perm, int err)
{
    char u[128];

    effective_user(u, sizeof(u));
    if (err == FD_NOT_INPUT) {
        log_err("local CA: cannot %s '%s': %s; put a regular file there",
                perm, path, fd_open_strerror(err));
        return;
    }
    log_err("local CA: cannot %s '%s' as %s: %s; make it %s by that user "
            "or set XDG_CONFIG_HOME to a writable directory", perm, path, u,
            strerror(err), strcmp(perm, "read") == 0 ? "readable"
                                                     : "writable");
}

/* Fill the paths from a swtpm-localca.conf (docs/setup-and-bios.md §5.3). */
static int
read_ca_conf(struct localca *ca, const char *path)
{
    char *text = NULL, *v;
    const char *keys[] = { "statedir", "signingkey", "issuercert" };
    char *dst[] = { ca->statedir, ca->signkey, ca->issuercert };
    int r = conf_read(path, &text);

    if (r < 0) {
        log_err("cannot read local CA config '%s': %s", path,
                fd_open_strerror(-r));
        return r;
    }
    for (size_t i = 0; i < 3; i++) {
        v = conf_get(text, keys[i]);
        if (!v || !*v) {
            log_err("local CA config '%s' lacks '%s'", path, keys[i]);
            free(v);
            free(text);
            return -EINVAL;
        }
        snprintf(dst[i], PATH_MAX, "%s", v);
        free(v);
    }
    if (strncmp(ca->signkey, "pkcs11:", 7) == 0) {
        log_err("local CA config '%s': pkcs11 signing keys are not "
                "supported by the built-in CA; use an external "
                "create_certs_tool", path);
        free(text);
        return -ENOTSUP;
    }
    v = conf_get(text, "certserial");
    path_join(ca->certserial, sizeof(ca->certserial), ca->statedir,
              "certserial");
    if (v && *v) {
        snprintf(ca->certserial, sizeof(ca->certserial), "%s", v);
    }
    free(v);
    ca->signkey_pwd = conf_get(text, "signingkey_password");
    free(text);
    return 0;
}

/* Platform info from the options file (docs/setup-and-bios.md §5.4), else from
 * uname. */
static void
read_options(struct localca *ca, const char *path)
{
    char *text = NULL, **w;
    struct utsname u;
    int r;

    if (uname(&u) == 0) {
        snprintf(ca->plat_manufacturer, sizeof(ca->plat_manufacturer), "%s",
                 u.sysname);
        snprintf(ca->plat_model, sizeof(ca->plat_model), "%s", u.sysname);
        snprintf(ca->plat_version, sizeof(ca->plat_version), "%s",
                 u.version);
    }
    if (!path) {
        return;
    }
    r = conf_read(path, &text);
    if (r < 0) {
        if (r != -ENOENT) {
            log_warn("local CA: ignoring options file '%s': %s", path,
                     fd_open_strerror(-r));
        }
        return;
    }
    w = conf_words(text);
    for (size_t i = 0; w && w[i] && w[i + 1]; i++) {
        char *dst = !strcmp(w[i], "--platform-manufacturer")
                    ? ca->plat_manufacturer
                    : !strcmp(w[i], "--platform-model") ? ca->plat_model
                    : !strcmp(w[i], "--platform-version") ? ca->plat_version
                    : NULL;

        if (dst) {
            snprintf(dst, 128, "%s", w[++i]);
        }
    }
    conf_free_words(w);
    free(text);
}

int
localca_open(const char *conf_path, const char *opts_path,
             struct localca **out)
{
    struct localca *ca = localca_new();
    char cfg[PATH_MAX], user_conf[PATH_MAX + 32];
    char user_opts[PATH_MAX + 32];
    int r = 0;

    if (!ca) {
        return -ENOMEM;
    }
    if (user_config_dir(cfg, sizeof(cfg)) < 0) {
        log_err("local CA: neither XDG_CONFIG_HOME nor HOME is set");
        free(ca);
        return -ENOENT;
    }
    snprintf(user_conf, sizeof(user_conf), "%s/swtpm-localca.conf", cfg);
    snprintf(user_opts, sizeof(user_opts), "%s/swtpm-localca.options", cfg);
    /* A configured create_certs_tool_config is used as swtpm_localca
     * would use it (/etc/swtpm-localca.conf included: its CA is the one
     * the host trusts); without one, the user's swtpm-localca.conf, else
     * the built-in per-user CA. */
    if (conf_path) {
        r = read_ca_conf(ca, conf_path);
    } else if (access(user_conf, R_OK) == 0) {
        r = read_ca_conf(ca, user_conf);
    } else {
        ca->default_layout = true;
        if (path_join(ca->statedir, sizeof(ca->statedir), cfg,
                      "swtpm-localca") < 0 ||
            path_join(ca->signkey, sizeof(ca->signkey), ca->statedir,
                      "signkey.pem") < 0 ||
            path_join(ca->issuercert, sizeof(ca->issuercert), ca->statedir,
                      "issuercert.pem") < 0 ||
            path_join(ca->certserial, sizeof(ca->certserial), ca->statedir,
                      "certserial") < 0) {
            log_err("local CA: config directory path '%s' is too long", cfg);
            r = -ENAMETOOLONG;
        }
    }
    if (r < 0) {
        localca_free(ca);
        return r;
    }
    read_options(ca, opts_path && access(opts_path, R_OK) == 0 ? opts_path
                     : access(user_opts, R_OK) == 0 ? user_opts
                     : access(SYSCONF_OPTIONS, R_OK) == 0 ? SYSCONF_OPTIONS
                     : NULL);
    *out = ca;
    return 0;
}

void
localca_free(struct localca *ca)
{
    if (!ca) {
        return;
    }
    if (ca->lock_fd >= 0) {
        close(ca->lock_fd);     /* a reserved serial not used: not spent */
    }
    EVP_PKEY_free(ca->key);
    X509_free(ca->cert);
    if (ca->signkey_pwd) {
        explicit_bzero(ca->signkey_pwd, strlen(ca->signkey_pwd));
        free(ca->signkey_pwd);
    }
    free(ca);
}

/* Write a PEM object to path via a temp file + fsync + rename. */
static int
write_pem(const struct localca *ca, const char *path, mode_t mode,
          EVP_PKEY *key, X509 *cert, const char *pwd)
{
    char tmp[PATH_MAX + 16];
    FILE *f;
    int fd, ok;

    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        return -errno;
    }
    fchmod(fd, mode);
    f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return -ENOMEM;
    }
    if (key) {
        ok = PEM_write_PrivateKey(f, key, pwd ? EVP_aes_256_cbc() : NULL,
                                  NULL, 0, NULL, (void *)pwd);
    } else {
        ok = PEM_write_X509(f, cert);
    }
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0 || !ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return -EIO;
    }
    give_away(ca, path);
    return 0;
}

/* Root CA + signing CA into dir (docs/setup-and-bios.md §7 step 2). */
static int
create_ca_files(struct localca *ca, const char *dir, const char *signkey,
                const char *issuercert)
{
    void *rkey = NULL, *rcert = NULL, *skey = NULL, *scert = NULL;
    char path[PATH_MAX + 64];
    int r;

    r = x509_make_ca("swtpm-localca-rootca", NULL, NULL, &rkey, &rcert);
    if (r == 0) {
        r = x509_make_ca("swtpm-localca", rkey, rcert, &skey, &scert);
    }
    if (r < 0) {
        log_err("local CA: cannot generate the CA keys");
        goto out;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, ROOT_KEY_NAME);
    r = write_pem(ca, path, 0640, rkey, NULL,
                  getenv("SWTPM_ROOTCA_PASSWORD"));
    if (r == 0) {
        snprintf(path, sizeof(path), "%s/%s", dir, ROOT_CERT_NAME);
        r = write_pem(ca, path, 0644, NULL, rcert, NULL);
    }
    if (r == 0) {
        snprintf(path, sizeof(path), "%s", signkey);
        r = write_pem(ca, path, 0640, skey, NULL, ca->signkey_pwd);
    }
    if (r == 0) {
        snprintf(path, sizeof(path), "%s", issuercert);
        r = write_pem(ca, path, 0644, NULL, scert, NULL);
    }
    if (r < 0) {
        log_access(path, "write", -r);
    }
out:
    EVP_PKEY_free(rkey);
    X509_free(rcert);
    EVP_PKEY_free(skey);
    X509_free(scert);
    return r;
}

/* Create the default per-user CA directory atomically if missing. */
static int
create_default_dir(struct localca *ca)
{
    char parent[PATH_MAX], tmp[PATH_MAX + 32];
    char key[PATH_MAX + 48], cert[PATH_MAX + 48];
    char *slash;
    int r;

    if (access(ca->statedir, F_OK) == 0) {
        return 0;
    }
    snprintf(parent, sizeof(parent), "%s", ca->statedir);
    slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
    }
    r = mkdir_parents(parent, 0700);
    if (r < 0) {
        log_access(parent, "create", -r);
        return r;
    }
    snprintf(tmp, sizeof(tmp), "%s/.swtpm-localca.XXXXXX", parent);
    if (!mkdtemp(tmp)) {
        r = errno;
        log_access(parent, "write to", r);
        return -r;
    }
    chmod(tmp, 0750);
    snprintf(key, sizeof(key), "%s/signkey.pem", tmp);
    snprintf(cert, sizeof(cert), "%s/issuercert.pem", tmp);
    say("Creating the local CA in '%s'.", ca->statedir);
    r = create_ca_files(ca, tmp, key, cert);
    if (r == 0 && rename(tmp, ca->statedir) < 0) {
        r = errno;
        if (r == EEXIST || r == ENOTEMPTY) {
            r = 0;          /* another run won the race: use its CA */
        } else {
            log_access(ca->statedir, "create", r);
            r = -r;
        }
    }
    if (access(tmp, F_OK) == 0) {
        const char *names[] = { ROOT_KEY_NAME, ROOT_CERT_NAME,
                                "signkey.pem", "issuercert.pem" };

        for (size_t i = 0; i < 4; i++) {
            char p[PATH_MAX + 64];

            snprintf(p, sizeof(p), "%s/%s", tmp, names[i]);
            unlink(p);
        }
        rmdir(tmp);
    }
    return r;
}

/* How long a run waits for another one signing with the same CA (each
 * holds the lock for milliseconds; a run that is stopped is not waited
 * for forever). */
#define CA_LOCK_WAIT_MS 120000

static int
lock_ca(struct localca *ca)
{
    char path[PATH_MAX + 32];
    int fd, r;

    snprintf(path, sizeof(path), "%s/%s", ca->statedir, LOCK_NAME);
    fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660);
    if (fd < 0) {
        r = errno;
        log_access(path, "create", r);
        return -r;
    }
    give_away(ca, path);
    /* asleep in the kernel, not polling: hundreds of runs may wait */
    r = -fd_flock_wait(fd, fd_clock_ms() + CA_LOCK_WAIT_MS);
    if (r != 0) {
        if (r == EWOULDBLOCK) {
            log_err("local CA: '%s' is still locked by another run after "
                    "%d s; stop that run or try again", path,
                    CA_LOCK_WAIT_MS / 1000);
        } else {
            log_errno(r, "local CA: cannot lock '%s'", path);
        }
        close(fd);
        return -r;
    }
    return fd;
}

/* A CA file opened for reading with fd_open_input() (logged). */
static FILE *
open_ca_file(const char *path)
{
    int fd = fd_open_input(path);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;

    if (fd < 0) {
        log_access(path, "read", -fd);
    } else if (!f) {
        log_errno(errno, "local CA: cannot read '%s'", path);
        close(fd);
    }
    return f;
}

static int
load_ca(struct localca *ca)
{
    FILE *f;

    if (ca->key && ca->cert) {
        return 0;
    }
    f = open_ca_file(ca->signkey);
    if (!f) {
        return -EACCES;
    }
    /* "" rather than NULL: never prompt on a terminal */
    ca->key = PEM_read_PrivateKey(f, NULL, NULL,
                                  ca->signkey_pwd ? ca->signkey_pwd : "");
    fclose(f);
    f = open_ca_file(ca->issuercert);
    if (!f) {
        return -EACCES;
    }
    ca->cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!ca->key || !ca->cert) {
        log_err("local CA: cannot load the signing key '%s' or issuer "
                "certificate '%s'", ca->signkey, ca->issuercert);
        return -EINVAL;
    }
    return 0;
}

/*
 * A random start for a new counter: 1 to 2^62.  Upstream 0.9 starts at a
 * random 20-digit number, but Debian's 0.7.1 swtpm_localca, which may
 * share the CA directory, reads the counter as a 64-bit unsigned number
 * and puts it into the certificate as a signed one: from 2^63 on its
 * serials are negative, and from 2^64 - 1 it fails and resets the counter
 * to 0, reissuing old serials.  Below 2^62 it has 2^62 certificates to go.
 * Uniqueness within one CA comes from the counter under the CA lock, not
 * from the start; the random start only keeps two CAs that share the
 * subject CN=swtpm-localca apart, and 62 random bits do that as well as
 * upstream's 20 digits.  docs/setup-and-bios.md §7 step 3.
 */
static void
random_serial(char *out, size_t outlen)
{
    uint64_t v = 0;

    if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1) {
        v = 0;
    }
    v = (v & ((UINT64_C(1) << 62) - 1)) + 1;
    snprintf(out, outlen, "%" PRIu64, v);
}

/*
 * The counter's value, spaces and line ends around it dropped, into cur
 * ("" when there is none or it is not a serial: a random start).  0, or
 * -errno (logged) when the counter is there but cannot be read: a FIFO or
 * device, no permission.
 */
static int
read_counter(const struct localca *ca, char *cur, size_t len)
{
    char buf[256];
    ssize_t n;
    size_t a, b;
    int fd = fd_open_input(ca->certserial);

    cur[0] = '\0';
    if (fd == -ENOENT) {
        return 0;
    }
    if (fd < 0) {
        log_access(ca->certserial, "read", -fd);
        return fd;
    }
    n = fd_read_full(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0) {
        log_access(ca->certserial, "read", (int)-n);
        return (int)n;
    }
    buf[n] = '\0';
    a = strspn(buf, " \t\r\n");
    b = a + strcspn(buf + a, " \t\r\n");
    if (buf[b + strspn(buf + b, " \t\r\n")] == '\0' && b - a < len) {
        snprintf(cur, len, "%.*s", (int)(b - a), buf + a);
    }
    return 0;
}

/*
 * The next serial after the counter's (under the CA lock) into
 * ca->pending and out; the counter is written by localca_commit().
 * After 2^160 - 1, the largest serial a certificate takes, it starts
 * again at random, as upstream does.
 */
static int
next_serial(struct localca *ca, char *out, size_t outlen)
{
    char cur[SERIAL_MAX_LEN + 2];
    BIGNUM *bn = NULL;
    char *dec = NULL;
    int r = 0;

    /* after localca_keep(), the kept serial is where the count stands */
    if (ca->kept) {
        snprintf(cur, sizeof(cur), "%s", ca->pending);
    } else {
        r = read_counter(ca, cur, sizeof(cur));
    }
    if (r < 0) {
        return r;
    }
    r = -EIO;
    if (!cur[0] || strspn(cur, "0123456789") != strlen(cur) ||
        BN_dec2bn(&bn, cur) == 0 || BN_num_bytes(bn) > 20 ||
        BN_is_zero(bn)) {
        /* 0 is what Debian's 0.7.1 leaves after its counter overflowed:
         * counting on from there would reissue its first serials. */
        BN_free(bn);
        bn = NULL;
        random_serial(cur, sizeof(cur));
        BN_dec2bn(&bn, cur);
    }
    if (bn && BN_add_word(bn, 1) && BN_num_bytes(bn) > 20) {
        log_warn("local CA: serial counter '%s' is at 2^160 - 1, the "
                 "largest serial; starting again at a random one",
                 ca->certserial);
        random_serial(cur, sizeof(cur));
        BN_dec2bn(&bn, cur);
    }
    if (!bn || BN_num_bytes(bn) > 20 || !(dec = BN_bn2dec(bn)) ||
        strlen(dec) >= outlen || strlen(dec) >= sizeof(ca->pending)) {
        log_err("local CA: cannot allocate a serial number from '%s'",
                ca->certserial);
        goto out;
    }
    snprintf(ca->pending, sizeof(ca->pending), "%s", dec);
    snprintf(out, outlen, "%s", dec);
    r = 0;
out:
    OPENSSL_free(dec);
    BN_free(bn);
    return r;
}

/* The directory part of path into out ("." if none). */
static void
dir_of(const char *path, char *out, size_t outlen)
{
    const char *slash = strrchr(path, '/');

    if (!slash) {
        snprintf(out, outlen, ".");
    } else if (slash == path) {
        snprintf(out, outlen, "/");
    } else {
        snprintf(out, outlen, "%.*s", (int)(slash - path), path);
    }
}

/* Create the directories of the signing key, issuer cert and serial
 * file (mode 0770 minus umask); *keydir gets the signing key's. */
static int
make_parent_dirs(struct localca *ca, char *keydir, size_t len)
{
    const char *paths[] = { ca->issuercert, ca->certserial, ca->signkey };
    int r = 0;

    for (size_t i = 0; i < 3 && r == 0; i++) {
        dir_of(paths[i], keydir, len);
        r = mkdir_parents(keydir, 0770);
        if (r < 0) {
            log_access(keydir, "create", -r);
        }
    }
    return r;
}

/* As root in a directory of another user, files we create go to them. */
static void
note_owner(struct localca *ca)
{
    struct stat sb;

    if (geteuid() == 0 && stat(ca->statedir, &sb) == 0 && sb.st_uid != 0) {
        ca->give_away = true;
        ca->owner_uid = sb.st_uid;
        ca->owner_gid = sb.st_gid;
    }
}

/* Make sure the CA exists and take the lock; returns the lock fd. */
static int
prepare_ca(struct localca *ca)
{
    char keydir[PATH_MAX], *slash;
    int r, fd;

    /* swtpm_localca keeps the root CA beside the signing key */
    snprintf(keydir, sizeof(keydir), "%s", ca->signkey);
    slash = strrchr(keydir, '/');
    if (!slash) {
        snprintf(keydir, sizeof(keydir), ".");
    } else if (slash == keydir) {
        keydir[1] = '\0';
    } else {
        *slash = '\0';
    }

    if (ca->default_layout) {
        r = create_default_dir(ca);
        if (r < 0) {
            return r;
        }
    } else {
        if (access(ca->statedir, F_OK) < 0) {
            say("Creating swtpm-localca dir '%s'.", ca->statedir);
        }
        r = mkdir_parents(ca->statedir, 0770);
        if (r < 0 || access(ca->statedir, R_OK | W_OK | X_OK) < 0) {
            log_access(ca->statedir, "write to", r < 0 ? -r : errno);
            return r < 0 ? r : -EACCES;
        }
        r = mkdir_parents(keydir, 0770);
        if (r < 0) {
            log_access(keydir, "create", -r);
            return r;
        }
        note_owner(ca);
    }
    fd = lock_ca(ca);
    if (fd < 0) {
        return fd;
    }
    if (access(ca->signkey, F_OK) < 0 || access(ca->issuercert, F_OK) < 0) {
        /* upstream's swtpm_localca line, word for word */
        say("Creating root CA and a local CA's signing key and issuer "
            "cert.");
        /* the root CA goes next to the signing key (docs/setup-and-bios.md §7
         * step 2) */
        r = make_parent_dirs(ca, keydir, sizeof(keydir));
        if (r < 0) {
            close(fd);
            return r;
        }
        r = create_ca_files(ca, keydir, ca->signkey, ca->issuercert);
        if (r < 0) {
            close(fd);
            return r;
        }
    }
    return fd;
}

int
localca_open_conf(const char *conf_path, struct localca **out)
{
    struct localca *ca = localca_new();
    int r;

    if (!ca) {
        return -ENOMEM;
    }
    r = read_ca_conf(ca, conf_path);
    if (r < 0) {
        localca_free(ca);
        return r;
    }
    *out = ca;
    return 0;
}

int
localca_reserve(struct localca *ca, char *serial, size_t serial_len,
                void **out_key, void **out_cert)
{
    int fd, r;

    if (ca->kept) {
        /* the lock is still ours and the key loaded */
        r = next_serial(ca, serial, serial_len);
        ca->kept = false;
        if (r < 0) {
            return r;
        }
        *out_key = ca->key;
        *out_cert = ca->cert;
        return 0;
    }
    fd = prepare_ca(ca);
    if (fd < 0) {
        return fd;
    }
    r = load_ca(ca);
    if (r == 0) {
        r = next_serial(ca, serial, serial_len);
    }
    if (r < 0) {
        close(fd);              /* releases the flock */
        return r;
    }
    ca->lock_fd = fd;
    *out_key = ca->key;
    *out_cert = ca->cert;
    return 0;
}

int
localca_keep(struct localca *ca)
{
    if (ca->lock_fd < 0 || !ca->pending[0]) {
        return -EINVAL;
    }
    ca->kept = true;
    return 0;
}

int
localca_commit(struct localca *ca)
{
    int r;

    if (ca->lock_fd < 0) {
        return -EINVAL;
    }
    ca->kept = false;
    r = fd_replace_file(ca->certserial, ca->pending, strlen(ca->pending),
                        0644);
    if (r == 0) {
        give_away(ca, ca->certserial);
    } else {
        log_access(ca->certserial, "write", -r);
    }
    close(ca->lock_fd);         /* releases the flock */
    ca->lock_fd = -1;
    return r;
}

/* swtpm_localca's VM id rule (docs/setup-and-bios.md §7): ',' and unescaped '+'
 * become '_'. */
void
localca_subject_cn(const char *vmid, char *out, size_t outlen)
{
    size_t i;

    snprintf(out, outlen, "%s", vmid ? vmid : "unknown");
    for (i = 0; out[i]; i++) {
        if (out[i] == ',' || (out[i] == '+' && (i == 0 ||
                                                out[i - 1] != '\\'))) {
            out[i] = '_';
        }
    }
}

void
localca_platform(const struct localca *ca, const char **manufacturer,
                 const char **model, const char **version)
{
    *manufacturer = ca->plat_manufacturer;
    *model = ca->plat_model;
    *version = ca->plat_version;
}
