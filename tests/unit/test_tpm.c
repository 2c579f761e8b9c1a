// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for tpm.c, the libtpms glue: the TPM's own answers (not
 * running, short, oversized, in-band SetLocality), the locality rules
 * (docs/control-channel.md §6.1, §8.2, §8.5), real commands through
 * libtpms for both TPM versions, and the blob-type tables.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libtpms/tpm_library.h>
#include <tss2/tss2_tpm2_types.h>

#include "ctrl_wire.h"
#include "tpm.h"
#include "unit_util.h"

static char dir[] = "/tmp/test_tpm.XXXXXX";
static struct tpm_instance inst;

static void
open_instance(bool tpm2)
{
    char err[256];

    strcpy(dir, "/tmp/test_tpm.XXXXXX");
    assert_non_null(mkdtemp(dir));
    memset(&inst, 0, sizeof(inst));
    inst.tpm2 = tpm2;
    inst.store = state_new();
    assert_non_null(inst.store);
    assert_int_equal(state_open(inst.store, dir, true, 0640, false, false,
                                err, sizeof(err)), 0);
    assert_int_equal(tpm_setup(&inst), 0);
}

static int
setup2(void **state)
{
    (void)state;
    open_instance(true);
    return 0;
}

static int
setup12(void **state)
{
    (void)state;
    open_instance(false);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    tpm_stop(&inst);
    tpm_cleanup(&inst);
    state_free(inst.store);
    inst.store = NULL;
    unit_rm_tree(dir);
    return 0;
}

/* Run cmd; the response's result code, its length in *len. */
static uint32_t
process(const uint8_t *cmd, uint32_t clen, uint32_t *len,
        const uint8_t **out)
{
    const uint8_t *resp = NULL;
    uint32_t rlen = 0;

    assert_int_equal(tpm_process(&inst, cmd, clen, &resp, &rlen), 0);
    assert_non_null(resp);
    assert_true(rlen >= 10);
    assert_int_equal(be32_get(resp + 2), rlen);
    if (len) {
        *len = rlen;
    }
    if (out) {
        *out = resp;
    }
    return be32_get(resp + 6);
}

static void
start(void)
{
    uint32_t rc = 0;

    assert_int_equal(tpm_start(&inst, false, &rc), 0);
    assert_true(inst.running);
}

static const uint8_t tpm2_startup[] = {
    0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0,
};
static const uint8_t tpm2_getrandom8[] = {
    0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 8,
};

static void
test_tpm2_not_running_answers_failure(void **state)
{
    const uint8_t *r;
    uint32_t len;

    (void)state;
    assert_int_equal(process(tpm2_getrandom8, sizeof(tpm2_getrandom8), &len,
                             &r), TPM2_RC_FAILURE);
    assert_int_equal(len, 10);
    assert_int_equal(be16_get(r), TPM2_ST_NO_SESSIONS);
}

static void
test_tpm2_commands_through_libtpms(void **state)
{
    const uint8_t short_cmd[] = { 0x80, 0x01, 0, 0, 0, 8, 0, 0 };
    const uint8_t *r;
    uint32_t len;

    (void)state;
    start();
    assert_int_equal(process(tpm2_startup, sizeof(tpm2_startup), NULL, NULL),
                     TPM2_RC_SUCCESS);
    assert_int_equal(process(tpm2_getrandom8, sizeof(tpm2_getrandom8), &len,
                             &r), TPM2_RC_SUCCESS);
    assert_int_equal(len, 10 + 2 + 8);
    assert_int_equal(be16_get(r + 10), 8);
    assert_int_equal(inst.last_ordinal, TPM2_CC_GetRandom);
    /* shorter than a header: the TPM's own answer, libtpms never sees it */
    assert_int_equal(process(short_cmd, sizeof(short_cmd), &len, NULL),
                     TPM2_RC_INSUFFICIENT);
    assert_int_equal(inst.last_ordinal, TPM2_CC_GetRandom);
    /* the new TPM's permanent state is on disk */
    {
        char f[64];

        snprintf(f, sizeof(f), "%s/tpm2-00.permall", dir);
        assert_int_equal(access(f, F_OK), 0);
    }
}

static void
test_tpm2_too_big_response(void **state)
{
    const uint8_t *r;
    uint32_t len;

    (void)state;
    assert_int_equal(tpm_too_big_response(&inst, &r, &len), 0);
    assert_int_equal(len, 10);
    assert_int_equal(be16_get(r), TPM2_ST_NO_SESSIONS);
    assert_int_equal(be32_get(r + 2), 10);
    assert_int_equal(be32_get(r + 6), TPM2_RC_COMMAND_SIZE);
}

static void
test_tpm12_too_big_response(void **state)
{
    const uint8_t *r;
    uint32_t len;

    (void)state;
    assert_int_equal(tpm_too_big_response(&inst, &r, &len), 0);
    assert_int_equal(be16_get(r), TPM_TAG_RSP_COMMAND_12);
    assert_int_equal(be32_get(r + 6), TPM_BAD_PARAM_SIZE);
}

/* SET_LOCALITY's rule (§6.1): 0-4, 4 only without reject-locality-4. */
static void
test_tpm_set_locality_rules(void **state)
{
    (void)state;
    for (uint32_t l = 0; l <= 4; l++) {
        assert_int_equal(tpm_set_locality(&inst, l), 0);
        assert_int_equal(inst.locality, l);
    }
    assert_int_equal(tpm_set_locality(&inst, 5), TPM_BAD_LOCALITY);
    assert_int_equal(tpm_set_locality(&inst, 0xffffffffu), TPM_BAD_LOCALITY);
    assert_int_equal(inst.locality, 4);
    inst.reject_locality4 = true;
    assert_int_equal(tpm_set_locality(&inst, 4), TPM_BAD_LOCALITY);
    assert_int_equal(tpm_set_locality(&inst, 3), 0);
    /* the command prefix's locality is kept unchecked (§8.2) */
    tpm_set_prefix_locality(&inst, 4);
    assert_int_equal(inst.locality, 4);
    tpm_set_prefix_locality(&inst, 0xff);
    assert_int_equal(inst.locality, 0xff);
}

/* In-band TPM_CC_SetLocality (§8.5). */
static void
test_tpm2_vendor_set_locality(void **state)
{
    uint8_t cmd[] = { 0x80, 0x01, 0, 0, 0, 11, 0x20, 0x00, 0x10, 0x00, 3 };
    uint32_t len;

    (void)state;
    start();
    /* not allowed without allow-set-locality */
    assert_int_equal(process(cmd, sizeof(cmd), &len, NULL), TPM2_RC_FAILURE);
    assert_int_equal(inst.locality, 0);
    inst.allow_set_locality = true;
    assert_int_equal(process(cmd, sizeof(cmd), &len, NULL), 0);
    assert_int_equal(len, 10);
    assert_int_equal(inst.locality, 3);
    cmd[10] = 5;
    assert_int_equal(process(cmd, sizeof(cmd), NULL, NULL),
                     TPM_RC_LOCALITY_SWTPM);
    assert_int_equal(inst.locality, 3);
    /* the locality byte missing */
    assert_int_equal(process(cmd, 10, NULL, NULL), TPM2_RC_INSUFFICIENT);
}

static void
test_tpm12_commands_through_libtpms(void **state)
{
    /* TPM_Startup(ST_CLEAR), then TPM_GetRandom(8) */
    const uint8_t startup[] = { 0, 0xc1, 0, 0, 0, 12, 0, 0, 0, 0x99, 0, 1 };
    const uint8_t getrandom[] = {
        0, 0xc1, 0, 0, 0, 14, 0, 0, 0, 0x46, 0, 0, 0, 8,
    };
    const uint8_t *r;
    uint32_t len;

    (void)state;
    assert_int_equal(process(startup, sizeof(startup), &len, &r), TPM_FAIL);
    assert_int_equal(be16_get(r), TPM_TAG_RSP_COMMAND_12);
    start();
    assert_int_equal(process(startup, sizeof(startup), NULL, NULL), 0);
    assert_int_equal(process(getrandom, sizeof(getrandom), &len, &r), 0);
    assert_int_equal(len, 10 + 4 + 8);
    assert_int_equal(be32_get(r + 10), 8);
}

/* TPMS_CLOCK_INFO.restartCount from TPM2_ReadClock: it is in the
 * permall, and a TPM2_Startup(CLEAR) after tpm_stop()'s
 * TPM2_Shutdown(STATE), a TPM Restart, counts it up; a new TPM starts at
 * 0. */
static uint32_t
restart_count(void)
{
    static const uint8_t read_clock[] = {
        0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x01, 0x81,
    };
    const uint8_t *r;
    uint32_t len;

    assert_int_equal(process(read_clock, sizeof(read_clock), &len, &r),
                     TPM2_RC_SUCCESS);
    assert_true(len >= 10 + 16 + 8);
    return be32_get(r + 10 + 16 + 4);
}

/*
 * hold_writes (swtpm_setup's scratch state): nothing reaches the
 * directory while libtpms runs, a restart in the same process reads the
 * held permall back, and tpm_flush_held() writes one file that a fresh
 * start then loads.
 */
static void
test_tpm2_hold_writes_flushed_once(void **state)
{
    char f[80];
    uint32_t first;

    (void)state;
    snprintf(f, sizeof(f), "%s/tpm2-00.permall", dir);
    inst.hold_writes = true;
    start();
    assert_int_equal(process(tpm2_startup, sizeof(tpm2_startup), NULL, NULL),
                     TPM2_RC_SUCCESS);
    first = restart_count();
    tpm_stop(&inst);
    assert_int_equal(access(f, F_OK), -1);
    assert_non_null(inst.held[STATE_OBJ_PERMALL].data);
    /* restarted while held: the held permall is the TPM's state (a new
     * TPM would count from 0 again) */
    start();
    assert_int_equal(process(tpm2_startup, sizeof(tpm2_startup), NULL, NULL),
                     TPM2_RC_SUCCESS);
    assert_int_equal(restart_count(), first + 1);
    tpm_stop(&inst);
    assert_int_equal(access(f, F_OK), -1);
    assert_int_equal(tpm_flush_held(&inst), 0);
    assert_null(inst.held[STATE_OBJ_PERMALL].data);
    assert_int_equal(access(f, F_OK), 0);
    /* and from the file */
    inst.hold_writes = false;
    start();
    assert_int_equal(process(tpm2_startup, sizeof(tpm2_startup), NULL, NULL),
                     TPM2_RC_SUCCESS);
    assert_int_equal(restart_count(), first + 2);
}

/* Dropped instead of flushed (a run that failed): no file. */
static void
test_tpm2_hold_writes_dropped(void **state)
{
    char f[80];

    (void)state;
    snprintf(f, sizeof(f), "%s/tpm2-00.permall", dir);
    inst.hold_writes = true;
    start();
    tpm_stop(&inst);
    assert_non_null(inst.held[STATE_OBJ_PERMALL].data);
    tpm_drop_held(&inst);
    assert_null(inst.held[STATE_OBJ_PERMALL].data);
    assert_int_equal(tpm_flush_held(&inst), 0);
    assert_int_equal(access(f, F_OK), -1);
}

static void
test_tpm_blob_tables(void **state)
{
    (void)state;
    assert_string_equal(tpm_blob_name(PTM_BLOB_TYPE_PERMANENT), "permall");
    assert_string_equal(tpm_blob_name(PTM_BLOB_TYPE_VOLATILE),
                        "volatilestate");
    assert_string_equal(tpm_blob_name(PTM_BLOB_TYPE_SAVESTATE), "savestate");
    assert_null(tpm_blob_name(0));
    assert_null(tpm_blob_name(4));
    assert_int_equal(tpm_blob_libtpms_type(PTM_BLOB_TYPE_PERMANENT),
                     TPMLIB_STATE_PERMANENT);
    assert_int_equal(tpm_blob_libtpms_type(PTM_BLOB_TYPE_VOLATILE),
                     TPMLIB_STATE_VOLATILE);
    assert_int_equal(tpm_blob_libtpms_type(PTM_BLOB_TYPE_SAVESTATE),
                     TPMLIB_STATE_SAVE_STATE);
    assert_int_equal(tpm_blob_libtpms_type(9), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T2(f) cmocka_unit_test_setup_teardown(f, setup2, teardown)
#define T12(f) cmocka_unit_test_setup_teardown(f, setup12, teardown)
        T2(test_tpm2_not_running_answers_failure),
        T2(test_tpm2_commands_through_libtpms),
        T2(test_tpm2_too_big_response),
        T12(test_tpm12_too_big_response),
        T2(test_tpm_set_locality_rules),
        T2(test_tpm2_vendor_set_locality),
        T12(test_tpm12_commands_through_libtpms),
        T2(test_tpm_blob_tables),
        T2(test_tpm2_hold_writes_flushed_once),
        T2(test_tpm2_hold_writes_dropped),
#undef T2
#undef T12
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
