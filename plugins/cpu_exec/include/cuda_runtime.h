#pragma once

// CPU execution layer: cuda_runtime.h is the runtime API plus what nvcc gives every .cu file.
#include "cuda_runtime_api.h"
#include "cpu_exec/device.h"
