// libmrcnn_edge_nvds_parser.so: nvinfer's instance-mask parser for mrcnn-edge models.
// config_infer_primary_mrcnn_edge.txt names it: custom-lib-path=<this library>,
// parse-bbox-instance-mask-func-name=NvDsInferParseCustomMrcnnEdge. nvinfer dlopen()s the library and
// dlsym()s the function (DeepStream, "Using a Custom Model with DeepStream"; nvdsinfer_context_impl.cpp
// InstanceSegmentPostprocessor::initResource), then calls it once per image of a batch with that image's
// tensors (dims without the batch axis). All logic is in mrcnn_edge_nvds_core.cpp; this file converts.

#include "mrcnn_edge_nvds_core.h"

#include <nvdsinfer_custom_impl.h>

#include <cstdio>
#include <cstring>

namespace
{

mrcnn_edge::nvds::DataType typeOf(NvDsInferDataType type)
{
    using mrcnn_edge::nvds::DataType;
    return type == FLOAT ? DataType::kFloat : type == INT32 ? DataType::kInt32 : DataType::kOther;
}

std::vector<mrcnn_edge::nvds::Layer> layersOf(std::vector<NvDsInferLayerInfo> const& outputLayersInfo)
{
    std::vector<mrcnn_edge::nvds::Layer> layers;
    for (NvDsInferLayerInfo const& info : outputLayersInfo)
    {
        NvDsInferDims const& dims = info.inferDims;
        layers.push_back({info.layerName ? info.layerName : "", typeOf(info.dataType),
            std::vector<unsigned>(dims.d, dims.d + dims.numDims), info.buffer});
    }
    return layers;
}

//! nvinfer takes ownership of mask and frees it with delete[] (nvdsinfer_context_impl_output_parsing.cpp,
//! releaseFrameOutput); mask_size is in bytes (nvdsinfer.h; gstnvinfer_meta_utils.cpp memcpy()s that many).
NvDsInferInstanceMaskInfo maskInfoOf(mrcnn_edge::nvds::Instance const& instance)
{
    NvDsInferInstanceMaskInfo info{};
    info.classId = instance.classId;
    info.left = instance.left;
    info.top = instance.top;
    info.width = instance.width;
    info.height = instance.height;
    info.detectionConfidence = instance.confidence;
    info.mask = new float[instance.mask.size()];
    std::memcpy(info.mask, instance.mask.data(), instance.mask.size() * sizeof(float));
    info.mask_width = instance.maskWidth;
    info.mask_height = instance.maskHeight;
    info.mask_size = static_cast<unsigned>(instance.mask.size() * sizeof(float));
    return info;
}

} // namespace

// Exported (the library is built with hidden visibility): nvinfer finds it by name with dlsym().
extern "C" __attribute__((visibility("default"))) bool NvDsInferParseCustomMrcnnEdge(std::vector<NvDsInferLayerInfo> const& outputLayersInfo,
    NvDsInferNetworkInfo const& networkInfo, NvDsInferParseDetectionParams const& detectionParams,
    std::vector<NvDsInferInstanceMaskInfo>& objectList)
{
    (void) networkInfo; // boxes are already in network-input pixels, as nvinfer wants them
    try
    {
        mrcnn_edge::nvds::Params const params{
            detectionParams.numClassesConfigured, detectionParams.perClassPreclusterThreshold};
        std::vector<mrcnn_edge::nvds::Instance> instances;
        std::string const error = mrcnn_edge::nvds::parseInstances(layersOf(outputLayersInfo), params, instances);
        if (!error.empty())
        {
            std::fprintf(stderr, "[mrcnn_edge] NvDsInferParseCustomMrcnnEdge: %s\n", error.c_str());
            return false;
        }
        for (auto const& instance : instances)
        {
            objectList.push_back(maskInfoOf(instance));
        }
        return true;
    }
    catch (std::exception const& e) // no exception may cross into nvinfer's C caller
    {
        std::fprintf(stderr, "[mrcnn_edge] NvDsInferParseCustomMrcnnEdge: %s\n", e.what());
        return false;
    }
}

// The prototype check nvdsinfer_custom_impl.h asks every instance-mask parser to make.
CHECK_CUSTOM_INSTANCE_MASK_PARSE_FUNC_PROTOTYPE(NvDsInferParseCustomMrcnnEdge);
