/*
 * translator/emit.c — the host code buffer (emit.h).
 *
 * Byte encodings are from the Intel SDM vol. 2; each function names the
 * instruction it writes.
 */
#include "translator/emit.h"

#include <string.h>

void emit_init(struct emit_buf *b, uint8_t *start, size_t size)
{
    b->start = start;
    b->cursor = start;
    b->end = start + size;
    b->overflow = false;
    b->encode_failed = false;
}

void emit_bytes(struct emit_buf *b, const void *bytes, size_t n)
{
    if (b->overflow || (size_t)(b->end - b->cursor) < n) {
        b->overflow = true;
        return;
    }
    memcpy(b->cursor, bytes, n);
    b->cursor += n;
}

void emit_u8(struct emit_buf *b, uint8_t v)
{
    emit_bytes(b, &v, 1);
}

void emit_u32(struct emit_buf *b, uint32_t v)
{
    emit_bytes(b, &v, 4);
}

bool emit_request(struct emit_buf *b, const ZydisEncoderRequest *req)
{
    uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
    ZyanUSize length = sizeof(bytes);

    if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(req, bytes, &length))) {
        b->encode_failed = true;
        return false;
    }
    emit_bytes(b, bytes, length);
    return true;
}

void emit_store_vcpu_u32(struct emit_buf *b, int32_t offset, uint32_t value)
{
    static const uint8_t op[] = {0x41, 0xC7, 0x87}; /* mov dword [r15 + disp32], imm32 */

    emit_bytes(b, op, sizeof(op));
    emit_u32(b, (uint32_t)offset);
    emit_u32(b, value);
}

void emit_store_vcpu_r14d(struct emit_buf *b, int32_t offset)
{
    static const uint8_t op[] = {0x45, 0x89, 0xB7}; /* mov [r15 + disp32], r14d */

    emit_bytes(b, op, sizeof(op));
    emit_u32(b, (uint32_t)offset);
}

void emit_store_vcpu_u8(struct emit_buf *b, int32_t offset, uint8_t value)
{
    static const uint8_t op[] = {0x41, 0xC6, 0x87}; /* mov byte [r15 + disp32], imm8 */

    emit_bytes(b, op, sizeof(op));
    emit_u32(b, (uint32_t)offset);
    emit_u8(b, value);
}

void emit_movzx_ecx_vcpu_u8(struct emit_buf *b, int32_t offset)
{
    static const uint8_t op[] = {0x41, 0x0F, 0xB6, 0x8F}; /* movzx ecx, byte [r15 + disp32] */

    emit_bytes(b, op, sizeof(op));
    emit_u32(b, (uint32_t)offset);
}

void emit_save_rcx_in_r11(struct emit_buf *b)
{
    static const uint8_t op[] = {0x49, 0x89, 0xCB}; /* mov r11, rcx */

    emit_bytes(b, op, sizeof(op));
}

void emit_restore_rcx_from_r11(struct emit_buf *b)
{
    static const uint8_t op[] = {0x4C, 0x89, 0xD9}; /* mov rcx, r11 */

    emit_bytes(b, op, sizeof(op));
}

void emit_movzx_r14d_vcpu_u16(struct emit_buf *b, int32_t offset)
{
    static const uint8_t op[] = {0x45, 0x0F, 0xB7, 0xB7}; /* movzx r14d, word [r15 + disp32] */

    emit_bytes(b, op, sizeof(op));
    emit_u32(b, (uint32_t)offset);
}

void emit_mov_r14d_imm(struct emit_buf *b, uint32_t value)
{
    static const uint8_t op[] = {0x41, 0xBE}; /* mov r14d, imm32 */

    emit_bytes(b, op, sizeof(op));
    emit_u32(b, value);
}

void emit_mov_r14_imm64(struct emit_buf *b, uint64_t value)
{
    static const uint8_t op[] = {0x49, 0xBE}; /* mov r14, imm64 */

    emit_bytes(b, op, sizeof(op));
    emit_u32(b, (uint32_t)value);
    emit_u32(b, (uint32_t)(value >> 32));
}

void emit_lea_r14_rip(struct emit_buf *b, size_t target)
{
    static const uint8_t op[] = {0x4C, 0x8D, 0x35}; /* lea r14, [rip + disp32] */

    emit_bytes(b, op, sizeof(op));
    emit_u32(b, (uint32_t)((int64_t)target - (int64_t)(emit_offset(b) + 4)));
}

void emit_jmp_vcpu_indirect(struct emit_buf *b, int32_t offset)
{
    static const uint8_t op[] = {0x41, 0xFF, 0xA7}; /* jmp qword [r15 + disp32] */

    emit_bytes(b, op, sizeof(op));
    emit_u32(b, (uint32_t)offset);
}

size_t emit_jmp_rel32(struct emit_buf *b)
{
    emit_u8(b, 0xE9);
    size_t at = emit_offset(b);
    emit_u32(b, 0);
    return at;
}

size_t emit_jcc_rel32(struct emit_buf *b, unsigned cc)
{
    emit_u8(b, 0x0F);
    emit_u8(b, (uint8_t)(0x80 | (cc & 0xF)));
    size_t at = emit_offset(b);
    emit_u32(b, 0);
    return at;
}

void emit_patch_rel32(struct emit_buf *b, size_t rel32_offset, size_t target)
{
    int32_t rel = (int32_t)((int64_t)target - (int64_t)(rel32_offset + 4));

    if (rel32_offset + 4 <= (size_t)(b->end - b->start))
        memcpy(b->start + rel32_offset, &rel, 4);
}

size_t emit_jecxz_rel8(struct emit_buf *b)
{
    emit_u8(b, 0x67); /* address-size prefix: test ECX, not RCX */
    emit_u8(b, 0xE3);
    size_t at = emit_offset(b);
    emit_u8(b, 0);
    return at;
}

size_t emit_jmp_rel8(struct emit_buf *b)
{
    emit_u8(b, 0xEB);
    size_t at = emit_offset(b);
    emit_u8(b, 0);
    return at;
}

size_t emit_jrcxz_rel8(struct emit_buf *b)
{
    emit_u8(b, 0xE3);
    size_t at = emit_offset(b);
    emit_u8(b, 0);
    return at;
}

void emit_patch_rel8(struct emit_buf *b, size_t rel8_offset, size_t target)
{
    int64_t rel = (int64_t)target - (int64_t)(rel8_offset + 1);

    if (rel < -128 || rel > 127) {
        b->encode_failed = true; /* a translator bug: short branches stay local */
        return;
    }
    if (rel8_offset < (size_t)(b->end - b->start))
        b->start[rel8_offset] = (uint8_t)(int8_t)rel;
}

void emit_write_rel32_at(uint8_t *site_writable, const uint8_t *site_exec, const void *target)
{
    int32_t rel = (int32_t)((const uint8_t *)target - (site_exec + 4));

    /* A single aligned-or-not 4-byte store; the chained jump is executed by
     * this same thread only after the monitor returns to translated code. */
    memcpy(site_writable, &rel, 4);
}
