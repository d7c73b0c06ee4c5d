// batched_nms_kernel.cu itself, unmodified, compiled by the host compiler against the CPU execution
// layer (plugins/cpu_exec/README.md). MRCNN_CPU_EXEC: the kernel's own copy of the per-element math
// (common/mrcnn_hd.h); defined here, for this file only.
#ifndef MRCNN_CPU_EXEC
#define MRCNN_CPU_EXEC 1
#endif
#include "cpu_exec/device.h" // what nvcc gives every .cu file

#include "batched_nms/batched_nms_kernel.cu"
