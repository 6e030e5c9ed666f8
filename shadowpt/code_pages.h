/*
 * shadowpt/code_pages.h — write protection of guest pages holding code that
 * has been translated (self-modifying code, DESIGN.md §3).
 *
 * Once a block is translated from a page, the page is mapped read-only in
 * the view. A guest store to it faults; the monitor drops the page's blocks,
 * makes the page writable again and restarts the store. The page is
 * protected again the next time code on it is translated.
 *
 * Paging is off in this version, so a guest page has one linear address;
 * with guest paging, every linear alias of the frame is protected (reverse
 * map, issue 4).
 */
#ifndef POPEK_SHADOWPT_CODE_PAGES_H
#define POPEK_SHADOWPT_CODE_PAGES_H

#include "shadowpt/view.h"

struct code_pages;

struct code_pages *code_pages_create(const struct guest_ram *ram, struct view *view,
                                     struct popek_error *err);
void code_pages_destroy(struct code_pages *cp);

/* Write-protects the page containing `linear` (no-op if already protected
 * or not RAM). */
void code_pages_protect(struct code_pages *cp, guest_linear_t linear);

/* True when the page containing `linear` is write-protected for code. */
bool code_pages_is_protected(const struct code_pages *cp, guest_linear_t linear);

/* Makes the page writable again (after its blocks were dropped). */
void code_pages_unprotect(struct code_pages *cp, guest_linear_t linear);

/* Makes every page writable (after a flush of the whole cache). */
void code_pages_unprotect_all(struct code_pages *cp);

uint64_t code_pages_protected_count(const struct code_pages *cp);

#endif
