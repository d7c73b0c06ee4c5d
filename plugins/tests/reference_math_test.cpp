// Unit tests of the plugins' shared math and CPU references (run by ctest). Known values are
// worked out by hand; the comparisons against torchvision live in tests/plugins (pytest).

#include "batched_nms/batched_nms.cuh"
#include "batched_nms/batched_nms_reference.h"
#include "multilevel_roi_align/multilevel_roi_align.cuh"
#include "multilevel_roi_align/multilevel_roi_align_reference.h"

#include <cmath>
#include <cstdio>
#include <vector>

namespace
{

using namespace mrcnn_edge;

int gFailures = 0;

void check(bool ok, char const* what)
{
    if (!ok)
    {
        std::printf("FAILED: %s\n", what);
        ++gFailures;
    }
}

bool near(float a, float b)
{
    return std::fabs(a - b) <= 1e-6F;
}

void testBilinearTaps()
{
    float const plane[] = {0.F, 1.F, 2.F, 3.F}; // 2x2
    auto sample = [&](float y, float x) {
        BilinearTaps const t = bilinearTaps(2, 2, y, x);
        return t.w[0] * plane[t.pos[0]] + t.w[1] * plane[t.pos[1]] + t.w[2] * plane[t.pos[2]]
            + t.w[3] * plane[t.pos[3]];
    };
    check(near(sample(0.5F, 0.5F), 1.5F), "bilinear centre of 2x2");
    check(near(sample(0.F, 1.F), 1.F), "bilinear on a pixel");
    check(near(sample(-0.5F, -0.5F), 0.F), "bilinear clamps [-1,0) to the border");
    check(near(sample(1.7F, 1.2F), 3.F), "bilinear clamps past the last pixel");
    check(near(sample(-1.5F, 0.F), 0.F), "bilinear is zero beyond one pixel outside");
    check(near(sample(NAN, 0.F), 0.F), "bilinear is zero for NaN coordinates");
}

void testRoiAlignBinOnRamp()
{
    // f(y, x) = x on 8x8: a bin's average is its centre x when samples stay inside the map.
    std::vector<float> ramp(64);
    for (int i = 0; i < 64; ++i)
    {
        ramp[i] = static_cast<float>(i % 8);
    }
    RoiGrid const g = roiGrid(1.F, 1.F, 5.F, 5.F, 1.F, 2, 2, 2, true); // aligned: starts at 0.5
    check(g.gridH == 2 && g.gridW == 2 && near(g.count, 4.F), "fixed sampling grid");
    check(near(roiAlignBin(ramp.data(), 8, 8, g, 0, 0), 1.5F), "ramp bin 0");
    check(near(roiAlignBin(ramp.data(), 8, 8, g, 0, 1), 3.5F), "ramp bin 1");
    RoiGrid const adaptive = roiGrid(0.F, 0.F, 6.F, 3.F, 1.F, 2, 2, 0, false);
    check(adaptive.gridH == 2 && adaptive.gridW == 3, "adaptive grid is ceil(roi / pooled)");
    RoiGrid const inverted = roiGrid(5.F, 5.F, 1.F, 1.F, 1.F, 2, 2, 0, true);
    check(near(roiAlignBin(ramp.data(), 8, 8, inverted, 0, 0), 0.F), "inverted aligned RoI pools zero");
}

void testLevelAssignment()
{
    auto level = [](float side) { return fpnLevelIndex(0.F, 0.F, side, side, 224.F, 4, 2, 5); };
    check(level(224.F) == 2, "224 px -> P4");
    check(level(112.F) == 1, "112 px -> P3");
    check(level(111.9F) == 0, "just under 112 px -> P2");
    check(level(448.F) == 3, "448 px -> P5");
    check(level(0.F) == 0, "zero area clamps to P2");
    check(level(5000.F) == 3, "huge clamps to P5");
    check(fpnLevelIndex(10.F, 0.F, 0.F, 10.F, 224.F, 4, 2, 5) == -1, "negative area matches no level");
}

void testIou()
{
    Box const a{0.F, 0.F, 2.F, 2.F};
    check(near(boxIou(a, a), 1.F), "IoU of a box with itself");
    check(near(boxIou(a, Box{2.F, 0.F, 4.F, 2.F}), 0.F), "touching boxes");
    check(near(boxIou(a, Box{1.F, 0.F, 3.F, 2.F}), 1.F / 3.F), "half overlap");
    check(!suppresses(a, 0, Box{0.F, 0.F, 2.F, 1.F}, 0, 0.5F), "IoU == threshold does not suppress");
    check(!suppresses(a, 0, a, 1, 0.5F), "other category never suppressed");
}

void testNmsSmallCase()
{
    // 0, 1 and 3 are the same box of category 1 (3 ties 0 on score), 2 is the same box of
    // category 2, 4 scores exactly the threshold.
    std::vector<float> const boxes{0, 0, 2, 2, 0, 0, 2, 2, 0, 0, 2, 2, 0, 0, 2, 2, 5, 5, 6, 6};
    std::vector<float> const scores{0.9F, 0.8F, 0.7F, 0.9F, 0.05F};
    std::vector<int32_t> const categories{1, 1, 2, 1, 3};
    BatchedNmsParams const params{0.5F, 0.05F, 3};
    int32_t num = 0;
    std::vector<int32_t> indices(3);
    std::vector<float> outBoxes(12);
    std::vector<float> outScores(3);
    std::vector<int32_t> classes(3);
    batchedNmsReference(params, boxes.data(), scores.data(), categories.data(), 1, 5,
        BatchedNmsOutputs{&num, indices.data(), outBoxes.data(), outScores.data(), classes.data()});
    check(num == 2, "two detections");
    check(indices[0] == 0 && indices[1] == 2 && indices[2] == -1, "tie goes to the lower index; padding -1");
    check(classes[0] == 1 && classes[1] == 2 && classes[2] == 0, "classes and zero padding");
    check(near(outScores[1], 0.7F) && near(outScores[2], 0.F), "scores and zero padding");
}

void testSchemasMatchParams()
{
    auto matches = [](auto params) {
        bool ok = true;
        visitFields(params, [&](FieldSpec const& spec, auto const& member) { ok = ok && memberMatchesSpec(spec, member); });
        return ok;
    };
    check(matches(MultilevelRoiAlignParams{}), "MultilevelRoIAlign schema matches its params");
    check(matches(BatchedNmsParams{}), "BatchedNMS schema matches its params");
    bool threw = false;
    try
    {
        MultilevelRoiAlignParams p;
        p.spatialScales = {0.25F, 0.0625F};
        validate(p);
    }
    catch (std::invalid_argument const&)
    {
        threw = true;
    }
    check(threw, "spatial_scales that skip a level rejected");
}

} // namespace

int main()
{
    testBilinearTaps();
    testRoiAlignBinOnRamp();
    testLevelAssignment();
    testIou();
    testNmsSmallCase();
    testSchemasMatchParams();
    std::printf(gFailures == 0 ? "all reference math tests passed\n" : "%d failure(s)\n", gFailures);
    return gFailures == 0 ? 0 : 1;
}
