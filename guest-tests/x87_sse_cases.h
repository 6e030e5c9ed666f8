/*
 * guest-tests/x87_sse_cases.h — the table of x87, SSE/SSE2 and MMX cases of
 * x87_sse.c. The same file is compiled into the guest kernel (-m32) and into
 * x87_sse_gen.c, a host program (x86-64) that runs the identical instruction
 * sequences natively on a real CPU and prints x87_sse_expected.h:
 *
 *     gcc -O2 -I guest-tests -o /tmp/x87_sse_gen guest-tests/x87_sse_gen.c
 *     /tmp/x87_sse_gen > guest-tests/x87_sse_expected.h
 *     clang-format -i guest-tests/x87_sse_expected.h
 *
 * Every case starts from a known state (FNINIT and FLDCW for x87, LDMXCSR
 * for SSE), uses only memory and register operands that mean the same in
 * 32- and 64-bit mode, and leaves the x87 stack empty. Only IEEE-exact
 * operations (add, sub, mul, div, sqrt, round-to-integer, conversions,
 * compares, scale/extract/partial remainder) are used: no transcendental
 * instructions, whose results differ between CPUs and QEMU's softfloat.
 *
 * A case writes up to 7 data words and a status word (x87 FSW after the
 * operation, MXCSR, or EFLAGS); the status word is masked with the case's
 * mask, which keeps only what the SDM defines for the instruction (e.g. the
 * x87 condition codes are undefined after arithmetic; C1 as "rounded up"
 * is not compared).
 */
#ifndef X87_SSE_CASES_H
#define X87_SSE_CASES_H

#include <stdint.h>

union v128 {
    uint32_t u[4];
    int32_t i[4];
    uint64_t q[2];
    float f[4];
    double d[2];
};

struct fp_in {
    union v128 a, b;
    uint32_t ctl; /* FCW for x87 cases, MXCSR for SSE cases */
};

typedef void (*fp_fn)(const struct fp_in *in, uint32_t *out);

struct fp_case {
    const char *name;
    fp_fn fn;
    struct fp_in in;
    unsigned ndata; /* data words printed and compared */
    uint32_t smask; /* status bits compared (0: none) */
};

#if defined(__x86_64__)
#define XMM_CLOBBERS "xmm0", "xmm1",
#define MMX_CLOBBERS "mm0", "mm1",
#else
/* -march=i686 guest code: GCC never uses these registers itself. */
#define XMM_CLOBBERS
#define MMX_CLOBBERS
#endif

/* x87 control words (SDM Vol. 1 §8.1.5): all exceptions masked, PC, RC. */
#define FCW_NEAR   0x037F
#define FCW_DOWN   0x077F
#define FCW_UP     0x0B7F
#define FCW_CHOP   0x0F7F
#define FCW_PC24   0x007F
#define FCW_PC53   0x027F
/* MXCSR (SDM Vol. 1 §10.2.3): all exceptions masked, RC. */
#define MXCSR_NEAR 0x1F80
#define MXCSR_DOWN 0x3F80
#define MXCSR_UP   0x5F80
#define MXCSR_CHOP 0x7F80

/* Status masks. */
#define SW_EXC   0x003D /* IE ZE OE UE PE (DE excluded: no denormal inputs) */
#define SW_CC    0x4700 /* C3 C2 C1 C0 */
#define SW_CC_C1 0x4500 /* C3 C2 C0 */
#define MX_EXC   0x003D /* MXCSR IE ZE OE UE PE */
#define FL_CMP   0x08D5 /* OF SF ZF AF PF CF */

static void put_ext(uint32_t *out, const uint8_t *e)
{
    for (int w = 0; w < 3; w++) {
        uint32_t v = 0;
        for (int i = 0; i < 4 && w * 4 + i < 10; i++)
            v |= (uint32_t)e[w * 4 + i] << (8 * i);
        out[w] = v;
    }
}

/* ---- x87 ---------------------------------------------------------------------- */

/* Result in ST0: stored as 80 bits (words 0-2) and as a double (3-4). The
 * status word is read right after the operation. */
#define X87_EXT(fname, text)                                                       \
    static void fname(const struct fp_in *in, uint32_t *out)                       \
    {                                                                              \
        uint8_t e[10];                                                             \
        uint64_t d;                                                                \
        uint16_t sw, cw = (uint16_t)in->ctl;                                       \
        __asm__ volatile("fninit\n\t"                                              \
                         "fldcw %[cw]\n\t" text "\n\t"                             \
                         "fnstsw %[sw]\n\t"                                        \
                         "fstl %[d]\n\t"                                           \
                         "fstpt %[e]\n\t"                                          \
                         "fninit"                                                  \
                         : [e] "=m"(e), [d] "=m"(d), [sw] "=m"(sw)                 \
                         : [cw] "m"(cw), [a] "m"(in->a.d[0]), [b] "m"(in->b.d[0]), \
                           [ia] "m"(in->a.i[0]), [qa] "m"(in->a.q[0])              \
                         : "st", "st(1)", "memory", "cc");                         \
        put_ext(out, e);                                                           \
        out[3] = (uint32_t)d;                                                      \
        out[4] = (uint32_t)(d >> 32);                                              \
        out[7] = sw;                                                               \
    }

/* Two results: ST0 (words 0-2) and ST1 (words 3-5), 80 bits each. */
#define X87_TWO(fname, text)                                                      \
    static void fname(const struct fp_in *in, uint32_t *out)                      \
    {                                                                             \
        uint8_t e0[10], e1[10];                                                   \
        uint16_t sw, cw = (uint16_t)in->ctl;                                      \
        __asm__ volatile("fninit\n\t"                                             \
                         "fldcw %[cw]\n\t" text "\n\t"                            \
                         "fnstsw %[sw]\n\t"                                       \
                         "fstpt %[e0]\n\t"                                        \
                         "fstpt %[e1]\n\t"                                        \
                         "fninit"                                                 \
                         : [e0] "=m"(e0), [e1] "=m"(e1), [sw] "=m"(sw)            \
                         : [cw] "m"(cw), [a] "m"(in->a.d[0]), [b] "m"(in->b.d[0]) \
                         : "st", "st(1)", "memory", "cc");                        \
        put_ext(out, e0);                                                         \
        put_ext(out + 3, e1);                                                     \
        out[7] = sw;                                                              \
    }

/* An integer result the text stores to [q] (words 0-1). */
#define X87_INT(fname, text)                                                                \
    static void fname(const struct fp_in *in, uint32_t *out)                                \
    {                                                                                       \
        uint64_t q = 0;                                                                     \
        uint16_t sw, cw = (uint16_t)in->ctl;                                                \
        __asm__ volatile(                                                                   \
            "fninit\n\t"                                                                    \
            "fldcw %[cw]\n\t" text "\n\t"                                                   \
            "fnstsw %[sw]\n\t"                                                              \
            "fninit"                                                                        \
            : [q] "+m"(q), [sw] "=m"(sw)                                                    \
            : [cw] "m"(cw), [a] "m"(in->a.d[0]), [ia] "m"(in->a.i[0]), [qa] "m"(in->a.q[0]) \
            : "st", "st(1)", "memory", "cc");                                               \
        out[0] = (uint32_t)q;                                                               \
        out[1] = (uint32_t)(q >> 32);                                                       \
        out[7] = sw;                                                                        \
    }

/* Only the status word (condition codes). */
#define X87_SW(fname, text)                                                       \
    static void fname(const struct fp_in *in, uint32_t *out)                      \
    {                                                                             \
        uint16_t sw, cw = (uint16_t)in->ctl;                                      \
        __asm__ volatile("fninit\n\t"                                             \
                         "fldcw %[cw]\n\t" text "\n\t"                            \
                         "fnstsw %[sw]\n\t"                                       \
                         "fninit"                                                 \
                         : [sw] "=m"(sw)                                          \
                         : [cw] "m"(cw), [a] "m"(in->a.d[0]), [b] "m"(in->b.d[0]) \
                         : "st", "st(1)", "memory", "cc");                        \
        out[7] = sw;                                                              \
    }

/* EFLAGS after the text (word 0), FSW as status. */
#define X87_FLAGS(fname, text)                                                    \
    static void fname(const struct fp_in *in, uint32_t *out)                      \
    {                                                                             \
        unsigned long fl;                                                         \
        uint16_t sw, cw = (uint16_t)in->ctl;                                      \
        __asm__ volatile("fninit\n\t"                                             \
                         "fldcw %[cw]\n\t" text "\n\t"                            \
                         "pushf\n\t"                                              \
                         "pop %[fl]\n\t"                                          \
                         "fnstsw %[sw]\n\t"                                       \
                         "fninit"                                                 \
                         : [fl] "=r"(fl), [sw] "=m"(sw)                           \
                         : [cw] "m"(cw), [a] "m"(in->a.d[0]), [b] "m"(in->b.d[0]) \
                         : "st", "st(1)", "memory", "cc");                        \
        out[0] = (uint32_t)fl & FL_CMP;                                           \
        out[7] = sw;                                                              \
    }

X87_EXT(x_add, "fldl %[a]\n\tfaddl %[b]")
X87_EXT(x_sub, "fldl %[a]\n\tfsubl %[b]")
X87_EXT(x_subr, "fldl %[a]\n\tfsubrl %[b]")
X87_EXT(x_mul, "fldl %[a]\n\tfmull %[b]")
X87_EXT(x_div, "fldl %[a]\n\tfdivl %[b]")
X87_EXT(x_divr, "fldl %[a]\n\tfdivrl %[b]")
X87_EXT(x_sqrt, "fldl %[a]\n\tfsqrt")
X87_EXT(x_rndint, "fldl %[a]\n\tfrndint")
X87_EXT(x_chs, "fldl %[a]\n\tfchs")
X87_EXT(x_abs, "fldl %[a]\n\tfabs")
X87_EXT(x_fild32, "fildl %[ia]")
X87_EXT(x_fild64, "fildll %[qa]")
X87_EXT(x_consts, "fld1\n\tfldz\n\tfaddp\n\tfld1\n\tfaddp") /* 1 + 0 + 1 */
X87_EXT(x_scale, "fldl %[b]\n\tfldl %[a]\n\tfscale\n\tfstp %%st(1)")
X87_EXT(x_prem, "fldl %[b]\n\tfldl %[a]\n\tfprem")
X87_EXT(x_prem1, "fldl %[b]\n\tfldl %[a]\n\tfprem1")
X87_EXT(x_regs,
        "fldl %[b]\n\tfldl %[a]\n\tfadd %%st(1), %%st\n\tfmul %%st(0), %%st\n\tfstp %%st(1)")
X87_EXT(x_xch, "fldl %[b]\n\tfldl %[a]\n\tfxch\n\tfdiv %%st(1), %%st\n\tfstp %%st(1)")
X87_TWO(x_xtract, "fldl %[a]\n\tfxtract")
X87_INT(x_fistp32, "fldl %[a]\n\tfistpl %[q]")
X87_INT(x_fistp16, "fldl %[a]\n\tfistps %[q]")
X87_INT(x_fistp64, "fldl %[a]\n\tfistpll %[q]")
X87_INT(x_fild_fistp64, "fildll %[qa]\n\tfistpll %[q]")
X87_INT(x_fild_fistp32, "fildl %[ia]\n\tfistpll %[q]")
X87_SW(x_fcom, "fldl %[a]\n\tfcoml %[b]")
X87_SW(x_ftst, "fldl %[a]\n\tftst")
X87_SW(x_fxam, "fldl %[a]\n\tfxam")
X87_SW(x_fxam_empty, "fxam")
X87_FLAGS(x_fucomi, "fldl %[b]\n\tfldl %[a]\n\tfucomip %%st(1), %%st\n\tfstp %%st(0)")
X87_FLAGS(x_fcomi, "fldl %[b]\n\tfldl %[a]\n\tfcomip %%st(1), %%st\n\tfstp %%st(0)")

/* ---- SSE / SSE2 ------------------------------------------------------------------ */

/* xmm0 = a, xmm1 = b, MXCSR = ctl; result xmm0 (words 0-3), MXCSR status. */
#define SSE_OP(fname, text)                                                                  \
    static void fname(const struct fp_in *in, uint32_t *out)                                 \
    {                                                                                        \
        uint32_t mx = in->ctl, mxo;                                                          \
        union v128 r;                                                                        \
        __asm__ volatile("ldmxcsr %[mx]\n\t"                                                 \
                         "movdqu %[a], %%xmm0\n\t"                                           \
                         "movdqu %[b], %%xmm1\n\t" text "\n\t"                               \
                         "stmxcsr %[mxo]\n\t"                                                \
                         "movdqu %%xmm0, %[r]"                                               \
                         : [r] "=m"(r), [mxo] "=m"(mxo)                                      \
                         : [mx] "m"(mx), [a] "m"(in->a), [b] "m"(in->b), [i] "m"(in->b.i[0]) \
                         : XMM_CLOBBERS "eax", "memory", "cc");                              \
        for (int k = 0; k < 4; k++)                                                          \
            out[k] = r.u[k];                                                                 \
        out[7] = mxo;                                                                        \
    }

/* The same with a result in EAX (word 0), EAX = b.u[0] beforehand. */
#define SSE_GPR(fname, text)                                            \
    static void fname(const struct fp_in *in, uint32_t *out)            \
    {                                                                   \
        uint32_t mx = in->ctl, mxo, g = in->b.u[0];                     \
        __asm__ volatile("ldmxcsr %[mx]\n\t"                            \
                         "movdqu %[a], %%xmm0\n\t"                      \
                         "movdqu %[b], %%xmm1\n\t" text "\n\t"          \
                         "stmxcsr %[mxo]"                               \
                         : [mxo] "=m"(mxo), "+a"(g)                     \
                         : [mx] "m"(mx), [a] "m"(in->a), [b] "m"(in->b) \
                         : XMM_CLOBBERS "memory", "cc");                \
        out[0] = g;                                                     \
        out[7] = mxo;                                                   \
    }

/* EFLAGS after a compare (word 0), MXCSR status. */
#define SSE_FLAGS(fname, text)                                          \
    static void fname(const struct fp_in *in, uint32_t *out)            \
    {                                                                   \
        uint32_t mx = in->ctl, mxo;                                     \
        unsigned long fl;                                               \
        __asm__ volatile("ldmxcsr %[mx]\n\t"                            \
                         "movdqu %[a], %%xmm0\n\t"                      \
                         "movdqu %[b], %%xmm1\n\t" text "\n\t"          \
                         "pushf\n\t"                                    \
                         "pop %[fl]\n\t"                                \
                         "stmxcsr %[mxo]"                               \
                         : [mxo] "=m"(mxo), [fl] "=r"(fl)               \
                         : [mx] "m"(mx), [a] "m"(in->a), [b] "m"(in->b) \
                         : XMM_CLOBBERS "memory", "cc");                \
        out[0] = (uint32_t)fl & FL_CMP;                                 \
        out[7] = mxo;                                                   \
    }

SSE_OP(s_addps, "addps %%xmm1, %%xmm0")
SSE_OP(s_subps, "subps %%xmm1, %%xmm0")
SSE_OP(s_mulps, "mulps %%xmm1, %%xmm0")
SSE_OP(s_divps, "divps %%xmm1, %%xmm0")
SSE_OP(s_sqrtps, "sqrtps %%xmm0, %%xmm0")
SSE_OP(s_maxps, "maxps %%xmm1, %%xmm0")
SSE_OP(s_minps, "minps %%xmm1, %%xmm0")
SSE_OP(s_addss, "addss %%xmm1, %%xmm0")
SSE_OP(s_cmpltps, "cmpltps %%xmm1, %%xmm0")
SSE_OP(s_cmpunordps, "cmpunordps %%xmm1, %%xmm0")
SSE_OP(s_addsd, "addsd %%xmm1, %%xmm0")
SSE_OP(s_subsd, "subsd %%xmm1, %%xmm0")
SSE_OP(s_mulsd, "mulsd %%xmm1, %%xmm0")
SSE_OP(s_divsd, "divsd %%xmm1, %%xmm0")
SSE_OP(s_sqrtsd, "sqrtsd %%xmm1, %%xmm0")
SSE_OP(s_addpd, "addpd %%xmm1, %%xmm0")
SSE_OP(s_mulpd, "mulpd %%xmm1, %%xmm0")
SSE_OP(s_divpd, "divpd %%xmm1, %%xmm0")
SSE_OP(s_sqrtpd, "sqrtpd %%xmm0, %%xmm0")
SSE_OP(s_andpd, "andpd %%xmm1, %%xmm0")
SSE_OP(s_xorps, "xorps %%xmm1, %%xmm0")
SSE_OP(s_cvtdq2ps, "cvtdq2ps %%xmm0, %%xmm0")
SSE_OP(s_cvtps2dq, "cvtps2dq %%xmm0, %%xmm0")
SSE_OP(s_cvttps2dq, "cvttps2dq %%xmm0, %%xmm0")
SSE_OP(s_cvtps2pd, "cvtps2pd %%xmm0, %%xmm0")
SSE_OP(s_cvtpd2ps, "cvtpd2ps %%xmm0, %%xmm0")
SSE_OP(s_cvtdq2pd, "cvtdq2pd %%xmm0, %%xmm0")
SSE_OP(s_cvtpd2dq, "cvtpd2dq %%xmm0, %%xmm0")
SSE_OP(s_cvtsd2ss, "cvtsd2ss %%xmm1, %%xmm0")
SSE_OP(s_cvtss2sd, "cvtss2sd %%xmm1, %%xmm0")
SSE_OP(s_cvtsi2sd, "cvtsi2sdl %[i], %%xmm0")
SSE_OP(s_cvtsi2ss, "cvtsi2ssl %[i], %%xmm0")
SSE_GPR(s_cvtsd2si, "cvtsd2si %%xmm0, %%eax")
SSE_GPR(s_cvttsd2si, "cvttsd2si %%xmm0, %%eax")
SSE_GPR(s_cvtss2si, "cvtss2si %%xmm0, %%eax")
SSE_GPR(s_cvttss2si, "cvttss2si %%xmm0, %%eax")
SSE_FLAGS(s_comisd, "comisd %%xmm1, %%xmm0")
SSE_FLAGS(s_ucomisd, "ucomisd %%xmm1, %%xmm0")
SSE_FLAGS(s_comiss, "comiss %%xmm1, %%xmm0")
SSE_FLAGS(s_ucomiss, "ucomiss %%xmm1, %%xmm0")

/* integer SIMD (SSE2) */
SSE_OP(i_paddb, "paddb %%xmm1, %%xmm0")
SSE_OP(i_paddw, "paddw %%xmm1, %%xmm0")
SSE_OP(i_paddd, "paddd %%xmm1, %%xmm0")
SSE_OP(i_paddq, "paddq %%xmm1, %%xmm0")
SSE_OP(i_psubb, "psubb %%xmm1, %%xmm0")
SSE_OP(i_psubusb, "psubusb %%xmm1, %%xmm0")
SSE_OP(i_paddsw, "paddsw %%xmm1, %%xmm0")
SSE_OP(i_paddusb, "paddusb %%xmm1, %%xmm0")
SSE_OP(i_pmullw, "pmullw %%xmm1, %%xmm0")
SSE_OP(i_pmulhw, "pmulhw %%xmm1, %%xmm0")
SSE_OP(i_pmulhuw, "pmulhuw %%xmm1, %%xmm0")
SSE_OP(i_pmuludq, "pmuludq %%xmm1, %%xmm0")
SSE_OP(i_pmaddwd, "pmaddwd %%xmm1, %%xmm0")
SSE_OP(i_psadbw, "psadbw %%xmm1, %%xmm0")
SSE_OP(i_pavgb, "pavgb %%xmm1, %%xmm0")
SSE_OP(i_pmaxsw, "pmaxsw %%xmm1, %%xmm0")
SSE_OP(i_pminub, "pminub %%xmm1, %%xmm0")
SSE_OP(i_pcmpeqb, "pcmpeqb %%xmm1, %%xmm0")
SSE_OP(i_pcmpgtb, "pcmpgtb %%xmm1, %%xmm0")
SSE_OP(i_pcmpgtd, "pcmpgtd %%xmm1, %%xmm0")
SSE_OP(i_pand, "pand %%xmm1, %%xmm0")
SSE_OP(i_pandn, "pandn %%xmm1, %%xmm0")
SSE_OP(i_por, "por %%xmm1, %%xmm0")
SSE_OP(i_pxor, "pxor %%xmm1, %%xmm0")
SSE_OP(i_psllw, "psllw $3, %%xmm0")
SSE_OP(i_pslld, "pslld $31, %%xmm0")
SSE_OP(i_psllq, "psllq $7, %%xmm0")
SSE_OP(i_psrlw, "psrlw $3, %%xmm0")
SSE_OP(i_psrld, "psrld $1, %%xmm0")
SSE_OP(i_psrlq, "psrlq $33, %%xmm0")
SSE_OP(i_psraw, "psraw $15, %%xmm0")
SSE_OP(i_psrad, "psrad $4, %%xmm0")
SSE_OP(i_pslldq, "pslldq $5, %%xmm0")
SSE_OP(i_psrldq, "psrldq $3, %%xmm0")
SSE_OP(i_psllq_x, "psllq %%xmm1, %%xmm0")
SSE_OP(i_psrad_x, "psrad %%xmm1, %%xmm0")
SSE_OP(i_punpcklbw, "punpcklbw %%xmm1, %%xmm0")
SSE_OP(i_punpckhbw, "punpckhbw %%xmm1, %%xmm0")
SSE_OP(i_punpcklwd, "punpcklwd %%xmm1, %%xmm0")
SSE_OP(i_punpckhdq, "punpckhdq %%xmm1, %%xmm0")
SSE_OP(i_punpcklqdq, "punpcklqdq %%xmm1, %%xmm0")
SSE_OP(i_punpckhqdq, "punpckhqdq %%xmm1, %%xmm0")
SSE_OP(i_packsswb, "packsswb %%xmm1, %%xmm0")
SSE_OP(i_packssdw, "packssdw %%xmm1, %%xmm0")
SSE_OP(i_packuswb, "packuswb %%xmm1, %%xmm0")
SSE_OP(i_pshufd, "pshufd $0x1b, %%xmm1, %%xmm0")
SSE_OP(i_pshuflw, "pshuflw $0xb1, %%xmm1, %%xmm0")
SSE_OP(i_pshufhw, "pshufhw $0x4e, %%xmm1, %%xmm0")
SSE_OP(i_shufps, "shufps $0x4e, %%xmm1, %%xmm0")
SSE_OP(i_shufpd, "shufpd $1, %%xmm1, %%xmm0")
SSE_OP(i_unpcklps, "unpcklps %%xmm1, %%xmm0")
SSE_OP(i_unpckhpd, "unpckhpd %%xmm1, %%xmm0")
SSE_OP(i_movhlps, "movhlps %%xmm1, %%xmm0")
SSE_OP(i_movlhps, "movlhps %%xmm1, %%xmm0")
SSE_OP(i_movss, "movss %%xmm1, %%xmm0")
SSE_OP(i_movsd, "movsd %%xmm1, %%xmm0")
SSE_OP(i_pinsrw, "movl %[i], %%eax\n\tpinsrw $3, %%eax, %%xmm0")
SSE_GPR(i_pmovmskb, "pmovmskb %%xmm0, %%eax")
SSE_GPR(i_movmskps, "movmskps %%xmm0, %%eax")
SSE_GPR(i_movmskpd, "movmskpd %%xmm0, %%eax")
SSE_GPR(i_pextrw, "pextrw $5, %%xmm0, %%eax")
SSE_GPR(i_movd, "movd %%xmm0, %%eax")

/* ---- MMX ----------------------------------------------------------------------- */

/* mm0 = a (low 64 bits), mm1 = b; result mm0 (words 0-1); EMMS at the end. */
#define MMX_OP(fname, text)                                         \
    static void fname(const struct fp_in *in, uint32_t *out)        \
    {                                                               \
        uint64_t r;                                                 \
        __asm__ volatile("movq %[a], %%mm0\n\t"                     \
                         "movq %[b], %%mm1\n\t" text "\n\t"         \
                         "movq %%mm0, %[r]\n\t"                     \
                         "emms"                                     \
                         : [r] "=m"(r)                              \
                         : [a] "m"(in->a.q[0]), [b] "m"(in->b.q[0]) \
                         : MMX_CLOBBERS "st", "memory");            \
        out[0] = (uint32_t)r;                                       \
        out[1] = (uint32_t)(r >> 32);                               \
        out[7] = 0;                                                 \
    }

MMX_OP(m_paddb, "paddb %%mm1, %%mm0")
MMX_OP(m_paddsw, "paddsw %%mm1, %%mm0")
MMX_OP(m_psubusb, "psubusb %%mm1, %%mm0")
MMX_OP(m_pmullw, "pmullw %%mm1, %%mm0")
MMX_OP(m_pmaddwd, "pmaddwd %%mm1, %%mm0")
MMX_OP(m_punpcklbw, "punpcklbw %%mm1, %%mm0")
MMX_OP(m_packsswb, "packsswb %%mm1, %%mm0")
MMX_OP(m_pcmpgtw, "pcmpgtw %%mm1, %%mm0")
MMX_OP(m_psllq, "psllq $12, %%mm0")
MMX_OP(m_psraw, "psraw $2, %%mm0")
MMX_OP(m_pxor, "pxor %%mm1, %%mm0")
MMX_OP(m_pshufw, "pshufw $0x1b, %%mm1, %%mm0")
MMX_OP(m_pmulhuw, "pmulhuw %%mm1, %%mm0")

/* ---- the table ------------------------------------------------------------------ */

#define QNAN   0x7FF8000000000000ull
#define QNAN_F 0x7FC00000u
#define D(x)           \
    {                  \
        .d = {(x), 0 } \
    }
#define D2(x, y)         \
    {                    \
        .d = {(x), (y) } \
    }
#define F4(a, b, c, e)             \
    {                              \
        .f = {(a), (b), (c), (e) } \
    }
#define U4(a, b, c, e)             \
    {                              \
        .u = {(a), (b), (c), (e) } \
    }
#define I1(x)                \
    {                        \
        .i = {(x), 0, 0, 0 } \
    }
#define Q1(x)          \
    {                  \
        .q = {(x), 0 } \
    }
#define Q2(x, y)         \
    {                    \
        .q = {(x), (y) } \
    }

/* Vectors for the integer SIMD cases. */
#define VA U4(0x807F01FF, 0x00FF7F80, 0x12345678, 0xFEDCBA98)
#define VB U4(0x01010101, 0x80808080, 0x7FFF8000, 0x00000003)

#define X(name, fn, a, b, ctl, n, mask) \
    {                                   \
        name, fn, {a, b, ctl}, n, mask  \
    }
#define Z D(0)

static const struct fp_case fp_cases[] = {
    /* x87 arithmetic: 80-bit result, the double FST rounds it to, FSW exceptions */
    X("fadd 1 + 2", x_add, D(1.0), D(2.0), FCW_NEAR, 5, SW_EXC),
    X("fadd 0.1 + 0.2", x_add, D(0.1), D(0.2), FCW_NEAR, 5, SW_EXC),
    X("fsub -5 - 3", x_sub, D(-5.0), D(3.0), FCW_NEAR, 5, SW_EXC),
    X("fsubr 1e-10 (b - a, b = 1)", x_subr, D(1e-10), D(1.0), FCW_NEAR, 5, SW_EXC),
    X("fmul 1e308 * 10 (exceeds double)", x_mul, D(1e308), D(10.0), FCW_NEAR, 5, SW_EXC),
    X("fmul 1e-300 * 1e-20 (double denormal)", x_mul, D(1e-300), D(1e-20), FCW_NEAR, 5, SW_EXC),
    X("fmul -0 * 5", x_mul, D(-0.0), D(5.0), FCW_NEAR, 5, SW_EXC),
    X("fdiv 1 / 3, RC nearest", x_div, D(1.0), D(3.0), FCW_NEAR, 5, SW_EXC),
    X("fdiv 1 / 3, RC down", x_div, D(1.0), D(3.0), FCW_DOWN, 5, SW_EXC),
    X("fdiv 1 / 3, RC up", x_div, D(1.0), D(3.0), FCW_UP, 5, SW_EXC),
    X("fdiv 1 / 3, RC chop", x_div, D(1.0), D(3.0), FCW_CHOP, 5, SW_EXC),
    X("fdiv -2 / 3, RC down", x_div, D(-2.0), D(3.0), FCW_DOWN, 5, SW_EXC),
    X("fdiv 1 / 3, PC 24 bits", x_div, D(1.0), D(3.0), FCW_PC24, 5, SW_EXC),
    X("fdiv 1 / 3, PC 53 bits", x_div, D(1.0), D(3.0), FCW_PC53, 5, SW_EXC),
    X("fdivr 3 (b / a, b = 1)", x_divr, D(3.0), D(1.0), FCW_NEAR, 5, SW_EXC),
    X("fdiv 1 / 0", x_div, D(1.0), D(0.0), FCW_NEAR, 5, SW_EXC),
    X("fdiv -1 / 0", x_div, D(-1.0), D(0.0), FCW_NEAR, 5, SW_EXC),
    X("fdiv 0 / 0", x_div, D(0.0), D(0.0), FCW_NEAR, 5, SW_EXC),
    X("fadd QNaN + 1", x_add, Q1(QNAN | 0x1234), D(1.0), FCW_NEAR, 5, SW_EXC),
    X("fadd inf + -inf", x_add, D(__builtin_inf()), D(-__builtin_inf()), FCW_NEAR, 5, SW_EXC),
    X("fsqrt 2", x_sqrt, D(2.0), Z, FCW_NEAR, 5, SW_EXC),
    X("fsqrt 0.25", x_sqrt, D(0.25), Z, FCW_NEAR, 5, SW_EXC),
    X("fsqrt -1", x_sqrt, D(-1.0), Z, FCW_NEAR, 5, SW_EXC),
    X("fsqrt -0", x_sqrt, D(-0.0), Z, FCW_NEAR, 5, SW_EXC),
    X("frndint 2.5, RC nearest", x_rndint, D(2.5), Z, FCW_NEAR, 5, SW_EXC),
    X("frndint 3.5, RC nearest", x_rndint, D(3.5), Z, FCW_NEAR, 5, SW_EXC),
    X("frndint -2.5, RC nearest", x_rndint, D(-2.5), Z, FCW_NEAR, 5, SW_EXC),
    X("frndint 2.5, RC down", x_rndint, D(2.5), Z, FCW_DOWN, 5, SW_EXC),
    X("frndint -2.5, RC down", x_rndint, D(-2.5), Z, FCW_DOWN, 5, SW_EXC),
    X("frndint 2.1, RC up", x_rndint, D(2.1), Z, FCW_UP, 5, SW_EXC),
    X("frndint -1.7, RC chop", x_rndint, D(-1.7), Z, FCW_CHOP, 5, SW_EXC),
    X("frndint 4 (exact)", x_rndint, D(4.0), Z, FCW_NEAR, 5, SW_EXC),
    X("fchs 1.5", x_chs, D(1.5), Z, FCW_NEAR, 5, SW_EXC),
    X("fabs -0", x_abs, D(-0.0), Z, FCW_NEAR, 5, SW_EXC),
    X("fabs -inf", x_abs, D(-__builtin_inf()), Z, FCW_NEAR, 5, SW_EXC),
    X("fild m32 -123456789", x_fild32, I1(-123456789), Z, FCW_NEAR, 5, SW_EXC),
    X("fild m64 0x7fffffffffffffff", x_fild64, Q1(0x7FFFFFFFFFFFFFFFull), Z, FCW_NEAR, 5, SW_EXC),
    X("fld1 + fldz + "
      "fld1",
      x_consts, Z, Z, FCW_NEAR, 5, SW_EXC),
    X("fscale 1.5 * 2^10", x_scale, D(1.5), D(10.0), FCW_NEAR, 5, SW_EXC),
    X("fscale 3 * 2^-2.9 "
      "(truncated to -2)",
      x_scale, D(3.0), D(-2.9), FCW_NEAR, 5, SW_EXC),
    X("fprem "
      "10.5 rem "
      "3",
      x_prem, D(10.5), D(3.0), FCW_NEAR, 5, SW_EXC | SW_CC),
    X("fprem -7 rem 2", x_prem, D(-7.0), D(2.0), FCW_NEAR, 5, SW_EXC | SW_CC),
    /* FPREM1's quotient bits: QEMU 7.2 leaves C0 (Q2) clear for 10.5 rem 3
     * (quotient 4), CPUs set it; only the remainder is compared. */
    X("fprem1 10.5 rem 3", x_prem1, D(10.5), D(3.0), FCW_NEAR, 5, SW_EXC),
    /* a partial remainder's value is implementation-specific: only C2 */
    X("fprem 1e30 rem 3 (partial: C2)", x_prem, D(1e30), D(3.0), FCW_NEAR, 0, 0x400),
    X("fadd st, st(1); fmul st, st (2+3)^2", x_regs, D(2.0), D(3.0), FCW_NEAR, 5, SW_EXC),
    X("fxch; fdiv st, st(1) (3/2)", x_xch, D(2.0), D(3.0), FCW_NEAR, 5, SW_EXC),
    X("fxtract 96: significand, exponent", x_xtract, D(96.0), Z, FCW_NEAR, 6, SW_EXC),
    X("fxtract -0.375", x_xtract, D(-0.375), Z, FCW_NEAR, 6, SW_EXC),
    /* x87 integer stores: FIST rounds with RC; out of range gives the
     * integer indefinite and IE */
    X("fistp m32 2.5, RC nearest", x_fistp32, D(2.5), Z, FCW_NEAR, 2, SW_EXC),
    X("fistp m32 3.5, RC nearest", x_fistp32, D(3.5), Z, FCW_NEAR, 2, SW_EXC),
    X("fistp m32 -2.5, RC nearest", x_fistp32, D(-2.5), Z, FCW_NEAR, 2, SW_EXC),
    X("fistp m32 2.5, RC down", x_fistp32, D(2.5), Z, FCW_DOWN, 2, SW_EXC),
    X("fistp m32 -2.5, RC down", x_fistp32, D(-2.5), Z, FCW_DOWN, 2, SW_EXC),
    X("fistp m32 2.1, RC up", x_fistp32, D(2.1), Z, FCW_UP, 2, SW_EXC),
    X("fistp m32 -2.9, RC chop", x_fistp32, D(-2.9), Z, FCW_CHOP, 2, SW_EXC),
    X("fistp m32 1e10 (out of range)", x_fistp32, D(1e10), Z, FCW_NEAR, 2, SW_EXC),
    X("fistp m16 -32768.4", x_fistp16, D(-32768.4), Z, FCW_NEAR, 2, SW_EXC),
    X("fistp m16 40000 (out of range)", x_fistp16, D(40000.0), Z, FCW_NEAR, 2, SW_EXC),
    X("fistp m64 -1e18", x_fistp64, D(-1e18), Z, FCW_NEAR, 2, SW_EXC),
    X("fistp m64 QNaN", x_fistp64, Q1(QNAN), Z, FCW_NEAR, 2, SW_EXC),
    X("fild/fistp m64 0x7fffffffffffffff", x_fild_fistp64, Q1(0x7FFFFFFFFFFFFFFFull), Z, FCW_NEAR,
      2, SW_EXC),
    X("fild m32 / fistp m64 -123456789", x_fild_fistp32, I1(-123456789), Z, FCW_NEAR, 2, SW_EXC),
    /* x87 compares: FCOM sets C0 C2 C3 (C1 is not compared); FCOMI/FUCOMI
     * set ZF PF CF and clear OF SF AF; QNaN: FCOM/FCOMI raise IE, FUCOMI not */
    X("fcom 1 vs 2", x_fcom, D(1.0), D(2.0), FCW_NEAR, 0, SW_EXC | SW_CC_C1),
    X("fcom 2 vs 1", x_fcom, D(2.0), D(1.0), FCW_NEAR, 0, SW_EXC | SW_CC_C1),
    X("fcom 1 vs 1", x_fcom, D(1.0), D(1.0), FCW_NEAR, 0, SW_EXC | SW_CC_C1),
    X("fcom 1 vs QNaN", x_fcom, D(1.0), Q1(QNAN), FCW_NEAR, 0, SW_EXC | SW_CC_C1),
    X("ftst -3", x_ftst, D(-3.0), Z, FCW_NEAR, 0, SW_EXC | SW_CC_C1),
    X("ftst +0", x_ftst, D(0.0), Z, FCW_NEAR, 0, SW_EXC | SW_CC_C1),
    X("fucomip 1 vs 2", x_fucomi, D(1.0), D(2.0), FCW_NEAR, 1, SW_EXC),
    X("fucomip 2 vs 1", x_fucomi, D(2.0), D(1.0), FCW_NEAR, 1, SW_EXC),
    X("fucomip 1 vs 1", x_fucomi, D(1.0), D(1.0), FCW_NEAR, 1, SW_EXC),
    X("fucomip +0 vs -0", x_fucomi, D(0.0), D(-0.0), FCW_NEAR, 1, SW_EXC),
    X("fucomip 1 vs QNaN", x_fucomi, D(1.0), Q1(QNAN), FCW_NEAR, 1, SW_EXC),
    X("fcomip 1 vs QNaN", x_fcomi, D(1.0), Q1(QNAN), FCW_NEAR, 1, SW_EXC),
    X("fcomip -inf vs 1", x_fcomi, D(-__builtin_inf()), D(1.0), FCW_NEAR, 1, SW_EXC),
    /* FXAM: C3 C2 C0 class, C1 sign */
    X("fxam +0", x_fxam, D(0.0), Z, FCW_NEAR, 0, SW_CC),
    X("fxam -0", x_fxam, D(-0.0), Z, FCW_NEAR, 0, SW_CC),
    X("fxam 1", x_fxam, D(1.0), Z, FCW_NEAR, 0, SW_CC),
    X("fxam -2", x_fxam, D(-2.0), Z, FCW_NEAR, 0, SW_CC),
    X("fxam +inf", x_fxam, D(__builtin_inf()), Z, FCW_NEAR, 0, SW_CC),
    X("fxam -inf", x_fxam, D(-__builtin_inf()), Z, FCW_NEAR, 0, SW_CC),
    X("fxam QNaN", x_fxam, Q1(QNAN), Z, FCW_NEAR, 0, SW_CC),
    X("fxam empty st0", x_fxam_empty, Z, Z, FCW_NEAR, 0, SW_CC_C1),
    /* SSE single precision */
    X("addps", s_addps, F4(1.5f, -2.25f, 1e10f, 3.0f), F4(0.25f, 2.25f, 1.0f, 1e-8f), MXCSR_NEAR, 4,
      MX_EXC),
    X("subps", s_subps, F4(1.0f, -0.0f, 0.0f, 16777216.0f), F4(1.0f, 0.0f, 0.0f, -1.0f), MXCSR_NEAR,
      4, MX_EXC),
    X("subps, RC down (x - x = -0)", s_subps, F4(1.0f, -0.0f, 0.0f, 16777216.0f),
      F4(1.0f, 0.0f, 0.0f, -1.0f), MXCSR_DOWN, 4, MX_EXC),
    X("mulps (overflow, underflow)", s_mulps, F4(3.0f, -0.5f, 1e20f, 1e-20f),
      F4(7.0f, 8.0f, 1e20f, 1e-20f), MXCSR_NEAR, 4, MX_EXC),
    X("divps (1/3, 1/0, 0/0, -1/7)", s_divps, F4(1.0f, 1.0f, 0.0f, -1.0f),
      F4(3.0f, 0.0f, 0.0f, 7.0f), MXCSR_NEAR, 4, MX_EXC),
    X("divps 1/3, RC up", s_divps, F4(1.0f, -1.0f, 2.0f, 1.0f), F4(3.0f, 3.0f, 3.0f, 1.0f),
      MXCSR_UP, 4, MX_EXC),
    X("divps 1/3, RC chop", s_divps, F4(1.0f, -1.0f, 2.0f, 1.0f), F4(3.0f, 3.0f, 3.0f, 1.0f),
      MXCSR_CHOP, 4, MX_EXC),
    X("sqrtps (4, 2, -1, -0)", s_sqrtps, F4(4.0f, 2.0f, -1.0f, -0.0f), Z, MXCSR_NEAR, 4, MX_EXC),
    X("maxps (NaN in one operand: the second)", s_maxps,
      U4(0x3F800000, QNAN_F, 0x80000000, 0x40A00000),
      U4(0x40000000, 0x40400000, 0x00000000, QNAN_F), MXCSR_NEAR, 4, MX_EXC),
    X("minps (-0 vs +0: the second)", s_minps, F4(1.0f, -0.0f, 0.0f, -5.0f),
      F4(2.0f, 0.0f, -0.0f, -4.0f), MXCSR_NEAR, 4, MX_EXC),
    X("addss (upper lanes kept)", s_addss, F4(1.0f, 2.0f, 3.0f, 4.0f), F4(0.5f, 9.0f, 9.0f, 9.0f),
      MXCSR_NEAR, 4, MX_EXC),
    X("cmpltps", s_cmpltps, F4(1.0f, 2.0f, -0.0f, 1.0f),
      U4(0x40000000, 0x3F800000, 0x00000000, QNAN_F), MXCSR_NEAR, 4, MX_EXC),
    X("cmpunordps", s_cmpunordps, U4(0x3F800000, QNAN_F, 0, 0x7F800000),
      U4(0x3F800000, 0, QNAN_F, 0x7F800000), MXCSR_NEAR, 4, MX_EXC),
    X("comiss 1 vs 2", s_comiss, F4(1.0f, 0, 0, 0), F4(2.0f, 0, 0, 0), MXCSR_NEAR, 1, MX_EXC),
    X("ucomiss 1 vs QNaN", s_ucomiss, F4(1.0f, 0, 0, 0), U4(QNAN_F, 0, 0, 0), MXCSR_NEAR, 1,
      MX_EXC),
    X("comiss 1 vs QNaN", s_comiss, F4(1.0f, 0, 0, 0), U4(QNAN_F, 0, 0, 0), MXCSR_NEAR, 1, MX_EXC),
    /* SSE2 double precision */
    X("addsd 0.1 + 0.2", s_addsd, D2(0.1, 7.0), D2(0.2, 9.0), MXCSR_NEAR, 4, MX_EXC),
    X("subsd 1 - 1e-17", s_subsd, D(1.0), D(1e-17), MXCSR_NEAR, 4, MX_EXC),
    X("mulsd 1e308 * 10", s_mulsd, D(1e308), D(10.0), MXCSR_NEAR, 4, MX_EXC),
    X("mulsd 1e-300 * 1e-20 (denormal result)", s_mulsd, D(1e-300), D(1e-20), MXCSR_NEAR, 4,
      MX_EXC),
    X("divsd 1 / 3, RC nearest", s_divsd, D(1.0), D(3.0), MXCSR_NEAR, 4, MX_EXC),
    X("divsd 1 / 3, RC down", s_divsd, D(1.0), D(3.0), MXCSR_DOWN, 4, MX_EXC),
    X("divsd 1 / 3, RC up", s_divsd, D(1.0), D(3.0), MXCSR_UP, 4, MX_EXC),
    X("divsd -1 / 3, RC chop", s_divsd, D(-1.0), D(3.0), MXCSR_CHOP, 4, MX_EXC),
    X("divsd 1 / 0", s_divsd, D(1.0), D(0.0), MXCSR_NEAR, 4, MX_EXC),
    X("divsd 0 / 0 (default NaN)", s_divsd, D(0.0), D(0.0), MXCSR_NEAR, 4, MX_EXC),
    X("sqrtsd 2", s_sqrtsd, D2(5.0, 6.0), D(2.0), MXCSR_NEAR, 4, MX_EXC),
    X("sqrtsd -1", s_sqrtsd, D(5.0), D(-1.0), MXCSR_NEAR, 4, MX_EXC),
    X("addpd (0.1+0.2, 1e308+1e308)", s_addpd, D2(0.1, 1e308), D2(0.2, 1e308), MXCSR_NEAR, 4,
      MX_EXC),
    X("mulpd (QNaN in one operand)", s_mulpd, Q2(QNAN | 0x55, 0x4000000000000000ull), D2(3.0, 0.5),
      MXCSR_NEAR, 4, MX_EXC),
    X("divpd (1/3, 2/0)", s_divpd, D2(1.0, 2.0), D2(3.0, 0.0), MXCSR_NEAR, 4, MX_EXC),
    X("sqrtpd (2, 9)", s_sqrtpd, D2(2.0, 9.0), Z, MXCSR_NEAR, 4, MX_EXC),
    X("andpd (clear sign bits)", s_andpd, D2(-1.5, -0.0),
      Q2(0x7FFFFFFFFFFFFFFFull, 0x7FFFFFFFFFFFFFFFull), MXCSR_NEAR, 4, MX_EXC),
    X("xorps", s_xorps, VA, VB, MXCSR_NEAR, 4, MX_EXC),
    X("comisd 1 vs 2", s_comisd, D(1.0), D(2.0), MXCSR_NEAR, 1, MX_EXC),
    X("comisd 2 vs 1", s_comisd, D(2.0), D(1.0), MXCSR_NEAR, 1, MX_EXC),
    X("comisd 1 vs 1", s_comisd, D(1.0), D(1.0), MXCSR_NEAR, 1, MX_EXC),
    X("ucomisd 1 vs QNaN", s_ucomisd, D(1.0), Q1(QNAN), MXCSR_NEAR, 1, MX_EXC),
    X("comisd 1 vs QNaN", s_comisd, D(1.0), Q1(QNAN), MXCSR_NEAR, 1, MX_EXC),
    /* conversions */
    X("cvtdq2ps (1, -2, 2^24+1, 2^31-1)", s_cvtdq2ps, U4(1, 0xFFFFFFFE, 16777217, 0x7FFFFFFF), Z,
      MXCSR_NEAR, 4, MX_EXC),
    X("cvtps2dq (1.5, 2.5, -1.5, 3e9)", s_cvtps2dq, F4(1.5f, 2.5f, -1.5f, 3e9f), Z, MXCSR_NEAR, 4,
      MX_EXC),
    X("cvtps2dq, RC down", s_cvtps2dq, F4(1.5f, 2.5f, -1.5f, -0.1f), Z, MXCSR_DOWN, 4, MX_EXC),
    X("cvttps2dq (1.7, -1.7, 0.5, -2^31)", s_cvttps2dq, F4(1.7f, -1.7f, 0.5f, -2147483648.0f), Z,
      MXCSR_NEAR, 4, MX_EXC),
    X("cvtps2pd (0.1f, -3.5f)", s_cvtps2pd, F4(0.1f, -3.5f, 9.0f, 9.0f), Z, MXCSR_NEAR, 4, MX_EXC),
    X("cvtpd2ps (1/3, 1e300)", s_cvtpd2ps, D2(1.0 / 3.0, 1e300), Z, MXCSR_NEAR, 4, MX_EXC),
    X("cvtdq2pd (-7, 2^31-1)", s_cvtdq2pd, U4(0xFFFFFFF9, 0x7FFFFFFF, 5, 5), Z, MXCSR_NEAR, 4,
      MX_EXC),
    X("cvtpd2dq (2.5, -3.5)", s_cvtpd2dq, D2(2.5, -3.5), Z, MXCSR_NEAR, 4, MX_EXC),
    X("cvtsd2ss 1/3 (upper lanes kept)", s_cvtsd2ss, F4(9.0f, 8.0f, 7.0f, 6.0f), D(1.0 / 3.0),
      MXCSR_NEAR, 4, MX_EXC),
    X("cvtsd2ss 1e300", s_cvtsd2ss, Z, D(1e300), MXCSR_NEAR, 4, MX_EXC),
    X("cvtss2sd 0.1f", s_cvtss2sd, D(7.0), F4(0.1f, 0, 0, 0), MXCSR_NEAR, 4, MX_EXC),
    X("cvtsi2sd -7", s_cvtsi2sd, D2(1.0, 2.0), I1(-7), MXCSR_NEAR, 4, MX_EXC),
    X("cvtsi2ss 2^24+1", s_cvtsi2ss, F4(1.0f, 2.0f, 3.0f, 4.0f), I1(16777217), MXCSR_NEAR, 4,
      MX_EXC),
    X("cvtsi2ss 2^24+1, RC up", s_cvtsi2ss, Z, I1(16777217), MXCSR_UP, 4, MX_EXC),
    X("cvtsd2si 2.5", s_cvtsd2si, D(2.5), Z, MXCSR_NEAR, 1, MX_EXC),
    X("cvtsd2si 3.5", s_cvtsd2si, D(3.5), Z, MXCSR_NEAR, 1, MX_EXC),
    X("cvtsd2si -2.5", s_cvtsd2si, D(-2.5), Z, MXCSR_NEAR, 1, MX_EXC),
    X("cvtsd2si 2.5, RC up", s_cvtsd2si, D(2.5), Z, MXCSR_UP, 1, MX_EXC),
    X("cvtsd2si 1e10 (out of range)", s_cvtsd2si, D(1e10), Z, MXCSR_NEAR, 1, MX_EXC),
    X("cvtsd2si QNaN", s_cvtsd2si, Q1(QNAN), Z, MXCSR_NEAR, 1, MX_EXC),
    X("cvttsd2si -2.7", s_cvttsd2si, D(-2.7), Z, MXCSR_NEAR, 1, MX_EXC),
    X("cvttsd2si 42", s_cvttsd2si, D(42.0), Z, MXCSR_NEAR, 1, MX_EXC),
    X("cvtss2si -0.5", s_cvtss2si, F4(-0.5f, 0, 0, 0), Z, MXCSR_NEAR, 1, MX_EXC),
    X("cvttss2si 1e10f", s_cvttss2si, F4(1e10f, 0, 0, 0), Z, MXCSR_NEAR, 1, MX_EXC),
    /* integer SIMD: exact, no MXCSR flags */
    X("paddb", i_paddb, VA, VB, MXCSR_NEAR, 4, 0),
    X("paddw", i_paddw, VA, VB, MXCSR_NEAR, 4, 0),
    X("paddd", i_paddd, VA, VB, MXCSR_NEAR, 4, 0),
    X("paddq", i_paddq, VA, VB, MXCSR_NEAR, 4, 0),
    X("psubb", i_psubb, VA, VB, MXCSR_NEAR, 4, 0),
    X("psubusb", i_psubusb, VA, VB, MXCSR_NEAR, 4, 0),
    X("paddsw", i_paddsw, VA, VB, MXCSR_NEAR, 4, 0),
    X("paddusb", i_paddusb, VA, VB, MXCSR_NEAR, 4, 0),
    X("pmullw", i_pmullw, VA, VB, MXCSR_NEAR, 4, 0),
    X("pmulhw", i_pmulhw, VA, VB, MXCSR_NEAR, 4, 0),
    X("pmulhuw", i_pmulhuw, VA, VB, MXCSR_NEAR, 4, 0),
    X("pmuludq", i_pmuludq, VA, VB, MXCSR_NEAR, 4, 0),
    X("pmaddwd", i_pmaddwd, VA, VB, MXCSR_NEAR, 4, 0),
    X("psadbw", i_psadbw, VA, VB, MXCSR_NEAR, 4, 0),
    X("pavgb", i_pavgb, VA, VB, MXCSR_NEAR, 4, 0),
    X("pmaxsw", i_pmaxsw, VA, VB, MXCSR_NEAR, 4, 0),
    X("pminub", i_pminub, VA, VB, MXCSR_NEAR, 4, 0),
    X("pcmpeqb", i_pcmpeqb, VA, U4(0x807F0000, 0x00FF7F80, 0x12005600, 0), MXCSR_NEAR, 4, 0),
    X("pcmpgtb", i_pcmpgtb, VA, VB, MXCSR_NEAR, 4, 0),
    X("pcmpgtd", i_pcmpgtd, VA, VB, MXCSR_NEAR, 4, 0),
    X("pand", i_pand, VA, VB, MXCSR_NEAR, 4, 0),
    X("pandn", i_pandn, VA, VB, MXCSR_NEAR, 4, 0),
    X("por", i_por, VA, VB, MXCSR_NEAR, 4, 0),
    X("pxor", i_pxor, VA, VB, MXCSR_NEAR, 4, 0),
    X("psllw 3", i_psllw, VA, Z, MXCSR_NEAR, 4, 0),
    X("pslld 31", i_pslld, VA, Z, MXCSR_NEAR, 4, 0),
    X("psllq 7", i_psllq, VA, Z, MXCSR_NEAR, 4, 0),
    X("psrlw 3", i_psrlw, VA, Z, MXCSR_NEAR, 4, 0),
    X("psrld 1", i_psrld, VA, Z, MXCSR_NEAR, 4, 0),
    X("psrlq 33", i_psrlq, VA, Z, MXCSR_NEAR, 4, 0),
    X("psraw 15", i_psraw, VA, Z, MXCSR_NEAR, 4, 0),
    X("psrad 4", i_psrad, VA, Z, MXCSR_NEAR, 4, 0),
    X("pslldq 5", i_pslldq, VA, Z, MXCSR_NEAR, 4, 0),
    X("psrldq 3", i_psrldq, VA, Z, MXCSR_NEAR, 4, 0),
    X("psllq xmm (count 12)", i_psllq_x, VA, U4(12, 0, 0xFF, 0xFF), MXCSR_NEAR, 4, 0),
    X("psllq xmm (count 64: zero)", i_psllq_x, VA, U4(64, 0, 0, 0), MXCSR_NEAR, 4, 0),
    X("psrad xmm (count 40: sign fill)", i_psrad_x, VA, U4(40, 0, 0, 0), MXCSR_NEAR, 4, 0),
    X("punpcklbw", i_punpcklbw, VA, VB, MXCSR_NEAR, 4, 0),
    X("punpckhbw", i_punpckhbw, VA, VB, MXCSR_NEAR, 4, 0),
    X("punpcklwd", i_punpcklwd, VA, VB, MXCSR_NEAR, 4, 0),
    X("punpckhdq", i_punpckhdq, VA, VB, MXCSR_NEAR, 4, 0),
    X("punpcklqdq", i_punpcklqdq, VA, VB, MXCSR_NEAR, 4, 0),
    X("punpckhqdq", i_punpckhqdq, VA, VB, MXCSR_NEAR, 4, 0),
    X("packsswb", i_packsswb, VA, VB, MXCSR_NEAR, 4, 0),
    X("packssdw", i_packssdw, VA, VB, MXCSR_NEAR, 4, 0),
    X("packuswb", i_packuswb, VA, VB, MXCSR_NEAR, 4, 0),
    X("pshufd 0x1b", i_pshufd, Z, VA, MXCSR_NEAR, 4, 0),
    X("pshuflw 0xb1", i_pshuflw, Z, VA, MXCSR_NEAR, 4, 0),
    X("pshufhw 0x4e", i_pshufhw, Z, VA, MXCSR_NEAR, 4, 0),
    X("shufps 0x4e", i_shufps, VA, VB, MXCSR_NEAR, 4, 0),
    X("shufpd 1", i_shufpd, VA, VB, MXCSR_NEAR, 4, 0),
    X("unpcklps", i_unpcklps, VA, VB, MXCSR_NEAR, 4, 0),
    X("unpckhpd", i_unpckhpd, VA, VB, MXCSR_NEAR, 4, 0),
    X("movhlps", i_movhlps, VA, VB, MXCSR_NEAR, 4, 0),
    X("movlhps", i_movlhps, VA, VB, MXCSR_NEAR, 4, 0),
    X("movss xmm, xmm", i_movss, VA, VB, MXCSR_NEAR, 4, 0),
    X("movsd xmm, xmm", i_movsd, VA, VB, MXCSR_NEAR, 4, 0),
    X("pinsrw 3", i_pinsrw, VA, U4(0xABCD1234, 0, 0, 0), MXCSR_NEAR, 4, 0),
    X("pmovmskb", i_pmovmskb, VA, Z, MXCSR_NEAR, 1, 0),
    X("movmskps", i_movmskps, VA, Z, MXCSR_NEAR, 1, 0),
    X("movmskpd", i_movmskpd, VA, Z, MXCSR_NEAR, 1, 0),
    X("pextrw 5", i_pextrw, VA, Z, MXCSR_NEAR, 1, 0),
    X("movd eax, xmm", i_movd, VA, Z, MXCSR_NEAR, 1, 0),
    /* MMX (EMMS after each) */
    X("mmx paddb", m_paddb, VA, VB, 0, 2, 0),
    X("mmx paddsw", m_paddsw, VA, VB, 0, 2, 0),
    X("mmx psubusb", m_psubusb, VA, VB, 0, 2, 0),
    X("mmx pmullw", m_pmullw, VA, VB, 0, 2, 0),
    X("mmx pmaddwd", m_pmaddwd, VA, VB, 0, 2, 0),
    X("mmx punpcklbw", m_punpcklbw, VA, VB, 0, 2, 0),
    X("mmx packsswb", m_packsswb, VA, VB, 0, 2, 0),
    X("mmx pcmpgtw", m_pcmpgtw, VA, VB, 0, 2, 0),
    X("mmx psllq 12", m_psllq, VA, VB, 0, 2, 0),
    X("mmx psraw 2", m_psraw, VA, VB, 0, 2, 0),
    X("mmx pxor", m_pxor, VA, VB, 0, 2, 0),
    X("mmx pshufw 0x1b", m_pshufw, VA, VB, 0, 2, 0),
    X("mmx pmulhuw", m_pmulhuw, VA, VB, 0, 2, 0),
};

#undef X
#undef Z

#define FP_NCASES (sizeof(fp_cases) / sizeof(fp_cases[0]))

#endif
