/*
 * translator/trace.c — disassembly of translated blocks for -d in_asm,out_asm.
 */
#include "translator/trace.h"

#include <capstone/capstone.h>

static csh guest_cs, host_cs;
static bool cs_ready, cs_failed;

static bool trace_open(void)
{
    if (cs_ready || cs_failed)
        return cs_ready;
    if (cs_open(CS_ARCH_X86, CS_MODE_32, &guest_cs) != CS_ERR_OK ||
        cs_open(CS_ARCH_X86, CS_MODE_64, &host_cs) != CS_ERR_OK) {
        cs_failed = true;
        return false;
    }
    cs_ready = true;
    return true;
}

static void print_host_range(FILE *out, const uint8_t *code, size_t start, size_t end)
{
    cs_insn *insn;
    size_t n = cs_disasm(host_cs, code + start, end - start, (uint64_t)(uintptr_t)(code + start), 0,
                         &insn);

    for (size_t i = 0; i < n; i++)
        fprintf(out, "      0x%012llx:  %s %s\n", (unsigned long long)insn[i].address,
                insn[i].mnemonic, insn[i].op_str);
    if (n)
        cs_free(insn, n);
}

void trace_block(FILE *out, bool in_asm, bool out_asm, const struct translated_block *tb,
                 const struct translate_config *fetch, const uint8_t *host_code)
{
    if (!trace_open())
        return;
    fprintf(out,
            "----------------\nIN: block 0x%08x, %u instructions, %u guest bytes -> %u host "
            "bytes\n",
            tb->eip, tb->ninsns, tb->guest_size, tb->code_size);
    if (out_asm && tb->ninsns)
        fprintf(out, "    (entry: event poll)\n");
    if (out_asm)
        print_host_range(out, host_code, 0, tb->ninsns ? tb->insns[0].host_offset : tb->code_size);
    for (unsigned i = 0; i < tb->ninsns; i++) {
        const struct translated_insn *ti = &tb->insns[i];
        uint8_t bytes[16];
        size_t len = fetch->fetch(fetch->opaque, ti->eip, bytes, ti->length ? ti->length : 1);
        cs_insn *insn = NULL;
        size_t n = ti->length ? cs_disasm(guest_cs, bytes, len, ti->eip, 1, &insn) : 0;

        if (in_asm) {
            if (n)
                fprintf(out, "0x%08x:  %-8s %-40s [%s]\n", ti->eip, insn[0].mnemonic,
                        insn[0].op_str, insn_class_name((enum insn_class)ti->cls));
            else
                fprintf(out, "0x%08x:  (undecodable or unreadable) [%s]\n", ti->eip,
                        insn_class_name((enum insn_class)ti->cls));
        }
        if (n)
            cs_free(insn, n);
        if (out_asm) {
            size_t end = i + 1 < tb->ninsns ? tb->insns[i + 1].host_offset
                                            : (tb->nexits ? tb->exits[0].stub : tb->code_size);
            for (unsigned e = 0; e < tb->nexits; e++) {
                if (tb->exits[e].stub < end && tb->exits[e].stub > ti->host_offset)
                    end = tb->exits[e].stub;
            }
            print_host_range(out, host_code, ti->host_offset, end);
        }
    }
    if (out_asm && tb->nexits) {
        size_t first = tb->exits[0].stub;
        for (unsigned e = 1; e < tb->nexits; e++)
            first = tb->exits[e].stub < first ? tb->exits[e].stub : first;
        fprintf(out, "    (exit stubs)\n");
        print_host_range(out, host_code, first, tb->code_size);
    }
    fprintf(out, "\n");
}
