#pragma once

// CPU reference of MultilevelRoIAlign_TRT (and of single-level RoIAlign), float32, built on the
// same per-element math as the CUDA kernel.

#include "multilevel_roi_align/multilevel_roi_align_fields.h"

#include <cstdint>
#include <vector>

namespace mrcnn_edge
{

//! One NCHW feature map, float32, contiguous.
struct FeatureMap
{
    float const* data;
    int32_t height;
    int32_t width;
};

//! rois [B,R,4] (x1,y1,x2,y2, input pixels); levels[l] is [B,C,H_l,W_l];
//! output [B,R,C,out_h,out_w]. Throws std::invalid_argument on bad params.
void multilevelRoiAlignReference(MultilevelRoiAlignParams const& params, float const* rois, int32_t batch,
    int32_t numRois, int32_t channels, std::vector<FeatureMap> const& levels, float* output);

//! torchvision.ops.roi_align: features [B,C,H,W], rois [R,5] (batch_idx,x1,y1,x2,y2),
//! output [R,C,out_h,out_w].
void roiAlignReference(float const* features, int32_t batch, int32_t channels, int32_t height, int32_t width,
    float const* rois, int32_t numRois, float spatialScale, int32_t outH, int32_t outW, int32_t samplingRatio,
    bool aligned, float* output);

} // namespace mrcnn_edge
