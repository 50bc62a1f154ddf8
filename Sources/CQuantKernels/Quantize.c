// Activation quantisation, dequantisation and the scalar reference dot products.
#include "CQuantKernels.h"
#include "blocks.h"
#include <math.h>

size_t cqk_block_bytes(int type) {
    switch (type) {
    case CQK_TYPE_Q4_0: return sizeof(cqk_block_q4_0);
    case CQK_TYPE_Q4_1: return sizeof(cqk_block_q4_1);
    case CQK_TYPE_Q8_0: return sizeof(cqk_block_q8_0);
    case CQK_TYPE_Q8_1: return sizeof(cqk_block_q8_1);
    default: return 0;
    }
}

int cqk_activation_type(int weight_type) {
    switch (weight_type) {
    case CQK_TYPE_Q4_0: case CQK_TYPE_Q8_0: return CQK_TYPE_Q8_0;
    case CQK_TYPE_Q4_1: return CQK_TYPE_Q8_1;
    default: return -1;
    }
}

/// Scale d = max|x| / 127 of one block of 32 values, and its inverse (0 for an all-zero block).
static void block_scale(const float *x, float *d, float *id) {
    float amax = 0;
    for (int j = 0; j < 32; j++) {
        float v = fabsf(x[j]);
        if (v > amax) amax = v;
    }
    *d = amax / 127.0f;
    *id = *d != 0 ? 1.0f / *d : 0.0f;
}

void cqk_quantize_row_q8_0(const float *x, void *y, int n) {
    cqk_block_q8_0 *b = (cqk_block_q8_0 *)y;
    for (int i = 0; i < n / 32; i++, x += 32) {
        float d, id;
        block_scale(x, &d, &id);
        b[i].d = cqk_f32_to_f16(d);
        for (int j = 0; j < 32; j++) b[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

void cqk_quantize_row_q8_1(const float *x, void *y, int n) {
    cqk_block_q8_1 *b = (cqk_block_q8_1 *)y;
    for (int i = 0; i < n / 32; i++, x += 32) {
        float d, id;
        block_scale(x, &d, &id);
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            int q = (int)roundf(x[j] * id);
            b[i].qs[j] = (int8_t)q;
            sum += q;
        }
        b[i].d = d;
        b[i].s = d * (float)sum;
    }
}

void cqk_quantize_row_q4_0(const float *x, void *y, int n) {
    cqk_block_q4_0 *b = (cqk_block_q4_0 *)y;
    for (int i = 0; i < n / 32; i++, x += 32) {
        float extreme = 0;
        for (int j = 0; j < 32; j++) {
            if (fabsf(x[j]) > fabsf(extreme)) extreme = x[j];
        }
        float d = extreme / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
        b[i].d = cqk_f32_to_f16(d);
        for (int j = 0; j < 16; j++) {
            int lo = (int)(x[j] * id + 8.5f), hi = (int)(x[j + 16] * id + 8.5f);
            lo = lo < 0 ? 0 : (lo > 15 ? 15 : lo);
            hi = hi < 0 ? 0 : (hi > 15 ? 15 : hi);
            b[i].qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

void cqk_quantize_row_q4_1(const float *x, void *y, int n) {
    cqk_block_q4_1 *b = (cqk_block_q4_1 *)y;
    for (int i = 0; i < n / 32; i++, x += 32) {
        float lo = x[0], hi = x[0];
        for (int j = 1; j < 32; j++) {
            if (x[j] < lo) lo = x[j];
            if (x[j] > hi) hi = x[j];
        }
        float d = (hi - lo) / 15.0f, id = d != 0 ? 1.0f / d : 0.0f;
        b[i].d = cqk_f32_to_f16(d);
        b[i].m = cqk_f32_to_f16(lo);
        for (int j = 0; j < 16; j++) {
            int q0 = (int)((x[j] - lo) * id + 0.5f), q1 = (int)((x[j + 16] - lo) * id + 0.5f);
            q0 = q0 > 15 ? 15 : q0;
            q1 = q1 > 15 ? 15 : q1;
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void cqk_quantize_rows(int type, const float *x, size_t ldx, void *y, int rows, int n) {
    size_t row_bytes = (size_t)(n / 32) * cqk_block_bytes(type);
    for (int r = 0; r < rows; r++) {
        void *dst = (char *)y + (size_t)r * row_bytes;
        const float *src = x + (size_t)r * ldx;
        switch (type) {
        case CQK_TYPE_Q4_0: cqk_quantize_row_q4_0(src, dst, n); break;
        case CQK_TYPE_Q4_1: cqk_quantize_row_q4_1(src, dst, n); break;
        case CQK_TYPE_Q8_1: cqk_quantize_row_q8_1(src, dst, n); break;
        default: cqk_quantize_row_q8_0(src, dst, n); break;
        }
    }
}

int cqk_dequantize_row(int type, const void *src, float *dst, int n) {
    switch (type) {
    case CQK_TYPE_F32: {
        const float *s = (const float *)src;
        for (int j = 0; j < n; j++) dst[j] = s[j];
        return 0;
    }
    case CQK_TYPE_F16: {
        const uint16_t *s = (const uint16_t *)src;
        for (int j = 0; j < n; j++) dst[j] = cqk_f16_to_f32(s[j]);
        return 0;
    }
    case CQK_TYPE_Q4_0: {
        const cqk_block_q4_0 *b = (const cqk_block_q4_0 *)src;
        for (int i = 0; i < n / 32; i++, dst += 32) {
            float d = cqk_f16_to_f32(b[i].d);
            for (int j = 0; j < 16; j++) {
                dst[j] = d * (float)((b[i].qs[j] & 0x0f) - 8);
                dst[j + 16] = d * (float)((b[i].qs[j] >> 4) - 8);
            }
        }
        return 0;
    }
    case CQK_TYPE_Q4_1: {
        const cqk_block_q4_1 *b = (const cqk_block_q4_1 *)src;
        for (int i = 0; i < n / 32; i++, dst += 32) {
            float d = cqk_f16_to_f32(b[i].d), m = cqk_f16_to_f32(b[i].m);
            for (int j = 0; j < 16; j++) {
                dst[j] = d * (float)(b[i].qs[j] & 0x0f) + m;
                dst[j + 16] = d * (float)(b[i].qs[j] >> 4) + m;
            }
        }
        return 0;
    }
    case CQK_TYPE_Q8_0: {
        const cqk_block_q8_0 *b = (const cqk_block_q8_0 *)src;
        for (int i = 0; i < n / 32; i++, dst += 32) {
            float d = cqk_f16_to_f32(b[i].d);
            for (int j = 0; j < 32; j++) dst[j] = d * (float)b[i].qs[j];
        }
        return 0;
    }
    case CQK_TYPE_Q8_1: {
        const cqk_block_q8_1 *b = (const cqk_block_q8_1 *)src;
        for (int i = 0; i < n / 32; i++, dst += 32) {
            for (int j = 0; j < 32; j++) dst[j] = b[i].d * (float)b[i].qs[j];
        }
        return 0;
    }
    default: return -1;
    }
}

// MARK: scalar reference dot products: integer sum per block, then one float multiply-add per block.

float cqk_scalar_dot_q4_0_q8_0(const void *w, const void *a, int nb) {
    const cqk_block_q4_0 *x = (const cqk_block_q4_0 *)w;
    const cqk_block_q8_0 *y = (const cqk_block_q8_0 *)a;
    float sum = 0;
    for (int i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += ((x[i].qs[j] & 0x0f) - 8) * y[i].qs[j];
            sumi += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
        }
        sum += (float)sumi * (cqk_f16_to_f32(x[i].d) * cqk_f16_to_f32(y[i].d));
    }
    return sum;
}

float cqk_scalar_dot_q4_1_q8_1(const void *w, const void *a, int nb) {
    const cqk_block_q4_1 *x = (const cqk_block_q4_1 *)w;
    const cqk_block_q8_1 *y = (const cqk_block_q8_1 *)a;
    float sum = 0;
    for (int i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += (x[i].qs[j] & 0x0f) * y[i].qs[j];
            sumi += (x[i].qs[j] >> 4) * y[i].qs[j + 16];
        }
        // Σ (d·q + m)·(dₐ·qₐ) = d·dₐ·Σ q·qₐ + m·(dₐ·Σ qₐ)
        sum += (float)sumi * (cqk_f16_to_f32(x[i].d) * y[i].d) + cqk_f16_to_f32(x[i].m) * y[i].s;
    }
    return sum;
}

float cqk_scalar_dot_q8_0_q8_0(const void *w, const void *a, int nb) {
    const cqk_block_q8_0 *x = (const cqk_block_q8_0 *)w;
    const cqk_block_q8_0 *y = (const cqk_block_q8_0 *)a;
    float sum = 0;
    for (int i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < 32; j++) sumi += x[i].qs[j] * y[i].qs[j];
        sum += (float)sumi * (cqk_f16_to_f32(x[i].d) * cqk_f16_to_f32(y[i].d));
    }
    return sum;
}
