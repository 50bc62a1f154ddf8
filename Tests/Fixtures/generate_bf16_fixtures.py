"""bf16 mixed-precision reference for one training step of the causal grouped-query LLaMA
fixture (Tests/DLLMModelsTests/Fixtures/llama_gqa, written by generate_model_fixtures.py).

Writes Tests/DLLMModelsTests/Fixtures/bf16/reference.safetensors and reference.json with the
loss and every parameter gradient of the same batch computed three ways:

* `autocast`: `torch.autocast("cpu", dtype=torch.bfloat16)` around the forward (what HF's
  Trainer does for `bf16: true` on CPU). Linear outputs come back in bfloat16, so autocast also
  rounds the products' outputs and runs the elementwise ops between them (rotary, SiLU·up,
  attention products) in bfloat16; dllm keeps those float32.
* `rounded`: dllm's scheme, spelled out in float32 PyTorch: every `nn.Linear` multiplies
  bf16-rounded inputs with float32 accumulation, and its backward multiplies the bf16-rounded
  output gradient by the bf16-rounded weight (dX) and input (dW); eager attention's two
  `matmul`s (Q·Kᵀ, P·V) do the same (attention `bf16_rounded_eager`, registered below); the
  MLP's gate and up outputs are rounded to bf16 as autocast returns them (the gradient passes
  the rounding unchanged); all else float32.
* `fp32`: plain float32.

Run from the repository root: python3 Tests/Fixtures/generate_bf16_fixtures.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import AttentionInterface, LlamaForCausalLM
from transformers.models.llama.modeling_llama import repeat_kv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_model_fixtures import additive_4d_mask, allowed_matrix, weighted_ce  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "Tests/DLLMModelsTests/Fixtures/llama_gqa"
OUT = ROOT / "Tests/DLLMModelsTests/Fixtures/bf16"


def bf16(x: torch.Tensor) -> torch.Tensor:
    """Round to bfloat16 (nearest, ties to even) and widen back to float32."""
    return x.to(torch.bfloat16).to(torch.float32)


class RoundedLinear(torch.autograd.Function):
    """y = bf16(x) · bf16(W)ᵀ in float32; backward dX = bf16(dY) · bf16(W), dW = bf16(dY)ᵀ · bf16(x)."""

    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return bf16(x) @ bf16(weight).t()

    @staticmethod
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        dyr = bf16(dy)
        dx = dyr @ bf16(weight)
        dw = dyr.reshape(-1, dy.shape[-1]).t() @ bf16(x).reshape(-1, x.shape[-1])
        return dx, dw


class RoundedMatmul(torch.autograd.Function):
    """c = bf16(a) @ bf16(b) in float32; backward dA = bf16(dC) · bf16(b)ᵀ, dB = bf16(a)ᵀ · bf16(dC)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return bf16(a) @ bf16(b)

    @staticmethod
    def backward(ctx, dc):
        a, b = ctx.saved_tensors
        dcr = bf16(dc)
        return dcr @ bf16(b).transpose(-1, -2), bf16(a).transpose(-1, -2) @ dcr


def rounded_output(y: torch.Tensor) -> torch.Tensor:
    """bf16(y) forward; backward passes the gradient through unchanged (dllm rounds the gate and
    up outputs it keeps, and differentiates SwiGLU at the rounded values)."""
    return y + (bf16(y) - y).detach()


def rounded_eager_attention(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """transformers' eager_attention_forward with both matmuls through RoundedMatmul (the scale
    multiplies the product, so backward rounds scale · dS)."""
    key_states = repeat_kv(key, module.num_key_value_groups)
    value_states = repeat_kv(value, module.num_key_value_groups)
    weights = RoundedMatmul.apply(query, key_states.transpose(2, 3)) * scaling
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = torch.nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    assert dropout == 0.0
    out = RoundedMatmul.apply(weights, value_states)
    return out.transpose(1, 2).contiguous(), weights


AttentionInterface.register("bf16_rounded_eager", rounded_eager_attention)


def load_model(rounded: bool) -> LlamaForCausalLM:
    attention = "bf16_rounded_eager" if rounded else "eager"
    model = LlamaForCausalLM.from_pretrained(str(SOURCE), attn_implementation=attention, dtype=torch.float32)
    model.train()
    if rounded:
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear):
                assert module.bias is None
                if name.endswith(("mlp.gate_proj", "mlp.up_proj")):
                    module.forward = (lambda m: (lambda x: rounded_output(RoundedLinear.apply(x, m.weight))))(module)
                else:
                    module.forward = (lambda m: (lambda x: RoundedLinear.apply(x, m.weight)))(module)
    return model


def step(mode: str, batch, mask4d):
    model = load_model(rounded=mode == "rounded")
    model.zero_grad()
    if mode == "autocast":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(input_ids=batch["input_ids"], attention_mask=mask4d, position_ids=batch["position_ids"],
                           use_cache=False).logits
    else:
        logits = model(input_ids=batch["input_ids"], attention_mask=mask4d, position_ids=batch["position_ids"],
                       use_cache=False).logits
    loss = weighted_ce(logits, batch["targets"], batch["weights"])
    loss.backward()
    grads = {name: p.grad.detach().float().contiguous() for name, p in model.named_parameters()}
    return loss.item(), logits.detach().float(), grads


def main():
    torch.manual_seed(0)
    ref = load_file(str(SOURCE / "reference.safetensors"))
    meta = json.loads((SOURCE / "reference.json").read_text())
    assert meta["attention"] == "causal"
    batch = {k: ref[k] for k in ("input_ids", "targets", "weights", "key_padding", "position_ids")}
    mask4d = additive_4d_mask(allowed_matrix("causal", batch["key_padding"]))
    out, summary = {}, {}
    for mode in ("fp32", "rounded", "autocast"):
        loss, logits, grads = step(mode, batch, mask4d)
        out[f"{mode}.loss"] = torch.tensor([loss], dtype=torch.float32)
        out[f"{mode}.logits"] = logits.contiguous()
        for name, g in grads.items():
            out[f"{mode}.grad.{name}"] = g
        summary[mode] = {"loss": loss, "grad_norm": torch.sqrt(sum((g.double() ** 2).sum() for g in grads.values())).item()}
    # Sanity of the fixture itself: fp32 reproduces the llama_gqa reference.
    assert abs(summary["fp32"]["loss"] - ref["loss"].item()) <= 1e-5 * abs(ref["loss"].item())
    OUT.mkdir(parents=True, exist_ok=True)
    save_file(out, str(OUT / "reference.safetensors"), metadata={"format": "pt"})
    info = {
        "model": "Tests/DLLMModelsTests/Fixtures/llama_gqa (its config, weights and batch)",
        "attn_implementation": "eager",
        "modes": {
            "fp32": "float32",
            "rounded": "every nn.Linear and eager attention's two matmuls: bf16-rounded inputs, float32 products and sums "
                       "(forward and both backward products); the MLP's gate and up outputs rounded to bf16 "
                       "(straight-through backward); all else float32",
            "autocast": 'torch.autocast("cpu", dtype=torch.bfloat16) around the forward',
        },
        "summary": summary,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    (OUT / "reference.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
