/*
 * guest-tests/iopl_flags.c — the system and control flags of EFLAGS at
 * CPL 0 (SDM Vol. 1 §3.4.3, Vol. 2B POPF/PUSHF): which bits POPF changes
 * (CF PF AF ZF SF TF(not probed) IF DF OF IOPL NT AC ID yes; RF cleared, VM,
 * VIF, VIP and the reserved bits unchanged; bit 1 always 1), PUSHF storing
 * RF and VM as 0, the 16-bit forms touching only the low word; CLI/STI as
 * seen by PUSHF; DF through STD/CLD and its effect on string instructions;
 * LAHF/SAHF; CMC/CLC/STC and that they leave the other flags alone.
 *
 * Every EFLAGS image is printed in hex; all printed bits are defined by the
 * SDM for the instruction in question. The PIC is masked first: IF is set
 * for a few instructions at a time. TF is never set (a single-step trap
 * would follow).
 */
#include "rt.h"

#define EFLAGS_IOPL (3u << 12)
#define EFLAGS_VIF  (1u << 19)
#define EFLAGS_VIP  (1u << 20)
#define EFLAGS_ID   (1u << 21)

/* popf(in) then pushf, restoring a clean EFLAGS (IF=0, DF=0) before C runs */
static uint32_t popf_pushf(uint32_t in)
{
    uint32_t out;
    __asm__ volatile("pushl %1\n\t"
                     "popfl\n\t"
                     "pushfl\n\t"
                     "popl %0\n\t"
                     "pushl $2\n\t"
                     "popfl"
                     : "=&r"(out)
                     : "r"(in)
                     : "memory", "cc");
    return out;
}

static void test_popf(void)
{
    static const struct {
        const char *name;
        uint32_t bit;
        bool changes;
    } bits[] = {
        {"CF", EFLAGS_CF, true},     {"PF", EFLAGS_PF, true},     {"AF", EFLAGS_AF, true},
        {"ZF", EFLAGS_ZF, true},     {"SF", EFLAGS_SF, true},     {"IF", EFLAGS_IF, true},
        {"DF", EFLAGS_DF, true},     {"OF", EFLAGS_OF, true},     {"IOPL=1", 1u << 12, true},
        {"IOPL=2", 2u << 12, true},  {"IOPL=3", 3u << 12, true},  {"NT", EFLAGS_NT, true},
        {"RF", EFLAGS_RF, false},    {"VM", EFLAGS_VM, false},    {"AC", EFLAGS_AC, true},
        {"VIF", EFLAGS_VIF, false},  {"VIP", EFLAGS_VIP, false},  {"ID", EFLAGS_ID, true},
        {"bit 3", 1u << 3, false},   {"bit 5", 1u << 5, false},   {"bit 15", 1u << 15, false},
        {"bit 22", 1u << 22, false}, {"bit 31", 1u << 31, false},
    };
    for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        uint32_t in = EFLAGS_BIT1 | bits[i].bit;
        uint32_t want = bits[i].changes ? in : EFLAGS_BIT1;
        uint32_t out = popf_pushf(in);
        CHECK(out == want, "popf %-6s (0x%08x) -> pushf 0x%08x: %s", bits[i].name, in, out,
              out == EFLAGS_BIT1 ? "unchanged" : "set");
    }

    uint32_t all = popf_pushf(~EFLAGS_TF);
    CHECK_EQ(all,
             EFLAGS_ARITH | EFLAGS_BIT1 | EFLAGS_IF | EFLAGS_DF | EFLAGS_IOPL | EFLAGS_NT |
                 EFLAGS_AC | EFLAGS_ID,
             "popf 0x%08x (all but TF) -> pushf", ~EFLAGS_TF);
    CHECK_EQ(popf_pushf(0), EFLAGS_BIT1, "popf 0 -> pushf (bit 1 reads as 1)");

    /* 16-bit forms: POPFW changes the low word only, PUSHFW stores it. */
    uint32_t hi, lo;
    __asm__ volatile("pushl %2\n\t"
                     "popfl\n\t" /* AC and ID set */
                     "pushw %3\n\t"
                     "popfw\n\t" /* CF ZF in the low word */
                     "pushfl\n\t"
                     "popl %0\n\t"
                     "pushfw\n\t"
                     "popw %w1\n\t"
                     "pushl $2\n\t"
                     "popfl"
                     : "=&r"(hi), "=&q"(lo)
                     : "r"(EFLAGS_BIT1 | EFLAGS_AC | EFLAGS_ID),
                       "i"(EFLAGS_BIT1 | EFLAGS_CF | EFLAGS_ZF)
                     : "memory", "cc");
    CHECK(hi == (EFLAGS_BIT1 | EFLAGS_AC | EFLAGS_ID | EFLAGS_CF | EFLAGS_ZF) &&
              (lo & 0xFFFF) == (EFLAGS_BIT1 | EFLAGS_CF | EFLAGS_ZF),
          "popfw keeps AC/ID: 0x%08x; pushfw 0x%04x", hi, lo & 0xFFFF);

    /* The CPUID-detection idiom: ID toggles. */
    uint32_t f0 = popf_pushf(EFLAGS_BIT1), f1 = popf_pushf(EFLAGS_BIT1 | EFLAGS_ID);
    CHECK((f0 ^ f1) == EFLAGS_ID, "ID flag toggles (CPUID present)");
}

static void test_cli_sti(void)
{
    uint32_t a, b, c;
    __asm__ volatile("sti\n\t"
                     "pushfl\n\t"
                     "popl %0\n\t"
                     "cli\n\t"
                     "pushfl\n\t"
                     "popl %1\n\t"
                     "sti\n\t"
                     "sti\n\t"
                     "cli\n\t"
                     "pushfl\n\t"
                     "popl %2"
                     : "=&r"(a), "=&r"(b), "=&r"(c)
                     :
                     : "memory");
    CHECK((a & EFLAGS_IF) && !(b & EFLAGS_IF) && !(c & EFLAGS_IF),
          "sti: pushf IF=%u; cli: IF=%u; sti, sti, cli: IF=%u", (a >> 9) & 1, (b >> 9) & 1,
          (c >> 9) & 1);
    CHECK_EQ(a & ~EFLAGS_IF & ~EFLAGS_ARITH, b & ~EFLAGS_ARITH,
             "cli/sti change nothing but IF (non-arithmetic bits)");
}

static void test_direction(void)
{
    static const char src[8] = "abcdefg";
    static char dst[8];
    const char *si;
    char *di;
    uint32_t fl_std, fl_cld, ecx;

    memset(dst, '.', sizeof(dst));
    __asm__ volatile("std\n\t"
                     "pushfl\n\t"
                     "popl %3\n\t"
                     "rep movsb\n\t"
                     "cld\n\t"
                     "pushfl\n\t"
                     "popl %4"
                     : "=S"(si), "=D"(di), "=c"(ecx), "=&r"(fl_std), "=&r"(fl_cld)
                     : "0"(src + 5), "1"(dst + 6), "2"(4)
                     : "memory");
    CHECK((fl_std & EFLAGS_DF) && !(fl_cld & EFLAGS_DF), "std: DF=%u; cld: DF=%u",
          (fl_std >> 10) & 1, (fl_cld >> 10) & 1);
    CHECK(memcmp(dst, "...cdef.", 8) == 0 && si == src + 1 && di == dst + 2 && ecx == 0,
          "std; rep movsb x4 copies backwards: \"%.8s\", esi=src%+d edi=dst%+d", dst,
          (int)(si - src), (int)(di - dst));

    uint32_t v;
    const uint32_t words[3] = {0x11111111, 0x22222222, 0x33333333};
    __asm__ volatile("std\n\t"
                     "lodsl\n\t"
                     "lodsl\n\t"
                     "cld"
                     : "=a"(v), "=S"(si)
                     : "1"(&words[2])
                     : "memory");
    CHECK(v == 0x22222222 && si == (const char *)&words[0],
          "std; lodsd x2: eax=0x%08x, esi moved by %d", v, (int)(si - (const char *)&words[2]));
}

static void test_lahf_sahf(void)
{
    static const uint8_t ahs[] = {0x00, 0xFF, 0xD5, 0x2A, 0x41, 0x80, 0x15};
    for (unsigned i = 0; i < sizeof(ahs); i++) {
        uint32_t eax = (uint32_t)ahs[i] << 8, fl, out;
        /* OF set beforehand: SAHF must leave it alone. */
        __asm__ volatile("pushl %3\n\t"
                         "popfl\n\t"
                         "sahf\n\t"
                         "pushfl\n\t"
                         "popl %1\n\t"
                         "movb $0, %%ah\n\t"
                         "lahf\n\t"
                         "movl %%eax, %0"
                         : "=&r"(out), "=&r"(fl), "+a"(eax)
                         : "r"(EFLAGS_BIT1 | EFLAGS_OF)
                         : "cc");
        uint32_t want_fl = EFLAGS_BIT1 | EFLAGS_OF | (ahs[i] & 0xD5);
        uint32_t want_ah = (ahs[i] & 0xD5) | 0x02;
        CHECK(((fl & 0xFFF) == want_fl) && ((out >> 8) & 0xFF) == want_ah,
              "sahf ah=0x%02x -> eflags 0x%03x; lahf -> ah=0x%02x", ahs[i], fl & 0xFFF,
              (out >> 8) & 0xFF);
    }
}

static void test_carry_ops(void)
{
    static const struct {
        const char *name;
        uint32_t in;
    } cases[] = {
        {"all arithmetic flags set", EFLAGS_ARITH},
        {"none set", 0},
        {"ZF OF", EFLAGS_ZF | EFLAGS_OF},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t in = cases[i].in | EFLAGS_BIT1, c1, c2, c3;
        __asm__ volatile("pushl %3\n\tpopfl\n\tcmc\n\tpushfl\n\tpopl %0\n\t"
                         "pushl %3\n\tpopfl\n\tclc\n\tpushfl\n\tpopl %1\n\t"
                         "pushl %3\n\tpopfl\n\tstc\n\tpushfl\n\tpopl %2"
                         : "=&r"(c1), "=&r"(c2), "=&r"(c3)
                         : "r"(in)
                         : "cc");
        CHECK(c1 == (in ^ EFLAGS_CF) && c2 == (in & ~EFLAGS_CF) && c3 == (in | EFLAGS_CF),
              "%s (0x%03x): cmc 0x%03x clc 0x%03x stc 0x%03x", cases[i].name, in, c1, c2, c3);
    }
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    outb(0x21, 0xFF); /* mask every IRQ: IF is set now and then */
    outb(0xA1, 0xFF);

    CHECK_EQ(read_eflags() & ~EFLAGS_ARITH, EFLAGS_BIT1, "eflags at main() (IF=0 DF=0 IOPL=0)");
    test_popf();
    test_cli_sti();
    test_direction();
    test_lahf_sahf();
    test_carry_ops();
    CHECK_EQ(read_eflags() & ~EFLAGS_ARITH, EFLAGS_BIT1, "eflags at the end (IF=0 DF=0 IOPL=0)");
    rt_finish();
}
