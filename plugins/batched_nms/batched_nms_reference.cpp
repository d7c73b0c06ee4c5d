#include "batched_nms/batched_nms_reference.h"
#include "batched_nms/batched_nms.cuh"

#include <algorithm>
#include <cstddef>
#include <vector>

namespace mrcnn_edge
{
namespace
{

struct Candidate
{
    float score;
    int32_t index;
};

//! Candidates in descending score order, equal scores by ascending index: torchvision's nms
//! (0.29, CPU and CUDA) sorts stably. Beware torch's plain scores.sort(descending=True): on the
//! CPU it is not stable above 16 elements. The CUDA kernel's radix sort is stable too.
std::vector<Candidate> sortedCandidates(float const* scores, int32_t numBoxes, float scoreThreshold)
{
    std::vector<Candidate> c;
    for (int32_t i = 0; i < numBoxes; ++i)
    {
        if (passesScoreThreshold(scores[i], scoreThreshold))
        {
            c.push_back({scores[i], i});
        }
    }
    std::stable_sort(c.begin(), c.end(), [](Candidate const& a, Candidate const& b) { return a.score > b.score; });
    return c;
}

//! Greedy NMS over one image; returns kept box indices, at most maxOutput, best first.
std::vector<int32_t> nmsPerImage(BatchedNmsParams const& params, float const* boxes, float const* scores,
    int32_t const* categories, int32_t numBoxes)
{
    std::vector<Candidate> const order = sortedCandidates(scores, numBoxes, params.scoreThreshold);
    std::vector<char> suppressed(order.size(), 0);
    std::vector<int32_t> kept;
    for (size_t i = 0; i < order.size() && static_cast<int32_t>(kept.size()) < params.maxOutput; ++i)
    {
        if (suppressed[i])
        {
            continue;
        }
        int32_t const k = order[i].index;
        kept.push_back(k);
        Box const keptBox = loadBox(boxes + 4 * static_cast<size_t>(k));
        for (size_t j = i + 1; j < order.size(); ++j)
        {
            int32_t const o = order[j].index;
            if (!suppressed[j]
                && suppresses(keptBox, categories[k], loadBox(boxes + 4 * static_cast<size_t>(o)), categories[o],
                    params.iouThreshold))
            {
                suppressed[j] = 1;
            }
        }
    }
    return kept;
}

} // namespace

void batchedNmsReference(BatchedNmsParams const& params, float const* boxes, float const* scores,
    int32_t const* categories, int32_t batch, int32_t numBoxes, BatchedNmsOutputs const& out)
{
    validate(params);
    size_t const K = static_cast<size_t>(params.maxOutput);
    for (int32_t b = 0; b < batch; ++b)
    {
        size_t const in = static_cast<size_t>(b) * numBoxes;
        std::vector<int32_t> const kept
            = nmsPerImage(params, boxes + 4 * in, scores + in, categories + in, numBoxes);
        out.numDetections[b] = static_cast<int32_t>(kept.size());
        for (size_t s = 0; s < K; ++s)
        {
            size_t const slot = b * K + s;
            bool const valid = s < kept.size();
            int32_t const k = valid ? kept[s] : -1;
            out.indices[slot] = k;
            out.scores[slot] = valid ? scores[in + k] : 0.F;
            out.classes[slot] = valid ? categories[in + k] : 0;
            for (int32_t c = 0; c < 4; ++c)
            {
                out.boxes[4 * slot + c] = valid ? boxes[4 * (in + k) + c] : 0.F;
            }
        }
    }
}

} // namespace mrcnn_edge
