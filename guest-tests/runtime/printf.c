/*
 * guest-tests/runtime/printf.c — the runtime's formatter: rt_printf,
 * rt_snprintf and their va_list forms.
 *
 * Supported: %d %i %u %x %X %c %s %p %% with flags '-', '0' and '+', a width
 * (digits or '*'), a precision for %s, and the length modifiers hh, h, l, ll
 * (ll = 64 bits). Nothing allocates and nothing calls libgcc: 64-bit
 * division by the radix is done with two 32-bit DIVs (divide_small), so the
 * kernels link without -lgcc.
 */
#include "rt.h"

struct sink {
    char *buf; /* NULL: write to COM1 */
    size_t size;
    size_t len; /* characters produced, including ones that did not fit */
};

static void emit(struct sink *s, char c)
{
    if (s->buf == NULL)
        rt_putc(c);
    else if (s->len + 1 < s->size)
        s->buf[s->len] = c;
    s->len++;
}

static void emit_pad(struct sink *s, char c, int n)
{
    while (n-- > 0)
        emit(s, c);
}

/* *v /= d, returns the remainder; d < 2^32. The high word is divided first so
 * that the second DIV's quotient fits in 32 bits (no #DE). */
static uint32_t divide_small(uint64_t *v, uint32_t d)
{
    uint32_t hi = (uint32_t)(*v >> 32), lo = (uint32_t)*v;
    uint32_t qhi = hi / d, rem = hi % d, qlo;
    __asm__("divl %[d]" : "=a"(qlo), "+d"(rem) : "a"(lo), [d] "rm"(d) : "cc");
    *v = ((uint64_t)qhi << 32) | qlo;
    return rem;
}

struct spec {
    bool left, zero, plus;
    int width, precision;
};

static void emit_field(struct sink *s, const struct spec *sp, const char *prefix, const char *body,
                       int body_len)
{
    int plen = (int)strlen(prefix);
    int pad = sp->width - plen - body_len;
    if (!sp->left && !sp->zero)
        emit_pad(s, ' ', pad);
    for (int i = 0; i < plen; i++)
        emit(s, prefix[i]);
    if (!sp->left && sp->zero)
        emit_pad(s, '0', pad);
    for (int i = 0; i < body_len; i++)
        emit(s, body[i]);
    if (sp->left)
        emit_pad(s, ' ', pad);
}

static void emit_number(struct sink *s, const struct spec *sp, uint64_t v, unsigned radix,
                        bool upper, const char *prefix)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;
    do {
        tmp[sizeof(tmp) - 1 - n++] = digits[divide_small(&v, radix)];
    } while (v != 0);
    emit_field(s, sp, prefix, tmp + sizeof(tmp) - n, n);
}

static int format(struct sink *s, const char *fmt, va_list ap)
{
    while (*fmt) {
        if (*fmt != '%') {
            emit(s, *fmt++);
            continue;
        }
        fmt++;
        struct spec sp = {.precision = -1};
        for (;; fmt++) {
            if (*fmt == '-')
                sp.left = true;
            else if (*fmt == '0')
                sp.zero = true;
            else if (*fmt == '+')
                sp.plus = true;
            else
                break;
        }
        if (*fmt == '*') {
            sp.width = va_arg(ap, int);
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            sp.width = sp.width * 10 + (*fmt++ - '0');
        if (*fmt == '.') {
            sp.precision = 0;
            fmt++;
            while (*fmt >= '0' && *fmt <= '9')
                sp.precision = sp.precision * 10 + (*fmt++ - '0');
        }
        int longs = 0;
        while (*fmt == 'l' || *fmt == 'h') {
            if (*fmt == 'l')
                longs++;
            fmt++;
        }

        uint64_t u;
        int64_t d;
        char c = *fmt ? *fmt++ : '\0';
        switch (c) {
        case 'd':
        case 'i':
            d = longs >= 2 ? va_arg(ap, long long) : va_arg(ap, int);
            if (d < 0)
                emit_number(s, &sp, (uint64_t)0 - (uint64_t)d, 10, false, "-");
            else
                emit_number(s, &sp, (uint64_t)d, 10, false, sp.plus ? "+" : "");
            break;
        case 'u':
        case 'x':
        case 'X':
            u = longs >= 2 ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
            emit_number(s, &sp, u, c == 'u' ? 10 : 16, c == 'X', "");
            break;
        case 'p':
            sp.zero = true;
            sp.width = 10;
            emit_number(s, &sp, (uint32_t)va_arg(ap, void *), 16, false, "0x");
            break;
        case 'c': {
            char ch = (char)va_arg(ap, int);
            emit_field(s, &sp, "", &ch, 1);
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (str == NULL)
                str = "(null)";
            int n = 0;
            while (str[n] && (sp.precision < 0 || n < sp.precision))
                n++;
            sp.zero = false;
            emit_field(s, &sp, "", str, n);
            break;
        }
        case '%':
            emit(s, '%');
            break;
        case '\0':
            return (int)s->len;
        default: /* unknown conversion: print it, so the mistake is visible */
            emit(s, '%');
            emit(s, c);
            break;
        }
    }
    return (int)s->len;
}

int rt_vprintf(const char *fmt, va_list ap)
{
    struct sink s = {0};
    return format(&s, fmt, ap);
}

int rt_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = rt_vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int rt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sink s = {.buf = buf, .size = size};
    int n = format(&s, fmt, ap);
    if (size > 0)
        buf[s.len < size ? s.len : size - 1] = '\0';
    return n;
}

int rt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = rt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
