/*
 * shadowpt/rmap.c — reverse-map lists (rmap.h).
 */
#include "shadowpt/rmap.h"

#include <stdlib.h>

bool rmap_add(struct rmap *rm, uint32_t entry)
{
    for (uint32_t i = 0; i < rm->n; i++) {
        if (rm->e[i] == entry)
            return true;
    }
    if (rm->n == rm->cap) {
        uint32_t cap = rm->cap ? rm->cap * 2 : 4;
        uint32_t *grown = realloc(rm->e, cap * sizeof(*grown));
        if (!grown)
            return false;
        rm->e = grown;
        rm->cap = cap;
    }
    rm->e[rm->n++] = entry;
    return true;
}

void rmap_clear(struct rmap *rm)
{
    rm->n = 0;
}

void rmap_free(struct rmap *rm)
{
    free(rm->e);
    rm->e = NULL;
    rm->n = rm->cap = 0;
}
