// Activation panels for the four-row VNNI kernels (RowsVNNI.c): the activation row rearranged once
// per product so the weight blocks can be read in their stored order.
#ifndef CQK_ROWS_PANEL_H
#define CQK_ROWS_PANEL_H

#include <stddef.h>

/// True when `isa` has panel kernels for weight type `wtype` on this CPU (VNNI: Q8_0; VNNI + VBMI: Q4_1).
int cqk_panel_supported(int isa, int wtype);
/// Bytes of the panel of one activation row of `nb` blocks (Q4_1: a last partial step zero-padded; Q8_0: whole pairs, an odd block stays in `act`).
size_t cqk_panel_bytes(int wtype, int nb);
/// Packs one activation row `act` (nb blocks of cqk_activation_type(wtype)) into `panel`.
void cqk_panel_pack(int wtype, const void *act, int nb, void *panel);
/// out[0..3] = four weight rows (`row_bytes` apart from `w`) · the activation row (`act` and its `panel`).
void cqk_panel_rows4(int wtype, const char *w, size_t row_bytes, const void *act, const void *panel, int nb, float *out);

#endif
