// The elementwise passes of bf16 attention's score tiles, one query row at a time, on AVX-512
// (FlashAttention-2, Dao 2023: Algorithm 1 lines 8-10 forward, Algorithm 2 lines 11-14
// backward). The Swift loops they replace run eight lanes wide (release builds target
// x86-64-v3) and took 27 % of bf16 attention's time at SmolLM2's shape
// (docs/benchmarks.md); here they run sixteen wide, and the probabilities and score gradients
// are rounded into their packed bf16 rows in the pass that computes them.
//
// Every value equals the Swift path's bit for bit: fast_exp is DLLMCompute's `Float.fastExp`
// (FastExp.swift) operation for operation, with no contraction into fused multiply-adds.
#include "CBFloat16.h"
#include "rounding.h"

#pragma STDC FP_CONTRACT OFF

// Float.fastExp's constants (Cody-Waite ln 2 split, Cephes expf polynomial).
#define EXP_LOW (-87.33654f)
#define EXP_HIGH 88.72283f
#define LOG2E 1.44269504f
#define LN2_HIGH 0.693359375f
#define LN2_LOW (-2.1219444e-4f)
#define P0 1.98756915e-4f
#define P1 1.3981999507e-3f
#define P2 8.3334519073e-3f
#define P3 4.1665795894e-2f
#define P4 1.6666665459e-1f
#define P5 5.0000001201e-1f

/// Float.fastExp, one value.
static inline float fast_exp1(float x) {
    int underflow = x < EXP_LOW;
    float xc = x > EXP_LOW ? x : EXP_LOW;
    xc = xc < EXP_HIGH ? xc : EXP_HIGH;
    float n = __builtin_roundevenf(xc * LOG2E);
    float r = xc - n * LN2_HIGH;
    r = r - n * LN2_LOW;
    float r2 = r * r;
    float p = P0;
    p = p * r + P1;
    p = p * r + P2;
    p = p * r + P3;
    p = p * r + P4;
    p = p * r + P5;
    float er = p * r2 + r + 1.0f;
    float shifted = n + 12582912.0f;
    int32_t ni;
    memcpy(&ni, &shifted, 4);
    ni = (int32_t)((uint32_t)ni - 0x4B400000u);
    int32_t half = ni >> 1;
    uint32_t b1 = (uint32_t)(half + 127) << 23, b2 = (uint32_t)(ni - half + 127) << 23;
    float s1, s2;
    memcpy(&s1, &b1, 4);
    memcpy(&s2, &b2, 4);
    return underflow ? 0.0f : er * s1 * s2;
}

#if defined(__x86_64__)
/// Float.fastExp, sixteen values.
CBF16_AVX512 static inline __m512 fast_exp16(__m512 x) {
    __mmask16 underflow = _mm512_cmp_ps_mask(x, _mm512_set1_ps(EXP_LOW), _CMP_LT_OQ);
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(EXP_LOW)), _mm512_set1_ps(EXP_HIGH));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_sub_ps(xc, _mm512_mul_ps(n, _mm512_set1_ps(LN2_HIGH)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(LN2_LOW)));
    __m512 r2 = _mm512_mul_ps(r, r);
    __m512 p = _mm512_set1_ps(P0);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(P1));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(P2));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(P3));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(P4));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(P5));
    __m512 er = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, r2), r), _mm512_set1_ps(1.0f));
    __m512i ni = _mm512_sub_epi32(_mm512_castps_si512(_mm512_add_ps(n, _mm512_set1_ps(12582912.0f))), _mm512_set1_epi32(0x4B400000));
    __m512i half = _mm512_srai_epi32(ni, 1);
    __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(half, _mm512_set1_epi32(127)), 23));
    __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(ni, half), _mm512_set1_epi32(127)), 23));
    return _mm512_maskz_mov_ps((__mmask16)~underflow, _mm512_mul_ps(_mm512_mul_ps(er, s1), s2));
}

/// Lanes [0, count) of sixteen (count may exceed 16).
static inline __mmask16 lanes(long count) { return count >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << count) - 1u); }

CBF16_AVX512 static float scale_max_avx512(float *row, long cols, float scale) {
    __m512 best = _mm512_set1_ps(-__builtin_inff()), s = _mm512_set1_ps(scale);
    for (long c = 0; c < cols; c += 16) {
        __mmask16 m = lanes(cols - c);
        __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + c), s);
        _mm512_mask_storeu_ps(row + c, m, x);
        best = _mm512_mask_max_ps(best, m, x, best);
    }
    return _mm512_reduce_max_ps(best);
}

CBF16_AVX512 static void exp_avx512(float *row, long cols, float scale, float shift, uint16_t *packed) {
    __m512 s = _mm512_set1_ps(scale), t = _mm512_set1_ps(shift);
    for (long c = 0; c < cols; c += 16) {
        __mmask16 m = lanes(cols - c);
        __m512 x = _mm512_maskz_loadu_ps(m, row + c);
        if (scale != 1.0f) x = _mm512_mul_ps(x, s);
        __m512 e = fast_exp16(_mm512_sub_ps(x, t));
        _mm512_mask_storeu_ps(row + c, m, e);
        if (packed) _mm256_mask_storeu_epi16(packed + c, m, _mm512_cvtepi32_epi16(round16(e)));
    }
}

CBF16_AVX512 static void score_gradient_avx512(const float *p, float *d, long cols, float rowsum, float scale, uint16_t *packed) {
    __m512 D = _mm512_set1_ps(rowsum), s = _mm512_set1_ps(scale);
    for (long c = 0; c < cols; c += 16) {
        __mmask16 m = lanes(cols - c);
        __m512 g = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, p + c), _mm512_sub_ps(_mm512_maskz_loadu_ps(m, d + c), D));
        g = _mm512_mul_ps(g, s);
        _mm512_mask_storeu_ps(d + c, m, g);
        if (packed) _mm256_mask_storeu_epi16(packed + c, m, _mm512_cvtepi32_epi16(round16(g)));
    }
}
#endif

float cbf16_attention_scale_max(float *row, long cols, float scale) {
#if defined(__x86_64__)
    if (cbf16_vector_packers()) return scale_max_avx512(row, cols, scale);
#endif
    float best = -__builtin_inff();
    for (long c = 0; c < cols; c++) {
        row[c] *= scale;
        if (row[c] > best) best = row[c];
    }
    return best;
}

void cbf16_attention_exp(float *row, long cols, float scale, float shift, uint16_t *packed) {
    if (packed && cols % 2) packed[cols] = 0;
#if defined(__x86_64__)
    if (cbf16_vector_packers()) { exp_avx512(row, cols, scale, shift, packed); return; }
#endif
    for (long c = 0; c < cols; c++) {
        float x = scale != 1.0f ? row[c] * scale : row[c];
        row[c] = fast_exp1(x - shift);
        if (packed) packed[c] = round_one(row[c]);
    }
}

void cbf16_attention_score_gradient(const float *p, float *d, long cols, float rowsum, float scale, uint16_t *packed) {
    if (packed && cols % 2) packed[cols] = 0;
#if defined(__x86_64__)
    if (cbf16_vector_packers()) { score_gradient_avx512(p, d, cols, rowsum, scale, packed); return; }
#endif
    for (long c = 0; c < cols; c++) {
        d[c] = p[c] * (d[c] - rowsum) * scale;
        if (packed) packed[c] = round_one(d[c]);
    }
}
