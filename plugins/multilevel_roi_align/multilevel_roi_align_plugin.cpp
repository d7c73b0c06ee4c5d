#include "multilevel_roi_align/multilevel_roi_align_plugin.h"
#include "multilevel_roi_align/multilevel_roi_align_kernel.h"

#include <string>

using namespace nvinfer1;

namespace mrcnn_edge
{
namespace
{

constexpr int32_t kRois = 0; // input index; maps follow

FeatureType featureType(DataType type)
{
    require(type == DataType::kFLOAT || type == DataType::kHALF, "feature maps must be float32 or float16");
    return type == DataType::kFLOAT ? FeatureType::kFLOAT : FeatureType::kHALF;
}

} // namespace

MultilevelRoiAlignPlugin::MultilevelRoiAlignPlugin(Params params)
    : PluginBase(std::move(params))
{
    validate(mParams);
}

int32_t MultilevelRoiAlignPlugin::numLevels() const
{
    return static_cast<int32_t>(mParams.spatialScales.size());
}

void MultilevelRoiAlignPlugin::checkIo(int32_t nbInputs, int32_t nbOutputs) const
{
    require(nbInputs == 1 + numLevels(),
        "expects rois plus " + std::to_string(numLevels()) + " feature maps (one per spatial_scales entry), got "
            + std::to_string(nbInputs) + " inputs");
    require(nbOutputs == 1, "has one output");
}

int32_t MultilevelRoiAlignPlugin::getNbOutputs() const noexcept
{
    return 1;
}

int32_t MultilevelRoiAlignPlugin::getOutputDataTypes(
    DataType* outputTypes, int32_t nbOutputs, DataType const* inputTypes, int32_t nbInputs) const noexcept
{
    return guarded(kName, -1, [&] {
        checkIo(nbInputs, nbOutputs);
        require(inputTypes[kRois] == DataType::kFLOAT, "rois must be float32");
        featureType(inputTypes[kRois + 1]);
        outputTypes[0] = inputTypes[kRois + 1];
        return 0;
    });
}

int32_t MultilevelRoiAlignPlugin::getOutputShapes(DimsExprs const* inputs, int32_t nbInputs,
    DimsExprs const* /*shapeInputs*/, int32_t /*nbShapeInputs*/, DimsExprs* outputs, int32_t nbOutputs,
    IExprBuilder& exprBuilder) noexcept
{
    return guarded(kName, -1, [&] {
        checkIo(nbInputs, nbOutputs);
        require(inputs[kRois].nbDims == 3, "rois must be [B,R,4]");
        require(inputs[kRois + 1].nbDims == 4, "feature maps must be [B,C,H,W]");
        outputs[0].nbDims = 5;
        outputs[0].d[0] = inputs[kRois].d[0];
        outputs[0].d[1] = inputs[kRois].d[1];
        outputs[0].d[2] = inputs[kRois + 1].d[1];
        outputs[0].d[3] = exprBuilder.constant(mParams.outputSize[0]);
        outputs[0].d[4] = exprBuilder.constant(mParams.outputSize[1]);
        return 0;
    });
}

bool MultilevelRoiAlignPlugin::supportsFormatCombination(
    int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs, int32_t nbOutputs) noexcept
{
    return guarded(kName, false, [&] {
        checkIo(nbInputs, nbOutputs);
        PluginTensorDesc const& desc = inOut[pos].desc;
        if (desc.format != TensorFormat::kLINEAR)
        {
            return false;
        }
        if (pos == kRois)
        {
            return desc.type == DataType::kFLOAT;
        }
        if (pos == kRois + 1)
        {
            return desc.type == DataType::kFLOAT || desc.type == DataType::kHALF;
        }
        return desc.type == inOut[kRois + 1].desc.type; // other maps and the output
    });
}

int32_t MultilevelRoiAlignPlugin::configurePlugin(
    DynamicPluginTensorDesc const* in, int32_t nbInputs, DynamicPluginTensorDesc const* /*out*/,
    int32_t nbOutputs) noexcept
{
    return guarded(kName, -1, [&] {
        checkIo(nbInputs, nbOutputs);
        Dims const& rois = in[kRois].desc.dims;
        require(rois.nbDims == 3 && (rois.d[2] == 4 || rois.d[2] == -1), "rois must be [B,R,4]");
        for (int32_t l = 1; l < nbInputs; ++l)
        {
            require(in[l].desc.dims.nbDims == 4, "feature maps must be [B,C,H,W]");
        }
        return 0;
    });
}

size_t MultilevelRoiAlignPlugin::getWorkspaceSize(DynamicPluginTensorDesc const* /*inputs*/, int32_t /*nbInputs*/,
    DynamicPluginTensorDesc const* /*outputs*/, int32_t /*nbOutputs*/) const noexcept
{
    return 0;
}

int32_t MultilevelRoiAlignPlugin::onShapeChange(
    PluginTensorDesc const* in, int32_t nbInputs, PluginTensorDesc const* /*out*/, int32_t nbOutputs) noexcept
{
    return guarded(kName, -1, [&] {
        checkIo(nbInputs, nbOutputs);
        Dims const& rois = in[kRois].dims;
        require(rois.nbDims == 3 && rois.d[2] == 4, "rois must be [B,R,4]");
        Dims const& first = in[kRois + 1].dims;
        for (int32_t l = 1; l < nbInputs; ++l)
        {
            Dims const& map = in[l].dims;
            require(map.nbDims == 4 && map.d[0] == rois.d[0] && map.d[1] == first.d[1],
                "feature maps must be [B,C,H_l,W_l] with the rois' B and one C");
        }
        return 0;
    });
}

int32_t MultilevelRoiAlignPlugin::enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* /*outputDesc*/,
    void const* const* inputs, void* const* outputs, void* /*workspace*/, cudaStream_t stream) noexcept
{
    return guarded(kName, -1, [&] {
        Dims const& rois = inputDesc[kRois].dims;
        MultilevelRoiAlignArgs args{};
        args.rois = static_cast<float const*>(inputs[kRois]);
        args.output = outputs[0];
        args.type = featureType(inputDesc[kRois + 1].type);
        args.batch = static_cast<int32_t>(rois.d[0]);
        args.numRois = static_cast<int32_t>(rois.d[1]);
        args.channels = static_cast<int32_t>(inputDesc[kRois + 1].dims.d[1]);
        args.outH = mParams.outputSize[0];
        args.outW = mParams.outputSize[1];
        args.samplingRatio = mParams.samplingRatio;
        args.aligned = mParams.aligned != 0;
        args.canonicalScale = mParams.canonicalScale;
        args.canonicalLevel = mParams.canonicalLevel;
        args.kMin = firstFeatureLevel(mParams);
        args.kMax = lastFeatureLevel(mParams);
        args.levels.count = numLevels();
        for (int32_t l = 0; l < numLevels(); ++l)
        {
            args.levels.data[l] = inputs[kRois + 1 + l];
            args.levels.height[l] = static_cast<int32_t>(inputDesc[kRois + 1 + l].dims.d[2]);
            args.levels.width[l] = static_cast<int32_t>(inputDesc[kRois + 1 + l].dims.d[3]);
            args.levels.spatialScale[l] = mParams.spatialScales[l];
        }
        cudaError_t const status = launchMultilevelRoiAlign(args, stream);
        require(status == cudaSuccess, std::string("kernel launch failed: ") + cudaGetErrorString(status));
        return 0;
    });
}

} // namespace mrcnn_edge
