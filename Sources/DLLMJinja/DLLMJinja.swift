/// DLLMJinja: an interpreter for the subset of Jinja2 that Hugging Face chat templates
/// use (`tokenizer_config.json`'s `chat_template`), rendering as `transformers`'
/// `apply_chat_template` does (jinja2 with `trim_blocks` and `lstrip_blocks`).
