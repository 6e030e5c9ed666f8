/*
 * guest-tests/paging_links.c — control transfers from a page every address
 * space shares into a page each space maps to a frame of its own.
 *
 * A binary translator links translated blocks: a direct jump or call from
 * one block to the next, an inline cache of an indirect jump's last
 * target. A link into another page is a cached translation of that page,
 * like a TLB entry: after MOV CR3 (SDM Vol. 3A §4.10.4.1) the code reached
 * must be whatever the new tables map there, a page they do not map must
 * raise #PF, and the fetch through the tables sets their Accessed flags
 * (§4.8) as on any TLB miss.
 *
 * Layout: the frame SHARED is mapped at CALLER in every directory; at
 * CALLEE, directory A maps frame FA and B maps frame FB; directory C maps
 * nothing there until its #PF handler does. SHARED holds a direct call, a
 * direct jump and an indirect jump (through a pointer in SHARED) into
 * CALLEE's page, and one more indirect jump whose target alternates
 * between two functions there; FA and FB hold the same functions
 * returning different values. The test switches between the spaces hundreds of times and
 * checks every value returned, the #PF of each first call in C, and that a
 * call in A after its CALLEE PTE lost its Accessed flag sets it again.
 */
#include "paging.h"

#define CALLER 0x40000000u /* SHARED in every space */
#define CALLEE 0x40001000u /* FA in A, FB in B, not present in C until a #PF */

/* Entry points in SHARED: call CALLEE+0, jmp CALLEE+0x10, jmp [ptr] to CALLEE+0x20. */
#define VIA_CALL     0x00
#define VIA_JMP      0x10
#define VIA_INDIRECT 0x20
#define VIA_VARYING  0x30 /* jmp [varying_target]: CALLEE+0x20 or +0x30 in turn */
#define POINTER_OFF  0x40

#define ROUNDS 300

typedef uint32_t (*fn0)(void);

static uint32_t *pd_a, *pd_b, *pd_c, *shared, *frame_a, *frame_b;
static unsigned c_faults;
/* The target of SHARED's second indirect jump, in kernel memory (mapped in
 * every space): alternating between two entries of CALLEE, it misses the
 * jump's inline cache and goes through the monitor's table of targets. */
static volatile uint32_t varying_target;
static uint32_t c_fault_cr2;

static void put8(uint8_t *p, unsigned *n, uint8_t v)
{
    p[(*n)++] = v;
}

static void put32_at(uint8_t *p, unsigned *n, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        put8(p, n, (uint8_t)(v >> (8 * i)));
}

/* SHARED's code, written through its identity address. */
static void write_shared(void)
{
    uint8_t *p = (uint8_t *)shared;
    unsigned n = VIA_CALL;
    put8(p, &n, 0xE8); /* call CALLEE */
    put32_at(p, &n, CALLEE - (CALLER + VIA_CALL + 5));
    put8(p, &n, 0x40); /* inc eax: work after the return, in SHARED */
    put8(p, &n, 0xC3); /* ret */
    n = VIA_JMP;
    put8(p, &n, 0xE9); /* jmp CALLEE+0x10 */
    put32_at(p, &n, CALLEE + 0x10 - (CALLER + VIA_JMP + 5));
    n = VIA_INDIRECT;
    put8(p, &n, 0xFF); /* jmp [CALLER+POINTER_OFF] */
    put8(p, &n, 0x25);
    put32_at(p, &n, CALLER + POINTER_OFF);
    n = VIA_VARYING;
    put8(p, &n, 0xFF); /* jmp [varying_target] */
    put8(p, &n, 0x25);
    put32_at(p, &n, (uint32_t)&varying_target);
    n = POINTER_OFF;
    put32_at(p, &n, CALLEE + 0x20);
}

/* mov eax, imm32; ret at each of CALLEE's four entries. */
static void write_callee(uint32_t *frame, uint32_t tag)
{
    uint8_t *p = (uint8_t *)frame;
    for (unsigned entry = 0; entry < 4; entry++) {
        unsigned n = entry * 0x10;
        put8(p, &n, 0xB8);
        put32_at(p, &n, tag + entry);
        put8(p, &n, 0xC3);
    }
}

static uint32_t call_shared(unsigned entry)
{
    return ((fn0)(CALLER + entry))();
}

/* #PF in C: a fetch at CALLEE (CR2) maps FB there and retries. */
static void pf_handler(struct rt_frame *frame)
{
    uint32_t cr2 = read_cr2();
    if (read_cr3() != (uint32_t)pd_c || (cr2 & PG_FRAME) != CALLEE) {
        rt_fail("unexpected #PF at 0x%08x (eip 0x%08x, error 0x%x)", cr2, frame->eip,
                frame->error_code);
        rt_finish();
    }
    c_faults++;
    c_fault_cr2 = cr2;
    pg_map(pd_c, CALLEE, (uint32_t)frame_b, PG_P);
    invlpg(CALLEE);
}

static void test_setup(void)
{
    shared = pg_alloc();
    frame_a = pg_alloc();
    frame_b = pg_alloc();
    write_shared();
    write_callee(frame_a, 0xA000);
    write_callee(frame_b, 0xB000);

    pd_a = pg_new_identity(PG_IDENTITY_BYTES, PG_P | PG_RW);
    pg_map(pd_a, CALLER, (uint32_t)shared, PG_P);
    pg_map(pd_a, CALLEE, (uint32_t)frame_a, PG_P);
    pd_b = pg_alloc();
    pg_set(&pd_b[0], pg_get(&pd_a[0]));
    pg_map(pd_b, CALLER, (uint32_t)shared, PG_P);
    pg_map(pd_b, CALLEE, (uint32_t)frame_b, PG_P);
    pd_c = pg_alloc();
    pg_set(&pd_c[0], pg_get(&pd_a[0]));
    pg_map(pd_c, CALLER, (uint32_t)shared, PG_P);
    pg_enable(pd_a);
    rt_set_handler(PG_VECTOR, pf_handler);
    CHECK(read_cr0() & CR0_PG, "paging on; 0x%08x shared, 0x%08x per directory", CALLER, CALLEE);
}

/* A and B in turn: each call reaches the callee its directory maps. */
static void test_alternate(void)
{
    unsigned wrong = 0;
    uint32_t last_a = 0, last_b = 0;

    for (unsigned round = 0; round < ROUNDS; round++) {
        for (unsigned entry = 0; entry < 3; entry++) {
            write_cr3((uint32_t)pd_a);
            uint32_t a = call_shared(entry * 0x10);
            write_cr3((uint32_t)pd_b);
            uint32_t b = call_shared(entry * 0x10);
            uint32_t bump = entry == 0; /* the call's inc eax */
            wrong += a != 0xA000 + entry + bump;
            wrong += b != 0xB000 + entry + bump;
            last_a = a;
            last_b = b;
        }
    }
    CHECK_EQ(wrong, 0, "%u rounds of call, jmp and jmp [mem] in A then B: wrong results", ROUNDS);
    CHECK(last_a == 0xA002 && last_b == 0xB002, "last indirect jump: A 0x%x, B 0x%x", last_a,
          last_b);

    /* In each space the jump goes to +0x20 (what its inline cache holds)
     * and then to +0x30 (looked up in the table of targets). */
    wrong = 0;
    for (unsigned round = 0; round < ROUNDS; round++) {
        for (unsigned space = 0; space < 2; space++) {
            write_cr3((uint32_t)(space ? pd_b : pd_a));
            for (unsigned entry = 2; entry < 4; entry++) {
                varying_target = CALLEE + entry * 0x10;
                wrong += call_shared(VIA_VARYING) != (space ? 0xB000 : 0xA000) + entry;
            }
        }
    }
    CHECK_EQ(wrong, 0, "%u rounds of a jump to a varying target in A then B: wrong results",
             ROUNDS);
}

/* C maps no CALLEE: its first call faults, its handler maps FB; A runs
 * between rounds with links into FA made. */
static void test_not_present(void)
{
    unsigned wrong = 0;

    for (unsigned round = 0; round < ROUNDS; round++) {
        unsigned entry = round % 3;
        write_cr3((uint32_t)pd_a);
        wrong += call_shared(entry * 0x10) != 0xA000 + entry + (entry == 0);
        pg_set(pg_pte(pd_c, CALLEE), 0); /* C's CALLEE is not present again */
        write_cr3((uint32_t)pd_c);
        wrong += call_shared(entry * 0x10) != 0xB000 + entry + (entry == 0);
    }
    CHECK_EQ(wrong, 0, "%u rounds of A then C: wrong results", ROUNDS);
    CHECK_EQ(c_faults, ROUNDS, "#PF at CALLEE in C, one per round");
    CHECK_EQ(c_fault_cr2, CALLEE + 0x20, "CR2 of the last (an indirect jump to CALLEE+0x20)");
}

/* A's CALLEE entry loses its Accessed flag while B runs (B uses another
 * way into its CALLEE, so A's call stays as it was made): back in A, the
 * call fetches through the tables again and sets it. */
static void test_accessed_flag(void)
{
    unsigned unset = 0;

    for (unsigned round = 0; round < 50; round++) {
        write_cr3((uint32_t)pd_a);
        call_shared(VIA_CALL);
        write_cr3((uint32_t)pd_b);
        call_shared(VIA_JMP);
        uint32_t *pte = pg_pte(pd_a, CALLEE);
        pg_set(pte, pg_get(pte) & ~PG_A);
        write_cr3((uint32_t)pd_a);
        uint32_t v = call_shared(VIA_CALL);
        unset += v != 0xA001 || !(pg_get(pte) & PG_A);
    }
    CHECK_EQ(unset, 0, "calls in A after its PTE lost A: wrong results or A still clear");
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    test_setup();
    test_alternate();
    test_not_present();
    test_accessed_flag();
    write_cr3((uint32_t)pd_a);
    pg_disable();
    rt_finish();
}
