// Run-time choice of the kernel path and the matrix-times-few-rows entry point.
#include "CQuantKernels.h"
#include "blocks.h"
#include "rows_panel.h"
#include <stdlib.h>

int cqk_isa_supported(int isa) {
    switch (isa) {
    case CQK_ISA_SCALAR: return 1;
#if defined(__x86_64__)
    case CQK_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case CQK_ISA_AVX512:
        return cqk_isa_supported(CQK_ISA_AVX2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    case CQK_ISA_AVX512VNNI:
        return cqk_isa_supported(CQK_ISA_AVX512) && __builtin_cpu_supports("avx512vnni");
#endif
    default: return 0;
    }
}

int cqk_best_isa(void) {
    for (int isa = CQK_ISA_AVX512VNNI; isa > CQK_ISA_SCALAR; isa--) {
        if (cqk_isa_supported(isa)) return isa;
    }
    return CQK_ISA_SCALAR;
}

const char *cqk_isa_name(int isa) {
    switch (isa) {
    case CQK_ISA_SCALAR: return "scalar";
    case CQK_ISA_AVX2: return "avx2";
    case CQK_ISA_AVX512: return "avx512";
    case CQK_ISA_AVX512VNNI: return "avx512vnni";
    default: return "unknown";
    }
}

/// The dot kernel of weight type `wtype` on path `isa`, or NULL (unsupported type, or a path this CPU lacks).
static cqk_dot_fn dot_kernel(int isa, int wtype) {
    if (!cqk_isa_supported(isa)) return 0;
    static const cqk_dot_fn q4_0[] = {cqk_scalar_dot_q4_0_q8_0, cqk_avx2_dot_q4_0_q8_0, cqk_avx512_dot_q4_0_q8_0, cqk_vnni_dot_q4_0_q8_0};
    static const cqk_dot_fn q4_1[] = {cqk_scalar_dot_q4_1_q8_1, cqk_avx2_dot_q4_1_q8_1, cqk_avx512_dot_q4_1_q8_1, cqk_vnni_dot_q4_1_q8_1};
    static const cqk_dot_fn q8_0[] = {cqk_scalar_dot_q8_0_q8_0, cqk_avx2_dot_q8_0_q8_0, cqk_avx512_dot_q8_0_q8_0, cqk_vnni_dot_q8_0_q8_0};
    switch (wtype) {
    case CQK_TYPE_Q4_0: return q4_0[isa];
    case CQK_TYPE_Q4_1: return q4_1[isa];
    case CQK_TYPE_Q8_0: return q8_0[isa];
    default: return 0;
    }
}

/// The four-row kernel of `wtype` on `isa`, or NULL (only the AVX-512 paths have one).
static cqk_rows4_fn rows4_kernel(int isa, int wtype) {
#if defined(__x86_64__)
    if (isa == CQK_ISA_AVX512VNNI) {
        switch (wtype) {
        case CQK_TYPE_Q4_0: return cqk_vnni_rows4_q4_0_q8_0;
        case CQK_TYPE_Q4_1: return cqk_vnni_rows4_q4_1_q8_1;
        case CQK_TYPE_Q8_0: return cqk_vnni_rows4_q8_0_q8_0;
        }
    } else if (isa == CQK_ISA_AVX512) {
        switch (wtype) {
        case CQK_TYPE_Q4_0: return cqk_avx512_rows4_q4_0_q8_0;
        case CQK_TYPE_Q4_1: return cqk_avx512_rows4_q4_1_q8_1;
        case CQK_TYPE_Q8_0: return cqk_avx512_rows4_q8_0_q8_0;
        }
    }
#endif
    (void)isa;
    (void)wtype;
    return 0;
}

static float dot_or_nan(int isa, int wtype, const void *w, const void *a, int nb) {
    cqk_dot_fn f = dot_kernel(isa, wtype);
    return f ? f(w, a, nb) : __builtin_nanf("");
}

float cqk_dot_q4_0_q8_0(int isa, const void *w, const void *a, int nb) { return dot_or_nan(isa, CQK_TYPE_Q4_0, w, a, nb); }
float cqk_dot_q4_1_q8_1(int isa, const void *w, const void *a, int nb) { return dot_or_nan(isa, CQK_TYPE_Q4_1, w, a, nb); }
float cqk_dot_q8_0_q8_0(int isa, const void *w, const void *a, int nb) { return dot_or_nan(isa, CQK_TYPE_Q8_0, w, a, nb); }

int cqk_matmul_rows(int isa, int wtype, const void *w, size_t row_bytes, int r0, int r1, int cols,
                    const void *acts, int N, float *out, size_t ldo) {
    cqk_dot_fn dot = dot_kernel(isa, wtype);
    int atype = cqk_activation_type(wtype);
    if (!dot || atype < 0 || cols % CQK_BLOCK != 0) return -1;
    int nb = cols / CQK_BLOCK;
    size_t act_row_bytes = (size_t)nb * cqk_block_bytes(atype);
    const char *base = (const char *)w;
    const char *act = (const char *)acts;
    cqk_rows4_fn rows4 = rows4_kernel(isa, wtype);
    int r = r0;
    size_t panel_bytes = cqk_panel_supported(isa, wtype) ? cqk_panel_bytes(wtype, nb) : 0;
    if (panel_bytes > 0 && r0 + 4 <= r1) {
        // Each activation row rearranged once, then read by every group of four weight rows.
        char stack[16384];
        size_t total = panel_bytes * (size_t)N;
        char *panels = total <= sizeof(stack) ? stack : (char *)malloc(total);
        if (panels) {
            for (int n = 0; n < N; n++) cqk_panel_pack(wtype, act + (size_t)n * act_row_bytes, nb, panels + (size_t)n * panel_bytes);
            float four[4];
            for (; r + 4 <= r1; r += 4) {
                for (int n = 0; n < N; n++) {
                    cqk_panel_rows4(wtype, base + (size_t)r * row_bytes, row_bytes, act + (size_t)n * act_row_bytes,
                                    panels + (size_t)n * panel_bytes, nb, four);
                    for (int k = 0; k < 4; k++) out[(size_t)n * ldo + r + k] = four[k];
                }
            }
            if (panels != stack) free(panels);
        }
    }
    if (rows4) {
        // Groups of four rows share each activation load; the results equal the one-row kernel's.
        // (Paths with panel kernels reach here only for rows the panel loop left.)
        float four[4];
        for (; r + 4 <= r1; r += 4) {
            for (int n = 0; n < N; n++) {
                rows4(base + (size_t)r * row_bytes, row_bytes, act + (size_t)n * act_row_bytes, nb, four);
                for (int k = 0; k < 4; k++) out[(size_t)n * ldo + r + k] = four[k];
            }
        }
    }
    for (; r < r1; r++) {
        const void *row = base + (size_t)r * row_bytes;
        for (int n = 0; n < N; n++) out[(size_t)n * ldo + r] = dot(row, act + (size_t)n * act_row_bytes, nb);
    }
    return 0;
}
