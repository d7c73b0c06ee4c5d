#pragma once

// BatchedNMS_TRT (IPluginV3): per-category NMS with torchvision.ops.batched_nms semantics, top K,
// padded. Inputs: boxes [B,N,4] float32, scores [B,N] float32, categories [B,N] int32.
// Outputs: num_detections [B] int32, indices [B,K] int32, boxes [B,K,4] float32,
// scores [B,K] float32, classes [B,K] int32.

#include "batched_nms/batched_nms_fields.h"
#include "plugin_base.h"

namespace mrcnn_edge
{

class BatchedNmsPlugin final : public PluginBase<BatchedNmsPlugin, BatchedNmsParams>
{
public:
    using Params = BatchedNmsParams;
    static constexpr char const* kName = kBatchedNmsName;
    static constexpr char const* kVersion = kBatchedNmsVersion;
    static constexpr auto const& kFields = kBatchedNmsFields;

    explicit BatchedNmsPlugin(Params params);

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
};

using BatchedNmsCreator = PluginCreator<BatchedNmsPlugin>;

} // namespace mrcnn_edge
