/*
 * translator/classify.c — sorting guest instructions into translation classes.
 *
 * The rule is an allow-list: an instruction runs as itself only when its ISA
 * set is one the virtual P6/SSE2 CPU has, it is not privileged or sensitive,
 * and it means the same in 64-bit mode. Everything else becomes a callout,
 * where emul/ either executes it or raises #UD — so an unknown instruction
 * can never run natively by accident.
 */
#include "translator/classify.h"

#include "emul/emul.h"

/* Ident needs an ISA set the virtual CPU has (emul/ owns that list) and no
 * 286 system instructions (lar, lsl, verr...: callouts). */
static bool isa_set_is_ident(ZydisISASet isa)
{
    return emul_cpu_has_isa_set(isa) && isa != ZYDIS_ISA_SET_I286PROTECTED &&
           isa != ZYDIS_ISA_SET_I286REAL;
}

/* Instructions with special handling, whatever their ISA set says. */
static bool classify_by_mnemonic(const ZydisDecodedInstruction *insn, enum insn_class *cls)
{
    switch (insn->mnemonic) {
    case ZYDIS_MNEMONIC_PUSH:
    case ZYDIS_MNEMONIC_POP:
    case ZYDIS_MNEMONIC_PUSHAD:
    case ZYDIS_MNEMONIC_POPAD:
    case ZYDIS_MNEMONIC_ENTER:
    case ZYDIS_MNEMONIC_LEAVE:
        *cls = INSN_STACK;
        return true;
    case ZYDIS_MNEMONIC_MOVSD: /* also the SSE2 scalar move */
    case ZYDIS_MNEMONIC_CMPSD: /* also the SSE2 scalar compare */
        if (insn->meta.category != ZYDIS_CATEGORY_STRINGOP)
            return false;
        *cls = INSN_STRING;
        return true;
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_STOSB:
    case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD:
    case ZYDIS_MNEMONIC_LODSB:
    case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_LODSD:
    case ZYDIS_MNEMONIC_CMPSB:
    case ZYDIS_MNEMONIC_CMPSW:
    case ZYDIS_MNEMONIC_SCASB:
    case ZYDIS_MNEMONIC_SCASW:
    case ZYDIS_MNEMONIC_SCASD:
        *cls = INSN_STRING;
        return true;
    case ZYDIS_MNEMONIC_XLAT:
        *cls = INSN_XLAT;
        return true;
    case ZYDIS_MNEMONIC_MASKMOVQ: /* implicit [edi] store: biased like a string */
    case ZYDIS_MNEMONIC_MASKMOVDQU:
        *cls = INSN_STRING;
        return true;
    case ZYDIS_MNEMONIC_JMP:
    case ZYDIS_MNEMONIC_CALL:
    case ZYDIS_MNEMONIC_RET:
    case ZYDIS_MNEMONIC_JB:
    case ZYDIS_MNEMONIC_JBE:
    case ZYDIS_MNEMONIC_JL:
    case ZYDIS_MNEMONIC_JLE:
    case ZYDIS_MNEMONIC_JNB:
    case ZYDIS_MNEMONIC_JNBE:
    case ZYDIS_MNEMONIC_JNL:
    case ZYDIS_MNEMONIC_JNLE:
    case ZYDIS_MNEMONIC_JNO:
    case ZYDIS_MNEMONIC_JNP:
    case ZYDIS_MNEMONIC_JNS:
    case ZYDIS_MNEMONIC_JNZ:
    case ZYDIS_MNEMONIC_JO:
    case ZYDIS_MNEMONIC_JP:
    case ZYDIS_MNEMONIC_JS:
    case ZYDIS_MNEMONIC_JZ:
    case ZYDIS_MNEMONIC_JECXZ:
    case ZYDIS_MNEMONIC_JCXZ:
    case ZYDIS_MNEMONIC_LOOP:
    case ZYDIS_MNEMONIC_LOOPE:
    case ZYDIS_MNEMONIC_LOOPNE:
        *cls = INSN_BRANCH;
        return true;
    /* Flag instructions that touch only arithmetic flags or DF run as
     * themselves; pushf/popf/cli/sti involve IF/IOPL and are callouts. */
    case ZYDIS_MNEMONIC_CLC:
    case ZYDIS_MNEMONIC_STC:
    case ZYDIS_MNEMONIC_CMC:
    case ZYDIS_MNEMONIC_CLD:
    case ZYDIS_MNEMONIC_STD:
    case ZYDIS_MNEMONIC_LAHF:
    case ZYDIS_MNEMONIC_SAHF:
        *cls = INSN_IDENT;
        return true;
    /* Valid in 32-bit code, invalid or different in 64-bit mode, or
     * sensitive: emul/ executes them. */
    case ZYDIS_MNEMONIC_DAA:
    case ZYDIS_MNEMONIC_DAS:
    case ZYDIS_MNEMONIC_AAA:
    case ZYDIS_MNEMONIC_AAS:
    case ZYDIS_MNEMONIC_AAM:
    case ZYDIS_MNEMONIC_AAD:
    case ZYDIS_MNEMONIC_BOUND:
    case ZYDIS_MNEMONIC_INTO:
    case ZYDIS_MNEMONIC_ARPL:
    case ZYDIS_MNEMONIC_SALC:
    case ZYDIS_MNEMONIC_LDS:
    case ZYDIS_MNEMONIC_LES:
    case ZYDIS_MNEMONIC_LFS:
    case ZYDIS_MNEMONIC_LGS:
    case ZYDIS_MNEMONIC_LSS:
    case ZYDIS_MNEMONIC_PUSHFD:
    case ZYDIS_MNEMONIC_PUSHF:
    case ZYDIS_MNEMONIC_POPFD:
    case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_PUSHA:
    case ZYDIS_MNEMONIC_POPA:
    case ZYDIS_MNEMONIC_CLI:
    case ZYDIS_MNEMONIC_STI:
    case ZYDIS_MNEMONIC_HLT:
    case ZYDIS_MNEMONIC_CPUID:
    case ZYDIS_MNEMONIC_RDTSC:
    case ZYDIS_MNEMONIC_INT:
    case ZYDIS_MNEMONIC_INT1:
    case ZYDIS_MNEMONIC_INT3:
    case ZYDIS_MNEMONIC_IRET:
    case ZYDIS_MNEMONIC_IRETD:
    case ZYDIS_MNEMONIC_UD0:
    case ZYDIS_MNEMONIC_UD1:
    case ZYDIS_MNEMONIC_UD2:
        *cls = INSN_CALLOUT;
        return true;
    default:
        return false;
    }
}

static bool operands_are_ident_safe(const ZydisDecodedInstruction *insn,
                                    const ZydisDecodedOperand *operands)
{
    for (unsigned i = 0; i < insn->operand_count; i++) {
        const ZydisDecodedOperand *op = &operands[i];

        /* Segment, control and debug registers as operands are sensitive
         * (mov from/to sreg, mov crN): the monitor handles them. */
        if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
            ZydisRegisterClass rc = ZydisRegisterGetClass(op->reg.value);
            if (rc == ZYDIS_REGCLASS_SEGMENT || rc == ZYDIS_REGCLASS_CONTROL ||
                rc == ZYDIS_REGCLASS_DEBUG || rc == ZYDIS_REGCLASS_TEST)
                return false;
        }
        if (op->type == ZYDIS_OPERAND_TYPE_POINTER)
            return false;
        /* A memory operand the encoding does not spell out (maskmovq's
         * [edi], ...) would reach the host unrewritten: never ident. */
        if (op->type == ZYDIS_OPERAND_TYPE_MEMORY &&
            op->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT)
            return false;
    }
    return true;
}

enum insn_class classify_instruction(const ZydisDecodedInstruction *insn,
                                     const ZydisDecodedOperand *operands)
{
    enum insn_class cls;

    if (classify_by_mnemonic(insn, &cls))
        return cls;
    if (insn->attributes & ZYDIS_ATTRIB_IS_PRIVILEGED)
        return INSN_CALLOUT;
    switch (insn->meta.category) {
    case ZYDIS_CATEGORY_SYSTEM:
    case ZYDIS_CATEGORY_INTERRUPT:
    case ZYDIS_CATEGORY_IO:
    case ZYDIS_CATEGORY_IOSTRINGOP:
    case ZYDIS_CATEGORY_SEGOP:
    case ZYDIS_CATEGORY_SYSCALL:
    case ZYDIS_CATEGORY_SYSRET:
    case ZYDIS_CATEGORY_FLAGOP:
    case ZYDIS_CATEGORY_CALL:
    case ZYDIS_CATEGORY_RET:
    case ZYDIS_CATEGORY_UNCOND_BR:
    case ZYDIS_CATEGORY_COND_BR:
    case ZYDIS_CATEGORY_PUSH:
    case ZYDIS_CATEGORY_POP:
    case ZYDIS_CATEGORY_STRINGOP:
    case ZYDIS_CATEGORY_DECIMAL:
        return INSN_CALLOUT;
    default:
        break;
    }
    if (!isa_set_is_ident(insn->meta.isa_set) || !operands_are_ident_safe(insn, operands))
        return INSN_CALLOUT;
    return INSN_IDENT;
}

const char *insn_class_name(enum insn_class cls)
{
    static const char *const names[] = {"ident", "stack", "string", "xlat", "branch", "callout"};

    return cls <= INSN_CALLOUT ? names[cls] : "?";
}
