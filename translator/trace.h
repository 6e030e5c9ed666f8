/*
 * translator/trace.h — `-d in_asm,out_asm`: each new block's guest code and
 * the host code emitted for it, side by side, disassembled with Capstone
 * (a second opinion independent of the Zydis decoder the translator uses).
 */
#ifndef POPEK_TRANSLATOR_TRACE_H
#define POPEK_TRANSLATOR_TRACE_H

#include <stdio.h>

#include "translator/translate.h"

/* Prints block tb: for every guest instruction (when in_asm) its address and
 * text, then (when out_asm) the host instructions of its sequence, and the
 * block's exit stubs. `fetch` re-reads the guest bytes; host_code is the
 * block's executable address. */
void trace_block(FILE *out, bool in_asm, bool out_asm, const struct translated_block *tb,
                 const struct translate_config *fetch, const uint8_t *host_code);

#endif
