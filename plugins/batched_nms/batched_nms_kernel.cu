// BatchedNMS_TRT kernels. Semantics: torchvision batched_nms (coordinate-trick path, i.e. one
// stable descending sort over all candidates) after roi_heads' "scores > score_thresh".
//   1. sort keys: score if it passes the threshold, else -inf; values: box index
//   2. CUB segmented radix sort, one segment per image; radix sort is stable, so equal scores
//      keep ascending index order, as torchvision's nms
//   3. one block per image walks the sorted list greedily; all threads suppress in parallel

#include "batched_nms/batched_nms.cuh"
#include "batched_nms/batched_nms_kernel.h"
#include "launch.cuh"

#include <cub/device/device_segmented_radix_sort.cuh>

#include <algorithm>
#include <cmath>

namespace mrcnn_edge
{
namespace
{

constexpr int32_t kThreads = 256;
constexpr size_t kAlignment = 256;

size_t alignUp(size_t bytes)
{
    return (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

//! Sub-buffers carved out of the plugin workspace.
struct Workspace
{
    float* keysIn;
    float* keysOut;
    int32_t* valuesIn;
    int32_t* valuesOut;
    int32_t* segmentOffsets; //!< B+1
    uint8_t* suppressed;     //!< [B,N], by sorted position
    void* cubTemp;
    size_t cubBytes;
    size_t total;
};

Workspace carve(void* base, int32_t batch, int32_t numBoxes, size_t cubBytes)
{
    size_t const n = static_cast<size_t>(batch) * numBoxes;
    auto* p = static_cast<char*>(base);
    Workspace w{};
    size_t offset = 0;
    auto take = [&](size_t bytes) {
        void* at = p == nullptr ? nullptr : p + offset;
        offset += alignUp(bytes);
        return at;
    };
    w.keysIn = static_cast<float*>(take(n * sizeof(float)));
    w.keysOut = static_cast<float*>(take(n * sizeof(float)));
    w.valuesIn = static_cast<int32_t*>(take(n * sizeof(int32_t)));
    w.valuesOut = static_cast<int32_t*>(take(n * sizeof(int32_t)));
    w.segmentOffsets = static_cast<int32_t*>(take((batch + 1) * sizeof(int32_t)));
    w.suppressed = static_cast<uint8_t*>(take(n));
    w.cubTemp = take(cubBytes);
    w.cubBytes = cubBytes;
    w.total = offset;
    return w;
}

cudaError_t sortBytes(int32_t batch, int32_t numBoxes, size_t& bytes)
{
    // Size query only: CUB does not touch the (null) pointers.
    int32_t const n = batch * numBoxes;
    return cub::DeviceSegmentedRadixSort::SortPairsDescending(nullptr, bytes, static_cast<float const*>(nullptr),
        static_cast<float*>(nullptr), static_cast<int32_t const*>(nullptr), static_cast<int32_t*>(nullptr), n, batch,
        static_cast<int32_t const*>(nullptr), static_cast<int32_t const*>(nullptr) + 1);
}

__global__ void prepareSortKernel(BatchedNmsArgs args, Workspace w)
{
    int32_t const n = args.batch * args.numBoxes;
    for (int32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    {
        float const s = args.scores[i];
        w.keysIn[i] = passesScoreThreshold(s, args.params.scoreThreshold) ? s : -INFINITY;
        w.valuesIn[i] = i % args.numBoxes;
        w.suppressed[i] = 0;
        if (i % args.numBoxes == 0)
        {
            w.segmentOffsets[i / args.numBoxes] = i;
        }
    }
    if (blockIdx.x == 0 && threadIdx.x == 0)
    {
        w.segmentOffsets[args.batch] = n;
    }
}

__device__ void writePadding(BatchedNmsArgs const& args, int32_t b)
{
    int32_t const K = args.params.maxOutput;
    for (int32_t s = threadIdx.x; s < K; s += blockDim.x)
    {
        int64_t const slot = static_cast<int64_t>(b) * K + s;
        args.indices[slot] = -1;
        args.outScores[slot] = 0.F;
        args.classes[slot] = 0;
        for (int32_t c = 0; c < 4; ++c)
        {
            args.outBoxes[4 * slot + c] = 0.F;
        }
    }
}

//! Number of sorted keys that passed the threshold (they precede every -inf key).
__device__ int32_t countCandidates(BatchedNmsArgs const& args, float const* keys)
{
    int32_t count = 0;
    for (int32_t base = 0; base < args.numBoxes; base += blockDim.x)
    {
        int32_t const j = base + threadIdx.x;
        count += __syncthreads_count(
            j < args.numBoxes && passesScoreThreshold(keys[j], args.params.scoreThreshold));
    }
    return count;
}

//! One block per image. The loop condition is uniform across the block: every thread reads the
//! same suppressed flag after the barrier that ends the previous iteration.
__global__ void greedyNmsKernel(BatchedNmsArgs args, Workspace w)
{
    int32_t const b = blockIdx.x;
    int64_t const in = static_cast<int64_t>(b) * args.numBoxes;
    float const* keys = w.keysOut + in;
    int32_t const* order = w.valuesOut + in;
    uint8_t* suppressed = w.suppressed + in;
    float const* boxes = args.boxes + 4 * in;
    int32_t const* categories = args.categories + in;

    writePadding(args, b);
    int32_t const candidates = countCandidates(args, keys); // also the barrier after the padding
    int32_t kept = 0;
    for (int32_t i = 0; i < candidates && kept < args.params.maxOutput; ++i)
    {
        if (suppressed[i])
        {
            continue;
        }
        int32_t const k = order[i];
        Box const keptBox = loadBox(boxes + 4 * k);
        if (threadIdx.x == 0)
        {
            int64_t const slot = static_cast<int64_t>(b) * args.params.maxOutput + kept;
            args.indices[slot] = k;
            args.outScores[slot] = keys[i];
            args.classes[slot] = categories[k];
            for (int32_t c = 0; c < 4; ++c)
            {
                args.outBoxes[4 * slot + c] = boxes[4 * k + c];
            }
        }
        for (int32_t j = i + 1 + threadIdx.x; j < candidates; j += blockDim.x)
        {
            int32_t const o = order[j];
            if (suppresses(keptBox, categories[k], loadBox(boxes + 4 * o), categories[o], args.params.iouThreshold))
            {
                suppressed[j] = 1;
            }
        }
        ++kept;
        __syncthreads();
    }
    if (threadIdx.x == 0)
    {
        args.numDetections[b] = kept;
    }
}

} // namespace

size_t batchedNmsWorkspaceSize(int32_t batch, int32_t numBoxes)
{
    size_t cubBytes = 0;
    if (sortBytes(batch, numBoxes, cubBytes) != cudaSuccess)
    {
        return 0;
    }
    return carve(nullptr, batch, numBoxes, cubBytes).total;
}

cudaError_t launchBatchedNms(BatchedNmsArgs const& args, void* workspace, cudaStream_t stream, uint32_t maxBlocks)
{
    if (args.batch == 0)
    {
        return cudaSuccess;
    }
    size_t cubBytes = 0;
    cudaError_t status = sortBytes(args.batch, args.numBoxes, cubBytes);
    if (status != cudaSuccess)
    {
        return status;
    }
    Workspace const w = carve(workspace, args.batch, args.numBoxes, cubBytes);
    int32_t const n = args.batch * args.numBoxes;
    if (n > 0)
    {
        auto const blocks = static_cast<uint32_t>(std::min<int64_t>((n + kThreads - 1) / kThreads, maxBlocks));
        launchKernel(prepareSortKernel, dim3(blocks), dim3(kThreads), 0, stream, args, w);
        size_t bytes = w.cubBytes;
        status = cub::DeviceSegmentedRadixSort::SortPairsDescending(w.cubTemp, bytes, w.keysIn, w.keysOut,
            w.valuesIn, w.valuesOut, n, args.batch, w.segmentOffsets, w.segmentOffsets + 1, 0, 32, stream);
        if (status != cudaSuccess)
        {
            return status;
        }
    }
    launchKernel(greedyNmsKernel, dim3(args.batch), dim3(kThreads), 0, stream, args, w);
    return cudaGetLastError();
}

} // namespace mrcnn_edge
