/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --pcap: TPM commands and responses written as a pcapng capture of a
 * made-up TCP connection between 127.0.0.1:<50000-54999> and
 * 127.0.0.1:2321 (the TPM port Wireshark decodes), over Ethernet, as
 * upstream swtpm 0.11 does.  Write errors are ignored: the capture is a
 * debugging aid and never stops the TPM.
 */
#ifndef SWTPM_PCAP_H
#define SWTPM_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PCAP_TPM_PORT 2321

/* The parsed --pcap value. */
struct pcap_opts {
    bool given;
    char path[4096];        /* file=, "" when fd= */
    int fd;                 /* fd=, -1 when file= */
    bool truncate;
    mode_t mode;            /* default 0640 */
    bool checksums;         /* fill in IP and TCP checksums */
};

struct pcap_writer {
    int fd;
    bool checksums;
    uint16_t cport;         /* the simulated client port */
    uint32_t cseq, sseq;    /* next TCP sequence numbers of each side */
};

/* Parse --pcap; 0 or -EINVAL with a message in err. */
int pcap_parse(const char *s, struct pcap_opts *out, char *err,
               size_t errlen);

/*
 * Open the file (append unless truncate; O_NOFOLLOW) or take the fd and
 * write the section header, the interface description and a TCP
 * handshake.  Returns 0 or -errno with a message in err.
 */
int pcap_open(const struct pcap_opts *o, struct pcap_writer *out,
              char *err, size_t errlen);

/* One TPM command (to_tpm) or response.  NULL w: nothing. */
void pcap_record(struct pcap_writer *w, const uint8_t *buf, size_t len,
                 bool to_tpm);

/* Write the closing FIN exchange and close; NULL or closed w: nothing. */
void pcap_close(struct pcap_writer *w);

#endif
