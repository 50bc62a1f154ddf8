#ifndef DLLM_CBFLOAT16_ROUNDING_H
#define DLLM_CBFLOAT16_ROUNDING_H
// float32 -> bfloat16 rounding shared by the packers (BF16Gemm.c) and attention's row passes
// (AttentionRows.c), one value at a time and sixteen at a time.
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
// The bf16 product kernels (vdpbf16ps, AMX) need AVX512_BF16; the packers, rounding and
// attention's row passes need only AVX512F/BW/VL/DQ, so they also serve the float32 fallback of
// AVX-512 CPUs without it (Skylake-X, Cascade Lake, Ice Lake).
#define CBF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define CBF16_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#endif

/// Mirrors c10::BFloat16's round_to_nearest_even (NaN -> 0x7FC0).
static inline uint16_t round_one(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
    return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

#if defined(__x86_64__)
/// 16 floats to 16 bf16 values, each in the low half of its 32-bit lane (integer arithmetic,
/// so denormals are kept: `vcvtneps2bf16` would flush them).
CBF16_AVX512 static inline __m512i round16(__m512 x) {
    __m512i bits = _mm512_castps_si512(x);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
    return _mm512_mask_mov_epi32(rounded, nan, _mm512_set1_epi32(0x7fc0));
}
#endif

#endif
