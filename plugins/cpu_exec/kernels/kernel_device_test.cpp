// tests/kernel_device_test.cu itself, compiled by the host compiler: the same cases, on the kernels
// built for the CPU execution layer (ctest kernels_on_cpu).
#include "cpu_exec/device.h"

#include "tests/kernel_device_test.cu"
