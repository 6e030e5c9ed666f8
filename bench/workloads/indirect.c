/*
 * indirect — indirect-branch heavy code, in two parts:
 *  1. INDIRECT_CALLS calls through a table of 16 small functions, the target
 *     chosen by xorshift32 each time (so no predictor and no single cached
 *     target helps): indirect calls and their returns;
 *  2. a switch-based interpreter of a tiny register bytecode (GCC compiles
 *     the dense switch to a jump table): one indirect jump per bytecode
 *     instruction, to a target that changes every time.
 * A translator must look up the translated address of every indirect target
 * at run time, so this measures that lookup (and any inline caching).
 */
#include "bench.h"

const char bench_name[] = "indirect";

#define INDIRECT_CALLS (48u * 1000u * 1000u)
#define VM_ITERATIONS  (3u * 1000u * 1000u)

/* ---- part 1: a table of function pointers -------------------------------- */

typedef uint32_t (*op_fn)(uint32_t acc, uint32_t r);

static uint32_t op0(uint32_t a, uint32_t r)
{
    return a + r;
}
static uint32_t op1(uint32_t a, uint32_t r)
{
    return a - r;
}
static uint32_t op2(uint32_t a, uint32_t r)
{
    return a ^ r;
}
static uint32_t op3(uint32_t a, uint32_t r)
{
    return a * 3u + r;
}
static uint32_t op4(uint32_t a, uint32_t r)
{
    return ((a << 5) | (a >> 27)) + (r & 7u);
}
static uint32_t op5(uint32_t a, uint32_t r)
{
    return (a >> 3) ^ r;
}
static uint32_t op6(uint32_t a, uint32_t r)
{
    return a + (r & 0xFF);
}
static uint32_t op7(uint32_t a, uint32_t r)
{
    return ~a + r;
}
static uint32_t op8(uint32_t a, uint32_t r)
{
    return a | (r >> 16);
}
static uint32_t op9(uint32_t a, uint32_t r)
{
    return a & (r | 0x0F0F0F0Fu);
}
static uint32_t op10(uint32_t a, uint32_t r)
{
    return a * 0x9E3779B1u + (r & 1u);
}
static uint32_t op11(uint32_t a, uint32_t r)
{
    return a + (a >> 7) + (r & 3u);
}
static uint32_t op12(uint32_t a, uint32_t r)
{
    return a ^ (r << 11);
}
static uint32_t op13(uint32_t a, uint32_t r)
{
    return a > r ? a - r : r - a;
}
static uint32_t op14(uint32_t a, uint32_t r)
{
    return a + 0x7F4A7C15u - (r >> 30);
}
static uint32_t op15(uint32_t a, uint32_t r)
{
    return (a ^ r) * 5u;
}

static op_fn const op_table[16] = {
    op0, op1, op2, op3, op4, op5, op6, op7, op8, op9, op10, op11, op12, op13, op14, op15,
};

static uint32_t call_table(void)
{
    uint32_t s = 0xDEADBEEFu;
    uint32_t acc = 1;
    for (uint32_t i = 0; i < INDIRECT_CALLS; i++) {
        uint32_t r = bench_xorshift32(&s);
        acc = op_table[r >> 28](acc, r);
    }
    return acc;
}

/* ---- part 2: a bytecode interpreter --------------------------------------- */

/* Instruction word: op | a << 8 | b << 16 | c << 24; for LI and the jumps
 * (b | c << 8) is a 16-bit immediate. Eight 32-bit registers. */
enum {
    VM_HALT,
    VM_LI,   /* ra = imm16 */
    VM_LIH,  /* ra = (ra & 0xFFFF) | imm16 << 16 */
    VM_ADD,  /* ra = rb + rc */
    VM_SUB,  /* ra = rb - rc */
    VM_MUL,  /* ra = rb * rc */
    VM_XOR,  /* ra = rb ^ rc */
    VM_AND,  /* ra = rb & rc */
    VM_SHLI, /* ra = rb << c */
    VM_SHRI, /* ra = rb >> c */
    VM_DEC,  /* ra = ra - 1 */
    VM_JNZ,  /* if ra != 0 goto imm16 */
    VM_JZ,   /* if ra == 0 goto imm16 */
    VM_JMP,  /* goto imm16 */
    VM_MOV,  /* ra = rb */
    VM_ODD,  /* ra = rb & 1 */
};

#define I3(op, a, b, c) \
    ((uint32_t)(op) | (uint32_t)(a) << 8 | (uint32_t)(b) << 16 | (uint32_t)(c) << 24)
#define II(op, a, imm) I3(op, a, (imm)&0xFF, ((imm) >> 8) & 0xFF)

/* r0: loop counter; r1: xorshift state; r2: scratch; r3: accumulator;
 * r4: odd/even; r5: constant 3; r6: the result of the other branch. */
static const uint32_t vm_program[] = {
    /*  0 */ II(VM_LI, 0, VM_ITERATIONS & 0xFFFF),
    /*  1 */ II(VM_LIH, 0, VM_ITERATIONS >> 16),
    /*  2 */ II(VM_LI, 1, 0x5678),
    /*  3 */ II(VM_LIH, 1, 0x1234),
    /*  4 */ II(VM_LI, 3, 0),
    /*  5 */ II(VM_LI, 5, 3),
    /* loop: xorshift32 of r1 */
    /*  6 */ I3(VM_SHLI, 2, 1, 13),
    /*  7 */ I3(VM_XOR, 1, 1, 2),
    /*  8 */ I3(VM_SHRI, 2, 1, 17),
    /*  9 */ I3(VM_XOR, 1, 1, 2),
    /* 10 */ I3(VM_SHLI, 2, 1, 5),
    /* 11 */ I3(VM_XOR, 1, 1, 2),
    /* if r1 is odd: r3 = r3 * 3 + r1, else r3 = r3 ^ (r1 >> 1) */
    /* 12 */ I3(VM_ODD, 4, 1, 0),
    /* 13 */ II(VM_JZ, 4, 18),
    /* 14 */ I3(VM_MUL, 3, 3, 5),
    /* 15 */ I3(VM_ADD, 3, 3, 1),
    /* 16 */ I3(VM_SUB, 6, 3, 1),
    /* 17 */ II(VM_JMP, 0, 21),
    /* 18 */ I3(VM_SHRI, 2, 1, 1),
    /* 19 */ I3(VM_XOR, 3, 3, 2),
    /* 20 */ I3(VM_AND, 6, 3, 1),
    /* 21 */ I3(VM_DEC, 0, 0, 0),
    /* 22 */ II(VM_JNZ, 0, 6),
    /* 23 */ I3(VM_XOR, 3, 3, 6),
    /* 24 */ I3(VM_HALT, 0, 0, 0),
};

static uint32_t vm_run(const uint32_t *code, uint32_t *steps)
{
    uint32_t reg[8] = {0};
    uint32_t pc = 0, n = 0;
    for (;;) {
        uint32_t insn = code[pc++];
        uint32_t a = (insn >> 8) & 7, b = (insn >> 16) & 7, c = insn >> 24;
        uint32_t imm = insn >> 16;
        n++;
        switch (insn & 0xFF) {
        case VM_HALT:
            *steps = n;
            return reg[3];
        case VM_LI:
            reg[a] = imm;
            break;
        case VM_LIH:
            reg[a] = (reg[a] & 0xFFFFu) | imm << 16;
            break;
        case VM_ADD:
            reg[a] = reg[b] + reg[c & 7];
            break;
        case VM_SUB:
            reg[a] = reg[b] - reg[c & 7];
            break;
        case VM_MUL:
            reg[a] = reg[b] * reg[c & 7];
            break;
        case VM_XOR:
            reg[a] = reg[b] ^ reg[c & 7];
            break;
        case VM_AND:
            reg[a] = reg[b] & reg[c & 7];
            break;
        case VM_SHLI:
            reg[a] = reg[b] << (c & 31);
            break;
        case VM_SHRI:
            reg[a] = reg[b] >> (c & 31);
            break;
        case VM_DEC:
            reg[a]--;
            break;
        case VM_JNZ:
            if (reg[a] != 0)
                pc = imm;
            break;
        case VM_JZ:
            if (reg[a] == 0)
                pc = imm;
            break;
        case VM_JMP:
            pc = imm;
            break;
        case VM_MOV:
            reg[a] = reg[b];
            break;
        case VM_ODD:
            reg[a] = reg[b] & 1;
            break;
        default:
            *steps = n;
            return BENCH_VERIFY_FAILED;
        }
    }
}

uint32_t bench_run(void)
{
    uint32_t sum = 2166136261u;
    sum = bench_mix(sum, call_table());
    uint32_t steps = 0;
    sum = bench_mix(sum, vm_run(vm_program, &steps));
    sum = bench_mix(sum, steps);
    return sum;
}
