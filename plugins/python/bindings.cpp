// mrcnn_edge._plugin_ref: the plugins for Python (tests, CPU execution of model.trt.onnx), in two
// implementations: the CPU references, and the CUDA kernels themselves executed on the CPU by
// plugins/cpu_exec (--plugin-impl kernels). numpy contiguous arrays in and out; the GIL is released
// while they run.

#include "batched_nms/batched_nms_kernel.h"
#include "batched_nms/batched_nms_reference.h"
#include "multilevel_roi_align/multilevel_roi_align_kernel.h"
#include "multilevel_roi_align/multilevel_roi_align_reference.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace py = pybind11;
using namespace mrcnn_edge;

namespace
{

template <typename T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <typename T>
void requireShape(CArray<T> const& a, std::vector<py::ssize_t> const& shape, char const* name)
{
    bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
    for (size_t d = 0; ok && d < shape.size(); ++d)
    {
        ok = shape[d] < 0 || a.shape(d) == shape[d];
    }
    if (!ok)
    {
        throw py::value_error(std::string("unexpected shape for ") + name);
    }
}

MultilevelRoiAlignParams roiAlignParams(std::vector<float> spatialScales, std::tuple<int32_t, int32_t> outputSize,
    int32_t samplingRatio, bool aligned, float canonicalScale, int32_t canonicalLevel)
{
    MultilevelRoiAlignParams p;
    p.outputSize = {std::get<0>(outputSize), std::get<1>(outputSize)};
    p.samplingRatio = samplingRatio;
    p.aligned = aligned ? 1 : 0;
    p.spatialScales = std::move(spatialScales);
    p.canonicalScale = canonicalScale;
    p.canonicalLevel = canonicalLevel;
    return p;
}

py::array_t<float> multilevelRoiAlign(CArray<float> rois, std::vector<CArray<float>> features,
    std::vector<float> spatialScales, std::tuple<int32_t, int32_t> outputSize, int32_t samplingRatio, bool aligned,
    float canonicalScale, int32_t canonicalLevel)
{
    MultilevelRoiAlignParams const p
        = roiAlignParams(std::move(spatialScales), outputSize, samplingRatio, aligned, canonicalScale, canonicalLevel);
    requireShape(rois, {-1, -1, 4}, "rois");
    if (features.empty())
    {
        throw py::value_error("need at least one feature map");
    }
    auto const B = static_cast<int32_t>(rois.shape(0));
    auto const R = static_cast<int32_t>(rois.shape(1));
    auto const C = static_cast<int32_t>(features[0].shape(1));
    std::vector<FeatureMap> levels;
    for (auto const& f : features)
    {
        requireShape(f, {B, C, -1, -1}, "features");
        levels.push_back({f.data(), static_cast<int32_t>(f.shape(2)), static_cast<int32_t>(f.shape(3))});
    }
    py::array_t<float> out({B, R, C, p.outputSize[0], p.outputSize[1]});
    float* o = out.mutable_data();
    {
        py::gil_scoped_release release;
        multilevelRoiAlignReference(p, rois.data(), B, R, C, levels, o);
    }
    return out;
}

py::array_t<float> roiAlign(CArray<float> features, CArray<float> rois, float spatialScale,
    std::tuple<int32_t, int32_t> outputSize, int32_t samplingRatio, bool aligned)
{
    requireShape(features, {-1, -1, -1, -1}, "features");
    requireShape(rois, {-1, 5}, "rois");
    auto const [outH, outW] = outputSize;
    auto const R = static_cast<int32_t>(rois.shape(0));
    auto const C = static_cast<int32_t>(features.shape(1));
    py::array_t<float> out({R, C, outH, outW});
    float* o = out.mutable_data();
    {
        py::gil_scoped_release release;
        roiAlignReference(features.data(), static_cast<int32_t>(features.shape(0)), C,
            static_cast<int32_t>(features.shape(2)), static_cast<int32_t>(features.shape(3)), rois.data(), R,
            spatialScale, outH, outW, samplingRatio, aligned, o);
    }
    return out;
}

//! Checks the inputs, makes the outputs and runs one implementation, run(B, N, outputs), on them.
template <typename Run>
py::tuple batchedNmsWith(CArray<float> const& boxes, CArray<float> const& scores, CArray<int32_t> const& categories,
    BatchedNmsParams const& p, Run&& run)
{
    validate(p);
    requireShape(boxes, {-1, -1, 4}, "boxes");
    auto const B = static_cast<int32_t>(boxes.shape(0));
    auto const N = static_cast<int32_t>(boxes.shape(1));
    requireShape(scores, {B, N}, "scores");
    requireShape(categories, {B, N}, "categories");
    py::array_t<int32_t> num({B});
    py::array_t<int32_t> indices({B, p.maxOutput});
    py::array_t<float> outBoxes({B, p.maxOutput, 4});
    py::array_t<float> outScores({B, p.maxOutput});
    py::array_t<int32_t> classes({B, p.maxOutput});
    BatchedNmsOutputs const out{num.mutable_data(), indices.mutable_data(), outBoxes.mutable_data(),
        outScores.mutable_data(), classes.mutable_data()};
    run(B, N, out);
    return py::make_tuple(num, indices, outBoxes, outScores, classes);
}

py::tuple batchedNms(CArray<float> boxes, CArray<float> scores, CArray<int32_t> categories, float iouThreshold,
    float scoreThreshold, int32_t maxOutput)
{
    BatchedNmsParams const p{iouThreshold, scoreThreshold, maxOutput};
    return batchedNmsWith(boxes, scores, categories, p, [&](int32_t B, int32_t N, BatchedNmsOutputs const& out) {
        py::gil_scoped_release release;
        batchedNmsReference(p, boxes.data(), scores.data(), categories.data(), B, N, out);
    });
}

// --- the kernels, on the CPU execution layer ------------------------------------------------------

void requireLaunched(cudaError_t status, char const* kernel)
{
    cudaError_t const last = cudaGetLastError();
    cudaError_t const error = status != cudaSuccess ? status : last;
    if (error != cudaSuccess)
    {
        throw std::runtime_error(std::string(kernel) + " kernel failed: " + cudaGetErrorString(error));
    }
}

//! features: float32 or float16 [B,C,H_l,W_l], C-contiguous, one dtype for all (the plugin's
//! FeatureType). The output has their dtype, as the plugin's.
py::array multilevelRoiAlignKernels(CArray<float> rois, std::vector<py::array> features,
    std::vector<float> spatialScales, std::tuple<int32_t, int32_t> outputSize, int32_t samplingRatio, bool aligned,
    float canonicalScale, int32_t canonicalLevel)
{
    MultilevelRoiAlignParams const p
        = roiAlignParams(std::move(spatialScales), outputSize, samplingRatio, aligned, canonicalScale, canonicalLevel);
    validate(p);
    requireShape(rois, {-1, -1, 4}, "rois");
    if (features.empty() || features.size() != p.spatialScales.size())
    {
        throw py::value_error("need one feature map per spatial scale");
    }
    py::dtype const dtype = features[0].dtype();
    bool const half = dtype.is(py::dtype("float16"));
    if (!half && !dtype.is(py::dtype::of<float>()))
    {
        throw py::value_error("feature maps must be float32 or float16");
    }
    MultilevelRoiAlignArgs args{};
    args.batch = static_cast<int32_t>(rois.shape(0));
    args.numRois = static_cast<int32_t>(rois.shape(1));
    args.channels = static_cast<int32_t>(features[0].shape(1));
    for (size_t l = 0; l < features.size(); ++l)
    {
        py::array const& f = features[l];
        if (!f.dtype().is(dtype) || !(f.flags() & py::array::c_style) || f.ndim() != 4 || f.shape(0) != args.batch
            || f.shape(1) != args.channels)
        {
            throw py::value_error("feature maps must be C-contiguous [B,C,H,W] of one dtype, B and C as rois/level 0");
        }
        args.levels.data[l] = f.data();
        args.levels.height[l] = static_cast<int32_t>(f.shape(2));
        args.levels.width[l] = static_cast<int32_t>(f.shape(3));
        args.levels.spatialScale[l] = p.spatialScales[l];
    }
    args.levels.count = static_cast<int32_t>(features.size());
    args.rois = rois.data();
    args.type = half ? FeatureType::kHALF : FeatureType::kFLOAT;
    args.outH = p.outputSize[0];
    args.outW = p.outputSize[1];
    args.samplingRatio = p.samplingRatio;
    args.aligned = aligned;
    args.canonicalScale = p.canonicalScale;
    args.canonicalLevel = p.canonicalLevel;
    args.kMin = firstFeatureLevel(p);
    args.kMax = lastFeatureLevel(p);
    py::array out(dtype, std::vector<py::ssize_t>{args.batch, args.numRois, args.channels, args.outH, args.outW});
    args.output = out.mutable_data();
    cudaError_t status;
    {
        py::gil_scoped_release release;
        status = launchMultilevelRoiAlign(args, nullptr);
    }
    requireLaunched(status, "MultilevelRoIAlign");
    return out;
}

//! Device memory of the CPU execution layer (the kernels' workspace), freed on scope exit.
struct Workspace
{
    void* ptr = nullptr;
    explicit Workspace(size_t bytes)
    {
        if (cudaMalloc(&ptr, bytes) != cudaSuccess)
        {
            throw std::bad_alloc();
        }
    }
    Workspace(Workspace const&) = delete;
    Workspace& operator=(Workspace const&) = delete;
    ~Workspace()
    {
        cudaFree(ptr);
    }
};

py::tuple batchedNmsKernels(CArray<float> boxes, CArray<float> scores, CArray<int32_t> categories,
    float iouThreshold, float scoreThreshold, int32_t maxOutput)
{
    BatchedNmsParams const p{iouThreshold, scoreThreshold, maxOutput};
    return batchedNmsWith(boxes, scores, categories, p, [&](int32_t B, int32_t N, BatchedNmsOutputs const& out) {
        BatchedNmsArgs const args{boxes.data(), scores.data(), categories.data(), out.numDetections, out.indices,
            out.boxes, out.scores, out.classes, B, N, p};
        Workspace workspace(batchedNmsWorkspaceSize(B, N));
        cudaError_t status;
        {
            py::gil_scoped_release release;
            status = launchBatchedNms(args, workspace.ptr, nullptr);
        }
        requireLaunched(status, "BatchedNMS");
    });
}

template <size_t N>
py::list fieldList(std::array<FieldSpec, N> const& fields)
{
    py::list out;
    for (FieldSpec const& f : fields)
    {
        char const* type = f.type == FieldType::kINT32 ? "int32" : "float32";
        std::optional<int32_t> length;
        if (f.length != kVariableLength)
        {
            length = f.length;
        }
        out.append(py::make_tuple(f.name, type, length));
    }
    return out;
}

py::list pluginFields(std::string const& opName)
{
    if (opName == kMultilevelRoiAlignName)
    {
        return fieldList(kMultilevelRoiAlignFields);
    }
    if (opName == kBatchedNmsName)
    {
        return fieldList(kBatchedNmsFields);
    }
    throw py::value_error("unknown plugin op: " + opName);
}

} // namespace

PYBIND11_MODULE(_plugin_ref, m)
{
    m.doc() = "CPU references of the mrcnn-edge TensorRT plugins";
    py::register_exception<std::invalid_argument>(m, "PluginArgumentError", PyExc_ValueError);
    m.def("multilevel_roi_align", &multilevelRoiAlign, py::arg("rois"), py::arg("features"),
        py::arg("spatial_scales"), py::arg("output_size"), py::arg("sampling_ratio"), py::arg("aligned"),
        py::arg("canonical_scale") = 224.F, py::arg("canonical_level") = 4,
        "rois [B,R,4], features list of [B,C,H_l,W_l] -> [B,R,C,out_h,out_w] (MultilevelRoIAlign_TRT)");
    m.def("roi_align", &roiAlign, py::arg("features"), py::arg("rois"), py::arg("spatial_scale"),
        py::arg("output_size"), py::arg("sampling_ratio"), py::arg("aligned"),
        "torchvision.ops.roi_align: features [B,C,H,W], rois [R,5] -> [R,C,out_h,out_w]");
    m.def("batched_nms", &batchedNms, py::arg("boxes"), py::arg("scores"), py::arg("categories"),
        py::arg("iou_threshold"), py::arg("score_threshold"), py::arg("max_output"),
        "-> (num_detections [B], indices [B,K], boxes [B,K,4], scores [B,K], classes [B,K]) (BatchedNMS_TRT)");
    m.def("multilevel_roi_align_kernels", &multilevelRoiAlignKernels, py::arg("rois"), py::arg("features"),
        py::arg("spatial_scales"), py::arg("output_size"), py::arg("sampling_ratio"), py::arg("aligned"),
        py::arg("canonical_scale") = 224.F, py::arg("canonical_level") = 4,
        "as multilevel_roi_align, by the CUDA kernel executed on the CPU; float32 or float16 features");
    m.def("batched_nms_kernels", &batchedNmsKernels, py::arg("boxes"), py::arg("scores"), py::arg("categories"),
        py::arg("iou_threshold"), py::arg("score_threshold"), py::arg("max_output"),
        "as batched_nms, by the CUDA kernels (and the CUB sort's contract) executed on the CPU");
    m.def("plugin_fields", &pluginFields, py::arg("op_name"),
        "Attribute schema of a plugin op: list of (name, 'int32'|'float32', length or None)");
    m.attr("MULTILEVEL_ROI_ALIGN") = kMultilevelRoiAlignName;
    m.attr("BATCHED_NMS") = kBatchedNmsName;
}
