/*
 * shadowpt/identity.h — the view used while guest paging is off.
 *
 * With CR0.PG=0, linear equals physical (SDM vol. 3, §4.1.1): every usable RAM
 * frame is mapped read/write at its own address. The legacy hole (640 KiB–
 * 1 MiB) and everything above RAM stay unmapped, so accesses there fault and
 * reach the MMIO bus (or become guest errors). Contiguous frames are mapped
 * with one mmap each run: two runs for any RAM size.
 */
#ifndef POPEK_SHADOWPT_IDENTITY_H
#define POPEK_SHADOWPT_IDENTITY_H

#include "shadowpt/view.h"

bool shadow_map_identity(struct view *view, const struct guest_ram *ram, struct popek_error *err);

#endif
