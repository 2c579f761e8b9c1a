/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One row per control command (docs/control-channel.md §2, §3, §6, §7.10,
 * §9.3): its name, its handler in ctrl.c, and every other fact about it
 * that is not its field layout, as designated initializers of
 * struct ctrl_cmd_desc (ctrl_wire.h; fields left out are 0).
 *
 *     CTRL_ROW(NAME, handler, fields...)
 *
 * NAME gives CMD_NAME, PTM_NAME and "PTM_NAME".  handler is NULL for the
 * two commands the engine does not dispatch: GET_CAPABILITY is answered
 * before the table, SET_DATAFD carries an fd and is the socket reader's
 * (ctrl_sock.c).  No include guard: ctrl_table.c includes this file to
 * build the descriptions (which swtpm_ioctl links without the engine),
 * ctrl.c to build its handler table, each with its own CTRL_ROW.
 */

CTRL_ROW(GET_CAPABILITY, NULL,
         .sock_resp = 8)

CTRL_ROW(INIT, h_init,
         .cap = PTM_CAP_INIT, .cuse_waits = true, .drops_response = true,
         .sock_fixed = 4, .sock_min = 4, .sock_exact = true, .sock_req = 4,
         .sock_resp = 4)

CTRL_ROW(SHUTDOWN, h_shutdown,
         .cap = PTM_CAP_SHUTDOWN, .cuse_waits = true, .drops_response = true,
         .sock_exact = true, .sock_resp = 4)

CTRL_ROW(GET_TPMESTABLISHED, h_get_established,
         .cap = PTM_CAP_GET_TPMESTABLISHED, .needs_running = true,
         .cuse_waits = true,
         .sock_resp = 8)

CTRL_ROW(SET_LOCALITY, h_set_locality,
         .cap = PTM_CAP_SET_LOCALITY,
         .sock_fixed = 1, .sock_min = 1, .sock_req = 4, .sock_resp = 4)

CTRL_ROW(HASH_START, h_hash_start,
         .cap = PTM_CAP_HASHING, .needs_running = true, .cuse_waits = true,
         .sock_exact = true, .sock_resp = 4)

CTRL_ROW(HASH_DATA, h_hash_data,
         .cap = PTM_CAP_HASHING, .needs_running = true, .cuse_waits = true,
         .sock_fixed = 4, .sock_min = 4, .sock_req = 4, .sock_resp = 4)

CTRL_ROW(HASH_END, h_hash_end,
         .cap = PTM_CAP_HASHING, .needs_running = true, .cuse_waits = true,
         .sock_exact = true, .sock_resp = 4)

CTRL_ROW(CANCEL_TPM_CMD, h_cancel,
         .cap = PTM_CAP_CANCEL_TPM_CMD, .needs_running = true,
         .beside_worker = true,
         .sock_exact = true, .sock_resp = 4)

CTRL_ROW(STORE_VOLATILE, h_store_volatile,
         .cap = PTM_CAP_STORE_VOLATILE, .needs_running = true,
         .cuse_waits = true,
         .sock_exact = true, .sock_resp = 4)

CTRL_ROW(RESET_TPMESTABLISHED, h_reset_established,
         .cap = PTM_CAP_RESET_TPMESTABLISHED, .needs_running = true,
         .cuse_waits = true,
         .sock_fixed = 1, .sock_min = 1, .sock_req = 4, .sock_resp = 4)

CTRL_ROW(GET_STATEBLOB, do_get_stateblob,
         .cap = PTM_CAP_GET_STATEBLOB, .needs_running = true,
         .cuse_waits = true, .rest_by_read = true,
         .sock_fixed = 12, .sock_min = 12, .sock_req = 12, .sock_resp = 16,
         .sock_resp_data = true, .sock_data_max = CTRL_CLIENT_BLOB_MAX)

CTRL_ROW(SET_STATEBLOB, h_set_stateblob,
         .cap = PTM_CAP_SET_STATEBLOB, .cuse_waits = true,
         .sock_fixed = 12, .sock_min = 12, .sock_req = 12, .sock_resp = 4)

CTRL_ROW(STOP, h_stop,
         .cap = PTM_CAP_STOP, .cuse_waits = true, .drops_response = true,
         .sock_exact = true, .sock_resp = 4)

CTRL_ROW(GET_CONFIG, h_get_config,
         .cap = PTM_CAP_GET_CONFIG,
         .sock_resp = 8)

CTRL_ROW(SET_DATAFD, NULL,
         .cap = PTM_CAP_SET_DATAFD, .cuse_waits = true, .socket_only = true,
         .sock_resp = 4)

CTRL_ROW(SET_BUFFERSIZE, h_set_buffersize,
         .cap = PTM_CAP_SET_BUFFERSIZE,
         .sock_min = 4, .sock_req = 4, .sock_resp = 16)

CTRL_ROW(GET_INFO, do_get_info,
         .cap = PTM_CAP_GET_INFO, .cuse_waits = true,
         .sock_min = 16, .sock_req = 16, .sock_resp = 12,
         .sock_resp_data = true, .sock_data_max = PTM_GETINFO_SIZE)

CTRL_ROW(LOCK_STORAGE, h_lock_storage,
         .cap = PTM_CAP_LOCK_STORAGE,
         .sock_min = 4, .sock_req = 4, .sock_resp = 4)
