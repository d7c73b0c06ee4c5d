#include "batched_nms/batched_nms_plugin.h"
#include "batched_nms/batched_nms_kernel.h"

#include <array>
#include <string>

using namespace nvinfer1;

namespace mrcnn_edge
{
namespace
{

enum Input : int32_t
{
    kBoxes,
    kScores,
    kCategories,
    kNbInputs
};

enum Output : int32_t
{
    kNumDetections,
    kIndices,
    kOutBoxes,
    kOutScores,
    kClasses,
    kNbOutputs
};

//! Data type of every input then every output (position order of supportsFormatCombination).
constexpr std::array<DataType, kNbInputs + kNbOutputs> kIoTypes{DataType::kFLOAT, DataType::kFLOAT,
    DataType::kINT32, DataType::kINT32, DataType::kINT32, DataType::kFLOAT, DataType::kFLOAT, DataType::kINT32};

void checkIo(int32_t nbInputs, int32_t nbOutputs)
{
    require(nbInputs == kNbInputs, "expects boxes, scores and categories");
    require(nbOutputs == kNbOutputs, "has five outputs");
}

} // namespace

BatchedNmsPlugin::BatchedNmsPlugin(Params params)
    : PluginBase(params)
{
    validate(mParams);
}

int32_t BatchedNmsPlugin::getNbOutputs() const noexcept
{
    return kNbOutputs;
}

int32_t BatchedNmsPlugin::getOutputDataTypes(
    DataType* outputTypes, int32_t nbOutputs, DataType const* inputTypes, int32_t nbInputs) const noexcept
{
    return guarded(kName, -1, [&] {
        checkIo(nbInputs, nbOutputs);
        for (int32_t i = 0; i < kNbInputs; ++i)
        {
            require(inputTypes[i] == kIoTypes[i], "inputs must be boxes float32, scores float32, categories int32");
        }
        for (int32_t o = 0; o < kNbOutputs; ++o)
        {
            outputTypes[o] = kIoTypes[kNbInputs + o];
        }
        return 0;
    });
}

int32_t BatchedNmsPlugin::getOutputShapes(DimsExprs const* inputs, int32_t nbInputs,
    DimsExprs const* /*shapeInputs*/, int32_t /*nbShapeInputs*/, DimsExprs* outputs, int32_t nbOutputs,
    IExprBuilder& exprBuilder) noexcept
{
    return guarded(kName, -1, [&] {
        checkIo(nbInputs, nbOutputs);
        require(inputs[kBoxes].nbDims == 3 && inputs[kScores].nbDims == 2 && inputs[kCategories].nbDims == 2,
            "expects boxes [B,N,4], scores [B,N], categories [B,N]");
        IDimensionExpr const* batch = inputs[kBoxes].d[0];
        IDimensionExpr const* k = exprBuilder.constant(mParams.maxOutput);
        outputs[kNumDetections].nbDims = 1;
        outputs[kNumDetections].d[0] = batch;
        for (int32_t o : {kIndices, kOutScores, kClasses})
        {
            outputs[o].nbDims = 2;
            outputs[o].d[0] = batch;
            outputs[o].d[1] = k;
        }
        outputs[kOutBoxes].nbDims = 3;
        outputs[kOutBoxes].d[0] = batch;
        outputs[kOutBoxes].d[1] = k;
        outputs[kOutBoxes].d[2] = exprBuilder.constant(4);
        return 0;
    });
}

bool BatchedNmsPlugin::supportsFormatCombination(
    int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs, int32_t nbOutputs) noexcept
{
    return guarded(kName, false, [&] {
        checkIo(nbInputs, nbOutputs);
        PluginTensorDesc const& desc = inOut[pos].desc;
        return desc.format == TensorFormat::kLINEAR && desc.type == kIoTypes[pos];
    });
}

int32_t BatchedNmsPlugin::configurePlugin(
    DynamicPluginTensorDesc const* in, int32_t nbInputs, DynamicPluginTensorDesc const* /*out*/,
    int32_t nbOutputs) noexcept
{
    return guarded(kName, -1, [&] {
        checkIo(nbInputs, nbOutputs);
        Dims const& boxes = in[kBoxes].desc.dims;
        require(boxes.nbDims == 3 && (boxes.d[2] == 4 || boxes.d[2] == -1), "boxes must be [B,N,4]");
        return 0;
    });
}

size_t BatchedNmsPlugin::getWorkspaceSize(DynamicPluginTensorDesc const* inputs, int32_t nbInputs,
    DynamicPluginTensorDesc const* /*outputs*/, int32_t nbOutputs) const noexcept
{
    return guarded<size_t>(kName, 0, [&] {
        checkIo(nbInputs, nbOutputs);
        Dims const& maxBoxes = inputs[kBoxes].max; // sized for the largest shape of the profile
        return batchedNmsWorkspaceSize(static_cast<int32_t>(maxBoxes.d[0]), static_cast<int32_t>(maxBoxes.d[1]));
    });
}

int32_t BatchedNmsPlugin::onShapeChange(
    PluginTensorDesc const* in, int32_t nbInputs, PluginTensorDesc const* /*out*/, int32_t nbOutputs) noexcept
{
    return guarded(kName, -1, [&] {
        checkIo(nbInputs, nbOutputs);
        Dims const& boxes = in[kBoxes].dims;
        Dims const& scores = in[kScores].dims;
        Dims const& categories = in[kCategories].dims;
        require(boxes.nbDims == 3 && boxes.d[2] == 4 && scores.nbDims == 2 && categories.nbDims == 2
                && scores.d[0] == boxes.d[0] && scores.d[1] == boxes.d[1] && categories.d[0] == boxes.d[0]
                && categories.d[1] == boxes.d[1],
            "expects boxes [B,N,4], scores [B,N], categories [B,N]");
        return 0;
    });
}

int32_t BatchedNmsPlugin::enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* /*outputDesc*/,
    void const* const* inputs, void* const* outputs, void* workspace, cudaStream_t stream) noexcept
{
    return guarded(kName, -1, [&] {
        BatchedNmsArgs args{};
        args.boxes = static_cast<float const*>(inputs[kBoxes]);
        args.scores = static_cast<float const*>(inputs[kScores]);
        args.categories = static_cast<int32_t const*>(inputs[kCategories]);
        args.numDetections = static_cast<int32_t*>(outputs[kNumDetections]);
        args.indices = static_cast<int32_t*>(outputs[kIndices]);
        args.outBoxes = static_cast<float*>(outputs[kOutBoxes]);
        args.outScores = static_cast<float*>(outputs[kOutScores]);
        args.classes = static_cast<int32_t*>(outputs[kClasses]);
        args.batch = static_cast<int32_t>(inputDesc[kBoxes].dims.d[0]);
        args.numBoxes = static_cast<int32_t>(inputDesc[kBoxes].dims.d[1]);
        args.params = mParams;
        cudaError_t const status = launchBatchedNms(args, workspace, stream);
        require(status == cudaSuccess, std::string("kernel launch failed: ") + cudaGetErrorString(status));
        return 0;
    });
}

} // namespace mrcnn_edge
