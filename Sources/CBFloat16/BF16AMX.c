// bfloat16 x bfloat16 -> float32 matrix product on Intel AMX (Intel SDM vol. 1 ch. 3 "Intel
// Advanced Matrix Extensions"; vol. 2 "TDPBF16PS: dot product of BF16 tiles accumulated into
// packed single precision tile").
//
// A tile holds 16 rows of 64 bytes. TDPBF16PS multiplies an A tile (16 rows x 16 pairs of
// bf16) by a B tile (16 pairs x 16 columns, each 32-bit element one pair) and adds the sums
// into a C tile (16 x 16 float32). The packed operands of BF16Gemm.c already have that shape:
// A's bf16 rows give an A tile with a row stride of ka * 2 bytes, and a B panel's pair words
// give a B tile with a row stride of NR * 4 bytes. Eight tiles exist: four accumulate a 32 x 32
// block of C, two hold A rows and two hold B columns (each A tile meets both B tiles, so every
// tile load feeds two products). Linux hands out the tile state only on request
// (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), Documentation/arch/x86/xstate.rst).
#include "amx.h"
#include <string.h>

#if defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl")))

enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
// Pairs of k per pass (a 32-row block of A, 32 KiB at 512 pairs, stays in L1/L2) and columns
// per pass (a 256-column slice of B, 512 KiB at 512 pairs, stays in L2).
enum { AMX_KC_PAIRS = 512, AMX_NC_COLS = 256 };

static int amx_state = -1;    // -1 unknown, 0 absent, 1 present and granted
static int amx_wanted = 1;    // cbf16_use_amx

int cbf16_amx_supported(void) {
    int state = __atomic_load_n(&amx_state, __ATOMIC_ACQUIRE);
    if (state >= 0) return state;
    unsigned eax, ebx, ecx, edx;
    int ok = 0;
    // CPUID.(EAX=7, ECX=0):EDX bit 22 = AMX-BF16, bit 24 = AMX-TILE.
    if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) ok = ((edx >> 22) & 1u) && ((edx >> 24) & 1u);
    // The products also need AVX512_BF16's packing and tails (BF16Gemm.c).
    if (ok) ok = cbf16_vector_detected();
    if (ok) ok = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    __atomic_store_n(&amx_state, ok, __ATOMIC_RELEASE);
    return ok;
}

void cbf16_use_amx(int enabled) { __atomic_store_n(&amx_wanted, enabled != 0, __ATOMIC_RELEASE); }

int cbf16_amx_active(void) {
    return __atomic_load_n(&amx_wanted, __ATOMIC_ACQUIRE) && cbf16_amx_supported() && cbf16_supported();
}

/// LDTILECFG's 64-byte operand (palette 1: eight tiles of at most 16 rows x 64 bytes).
typedef struct {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} TileConfig;

/// Tiles 0-3: C blocks (rows 0-15 / 16-31 x columns 0-15 / 16-31); 4, 5: A rows 0-15 / 16-31;
/// 6, 7: B columns 0-15 / 16-31. All are 16 rows of 64 bytes.
AMX_TARGET static void configure_tiles(void) {
    TileConfig config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int t = 0; t < 8; t++) { config.colsb[t] = 64; config.rows[t] = 16; }
    _tile_loadconfig(&config);
}

/// C rows (16 x `cols` of them, cols <= 16) (+)= a 16 x 16 float block stored row by row.
AMX_TARGET static inline void add_block(const float *block, float *c, long ldc, int cols, int accumulate) {
    __mmask16 mask = cols >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << cols) - 1u);
    for (int r = 0; r < 16; r++) {
        float *out = c + r * ldc;
        __m512 sum = _mm512_loadu_ps(block + r * 16);
        if (accumulate) sum = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, out), sum);
        _mm512_mask_storeu_ps(out, mask, sum);
    }
}

/// Writes accumulator tile `T` to C at (0, 0) of `c`: straight from the tile when it covers 16
/// full columns and nothing is added, else through `block`.
#define WRITE_TILE(T, c, ldc, cols, accumulate, block)                           \
    do {                                                                         \
        if ((cols) >= 16 && !(accumulate)) {                                     \
            _tile_stored(T, (c), (ldc) * (long)sizeof(float));                   \
        } else if ((cols) > 0) {                                                 \
            _tile_stored(T, (block), 16 * (long)sizeof(float));                  \
            add_block((block), (c), (ldc), (cols), (accumulate));                \
        }                                                                        \
    } while (0)

AMX_TARGET void cbf16_amx_gemm(const uint16_t *a, long ka, const uint16_t *b, long pairs, long amx_pairs,
                               long n, long row0, long row1, float *c, long ldc, int beta) {
    configure_tiles();
    float block[16 * 16] __attribute__((aligned(64)));
    const long b_stride = CBF16_NR * 4, a_stride = ka * 2;  // bytes between tile rows
    for (long t0 = 0; t0 < amx_pairs; t0 += AMX_KC_PAIRS) {
        long tc = amx_pairs - t0 < AMX_KC_PAIRS ? amx_pairs - t0 : AMX_KC_PAIRS;
        int accumulate = beta || t0 > 0;
        for (long n0 = 0; n0 < n; n0 += AMX_NC_COLS) {
            long n1 = n - n0 < AMX_NC_COLS ? n : n0 + AMX_NC_COLS;
            for (long i = row0; i < row1; i += 32) {
                int both = i + 32 <= row1;
                const uint16_t *a0 = a + i * ka + 2 * t0, *a1 = a0 + 16 * ka;
                for (long j = n0; j < n1; j += 32) {
                    // Columns j..j+31 lie in panel j / NR (NR = 64 is a multiple of 32, and so is n0).
                    const uint16_t *b0 = b + ((j / CBF16_NR) * pairs + t0) * 2 * CBF16_NR + 2 * (j % CBF16_NR);
                    const uint16_t *b1 = b0 + 32;
                    int cols0 = (int)(n - j < 16 ? n - j : 16);
                    int cols1 = (int)(n - j - 16 < 0 ? 0 : (n - j - 16 < 16 ? n - j - 16 : 16));
                    float *c0 = c + i * ldc + j;
                    _tile_zero(0);
                    _tile_zero(1);
                    if (both) {
                        _tile_zero(2);
                        _tile_zero(3);
                        for (long t = 0; t < tc; t += 16) {
                            _tile_loadd(4, a0 + 2 * t, a_stride);
                            _tile_loadd(6, b0 + t * 2 * CBF16_NR, b_stride);
                            _tile_loadd(7, b1 + t * 2 * CBF16_NR, b_stride);
                            _tile_loadd(5, a1 + 2 * t, a_stride);
                            _tile_dpbf16ps(0, 4, 6);
                            _tile_dpbf16ps(1, 4, 7);
                            _tile_dpbf16ps(2, 5, 6);
                            _tile_dpbf16ps(3, 5, 7);
                        }
                        WRITE_TILE(2, c0 + 16 * ldc, ldc, cols0, accumulate, block);
                        WRITE_TILE(3, c0 + 16 * ldc + 16, ldc, cols1, accumulate, block);
                    } else {
                        for (long t = 0; t < tc; t += 16) {
                            _tile_loadd(4, a0 + 2 * t, a_stride);
                            _tile_loadd(6, b0 + t * 2 * CBF16_NR, b_stride);
                            _tile_loadd(7, b1 + t * 2 * CBF16_NR, b_stride);
                            _tile_dpbf16ps(0, 4, 6);
                            _tile_dpbf16ps(1, 4, 7);
                        }
                    }
                    WRITE_TILE(0, c0, ldc, cols0, accumulate, block);
                    WRITE_TILE(1, c0 + 16, ldc, cols1, accumulate, block);
                }
            }
        }
    }
    _tile_release();
}

#else

int cbf16_amx_supported(void) { return 0; }
void cbf16_use_amx(int enabled) { (void)enabled; }
int cbf16_amx_active(void) { return 0; }
void cbf16_amx_gemm(const uint16_t *a, long ka, const uint16_t *b, long pairs, long amx_pairs,
                    long n, long row0, long row1, float *c, long ldc, int beta) {
    (void)a; (void)ka; (void)b; (void)pairs; (void)amx_pairs; (void)n; (void)row0; (void)row1;
    (void)c; (void)ldc; (void)beta;
}

#endif
