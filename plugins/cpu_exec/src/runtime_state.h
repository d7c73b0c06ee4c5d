#pragma once

#include "cpu_exec/launch.h"
#include "cuda_runtime_api.h"

namespace cpu_exec::detail
{

//! Remembers error as the launching thread's last error (cudaGetLastError), and returns it.
cudaError_t recordError(cudaError_t error);

//! The error a GPU's runtime gives this launch configuration, or cudaSuccess.
cudaError_t checkLaunch(LaunchConfig const& config);

} // namespace cpu_exec::detail
