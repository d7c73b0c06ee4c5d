// MultilevelRoIAlign_TRT kernel: one thread per output element (b, r, c, ph, pw).
// Semantics: torchvision LevelMapper + roi_align forward (see multilevel_roi_align.cuh).

#include "multilevel_roi_align/multilevel_roi_align.cuh"
#include "multilevel_roi_align/multilevel_roi_align_kernel.h"
#include "launch.cuh"

#include <cuda_fp16.h>

#include <algorithm>

namespace mrcnn_edge
{
namespace
{

constexpr int32_t kThreads = 256;

template <typename T>
__global__ void multilevelRoiAlignKernel(MultilevelRoiAlignArgs args)
{
    int64_t const total = static_cast<int64_t>(args.batch) * args.numRois * args.channels * args.outH * args.outW;
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    {
        auto const pw = static_cast<int32_t>(i % args.outW);
        auto const ph = static_cast<int32_t>((i / args.outW) % args.outH);
        auto const c = static_cast<int32_t>((i / (args.outW * args.outH)) % args.channels);
        int64_t const roi = i / (static_cast<int64_t>(args.outW) * args.outH * args.channels);
        auto const b = static_cast<int32_t>(roi / args.numRois);
        float const* box = args.rois + 4 * roi;

        int32_t const l = fpnLevelIndex(
            box[0], box[1], box[2], box[3], args.canonicalScale, args.canonicalLevel, args.kMin, args.kMax);
        float value = 0.F; // NaN level (negative area): torchvision leaves the RoI at zero
        if (l >= 0)
        {
            int32_t const h = args.levels.height[l];
            int32_t const w = args.levels.width[l];
            T const* plane = static_cast<T const*>(args.levels.data[l])
                + (static_cast<int64_t>(b) * args.channels + c) * h * w;
            RoiGrid const g = roiGrid(box[0], box[1], box[2], box[3], args.levels.spatialScale[l], args.outH,
                args.outW, args.samplingRatio, args.aligned);
            value = roiAlignBin(plane, h, w, g, ph, pw); // accumulates in FP32 for FP16 maps too
        }
        static_cast<T*>(args.output)[i] = static_cast<T>(value);
    }
}

template <typename T>
cudaError_t launch(MultilevelRoiAlignArgs const& args, cudaStream_t stream, uint32_t maxBlocks)
{
    int64_t const total = static_cast<int64_t>(args.batch) * args.numRois * args.channels * args.outH * args.outW;
    if (total == 0)
    {
        return cudaSuccess;
    }
    // Grid-stride loop: cap the grid, large outputs loop.
    auto const blocks = static_cast<uint32_t>(std::min<int64_t>((total + kThreads - 1) / kThreads, maxBlocks));
    launchKernel(multilevelRoiAlignKernel<T>, dim3(blocks), dim3(kThreads), 0, stream, args);
    return cudaGetLastError();
}

} // namespace

cudaError_t launchMultilevelRoiAlign(MultilevelRoiAlignArgs const& args, cudaStream_t stream, uint32_t maxBlocks)
{
    switch (args.type)
    {
    case FeatureType::kFLOAT: return launch<float>(args, stream, maxBlocks);
    case FeatureType::kHALF: return launch<__half>(args, stream, maxBlocks);
    }
    return cudaErrorInvalidValue;
}

} // namespace mrcnn_edge
