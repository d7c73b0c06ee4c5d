// The CUDA kernels against their CPU references, on the device, on Mask R-CNN-sized inputs; also
// times each kernel with CUDA events. Needs a GPU: without one it exits 77, which ctest reports as
// skipped (SKIP_RETURN_CODE). benchmarks/device_check.sh builds and runs it for the local GPU.
//
//   kernel_device_test [--json PATH] [--iterations N]
//
// MultilevelRoIAlign: 1000 RPN-like RoIs per image (batch 2) on P2-P5 of an 800x1344 frame
// (200x336 ... 25x42, 256 channels), box head 7x7 (fp32/fp16 x aligned 0/1 x sampling 0/2) and
// mask head 14x14 (100 RoIs). RoIs within 1e-4 of an FPN level boundary are not drawn: the device
// log2f may put those on the neighbouring level (multilevel_roi_align/README.md).
// BatchedNMS: 4000 boxes per image, 80 classes, scores on a 1/256 grid and duplicated boxes (many
// exact ties), K=100; and an RPN-like case (5 levels as categories, IoU 0.7, K=1000, a quarter
// of the scores tied at 0.9).
// Exit: 0 all within tolerance, 1 a mismatch or CUDA error, 77 no CUDA device.

#include "batched_nms/batched_nms_kernel.h"
#include "batched_nms/batched_nms_reference.h"
#include "multilevel_roi_align/multilevel_roi_align.cuh"
#include "multilevel_roi_align/multilevel_roi_align_kernel.h"
#include "multilevel_roi_align/multilevel_roi_align_reference.h"

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace
{

using namespace mrcnn_edge;

constexpr int kSkipped = 77;
constexpr int32_t kBatch = 2;
constexpr int32_t kChannels = 256;
constexpr int32_t kImageH = 800;
constexpr int32_t kImageW = 1344;
constexpr int32_t kLevels = 4; // P2..P5, strides 4..32

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
    std::vector<std::vector<float>> maps; //!< [B,C,H_l,W_l], values exactly representable in fp16
    std::vector<int32_t> height;
    std::vector<int32_t> width;
};

Pyramid makePyramid(Random& random)
{
    Pyramid p;
    for (int32_t l = 0; l < kLevels; ++l)
    {
        int32_t const stride = 4 << l;
        p.height.push_back(kImageH / stride);
        p.width.push_back(kImageW / stride);
        std::vector<float> map(static_cast<size_t>(kBatch) * kChannels * p.height[l] * p.width[l]);
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
    size_t const roiSize = static_cast<size_t>(kChannels) * params.outputSize[0] * params.outputSize[1];
    std::vector<float> out(static_cast<size_t>(kBatch) * perImage * roiSize);
    int32_t const chunks = std::clamp(static_cast<int32_t>(std::thread::hardware_concurrency()) / kBatch, 1, 16);
    int32_t const chunk = (perImage + chunks - 1) / chunks;
    std::vector<std::thread> threads;
    for (int32_t b = 0; b < kBatch; ++b)
    {
        for (int32_t first = 0; first < perImage; first += chunk)
        {
            threads.emplace_back([&, b, first] {
                std::vector<FeatureMap> levels;
                for (int32_t l = 0; l < kLevels; ++l)
                {
                    size_t const image = static_cast<size_t>(kChannels) * p.height[l] * p.width[l];
                    levels.push_back({p.maps[l].data() + b * image, p.height[l], p.width[l]});
                }
                size_t const roi = static_cast<size_t>(b) * perImage + first;
                multilevelRoiAlignReference(params, rois.data() + 4 * roi, 1, std::min(chunk, perImage - first),
                    kChannels, levels, out.data() + roi * roiSize);
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

CaseResult roiAlignCase(std::string const& name, bool half, MultilevelRoiAlignParams const& params,
    Pyramid const& p, std::vector<float> const& rois, int32_t perImage, int32_t iterations)
{
    std::vector<float> const expected = roiAlignReference(params, p, rois, perImage);

    MultilevelRoiAlignArgs args{};
    DeviceBuffer<float> dRois(rois.size());
    upload(dRois, rois);
    std::vector<std::unique_ptr<DeviceBuffer<float>>> mapsF;
    std::vector<std::unique_ptr<DeviceBuffer<__half>>> mapsH;
    for (int32_t l = 0; l < kLevels; ++l)
    {
        if (half)
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
    size_t const elementBytes = half ? sizeof(__half) : sizeof(float);
    DeviceBuffer<char> dOut(expected.size() * elementBytes);
    args.rois = dRois.ptr;
    args.output = dOut.ptr;
    args.type = half ? FeatureType::kHALF : FeatureType::kFLOAT;
    args.batch = kBatch;
    args.numRois = perImage;
    args.channels = kChannels;
    args.outH = params.outputSize[0];
    args.outW = params.outputSize[1];
    args.samplingRatio = params.samplingRatio;
    args.aligned = params.aligned != 0;
    args.canonicalScale = params.canonicalScale;
    args.canonicalLevel = params.canonicalLevel;
    args.kMin = firstFeatureLevel(params);
    args.kMax = lastFeatureLevel(params);

    cudaCheck(cudaMemset(dOut.ptr, 0xFF, expected.size() * elementBytes), "cudaMemset"); // NaN if unwritten
    cudaCheck(launchMultilevelRoiAlign(args, nullptr), "launchMultilevelRoiAlign");
    cudaCheck(cudaDeviceSynchronize(), "MultilevelRoIAlign");
    std::vector<float> actual(expected.size());
    if (half)
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
    // and the FMA difference can tip that rounding by one ulp more.
    CaseResult r{"MultilevelRoIAlign", name, 0.0, half ? 1e-3 : 5e-4, 0, {}};
    for (size_t i = 0; i < expected.size(); ++i)
    {
        double const error = std::fabs(static_cast<double>(actual[i]) - expected[i]);
        if (!(error <= r.tolerance)) // NaN counts
        {
            ++r.mismatches;
        }
        r.maxAbsError = std::isnan(error) ? error : std::max(r.maxAbsError, error);
    }
    r.timing = timeKernel([&] { return launchMultilevelRoiAlign(args, nullptr); }, iterations);
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

CaseResult nmsCase(std::string const& name, BatchedNmsParams const& params, NmsInputs const& in, int32_t n,
    int32_t iterations)
{
    size_t const K = static_cast<size_t>(params.maxOutput);
    std::vector<int32_t> numDetections(kBatch);
    std::vector<int32_t> indices(kBatch * K);
    std::vector<float> boxes(kBatch * K * 4);
    std::vector<float> scores(kBatch * K);
    std::vector<int32_t> classes(kBatch * K);
    batchedNmsReference(params, in.boxes.data(), in.scores.data(), in.categories.data(), kBatch, n,
        {numDetections.data(), indices.data(), boxes.data(), scores.data(), classes.data()});

    DeviceBuffer<float> dBoxes(in.boxes.size());
    DeviceBuffer<float> dScores(in.scores.size());
    DeviceBuffer<int32_t> dCategories(in.categories.size());
    upload(dBoxes, in.boxes);
    upload(dScores, in.scores);
    upload(dCategories, in.categories);
    DeviceBuffer<int32_t> dNum(kBatch);
    DeviceBuffer<int32_t> dIndices(indices.size());
    DeviceBuffer<float> dOutBoxes(boxes.size());
    DeviceBuffer<float> dOutScores(scores.size());
    DeviceBuffer<int32_t> dClasses(classes.size());
    size_t const workspaceBytes = batchedNmsWorkspaceSize(kBatch, n);
    if (workspaceBytes == 0)
    {
        throw CudaError{"batchedNmsWorkspaceSize returned 0"};
    }
    DeviceBuffer<char> workspace(workspaceBytes);
    BatchedNmsArgs args{dBoxes.ptr, dScores.ptr, dCategories.ptr, dNum.ptr, dIndices.ptr, dOutBoxes.ptr,
        dOutScores.ptr, dClasses.ptr, kBatch, n, params};
    cudaCheck(launchBatchedNms(args, workspace.ptr, nullptr), "launchBatchedNms");
    cudaCheck(cudaDeviceSynchronize(), "BatchedNMS");

    // Same sort order (stable, ties by index) and bit-identical IoU: outputs must be equal.
    CaseResult r{"BatchedNMS", name, 0.0, 0.0, 0, {}};
    r.mismatches = countDifferent(numDetections, download(dNum, kBatch))
        + countDifferent(indices, download(dIndices, indices.size()))
        + countDifferent(boxes, download(dOutBoxes, boxes.size()))
        + countDifferent(scores, download(dOutScores, scores.size()))
        + countDifferent(classes, download(dClasses, classes.size()));
    std::vector<float> const deviceScores = download(dOutScores, scores.size());
    for (size_t i = 0; i < scores.size(); ++i)
    {
        r.maxAbsError = std::max(r.maxAbsError, std::fabs(static_cast<double>(deviceScores[i]) - scores[i]));
    }
    std::printf("  %s: kept %d and %d of %d per image (reference %d and %d)\n", name.c_str(),
        download(dNum, kBatch)[0], download(dNum, kBatch)[1], n, numDetections[0], numDetections[1]);
    r.timing = timeKernel([&] { return launchBatchedNms(args, workspace.ptr, nullptr); }, iterations);
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

int run(char const* jsonPath, int32_t iterations)
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

    Random random(12);
    std::vector<CaseResult> results;
    Pyramid const pyramid = makePyramid(random);
    MultilevelRoiAlignParams boxHead; // torchvision's box head: 7x7, P2-P5
    std::vector<float> const boxRois = makeRois(random, 1000, boxHead);
    for (bool half : {false, true})
    {
        for (int32_t aligned : {0, 1})
        {
            for (int32_t sampling : {0, 2})
            {
                MultilevelRoiAlignParams params = boxHead;
                params.aligned = aligned;
                params.samplingRatio = sampling;
                std::string const name = std::string(half ? "fp16" : "fp32") + " 7x7 R=1000 aligned="
                    + std::to_string(aligned) + " sampling=" + std::to_string(sampling);
                results.push_back(roiAlignCase(name, half, params, pyramid, boxRois, 1000, iterations));
            }
        }
    }
    MultilevelRoiAlignParams maskHead; // torchvision's mask head: 14x14 on the 100 detections
    maskHead.outputSize = {14, 14};
    std::vector<float> const maskRois = makeRois(random, 100, maskHead);
    for (bool half : {false, true})
    {
        std::string const name = std::string(half ? "fp16" : "fp32") + " 14x14 R=100 aligned=0 sampling=2";
        results.push_back(roiAlignCase(name, half, maskHead, pyramid, maskRois, 100, iterations));
    }

    int32_t const n = 4000;
    results.push_back(nmsCase("N=4000 80 classes IoU 0.5 K=100", BatchedNmsParams{0.5F, 0.05F, 100},
        boxHeadInputs(random, n), n, iterations));
    results.push_back(nmsCase("N=4000 5 levels IoU 0.7 K=1000", BatchedNmsParams{0.7F, 0.F, 1000},
        rpnInputs(random, n), n, iterations));

    std::printf("\n| kernel | case (batch 2) | max abs error | tolerance | mismatches | median ms | min ms |\n");
    std::printf("|---|---|---|---|---|---|---|\n");
    bool allPassed = true;
    for (CaseResult const& r : results)
    {
        std::printf("| %s | %s | %.3g | %.3g | %lld%s | %.4f | %.4f |\n", r.kernel.c_str(), r.name.c_str(),
            r.maxAbsError, r.tolerance, static_cast<long long>(r.mismatches), r.passed() ? "" : " FAILED",
            r.timing.medianMs, r.timing.minMs);
        allPassed = allPassed && r.passed();
    }
    if (jsonPath != nullptr)
    {
        writeJson(jsonPath, device, results);
    }
    std::printf("%s\n", allPassed ? "all cases within tolerance" : "MISMATCH: see the table");
    return allPassed ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
    char const* jsonPath = nullptr;
    int32_t iterations = 20;
    for (int i = 1; i < argc; ++i)
    {
        if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc)
        {
            jsonPath = argv[++i];
        }
        else if (std::strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
        {
            iterations = std::max(1, std::atoi(argv[++i]));
        }
        else
        {
            std::printf("usage: %s [--json PATH] [--iterations N]\n", argv[0]);
            return 2;
        }
    }
    try
    {
        return run(jsonPath, iterations);
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
