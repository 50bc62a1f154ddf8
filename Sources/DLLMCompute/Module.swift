public enum DLLMComputeModule {}
