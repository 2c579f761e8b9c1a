/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control channel wire formats (docs/control-channel.md).  The same 19
 * commands travel as CUSE ioctls (host byte order, fixed-size structs) and
 * over the socket control channel (big-endian, command code first).  The
 * struct layouts below are ABI: their sizes are encoded in the ioctl
 * numbers and checked by static assertions.
 */
#ifndef SWTPM_CTRL_WIRE_H
#define SWTPM_CTRL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "bytes.h"

/* Socket command codes; CUSE ioctl nr = code - 1. */
enum ctrl_cmd {
    CMD_GET_CAPABILITY = 1,
    CMD_INIT,
    CMD_SHUTDOWN,
    CMD_GET_TPMESTABLISHED,
    CMD_SET_LOCALITY,
    CMD_HASH_START,
    CMD_HASH_DATA,
    CMD_HASH_END,
    CMD_CANCEL_TPM_CMD,
    CMD_STORE_VOLATILE,
    CMD_RESET_TPMESTABLISHED,
    CMD_GET_STATEBLOB,
    CMD_SET_STATEBLOB,
    CMD_STOP,
    CMD_GET_CONFIG,
    CMD_SET_DATAFD,
    CMD_SET_BUFFERSIZE,
    CMD_GET_INFO,
    CMD_LOCK_STORAGE,
    CMD_MAX = CMD_LOCK_STORAGE,
};

/* Capability bits (section 3). */
#define PTM_CAP_INIT                  (1u << 0)
#define PTM_CAP_SHUTDOWN              (1u << 1)
#define PTM_CAP_GET_TPMESTABLISHED    (1u << 2)
#define PTM_CAP_SET_LOCALITY          (1u << 3)
#define PTM_CAP_HASHING               (1u << 4)
#define PTM_CAP_CANCEL_TPM_CMD        (1u << 5)
#define PTM_CAP_STORE_VOLATILE        (1u << 6)
#define PTM_CAP_RESET_TPMESTABLISHED  (1u << 7)
#define PTM_CAP_GET_STATEBLOB         (1u << 8)
#define PTM_CAP_SET_STATEBLOB         (1u << 9)
#define PTM_CAP_STOP                  (1u << 10)
#define PTM_CAP_GET_CONFIG            (1u << 11)
#define PTM_CAP_SET_DATAFD            (1u << 12)
#define PTM_CAP_SET_BUFFERSIZE        (1u << 13)
#define PTM_CAP_GET_INFO              (1u << 14)
#define PTM_CAP_SEND_COMMAND_HEADER   (1u << 15)
#define PTM_CAP_LOCK_STORAGE          (1u << 16)

/* Result codes produced by the control layer (section 4). */
#define TPM_SUCCESS            0x00u
#define TPM_BAD_PARAMETER      0x03u
#define TPM_FAIL               0x09u
#define TPM_BAD_ORDINAL        0x0Au
#define TPM_KEYNOTFOUND        0x0Du
#define TPM_SIZE               0x17u
#define TPM_BAD_PARAM_SIZE     0x19u
#define TPM_IOERROR            0x1Fu
#define TPM_DECRYPT_ERROR      0x21u
#define TPM_BAD_KEY_PROPERTY   0x28u
#define TPM_BAD_DATASIZE       0x2Bu
#define TPM_BAD_VERSION        0x2Eu
#define TPM_BAD_LOCALITY       0x3Du
#define TPM_RETRY              0x800u

#define PTM_INIT_FLAG_DELETE_VOLATILE (1u << 0)
#define PTM_STATE_FLAG_DECRYPTED      (1u << 0)
#define PTM_STATE_FLAG_ENCRYPTED      (1u << 1)
#define PTM_CONFIG_FLAG_FILE_KEY      (1u << 0)
#define PTM_CONFIG_FLAG_MIGRATION_KEY (1u << 1)

enum ptm_blob_type {
    PTM_BLOB_TYPE_PERMANENT = 1,
    PTM_BLOB_TYPE_VOLATILE = 2,
    PTM_BLOB_TYPE_SAVESTATE = 3,
};

#define PTM_STATE_BLOB_SIZE (3 * 1024)
#define PTM_GETINFO_SIZE    (3 * 1024)
#define PTM_HDATA_SIZE      4096
/* Largest blob accepted by SET_STATEBLOB (HEAD: 512 KiB). */
#define PTM_SET_BLOB_MAX    (512 * 1024)
/* Largest socket GET_STATEBLOB reply a client accepts (sanity bound). */
#define CTRL_CLIENT_BLOB_MAX (16u * 1024 * 1024)

/* GET_INFO flags understood by libtpms 0.9. */
#define PTM_INFO_TPMSPECIFICATION 0x1u
#define PTM_INFO_TPMATTRIBUTES    0x2u
#define PTM_INFO_TPMFEATURES      0x4u

typedef uint64_t ptm_cap;
typedef uint32_t ptm_res;

struct ptm_init {
    union {
        struct { uint32_t init_flags; } req;
        struct { ptm_res tpm_result; } resp;
    } u;
};

struct ptm_est {
    union {
        struct { ptm_res tpm_result; uint8_t bit; uint8_t pad[3]; } resp;
    } u;
};

struct ptm_reset_est {
    union {
        struct { uint8_t loc; uint8_t pad[3]; } req;
        struct { ptm_res tpm_result; } resp;
    } u;
};

struct ptm_loc {
    union {
        struct { uint8_t loc; uint8_t pad[3]; } req;
        struct { ptm_res tpm_result; } resp;
    } u;
};

struct ptm_hdata {
    union {
        struct { uint32_t length; uint8_t data[PTM_HDATA_SIZE]; } req;
        struct { ptm_res tpm_result; } resp;
    } u;
};

struct ptm_getstate {
    union {
        struct { uint32_t state_flags; uint32_t type; uint32_t offset; } req;
        struct {
            ptm_res tpm_result;
            uint32_t state_flags;
            uint32_t totlength;
            uint32_t length;
            uint8_t data[PTM_STATE_BLOB_SIZE];
        } resp;
    } u;
};

struct ptm_setstate {
    union {
        struct {
            uint32_t state_flags;
            uint32_t type;
            uint32_t length;
            uint8_t data[PTM_STATE_BLOB_SIZE];
        } req;
        struct { ptm_res tpm_result; } resp;
    } u;
};

struct ptm_getconfig {
    union {
        struct { ptm_res tpm_result; uint32_t flags; } resp;
    } u;
};

struct ptm_setbuffersize {
    union {
        struct { uint32_t buffersize; } req;
        struct {
            ptm_res tpm_result;
            uint32_t buffersize;
            uint32_t minsize;
            uint32_t maxsize;
        } resp;
    } u;
};

struct ptm_getinfo {
    union {
        struct { uint64_t flags; uint32_t offset; uint32_t pad; } req;
        struct {
            ptm_res tpm_result;
            uint32_t totlength;
            uint32_t length;
            char buffer[PTM_GETINFO_SIZE];
        } resp;
    } u;
};

struct ptm_lockstorage {
    union {
        struct { uint32_t retries; } req;
        struct { ptm_res tpm_result; } resp;
    } u;
};

#define PTM_GET_CAPABILITY       _IOR('P', 0, ptm_cap)
#define PTM_INIT                 _IOWR('P', 1, struct ptm_init)
#define PTM_SHUTDOWN             _IOR('P', 2, ptm_res)
#define PTM_GET_TPMESTABLISHED   _IOR('P', 3, struct ptm_est)
#define PTM_SET_LOCALITY         _IOWR('P', 4, struct ptm_loc)
#define PTM_HASH_START           _IOR('P', 5, ptm_res)
#define PTM_HASH_DATA            _IOWR('P', 6, struct ptm_hdata)
#define PTM_HASH_END             _IOR('P', 7, ptm_res)
#define PTM_CANCEL_TPM_CMD       _IOR('P', 8, ptm_res)
#define PTM_STORE_VOLATILE       _IOR('P', 9, ptm_res)
#define PTM_RESET_TPMESTABLISHED _IOWR('P', 10, struct ptm_reset_est)
#define PTM_GET_STATEBLOB        _IOWR('P', 11, struct ptm_getstate)
#define PTM_SET_STATEBLOB        _IOWR('P', 12, struct ptm_setstate)
#define PTM_STOP                 _IOR('P', 13, ptm_res)
#define PTM_GET_CONFIG           _IOR('P', 14, struct ptm_getconfig)
#define PTM_SET_DATAFD           _IOR('P', 15, ptm_res)
#define PTM_SET_BUFFERSIZE       _IOWR('P', 16, struct ptm_setbuffersize)
#define PTM_GET_INFO             _IOWR('P', 17, struct ptm_getinfo)
#define PTM_LOCK_STORAGE         _IOWR('P', 18, struct ptm_lockstorage)

_Static_assert(sizeof(struct ptm_est) == 8, "ptm_est ABI");
_Static_assert(sizeof(struct ptm_hdata) == 4100, "ptm_hdata ABI");
_Static_assert(sizeof(struct ptm_getstate) == 3088, "ptm_getstate ABI");
_Static_assert(sizeof(struct ptm_setstate) == 3084, "ptm_setstate ABI");
_Static_assert(sizeof(struct ptm_setbuffersize) == 16, "setbuffersize ABI");
#if defined(__x86_64__) || defined(__aarch64__)
_Static_assert(sizeof(struct ptm_getinfo) == 3088, "ptm_getinfo ABI");
#endif

/*
 * Everything that differs per control command besides its handler and its
 * field layout, from its row in ctrl_rows.h (which names the handler too).  The host-order
 * struct size of a command is _IOC_SIZE(ioctl); the CUSE reply is that
 * many bytes.  Socket sizes count the bytes after the 4-byte code
 * (docs/control-channel.md §5, §7.10).
 */
struct ctrl_cmd_desc {
    uint32_t code;              /* CMD_*; the ioctl nr is code - 1 */
    unsigned long ioctl;        /* PTM_* request number */
    const char *name;           /* upstream's name, "PTM_INIT" */
    uint32_t cap;               /* its PTM_CAP_* bit (§3); 0: none */
    bool needs_running;         /* TPM_BAD_ORDINAL while stopped */
    bool cuse_waits;            /* CUSE: waits for the TPM worker (§9.3) */
    bool beside_worker;         /* CUSE: runs at once, beside a command
                                 * on the worker (cancel) */
    bool socket_only;           /* carries an fd: CUSE refuses it */
    bool drops_response;        /* CUSE: a pending response is dropped */
    bool rest_by_read;          /* CUSE: a longer reply continues by
                                 * read() (§7.5) */
    uint8_t sock_fixed;         /* body bytes the reader collects first */
    uint8_t sock_min;           /* shortest body the decoder accepts */
    bool sock_exact;            /* the body must be exactly sock_min */
    uint8_t sock_req;           /* fixed body a client sends (then data) */
    uint8_t sock_resp;          /* success reply (fixed part when data
                                 * follows; its last field is the length) */
    bool sock_resp_data;        /* data follows the fixed part */
    uint32_t sock_data_max;     /* largest data a client accepts */
};

/* The row of a command code, or NULL for an unknown code. */
const struct ctrl_cmd_desc *ctrl_cmd_desc(uint32_t cmd);

/* The ioctl request number of a command code, or 0 if there is none. */
unsigned long ctrl_cmd_to_ioctl(uint32_t cmd);
/* The command code of an ioctl request number, or 0 if unknown. */
uint32_t ctrl_ioctl_to_cmd(unsigned long request);
/* Upstream's name for a command code ("PTM_INIT"), never NULL. */
const char *ctrl_cmd_name(uint32_t cmd);
/* A short human description of a control-layer result code. */
const char *ctrl_result_str(uint32_t result);

#endif
