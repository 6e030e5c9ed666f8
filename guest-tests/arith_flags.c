/*
 * guest-tests/arith_flags.c — results and architecturally defined EFLAGS of
 * the integer ALU instructions, at 8, 16 and 32 bits, on edge values, each
 * checked against a model written here from the SDM's pseudocode.
 *
 * Every instruction form is a small "runner" (inline assembly that loads
 * EFLAGS with popf, executes the one instruction and saves EFLAGS with
 * pushf) and every runner is described by a `struct group` row: name, model
 * operation, operand size and how inputs are enumerated. For each input the
 * model computes the expected result and the mask of flags the SDM defines
 * for that instruction and operand; only those bits are compared.
 *
 * Masking is the point: where the SDM says a flag (or a result) is
 * "undefined" — AF after logic ops, OF after multi-bit shifts and rotates,
 * SF/ZF/AF/PF after MUL/IMUL, all flags after DIV, everything but ZF after
 * BSF/BSR and their destination for a zero source, OF after DAA/DAS, ... —
 * QEMU computes one value and a real CPU (which runs this kernel under popek)
 * another. The golden output must be the same under both, so undefined bits
 * never reach the output.
 *
 * Output per group: one check line with the number of cases and a digest of
 * the masked results; up to four detailed lines per mismatching group; with
 * "verbose" on the command line, one line per case.
 *
 * Model arithmetic avoids the instructions under test where it can: products
 * are shift-and-add, quotients shift-and-subtract, parity a bit count.
 */
#include "rt.h"

#define CF    EFLAGS_CF
#define PF    EFLAGS_PF
#define AF    EFLAGS_AF
#define ZF    EFLAGS_ZF
#define SF    EFLAGS_SF
#define OF    EFLAGS_OF
#define ARITH EFLAGS_ARITH

struct in {
    uint32_t a, b, c; /* meaning depends on the operation; see model() */
    uint32_t fin;     /* arithmetic flags loaded before the instruction */
};

struct out {
    uint32_t r1, r2, flags;
    uint32_t clobbered; /* bits outside the operand changed (see narrow()) */
};

struct expect {
    struct out v;
    uint32_t r1_mask, r2_mask, flag_mask;
    bool skip; /* the instruction would fault (DIV) or is undefined as a whole */
};

typedef void run_fn(const struct in *in, struct out *o);

/* ---- runners ---------------------------------------------------------------
 *
 * Operands are registers or static variables only: the popf/pushf pair moves
 * ESP inside the asm, so an ESP-relative operand would be off by four.
 */

#define FIN              "pushl %[fin]\n\tpopfl\n\t"
#define FOUT             "\n\tpushfl\n\tpopl %[f]"
#define FLAGS_IN_OPERAND [fin] "r"(in->fin | EFLAGS_BIT1)

/* Register operands of 8 and 16 bits live in 32-bit variables whose other
 * bits hold FILL: the runner reports in `clobbered` if the instruction
 * changed any of them (the %b/%w operand modifiers name AL, AX, ...). */
#define FILL         0xC3A5965Au
#define KEEP_8       0xFFFFFF00u
#define KEEP_16      0xFFFF0000u
#define KEEP_32      0u
#define OPD_8(x)     "%b[" #x "]"
#define OPD_16(x)    "%w[" #x "]"
#define OPD_32(x)    "%k[" #x "]"
#define CONS_8       "q"
#define CONS_16      "r"
#define CONS_32      "r"
#define WIDEN(sz, v) ((FILL & KEEP_##sz) | ((v) & ~KEEP_##sz))

static uint32_t narrow(struct out *o, uint32_t v, uint32_t keep)
{
    if ((v & keep) != (FILL & keep))
        o->clobbered++;
    return v & ~keep;
}

/* d = d op s, register destination and source. */
#define RUN_BIN(fn, insn, sz)                                           \
    static void fn(const struct in *in, struct out *o)                  \
    {                                                                   \
        uint32_t d = WIDEN(sz, in->a), s = WIDEN(sz, in->b), f;         \
        __asm__ volatile(FIN insn " " OPD_##sz(s) ", " OPD_##sz(d) FOUT \
                         : [d] "+" CONS_##sz(d), [f] "=&r"(f)           \
                         : [s] CONS_##sz(s), FLAGS_IN_OPERAND           \
                         : "cc");                                       \
        o->r1 = narrow(o, d, KEEP_##sz);                                \
        o->flags = f;                                                   \
    }

/* Memory destination. */
#define RUN_BIN_MD(fn, insn, T, C)                     \
    static void fn(const struct in *in, struct out *o) \
    {                                                  \
        static T m;                                    \
        T s = (T)in->b;                                \
        uint32_t f;                                    \
        m = (T)in->a;                                  \
        __asm__ volatile(FIN insn " %[s], %[m]" FOUT   \
                         : [m] "+m"(m), [f] "=&r"(f)   \
                         : [s] C(s), FLAGS_IN_OPERAND  \
                         : "cc");                      \
        o->r1 = m;                                     \
        o->flags = f;                                  \
    }

/* Memory source. */
#define RUN_BIN_MS(fn, insn, T, C)                      \
    static void fn(const struct in *in, struct out *o)  \
    {                                                   \
        static T m;                                     \
        T d = (T)in->a;                                 \
        uint32_t f;                                     \
        m = (T)in->b;                                   \
        __asm__ volatile(FIN insn " %[m], %[d]" FOUT    \
                         : [d] "+" C(d), [f] "=&r"(f)   \
                         : [m] "m"(m), FLAGS_IN_OPERAND \
                         : "cc");                       \
        o->r1 = d;                                      \
        o->flags = f;                                   \
    }

/* Byte operations on high-byte registers: AH op= BH (the translator cannot
 * encode AH..DH together with a REX prefix, so these take another path). */
#define RUN_HIGH(fn, insn)                                                                      \
    static void fn(const struct in *in, struct out *o)                                          \
    {                                                                                           \
        uint32_t a = 0x11000022 | (in->a & 0xFF) << 8, b = 0x33000044 | (in->b & 0xFF) << 8, f; \
        __asm__ volatile(FIN insn " %%bh, %%ah" FOUT                                            \
                         : "+a"(a), [f] "=&r"(f)                                                \
                         : "b"(b), FLAGS_IN_OPERAND                                             \
                         : "cc");                                                               \
        o->r1 = (a >> 8) & 0xFF;                                                                \
        o->clobbered += (a & 0xFFFF00FF) != 0x11000022;                                         \
        o->flags = f;                                                                           \
    }

/* CH op= memory byte. */
#define RUN_HIGH_MS(fn, insn)                             \
    static void fn(const struct in *in, struct out *o)    \
    {                                                     \
        static uint8_t m;                                 \
        uint32_t c = 0x11000022 | (in->a & 0xFF) << 8, f; \
        m = (uint8_t)in->b;                               \
        __asm__ volatile(FIN insn " %[m], %%ch" FOUT      \
                         : "+c"(c), [f] "=&r"(f)          \
                         : [m] "m"(m), FLAGS_IN_OPERAND   \
                         : "cc");                         \
        o->r1 = (c >> 8) & 0xFF;                          \
        o->clobbered += (c & 0xFFFF00FF) != 0x11000022;   \
        o->flags = f;                                     \
    }

#define RUN_UN(fn, insn, sz)                                  \
    static void fn(const struct in *in, struct out *o)        \
    {                                                         \
        uint32_t d = WIDEN(sz, in->a), f;                     \
        __asm__ volatile(FIN insn " " OPD_##sz(d) FOUT        \
                         : [d] "+" CONS_##sz(d), [f] "=&r"(f) \
                         : FLAGS_IN_OPERAND                   \
                         : "cc");                             \
        o->r1 = narrow(o, d, KEEP_##sz);                      \
        o->flags = f;                                         \
    }

#define RUN_UN_M(fn, insn, T)                          \
    static void fn(const struct in *in, struct out *o) \
    {                                                  \
        static T m;                                    \
        uint32_t f;                                    \
        m = (T)in->a;                                  \
        __asm__ volatile(FIN insn " %[m]" FOUT         \
                         : [m] "+m"(m), [f] "=&r"(f)   \
                         : FLAGS_IN_OPERAND            \
                         : "cc");                      \
        o->r1 = m;                                     \
        o->flags = f;                                  \
    }

/* Shift or rotate by CL (count in in->b). */
#define RUN_SH(fn, insn, sz)                                  \
    static void fn(const struct in *in, struct out *o)        \
    {                                                         \
        uint32_t d = WIDEN(sz, in->a), f;                     \
        __asm__ volatile(FIN insn " %%cl, " OPD_##sz(d) FOUT  \
                         : [d] "+" CONS_##sz(d), [f] "=&r"(f) \
                         : "c"(in->b), FLAGS_IN_OPERAND       \
                         : "cc");                             \
        o->r1 = narrow(o, d, KEEP_##sz);                      \
        o->flags = f;                                         \
    }

#define RUN_SH_M(fn, insn, T)                           \
    static void fn(const struct in *in, struct out *o)  \
    {                                                   \
        static T m;                                     \
        uint32_t f;                                     \
        m = (T)in->a;                                   \
        __asm__ volatile(FIN insn " %%cl, %[m]" FOUT    \
                         : [m] "+m"(m), [f] "=&r"(f)    \
                         : "c"(in->b), FLAGS_IN_OPERAND \
                         : "cc");                       \
        o->r1 = m;                                      \
        o->flags = f;                                   \
    }

/* Instruction with an immediate and a register (shift by imm, bt imm). */
#define RUN_IMM(fn, insn, imm, sz)                                \
    static void fn(const struct in *in, struct out *o)            \
    {                                                             \
        uint32_t d = WIDEN(sz, in->a), f;                         \
        __asm__ volatile(FIN insn " $" #imm ", " OPD_##sz(d) FOUT \
                         : [d] "+" CONS_##sz(d), [f] "=&r"(f)     \
                         : FLAGS_IN_OPERAND                       \
                         : "cc");                                 \
        o->r1 = narrow(o, d, KEEP_##sz);                          \
        o->flags = f;                                             \
    }

/* SHLD/SHRD dest(a), src(c) by CL(b). */
#define RUN_SHXD(fn, insn, sz)                                                \
    static void fn(const struct in *in, struct out *o)                        \
    {                                                                         \
        uint32_t d = WIDEN(sz, in->a), s = WIDEN(sz, in->c), f;               \
        __asm__ volatile(FIN insn " %%cl, " OPD_##sz(s) ", " OPD_##sz(d) FOUT \
                         : [d] "+r"(d), [f] "=&r"(f)                          \
                         : [s] "r"(s), "c"(in->b), FLAGS_IN_OPERAND           \
                         : "cc");                                             \
        o->r1 = narrow(o, d, KEEP_##sz);                                      \
        o->flags = f;                                                         \
    }

/* One-operand MUL/IMUL/DIV/IDIV: EAX = a, EDX = c, operand b. */
#define RUN_MD(fn, insn, T, C)                                \
    static void fn(const struct in *in, struct out *o)        \
    {                                                         \
        uint32_t eax = in->a, edx = in->c, f;                 \
        T s = (T)in->b;                                       \
        __asm__ volatile(FIN insn " %[s]" FOUT                \
                         : "+a"(eax), "+d"(edx), [f] "=&r"(f) \
                         : [s] C(s), FLAGS_IN_OPERAND         \
                         : "cc");                             \
        o->r1 = eax;                                          \
        o->r2 = edx;                                          \
        o->flags = f;                                         \
    }

#define RUN_MD_M(fn, insn, T)                                 \
    static void fn(const struct in *in, struct out *o)        \
    {                                                         \
        static T m;                                           \
        uint32_t eax = in->a, edx = in->c, f;                 \
        m = (T)in->b;                                         \
        __asm__ volatile(FIN insn " %[m]" FOUT                \
                         : "+a"(eax), "+d"(edx), [f] "=&r"(f) \
                         : [m] "m"(m), FLAGS_IN_OPERAND       \
                         : "cc");                             \
        o->r1 = eax;                                          \
        o->r2 = edx;                                          \
        o->flags = f;                                         \
    }

/* Three-operand IMUL: d = a * imm. */
#define RUN_IMUL3(fn, insn, imm, T)                             \
    static void fn(const struct in *in, struct out *o)          \
    {                                                           \
        T d, s = (T)in->a;                                      \
        uint32_t f;                                             \
        __asm__ volatile(FIN insn " $" #imm ", %[s], %[d]" FOUT \
                         : [d] "=&r"(d), [f] "=&r"(f)           \
                         : [s] "r"(s), FLAGS_IN_OPERAND         \
                         : "cc");                               \
        o->r1 = d;                                              \
        o->flags = f;                                           \
    }

/* BSF/BSR: source a, destination preloaded with a marker. */
#define RUN_BSX(fn, insn, sz)                                           \
    static void fn(const struct in *in, struct out *o)                  \
    {                                                                   \
        uint32_t d = WIDEN(sz, 0x5A5A5A5Au), s = WIDEN(sz, in->a), f;   \
        __asm__ volatile(FIN insn " " OPD_##sz(s) ", " OPD_##sz(d) FOUT \
                         : [d] "+r"(d), [f] "=&r"(f)                    \
                         : [s] "r"(s), FLAGS_IN_OPERAND                 \
                         : "cc");                                       \
        o->r1 = narrow(o, d, KEEP_##sz);                                \
        o->flags = f;                                                   \
    }

/* XADD: d = d + s, s = old d. */
#define RUN_XADD(fn, insn, sz)                                                      \
    static void fn(const struct in *in, struct out *o)                              \
    {                                                                               \
        uint32_t d = WIDEN(sz, in->a), s = WIDEN(sz, in->b), f;                     \
        __asm__ volatile(FIN insn " " OPD_##sz(s) ", " OPD_##sz(d) FOUT             \
                         : [d] "+" CONS_##sz(d), [s] "+" CONS_##sz(s), [f] "=&r"(f) \
                         : FLAGS_IN_OPERAND                                         \
                         : "cc");                                                   \
        o->r1 = narrow(o, d, KEEP_##sz);                                            \
        o->r2 = narrow(o, s, KEEP_##sz);                                            \
        o->flags = f;                                                               \
    }

#define RUN_XADD_M(fn, insn, T)                                   \
    static void fn(const struct in *in, struct out *o)            \
    {                                                             \
        static T m;                                               \
        T s = (T)in->b;                                           \
        uint32_t f;                                               \
        m = (T)in->a;                                             \
        __asm__ volatile(FIN insn " %[s], %[m]" FOUT              \
                         : [m] "+m"(m), [s] "+r"(s), [f] "=&r"(f) \
                         : FLAGS_IN_OPERAND                       \
                         : "cc");                                 \
        o->r1 = m;                                                \
        o->r2 = s;                                                \
        o->flags = f;                                             \
    }

#define CMPXCHG_SRC 0xC3C3C3C3u

/* CMPXCHG: destination a, accumulator b, source CMPXCHG_SRC. */
#define RUN_CMPXCHG(fn, insn, sz)                                                             \
    static void fn(const struct in *in, struct out *o)                                        \
    {                                                                                         \
        uint32_t d = WIDEN(sz, in->a), acc = WIDEN(sz, in->b), s = WIDEN(sz, CMPXCHG_SRC), f; \
        __asm__ volatile(FIN insn " " OPD_##sz(s) ", " OPD_##sz(d) FOUT                       \
                         : [d] "+" CONS_##sz(d), [acc] "+a"(acc), [f] "=&r"(f)                \
                         : [s] CONS_##sz(s), FLAGS_IN_OPERAND                                 \
                         : "cc");                                                             \
        o->r1 = narrow(o, d, KEEP_##sz);                                                      \
        o->r2 = narrow(o, acc, KEEP_##sz);                                                    \
        o->flags = f;                                                                         \
    }

#define RUN_CMPXCHG_M(fn, insn, T)                              \
    static void fn(const struct in *in, struct out *o)          \
    {                                                           \
        static T m;                                             \
        T acc = (T)in->b, s = (T)CMPXCHG_SRC;                   \
        uint32_t f;                                             \
        m = (T)in->a;                                           \
        __asm__ volatile(FIN insn " %[s], %[m]" FOUT            \
                         : [m] "+m"(m), "+a"(acc), [f] "=&r"(f) \
                         : [s] "r"(s), FLAGS_IN_OPERAND         \
                         : "cc");                               \
        o->r1 = m;                                              \
        o->r2 = acc;                                            \
        o->flags = f;                                           \
    }

/* Instructions with EAX as their only operand (DAA ... AAD, LAHF, SAHF, CMC). */
#define RUN_EAX(fn, insn)                                                                    \
    static void fn(const struct in *in, struct out *o)                                       \
    {                                                                                        \
        uint32_t eax = in->a, f;                                                             \
        __asm__ volatile(FIN insn FOUT : "+a"(eax), [f] "=&r"(f) : FLAGS_IN_OPERAND : "cc"); \
        o->r1 = eax;                                                                         \
        o->flags = f;                                                                        \
    }

/* SETcc into the low byte of a (the other bytes must survive), CMOVcc
 * 32-bit and 16-bit (upper half must survive), Jcc. */
#define RUN_SETCC(cc)                                           \
    static void run_set##cc(const struct in *in, struct out *o) \
    {                                                           \
        uint32_t d = in->a, f;                                  \
        __asm__ volatile(FIN "set" #cc " %b[d]" FOUT            \
                         : [d] "+q"(d), [f] "=&r"(f)            \
                         : FLAGS_IN_OPERAND                     \
                         : "cc");                               \
        o->r1 = d;                                              \
        o->flags = f;                                           \
    }
#define RUN_CMOV(cc)                                             \
    static void run_cmov##cc(const struct in *in, struct out *o) \
    {                                                            \
        uint32_t d = in->a, f;                                   \
        __asm__ volatile(FIN "cmov" #cc "l %[s], %[d]" FOUT      \
                         : [d] "+r"(d), [f] "=&r"(f)             \
                         : [s] "r"(in->b), FLAGS_IN_OPERAND      \
                         : "cc");                                \
        o->r1 = d;                                               \
        o->flags = f;                                            \
    }
#define RUN_CMOV16(cc)                                             \
    static void run_cmov16##cc(const struct in *in, struct out *o) \
    {                                                              \
        uint32_t d = in->a, f;                                     \
        __asm__ volatile(FIN "cmov" #cc "w %w[s], %w[d]" FOUT      \
                         : [d] "+r"(d), [f] "=&r"(f)               \
                         : [s] "r"(in->b), FLAGS_IN_OPERAND        \
                         : "cc");                                  \
        o->r1 = d;                                                 \
        o->flags = f;                                              \
    }
#define RUN_JCC(cc)                                           \
    static void run_j##cc(const struct in *in, struct out *o) \
    {                                                         \
        uint32_t d, f;                                        \
        __asm__ volatile(FIN "j" #cc " 1f\n\t"                \
                             "movl $0, %[d]\n\t"              \
                             "jmp 2f\n"                       \
                             "1:\tmovl $1, %[d]\n"            \
                             "2:" FOUT                        \
                         : [d] "=&r"(d), [f] "=&r"(f)         \
                         : FLAGS_IN_OPERAND                   \
                         : "cc");                             \
        o->r1 = d;                                            \
        o->flags = f;                                         \
    }

/* The 16 conditions in encoding order (SDM Vol. 1 Table B-1 / Jcc). */
#define FOR_EACH_CC(X) \
    X(o) X(no) X(b) X(ae) X(e) X(ne) X(be) X(a) X(s) X(ns) X(p) X(np) X(l) X(ge) X(le) X(g)

FOR_EACH_CC(RUN_SETCC)
FOR_EACH_CC(RUN_CMOV)
FOR_EACH_CC(RUN_CMOV16)
FOR_EACH_CC(RUN_JCC)

#define CC_SET_ENTRY(cc)    run_set##cc,
#define CC_CMOV_ENTRY(cc)   run_cmov##cc,
#define CC_CMOV16_ENTRY(cc) run_cmov16##cc,
#define CC_J_ENTRY(cc)      run_j##cc,
#define CC_NAME(cc)         #cc,
static run_fn *const setcc_runs[16] = {FOR_EACH_CC(CC_SET_ENTRY)};
static run_fn *const cmov_runs[16] = {FOR_EACH_CC(CC_CMOV_ENTRY)};
static run_fn *const cmov16_runs[16] = {FOR_EACH_CC(CC_CMOV16_ENTRY)};
static run_fn *const jcc_runs[16] = {FOR_EACH_CC(CC_J_ENTRY)};
static const char *const cc_names[16] = {FOR_EACH_CC(CC_NAME)};

/* Binary ALU operations: register forms at three sizes, both memory forms at
 * 32 bits, high-byte registers, and a locked memory form. */
#define BIN_OPS(X) X(add) X(adc) X(sub) X(sbb) X(cmp) X(and) X(or) X(xor) X(test)
#define DEF_BIN(op)                                    \
    RUN_BIN(run_##op##8, #op "b", 8)                   \
    RUN_BIN(run_##op##16, #op "w", 16)                 \
    RUN_BIN(run_##op##32, #op "l", 32)                 \
    RUN_BIN_MD(run_##op##32md, #op "l", uint32_t, "r") \
    RUN_BIN_MS(run_##op##32ms, #op "l", uint32_t, "r")
BIN_OPS(DEF_BIN)
RUN_HIGH(run_add8hh, "addb")
RUN_HIGH(run_sbb8hh, "sbbb")
RUN_HIGH(run_xor8hh, "xorb")
RUN_HIGH_MS(run_sub8hm, "subb")
RUN_HIGH_MS(run_cmp8hm, "cmpb")
RUN_BIN_MD(run_lockadd32, "lock addl", uint32_t, "r")
RUN_BIN_MD(run_lockor32, "lock orl", uint32_t, "r")

#define UN_OPS(X) X(inc) X(dec) X(neg) X(not )
#define DEF_UN(op)                    \
    RUN_UN(run_##op##8, #op "b", 8)   \
    RUN_UN(run_##op##16, #op "w", 16) \
    RUN_UN(run_##op##32, #op "l", 32) \
    RUN_UN_M(run_##op##32m, #op "l", uint32_t)
UN_OPS(DEF_UN)
RUN_UN_M(run_lockinc32, "lock incl", uint32_t)

#define SH_OPS(X) X(shl) X(shr) X(sar) X(rol) X(ror) X(rcl) X(rcr)
#define DEF_SH(op)                             \
    RUN_SH(run_##op##8, #op "b", 8)            \
    RUN_SH(run_##op##16, #op "w", 16)          \
    RUN_SH(run_##op##32, #op "l", 32)          \
    RUN_SH_M(run_##op##32m, #op "l", uint32_t) \
    RUN_IMM(run_##op##32i1, #op "l", 1, 32)    \
    RUN_IMM(run_##op##32i4, #op "l", 4, 32)    \
    RUN_IMM(run_##op##8i1, #op "b", 1, 8)      \
    RUN_IMM(run_##op##16i9, #op "w", 9, 16)
SH_OPS(DEF_SH)

RUN_SHXD(run_shld16, "shldw", 16)
RUN_SHXD(run_shld32, "shldl", 32)
RUN_SHXD(run_shrd16, "shrdw", 16)
RUN_SHXD(run_shrd32, "shrdl", 32)

RUN_MD(run_mul8, "mulb", uint8_t, "q")
RUN_MD(run_mul16, "mulw", uint16_t, "r")
RUN_MD(run_mul32, "mull", uint32_t, "r")
RUN_MD_M(run_mul32m, "mull", uint32_t)
RUN_MD(run_imul8, "imulb", uint8_t, "q")
RUN_MD(run_imul16, "imulw", uint16_t, "r")
RUN_MD(run_imul32, "imull", uint32_t, "r")
RUN_MD_M(run_imul32m, "imull", uint32_t)
RUN_BIN(run_imul2_16, "imulw", 16)
RUN_BIN(run_imul2_32, "imull", 32)
RUN_BIN_MS(run_imul2_32m, "imull", uint32_t, "r")
RUN_IMUL3(run_imul3_16_m1, "imulw", -1, uint16_t)
RUN_IMUL3(run_imul3_16_7fff, "imulw", 0x7fff, uint16_t)
RUN_IMUL3(run_imul3_16_m8000, "imulw", -0x8000, uint16_t)
RUN_IMUL3(run_imul3_32_3, "imull", 3, uint32_t)
RUN_IMUL3(run_imul3_32_m128, "imull", -128, uint32_t)
RUN_IMUL3(run_imul3_32_7fffffff, "imull", 0x7fffffff, uint32_t)
RUN_IMUL3(run_imul3_32_10001, "imull", 0x10001, uint32_t)
RUN_MD(run_div8, "divb", uint8_t, "q")
RUN_MD(run_div16, "divw", uint16_t, "r")
RUN_MD(run_div32, "divl", uint32_t, "r")
RUN_MD_M(run_div32m, "divl", uint32_t)
RUN_MD(run_idiv8, "idivb", uint8_t, "q")
RUN_MD(run_idiv16, "idivw", uint16_t, "r")
RUN_MD(run_idiv32, "idivl", uint32_t, "r")
RUN_MD_M(run_idiv32m, "idivl", uint32_t)

RUN_BSX(run_bsf16, "bsfw", 16)
RUN_BSX(run_bsf32, "bsfl", 32)
RUN_BSX(run_bsr16, "bsrw", 16)
RUN_BSX(run_bsr32, "bsrl", 32)

#define BT_OPS(X) X(bt) X(bts) X(btr) X(btc)
#define DEF_BT(op)                            \
    RUN_BIN(run_##op##16, #op "w", 16)        \
    RUN_BIN(run_##op##32, #op "l", 32)        \
    RUN_IMM(run_##op##32i5, #op "l", 5, 32)   \
    RUN_IMM(run_##op##32i33, #op "l", 33, 32) \
    RUN_IMM(run_##op##16i17, #op "w", 17, 16)
BT_OPS(DEF_BT)

RUN_XADD(run_xadd8, "xaddb", 8)
RUN_XADD(run_xadd32, "xaddl", 32)
RUN_XADD_M(run_lockxadd32, "lock xaddl", uint32_t)
RUN_CMPXCHG(run_cmpxchg8, "cmpxchgb", 8)
RUN_CMPXCHG(run_cmpxchg16, "cmpxchgw", 16)
RUN_CMPXCHG(run_cmpxchg32, "cmpxchgl", 32)
RUN_CMPXCHG_M(run_lockcmpxchg32, "lock cmpxchgl", uint32_t)

RUN_EAX(run_daa, "daa")
RUN_EAX(run_das, "das")
RUN_EAX(run_aaa, "aaa")
RUN_EAX(run_aas, "aas")
RUN_EAX(run_aam10, "aam")
RUN_EAX(run_aam16, "aam $16")
RUN_EAX(run_aam7, "aam $7")
RUN_EAX(run_aam1, "aam $1")
RUN_EAX(run_aam255, "aam $255")
RUN_EAX(run_aad10, "aad")
RUN_EAX(run_aad16, "aad $16")
RUN_EAX(run_aad7, "aad $7")
RUN_EAX(run_aad255, "aad $255")
RUN_EAX(run_lahf, "lahf")
RUN_EAX(run_sahf, "sahf")
RUN_EAX(run_cmc, "cmc")

/* ---- the model ---------------------------------------------------------------- */

enum op {
    OP_ADD,
    OP_ADC,
    OP_SUB,
    OP_SBB,
    OP_CMP,
    OP_AND,
    OP_OR,
    OP_XOR,
    OP_TEST,
    OP_INC,
    OP_DEC,
    OP_NEG,
    OP_NOT,
    OP_SHL,
    OP_SHR,
    OP_SAR,
    OP_ROL,
    OP_ROR,
    OP_RCL,
    OP_RCR,
    OP_SHLD,
    OP_SHRD,
    OP_MUL,
    OP_IMUL1,
    OP_IMUL2,
    OP_DIV,
    OP_IDIV,
    OP_BSF,
    OP_BSR,
    OP_BT,
    OP_BTS,
    OP_BTR,
    OP_BTC,
    OP_XADD,
    OP_CMPXCHG,
    OP_DAA,
    OP_DAS,
    OP_AAA,
    OP_AAS,
    OP_AAM,
    OP_AAD,
    OP_SETCC,
    OP_CMOV,
    OP_CMOV16,
    OP_JCC,
    OP_LAHF,
    OP_SAHF,
    OP_CMC,
};

/* How a group enumerates its inputs. */
enum iter {
    IT_BIN,   /* a, b in values(size); fin in {0, all} */
    IT_UN,    /* a in values(size); fin in {0, all} */
    IT_SHIFT, /* a in values(size), b in shift counts; fin in {0, all} */
    IT_IMM,   /* a in values(size), b = imm; fin in {0, all} */
    IT_SHXD,  /* a, c in values(size), b in shift counts; fin in {0, all} */
    IT_DIV,   /* dividend high and low halves and divisor in values(size) */
    IT_BCD,   /* AL in 0..255, AH in {0, 0xff}; fin in {0, CF, AF, CF|AF, all} */
    IT_COND,  /* condition 0..15 in c; all 64 combinations of the six flags */
    IT_FLAGS, /* all 64 combinations of the six flags */
    IT_AH,    /* AH in 0..255; fin in {0, all} */
};

struct group {
    const char *name;
    enum op op;
    unsigned size;
    enum iter it;
    run_fn *run;
    run_fn *const *cc_runs; /* IT_COND: one runner per condition */
    uint32_t imm;
};

static uint32_t size_mask(unsigned size)
{
    return size == 32 ? 0xFFFFFFFFu : (1u << size) - 1;
}

static uint32_t sign_bit(unsigned size)
{
    return 1u << (size - 1);
}

static int64_t sign_extend(uint64_t v, unsigned size)
{
    uint64_t m = size == 64 ? ~0ull : (1ull << size) - 1;
    v &= m;
    if (size < 64 && (v >> (size - 1)) & 1)
        v |= ~m;
    return (int64_t)v;
}

/* PF: set when the low byte has an even number of ones (SDM Vol. 1 §3.4.3.1). */
static uint32_t parity_flag(uint32_t v)
{
    unsigned ones = 0;
    for (int i = 0; i < 8; i++)
        ones += (v >> i) & 1;
    return (ones & 1) ? 0 : PF;
}

static uint32_t szp(uint32_t r, unsigned size)
{
    r &= size_mask(size);
    return (r & sign_bit(size) ? SF : 0) | (r == 0 ? ZF : 0) | parity_flag(r);
}

static uint64_t mul_unsigned(uint64_t a, uint64_t b)
{
    uint64_t r = 0;
    while (b) {
        if (b & 1)
            r += a;
        a <<= 1;
        b >>= 1;
    }
    return r;
}

static int64_t mul_signed(int64_t a, int64_t b)
{
    bool neg = (a < 0) != (b < 0);
    uint64_t p =
        mul_unsigned(a < 0 ? -(uint64_t)a : (uint64_t)a, b < 0 ? -(uint64_t)b : (uint64_t)b);
    return neg ? -(int64_t)p : (int64_t)p;
}

static void div_unsigned(uint64_t n, uint64_t d, uint64_t *q, uint64_t *r)
{
    uint64_t quot = 0, rem = 0;
    for (int i = 63; i >= 0; i--) {
        rem = (rem << 1) | ((n >> i) & 1);
        if (rem >= d) {
            rem -= d;
            quot |= 1ull << i;
        }
    }
    *q = quot;
    *r = rem;
}

static uint32_t add_flags(uint32_t a, uint32_t b, uint32_t carry, unsigned size, uint32_t *res)
{
    uint64_t full = (uint64_t)a + b + carry;
    uint32_t r = (uint32_t)full & size_mask(size);
    *res = r;
    return szp(r, size) | ((full >> size) & 1 ? CF : 0) |
           (((a ^ r) & (b ^ r) & sign_bit(size)) ? OF : 0) | ((a ^ b ^ r) & 0x10 ? AF : 0);
}

static uint32_t sub_flags(uint32_t a, uint32_t b, uint32_t borrow, unsigned size, uint32_t *res)
{
    uint32_t r = (uint32_t)((uint64_t)a - b - borrow) & size_mask(size);
    *res = r;
    return szp(r, size) | ((uint64_t)a < (uint64_t)b + borrow ? CF : 0) |
           (((a ^ b) & (a ^ r) & sign_bit(size)) ? OF : 0) | ((a ^ b ^ r) & 0x10 ? AF : 0);
}

static bool condition(unsigned cc, uint32_t f)
{
    bool cf = f & CF, zf = f & ZF, sf = f & SF, of = f & OF, pf = f & PF, r;
    switch (cc >> 1) {
    case 0:
        r = of;
        break;
    case 1:
        r = cf;
        break;
    case 2:
        r = zf;
        break;
    case 3:
        r = cf || zf;
        break;
    case 4:
        r = sf;
        break;
    case 5:
        r = pf;
        break;
    case 6:
        r = sf != of;
        break;
    default:
        r = zf || sf != of;
        break;
    }
    return (cc & 1) ? !r : r;
}

/* Shifts and rotates: SDM Vol. 2B "SAL/SAR/SHL/SHR" and "RCL/RCR/ROL/ROR".
 * The count is masked to 5 bits; a masked count of 0 changes nothing. */
static void model_shift(enum op op, unsigned size, uint32_t a, uint32_t count, uint32_t fin,
                        struct expect *e)
{
    uint32_t m = size_mask(size), sb = sign_bit(size), r = a, cf = 0, of = 0;
    unsigned c = count & 31;
    if (c == 0)
        return; /* result and flags unchanged: the defaults */
    switch (op) {
    case OP_SHL:
        r = c >= size ? 0 : (a << c) & m;
        cf = (a >> (size - c)) & 1; /* c <= 31 < size for 32 bits */
        of = ((r & sb) != 0) != cf;
        break;
    case OP_SHR:
        r = c >= size ? 0 : a >> c;
        cf = (a >> (c - 1)) & 1;
        of = (a & sb) != 0;
        break;
    case OP_SAR: {
        bool neg = a & sb;
        if (c >= size) {
            r = neg ? m : 0;
            cf = neg;
        } else {
            r = (a >> c) | (neg ? (m << (size - c)) & m : 0);
            cf = (a >> (c - 1)) & 1;
        }
        of = 0;
        break;
    }
    case OP_ROL:
    case OP_ROR: {
        unsigned k = c & (size - 1);
        if (op == OP_ROL) {
            r = k ? ((a << k) | (a >> (size - k))) & m : a;
            cf = r & 1;
            of = ((r & sb) != 0) != cf;
        } else {
            r = k ? ((a >> k) | (a << (size - k))) & m : a;
            cf = (r & sb) != 0;
            of = ((r >> (size - 1)) ^ (r >> (size - 2))) & 1;
        }
        break;
    }
    case OP_RCL:
    case OP_RCR: {
        unsigned k = c % (size + 1);
        cf = (fin & CF) != 0;
        if (op == OP_RCR)
            of = ((a & sb) != 0) != cf; /* computed before rotating (SDM) */
        for (unsigned i = 0; i < k; i++) {
            uint32_t out;
            if (op == OP_RCL) {
                out = (r & sb) != 0;
                r = ((r << 1) | cf) & m;
            } else {
                out = r & 1;
                r = (r >> 1) | (cf ? sb : 0);
            }
            cf = out;
        }
        if (op == OP_RCL)
            of = ((r & sb) != 0) != cf;
        break;
    }
    default:
        break;
    }

    e->v.r1 = r;
    if (op == OP_ROL || op == OP_ROR || op == OP_RCL || op == OP_RCR) {
        /* Rotates touch only CF and OF. */
        e->v.flags = (fin & ~(CF | OF)) | (cf ? CF : 0) | (of ? OF : 0);
    } else {
        e->v.flags = szp(r, size) | (cf ? CF : 0) | (of ? OF : 0);
        e->flag_mask &= ~AF; /* undefined for a nonzero count */
        if ((op == OP_SHL || op == OP_SHR) && c >= size)
            e->flag_mask &= ~CF; /* undefined when count >= operand size */
    }
    if (c != 1)
        e->flag_mask &= ~OF; /* defined only for 1-bit shifts and rotates */
}

/* SHLD/SHRD (SDM Vol. 2B): count masked to 5 bits; above the operand size
 * the result and all flags are undefined, so such cases are skipped. */
static void model_shxd(enum op op, unsigned size, uint32_t a, uint32_t count, uint32_t src,
                       struct expect *e)
{
    uint32_t m = size_mask(size), sb = sign_bit(size), r, cf;
    unsigned c = count & 31;
    src &= m;
    if (c == 0)
        return;
    if (c > size) {
        e->skip = true;
        return;
    }
    if (op == OP_SHLD) {
        uint64_t x = ((uint64_t)a << size) | src;
        r = (uint32_t)((x << c) >> size) & m;
        cf = (a >> (size - c)) & 1;
    } else {
        uint64_t x = ((uint64_t)src << size) | a;
        r = (uint32_t)(x >> c) & m;
        cf = (a >> (c - 1)) & 1;
    }
    e->v.r1 = r;
    e->v.flags = szp(r, size) | (cf ? CF : 0) | (((r ^ a) & sb) ? OF : 0);
    e->flag_mask = ARITH & ~AF;
    if (c != 1)
        e->flag_mask &= ~OF;
}

/* DIV/IDIV: dividend (hi:lo) of twice the operand size. Cases that raise
 * #DE (zero divisor, quotient out of range) are skipped here and tested in
 * the exceptions kernel. 8-bit results are AH:AL in r1. */
static void model_div(enum op op, unsigned size, const struct in *in, struct expect *e)
{
    uint32_t m = size_mask(size);
    uint64_t n = size == 8 ? (in->a & 0xFFFF) : ((uint64_t)(in->c & m) << size) | (in->a & m);
    uint64_t q, r;
    e->flag_mask = 0; /* all flags undefined */
    if ((in->b & m) == 0) {
        e->skip = true;
        return;
    }
    if (op == OP_DIV) {
        div_unsigned(n, in->b & m, &q, &r);
        if (q > m) {
            e->skip = true;
            return;
        }
    } else {
        int64_t sn = sign_extend(n, 2 * size), sd = sign_extend(in->b, size);
        bool nneg = sn < 0, qneg = (sn < 0) != (sd < 0);
        div_unsigned(nneg ? -(uint64_t)sn : (uint64_t)sn, sd < 0 ? -(uint64_t)sd : (uint64_t)sd, &q,
                     &r);
        /* Quotients truncate toward zero; the remainder has the dividend's
         * sign. Representable: -2^(size-1) .. 2^(size-1) - 1. */
        if (q > (uint64_t)sign_bit(size) - (qneg ? 0 : 1)) {
            e->skip = true;
            return;
        }
        q = qneg ? -q : q;
        r = nneg ? -r : r;
    }
    if (size == 8) {
        e->v.r1 = (in->a & 0xFFFF0000u) | ((uint32_t)(r & 0xFF) << 8) | (uint32_t)(q & 0xFF);
        e->r1_mask = 0xFFFFFFFFu;
        e->r2_mask = 0;
    } else {
        e->v.r1 = (uint32_t)q & m;
        e->v.r2 = (uint32_t)r & m;
        e->r2_mask = m;
    }
}

/* One-operand MUL/IMUL: AX = AL * src, DX:AX, EDX:EAX. CF = OF = "the upper
 * half is significant"; SF, ZF, AF, PF undefined. */
static void model_mul1(enum op op, unsigned size, const struct in *in, struct expect *e)
{
    uint32_t m = size_mask(size);
    uint64_t p;
    bool wide;
    if (op == OP_MUL) {
        p = mul_unsigned(in->a & m, in->b & m);
        wide = (p >> size) != 0;
    } else {
        int64_t sp = mul_signed(sign_extend(in->a, size), sign_extend(in->b, size));
        p = (uint64_t)sp;
        wide = sign_extend(p, size) != sp;
    }
    if (size == 8) {
        e->v.r1 = (in->a & 0xFFFF0000u) | (uint32_t)(p & 0xFFFF);
        e->r1_mask = 0xFFFFFFFFu;
        e->r2_mask = 0;
    } else {
        e->v.r1 = (uint32_t)p & m;
        e->v.r2 = (uint32_t)(p >> size) & m;
        e->r2_mask = m;
    }
    e->v.flags = wide ? CF | OF : 0;
    e->flag_mask = CF | OF;
}

/* DAA/DAS/AAA/AAS/AAM/AAD: SDM Vol. 2A pseudocode. AL is a & 0xff, AH the
 * next byte; the upper half of EAX must not change. */
static void model_bcd(enum op op, uint32_t imm, uint32_t a, uint32_t fin, struct expect *e)
{
    uint32_t al = a & 0xFF, ah = (a >> 8) & 0xFF, f = 0;
    bool cf = fin & CF, af = fin & AF;
    e->r1_mask = 0xFFFFFFFFu;
    switch (op) {
    case OP_DAA: {
        uint32_t old_al = al;
        bool new_cf = false;
        if ((al & 0x0F) > 9 || af) {
            new_cf = cf || al + 6 > 0xFF;
            al = (al + 6) & 0xFF;
            f |= AF;
        }
        if (old_al > 0x99 || cf) {
            al = (al + 0x60) & 0xFF;
            new_cf = true;
        } else {
            new_cf = false;
        }
        f |= (new_cf ? CF : 0) | szp(al, 8);
        e->flag_mask = ARITH & ~OF;
        break;
    }
    case OP_DAS: {
        uint32_t old_al = al;
        bool new_cf = false;
        if ((al & 0x0F) > 9 || af) {
            new_cf = cf || al < 6;
            al = (al - 6) & 0xFF;
            f |= AF;
        }
        if (old_al > 0x99 || cf) {
            al = (al - 0x60) & 0xFF;
            new_cf = true;
        }
        f |= (new_cf ? CF : 0) | szp(al, 8);
        e->flag_mask = ARITH & ~OF;
        break;
    }
    case OP_AAA:
    case OP_AAS: {
        uint32_t ax = (ah << 8) | al;
        if ((al & 0x0F) > 9 || af) {
            if (op == OP_AAA)
                ax = (ax + 0x106) & 0xFFFF;
            else
                ax = (ax - 6 - 0x100) & 0xFFFF;
            f = AF | CF;
        }
        ah = ax >> 8;
        al = ax & 0x0F;
        e->flag_mask = AF | CF;
        break;
    }
    case OP_AAM: {
        uint32_t q = 0, r = al;
        while (r >= imm) {
            r -= imm;
            q++;
        }
        ah = q;
        al = r;
        f = szp(al, 8);
        e->flag_mask = SF | ZF | PF;
        break;
    }
    case OP_AAD:
        al = (al + (uint32_t)mul_unsigned(ah, imm)) & 0xFF;
        ah = 0;
        f = szp(al, 8);
        e->flag_mask = SF | ZF | PF;
        break;
    default:
        break;
    }
    e->v.r1 = (a & 0xFFFF0000u) | (ah << 8) | al;
    e->v.flags = f;
}

static void model(const struct group *g, const struct in *in, struct expect *e)
{
    unsigned size = g->size;
    uint32_t m = size_mask(size), a = in->a & m, b = in->b & m, fin = in->fin & ARITH;
    uint32_t carry = (fin & CF) ? 1 : 0, r = 0;

    /* Defaults: nothing changes; every arithmetic flag is defined. */
    e->v.r1 = a;
    e->v.r2 = 0;
    e->v.flags = fin;
    e->r1_mask = m;
    e->r2_mask = 0;
    e->flag_mask = ARITH;
    e->skip = false;

    switch (g->op) {
    case OP_ADD:
    case OP_ADC:
        e->v.flags = add_flags(a, b, g->op == OP_ADC ? carry : 0, size, &r);
        e->v.r1 = r;
        break;
    case OP_XADD:
        e->v.flags = add_flags(a, b, 0, size, &r);
        e->v.r1 = r;
        e->v.r2 = a;
        e->r2_mask = m;
        break;
    case OP_SUB:
    case OP_SBB:
    case OP_CMP:
        e->v.flags = sub_flags(a, b, g->op == OP_SBB ? carry : 0, size, &r);
        if (g->op != OP_CMP)
            e->v.r1 = r;
        break;
    case OP_NEG:
        e->v.flags = sub_flags(0, a, 0, size, &r);
        e->v.r1 = r;
        break;
    case OP_INC:
    case OP_DEC:
        /* Like ADD/SUB 1, but CF keeps its value. */
        if (g->op == OP_INC)
            e->v.flags = add_flags(a, 1, 0, size, &r);
        else
            e->v.flags = sub_flags(a, 1, 0, size, &r);
        e->v.flags = (e->v.flags & ~CF) | (fin & CF);
        e->v.r1 = r;
        break;
    case OP_AND:
    case OP_OR:
    case OP_XOR:
    case OP_TEST:
        r = g->op == OP_OR ? a | b : g->op == OP_XOR ? a ^ b : a & b;
        if (g->op != OP_TEST)
            e->v.r1 = r;
        e->v.flags = szp(r, size); /* CF = OF = 0 */
        e->flag_mask = ARITH & ~AF;
        break;
    case OP_NOT:
        e->v.r1 = ~a & m;
        break;
    case OP_SHL:
    case OP_SHR:
    case OP_SAR:
    case OP_ROL:
    case OP_ROR:
    case OP_RCL:
    case OP_RCR:
        model_shift(g->op, size, a, in->b, fin, e);
        break;
    case OP_SHLD:
    case OP_SHRD:
        model_shxd(g->op, size, a, in->b, in->c, e);
        break;
    case OP_MUL:
    case OP_IMUL1:
        model_mul1(g->op, size, in, e);
        break;
    case OP_IMUL2: {
        int64_t p = mul_signed(sign_extend(a, size), sign_extend(b, size));
        e->v.r1 = (uint32_t)p & m;
        e->v.flags = sign_extend((uint64_t)p, size) != p ? CF | OF : 0;
        e->flag_mask = CF | OF;
        break;
    }
    case OP_DIV:
    case OP_IDIV:
        model_div(g->op, size, in, e);
        break;
    case OP_BSF:
    case OP_BSR:
        /* ZF is the only defined flag; the destination is undefined for a
         * zero source (SDM Vol. 2A BSF/BSR). */
        e->flag_mask = ZF;
        if (a == 0) {
            e->v.flags = ZF;
            e->r1_mask = 0;
        } else {
            unsigned i = 0;
            if (g->op == OP_BSF)
                while (!((a >> i) & 1))
                    i++;
            else
                for (i = size - 1; !((a >> i) & 1); i--)
                    ;
            e->v.r1 = i;
            e->v.flags = 0;
        }
        break;
    case OP_BT:
    case OP_BTS:
    case OP_BTR:
    case OP_BTC: {
        /* Register and immediate bit offsets are taken modulo the operand
         * size. CF = the bit; ZF unaffected; OF SF AF PF undefined. */
        unsigned bit = in->b & (size - 1);
        uint32_t mask = 1u << bit;
        e->v.flags = (fin & ZF) | ((a & mask) ? CF : 0);
        e->flag_mask = CF | ZF;
        e->v.r1 = g->op == OP_BTS   ? a | mask
                  : g->op == OP_BTR ? a & ~mask
                  : g->op == OP_BTC ? a ^ mask
                                    : a;
        break;
    }
    case OP_CMPXCHG: {
        uint32_t src = CMPXCHG_SRC & m;
        e->v.flags = sub_flags(b, a, 0, size, &r); /* CMP accumulator, destination */
        e->v.r1 = a == b ? src : a;
        e->v.r2 = a;
        e->r2_mask = m;
        break;
    }
    case OP_DAA:
    case OP_DAS:
    case OP_AAA:
    case OP_AAS:
    case OP_AAM:
    case OP_AAD:
        model_bcd(g->op, g->imm, in->a, fin, e);
        break;
    case OP_SETCC:
        e->v.r1 = (in->a & ~0xFFu) | (condition(in->c, fin) ? 1 : 0);
        e->r1_mask = 0xFFFFFFFFu;
        break;
    case OP_CMOV:
        e->v.r1 = condition(in->c, fin) ? in->b : in->a;
        break;
    case OP_CMOV16:
        e->v.r1 = (in->a & 0xFFFF0000u) | ((condition(in->c, fin) ? in->b : in->a) & 0xFFFF);
        e->r1_mask = 0xFFFFFFFFu;
        break;
    case OP_JCC:
        e->v.r1 = condition(in->c, fin) ? 1 : 0;
        break;
    case OP_LAHF:
        /* AH = SF:ZF:0:AF:0:PF:1:CF (SDM Vol. 2A LAHF). */
        e->v.r1 = (in->a & 0xFFFF00FFu) | (((fin | EFLAGS_BIT1) & 0xFF) << 8);
        e->r1_mask = 0xFFFFFFFFu;
        break;
    case OP_SAHF:
        e->v.r1 = in->a;
        e->r1_mask = 0xFFFFFFFFu;
        e->v.flags = (fin & OF) | ((in->a >> 8) & (SF | ZF | AF | PF | CF));
        break;
    case OP_CMC:
        e->v.r1 = in->a;
        e->r1_mask = 0xFFFFFFFFu;
        e->v.flags = fin ^ CF;
        break;
    }
    e->v.r1 &= e->r1_mask;
    e->v.r2 &= e->r2_mask;
    e->v.flags &= e->flag_mask;
}

/* ---- the table ------------------------------------------------------------------ */

#define G(name, op, size, it, run)       \
    {                                    \
        name, op, size, it, run, NULL, 0 \
    }
#define GI(name, op, size, it, run, imm)   \
    {                                      \
        name, op, size, it, run, NULL, imm \
    }
#define GC(name, op, runs)                   \
    {                                        \
        name, op, 32, IT_COND, NULL, runs, 0 \
    }

#define BIN_ROWS(name, OP, op)                                                           \
    G(name "8", OP, 8, IT_BIN, run_##op##8), G(name "16", OP, 16, IT_BIN, run_##op##16), \
        G(name "32", OP, 32, IT_BIN, run_##op##32),                                      \
        G(name "32 mem,reg", OP, 32, IT_BIN, run_##op##32md),                            \
        G(name "32 reg,mem", OP, 32, IT_BIN, run_##op##32ms)
#define UN_ROWS(name, OP, op)                                                          \
    G(name "8", OP, 8, IT_UN, run_##op##8), G(name "16", OP, 16, IT_UN, run_##op##16), \
        G(name "32", OP, 32, IT_UN, run_##op##32), G(name "32 mem", OP, 32, IT_UN, run_##op##32m)
#define SH_ROWS(name, OP, op)                                                                      \
    G(name "8 cl", OP, 8, IT_SHIFT, run_##op##8), G(name "16 cl", OP, 16, IT_SHIFT, run_##op##16), \
        G(name "32 cl", OP, 32, IT_SHIFT, run_##op##32),                                           \
        G(name "32 mem,cl", OP, 32, IT_SHIFT, run_##op##32m),                                      \
        GI(name "32 1", OP, 32, IT_IMM, run_##op##32i1, 1),                                        \
        GI(name "32 4", OP, 32, IT_IMM, run_##op##32i4, 4),                                        \
        GI(name "8 1", OP, 8, IT_IMM, run_##op##8i1, 1),                                           \
        GI(name "16 9", OP, 16, IT_IMM, run_##op##16i9, 9)
#define BT_ROWS(name, OP, op)                                                               \
    G(name "16", OP, 16, IT_BIN, run_##op##16), G(name "32", OP, 32, IT_BIN, run_##op##32), \
        GI(name "32 5", OP, 32, IT_IMM, run_##op##32i5, 5),                                 \
        GI(name "32 33", OP, 32, IT_IMM, run_##op##32i33, 33),                              \
        GI(name "16 17", OP, 16, IT_IMM, run_##op##16i17, 17)

static const struct group groups[] = {
    BIN_ROWS("add", OP_ADD, add),
    BIN_ROWS("adc", OP_ADC, adc),
    BIN_ROWS("sub", OP_SUB, sub),
    BIN_ROWS("sbb", OP_SBB, sbb),
    BIN_ROWS("cmp", OP_CMP, cmp),
    BIN_ROWS("and", OP_AND, and),
    BIN_ROWS("or", OP_OR, or),
    BIN_ROWS("xor", OP_XOR, xor),
    BIN_ROWS("test", OP_TEST, test),
    G("add8 ah,bh", OP_ADD, 8, IT_BIN, run_add8hh),
    G("sbb8 ah,bh", OP_SBB, 8, IT_BIN, run_sbb8hh),
    G("xor8 ah,bh", OP_XOR, 8, IT_BIN, run_xor8hh),
    G("sub8 ch,mem", OP_SUB, 8, IT_BIN, run_sub8hm),
    G("cmp8 ch,mem", OP_CMP, 8, IT_BIN, run_cmp8hm),
    G("lock add32 mem,reg", OP_ADD, 32, IT_BIN, run_lockadd32),
    G("lock or32 mem,reg", OP_OR, 32, IT_BIN, run_lockor32),
    UN_ROWS("inc", OP_INC, inc),
    UN_ROWS("dec", OP_DEC, dec),
    UN_ROWS("neg", OP_NEG, neg),
    UN_ROWS("not", OP_NOT, not ),
    G("lock inc32 mem", OP_INC, 32, IT_UN, run_lockinc32),
    SH_ROWS("shl", OP_SHL, shl),
    SH_ROWS("shr", OP_SHR, shr),
    SH_ROWS("sar", OP_SAR, sar),
    SH_ROWS("rol", OP_ROL, rol),
    SH_ROWS("ror", OP_ROR, ror),
    SH_ROWS("rcl", OP_RCL, rcl),
    SH_ROWS("rcr", OP_RCR, rcr),
    G("shld16 cl", OP_SHLD, 16, IT_SHXD, run_shld16),
    G("shld32 cl", OP_SHLD, 32, IT_SHXD, run_shld32),
    G("shrd16 cl", OP_SHRD, 16, IT_SHXD, run_shrd16),
    G("shrd32 cl", OP_SHRD, 32, IT_SHXD, run_shrd32),
    G("mul8", OP_MUL, 8, IT_BIN, run_mul8),
    G("mul16", OP_MUL, 16, IT_BIN, run_mul16),
    G("mul32", OP_MUL, 32, IT_BIN, run_mul32),
    G("mul32 mem", OP_MUL, 32, IT_BIN, run_mul32m),
    G("imul8", OP_IMUL1, 8, IT_BIN, run_imul8),
    G("imul16", OP_IMUL1, 16, IT_BIN, run_imul16),
    G("imul32", OP_IMUL1, 32, IT_BIN, run_imul32),
    G("imul32 mem", OP_IMUL1, 32, IT_BIN, run_imul32m),
    G("imul16 reg,reg", OP_IMUL2, 16, IT_BIN, run_imul2_16),
    G("imul32 reg,reg", OP_IMUL2, 32, IT_BIN, run_imul2_32),
    G("imul32 reg,mem", OP_IMUL2, 32, IT_BIN, run_imul2_32m),
    GI("imul16 reg,reg,-1", OP_IMUL2, 16, IT_IMM, run_imul3_16_m1, 0xFFFF),
    GI("imul16 reg,reg,0x7fff", OP_IMUL2, 16, IT_IMM, run_imul3_16_7fff, 0x7FFF),
    GI("imul16 reg,reg,-0x8000", OP_IMUL2, 16, IT_IMM, run_imul3_16_m8000, 0x8000),
    GI("imul32 reg,reg,3", OP_IMUL2, 32, IT_IMM, run_imul3_32_3, 3),
    GI("imul32 reg,reg,-128", OP_IMUL2, 32, IT_IMM, run_imul3_32_m128, 0xFFFFFF80),
    GI("imul32 reg,reg,0x7fffffff", OP_IMUL2, 32, IT_IMM, run_imul3_32_7fffffff, 0x7FFFFFFF),
    GI("imul32 reg,reg,0x10001", OP_IMUL2, 32, IT_IMM, run_imul3_32_10001, 0x10001),
    G("div8", OP_DIV, 8, IT_DIV, run_div8),
    G("div16", OP_DIV, 16, IT_DIV, run_div16),
    G("div32", OP_DIV, 32, IT_DIV, run_div32),
    G("div32 mem", OP_DIV, 32, IT_DIV, run_div32m),
    G("idiv8", OP_IDIV, 8, IT_DIV, run_idiv8),
    G("idiv16", OP_IDIV, 16, IT_DIV, run_idiv16),
    G("idiv32", OP_IDIV, 32, IT_DIV, run_idiv32),
    G("idiv32 mem", OP_IDIV, 32, IT_DIV, run_idiv32m),
    G("bsf16", OP_BSF, 16, IT_UN, run_bsf16),
    G("bsf32", OP_BSF, 32, IT_UN, run_bsf32),
    G("bsr16", OP_BSR, 16, IT_UN, run_bsr16),
    G("bsr32", OP_BSR, 32, IT_UN, run_bsr32),
    BT_ROWS("bt", OP_BT, bt),
    BT_ROWS("bts", OP_BTS, bts),
    BT_ROWS("btr", OP_BTR, btr),
    BT_ROWS("btc", OP_BTC, btc),
    G("xadd8", OP_XADD, 8, IT_BIN, run_xadd8),
    G("xadd32", OP_XADD, 32, IT_BIN, run_xadd32),
    G("lock xadd32 mem,reg", OP_XADD, 32, IT_BIN, run_lockxadd32),
    G("cmpxchg8", OP_CMPXCHG, 8, IT_BIN, run_cmpxchg8),
    G("cmpxchg16", OP_CMPXCHG, 16, IT_BIN, run_cmpxchg16),
    G("cmpxchg32", OP_CMPXCHG, 32, IT_BIN, run_cmpxchg32),
    G("lock cmpxchg32 mem,reg", OP_CMPXCHG, 32, IT_BIN, run_lockcmpxchg32),
    G("daa", OP_DAA, 8, IT_BCD, run_daa),
    G("das", OP_DAS, 8, IT_BCD, run_das),
    G("aaa", OP_AAA, 8, IT_BCD, run_aaa),
    G("aas", OP_AAS, 8, IT_BCD, run_aas),
    GI("aam", OP_AAM, 8, IT_BCD, run_aam10, 10),
    GI("aam 16", OP_AAM, 8, IT_BCD, run_aam16, 16),
    GI("aam 7", OP_AAM, 8, IT_BCD, run_aam7, 7),
    GI("aam 1", OP_AAM, 8, IT_BCD, run_aam1, 1),
    GI("aam 255", OP_AAM, 8, IT_BCD, run_aam255, 255),
    GI("aad", OP_AAD, 8, IT_BCD, run_aad10, 10),
    GI("aad 16", OP_AAD, 8, IT_BCD, run_aad16, 16),
    GI("aad 7", OP_AAD, 8, IT_BCD, run_aad7, 7),
    GI("aad 255", OP_AAD, 8, IT_BCD, run_aad255, 255),
    GC("setcc", OP_SETCC, setcc_runs),
    GC("cmovcc32", OP_CMOV, cmov_runs),
    GC("cmovcc16", OP_CMOV16, cmov16_runs),
    GC("jcc", OP_JCC, jcc_runs),
    G("lahf", OP_LAHF, 32, IT_FLAGS, run_lahf),
    G("sahf", OP_SAHF, 32, IT_AH, run_sahf),
    G("cmc", OP_CMC, 32, IT_FLAGS, run_cmc),
};

/* ---- driver ------------------------------------------------------------------------ */

static const uint32_t values8[] = {0, 1, 0x7f, 0x80, 0xff, 0x5a};
static const uint32_t values16[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0xa55a};
static const uint32_t values32[] = {0,      1,      0x7f,       0x80,       0xff,       0x7fff,
                                    0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678};
static const uint32_t counts[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33};
static const uint32_t fins_basic[] = {0, ARITH};
static const uint32_t fins_bcd[] = {0, CF, AF, CF | AF, ARITH};

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct group_state {
    const struct group *g;
    unsigned cases, mismatches;
    uint32_t digest;
};

static void digest_word(uint32_t *h, uint32_t w)
{
    /* FNV-1a over the four bytes. */
    for (int i = 0; i < 4; i++) {
        *h ^= (w >> (8 * i)) & 0xFF;
        *h *= 16777619u;
    }
}

static void run_case(struct group_state *st, const struct in *in)
{
    const struct group *g = st->g;
    struct expect e;
    struct out got = {0, 0, 0, 0};

    model(g, in, &e);
    if (e.skip)
        return;
    run_fn *run = g->it == IT_COND ? g->cc_runs[in->c] : g->run;
    run(in, &got);
    got.r1 &= e.r1_mask;
    got.r2 &= e.r2_mask;
    got.flags &= e.flag_mask;

    st->cases++;
    digest_word(&st->digest, in->a);
    digest_word(&st->digest, in->b);
    digest_word(&st->digest, in->c);
    digest_word(&st->digest, in->fin);
    digest_word(&st->digest, got.r1);
    digest_word(&st->digest, got.r2);
    digest_word(&st->digest, got.flags);

    bool same = got.r1 == e.v.r1 && got.r2 == e.v.r2 && got.flags == e.v.flags && !got.clobbered;
    const char *cc = g->it == IT_COND ? cc_names[in->c] : "";
    if (rt_verbose)
        rt_printf("  %s%s%s a=%x b=%x c=%x fin=%03x: r1=%x r2=%x fl=%03x/%03x%s\n", g->name,
                  *cc ? "." : "", cc, in->a, in->b, in->c, in->fin, got.r1, got.r2, got.flags,
                  e.flag_mask, same ? "" : " MISMATCH");
    if (!same && st->mismatches++ < 4)
        rt_fail("%s%s%s a=0x%x b=0x%x c=0x%x fin=0x%03x: got r1=0x%x r2=0x%x fl=0x%03x%s, "
                "expected r1=0x%x r2=0x%x fl=0x%03x (flag mask 0x%03x)",
                g->name, *cc ? "." : "", cc, in->a, in->b, in->c, in->fin, got.r1, got.r2,
                got.flags, got.clobbered ? " (bits outside the operand changed)" : "", e.v.r1,
                e.v.r2, e.v.flags, e.flag_mask);
}

static void run_group(const struct group *g)
{
    struct group_state st = {g, 0, 0, 2166136261u};
    const uint32_t *vals = g->size == 8 ? values8 : g->size == 16 ? values16 : values32;
    unsigned nv = g->size == 8 ? N(values8) : g->size == 16 ? N(values16) : N(values32);
    struct in in = {0, 0, 0, 0};

    switch (g->it) {
    case IT_BIN:
        for (unsigned i = 0; i < nv; i++)
            for (unsigned j = 0; j < nv; j++)
                for (unsigned k = 0; k < N(fins_basic); k++) {
                    in = (struct in){vals[i], vals[j], 0, fins_basic[k]};
                    run_case(&st, &in);
                }
        break;
    case IT_UN:
    case IT_IMM:
        for (unsigned i = 0; i < nv; i++)
            for (unsigned k = 0; k < N(fins_basic); k++) {
                in = (struct in){vals[i], g->imm, 0, fins_basic[k]};
                run_case(&st, &in);
            }
        break;
    case IT_SHIFT:
        for (unsigned i = 0; i < nv; i++)
            for (unsigned j = 0; j < N(counts); j++)
                for (unsigned k = 0; k < N(fins_basic); k++) {
                    in = (struct in){vals[i], counts[j], 0, fins_basic[k]};
                    run_case(&st, &in);
                }
        break;
    case IT_SHXD:
        for (unsigned i = 0; i < nv; i++)
            for (unsigned j = 0; j < N(counts); j++)
                for (unsigned s = 0; s < nv; s++)
                    for (unsigned k = 0; k < N(fins_basic); k++) {
                        in = (struct in){vals[i], counts[j], vals[s], fins_basic[k]};
                        run_case(&st, &in);
                    }
        break;
    case IT_DIV:
        for (unsigned hi = 0; hi < nv; hi++)
            for (unsigned lo = 0; lo < nv; lo++)
                for (unsigned d = 0; d < nv; d++) {
                    if (g->size == 8)
                        in = (struct in){0x5A5A0000u | vals[hi] << 8 | vals[lo], vals[d], 0, 0};
                    else
                        in = (struct in){vals[lo], vals[d], vals[hi], 0};
                    run_case(&st, &in);
                }
        break;
    case IT_BCD:
        for (uint32_t ah = 0; ah < 0x100; ah += 0xFF)
            for (uint32_t al = 0; al < 0x100; al++)
                for (unsigned k = 0; k < N(fins_bcd); k++) {
                    in = (struct in){0xA5A50000u | ah << 8 | al, 0, 0, fins_bcd[k]};
                    run_case(&st, &in);
                }
        break;
    case IT_COND:
    case IT_FLAGS:
        for (unsigned cc = 0; cc < (g->it == IT_COND ? 16u : 1u); cc++)
            for (unsigned bits = 0; bits < 64; bits++) {
                uint32_t fin = (bits & 1 ? CF : 0) | (bits & 2 ? PF : 0) | (bits & 4 ? AF : 0) |
                               (bits & 8 ? ZF : 0) | (bits & 16 ? SF : 0) | (bits & 32 ? OF : 0);
                in = (struct in){0x11223344u, 0x55667788u, cc, fin};
                run_case(&st, &in);
            }
        break;
    case IT_AH:
        for (uint32_t ah = 0; ah < 0x100; ah++)
            for (unsigned k = 0; k < N(fins_basic); k++) {
                in = (struct in){0x12340078u | ah << 8, 0, 0, fins_basic[k]};
                run_case(&st, &in);
            }
        break;
    }
    CHECK(st.mismatches == 0, "%-26s %5u cases, digest %08x", g->name, st.cases, st.digest);
}

/* ---- instructions that do not fit the table ------------------------------------ */

/* BT* with a memory operand and a register offset address a bit string: the
 * offset is signed and may reach outside the addressed dword (SDM Vol. 2A
 * BT, "bit base"). An immediate offset is taken modulo the operand size. */
static void test_bt_memory(void)
{
    static uint32_t arr[16];
    static const int32_t offsets[] = {-65, -33, -32, -1, 0, 1, 31, 32, 63, 64, 100, 127};
    uint32_t model[16];
    int ok_count = 0;

    for (unsigned op = 0; op < 4; op++) {
        for (unsigned i = 0; i < N(offsets); i++) {
            for (unsigned w = 0; w < 16; w++)
                arr[w] = model[w] = 0xA5A5A5A5u ^ (w * 0x01030507u);
            int32_t off = offsets[i];
            uint32_t f = 0, word = 8 + (off >> 5), bit = off & 31, mask = 1u << bit;
            uint32_t want_cf = (model[word] >> bit) & 1;
            if (op == 1)
                model[word] |= mask;
            else if (op == 2)
                model[word] &= ~mask;
            else if (op == 3)
                model[word] ^= mask;

            switch (op) {
            case 0:
                __asm__ volatile("btl %[o], %[m]; setc %b[f]"
                                 : [f] "+q"(f)
                                 : [m] "m"(arr[8]), [o] "r"(off)
                                 : "cc", "memory");
                break;
            case 1:
                __asm__ volatile("btsl %[o], %[m]; setc %b[f]"
                                 : [f] "+q"(f), [m] "+m"(arr[8])
                                 : [o] "r"(off)
                                 : "cc", "memory");
                break;
            case 2:
                __asm__ volatile("btrl %[o], %[m]; setc %b[f]"
                                 : [f] "+q"(f), [m] "+m"(arr[8])
                                 : [o] "r"(off)
                                 : "cc", "memory");
                break;
            default:
                __asm__ volatile("lock btcl %[o], %[m]; setc %b[f]"
                                 : [f] "+q"(f), [m] "+m"(arr[8])
                                 : [o] "r"(off)
                                 : "cc", "memory");
                break;
            }
            if (f == want_cf && memcmp(arr, model, sizeof(arr)) == 0)
                ok_count++;
            else
                rt_fail("%s mem, %d: CF=%u (expected %u), dword %u = 0x%08x (expected 0x%08x)",
                        op == 0   ? "bt"
                        : op == 1 ? "bts"
                        : op == 2 ? "btr"
                                  : "lock btc",
                        off, f, want_cf, word, arr[word], model[word]);
        }
    }
    CHECK(ok_count == 4 * (int)N(offsets), "bt/bts/btr/btc dword [mem], reg with offsets -65..127");

    /* Immediate offset on memory: 33 mod 32 = bit 1 of the addressed dword. */
    arr[8] = 0;
    arr[9] = 0;
    __asm__ volatile("btsl $33, %0" : "+m"(arr[8]) : : "cc", "memory");
    CHECK(arr[8] == 2 && arr[9] == 0, "bts dword [mem], 33 sets bit 1: 0x%x 0x%x", arr[8], arr[9]);
}

/* LOOP/LOOPE/LOOPNE/JECXZ: decrement ECX without touching flags (SDM Vol. 2A
 * LOOPcc), and test ZF from the last flag-setting instruction. */
static void test_loops(void)
{
    uint32_t ecx = 5, n = 0;
    __asm__ volatile("1: incl %[n]\n\tloop 1b" : [n] "+r"(n), "+c"(ecx) : : "cc");
    CHECK(n == 5 && ecx == 0, "loop: 5 iterations, ecx=%u", ecx);

    /* LOOPE: continue while ZF=1 and ECX != 0; stop at the first nonzero. */
    static const uint32_t zeros_then_one[] = {0, 0, 0, 7, 0};
    const uint32_t *p = zeros_then_one;
    ecx = 5;
    __asm__ volatile("1: cmpl $0, (%[p])\n\tleal 4(%[p]), %[p]\n\tloope 1b"
                     : [p] "+r"(p), "+c"(ecx)
                     :
                     : "cc", "memory");
    CHECK(p == zeros_then_one + 4 && ecx == 1, "loope stops at a mismatch: ecx=%u, index %d", ecx,
          (int)(p - zeros_then_one));

    static const uint32_t ones_then_zero[] = {3, 3, 0, 3};
    p = ones_then_zero;
    ecx = 4;
    __asm__ volatile("1: cmpl $0, (%[p])\n\tleal 4(%[p]), %[p]\n\tloopne 1b"
                     : [p] "+r"(p), "+c"(ecx)
                     :
                     : "cc", "memory");
    CHECK(p == ones_then_zero + 3 && ecx == 1, "loopne stops at a match: ecx=%u, index %d", ecx,
          (int)(p - ones_then_zero));

    uint32_t f_before = EFLAGS_BIT1 | CF | ZF | OF, f_after;
    ecx = 2;
    __asm__ volatile("pushl %[f]\n\tpopfl\n\t1: loop 1b\n\tpushfl\n\tpopl %[f]"
                     : [f] "+r"(f_before), "+c"(ecx)
                     :
                     : "cc");
    f_after = f_before & ARITH;
    CHECK(f_after == (CF | ZF | OF), "loop preserves flags: 0x%03x", f_after);

    uint32_t taken;
    for (uint32_t v = 0; v < 2; v++) {
        __asm__ volatile("movl $1, %[t]\n\tjecxz 1f\n\tmovl $0, %[t]\n1:"
                         : [t] "=&r"(taken)
                         : "c"(v)
                         : "cc");
        CHECK(taken == (v == 0), "jecxz with ecx=%u: %s", v, taken ? "taken" : "not taken");
    }
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    for (unsigned i = 0; i < N(groups); i++)
        run_group(&groups[i]);
    test_bt_memory();
    test_loops();
    rt_finish();
}
