#include "multilevel_roi_align/multilevel_roi_align_reference.h"
#include "multilevel_roi_align/multilevel_roi_align.cuh"

#include <algorithm>
#include <cstddef>

namespace mrcnn_edge
{
namespace
{

//! Pools every channel of one RoI from one [C,H,W] map into out [C,outH,outW].
void poolRoi(float const* box, float const* image, int32_t channels, FeatureMap const& map, float spatialScale,
    int32_t outH, int32_t outW, int32_t samplingRatio, bool aligned, float* out)
{
    RoiGrid const g = roiGrid(box[0], box[1], box[2], box[3], spatialScale, outH, outW, samplingRatio, aligned);
    size_t const plane = static_cast<size_t>(map.height) * map.width;
    for (int32_t c = 0; c < channels; ++c)
    {
        float const* channelPlane = image + c * plane;
        for (int32_t ph = 0; ph < outH; ++ph)
        {
            for (int32_t pw = 0; pw < outW; ++pw)
            {
                *out++ = roiAlignBin(channelPlane, map.height, map.width, g, ph, pw);
            }
        }
    }
}

} // namespace

void multilevelRoiAlignReference(MultilevelRoiAlignParams const& params, float const* rois, int32_t batch,
    int32_t numRois, int32_t channels, std::vector<FeatureMap> const& levels, float* output)
{
    validate(params);
    require(levels.size() == params.spatialScales.size(), "need one feature map per spatial scale");
    int32_t const kMin = firstFeatureLevel(params);
    int32_t const kMax = lastFeatureLevel(params);
    auto const [outH, outW] = params.outputSize;
    size_t const roiSize = static_cast<size_t>(channels) * outH * outW;
    for (int32_t b = 0; b < batch; ++b)
    {
        for (int32_t r = 0; r < numRois; ++r)
        {
            float const* box = rois + (static_cast<size_t>(b) * numRois + r) * 4;
            float* out = output + (static_cast<size_t>(b) * numRois + r) * roiSize;
            int32_t const l = fpnLevelIndex(
                box[0], box[1], box[2], box[3], params.canonicalScale, params.canonicalLevel, kMin, kMax);
            if (l < 0)
            {
                std::fill(out, out + roiSize, 0.F);
                continue;
            }
            FeatureMap const& map = levels[l];
            float const* image = map.data + static_cast<size_t>(b) * channels * map.height * map.width;
            poolRoi(box, image, channels, map, params.spatialScales[l], outH, outW, params.samplingRatio,
                params.aligned != 0, out);
        }
    }
}

void roiAlignReference(float const* features, int32_t batch, int32_t channels, int32_t height, int32_t width,
    float const* rois, int32_t numRois, float spatialScale, int32_t outH, int32_t outW, int32_t samplingRatio,
    bool aligned, float* output)
{
    require(outH > 0 && outW > 0, "output size must be positive");
    FeatureMap const map{features, height, width};
    size_t const imageSize = static_cast<size_t>(channels) * height * width;
    for (int32_t r = 0; r < numRois; ++r)
    {
        float const* roi = rois + static_cast<size_t>(r) * 5;
        auto const b = static_cast<int32_t>(roi[0]);
        require(b >= 0 && b < batch, "roi batch index out of range");
        poolRoi(roi + 1, features + b * imageSize, channels, map, spatialScale, outH, outW, samplingRatio, aligned,
            output + static_cast<size_t>(r) * channels * outH * outW);
    }
}

} // namespace mrcnn_edge
