// Tests of DLLMImport.
