/*
 * shadowpt/walk.c — the guest page walk (walk.h).
 */
#include "shadowpt/walk.h"

#include "monitor/vcpu.h"

uint32_t guest_walk_read_entry(struct guest_ram *ram, guest_phys_t addr)
{
    const uint32_t *p;

    if (!guest_ram_is_usable_frame(ram, addr >> GUEST_PAGE_SHIFT))
        return 0;
    p = guest_ram_host_ptr(ram, addr & ~3u, 4);
    return p ? __atomic_load_n(p, __ATOMIC_RELAXED) : 0;
}

/* Sets flags in a paging-structure entry with a locked OR, as the processor
 * does (SDM vol. 3, §4.8: A/D updates are atomic with respect to other
 * accesses to the entry). Returns the updated value. */
static uint32_t set_entry_flags(struct guest_ram *ram, guest_phys_t addr, uint32_t value,
                                uint32_t flags)
{
    uint32_t *p;

    if ((value & flags) == flags)
        return value;
    p = guest_ram_host_ptr(ram, addr, 4);
    if (!p)
        return value | flags;
    return __atomic_or_fetch(p, flags, __ATOMIC_RELAXED);
}

static bool fail(struct walk_result *out, bool present, enum walk_access access, bool user)
{
    out->error_code =
        (present ? PF_ERR_P : 0) | (access == WALK_WRITE ? PF_ERR_W : 0) | (user ? PF_ERR_U : 0);
    return false;
}

bool guest_walk(struct guest_ram *ram, const struct paging_regs *regs, guest_linear_t linear,
                enum walk_access access, bool user, bool set_flags, struct walk_result *out)
{
    *out = (struct walk_result){0};
    if (!(regs->cr0 & CR0_PG)) {
        out->phys = linear;
        out->user_ok = out->user_write_ok = out->super_write_ok = true;
        out->global = true; /* no TLB to flush: nothing depends on CR3 */
        return true;
    }

    guest_phys_t pde_addr = (regs->cr3 & PTE_FRAME_MASK) + ((linear >> 22) << 2);
    uint32_t pde = guest_walk_read_entry(ram, pde_addr);
    if (!(pde & PTE_P))
        return fail(out, false, access, user);

    uint32_t pte, rights; /* rights: the U/S and R/W of both levels combined */
    guest_phys_t pte_addr;
    bool large = (pde & PTE_PS) && (regs->cr4 & CR4_PSE);
    if (large) {
        pte = pde;
        pte_addr = pde_addr;
        rights = pde;
    } else {
        /* The PDE is used whatever the PTE turns out to be: its A flag is
         * set now (as QEMU does; SDM vol. 3, §4.8 allows it). */
        if (set_flags)
            pde = set_entry_flags(ram, pde_addr, pde, PTE_A);
        pte_addr = (pde & PTE_FRAME_MASK) + (((linear >> 12) & 0x3FF) << 2);
        pte = guest_walk_read_entry(ram, pte_addr);
        if (!(pte & PTE_P))
            return fail(out, false, access, user);
        rights = pde & pte;
    }

    /* SDM vol. 3, §4.6: user accesses need U/S (and R/W to write) at both
     * levels; supervisor writes need R/W only with CR0.WP. */
    out->user_ok = rights & PTE_US;
    out->user_write_ok = (rights & PTE_US) && (rights & PTE_RW);
    out->super_write_ok = !(regs->cr0 & CR0_WP) || (rights & PTE_RW);
    bool allowed = user ? (access == WALK_WRITE ? out->user_write_ok : out->user_ok)
                        : (access == WALK_WRITE ? out->super_write_ok : true);
    if (!allowed)
        return fail(out, true, access, user);

    if (set_flags)
        pte = set_entry_flags(ram, pte_addr, pte, PTE_A | (access == WALK_WRITE ? PTE_D : 0));
    if (large) {
        pde = pte;
        out->phys = (pte & PDE_LARGE_FRAME_MASK) | (linear & 0x3FFFFFu);
    } else {
        out->phys = (pte & PTE_FRAME_MASK) | (linear & 0xFFFu);
    }
    out->pde = pde;
    out->pte = pte;
    out->pte_addr = pte_addr;
    out->large = large;
    out->global = (regs->cr4 & CR4_PGE) && (pte & PTE_G);
    return true;
}
