#pragma once

// One kernel launch text for both builds of a *_kernel.cu: nvcc's <<<grid, block, shared, stream>>>,
// and the host compiler's CPU execution layer (plugins/cpu_exec/), which runs the same kernel on
// the CPU. Errors are read with cudaGetLastError() afterwards, as after <<<>>>.

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#ifdef __CUDACC__

namespace mrcnn_edge
{
template <typename... Params, typename... Args>
void launchKernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t sharedBytes, cudaStream_t stream,
    Args&&... args)
{
    kernel<<<grid, block, sharedBytes, stream>>>(std::forward<Args>(args)...);
}
} // namespace mrcnn_edge

//! The block's dynamic shared memory (the launch's sharedBytes), as T*.
#define MRCNN_DYNAMIC_SHARED(T, name) extern __shared__ T name[]

#else

#include "cpu_exec/launch.h"

namespace mrcnn_edge
{
template <typename... Params, typename... Args>
void launchKernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t sharedBytes, cudaStream_t stream,
    Args&&... args)
{
    ::cpu_exec::launch(kernel, grid, block, sharedBytes, stream, std::forward<Args>(args)...);
}
} // namespace mrcnn_edge

#define MRCNN_DYNAMIC_SHARED(T, name) T* const name = static_cast<T*>(::cpu_exec::current.dynamicShared)

#endif
