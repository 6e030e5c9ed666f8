/*
 * guest-tests/stack_calls.c — the stack and control transfer: PUSH/POP of
 * registers, immediates, memory (including the ESP-relative corner cases)
 * and segment registers; PUSHA/POPA; PUSHF/POPF (arithmetic flags); CALL
 * and RET, RET imm16, ENTER/LEAVE at nesting levels 0, 1, 2 and 5; indirect
 * calls through registers, memory and tables; a compiler jump table; deep
 * recursion; setjmp/longjmp and coroutines switching stacks; return-address
 * tricks; far CALL/RET/JMP and IRET at the same privilege level.
 *
 * A binary translator keeps the guest's return addresses and ESP exact even
 * though it runs different code: every check here compares against guest
 * addresses (labels) and guest ESP. Printed values are relative (ESP
 * deltas, label comparisons) so the output does not depend on the layout.
 * The register-exact probes are in stack_switch.S.
 */
#include "rt.h"

/* ---- stack_switch.S ------------------------------------------------------------ */

struct ctx {
    uint32_t ebx, esi, edi, ebp, esp, eip;
};

int ctx_setjmp(struct ctx *c) __attribute__((returns_twice));
void ctx_longjmp(const struct ctx *c, int val); /* does not return */
void ctx_switch(struct ctx *save, const struct ctx *load);
uint32_t call_on_stack(void *top, uint32_t (*fn)(uint32_t), uint32_t arg);
uint32_t __attribute__((stdcall)) stdcall_sum(uint32_t a, uint32_t b);
uint32_t ret_bump_probe(void);
uint32_t pop_jmp_probe(void);
void pusha_probe(void);
void enter_probe_0(void);
void enter_probe_1(void);
void enter_probe_2(void);
void enter_probe_5(void);
void far_call_probe(void);
void iret_probe(void);
extern const char far_call_return[], far_call_return2[], iret_return[];

/* Written by the probes. */
uint32_t pusha_esp_before, pusha_esp_after, pusha_slots[8], popa_regs[8];
uint32_t enter_out[12], enter_fake_ebp;
uint32_t far_esp_before, far_esp_after, far_esp_after2;
uint32_t far_seen_eip, far_seen_cs, far_seen_eip2, far_seen_arg;
uint32_t iret_esp_before, iret_esp_after, iret_eflags_in, iret_eflags_out;

/* Keeps GCC from turning recursion into loops or tail calls. */
#define BARRIER(x) __asm__ volatile("" : "+r"(x))

/* ---- PUSH and POP ----------------------------------------------------------------- */

static void test_push_pop(void)
{
    uint32_t a, b, c, e0, e1;

    __asm__ volatile("movl %%esp, %[e0]\n\t"
                     "pushl $0x11111111\n\t"
                     "pushl $-1\n\t" /* imm8, sign-extended */
                     "pushl $0x7f\n\t"
                     "popl %[a]\n\t"
                     "popl %[b]\n\t"
                     "popl %[c]\n\t"
                     "movl %%esp, %[e1]"
                     : [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [e0] "=&r"(e0), [e1] "=&r"(e1));
    CHECK(a == 0x7f && b == 0xFFFFFFFF && c == 0x11111111 && e0 == e1,
          "push imm32/imm8/imm8: popped %x %x %x, esp delta %d", a, b, c, (int)(e1 - e0));

    __asm__ volatile("movl $0xAAAA5555, %[a]\n\t"
                     "movl %%esp, %[e0]\n\t"
                     "pushw $0x1234\n\t"
                     "movl %%esp, %[e1]\n\t"
                     "popw %w[a]"
                     : [a] "=&r"(a), [e0] "=&r"(e0), [e1] "=&r"(e1));
    CHECK(a == 0xAAAA1234 && e0 - e1 == 2, "pushw imm16 / popw: %x, esp delta %d", a,
          (int)(e1 - e0));

    __asm__ volatile("movl %%esp, %[e0]\n\t"
                     "pushl %%esp\n\t"
                     "popl %[a]"
                     : [a] "=&r"(a), [e0] "=&r"(e0));
    CHECK(a == e0, "push esp pushes the value before the decrement: delta %d", (int)(a - e0));

    __asm__ volatile("movl %%esp, %[e0]\n\t"
                     "leal -64(%%esp), %[a]\n\t"
                     "pushl %[a]\n\t"
                     "popl %%esp\n\t"
                     "movl %%esp, %[e1]\n\t"
                     "movl %[e0], %%esp"
                     : [a] "=&r"(a), [e0] "=&r"(e0), [e1] "=&r"(e1));
    CHECK(e1 == a, "pop esp loads the popped value: esp=esp0%+d", (int)(e1 - e0));

    static uint32_t mem_src = 0xCAFEBABE, mem_dst;
    __asm__ volatile("pushl %[s]\n\tpopl %[d]" : [d] "=m"(mem_dst) : [s] "m"(mem_src));
    CHECK(mem_dst == 0xCAFEBABE, "push [mem] / pop [mem]: %x", mem_dst);

    /* PUSH [ESP+4] computes the address before decrementing ESP. */
    __asm__ volatile("pushl $0xAAAA\n\t"
                     "pushl $0xBBBB\n\t"
                     "pushl 4(%%esp)\n\t"
                     "popl %[a]\n\t"
                     "addl $8, %%esp"
                     : [a] "=&r"(a));
    CHECK(a == 0xAAAA, "push [esp+4] reads above the old top: %x", a);

    /* POP [ESP+4] computes the address after incrementing ESP (SDM POP). */
    __asm__ volatile("pushl $0x1111\n\t"
                     "pushl $0x2222\n\t"
                     "pushl $0x3333\n\t"
                     "popl 4(%%esp)\n\t"
                     "popl %[a]\n\t"
                     "popl %[b]"
                     : [a] "=&r"(a), [b] "=&r"(b));
    CHECK(a == 0x2222 && b == 0x3333, "pop [esp+4] writes relative to the new esp: %x %x", a, b);

    /* Segment registers: a 32-bit push of a selector writes 16 or 32 bits
     * (SDM PUSH: recent CPUs leave the upper half of the slot unchanged),
     * so only the low 16 bits are compared. */
    __asm__ volatile("pushl %%ds\n\tpopl %[a]\n\t"
                     "pushl %%cs\n\tpopl %[b]\n\t"
                     "pushl %%ss\n\tpopl %[c]"
                     : [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c));
    CHECK((a & 0xFFFF) == RT_SEL_KDATA && (b & 0xFFFF) == RT_SEL_KCODE &&
              (c & 0xFFFF) == RT_SEL_KDATA,
          "push ds/cs/ss: %x %x %x", a & 0xFFFF, b & 0xFFFF, c & 0xFFFF);

    __asm__ volatile("pushl $0x10\n\tpopl %%es\n\t"
                     "pushl $0x10\n\tpopl %%fs\n\t"
                     "pushl $0x10\n\tpopl %%gs\n\t"
                     "pushl %%ss\n\tpopl %%ss\n\t"
                     "movl %%es, %[b]\n\t"
                     "movl %%esp, %[e0]\n\t"
                     "pushw %%fs\n\t"
                     "movl %%esp, %[e1]\n\t"
                     "popw %%gs"
                     : [b] "=&r"(b), [e0] "=&r"(e0), [e1] "=&r"(e1));
    CHECK((b & 0xFFFF) == RT_SEL_KDATA && e0 - e1 == 2,
          "pop es/fs/gs/ss, pushw fs (esp delta %d), popw gs", (int)(e1 - e0));
}

static void test_pusha_popa(void)
{
    static const uint32_t regs[8] = {0xA0A0A0A0, 0xC1C1C1C1, 0xD2D2D2D2, 0xB3B3B3B3,
                                     0,          0xB5B5B5B5, 0x5E5E5E5E, 0xD7D7D7D7};
    pusha_probe();
    bool slots_ok = pusha_esp_after == pusha_esp_before - 32;
    for (int i = 0; i < 8; i++) {
        uint32_t want = i == 4 ? pusha_esp_before : regs[i];
        slots_ok = slots_ok && pusha_slots[7 - i] == want; /* EAX at the highest address */
    }
    CHECK(slots_ok, "pushad: eax ecx edx ebx esp(before) ebp esi edi, esp delta %d",
          (int)(pusha_esp_after - pusha_esp_before));
    bool regs_ok = true;
    for (int i = 0; i < 8; i++)
        regs_ok = regs_ok && popa_regs[i] == (i == 4 ? pusha_esp_before : regs[i]);
    CHECK(regs_ok, "popad restores all but esp, ignores the esp slot, esp delta %d",
          (int)(popa_regs[4] - pusha_esp_before));
}

static void test_pushf_popf(void)
{
    static const uint32_t images[] = {0, EFLAGS_ARITH, EFLAGS_CF | EFLAGS_ZF, EFLAGS_OF | EFLAGS_SF,
                                      EFLAGS_AF | EFLAGS_PF};
    for (unsigned i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
        uint32_t out, in = images[i] | EFLAGS_BIT1;
        __asm__ volatile("pushl %[in]\n\tpopfl\n\tpushfl\n\tpopl %[out]"
                         : [out] "=r"(out)
                         : [in] "r"(in)
                         : "cc");
        CHECK((out & (EFLAGS_ARITH | EFLAGS_BIT1)) == in,
              "popf/pushf arithmetic flags %03x -> %03x", in, out & (EFLAGS_ARITH | EFLAGS_BIT1));
    }
}

/* ---- CALL, RET, ENTER, LEAVE ------------------------------------------------------- */

static uint32_t fake_frames[16];

static void check_enter(unsigned level, void (*probe)(void))
{
    enter_fake_ebp = (uint32_t)&fake_frames[12];
    probe();
    uint32_t esp0 = enter_out[0], frame = esp0 - 4;
    bool ok = enter_out[2] == frame && enter_out[3] == enter_fake_ebp;
    uint32_t want_esp = frame - 16 - (level ? 4 * level : 0);
    ok = ok && enter_out[1] == want_esp;
    for (unsigned i = 1; i < level; i++) /* display: copies of the old frame's pointers */
        ok = ok && enter_out[3 + i] == fake_frames[12 - i];
    if (level > 0)
        ok = ok && enter_out[3 + level] == frame;
    ok = ok && enter_out[10] == esp0 && enter_out[11] == enter_fake_ebp;
    CHECK(ok, "enter 16,%u: ebp=esp0%+d esp=esp0%+d, display of %u; leave restores", level,
          (int)(enter_out[2] - esp0), (int)(enter_out[1] - esp0), level);
}

static uint32_t add1(uint32_t x)
{
    return x + 1;
}

static uint32_t times3(uint32_t x)
{
    return x * 3;
}

static uint32_t flip(uint32_t x)
{
    return x ^ 0xFFFF;
}

static uint32_t negate(uint32_t x)
{
    return -x;
}

uint32_t (*const fn_table[4])(uint32_t) = {add1, times3, flip, negate};
uint32_t (*fn_slot)(uint32_t) = times3;

/* A dense switch: GCC compiles it to an indirect jump through a table. */
__attribute__((noinline)) static uint32_t dense_switch(uint32_t v)
{
    switch (v) {
    case 0:
        return 10;
    case 1:
        return 21;
    case 2:
        return 32;
    case 3:
        return 43;
    case 4:
        return 54;
    case 5:
        return 65;
    case 6:
        return 76;
    case 7:
        return 87;
    case 8:
        return 98;
    case 9:
        return 109;
    default:
        return 1000;
    }
}

static void test_calls(void)
{
    uint32_t a, b, e0, e1;

    /* CALL pushes the address of the next instruction: the guest's, even if
     * the code that runs is a translation. */
    __asm__ volatile("call 1f\n1:\tpopl %[a]\n\tmovl $1b, %[b]" : [a] "=r"(a), [b] "=r"(b));
    CHECK(a == b, "call/pop yields the address of the next instruction (delta %d)", (int)(a - b));

    __asm__ volatile("movl %%esp, %[e0]\n\t"
                     "pushl $5\n\t"
                     "pushl $7\n\t"
                     "call stdcall_sum\n\t"
                     "movl %%esp, %[e1]"
                     : "=a"(a), [e0] "=&r"(e0), [e1] "=&r"(e1)
                     :
                     : "ecx", "edx", "memory", "cc");
    CHECK(a == 12 && e0 == e1, "ret 8 pops the arguments: sum %u, esp delta %d", a, (int)(e1 - e0));
    CHECK(stdcall_sum(40, 2) == 42, "stdcall from C");

    CHECK_EQ(ret_bump_probe(), 2, "callee moves its return address past an instruction");
    CHECK_EQ(pop_jmp_probe(), 0x123, "call as push+jmp, return as pop+jmp");

    /* Indirect calls: register, memory, scaled table. */
    __asm__ volatile("pushl $20\n\tcall *%[f]\n\taddl $4, %%esp"
                     : "=a"(a)
                     : [f] "r"(add1)
                     : "ecx", "edx", "memory", "cc");
    CHECK_EQ(a, 21, "call *reg");
    __asm__ volatile("pushl $20\n\tcall *fn_slot\n\taddl $4, %%esp"
                     : "=a"(a)
                     :
                     : "ecx", "edx", "memory", "cc");
    CHECK_EQ(a, 60, "call *[mem]");
    uint32_t sum = 0;
    for (uint32_t i = 0; i < 4; i++) {
        __asm__ volatile("pushl $100\n\tcall *fn_table(,%[i],4)\n\taddl $4, %%esp"
                         : "=a"(a)
                         : [i] "r"(i)
                         : "ecx", "edx", "memory", "cc");
        sum += a;
    }
    CHECK_EQ(sum, 101 + 300 + (100 ^ 0xFFFF) + (uint32_t)-100, "call *table(,i,4) for 4 entries");

    uint32_t (*volatile fp)(uint32_t) = negate;
    CHECK_EQ(fp(5), (uint32_t)-5, "call through a C function pointer");

    static const uint32_t want[12] = {10, 21, 32, 43, 54, 65, 76, 87, 98, 109, 1000, 1000};
    bool ok = true;
    for (uint32_t i = 0; i < 12; i++)
        ok = ok && dense_switch(i) == want[i];
    CHECK(ok, "switch through a jump table, 12 values");

    check_enter(0, enter_probe_0);
    check_enter(1, enter_probe_1);
    check_enter(2, enter_probe_2);
    check_enter(5, enter_probe_5);
}

/* ---- recursion, setjmp/longjmp, coroutines ---------------------------------------- */

#define BIG_STACK (512 * 1024)
static uint8_t big_stack[BIG_STACK] __attribute__((aligned(16)));
static uint32_t lowest_esp;

__attribute__((noinline)) static uint32_t deep_sum(uint32_t n)
{
    uint32_t esp;
    __asm__ volatile("movl %%esp, %0" : "=r"(esp));
    if (esp < lowest_esp)
        lowest_esp = esp;
    if (n == 0)
        return 0;
    uint32_t r = deep_sum(n - 1);
    BARRIER(r);
    return r + n;
}

__attribute__((noinline)) static bool is_odd(uint32_t n);

__attribute__((noinline)) static bool is_even(uint32_t n)
{
    if (n == 0)
        return true;
    bool r = is_odd(n - 1);
    BARRIER(r);
    return r;
}

__attribute__((noinline)) static bool is_odd(uint32_t n)
{
    if (n == 0)
        return false;
    bool r = is_even(n - 1);
    BARRIER(r);
    return r;
}

__attribute__((noinline)) static uint32_t ackermann(uint32_t m, uint32_t n)
{
    uint32_t r;
    if (m == 0)
        r = n + 1;
    else if (n == 0)
        r = ackermann(m - 1, 1);
    else
        r = ackermann(m - 1, ackermann(m, n - 1));
    BARRIER(r);
    return r;
}

static uint32_t on_big_stack(uint32_t which)
{
    switch (which) {
    case 0:
        return deep_sum(5000);
    case 1:
        return is_odd(3001) ? 1 : 0;
    default:
        return ackermann(2, 200);
    }
}

static struct ctx jump_buffer;

__attribute__((noinline)) static uint32_t dive(uint32_t n, int val)
{
    if (n == 0) {
        ctx_longjmp(&jump_buffer, val);
        return 0;
    }
    uint32_t r = dive(n - 1, val);
    BARRIER(r);
    return r + 1;
}

static struct ctx main_ctx, gen_ctx;
static uint8_t gen_stack[16384] __attribute__((aligned(16)));
static volatile uint32_t gen_value;

/* A Fibonacci generator on its own stack: yields by switching back. */
static void generator(void)
{
    uint32_t a = 0, b = 1;
    for (;;) {
        gen_value = a;
        ctx_switch(&gen_ctx, &main_ctx);
        uint32_t t = a + b;
        a = b;
        b = t;
    }
}

static void generator_returned(void)
{
    rt_fail("coroutine returned off its stack");
    rt_finish();
}

static void test_stacks(void)
{
    void *top = big_stack + BIG_STACK;

    lowest_esp = 0xFFFFFFFF;
    uint32_t r = call_on_stack(top, on_big_stack, 0);
    uint32_t used = (uint32_t)top - lowest_esp;
    CHECK(r == 12502500 && used >= 5000 * 8 && used < BIG_STACK,
          "recursion depth 5000 on a 512 KiB stack: sum %u, at least 8 bytes per frame", r);
    CHECK_EQ(call_on_stack(top, on_big_stack, 1), 1, "mutual recursion depth 3001: is_odd(3001)");
    CHECK_EQ(call_on_stack(top, on_big_stack, 2), 403, "ackermann(2, 200)");

    static volatile int stage;
    stage = 0;
    int v = ctx_setjmp(&jump_buffer);
    if (v == 0) {
        stage = 1;
        dive(100, 42);
        stage = 2; /* not reached */
    } else if (v == 42) {
        stage = 3;
        dive(10, 0);
        stage = 4; /* not reached */
    }
    CHECK(v == 1 && stage == 3, "longjmp out of depth 100 (42), then with 0 (returns 1): stage %d",
          stage);

    uint32_t *sp = (uint32_t *)(gen_stack + sizeof(gen_stack) - 16) - 1;
    *sp = (uint32_t)generator_returned;
    gen_ctx = (struct ctx){.esp = (uint32_t)sp, .eip = (uint32_t)generator};
    uint32_t got[12];
    for (int i = 0; i < 12; i++) {
        ctx_switch(&main_ctx, &gen_ctx);
        got[i] = gen_value;
    }
    static const uint32_t fib[12] = {0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89};
    CHECK(memcmp(got, fib, sizeof(fib)) == 0, "coroutine on its own stack: %u %u %u ... %u", got[0],
          got[1], got[2], got[11]);
}

/* ---- far transfers and IRET --------------------------------------------------------- */

static void test_far(void)
{
    far_call_probe();
    CHECK(far_seen_eip == (uint32_t)far_call_return && (far_seen_cs & 0xFFFF) == RT_SEL_KCODE &&
              far_esp_after == far_esp_before,
          "lcall 0x08:target pushes cs=%x and the return eip; lret returns", far_seen_cs & 0xFFFF);
    CHECK(far_seen_eip2 == (uint32_t)far_call_return2, "lcall *[m16:32]");
    CHECK(far_seen_arg == 0x22222222 && far_esp_after2 == far_esp_before,
          "lret 8 pops the arguments: esp delta %d", (int)(far_esp_after2 - far_esp_before));

    iret_eflags_in = EFLAGS_BIT1 | EFLAGS_ARITH;
    iret_probe();
    CHECK((iret_eflags_out & (EFLAGS_ARITH | EFLAGS_IF)) == EFLAGS_ARITH &&
              iret_esp_after == iret_esp_before,
          "iret to the same level pops eip, cs, eflags (%03x)",
          iret_eflags_out & (EFLAGS_ARITH | EFLAGS_IF));
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    for (int i = 0; i < 16; i++)
        fake_frames[i] = 0xF0000000u | (uint32_t)i;
    test_push_pop();
    test_pusha_popa();
    test_pushf_popf();
    test_calls();
    test_stacks();
    test_far();
    rt_finish();
}
