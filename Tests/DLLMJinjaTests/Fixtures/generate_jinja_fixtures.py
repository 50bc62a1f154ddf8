#!/usr/bin/env python3
"""Writes the DLLMJinjaTests fixtures: real chat templates rendered by transformers'
own `render_jinja_template` (jinja2 ImmutableSandboxedEnvironment with trim_blocks,
lstrip_blocks, loopcontrols, transformers' tojson/raise_exception/strftime_now), and
small unit templates rendered by the same compiled environment.

Run from anywhere: python3 Tests/DLLMJinjaTests/Fixtures/generate_jinja_fixtures.py
Needs: transformers (5.x), jinja2 (>= 3.1.6). Outputs (committed):
  chat_renderings.json  one case per (template, conversation, add_generation_prompt)
  unit_cases.json       one case per small template (expected text or error type)
The templates are the *.jinja files in templates/ (see templates/SOURCES.md).
"""
import datetime as _dt
import json
import os

import jinja2
import transformers
from transformers.utils import chat_template_utils as ctu

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")

# strftime_now reads datetime.now(); pin it so the fixture is reproducible.
FIXED_NOW = (2025, 3, 14, 15, 9, 26)


class _FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(*FIXED_NOW)


ctu.datetime = _FixedDatetime


def read_template(name):
    with open(os.path.join(TEMPLATES, name), encoding="utf-8") as f:
        return f.read()


# ---------------------------------------------------------------- conversations

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city — °C or °F.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. \"Zürich\""},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7.5},
                "detailed": {"type": "boolean", "default": False, "nullable": None},
            },
            "required": ["city"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web.\nReturns a list of results.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    },
}
TOOLS = [WEATHER_TOOL, SEARCH_TOOL]

PLAIN = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"}],
    [{"role": "user", "content": "Name a play."}, {"role": "assistant", "content": "Hamlet."},
     {"role": "user", "content": "Who wrote it?"}],
    [{"role": "system", "content": "  Be kind.\n"}, {"role": "user", "content": "\n\tHi there  "},
     {"role": "assistant", "content": " Hello! \n\n"}, {"role": "user", "content": "Tell me about Elsinore\u3000"}],
    [{"role": "user", "content": "多语言？ 👍🏽 Ça va"}, {"role": "assistant", "content": "Oui — 很好."}],
    [{"role": "assistant", "content": "I start."}, {"role": "user", "content": "ok"}],
    [{"role": "user", "content": ""}],
    [{"role": "user", "content": "Line one\nLine two\n\nLine four {{ not jinja }} {% raw %}"},
     {"role": "assistant", "content": "```python\nprint('x')\n```"},
     {"role": "user", "content": "\x1c\x85 odd whitespace \u00a0"}],
]

TOOL_CALL = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius"}}}
TOOL_CONVERSATIONS = [
    [{"role": "user", "content": "Weather in Zürich?"},
     {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]},
     {"role": "tool", "name": "get_weather", "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"},
     {"role": "assistant", "content": "It is 21.5 °C and clear."},
     {"role": "user", "content": "Thanks!"}],
    [{"role": "system", "content": "Use tools when needed."},
     {"role": "user", "content": "Weather in Paris and Rome, then search news."},
     {"role": "assistant", "content": "Let me check.", "tool_calls": [
         {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
         {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
     {"role": "tool", "content": "18"},
     {"role": "tool", "content": "24"},
     {"role": "assistant", "content": "Paris 18, Rome 24."}],
]
LLAMA_TOOL_CONVERSATIONS = [
    [{"role": "system", "content": "You are a weather bot."},
     {"role": "user", "content": "Weather in Zürich?"},
     {"role": "assistant", "tool_calls": [TOOL_CALL]},
     {"role": "tool", "content": {"temperature": 21.5, "sky": "clear"}},
     {"role": "tool", "content": "plain text result"},
     {"role": "assistant", "content": "It is 21.5 °C."}],
    [{"role": "user", "content": "  Search for cats  "},
     {"role": "assistant", "tool_calls": [{"function": {"name": "brave_search", "arguments": {"query": "cats", "n": "3"}}}]},
     {"role": "ipython", "content": ["cat 1", "cat 2"]}],
]
QWEN3_THINKING = [
    [{"role": "user", "content": "What is 1+1?"},
     {"role": "assistant", "content": "2", "reasoning_content": "Add one and one.\n"},
     {"role": "user", "content": "And 2+2?"},
     {"role": "assistant", "content": "<think>\nTwo and two.\n</think>\n\n4"}],
    [{"role": "user", "content": "Weather in Zürich?"},
     {"role": "assistant", "content": "", "reasoning_content": "I should call the tool.", "tool_calls": [TOOL_CALL]},
     {"role": "tool", "content": "21.5"},
     {"role": "assistant", "content": "<think>Got it.</think>It is 21.5 °C."}],
    [{"role": "user", "content": "<tool_response>\nfake\n</tool_response>"},
     {"role": "assistant", "content": "ok", "thinking": "older field name"}],
]

TYPED_TOOL = {
    "type": "function",
    "function": {
        "name": "plot",
        "description": "  Plot series.  ",
        "parameters": {
            "type": "object",
            "properties": {
                "points": {"type": "array", "items": {"type": "number"}, "description": "Y values"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Names"},
                "style": {"type": ["string", "integer"], "description": "Line style"},
                "meta": {"type": "object", "description": "Anything"},
                "when": {"description": "untyped"},
            },
        },
        "return": {"type": "boolean", "description": "Whether it worked."},
    },
}
MISTRAL_TOOL_CONVERSATIONS = [
    [{"role": "system", "content": "Be brief."},
     {"role": "user", "content": "Weather in Zürich?"},
     {"role": "assistant", "tool_calls": [{"id": "abcDEF123", "type": "function",
                                            "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}}]},
     {"role": "tool", "tool_call_id": "abcDEF123", "content": {"content": {"temp": 21.5, "ok": True}}},
     {"role": "tool", "tool_call_id": "xyzXYZ789", "content": "plain"},
     {"role": "assistant", "content": "21.5 °C."},
     {"role": "user", "content": "Thanks"}],
    [{"role": "user", "content": "Call it"},
     {"role": "assistant", "tool_calls": [{"id": "short", "function": {"name": "f", "arguments": {}}}]}],
]

DEEPSEEK_TOOL_CONVERSATIONS = [
    [{"role": "system", "content": "You think first."},
     {"role": "user", "content": "Weather in Zürich and Rome?"},
     {"role": "assistant", "content": None, "tool_calls": [
         {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Zürich\"}"}},
         {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
     {"role": "tool", "content": "21"},
     {"role": "tool", "content": "25"},
     {"role": "assistant", "content": "<think>\nBoth warm.\n</think>\n\nZürich 21, Rome 25."},
     {"role": "user", "content": "Thanks"}],
    [{"role": "user", "content": "Just tools"},
     {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]},
     {"role": "tool", "content": "done"}],
]
RICH_TOOL = {
    "type": "function",
    "function": {
        "name": "book",
        "description": "Book a trip.",
        "parameters": {
            "type": "object",
            "required": ["where", "legs"],
            "properties": {
                "where": {"type": "string", "enum": ["Paris", "Rome"], "default": "Paris", "description": "City"},
                "legs": {"type": "array", "items": {"type": "object", "properties": {"from": {"type": "string"}, "n": {"type": "integer"}}, "required": ["from"]}},
                "tags": {"type": "array", "items": {"type": "string"}, "nullable": True},
                "seats": {"type": "integer", "default": 2},
                "note": {"type": "string", "nullable": True, "default": None},
                "mode": {"oneOf": [{"type": "string", "description": "by name"}, {"type": "integer", "default": 1}], "default": "train"},
                "extra": {"oneOf": [{"type": "object"}, {"type": "string"}]},
                "either": {"type": ["object", "array"]},
                "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                "opaque": {},
            },
        },
    },
}
GPT_OSS_CONVERSATIONS = [
    [{"role": "system", "content": "Answer in French."},
     {"role": "user", "content": "Weather in Zürich?"},
     {"role": "assistant", "content": "", "reasoning_content": "I will call the tool.", "tool_calls": [TOOL_CALL]},
     {"role": "tool", "content": "{\"temp\": 21.5}"},
     {"role": "assistant", "content": "Il fait 21,5 °C.", "thinking": "Translate."}],
    [{"role": "user", "content": "Search twice"},
     {"role": "assistant", "content": "Searching", "tool_calls": [{"function": {"name": "search", "arguments": {"query": "a"}}}]},
     {"role": "tool", "content": "r1"},
     {"role": "assistant", "tool_calls": [{"function": {"name": "search", "arguments": {"query": "b"}, "content_type": "code"}}]},
     {"role": "tool", "content": "r2"}],
    [{"role": "user", "content": "x"}, {"role": "assistant", "content": "<|channel|>final<|message|>bad"}],
    [{"role": "tool", "content": "orphan"}],
]
DOCUMENTS = [{"doc_id": 1, "text": "Elsinore is a castle in Denmark."},
             {"doc_id": "b", "text": "Hamlet is set there — mostly."}]

# Templates: (file, bos_token, eos_token, conversation, tools, extra kwargs[, documents])
PLAIN_TEMPLATES = [
    ("HuggingFaceTB-SmolLM2-135M-Instruct.jinja", "<|im_start|>", "<|im_end|>"),
    ("Qwen-Qwen2-7B-Instruct.jinja", None, "<|im_end|>"),
    ("meta-llama-Meta-Llama-3-8B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>"),
    ("GSAI-ML-LLaDA-8B-Instruct.jinja", "<|startoftext|>", "<|endoftext|>"),
]


def cases():
    for name, bos, eos in PLAIN_TEMPLATES:
        for conv in PLAIN:
            yield name, bos, eos, conv, None, {}
    qwen25 = "Qwen-Qwen2.5-7B-Instruct.jinja"
    for conv in PLAIN + TOOL_CONVERSATIONS:
        yield qwen25, None, "<|im_end|>", conv, None, {}
    for conv in PLAIN[:3] + TOOL_CONVERSATIONS:
        yield qwen25, None, "<|im_end|>", conv, TOOLS, {}
    qwen3 = "Qwen-Qwen3-0.6B.jinja"
    for conv in PLAIN + TOOL_CONVERSATIONS + QWEN3_THINKING:
        yield qwen3, None, "<|im_end|>", conv, None, {}
    for conv in PLAIN[1:3] + QWEN3_THINKING:
        yield qwen3, None, "<|im_end|>", conv, None, {"enable_thinking": False}
        yield qwen3, None, "<|im_end|>", conv, None, {"enable_thinking": True}
    for conv in TOOL_CONVERSATIONS + QWEN3_THINKING[1:2]:
        yield qwen3, None, "<|im_end|>", conv, TOOLS, {"enable_thinking": False}
    for llama in ("meta-llama-Llama-3.3-70B-Instruct.jinja", "meta-llama-Llama-3.2-3B-Instruct.jinja"):
        bos, eos = "<|begin_of_text|>", "<|eot_id|>"
        for conv in PLAIN:
            yield llama, bos, eos, conv, None, {}
        yield llama, bos, eos, PLAIN[1], None, {"date_string": "01 Jan 2025"}
        for conv in LLAMA_TOOL_CONVERSATIONS[:1]:
            yield llama, bos, eos, conv, TOOLS, {}
            yield llama, bos, eos, conv, TOOLS, {"tools_in_user_message": False, "date_string": "2 Feb 2025"}
        yield llama, bos, eos, PLAIN[2], [WEATHER_TOOL], {}
        # Errors raised by the template itself (raise_exception):
        yield llama, bos, eos, TOOL_CONVERSATIONS[1], TOOLS, {}  # two tool calls at once
        yield llama, bos, eos, [{"role": "system", "content": "only system"}], TOOLS, {}  # tools without a user message
    # Further templates exercising macros, recursion, loop.previtem/nextitem, filtered
    # loops over items(), repr of dicts and raise_exception.
    gemma = "google-gemma-2-2b-it.jinja"
    for conv in PLAIN:
        yield gemma, "<bos>", "<eos>", conv, None, {}
    hermes = "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja"
    for conv in PLAIN[:3] + TOOL_CONVERSATIONS:
        yield hermes, "<|begin_of_text|>", "<|im_end|>", conv, TOOLS + [TYPED_TOOL], {}
    mistral = "mistralai-Mistral-Nemo-Instruct-2407.jinja"
    for conv in PLAIN + MISTRAL_TOOL_CONVERSATIONS:
        yield mistral, "<s>", "</s>", conv, None, {}
    for conv in MISTRAL_TOOL_CONVERSATIONS + PLAIN[:3]:
        yield mistral, "<s>", "</s>", conv, TOOLS, {}
    deepseek = "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"
    for conv in PLAIN + DEEPSEEK_TOOL_CONVERSATIONS:
        yield deepseek, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", conv, None, {}
    granite = "ibm-granite-granite-3.3-2B-Instruct.jinja"
    for conv in PLAIN:
        yield granite, "<|end_of_text|>", "<|end_of_text|>", conv, None, {}
    yield granite, None, None, PLAIN[0], TOOLS, {}
    yield granite, None, None, PLAIN[2], None, {"thinking": True}
    yield granite, None, None, PLAIN[0], None, {"controls": {"citations": True, "length": "short"}}, DOCUMENTS
    yield granite, None, None, PLAIN[2], TOOLS, {"controls": {"hallucinations": True}}, DOCUMENTS
    oss = "openai-gpt-oss-120b.jinja"
    for conv in PLAIN + GPT_OSS_CONVERSATIONS:
        yield oss, "<|startoftext|>", "<|return|>", conv, None, {}
    for conv in GPT_OSS_CONVERSATIONS[:2]:
        yield oss, "<|startoftext|>", "<|return|>", conv, TOOLS + [TYPED_TOOL, RICH_TOOL], \
            {"reasoning_effort": "high", "builtin_tools": ["browser", "python"], "model_identity": "You are Ω."}
    yield oss, None, None, PLAIN[1], [RICH_TOOL], {"builtin_tools": ["python"]}
    llama33 = "meta-llama-Llama-3.3-70B-Instruct.jinja"
    yield llama33, "<|begin_of_text|>", "<|eot_id|>", LLAMA_TOOL_CONVERSATIONS[1], None, \
        {"builtin_tools": ["brave_search", "wolfram_alpha", "code_interpreter"]}
    yield llama33, "<|begin_of_text|>", "<|eot_id|>", LLAMA_TOOL_CONVERSATIONS[0], TOOLS, \
        {"builtin_tools": ["code_interpreter"], "custom_tools": [SEARCH_TOOL]}


def chat_fixture():
    out = []
    for name, bos, eos, conv, tools, extra, *documents in cases():
        documents = documents[0] if documents else None
        source = read_template(name)
        kwargs = dict(extra)
        # apply_chat_template passes the tokenizer's special tokens (None ones are absent).
        if bos is not None:
            kwargs["bos_token"] = bos
        if eos is not None:
            kwargs["eos_token"] = eos
        for gen in (False, True):
            case = {"template": name, "messages": conv, "tools": tools, "documents": documents,
                    "add_generation_prompt": gen, "kwargs": kwargs}
            try:
                rendered, _ = ctu.render_jinja_template(
                    conversations=[json.loads(json.dumps(conv))], tools=tools, documents=documents, chat_template=source,
                    add_generation_prompt=gen, **kwargs)
                case["text"] = rendered[0]
            except jinja2.exceptions.TemplateError as e:
                case["error"] = type(e).__name__
                case["message"] = str(e)
            out.append(case)
    return out


# ---------------------------------------------------------------- unit templates

UNIT = [
    # whitespace control
    ("trim_blocks", "{% if true %}\nyes\n{% endif %}\nend", {}),
    ("lstrip_blocks", "a\n    {% if true %}\n    b\n    {% endif %}\nc", {}),
    ("lstrip_plus", "a\n    {%+ if true %}b{% endif %}", {}),
    ("trim_plus", "{% if true +%}\nb{% endif %}", {}),
    ("minus_both", "a   {{- 'b' -}}   c  {%- if true -%}  d  {%- endif -%}  e", {}),
    ("comment", "a\n  {# comment #}\nb {#- x -#}  c", {}),
    ("variable_no_trim", "{{ 'x' }}\ny", {}),
    ("trailing_newline", "x\n", {}),
    ("crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n", {}),
    ("raw", "{% raw %}{{ not evaluated }}{% endraw %}!", {}),
    # literals and escapes
    ("escapes", "{{ 'a\\tb\\n' }}{{ \"q\\\"\\u00e9\\x41\\\\d\" }}{{ 'it''s' }}", {}),
    ("numbers", "{{ 1 }} {{ 1.5 }} {{ 1e3 }} {{ 10/4 }} {{ 10//4 }} {{ -7 % 3 }} {{ 2**10 }} {{ 1_000 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e-7 }}", {}),
    ("literals", "{{ [1, 'a', none, true, 2.0] }} {{ {'k': [1, {'j': none}]} }} {{ (1,) }} {{ (1, 'b') }}", {}),
    ("repr_quotes", "{{ [\"it's\", 'say \"hi\"', 'tab\\t', 'é\\u00a0'] }}", {}),
    # operators
    ("concat", "{{ 1 ~ 'a' ~ none ~ true ~ [1] }}", {}),
    ("compare_chain", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }}", {}),
    ("in_not_in", "{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'abc' }} {{ 'x' in undefined_thing }}", {}),
    ("logic", "{{ none or 'b' }} {{ 'a' and 'b' }} {{ 0 and 1 }} {{ not '' }} {{ 'y' if 0 else 'n' }} [{{ 'y' if false }}]", {}),
    ("string_mult", "{{ 'ab' * 3 }}{{ [0] * 2 }}", {}),
    ("unary", "{{ -3 }} {{ -(2 + 3) }} {{ +4 }} {{ - 1 | abs }}", {}),
    # attribute / item / slice
    ("subscripts", "{{ d.a }} {{ d['a'] }} {{ l[0] }} {{ l[-1] }} {{ l[1:] }} {{ l[::-1] }} {{ s[1:3] }} {{ s[-2:] }} {{ l.0 }} [{{ l[10] }}] [{{ d.missing }}]",
     {"d": {"a": 1}, "l": [1, 2, 3], "s": "héllo"}),
    ("dict_methods", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{{ d.keys() | list }}{{ d.values() | list }}{{ d.get('a') }}{{ d.get('z', 'dflt') }}{{ d.get('z') }}",
     {"d": {"b": 2, "a": 1}}),
    ("string_methods", "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ s.strip(' x') }}|{{ s.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a b c'.split(' ', 1) }}|{{ s.upper() }}|{{ s.lower() }}|{{ s.replace('x', 'y') }}|{{ s.startswith(' x') }}|{{ s.endswith(('!', ' ')) }}|{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'a-b-c'.rsplit('-', 1) }}|{{ ', '.join(['a', 'b']) }}|{{ 'abcabc'.find('c') }}|{{ 'abcabc'.count('bc') }}",
     {"s": " xHello Wörld! "}),
    # filters
    ("filters_text", "{{ '  t  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ 'ab' | upper }}|{{ 'AB' | lower }}|{{ 'hello WORLD' | capitalize }}|{{ 'a b' | title }}|{{ 'aaa' | replace('a', 'b', 2) }}|{{ 12 | string }}|{{ 'x' | safe }}|{{ 'abc' | reverse }}",
     {}),
    ("filters_length", "{{ 'héllo' | length }} {{ [1, 2] | length }} {{ {'a': 1} | count }} {{ nothing | length }}", {}),
    ("filters_default", "{{ nothing | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ none | default('d') }} {{ nothing | d('x') }}", {}),
    ("filters_seq", "{{ l | first }} {{ l | last }} {{ l | join('-') }} {{ l | reverse | list }} {{ l | sort }} {{ l | sort(reverse=true) }} {{ ['b', 'A', 'c'] | sort }} {{ [1, 2, 1, 3] | unique | list }} {{ l | sum }} {{ [] | first }}|",
     {"l": [3, 1, 2]}),
    ("filters_select", "{{ people | selectattr('age', 'gt', 20) | map(attribute='name') | join(',') }} {{ people | rejectattr('admin') | map(attribute='name') | list }} {{ people | selectattr('admin') | list | length }} {{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('even') | list }} {{ people | map(attribute='nick', default='?') | list }} {{ ['a', 'b'] | map('upper') | list }} {{ people | selectattr('name', 'equalto', 'Bo') | list | length }}",
     {"people": [{"name": "Al", "age": 30, "admin": True}, {"name": "Bo", "age": 19, "admin": False, "nick": "b"}]}),
    ("filters_items", "{% for k, v in d | items %}{{ k }}:{{ v }} {% endfor %}{{ nothing | items | list }}", {"d": {"z": 1, "y": [2]}}),
    ("filters_numbers", "{{ '42' | int }} {{ 3.9 | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ '0x1A' | int(0, 16) }} {{ '1.5' | float }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 3.14159 | round(3) }} {{ 2.1 | round(0, 'ceil') }} {{ -3 | abs }} {{ '3.7' | int }}", {}),
    ("filters_indent", "[{{ 'a\\nb\\n\\nc' | indent }}] [{{ 'a\\nb' | indent(2, true) }}] [{{ 'a\\n\\nb' | indent('> ', blank=true) }}]", {}),
    ("tojson", "{{ v | tojson }}\n{{ v | tojson(indent=2) }}\n{{ v | tojson(separators=(',', ':')) }}\n{{ v | tojson(sort_keys=true) }}\n{{ v | tojson(ensure_ascii=true) }}\n{{ [] | tojson(indent=4) }}{{ {} | tojson }}",
     {"v": {"b": "é\"\\\n\t\u0001\u007f😀", "a": [1, 2.5, None, True, False, {"x": []}], "c": 1e100, "d": 1e-7, "e": -0.0}}),
    # tests
    ("tests", "{{ x is defined }} {{ y is defined }} {{ y is undefined }} {{ none is none }} {{ x is string }} {{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ true is boolean }} {{ d is mapping }} {{ d is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ l is sequence }} {{ false is false }} {{ 0 is false }} {{ true is true }} {{ 2 is even }} {{ 3 is odd }} {{ 9 is divisibleby 3 }} {{ x is sameas 'a' }} {{ none is sameas none }} {{ 1 is eq 1 }} {{ 1 is ne 2 }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ 2 is in [1, 2] }} {{ x is not none }} {{ 3 is gt 2 }} {{ 3 is lt 2 }} {{ range is callable }}",
     {"x": "a", "d": {}, "l": [1]}),
    # statements
    ("for_loop_vars", "{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.cycle('a', 'b') }};{% endfor %}", {"l": ["p", "q", "r"]}),
    ("for_else_filter", "{% for x in l if x > 1 %}{{ x }}{{ loop.length }}{% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}", {"l": [1, 2, 3]}),
    ("for_unpack_dict", "{% for a, b in [[1, 2], (3, 4)] %}{{ a }}{{ b }}{% endfor %}{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}{% for c in 'hé' %}[{{ c }}]{% endfor %}", {}),
    ("break_continue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("range", "{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ range(5, 0, -2) | list }}", {}),
    ("scoping", "{% set x = 0 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}{% if true %}{% set x = 9 %}{% endif %}{{ x }}", {}),
    ("namespace", "{% set ns = namespace(n=0, seen=false) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }} {{ ns.seen }}", {}),
    ("set_tuple_block", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set blk %}  inner {{ a }}  {% endset %}[{{ blk }}]{% set t %}\n  x  \n{% endset %}[{{ t | trim }}]", {}),
    ("macro", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(name='C', punct='.') }}", {}),
    ("if_elif", "{% for v in [1, 2, 3] %}{% if v == 1 %}one{% elif v == 2 %}two{% else %}many{% endif %} {% endfor %}", {}),
    ("dict_global", "{{ dict(a=1, b='x') }} {{ dict({'z': 0}, y=1) | tojson }}", {}),
    ("undefined_print", "[{{ nothing }}][{{ nothing | trim }}][{{ d.missing }}][{{ none.attr }}][{{ l[5] }}][{{ nothing is defined }}]", {"d": {}, "l": []}),
    ("strftime", "{{ strftime_now('%d %b %Y %H:%M') }}", {}),
    ("generation_block", "a{% generation %}b{{ 1 }}{% endgeneration %}c", {}),
    # more edge semantics
    ("nested_loops", "{% for a in [1, 2] %}{% set outer = loop %}{% for b in 'xy' %}{{ outer.index }}{{ loop.index }}{{ a }}{{ b }}{{ loop.last }} {% endfor %}{% endfor %}", {}),
    ("items_loop_last", "{% for k, v in d.items() %}{{ k }}{% if not loop.last %}, {% endif %}{% endfor %}", {"d": {"one": 1, "two": 2, "three": 3}}),
    ("lstrip_not_after_text", "x {% if true %}y{% endif %}\n\t {% if true %}z{% endif %}\n  {# c #}\nw", {}),
    ("whitespace_mid_line", "a {%- if true -%} b {%- endif -%} c\n  {{- ' d ' -}}  \n e", {}),
    ("split_whitespace_maxsplit", "{{ ' a b  c '.split(none, 1) }} {{ ' a b c '.rsplit(none, 1) }} {{ 'a\u3000b\x1cc'.split() }} {{ ''.split() }} {{ 'x'.split('x') }}", {}),
    ("unicode_case", "{{ 'straße' | upper }} {{ 'ÀÉÎ' | lower }} {{ 'ǅemal' | capitalize }} {{ \"it's a dog-eat-dog\" | title }}", {}),
    ("tojson_html", "{{ '</script><b>&amp;\\'' | tojson }} {{ {'k': 'v'} | tojson(indent='\t') }}", {}),
    ("int_float_edge", "{{ '  12  ' | int }} {{ '1e3' | int }} {{ '-7' | int }} {{ true | int }} {{ 10 | round }} {{ '2.5e-3' | float }} {{ none | int }}", {}),
    ("map_string_join", "{{ [1, 2.5, none, true] | map('string') | join(',') }} {{ ['b', 'a'] | map('upper') | sort | join }}", {}),
    ("not_defined", "{{ x is not defined }} {{ not x is defined }} {{ (x is defined) and x }} {{ y is not none }}", {"y": None}),
    ("equality_types", "{{ '1' == 1 }} {{ [1] == [1.0] }} {{ {'a': 1} == {'a': 1} }} {{ none == none }} {{ 'a' != 'b' }} {{ 0 == false }}", {}),
    ("slices_edge", "{{ l[-2:] }} {{ l[:-1] }} {{ l[5:] }} {{ l[::2] }} {{ l[-1:-3:-1] }} {{ 'hello'[1:-1] }} {{ l[1:1] }}", {"l": [1, 2, 3, 4]}),
    ("first_last_strings", "{{ 'abc' | first }} {{ 'abc' | last }} {{ {'k': 1, 'j': 2} | first }} {{ 'abc' | list }}", {}),
    ("filter_precedence", "{{ 1 + 2 | string ~ 'x' }} {{ -2 | abs }} {{ 'a' ~ 1 + 2 }} {{ [3, 1] | sort | first + 10 }}", {}),
    ("string_in_list_of_dicts", "{{ {'role': 'tool'} in msgs }} {{ 'tool' in msgs | map(attribute='role') }}", {"msgs": [{"role": "tool"}]}),
    ("default_chain", "{{ d.get('x') or 'fallback' }} {{ d.y | default(d.z | default('deep')) }}", {"d": {}}),
    ("raw_with_minus", "a  {%- raw -%}  {{ x }}  {%- endraw -%}  b", {}),
    ("set_in_if_inside_loop", "{% set ns = namespace(found=none) %}{% for m in msgs %}{% if m.role == 'user' %}{% set ns.found = loop.index0 %}{% set local = 1 %}{% endif %}{% endfor %}{{ ns.found }}|{{ local }}", {"msgs": [{"role": "system"}, {"role": "user"}, {"role": "user"}]}),
    ("macro_outer_scope", "{% set greeting = 'Hi' %}{% macro g(n) %}{{ greeting }} {{ n }}{% endmacro %}{% for x in ['a'] %}{{ g(x) }}{% endfor %}", {}),
    ("loop_cycle_and_revindex", "{% for x in 'abcd' if x != 'b' %}{{ loop.cycle('-', '+') }}{{ x }}{{ loop.revindex }}{% endfor %}", {}),
    # errors (jinja2 raises)
    ("err_undefined_attr", "{{ nothing.attr }}", {}),
    ("err_undefined_add", "{{ nothing + 'x' }}", {}),
    ("err_raise", "{{ raise_exception('custom message') }}", {}),
    ("err_type_add", "{{ 'a' + 1 }}", {}),
    ("err_tojson_undefined", "{{ nothing | tojson }}", {}),
    ("err_undefined_item", "{{ d.missing.deeper }}", {"d": {}}),
    ("err_division", "{{ 1 / 0 }}", {}),
    ("err_not_iterable", "{% for x in 5 %}{% endfor %}", {}),
    ("err_unpack", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
    ("err_raise_in_macro", "{% macro check(x) %}{% if not x %}{{ raise_exception('empty: ' ~ x | string) }}{% endif %}{% endmacro %}{{ check('') }}", {}),
]


def unit_fixture():
    out = []
    for name, source, context in UNIT:
        case = {"name": name, "template": source, "context": context}
        try:
            case["text"] = ctu._compile_jinja_template(source).render(**json.loads(json.dumps(context)))
        except Exception as e:  # jinja2 errors and Python TypeErrors alike
            case["error"] = type(e).__name__
            case["message"] = str(e)
        out.append(case)
    return out


def write(name, obj):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    meta = {"transformers": transformers.__version__, "jinja2": jinja2.__version__, "fixed_now": list(FIXED_NOW)}
    chat = chat_fixture()
    unit = unit_fixture()
    write("chat_renderings.json", {"meta": meta, "cases": chat})
    write("unit_cases.json", {"meta": meta, "cases": unit})
    print(f"{len(chat)} chat renderings ({sum('error' in c for c in chat)} errors), "
          f"{len(unit)} unit cases ({sum('error' in c for c in unit)} errors)")
