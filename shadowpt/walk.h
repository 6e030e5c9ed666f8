/*
 * shadowpt/walk.h — the software walk of the guest's page tables.
 *
 * 32-bit (non-PAE) paging as the SDM describes it (vol. 3, §4.3): CR3 holds
 * the page directory's frame; a PDE maps either a page table (4 KiB pages)
 * or, with CR4.PSE and PDE.PS, a 4 MiB page. The walk checks the access
 * against U/S and R/W of both levels (§4.6: the most restrictive wins;
 * CR0.WP decides whether supervisor writes honour R/W), sets the Accessed
 * and Dirty flags as the processor does (§4.8) and returns the #PF error
 * code on a violation (§4.7).
 *
 * The guest's tables are the truth; this walk is what every other part of
 * popek asks: the shadow fills, emul/'s memory accesses and the dispatcher
 * finding the physical page of the next block.
 */
#ifndef POPEK_SHADOWPT_WALK_H
#define POPEK_SHADOWPT_WALK_H

#include "common/types.h"
#include "shadowpt/guest_ram.h"

/* Paging-structure entry flags (SDM vol. 3, §4.3, tables 4-4 to 4-6). */
#define PTE_P                0x001u
#define PTE_RW               0x002u
#define PTE_US               0x004u
#define PTE_PWT              0x008u
#define PTE_PCD              0x010u
#define PTE_A                0x020u
#define PTE_D                0x040u
#define PTE_PS               0x080u /* in a PDE: 4 MiB page (with CR4.PSE) */
#define PTE_G                0x100u /* global (with CR4.PGE); in a PDE only for 4 MiB pages */
#define PTE_FRAME_MASK       0xFFFFF000u
#define PDE_LARGE_FRAME_MASK 0xFFC00000u

/* #PF error code bits (SDM vol. 3, §4.7). No I/D bit: 32-bit paging has no
 * execute-disable, so fetches report like reads on this CPU model. */
#define PF_ERR_P 0x1u /* the page was present: a protection violation */
#define PF_ERR_W 0x2u /* the access was a write */
#define PF_ERR_U 0x4u /* the access was made in user mode (CPL 3) */

/* The paging-relevant part of the vCPU state. */
struct paging_regs {
    uint32_t cr0, cr3, cr4;
};

enum walk_access {
    WALK_READ,
    WALK_WRITE,
    WALK_FETCH,
};

struct walk_result {
    guest_phys_t phys;     /* the physical address of the linear address */
    uint32_t pde, pte;     /* entries after the walk's A/D updates; pte = pde for 4 MiB */
    guest_phys_t pte_addr; /* physical address of the PTE (of the PDE for 4 MiB) */
    bool large;            /* a 4 MiB page */
    bool global;           /* G, effective only with CR4.PGE */
    bool user_ok;          /* a CPL-3 access may read it */
    bool user_write_ok;    /* ... and write it */
    bool super_write_ok;   /* a supervisor access may write it (CR0.WP rules) */
    uint32_t error_code;   /* on failure: the #PF error code */
};

/* Walks the guest's tables for `linear` and checks an access of the given
 * kind, as user (CPL 3) or supervisor. On success sets A (and D for a
 * write) in the entries used when `set_flags` is true and fills *out; on a
 * violation fills out->error_code and returns false. With CR0.PG clear the
 * linear address is the physical one and every access is allowed. Tables
 * outside guest RAM read as not present. */
bool guest_walk(struct guest_ram *ram, const struct paging_regs *regs, guest_linear_t linear,
                enum walk_access access, bool user, bool set_flags, struct walk_result *out);

/* Reads the 32-bit entry at a physical address of a paging structure (0
 * when it is not in RAM). */
uint32_t guest_walk_read_entry(struct guest_ram *ram, guest_phys_t addr);

#endif
