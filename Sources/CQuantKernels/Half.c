// IEEE 754 binary16 conversions, portable bit manipulation.
#include "CQuantKernels.h"
#include <math.h>
#include <string.h>

float cqk_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    uint32_t bits;
    if (exponent == 0) {
        float v = ldexpf((float)mantissa, -24);  // zero or subnormal: mantissa · 2^-24
        return (h & 0x8000) ? -v : v;
    } else if (exponent == 31) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t cqk_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t a = x & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00;   // NaN
    if (a >= 0x477ff000u) return sign | 0x7c00;  // ≥ 65520 rounds to infinity
    if (a < 0x38800000u) {                       // below 2^-14: a half subnormal (or zero)
        float v;
        memcpy(&v, &a, 4);
        return sign | (uint16_t)nearbyintf(v * 16777216.0f);  // round(v / 2^-24), ties to even
    }
    uint32_t mantissa = a & 0x7fffff;
    uint32_t h = ((((a >> 23) - 127 + 15)) << 10) | (mantissa >> 13);
    uint32_t rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return sign | (uint16_t)h;
}

#if defined(__x86_64__)
#include <immintrin.h>
/// 16 floats at a time by vcvtps2ph (round to nearest even, as cqk_f32_to_f16).
__attribute__((target("avx2,f16c,avx512f"))) static void to_f16_avx512(const float *x, uint16_t *y, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_si256((__m256i *)(y + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    for (; i < n; i++) y[i] = cqk_f32_to_f16(x[i]);
}
#endif

void cqk_f32_to_f16_row(const float *x, uint16_t *y, int n) {
#if defined(__x86_64__)
    if (cqk_isa_supported(CQK_ISA_AVX512)) {
        to_f16_avx512(x, y, n);
        return;
    }
#endif
    for (int i = 0; i < n; i++) y[i] = cqk_f32_to_f16(x[i]);
}
