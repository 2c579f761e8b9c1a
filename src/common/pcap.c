// SPDX-License-Identifier: BSD-3-Clause
/*
 * pcapng writer for --pcap (pcap.h).  Blocks used: Section Header,
 * Interface Description (link type 1, Ethernet; microsecond timestamps)
 * and Enhanced Packet blocks, each padded to 32 bits, in host byte order
 * as pcapng allows.  Each packet is Ethernet + IPv4 + TCP headers with
 * the TPM bytes as payload.  An appended file gets a new section, which
 * readers such as tcpdump and tshark follow.
 */
#include "pcap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "log.h"
#include "subopt.h"

#define BLOCK_SHB 0x0a0d0d0au
#define BLOCK_IDB 0x00000001u
#define BLOCK_EPB 0x00000006u
#define SHB_MAGIC 0x1a2b3c4du
#define LINKTYPE_ETHERNET 1

#define ETH_LEN 14
#define IP_LEN 20
#define TCP_LEN 20
#define HDRS_LEN (ETH_LEN + IP_LEN + TCP_LEN)
#define EPB_HDR_LEN 28

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10

int
pcap_parse(const char *s, struct pcap_opts *out, char *err, size_t errlen)
{
    static const char *const names[] = {
        "file", "fd", "truncate", "mode", "checksums", NULL,
    };
    struct subopts so;
    const char *v;
    int r;

    memset(out, 0, sizeof(*out));
    out->fd = -1;
    out->mode = 0640;
    r = subopts_parse(s, names, &so, err, errlen);
    if (r < 0) {
        return r;
    }
    r = -EINVAL;
    if ((v = subopts_get(&so, "file"))) {
        if (strlen(v) >= sizeof(out->path)) {
            snprintf(err, errlen, "--pcap file name is too long");
            goto out;
        }
        strcpy(out->path, v);
    } else if ((v = subopts_get(&so, "fd"))) {
        if (parse_fd(v, &out->fd) < 0) {
            snprintf(err, errlen, "--pcap fd must be a file descriptor, "
                     "got '%s'", v);
            goto out;
        }
        /* Checked now, while options are parsed and before the log file
         * or NOTIFY_SOCKET can be opened under the same number: a closed
         * fd=3 would otherwise write the capture into the daemon's log. */
        if (fcntl(out->fd, F_GETFL) < 0) {
            snprintf(err, errlen, "--pcap fd=%d is not open: pass an open "
                     "descriptor or use file=", out->fd);
            goto out;
        }
    } else {
        snprintf(err, errlen, "--pcap needs file= or fd=");
        goto out;
    }
    if ((v = subopts_get(&so, "mode")) && parse_mode(v, &out->mode) < 0) {
        snprintf(err, errlen, "--pcap mode must be octal <= 0777, got '%s'",
                 v);
        goto out;
    }
    out->truncate = subopts_bool(&so, "truncate", false);
    out->checksums = subopts_bool(&so, "checksums", false);
    out->given = true;
    r = 0;
out:
    subopts_free(&so);
    return r;
}

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* One's-complement sum of 16-bit big-endian words (RFC 1071). */
static uint32_t
csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
    size_t i;

    for (i = 0; i + 1 < len; i += 2) {
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    }
    if (len & 1) {
        sum += (uint32_t)p[len - 1] << 8;
    }
    return sum;
}

static uint16_t
csum_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

/* Ethernet, IPv4 and TCP headers for one segment into h. */
static void
fill_headers(const struct pcap_writer *w, uint8_t *h, bool to_tpm,
             uint8_t flags, const uint8_t *data, size_t len)
{
    uint8_t *ip = h + ETH_LEN, *tcp = ip + IP_LEN, pseudo[12];
    uint32_t sum;

    memset(h, 0, HDRS_LEN);
    put16(h + 12, 0x0800);                      /* EtherType IPv4 */
    ip[0] = 0x45;                               /* v4, 5 words */
    put16(ip + 2, (uint16_t)(IP_LEN + TCP_LEN + len));
    put16(ip + 6, 0x4000);                      /* don't fragment */
    ip[8] = 64;                                 /* TTL */
    ip[9] = 6;                                  /* TCP */
    put32(ip + 12, 0x7f000001);
    put32(ip + 16, 0x7f000001);
    put16(tcp, to_tpm ? w->cport : PCAP_TPM_PORT);
    put16(tcp + 2, to_tpm ? PCAP_TPM_PORT : w->cport);
    put32(tcp + 4, to_tpm ? w->cseq : w->sseq);
    if (flags & TCP_ACK) {
        put32(tcp + 8, to_tpm ? w->sseq : w->cseq);
    }
    tcp[12] = (TCP_LEN / 4) << 4;
    tcp[13] = flags;
    put16(tcp + 14, 0xffff);                    /* window */
    if (!w->checksums) {
        return;
    }
    put16(ip + 10, csum_fold(csum_add(0, ip, IP_LEN)));
    memcpy(pseudo, ip + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = 6;
    put16(pseudo + 10, (uint16_t)(TCP_LEN + len));
    sum = csum_add(0, pseudo, sizeof(pseudo));
    sum = csum_add(sum, tcp, TCP_LEN);
    sum = csum_add(sum, data, len);
    put16(tcp + 16, csum_fold(sum));
}

/* Write all of iov; errors are ignored by design (pcap.h). */
static int
write_iov(int fd, struct iovec *iov, int n)
{
    ssize_t w;

    while (n > 0) {
        w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Copy a host-order value into a block at off (pcapng is host order). */
#define PUT_HOST(buf, off, type, v) \
    memcpy((buf) + (off), &(type){ (v) }, sizeof(type))

/* One Enhanced Packet Block carrying a TCP segment with payload data. */
static int
write_segment(struct pcap_writer *w, bool to_tpm, uint8_t flags,
              const uint8_t *data, size_t len)
{
    uint8_t epb[EPB_HDR_LEN], hdrs[HDRS_LEN], pad[4] = { 0 };
    uint32_t cap = (uint32_t)(HDRS_LEN + len), total;
    size_t padlen = (4 - cap % 4) % 4;
    struct timespec ts;
    uint64_t us;
    struct iovec iov[5];

    clock_gettime(CLOCK_REALTIME, &ts);
    us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    total = (uint32_t)(EPB_HDR_LEN + cap + padlen + 4);
    PUT_HOST(epb, 0, uint32_t, BLOCK_EPB);
    PUT_HOST(epb, 4, uint32_t, total);
    PUT_HOST(epb, 8, uint32_t, 0);              /* interface 0 */
    PUT_HOST(epb, 12, uint32_t, (uint32_t)(us >> 32));
    PUT_HOST(epb, 16, uint32_t, (uint32_t)us);
    PUT_HOST(epb, 20, uint32_t, cap);           /* captured */
    PUT_HOST(epb, 24, uint32_t, cap);           /* original */
    fill_headers(w, hdrs, to_tpm, flags, data, len);
    iov[0] = (struct iovec){ epb, sizeof(epb) };
    iov[1] = (struct iovec){ hdrs, sizeof(hdrs) };
    iov[2] = (struct iovec){ (void *)data, len };
    iov[3] = (struct iovec){ pad, padlen };
    iov[4] = (struct iovec){ &total, 4 };
    return write_iov(w->fd, iov, 5);
}

/* SYN, SYN+ACK, ACK (flag TCP_SYN) or FIN, FIN+ACK, ACK (TCP_FIN). */
static int
write_exchange(struct pcap_writer *w, uint8_t flag)
{
    int r;

    r = write_segment(w, true, flag == TCP_SYN ? flag : flag | TCP_ACK,
                      NULL, 0);
    w->cseq++;
    if (r == 0) {
        r = write_segment(w, false, flag | TCP_ACK, NULL, 0);
    }
    w->sseq++;
    if (r == 0) {
        r = write_segment(w, true, TCP_ACK, NULL, 0);
    }
    return r;
}

static int
write_file_header(int fd)
{
    uint8_t shb[28], idb[20];
    struct iovec iov[2];

    PUT_HOST(shb, 0, uint32_t, BLOCK_SHB);
    PUT_HOST(shb, 4, uint32_t, sizeof(shb));
    PUT_HOST(shb, 8, uint32_t, SHB_MAGIC);
    PUT_HOST(shb, 12, uint16_t, 1);             /* version 1.0 */
    PUT_HOST(shb, 14, uint16_t, 0);
    PUT_HOST(shb, 16, uint64_t, UINT64_MAX);    /* section length unknown */
    PUT_HOST(shb, 24, uint32_t, sizeof(shb));
    PUT_HOST(idb, 0, uint32_t, BLOCK_IDB);
    PUT_HOST(idb, 4, uint32_t, sizeof(idb));
    PUT_HOST(idb, 8, uint16_t, LINKTYPE_ETHERNET);
    PUT_HOST(idb, 10, uint16_t, 0);
    PUT_HOST(idb, 12, uint32_t, 0);             /* no snap length limit */
    PUT_HOST(idb, 16, uint32_t, sizeof(idb));
    iov[0] = (struct iovec){ shb, sizeof(shb) };
    iov[1] = (struct iovec){ idb, sizeof(idb) };
    return write_iov(fd, iov, 2);
}

int
pcap_open(const struct pcap_opts *o, struct pcap_writer *out, char *err,
          size_t errlen)
{
    uint8_t rnd[10];
    int fd, r;

    memset(out, 0, sizeof(*out));
    out->fd = -1;
    if (o->path[0]) {
        /* O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of
         * holding the start in open(), and a full one cannot stall us. */
        fd = open(o->path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
                  O_CLOEXEC | O_NONBLOCK | (o->truncate ? O_TRUNC : 0),
                  o->mode);
        if (fd < 0) {
            r = -errno;
            snprintf(err, errlen, "cannot open pcap file '%s': %s%s",
                     o->path, strerror(-r), r == -ENXIO ?
                     " (a FIFO with no reader: start the reader first)" : "");
            return r;
        }
    } else {
        fd = o->fd;
        if (fcntl(fd, F_GETFL) < 0) {
            r = -errno;
            snprintf(err, errlen, "--pcap fd=%d is not open", fd);
            return r;
        }
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    out->fd = fd;
    out->checksums = o->checksums;
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        memset(rnd, 0, sizeof(rnd));
    }
    out->cport = (uint16_t)(50000 + (rnd[0] << 8 | rnd[1]) % 5000);
    memcpy(&out->cseq, rnd + 2, 4);
    memcpy(&out->sseq, rnd + 6, 4);
    r = write_file_header(fd);
    if (r == 0) {
        r = write_exchange(out, TCP_SYN);
    }
    if (r < 0) {
        snprintf(err, errlen, "cannot write the pcap file: %s",
                 strerror(-r));
        close(fd);
        out->fd = -1;
    }
    return r;
}

void
pcap_record(struct pcap_writer *w, const uint8_t *buf, size_t len,
            bool to_tpm)
{
    int r;

    if (!w || w->fd < 0) {
        return;
    }
    r = write_segment(w, to_tpm, TCP_PSH | TCP_ACK, buf, len);
    if (r < 0) {
        /* The daemon goes on, so this is where it is logged, once: the
         * capture ends here rather than the TPM waiting for a reader
         * that does not read (EAGAIN) or for a file that fails. */
        log_warn("pcap: %s; the capture stops here, the TPM goes on",
                 r == -EAGAIN ? "the reader does not keep up" :
                 strerror(-r));
        close(w->fd);
        w->fd = -1;
        return;
    }
    if (to_tpm) {
        w->cseq += (uint32_t)len;
    } else {
        w->sseq += (uint32_t)len;
    }
}

void
pcap_close(struct pcap_writer *w)
{
    if (!w || w->fd < 0) {
        return;
    }
    (void)write_exchange(w, TCP_FIN);
    close(w->fd);
    w->fd = -1;
}
