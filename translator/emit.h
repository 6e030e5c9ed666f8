/*
 * translator/emit.h — writing host x86-64 code into a buffer.
 *
 * Two ways in: encoder requests (Zydis re-encodes what the translator
 * decided) and the handful of fixed sequences the translation cache relies on
 * (exit stubs, patchable jumps, the event poll), written byte by byte so their
 * patch offsets are known. Everything emitted here is position independent
 * within a block: branches are rel32/rel8 inside the block, the monitor is
 * reached through [r15 + exit_routine], so a finished block can be copied
 * into the code arena as is.
 *
 * Overflow is sticky: once the buffer is full every emit is a no-op and
 * emit_ok() is false; the translator ends the block earlier and retries.
 */
#ifndef POPEK_TRANSLATOR_EMIT_H
#define POPEK_TRANSLATOR_EMIT_H

#include <Zydis/Zydis.h>

#include "common/types.h"

struct emit_buf {
    uint8_t *start;
    uint8_t *cursor;
    uint8_t *end;
    bool overflow;
    bool encode_failed;
};

void emit_init(struct emit_buf *b, uint8_t *start, size_t size);
static inline size_t emit_offset(const struct emit_buf *b)
{
    return (size_t)(b->cursor - b->start);
}
static inline bool emit_ok(const struct emit_buf *b)
{
    return !b->overflow && !b->encode_failed;
}

void emit_bytes(struct emit_buf *b, const void *bytes, size_t n);
void emit_u8(struct emit_buf *b, uint8_t v);
void emit_u32(struct emit_buf *b, uint32_t v);

/* Encodes one request (64-bit mode). Returns false (and marks the buffer)
 * when Zydis refuses it. */
bool emit_request(struct emit_buf *b, const ZydisEncoderRequest *req);

/* mov dword [r15 + offset], imm32 */
void emit_store_vcpu_u32(struct emit_buf *b, int32_t offset, uint32_t value);
/* mov dword [r15 + offset], r14d */
void emit_store_vcpu_r14d(struct emit_buf *b, int32_t offset);
/* mov r14d, imm32 (flag-neutral zero/constant) */
void emit_mov_r14d_imm(struct emit_buf *b, uint32_t value);
void emit_mov_r14_imm64(struct emit_buf *b, uint64_t value);
/* mov byte [r15 + offset], value */
void emit_store_vcpu_u8(struct emit_buf *b, int32_t offset, uint8_t value);
/* movzx ecx, byte [r15 + offset]; and saving/restoring rcx in r11 around it */
void emit_movzx_ecx_vcpu_u8(struct emit_buf *b, int32_t offset);
void emit_save_rcx_in_r11(struct emit_buf *b);
void emit_restore_rcx_from_r11(struct emit_buf *b);
/* movzx r14d, word [r15 + offset] (flag-neutral) */
void emit_movzx_r14d_vcpu_u16(struct emit_buf *b, int32_t offset);
/* lea r14, [rip + to the absolute buffer offset `target`] */
void emit_lea_r14_rip(struct emit_buf *b, size_t target);
/* jmp qword [r15 + offset] */
void emit_jmp_vcpu_indirect(struct emit_buf *b, int32_t offset);

/* jmp rel32 / jcc rel32 with the displacement left zero; returns the offset
 * of the rel32 field, patched later with emit_patch_rel32. `cc` is the
 * condition nibble (0x0 = O ... 0xF = G) of the 0F 8x encoding. */
size_t emit_jmp_rel32(struct emit_buf *b);
size_t emit_jcc_rel32(struct emit_buf *b, unsigned cc);
/* Points the rel32 at `rel32_offset` to buffer offset `target`. */
void emit_patch_rel32(struct emit_buf *b, size_t rel32_offset, size_t target);

/* jrcxz/jecxz rel8 with a zero displacement; returns the rel8 offset. */
size_t emit_jecxz_rel8(struct emit_buf *b);
size_t emit_jrcxz_rel8(struct emit_buf *b);
/* jmp rel8 with a zero displacement; returns the rel8 offset. */
size_t emit_jmp_rel8(struct emit_buf *b);
void emit_patch_rel8(struct emit_buf *b, size_t rel8_offset, size_t target);

/* Writes into live code: the rel32 at host address `site` now reaches `target`. */
void emit_write_rel32_at(uint8_t *site_writable, const uint8_t *site_exec, const void *target);

#endif
