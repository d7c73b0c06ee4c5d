#pragma once

// Per-pair math of BatchedNMS_TRT, shared by the CUDA kernel and the CPU reference.
// Transcribed from torchvision csrc/ops/cpu/nms_kernel.cpp (float32 IoU, strict ">") and
// models/detection/roi_heads.py (scores > score_thresh).

#include "mrcnn_hd.h"

#include <cmath>
#include <cstdint>

namespace mrcnn_edge
{

struct Box
{
    float x1;
    float y1;
    float x2;
    float y2;
};

MRCNN_HD Box loadBox(float const* p)
{
    return Box{p[0], p[1], p[2], p[3]};
}

MRCNN_HD float boxArea(Box const& b)
{
    return (b.x2 - b.x1) * (b.y2 - b.y1); // no +1, as torchvision
}

//! IoU with torchvision's operation order, so float32 results match bit for bit.
MRCNN_HD float boxIou(Box const& a, Box const& b)
{
    float const w = fmaxf(0.F, fminf(a.x2, b.x2) - fmaxf(a.x1, b.x1));
    float const h = fmaxf(0.F, fminf(a.y2, b.y2) - fmaxf(a.y1, b.y1));
    float const inter = w * h;
    return inter / (boxArea(a) + boxArea(b) - inter);
}

//! A kept box suppresses another of the same category when IoU > threshold (strictly).
MRCNN_HD bool suppresses(Box const& kept, int32_t keptCategory, Box const& other, int32_t otherCategory,
    float iouThreshold)
{
    return keptCategory == otherCategory && boxIou(kept, other) > iouThreshold;
}

//! Candidates need score > threshold (strictly); NaN scores never pass.
MRCNN_HD bool passesScoreThreshold(float score, float scoreThreshold)
{
    return score > scoreThreshold;
}

} // namespace mrcnn_edge
