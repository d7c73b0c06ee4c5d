#pragma once

// CPU execution layer: a kernel launch. Checks the launch as a GPU does, then runs every thread of
// every block: blocks in parallel on worker threads, the threads of a block as fibers of one
// worker that switch only at barriers (plugins/cpu_exec/README.md).

#include "cuda_runtime_api.h"

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

namespace cpu_exec
{

struct LaunchConfig
{
    dim3 grid;
    dim3 block;
    size_t sharedBytes;
    cudaStream_t stream;
    void const* kernel; //!< identifies the kernel for cudaFuncSetAttribute's opt-in
};

//! Runs body(context) once per CUDA thread, with cpu_exec::current set for that thread. Returns
//! the launch error (also what the next cudaGetLastError returns), as a GPU would.
cudaError_t launchThreads(LaunchConfig const& config, void (*body)(void*), void* context);

//! kernel<<<grid, block, sharedBytes, stream>>>(args...) on the CPU.
template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t sharedBytes, cudaStream_t stream, Args&&... args)
{
    // A launch copies its arguments: every thread receives the same values.
    struct Call
    {
        void (*kernel)(Params...);
        std::tuple<std::decay_t<Params>...> params;
    } call{kernel, std::tuple<std::decay_t<Params>...>(std::forward<Args>(args)...)};
    auto const body = [](void* context) {
        Call& c = *static_cast<Call*>(context);
        std::apply(c.kernel, c.params);
    };
    launchThreads({grid, block, sharedBytes, stream, reinterpret_cast<void const*>(kernel)}, body, &call);
}

} // namespace cpu_exec
