#!/usr/bin/env python3
"""Writes Tests/DLLMTokenizersTests/Fixtures/dream-chat/ from Dream-v0-Instruct-7B's own tokenizer.

    python3 Tests/DLLMTokenizersTests/Fixtures/generate_dream_chat_fixtures.py DREAM_FOLDER

DREAM_FOLDER holds Dream-org/Dream-v0-Instruct-7B's tokenizer files (tokenizer_config.json,
special_tokens_map.json, added_tokens.json, vocab.json, merges.txt, tokenization_dream.py,
config.json, configuration_dream.py); the source of the copy used is named in
dream-chat/SOURCES.md. Needs transformers (5.x, loads Dream's slow `DreamTokenizer` with
trust_remote_code) and jinja2.

Outputs (committed):
  dream-chat/tokenizer_config.json  Dream's file, byte for byte (its chat_template and special tokens)
  dream-chat/renderings.json        per conversation, tools and add_generation_prompt: the text of
                                    `DreamTokenizer.apply_chat_template(..., tokenize=False)`
"""
import json
import os
import shutil
import sys

import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "dream-chat")

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city — °C or °F.",
        "parameters": {"type": "object", "required": ["city"], "properties": {
            "city": {"type": "string", "description": "The city, e.g. \"Zürich\""},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}},
    {"type": "function", "function": {
        "name": "search", "description": "Search the web.\nReturns a list of results.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}},
]

CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"}],
    [{"role": "user", "content": "Name a play."}, {"role": "assistant", "content": "Hamlet."},
     {"role": "user", "content": "Who wrote it?"}],
    [{"role": "system", "content": "  Be kind.\n"}, {"role": "user", "content": "\n\tHi there  "},
     {"role": "assistant", "content": " Hello! \n\n"}, {"role": "user", "content": "Tell me about Elsinore\u3000"}],
    [{"role": "user", "content": "多语言？ 👍🏽 Ça va"}, {"role": "assistant", "content": "Oui — 很好."}],
    [{"role": "assistant", "content": "I start."}, {"role": "user", "content": "ok"}],
    [{"role": "user", "content": ""}],
    [{"role": "user", "content": "Be brief."}, {"role": "system", "content": "A later system turn."},
     {"role": "user", "content": "Line one\nLine two {{ not jinja }} <|im_end|>"}],
    # Tool calls (arguments as a dict and as a JSON string) and consecutive tool results.
    [{"role": "system", "content": "Use tools when needed."},
     {"role": "user", "content": "Weather in Paris and Rome, then search news."},
     {"role": "assistant", "content": "Let me check.", "tool_calls": [
         {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
         {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
     {"role": "tool", "content": "18"},
     {"role": "tool", "content": "24"},
     {"role": "assistant", "content": "Paris 18, Rome 24."},
     {"role": "user", "content": "Thanks!"}],
    [{"role": "user", "content": "Weather in Zürich?"},
     {"role": "assistant", "content": "", "tool_calls": [
         {"function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius"}}}]},
     {"role": "tool", "content": "{\"temperature\": 21.5}"}],
]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    folder = sys.argv[1]
    tok = transformers.AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    assert type(tok).__name__ == "DreamTokenizer", type(tok)
    os.makedirs(OUT, exist_ok=True)
    shutil.copyfile(os.path.join(folder, "tokenizer_config.json"), os.path.join(OUT, "tokenizer_config.json"))
    cases = []
    for i, conv in enumerate(CONVERSATIONS):
        tool_options = [None, TOOLS] if i in (0, 1, 8, 9) else [None]
        for tools in tool_options:
            for gen in (False, True):
                text = tok.apply_chat_template(conv, tools=tools, tokenize=False, add_generation_prompt=gen)
                cases.append({"messages": conv, "tools": tools, "add_generation_prompt": gen, "text": text})
    meta = {"transformers": transformers.__version__, "tokenizer_class": type(tok).__name__,
            "bos_token": tok.bos_token, "eos_token": tok.eos_token, "pad_token": tok.pad_token, "mask_token": tok.mask_token}
    with open(os.path.join(OUT, "renderings.json"), "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(cases)} renderings in {OUT}")


if __name__ == "__main__":
    main()
