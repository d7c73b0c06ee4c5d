#pragma once

// BatchedNMS_TRT's attribute schema: the one table that the creator, serialisation, the CPU
// reference, the Python bindings and (checked by tests) the README agree with.

#include "field_spec.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace mrcnn_edge
{

inline constexpr char const* kBatchedNmsName = "BatchedNMS_TRT";
inline constexpr char const* kBatchedNmsVersion = "1";

inline constexpr std::array<FieldSpec, 3> kBatchedNmsFields{{
    {"iou_threshold", FieldType::kFLOAT32, 1},
    {"score_threshold", FieldType::kFLOAT32, 1},
    {"max_output", FieldType::kINT32, 1},
}};

//! Defaults are torchvision's Mask R-CNN box head (box_nms_thresh, box_score_thresh,
//! box_detections_per_img).
struct BatchedNmsParams
{
    float iouThreshold{0.5F};
    float scoreThreshold{0.05F};
    int32_t maxOutput{100};
};

//! Calls visit(spec, member) for every attribute, in schema order (Params: const or not).
template <typename Params, typename Visit,
    std::enable_if_t<std::is_same_v<std::remove_const_t<Params>, BatchedNmsParams>, int> = 0>
void visitFields(Params& p, Visit&& visit)
{
    auto const& f = kBatchedNmsFields;
    visit(f[0], p.iouThreshold);
    visit(f[1], p.scoreThreshold);
    visit(f[2], p.maxOutput);
}

inline void validate(BatchedNmsParams const& p)
{
    require(std::isfinite(p.iouThreshold), "iou_threshold must be finite");
    require(!std::isnan(p.scoreThreshold), "score_threshold must not be NaN");
    require(p.maxOutput > 0, "max_output must be positive");
}

} // namespace mrcnn_edge
