#pragma once

// The per-element math in *.cuh is compiled twice: by nvcc for the kernels and by the host
// compiler for the CPU references. This macro lets one definition serve both.
#ifdef __CUDACC__
#define MRCNN_HD __host__ __device__ __forceinline__
#else
#define MRCNN_HD inline
#endif
