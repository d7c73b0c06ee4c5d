// batched_nms_kernel.cu itself, unmodified, compiled by the host compiler against the CPU execution
// layer (plugins/cpu_exec/README.md); MRCNN_CPU_EXEC is defined for this file only.
#include "cpu_exec/device.h" // what nvcc gives every .cu file

#include "batched_nms/batched_nms_kernel.cu"
