// nvds_core_driver IN OUT: the parser core on a batch of real model outputs (nvds_io.h formats), one
// image at a time as nvinfer calls a parser: each image's tensors at its own offset in the batch
// buffers, dims without the batch axis (nvdsinfer_context_impl.cpp, the loop before parseEachBatch).
// Exit 1 with one line when the core reports an error, 2 on a bad input file.

#include "mrcnn_edge_nvds_core.h"
#include "nvds_io.h"

#include <cstdio>

using namespace mrcnn_edge::nvds;

namespace
{

std::vector<Layer> imageLayers(Batch const& b, int image)
{
    unsigned const K = b.K, H = b.maskHeight, W = b.maskWidth;
    size_t const row = static_cast<size_t>(image) * K;
    return {{"num_detections", DataType::kInt32, {1}, &b.num[image]},
        {"boxes", DataType::kFloat, {K, 4}, &b.boxes[row * 4]}, {"scores", DataType::kFloat, {K}, &b.scores[row]},
        {"classes", DataType::kInt32, {K}, &b.classes[row]},
        {"masks", DataType::kFloat, {K, H, W}, &b.masks[row * H * W]}};
}

} // namespace

int main(int argc, char** argv)
{
    Batch batch;
    if (argc != 3 || !readBatch(argv[1], batch))
    {
        std::fprintf(stderr, "usage: nvds_core_driver OUTPUTS.bin INSTANCES.bin (a readable OUTPUTS.bin)\n");
        return 2;
    }
    Params const params{static_cast<unsigned>(batch.numClasses), batch.thresholds};
    std::FILE* out = std::fopen(argv[2], "wb");
    for (int image = 0; out != nullptr && image < batch.B; ++image)
    {
        std::vector<Instance> instances;
        std::string const error = parseInstances(imageLayers(batch, image), params, instances);
        if (!error.empty())
        {
            std::fprintf(stderr, "image %d: %s\n", image, error.c_str());
            return 1;
        }
        int32_t const n = static_cast<int32_t>(instances.size());
        std::fwrite(&n, sizeof n, 1, out);
        for (Instance const& i : instances)
        {
            float const box[5] = {i.left, i.top, i.width, i.height, i.confidence};
            writeInstance(out, i.classId, box, i.maskWidth, i.maskHeight,
                static_cast<uint32_t>(i.mask.size() * sizeof(float)), i.mask.data());
        }
    }
    return out != nullptr && std::fclose(out) == 0 ? 0 : 2;
}
