/// DLLMImport: brings models from other ecosystems' formats into Hugging Face model
/// folders and into memory: GGUF (llama.cpp) files to `config.json`,
/// `model.safetensors`, `tokenizer.json`, `tokenizer_config.json` and
/// `generation_config.json`.
