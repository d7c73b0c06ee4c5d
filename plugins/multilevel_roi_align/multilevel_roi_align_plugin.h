#pragma once

// MultilevelRoIAlign_TRT (IPluginV3): FPN level assignment + RoIAlign, as torchvision's
// MultiScaleRoIAlign. Inputs: rois [B,R,4] float32, then L maps [B,C,H_l,W_l] (float32 or
// float16, all alike). Output: [B,R,C,out_h,out_w] in the maps' type.

#include "multilevel_roi_align/multilevel_roi_align_fields.h"
#include "plugin_base.h"

namespace mrcnn_edge
{

class MultilevelRoiAlignPlugin final : public PluginBase<MultilevelRoiAlignPlugin, MultilevelRoiAlignParams>
{
public:
    using Params = MultilevelRoiAlignParams;
    static constexpr char const* kName = kMultilevelRoiAlignName;
    static constexpr char const* kVersion = kMultilevelRoiAlignVersion;
    static constexpr auto const& kFields = kMultilevelRoiAlignFields;

    explicit MultilevelRoiAlignPlugin(Params params);

    int32_t getNbOutputs() const noexcept override;
    int32_t getOutputDataTypes(nvinfer1::DataType* outputTypes, int32_t nbOutputs,
        nvinfer1::DataType const* inputTypes, int32_t nbInputs) const noexcept override;
    int32_t getOutputShapes(nvinfer1::DimsExprs const* inputs, int32_t nbInputs,
        nvinfer1::DimsExprs const* shapeInputs, int32_t nbShapeInputs, nvinfer1::DimsExprs* outputs,
        int32_t nbOutputs, nvinfer1::IExprBuilder& exprBuilder) noexcept override;
    bool supportsFormatCombination(int32_t pos, nvinfer1::DynamicPluginTensorDesc const* inOut, int32_t nbInputs,
        int32_t nbOutputs) noexcept override;
    int32_t configurePlugin(nvinfer1::DynamicPluginTensorDesc const* in, int32_t nbInputs,
        nvinfer1::DynamicPluginTensorDesc const* out, int32_t nbOutputs) noexcept override;
    size_t getWorkspaceSize(nvinfer1::DynamicPluginTensorDesc const* inputs, int32_t nbInputs,
        nvinfer1::DynamicPluginTensorDesc const* outputs, int32_t nbOutputs) const noexcept override;

    int32_t onShapeChange(nvinfer1::PluginTensorDesc const* in, int32_t nbInputs,
        nvinfer1::PluginTensorDesc const* out, int32_t nbOutputs) noexcept override;
    int32_t enqueue(nvinfer1::PluginTensorDesc const* inputDesc, nvinfer1::PluginTensorDesc const* outputDesc,
        void const* const* inputs, void* const* outputs, void* workspace, cudaStream_t stream) noexcept override;

private:
    int32_t numLevels() const;
    void checkIo(int32_t nbInputs, int32_t nbOutputs) const;
};

using MultilevelRoiAlignCreator = PluginCreator<MultilevelRoiAlignPlugin>;

} // namespace mrcnn_edge
