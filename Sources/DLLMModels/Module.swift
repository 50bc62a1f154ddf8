public enum DLLMModelsModule {}
