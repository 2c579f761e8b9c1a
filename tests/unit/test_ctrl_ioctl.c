// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for ctrl_ioctl.c and ctrl_table.c: decoding of every CUSE
 * ioctl struct (valid, short, oversized and maximum-size input) and the
 * reply sizes of docs/control-channel.md §9.4.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctrl_ioctl.h"

static void
test_ioctl_numbers_match_spec(void **state)
{
    (void)state;
    assert_int_equal(ctrl_cmd_to_ioctl(CMD_GET_CAPABILITY), 0x80085000);
    assert_int_equal(ctrl_cmd_to_ioctl(CMD_INIT), 0xC0045001);
    assert_int_equal(ctrl_cmd_to_ioctl(CMD_HASH_DATA), 0xD0045006);
    assert_int_equal(ctrl_cmd_to_ioctl(CMD_GET_STATEBLOB), 0xCC10500B);
    assert_int_equal(ctrl_cmd_to_ioctl(CMD_SET_STATEBLOB), 0xCC0C500C);
    assert_int_equal(ctrl_cmd_to_ioctl(CMD_SET_BUFFERSIZE), 0xC0105010);
    assert_int_equal(ctrl_cmd_to_ioctl(CMD_GET_INFO), 0xCC105011);
    assert_int_equal(ctrl_cmd_to_ioctl(CMD_LOCK_STORAGE), 0xC0045012);
    assert_int_equal(ctrl_cmd_to_ioctl(0), 0);
    assert_int_equal(ctrl_cmd_to_ioctl(CMD_MAX + 1), 0);
    for (uint32_t c = 1; c <= CMD_MAX; c++) {
        assert_int_equal(ctrl_ioctl_to_cmd(ctrl_cmd_to_ioctl(c)), c);
        assert_int_equal(_IOC_NR(ctrl_cmd_to_ioctl(c)), c - 1);
    }
    assert_int_equal(ctrl_ioctl_to_cmd(0x5401), 0);
    assert_string_equal(ctrl_cmd_name(CMD_INIT), "PTM_INIT");
    assert_string_equal(ctrl_cmd_name(99), "unknown");
}

static void
test_ctrl_ioctl_decode_init_valid_and_short(void **state)
{
    struct ptm_init in = { .u.req.init_flags = 1 };
    struct ctrl_req req;

    (void)state;
    assert_int_equal(ctrl_ioctl_decode(CMD_INIT, &in, sizeof(in), &req), 0);
    assert_int_equal(req.cmd, CMD_INIT);
    assert_int_equal(req.u.init_flags, 1);
    assert_int_equal(ctrl_ioctl_decode(CMD_INIT, &in, 3, &req), -EBADMSG);
    assert_int_equal(ctrl_ioctl_decode(CMD_INIT, NULL, 0, &req), -EBADMSG);
}

static void
test_ctrl_ioctl_decode_locality_out_of_range_passes_through(void **state)
{
    struct ptm_loc in = { .u.req.loc = 255 };
    struct ctrl_req req;

    (void)state;
    /* Range checks belong to the engine (TPM_BAD_LOCALITY), not here. */
    assert_int_equal(ctrl_ioctl_decode(CMD_SET_LOCALITY, &in, sizeof(in),
                                       &req), 0);
    assert_int_equal(req.u.loc, 255);
    assert_int_equal(ctrl_ioctl_decode(CMD_RESET_TPMESTABLISHED, &in,
                                       sizeof(in), &req), 0);
    assert_int_equal(ctrl_ioctl_decode(CMD_SET_LOCALITY, &in, 0, &req),
                     -EBADMSG);
}

static void
test_ctrl_ioctl_decode_hash_data_lengths(void **state)
{
    static struct ptm_hdata in;
    struct ctrl_req req;

    (void)state;
    in.u.req.length = PTM_HDATA_SIZE;      /* maximum */
    assert_int_equal(ctrl_ioctl_decode(CMD_HASH_DATA, &in, sizeof(in),
                                       &req), 0);
    assert_int_equal(req.u.hash.len, PTM_HDATA_SIZE);
    assert_ptr_equal(req.u.hash.data, in.u.req.data);
    in.u.req.length = PTM_HDATA_SIZE + 1;  /* too long: engine fails it */
    assert_int_equal(ctrl_ioctl_decode(CMD_HASH_DATA, &in, sizeof(in),
                                       &req), 0);
    assert_int_equal(req.u.hash.len, UINT32_MAX);
    assert_int_equal(ctrl_ioctl_decode(CMD_HASH_DATA, &in, 4099, &req),
                     -EBADMSG);
}

static void
test_ctrl_ioctl_decode_setstate_lengths(void **state)
{
    static struct ptm_setstate in;
    struct ctrl_req req;

    (void)state;
    in.u.req.type = PTM_BLOB_TYPE_VOLATILE;
    in.u.req.state_flags = PTM_STATE_FLAG_ENCRYPTED;
    in.u.req.length = PTM_STATE_BLOB_SIZE;
    assert_int_equal(ctrl_ioctl_decode(CMD_SET_STATEBLOB, &in, sizeof(in),
                                       &req), 0);
    assert_true(req.u.setstate.chunked);
    assert_int_equal(req.u.setstate.len, PTM_STATE_BLOB_SIZE);
    assert_int_equal(req.u.setstate.type, PTM_BLOB_TYPE_VOLATILE);
    assert_int_equal(req.u.setstate.flags, PTM_STATE_FLAG_ENCRYPTED);
    in.u.req.length = PTM_STATE_BLOB_SIZE + 1;
    assert_int_equal(ctrl_ioctl_decode(CMD_SET_STATEBLOB, &in, sizeof(in),
                                       &req), -EBADMSG);
    in.u.req.length = UINT32_MAX;
    assert_int_equal(ctrl_ioctl_decode(CMD_SET_STATEBLOB, &in, sizeof(in),
                                       &req), -EBADMSG);
    in.u.req.length = 0;
    assert_int_equal(ctrl_ioctl_decode(CMD_SET_STATEBLOB, &in, 11, &req),
                     -EBADMSG);
}

static void
test_ctrl_ioctl_decode_getstate_getinfo_bufsize_lock(void **state)
{
    struct ptm_getstate gs = { .u.req = { 1, 3, 6144 } };
    struct ptm_getinfo gi = { .u.req = { .flags = 3, .offset = 7 } };
    struct ptm_setbuffersize sb = { .u.req.buffersize = 3000 };
    struct ptm_lockstorage ls = { .u.req.retries = 300 };
    struct ctrl_req req;

    (void)state;
    assert_int_equal(ctrl_ioctl_decode(CMD_GET_STATEBLOB, &gs, sizeof(gs),
                                       &req), 0);
    assert_int_equal(req.u.getstate.flags, 1);
    assert_int_equal(req.u.getstate.type, 3);
    assert_int_equal(req.u.getstate.offset, 6144);
    assert_int_equal(ctrl_ioctl_decode(CMD_GET_INFO, &gi, sizeof(gi),
                                       &req), 0);
    assert_int_equal(req.u.getinfo.flags, 3);
    assert_int_equal(req.u.getinfo.offset, 7);
    assert_int_equal(ctrl_ioctl_decode(CMD_SET_BUFFERSIZE, &sb, sizeof(sb),
                                       &req), 0);
    assert_int_equal(req.u.buffersize, 3000);
    assert_int_equal(ctrl_ioctl_decode(CMD_LOCK_STORAGE, &ls, sizeof(ls),
                                       &req), 0);
    assert_int_equal(req.u.retries, 300);
    assert_int_equal(ctrl_ioctl_decode(CMD_GET_STATEBLOB, &gs, 11, &req),
                     -EBADMSG);
    assert_int_equal(ctrl_ioctl_decode(CMD_GET_INFO, &gi, 15, &req),
                     -EBADMSG);
}

static void
test_ctrl_ioctl_decode_read_only_commands_need_no_input(void **state)
{
    static const uint32_t cmds[] = {
        CMD_GET_CAPABILITY, CMD_SHUTDOWN, CMD_GET_TPMESTABLISHED,
        CMD_HASH_START, CMD_HASH_END, CMD_CANCEL_TPM_CMD,
        CMD_STORE_VOLATILE, CMD_STOP, CMD_GET_CONFIG };
    struct ctrl_req req;

    (void)state;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        assert_int_equal(ctrl_ioctl_in_size(cmds[i]), 0);
        assert_int_equal(ctrl_ioctl_decode(cmds[i], NULL, 0, &req), 0);
    }
}

static void
test_ctrl_ioctl_encode_reply_sizes(void **state)
{
    static uint8_t out[CTRL_IOCTL_MAX];
    static uint8_t blob[5000];
    struct ctrl_resp r;
    struct ptm_getstate *gs = (struct ptm_getstate *)out;
    struct ptm_getinfo *gi = (struct ptm_getinfo *)out;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.caps = 0x16FFF;
    assert_int_equal(ctrl_ioctl_encode(CMD_GET_CAPABILITY, &r, out), 8);
    assert_int_equal(*(uint64_t *)out, 0x16FFF);
    r.result = TPM_BAD_LOCALITY;
    assert_int_equal(ctrl_ioctl_encode(CMD_SET_LOCALITY, &r, out), 4);
    assert_int_equal(*(uint32_t *)out, TPM_BAD_LOCALITY);
    assert_int_equal(ctrl_ioctl_encode(CMD_STOP, &r, out), 4);
    assert_int_equal(ctrl_ioctl_encode(CMD_GET_TPMESTABLISHED, &r, out), 8);
    assert_int_equal(ctrl_ioctl_encode(CMD_HASH_DATA, &r, out), 4100);
    assert_int_equal(ctrl_ioctl_encode(CMD_SET_STATEBLOB, &r, out), 3084);
    assert_int_equal(ctrl_ioctl_encode(CMD_GET_CONFIG, &r, out), 8);
    assert_int_equal(ctrl_ioctl_encode(CMD_SET_BUFFERSIZE, &r, out), 16);

    /* GET_STATEBLOB: at most 3072 bytes per call, totlength = whole */
    memset(&r, 0, sizeof(r));
    memset(blob, 0xa5, sizeof(blob));
    r.data = blob;
    r.avail = sizeof(blob);
    r.totlength = sizeof(blob);
    assert_int_equal(ctrl_ioctl_encode(CMD_GET_STATEBLOB, &r, out), 3088);
    assert_int_equal(gs->u.resp.length, PTM_STATE_BLOB_SIZE);
    assert_int_equal(gs->u.resp.totlength, sizeof(blob));
    assert_int_equal(gs->u.resp.data[PTM_STATE_BLOB_SIZE - 1], 0xa5);
    r.avail = 10;
    assert_int_equal(ctrl_ioctl_encode(CMD_GET_STATEBLOB, &r, out), 3088);
    assert_int_equal(gs->u.resp.length, 10);
    assert_int_equal(gs->u.resp.data[10], 0);

    memset(&r, 0, sizeof(r));
    r.data = (const uint8_t *)"{}";
    r.avail = 3;
    r.totlength = 3;
    assert_int_equal(ctrl_ioctl_encode(CMD_GET_INFO, &r, out), 3088);
    assert_int_equal(gi->u.resp.length, 3);
    assert_string_equal(gi->u.resp.buffer, "{}");
}

/*
 * Every command's input and reply fit in CTRL_IOCTL_MAX, the buffer the
 * CUSE front end replies from.  Found by fuzz_ctrl_ioctl: the buffer was
 * sizeof(ptm_getstate) = 3088 while HASH_DATA replies 4100 bytes, so
 * swtpm_cuse sent 1012 bytes of whatever followed the buffer.
 */
static void
test_ctrl_ioctl_encode_fits_buffer(void **state)
{
    static uint8_t out[CTRL_IOCTL_MAX + 16];
    struct ctrl_resp r;

    (void)state;
    memset(&r, 0, sizeof(r));
    for (uint32_t cmd = 0; cmd <= CMD_MAX + 1; cmd++) {
        unsigned long nr = ctrl_cmd_to_ioctl(cmd);

        memset(out, 0xee, sizeof(out));
        assert_true(ctrl_ioctl_in_size(cmd) <= CTRL_IOCTL_MAX);
        assert_true(ctrl_ioctl_encode(cmd, &r, out) <= CTRL_IOCTL_MAX);
        assert_true(!nr || _IOC_SIZE(nr) <= CTRL_IOCTL_MAX);
        /* The whole reply buffer is cleared; nothing beyond it is touched */
        for (size_t i = 4; i < CTRL_IOCTL_MAX; i++) {
            if (cmd != CMD_GET_CAPABILITY && out[i] != 0) {
                fail_msg("cmd %u: byte %zu not cleared", cmd, i);
            }
        }
        assert_int_equal(out[CTRL_IOCTL_MAX], 0xee);
    }
    assert_int_equal(ctrl_ioctl_encode(CMD_HASH_DATA, &r, out), 4100);
}

static void
test_ctrl_result_str_names_codes(void **state)
{
    (void)state;
    assert_string_equal(ctrl_result_str(0), "success");
    assert_non_null(strstr(ctrl_result_str(TPM_BAD_LOCALITY), "locality"));
    assert_non_null(strstr(ctrl_result_str(TPM_RETRY), "no such"));
    assert_non_null(ctrl_result_str(0xdeadbeef));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ioctl_numbers_match_spec),
        cmocka_unit_test(test_ctrl_ioctl_decode_init_valid_and_short),
        cmocka_unit_test(
            test_ctrl_ioctl_decode_locality_out_of_range_passes_through),
        cmocka_unit_test(test_ctrl_ioctl_decode_hash_data_lengths),
        cmocka_unit_test(test_ctrl_ioctl_decode_setstate_lengths),
        cmocka_unit_test(test_ctrl_ioctl_decode_getstate_getinfo_bufsize_lock),
        cmocka_unit_test(
            test_ctrl_ioctl_decode_read_only_commands_need_no_input),
        cmocka_unit_test(test_ctrl_ioctl_encode_reply_sizes),
        cmocka_unit_test(test_ctrl_ioctl_encode_fits_buffer),
        cmocka_unit_test(test_ctrl_result_str_names_codes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
