// The DeepStream parser's logic in plain C++ (no DeepStream, TensorRT or CUDA headers): one image's
// rows of our output contract (ARCHITECTURE.md: num_detections, boxes, scores, classes, masks) ->
// the instance list nvinfer wants. nvdsinfer_parse_mrcnn_edge.cpp only converts DeepStream's
// structs to and from these; everything that can be wrong is here, where CI tests it.

#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mrcnn_edge
{
namespace nvds
{

enum class DataType
{
    kFloat,
    kInt32,
    kOther
};

//! One output tensor of ONE image, as nvinfer hands it to a parser: its dims without the batch axis
//! (a [B] tensor is [1]: nvdsinfer_func_utils.cpp SplitFullDims) and its buffer at that image's offset.
struct Layer
{
    std::string name;
    DataType type;
    std::vector<unsigned> dims;
    void const* data;
};

//! One detection in nvinfer's terms: a 0-based class id (ours minus one: torchvision's 0 is the
//! background), the box as left/top/width/height in network-input pixels, the MxM mask probabilities.
struct Instance
{
    unsigned classId;
    float left;
    float top;
    float width;
    float height;
    float confidence;
    std::vector<float> mask; // mask_height * mask_width probabilities, row-major
    unsigned maskWidth;
    unsigned maskHeight;
};

//! What nvinfer tells a parser (NvDsInferParseDetectionParams): classes configured and the
//! pre-cluster threshold of each.
struct Params
{
    unsigned numClasses;
    std::vector<float> thresholds;
};

//! Appends one image's detections to out: rows below num_detections, of a configured class, scoring
//! at least their class's threshold, in the model's (score) order. Returns "" or what is wrong.
std::string parseInstances(std::vector<Layer> const& layers, Params const& params, std::vector<Instance>& out);

} // namespace nvds
} // namespace mrcnn_edge
