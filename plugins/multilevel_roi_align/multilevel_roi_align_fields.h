#pragma once

// MultilevelRoIAlign_TRT's attribute schema: the one table that the creator, serialisation,
// the CPU reference, the Python bindings and (checked by tests) the README agree with.

#include "field_spec.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <string>
#include <vector>

namespace mrcnn_edge
{

inline constexpr char const* kMultilevelRoiAlignName = "MultilevelRoIAlign_TRT";
inline constexpr char const* kMultilevelRoiAlignVersion = "1";
inline constexpr int32_t kMaxFeatureLevels = 8;

inline constexpr std::array<FieldSpec, 6> kMultilevelRoiAlignFields{{
    {"output_size", FieldType::kINT32, 2},
    {"sampling_ratio", FieldType::kINT32, 1},
    {"aligned", FieldType::kINT32, 1},
    {"spatial_scales", FieldType::kFLOAT32, kVariableLength},
    {"canonical_scale", FieldType::kFLOAT32, 1},
    {"canonical_level", FieldType::kINT32, 1},
}};

//! Defaults are torchvision's MultiScaleRoIAlign as Mask R-CNN's box head builds it.
struct MultilevelRoiAlignParams
{
    std::array<int32_t, 2> outputSize{7, 7};
    int32_t samplingRatio{2};
    int32_t aligned{0};
    std::vector<float> spatialScales{0.25F, 0.125F, 0.0625F, 0.03125F};
    float canonicalScale{224.F};
    int32_t canonicalLevel{4};
};

//! Calls visit(spec, member) for every attribute, in schema order (Params: const or not).
template <typename Params, typename Visit,
    std::enable_if_t<std::is_same_v<std::remove_const_t<Params>, MultilevelRoiAlignParams>, int> = 0>
void visitFields(Params& p, Visit&& visit)
{
    auto const& f = kMultilevelRoiAlignFields;
    visit(f[0], p.outputSize);
    visit(f[1], p.samplingRatio);
    visit(f[2], p.aligned);
    visit(f[3], p.spatialScales);
    visit(f[4], p.canonicalScale);
    visit(f[5], p.canonicalLevel);
}

//! FPN level of the first map, as torchvision's _setup_scales: int(-log2(scale)) in float32.
inline int32_t firstFeatureLevel(MultilevelRoiAlignParams const& p)
{
    return static_cast<int32_t>(-std::log2(p.spatialScales.front()));
}

//! FPN level of the last map: torchvision's k_max, int(-log2(scale)) of the coarsest map.
inline int32_t lastFeatureLevel(MultilevelRoiAlignParams const& p)
{
    return static_cast<int32_t>(-std::log2(p.spatialScales.back()));
}

inline void validate(MultilevelRoiAlignParams const& p)
{
    require(p.outputSize[0] > 0 && p.outputSize[1] > 0, "output_size must be positive");
    require(p.aligned == 0 || p.aligned == 1, "aligned must be 0 or 1");
    require(!p.spatialScales.empty() && static_cast<int32_t>(p.spatialScales.size()) <= kMaxFeatureLevels,
        "spatial_scales needs 1 to " + std::to_string(kMaxFeatureLevels) + " values");
    require(p.canonicalScale > 0.F, "canonical_scale must be positive");
    // torchvision indexes maps by (level - k_min) with k_min, k_max from the first and last scales, so
    // every level in [k_min, k_max] must have a map. Maps past k_max may exist and are never pooled
    // (the light model's extra stride-32 map): scales are powers of two, finest first.
    for (size_t l = 0; l < p.spatialScales.size(); ++l)
    {
        float const s = p.spatialScales[l];
        require(s > 0.F && std::ldexp(1.F, std::ilogb(s)) == s && (l == 0 || s <= p.spatialScales[l - 1]),
            "spatial_scales must be powers of two, finest first (e.g. 0.25,0.125,...)");
    }
    require(lastFeatureLevel(p) - firstFeatureLevel(p) < static_cast<int32_t>(p.spatialScales.size()),
        "spatial_scales skip a level: every level from the first to the last scale needs a map");
}

} // namespace mrcnn_edge
