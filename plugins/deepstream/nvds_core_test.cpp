// ctest nvds_parser_core: the parser core on hand-made outputs of two images (K=3, 2x2 masks), each
// expected value worked out by hand. tests/serving/test_deepstream_parser.py checks it on real model
// outputs against the Python post-process, and plants bugs in a copy of it.

#include "mrcnn_edge_nvds_core.h"

#include <cstdio>

using namespace mrcnn_edge::nvds;

namespace
{

int gFailures = 0;

void check(bool ok, char const* what)
{
    if (!ok)
    {
        std::printf("FAILED: %s\n", what);
        ++gFailures;
    }
}

// Two images, three rows each; image 1's third row is padding (num_detections 2).
int32_t const kNum[2] = {3, 2};
float const kBoxes[2][3][4] = {{{10, 20, 30, 60}, {0, 0, 5, 5}, {1, 2, 3, 4}}, {{4, 4, 8, 12}, {2, 2, 3, 3}, {9, 9, 9, 9}}};
float const kScores[2][3] = {{0.9F, 0.5F, 0.3F}, {0.8F, 0.4F, 0.99F}};
int32_t const kClasses[2][3] = {{1, 2, 1}, {3, 5, 1}}; // 5: a class the config does not know
float const kMasks[2][3][4] = {{{0.1F, 0.2F, 0.3F, 0.4F}, {0.5F, 0.6F, 0.7F, 0.8F}, {0, 0, 0, 1}},
    {{1, 0, 1, 0}, {0, 1, 0, 1}, {1, 1, 1, 1}}};

std::vector<Layer> image(int b)
{
    return {{"masks", DataType::kFloat, {3, 2, 2}, kMasks[b]}, {"scores", DataType::kFloat, {3}, kScores[b]},
        {"num_detections", DataType::kInt32, {1}, &kNum[b]}, {"boxes", DataType::kFloat, {3, 4}, kBoxes[b]},
        {"classes", DataType::kInt32, {3}, kClasses[b]}};
}

void testThresholdsAndClasses()
{
    std::vector<Instance> out;
    // class ids 0..3 (ours 1..4); class 0 keeps >= 0.3, class 1 needs 0.6
    check(parseInstances(image(0), {4, {0.3F, 0.6F, 0.1F, 0.1F}}, out).empty(), "image 0 parses");
    check(out.size() == 2, "image 0: rows 0 and 2 kept (row 1 below its class's 0.6; 0.3 >= 0.3 kept)");
    if (out.size() == 2)
    {
        check(out[0].classId == 0 && out[0].left == 10 && out[0].top == 20 && out[0].width == 20
                && out[0].height == 40 && out[0].confidence == 0.9F, "row 0: class 0, box 10,20 20x40");
        check(out[0].maskWidth == 2 && out[0].maskHeight == 2 && out[0].mask.size() == 4 && out[0].mask[3] == 0.4F,
            "row 0: its own 2x2 mask");
        check(out[1].confidence == 0.3F && out[1].mask[3] == 1.F, "row 2 second, with its mask");
    }
}

void testPaddingAndUnknownClass()
{
    std::vector<Instance> out;
    check(parseInstances(image(1), {4, {0.1F, 0.1F, 0.1F, 0.1F}}, out).empty(), "image 1 parses");
    check(out.size() == 1 && out[0].classId == 2 && out[0].width == 4 && out[0].height == 8,
        "image 1: class 5 dropped, the padding row (score 0.99) never read");
}

void testBadLayers()
{
    std::vector<Instance> out;
    auto layers = image(0);
    layers.erase(layers.begin() + 2); // num_detections
    check(parseInstances(layers, {4, {0, 0, 0, 0}}, out).find("num_detections") != std::string::npos,
        "a missing layer is named");
    layers = image(0);
    layers[1].type = DataType::kOther;
    check(parseInstances(layers, {4, {0, 0, 0, 0}}, out).find("scores has the wrong data type") != std::string::npos,
        "a wrong type is named");
    layers = image(0);
    layers[0].dims = {2, 2, 2};
    check(parseInstances(layers, {4, {0, 0, 0, 0}}, out).find("masks has dims [2,2,2]") != std::string::npos,
        "masks with another K than boxes");
    int32_t const tooMany = 4;
    layers = image(0);
    layers[2].data = &tooMany;
    check(parseInstances(layers, {4, {0, 0, 0, 0}}, out).find("outside 0..3") != std::string::npos,
        "num_detections past K");
    check(!parseInstances(image(0), {4, {0.1F}}, out).empty(), "fewer thresholds than classes");
    check(out.empty(), "nothing appended on an error");
}

} // namespace

int main()
{
    testThresholdsAndClasses();
    testPaddingAndUnknownClass();
    testBadLayers();
    std::printf(gFailures ? "%d FAILED\n" : "nvds parser core: all passed\n", gFailures);
    return gFailures ? 1 : 0;
}
