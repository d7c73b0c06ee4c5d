// The CUDA runtime API on the host: "device" memory is host memory, a stream runs its work at once
// (so in order), events are timestamps. Fresh allocations hold a pattern (0xA5 bytes), so that an
// output a kernel forgets to write shows in the results instead of reading as zero.

#include "cuda_runtime_api.h"
#include "device_limits.h"
#include "runtime_state.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

namespace cpu_exec::detail
{
namespace
{

thread_local cudaError_t tlsLastError = cudaSuccess;

std::mutex gMutex;
std::unordered_map<void*, size_t>& allocations()
{
    static std::unordered_map<void*, size_t> live;
    return live;
}
std::map<void const*, size_t>& sharedOptin()
{
    static std::map<void const*, size_t> limits;
    return limits;
}

size_t sharedLimit(void const* kernel)
{
    std::lock_guard<std::mutex> lock(gMutex);
    auto const it = sharedOptin().find(kernel);
    return it == sharedOptin().end() ? kLimits.sharedPerBlock : it->second;
}

cudaError_t allocate(void** ptr, size_t size)
{
    if (ptr == nullptr)
    {
        return recordError(cudaErrorInvalidValue);
    }
    size_t const bytes = (std::max<size_t>(size, 1) + 255) / 256 * 256;
    void* p = std::aligned_alloc(256, bytes); // cudaMalloc's alignment
    if (p == nullptr)
    {
        *ptr = nullptr;
        return recordError(cudaErrorMemoryAllocation);
    }
    std::memset(p, 0xA5, bytes);
    std::lock_guard<std::mutex> lock(gMutex);
    allocations()[p] = bytes;
    *ptr = p;
    return cudaSuccess;
}

cudaError_t release(void* ptr)
{
    if (ptr == nullptr)
    {
        return cudaSuccess;
    }
    std::lock_guard<std::mutex> lock(gMutex);
    if (allocations().erase(ptr) == 0)
    {
        return recordError(cudaErrorInvalidValue); // not ours, or freed twice
    }
    std::free(ptr);
    return cudaSuccess;
}

using Clock = std::chrono::steady_clock;

} // namespace

cudaError_t recordError(cudaError_t error)
{
    if (error != cudaSuccess)
    {
        tlsLastError = error;
    }
    return error;
}

cudaError_t checkLaunch(LaunchConfig const& c)
{
    DeviceLimits const& l = kLimits;
    uint64_t const threads = static_cast<uint64_t>(c.block.x) * c.block.y * c.block.z;
    bool const blockOk = threads >= 1 && threads <= l.maxThreadsPerBlock && c.block.x <= l.maxBlockDim[0]
        && c.block.y <= l.maxBlockDim[1] && c.block.z <= l.maxBlockDim[2];
    bool const gridOk = c.grid.x >= 1 && c.grid.y >= 1 && c.grid.z >= 1 && c.grid.x <= l.maxGridDim[0]
        && c.grid.y <= l.maxGridDim[1] && c.grid.z <= l.maxGridDim[2];
    if (!blockOk || !gridOk)
    {
        return l.badConfiguration;
    }
    if (c.sharedBytes > sharedLimit(c.kernel))
    {
        return l.badSharedBytes;
    }
    return cudaSuccess;
}

} // namespace cpu_exec::detail

using cpu_exec::detail::recordError;

struct CUevent_st
{
    cpu_exec::detail::Clock::time_point at;
    bool recorded = false;
};
struct CUstream_st
{
};

cudaError_t cudaGetLastError()
{
    cudaError_t const e = cpu_exec::detail::tlsLastError;
    cpu_exec::detail::tlsLastError = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError()
{
    return cpu_exec::detail::tlsLastError;
}

char const* cudaGetErrorName(cudaError_t error)
{
    switch (error)
    {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorUnknown: return "cudaErrorUnknown";
    }
    return "cudaErrorUnknown";
}

char const* cudaGetErrorString(cudaError_t error)
{
    switch (error) // the runtime's own wording
    {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorUnknown: return "unknown error";
    }
    return "unrecognized error code";
}

cudaError_t cudaGetDeviceCount(int* count)
{
    if (count == nullptr)
    {
        return recordError(cudaErrorInvalidValue);
    }
    *count = 1; // the host, through this layer
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device)
{
    if (device == nullptr)
    {
        return recordError(cudaErrorInvalidValue);
    }
    *device = 0;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device)
{
    return device == 0 ? cudaSuccess : recordError(cudaErrorInvalidDevice);
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device)
{
    if (prop == nullptr)
    {
        return recordError(cudaErrorInvalidValue);
    }
    if (device != 0)
    {
        return recordError(cudaErrorInvalidDevice);
    }
    auto const& l = cpu_exec::detail::kLimits;
    *prop = cudaDeviceProp{};
    std::strncpy(prop->name, "CPU (mrcnn-edge cpu_exec)", sizeof(prop->name) - 1);
    prop->major = 0; // no compute capability: nothing here is a GPU
    prop->minor = 0;
    prop->multiProcessorCount = 1;
    prop->maxThreadsPerBlock = static_cast<int>(l.maxThreadsPerBlock);
    for (int i = 0; i < 3; ++i)
    {
        prop->maxThreadsDim[i] = static_cast<int>(l.maxBlockDim[i]);
        prop->maxGridSize[i] = static_cast<int>(l.maxGridDim[i]);
    }
    prop->sharedMemPerBlock = l.sharedPerBlock;
    prop->sharedMemPerBlockOptin = l.sharedPerBlockOptin;
    prop->warpSize = 32;
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize()
{
    return cudaSuccess; // every launch and copy has finished when its call returns
}

cudaError_t cudaMalloc(void** devPtr, size_t size)
{
    return cpu_exec::detail::allocate(devPtr, size);
}

cudaError_t cudaMallocHost(void** ptr, size_t size)
{
    return cpu_exec::detail::allocate(ptr, size);
}

cudaError_t cudaFree(void* devPtr)
{
    return cpu_exec::detail::release(devPtr);
}

cudaError_t cudaFreeHost(void* ptr)
{
    return cpu_exec::detail::release(ptr);
}

cudaError_t cudaMemcpy(void* dst, void const* src, size_t count, cudaMemcpyKind kind)
{
    if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault)
    {
        return recordError(cudaErrorInvalidMemcpyDirection);
    }
    if (count > 0 && (dst == nullptr || src == nullptr))
    {
        return recordError(cudaErrorInvalidValue);
    }
    if (count > 0)
    {
        std::memmove(dst, src, count);
    }
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, void const* src, size_t count, cudaMemcpyKind kind, cudaStream_t /*stream*/)
{
    return cudaMemcpy(dst, src, count, kind);
}

cudaError_t cudaMemset(void* devPtr, int value, size_t count)
{
    if (count > 0 && devPtr == nullptr)
    {
        return recordError(cudaErrorInvalidValue);
    }
    if (count > 0)
    {
        std::memset(devPtr, value, count);
    }
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* devPtr, int value, size_t count, cudaStream_t /*stream*/)
{
    return cudaMemset(devPtr, value, count);
}

cudaError_t cudaStreamCreate(cudaStream_t* stream)
{
    if (stream == nullptr)
    {
        return recordError(cudaErrorInvalidValue);
    }
    *stream = new CUstream_st;
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream)
{
    delete stream;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t /*stream*/)
{
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event)
{
    if (event == nullptr)
    {
        return recordError(cudaErrorInvalidValue);
    }
    *event = new CUevent_st;
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event)
{
    delete event;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t /*stream*/)
{
    if (event == nullptr)
    {
        return recordError(cudaErrorInvalidResourceHandle);
    }
    event->at = cpu_exec::detail::Clock::now();
    event->recorded = true;
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event)
{
    return event == nullptr ? recordError(cudaErrorInvalidResourceHandle) : cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end)
{
    if (ms == nullptr || start == nullptr || end == nullptr || !start->recorded || !end->recorded)
    {
        return recordError(cudaErrorInvalidResourceHandle);
    }
    *ms = std::chrono::duration<float, std::milli>(end->at - start->at).count();
    return cudaSuccess;
}

cudaError_t cudaFuncSetAttributeImpl(void const* func, cudaFuncAttribute attr, int value)
{
    auto const& l = cpu_exec::detail::kLimits;
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0
        || static_cast<size_t>(value) > l.sharedPerBlockOptin)
    {
        return recordError(cudaErrorInvalidValue);
    }
    std::lock_guard<std::mutex> lock(cpu_exec::detail::gMutex);
    cpu_exec::detail::sharedOptin()[func] = static_cast<size_t>(value);
    return cudaSuccess;
}
