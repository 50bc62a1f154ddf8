// Four-row VNNI kernels over activations repacked once per product ("panels"), for decoding.
//
// The rows4 kernels of DotAVX512.c spend most of their instructions on shuffles (nibble halves
// inserted into 256-bit then 512-bit registers) and on scalar f16 → f32 scale conversions. Here the
// activation row is rearranged once per `cqk_matmul_rows` call so that a weight block can be used
// in its stored order:
//   Q4_1: four blocks per step. One vpermt2b gathers the four blocks' 16 nibble bytes (20-byte
//         blocks, so not contiguous) into the four 128-bit lanes; `& 0x0f` gives elements 0..15 of
//         each block, `>> 4` elements 16..31, and the panel holds the activation bytes in that same
//         lane order. One vpermw spreads the four d and four m halves over the lanes of their block,
//         converted 16 at a time by vcvtph2ps. The offset term m·s enters the same accumulator
//         (s/4 on each of a block's four lanes; ×0.25 is exact).
//   Q8_0: two blocks per step. The 2×32 weight bytes of a 34-byte block pair come from two
//         overlapping loads and a 64-bit blend; the signed weights are made unsigned by ^0x80
//         (q + 128), and vpdpbusd starts from −128·Σqₐ of each activation block, so the integer sum
//         is exactly Σ q·qₐ without the abs/sign fix-ups.
// The four rows' accumulators are reduced together (hadd transpose). Summation order differs from
// the one-row kernels (per-lane partial sums, m·s per lane), so results agree to rounding only.
#include "CQuantKernels.h"
#include "blocks.h"
#include "rows_panel.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

/// Bytes ahead of the current step each weight row is prefetched (prefetches never fault).
#define PREFETCH_AHEAD 384

#define VNNI_BW __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define VNNI_VBMI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi")))

/// One Q4_1 panel step: 4 activation blocks. lo/hi: per 128-bit lane k, block k's bytes 0..15 / 16..31;
/// d: block k's scale on lanes 4k..4k+3; s: block k's s/4 on the same lanes.
typedef struct { int8_t lo[64]; int8_t hi[64]; float d[16]; float s[16]; } panel_q8_1x4;
/// One Q8_0 panel step: 2 activation blocks. q: the 64 bytes; corr: −128·Σq of block k on lane 8k
/// (0 elsewhere); d: block k's scale on lanes 8k..8k+7.
typedef struct { int8_t q[64]; int32_t corr[16]; float d[16]; } panel_q8_0x2;

_Static_assert(sizeof(panel_q8_1x4) == 256, "Q8_1 panel step is 256 bytes");
_Static_assert(sizeof(panel_q8_0x2) == 192, "Q8_0 panel step is 192 bytes");

size_t cqk_panel_bytes(int wtype, int nb) {
    if (wtype == CQK_TYPE_Q4_1) return (size_t)((nb + 3) / 4) * sizeof(panel_q8_1x4);
    if (wtype == CQK_TYPE_Q8_0) return (size_t)(nb / 2) * sizeof(panel_q8_0x2);
    return 0;
}

int cqk_panel_supported(int isa, int wtype) {
    if (isa != CQK_ISA_AVX512VNNI || !cqk_isa_supported(CQK_ISA_AVX512VNNI)) return 0;
    if (wtype == CQK_TYPE_Q4_1) return __builtin_cpu_supports("avx512vbmi");
    return wtype == CQK_TYPE_Q8_0;
}

void cqk_panel_pack(int wtype, const void *act, int nb, void *panel) {
    if (wtype == CQK_TYPE_Q4_1) {
        const cqk_block_q8_1 *y = (const cqk_block_q8_1 *)act;
        panel_q8_1x4 *p = (panel_q8_1x4 *)panel;
        memset(panel, 0, cqk_panel_bytes(wtype, nb));  // a last partial step: zeros for the missing blocks
        for (int g = 0; g < (nb + 3) / 4; g++, y += 4, p++) {
            for (int k = 0; k < 4 && 4 * g + k < nb; k++) {
                memcpy(p->lo + 16 * k, y[k].qs, 16);
                memcpy(p->hi + 16 * k, y[k].qs + 16, 16);
                for (int j = 0; j < 4; j++) {
                    p->d[4 * k + j] = y[k].d;
                    p->s[4 * k + j] = y[k].s * 0.25f;
                }
            }
        }
    } else if (wtype == CQK_TYPE_Q8_0) {
        const cqk_block_q8_0 *y = (const cqk_block_q8_0 *)act;
        panel_q8_0x2 *p = (panel_q8_0x2 *)panel;
        for (int g = 0; g < nb / 2; g++, y += 2, p++) {
            for (int k = 0; k < 2; k++) {
                int32_t sum = 0;
                for (int j = 0; j < 32; j++) sum += y[k].qs[j];
                memcpy(p->q + 32 * k, y[k].qs, 32);
                for (int j = 0; j < 8; j++) {
                    p->corr[8 * k + j] = j == 0 ? -128 * sum : 0;
                    p->d[8 * k + j] = cqk_f16_to_f32(y[k].d);
                }
            }
        }
    }
}

/// out[r] = Σ lanes of acc[r], r = 0..3.
VNNI_BW static inline void reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3, float *out) {
    __m256 b0 = _mm256_add_ps(_mm512_castps512_ps256(a0), _mm512_extractf32x8_ps(a0, 1));
    __m256 b1 = _mm256_add_ps(_mm512_castps512_ps256(a1), _mm512_extractf32x8_ps(a1, 1));
    __m256 b2 = _mm256_add_ps(_mm512_castps512_ps256(a2), _mm512_extractf32x8_ps(a2, 1));
    __m256 b3 = _mm256_add_ps(_mm512_castps512_ps256(a3), _mm512_extractf32x8_ps(a3, 1));
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(b0, b1), _mm256_hadd_ps(b2, b3));  // (r0 r0 r1 r1 r2 r2 r3 r3)-ordered partials per 128 half
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    _mm_storeu_ps(out, s);
}

/// Byte indices of the vpermt2b gathering four Q4_1 blocks' nibbles from bytes 0..63 (a) and 16..79 (b).
static inline void q4_1_gather_index(uint8_t idx[64]) {
    for (int k = 0; k < 4; k++) {
        for (int j = 0; j < 16; j++) {
            int src = 20 * k + 4 + j;
            idx[16 * k + j] = (uint8_t)(src < 64 ? src : 64 + (src - 16));
        }
    }
}

/// One Q4_1 row against a panel step: Σ (d·dₐ·Σ q·qₐ + m·s) over 4 blocks, added lane-wise to acc.
#define Q4_1_STEP(ACC, X) Q4_1_MATH(ACC, _mm512_loadu_si512((const void *)(X)), _mm512_loadu_si512((const void *)((const char *)(X) + 16)))
/// As Q4_1_STEP for the last `rem` (1..3) blocks of a row: masked loads read only those (a masked-off
/// byte is zero and cannot fault), so the missing blocks have d = m = 0 and zero nibbles.
#define Q4_1_STEP_TAIL(ACC, X) Q4_1_MATH(ACC, _mm512_maskz_loadu_epi8(mask_a, (const void *)(X)), \
                                         _mm512_maskz_loadu_epi8(mask_b, (const void *)((const char *)(X) + 16)))
#define Q4_1_MATH(ACC, LOAD_A, LOAD_B)                                                               \
    do {                                                                                             \
        __m512i a = LOAD_A;                                                                          \
        __m512i b = LOAD_B;                                                                          \
        __m512i q = _mm512_permutex2var_epi8(a, gather, b);                                         \
        __m512i lo = _mm512_and_si512(q, low4);                                                      \
        __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);                                \
        __m512i isum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, vlo), hi, vhi); \
        __m512i dm = _mm512_permutexvar_epi16(dm_index, a);                                          \
        __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(dm));                                     \
        __m512 mw = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(dm, 1));                               \
        ACC = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, da), ACC);                 \
        ACC = _mm512_fmadd_ps(mw, sa, ACC);                                                          \
    } while (0)

VNNI_VBMI static void rows4_q4_1_panel(const char *w, size_t row_bytes, const void *panel, int groups, int rem, float *out) {
    uint8_t idx[64];
    q4_1_gather_index(idx);
    const __m512i gather = _mm512_loadu_si512((const void *)idx);
    // Words: d of block k (word 10k) on lanes 4k..4k+3, then m (word 10k+1) on lanes 16+4k..16+4k+3.
    int16_t dmi[32];
    for (int l = 0; l < 16; l++) { dmi[l] = (int16_t)(10 * (l / 4)); dmi[16 + l] = (int16_t)(10 * (l / 4) + 1); }
    const __m512i dm_index = _mm512_loadu_si512((const void *)dmi);
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    const panel_q8_1x4 *p = (const panel_q8_1x4 *)panel;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    for (int g = 0; g < groups; g++, p++) {
        const __m512i vlo = _mm512_loadu_si512((const void *)p->lo);
        const __m512i vhi = _mm512_loadu_si512((const void *)p->hi);
        const __m512 da = _mm512_loadu_ps(p->d);
        const __m512 sa = _mm512_loadu_ps(p->s);
        const char *x = w + (size_t)g * 4 * sizeof(cqk_block_q4_1);
        for (int r = 0; r < 4; r++) _mm_prefetch(x + r * row_bytes + PREFETCH_AHEAD, _MM_HINT_T0);
        Q4_1_STEP(acc0, x);
        Q4_1_STEP(acc1, x + row_bytes);
        Q4_1_STEP(acc2, x + 2 * row_bytes);
        Q4_1_STEP(acc3, x + 3 * row_bytes);
    }
    if (rem > 0) {  // the panel's last step holds the rem blocks and zeros
        const __mmask64 mask_a = (1ULL << (20 * rem)) - 1, mask_b = (1ULL << (20 * rem - 16)) - 1;
        const __m512i vlo = _mm512_loadu_si512((const void *)p->lo);
        const __m512i vhi = _mm512_loadu_si512((const void *)p->hi);
        const __m512 da = _mm512_loadu_ps(p->d);
        const __m512 sa = _mm512_loadu_ps(p->s);
        const char *x = w + (size_t)groups * 4 * sizeof(cqk_block_q4_1);
        Q4_1_STEP_TAIL(acc0, x);
        Q4_1_STEP_TAIL(acc1, x + row_bytes);
        Q4_1_STEP_TAIL(acc2, x + 2 * row_bytes);
        Q4_1_STEP_TAIL(acc3, x + 3 * row_bytes);
    }
    reduce4(acc0, acc1, acc2, acc3, out);
}

/// One Q8_0 row against a panel step: d·dₐ·Σ q·qₐ over 2 blocks, added lane-wise to acc.
#define Q8_0_STEP(ACC, X)                                                                            \
    do {                                                                                             \
        __m512i a = _mm512_loadu_si512((const void *)(X));                                          \
        __m512i b = _mm512_loadu_si512((const void *)((const char *)(X) + 4));                      \
        __m512i s = _mm512_loadu_si512((const void *)((const char *)(X) + 2));                      \
        __m512i q = _mm512_mask_blend_epi64(0xF0, s, b);                                             \
        __m512i u = _mm512_xor_si512(q, flip);                                                       \
        __m512i isum = _mm512_dpbusd_epi32(corr, u, v);                                              \
        __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(d_index, a)));   \
        ACC = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, da), ACC);                 \
    } while (0)

VNNI_BW static void rows4_q8_0_panel(const char *w, size_t row_bytes, const void *panel, int pairs, float *out) {
    // Words: d of block 0 (word 0) on lanes 0..7, of block 1 (byte 34, word 17) on lanes 8..15.
    int16_t di[32];
    for (int l = 0; l < 32; l++) di[l] = (int16_t)(l < 8 ? 0 : 17);
    const __m512i d_index = _mm512_loadu_si512((const void *)di);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const panel_q8_0x2 *p = (const panel_q8_0x2 *)panel;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    for (int g = 0; g < pairs; g++, p++) {
        const __m512i v = _mm512_loadu_si512((const void *)p->q);
        const __m512i corr = _mm512_loadu_si512((const void *)p->corr);
        const __m512 da = _mm512_loadu_ps(p->d);
        const char *x = w + (size_t)g * 2 * sizeof(cqk_block_q8_0);
        for (int r = 0; r < 4; r++) _mm_prefetch(x + r * row_bytes + PREFETCH_AHEAD, _MM_HINT_T0);
        Q8_0_STEP(acc0, x);
        Q8_0_STEP(acc1, x + row_bytes);
        Q8_0_STEP(acc2, x + 2 * row_bytes);
        Q8_0_STEP(acc3, x + 3 * row_bytes);
    }
    reduce4(acc0, acc1, acc2, acc3, out);
}

void cqk_panel_rows4(int wtype, const char *w, size_t row_bytes, const void *act, const void *panel, int nb, float *out) {
    float tail[4] = {0, 0, 0, 0};
    if (wtype == CQK_TYPE_Q4_1) {
        rows4_q4_1_panel(w, row_bytes, panel, nb / 4, nb % 4, out);
    } else {
        int pairs = nb / 2, done = pairs * 2;
        rows4_q8_0_panel(w, row_bytes, panel, pairs, out);
        if (done < nb) {
            cqk_vnni_rows4_q8_0_q8_0(w + (size_t)done * sizeof(cqk_block_q8_0), row_bytes,
                                     (const cqk_block_q8_0 *)act + done, nb - done, tail);
        }
    }
    for (int r = 0; r < 4; r++) out[r] += tail[r];
}

#else
size_t cqk_panel_bytes(int wtype, int nb) { (void)wtype; (void)nb; return 0; }
int cqk_panel_supported(int isa, int wtype) { (void)isa; (void)wtype; return 0; }
void cqk_panel_pack(int wtype, const void *act, int nb, void *panel) { (void)wtype; (void)act; (void)nb; (void)panel; }
void cqk_panel_rows4(int wtype, const char *w, size_t row_bytes, const void *act, const void *panel, int nb, float *out) {
    (void)wtype; (void)w; (void)row_bytes; (void)act; (void)panel; (void)nb; (void)out;
}
#endif
