/*
 * guest-tests/smc.c — self-modifying code (SDM Vol. 3A §8.1.3 and §11.6:
 * on P6 and later a store to code is seen by the next execution of the
 * bytes, including an instruction already prefetched right after the
 * store). A binary translator must notice every such store and drop its
 * translations. Covered: rewriting a function's immediate and calling it
 * again (plain, 16-bit, read-modify-write, XCHG and REP MOVSB stores,
 * repeated 100 times); a store to the next instruction in the same basic
 * block (immediate and opcode); a loop that rewrites its own body every
 * iteration; a rewritten branch displacement; a callee rewriting the
 * instruction at its return address; an instruction that straddles a page
 * boundary, rewritten on either page; code copied into data buffers (static
 * and on the stack), called, rewritten and replaced by other code at the
 * same address. Aliased linear mappings (paging) are not covered here.
 * The code being rewritten is in smc_code.S.
 */
#include "rt.h"

uint32_t smc_imm(void);
uint32_t smc_ahead(uint32_t v);
uint32_t smc_opcode(uint32_t op);
uint32_t smc_loop(uint32_t n);
uint32_t smc_branch(void);
uint32_t smc_retsite(void);
uint32_t smc_straddle(void);
extern uint8_t smc_imm_value[], smc_branch_disp[], smc_straddle_value[];
extern uint32_t smc_retsite_new;
extern const uint8_t smc_copy_a[], smc_copy_a_end[], smc_copy_b[], smc_copy_b_end[],
    smc_copy_b_shift[];

typedef uint32_t (*fn1)(uint32_t);

static void put32(uint8_t *p, uint32_t v)
{
    volatile uint8_t *q = p;
    for (int i = 0; i < 4; i++)
        q[i] = (uint8_t)(v >> (8 * i));
}

static void test_immediate(void)
{
    uint32_t a = smc_imm();
    put32(smc_imm_value, 0x22222222);
    uint32_t b = smc_imm();
    CHECK(a == 0x11111111 && b == 0x22222222, "mov eax, imm32 rewritten: 0x%08x then 0x%08x", a, b);

    __asm__ volatile("movw %1, %0" : "=m"(*(uint16_t *)smc_imm_value) : "r"((uint16_t)0xBEEF));
    uint32_t c = smc_imm();
    __asm__ volatile("addl $0x01000001, %0" : "+m"(*(uint32_t *)smc_imm_value) : : "cc");
    uint32_t d = smc_imm();
    uint32_t old = 0x5A5A5A5A;
    __asm__ volatile("xchgl %1, %0" : "+m"(*(uint32_t *)smc_imm_value), "+r"(old));
    uint32_t e = smc_imm();
    static const uint8_t bytes[4] = {0x78, 0x56, 0x34, 0x12};
    const uint8_t *si = bytes;
    uint8_t *di = smc_imm_value;
    uint32_t n = 4;
    __asm__ volatile("rep movsb" : "+S"(si), "+D"(di), "+c"(n) : : "memory");
    uint32_t f = smc_imm();
    CHECK(c == 0x2222BEEF && d == 0x2322BEF0 && old == 0x2322BEF0 && e == 0x5A5A5A5A &&
              f == 0x12345678,
          "16-bit store 0x%08x, add 0x%08x, xchg 0x%08x, rep movsb 0x%08x", c, d, e, f);

    uint32_t sum = 0, want = 0;
    for (uint32_t i = 0; i < 100; i++) {
        uint32_t v = i * 0x01010101u + 7;
        put32(smc_imm_value, v);
        sum += smc_imm();
        want += v;
    }
    CHECK(sum == want, "100 rewrites, each followed by a call: sum 0x%08x", sum);
}

static void test_same_block(void)
{
    uint32_t a = smc_ahead(0x33333333), b = smc_ahead(0x44444444), c = smc_ahead(0x44444444);
    CHECK(a == 0x33333333 && b == 0x44444444 && c == 0x44444444,
          "store to the next instruction's immediate: 0x%08x 0x%08x 0x%08x", a, b, c);

    static const struct {
        uint8_t op;
        uint32_t want;
        const char *name;
    } ops[] = {
        {0x40, 11, "inc eax"}, {0x48, 9, "dec eax"},  {0x90, 10, "nop"},
        {0x40, 11, "inc eax"}, {0x40, 11, "inc eax"}, {0x4A, 10, "dec edx"},
    };
    for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        uint32_t v = smc_opcode(ops[i].op);
        CHECK(v == ops[i].want, "store opcode 0x%02x (%s) over the next instruction: eax=%u",
              ops[i].op, ops[i].name, v);
    }

    uint32_t want = 0;
    for (uint32_t i = 0; i < 200; i++)
        want += (uint32_t)(int32_t)(int8_t)(uint8_t)(i + 1);
    uint32_t got = smc_loop(200);
    CHECK(got == want, "loop rewriting its own add imm8 200 times: eax=%d", (int)got);
    CHECK_EQ(smc_loop(3), 6, "the same loop again, 3 times");
}

static void test_branch_and_return(void)
{
    static const uint8_t disps[] = {0, 3, 6, 9, 3, 0};
    static const uint32_t wants[] = {7, 6, 4, 0, 6, 7};
    for (unsigned i = 0; i < sizeof(disps); i++) {
        *(volatile uint8_t *)smc_branch_disp = disps[i];
        uint32_t v = smc_branch();
        CHECK(v == wants[i], "jmp rel8 displacement rewritten to %u: eax=%u", disps[i], v);
    }

    smc_retsite_new = 0xC0DE0001;
    uint32_t a = smc_retsite();
    smc_retsite_new = 0xC0DE0002;
    uint32_t b = smc_retsite();
    CHECK(a == 0xC0DE0001 && b == 0xC0DE0002,
          "callee rewrites the instruction at its return address: 0x%08x 0x%08x", a, b);

    uint32_t s0 = smc_straddle();
    smc_straddle_value[3] = 0xAA; /* on the second page */
    uint32_t s1 = smc_straddle();
    smc_straddle_value[0] = 0xBB; /* on the first page */
    uint32_t s2 = smc_straddle();
    CHECK(s0 == 0x01020304 && s1 == 0xAA020304 && s2 == 0xAA0203BB,
          "instruction straddling a page: 0x%08x, second page rewritten 0x%08x, first 0x%08x", s0,
          s1, s2);
    CHECK_EQ(((uint32_t)smc_straddle_value + 2) & 0xFFF, 0, "  (its page boundary is inside)");
}

static uint8_t code_buf[64] __attribute__((aligned(16)));

static void test_copied_code(void)
{
    size_t la = (size_t)(smc_copy_a_end - smc_copy_a), lb = (size_t)(smc_copy_b_end - smc_copy_b);
    size_t shift_at = (size_t)(smc_copy_b_shift - smc_copy_b);
    fn1 f = (fn1)(void *)code_buf;

    memcpy(code_buf, smc_copy_a, la);
    uint32_t a = f(5);
    memcpy(code_buf, smc_copy_b, lb);
    uint32_t b = f(5);
    code_buf[shift_at] = 1;
    uint32_t c = f(5);
    memcpy(code_buf, smc_copy_a, la);
    uint32_t d = f(7);
    CHECK(a == 16 && b == 80 && c == 10 && d == 22,
          "code copied to a data buffer: 3x+1(5)=%u; replaced by x<<4: %u; shift patched to 1: "
          "%u; the first again, (7): %u",
          a, b, c, d);

    uint8_t stack_code[32] __attribute__((aligned(4)));
    memcpy(stack_code, smc_copy_b, lb);
    stack_code[shift_at] = 8;
    uint32_t e = ((fn1)(void *)stack_code)(3);
    stack_code[shift_at] = 9;
    uint32_t g = ((fn1)(void *)stack_code)(3);
    CHECK(e == 768 && g == 1536, "code on the stack: 3<<8 = %u, rewritten 3<<9 = %u", e, g);
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    test_immediate();
    test_same_block();
    test_branch_and_return();
    test_copied_code();
    rt_finish();
}
