#pragma once

// The per-element math in *.cuh is compiled twice: by nvcc for the kernels and by the host
// compiler for the CPU references. This macro lets one definition serve both.
#ifdef __CUDACC__
#define MRCNN_HD __host__ __device__ __forceinline__
#elif defined(MRCNN_CPU_EXEC)
// The kernel sources built for the CPU execution layer keep their own copy of the math (internal
// linkage): the linker must not merge it with the references' copy, or a bug planted in one would
// show in both and no comparison could catch it.
#define MRCNN_HD static inline
#else
#define MRCNN_HD inline
#endif
