public enum DLLMCheckpointModule {}
