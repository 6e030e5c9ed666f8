/*
 * boot/mptable.h — the MP floating pointer structure and MP configuration
 * table (Intel MultiProcessor Specification, version 1.4, chapter 4), as
 * xv6 and Linux (acpi=off) read them: one processor, one ISA bus, one I/O
 * APIC, the ISA interrupts on its pins, and the local APIC's LINT0/LINT1.
 */
#ifndef POPEK_BOOT_MPTABLE_H
#define POPEK_BOOT_MPTABLE_H

#include "boot/firmware.h"

/* MP specification revision 1.4, as the spec_rev bytes give it. */
#define MPTABLE_SPEC_REV 4u
#define MPTABLE_ISA_BUS  0u /* bus ID of the ISA bus */

/* Lays out the floating pointer (16-byte aligned) and then the
 * configuration table in a; false if they do not fit. */
bool mptable_build(struct table_area *a, const struct firmware_platform *pf);

#endif
