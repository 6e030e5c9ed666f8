/*
 * guest-tests/addressing_forms.h — what addressing_forms.S and
 * addressing_forms.c agree on: the probe table layout, the operation codes
 * and the constants the probes preload.
 *
 * Every probe is one instruction with one memory operand. Before it runs,
 * the register it reads or writes is captured (pre), after it runs again
 * (post); probes that write memory work on an 8-byte window of ab_sbuf
 * (4-byte aligned, holding the access), which is preset, captured after the
 * instruction and cleared again. Results: ab_res[4 * slot + 0..3] = pre,
 * post, window word 0, window word 1.
 *
 * k is the offset of the effective (linear) address in ab_buf for reads and
 * in ab_sbuf for writes; for LEA it is the expected address itself.
 */
#ifndef ADDRESSING_FORMS_H
#define ADDRESSING_FORMS_H

/* op = kind | size (1, 2, 4) | HI (AH/CH/DH/BH: bits 8..15 of the register) */
#define AB_SIZE_MASK 0x07
#define AB_HI        0x08
#define AB_KIND_MASK 0xF0
#define AB_GROUP     0x00 /* not a probe: starts a group, text is its name */
#define AB_LD        0x10 /* mov reg, [m] */
#define AB_ST        0x20 /* mov [m], reg (window starts zero) */
#define AB_ADD       0x30 /* add [m], reg */
#define AB_ADDR      0x40 /* add reg, [m] */
#define AB_INC       0x50 /* inc [m] */
#define AB_XCHG      0x60 /* xchg [m], reg */
#define AB_LEA       0x70 /* lea reg, [m] */

#define AB_PRE 0x9E3779B9 /* preloaded into the probe's register */
#define AB_W0  0x7F8091A2 /* window words before ADD/INC/XCHG */
#define AB_W1  0xB3C4D5E6

#define AB_BUF_SIZE  8192
#define AB_MAX_SLOTS 2048

/* Offsets of the segments addressing_forms.c installs, from the buffers. */
#define AB_FS_LOAD_OFF  0x800      /* SEL 0x30: base ab_buf + 0x800 */
#define AB_GS_STORE_OFF 0x400      /* SEL 0x38: base ab_sbuf + 0x400 */
#define AB_WRAP_OFF     0x80000100 /* SEL 0x40: base ab_buf + 0x80000100 */
#define AB_SS_LOAD_OFF  0x1000     /* SEL 0x48: base ab_buf + 0x1000 */
#define AB_SS_STORE_OFF 0x200      /* SEL 0x50: base ab_sbuf + 0x200 */
#define AB_SEL_FS_LOAD  0x30
#define AB_SEL_GS_STORE 0x38
#define AB_SEL_WRAP     0x40
#define AB_SEL_SS_LOAD  0x48
#define AB_SEL_SS_STORE 0x50

#endif
