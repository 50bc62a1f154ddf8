// AVX2 dot products (256-bit, one block per register: vpmaddubsw + vpmaddwd), compiled for
// AVX2/FMA/F16C by function attribute and only called after a run-time CPU check.
#include "CQuantKernels.h"
#include "blocks.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))

/// The 32 nibbles of a Q4 block as bytes 0..15: low nibbles (elements 0..15) then high (16..31).
AVX2 static inline __m256i nibbles(const uint8_t *qs) {
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

/// Σ x·y over 32 signed bytes as 8 int32 lanes (|x| unsigned times y with x's sign).
AVX2 static inline __m256i signed_dot(__m256i x, __m256i y) {
    __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/// Σ x·y over 32 unsigned bytes x (≤ 15) and signed bytes y, as 8 int32 lanes.
AVX2 static inline __m256i unsigned_dot(__m256i x, __m256i y) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1));
}

AVX2 static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 float cqk_avx2_dot_q4_0_q8_0(const void *w, const void *a, int nb) {
    const cqk_block_q4_0 *x = (const cqk_block_q4_0 *)w;
    const cqk_block_q8_0 *y = (const cqk_block_q8_0 *)a;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        __m256i q = _mm256_sub_epi8(nibbles(x[i].qs), _mm256_set1_epi8(8));
        __m256i p = signed_dot(q, _mm256_loadu_si256((const __m256i *)y[i].qs));
        __m256 d = _mm256_set1_ps(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), d, acc);
    }
    return hsum(acc);
}

AVX2 float cqk_avx2_dot_q4_1_q8_1(const void *w, const void *a, int nb) {
    const cqk_block_q4_1 *x = (const cqk_block_q4_1 *)w;
    const cqk_block_q8_1 *y = (const cqk_block_q8_1 *)a;
    __m256 acc = _mm256_setzero_ps();
    float offsets = 0;
    for (int i = 0; i < nb; i++) {
        __m256i p = unsigned_dot(nibbles(x[i].qs), _mm256_loadu_si256((const __m256i *)y[i].qs));
        __m256 d = _mm256_set1_ps(_cvtsh_ss(x[i].d) * y[i].d);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), d, acc);
        offsets += _cvtsh_ss(x[i].m) * y[i].s;
    }
    return hsum(acc) + offsets;
}

AVX2 float cqk_avx2_dot_q8_0_q8_0(const void *w, const void *a, int nb) {
    const cqk_block_q8_0 *x = (const cqk_block_q8_0 *)w;
    const cqk_block_q8_0 *y = (const cqk_block_q8_0 *)a;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        __m256i p = signed_dot(_mm256_loadu_si256((const __m256i *)x[i].qs), _mm256_loadu_si256((const __m256i *)y[i].qs));
        __m256 d = _mm256_set1_ps(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), d, acc);
    }
    return hsum(acc);
}

#else
float cqk_avx2_dot_q4_0_q8_0(const void *w, const void *a, int nb) { return cqk_scalar_dot_q4_0_q8_0(w, a, nb); }
float cqk_avx2_dot_q4_1_q8_1(const void *w, const void *a, int nb) { return cqk_scalar_dot_q4_1_q8_1(w, a, nb); }
float cqk_avx2_dot_q8_0_q8_0(const void *w, const void *a, int nb) { return cqk_scalar_dot_q8_0_q8_0(w, a, nb); }
#endif
