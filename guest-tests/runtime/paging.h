/*
 * guest-tests/runtime/paging.h — 32-bit paging helpers for guest tests
 * (SDM Vol. 3A ch. 4: 32-bit paging, CR4.PAE = 0): entry flags, a pool of
 * 4 KiB-aligned page-directory/page-table pages in .bss, builders for
 * 4 KiB and 4 MiB (CR4.PSE) mappings, and switching paging on and off.
 *
 * Invariants:
 *  - every pool page and every kernel object lies in the first 4 MiB and is
 *    identity-mapped whenever a test has paging on, so a table's linear
 *    address is its physical address (what goes into a PDE or CR3);
 *  - the builders only write entries: they never invalidate a TLB entry,
 *    because when to INVLPG or reload CR3 is what the tests are about
 *    (SDM §4.10.4);
 *  - entries are read and written through volatile accesses (pg_get,
 *    pg_set): the processor sets A/D flags behind the compiler's back.
 */
#ifndef GUEST_PAGING_H
#define GUEST_PAGING_H

#include "rt.h"

/* Paging-structure entry flags (SDM Vol. 3A Tables 4-4, 4-5 and 4-6). */
#define PG_P   (1u << 0) /* present */
#define PG_RW  (1u << 1) /* writable */
#define PG_US  (1u << 2) /* user */
#define PG_PWT (1u << 3)
#define PG_PCD (1u << 4)
#define PG_A   (1u << 5) /* accessed */
#define PG_D   (1u << 6) /* dirty: PTEs and 4 MiB PDEs only */
#define PG_PS  (1u << 7) /* PDE: maps a 4 MiB page (needs CR4.PSE) */
#define PG_G   (1u << 8) /* global: PTEs and 4 MiB PDEs, needs CR4.PGE */

#define PG_FRAME       0xFFFFF000u /* 4 KiB frame of a PTE or table of a PDE */
#define PG_FRAME_LARGE 0xFFC00000u /* 4 MiB frame of a PDE with PS = 1 */
#define PG_SIZE        0x1000u
#define PG_LARGE_SIZE  0x400000u

#define PG_PDX(la) ((uint32_t)(la) >> 22)
#define PG_PTX(la) (((uint32_t)(la) >> 12) & 0x3FFu)

/* Page-fault error code (SDM Vol. 3A §4.7, Figure 4-12). */
#define PF_P    (1u << 0) /* 0: not-present page, 1: protection violation */
#define PF_W    (1u << 1) /* the access was a write */
#define PF_U    (1u << 2) /* the access was a user-mode access (CPL 3) */
#define PF_RSVD (1u << 3) /* a reserved bit was set */
#define PF_ID   (1u << 4) /* instruction fetch (only with SMEP or PAE + NXE) */

/* Control-register bits (SDM Vol. 3A §2.5) not already in rt.h. */
#define CR0_WP  (1u << 16) /* supervisor writes honour R/W = 0 */
#define CR4_PSE (1u << 4)  /* 4 MiB pages in 32-bit paging */
#define CR4_PGE (1u << 7)  /* global pages */

/* CPUID.01H:EDX feature bits (SDM Vol. 2A, CPUID). */
#define CPUID_1_EDX_PSE (1u << 3)
#define CPUID_1_EDX_PGE (1u << 13)

#define PG_VECTOR 14 /* #PF */

/* Pages in the pool (tables, directories and test frames alike). */
#define PG_POOL_PAGES 48

static inline uint32_t pg_get(const uint32_t *entry)
{
    return *(const volatile uint32_t *)entry;
}

static inline void pg_set(uint32_t *entry, uint32_t value)
{
    *(volatile uint32_t *)entry = value;
}

static inline void invlpg(uint32_t la)
{
    __asm__ volatile("invlpg (%0)" : : "r"(la) : "memory");
}

/* MOV to CR3 with its own value: flushes every non-global TLB entry
 * (SDM §4.10.4.1). */
static inline void pg_flush_nonglobal(void)
{
    write_cr3(read_cr3());
}

/* CPUID.01H:EDX. */
uint32_t pg_cpuid1_edx(void);

/* A zeroed, 4 KiB-aligned, identity-mapped page from the pool; exits with
 * a FAIL line when the pool is exhausted. */
uint32_t *pg_alloc(void);

/* The PDE for `la` in `pd`. */
uint32_t *pg_pde(uint32_t *pd, uint32_t la);

/* The PTE for `la`, or NULL when the PDE is not present or maps 4 MiB. */
uint32_t *pg_pte(uint32_t *pd, uint32_t la);

/* Maps the 4 KiB page at `la` to the frame `pa` with the PTE flags `flags`
 * (PG_P is not implied: a test may build not-present entries). A missing
 * page table is allocated and its PDE set to P|RW|US, so that the PTE alone
 * decides the access rights unless the test changes the PDE. */
void pg_map(uint32_t *pd, uint32_t la, uint32_t pa, uint32_t flags);

/* pg_map for `size` bytes (a multiple of 4 KiB). */
void pg_map_range(uint32_t *pd, uint32_t la, uint32_t pa, uint32_t size, uint32_t flags);

/* Maps the 4 MiB page at `la` (4 MiB-aligned) to `pa` (4 MiB-aligned):
 * PDE = pa | flags | PS. */
void pg_map_large(uint32_t *pd, uint32_t la, uint32_t pa, uint32_t flags);

/* A new page directory that identity-maps [0, bytes) with 4 KiB pages and
 * the PTE flags `flags` (PG_P | PG_RW, plus PG_US for tests that run ring 3
 * on the kernel's pages). */
uint32_t *pg_new_identity(uint32_t bytes, uint32_t flags);

/* The byte count tests identity-map: the first 4 MiB, which holds the
 * kernel (loaded at 1 MiB), its stack, the pool and the loader's data. */
#define PG_IDENTITY_BYTES PG_LARGE_SIZE

/* Loads CR3 with `pd` and sets CR0.PG. The caller runs on identity-mapped
 * code and stack (SDM §9.9.1). */
void pg_enable(uint32_t *pd);

/* Clears CR0.PG (which also flushes every TLB entry, global ones included,
 * SDM §4.10.4.1). */
void pg_disable(void);

/* True when paging is on. */
static inline bool pg_enabled(void)
{
    return (read_cr0() & CR0_PG) != 0;
}

#endif
