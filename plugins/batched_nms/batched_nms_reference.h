#pragma once

// CPU reference of BatchedNMS_TRT, built on the same per-pair math as the CUDA kernel.

#include "batched_nms/batched_nms_fields.h"

#include <cstdint>

namespace mrcnn_edge
{

//! Fixed-size padded outputs, K = params.maxOutput.
struct BatchedNmsOutputs
{
    int32_t* numDetections; //!< [B]
    int32_t* indices;       //!< [B,K] into N, -1 padding
    float* boxes;           //!< [B,K,4], 0 padding
    float* scores;          //!< [B,K], 0 padding
    int32_t* classes;       //!< [B,K], 0 padding
};

//! boxes [B,N,4], scores [B,N], categories [B,N]. Throws std::invalid_argument on bad params.
void batchedNmsReference(BatchedNmsParams const& params, float const* boxes, float const* scores,
    int32_t const* categories, int32_t batch, int32_t numBoxes, BatchedNmsOutputs const& out);

} // namespace mrcnn_edge
