#pragma once

// Per-element math of MultilevelRoIAlign_TRT, shared by the CUDA kernel and the CPU reference.
// Transcribed from torchvision: ops/poolers.py (LevelMapper) and
// csrc/ops/cpu/roi_align_kernel.cpp + roi_align_common.h (RoIAlign forward), in float32.

#include "mrcnn_hd.h"

#include <cmath>
#include <cstdint>

namespace mrcnn_edge
{

//! The sampling grid of one RoI on one feature map.
struct RoiGrid
{
    float startW;
    float startH;
    float binW;
    float binH;
    int32_t gridH; //!< samples per bin, vertically
    int32_t gridW;
    float count; //!< divisor of the bin average
};

MRCNN_HD RoiGrid roiGrid(float x1, float y1, float x2, float y2, float spatialScale, int32_t pooledH, int32_t pooledW,
    int32_t samplingRatio, bool aligned)
{
    RoiGrid g;
    // Do not round: this implementation detail is critical (torchvision's own warning).
    float const offset = aligned ? 0.5F : 0.F;
    g.startW = x1 * spatialScale - offset;
    g.startH = y1 * spatialScale - offset;
    float roiW = x2 * spatialScale - offset - g.startW;
    float roiH = y2 * spatialScale - offset - g.startH;
    if (!aligned)
    {
        // Legacy behaviour: malformed RoIs are forced to 1x1.
        roiW = fmaxf(roiW, 1.F);
        roiH = fmaxf(roiH, 1.F);
    }
    g.binH = roiH / static_cast<float>(pooledH);
    g.binW = roiW / static_cast<float>(pooledW);
    // Adaptive grid (sampling_ratio <= 0): ceil(roi / pooled). A negative-size aligned RoI
    // yields an empty grid and, with count clamped to 1, a zero output.
    g.gridH = samplingRatio > 0 ? samplingRatio : static_cast<int32_t>(ceilf(roiH / pooledH));
    g.gridW = samplingRatio > 0 ? samplingRatio : static_cast<int32_t>(ceilf(roiW / pooledW));
    int32_t const n = g.gridH * g.gridW;
    g.count = static_cast<float>(n > 1 ? n : 1);
    return g;
}

//! Four taps of a bilinear sample: flat indices into an HxW plane and their weights.
struct BilinearTaps
{
    int32_t pos[4];
    float w[4];
};

MRCNN_HD BilinearTaps bilinearTaps(int32_t height, int32_t width, float y, float x)
{
    BilinearTaps t{{0, 0, 0, 0}, {0.F, 0.F, 0.F, 0.F}};
    // Written as !(in range) so NaN coordinates land here too, as in torchvision.
    if (!(y >= -1.F && y <= static_cast<float>(height) && x >= -1.F && x <= static_cast<float>(width)))
    {
        return t;
    }
    y = y <= 0.F ? 0.F : y;
    x = x <= 0.F ? 0.F : x;
    int32_t yLow = static_cast<int32_t>(y);
    int32_t xLow = static_cast<int32_t>(x);
    int32_t yHigh = yLow + 1;
    int32_t xHigh = xLow + 1;
    if (yLow >= height - 1)
    {
        yHigh = yLow = height - 1;
        y = static_cast<float>(yLow);
    }
    if (xLow >= width - 1)
    {
        xHigh = xLow = width - 1;
        x = static_cast<float>(xLow);
    }
    float const ly = y - static_cast<float>(yLow);
    float const lx = x - static_cast<float>(xLow);
    float const hy = 1.F - ly;
    float const hx = 1.F - lx;
    t.pos[0] = yLow * width + xLow;
    t.pos[1] = yLow * width + xHigh;
    t.pos[2] = yHigh * width + xLow;
    t.pos[3] = yHigh * width + xHigh;
    t.w[0] = hy * hx;
    t.w[1] = hy * lx;
    t.w[2] = ly * hx;
    t.w[3] = ly * lx;
    return t;
}

//! Average of the bilinear samples in output bin (ph, pw) of one channel plane.
//! T is float or __half; the sum is always accumulated in float32.
template <typename T>
MRCNN_HD float roiAlignBin(T const* plane, int32_t height, int32_t width, RoiGrid const& g, int32_t ph, int32_t pw)
{
    float sum = 0.F; // FP32 accumulation, also for FP16 inputs
    for (int32_t iy = 0; iy < g.gridH; ++iy)
    {
        // Same operation order as torchvision, so float32 results match bit for bit on the CPU.
        float const y = g.startH + ph * g.binH + static_cast<float>(iy + .5F) * g.binH / static_cast<float>(g.gridH);
        for (int32_t ix = 0; ix < g.gridW; ++ix)
        {
            float const x
                = g.startW + pw * g.binW + static_cast<float>(ix + .5F) * g.binW / static_cast<float>(g.gridW);
            BilinearTaps const t = bilinearTaps(height, width, y, x);
            sum += t.w[0] * static_cast<float>(plane[t.pos[0]]) + t.w[1] * static_cast<float>(plane[t.pos[1]])
                + t.w[2] * static_cast<float>(plane[t.pos[2]]) + t.w[3] * static_cast<float>(plane[t.pos[3]]);
        }
    }
    return sum / g.count;
}

//! Index of the feature map a box is pooled from, as torchvision's LevelMapper:
//! floor(k0 + log2(sqrt(area) / s0) + eps), clamped to [kMin, kMax], minus kMin.
//! Returns -1 when the level is NaN (negative area): torchvision then matches no level and
//! leaves the RoI's output at zero.
MRCNN_HD int32_t fpnLevelIndex(
    float x1, float y1, float x2, float y2, float canonicalScale, int32_t canonicalLevel, int32_t kMin, int32_t kMax)
{
    float const area = (x2 - x1) * (y2 - y1); // torchvision box_area: no +1
    // float32 throughout, as torch evaluates it. Fragile: the device log2f is within 1 ulp,
    // which can only matter for boxes within ~1e-7 of a level boundary.
    float const level = floorf(static_cast<float>(canonicalLevel) + log2f(sqrtf(area) / canonicalScale) + 1e-6F);
    if (level != level)
    {
        return -1;
    }
    float const clamped = fminf(fmaxf(level, static_cast<float>(kMin)), static_cast<float>(kMax));
    return static_cast<int32_t>(clamped) - kMin;
}

} // namespace mrcnn_edge
