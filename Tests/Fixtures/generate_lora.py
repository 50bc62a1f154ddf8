#!/usr/bin/env python3
"""LoRA parity fixtures from the real `peft` package (PyPI `peft`, 0.21) on the tiny llama of
Tests/DLLMModelsTests/Fixtures/llama_gqa (a `transformers` LlamaForCausalLM, causal, grouped-query).

Writes Tests/DLLMModelsTests/Fixtures/lora/:
  peft_adapter/           `PeftModel.save_pretrained` of an all-linear adapter (r 4, lora_alpha 8, dropout 0)
                          whose A and B were set to fixed nonzero values (B is zero at PEFT's init)
  peft_rslora_adapter/    the same for use_rslora with target_modules [q_proj, down_proj] (r 4, lora_alpha 6)
  peft_modules_to_save_adapter/  [q_proj, up_proj] adapters plus modules_to_save [embed_tokens, lm_head]: the full
                          copies saved as base_model.model.<module>.weight (set to fixed values, like A and B)
  reference.safetensors   per adapter case: loss (the llama_gqa batch, weighted CE as in
                          generate_model_fixtures.py), `grad.<name>` of every adapter tensor, `merged.<module>.weight`
                          after `merge_and_unload`, and `dllm_logits`: the logits with the dllm-written adapter
  reference.json          tensor names and shapes per case, PEFT's init statistics, the regex case's targets,
                          and the dllm adapter check (loaded by `PeftModel.from_pretrained`, its names and shapes)

`dllm_adapter/` is written by dllm (LoRAParityTests.testDllmAdapterFolderIsStable, run once with
DLLM_WRITE_LORA_FIXTURE=1) and committed; this script loads it with PEFT and records its logits.
Run: python3 Tests/Fixtures/generate_lora.py
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import peft
import torch
import torch.nn.functional as F
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import LlamaForCausalLM

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "Tests/DLLMModelsTests/Fixtures/llama_gqa"
OUT = ROOT / "Tests/DLLMModelsTests/Fixtures/lora"
IGNORE = -100
NEG = torch.finfo(torch.float32).min


def load_base():
    torch.manual_seed(0)
    return LlamaForCausalLM.from_pretrained(BASE, torch_dtype=torch.float32, attn_implementation="eager").eval()


def batch():
    ref = load_file(BASE / "reference.safetensors")
    kp = ref["key_padding"].bool()
    B, T = kp.shape
    allowed = kp[:, None, :].expand(B, T, T) & torch.ones(T, T, dtype=torch.bool).tril()
    mask = torch.where(allowed, torch.zeros(()), torch.full((), NEG))[:, None].contiguous()
    return ref, mask


def logits_of(model, ref, mask):
    return model(input_ids=ref["input_ids"], attention_mask=mask, position_ids=ref["position_ids"], use_cache=False).logits


def weighted_ce(logits, ref):
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), ref["targets"].reshape(-1), reduction="none",
                         ignore_index=IGNORE)
    return (ref["weights"].reshape(-1) * ce).sum()


def adapter_params(model):
    """name as PEFT saves it -> trainable parameter: the adapters (adapter name dropped) and the
    modules_to_save copies (`modules_to_save.default` dropped: `base_model.model.<module>.weight`)."""
    out = {}
    for n, p in model.named_parameters():
        if "lora_" in n:
            out[n.replace(".default", "")] = p
        elif ".modules_to_save.default." in n:
            out[n.replace(".modules_to_save.default", "")] = p
    return out


def case(name, config, seed, out_tensors, meta):
    ref, mask = batch()
    model = get_peft_model(load_base(), config)
    params = adapter_params(model)
    if name == "all_linear":
        # PEFT's init: A kaiming-uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B zeros.
        ratios = [(p.detach().std() * math.sqrt(p.shape[1])).item() for n, p in params.items() if "lora_A" in n]
        a_all = torch.cat([(p.detach() * math.sqrt(p.shape[1])).flatten() for n, p in params.items() if "lora_A" in n])
        meta["init"] = dict(a_std_times_sqrt_in=a_all.std().item(), a_max_abs_times_sqrt_in=a_all.abs().max().item(),
                            a_mean_times_sqrt_in=a_all.mean().item(), a_elements=a_all.numel(),
                            b_max_abs=max(p.detach().abs().max().item() for n, p in params.items() if "lora_B" in n),
                            per_module_ratio_min=min(ratios), per_module_ratio_max=max(ratios))
    if config.modules_to_save:
        # PEFT's copies start as the base's weights (the original module stays, frozen).
        base = load_base().state_dict()
        copies = {n: p for n, p in params.items() if "lora_" not in n}
        assert copies and all(torch.equal(p.detach(), base[n.replace("base_model.model.", "")]) for n, p in copies.items())
        meta["modules_to_save_start_as_base"] = sorted(copies)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    model.peft_config["default"].base_model_name_or_path = str(BASE.relative_to(ROOT))
    model.eval()
    loss = weighted_ce(logits_of(model, ref, mask), ref)
    loss.backward()
    folder = OUT / f"peft_{name}_adapter"
    shutil.rmtree(folder, ignore_errors=True)
    model.save_pretrained(folder)
    saved = load_file(folder / "adapter_model.safetensors")
    assert set(saved) == set(params), (sorted(saved)[:3], sorted(params)[:3])
    out_tensors[f"{name}.loss"] = loss.detach().reshape(1)
    for n, p in params.items():
        out_tensors[f"{name}.grad.{n}"] = p.grad.detach().clone()
    merged = model.merge_and_unload()
    for n, p in merged.named_parameters():
        if n.endswith("proj.weight") or (config.modules_to_save and n in ("model.embed_tokens.weight", "lm_head.weight")):
            out_tensors[f"{name}.merged.{n}"] = p.detach().clone()
    meta["cases"][name] = dict(scaling=config.lora_alpha / (math.sqrt(config.r) if config.use_rslora else config.r),
                               tensors={n: list(saved[n].shape) for n in sorted(saved)},
                               adapter_config=json.loads((folder / "adapter_config.json").read_text()))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    tensors, meta = {}, {"peft": peft.__version__, "transformers": transformers.__version__, "torch": torch.__version__,
                         "base": str(BASE.relative_to(ROOT)), "cases": {}}
    case("all_linear", LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"),
         11, tensors, meta)
    case("rslora", LoraConfig(r=4, lora_alpha=6, lora_dropout=0.0, target_modules=["q_proj", "down_proj"], use_rslora=True,
                              task_type="CAUSAL_LM"), 12, tensors, meta)
    # modules_to_save: the embedding and the head trained in full beside the adapters.
    case("modules_to_save", LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "up_proj"],
                                       modules_to_save=["embed_tokens", "lm_head"], task_type="CAUSAL_LM"), 13, tensors, meta)
    # A regex is matched against the whole module name (re.fullmatch).
    regex = r".*\.1\.self_attn\.(k|o)_proj"
    model = get_peft_model(load_base(), LoraConfig(r=2, target_modules=regex, task_type="CAUSAL_LM"))
    meta["regex"] = dict(pattern=regex, tensors=sorted(adapter_params(model)))

    # An adapter folder dllm wrote, loaded by PEFT.
    dllm = OUT / "dllm_adapter"
    if (dllm / "adapter_config.json").exists():
        ref, mask = batch()
        loaded = PeftModel.from_pretrained(load_base(), dllm).eval()
        params = adapter_params(loaded)
        written = load_file(dllm / "adapter_model.safetensors")
        for n, t in written.items():
            assert torch.equal(params[n].detach(), t), f"PEFT did not load {n} as written"
        assert set(written) == set(params)
        with torch.no_grad():
            tensors["dllm_logits"] = logits_of(loaded, ref, mask).detach().reshape(-1).clone()
        meta["dllm_adapter"] = dict(loaded_by_peft=True, tensors={n: list(t.shape) for n, t in sorted(written.items())},
                                    adapter_config=json.loads((dllm / "adapter_config.json").read_text()))
    else:
        print("no dllm_adapter yet: run the Swift test with DLLM_WRITE_LORA_FIXTURE=1, then this script again")
    save_file({k: v.contiguous() for k, v in tensors.items()}, OUT / "reference.safetensors")
    (OUT / "reference.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
