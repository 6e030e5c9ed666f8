/*
 * guest-tests/mmio_forms.c — instruction forms whose memory operand is device
 * memory: the VGA text buffer, 32 KiB at physical 0xB8000 (paging off, so
 * linear = physical). QEMU's VGA in text mode (odd/even addressing, planes 0
 * and 1 writable, as SeaBIOS leaves mode 3) keeps every byte written there
 * and reads it back, so the buffer behaves as plain memory; the test relies on
 * nothing else (no display side effects, no register of the VGA). Under popek
 * the buffer is not RAM: every access faults and is emulated, and after a few
 * faults the instruction is retranslated into a monitor call. Covered:
 *  - every access size: byte, word, dword, MMX/SSE qword, SSE 16 bytes
 *    (MOVDQU, MOVUPS, MOVAPS/MOVDQA, PADDD m128), x87 qword (FLD/FADD/FSTP
 *    m64) and tword (FLD/FSTP m80), FILD/FISTP, FNSTCW; MOV with moffs
 *    (A0-A3), disp32 and immediate forms, AH/BH;
 *  - aligned and unaligned accesses: crossing a dword, crossing the 4 KiB
 *    boundary between 0xB8FFF and 0xB9000, the last dword of the window;
 *  - read-modify-write (a table run once on the buffer and once on a RAM
 *    mirror of it, where the same instruction runs natively): ALU ops,
 *    INC/DEC/NEG/NOT, shifts, rotates, SHLD/SHRD, XCHG, (LOCK) CMPXCHG,
 *    CMPXCHG8B, XADD, BT/BTS/BTR/BTC with immediate and register offsets (the
 *    register form addressing beyond and before the operand), SETcc,
 *    MOVZX/MOVSX, CMOVcc, MUL/IMUL/DIV, and the flags they define;
 *  - PUSH m/POP m (32 and 16 bits), CALL m (register and absolute disp32),
 *    far CALL m16:32, JMP m;
 *  - string instructions: REP MOVS/STOS RAM->VGA, VGA->RAM, VGA->VGA with DF=0
 *    and DF=1 (overlapping too), LODS, REPE/REPNE CMPS and SCAS (ECX, ESI,
 *    EDI and flags after), each also run on the RAM mirror;
 *  - one instruction executed 200 times in a loop on the buffer (loads,
 *    stores, RMW with flags consumed by the next instruction, LOCK XADD,
 *    a CAS loop, MOVS/LODS/STOS, indirect calls, BTS), and instructions that
 *    alternate between RAM and the buffer, so that results must stay right
 *    across popek's switch to a monitor call and back to RAM.
 * At the end the whole window is compared with the RAM mirror (REPE CMPSD),
 * which catches stray writes anywhere in it.
 *
 * Printed flags are EFLAGS & 0x8D5 further masked to what the SDM defines
 * for the instruction (AF after logic ops and shifts, OF after multi-bit
 * shifts and rotates, all but CF/ZF after BT*, all but CF/OF after MUL, all
 * after DIV are undefined): popek's emulator and the host CPU may differ
 * there (README.md, "Why undefined flags are masked").
 */
#include "rt.h"

#define VGA_BASE 0xB8000u
#define VGA_SIZE 0x8000u

#define F_ALL   0x8D5u /* OF SF ZF AF PF CF */
#define F_LOGIC 0x8C5u /* AF undefined: logic ops, 1-bit shifts */
#define F_SHN   0x0C5u /* AF and OF undefined: shifts by more than one */
#define F_ROTN  0x0D5u /* OF undefined: rotates by more than one */
#define F_BT    0x041u /* only CF defined, ZF unaffected */
#define F_MUL   0x801u /* only CF and OF defined */

/* A RAM copy of the window, kept equal to it: table cases and string
 * instructions run once on the buffer and once here (plain RAM, where popek
 * runs them natively); same page offsets, so page crossings match. */
static uint8_t shadow[VGA_SIZE] __attribute__((aligned(4096)));
/* The RAM side of RAM<->VGA string instructions. */
static uint8_t ram[0x1000] __attribute__((aligned(4096)));

typedef uint16_t u16u __attribute__((aligned(1), may_alias));
typedef uint32_t u32u __attribute__((aligned(1), may_alias));

/* The address of VGA offset `off`, hidden from GCC, which would otherwise
 * reason about (and warn on) accesses through a constant address. */
static uint8_t *vga(uint32_t off)
{
    uint8_t *p;
    __asm__("" : "=r"(p) : "0"(VGA_BASE + off));
    return p;
}

static uint8_t rd8(uint32_t off)
{
    return *(volatile uint8_t *)vga(off);
}

static uint16_t rd16(uint32_t off)
{
    return *(volatile u16u *)vga(off);
}

static uint32_t rd32(uint32_t off)
{
    return *(volatile u32u *)vga(off);
}

static void wr8(uint32_t off, uint8_t v)
{
    *(volatile uint8_t *)vga(off) = v;
}

static void wr16(uint32_t off, uint16_t v)
{
    *(volatile u16u *)vga(off) = v;
}

static void wr32(uint32_t off, uint32_t v)
{
    *(volatile u32u *)vga(off) = v;
}

/* Writes to the buffer and to its mirror. */
static void put8(uint32_t off, uint8_t v)
{
    wr8(off, v);
    shadow[off] = v;
}

static void put32(uint32_t off, uint32_t v)
{
    wr32(off, v);
    *(u32u *)(shadow + off) = v;
}

/* Copies a region that a test has already checked into the mirror. */
static void sync_shadow(uint32_t off, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        shadow[off + i] = rd8(off + i);
}

static bool same_as_shadow(uint32_t off, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (rd8(off + i) != shadow[off + i])
            return false;
    return true;
}

/* FNV-1a over n bytes (read one byte at a time). */
static uint32_t fnv(const volatile uint8_t *p, uint32_t n)
{
    uint32_t h = 0x811C9DC5u;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x01000193u;
    return h;
}

static uint8_t pat_a(uint32_t i)
{
    return (uint8_t)(i * 0x9D + 0x5B);
}

static uint8_t pat_b(uint32_t i)
{
    return (uint8_t)((i * 0x3B + 0x17) ^ (i >> 8));
}

#define CR0_MP         (1u << 1)
#define CR0_EM         (1u << 2)
#define CR0_TS         (1u << 3)
#define CR0_NE         (1u << 5)
#define CR4_OSFXSR     (1u << 9)
#define CR4_OSXMMEXCPT (1u << 10)

static void fpu_enable(void)
{
    write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
    write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
    __asm__ volatile("fninit" ::: "memory");
}

/* ---- the whole window: REP STOSD, REPE SCASD ------------------------------------ */

static void test_fill(void)
{
    uint32_t edi = VGA_BASE, ecx = VGA_SIZE / 4, flags;
    __asm__ volatile("rep stosl" : "+D"(edi), "+c"(ecx) : "a"(0x07200720) : "memory");
    CHECK(edi - VGA_BASE == VGA_SIZE && ecx == 0,
          "rep stosd 0x07200720 over 32 KiB: edi=base+0x%x ecx=%u", edi - VGA_BASE, ecx);
    for (uint32_t i = 0; i < VGA_SIZE; i += 4)
        *(uint32_t *)(shadow + i) = 0x07200720;

    edi = VGA_BASE;
    ecx = VGA_SIZE / 4;
    __asm__ volatile("repe scasl\n\tpushfl\n\tpopl %2"
                     : "+D"(edi), "+c"(ecx), "=r"(flags)
                     : "a"(0x07200720)
                     : "cc", "memory");
    CHECK(edi - VGA_BASE == VGA_SIZE && ecx == 0 && (flags & F_ALL) == 0x44,
          "repe scasd over 32 KiB: edi=base+0x%x ecx=%u fl=%03x", edi - VGA_BASE, ecx,
          flags & F_ALL);
}

/* ---- MOV: byte, word, dword; aligned, unaligned, page crossing ------------------ */

static void test_mov_sizes(void)
{
    for (uint32_t off = 0x400; off < 0x480; off += 4)
        wr32(off, 0);
    for (uint32_t off = 0xFF8; off < 0x1010; off += 4)
        wr32(off, 0);

    wr8(0x400, 0x5A);
    wr16(0x402, 0xBEEF);
    wr32(0x404, 0xDEADBEEF);
    CHECK_EQ(rd8(0x400), 0x5A, "mov byte [0x400]");
    CHECK_EQ(rd16(0x402), 0xBEEF, "mov word [0x402]");
    CHECK_EQ(rd32(0x404), 0xDEADBEEF, "mov dword [0x404]");
    CHECK_EQ(rd32(0x400), 0xBEEF005A, "dword [0x400] after byte and word stores");
    CHECK_EQ(rd16(0x405), 0xADBE, "word [0x405] (unaligned)");
    CHECK_EQ(rd32(0x403), 0xADBEEFBE, "dword [0x403] (crosses a dword)");
    CHECK_EQ(rd8(0x407), 0xDE, "byte [0x407]");

    wr16(0x40B, 0x1234);
    wr32(0x40E, 0x89ABCDEF);
    CHECK_EQ(rd32(0x408), 0x34000000, "dword [0x408] after word store at 0x40b");
    CHECK_EQ(rd32(0x40C), 0xCDEF0012, "dword [0x40c] after dword store at 0x40e");
    CHECK_EQ(rd32(0x410), 0x000089AB, "dword [0x410]");

    /* The 4 KiB boundary between 0xB8FFF and 0xB9000. */
    wr32(0xFFE, 0xCAFEF00D);
    CHECK_EQ(rd32(0xFFE), 0xCAFEF00D, "dword [0xffe] (crosses 4 KiB)");
    CHECK_EQ(rd32(0xFFC), 0xF00D0000, "dword [0xffc]");
    CHECK_EQ(rd32(0x1000), 0x0000CAFE, "dword [0x1000]");
    CHECK_EQ(rd16(0xFFF), 0xFEF0, "word [0xfff] (crosses 4 KiB)");
    wr16(0xFFF, 0x7788);
    CHECK_EQ(rd32(0xFFE), 0xCA77880D, "dword [0xffe] after word store at 0xfff");
    CHECK_EQ(rd32(0xFFD), 0x77880D00, "dword [0xffd]");
    CHECK_EQ(rd8(0x1000), 0x77, "byte [0x1000]");

    /* The last bytes of the window. */
    wr32(0x7FFC, 0x0BADF00D);
    CHECK_EQ(rd32(0x7FFC), 0x0BADF00D, "dword [0x7ffc] (last of the window)");
    wr8(0x7FFF, 0xE1);
    CHECK_EQ(rd32(0x7FFC), 0xE1ADF00D, "dword [0x7ffc] after byte store at 0x7fff");

    /* moffs forms (A0-A3) and ModRM disp32, register and immediate
     * sources, AH and BH. */
    uint32_t a = 0x600DF00D, c, b = 0x0000C300;
    __asm__ volatile("movl %%eax, 0xB8440\n\t" /* A3 */
                     "movl 0xB8440, %%ecx\n\t" /* 8B 0D */
                     "movb $0xA5, %%al\n\t"
                     "movb %%al, 0xB8445\n\t" /* A2 */
                     "movw 0xB8444, %%ax"     /* 66 A1 */
                     : "+a"(a), "=&c"(c)
                     :
                     : "memory");
    CHECK_EQ(c, 0x600DF00D, "mov [abs], eax (A3); mov ecx, [abs]");
    CHECK_EQ(a, 0x600DA500, "mov [abs], al (A2); mov ax, [abs] (66 A1)");
    __asm__ volatile("movb 0xB8443, %%al" : "+a"(a) : : "memory"); /* A0 */
    CHECK_EQ(a, 0x600DA560, "mov al, [abs] (A0)");
    __asm__ volatile("movl %%ecx, 0xB8444" : : "c"(0x12345678) : "memory"); /* 89 0D */
    CHECK_EQ(rd32(0x444), 0x12345678, "mov [abs], ecx (89 0D)");

    uint8_t *p = vga(0x440);
    __asm__ volatile("movl $0x11223344, 8(%0)\n\t"
                     "movb $0x77, 12(%0)\n\t"
                     "movw $0x5566, 15(%0)"
                     :
                     : "r"(p)
                     : "memory");
    CHECK_EQ(rd32(0x448), 0x11223344, "mov dword [m], imm32");
    CHECK_EQ(rd32(0x44C), 0x66000077, "mov byte [m], imm8; mov word [m+3], imm16");
    CHECK_EQ(rd8(0x450), 0x55, "byte [0x450] (high half of the word store)");

    a = 0x12345678;
    __asm__ volatile("movb 9(%2), %%ah\n\t"
                     "movb %%bh, 13(%2)"
                     : "+a"(a), "+b"(b)
                     : "r"(p)
                     : "memory");
    CHECK_EQ(a, 0x12343378, "mov ah, [m]");
    CHECK_EQ(rd32(0x44C), 0x6600C377, "mov [m], bh");

    sync_shadow(0x400, 0x80);
    sync_shadow(0xFF8, 0x18);
    sync_shadow(0x7FFC, 4);
}

/* ---- MMX, SSE, x87 ------------------------------------------------------------------ */

static void test_wide(void)
{
    static const uint32_t p16[4] = {0x33221100, 0x77665544, 0xBBAA9988, 0xFFEEDDCC};
    static const uint32_t ones[4] = {1, 2, 3, 4};
    uint32_t out[4];
    uint64_t q = 0x0123456789ABCDEFull, qo;

    for (uint32_t off = 0x480; off < 0x500; off += 4)
        wr32(off, 0);
    for (uint32_t off = 0xFF8; off < 0x1010; off += 4)
        wr32(off, 0);

    /* MMX movq store, load, and paddd with a memory source. */
    __asm__ volatile("movq %1, %%mm0\n\t"
                     "movq %%mm0, (%2)\n\t"
                     "movq (%2), %%mm1\n\t"
                     "paddd (%2), %%mm1\n\t"
                     "movq %%mm1, %0\n\t"
                     "emms"
                     : "=m"(qo)
                     : "m"(q), "r"(vga(0x480))
                     : "memory");
    CHECK_EQ(rd32(0x480), 0x89ABCDEF, "mmx movq [0x480], mm0: low dword");
    CHECK_EQ(rd32(0x484), 0x01234567, "mmx movq [0x480], mm0: high dword");
    CHECK_EQ(qo, 0x02468ACE13579BDEull, "mmx movq mm1, [0x480]; paddd mm1, [0x480]");

    __asm__ volatile("movq %1, %%mm0\n\t"
                     "movq %%mm0, (%2)\n\t"
                     "movq (%2), %%mm2\n\t"
                     "movq %%mm2, %0\n\t"
                     "emms"
                     : "=m"(qo)
                     : "m"(q), "r"(vga(0xFFD))
                     : "memory");
    CHECK_EQ(rd32(0xFFC), 0xABCDEF00, "mmx movq [0xffd] (crosses 4 KiB): dword [0xffc]");
    CHECK_EQ(rd32(0x1000), 0x23456789, "mmx movq [0xffd]: dword [0x1000]");
    CHECK_EQ(rd8(0x1004), 0x01, "mmx movq [0xffd]: byte [0x1004]");
    CHECK_EQ(qo, q, "mmx movq mm2, [0xffd]");

    /* SSE movq: the store writes 8 bytes, the load zeroes bits 64-127. */
    __asm__ volatile("movdqu %1, %%xmm0\n\t"
                     "movq %%xmm0, (%2)\n\t"
                     "pcmpeqd %%xmm1, %%xmm1\n\t"
                     "movq (%2), %%xmm1\n\t"
                     "movdqu %%xmm1, %0"
                     : "=m"(out)
                     : "m"(p16), "r"(vga(0x490))
                     : "memory");
    CHECK(rd32(0x490) == p16[0] && rd32(0x494) == p16[1] && rd32(0x498) == 0,
          "sse movq [0x490], xmm0: %08x %08x, then %08x", rd32(0x490), rd32(0x494), rd32(0x498));
    CHECK(out[0] == p16[0] && out[1] == p16[1] && out[2] == 0 && out[3] == 0,
          "sse movq xmm1, [0x490]: %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);

    /* 16 bytes across the 4 KiB boundary, stored and loaded unaligned. */
    __asm__ volatile("movdqu %1, %%xmm0\n\t"
                     "movdqu %%xmm0, (%2)\n\t"
                     "movdqu 2(%2), %%xmm2\n\t"
                     "movdqu %%xmm2, %0"
                     : "=m"(out)
                     : "m"(p16), "r"(vga(0xFF8))
                     : "memory");
    CHECK(rd32(0xFF8) == p16[0] && rd32(0xFFC) == p16[1] && rd32(0x1000) == p16[2] &&
              rd32(0x1004) == p16[3],
          "movdqu [0xff8], xmm0 (crosses 4 KiB): %08x %08x %08x %08x", rd32(0xFF8), rd32(0xFFC),
          rd32(0x1000), rd32(0x1004));
    CHECK(out[0] == 0x55443322 && out[1] == 0x99887766 && out[2] == 0xDDCCBBAA &&
              out[3] == 0x0000FFEE,
          "movdqu xmm2, [0xffa]: %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);

    /* movups unaligned (crossing dwords); movaps/movdqa/paddd aligned. */
    __asm__ volatile("movups %1, %%xmm3\n\t"
                     "movups %%xmm3, 0x23(%2)\n\t"
                     "xorps %%xmm4, %%xmm4\n\t"
                     "movups 0x23(%2), %%xmm4\n\t"
                     "movaps %%xmm4, 0x40(%2)\n\t"
                     "movdqa 0x40(%2), %%xmm5\n\t"
                     "movdqu %3, %%xmm6\n\t"
                     "paddd 0x40(%2), %%xmm6\n\t"
                     "movdqu %%xmm6, %0\n\t"
                     "movd %%xmm5, 0x51(%2)"
                     : "=m"(out)
                     : "m"(p16), "r"(vga(0x480)), "m"(ones)
                     : "memory");
    CHECK(rd32(0x4A0) == 0x00000000 && rd32(0x4A4) == 0x44332211 && rd32(0x4B0) == 0x00FFEEDD,
          "movups [0x4a3], xmm3: [0x4a0] %08x [0x4a4] %08x [0x4b0] %08x", rd32(0x4A0), rd32(0x4A4),
          rd32(0x4B0));
    CHECK(rd32(0x4C0) == p16[0] && rd32(0x4CC) == p16[3],
          "movups xmm4, [0x4a3]; movaps [0x4c0], xmm4: %08x .. %08x", rd32(0x4C0), rd32(0x4CC));
    CHECK(out[0] == 0x33221101 && out[1] == 0x77665546 && out[2] == 0xBBAA998B &&
              out[3] == 0xFFEEDDD0,
          "paddd xmm6, [0x4c0]: %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    CHECK(rd32(0x4D0) == 0x22110000 && rd32(0x4D4) == 0x00000033,
          "movd [0x4d1], xmm5: [0x4d0] %08x [0x4d4] %08x", rd32(0x4D0), rd32(0x4D4));

    /* x87: qword load, store and arithmetic source; tword across 4 KiB. */
    static const uint64_t pi = 0x400921FB54442D18ull; /* the double nearest pi */
    static const uint16_t mpi80[5] = {0xC235, 0x2168, 0xDAA2, 0xC90F, 0xC000}; /* -pi */
    uint64_t d;
    uint16_t t[5];
    __asm__ volatile("fldl %2\n\t"
                     "fstpl 0x60(%3)\n\t"
                     "fldl 0x60(%3)\n\t"
                     "faddl 0x60(%3)\n\t"
                     "fstpl %0\n\t"
                     "fldt %4\n\t"
                     "fstpt (%5)\n\t"
                     "fldt (%5)\n\t"
                     "fstpt %1"
                     : "=m"(d), "=m"(t)
                     : "m"(pi), "r"(vga(0x480)), "m"(mpi80), "r"(vga(0xFFB))
                     : "memory");
    CHECK(rd32(0x4E0) == 0x54442D18 && rd32(0x4E4) == 0x400921FB, "fstp qword [0x4e0]: %08x %08x",
          rd32(0x4E4), rd32(0x4E0));
    CHECK_EQ(d, 0x401921FB54442D18ull, "fld qword [0x4e0]; fadd qword [0x4e0] (2 pi)");
    CHECK(rd32(0xFF8) == 0x35221100 && rd32(0xFFC) == 0xA22168C2 && rd32(0x1000) == 0x00C90FDA &&
              rd32(0x1004) == 0xFFEEDDC0,
          "fstp tword [0xffb] (crosses 4 KiB): %08x %08x %08x %08x", rd32(0xFF8), rd32(0xFFC),
          rd32(0x1000), rd32(0x1004));
    CHECK(memcmp(t, mpi80, 10) == 0, "fld tword [0xffb]: %04x %04x %04x %04x %04x", t[4], t[3],
          t[2], t[1], t[0]);

    wr32(0x4F0, (uint32_t)-12345);
    __asm__ volatile("fildl 0x70(%0)\n\t"
                     "fistl 0x74(%0)\n\t"
                     "fistps 0x7A(%0)\n\t"
                     "fnstcw 0x78(%0)"
                     :
                     : "r"(vga(0x480))
                     : "memory");
    CHECK_EQ(rd32(0x4F4), (uint32_t)-12345, "fild dword [0x4f0]; fist dword [0x4f4]");
    CHECK_EQ(rd32(0x4F8), 0xCFC7037F, "fnstcw [0x4f8]; fistp word [0x4fa]");

    sync_shadow(0x480, 0x80);
    sync_shadow(0xFF8, 0x18);
}

/* ---- read-modify-write: one instruction, on the buffer and on its mirror ------- */

struct rmw_regs {
    uint32_t eax, ebx, ecx, edx, flags;
};
typedef void rmw_fn(uint8_t *m, struct rmw_regs *r);

/* ESI = the operand's address; EFLAGS in and out through the stack. */
#define RMW(name, insn)                                                           \
    static void name(uint8_t *m, struct rmw_regs *r)                              \
    {                                                                             \
        __asm__ volatile("pushl %[f]\n\tpopfl\n\t" insn "\n\tpushfl\n\tpopl %[f]" \
                         : "+a"(r->eax), "+b"(r->ebx), "+c"(r->ecx),              \
                           "+d"(r->edx), [f] "+D"(r->flags)                       \
                         : "S"(m)                                                 \
                         : "cc", "memory");                                       \
    }

RMW(r_add, "addl %%ecx, (%%esi)")
RMW(r_addi8, "addl $-1, (%%esi)")
RMW(r_add_load, "addl (%%esi), %%ecx")
RMW(r_adc, "adcl %%ecx, (%%esi)")
RMW(r_subi, "subl $0x10, (%%esi)")
RMW(r_sbb, "sbbl %%ecx, (%%esi)")
RMW(r_andi, "andl $0x0F0F0F0F, (%%esi)")
RMW(r_or, "orl %%ecx, (%%esi)")
RMW(r_xor, "xorl %%ecx, (%%esi)")
RMW(r_inc, "incl (%%esi)")
RMW(r_dec, "decl (%%esi)")
RMW(r_neg, "negl (%%esi)")
RMW(r_not, "notl (%%esi)")
RMW(r_cmpi, "cmpl $0x1234, (%%esi)")
RMW(r_cmp, "cmpl %%ecx, (%%esi)")
RMW(r_test, "testl $0x80000001, (%%esi)")
RMW(r_addb, "addb %%cl, (%%esi)")
RMW(r_subbi, "subb $1, (%%esi)")
RMW(r_incb, "incb (%%esi)")
RMW(r_negb, "negb (%%esi)")
RMW(r_xorbi, "xorb $0xFF, (%%esi)")
RMW(r_addw, "addw %%cx, (%%esi)")
RMW(r_adcwi, "adcw $0x1234, (%%esi)")
RMW(r_decw, "decw (%%esi)")
RMW(r_incw, "incw (%%esi)")
RMW(r_orwi, "orw $0x8000, (%%esi)")
RMW(r_shl1, "shll (%%esi)")
RMW(r_shlcl, "shll %%cl, (%%esi)")
RMW(r_shr1, "shrl (%%esi)")
RMW(r_sar3, "sarl $3, (%%esi)")
RMW(r_shrcl, "shrl %%cl, (%%esi)")
RMW(r_rol1, "roll (%%esi)")
RMW(r_rorcl, "rorl %%cl, (%%esi)")
RMW(r_rcl1, "rcll (%%esi)")
RMW(r_rcr4, "rcrl $4, (%%esi)")
RMW(r_rolw4, "rolw $4, (%%esi)")
RMW(r_shlb1, "shlb $1, (%%esi)")
RMW(r_shld, "shldl $8, %%ecx, (%%esi)")
RMW(r_shrd, "shrdl %%cl, %%edx, (%%esi)")
RMW(r_xchg, "xchgl %%ecx, (%%esi)")
RMW(r_xchgb, "xchgb %%cl, (%%esi)")
RMW(r_xchgw, "xchgw %%cx, (%%esi)")
RMW(r_lcmpxchg, "lock cmpxchgl %%ecx, (%%esi)")
RMW(r_cmpxchgb, "cmpxchgb %%cl, (%%esi)")
RMW(r_cmpxchgw, "cmpxchgw %%cx, (%%esi)")
RMW(r_lcmpxchg8b, "lock cmpxchg8b (%%esi)")
RMW(r_cmpxchg8b, "cmpxchg8b (%%esi)")
RMW(r_lxadd, "lock xaddl %%ecx, (%%esi)")
RMW(r_xaddb, "xaddb %%cl, (%%esi)")
RMW(r_xaddw, "xaddw %%cx, (%%esi)")
RMW(r_bti, "btl $4, (%%esi)")
RMW(r_btsi, "btsl $37, (%%esi)")
RMW(r_btri, "btrl $31, (%%esi)")
RMW(r_btcwi, "btcw $3, (%%esi)")
RMW(r_bts, "btsl %%ecx, (%%esi)")
RMW(r_btr, "btrl %%ecx, (%%esi)")
RMW(r_btc, "btcl %%ecx, (%%esi)")
RMW(r_btw, "btw %%cx, (%%esi)")
RMW(r_btrw, "btrw %%cx, (%%esi)")
RMW(r_lbts, "lock btsl %%ecx, (%%esi)")
RMW(r_setc, "setc (%%esi)")
RMW(r_setg, "setg (%%esi)")
RMW(r_setnz, "setnz (%%esi)")
RMW(r_movzb, "movzbl (%%esi), %%ecx")
RMW(r_movsb, "movsbl (%%esi), %%ecx")
RMW(r_movzw, "movzwl (%%esi), %%ecx")
RMW(r_movsw, "movswl (%%esi), %%ecx")
RMW(r_movsbw, "movsbw (%%esi), %%cx")
RMW(r_cmove, "cmovel (%%esi), %%ecx")
RMW(r_cmovbw, "cmovbw (%%esi), %%cx")
RMW(r_cmovg, "cmovgl (%%esi), %%ecx")
RMW(r_imul, "imull (%%esi), %%ecx")
RMW(r_mul, "mull (%%esi)")
RMW(r_div, "divl (%%esi)")

struct rmw_case {
    const char *text;
    rmw_fn *fn;
    uint16_t win;    /* VGA offset of the 16-byte window, 0: the next free one */
    uint8_t k;       /* offset of the operand in the window */
    uint32_t m0, m1; /* window dwords 0 and 1 before; dwords 2 and 3 are 0x5A5A5A5A */
    uint32_t eax, ecx, edx, ebx;
    uint32_t fin;   /* arithmetic flags before */
    uint32_t fmask; /* the flags the SDM defines after */
};

#define CROSS 0xFFC /* the window that holds the 4 KiB boundary at its byte 4 */

/* Locked forms (XCHG included) keep their operand inside the first 8 bytes of
 * a 16-byte-aligned window: on the RAM mirror they run natively under popek,
 * and a split lock would be slow, or fatal, on the host. */
static const struct rmw_case rmw_cases[] = {
    {"addl %ecx,(m)", r_add, 0, 0, 0x7FFFFFFF, 0x11111111, 0, 1, 0, 0, 0, F_ALL},
    {"addl $-1,(m)", r_addi8, 0, 1, 0x00000100, 0x22222200, 0, 0, 0, 0, 0, F_ALL},
    {"addl (m),%ecx", r_add_load, 0, 2, 0x56780000, 0x00001234, 0, 0x80000000, 0, 0, 0, F_ALL},
    {"adcl %ecx,(m)", r_adc, 0, 0, 0x00000000, 0x33333333, 0, 0x7FFFFFFF, 0, 0, 0x01, F_ALL},
    {"subl $0x10,(m)", r_subi, 0, 4, 0x44444444, 0x00000005, 0, 0, 0, 0, 0, F_ALL},
    {"sbbl %ecx,(m)", r_sbb, 0, 0, 0x80000000, 0x55555555, 0, 0, 0, 0, 0x01, F_ALL},
    {"andl $0x0F0F0F0F,(m)", r_andi, 0, 0, 0xF0F0F0F0, 0, 0, 0, 0, 0, 0x8D5, F_LOGIC},
    {"orl %ecx,(m)", r_or, 0, 4, 0, 0x00FF0000, 0, 0x80000001, 0, 0, 0, F_LOGIC},
    {"xorl %ecx,(m)", r_xor, 0, 0, 0x5A5A5A5A, 0, 0, 0x5A5A5A5A, 0, 0, 0x881, F_LOGIC},
    {"incl (m)", r_inc, 0, 0, 0xFFFFFFFF, 0, 0, 0, 0, 0, 0x01, F_ALL},
    {"decl (m)", r_dec, 0, 4, 0, 0x80000000, 0, 0, 0, 0, 0x01, F_ALL},
    {"negl (m)", r_neg, 0, 0, 0x80000000, 0, 0, 0, 0, 0, 0, F_ALL},
    {"negl (m)", r_neg, 0, 4, 0x66666666, 0, 0, 0, 0, 0, 0x8D5, F_ALL},
    {"notl (m)", r_not, 0, 0, 0x0F0F1234, 0, 0, 0, 0, 0, 0x8D5, F_ALL},
    {"cmpl $0x1234,(m)", r_cmpi, 0, 0, 0x00001234, 0, 0, 0, 0, 0, 0, F_ALL},
    {"cmpl %ecx,(m)", r_cmp, 0, 0, 0x00000001, 0, 0, 2, 0, 0, 0, F_ALL},
    {"cmpl %ecx,(m)", r_cmp, 0, 3, 0x00777777, 0xAB800000, 0, 1, 0, 0, 0, F_ALL},
    {"testl $0x80000001,(m)", r_test, 0, 0, 0x80000000, 0, 0, 0, 0, 0, 0x01, F_LOGIC},
    {"addb %cl,(m)", r_addb, 0, 3, 0x7F000000, 0, 0, 0x01, 0, 0, 0, F_ALL},
    {"subb $1,(m)", r_subbi, 0, 5, 0, 0x00008000, 0, 0, 0, 0, 0, F_ALL},
    {"incb (m)", r_incb, 0, 7, 0, 0xFF000000, 0, 0, 0, 0, 0, F_ALL},
    {"negb (m)", r_negb, 0, 2, 0x00010000, 0, 0, 0, 0, 0, 0, F_ALL},
    {"xorb $0xFF,(m)", r_xorbi, 0, 6, 0, 0x000F0000, 0, 0, 0, 0, 0, F_LOGIC},
    {"addw %cx,(m)", r_addw, 0, 3, 0xFF000000, 0x000000FF, 0, 0xABCD0001, 0, 0, 0, F_ALL},
    {"adcw $0x1234,(m)", r_adcwi, 0, 0, 0x00006DCB, 0, 0, 0, 0, 0, 0x01, F_ALL},
    {"decw (m)", r_decw, 0, 6, 0, 0x0000FFFF, 0, 0, 0, 0, 0, F_ALL},
    {"orw $0x8000,(m)", r_orwi, 0, 1, 0x00340012, 0, 0, 0, 0, 0, 0x800, F_LOGIC},
    {"shll (m)", r_shl1, 0, 0, 0xC0000001, 0, 0, 0, 0, 0, 0, F_LOGIC},
    {"shll %cl,(m)", r_shlcl, 0, 4, 0, 0x12345678, 0, 4, 0, 0, 0, F_SHN},
    {"shrl (m)", r_shr1, 0, 0, 0x80000001, 0, 0, 0, 0, 0, 0, F_LOGIC},
    {"sarl $3,(m)", r_sar3, 0, 0, 0x8000000F, 0, 0, 0, 0, 0, 0, F_SHN},
    {"shrl %cl,(m) cl=0", r_shrcl, 0, 0, 0x12345678, 0, 0, 0, 0, 0, 0x8D5, F_ALL},
    {"shll %cl,(m) cl=33", r_shlcl, 0, 0, 0x40000000, 0, 0, 33, 0, 0, 0, F_LOGIC},
    {"roll (m)", r_rol1, 0, 0, 0x80000001, 0, 0, 0, 0, 0, 0x44, F_ALL},
    {"rorl %cl,(m)", r_rorcl, 0, 0, 0x12345678, 0, 0, 8, 0, 0, 0x80, F_ROTN},
    {"rcll (m)", r_rcl1, 0, 0, 0x80000000, 0, 0, 0, 0, 0, 0x01, F_ALL},
    {"rcrl $4,(m)", r_rcr4, 0, 0, 0x00000018, 0, 0, 0, 0, 0, 0x01, F_ROTN},
    {"rolw $4,(m)", r_rolw4, 0, 2, 0x12340000, 0, 0, 0, 0, 0, 0, F_ROTN},
    {"shlb $1,(m)", r_shlb1, 0, 5, 0, 0x00008100, 0, 0, 0, 0, 0, F_LOGIC},
    {"shldl $8,%ecx,(m)", r_shld, 0, 0, 0x12345678, 0, 0, 0x9ABCDEF0, 0, 0, 0, F_SHN},
    {"shrdl %cl,%edx,(m)", r_shrd, 0, 0, 0x12345678, 0, 0, 12, 0xABCDEF01, 0, 0, F_SHN},
    {"xchgl %ecx,(m)", r_xchg, 0, 0, 0x11223344, 0, 0, 0x55667788, 0, 0, 0x8D5, F_ALL},
    {"xchgb %cl,(m)", r_xchgb, 0, 5, 0, 0x0000AB00, 0, 0x123456CD, 0, 0, 0, F_ALL},
    {"xchgw %cx,(m)", r_xchgw, 0, 2, 0xBEEF0000, 0, 0, 0x1234CAFE, 0, 0, 0, F_ALL},
    {"lock cmpxchgl %ecx,(m)", r_lcmpxchg, 0, 0, 0xCAFEBABE, 0, 0xCAFEBABE, 0x0D15EA5E, 0, 0, 0,
     F_ALL},
    {"lock cmpxchgl %ecx,(m)", r_lcmpxchg, 0, 4, 0, 2, 1, 0x0D15EA5E, 0, 0, 0, F_ALL},
    {"cmpxchgb %cl,(m)", r_cmpxchgb, 0, 1, 0x00008000, 0, 0x80, 0x7F, 0, 0, 0, F_ALL},
    {"cmpxchgw %cx,(m)", r_cmpxchgw, 0, 2, 0x80000000, 0, 0x11110001, 0x2222, 0, 0, 0, F_ALL},
    {"lock cmpxchg8b (m)", r_lcmpxchg8b, 0, 0, 0x89ABCDEF, 0x01234567, 0x89ABCDEF, 0xFEDCBA98,
     0x01234567, 0x76543210, 0x895, F_ALL},
    {"cmpxchg8b (m)", r_cmpxchg8b, 0, 0, 0x22222222, 0x11111111, 0, 0x33333333, 0, 0x44444444,
     0x8D5, F_ALL},
    {"lock xaddl %ecx,(m)", r_lxadd, 0, 4, 0, 0xFFFFFFF0, 0, 0x20, 0, 0, 0, F_ALL},
    {"xaddb %cl,(m)", r_xaddb, 0, 3, 0x7F000000, 0, 0, 0x01, 0, 0, 0, F_ALL},
    {"xaddw %cx,(m)", r_xaddw, 0, 6, 0, 0x12340000, 0, 0x4321, 0, 0, 0, F_ALL},
    {"btl $4,(m)", r_bti, 0, 0, 0x00000010, 0, 0, 0, 0, 0, 0x40, F_BT},
    {"btsl $37,(m)", r_btsi, 0, 0, 0, 0, 0, 0, 0, 0, 0, F_BT},
    {"btrl $31,(m)", r_btri, 0, 0, 0x80000001, 0, 0, 0, 0, 0, 0, F_BT},
    {"btcw $3,(m)", r_btcwi, 0, 2, 0x00F00000, 0, 0, 0, 0, 0, 0x41, F_BT},
    {"btsl %ecx,(m) ecx=37", r_bts, 0, 0, 0, 0, 0, 37, 0, 0, 0, F_BT},
    {"btrl %ecx,(m) ecx=-3", r_btr, 0, 4, 0xFFFFFFFF, 0, 0, (uint32_t)-3, 0, 0, 0, F_BT},
    {"btcl %ecx,(m) ecx=63", r_btc, 0, 0, 0, 0x80000000, 0, 63, 0, 0, 0x40, F_BT},
    {"btw %cx,(m) cx=17", r_btw, 0, 0, 0x00020000, 0, 0, 0xFFFF0011, 0, 0, 0, F_BT},
    {"btrw %cx,(m) cx=-1", r_btrw, 0, 4, 0x80000000, 0, 0, 0x0000FFFF, 0, 0, 0, F_BT},
    {"lock btsl %ecx,(m) ecx=7", r_lbts, 0, 0, 0, 0, 0, 7, 0, 0, 0, F_BT},
    {"setc (m)", r_setc, 0, 1, 0xAAAAAAAA, 0, 0, 0, 0, 0, 0x01, F_ALL},
    {"setg (m)", r_setg, 0, 2, 0xAAAAAAAA, 0, 0, 0, 0, 0, 0x80, F_ALL},
    {"setnz (m)", r_setnz, 0, 7, 0, 0xAAAAAAAA, 0, 0, 0, 0, 0, F_ALL},
    {"movzbl (m),%ecx", r_movzb, 0, 3, 0x80000000, 0, 0, 0xFFFFFFFF, 0, 0, 0, F_ALL},
    {"movsbl (m),%ecx", r_movsb, 0, 3, 0x80000000, 0, 0, 0, 0, 0, 0, F_ALL},
    {"movzwl (m),%ecx", r_movzw, 0, 3, 0x80000000, 0x000000FE, 0, 0xFFFFFFFF, 0, 0, 0, F_ALL},
    {"movswl (m),%ecx", r_movsw, 0, 3, 0x80000000, 0x000000FE, 0, 0, 0, 0, 0, F_ALL},
    {"movsbw (m),%cx", r_movsbw, 0, 6, 0, 0x00810000, 0, 0x12345678, 0, 0, 0, F_ALL},
    {"cmovel (m),%ecx ZF=1", r_cmove, 0, 1, 0x44332211, 0x88776655, 0, 0xEEEEEEEE, 0, 0, 0x40,
     F_ALL},
    {"cmovel (m),%ecx ZF=0", r_cmove, 0, 1, 0x44332211, 0x88776655, 0, 0xEEEEEEEE, 0, 0, 0, F_ALL},
    {"cmovbw (m),%cx", r_cmovbw, 0, 1, 0x44332211, 0, 0, 0xEEEEEEEE, 0, 0, 0x01, F_ALL},
    {"cmovgl (m),%ecx", r_cmovg, 0, 5, 0, 0x88776655, 0, 0xEEEEEEEE, 0, 0, 0, F_ALL},
    {"imull (m),%ecx", r_imul, 0, 0, 0x00010000, 0, 0, 0x00010000, 0, 0, 0, F_MUL},
    {"mull (m)", r_mul, 0, 4, 0, 2, 0xFFFFFFFF, 0, 0, 0, 0, F_MUL},
    {"divl (m)", r_div, 0, 0, 0x10, 0, 0x00000005, 0, 1, 0, 0, 0},
    /* Operands across the 4 KiB boundary (window 0xffc, boundary at byte 4). */
    {"addl %ecx,(m) @0xffe", r_add, CROSS, 2, 0x56780000, 0x00001234, 0, 0x11111111, 0, 0, 0,
     F_ALL},
    {"incw (m) @0xfff", r_incw, CROSS, 3, 0xFF000000, 0, 0, 0, 0, 0, 0, F_ALL},
    {"notl (m) @0xffd", r_not, CROSS, 1, 0x00FF00FF, 0x12345678, 0, 0, 0, 0, 0x8D5, F_ALL},
    {"cmpl $0x1234,(m) @0xffe", r_cmpi, CROSS, 2, 0x12340000, 0, 0, 0, 0, 0, 0, F_ALL},
    {"btcl %ecx,(m) @0xffd ecx=24", r_btc, CROSS, 1, 0, 0x000000FE, 0, 24, 0, 0, 0, F_BT},
    {"xaddw %cx,(m) @0xfff", r_xaddw, CROSS, 3, 0xFF000000, 0x0000007F, 0, 0x0001, 0, 0, 0, F_ALL},
    {"shrdl %cl,%edx,(m) @0xffe", r_shrd, CROSS, 2, 0x56780000, 0x00001234, 0, 4, 0xF, 0, 0, F_SHN},
    {"movzwl (m),%ecx @0xfff", r_movzw, CROSS, 3, 0xBB000000, 0x000000AA, 0, 0, 0, 0, 0, F_ALL},
    {"cmpxchg8b (m) @0xffc", r_cmpxchg8b, CROSS, 0, 0x11111111, 0x22222222, 0x11111111, 0x44444444,
     0x22222222, 0x33333333, 0, F_ALL},
};

#define RMW_FIRST 0x500
#define RMW_END   0xC00

static void run_rmw(const struct rmw_case *c, uint8_t *w, struct rmw_regs *r)
{
    uint32_t init[4] = {c->m0, c->m1, 0x5A5A5A5A, 0x5A5A5A5A};
    for (unsigned i = 0; i < 4; i++)
        *(volatile uint32_t *)(w + 4 * i) = init[i];
    *r = (struct rmw_regs){c->eax, c->ebx, c->ecx, c->edx, EFLAGS_BIT1 | c->fin};
    c->fn(w + c->k, r);
    r->flags &= c->fmask;
}

static void test_rmw(void)
{
    uint32_t next = RMW_FIRST;
    for (unsigned i = 0; i < sizeof(rmw_cases) / sizeof(rmw_cases[0]); i++) {
        const struct rmw_case *c = &rmw_cases[i];
        uint32_t off = c->win;
        if (!off) {
            off = next;
            next += 16;
            if (off + 16 > RMW_END) {
                rt_fail("%s: no window left", c->text);
                continue;
            }
        }
        struct rmw_regs got, want;
        run_rmw(c, vga(off), &got);
        run_rmw(c, shadow + off, &want);
        uint32_t w0 = rd32(off), w1 = rd32(off + 4);
        bool ok = same_as_shadow(off, 16) && got.eax == want.eax && got.ebx == want.ebx &&
                  got.ecx == want.ecx && got.edx == want.edx && got.flags == want.flags;
        CHECK(ok, "%-28s mem %08x %08x eax %08x ecx %08x edx %08x fl %03x", c->text, w0, w1,
              got.eax, got.ecx, got.edx, got.flags);
        if (!ok)
            rt_printf("     in RAM: mem %08x %08x %08x %08x eax %08x ebx %08x ecx %08x edx %08x "
                      "fl %03x\n",
                      *(uint32_t *)(shadow + off), *(uint32_t *)(shadow + off + 4),
                      *(uint32_t *)(shadow + off + 8), *(uint32_t *)(shadow + off + 12), want.eax,
                      want.ebx, want.ecx, want.edx, want.flags);
    }
}

/* ---- PUSH m, POP m, CALL m, far CALL m, JMP m ------------------------------------ */

/* Targets of the indirect calls: fixed effects on EAX only. */
__asm__(".text\n"
        "mmio_add7:\n\t"
        "addl $7, %eax\n\t"
        "ret\n"
        "mmio_far_target:\n\t"
        "movl $0x2468ACE0, %eax\n\t"
        "lret\n");
extern char mmio_add7[], mmio_far_target[];

static void test_stack_forms(void)
{
    uint8_t *b = vga(0xC00);
    uint32_t a, w = 0xFFFFFFFF;

    for (uint32_t off = 0xC00; off < 0xC40; off += 4)
        wr32(off, 0);
    wr32(0xC00, 0xFEEDC0DE);
    __asm__ volatile("pushl (%1)\n\tpopl %0" : "=r"(a) : "r"(b) : "memory");
    CHECK_EQ(a, 0xFEEDC0DE, "push dword [0xc00]");
    __asm__ volatile("pushw 2(%1)\n\tpopw %w0" : "+r"(w) : "r"(b) : "memory");
    CHECK_EQ(w, 0xFFFFFEED, "push word [0xc02]; pop cx");
    __asm__ volatile("pushl $0x13579BDF\n\tpopl 4(%0)" : : "r"(b) : "memory");
    CHECK_EQ(rd32(0xC04), 0x13579BDF, "pop dword [0xc04]");
    __asm__ volatile("pushl $0xAAAA4321\n\tpopw 9(%0)\n\tpopw 11(%0)" : : "r"(b) : "memory");
    CHECK(rd32(0xC08) == 0xAA432100 && rd32(0xC0C) == 0x000000AA,
          "pop word [0xc09]; pop word [0xc0b]: %08x %08x", rd32(0xC08), rd32(0xC0C));

    wr32(0xC10, (uint32_t)mmio_add7);
    a = 1;
    __asm__ volatile("call *(%1)" : "+a"(a) : "r"(vga(0xC10)) : "cc", "memory");
    CHECK_EQ(a, 8, "call [0xc10] (eax + 7)");
    __asm__ volatile("call *0xB8C10" : "+a"(a) : : "cc", "memory");
    CHECK_EQ(a, 15, "call [abs 0xb8c10] (eax + 7)");

    wr32(0xC14, (uint32_t)mmio_far_target);
    wr16(0xC18, RT_SEL_KCODE);
    __asm__ volatile("lcall *(%1)" : "=a"(a) : "r"(vga(0xC14)) : "memory");
    CHECK_EQ(a, 0x2468ACE0, "call far [0xc14] (0x08:target)");

    __asm__ volatile("movl $1f, (%1)\n\t"
                     "xorl %0, %0\n\t"
                     "jmp *(%1)\n\t"
                     "movl $0xBAD, %0\n"
                     "1:\taddl $0x11, %0"
                     : "=&r"(a)
                     : "r"(vga(0xC1C))
                     : "cc", "memory");
    CHECK_EQ(a, 0x11, "jmp [0xc1c] (skips one instruction)");

    sync_shadow(0xC00, 0x40);
}

/* ---- string instructions ------------------------------------------------------------ */

struct sregs {
    uint32_t esi, edi, ecx, eax, flags;
};
typedef void sop_fn(struct sregs *r);

#define SOP(name, insn)                                                                  \
    static void name(struct sregs *r)                                                    \
    {                                                                                    \
        __asm__ volatile("pushl %[f]\n\tpopfl\n\t" insn "\n\tpushfl\n\tpopl %[f]\n\tcld" \
                         : "+S"(r->esi), "+D"(r->edi), "+c"(r->ecx),                     \
                           "+a"(r->eax), [f] "+r"(r->flags)                              \
                         :                                                               \
                         : "cc", "memory");                                              \
    }

SOP(s_rep_stosb, "rep stosb")
SOP(s_rep_stosw, "rep stosw")
SOP(s_rep_stosl, "rep stosl")
SOP(s_stosb, "stosb")
SOP(s_rep_movsb, "rep movsb")
SOP(s_rep_movsw, "rep movsw")
SOP(s_rep_movsl, "rep movsl")
SOP(s_movsl, "movsl")
SOP(s_movsw, "movsw")
SOP(s_lodsl, "lodsl")
SOP(s_rep_lodsb, "rep lodsb")
SOP(s_cmpsb, "cmpsb")
SOP(s_repe_cmpsb, "repe cmpsb")
SOP(s_repe_cmpsl, "repe cmpsl")
SOP(s_repne_cmpsb, "repne cmpsb")
SOP(s_scasw, "scasw")
SOP(s_repne_scasl, "repne scasl")
SOP(s_repe_scasl, "repe scasl")
SOP(s_repne_scasb, "repne scasb")
SOP(s_repne_scasw, "repne scasw")

/* Operand addresses: V(off) is the VGA offset off, R(off) is ram + off. */
#define VTAG   0x80000000u
#define V(off) (VTAG | (off))
#define R(off) (off)

enum { USES_SI = 1, USES_DI = 2 };

struct scase {
    const char *text;
    sop_fn *fn;
    unsigned uses;
    bool df;
    uint32_t esi, edi, ecx, eax;
    uint32_t fin;
    uint32_t dst, dlen; /* the region to checksum after (tagged), 0: none */
};

static const struct scase scases[] = {
    {"rep stosb", s_rep_stosb, USES_DI, false, 0, V(0x2780), 0x105, 0x3C, 0x8D5, V(0x277C), 0x10C},
    {"rep stosw", s_rep_stosw, USES_DI, true, 0, V(0x2400), 0x81, 0xA1B2, 0, V(0x22FC), 0x108},
    {"rep stosd", s_rep_stosl, USES_DI, false, 0, V(0x2FF2), 0x10, 0xDEADBEEF, 0, V(0x2FF0), 0x44},
    {"stosb", s_stosb, USES_DI, false, 0, V(0x2500), 7, 0x11, 0, V(0x2500), 4},
    {"rep movsb ram->vga", s_rep_movsb, USES_SI | USES_DI, false, R(0x10), V(0x5F80), 0x123, 0, 0,
     V(0x5F7C), 0x12C},
    {"rep movsd vga->ram", s_rep_movsl, USES_SI | USES_DI, false, V(0x1FF0), R(0x400), 0x48, 0, 0,
     R(0x3FC), 0x128},
    {"rep movsw vga->vga", s_rep_movsw, USES_SI | USES_DI, false, V(0x1800), V(0x6F00), 0x91, 0, 0,
     V(0x6EFC), 0x12A},
    {"rep movsb vga->vga", s_rep_movsb, USES_SI | USES_DI, true, V(0x18FF), V(0x35FF), 0x100, 0, 0,
     V(0x34FC), 0x108},
    {"rep movsd ram->vga", s_rep_movsl, USES_SI | USES_DI, true, R(0x8FC), V(0x37FC), 0x40, 0,
     0x8D5, V(0x36FC), 0x108},
    {"rep movsd vga->ram", s_rep_movsl, USES_SI | USES_DI, true, V(0x2010), R(0xA40), 0x10, 0, 0,
     R(0xA00), 0x48},
    {"rep movsb overlap +1", s_rep_movsb, USES_SI | USES_DI, false, V(0x3800), V(0x3801), 0x20, 0,
     0, V(0x3800), 0x24},
    {"rep movsd overlap -4", s_rep_movsl, USES_SI | USES_DI, true, V(0x3880), V(0x3884), 0x10, 0, 0,
     V(0x3840), 0x4C},
    {"movsd", s_movsl, USES_SI | USES_DI, false, V(0x1900), V(0x0FFE), 9, 0, 0, V(0x0FFC), 8},
    {"movsw", s_movsw, USES_SI | USES_DI, true, V(0x1A01), V(0x2603), 9, 0, 0, V(0x2600), 8},
    {"rep movsd ecx=0", s_rep_movsl, USES_SI | USES_DI, false, V(0x1800), V(0x2700), 0, 0, 0x8D5,
     V(0x2700), 4},
    {"lodsd", s_lodsl, USES_SI, false, V(0x1804), 0, 9, 0x55555555, 0, 0, 0},
    {"lodsd", s_lodsl, USES_SI, true, V(0x1FFE), 0, 9, 0x55555555, 0, 0, 0},
    {"rep lodsb", s_rep_lodsb, USES_SI, false, V(0x1810), 0, 5, 0x55555555, 0, 0, 0},
    {"cmpsb", s_cmpsb, USES_SI | USES_DI, false, V(0x1800), V(0x1801), 9, 0, 0, 0, 0},
    {"repe cmpsb vga,ram", s_repe_cmpsb, USES_SI | USES_DI, false, V(0x3A00), R(0xC00), 0x40, 0, 0,
     0, 0},
    {"repe cmpsd vga,vga", s_repe_cmpsl, USES_SI | USES_DI, false, V(0x3B00), V(0x3B40), 0x10, 0, 0,
     0, 0},
    {"repne cmpsb vga,ram", s_repne_cmpsb, USES_SI | USES_DI, true, V(0x3C3F), R(0xD3F), 0x40, 0, 0,
     0, 0},
    {"scasw", s_scasw, USES_DI, false, 0, V(0x3F40), 9, 0x0100, 0, 0, 0},
    {"repne scasd", s_repne_scasl, USES_DI, false, 0, V(0x3D00), 20, 0x00091234, 0, 0, 0},
    {"repe scasd", s_repe_scasl, USES_DI, false, 0, V(0x3E00), 12, 0x55AA55AA, 0, 0, 0},
    {"repne scasb", s_repne_scasb, USES_DI, true, 0, V(0x3F3F), 0x40, 0x05, 0, 0, 0},
    {"repne scasw", s_repne_scasw, USES_DI, false, 0, V(0x3F40), 8, 0xFFFF, 0, 0, 0},
};

static uint32_t resolve(uint32_t a, bool mirror)
{
    if (!(a & VTAG))
        return (uint32_t)ram + a;
    return (mirror ? (uint32_t)shadow : (uint32_t)vga(0)) + (a & ~VTAG);
}

/* Prints a tagged address back as v+<off> or r+<off>. */
static void fmt_addr(char *buf, uint32_t p, bool mirror)
{
    uint32_t vbase = mirror ? (uint32_t)shadow : VGA_BASE;
    if (p - vbase < VGA_SIZE)
        rt_snprintf(buf, 8, "v+%04x", p - vbase);
    else
        rt_snprintf(buf, 8, "r+%04x", p - (uint32_t)ram);
}

static void string_setup(void)
{
    for (uint32_t i = 0x1800; i < 0x2200; i++)
        put8(i, pat_a(i));
    for (uint32_t i = 0x3800; i < 0x3900; i++)
        put8(i, pat_a(i));
    for (uint32_t i = 0; i < sizeof(ram); i++)
        ram[i] = pat_b(i);
    /* repe cmpsb: equal except byte 0x25. */
    for (uint32_t i = 0; i < 0x40; i++)
        put8(0x3A00 + i, ram[0xC00 + i] ^ (i == 0x25 ? 0x80 : 0));
    /* repe cmpsd: two equal 64-byte blocks. */
    for (uint32_t i = 0; i < 0x40; i++) {
        put8(0x3B00 + i, pat_a(i));
        put8(0x3B40 + i, pat_a(i));
    }
    /* repne cmpsb: different everywhere except byte 0x11. */
    for (uint32_t i = 0; i < 0x40; i++)
        put8(0x3C00 + i, ram[0xD00 + i] ^ (i == 0x11 ? 0 : 0x01));
    /* repne scasd: distinct dwords, index 9 is the one searched. */
    for (uint32_t i = 0; i < 20; i++)
        put32(0x3D00 + 4 * i, (i << 16) | 0x1234);
    /* repe scasd: seven equal dwords, then one that differs by one. */
    for (uint32_t i = 0; i < 12; i++)
        put32(0x3E00 + 4 * i, i == 7 ? 0x55AA55AB : 0x55AA55AA);
    /* repne scasb DF=1: bytes 0..0x3f; scasw: words 0x0100 + i. */
    for (uint32_t i = 0; i < 0x40; i++)
        put8(0x3F00 + i, (uint8_t)i);
    for (uint32_t i = 0; i < 8; i++) {
        put8(0x3F40 + 2 * i, (uint8_t)i);
        put8(0x3F41 + 2 * i, 0x01);
    }
}

static void test_strings(void)
{
    string_setup();
    for (unsigned i = 0; i < sizeof(scases) / sizeof(scases[0]); i++) {
        const struct scase *c = &scases[i];
        uint32_t fin = EFLAGS_BIT1 | c->fin | (c->df ? EFLAGS_DF : 0);
        struct sregs got = {resolve(c->esi, false), resolve(c->edi, false), c->ecx, c->eax, fin};
        struct sregs want = {resolve(c->esi, true), resolve(c->edi, true), c->ecx, c->eax, fin};

        c->fn(&got);
        uint32_t ram_sum = fnv(ram, sizeof(ram));
        uint32_t sum = 0;
        if (c->dlen)
            sum = fnv((const volatile uint8_t *)resolve(c->dst, false), c->dlen);
        c->fn(&want);

        char gs[8], gd[8], ws[8], wd[8];
        fmt_addr(gs, got.esi, false);
        fmt_addr(gd, got.edi, false);
        fmt_addr(ws, want.esi, true);
        fmt_addr(wd, want.edi, true);
        got.flags &= F_ALL | EFLAGS_DF;
        want.flags &= F_ALL | EFLAGS_DF;
        bool regs_ok = (!(c->uses & USES_SI) || strcmp(gs, ws) == 0) &&
                       (!(c->uses & USES_DI) || strcmp(gd, wd) == 0) && got.ecx == want.ecx &&
                       got.eax == want.eax && got.flags == want.flags;
        bool mem_ok = fnv(ram, sizeof(ram)) == ram_sum;
        if (c->dlen && (c->dst & VTAG))
            mem_ok = mem_ok && same_as_shadow(c->dst & ~VTAG, c->dlen);

        char line[120];
        int n = rt_snprintf(line, sizeof(line), "%-20s DF=%d", c->text, c->df);
        if (c->uses & USES_SI)
            n += rt_snprintf(line + n, sizeof(line) - n, " esi=%s", gs);
        if (c->uses & USES_DI)
            n += rt_snprintf(line + n, sizeof(line) - n, " edi=%s", gd);
        n += rt_snprintf(line + n, sizeof(line) - n, " ecx=%x eax=%08x fl=%03x", got.ecx, got.eax,
                         got.flags & F_ALL);
        if (c->dlen)
            rt_snprintf(line + n, sizeof(line) - n, " sum=%08x", sum);
        CHECK(regs_ok && mem_ok, "%s", line);
        if (!regs_ok)
            rt_printf("     in RAM: esi=%s edi=%s ecx=%x eax=%08x fl=%03x\n", ws, wd, want.ecx,
                      want.eax, want.flags);
        if (!mem_ok)
            rt_printf("     memory differs from the same instruction on RAM\n");
    }
    CHECK(rd8(0x277F) == 0x07 && rd8(0x2780) == 0x3C && rd8(0x2884) == 0x3C && rd8(0x2885) == 0x07,
          "rep stosb: bytes [0x277f] [0x2780] [0x2884] [0x2885] = %02x %02x %02x %02x", rd8(0x277F),
          rd8(0x2780), rd8(0x2884), rd8(0x2885));
    CHECK(rd16(0x22FE) == 0x0720 && rd16(0x2300) == 0xA1B2 && rd16(0x2400) == 0xA1B2 &&
              rd16(0x2402) == 0x0720,
          "rep stosw DF=1: words [0x22fe] [0x2300] [0x2400] [0x2402] = %04x %04x %04x %04x",
          rd16(0x22FE), rd16(0x2300), rd16(0x2400), rd16(0x2402));
    CHECK(rd32(0x2FF0) == 0xBEEF0720 && rd32(0x2FFC) == 0xBEEFDEAD && rd32(0x3030) == 0x0720DEAD,
          "rep stosd from 0x2ff2: dwords [0x2ff0] [0x2ffc] [0x3030] = %08x %08x %08x", rd32(0x2FF0),
          rd32(0x2FFC), rd32(0x3030));
    bool copy_ok = true;
    for (uint32_t i = 0; i < 0x123; i++)
        copy_ok = copy_ok && rd8(0x5F80 + i) == ram[0x10 + i];
    CHECK(copy_ok, "rep movsb ram->vga: 0x123 bytes equal to their source");
    copy_ok = true;
    for (uint32_t i = 0; i < 0x91 * 2; i++)
        copy_ok = copy_ok && rd8(0x6F00 + i) == pat_a(0x1800 + i);
    CHECK(copy_ok, "rep movsw vga->vga: 0x91 words equal to their source");
    copy_ok = true;
    for (uint32_t i = 0; i < 0x20; i++)
        copy_ok = copy_ok && rd8(0x3801 + i) == pat_a(0x3800);
    CHECK(copy_ok && rd8(0x3821) == pat_a(0x3821),
          "rep movsb overlap +1: byte 0x%02x copied forward 0x20 times", pat_a(0x3800));
    /* DF=1 from the top: every element is read before it is overwritten. */
    copy_ok = true;
    for (uint32_t i = 0x3848; i < 0x3888; i++)
        copy_ok = copy_ok && rd8(i) == pat_a(i - 4);
    for (uint32_t i = 0x3844; i < 0x3848; i++)
        copy_ok = copy_ok && rd8(i) == pat_a(i);
    CHECK(copy_ok, "rep movsd DF=1 overlap: 16 dwords moved up by 4 bytes");
}

/* ---- the same instruction many times ------------------------------------------------ */

__attribute__((noinline, noclone)) static void add5(uint32_t *p)
{
    __asm__ volatile("addl $5, %0" : "+m"(*p) : : "cc");
}

__attribute__((noinline, noclone)) static void copy8d(void *dst, const void *src)
{
    uint32_t n = 8;
    __asm__ volatile("rep movsl" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

#define N 200

static void test_loops(void)
{
    uint32_t a, c, d, bad;

    /* mov [0xB8000 + ecx*4 - 4], eax for ecx = 200..1. */
    __asm__ volatile("movl $200, %%ecx\n"
                     "1:\timull $0x9E3779B1, %%ecx, %%eax\n\t"
                     "movl %%eax, 0xB7FFC(,%%ecx,4)\n\t"
                     "decl %%ecx\n\t"
                     "jnz 1b"
                     :
                     :
                     : "eax", "ecx", "cc", "memory");
    /* add dword [0xB8000 + ecx*4 - 4], 3 */
    __asm__ volatile("movl $200, %%ecx\n"
                     "1:\taddl $3, 0xB7FFC(,%%ecx,4)\n\t"
                     "decl %%ecx\n\t"
                     "jnz 1b"
                     :
                     :
                     : "ecx", "cc", "memory");
    bad = 0;
    for (uint32_t i = 0; i < N; i++)
        bad += rd32(4 * i) != (i + 1) * 0x9E3779B1u + 3;
    CHECK(bad == 0,
          "200x mov [abs+ecx*4], eax; 200x add [abs+ecx*4], 3: %u wrong, d[0]=%08x "
          "d[199]=%08x",
          bad, rd32(0), rd32(4 * 199));

    /* Loads, and flags of a load-op consumed by the next instruction. */
    __asm__ volatile("xorl %%eax, %%eax\n\t"
                     "xorl %%edx, %%edx\n\t"
                     "movl $200, %%ecx\n"
                     "1:\taddl 0xB7FFC(,%%ecx,4), %%eax\n\t"
                     "adcl $0, %%edx\n\t"
                     "decl %%ecx\n\t"
                     "jnz 1b"
                     : "=&a"(a), "=&d"(d)
                     :
                     : "ecx", "cc", "memory");
    uint64_t sum = 0;
    for (uint32_t i = 0; i < N; i++)
        sum += (i + 1) * 0x9E3779B1u + 3;
    CHECK(a == (uint32_t)sum && d == (uint32_t)(sum >> 32),
          "200x add eax, [abs+ecx*4]; adc edx, 0: edx:eax = %08x:%08x", d, a);
    __asm__ volatile("xorl %%eax, %%eax\n\t"
                     "movl $200, %%ecx\n"
                     "1:\tcmpl $0x80000000, 0xB7FFC(,%%ecx,4)\n\t"
                     "adcl $0, %%eax\n\t"
                     "decl %%ecx\n\t"
                     "jnz 1b"
                     : "=&a"(a)
                     :
                     : "ecx", "cc", "memory");
    c = 0;
    for (uint32_t i = 0; i < N; i++)
        c += (i + 1) * 0x9E3779B1u + 3 < 0x80000000u;
    CHECK(a == c, "200x cmp [abs+ecx*4], 0x80000000; adc eax, 0: %u below", a);

    /* One dword, 200 times: add with carries counted. */
    wr32(0x380, 0x12345678);
    __asm__ volatile("xorl %%eax, %%eax\n\t"
                     "movl $200, %%ecx\n"
                     "1:\taddl %%edx, (%%esi)\n\t"
                     "adcl $0, %%eax\n\t"
                     "decl %%ecx\n\t"
                     "jnz 1b"
                     : "=&a"(a)
                     : "S"(vga(0x380)), "d"(0x9E3779B9)
                     : "ecx", "cc", "memory");
    const uint64_t want = 0x12345678ull + 200ull * 0x9E3779B9ull;
    CHECK(rd32(0x380) == (uint32_t)want && a == (uint32_t)(want >> 32),
          "200x add [0x380], 0x9e3779b9; adc eax, 0: [0x380]=%08x carries=%u", rd32(0x380), a);

    /* inc byte, ZF counted. */
    wr8(0x384, 0x80);
    __asm__ volatile("xorl %%edx, %%edx\n\t"
                     "movl $200, %%ecx\n"
                     "1:\tincb (%%esi)\n\t"
                     "jnz 2f\n\t"
                     "incl %%edx\n"
                     "2:\tdecl %%ecx\n\t"
                     "jnz 1b"
                     : "=&d"(d)
                     : "S"(vga(0x384))
                     : "ecx", "cc", "memory");
    CHECK(rd8(0x384) == 0x48 && d == 1, "200x inc byte [0x384] from 0x80: %02x, ZF %u times",
          rd8(0x384), d);

    /* lock xadd as a counter, the old values summed. */
    wr32(0x388, 0xFFFFFF80);
    __asm__ volatile("xorl %%edx, %%edx\n\t"
                     "movl $200, %%ecx\n"
                     "1:\tmovl $1, %%eax\n\t"
                     "lock xaddl %%eax, (%%esi)\n\t"
                     "addl %%eax, %%edx\n\t"
                     "decl %%ecx\n\t"
                     "jnz 1b"
                     : "=&d"(d)
                     : "S"(vga(0x388))
                     : "eax", "ecx", "cc", "memory");
    uint32_t olds = 0;
    for (uint32_t i = 0; i < N; i++)
        olds += 0xFFFFFF80u + i;
    CHECK(rd32(0x388) == 0x48 && d == olds, "200x lock xadd [0x388], 1: %08x, old values sum %08x",
          rd32(0x388), d);

    /* A compare-and-swap loop: load, add 3, lock cmpxchg; retries counted. */
    wr32(0x38C, 5);
    __asm__ volatile("xorl %%edx, %%edx\n\t"
                     "movl $200, %%ecx\n"
                     "1:\tmovl (%%esi), %%eax\n"
                     "2:\tleal 3(%%eax), %%ebx\n\t"
                     "lock cmpxchgl %%ebx, (%%esi)\n\t"
                     "jz 3f\n\t"
                     "incl %%edx\n\t"
                     "jmp 2b\n"
                     "3:\tdecl %%ecx\n\t"
                     "jnz 1b"
                     : "=&d"(d)
                     : "S"(vga(0x38C))
                     : "eax", "ebx", "ecx", "cc", "memory");
    CHECK(rd32(0x38C) == 605 && d == 0, "200x lock cmpxchg [0x38c] (+3): %u, %u retries",
          rd32(0x38C), d);

    /* bts with register bit offsets 200..1; bits k % 3 == 0 were set. */
    for (uint32_t i = 0; i < 26; i++) {
        uint8_t v = 0;
        for (uint32_t b = 0; b < 8; b++)
            v |= (8 * i + b) % 3 == 0 ? 1u << b : 0;
        wr8(0x390 + i, v);
    }
    __asm__ volatile("xorl %%eax, %%eax\n\t"
                     "movl $200, %%ecx\n"
                     "1:\tbtsl %%ecx, (%%esi)\n\t"
                     "adcl $0, %%eax\n\t"
                     "decl %%ecx\n\t"
                     "jnz 1b"
                     : "=&a"(a)
                     : "S"(vga(0x390))
                     : "ecx", "cc", "memory");
    bad = 0;
    for (uint32_t i = 0; i < 25; i++)
        bad += rd8(0x390 + i) != 0xFF;
    CHECK(a == 66 && bad == 0 && rd8(0x390 + 25) == 0x93,
          "200x bts [0x390], ecx: %u were set, bytes 0-24 all ones: %s, byte 25 %02x", a,
          bad ? "no" : "yes", rd8(0x390 + 25));

    /* movsd, lodsd and stosb without rep, 200 times each. */
    for (uint32_t i = 0; i < 4 * N; i += 4)
        wr32(0x4000 + i, i * 0x01010101u + 0x10203);
    a = (uint32_t)vga(0x4000);
    d = (uint32_t)vga(0x5000);
    __asm__ volatile("movl $200, %%ecx\n"
                     "1:\tmovsl\n\t"
                     "decl %%ecx\n\t"
                     "jnz 1b"
                     : "+S"(a), "+D"(d)
                     :
                     : "ecx", "memory");
    bad = 0;
    for (uint32_t i = 0; i < 4 * N; i += 4)
        bad += rd32(0x5000 + i) != i * 0x01010101u + 0x10203;
    CHECK(bad == 0 && a - (uint32_t)vga(0) == 0x4320 && d - (uint32_t)vga(0) == 0x5320,
          "200x movsd vga->vga: %u wrong, esi=v+%04x edi=v+%04x", bad, a - (uint32_t)vga(0),
          d - (uint32_t)vga(0));
    uint32_t s = (uint32_t)vga(0x5000);
    __asm__ volatile("xorl %%edx, %%edx\n\t"
                     "movl $200, %%ecx\n"
                     "1:\tlodsl\n\t"
                     "addl %%eax, %%edx\n\t"
                     "decl %%ecx\n\t"
                     "jnz 1b"
                     : "+S"(s), "=&d"(d)
                     :
                     : "eax", "ecx", "cc", "memory");
    c = 0;
    for (uint32_t i = 0; i < 4 * N; i += 4)
        c += i * 0x01010101u + 0x10203;
    CHECK(d == c, "200x lodsd: sum %08x", d);
    s = (uint32_t)vga(0x5400);
    __asm__ volatile("movl $200, %%ecx\n"
                     "1:\tmovb %%cl, %%al\n\t"
                     "stosb\n\t"
                     "decl %%ecx\n\t"
                     "jnz 1b"
                     : "+D"(s)
                     :
                     : "eax", "ecx", "memory");
    bad = 0;
    for (uint32_t i = 0; i < N; i++)
        bad += rd8(0x5400 + i) != N - i;
    CHECK(bad == 0, "200x stosb: %u wrong, [0x5400]=%02x [0x54c7]=%02x", bad, rd8(0x5400),
          rd8(0x5400 + N - 1));

    /* Indirect calls through a pointer in the buffer. */
    wr32(0x3C0, (uint32_t)mmio_add7);
    __asm__ volatile("xorl %%eax, %%eax\n\t"
                     "movl $200, %%ecx\n"
                     "1:\tcall *(%%esi)\n\t"
                     "call *0xB83C0\n\t"
                     "decl %%ecx\n\t"
                     "jnz 1b"
                     : "=&a"(a)
                     : "S"(vga(0x3C0))
                     : "ecx", "cc", "memory");
    CHECK_EQ(a, 2800, "200x call [esi]; call [abs]: eax (7 per call)");

    /* The same instruction on RAM and on the buffer, alternately. */
    static uint32_t cell;
    uint32_t *pram = &cell;
    uint8_t *pvga = vga(0x3B0);
    cell = 1000;
    wr32(0x3B0, 2000);
    __asm__ volatile("movl $200, %%ecx\n"
                     "1:\taddl $5, (%%ebx)\n\t"
                     "xchgl %%ebx, %%edi\n\t"
                     "decl %%ecx\n\t"
                     "jnz 1b"
                     : "+b"(pram), "+D"(pvga)
                     :
                     : "ecx", "cc", "memory");
    CHECK(cell == 1500 && rd32(0x3B0) == 2500,
          "200x add [ebx], 5 with ebx alternating RAM/vga: %u %u", cell, rd32(0x3B0));

    /* ... and in phases of 50 calls: RAM, buffer, RAM, buffer. */
    cell = 0;
    wr32(0x3B4, 0);
    for (uint32_t i = 0; i < 4 * 50; i++)
        add5((i / 50) % 2 ? (uint32_t *)vga(0x3B4) : &cell);
    CHECK(cell == 500 && rd32(0x3B4) == 500, "add [p], 5 in phases RAM/vga/RAM/vga: %u %u", cell,
          rd32(0x3B4));

    static uint32_t src8[8] = {1, 2, 3, 4, 5, 6, 7, 8}, dst8[8];
    for (uint32_t i = 0; i < 100; i++) {
        src8[i % 8] += i;
        copy8d((i & 1) ? (void *)vga(0x3E0) : dst8, src8);
    }
    bad = 0;
    for (uint32_t i = 0; i < 8; i++)
        bad += rd32(0x3E0 + 4 * i) != src8[i] || dst8[i] + (i == 3 ? 99 : 0) != src8[i];
    CHECK(bad == 0, "rep movsd alternating RAM/vga destinations: [0x3e0]=%u [0x3fc]=%u",
          rd32(0x3E0), rd32(0x3FC));

    sync_shadow(0, 0x400);
    sync_shadow(0x4000, 0x1500);
}

/* ---- the whole window against its mirror ----------------------------------------- */

static void test_compare_all(void)
{
    uint32_t esi = VGA_BASE, edi = (uint32_t)shadow, ecx = VGA_SIZE / 4, flags;
    __asm__ volatile("repe cmpsl\n\tpushfl\n\tpopl %3"
                     : "+S"(esi), "+D"(edi), "+c"(ecx), "=r"(flags)
                     :
                     : "cc", "memory");
    CHECK(ecx == 0 && (flags & EFLAGS_ZF),
          "repe cmpsd: 32 KiB of vga equal to the RAM mirror: ecx=%u esi=base+0x%x ZF=%u", ecx,
          esi - VGA_BASE, (flags & EFLAGS_ZF) ? 1 : 0);
    if (ecx)
        rt_printf("     first difference in the dword at 0x%x: %08x, RAM %08x\n",
                  esi - 4 - VGA_BASE, rd32(esi - 4 - VGA_BASE),
                  *(uint32_t *)(shadow + esi - 4 - VGA_BASE));
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    fpu_enable();
    test_fill();
    test_mov_sizes();
    test_wide();
    test_rmw();
    test_stack_forms();
    test_strings();
    test_loops();
    test_compare_all();
    rt_finish();
}
