// Tests of DLLMGGUF.
