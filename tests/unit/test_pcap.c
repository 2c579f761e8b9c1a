// SPDX-License-Identifier: BSD-3-Clause
/* Unit tests for pcap.c: --pcap parsing and the pcapng bytes written. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "pcap.h"

static void
test_pcap_parse_valid(void **state)
{
    struct pcap_opts o;
    char err[256];

    (void)state;
    assert_int_equal(pcap_parse("file=/tmp/x.pcap", &o, err, sizeof(err)),
                     0);
    assert_true(o.given);
    assert_string_equal(o.path, "/tmp/x.pcap");
    assert_int_equal(o.fd, -1);
    assert_int_equal(o.mode, 0640);
    assert_false(o.truncate);
    assert_false(o.checksums);
    /* fd= must name an open descriptor (checked while parsing) */
    assert_int_equal(dup2(STDERR_FILENO, 7), 7);
    assert_int_equal(pcap_parse("fd=7,truncate,mode=600,checksums", &o, err,
                                sizeof(err)), 0);
    close(7);
    assert_int_equal(o.fd, 7);
    assert_string_equal(o.path, "");
    assert_int_equal(o.mode, 0600);
    assert_true(o.truncate);
    assert_true(o.checksums);
}

static void
test_pcap_parse_errors(void **state)
{
    static const char *const bad[] = {
        "", "truncate", "fd=x", "fd=-1", "fd=65536", "file=/a,mode=999",
        "file=/a,mode=abc", "file=/a,bogus", "file=", "fd=9999",
    };
    struct pcap_opts o;
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(pcap_parse(bad[i], &o, err, sizeof(err)), -EINVAL);
        assert_true(err[0] != '\0');
    }
}

static uint32_t
host32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

static uint16_t
be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Internet checksum over len bytes; 0 when the stored checksum is right */
static uint16_t
verify_sum(const uint8_t *pseudo, size_t plen, const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    size_t i;

    for (i = 0; i + 1 < plen; i += 2) {
        sum += be16(pseudo + i);
    }
    for (i = 0; i + 1 < len; i += 2) {
        sum += be16(p + i);
    }
    if (len & 1) {
        sum += (uint32_t)p[len - 1] << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

/* SHB, IDB, SYN/SYN+ACK/ACK, one odd-sized command, FIN x3: every block
 * well-formed, 32-bit aligned, checksums right. */
static void
test_pcap_blocks_and_checksums(void **state)
{
    static const uint8_t cmd[] = {
        0x80, 0x01, 0, 0, 0, 0x0d, 0, 0, 0x01, 0x7b, 0, 0x08, 0xaa };
    struct pcap_opts o;
    struct pcap_writer w;
    uint8_t buf[4096], pseudo[12];
    char err[256];
    size_t off, n, blocks = 0;
    uint16_t link;
    ssize_t got;
    int fd;

    (void)state;
    fd = memfd_create("pcap", 0);
    assert_true(fd >= 0);
    assert_int_equal(pcap_parse("fd=0,checksums", &o, err, sizeof(err)), 0);
    o.fd = dup(fd);
    assert_int_equal(pcap_open(&o, &w, err, sizeof(err)), 0);
    pcap_record(&w, cmd, sizeof(cmd), /* to_tpm= */ true);
    pcap_record(NULL, cmd, sizeof(cmd), true);      /* no writer: no-op */
    pcap_close(&w);
    pcap_close(&w);                                 /* twice is fine */
    got = pread(fd, buf, sizeof(buf), 0);
    close(fd);
    assert_true(got > 0);
    n = (size_t)got;
    assert_int_equal(host32(buf), 0x0a0d0d0a);
    assert_int_equal(host32(buf + 8), 0x1a2b3c4d);
    assert_int_equal(host32(buf + 28), 1);          /* IDB */
    memcpy(&link, buf + 36, 2);
    assert_int_equal(link, 1);                      /* Ethernet */
    for (off = 0; off < n; blocks++) {
        uint32_t len = host32(buf + off + 4);

        assert_true(len % 4 == 0 && len >= 12 && off + len <= n);
        assert_int_equal(host32(buf + off + len - 4), len);
        if (host32(buf + off) == 6) {
            const uint8_t *ip = buf + off + 28 + 14, *tcp = ip + 20;
            uint32_t cap = host32(buf + off + 20);
            size_t tcplen = cap - 14 - 20;

            assert_int_equal(be16(buf + off + 28 + 12), 0x0800);
            assert_int_equal(verify_sum(NULL, 0, ip, 20), 0);
            assert_true(be16(tcp) == PCAP_TPM_PORT ||
                        be16(tcp + 2) == PCAP_TPM_PORT);
            memcpy(pseudo, ip + 12, 8);
            pseudo[8] = 0;
            pseudo[9] = 6;
            pseudo[10] = (uint8_t)(tcplen >> 8);
            pseudo[11] = (uint8_t)tcplen;
            assert_int_equal(verify_sum(pseudo, 12, tcp, tcplen), 0);
            if (tcplen > 20) {
                assert_int_equal(tcplen - 20, sizeof(cmd));
                assert_memory_equal(tcp + 20, cmd, sizeof(cmd));
            }
        }
        off += len;
    }
    assert_int_equal(off, n);
    assert_int_equal(blocks, 2 + 3 + 1 + 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcap_parse_valid),
        cmocka_unit_test(test_pcap_parse_errors),
        cmocka_unit_test(test_pcap_blocks_and_checksums),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
