#pragma once

// Launcher of the BatchedNMS_TRT kernels (plain C++ interface for the plugin glue).

#include "batched_nms/batched_nms_fields.h"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace mrcnn_edge
{

struct BatchedNmsArgs
{
    float const* boxes;          //!< [B,N,4]
    float const* scores;         //!< [B,N]
    int32_t const* categories;   //!< [B,N]
    int32_t* numDetections;      //!< [B]
    int32_t* indices;            //!< [B,K]
    float* outBoxes;             //!< [B,K,4]
    float* outScores;            //!< [B,K]
    int32_t* classes;            //!< [B,K]
    int32_t batch;
    int32_t numBoxes;
    BatchedNmsParams params;
};

//! Bytes of scratch memory launchBatchedNms needs for B x N boxes (sort buffers + CUB); it only
//! grows with B and N, so the size for a profile's largest shape serves all its shapes.
size_t batchedNmsWorkspaceSize(int32_t batch, int32_t numBoxes);

//! workspace: at least batchedNmsWorkspaceSize(args.batch, args.numBoxes) bytes. The preparation
//! kernel is a grid-stride loop on at most maxBlocks blocks (tests lower it so that the loop iterates).
cudaError_t launchBatchedNms(
    BatchedNmsArgs const& args, void* workspace, cudaStream_t stream, uint32_t maxBlocks = 4096);

} // namespace mrcnn_edge
