/*
 * monitor/vcpu.h — the architectural state of the guest CPU.
 *
 * This is the state the guest sees (Intel SDM vol. 3, §2): general registers,
 * EFLAGS, segment registers with their hidden descriptor caches, control
 * registers and the descriptor-table registers. While translated code runs,
 * the general registers and arithmetic flags live in host registers (DESIGN.md
 * §2); they are written back here at every exit into C.
 */
#ifndef POPEK_MONITOR_VCPU_H
#define POPEK_MONITOR_VCPU_H

#include <emmintrin.h>
#include <stdio.h>

#include "common/snapshot.h"
#include "common/types.h"

/* Register numbers in the x86 ModRM encoding order. */
enum vcpu_gpr { REG_EAX, REG_ECX, REG_EDX, REG_EBX, REG_ESP, REG_EBP, REG_ESI, REG_EDI, REG_COUNT };

/* Segment registers in the x86 encoding order (sreg field of ModRM). */
enum vcpu_sreg { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_COUNT };

/* EFLAGS bits (SDM vol. 1, §3.4.3). */
#define EFLAGS_CF     (1u << 0)
#define EFLAGS_FIXED1 (1u << 1) /* reserved, always 1 */
#define EFLAGS_PF     (1u << 2)
#define EFLAGS_AF     (1u << 4)
#define EFLAGS_ZF     (1u << 6)
#define EFLAGS_SF     (1u << 7)
#define EFLAGS_TF     (1u << 8)
#define EFLAGS_IF     (1u << 9)
#define EFLAGS_DF     (1u << 10)
#define EFLAGS_OF     (1u << 11)
#define EFLAGS_IOPL   (3u << 12)
#define EFLAGS_NT     (1u << 14)
#define EFLAGS_RF     (1u << 16)
#define EFLAGS_VM     (1u << 17)
#define EFLAGS_AC     (1u << 18)
#define EFLAGS_ID     (1u << 21)

/* CR0 bits (SDM vol. 3, §2.5). */
#define CR0_PE (1u << 0)
#define CR0_MP (1u << 1)
#define CR0_EM (1u << 2)
#define CR0_TS (1u << 3)
#define CR0_ET (1u << 4)
#define CR0_NE (1u << 5)
#define CR0_WP (1u << 16)
#define CR0_AM (1u << 18)
#define CR0_NW (1u << 29)
#define CR0_CD (1u << 30)
#define CR0_PG (1u << 31)

/* CR4 bits (SDM vol. 3, §2.5). */
#define CR4_VME        (1u << 0)
#define CR4_PVI        (1u << 1)
#define CR4_TSD        (1u << 2)
#define CR4_DE         (1u << 3)
#define CR4_PSE        (1u << 4)
#define CR4_PAE        (1u << 5)
#define CR4_MCE        (1u << 6)
#define CR4_PGE        (1u << 7)
#define CR4_PCE        (1u << 8)
#define CR4_OSFXSR     (1u << 9)
#define CR4_OSXMMEXCPT (1u << 10)

/* Descriptor attribute bits as kept in segment_cache.attr: bits 8..23 of the
 * descriptor's high dword shifted down by 8 (type, S, DPL, P, AVL, L, D/B, G). */
#define SEG_ATTR_TYPE(a) ((a)&0xF)
#define SEG_ATTR_S       (1u << 4)
#define SEG_ATTR_DPL(a)  (((a) >> 5) & 3)
#define SEG_ATTR_P       (1u << 7)
#define SEG_ATTR_DB      (1u << 14)
#define SEG_ATTR_G       (1u << 15)

/* A segment register: the visible selector and the hidden descriptor cache
 * (SDM vol. 3, §3.4.3). limit is the byte-granular effective limit. */
struct segment_cache {
    uint16_t selector;
    uint32_t base;
    uint32_t limit;
    uint32_t attr;
};

struct descriptor_table_reg {
    uint32_t base;
    uint16_t limit;
};

struct vcpu_state {
    uint32_t regs[REG_COUNT];
    uint32_t eip;
    uint32_t eflags;
    struct segment_cache seg[SEG_COUNT];
    struct segment_cache ldtr;
    struct segment_cache tr;
    struct descriptor_table_reg gdtr;
    struct descriptor_table_reg idtr;
    uint32_t cr0, cr2, cr3, cr4;

    /* --- MSRs and model-specific state (emul/) --- */
    /* Set to their power-on values by emul_reset_model_state() (emul/emul.h);
     * all-zero also works: emul/ ORs in the bits that read as fixed ones. */
    uint32_t dr[8];           /* DR0-DR3, DR6, DR7 (dr[4], dr[5] unused: aliases) */
    uint32_t sysenter_cs;     /* IA32_SYSENTER_CS  (MSR 0x174) */
    uint32_t sysenter_esp;    /* IA32_SYSENTER_ESP (MSR 0x175) */
    uint32_t sysenter_eip;    /* IA32_SYSENTER_EIP (MSR 0x176) */
    uint64_t apic_base;       /* IA32_APIC_BASE    (MSR 0x1B) */
    uint64_t misc_enable;     /* IA32_MISC_ENABLE  (MSR 0x1A0), writable bits */
    uint64_t msr_pat;         /* IA32_PAT          (MSR 0x277) */
    uint64_t tsc_offset;      /* guest TSC = env->read_tsc() + tsc_offset, mod 2^64 */
    uint8_t interrupt_shadow; /* EMUL_SHADOW_*: interrupts blocked for one instruction */
};

/* Copies the whole state. emul/ copies it twice per emulated instruction
 * (a working copy, committed when the instruction completes); at 288 bytes
 * the compiler's own choice is `rep movsq`, whose start-up cost was 60% of
 * emul_run_instruction's time in pf_heavy. Unrolled sixteen-byte moves
 * have no such start-up cost. */
static inline void vcpu_state_copy(struct vcpu_state *dst, const struct vcpu_state *src)
{
    _Static_assert(sizeof(struct vcpu_state) % 16 == 0, "vcpu_state_copy moves 16 bytes at a time");
    __m128i *d = (__m128i *)(void *)dst;
    const __m128i *s = (const __m128i *)(const void *)src;
    /* Unrolled before GCC's loop-idiom pass can turn it back into memcpy. */
#pragma GCC unroll 32
    for (size_t i = 0; i < sizeof(struct vcpu_state) / 16; i++)
        _mm_storeu_si128(d + i, _mm_loadu_si128(s + i));
}

/* The processor state after RESET (SDM vol. 3, §9.1.1, table 9-1). */
void vcpu_state_reset(struct vcpu_state *s);

/* Loads a flat 4 GiB segment into the register: base 0, limit 0xFFFFFFFF,
 * 32-bit, present, DPL 0; code is execute/read, data read/write. */
void vcpu_load_flat_segment(struct vcpu_state *s, enum vcpu_sreg reg, uint16_t selector, bool code);

/* Writes a register dump (QEMU's layout) to out. */
void vcpu_state_dump(const struct vcpu_state *s, FILE *out);

/* Saved state: every field above, as section "cpu" version
 * VCPU_STATE_VERSION. The TSC is saved as the guest's count (host_tsc +
 * tsc_offset) and loaded as an offset from host_tsc at load time, so the
 * guest's TSC goes on from where it was, never back. load checks what the
 * monitor relies on (protected mode, no virtual-8086 or PAE, EFLAGS bit 1
 * set). */
#define VCPU_STATE_VERSION 1
void vcpu_state_save(const struct vcpu_state *s, uint64_t host_tsc, struct snap_writer *w);
bool vcpu_state_load(struct vcpu_state *s, uint64_t host_tsc, struct snap_section *sec);

#endif
