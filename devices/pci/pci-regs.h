/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Type-0 configuration header offsets and bits (PCI Local Bus 3.0, 6.1-6.2),
 * private to the PCI code and its tests. Linux's <linux/pci_regs.h> has the
 * same names; it is not used so the device model does not depend on kernel
 * uapi headers.
 */
#pragma once

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CLASS_DEVICE 0x0a /* subclass; the base class is at 0x0b */
#define PCI_CLASS_BASE 0x0b
#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_HEADER_TYPE 0x0e
#define PCI_BASE_ADDRESS_0 0x10
#define PCI_BASE_ADDRESS_END 0x28 /* one past BAR5 */
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_ROM_ADDRESS 0x30
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_STD_HEADER_SIZE 0x40 /* capabilities start here */
#define PCI_CONFIG_STD_SIZE 0x100 /* the capability list lives below this */

#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_CAP_LIST 0x10
/* Status bits that are write-1-to-clear: parity, aborts, SERR. */
#define PCI_STATUS_W1C 0xf900

#define PCI_BAR_MEM_TYPE_64 0x04
#define PCI_BAR_MEM_PREFETCH 0x08
#define PCI_BAR_MEM_FLAGS 0x0f /* low bits of a memory BAR: read-only type */

#define PCI_CLASS_BRIDGE 0x06
#define PCI_SUBCLASS_BRIDGE_HOST 0x00
#define PCI_DEVICE_ID_HOST_BRIDGE 0x0d57 /* what Cloud Hypervisor's host bridge reports */

/* 0xCF8 address latch (PCI 3.0, 3.2.2.3.2, plus AMD's extended register bits). */
#define PCI_CF8_ENABLE 0x80000000u
#define PCI_CF8_EXT_REG_MASK 0x0f000000u /* register bits 11:8, as AMD and QEMU allow */
#define PCI_CF8_BUS(v) (((v) >> 16) & 0xff)
#define PCI_CF8_DEV(v) (((v) >> 11) & 0x1f)
#define PCI_CF8_FN(v) (((v) >> 8) & 0x7)
#define PCI_CF8_REG(v) (((v) & 0xfc) | (((v) >> 16) & 0xf00))
#define PCI_CF8_WRITABLE 0x8ffffffcu /* reserved bits 30:28 and 1:0 read as 0 */

/* ECAM offset within bus 0's window -> device, function, register. */
#define PCI_ECAM_DEV(off) (((off) >> 15) & 0x1f)
#define PCI_ECAM_FN(off) (((off) >> 12) & 0x7)
#define PCI_ECAM_REG(off) ((off) & 0xfff)
