/*
 * common/types.h — the address types every popek module speaks.
 *
 * Guest-physical, guest-linear and host addresses are different spaces and
 * never share an integer type (STYLE.md): a guest_phys_t is an offset into
 * guest RAM (the memfd), a guest_linear_t is what a guest instruction computes
 * after segmentation, and host pointers are plain C pointers.
 */
#ifndef POPEK_COMMON_TYPES_H
#define POPEK_COMMON_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint32_t guest_phys_t;   /* 32-bit physical address (no PAE yet) */
typedef uint32_t guest_linear_t; /* linear address after segmentation */
typedef uint16_t io_port_t;      /* x86 I/O port number */

#define GUEST_PAGE_SHIFT 12
#define GUEST_PAGE_SIZE  (1u << GUEST_PAGE_SHIFT)
#define GUEST_PAGE_MASK  (~(GUEST_PAGE_SIZE - 1))

#define KIB(x) ((uint64_t)(x) << 10)
#define MIB(x) ((uint64_t)(x) << 20)
#define GIB(x) ((uint64_t)(x) << 30)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
