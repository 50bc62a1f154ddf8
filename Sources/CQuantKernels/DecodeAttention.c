// Attention of a few fp32 queries over cached keys and values stored as fp32 or IEEE half (decoding).
//
// Every query head and query row is scored within one pass over the slots, tile after tile, so the
// cache (slots of NKV·HD floats, all key/value heads side by side) streams through memory once and
// in order. Keys are visited in tiles of TILE slots with the online softmax of flash attention (Dao et al. 2022, "FlashAttention", alg. 1):
// a running maximum mx, running sum l = Σ exp(s − mx) and unnormalised output acc = Σ exp(s − mx)·V,
// rescaled by exp(mx_old − mx_new) when a tile raises the maximum. The caller may split the slots of
// one head into ranges (flash-decoding) and merge the partial states.
//
// exp is the Cephes expf polynomial DLLMCompute's `Float.fastExp` uses (same range reduction and
// coefficients), so the probabilities match the sgemm + softmax path to rounding.
//
// A half cache (llama.cpp's default f16 KV cache) halves the bytes streamed per token; every element is
// widened to fp32 on load (vcvtph2ps), and the arithmetic after that is the fp32 path's, in the same order.
#include "CQuantKernels.h"
#include <math.h>
#include <string.h>

/// Key slots per tile (scores of one tile for every query vector stay in L1).
#define TILE 64

/// Scalar twin of `Float.fastExp`: e^x, 0 below −87.33654.
static inline float fast_exp(float x) {
    if (x < -87.33654f) return 0;
    float xc = x > 88.72283f ? 88.72283f : x;
    float n = nearbyintf(xc * 1.44269504f);
    float r = xc - n * 0.693359375f;
    r = r - n * -2.1219444e-4f;
    float r2 = r * r;
    float p = 1.98756915e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float er = p * r2 + r + 1;
    int ni = (int)n, half = ni >> 1;
    uint32_t b1 = (uint32_t)(half + 127) << 23, b2 = (uint32_t)(ni - half + 127) << 23;
    float s1, s2;
    memcpy(&s1, &b1, 4);
    memcpy(&s2, &b2, 4);
    return er * s1 * s2;
}

/// Online-softmax update of one query vector with a tile's scores `s[0..<count]` (−∞ for masked
/// slots): raises mx, rescales l and acc, and turns `s` into exp(s − mx) in place. Returns 0 when the
/// whole tile is masked (s untouched, state unchanged).
static int online_update(float *s, int count, float *mx, float *l, float *acc, int hd) {
    float tile_max = -INFINITY;
    for (int j = 0; j < count; j++) tile_max = s[j] > tile_max ? s[j] : tile_max;
    if (tile_max == -INFINITY) return 0;
    float m_new = tile_max > *mx ? tile_max : *mx;
    if (m_new != *mx) {
        float c = *mx == -INFINITY ? 0 : fast_exp(*mx - m_new);
        *l *= c;
        for (int d = 0; d < hd; d++) acc[d] *= c;
        *mx = m_new;
    }
    return 1;
}

/// Number of the tile's `count` slots starting at `t0` that row end `end` lets a query see.
static inline int visible(int end, int t0, int count) {
    int v = end - t0;
    return v < 0 ? 0 : (v > count ? count : v);
}

/// Element `i` of a cache buffer of fp32 (`half` = 0) or IEEE half (`half` = 1) values, as a float.
static inline float cache_at(const void *base, size_t i, int half) {
    return half ? cqk_f16_to_f32(((const uint16_t *)base)[i]) : ((const float *)base)[i];
}

/// The address of element `i` of a cache buffer of fp32 or half values.
static inline const void *cache_ptr(const void *base, size_t i, int half) {
    return (const char *)base + i * (half ? sizeof(uint16_t) : sizeof(float));
}

static void attention_scalar(const float *q, size_t ldq, const void *keys, const void *values, size_t ldkv, int half,
                             int rows, int heads, int group, int hd, const int *end, int j0, int j1, float scale,
                             float *mx, float *l, float *acc) {
    float s[TILE];
    for (int t0 = j0; t0 < j1; t0 += TILE) {
        int count = j1 - t0 < TILE ? j1 - t0 : TILE;
        for (int qv = 0; qv < rows * heads; qv++) {
            int i = qv / heads, h = qv % heads, seen = visible(end[i], t0, count);
            const float *qq = q + (size_t)i * ldq + (size_t)h * hd;
            size_t first = (size_t)t0 * ldkv + (size_t)(h / group) * hd;
            float *a = acc + (size_t)qv * hd;
            for (int j = 0; j < seen; j++) {
                float dot = 0;
                for (int d = 0; d < hd; d++) dot += qq[d] * cache_at(keys, first + (size_t)j * ldkv + d, half);
                s[j] = dot * scale;
            }
            if (!online_update(s, seen, &mx[qv], &l[qv], a, hd)) continue;
            for (int j = 0; j < seen; j++) {
                float p = fast_exp(s[j] - mx[qv]);
                l[qv] += p;
                for (int d = 0; d < hd; d++) a[d] += p * cache_at(values, first + (size_t)j * ldkv + d, half);
            }
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")))

/// `Float.fastExp` on 16 lanes.
AVX512 static inline __m512 fast_exp16(__m512 x) {
    __mmask16 under = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33654f), _CMP_LT_OQ);
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)), _mm512_set1_ps(88.72283f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.1219444e-4f), r);
    __m512 r2 = _mm512_mul_ps(r, r);
    __m512 p = _mm512_set1_ps(1.98756915e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 er = _mm512_add_ps(_mm512_fmadd_ps(p, r2, r), _mm512_set1_ps(1));
    __m512i ni = _mm512_cvtps_epi32(n), half = _mm512_srai_epi32(ni, 1), bias = _mm512_set1_epi32(127);
    __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(half, bias), 23));
    __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(ni, half), bias), 23));
    return _mm512_maskz_mov_ps((__mmask16)~under, _mm512_mul_ps(_mm512_mul_ps(er, s1), s2));
}

/// 16 cache elements from `p` (fp32, or half widened to fp32).
#define ALWAYS __attribute__((always_inline)) inline
AVX512 static ALWAYS __m512 load16(const void *p, int half) {
    return half ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)) : _mm512_loadu_ps((const float *)p);
}

/// Σ lanes of a0..a3 into out[0..3].
AVX512 static inline __m128 sum4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
    __m256 b0 = _mm256_add_ps(_mm512_castps512_ps256(a0), _mm512_extractf32x8_ps(a0, 1));
    __m256 b1 = _mm256_add_ps(_mm512_castps512_ps256(a1), _mm512_extractf32x8_ps(a1, 1));
    __m256 b2 = _mm256_add_ps(_mm512_castps512_ps256(a2), _mm512_extractf32x8_ps(a2, 1));
    __m256 b3 = _mm256_add_ps(_mm512_castps512_ps256(a3), _mm512_extractf32x8_ps(a3, 1));
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(b0, b1), _mm256_hadd_ps(b2, b3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/// acc[0..<hd] += Σ_j p[j]·v[j·ldkv ..< +hd], hd a multiple of 16: up to four 16-lane chunks of acc at
/// a time, each with two accumulators (even and odd slots) so eight multiply-add chains run side by side.
AVX512 static ALWAYS void weighted_sum(float *acc, const void *v, size_t ldkv, int half, const float *p, int count, int hd) {
    int d = 0;
    for (; d + 64 <= hd; d += 64) {
        __m512 e0 = _mm512_loadu_ps(acc + d), e1 = _mm512_loadu_ps(acc + d + 16), e2 = _mm512_loadu_ps(acc + d + 32), e3 = _mm512_loadu_ps(acc + d + 48);
        __m512 o0 = _mm512_setzero_ps(), o1 = o0, o2 = o0, o3 = o0;
        int j = 0;
        for (; j + 2 <= count; j += 2) {
            size_t x = (size_t)j * ldkv + d, y = x + ldkv;
            __m512 pe = _mm512_set1_ps(p[j]), po = _mm512_set1_ps(p[j + 1]);
            e0 = _mm512_fmadd_ps(pe, load16(cache_ptr(v, x, half), half), e0);
            e1 = _mm512_fmadd_ps(pe, load16(cache_ptr(v, x + 16, half), half), e1);
            e2 = _mm512_fmadd_ps(pe, load16(cache_ptr(v, x + 32, half), half), e2);
            e3 = _mm512_fmadd_ps(pe, load16(cache_ptr(v, x + 48, half), half), e3);
            o0 = _mm512_fmadd_ps(po, load16(cache_ptr(v, y, half), half), o0);
            o1 = _mm512_fmadd_ps(po, load16(cache_ptr(v, y + 16, half), half), o1);
            o2 = _mm512_fmadd_ps(po, load16(cache_ptr(v, y + 32, half), half), o2);
            o3 = _mm512_fmadd_ps(po, load16(cache_ptr(v, y + 48, half), half), o3);
        }
        if (j < count) {
            size_t x = (size_t)j * ldkv + d;
            __m512 pe = _mm512_set1_ps(p[j]);
            e0 = _mm512_fmadd_ps(pe, load16(cache_ptr(v, x, half), half), e0);
            e1 = _mm512_fmadd_ps(pe, load16(cache_ptr(v, x + 16, half), half), e1);
            e2 = _mm512_fmadd_ps(pe, load16(cache_ptr(v, x + 32, half), half), e2);
            e3 = _mm512_fmadd_ps(pe, load16(cache_ptr(v, x + 48, half), half), e3);
        }
        _mm512_storeu_ps(acc + d, _mm512_add_ps(e0, o0));
        _mm512_storeu_ps(acc + d + 16, _mm512_add_ps(e1, o1));
        _mm512_storeu_ps(acc + d + 32, _mm512_add_ps(e2, o2));
        _mm512_storeu_ps(acc + d + 48, _mm512_add_ps(e3, o3));
    }
    for (; d < hd; d += 16) {
        __m512 e = _mm512_loadu_ps(acc + d), o = _mm512_setzero_ps();
        int j = 0;
        for (; j + 2 <= count; j += 2) {
            e = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), load16(cache_ptr(v, (size_t)j * ldkv + d, half), half), e);
            o = _mm512_fmadd_ps(_mm512_set1_ps(p[j + 1]), load16(cache_ptr(v, (size_t)(j + 1) * ldkv + d, half), half), o);
        }
        if (j < count) e = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), load16(cache_ptr(v, (size_t)j * ldkv + d, half), half), e);
        _mm512_storeu_ps(acc + d, _mm512_add_ps(e, o));
    }
}

/// As attention_scalar for hd a multiple of 16: scores eight slots at a time, the exponentials
/// 16 at a time, and the weighted value sum as `weighted_sum`. Inlined into one function per
/// element type (`half` a constant there).
AVX512 static ALWAYS void attention_avx512(const float *q, size_t ldq, const void *keys, const void *values, size_t ldkv, int half,
                                           int rows, int heads, int group, int hd, const int *end, int j0, int j1, float scale,
                                           float *mx, float *l, float *acc) {
    float sq[TILE];
    size_t row_bytes = ldkv * (half ? sizeof(uint16_t) : sizeof(float));
    for (int t0 = j0; t0 < j1; t0 += TILE) {
        int count = j1 - t0 < TILE ? j1 - t0 : TILE;
        // The next tile's slots (every head) fetched into L2 while this one is scored: the cache is read
        // once per token, from memory, and the per-head reads below stride through each slot
        // (measured 1.2x faster over 30 layers' worth of cache).
        int next = j1 - (t0 + count) < TILE ? j1 - (t0 + count) : TILE;
        const char *kn = (const char *)cache_ptr(keys, (size_t)(t0 + count) * ldkv, half);
        const char *vn = (const char *)cache_ptr(values, (size_t)(t0 + count) * ldkv, half);
        for (size_t b = 0; b < (size_t)next * row_bytes; b += 64) {
            _mm_prefetch(kn + b, _MM_HINT_T1);
            _mm_prefetch(vn + b, _MM_HINT_T1);
        }
        for (int qv = 0; qv < rows * heads; qv++) {
            int i = qv / heads, h = qv % heads, seen = visible(end[i], t0, count);
            const float *qq = q + (size_t)i * ldq + (size_t)h * hd;
            size_t first = (size_t)t0 * ldkv + (size_t)(h / group) * hd;
            int j = 0;
            for (; j + 8 <= seen; j += 8) {  // eight slots: eight independent multiply-add chains
                size_t k = first + (size_t)j * ldkv;
                __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
                for (int d = 0; d < hd; d += 16) {
                    __m512 x = _mm512_loadu_ps(qq + d);
                    a0 = _mm512_fmadd_ps(x, load16(cache_ptr(keys, k + d, half), half), a0);
                    a1 = _mm512_fmadd_ps(x, load16(cache_ptr(keys, k + ldkv + d, half), half), a1);
                    a2 = _mm512_fmadd_ps(x, load16(cache_ptr(keys, k + 2 * ldkv + d, half), half), a2);
                    a3 = _mm512_fmadd_ps(x, load16(cache_ptr(keys, k + 3 * ldkv + d, half), half), a3);
                    a4 = _mm512_fmadd_ps(x, load16(cache_ptr(keys, k + 4 * ldkv + d, half), half), a4);
                    a5 = _mm512_fmadd_ps(x, load16(cache_ptr(keys, k + 5 * ldkv + d, half), half), a5);
                    a6 = _mm512_fmadd_ps(x, load16(cache_ptr(keys, k + 6 * ldkv + d, half), half), a6);
                    a7 = _mm512_fmadd_ps(x, load16(cache_ptr(keys, k + 7 * ldkv + d, half), half), a7);
                }
                _mm_storeu_ps(sq + j, _mm_mul_ps(sum4(a0, a1, a2, a3), _mm_set1_ps(scale)));
                _mm_storeu_ps(sq + j + 4, _mm_mul_ps(sum4(a4, a5, a6, a7), _mm_set1_ps(scale)));
            }
            for (; j < seen; j++) {
                size_t k = first + (size_t)j * ldkv;
                __m512 a = _mm512_setzero_ps();
                for (int d = 0; d < hd; d += 16) a = _mm512_fmadd_ps(_mm512_loadu_ps(qq + d), load16(cache_ptr(keys, k + d, half), half), a);
                sq[j] = _mm512_reduce_add_ps(a) * scale;
            }
            float *a = acc + (size_t)qv * hd;
            if (!online_update(sq, seen, &mx[qv], &l[qv], a, hd)) continue;
            __m512 m = _mm512_set1_ps(mx[qv]), total = _mm512_setzero_ps();
            for (j = 0; j < seen; j += 16) {
                __mmask16 keep = seen - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (seen - j)) - 1);
                __m512 p = _mm512_maskz_mov_ps(keep, fast_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(keep, sq + j), m)));
                _mm512_mask_storeu_ps(sq + j, keep, p);
                total = _mm512_add_ps(total, p);
            }
            l[qv] += _mm512_reduce_add_ps(total);
            weighted_sum(a, cache_ptr(values, first, half), ldkv, half, sq, seen, hd);
        }
    }
}

#define ATTENTION_ARGS const float *q, size_t ldq, const void *keys, const void *values, size_t ldkv, int rows, int heads, \
                       int group, int hd, const int *end, int j0, int j1, float scale, float *mx, float *l, float *acc
#define ATTENTION_PASS(HALF) q, ldq, keys, values, ldkv, HALF, rows, heads, group, hd, end, j0, j1, scale, mx, l, acc
AVX512 static void attention_avx512_f32(ATTENTION_ARGS) { attention_avx512(ATTENTION_PASS(0)); }
AVX512 static void attention_avx512_f16(ATTENTION_ARGS) { attention_avx512(ATTENTION_PASS(1)); }
#endif

/// The two public entries: `half` says whether `keys`/`values` hold fp32 or IEEE half elements.
static int attention_partial(int isa, const float *q, size_t ldq, const void *keys, const void *values, size_t ldkv, int half,
                             int rows, int heads, int kv_heads, int hd, const int *end, int j0, int j1, float scale,
                             float *mx, float *l, float *acc) {
    if (rows < 0 || heads < 0 || kv_heads <= 0 || heads % kv_heads != 0 || hd <= 0 || j0 < 0 || j1 < j0) return -1;
    int group = heads / kv_heads;
    for (int qv = 0; qv < rows * heads; qv++) { mx[qv] = -INFINITY; l[qv] = 0; }
    memset(acc, 0, sizeof(float) * (size_t)rows * (size_t)heads * (size_t)hd);
#if defined(__x86_64__)
    if (isa >= CQK_ISA_AVX512 && cqk_isa_supported(CQK_ISA_AVX512) && hd % 16 == 0) {
        (half ? attention_avx512_f16 : attention_avx512_f32)(q, ldq, keys, values, ldkv, rows, heads, group, hd, end, j0, j1, scale, mx, l, acc);
        return 0;
    }
#endif
    if (isa != CQK_ISA_SCALAR && !cqk_isa_supported(isa)) return -1;
    attention_scalar(q, ldq, keys, values, ldkv, half, rows, heads, group, hd, end, j0, j1, scale, mx, l, acc);
    return 0;
}

int cqk_attention_partial_f32(int isa, const float *q, size_t ldq, const float *keys, const float *values, size_t ldkv,
                              int rows, int heads, int kv_heads, int hd, const int *end, int j0, int j1, float scale,
                              float *mx, float *l, float *acc) {
    return attention_partial(isa, q, ldq, keys, values, ldkv, 0, rows, heads, kv_heads, hd, end, j0, j1, scale, mx, l, acc);
}

int cqk_attention_partial_f16(int isa, const float *q, size_t ldq, const uint16_t *keys, const uint16_t *values, size_t ldkv,
                              int rows, int heads, int kv_heads, int hd, const int *end, int j0, int j1, float scale,
                              float *mx, float *l, float *acc) {
    return attention_partial(isa, q, ldq, keys, values, ldkv, 1, rows, heads, kv_heads, hd, end, j0, j1, scale, mx, l, acc);
}
