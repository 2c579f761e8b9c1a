// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for the control engine (ctrl.c) on real libtpms and a real
 * temporary state directory: running/stopped rules, results of
 * docs/control-channel.md §4 and §6, state blob round trips in both the CUSE
 * (chunked) and socket (whole) forms, and the savestate lock release.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctrl.h"
#include "unit_util.h"

static char dir[] = "/tmp/test_ctrl.XXXXXX";
static struct tpm_instance inst;
static struct ctrl_engine eng;

static int
setup(void **state)
{
    char err[256];

    (void)state;
    strcpy(dir, "/tmp/test_ctrl.XXXXXX");
    assert_non_null(mkdtemp(dir));
    memset(&inst, 0, sizeof(inst));
    inst.tpm2 = true;
    inst.store = state_new();
    assert_non_null(inst.store);
    assert_int_equal(state_open(inst.store, dir, true, 0640, false, false,
                                err, sizeof(err)), 0);
    assert_int_equal(tpm_setup(&inst), 0);
    ctrl_engine_init(&eng, &inst, CTRL_FE_CUSE);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    tpm_stop(&inst);
    ctrl_engine_free(&eng);
    tpm_cleanup(&inst);
    state_free(inst.store);
    inst.store = NULL;
    unit_rm_tree(dir);
    return 0;
}

static uint32_t
run(uint32_t cmd, const struct ctrl_req *req, struct ctrl_resp *resp)
{
    ctrl_dispatch(&eng, cmd, req, resp);
    return resp->result;
}

static uint32_t
do_init(void)
{
    struct ctrl_req req = { .cmd = CMD_INIT };
    struct ctrl_resp resp;

    return run(CMD_INIT, &req, &resp);
}

static void
test_ctrl_capabilities_per_frontend(void **state)
{
    struct ctrl_resp resp;

    (void)state;
    run(CMD_GET_CAPABILITY, NULL, &resp);
    assert_int_equal(resp.caps, 0x16FFF);
    eng.fe = CTRL_FE_SOCKET;
    run(CMD_GET_CAPABILITY, NULL, &resp);
    assert_int_equal(resp.caps, 0x1FFFF);
    inst.tpm2 = false;
    run(CMD_GET_CAPABILITY, NULL, &resp);
    assert_int_equal(resp.caps, 0x17FFF);
    inst.tpm2 = true;
}

static void
test_ctrl_dispatch_running_rules(void **state)
{
    struct ctrl_req req = { 0 };
    struct ctrl_resp resp;

    (void)state;
    assert_int_equal(run(CMD_HASH_START, &req, &resp), TPM_BAD_ORDINAL);
    /* the running check comes before size validation */
    assert_int_equal(run(CMD_GET_STATEBLOB, NULL, &resp), TPM_BAD_ORDINAL);
    assert_int_equal(run(CMD_SET_LOCALITY, NULL, &resp), TPM_BAD_PARAMETER);
    assert_int_equal(do_init(), 0);
    assert_true(inst.running);
    assert_int_equal(run(CMD_HASH_START, NULL, &resp), TPM_BAD_PARAMETER);
    req.u.buffersize = 3000;
    assert_int_equal(run(CMD_SET_BUFFERSIZE, &req, &resp), TPM_BAD_ORDINAL);
    req.u.buffersize = 0;
    assert_int_equal(run(CMD_SET_BUFFERSIZE, &req, &resp), 0);
    assert_int_equal(resp.bufsize, 4096);
    assert_int_equal(run(CMD_STOP, &req, &resp), 0);
    assert_false(inst.running);
    assert_int_equal(run(CMD_STOP, &req, &resp), 0);    /* idempotent */
    assert_int_equal(run(CMD_SHUTDOWN, &req, &resp), 0);
    assert_true(eng.exit_requested);
}

static void
test_ctrl_dispatch_locality(void **state)
{
    struct ctrl_req req = { 0 };
    struct ctrl_resp resp;

    (void)state;
    req.u.loc = 4;
    assert_int_equal(run(CMD_SET_LOCALITY, &req, &resp), 0);
    assert_int_equal(inst.locality, 4);
    inst.reject_locality4 = true;
    assert_int_equal(run(CMD_SET_LOCALITY, &req, &resp), TPM_BAD_LOCALITY);
    req.u.loc = 5;
    assert_int_equal(run(CMD_SET_LOCALITY, &req, &resp), TPM_BAD_LOCALITY);
    assert_int_equal(inst.locality, 4);
    assert_int_equal(do_init(), 0);
    req.u.loc = 2;
    assert_int_equal(run(CMD_RESET_TPMESTABLISHED, &req, &resp),
                     TPM_BAD_LOCALITY);
    req.u.loc = 9;
    assert_int_equal(run(CMD_RESET_TPMESTABLISHED, &req, &resp),
                     TPM_BAD_LOCALITY);
    req.u.loc = 3;
    assert_int_equal(run(CMD_RESET_TPMESTABLISHED, &req, &resp), 0);
    assert_int_equal(inst.locality, 4);     /* restored */
    inst.reject_locality4 = false;
}

/* Fetch a whole blob the CUSE way (3072-byte pages by offset). */
static uint8_t *
get_blob(uint32_t type, uint32_t *out_len)
{
    struct ctrl_req req = { .cmd = CMD_GET_STATEBLOB };
    struct ctrl_resp resp;
    uint8_t *buf = NULL;
    uint32_t off = 0, n;

    req.u.getstate.type = type;
    req.u.getstate.flags = PTM_STATE_FLAG_DECRYPTED;
    do {
        req.u.getstate.offset = off;
        assert_int_equal(run(CMD_GET_STATEBLOB, &req, &resp), 0);
        n = resp.avail < PTM_STATE_BLOB_SIZE ? resp.avail
                                             : PTM_STATE_BLOB_SIZE;
        buf = realloc(buf, off + n + 1);
        memcpy(buf + off, resp.data, n);
        off += n;
    } while (off < resp.totlength && n);
    *out_len = off;
    return buf;
}

static uint32_t
set_blob_chunked(uint32_t type, const uint8_t *blob, uint32_t len)
{
    struct ctrl_req req = { .cmd = CMD_SET_STATEBLOB };
    struct ctrl_resp resp;
    uint32_t off = 0, n, rc;

    req.u.setstate.type = type;
    req.u.setstate.chunked = true;
    do {
        n = len - off > PTM_STATE_BLOB_SIZE ? PTM_STATE_BLOB_SIZE
                                            : len - off;
        req.u.setstate.data = blob + off;
        req.u.setstate.len = n;
        rc = run(CMD_SET_STATEBLOB, &req, &resp);
        off += n;
    } while (rc == 0 && n == PTM_STATE_BLOB_SIZE);
    return rc;
}

static void
test_ctrl_stateblob_round_trip_chunked(void **state)
{
    struct ctrl_resp resp;
    uint8_t *perm, *vol;
    uint32_t plen, vlen;
    char path[300];

    (void)state;
    assert_int_equal(do_init(), 0);
    perm = get_blob(PTM_BLOB_TYPE_PERMANENT, &plen);
    assert_true(plen > 100);
    assert_int_equal(perm[5], 0x04);        /* MIGRATION_DATA flag */
    vol = get_blob(PTM_BLOB_TYPE_VOLATILE, &vlen);
    assert_true(vlen > PTM_STATE_BLOB_SIZE);    /* several pages */
    snprintf(path, sizeof(path), "%s/tpm2-00.volatilestate", dir);
    assert_int_equal(access(path, F_OK), -1);   /* deleted after reading */
    /* refused while running */
    assert_int_equal(set_blob_chunked(PTM_BLOB_TYPE_PERMANENT, perm, plen),
                     TPM_BAD_ORDINAL);
    assert_int_equal(run(CMD_STOP, &(struct ctrl_req){ 0 }, &resp), 0);
    assert_int_equal(set_blob_chunked(PTM_BLOB_TYPE_PERMANENT, perm, plen),
                     0);
    assert_int_equal(set_blob_chunked(PTM_BLOB_TYPE_VOLATILE, vol, vlen), 0);
    assert_int_equal(do_init(), 0);
    free(perm);
    free(vol);
}

static void
test_ctrl_stateblob_write_streaming(void **state)
{
    struct ctrl_req req = { .cmd = CMD_SET_STATEBLOB };
    struct ctrl_resp resp;
    uint8_t *perm;
    uint32_t plen;

    (void)state;
    assert_int_equal(do_init(), 0);
    perm = get_blob(PTM_BLOB_TYPE_PERMANENT, &plen);
    assert_int_equal(run(CMD_STOP, &(struct ctrl_req){ 0 }, &resp), 0);
    /* a first 0-length packet opens a write() transfer (docs/control-channel.md
     * §7.6) */
    req.u.setstate.type = PTM_BLOB_TYPE_PERMANENT;
    req.u.setstate.chunked = true;
    req.u.setstate.data = perm;
    req.u.setstate.len = 0;
    assert_int_equal(run(CMD_SET_STATEBLOB, &req, &resp), 0);
    assert_true(ctrl_setblob_active(&eng));
    assert_int_equal(ctrl_setblob_append(&eng, perm, 100), 0);
    assert_int_equal(ctrl_setblob_append(&eng, perm + 100, plen - 100), 0);
    assert_int_equal(run(CMD_SET_STATEBLOB, &req, &resp), 0);
    assert_false(ctrl_setblob_active(&eng));
    assert_int_equal(do_init(), 0);
    /* no transfer open: write data is refused */
    assert_int_equal(ctrl_setblob_append(&eng, perm, 1), -EIO);
    free(perm);
}

static void
test_ctrl_stateblob_bad_input(void **state)
{
    struct ctrl_req req = { .cmd = CMD_SET_STATEBLOB };
    struct ctrl_resp resp;
    static const uint8_t garbage[] = "this is not a state blob";
    static const uint8_t huge_len[] = {
        2, 1, 0, 10, 0, 4, 0xff, 0xff, 0xff, 0xff };

    (void)state;
    req.u.setstate.type = PTM_BLOB_TYPE_PERMANENT;
    req.u.setstate.data = garbage;
    req.u.setstate.len = sizeof(garbage);
    assert_int_not_equal(run(CMD_SET_STATEBLOB, &req, &resp), 0);
    req.u.setstate.data = huge_len;
    req.u.setstate.len = sizeof(huge_len);
    assert_int_equal(run(CMD_SET_STATEBLOB, &req, &resp), TPM_BAD_PARAMETER);
    req.u.setstate.type = 9;
    assert_int_equal(run(CMD_SET_STATEBLOB, &req, &resp), TPM_BAD_PARAMETER);
    /* engine stays usable */
    assert_int_equal(do_init(), 0);
    req.u.getstate.type = 9;
    req.u.getstate.offset = 0;
    assert_int_equal(run(CMD_GET_STATEBLOB, &req, &resp), TPM_BAD_PARAMETER);
    eng.fe = CTRL_FE_SOCKET;
    assert_int_equal(run(CMD_GET_STATEBLOB, &req, &resp), TPM_FAIL);
    req.u.getstate.type = PTM_BLOB_TYPE_SAVESTATE;
    assert_int_equal(run(CMD_GET_STATEBLOB, &req, &resp), TPM_RETRY);
    assert_int_equal(resp.totlength, 0);
}

static void
test_ctrl_savestate_keeps_lock_without_release_option(void **state)
{
    struct ctrl_req req = { .cmd = CMD_GET_STATEBLOB };
    struct ctrl_resp resp;

    (void)state;
    eng.fe = CTRL_FE_SOCKET;
    inst.release_lock_outgoing = false;
    assert_int_equal(do_init(), 0);
    req.u.getstate.type = PTM_BLOB_TYPE_SAVESTATE;
    run(CMD_GET_STATEBLOB, &req, &resp);
    ctrl_after_reply(&eng);
    assert_true(state_is_locked(inst.store));
    assert_int_equal(tpm_may_write(&inst), 0);
}

static void
test_ctrl_savestate_releases_lock_with_option(void **state)
{
    struct ctrl_req req = { .cmd = CMD_GET_STATEBLOB };
    struct ctrl_resp resp;

    (void)state;
    eng.fe = CTRL_FE_CUSE;
    inst.release_lock_outgoing = true;
    assert_int_equal(do_init(), 0);
    assert_true(state_is_locked(inst.store));
    req.u.getstate.type = PTM_BLOB_TYPE_SAVESTATE;
    run(CMD_GET_STATEBLOB, &req, &resp);
    ctrl_after_reply(&eng);
    assert_false(state_is_locked(inst.store));
    /* Given up: nothing is written until the lock is taken back. */
    assert_int_equal(tpm_may_write(&inst), -ENOLCK);
    req.u.retries = 0xffffffffu;    /* cut to TPM_LOCK_RETRIES_MAX */
    assert_int_equal(run(CMD_LOCK_STORAGE, &req, &resp), 0);
    assert_true(state_is_locked(inst.store));
    assert_int_equal(tpm_may_write(&inst), 0);
    inst.release_lock_outgoing = false;
}

static void
test_ctrl_get_info_paging(void **state)
{
    struct ctrl_req req = { .cmd = CMD_GET_INFO };
    struct ctrl_resp resp;

    (void)state;
    req.u.getinfo.flags = PTM_INFO_TPMSPECIFICATION;
    assert_int_equal(run(CMD_GET_INFO, &req, &resp), 0);
    assert_int_equal(resp.avail, resp.totlength);
    assert_int_equal(resp.data[resp.avail - 1], '\0');
    assert_non_null(strstr((const char *)resp.data, "\"family\":\"2.0\""));
    req.u.getinfo.offset = resp.totlength - 2;
    assert_int_equal(run(CMD_GET_INFO, &req, &resp), 0);
    assert_int_equal(resp.avail, 2);
    req.u.getinfo.offset = resp.totlength - 1;
    assert_int_equal(run(CMD_GET_INFO, &req, &resp), TPM_BAD_PARAMETER);
    req.u.getinfo.flags = 0;
    req.u.getinfo.offset = 0;
    assert_int_equal(run(CMD_GET_INFO, &req, &resp), 0);
    assert_string_equal((const char *)resp.data, "{}");
}

static void
test_ctrl_config_flags(void **state)
{
    struct ctrl_resp resp;

    (void)state;
    run(CMD_GET_CONFIG, &(struct ctrl_req){ 0 }, &resp);
    assert_int_equal(resp.config_flags, 0);
    state_set_filekey(inst.store, &(struct state_key){ .len = 16 });
    inst.migkey.len = 32;
    run(CMD_GET_CONFIG, &(struct ctrl_req){ 0 }, &resp);
    assert_int_equal(resp.config_flags, 3);
    state_set_filekey(inst.store, &(struct state_key){ .len = 0 });
    inst.migkey.len = 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ctrl_capabilities_per_frontend,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctrl_dispatch_running_rules,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctrl_dispatch_locality,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_ctrl_stateblob_round_trip_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctrl_stateblob_write_streaming,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctrl_stateblob_bad_input,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_ctrl_savestate_keeps_lock_without_release_option, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_ctrl_savestate_releases_lock_with_option, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctrl_get_info_paging,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctrl_config_flags,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
