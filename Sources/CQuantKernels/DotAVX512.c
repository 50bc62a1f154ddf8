// AVX-512 dot products: two blocks per 512-bit register (lanes 0..7 the first block's int32
// partial sums, 8..15 the second's), scaled per half. `vnni` variants fold vpmaddubsw + vpmaddwd
// into one vpdpbusd. Compiled by function attribute, called only after a run-time CPU check;
// an odd last block goes through the AVX2 kernel (every AVX-512 CPU has AVX2).
#include "CQuantKernels.h"
#include "blocks.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")))
#define VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

/// A Q4 block's nibbles as 32 bytes 0..15 (elements 0..15 then 16..31).
AVX512 static inline __m256i nibbles(const uint8_t *qs) {
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

AVX512 static inline __m512i pair(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

AVX512 static inline __m512i load_pair(const int8_t *q0, const int8_t *q1) {
    return pair(_mm256_loadu_si256((const __m256i *)q0), _mm256_loadu_si256((const __m256i *)q1));
}

/// Scales d0 (lanes 0..7) and d1 (lanes 8..15).
AVX512 static inline __m512 scales(float d0, float d1) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(d0)), _mm256_set1_ps(d1), 1);
}

/// y with its sign flipped where x is negative (x·y = |x|·that).
AVX512 static inline __m512i sign_of(__m512i y, __m512i x) {
    return _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(x), _mm512_setzero_si512(), y);
}

AVX512 static inline __m512i udot(__m512i x, __m512i y) {
    return _mm512_madd_epi16(_mm512_maddubs_epi16(x, y), _mm512_set1_epi16(1));
}

VNNI static inline __m512i udot_vnni(__m512i x, __m512i y) {
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), x, y);
}

// Each kernel body is written once as a macro over the unsigned-dot instruction sequence.

#define DOT_Q4_0_Q8_0(UDOT)                                                                       \
    const cqk_block_q4_0 *x = (const cqk_block_q4_0 *)w;                                          \
    const cqk_block_q8_0 *y = (const cqk_block_q8_0 *)a;                                          \
    __m512 acc = _mm512_setzero_ps();                                                             \
    int i = 0;                                                                                    \
    for (; i + 1 < nb; i += 2) {                                                                  \
        __m512i q = _mm512_sub_epi8(pair(nibbles(x[i].qs), nibbles(x[i + 1].qs)), _mm512_set1_epi8(8)); \
        __m512i v = load_pair(y[i].qs, y[i + 1].qs);                                              \
        __m512i p = UDOT(_mm512_abs_epi8(q), sign_of(v, q));                                     \
        __m512 d = scales(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d), _cvtsh_ss(x[i + 1].d) * _cvtsh_ss(y[i + 1].d)); \
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), d, acc);                                     \
    }                                                                                             \
    float sum = _mm512_reduce_add_ps(acc);                                                        \
    if (i < nb) sum += cqk_avx2_dot_q4_0_q8_0(x + i, y + i, 1);                                  \
    return sum;

#define DOT_Q4_1_Q8_1(UDOT)                                                                       \
    const cqk_block_q4_1 *x = (const cqk_block_q4_1 *)w;                                          \
    const cqk_block_q8_1 *y = (const cqk_block_q8_1 *)a;                                          \
    __m512 acc = _mm512_setzero_ps();                                                             \
    float offsets = 0;                                                                            \
    int i = 0;                                                                                    \
    for (; i + 1 < nb; i += 2) {                                                                  \
        __m512i p = UDOT(pair(nibbles(x[i].qs), nibbles(x[i + 1].qs)), load_pair(y[i].qs, y[i + 1].qs)); \
        __m512 d = scales(_cvtsh_ss(x[i].d) * y[i].d, _cvtsh_ss(x[i + 1].d) * y[i + 1].d);     \
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), d, acc);                                     \
        offsets += _cvtsh_ss(x[i].m) * y[i].s + _cvtsh_ss(x[i + 1].m) * y[i + 1].s;             \
    }                                                                                             \
    float sum = _mm512_reduce_add_ps(acc) + offsets;                                              \
    if (i < nb) sum += cqk_avx2_dot_q4_1_q8_1(x + i, y + i, 1);                                  \
    return sum;

#define DOT_Q8_0_Q8_0(UDOT)                                                                       \
    const cqk_block_q8_0 *x = (const cqk_block_q8_0 *)w;                                          \
    const cqk_block_q8_0 *y = (const cqk_block_q8_0 *)a;                                          \
    __m512 acc = _mm512_setzero_ps();                                                             \
    int i = 0;                                                                                    \
    for (; i + 1 < nb; i += 2) {                                                                  \
        __m512i q = load_pair(x[i].qs, x[i + 1].qs);                                              \
        __m512i v = load_pair(y[i].qs, y[i + 1].qs);                                              \
        __m512i p = UDOT(_mm512_abs_epi8(q), sign_of(v, q));                                     \
        __m512 d = scales(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d), _cvtsh_ss(x[i + 1].d) * _cvtsh_ss(y[i + 1].d)); \
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), d, acc);                                     \
    }                                                                                             \
    float sum = _mm512_reduce_add_ps(acc);                                                        \
    if (i < nb) sum += cqk_avx2_dot_q8_0_q8_0(x + i, y + i, 1);                                  \
    return sum;

AVX512 float cqk_avx512_dot_q4_0_q8_0(const void *w, const void *a, int nb) { DOT_Q4_0_Q8_0(udot) }
AVX512 float cqk_avx512_dot_q4_1_q8_1(const void *w, const void *a, int nb) { DOT_Q4_1_Q8_1(udot) }
AVX512 float cqk_avx512_dot_q8_0_q8_0(const void *w, const void *a, int nb) { DOT_Q8_0_Q8_0(udot) }
VNNI float cqk_vnni_dot_q4_0_q8_0(const void *w, const void *a, int nb) { DOT_Q4_0_Q8_0(udot_vnni) }
VNNI float cqk_vnni_dot_q4_1_q8_1(const void *w, const void *a, int nb) { DOT_Q4_1_Q8_1(udot_vnni) }
VNNI float cqk_vnni_dot_q8_0_q8_0(const void *w, const void *a, int nb) { DOT_Q8_0_Q8_0(udot_vnni) }

// Four weight rows against one activation row: the activation pair and its scales are loaded once
// for all four; each row's arithmetic is the single-row kernel's, in the same order, so the results
// are identical to four calls of it.

#define ROWS4_Q4_0_Q8_0(UDOT)                                                                     \
    const cqk_block_q8_0 *y = (const cqk_block_q8_0 *)a;                                          \
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()}; \
    int i = 0;                                                                                    \
    for (; i + 1 < nb; i += 2) {                                                                  \
        __m512i v = load_pair(y[i].qs, y[i + 1].qs);                                              \
        float da0 = _cvtsh_ss(y[i].d), da1 = _cvtsh_ss(y[i + 1].d);                               \
        for (int r = 0; r < 4; r++) {                                                             \
            const cqk_block_q4_0 *x = (const cqk_block_q4_0 *)(w + r * row_bytes);               \
            __m512i q = _mm512_sub_epi8(pair(nibbles(x[i].qs), nibbles(x[i + 1].qs)), _mm512_set1_epi8(8)); \
            __m512i p = UDOT(_mm512_abs_epi8(q), sign_of(v, q));                                 \
            __m512 d = scales(_cvtsh_ss(x[i].d) * da0, _cvtsh_ss(x[i + 1].d) * da1);             \
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), d, acc[r]);                           \
        }                                                                                         \
    }                                                                                             \
    for (int r = 0; r < 4; r++) {                                                                 \
        const cqk_block_q4_0 *x = (const cqk_block_q4_0 *)(w + r * row_bytes);                   \
        out[r] = _mm512_reduce_add_ps(acc[r]);                                                    \
        if (i < nb) out[r] += cqk_avx2_dot_q4_0_q8_0(x + i, y + i, 1);                           \
    }

#define ROWS4_Q4_1_Q8_1(UDOT)                                                                     \
    const cqk_block_q8_1 *y = (const cqk_block_q8_1 *)a;                                          \
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()}; \
    float offsets[4] = {0, 0, 0, 0};                                                              \
    int i = 0;                                                                                    \
    for (; i + 1 < nb; i += 2) {                                                                  \
        __m512i v = load_pair(y[i].qs, y[i + 1].qs);                                              \
        float da0 = y[i].d, da1 = y[i + 1].d, s0 = y[i].s, s1 = y[i + 1].s;                       \
        for (int r = 0; r < 4; r++) {                                                             \
            const cqk_block_q4_1 *x = (const cqk_block_q4_1 *)(w + r * row_bytes);               \
            __m512i p = UDOT(pair(nibbles(x[i].qs), nibbles(x[i + 1].qs)), v);                    \
            __m512 d = scales(_cvtsh_ss(x[i].d) * da0, _cvtsh_ss(x[i + 1].d) * da1);             \
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), d, acc[r]);                           \
            offsets[r] += _cvtsh_ss(x[i].m) * s0 + _cvtsh_ss(x[i + 1].m) * s1;                   \
        }                                                                                         \
    }                                                                                             \
    for (int r = 0; r < 4; r++) {                                                                 \
        const cqk_block_q4_1 *x = (const cqk_block_q4_1 *)(w + r * row_bytes);                   \
        out[r] = _mm512_reduce_add_ps(acc[r]) + offsets[r];                                       \
        if (i < nb) out[r] += cqk_avx2_dot_q4_1_q8_1(x + i, y + i, 1);                           \
    }

#define ROWS4_Q8_0_Q8_0(UDOT)                                                                     \
    const cqk_block_q8_0 *y = (const cqk_block_q8_0 *)a;                                          \
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()}; \
    int i = 0;                                                                                    \
    for (; i + 1 < nb; i += 2) {                                                                  \
        __m512i v = load_pair(y[i].qs, y[i + 1].qs);                                              \
        float da0 = _cvtsh_ss(y[i].d), da1 = _cvtsh_ss(y[i + 1].d);                               \
        for (int r = 0; r < 4; r++) {                                                             \
            const cqk_block_q8_0 *x = (const cqk_block_q8_0 *)(w + r * row_bytes);               \
            __m512i q = load_pair(x[i].qs, x[i + 1].qs);                                          \
            __m512i p = UDOT(_mm512_abs_epi8(q), sign_of(v, q));                                 \
            __m512 d = scales(_cvtsh_ss(x[i].d) * da0, _cvtsh_ss(x[i + 1].d) * da1);             \
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), d, acc[r]);                           \
        }                                                                                         \
    }                                                                                             \
    for (int r = 0; r < 4; r++) {                                                                 \
        const cqk_block_q8_0 *x = (const cqk_block_q8_0 *)(w + r * row_bytes);                   \
        out[r] = _mm512_reduce_add_ps(acc[r]);                                                    \
        if (i < nb) out[r] += cqk_avx2_dot_q8_0_q8_0(x + i, y + i, 1);                           \
    }

#define ROWS4_ARGS const char *w, size_t row_bytes, const void *a, int nb, float *out
AVX512 void cqk_avx512_rows4_q4_0_q8_0(ROWS4_ARGS) { ROWS4_Q4_0_Q8_0(udot) }
AVX512 void cqk_avx512_rows4_q4_1_q8_1(ROWS4_ARGS) { ROWS4_Q4_1_Q8_1(udot) }
AVX512 void cqk_avx512_rows4_q8_0_q8_0(ROWS4_ARGS) { ROWS4_Q8_0_Q8_0(udot) }
VNNI void cqk_vnni_rows4_q4_0_q8_0(ROWS4_ARGS) { ROWS4_Q4_0_Q8_0(udot_vnni) }
VNNI void cqk_vnni_rows4_q4_1_q8_1(ROWS4_ARGS) { ROWS4_Q4_1_Q8_1(udot_vnni) }
VNNI void cqk_vnni_rows4_q8_0_q8_0(ROWS4_ARGS) { ROWS4_Q8_0_Q8_0(udot_vnni) }

#else
float cqk_avx512_dot_q4_0_q8_0(const void *w, const void *a, int nb) { return cqk_scalar_dot_q4_0_q8_0(w, a, nb); }
float cqk_avx512_dot_q4_1_q8_1(const void *w, const void *a, int nb) { return cqk_scalar_dot_q4_1_q8_1(w, a, nb); }
float cqk_avx512_dot_q8_0_q8_0(const void *w, const void *a, int nb) { return cqk_scalar_dot_q8_0_q8_0(w, a, nb); }
float cqk_vnni_dot_q4_0_q8_0(const void *w, const void *a, int nb) { return cqk_scalar_dot_q4_0_q8_0(w, a, nb); }
float cqk_vnni_dot_q4_1_q8_1(const void *w, const void *a, int nb) { return cqk_scalar_dot_q4_1_q8_1(w, a, nb); }
float cqk_vnni_dot_q8_0_q8_0(const void *w, const void *a, int nb) { return cqk_scalar_dot_q8_0_q8_0(w, a, nb); }
#endif
