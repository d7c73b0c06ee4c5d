// nvds_parser_harness LIBRARY IN OUT: drives NvDsInferParseCustomMrcnnEdge the way nvinfer does, built
// against DeepStream's own headers (only where they are found), on a batch of real model outputs
// (nvds_io.h formats). It writes the same format as nvds_core_driver, so `cmp` shows the DeepStream
// entry and the plain C++ core agree. What it copies from nvinfer (DeepStream 9.1 sources/libs/nvdsinfer):
// - the library is dlopen()ed and the function found by name with dlsym() (InstanceSegmentPostprocessor::
//   initResource);
// - per image, each output's NvDsInferLayerInfo points at that image's offset in the batch buffer,
//   inferDims.numElements * element size * image (the loop before parseEachBatch); a [B] tensor has
//   inferDims [1] (nvdsinfer_func_utils.cpp SplitFullDims);
// - layers come in the engine's binding order, not the parser's: here deliberately not the contract's;
// - masks are freed with delete[] (releaseFrameOutput).

#include "nvds_io.h"

#include <nvdsinfer_custom_impl.h>

#include <dlfcn.h>

#include <cstdio>

using namespace mrcnn_edge::nvds;

namespace
{

NvDsInferLayerInfo layer(char const* name, NvDsInferDataType type, std::vector<unsigned> const& dims, void* batchBuffer,
    int image, int bindingIndex)
{
    NvDsInferLayerInfo info{};
    info.dataType = type;
    info.inferDims.numDims = static_cast<unsigned>(dims.size());
    info.inferDims.numElements = 1;
    for (size_t i = 0; i < dims.size(); ++i)
    {
        info.inferDims.d[i] = dims[i];
        info.inferDims.numElements *= dims[i];
    }
    info.bindingIndex = bindingIndex;
    info.layerName = name;
    info.buffer = static_cast<uint8_t*>(batchBuffer) + static_cast<size_t>(info.inferDims.numElements) * 4 * image;
    info.isInput = 0;
    return info;
}

std::vector<NvDsInferLayerInfo> imageLayers(Batch& b, int image)
{
    unsigned const K = b.K, H = b.maskHeight, W = b.maskWidth;
    return {layer("masks", FLOAT, {K, H, W}, b.masks.data(), image, 5),
        layer("classes", INT32, {K}, b.classes.data(), image, 4), layer("boxes", FLOAT, {K, 4}, b.boxes.data(), image, 2),
        layer("num_detections", INT32, {1}, b.num.data(), image, 1),
        layer("scores", FLOAT, {K}, b.scores.data(), image, 3)};
}

} // namespace

int main(int argc, char** argv)
{
    Batch batch;
    if (argc != 4 || !readBatch(argv[2], batch))
    {
        std::fprintf(stderr, "usage: nvds_parser_harness LIBRARY OUTPUTS.bin INSTANCES.bin\n");
        return 2;
    }
    void* library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    auto parse = library ? reinterpret_cast<NvDsInferInstanceMaskParseCustomFunc>(
                     dlsym(library, "NvDsInferParseCustomMrcnnEdge"))
                         : nullptr;
    if (parse == nullptr)
    {
        std::fprintf(stderr, "no NvDsInferParseCustomMrcnnEdge in %s: %s\n", argv[1], dlerror());
        return 2;
    }
    NvDsInferNetworkInfo const network{0, 0, 3}; // the parser ignores it: boxes are already in its pixels
    NvDsInferParseDetectionParams params;
    params.numClassesConfigured = static_cast<unsigned>(batch.numClasses);
    params.perClassPreclusterThreshold = batch.thresholds;
    params.perClassPostclusterThreshold.assign(batch.thresholds.size(), 0.F);
    std::FILE* out = std::fopen(argv[3], "wb");
    for (int image = 0; out != nullptr && image < batch.B; ++image)
    {
        std::vector<NvDsInferInstanceMaskInfo> objects;
        if (!parse(imageLayers(batch, image), network, params, objects))
        {
            std::fprintf(stderr, "image %d: the parser returned false\n", image);
            return 1;
        }
        int32_t const n = static_cast<int32_t>(objects.size());
        std::fwrite(&n, sizeof n, 1, out);
        for (NvDsInferInstanceMaskInfo& o : objects)
        {
            float const box[5] = {o.left, o.top, o.width, o.height, o.detectionConfidence};
            writeInstance(out, o.classId, box, o.mask_width, o.mask_height, o.mask_size, o.mask);
            delete[] o.mask;
        }
    }
    return out != nullptr && std::fclose(out) == 0 ? 0 : 2;
}
