// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for ctrl_rows.h (through ctrl_table.c): the one row per
 * control command agrees with itself, with the wire structs and buffer
 * limits, and with the tables of docs/control-channel.md (§2 numbers and
 * sizes, §6 "needs running", §9.3 commands that do not wait for the
 * worker).  The doc is
 * read from the checkout (make unit-check runs in the top directory).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "ctrl.h"
#include "ctrl_ioctl.h"
#include "ctrl_sock.h"

#define DOC "docs/control-channel.md"

static void
test_ctrl_cmd_desc_rows_are_complete_and_unique(void **state)
{
    (void)state;
    assert_null(ctrl_cmd_desc(0));
    assert_null(ctrl_cmd_desc(CMD_MAX + 1));
    assert_null(ctrl_cmd_desc(0xdeadbeef));
    for (uint32_t c = 1; c <= CMD_MAX; c++) {
        const struct ctrl_cmd_desc *d = ctrl_cmd_desc(c);

        assert_non_null(d);
        assert_int_equal(d->code, c);
        assert_int_equal(_IOC_TYPE(d->ioctl), 'P');
        assert_int_equal(_IOC_NR(d->ioctl), c - 1);
        assert_int_equal(ctrl_ioctl_to_cmd(d->ioctl), c);
        assert_non_null(d->name);
        assert_memory_equal(d->name, "PTM_", 4);
        for (uint32_t o = 1; o < c; o++) {
            assert_string_not_equal(ctrl_cmd_desc(o)->name, d->name);
            assert_int_not_equal(ctrl_cmd_desc(o)->ioctl, d->ioctl);
        }
    }
}

/* The host struct size is the one the ioctl number encodes. */
static void
test_ctrl_cmd_desc_ioctl_sizes_match_structs(void **state)
{
    static const struct { uint32_t cmd; size_t size; } sizes[] = {
        { CMD_GET_CAPABILITY, sizeof(ptm_cap) },
        { CMD_INIT, sizeof(struct ptm_init) },
        { CMD_SHUTDOWN, sizeof(ptm_res) },
        { CMD_GET_TPMESTABLISHED, sizeof(struct ptm_est) },
        { CMD_SET_LOCALITY, sizeof(struct ptm_loc) },
        { CMD_HASH_START, sizeof(ptm_res) },
        { CMD_HASH_DATA, sizeof(struct ptm_hdata) },
        { CMD_HASH_END, sizeof(ptm_res) },
        { CMD_CANCEL_TPM_CMD, sizeof(ptm_res) },
        { CMD_STORE_VOLATILE, sizeof(ptm_res) },
        { CMD_RESET_TPMESTABLISHED, sizeof(struct ptm_reset_est) },
        { CMD_GET_STATEBLOB, sizeof(struct ptm_getstate) },
        { CMD_SET_STATEBLOB, sizeof(struct ptm_setstate) },
        { CMD_STOP, sizeof(ptm_res) },
        { CMD_GET_CONFIG, sizeof(struct ptm_getconfig) },
        { CMD_SET_DATAFD, sizeof(ptm_res) },
        { CMD_SET_BUFFERSIZE, sizeof(struct ptm_setbuffersize) },
        { CMD_GET_INFO, sizeof(struct ptm_getinfo) },
        { CMD_LOCK_STORAGE, sizeof(struct ptm_lockstorage) },
    };

    (void)state;
    assert_int_equal(sizeof(sizes) / sizeof(sizes[0]), CMD_MAX);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        const struct ctrl_cmd_desc *d = ctrl_cmd_desc(sizes[i].cmd);

        assert_int_equal(_IOC_SIZE(d->ioctl), sizes[i].size);
        assert_int_equal(client_ctrl_struct_size(sizes[i].cmd),
                         sizes[i].size);
        assert_true(sizes[i].size <= CTRL_IOCTL_MAX);
    }
}

/* Socket columns fit the buffers that the reader and encoder use. */
static void
test_ctrl_cmd_desc_socket_columns_fit_buffers(void **state)
{
    (void)state;
    for (uint32_t c = 1; c <= CMD_MAX; c++) {
        const struct ctrl_cmd_desc *d = ctrl_cmd_desc(c);

        assert_true(d->sock_fixed <= d->sock_min);
        assert_true(4 + (size_t)d->sock_fixed <= CTRL_SOCK_BUF_MAX);
        assert_true(!d->sock_exact || d->sock_fixed == d->sock_min);
        assert_true(d->sock_req >= d->sock_min);
        assert_true(d->sock_req <= _IOC_SIZE(d->ioctl) + 4);
        assert_true(d->sock_resp >= 4);
        assert_true(d->sock_resp <= CTRL_SOCK_RESP_HDR_MAX);
        assert_int_equal(d->sock_resp_data, d->sock_data_max > 0);
        assert_int_equal(ctrl_sock_fixed_len(c), d->sock_fixed);
        assert_int_equal(ctrl_needs_running(c), d->needs_running);
    }
    assert_int_equal(ctrl_cmd_desc(CMD_GET_STATEBLOB)->sock_resp,
                     CLIENT_GETSTATE_HDR);
    assert_int_equal(ctrl_cmd_desc(CMD_GET_INFO)->sock_resp,
                     CLIENT_GETINFO_HDR);
}

/* Read the whole doc into a NUL-terminated buffer. */
static char *
read_doc(void)
{
    FILE *f = fopen(DOC, "r");
    char *buf;
    size_t n;

    assert_non_null(f);
    buf = calloc(1, 256 * 1024);
    assert_non_null(buf);
    n = fread(buf, 1, 256 * 1024 - 1, f);
    assert_true(n > 0);
    fclose(f);
    return buf;
}

/* The row of name ("INIT") in a doc table: the line "| ... | NAME |". */
static const struct ctrl_cmd_desc *
desc_by_short_name(const char *name, size_t len)
{
    for (uint32_t c = 1; c <= CMD_MAX; c++) {
        const char *n = ctrl_cmd_desc(c)->name + 4;

        if (strlen(n) == len && memcmp(n, name, len) == 0) {
            return ctrl_cmd_desc(c);
        }
    }
    return NULL;
}

/* §2: "| 02 | INIT | 1 | RW | ptm_init (4) | C0045001 |". */
static void
test_ctrl_cmd_desc_matches_doc_numbers(void **state)
{
    char *doc = read_doc(), *line;
    unsigned int code, nr, size, rows = 0;
    unsigned long nr_hex;
    char name[64], dir[4], sname[64];

    (void)state;
    for (line = strtok(doc, "\n"); line; line = strtok(NULL, "\n")) {
        const struct ctrl_cmd_desc *d;

        if (sscanf(line, "| %x | %63s | %u | %3s | %63s (%u%*[^|]| %lx |",
                   &code, name, &nr, dir, sname, &size, &nr_hex) != 7) {
            continue;
        }
        d = desc_by_short_name(name, strlen(name));
        if (!d) {
            fail_msg("%s lists %s, which has no row in ctrl_rows.h", DOC,
                     name);
        }
        assert_int_equal(d->code, code);
        assert_int_equal(_IOC_NR(d->ioctl), nr);
        assert_int_equal(_IOC_SIZE(d->ioctl), size);
        assert_int_equal(!!(_IOC_DIR(d->ioctl) & _IOC_WRITE),
                         strchr(dir, 'W') != NULL);
#if defined(__x86_64__)
        assert_int_equal(d->ioctl, nr_hex);
#endif
        rows++;
    }
    assert_int_equal(rows, CMD_MAX);
    free(doc);
}

/* §6: "| INIT | no | ..."; HASH_START/DATA/END share one line. */
static void
test_ctrl_cmd_desc_matches_doc_needs_running(void **state)
{
    char *doc = read_doc(), *line, *sec;
    unsigned int rows = 0;
    char names[64], yes[32];

    (void)state;
    sec = strstr(doc, "## 6. What each command does");
    assert_non_null(sec);
    *strstr(sec, "### 6.1") = '\0';
    for (line = strtok(sec, "\n"); line; line = strtok(NULL, "\n")) {
        const struct ctrl_cmd_desc *d;
        bool running;

        if (sscanf(line, "| %63[A-Z_/] | %31[^|]|", names, yes) != 2) {
            continue;
        }
        running = strncmp(yes, "yes", 3) == 0;
        if (strcmp(names, "HASH_START/DATA/END") == 0) {
            assert_true(running);
            assert_true(ctrl_cmd_desc(CMD_HASH_START)->needs_running);
            assert_true(ctrl_cmd_desc(CMD_HASH_DATA)->needs_running);
            assert_true(ctrl_cmd_desc(CMD_HASH_END)->needs_running);
            rows += 3;
            continue;
        }
        d = desc_by_short_name(names, strlen(names));
        if (!d) {
            fail_msg("%s §6 lists %s, which has no row in ctrl_rows.h",
                     DOC, names);
        }
        assert_int_equal(d->needs_running, running);
        rows++;
    }
    assert_int_equal(rows, CMD_MAX);
    free(doc);
}

/* §9.3: the commands that do not wait for the worker. */
static void
test_ctrl_cmd_desc_matches_doc_worker_waits(void **state)
{
    char *doc = read_doc(), *p, *end;
    unsigned int nowait = 0;

    (void)state;
    p = strstr(doc, "arrive meanwhile.");
    assert_non_null(p);
    end = strstr(p, "do not wait for the worker");
    assert_non_null(end);
    *end = '\0';
    for (uint32_t c = 1; c <= CMD_MAX; c++) {
        const struct ctrl_cmd_desc *d = ctrl_cmd_desc(c);
        const char *n = d->name + 4, *hit = p;
        bool listed = false;
        size_t len = strlen(n);

        while ((hit = strstr(hit, n)) != NULL) {
            if ((hit[len] < 'A' || hit[len] > 'Z') && hit[len] != '_' &&
                hit[-1] != '_') {
                listed = true;
            }
            hit += len;
        }
        assert_int_equal(d->cuse_waits, !listed);
        nowait += listed;
    }
    assert_int_equal(nowait, 6);
    free(doc);
}

/* §3: "| 0 | 00001 | INIT | yes | yes |": each row's capability bit and
 * front ends; HASHING covers HASH_START/DATA/END, SEND_COMMAND_HEADER is
 * no command. */
static void
test_ctrl_cmd_desc_matches_doc_capabilities(void **state)
{
    char *doc = read_doc(), *line, *sec;
    unsigned int bit, value, rows = 0;
    char name[64], cuse[16];
    uint32_t seen = 0;

    (void)state;
    sec = strstr(doc, "## 3. Capability bits");
    assert_non_null(sec);
    *strstr(sec, "## 4.") = '\0';
    for (line = strtok(sec, "\n"); line; line = strtok(NULL, "\n")) {
        const struct ctrl_cmd_desc *d;

        if (sscanf(line, "| %u | %x | %63[^|]| %15[a-z] |", &bit, &value,
                   name, cuse) != 4) {
            continue;
        }
        name[strcspn(name, " ")] = '\0';
        assert_int_equal(value, 1u << bit);
        if (strcmp(name, "SEND_COMMAND_HEADER") == 0) {
            continue;
        }
        if (strcmp(name, "HASHING") == 0) {
            for (uint32_t c = CMD_HASH_START; c <= CMD_HASH_END; c++) {
                assert_int_equal(ctrl_cmd_desc(c)->cap, value);
                seen |= 1u << c;
            }
            rows++;
            continue;
        }
        d = desc_by_short_name(name, strlen(name));
        if (!d) {
            fail_msg("%s §3 lists %s, which has no row in ctrl_rows.h",
                     DOC, name);
        }
        assert_int_equal(d->cap, value);
        assert_int_equal(d->socket_only, strcmp(cuse, "no") == 0);
        seen |= 1u << d->code;
        rows++;
    }
    assert_int_equal(rows, 16);
    /* every command but GET_CAPABILITY has its bit */
    for (uint32_t c = 1; c <= CMD_MAX; c++) {
        assert_int_equal(!!(seen & (1u << c)), c != CMD_GET_CAPABILITY);
    }
    assert_int_equal(ctrl_cmd_desc(CMD_GET_CAPABILITY)->cap, 0);
    free(doc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctrl_cmd_desc_rows_are_complete_and_unique),
        cmocka_unit_test(test_ctrl_cmd_desc_ioctl_sizes_match_structs),
        cmocka_unit_test(test_ctrl_cmd_desc_socket_columns_fit_buffers),
        cmocka_unit_test(test_ctrl_cmd_desc_matches_doc_numbers),
        cmocka_unit_test(test_ctrl_cmd_desc_matches_doc_needs_running),
        cmocka_unit_test(test_ctrl_cmd_desc_matches_doc_worker_waits),
        cmocka_unit_test(test_ctrl_cmd_desc_matches_doc_capabilities),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
