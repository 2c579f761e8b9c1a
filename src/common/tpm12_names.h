/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TPM 1.2 command tags and ordinals (TPM Main Part 2, Structures): the
 * one copy for the daemons, swtpm_bios and swtpm_setup.  TPM 2 names come
 * from <tss2/tss2_tpm2_types.h>.
 */
#ifndef SWTPM_TPM12_NAMES_H
#define SWTPM_TPM12_NAMES_H

#define TPM_TAG_RQU_COMMAND_12        0x00c1u
#define TPM_TAG_RQU_AUTH1_COMMAND_12  0x00c2u
#define TPM_TAG_RSP_COMMAND_12        0x00c4u

#define TPM_ORD_OIAP                  0x0000000au
#define TPM_ORD_TAKE_OWNERSHIP        0x0000000du
#define TPM_ORD_CREATE_WRAP_KEY       0x0000001fu
#define TPM_ORD_CONTINUE_SELF_TEST    0x00000053u
#define TPM_ORD_GET_CAPABILITY        0x00000065u
#define TPM_ORD_PHYSICAL_ENABLE       0x0000006fu
#define TPM_ORD_PHYSICAL_SET_DEACT    0x00000072u
#define TPM_ORD_CREATE_EK             0x00000078u
#define TPM_ORD_STARTUP               0x00000099u
#define TPM_ORD_NV_DEFINE_SPACE       0x000000ccu
#define TPM_ORD_NV_WRITE_VALUE        0x000000cdu
#define TSC_ORD_PHYSICAL_PRESENCE     0x4000000au

/* Not a TPM 1.2 ordinal: upstream's in-band vendor command
 * (docs/control-channel.md §8.5), the same code on both TPM versions. */
#define TPM_ORD_VENDOR_SET_LOCALITY   0x20001000u

#endif
