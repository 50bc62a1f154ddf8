public enum DLLMTokenizersModule {}
