/*
 * guest-tests/recursion_indirect.c — deep and mutual recursion and
 * indirect control flow, the workloads that stress a translator's return
 * handling and indirect-branch lookup: Ackermann A(2,3), A(3,3), A(3,6)
 * (172233 calls); a recursion 100000 frames deep on a 4 MiB stack of its
 * own; Hofstadter's mutually recursive F and M sequences; 200000 indirect
 * calls through a table of 16 functions chosen by a xorshift sequence; a
 * dense switch GCC compiles into a jump table; a threaded-code interpreter
 * (computed goto); and, in recursion_indirect.S, returns to addresses other
 * than the pushed one, returns unwinding several frames, PUSH/RET,
 * CALL/POP, and indirect CALL/JMP through every operand form.
 *
 * Every result is checked against a computation that does not use the
 * mechanism under test (closed forms, iteration, tables of constants).
 */
#include "rt.h"

uint32_t ri_call_on_stack(void *top, uint32_t (*fn)(uint32_t), uint32_t arg);
uint32_t ri_skip(void), ri_redirect(void), ri_push_ret(void), ri_call_pop(void), ri_unwind(void);
uint32_t ri_indirect_forms(void);

/* Keeps GCC from turning recursion into loops or tail calls. */
#define BARRIER(x) __asm__ volatile("" : "+r"(x))

/* ---- recursion ---------------------------------------------------------------------- */

static unsigned long ack_calls;

__attribute__((noinline)) static uint32_t ack(uint32_t m, uint32_t n)
{
    ack_calls++;
    if (m == 0)
        return n + 1;
    if (n == 0) {
        uint32_t r = ack(m - 1, 1);
        BARRIER(r);
        return r;
    }
    uint32_t inner = ack(m, n - 1);
    BARRIER(inner);
    uint32_t r = ack(m - 1, inner);
    BARRIER(r);
    return r;
}

static void test_ackermann(void)
{
    static const struct {
        uint32_t m, n, want;
    } cases[] = {{2, 3, 9}, {3, 3, 61}, {3, 6, 509}};
    for (unsigned i = 0; i < 3; i++) {
        ack_calls = 0;
        uint32_t v = ack(cases[i].m, cases[i].n);
        CHECK(v == cases[i].want, "A(%u, %u) = %u (%lu calls)", cases[i].m, cases[i].n, v,
              ack_calls);
    }
}

#define DEEP_STACK_SIZE (4u << 20)
static uint8_t deep_stack[DEEP_STACK_SIZE] __attribute__((aligned(16)));
static uint32_t deep_min_esp;

__attribute__((noinline)) static uint32_t deep(uint32_t n)
{
    if (n == 0) {
        uint32_t esp;
        __asm__ volatile("movl %%esp, %0" : "=r"(esp));
        deep_min_esp = esp;
        return 0;
    }
    uint32_t r = deep(n - 1);
    BARRIER(r);
    return r + (n ^ (n >> 3));
}

static uint32_t deep_entry(uint32_t n)
{
    return deep(n);
}

static void test_deep(void)
{
    const uint32_t depth = 100000;
    uint32_t want = 0;
    for (uint32_t n = 1; n <= depth; n++)
        want += n ^ (n >> 3);
    uint32_t got = ri_call_on_stack(deep_stack + DEEP_STACK_SIZE, deep_entry, depth);
    CHECK(got == want, "recursion %u frames deep on its own stack: 0x%08x", depth, got);
    uint32_t used = (uint32_t)(deep_stack + DEEP_STACK_SIZE) - deep_min_esp;
    CHECK(used >= depth * 8 && used < DEEP_STACK_SIZE,
          "  the deepest frame is inside the stack, at least 8 bytes per frame");
}

static uint32_t hof_m(uint32_t n);

__attribute__((noinline)) static uint32_t hof_f(uint32_t n)
{
    if (n == 0)
        return 1;
    uint32_t a = hof_f(n - 1);
    BARRIER(a);
    uint32_t b = hof_m(a);
    BARRIER(b);
    return n - b;
}

__attribute__((noinline)) static uint32_t hof_m(uint32_t n)
{
    if (n == 0)
        return 0;
    uint32_t a = hof_m(n - 1);
    BARRIER(a);
    uint32_t b = hof_f(a);
    BARRIER(b);
    return n - b;
}

static void test_mutual(void)
{
    enum { N = 40 };
    uint32_t f[N], m[N];
    f[0] = 1;
    m[0] = 0;
    for (uint32_t n = 1; n < N; n++) {
        m[n] = n - f[m[n - 1]]; /* m[n-1] < n */
        f[n] = n - m[f[n - 1]]; /* f[n-1] <= n */
    }
    bool ok = true;
    uint32_t sum = 0;
    for (uint32_t n = 0; n < N; n++) {
        uint32_t a = hof_f(n), b = hof_m(n);
        ok = ok && a == f[n] && b == m[n];
        sum += a * 3 + b;
    }
    CHECK(ok, "Hofstadter F/M (mutual recursion) for n < %d: F(39)=%u M(39)=%u, sum 3F+M = %u", N,
          f[N - 1], m[N - 1], sum);
}

/* ---- indirect calls through a table --------------------------------------------------- */

/* clang-format off */
#define OPS(X) \
    X(0, 3, 1)   X(1, 5, 7)   X(2, 7, 3)   X(3, 9, 11) \
    X(4, 11, 5)  X(5, 13, 13) X(6, 17, 2)  X(7, 19, 17) \
    X(8, 23, 19) X(9, 29, 23) X(10, 31, 29) X(11, 37, 31) \
    X(12, 41, 37) X(13, 43, 41) X(14, 47, 43) X(15, 53, 47)
/* clang-format on */

#define DEFINE_OP(i, mul, add)                                  \
    __attribute__((noinline)) static uint32_t op##i(uint32_t x) \
    {                                                           \
        return x * (mul) + (add) + (i);                         \
    }
OPS(DEFINE_OP)

#define OP_PTR(i, mul, add) op##i,
#define OP_MUL(i, mul, add) mul,
#define OP_ADD(i, mul, add) (add) + (i),
static uint32_t (*const op_table[16])(uint32_t) = {OPS(OP_PTR)};
static const uint32_t op_mul[16] = {OPS(OP_MUL)};
static const uint32_t op_add[16] = {OPS(OP_ADD)};

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void test_indirect_calls(void)
{
    const uint32_t n = 200000;
    uint32_t s = 0x12345678, acc = 1;
    uint32_t (*volatile const *table)(uint32_t) = op_table;
    for (uint32_t i = 0; i < n; i++)
        acc = table[xorshift(&s) & 15](acc);

    uint32_t s2 = 0x12345678, want = 1;
    for (uint32_t i = 0; i < n; i++) {
        unsigned k = xorshift(&s2) & 15;
        want = want * op_mul[k] + op_add[k];
    }
    CHECK(acc == want, "%u indirect calls through a table of 16: checksum 0x%08x", n, acc);
}

/* ---- a jump table ---------------------------------------------------------------------- */

__attribute__((noinline)) static uint32_t dense_switch(uint32_t k, uint32_t x)
{
    switch (k) {
    case 0:
        return x + 1;
    case 1:
        return x ^ 0x5555;
    case 2:
        return x * 3;
    case 3:
        return x - 7;
    case 4:
        return x << 2;
    case 5:
        return x >> 1;
    case 6:
        return ~x;
    case 7:
        return x + 0x1000;
    case 8:
        return x * 5 + 1;
    case 9:
        return x ^ 0xFFFF0000;
    case 10:
        return x - 0x100;
    case 11:
        return x | 0x80;
    case 12:
        return x & 0xFFFFFF0F;
    case 13:
        return x + x;
    case 14:
        return x * 7;
    case 15:
        return x + 0x13;
    default:
        return x;
    }
}

static uint32_t dense_model(uint32_t k, uint32_t x)
{
    /* the same cases as straight-line selects, no jump table */
    uint32_t r = x;
    r = k == 0 ? x + 1 : r;
    r = k == 1 ? x ^ 0x5555 : r;
    r = k == 2 ? x * 3 : r;
    r = k == 3 ? x - 7 : r;
    r = k == 4 ? x << 2 : r;
    r = k == 5 ? x >> 1 : r;
    r = k == 6 ? ~x : r;
    r = k == 7 ? x + 0x1000 : r;
    r = k == 8 ? x * 5 + 1 : r;
    r = k == 9 ? x ^ 0xFFFF0000 : r;
    r = k == 10 ? x - 0x100 : r;
    r = k == 11 ? (x | 0x80) : r;
    r = k == 12 ? (x & 0xFFFFFF0F) : r;
    r = k == 13 ? x + x : r;
    r = k == 14 ? x * 7 : r;
    r = k == 15 ? x + 0x13 : r;
    return r;
}

static void test_jump_table(void)
{
    uint32_t s = 0xCAFEF00D, acc = 0, want = 0;
    for (uint32_t i = 0; i < 100000; i++) {
        uint32_t k = xorshift(&s) % 20; /* 16..19 take the default */
        acc = dense_switch(k, acc) + 1;
        want = dense_model(k, want) + 1;
    }
    CHECK(acc == want, "100000 passes through a 16-case switch (jump table): 0x%08x", acc);
}

/* ---- threaded code (computed goto) ------------------------------------------------------ */

enum { I_PUSH, I_ADD, I_MUL, I_DUP, I_SWAP, I_DEC_JNZ, I_DROP, I_HALT };

static uint32_t run_threaded(const uint32_t *prog)
{
    static void *const labels[] = {&&push, &&add, &&mul, &&dup, &&swap, &&dec_jnz, &&drop, &&halt};
    uint32_t stack[16], sp = 0;
    const uint32_t *pc = prog;
#define NEXT goto *labels[*pc++]
    NEXT;
push:
    stack[sp++] = *pc++;
    NEXT;
add:
    sp--;
    stack[sp - 1] += stack[sp];
    NEXT;
mul:
    sp--;
    stack[sp - 1] *= stack[sp];
    NEXT;
dup:
    stack[sp] = stack[sp - 1];
    sp++;
    NEXT;
swap : {
    uint32_t t = stack[sp - 1];
    stack[sp - 1] = stack[sp - 2];
    stack[sp - 2] = t;
    NEXT;
}
dec_jnz: /* counter below the top: decrement; if not zero jump to the operand */
    if (--stack[sp - 2] != 0)
        pc = prog + *pc;
    else
        pc++;
    NEXT;
drop:
    sp--;
    NEXT;
halt:
#undef NEXT
    return stack[sp - 1];
}

static void test_threaded(void)
{
    /* counter 5000, acc 7; body: acc = acc * 3 + 1; dec_jnz to the body */
    static const uint32_t prog2[] = {
        I_PUSH,          5000, I_PUSH, 7,
        /* 4: */ I_PUSH, 3,    I_MUL,  I_PUSH, 1, I_ADD, I_DEC_JNZ, 4, I_HALT,
    };
    uint32_t got = run_threaded(prog2);
    uint32_t want = 7;
    for (int i = 0; i < 5000; i++)
        want = want * 3 + 1;
    CHECK(got == want, "threaded interpreter (computed goto), 5000 iterations: 0x%08x", got);
}

/* ---- recursion_indirect.S ---------------------------------------------------------------- */

static void test_unusual_returns(void)
{
    CHECK_EQ(ri_skip(), 2, "callee adds 5 to its return address, skipping mov eax,1");
    CHECK_EQ(ri_redirect(), 107, "callee replaces its return address with another label");
    CHECK_EQ(ri_push_ret(), 7, "push label; ret");
    CHECK_EQ(ri_call_pop(), 0, "call next; pop eax: eax - label");
    CHECK_EQ(ri_unwind(), 1111, "innermost of three calls returns to the outermost");
    CHECK_EQ(ri_indirect_forms(), 0x11F,
             "call reg, [abs], [base], [base+idx*4+disp], [idx*4+disp]; jmp reg, [idx*4+disp]");
    /* And the same again, now that everything has been seen once. */
    uint32_t sum = 0;
    for (int i = 0; i < 1000; i++)
        sum += ri_skip() + ri_redirect() + ri_push_ret() + ri_call_pop() + ri_unwind() +
               ri_indirect_forms();
    CHECK_EQ(sum, 1000u * (2 + 107 + 7 + 0 + 1111 + 0x11F), "1000 more rounds of all of them");
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    test_ackermann();
    test_deep();
    test_mutual();
    test_indirect_calls();
    test_jump_table();
    test_threaded();
    test_unusual_returns();
    rt_finish();
}
