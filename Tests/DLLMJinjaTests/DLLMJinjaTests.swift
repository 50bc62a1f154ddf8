// Tests of DLLMJinja.
