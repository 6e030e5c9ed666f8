/*
 * qsort — a recursive quicksort (Hoare partition around the median of three,
 * insertion sort below 16 elements) of QSORT_N signed 32-bit integers from
 * xorshift32, then a check that the result is sorted and a checksum over it.
 * Stresses data-dependent conditional branches (the partition loops
 * mispredict about half the time), memory traffic over a 4 MiB array and
 * moderate recursion.
 */
#include "bench.h"

const char bench_name[] = "qsort";

#define QSORT_N      1000000u
#define QSORT_ROUNDS 12
#define QSORT_SMALL  16

static int32_t qsort_data[QSORT_N];

static void insertion_sort(int32_t *a, int32_t lo, int32_t hi)
{
    for (int32_t i = lo + 1; i <= hi; i++) {
        int32_t v = a[i];
        int32_t j = i - 1;
        while (j >= lo && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static inline void swap32(int32_t *a, int32_t i, int32_t j)
{
    int32_t t = a[i];
    a[i] = a[j];
    a[j] = t;
}

/* Sorts a[lo..hi] (inclusive). */
static void quicksort(int32_t *a, int32_t lo, int32_t hi)
{
    if (hi - lo < QSORT_SMALL) {
        insertion_sort(a, lo, hi);
        return;
    }
    int32_t mid = lo + (hi - lo) / 2;
    if (a[mid] < a[lo])
        swap32(a, mid, lo);
    if (a[hi] < a[lo])
        swap32(a, hi, lo);
    if (a[hi] < a[mid])
        swap32(a, hi, mid);
    int32_t pivot = a[mid];

    int32_t i = lo - 1, j = hi + 1;
    for (;;) {
        do
            i++;
        while (a[i] < pivot);
        do
            j--;
        while (a[j] > pivot);
        if (i >= j)
            break;
        swap32(a, i, j);
    }
    quicksort(a, lo, j);
    quicksort(a, j + 1, hi);
}

uint32_t bench_run(void)
{
    uint32_t s = 0x9E3779B9u;
    uint32_t sum = 2166136261u;
    for (int round = 0; round < QSORT_ROUNDS; round++) {
        for (uint32_t i = 0; i < QSORT_N; i++)
            qsort_data[i] = (int32_t)bench_xorshift32(&s);
        quicksort(qsort_data, 0, (int32_t)QSORT_N - 1);
        for (uint32_t i = 1; i < QSORT_N; i++)
            if (qsort_data[i - 1] > qsort_data[i])
                return BENCH_VERIFY_FAILED;
        for (uint32_t i = 0; i < QSORT_N; i++)
            sum = bench_mix(sum, (uint32_t)qsort_data[i]);
    }
    return sum;
}
