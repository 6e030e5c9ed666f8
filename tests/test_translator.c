/*
 * tests/test_translator.c — operand rewriting and block translation
 * (translator/rewrite.c, translate.c, classify.c).
 *
 * Each case translates guest bytes and disassembles the host code of the
 * first guest instruction with Zydis in 64-bit mode, so expectations read
 * as the instructions a reader would write by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "emul/emul.h"
#include "monitor/vcpu_runtime.h"
#include "translator/translate.h"

struct guest_code {
    const uint8_t *bytes;
    size_t len;
};

static size_t fetch(void *opaque, guest_linear_t eip, uint8_t *buf, size_t len)
{
    const struct guest_code *code = opaque;
    size_t offset = eip - 0x1000;

    if (offset >= code->len)
        return 0;
    if (len > code->len - offset)
        len = code->len - offset;
    memcpy(buf, code->bytes + offset, len);
    return len;
}

static uint8_t host[4096];
static struct translated_block tb;
static char text[2048];

static void disassemble(size_t start, size_t end)
{
    ZydisDecoder dec;
    ZydisFormatter fmt;
    size_t at = start;

    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL);
    ZydisFormatterSetProperty(&fmt, ZYDIS_FORMATTER_PROP_FORCE_SIZE, ZYAN_TRUE);
    text[0] = 0;
    while (at < end) {
        ZydisDecodedInstruction insn;
        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
        char line[128];

        assert_true(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, host + at, end - at, &insn, ops)));
        ZydisFormatterFormatInstruction(&fmt, &insn, ops, insn.operand_count_visible, line,
                                        sizeof(line), at, NULL);
        if (text[0])
            strcat(text, "; ");
        strcat(text, line);
        at += insn.length;
    }
}

/* Translates one guest instruction; returns the text of its host sequence. */
static unsigned translate_cpl = 3;           /* the CPL translate_one translates for */
static segment_base_mask translate_own_view; /* own_view_segments of translate_one */

static const char *translate_one(const uint8_t *bytes, size_t len, segment_base_mask bases)
{
    struct guest_code code = {bytes, len};
    struct translate_config cfg = {.fetch = fetch,
                                   .opaque = &code,
                                   .nonzero_bases = bases,
                                   .own_view_segments = translate_own_view,
                                   .max_insns = 1,
                                   .cpl = translate_cpl};
    struct emit_buf buf;

    emit_init(&buf, host, sizeof(host));
    assert_true(translate_block(&cfg, 0x1000, &buf, &tb));
    size_t end = tb.ends_in_callout || tb.nexits == 0 ? tb.code_size : tb.exits[0].jump_rel32 - 1;
    if (tb.insns[0].cls == INSN_BRANCH || tb.ends_in_callout)
        end = tb.nexits ? tb.exits[0].stub : tb.code_size;
    disassemble(tb.insns[0].host_offset, end);
    return text;
}

#define EXPECT(bytes_init, expected)                                   \
    do {                                                               \
        static const uint8_t b[] = bytes_init;                         \
        assert_string_equal(translate_one(b, sizeof(b), 0), expected); \
    } while (0)
#define BYTES(...)  \
    {               \
        __VA_ARGS__ \
    }

static void test_base_displacement_forms(void **state)
{
    EXPECT(BYTES(0x8B, 0x43, 0x08), "mov eax, dword ptr [rbx+r13*1+0x08]");
    EXPECT(BYTES(0x8B, 0x43, 0xFC), "mov eax, dword ptr [rbx+r13*1-0x04]");
    EXPECT(BYTES(0x89, 0x0E), "mov dword ptr [rsi+r13*1], ecx");
    /* Large displacements (kernel addresses) go through r12 = r13 + 2^31. */
    EXPECT(BYTES(0x8B, 0x83, 0x00, 0x10, 0x00, 0xC0), "mov eax, dword ptr [rbx+r12*1+0x40001000]");
    /* -0x100000 is below the 64 KiB guard: also the r12 form. */
    EXPECT(BYTES(0x8B, 0x83, 0x00, 0x00, 0xF0, 0xFF), "mov eax, dword ptr [rbx+r12*1+0x7FF00000]");
}

static void test_absolute_forms(void **state)
{
    EXPECT(BYTES(0xA1, 0x00, 0x20, 0x10, 0x00), "mov eax, dword ptr [r13+0x102000]");
    EXPECT(BYTES(0xC7, 0x05, 0x00, 0x00, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x00),
           "mov dword ptr [r12+0x40000000], 0x01");
    EXPECT(BYTES(0x8A, 0x0D, 0xFF, 0xFF, 0xFF, 0xFF), "mov cl, byte ptr [r12+0x7FFFFFFF]");
}

static void test_esp_forms(void **state)
{
    EXPECT(BYTES(0x8B, 0x44, 0x24, 0x04), "mov eax, dword ptr [rsp+r13*1+0x04]");
    EXPECT(BYTES(0x01, 0x04, 0x24), "add dword ptr [rsp+r13*1], eax");
}

static void test_index_forms(void **state)
{
    EXPECT(BYTES(0x8B, 0x44, 0x8B, 0x08),
           "lea r14d, [rbx+rcx*4+0x08]; mov eax, dword ptr [r14+r13*1]");
    EXPECT(BYTES(0x8B, 0x04, 0x85, 0x00, 0x10, 0x00, 0xC0),
           "lea r14d, [rax*4-0x3FFFF000]; mov eax, dword ptr [r14+r13*1]");
}

/* Every guest register as base and as index, through the same encoder the
 * translator uses: the host form names the same register, 64-bit. */
static void test_every_register(void **state)
{
    static const char *const names[8] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"};
    char expected[128];

    for (unsigned base = 0; base < 8; base++) {
        /* mov eax, [base + 0x10]: ModRM mod=01, rm=base (SIB when base is ESP) */
        uint8_t b[4] = {0x8B, (uint8_t)(0x40 | base), 0x10, 0};
        size_t len = 3;
        if (base == 4) {
            b[1] = 0x44;
            b[2] = 0x24;
            b[3] = 0x10;
            len = 4;
        }
        snprintf(expected, sizeof(expected), "mov eax, dword ptr [%s+r13*1+0x10]", names[base]);
        assert_string_equal(translate_one(b, len, 0), expected);
    }
    for (unsigned index = 0; index < 8; index++) {
        if (index == 4)
            continue; /* no ESP index in IA-32 */
        /* mov eax, [ebx + index*2 + 0x10] */
        uint8_t b[] = {0x8B, 0x44, (uint8_t)(0x40 | (index << 3) | 3), 0x10};
        snprintf(expected, sizeof(expected),
                 "lea r14d, [rbx+%s*2+0x10]; mov eax, dword ptr [r14+r13*1]", names[index]);
        assert_string_equal(translate_one(b, sizeof(b), 0), expected);
    }
}

static void test_segment_base_added(void **state)
{
    static const uint8_t b[] = {0x64, 0x8B, 0x03}; /* mov eax, fs:[ebx] */
    char expected[256];

    snprintf(expected, sizeof(expected),
             "lea r14d, [rbx]; mov r11d, dword ptr [r15+0x%02X]; lea r14d, [r14+r11*1]; "
             "mov eax, dword ptr [r14+r13*1]",
             (unsigned)offsetof(struct vcpu, arch.seg[SEG_FS].base));
    assert_string_equal(translate_one(b, sizeof(b), 1u << SEG_FS), expected);
    /* With a zero FS base the prefix is simply dropped. */
    assert_string_equal(translate_one(b, sizeof(b), 0), "mov eax, dword ptr [rbx+r13*1]");
}

/* Asserts the host code of `bytes` with FS and GS addressed through their
 * own view pointers; `format` has two %02X: the r15 offsets of the base and
 * of the view pointer of `seg`. */
static void expect_own_view(const uint8_t *bytes, size_t len, int seg, const char *format)
{
    char expected[512];

    snprintf(expected, sizeof(expected), format, (unsigned)VCPU_OFFSET(arch.seg[seg].base),
             (unsigned)VCPU_OFFSET(seg_view[seg]));
    translate_own_view = (1u << SEG_FS) | (1u << SEG_GS);
    assert_string_equal(translate_one(bytes, len, 0), expected);
    translate_own_view = 0;
}

/* FS and GS as the monitor configures them: the base is always added, and
 * the access goes through the segment's own view pointer (rewrite.h), so
 * neither a zero base nor a null selector is assumed. */
static void test_own_view_segments(void **state)
{
    static const uint8_t load[] = {0x64, 0x8B, 0x03};                       /* mov eax, fs:[ebx] */
    static const uint8_t absolute[] = {0x65, 0xA1, 0x14, 0x00, 0x00, 0x00}; /* mov eax, gs:[0x14] */
    static const uint8_t high_byte[] = {0x64, 0x8A, 0x23};                  /* mov ah, fs:[ebx] */
    static const uint8_t xlat[] = {0x64, 0xD7};                             /* xlat fs:[ebx+al] */
    static const uint8_t plain[] = {0x8B, 0x03};                            /* mov eax, [ebx] */
#define BASE_ADDED "mov r11d, dword ptr [r15+0x%02X]; lea r14d, [r14+r11*1]; "
#define VIEW_LOAD  "mov r11, qword ptr [r15+0x%02X]; "

    expect_own_view(load, sizeof(load), SEG_FS,
                    "lea r14d, [rbx]; " BASE_ADDED VIEW_LOAD "mov eax, dword ptr [r14+r11*1]");
    expect_own_view(absolute, sizeof(absolute), SEG_GS,
                    "lea r14d, [0x0000000000000014]; " BASE_ADDED VIEW_LOAD
                    "mov eax, dword ptr [r14+r11*1]");
    expect_own_view(xlat, sizeof(xlat), SEG_FS,
                    "movzx r14d, al; lea r14d, [rbx+r14*1]; " BASE_ADDED VIEW_LOAD
                    "mov al, byte ptr [r14+r11*1]");
    /* The AH-family path keeps a register in r11: the pointer is folded
     * into r14 first. */
    expect_own_view(high_byte, sizeof(high_byte), SEG_FS,
                    "lea r14d, [rbx]; " BASE_ADDED VIEW_LOAD
                    "lea r14, [r14+r11*1]; mov r11, rsi; lea rsi, [r14]; "
                    "mov ah, byte ptr [rsi]; mov rsi, r11");
    /* Other segments are unaffected. */
    expect_own_view(plain, sizeof(plain), SEG_DS, "mov eax, dword ptr [rbx+r13*1]");
#undef BASE_ADDED
#undef VIEW_LOAD
}

static void test_lea_16bit_address(void **state)
{
    /* lea ecx, [di + bp - 0x10] with a 16-bit address size (0x67). */
    EXPECT(BYTES(0x67, 0x8D, 0x4B, 0xF0),
           "lea r14d, [rbp+rdi*1-0x10]; movzx r14d, r14w; mov ecx, r14d");
    /* lea cx, [bx+si] (0x66 0x67) */
    EXPECT(BYTES(0x66, 0x67, 0x8D, 0x08), "lea r14d, [rbx+rsi*1]; movzx r14d, r14w; mov cx, r14w");
}

static void test_bit_string_forms(void **state)
{
    /* bt [ebx+8], eax addresses ebx+8 + (eax SAR 5)*4, which may be 256 MiB
     * away: the offset is applied in r14d and the register form used. */
    EXPECT(BYTES(0x0F, 0xA3, 0x43, 0x08),
           "lea r14d, [rbx+0x08]; mov r10d, 0x05; sarx r11d, eax, r10d; lea r14d, [r14+r11*4]; "
           "mov r11d, dword ptr [r14+r13*1]; bt r11d, eax");
    /* lock bts [ecx+edx*4], esi: load, bts, store. */
    EXPECT(BYTES(0xF0, 0x0F, 0xAB, 0x34, 0x91),
           "lea r14d, [rcx+rdx*4]; mov r10d, 0x05; sarx r11d, esi, r10d; lea r14d, [r14+r11*4]; "
           "mov r11d, dword ptr [r14+r13*1]; bts r11d, esi; mov dword ptr [r14+r13*1], r11d");
    /* 16-bit: btr word [ebx], ax: the offset is sign-extended, SAR 4, *2. */
    EXPECT(BYTES(0x66, 0x0F, 0xB3, 0x03),
           "lea r14d, [rbx]; movsx r11d, ax; mov r10d, 0x04; sarx r11d, r11d, r10d; "
           "lea r14d, [r14+r11*2]; mov r11w, word ptr [r14+r13*1]; btr r11w, ax; "
           "mov word ptr [r14+r13*1], r11w");
    /* An immediate bit offset stays within the operand: ident as it is. */
    EXPECT(BYTES(0x0F, 0xBA, 0x23, 0x1F), "bt dword ptr [rbx+r13*1], 0x1F");
}

static void test_high_byte_registers(void **state)
{
    /* mov ah, [ebx+8]: AH cannot be encoded with REX, so the address goes
     * into a free legacy register (esi) saved in r11. */
    EXPECT(BYTES(0x8A, 0x63, 0x08),
           "mov r11, rsi; lea rsi, [rbx+r13*1+0x08]; mov ah, byte ptr [rsi]; mov rsi, r11");
    assert_int_equal(tb.insns[0].fixup, FIXUP_TEMP_IN_R11);
    assert_int_equal(tb.insns[0].fixup_reg, 6);
    /* Without memory, AH is fine as it is. */
    EXPECT(BYTES(0x88, 0xE0), "mov al, ah");
}

static void test_stack_forms(void **state)
{
    EXPECT(BYTES(0x50), "mov dword ptr [rsp+r13*1-0x04], eax; lea esp, [rsp-0x04]");
    EXPECT(BYTES(0x5B), "mov ebx, dword ptr [rsp+r13*1]; lea esp, [rsp+0x04]");
    EXPECT(BYTES(0x5C), "mov esp, dword ptr [rsp+r13*1]");
    EXPECT(BYTES(0x6A, 0xFF), "mov dword ptr [rsp+r13*1-0x04], 0xFFFFFFFF; lea esp, [rsp-0x04]");
    EXPECT(BYTES(0xFF, 0x73, 0x04),
           "mov r14d, dword ptr [rbx+r13*1+0x04]; mov dword ptr [rsp+r13*1-0x04], r14d; "
           "lea esp, [rsp-0x04]");
    /* pop [esp+4] addresses with the incremented ESP. */
    EXPECT(BYTES(0x8F, 0x44, 0x24, 0x04),
           "mov r11d, dword ptr [rsp+r13*1]; mov dword ptr [rsp+r13*1+0x08], r11d; "
           "lea esp, [rsp+0x04]");
    EXPECT(BYTES(0xC9), "mov r14d, dword ptr [rbp+r13*1]; lea esp, [rbp+0x04]; mov ebp, r14d");
    /* push sreg: the selector from the vCPU's segment cache, zero-extended
     * to the operand size. */
    char want[160];
    snprintf(want, sizeof(want),
             "movzx r14d, word ptr [r15+0x%X]; mov dword ptr [rsp+r13*1-0x04], r14d; "
             "lea esp, [rsp-0x04]",
             (unsigned)(VCPU_OFFSET(arch.seg[SEG_DS].selector)));
    EXPECT(BYTES(0x1E), want);
    snprintf(want, sizeof(want),
             "movzx r14d, word ptr [r15+0x%X]; mov word ptr [rsp+r13*1-0x02], r14w; "
             "lea esp, [rsp-0x02]",
             (unsigned)(VCPU_OFFSET(arch.seg[SEG_GS].selector)));
    EXPECT(BYTES(0x66, 0x0F, 0xA8), want);
}

static void test_string_forms(void **state)
{
    EXPECT(BYTES(0xF3, 0xA5),
           "lea rsi, [rsi+r13*1]; lea rdi, [rdi+r13*1]; rep movsd; mov esi, esi; mov edi, edi");
    assert_int_equal(tb.insns[0].fixup, FIXUP_STRING_BIASED);
    EXPECT(BYTES(0xAA), "lea rdi, [rdi+r13*1]; stosb; mov edi, edi");
    /* maskmovq stores to [edi] implicitly: biased like a string instruction. */
    EXPECT(BYTES(0x0F, 0xF7, 0xC1), "lea rdi, [rdi+r13*1]; maskmovq mm0, mm1; mov edi, edi");
}

static void test_branches(void **state)
{
    static const uint8_t jcc[] = {0x74, 0x10}; /* jz +0x10 */
    static const uint8_t call[] = {0xE8, 0x00, 0x01, 0x00, 0x00};
    static const uint8_t ret[] = {0xC3};

    translate_one(jcc, sizeof(jcc), 0);
    assert_int_equal(tb.nexits, 2);
    assert_int_equal(tb.exits[0].target, 0x1012);
    assert_int_equal(tb.exits[1].target, 0x1002);
    translate_one(call, sizeof(call), 0);
    assert_int_equal(tb.nexits, 1);
    assert_int_equal(tb.exits[0].target, 0x1105);
    assert_non_null(strstr(text, "mov dword ptr [rsp+r13*1-0x04], 0x1005; lea esp, [rsp-0x04]"));
    translate_one(ret, sizeof(ret), 0);
    assert_int_equal(tb.nexits, 0);
    assert_non_null(strstr(text, "mov r14d, dword ptr [rsp+r13*1]; lea esp, [rsp+0x04]"));
}

static void test_callouts(void **state)
{
    static const uint8_t cases[][3] = {
        {0xFA},             /* cli */
        {0xE6, 0xF4},       /* out 0xF4, al */
        {0x0F, 0x22, 0xD8}, /* mov cr3, eax */
        {0x8E, 0xD8},       /* mov ds, ax */
        {0x9C},             /* pushfd */
        {0x27},             /* daa: gone in 64-bit mode */
        {0x0F, 0x0B},       /* ud2 */
        {0x1F},             /* pop ds: a segment load */
        {0xCD, 0x80},       /* int 0x80 */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        translate_one(cases[i], 3, 0);
        assert_true(tb.ends_in_callout);
        assert_int_equal(tb.insns[0].cls, INSN_CALLOUT);
        assert_int_equal(tb.ninsns, 1);
    }
}

/* With storage for decodes (translate_config.alloc_decoded), a callout
 * hands its instruction, as decoded at translation, to the monitor: r14
 * holds its address at the exit (vcpu.exit_link). Without, r14 is 0. */
static struct emul_decoded_insn kept_decode;
static unsigned kept_count;

static struct emul_decoded_insn *keep_one(void *opaque)
{
    (void)opaque;
    kept_count++;
    return &kept_decode;
}

static void test_callout_hands_over_its_decode(void **state)
{
    static const uint8_t mov_cr3[] = {0x0F, 0x22, 0xD8, 0x90};
    struct guest_code code = {mov_cr3, sizeof(mov_cr3)};
    struct translate_config cfg = {
        .fetch = fetch, .opaque = &code, .max_insns = 4, .cpl = 0, .alloc_decoded = keep_one};
    struct emit_buf buf;
    char expect[64];

    (void)state;
    emit_init(&buf, host, sizeof(host));
    assert_true(translate_block(&cfg, 0x1000, &buf, &tb));
    assert_true(tb.ends_in_callout);
    assert_int_equal(kept_count, 1);
    assert_int_equal(kept_decode.linear, 0x1000);
    assert_true(kept_decode.decoded);
    assert_int_equal(kept_decode.insn.mnemonic, ZYDIS_MNEMONIC_MOV);
    assert_int_equal(kept_decode.insn.length, 3);
    assert_memory_equal(kept_decode.bytes, mov_cr3, 3);
    disassemble(tb.insns[0].host_offset, tb.code_size);
    snprintf(expect, sizeof(expect), "mov r14, 0x%llX",
             (unsigned long long)(uintptr_t)&kept_decode);
    assert_non_null(strstr(text, expect));

    /* No storage: r14 = 0, as for a callout the monitor decodes itself. */
    translate_one(mov_cr3, 3, 0);
    assert_non_null(strstr(text, "mov r14d, 0x00"));
}

/* mov r32, CR0/2/3/4 at CPL 0 reads the vCPU's copy in place; at CPL 3
 * (#GP), into ESP, or from CR1 (#UD) it stays a callout. */
static void test_control_register_reads(void **state)
{
    static const uint8_t mov_eax_cr2[] = {0x0F, 0x20, 0xD0};
    static const uint8_t mov_edi_cr3[] = {0x0F, 0x20, 0xDF};
    static const uint8_t mov_esp_cr0[] = {0x0F, 0x20, 0xC4};
    static const uint8_t mov_eax_cr1[] = {0x0F, 0x20, 0xC8};
    char expect[96];

    (void)state;
    translate_cpl = 0;
    snprintf(expect, sizeof(expect), "mov eax, dword ptr [r15+0x%02X]",
             (unsigned)VCPU_OFFSET(arch.cr2));
    assert_string_equal(translate_one(mov_eax_cr2, 3, 0), expect);
    assert_int_equal(tb.insns[0].cls, INSN_IDENT);
    snprintf(expect, sizeof(expect), "mov edi, dword ptr [r15+0x%02X]",
             (unsigned)VCPU_OFFSET(arch.cr3));
    assert_string_equal(translate_one(mov_edi_cr3, 3, 0), expect);
    translate_one(mov_esp_cr0, 3, 0);
    assert_true(tb.ends_in_callout);
    translate_one(mov_eax_cr1, 3, 0);
    assert_true(tb.ends_in_callout);
    translate_cpl = 3;
    translate_one(mov_eax_cr2, 3, 0);
    assert_true(tb.ends_in_callout);
}

/* A callout followed by more on its page hands them over chained: "pop gs;
 * pop fs; mov ds, ax" is one exit. The chain stops at an instruction that
 * runs in place (nop) and never leaves the page. */
static struct emul_decoded_insn chain_store[8];
static unsigned chain_used;

static struct emul_decoded_insn *keep_in_store(void *opaque)
{
    (void)opaque;
    return chain_used < 8 ? &chain_store[chain_used++] : NULL;
}

static void test_callouts_chained_on_a_page(void **state)
{
    static const uint8_t code_bytes[] = {0x0F, 0xA9, 0x0F, 0xA1, 0x8E, 0xD8, 0x90, 0x1F};
    struct guest_code code = {code_bytes, sizeof(code_bytes)};
    struct translate_config cfg = {
        .fetch = fetch, .opaque = &code, .max_insns = 8, .cpl = 0, .alloc_decoded = keep_in_store};
    struct emit_buf buf;

    (void)state;
    emit_init(&buf, host, sizeof(host));
    assert_true(translate_block(&cfg, 0x1000, &buf, &tb));
    assert_int_equal(chain_used, 3);
    const struct emul_decoded_insn *d = &chain_store[0];
    assert_int_equal(d->linear, 0x1000); /* pop gs */
    d = d->next;
    assert_non_null(d);
    assert_int_equal(d->linear, 0x1002); /* pop fs */
    d = d->next;
    assert_non_null(d);
    assert_int_equal(d->linear, 0x1004); /* mov ds, ax */
    assert_int_equal(d->insn.mnemonic, ZYDIS_MNEMONIC_MOV);
    assert_null(d->next); /* nop runs in place */

    /* pop gs ending a page, pop fs starting the next: not chained. */
    static uint8_t two_pages[0x1004];
    memcpy(two_pages + 0xFFE, code_bytes, 4);
    struct guest_code end_code = {two_pages, sizeof(two_pages)};
    cfg.opaque = &end_code;
    chain_used = 0;
    emit_init(&buf, host, sizeof(host));
    assert_true(translate_block(&cfg, 0x1FFE, &buf, &tb));
    assert_int_equal(chain_used, 1);
    assert_null(chain_store[0].next);
}

/* At CPL 0, cli, sti and pushfd cannot fault on their own: cli/sti write
 * the vCPU's virtual IF (sti calls out instead when an interrupt is
 * waiting), pushfd builds the image inline. At CPL 3 they stay callouts
 * (IOPL decides). */
static void test_virtual_if_at_cpl0(void **state)
{
    static const uint8_t cli[] = {0xFA}, sti[] = {0xFB};
    char want[200];

    translate_cpl = 0;
    translate_one(cli, sizeof(cli), 0);
    assert_false(tb.ends_in_callout);
    snprintf(want, sizeof(want), "mov byte ptr [r15+0x%X], 0x00",
             (unsigned)VCPU_OFFSET(virtual_if));
    assert_non_null(strstr(text, want));
    translate_one(sti, sizeof(sti), 0);
    assert_false(tb.ends_in_callout);
    snprintf(want, sizeof(want), "movzx ecx, byte ptr [r15+0x%X]",
             (unsigned)VCPU_OFFSET(irq_waiting));
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof(want), "mov byte ptr [r15+0x%X], 0x01",
             (unsigned)VCPU_OFFSET(virtual_if));
    assert_non_null(strstr(text, want));
    /* pushfd: RFLAGS read on a borrowed stack, merged with the virtual IF
     * and the vCPU's other bits, pushed last. */
    static const uint8_t pushfd[] = {0x9C};
    translate_one(pushfd, sizeof(pushfd), 0);
    assert_false(tb.ends_in_callout);
    assert_non_null(strstr(text, "pushfq; mov r14, qword ptr [rsp]"));
    assert_non_null(strstr(text, "popfq; mov rsp, r11; mov dword ptr [rsp+r13*1-0x04], r14d; "
                                 "lea esp, [rsp-0x04]"));
    translate_cpl = 3;
    translate_one(sti, sizeof(sti), 0);
    assert_true(tb.ends_in_callout);
    translate_one(pushfd, sizeof(pushfd), 0);
    assert_true(tb.ends_in_callout);
}

static void test_block_metadata(void **state)
{
    /* mov eax,[ebx]; add eax,1; inc ecx; jmp $ */
    static const uint8_t b[] = {0x8B, 0x03, 0x83, 0xC0, 0x01, 0x41, 0xEB, 0xFE};
    struct guest_code code = {b, sizeof(b)};
    struct translate_config cfg = {.fetch = fetch, .opaque = &code};
    struct emit_buf buf;

    emit_init(&buf, host, sizeof(host));
    assert_true(translate_block(&cfg, 0x1000, &buf, &tb));
    assert_int_equal(tb.ninsns, 4);
    assert_int_equal(tb.guest_size, 8);
    assert_int_equal(tb.insns[0].eip, 0x1000);
    assert_int_equal(tb.insns[1].eip, 0x1002);
    assert_int_equal(tb.insns[2].eip, 0x1005);
    assert_int_equal(tb.insns[3].eip, 0x1006);
    for (unsigned i = 1; i < tb.ninsns; i++)
        assert_true(tb.insns[i].host_offset > tb.insns[i - 1].host_offset);
    assert_int_equal(tb.nexits, 1);
    assert_int_equal(tb.exits[0].target, 0x1006);
    assert_true(tb.exits[0].stub > tb.exits[0].jump_rel32);
}

static void test_block_ends_at_page_boundary(void **state)
{
    static uint8_t nops[0x1100];
    struct guest_code code = {nops, sizeof(nops)};
    struct translate_config cfg = {.fetch = fetch, .opaque = &code};
    struct emit_buf buf;

    memset(nops, 0x90, sizeof(nops));
    emit_init(&buf, host, sizeof(host));
    assert_true(translate_block(&cfg, 0x1FFC, &buf, &tb));
    assert_int_equal(tb.ninsns, 4);
    assert_int_equal(tb.exits[0].target, 0x2000);
    emit_init(&buf, host, sizeof(host));
    assert_true(translate_block(&cfg, 0x1000, &buf, &tb));
    assert_int_equal(tb.ninsns, TRANSLATE_MAX_INSNS);
}

/* The virtual CPU has no BMI1/LZCNT/MPX/CET: the opcodes those took over
 * decode as a P6 decodes them (Linux's "rep; bsf" is a BSF). */
static void test_decodes_as_the_virtual_cpu(void **state)
{
    static const uint8_t rep_bsf[] = {0xF3, 0x0F, 0xBC, 0xC9};
    static const uint8_t rep_bsr[] = {0xF3, 0x0F, 0xBD, 0xC1};
    static const uint8_t bnd_jmp[] = {0xF2, 0xE9, 0, 0, 0, 0};
    static const uint8_t endbr32[] = {0xF3, 0x0F, 0x1E, 0xFB};
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];

    (void)state;
    assert_true(translate_decode(rep_bsf, sizeof(rep_bsf), &insn, ops));
    assert_int_equal(insn.mnemonic, ZYDIS_MNEMONIC_BSF);
    assert_true(translate_decode(rep_bsr, sizeof(rep_bsr), &insn, ops));
    assert_int_equal(insn.mnemonic, ZYDIS_MNEMONIC_BSR);
    assert_true(translate_decode(bnd_jmp, sizeof(bnd_jmp), &insn, ops));
    assert_int_equal(insn.mnemonic, ZYDIS_MNEMONIC_JMP);
    assert_true(translate_decode(endbr32, sizeof(endbr32), &insn, ops));
    assert_int_equal(insn.mnemonic, ZYDIS_MNEMONIC_NOP);

    /* And the host runs a BSF: the REP prefix must not reach it (on a host
     * with BMI1, F3 0F BC is TZCNT, which differs for a zero source). */
    static uint8_t code_bytes[] = {0xF3, 0x0F, 0xBC, 0xC9, 0xF3, 0x0F, 0xBD, 0xC1, 0xEB, 0xFE};
    struct guest_code code = {code_bytes, sizeof(code_bytes)};
    struct translate_config cfg = {.fetch = fetch, .opaque = &code};
    struct emit_buf buf;
    emit_init(&buf, host, sizeof(host));
    assert_true(translate_block(&cfg, 0x1000, &buf, &tb));
    bool has_bsf = false;
    for (size_t i = 0; i + 2 < emit_offset(&buf); i++) {
        has_bsf |= host[i] == 0x0F && host[i + 1] == 0xBC;
        bool tzcnt_or_lzcnt =
            host[i] == 0xF3 && host[i + 1] == 0x0F && (host[i + 2] == 0xBC || host[i + 2] == 0xBD);
        assert_false(tzcnt_or_lzcnt);
    }
    assert_true(has_bsf); /* ran in place, not as a callout */
}

/* RDTSC runs in place only at CPL 0 with the guest's TSC the host's;
 * otherwise it calls out (CR4.TSD, an offset written through the MSR). */
static void test_rdtsc_in_place_at_cpl0(void **state)
{
    static uint8_t code_bytes[] = {0x0F, 0x31, 0xEB, 0xFE};
    struct guest_code code = {code_bytes, sizeof(code_bytes)};
    struct translate_config cfg = {.fetch = fetch, .opaque = &code, .native_rdtsc = true};
    struct emit_buf buf;

    (void)state;
    emit_init(&buf, host, sizeof(host));
    assert_true(translate_block(&cfg, 0x1000, &buf, &tb));
    assert_int_equal(tb.ninsns, 2);
    assert_int_equal(tb.insns[0].cls, INSN_IDENT);
    assert_memory_equal(host, code_bytes, 2);
    for (unsigned cpl = 0; cpl < 4; cpl += 3) {
        cfg.cpl = cpl;
        cfg.native_rdtsc = cpl == 3;
        emit_init(&buf, host, sizeof(host));
        assert_true(translate_block(&cfg, 0x1000, &buf, &tb));
        assert_int_equal(tb.ninsns, 1);
        assert_int_equal(tb.insns[0].cls, INSN_CALLOUT);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rdtsc_in_place_at_cpl0),
        cmocka_unit_test(test_decodes_as_the_virtual_cpu),
        cmocka_unit_test(test_base_displacement_forms),
        cmocka_unit_test(test_absolute_forms),
        cmocka_unit_test(test_esp_forms),
        cmocka_unit_test(test_index_forms),
        cmocka_unit_test(test_every_register),
        cmocka_unit_test(test_segment_base_added),
        cmocka_unit_test(test_own_view_segments),
        cmocka_unit_test(test_lea_16bit_address),
        cmocka_unit_test(test_bit_string_forms),
        cmocka_unit_test(test_high_byte_registers),
        cmocka_unit_test(test_stack_forms),
        cmocka_unit_test(test_string_forms),
        cmocka_unit_test(test_branches),
        cmocka_unit_test(test_callouts),
        cmocka_unit_test(test_control_register_reads),
        cmocka_unit_test(test_callout_hands_over_its_decode),
        cmocka_unit_test(test_callouts_chained_on_a_page),
        cmocka_unit_test(test_virtual_if_at_cpl0),
        cmocka_unit_test(test_block_metadata),
        cmocka_unit_test(test_block_ends_at_page_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
