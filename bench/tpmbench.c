// SPDX-License-Identifier: BSD-3-Clause
/*
 * tpmbench: time TPM command round trips against several targets at once,
 * interleaved (every iteration visits every target, starting at a rotating
 * one) so that a noisy shared machine slows all of them alike.  Prints one
 * JSON object per target and command on stdout.
 *
 *   tpmbench [--tpm12] [--cmds NAME=N,...] [--warmup N] NAME=KIND:ARG...
 *   tpmbench --make-state DIR
 *
 * KIND:ARG is inproc:STATEDIR, dev:PATH, unix:PATH or tcp:PORT.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "target.h"
#include "tpmcmd.h"

#define MAX_TARGETS 8
#define MAX_CMDS 8

struct opts {
    bool tpm12;
    unsigned int warmup;
    const char *make_state;
    const struct tpmcmd_def *cmds[MAX_CMDS];
    unsigned long iters[MAX_CMDS];
    size_t ncmds;
    struct target targets[MAX_TARGETS];
    size_t ntargets;
};

struct result {
    unsigned long errors;
    uint32_t last_bad_rc;
    double *us;                 /* one sample per iteration */
    unsigned long n;
};

static double
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static double
pct(const double *v, unsigned long n, double p)
{
    unsigned long i = (unsigned long)(p / 100.0 * (double)(n - 1) + 0.5);

    return n ? v[i < n ? i : n - 1] : 0.0;
}

static void
print_result(const struct target *t, const char *cmd, struct result *r)
{
    double sum = 0;
    unsigned long i;

    qsort(r->us, r->n, sizeof(double), cmp_double);
    for (i = 0; i < r->n; i++) {
        sum += r->us[i];
    }
    printf("{\"target\": \"%s\", \"cmd\": \"%s\", \"n\": %lu, "
           "\"errors\": %lu, \"bad_rc\": %u, \"median_us\": %.2f, "
           "\"p10_us\": %.2f, \"p90_us\": %.2f, \"min_us\": %.2f, "
           "\"mean_us\": %.2f}\n", t->name, cmd, r->n, r->errors,
           r->last_bad_rc, pct(r->us, r->n, 50), pct(r->us, r->n, 10),
           pct(r->us, r->n, 90), r->n ? r->us[0] : 0.0,
           r->n ? sum / (double)r->n : 0.0);
    fflush(stdout);
}

/* An untimed helper command; its failure only counts for the record. */
static void
untimed(struct target *t, const struct tpmcmd *c, const char *what)
{
    uint32_t rc;

    if (target_roundtrip(t, c->b, c->len) < 0) {
        fprintf(stderr, "tpmbench: %s: %s failed\n", t->name, what);
        return;
    }
    rc = tpmcmd_rc(t->resp, t->resp_len);
    /* 0x14c: TPM_RC_NV_DEFINED, the index exists already */
    if (rc != 0 && rc != 0x14c) {
        fprintf(stderr, "tpmbench: %s: %s answered 0x%x\n", t->name, what,
                rc);
    }
}

/* One timed round trip plus the clean-up the command needs. */
static int
one(struct target *t, const struct tpmcmd_def *d, const struct tpmcmd *c,
    struct result *r, bool record)
{
    struct tpmcmd fl;
    double t0, t1;
    uint32_t rc;

    t0 = now_us();
    if (target_roundtrip(t, c->b, c->len) < 0) {
        fprintf(stderr, "tpmbench: %s: %s: transport failed\n", t->name,
                d->name);
        return -EIO;
    }
    t1 = now_us();
    rc = tpmcmd_rc(t->resp, t->resp_len);
    if (d->kind == TPMCMD_CREATES_OBJECT && rc == 0) {
        tpmcmd_flush(&fl, tpmcmd_handle(t->resp, t->resp_len));
        untimed(t, &fl, "FlushContext");
    }
    if (!record) {
        return 0;
    }
    if (rc != 0) {
        r->errors++;
        r->last_bad_rc = rc;
    }
    r->us[r->n++] = t1 - t0;
    return 0;
}

static int
run_cmd(struct opts *o, size_t ci)
{
    const struct tpmcmd_def *d = o->cmds[ci];
    struct result res[MAX_TARGETS] = { { 0 } };
    struct tpmcmd c, def;
    unsigned long i;
    size_t k, j;
    int r = 0;

    d->build(&c);
    for (k = 0; k < o->ntargets; k++) {
        res[k].us = calloc(o->iters[ci] + 1, sizeof(double));
        if (!res[k].us) {
            r = -ENOMEM;
            goto out;
        }
        if (d->kind == TPMCMD_NEEDS_NV_INDEX) {
            tpmcmd_nv_define(&def);
            untimed(&o->targets[k], &def, "NV_DefineSpace");
        }
        for (i = 0; i < o->warmup && r == 0; i++) {
            if (d->vary) {
                d->vary(&c, (uint64_t)1 << 63 | i);
            }
            r = one(&o->targets[k], d, &c, &res[k], false);
        }
    }
    for (i = 0; i < o->iters[ci] && r == 0; i++) {
        /* Iteration i sends the same bytes to every target. */
        if (d->vary) {
            d->vary(&c, i);
        }
        for (j = 0; j < o->ntargets && r == 0; j++) {
            k = (i + j) % o->ntargets;
            r = one(&o->targets[k], d, &c, &res[k], true);
        }
    }
    for (k = 0; k < o->ntargets && r == 0; k++) {
        print_result(&o->targets[k], d->name, &res[k]);
    }
out:
    for (k = 0; k < o->ntargets; k++) {
        free(res[k].us);
    }
    return r;
}

/* NAME=N,NAME=N,... */
static int
parse_cmds(struct opts *o, char *s)
{
    char *tok, *save = NULL, *eq, *end;

    for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        eq = strchr(tok, '=');
        if (!eq || o->ncmds == MAX_CMDS) {
            fprintf(stderr, "tpmbench: --cmds wants NAME=N,..., got '%s'\n",
                    tok);
            return -EINVAL;
        }
        *eq = '\0';
        o->cmds[o->ncmds] = tpmcmd_find(tok);
        o->iters[o->ncmds] = strtoul(eq + 1, &end, 10);
        if (!o->cmds[o->ncmds] || *end != '\0' ||
            o->iters[o->ncmds] == 0 || o->iters[o->ncmds] > 10000000) {
            fprintf(stderr, "tpmbench: unknown command or bad count "
                    "'%s=%s'\n", tok, eq + 1);
            return -EINVAL;
        }
        o->ncmds++;
    }
    return 0;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        { "cmds", required_argument, NULL, 'c' },
        { "make-state", required_argument, NULL, 'm' },
        { "tpm12", no_argument, NULL, '1' },
        { "warmup", required_argument, NULL, 'w' },
        { NULL, 0, NULL, 0 },
    };
    char err[600];
    int ch;

    o->warmup = 5;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case '1': o->tpm12 = true; break;
        case 'c':
            if (parse_cmds(o, optarg) < 0) {
                return -EINVAL;
            }
            break;
        case 'm': o->make_state = optarg; break;
        case 'w': o->warmup = (unsigned int)strtoul(optarg, NULL, 10); break;
        default: return -EINVAL;
        }
    }
    for (; optind < argc; optind++) {
        if (o->ntargets == MAX_TARGETS) {
            fprintf(stderr, "tpmbench: at most %d targets\n", MAX_TARGETS);
            return -EINVAL;
        }
        if (target_parse(&o->targets[o->ntargets++], argv[optind], err,
                         sizeof(err)) < 0) {
            fprintf(stderr, "tpmbench: %s\n", err);
            return -EINVAL;
        }
    }
    if (!o->make_state && (o->ntargets == 0 || o->ncmds == 0)) {
        fprintf(stderr, "usage: tpmbench [--tpm12] --cmds NAME=N,... "
                "NAME=KIND:ARG...\n       tpmbench --make-state DIR\n");
        return -EINVAL;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    static struct opts o;
    char err[600];
    size_t k, opened = 0;
    int r = 0;

    log_set_fd(2);
    if (parse_opts(argc, argv, &o) < 0) {
        return 2;
    }
    if (o.make_state) {
        if (target_make_state(o.make_state, err, sizeof(err)) < 0) {
            fprintf(stderr, "tpmbench: %s\n", err);
            return 1;
        }
        return 0;
    }
    for (k = 0; k < o.ntargets && r == 0; k++, opened++) {
        r = target_open(&o.targets[k], o.tpm12, err, sizeof(err));
        if (r < 0) {
            fprintf(stderr, "tpmbench: %s: %s\n", o.targets[k].name, err);
        }
    }
    for (k = 0; k < o.ncmds && r == 0; k++) {
        r = run_cmd(&o, k);
    }
    for (k = 0; k < opened; k++) {
        target_close(&o.targets[k]);
    }
    return r < 0 ? 1 : 0;
}
