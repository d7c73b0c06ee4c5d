#include "mrcnn_edge_nvds_core.h"

#include <algorithm>

namespace mrcnn_edge
{
namespace nvds
{
namespace
{

//! The contract's tensors of one image, checked against each other.
struct Rows
{
    int32_t count;
    unsigned K;
    unsigned maskHeight;
    unsigned maskWidth;
    float const* boxes;
    float const* scores;
    int32_t const* classes;
    float const* masks;
};

Layer const* find(std::vector<Layer> const& layers, char const* name)
{
    auto const it = std::find_if(layers.begin(), layers.end(), [&](Layer const& l) { return l.name == name; });
    return it == layers.end() ? nullptr : &*it;
}

std::string dimsText(std::vector<unsigned> const& dims)
{
    std::string text = "[";
    for (size_t i = 0; i < dims.size(); ++i)
    {
        text += (i ? "," : "") + std::to_string(dims[i]);
    }
    return text + "]";
}

//! The layer `name` of type `type` whose dims are `expected` (0: any size there), or an error.
std::string take(std::vector<Layer> const& layers, char const* name, DataType type,
    std::vector<unsigned> const& expected, Layer const*& layer)
{
    layer = find(layers, name);
    if (layer == nullptr)
    {
        return std::string("no output layer named ") + name + ": add it to output-blob-names";
    }
    if (layer->type != type || layer->data == nullptr)
    {
        return std::string(name) + (layer->data ? " has the wrong data type" : " has no host buffer")
            + ": re-export the model with mrcnn-edge (its output contract)";
    }
    bool fits = layer->dims.size() == expected.size();
    for (size_t i = 0; fits && i < expected.size(); ++i)
    {
        fits = expected[i] == 0 ? layer->dims[i] > 0 : layer->dims[i] == expected[i];
    }
    return fits ? "" : std::string(name) + " has dims " + dimsText(layer->dims) + ", expected " + dimsText(expected);
}

std::string readRows(std::vector<Layer> const& layers, Rows& rows)
{
    Layer const *count, *boxes, *scores, *classes, *masks;
    std::string error = take(layers, "boxes", DataType::kFloat, {0, 4}, boxes);
    if (!error.empty())
    {
        return error;
    }
    unsigned const K = boxes->dims[0];
    if (!(error = take(layers, "num_detections", DataType::kInt32, {1}, count)).empty()
        || !(error = take(layers, "scores", DataType::kFloat, {K}, scores)).empty()
        || !(error = take(layers, "classes", DataType::kInt32, {K}, classes)).empty()
        || !(error = take(layers, "masks", DataType::kFloat, {K, 0, 0}, masks)).empty())
    {
        return error;
    }
    rows = {*static_cast<int32_t const*>(count->data), K, masks->dims[1], masks->dims[2],
        static_cast<float const*>(boxes->data), static_cast<float const*>(scores->data),
        static_cast<int32_t const*>(classes->data), static_cast<float const*>(masks->data)};
    if (rows.count < 0 || static_cast<unsigned>(rows.count) > K)
    {
        return "num_detections " + std::to_string(rows.count) + " is outside 0.." + std::to_string(K);
    }
    return "";
}

Instance instanceOf(Rows const& rows, unsigned row, unsigned classId)
{
    float const* box = rows.boxes + 4 * row; // x1, y1, x2, y2 in network-input pixels
    size_t const cells = static_cast<size_t>(rows.maskHeight) * rows.maskWidth;
    float const* mask = rows.masks + cells * row;
    return {classId, box[0], box[1], box[2] - box[0], box[3] - box[1], rows.scores[row],
        std::vector<float>(mask, mask + cells), rows.maskWidth, rows.maskHeight};
}

} // namespace

std::string parseInstances(std::vector<Layer> const& layers, Params const& params, std::vector<Instance>& out)
{
    if (params.thresholds.size() < params.numClasses)
    {
        return "fewer pre-cluster thresholds than num-detected-classes";
    }
    Rows rows{};
    std::string const error = readRows(layers, rows);
    if (!error.empty())
    {
        return error;
    }
    for (unsigned row = 0; row < static_cast<unsigned>(rows.count); ++row)
    {
        // torchvision's class ids are 1-based (0 is the background); nvinfer's index labels.txt from 0.
        int32_t const classId = rows.classes[row] - 1;
        if (classId < 0 || static_cast<unsigned>(classId) >= params.numClasses)
        {
            continue; // nvinfer drops classes it was not configured for (preClusteringThreshold)
        }
        // nvinfer keeps confidence >= the class's threshold (nvdsinfer_custom_impl.h), as our runtime does.
        if (rows.scores[row] >= params.thresholds[classId])
        {
            out.push_back(instanceOf(rows, row, static_cast<unsigned>(classId)));
        }
    }
    return "";
}

} // namespace nvds
} // namespace mrcnn_edge
