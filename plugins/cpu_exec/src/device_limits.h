#pragma once

// The launch limits a GPU enforces, as data. Source: CUDA C++ Programming Guide, "Compute
// Capabilities", Table "Technical Specifications per Compute Capability" (the same for 7.5-9.0
// except the shared-memory opt-in maximum, given here for 9.0), and the runtime API's
// cudaFuncAttributeMaxDynamicSharedMemorySize. The errors are those the runtime returns.

#include "cuda_runtime_api.h"

#include <cstddef>
#include <cstdint>

namespace cpu_exec::detail
{

struct DeviceLimits
{
    uint32_t maxThreadsPerBlock = 1024;
    uint32_t maxBlockDim[3] = {1024, 1024, 64};
    uint32_t maxGridDim[3] = {2147483647U, 65535, 65535};
    size_t sharedPerBlock = 48 * 1024;            //!< without opt-in
    size_t sharedPerBlockOptin = 227 * 1024;      //!< sm_90
    cudaError_t badConfiguration = cudaErrorInvalidConfiguration; //!< a block or grid beyond the table
    cudaError_t badSharedBytes = cudaErrorInvalidValue;           //!< dynamic shared memory beyond the limit
};

inline constexpr DeviceLimits kLimits{};

} // namespace cpu_exec::detail
