#pragma once

// Launcher of the MultilevelRoIAlign_TRT kernel (plain C++ interface for the plugin glue).

#include "multilevel_roi_align/multilevel_roi_align_fields.h"

#include <cuda_runtime_api.h>

#include <cstdint>

namespace mrcnn_edge
{

enum class FeatureType : int32_t
{
    kFLOAT,
    kHALF,
};

//! The FPN maps, by value so the kernel receives them as a parameter.
struct FeatureLevels
{
    void const* data[kMaxFeatureLevels]; //!< [B,C,H_l,W_l], all of one FeatureType
    int32_t height[kMaxFeatureLevels];
    int32_t width[kMaxFeatureLevels];
    float spatialScale[kMaxFeatureLevels];
    int32_t count;
};

struct MultilevelRoiAlignArgs
{
    float const* rois; //!< [B,R,4], always float32: coordinates keep full precision
    FeatureLevels levels;
    void* output; //!< [B,R,C,outH,outW], FeatureType
    FeatureType type;
    int32_t batch;
    int32_t numRois;
    int32_t channels;
    int32_t outH;
    int32_t outW;
    int32_t samplingRatio;
    bool aligned;
    float canonicalScale;
    int32_t canonicalLevel;
    int32_t kMin; //!< FPN level of levels.data[0]
    int32_t kMax; //!< FPN level of the coarsest map, as torchvision's k_max
};

//! The kernel is a grid-stride loop over the output elements on at most maxBlocks blocks (tests
//! lower it so that the loop iterates).
cudaError_t launchMultilevelRoiAlign(
    MultilevelRoiAlignArgs const& args, cudaStream_t stream, uint32_t maxBlocks = 65535 * 8);

} // namespace mrcnn_edge
