/*
 * translator/classify.h — what the translator does with each guest instruction.
 *
 * DESIGN.md §3: every guest instruction is ident, inline, callout or control.
 * Here "inline" is split by mechanism (stack, string, xlat), because each has
 * its own flag-neutral host sequence in translator/translate.c.
 */
#ifndef POPEK_TRANSLATOR_CLASSIFY_H
#define POPEK_TRANSLATOR_CLASSIFY_H

#include <stdbool.h>

#include <Zydis/Zydis.h>

enum insn_class {
    INSN_IDENT,   /* the same instruction, memory operands rewritten into the view */
    INSN_STACK,   /* implicit stack access: push/pop/pusha/popa/enter/leave */
    INSN_STRING,  /* movs/stos/lods/cmps/scas, with or without rep */
    INSN_XLAT,    /* xlat: implicit [ebx + al] */
    INSN_BRANCH,  /* jmp/jcc/call/ret/loop/jecxz: ends the block */
    INSN_CALLOUT, /* executed by emul/ in the monitor: ends the block */
};

enum insn_class classify_instruction(const ZydisDecodedInstruction *insn,
                                     const ZydisDecodedOperand *operands);

const char *insn_class_name(enum insn_class cls);

#endif
