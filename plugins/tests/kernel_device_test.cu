// The CUDA kernels against their CPU references, on Mask R-CNN-sized inputs and on the edge cases
// a Mask R-CNN graph produces; also times each kernel with CUDA events. Two builds of this one file:
//   - nvcc, on a GPU (ctest kernel_device; benchmarks/device_check.sh). Without a GPU it exits 77,
//     which ctest reports as skipped (SKIP_RETURN_CODE).
//   - the host compiler, against the CPU execution layer (plugins/cpu_exec; ctest kernels_on_cpu):
//     the same kernel sources, executed on the CPU, with --exact (the kernels and the references
//     are then the same compiler's code on the same values: every output must be bit-identical).
//
//   kernel_device_test [--json PATH] [--iterations N] [--exact] [--quick] [--fail-fast]
//     --iterations 0: no timing.  --quick: fewer RoIs, channels and boxes (the mutation test).
//
// MultilevelRoIAlign: 1000 RPN-like RoIs per image (batch 2) on P2-P5 of an 800x1344 frame
// (200x336 ... 25x42, 256 channels), box head 7x7 (fp32/fp16 x aligned 0/1 x sampling 0/2) and
// mask head 14x14 (100 RoIs). RoIs within 1e-4 of an FPN level boundary are not drawn: the device
// log2f may put those on the neighbouring level (multilevel_roi_align/README.md).
// BatchedNMS: 4000 boxes per image, 80 classes, scores on a 1/256 grid and duplicated boxes (many
// exact ties), K=100; and an RPN-like case (5 levels as categories, IoU 0.7, K=1000, a quarter
// of the scores tied at 0.9).
// Edge cases: non-square and 1x1 outputs; inside-out, zero-width and off-frame RoIs; R = 0 and
// N = 0; K > N; NaN, +-inf and -0.0 scores; batch 2 with a different count in each image; grids
// capped below the element count (the grid-stride loops iterate); a reused, dirty workspace; and
// the launch limits (a GPU's errors for too many threads, too large a grid, too much shared memory).
// Exit: 0 all within tolerance, 1 a mismatch or CUDA error, 77 no CUDA device.

#include "batched_nms/batched_nms_kernel.h"
#include "launch.cuh"
#include "batched_nms/batched_nms_reference.h"
#include "multilevel_roi_align/multilevel_roi_align.cuh"
#include "multilevel_roi_align/multilevel_roi_align_kernel.h"
#include "multilevel_roi_align/multilevel_roi_align_reference.h"

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace
{

using namespace mrcnn_edge;

constexpr int kSkipped = 77;
constexpr int32_t kBatch = 2;
constexpr int32_t kImageH = 800;
constexpr int32_t kImageW = 1344;
constexpr int32_t kLevels = 4; // P2..P5, strides 4..32

struct Options
{
    char const* jsonPath = nullptr;
    int32_t iterations = 20;
    bool exact = false;
    bool quick = false;
    bool failFast = false;
};
Options gOptions;

struct CudaError
{
    std::string what;
};

void cudaCheck(cudaError_t status, char const* what)
{
    if (status != cudaSuccess)
    {
        throw CudaError{std::string(what) + ": " + cudaGetErrorString(status)};
    }
}

//! Small deterministic generator (xorshift64*): the inputs are the same on every machine.
class Random
{
public:
    explicit Random(uint64_t seed)
        : mState(seed * 0x9E3779B97F4A7C15ULL + 1)
    {
    }
    uint64_t next()
    {
        mState ^= mState >> 12;
        mState ^= mState << 25;
        mState ^= mState >> 27;
        return mState * 0x2545F4914F6CDD1DULL;
    }
    float uniform(float lo, float hi)
    {
        return lo + (hi - lo) * static_cast<float>(next() >> 40) / static_cast<float>(1 << 24);
    }
    int32_t below(int32_t n)
    {
        return static_cast<int32_t>(next() % static_cast<uint64_t>(n));
    }

private:
    uint64_t mState;
};

template <typename T>
struct DeviceBuffer
{
    T* ptr = nullptr;
    explicit DeviceBuffer(size_t count)
    {
        cudaCheck(cudaMalloc(&ptr, std::max<size_t>(count, 1) * sizeof(T)), "cudaMalloc");
    }
    DeviceBuffer(DeviceBuffer const&) = delete;
    DeviceBuffer& operator=(DeviceBuffer const&) = delete;
    ~DeviceBuffer()
    {
        cudaFree(ptr);
    }
};

template <typename T>
void upload(DeviceBuffer<T>& dst, std::vector<T> const& src)
{
    cudaCheck(cudaMemcpy(dst.ptr, src.data(), src.size() * sizeof(T), cudaMemcpyHostToDevice), "upload");
}

template <typename T>
std::vector<T> download(void const* src, size_t count)
{
    std::vector<T> dst(count);
    cudaCheck(cudaMemcpy(dst.data(), src, count * sizeof(T), cudaMemcpyDeviceToHost), "download");
    return dst;
}

template <typename T>
std::vector<T> download(DeviceBuffer<T> const& src, size_t count)
{
    return download<T>(src.ptr, count);
}

struct Timing
{
    double medianMs;
    double minMs;
};

//! Runs launch warmup + iterations times, each between two events; launch returns a cudaError_t.
template <typename Launch>
Timing timeKernel(Launch&& launch, int32_t iterations)
{
    if (iterations == 0)
    {
        return {0.0, 0.0};
    }
    for (int32_t i = 0; i < 2; ++i)
    {
        cudaCheck(launch(), "warm-up launch");
    }
    cudaCheck(cudaDeviceSynchronize(), "warm-up");
    std::vector<cudaEvent_t> events(2 * static_cast<size_t>(iterations));
    for (cudaEvent_t& e : events)
    {
        cudaCheck(cudaEventCreate(&e), "cudaEventCreate");
    }
    for (int32_t i = 0; i < iterations; ++i)
    {
        cudaCheck(cudaEventRecord(events[2 * i]), "cudaEventRecord");
        cudaCheck(launch(), "timed launch");
        cudaCheck(cudaEventRecord(events[2 * i + 1]), "cudaEventRecord");
    }
    cudaCheck(cudaDeviceSynchronize(), "timed launches");
    std::vector<double> ms(iterations);
    for (int32_t i = 0; i < iterations; ++i)
    {
        float elapsed = 0.F;
        cudaCheck(cudaEventElapsedTime(&elapsed, events[2 * i], events[2 * i + 1]), "cudaEventElapsedTime");
        ms[i] = elapsed;
    }
    for (cudaEvent_t e : events)
    {
        cudaEventDestroy(e);
    }
    std::sort(ms.begin(), ms.end());
    return {ms[ms.size() / 2], ms.front()};
}

struct CaseResult
{
    std::string kernel;
    std::string name;
    double maxAbsError;
    double tolerance;
    int64_t mismatches; //!< elements beyond tolerance (NMS: differing output elements)
    Timing timing;
    bool passed() const
    {
        return mismatches == 0;
    }
};

// --- MultilevelRoIAlign ---------------------------------------------------------------------------

struct Pyramid
{
    int32_t batch;
    int32_t channels;
    std::vector<std::vector<float>> maps; //!< [B,C,H_l,W_l], values exactly representable in fp16
    std::vector<int32_t> height;
    std::vector<int32_t> width;
};

Pyramid makePyramid(Random& random, int32_t batch, int32_t channels, int32_t imageH, int32_t imageW)
{
    Pyramid p{batch, channels, {}, {}, {}};
    for (int32_t l = 0; l < kLevels; ++l)
    {
        int32_t const stride = 4 << l;
        p.height.push_back(imageH / stride);
        p.width.push_back(imageW / stride);
        std::vector<float> map(static_cast<size_t>(batch) * channels * p.height[l] * p.width[l]);
        for (float& v : map)
        {
            v = __half2float(__float2half(random.uniform(-1.F, 1.F))); // fp16 maps hold the same values
        }
        p.maps.push_back(std::move(map));
    }
    return p;
}

//! x1,y1,x2,y2 like RPN proposals: log-uniform sides 8..800 px, aspect 1:2..2:1, clipped to the
//! frame, none within 1e-4 of an FPN level boundary.
std::vector<float> makeRois(Random& random, int32_t perImage, MultilevelRoiAlignParams const& params)
{
    std::vector<float> rois;
    while (static_cast<int32_t>(rois.size()) < 4 * kBatch * perImage)
    {
        float const side = std::exp(random.uniform(std::log(8.F), std::log(800.F)));
        float const aspect = std::exp(random.uniform(std::log(0.5F), std::log(2.F)));
        float const w = side * std::sqrt(aspect);
        float const h = side / std::sqrt(aspect);
        float const cx = random.uniform(0.F, kImageW);
        float const cy = random.uniform(0.F, kImageH);
        float const box[4] = {std::max(0.F, cx - w / 2), std::max(0.F, cy - h / 2),
            std::min<float>(kImageW, cx + w / 2), std::min<float>(kImageH, cy + h / 2)};
        float const area = (box[2] - box[0]) * (box[3] - box[1]);
        float const level
            = static_cast<float>(params.canonicalLevel) + std::log2(std::sqrt(area) / params.canonicalScale) + 1e-6F;
        if (std::fabs(level - std::round(level)) < 1e-4F)
        {
            continue;
        }
        rois.insert(rois.end(), box, box + 4);
    }
    return rois;
}

//! CPU reference, the RoIs split over the host's cores.
std::vector<float> roiAlignReference(MultilevelRoiAlignParams const& params, Pyramid const& p,
    std::vector<float> const& rois, int32_t perImage)
{
    size_t const roiSize = static_cast<size_t>(p.channels) * params.outputSize[0] * params.outputSize[1];
    std::vector<float> out(static_cast<size_t>(p.batch) * perImage * roiSize);
    if (perImage == 0)
    {
        return out;
    }
    int32_t const chunks = std::clamp(static_cast<int32_t>(std::thread::hardware_concurrency()) / p.batch, 1, 16);
    int32_t const chunk = (perImage + chunks - 1) / chunks;
    std::vector<std::thread> threads;
    for (int32_t b = 0; b < p.batch; ++b)
    {
        for (int32_t first = 0; first < perImage; first += chunk)
        {
            threads.emplace_back([&, b, first] {
                std::vector<FeatureMap> levels;
                for (int32_t l = 0; l < kLevels; ++l)
                {
                    size_t const image = static_cast<size_t>(p.channels) * p.height[l] * p.width[l];
                    levels.push_back({p.maps[l].data() + b * image, p.height[l], p.width[l]});
                }
                size_t const roi = static_cast<size_t>(b) * perImage + first;
                multilevelRoiAlignReference(params, rois.data() + 4 * roi, 1, std::min(chunk, perImage - first),
                    p.channels, levels, out.data() + roi * roiSize);
            });
        }
    }
    for (std::thread& t : threads)
    {
        t.join();
    }
    return out;
}

std::vector<__half> toHalf(std::vector<float> const& v)
{
    std::vector<__half> h(v.size());
    std::transform(v.begin(), v.end(), h.begin(), [](float x) { return __float2half(x); });
    return h;
}

//! The bits of a float, or of its fp16 rounding: --exact compares these.
uint32_t bitsOf(float x, bool half)
{
    if (half)
    {
        __half const h = __float2half(x);
        uint16_t b;
        std::memcpy(&b, &h, sizeof(b));
        return b;
    }
    uint32_t b;
    std::memcpy(&b, &x, sizeof(b));
    return b;
}

struct RoiAlignCase
{
    std::string name;
    bool half;
    MultilevelRoiAlignParams params;
    Pyramid const* pyramid;
    std::vector<float> rois; //!< [B,R,4]
    int32_t perImage;
    uint32_t maxBlocks = 65535 * 8;
};

CaseResult runRoiAlign(RoiAlignCase const& c)
{
    Pyramid const& p = *c.pyramid;
    MultilevelRoiAlignParams const& params = c.params;
    std::vector<float> const expected = roiAlignReference(params, p, c.rois, c.perImage);

    MultilevelRoiAlignArgs args{};
    DeviceBuffer<float> dRois(c.rois.size());
    upload(dRois, c.rois);
    std::vector<std::unique_ptr<DeviceBuffer<float>>> mapsF;
    std::vector<std::unique_ptr<DeviceBuffer<__half>>> mapsH;
    for (int32_t l = 0; l < kLevels; ++l)
    {
        if (c.half)
        {
            mapsH.push_back(std::make_unique<DeviceBuffer<__half>>(p.maps[l].size()));
            upload(*mapsH.back(), toHalf(p.maps[l]));
            args.levels.data[l] = mapsH.back()->ptr;
        }
        else
        {
            mapsF.push_back(std::make_unique<DeviceBuffer<float>>(p.maps[l].size()));
            upload(*mapsF.back(), p.maps[l]);
            args.levels.data[l] = mapsF.back()->ptr;
        }
        args.levels.height[l] = p.height[l];
        args.levels.width[l] = p.width[l];
        args.levels.spatialScale[l] = params.spatialScales[l];
    }
    args.levels.count = kLevels;
    size_t const elementBytes = c.half ? sizeof(__half) : sizeof(float);
    DeviceBuffer<char> dOut(expected.size() * elementBytes);
    args.rois = dRois.ptr;
    args.output = dOut.ptr;
    args.type = c.half ? FeatureType::kHALF : FeatureType::kFLOAT;
    args.batch = p.batch;
    args.numRois = c.perImage;
    args.channels = p.channels;
    args.outH = params.outputSize[0];
    args.outW = params.outputSize[1];
    args.samplingRatio = params.samplingRatio;
    args.aligned = params.aligned != 0;
    args.canonicalScale = params.canonicalScale;
    args.canonicalLevel = params.canonicalLevel;
    args.kMin = firstFeatureLevel(params);
    args.kMax = lastFeatureLevel(params);

    cudaCheck(cudaMemset(dOut.ptr, 0xFF, expected.size() * elementBytes), "cudaMemset"); // NaN if unwritten
    cudaCheck(launchMultilevelRoiAlign(args, nullptr, c.maxBlocks), "launchMultilevelRoiAlign");
    cudaCheck(cudaDeviceSynchronize(), "MultilevelRoIAlign");
    std::vector<float> actual(expected.size());
    if (c.half)
    {
        std::vector<__half> const h = download<__half>(dOut.ptr, expected.size());
        std::transform(h.begin(), h.end(), actual.begin(), [](__half x) { return __half2float(x); });
    }
    else
    {
        actual = download<float>(dOut.ptr, expected.size());
    }
    // fp32: nvcc contracts multiply-adds (FMA), which moves sample points by an ulp or two of the
    // coordinate (3e-5 px at x = 336) times this noise map's gradient (up to 2 per px); any
    // indexing or level error is orders of magnitude larger. fp16: both sides read the same values
    // (the maps are fp16-exact); the output is rounded once to fp16 (half an ulp: 2.4e-4 below 1),
    // and the FMA difference can tip that rounding by one ulp more. --exact: the same compiler's
    // code on both sides, so the bits must agree (fp16: with the reference rounded once to fp16).
    CaseResult r{"MultilevelRoIAlign", c.name, 0.0, gOptions.exact ? 0.0 : (c.half ? 1e-3 : 5e-4), 0, {}};
    for (size_t i = 0; i < expected.size(); ++i)
    {
        double const error = std::fabs(static_cast<double>(actual[i]) - expected[i]);
        bool const ok = gOptions.exact ? bitsOf(actual[i], c.half) == bitsOf(expected[i], c.half)
                                       : error <= r.tolerance; // NaN counts
        r.mismatches += ok ? 0 : 1;
        r.maxAbsError = std::isnan(error) ? error : std::max(r.maxAbsError, error);
    }
    r.timing = timeKernel([&] { return launchMultilevelRoiAlign(args, nullptr, c.maxBlocks); }, gOptions.iterations);
    return r;
}

// --- BatchedNMS --------------------------------------------------------------------------------------

struct NmsInputs
{
    std::vector<float> boxes;
    std::vector<float> scores;
    std::vector<int32_t> categories;
};

//! Box-head-like: boxes around 150 objects on a 0.5 px grid (exact IoU arithmetic on both sides),
//! 80 classes, scores on a 1/256 grid, one box in ten an exact copy of an earlier one.
NmsInputs boxHeadInputs(Random& random, int32_t n)
{
    NmsInputs in;
    for (int32_t b = 0; b < kBatch; ++b)
    {
        std::vector<float> objects;
        for (int32_t o = 0; o < 150; ++o)
        {
            float const w = std::round(random.uniform(16.F, 400.F));
            float const h = std::round(random.uniform(16.F, 400.F));
            float const x = std::round(random.uniform(0.F, kImageW - w));
            float const y = std::round(random.uniform(0.F, kImageH - h));
            objects.insert(objects.end(), {x, y, x + w, y + h});
        }
        for (int32_t i = 0; i < n; ++i)
        {
            size_t const first = static_cast<size_t>(b) * n;
            if (i > 0 && random.below(10) == 0)
            {
                size_t const j = first + random.below(i);
                in.boxes.insert(in.boxes.end(), in.boxes.begin() + 4 * j, in.boxes.begin() + 4 * j + 4);
                in.scores.push_back(in.scores[j]);
                in.categories.push_back(in.categories[j]);
                continue;
            }
            float const* o = objects.data() + 4 * random.below(150);
            for (int32_t c = 0; c < 4; ++c)
            {
                in.boxes.push_back(o[c] + std::round(random.uniform(-24.F, 24.F)) / 2.F);
            }
            in.scores.push_back(static_cast<float>(random.below(257)) / 256.F);
            in.categories.push_back(random.below(80));
        }
    }
    return in;
}

//! RPN-like: float coordinates and scores, 5 FPN levels as categories.
NmsInputs rpnInputs(Random& random, int32_t n)
{
    NmsInputs in;
    for (int32_t i = 0; i < kBatch * n; ++i)
    {
        float const w = random.uniform(4.F, 600.F);
        float const h = random.uniform(4.F, 600.F);
        float const x = random.uniform(0.F, kImageW - w);
        float const y = random.uniform(0.F, kImageH - h);
        in.boxes.insert(in.boxes.end(), {x, y, x + w, y + h});
        in.scores.push_back(random.below(4) == 0 ? 0.9F : random.uniform(0.F, 1.F)); // a quarter tie at 0.9
        in.categories.push_back(random.below(5));
    }
    return in;
}

template <typename T>
int64_t countDifferent(std::vector<T> const& a, std::vector<T> const& b)
{
    int64_t n = 0;
    for (size_t i = 0; i < a.size(); ++i)
    {
        n += std::memcmp(&a[i], &b[i], sizeof(T)) != 0 ? 1 : 0;
    }
    return n;
}

struct NmsCase
{
    std::string name;
    BatchedNmsParams params;
    NmsInputs inputs;
    int32_t batch;
    int32_t numBoxes;
    uint32_t maxBlocks = 4096;
};

//! The device side of one NMS problem; the workspace can be handed to another (a reused workspace).
struct NmsDevice
{
    explicit NmsDevice(NmsCase const& c, DeviceBuffer<char>* sharedWorkspace = nullptr)
        : boxes(c.inputs.boxes.size())
        , scores(c.inputs.scores.size())
        , categories(c.inputs.categories.size())
        , num(c.batch)
        , indices(static_cast<size_t>(c.batch) * c.params.maxOutput)
        , outBoxes(static_cast<size_t>(c.batch) * c.params.maxOutput * 4)
        , outScores(static_cast<size_t>(c.batch) * c.params.maxOutput)
        , classes(static_cast<size_t>(c.batch) * c.params.maxOutput)
        , ownWorkspace(sharedWorkspace == nullptr ? batchedNmsWorkspaceSize(c.batch, c.numBoxes) : 1)
        , workspace(sharedWorkspace == nullptr ? &ownWorkspace : sharedWorkspace)
        , args{boxes.ptr, scores.ptr, categories.ptr, num.ptr, indices.ptr, outBoxes.ptr, outScores.ptr, classes.ptr,
              c.batch, c.numBoxes, c.params}
    {
        upload(boxes, c.inputs.boxes);
        upload(scores, c.inputs.scores);
        upload(categories, c.inputs.categories);
    }
    DeviceBuffer<float> boxes;
    DeviceBuffer<float> scores;
    DeviceBuffer<int32_t> categories;
    DeviceBuffer<int32_t> num;
    DeviceBuffer<int32_t> indices;
    DeviceBuffer<float> outBoxes;
    DeviceBuffer<float> outScores;
    DeviceBuffer<int32_t> classes;
    DeviceBuffer<char> ownWorkspace;
    DeviceBuffer<char>* workspace;
    BatchedNmsArgs args;
};

CaseResult runNms(NmsCase const& c, NmsDevice& d)
{
    size_t const K = static_cast<size_t>(c.params.maxOutput);
    size_t const B = static_cast<size_t>(c.batch);
    std::vector<int32_t> numDetections(B);
    std::vector<int32_t> indices(B * K);
    std::vector<float> boxes(B * K * 4);
    std::vector<float> scores(B * K);
    std::vector<int32_t> classes(B * K);
    batchedNmsReference(c.params, c.inputs.boxes.data(), c.inputs.scores.data(), c.inputs.categories.data(), c.batch,
        c.numBoxes, {numDetections.data(), indices.data(), boxes.data(), scores.data(), classes.data()});

    if (batchedNmsWorkspaceSize(c.batch, c.numBoxes) == 0)
    {
        throw CudaError{"batchedNmsWorkspaceSize returned 0"};
    }
    // Outputs hold a pattern first, so that a slot the kernel forgets shows.
    cudaCheck(cudaMemset(d.outBoxes.ptr, 0x7F, boxes.size() * sizeof(float)), "cudaMemset");
    cudaCheck(cudaMemset(d.indices.ptr, 0x7F, indices.size() * sizeof(int32_t)), "cudaMemset");
    cudaCheck(launchBatchedNms(d.args, d.workspace->ptr, nullptr, c.maxBlocks), "launchBatchedNms");
    cudaCheck(cudaDeviceSynchronize(), "BatchedNMS");

    // Same sort order (stable, ties by index) and bit-identical IoU: outputs must be equal.
    CaseResult r{"BatchedNMS", c.name, 0.0, 0.0, 0, {}};
    std::vector<int32_t> const deviceNum = download(d.num, B);
    std::vector<float> const deviceScores = download(d.outScores, scores.size());
    r.mismatches = countDifferent(numDetections, deviceNum) + countDifferent(indices, download(d.indices, indices.size()))
        + countDifferent(boxes, download(d.outBoxes, boxes.size())) + countDifferent(scores, deviceScores)
        + countDifferent(classes, download(d.classes, classes.size()));
    for (size_t i = 0; i < scores.size(); ++i)
    {
        bool const same = std::memcmp(&deviceScores[i], &scores[i], sizeof(float)) == 0; // +inf scores too
        double const error = same ? 0.0 : std::fabs(static_cast<double>(deviceScores[i]) - scores[i]);
        r.maxAbsError = std::isnan(error) ? error : std::max(r.maxAbsError, error);
    }
    std::string kept;
    for (size_t b = 0; b < B; ++b)
    {
        kept += (b ? ", " : "") + std::to_string(deviceNum[b]) + " (reference " + std::to_string(numDetections[b]) + ")";
    }
    std::printf("  %s: kept %s of %d per image\n", c.name.c_str(), kept.c_str(), c.numBoxes);
    r.timing = timeKernel(
        [&] { return launchBatchedNms(d.args, d.workspace->ptr, nullptr, c.maxBlocks); }, gOptions.iterations);
    return r;
}

CaseResult runNms(NmsCase const& c)
{
    NmsDevice d(c);
    return runNms(c, d);
}

// --- edge cases ------------------------------------------------------------------------------------

//! RoIs a Mask R-CNN graph really hands the op, on a 128x192 frame (P2-P5: 32x48 ... 4x6): boxes
//! inside-out (both or one side), of zero width or height, off the frame or straddling its edge, a
//! point, and ordinary ones. Image 1 gets other boxes than image 0.
std::vector<float> edgeRois(Random& random)
{
    float const H = 128.F;
    float const W = 192.F;
    std::vector<float> rois;
    for (int32_t b = 0; b < kBatch; ++b)
    {
        float const s = b == 0 ? 1.F : 0.7F;
        std::vector<std::array<float, 4>> const boxes = {
            {10 * s, 12 * s, 90 * s, 70 * s},    // ordinary
            {90 * s, 70 * s, 10 * s, 12 * s},    // inside-out in x and y: positive area
            {90 * s, 12 * s, 10 * s, 70 * s},    // inside-out in x only: negative area, NaN level
            {40 * s, 10 * s, 40 * s, 60 * s},    // zero width
            {5 * s, 30 * s, 100 * s, 30 * s},    // zero height
            {50 * s, 50 * s, 50 * s, 50 * s},    // a point
            {-60, -40, -10, -5},                 // off the frame, above-left
            {W + 10, H + 5, W + 90, H + 70},     // off the frame, below-right
            {-20, -20, 30 * s + 10, 40},         // straddling the top-left corner
            {W - 30, H - 20, W + 40, H + 30},    // straddling the bottom-right corner
            {0, 0, W, H},                        // the whole frame (coarsest level)
            {2, 3, 9, 7},                        // tiny (finest level)
        };
        for (auto const& box : boxes)
        {
            rois.insert(rois.end(), box.begin(), box.end());
        }
        for (int32_t i = 0; i < 4; ++i) // and a few random ones
        {
            float const x = random.uniform(-10.F, W);
            float const y = random.uniform(-10.F, H);
            rois.insert(rois.end(), {x, y, x + random.uniform(1.F, 120.F), y + random.uniform(1.F, 90.F)});
        }
    }
    return rois;
}

std::vector<RoiAlignCase> roiAlignEdgeCases(Random& random, Pyramid const& small, Pyramid const& big)
{
    std::vector<float> const rois = edgeRois(random);
    auto const perImage = static_cast<int32_t>(rois.size() / 4 / kBatch);
    std::vector<RoiAlignCase> cases;
    for (bool half : {false, true})
    {
        std::string const t = half ? "fp16 " : "fp32 ";
        for (int32_t aligned : {0, 1})
        {
            for (std::array<int32_t, 2> size : {std::array<int32_t, 2>{7, 14}, std::array<int32_t, 2>{1, 1}})
            {
                MultilevelRoiAlignParams p;
                p.outputSize = size;
                p.aligned = aligned;
                p.samplingRatio = aligned ? 0 : 2;
                std::string const name = t + std::to_string(size[0]) + "x" + std::to_string(size[1])
                    + " edge RoIs (inside-out, zero-width, off-frame) aligned=" + std::to_string(aligned);
                cases.push_back({name, half, p, &small, rois, perImage});
            }
        }
        MultilevelRoiAlignParams p;
        cases.push_back({t + "7x7 R=0", half, p, &small, {}, 0});
        // 2 x 16 x C x 49 outputs on 3 blocks of 256 threads: every thread loops many times.
        cases.push_back({t + "7x7 edge RoIs, grid capped at 3 blocks", half, p, &big, rois, perImage, 3});
    }
    return cases;
}

std::vector<NmsCase> nmsEdgeCases(Random& random)
{
    std::vector<NmsCase> cases;
    BatchedNmsParams const boxHead{0.5F, 0.05F, 100};
    cases.push_back({"N=0", boxHead, {}, kBatch, 0});
    cases.push_back({"B=0", boxHead, {}, 0, 100});

    NmsInputs few = boxHeadInputs(random, 10);
    cases.push_back({"K=100 > N=10", boxHead, few, kBatch, 10});

    // NaN, +inf, -inf and -0.0/+0.0 scores among ordinary ones: NaN and -inf never pass the
    // threshold, +inf passes and comes first; with a negative threshold -0.0 and +0.0 both pass and
    // are equal (CUB's radix sort and torchvision agree), so index order breaks their tie.
    NmsInputs special = boxHeadInputs(random, 64);
    float const values[] = {std::nanf(""), INFINITY, -INFINITY, -0.F, 0.F, -std::nanf("")};
    for (size_t i = 0; i < special.scores.size(); i += 3)
    {
        special.scores[i] = values[(i / 3) % 6];
    }
    cases.push_back({"NaN/+-inf/-0.0 scores, threshold 0.05", boxHead, special, kBatch, 64});
    cases.push_back({"NaN/+-inf/-0.0 scores, threshold -1", BatchedNmsParams{0.5F, -1.F, 100}, special, kBatch, 64});

    // Image 0: most boxes pass; image 1: a handful (different counts per image).
    NmsInputs uneven = boxHeadInputs(random, 500);
    for (size_t i = 500; i < uneven.scores.size(); ++i)
    {
        uneven.scores[i] = i % 50 == 0 ? 0.5F : 0.01F;
    }
    cases.push_back({"batch 2, a different count in each image", boxHead, uneven, kBatch, 500});
    // 2 x 1500 boxes on 2 blocks of 256 threads: the preparation loop iterates.
    cases.push_back({"N=1500, grid capped at 2 blocks", boxHead, boxHeadInputs(random, 1500), kBatch, 1500, 2});
    return cases;
}

//! Two problems through one workspace, the second after the first left it dirty, then the first again.
std::vector<CaseResult> reusedWorkspaceCases(Random& random)
{
    NmsCase const a{"reused workspace: first problem", BatchedNmsParams{0.5F, 0.05F, 100}, boxHeadInputs(random, 700),
        kBatch, 700};
    NmsCase const b{"reused workspace: second problem, dirty workspace", BatchedNmsParams{0.7F, 0.F, 300},
        rpnInputs(random, 700), kBatch, 700};
    DeviceBuffer<char> workspace(batchedNmsWorkspaceSize(kBatch, 700));
    NmsDevice da(a, &workspace);
    NmsDevice db(b, &workspace);
    std::vector<CaseResult> results{runNms(a, da), runNms(b, db), runNms(a, da)};
    results.back().name = "reused workspace: first problem again";
    return results;
}

// --- launch limits ---------------------------------------------------------------------------------

//! Writes 1 to out[0] through the block's dynamic shared memory, when the launch gives it some.
__global__ void touchKernel(int32_t* out, bool useShared)
{
    MRCNN_DYNAMIC_SHARED(int32_t, scratch);
    if (threadIdx.x == 0 && blockIdx.x == 0 && blockIdx.y == 0 && blockIdx.z == 0)
    {
        if (useShared)
        {
            scratch[0] = 1;
        }
        out[0] = useShared ? scratch[0] : 1;
    }
}

//! The errors a GPU's runtime returns for launches beyond its limits (checked on the device by
//! the nvcc build, so the CPU layer's table is held to real hardware there).
CaseResult launchLimitsCase()
{
    DeviceBuffer<int32_t> out(1);
    struct Launch
    {
        char const* what;
        dim3 grid;
        dim3 block;
        size_t shared;
        cudaError_t expected;
    };
    Launch const launches[] = {
        {"1024 threads", dim3(1), dim3(1024), 0, cudaSuccess},
        {"1025 threads", dim3(1), dim3(1025), 0, cudaErrorInvalidConfiguration},
        {"block 1x1x65", dim3(1), dim3(1, 1, 65), 0, cudaErrorInvalidConfiguration},
        {"grid.y 65535", dim3(1, 65535), dim3(32), 0, cudaSuccess},
        {"grid.y 65536", dim3(1, 65536), dim3(32), 0, cudaErrorInvalidConfiguration},
        {"grid.z 65536", dim3(1, 1, 65536), dim3(32), 0, cudaErrorInvalidConfiguration},
        {"48 KiB shared", dim3(1), dim3(32), 48 * 1024, cudaSuccess},
        {"48 KiB + 4 shared", dim3(1), dim3(32), 48 * 1024 + 4, cudaErrorInvalidValue},
    };
    CaseResult r{"launch", "limits: threads, grid.y/z, shared memory", 0.0, 0.0, 0, {}};
    for (Launch const& l : launches)
    {
        cudaGetLastError(); // clear
        launchKernel(touchKernel, l.grid, l.block, l.shared, nullptr, out.ptr, l.shared > 0);
        cudaError_t const got = cudaGetLastError();
        cudaDeviceSynchronize();
        if (got != l.expected)
        {
            std::printf("  launch %s: %s, expected %s\n", l.what, cudaGetErrorName(got), cudaGetErrorName(l.expected));
            ++r.mismatches;
        }
    }
    // With the opt-in attribute, 64 KiB is accepted.
    cudaCheck(cudaFuncSetAttribute(touchKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024),
        "cudaFuncSetAttribute");
    cudaCheck(cudaMemset(out.ptr, 0, sizeof(int32_t)), "cudaMemset");
    launchKernel(touchKernel, dim3(1), dim3(32), 64 * 1024, nullptr, out.ptr, true);
    cudaError_t const optin = cudaGetLastError();
    cudaDeviceSynchronize();
    if (optin != cudaSuccess || download(out, 1)[0] != 1)
    {
        std::printf("  launch 64 KiB shared after opt-in: %s\n", cudaGetErrorName(optin));
        ++r.mismatches;
    }
    return r;
}

// --- report ------------------------------------------------------------------------------------------

//! %.3g, with NaN spelled as Python's json module reads it (an unwritten output gives NaN).
std::string jsonNumber(double x)
{
    if (std::isnan(x))
    {
        return "NaN";
    }
    char text[32];
    std::snprintf(text, sizeof(text), "%.3g", x);
    return text;
}

void writeJson(char const* path, std::string const& device, std::vector<CaseResult> const& results)
{
    FILE* f = std::fopen(path, "w");
    if (f == nullptr)
    {
        std::fprintf(stderr, "kernel_device_test: cannot write %s\n", path);
        return;
    }
    std::fprintf(f, "{\n  \"device\": \"%s\",\n  \"cases\": [\n", device.c_str());
    for (size_t i = 0; i < results.size(); ++i)
    {
        CaseResult const& r = results[i];
        std::fprintf(f,
            "    {\"kernel\": \"%s\", \"case\": \"%s\", \"max_abs_error\": %s, \"tolerance\": %s, "
            "\"mismatches\": %lld, \"passed\": %s, \"median_ms\": %.4f, \"min_ms\": %.4f}%s\n",
            r.kernel.c_str(), r.name.c_str(), jsonNumber(r.maxAbsError).c_str(), jsonNumber(r.tolerance).c_str(),
            static_cast<long long>(r.mismatches),
            r.passed() ? "true" : "false", r.timing.medianMs, r.timing.minMs, i + 1 < results.size() ? "," : "");
    }
    std::fprintf(f, "  ]\n}\n");
    std::fclose(f);
}

//! Collects results; with --fail-fast, stops at the first mismatch and names the case.
class Results
{
public:
    void add(CaseResult r)
    {
        if (!r.passed())
        {
            std::printf("FAILED: %s | %s (%lld mismatches)\n", r.kernel.c_str(), r.name.c_str(),
                static_cast<long long>(r.mismatches));
        }
        bool const stop = gOptions.failFast && !r.passed();
        mAll.push_back(std::move(r));
        if (stop)
        {
            throw std::runtime_error("stopped at the first mismatch (--fail-fast)");
        }
    }
    std::vector<CaseResult> const& all() const
    {
        return mAll;
    }

private:
    std::vector<CaseResult> mAll;
};

void runCases(Results& results)
{
    int32_t const channels = gOptions.quick ? 16 : 256;
    int32_t const boxRoisPerImage = gOptions.quick ? 100 : 1000;
    int32_t const maskRoisPerImage = gOptions.quick ? 20 : 100;
    int32_t const nmsBoxes = gOptions.quick ? 800 : 4000;

    Random random(12);
    results.add(launchLimitsCase());
    Pyramid const small = makePyramid(random, kBatch, 3, 128, 192);
    Pyramid const capped = makePyramid(random, kBatch, 24, 128, 192);
    for (RoiAlignCase const& c : roiAlignEdgeCases(random, small, capped))
    {
        results.add(runRoiAlign(c));
    }
    for (NmsCase const& c : nmsEdgeCases(random))
    {
        results.add(runNms(c));
    }
    for (CaseResult& r : reusedWorkspaceCases(random))
    {
        results.add(std::move(r));
    }

    Pyramid const pyramid = makePyramid(random, kBatch, channels, kImageH, kImageW);
    MultilevelRoiAlignParams boxHead; // torchvision's box head: 7x7, P2-P5
    std::vector<float> const boxRois = makeRois(random, boxRoisPerImage, boxHead);
    std::string const r = " R=" + std::to_string(boxRoisPerImage) + " C=" + std::to_string(channels);
    for (bool half : {false, true})
    {
        for (int32_t aligned : {0, 1})
        {
            for (int32_t sampling : {0, 2})
            {
                MultilevelRoiAlignParams params = boxHead;
                params.aligned = aligned;
                params.samplingRatio = sampling;
                std::string const name = std::string(half ? "fp16" : "fp32") + " 7x7" + r
                    + " aligned=" + std::to_string(aligned) + " sampling=" + std::to_string(sampling);
                results.add(runRoiAlign({name, half, params, &pyramid, boxRois, boxRoisPerImage}));
            }
        }
    }
    MultilevelRoiAlignParams maskHead; // torchvision's mask head: 14x14 on the 100 detections
    maskHead.outputSize = {14, 14};
    std::vector<float> const maskRois = makeRois(random, maskRoisPerImage, maskHead);
    for (bool half : {false, true})
    {
        std::string const name = std::string(half ? "fp16" : "fp32") + " 14x14 R=" + std::to_string(maskRoisPerImage)
            + " aligned=0 sampling=2";
        results.add(runRoiAlign({name, half, maskHead, &pyramid, maskRois, maskRoisPerImage}));
    }

    std::string const n = "N=" + std::to_string(nmsBoxes);
    results.add(runNms({n + " 80 classes IoU 0.5 K=100", BatchedNmsParams{0.5F, 0.05F, 100},
        boxHeadInputs(random, nmsBoxes), kBatch, nmsBoxes}));
    results.add(runNms({n + " 5 levels IoU 0.7 K=1000", BatchedNmsParams{0.7F, 0.F, 1000}, rpnInputs(random, nmsBoxes),
        kBatch, nmsBoxes}));
}

int run()
{
    int count = 0;
    cudaError_t const status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess || count == 0)
    {
        std::printf("kernel_device_test: no CUDA device (%s): skipped\n",
            status != cudaSuccess ? cudaGetErrorString(status) : "0 devices");
        return kSkipped;
    }
    cudaDeviceProp prop{};
    cudaCheck(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    std::string const device
        = std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ")";
    std::printf("device: %s\n", device.c_str());

    Results results;
    bool stopped = false;
    try
    {
        runCases(results);
    }
    catch (std::runtime_error const& e)
    {
        std::printf("%s\n", e.what());
        stopped = true;
    }

    std::printf("\n| kernel | case (batch 2) | max abs error | tolerance | mismatches | median ms | min ms |\n");
    std::printf("|---|---|---|---|---|---|---|\n");
    bool allPassed = !stopped;
    for (CaseResult const& r : results.all())
    {
        std::printf("| %s | %s | %.3g | %.3g | %lld%s | %.4f | %.4f |\n", r.kernel.c_str(), r.name.c_str(),
            r.maxAbsError, r.tolerance, static_cast<long long>(r.mismatches), r.passed() ? "" : " FAILED",
            r.timing.medianMs, r.timing.minMs);
        allPassed = allPassed && r.passed();
    }
    if (gOptions.jsonPath != nullptr)
    {
        writeJson(gOptions.jsonPath, device, results.all());
    }
    std::printf("%zu cases: %s\n", results.all().size(), allPassed ? "all within tolerance" : "MISMATCH: see the table");
    return allPassed ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
    std::setvbuf(stdout, nullptr, _IOLBF, 0); // a crash (a planted bug) still shows the case it was in
    for (int i = 1; i < argc; ++i)
    {
        if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc)
        {
            gOptions.jsonPath = argv[++i];
        }
        else if (std::strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
        {
            gOptions.iterations = std::max(0, std::atoi(argv[++i]));
        }
        else if (std::strcmp(argv[i], "--exact") == 0)
        {
            gOptions.exact = true;
        }
        else if (std::strcmp(argv[i], "--quick") == 0)
        {
            gOptions.quick = true;
        }
        else if (std::strcmp(argv[i], "--fail-fast") == 0)
        {
            gOptions.failFast = true;
        }
        else
        {
            std::printf("usage: %s [--json PATH] [--iterations N] [--exact] [--quick] [--fail-fast]\n", argv[0]);
            return 2;
        }
    }
    try
    {
        return run();
    }
    catch (CudaError const& e)
    {
        std::printf("kernel_device_test: CUDA error: %s\n", e.what.c_str());
        return 1;
    }
    catch (std::exception const& e)
    {
        std::printf("kernel_device_test: %s\n", e.what());
        return 1;
    }
}
