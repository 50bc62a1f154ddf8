// Everything that runs kernels also draws noise (initialisation, masking, sampling), so
// DLLMCompute re-exports the seeded generator; targets that need only the generator
// (DLLMData) import DLLMRandom alone.
@_exported import DLLMRandom
