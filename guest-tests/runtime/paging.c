/*
 * guest-tests/runtime/paging.c — the page pool and the mapping builders of
 * paging.h (32-bit paging, SDM Vol. 3A §4.3).
 */
#include "paging.h"

static uint8_t pool[PG_POOL_PAGES][PG_SIZE] __attribute__((aligned(PG_SIZE)));
static unsigned pool_used;

uint32_t pg_cpuid1_edx(void)
{
    uint32_t a = 1, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return d;
}

uint32_t *pg_alloc(void)
{
    if (pool_used >= PG_POOL_PAGES) {
        rt_fail("paging: page pool exhausted (%u pages)", PG_POOL_PAGES);
        rt_finish();
    }
    uint32_t *page = (uint32_t *)pool[pool_used++];
    memset(page, 0, PG_SIZE);
    return page;
}

uint32_t *pg_pde(uint32_t *pd, uint32_t la)
{
    return &pd[PG_PDX(la)];
}

uint32_t *pg_pte(uint32_t *pd, uint32_t la)
{
    uint32_t pde = pg_get(pg_pde(pd, la));
    if (!(pde & PG_P) || (pde & PG_PS))
        return NULL;
    return &((uint32_t *)(pde & PG_FRAME))[PG_PTX(la)];
}

void pg_map(uint32_t *pd, uint32_t la, uint32_t pa, uint32_t flags)
{
    uint32_t *pde = pg_pde(pd, la);
    if (!(pg_get(pde) & PG_P) || (pg_get(pde) & PG_PS))
        pg_set(pde, (uint32_t)pg_alloc() | PG_P | PG_RW | PG_US);
    pg_set(pg_pte(pd, la), (pa & PG_FRAME) | (flags & ~PG_FRAME));
}

void pg_map_range(uint32_t *pd, uint32_t la, uint32_t pa, uint32_t size, uint32_t flags)
{
    for (uint32_t off = 0; off < size; off += PG_SIZE)
        pg_map(pd, la + off, pa + off, flags);
}

void pg_map_large(uint32_t *pd, uint32_t la, uint32_t pa, uint32_t flags)
{
    pg_set(pg_pde(pd, la), (pa & PG_FRAME_LARGE) | (flags & ~PG_FRAME) | PG_PS);
}

uint32_t *pg_new_identity(uint32_t bytes, uint32_t flags)
{
    /* The kernel (and the pool, in its .bss) must lie inside the map. */
    extern char __bss_end[];
    if ((uint32_t)__bss_end > bytes) {
        rt_fail("paging: the kernel ends beyond the identity map of 0x%x bytes", bytes);
        rt_finish();
    }
    uint32_t *pd = pg_alloc();
    pg_map_range(pd, 0, 0, bytes, flags);
    return pd;
}

void pg_enable(uint32_t *pd)
{
    write_cr3((uint32_t)pd);
    write_cr0(read_cr0() | CR0_PG);
}

void pg_disable(void)
{
    write_cr0(read_cr0() & ~CR0_PG);
}
