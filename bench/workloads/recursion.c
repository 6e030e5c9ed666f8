/*
 * recursion — call/ret heavy code: naive Fibonacci, Ackermann(2, n) repeated,
 * and repeated recursive walks of a random binary search tree. Almost every
 * basic block ends in a call or a return, so this stresses how a translator
 * handles return addresses (a return-stack cache, or a hash lookup per ret)
 * and the chaining of blocks across calls.
 *
 * Depths: fib(FIB_N) goes FIB_N frames deep, ack(2, n) about 3n frames, the
 * tree walk about 40; the guest shim gives the workload a 1 MiB stack.
 */
#include "bench.h"

const char bench_name[] = "recursion";

#define FIB_N      35
#define ACK_N      400
#define ACK_REPS   150
#define TREE_NODES (1u << 15)
#define TREE_WALKS 1000

__attribute__((noinline)) static uint32_t fib(uint32_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__attribute__((noinline)) static uint32_t ack(uint32_t m, uint32_t n)
{
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ack(m - 1, 1);
    return ack(m - 1, ack(m, n - 1));
}

struct tree_node {
    uint32_t key;
    int32_t left, right; /* indices into tree_pool, -1 for none */
};

static struct tree_node tree_pool[TREE_NODES];

static int32_t tree_build(uint32_t seed)
{
    uint32_t s = seed;
    uint32_t used = 0;
    for (uint32_t i = 0; i < TREE_NODES; i++) {
        uint32_t key = bench_xorshift32(&s);
        struct tree_node *n = &tree_pool[used];
        n->key = key;
        n->left = n->right = -1;
        if (used == 0) {
            used++;
            continue;
        }
        int32_t cur = 0;
        for (;;) {
            struct tree_node *c = &tree_pool[cur];
            if (key == c->key)
                break; /* duplicate: drop it */
            int32_t *link = key < c->key ? &c->left : &c->right;
            if (*link < 0) {
                *link = (int32_t)used++;
                break;
            }
            cur = *link;
        }
    }
    return 0;
}

/* Sum over the subtree of key * depth, plus the number of nodes. */
__attribute__((noinline)) static uint32_t tree_walk(int32_t idx, uint32_t depth)
{
    if (idx < 0)
        return 0;
    const struct tree_node *n = &tree_pool[idx];
    uint32_t l = tree_walk(n->left, depth + 1);
    uint32_t r = tree_walk(n->right, depth + 1);
    return l + r + n->key * depth + 1;
}

__attribute__((noinline)) static uint32_t tree_height(int32_t idx)
{
    if (idx < 0)
        return 0;
    uint32_t l = tree_height(tree_pool[idx].left);
    uint32_t r = tree_height(tree_pool[idx].right);
    return 1 + (l > r ? l : r);
}

uint32_t bench_run(void)
{
    uint32_t sum = 2166136261u;

    uint32_t f = fib(FIB_N);
    sum = bench_mix(sum, f);

    for (uint32_t i = 0; i < ACK_REPS; i++) {
        uint32_t a = ack(2, ACK_N + i);
        if (a != 2 * (ACK_N + i) + 3) /* A(2, n) = 2n + 3 */
            return BENCH_VERIFY_FAILED;
        sum = bench_mix(sum, a);
    }

    int32_t root = tree_build(0xC0FFEEu);
    sum = bench_mix(sum, tree_height(root));
    for (uint32_t i = 0; i < TREE_WALKS; i++)
        sum = bench_mix(sum, tree_walk(root, i + 1));
    return sum;
}
