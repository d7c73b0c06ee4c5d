#pragma once

// The CUDA thread a worker is running, read by the threadIdx/blockIdx/... of device.h, and the
// barrier the threads of a block meet at.

#include "cuda_runtime_api.h"

namespace cpu_exec
{

//! The coordinates of the CUDA thread whose fiber is running on this worker thread.
struct ThreadContext
{
    uint3 threadIndex;
    uint3 blockIndex;
    dim3 blockSize;
    dim3 gridSize;
    void* dynamicShared;
};

inline thread_local ThreadContext current{};

//! Returned by a barrier: how many of the block's threads that reached it had a nonzero predicate,
//! and how many reached it (every thread of the block that has not exited).
struct BarrierResult
{
    int count;
    int arrived;
};

//! Arrives at the block's barrier; returns once every thread of the block that has not exited has
//! arrived.
BarrierResult arriveAndWait(int predicate);

} // namespace cpu_exec
