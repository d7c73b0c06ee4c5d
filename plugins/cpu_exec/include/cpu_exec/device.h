#pragma once

// CPU execution layer: what nvcc gives every .cu file (qualifiers, thread coordinates, barriers,
// atomics), so the kernel sources compile with the host compiler. See plugins/cpu_exec/README.md
// for which CUDA semantics are kept.

#include "cuda_fp16.h"
#include "cuda_runtime_api.h"

#include <cmath>
#include <cstdint>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// One copy per block: a worker thread runs one block at a time, all of its threads on fibers of
// that worker, so per-worker storage is per-block storage. Uninitialised in CUDA; zero here.
#define __shared__ static thread_local

#include "cpu_exec/thread_context.h"

#define threadIdx (::cpu_exec::current.threadIndex)
#define blockIdx (::cpu_exec::current.blockIndex)
#define blockDim (::cpu_exec::current.blockSize)
#define gridDim (::cpu_exec::current.gridSize)

inline void __syncthreads()
{
    ::cpu_exec::arriveAndWait(0);
}
inline int __syncthreads_count(int predicate)
{
    return ::cpu_exec::arriveAndWait(predicate).count;
}
inline int __syncthreads_and(int predicate)
{
    ::cpu_exec::BarrierResult const r = ::cpu_exec::arriveAndWait(predicate);
    return r.count == r.arrived ? 1 : 0;
}
inline int __syncthreads_or(int predicate)
{
    return ::cpu_exec::arriveAndWait(predicate).count > 0 ? 1 : 0;
}
inline void __threadfence()
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

// Atomics: blocks run in parallel on worker threads, so these are real atomic operations.
template <typename T>
T atomicAdd(T* address, T value)
{
    return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}
inline float atomicAdd(float* address, float value)
{
    float old;
    __atomic_load(address, &old, __ATOMIC_RELAXED);
    float sum;
    do
    {
        sum = old + value;
    } while (!__atomic_compare_exchange(address, &old, &sum, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return old;
}
template <typename T>
T atomicSub(T* address, T value)
{
    return __atomic_fetch_sub(address, value, __ATOMIC_RELAXED);
}
template <typename T>
T atomicExch(T* address, T value)
{
    T old;
    __atomic_exchange(address, &value, &old, __ATOMIC_RELAXED);
    return old;
}
template <typename T>
T atomicCAS(T* address, T compare, T value)
{
    __atomic_compare_exchange(address, &compare, &value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return compare; // the old value, whether or not it was replaced
}
template <typename T>
T atomicMax(T* address, T value)
{
    T old = __atomic_load_n(address, __ATOMIC_RELAXED);
    while (old < value && !__atomic_compare_exchange_n(address, &old, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    {
    }
    return old;
}
template <typename T>
T atomicMin(T* address, T value)
{
    T old = __atomic_load_n(address, __ATOMIC_RELAXED);
    while (value < old && !__atomic_compare_exchange_n(address, &old, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    {
    }
    return old;
}
