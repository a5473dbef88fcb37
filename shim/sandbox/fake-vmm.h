/* SPDX-License-Identifier: Apache-2.0 */
/* Test stand-ins for nacelle-vmm (with an agent inside) and virtiofsd
 * (fake-vmm.c); each is the main() of a test binary re-executed. */
#pragma once

int fake_vmm_main(int argc, char **argv);
int fake_virtiofsd_main(int argc, char **argv);
