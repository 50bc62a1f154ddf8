"""bf16 mixed-precision references for one training step of three architectures:

* the causal grouped-query LLaMA fixture (Tests/DLLMModelsTests/Fixtures/llama_gqa, written by
  generate_model_fixtures.py) -> Tests/DLLMModelsTests/Fixtures/bf16;
* the GPT-2 fixture (Tests/DLLMModelsTests/Fixtures/gpt2, Conv1D weights) -> .../Fixtures/bf16_gpt2;
* a small random BERT written here (transformers' `BertModel` without pooler, dllm's tied head
  `h · Eᵀ`, bidirectional attention over a padded batch) -> .../Fixtures/bf16_bert, with its
  config.json, model.safetensors and batch.

Each folder's reference.safetensors and reference.json hold the loss, the logits and every
parameter gradient of the same batch computed three ways:

* `autocast`: `torch.autocast("cpu", dtype=torch.bfloat16)` around the forward (what HF's
  Trainer does for `bf16: true` on CPU). Linear outputs come back in bfloat16, so autocast also
  rounds the products' outputs and runs the elementwise ops between them (rotary, SiLU·up,
  attention products) in bfloat16; dllm keeps those float32.
* `rounded`: dllm's scheme, spelled out in float32 PyTorch: every `nn.Linear` (GPT-2's
  `Conv1D`, BERT's tied head) multiplies bf16-rounded inputs with float32 accumulation, and its backward multiplies the bf16-rounded
  output gradient by the bf16-rounded weight (dX) and input (dW); eager attention's two
  `matmul`s (Q·Kᵀ, P·V) do the same (attention `bf16_rounded_eager`, registered below); the
  LLaMA MLP's gate and up outputs are rounded to bf16 as autocast returns them (the gradient
  passes the rounding unchanged); biases are added in float32 and their gradients are float32 row
  sums of the unrounded output gradient; all else float32.
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
from transformers import AttentionInterface, BertConfig, BertModel, GPT2LMHeadModel, LlamaForCausalLM
from transformers.models.llama.modeling_llama import repeat_kv
from transformers.pytorch_utils import Conv1D

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_model_fixtures import additive_4d_mask, allowed_matrix, randomize_parameters, weighted_ce  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests/DLLMModelsTests/Fixtures"


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


class RoundedBiasedLinear(torch.autograd.Function):
    """y = bf16(x) · bf16(W)ᵀ + b in float32 (W (out, in), or (in, out) with `conv1d`); backward as
    RoundedLinear, the bias gradient the float32 row sum of the unrounded dY."""

    @staticmethod
    def forward(ctx, x, weight, bias, conv1d):
        ctx.save_for_backward(x, weight)
        ctx.conv1d = conv1d
        w = bf16(weight) if conv1d else bf16(weight).t()
        return bf16(x) @ w + bias

    @staticmethod
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        dyr = bf16(dy)
        rows, x_rows = dyr.reshape(-1, dy.shape[-1]), bf16(x).reshape(-1, x.shape[-1])
        if ctx.conv1d:  # W (in, out)
            dx, dw = dyr @ bf16(weight).t(), x_rows.t() @ rows
        else:
            dx, dw = dyr @ bf16(weight), rows.t() @ x_rows
        return dx, dw, dy.reshape(-1, dy.shape[-1]).sum(0), None


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
    groups = getattr(module, "num_key_value_groups", 1)  # GPT-2 and BERT: one key/value head per query head
    key_states = repeat_kv(key, groups)
    value_states = repeat_kv(value, groups)
    weights = RoundedMatmul.apply(query, key_states.transpose(2, 3)) * scaling
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = torch.nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    assert dropout == 0.0
    out = RoundedMatmul.apply(weights, value_states)
    return out.transpose(1, 2).contiguous(), weights


AttentionInterface.register("bf16_rounded_eager", rounded_eager_attention)


def load_llama(rounded: bool) -> LlamaForCausalLM:
    attention = "bf16_rounded_eager" if rounded else "eager"
    model = LlamaForCausalLM.from_pretrained(str(FIXTURES / "llama_gqa"), attn_implementation=attention, dtype=torch.float32)
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


def load_gpt2(rounded: bool) -> GPT2LMHeadModel:
    attention = "bf16_rounded_eager" if rounded else "eager"
    model = GPT2LMHeadModel.from_pretrained(str(FIXTURES / "gpt2"), attn_implementation=attention, dtype=torch.float32)
    model.train()
    if rounded:
        for name, module in model.named_modules():
            if isinstance(module, Conv1D):
                module.forward = (lambda m: (lambda x: RoundedBiasedLinear.apply(x, m.weight, m.bias, True)))(module)
            elif isinstance(module, torch.nn.Linear):  # the head, tied to wte
                assert name == "lm_head" and module.bias is None
                module.forward = (lambda m: (lambda x: RoundedLinear.apply(x, m.weight)))(module)
    return model


BERT_FOLDER = FIXTURES / "bf16_bert"


def write_bert():
    """A small random BERT (2 layers, hidden 32, 4 heads, intermediate 48, vocabulary 67), weights
    at O(1) scale as generate_model_fixtures.py sets them, in sentence-transformers' naming (no
    `bert.` prefix, no pooler), with a padded (2, 7) batch of random tokens and weighted targets."""
    config = BertConfig(vocab_size=67, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
                        max_position_embeddings=16, hidden_act="gelu", hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0)
    gen = torch.Generator().manual_seed(4321)
    model = BertModel(config, add_pooling_layer=False)
    randomize_parameters(model, gen)
    BERT_FOLDER.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(BERT_FOLDER))
    B, T = 2, 7
    key_padding = torch.ones(B, T, dtype=torch.int64)
    key_padding[1, T - 2:] = 0
    input_ids = torch.randint(1, 67, (B, T), generator=gen) * key_padding
    targets = torch.randint(0, 67, (B, T), generator=gen)
    scored = (torch.rand(B, T, generator=gen) < 0.6) & key_padding.bool()
    scored[:, 0] = True
    targets = torch.where(scored, targets, torch.full_like(targets, -100))
    weights = torch.where(scored, torch.rand(B, T, generator=gen) + 0.5, torch.zeros(B, T))
    batch = dict(input_ids=input_ids, targets=targets, weights=weights.float(), key_padding=key_padding,
                 position_ids=torch.arange(T, dtype=torch.int64).expand(B, T).contiguous())
    return batch


class BertWithTiedHead(torch.nn.Module):
    """dllm's BERT language model: transformers' `BertModel`, then logits = h · Eᵀ (no bias)."""

    def __init__(self, rounded: bool):
        super().__init__()
        attention = "bf16_rounded_eager" if rounded else "eager"
        self.bert = BertModel.from_pretrained(str(BERT_FOLDER), attn_implementation=attention, dtype=torch.float32,
                                              add_pooling_layer=False)
        self.rounded = rounded
        if rounded:
            for module in self.bert.modules():
                if isinstance(module, torch.nn.Linear):
                    module.forward = (lambda m: (lambda x: RoundedBiasedLinear.apply(x, m.weight, m.bias, False)))(module)

    def forward(self, input_ids, attention_mask, position_ids, use_cache=False):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids).last_hidden_state
        table = self.bert.embeddings.word_embeddings.weight
        logits = RoundedLinear.apply(hidden, table) if self.rounded else hidden @ table.t()
        return type("Output", (), {"logits": logits})()


def step(load, mode: str, batch, mask):
    model = load(mode == "rounded")
    model.train()
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "autocast"):
        logits = model(input_ids=batch["input_ids"], attention_mask=mask, position_ids=batch["position_ids"],
                       use_cache=False).logits
    loss = weighted_ce(logits, batch["targets"], batch["weights"])
    loss.backward()
    grads = {name: p.grad.detach().float().contiguous() for name, p in model.named_parameters()}
    return loss.item(), logits.detach().float(), grads


def write_case(name, load, batch, mask, out_folder, extra, names=lambda n: n):
    out, summary = {}, {}
    for mode in ("fp32", "rounded", "autocast"):
        loss, logits, grads = step(load, mode, batch, mask)
        out[f"{mode}.loss"] = torch.tensor([loss], dtype=torch.float32)
        out[f"{mode}.logits"] = logits.contiguous()
        for param, g in grads.items():
            out[f"{mode}.grad.{names(param)}"] = g
        summary[mode] = {"loss": loss, "grad_norm": torch.sqrt(sum((g.double() ** 2).sum() for g in grads.values())).item()}
    out.update(extra)
    out_folder.mkdir(parents=True, exist_ok=True)
    save_file(out, str(out_folder / "reference.safetensors"), metadata={"format": "pt"})
    print(name, json.dumps(summary, indent=2))
    return summary


MODES = {
    "fp32": "float32",
    "rounded": "every linear (nn.Linear, Conv1D, the tied head) and eager attention's two matmuls: bf16-rounded "
               "inputs, float32 products and sums (forward and both backward products); LLaMA's MLP gate and up "
               "outputs rounded to bf16 (straight-through backward); all else float32",
    "autocast": 'torch.autocast("cpu", dtype=torch.bfloat16) around the forward',
}


def main():
    torch.manual_seed(0)
    # LLaMA (grouped-query) and GPT-2 (Conv1D, tied head), both causal: each on its fixture's batch.
    for name, load, out in (("llama_gqa", load_llama, "bf16"), ("gpt2", load_gpt2, "bf16_gpt2")):
        source = FIXTURES / name
        ref = load_file(str(source / "reference.safetensors"))
        meta = json.loads((source / "reference.json").read_text())
        assert meta["attention"] == "causal"
        batch = {k: ref[k] for k in ("input_ids", "targets", "weights", "key_padding", "position_ids")}
        summary = write_case(name, load, batch, additive_4d_mask(allowed_matrix("causal", batch["key_padding"])),
                             FIXTURES / out, {})
        # Sanity of the fixture itself: fp32 reproduces the source fixture's reference.
        assert abs(summary["fp32"]["loss"] - ref["loss"].item()) <= 1e-5 * abs(ref["loss"].item())
        info = {
            "model": f"Tests/DLLMModelsTests/Fixtures/{name} (its config, weights and batch)",
            "attn_implementation": "eager",
            "modes": MODES,
            "summary": summary,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        }
        (FIXTURES / out / "reference.json").write_text(json.dumps(info, indent=2) + "\n")

    # BERT (bidirectional over a padded batch, dllm's tied head): model, batch and reference here.
    batch = write_bert()
    # The (B, 1, T, T) additive mask, not the 2D padding mask: transformers hands a registered
    # attention function no mask at all for BERT's 2D one.
    mask = additive_4d_mask(allowed_matrix("bidirectional", batch["key_padding"]))
    summary = write_case("bert", BertWithTiedHead, batch, mask, BERT_FOLDER, batch,
                         names=lambda n: n.removeprefix("bert."))
    info = {"model": "a random BertModel (no pooler) written by this script, logits = last_hidden_state @ word_embeddings.T",
            "attention": "bidirectional", "batch": 2, "seq_len": 7, "attn_implementation": "eager",
            "modes": MODES, "summary": summary, "torch": torch.__version__, "transformers": transformers.__version__}
    (BERT_FOLDER / "reference.json").write_text(json.dumps(info, indent=2) + "\n")


if __name__ == "__main__":
    main()
