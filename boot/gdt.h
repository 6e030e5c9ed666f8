/*
 * boot/gdt.h — segment descriptors for the GDTs loaders hand to kernels,
 * and the flat protected-mode entry state both loaders give.
 */
#ifndef POPEK_BOOT_GDT_H
#define POPEK_BOOT_GDT_H

#include <stdint.h>

#include "monitor/vcpu.h"

#define BOOT_GDT_CODE32 0x9Bu /* present, DPL 0, code, execute/read, accessed */
#define BOOT_GDT_DATA32 0x93u /* present, DPL 0, data, read/write, accessed */
#define BOOT_GDT_FLAT   0xCu  /* G (4 KiB granularity) and D/B (32-bit) */

/* SDM vol. 3, §3.4.5: a descriptor with base 0: limit 15:0 and 19:16, the
 * access byte and the G/DB flags. */
static inline uint64_t boot_gdt_descriptor(uint32_t limit, uint8_t access, uint8_t flags)
{
    return (uint64_t)(limit & 0xFFFF) | (uint64_t)access << 40 |
           (uint64_t)((limit >> 16) & 0xF) << 48 | (uint64_t)(flags & 0xF) << 52;
}

/* The entry state of a 32-bit boot protocol: protected mode, paging off,
 * interrupts off, CS and every data segment flat from the loader's GDT
 * (code_sel, data_sel), the real-mode IVT as IDT. Registers other than EIP
 * are the caller's. */
static inline void boot_set_flat_entry(struct vcpu_state *cpu, uint32_t eip, uint16_t code_sel,
                                       uint16_t data_sel, uint32_t gdt_base, unsigned gdt_entries)
{
    static const enum vcpu_sreg data_segments[] = {SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS};

    cpu->eip = eip;
    cpu->eflags = EFLAGS_FIXED1;
    cpu->cr0 = CR0_PE | CR0_ET;
    vcpu_load_flat_segment(cpu, SEG_CS, code_sel, true);
    for (unsigned i = 0; i < sizeof(data_segments) / sizeof(data_segments[0]); i++)
        vcpu_load_flat_segment(cpu, data_segments[i], data_sel, false);
    cpu->gdtr.base = gdt_base;
    cpu->gdtr.limit = (uint16_t)(gdt_entries * 8 - 1);
    cpu->idtr.base = 0;
    cpu->idtr.limit = 0x3FF;
}

#endif
