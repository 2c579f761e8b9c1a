/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The local CA (docs/setup-and-bios.md §7): a CA directory named by a
 * swtpm-localca.conf (swtpm_localca, or swtpm_setup with such a config)
 * or the per-user default directory (swtpm_setup's built-in CA), created
 * on first use, and serial numbers allocated under the directory's lock.
 * Signing is the caller's (src/setup/certs.c, src/localca/run.c), with
 * x509.h.
 */
#ifndef SWTPM_LOCALCA_H
#define SWTPM_LOCALCA_H

#include <stddef.h>
#include <sys/types.h>

struct localca;

/*
 * Open the CA that swtpm-localca.conf conf_path describes (statedir,
 * signingkey, issuercert required).  Returns 0 or a negative errno
 * (logged).
 */
int localca_open_conf(const char *conf_path, struct localca **out);

/*
 * swtpm_setup's CA: the localca config file conf_path (not the
 * system-wide one) if given, else the user's swtpm-localca.conf, else
 * the per-user default directory ($XDG_CONFIG_HOME or
 * ~/.config)/swtpm-localca; the platform fields come from opts_path, the
 * user's or the system's swtpm-localca.options.  Returns 0 or a negative
 * errno (logged).
 */
int localca_open(const char *conf_path, const char *opts_path,
                 struct localca **out);

/* The platform certificate fields the options file gave (or uname's). */
void localca_platform(const struct localca *ca, const char **manufacturer,
                      const char **model, const char **version);

/*
 * Create the CA if it is missing, then take its lock (waiting up to 120 s
 * for another run), load the signing key and issuer certificate and take
 * the next serial number (decimal into serial).  *out_key (EVP_PKEY *) and
 * *out_cert (X509 *) stay owned by ca.  The lock is held until
 * localca_commit(), or localca_free(), which leaves the serial unspent.
 * Returns 0 or a negative errno (logged); on error the CA files and the
 * serial file keep their old contents and the lock is released.
 */
int localca_reserve(struct localca *ca, char *serial, size_t serial_len,
                    void **out_key, void **out_cert);

/*
 * The certificate with the reserved serial is made and another follows
 * at once: the lock stays held, and the next localca_reserve() takes the
 * serial after this one without locking or reading the counter again;
 * the last certificate's localca_commit() writes the counter once for
 * all.  If none follows, localca_free() leaves all of them unspent.
 * 0, or -EINVAL when nothing is reserved.
 */
int localca_keep(struct localca *ca);

/*
 * The certificate with the reserved serial is made: store the serial in
 * the counter and release the lock.  0, or a negative errno (logged): the
 * counter keeps its old value, so the caller must not hand out the
 * certificate.
 */
int localca_commit(struct localca *ca);

/* The certificate CN for a VM id: ',' and unescaped '+' become '_'. */
void localca_subject_cn(const char *vmid, char *out, size_t outlen);

void localca_free(struct localca *ca);

#endif
