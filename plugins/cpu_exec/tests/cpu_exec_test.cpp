// The CPU execution layer against CUDA's documented semantics, with oracles written apart from it:
// threads and blocks, real barriers (in every schedule), __syncthreads_count/and/or, threads that
// exit before a barrier, per-block shared memory with blocks in parallel, atomics, __half against
// the compiler's _Float16, the CUB sort against std::stable_sort on CUB's documented order, launch
// errors, and the runtime calls. Exit 0 when every check passes.

#include "cpu_exec/device.h"
#include "launch.cuh"

#include <cub/device/device_segmented_radix_sort.cuh>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <tuple>
#include <vector>

namespace
{

using mrcnn_edge::launchKernel;

int gFailures = 0;

void check(bool ok, char const* what)
{
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    gFailures += ok ? 0 : 1;
}

// --- threads, barriers, shared memory ------------------------------------------------------------

__global__ void coordinatesKernel(uint32_t* seen)
{
    uint32_t const block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    uint32_t const thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    atomicAdd(&seen[block * (blockDim.x * blockDim.y * blockDim.z) + thread], 1U);
}

//! Each thread writes its slot, and after the barrier reads its neighbour's: without a real barrier
//! some thread reads before its neighbour wrote (in one order or the other).
__global__ void neighbourKernel(int32_t* out)
{
    __shared__ int32_t slots[256];
    int32_t const t = static_cast<int32_t>(threadIdx.x);
    slots[t] = t * 7 + static_cast<int32_t>(blockIdx.x);
    __syncthreads();
    out[blockIdx.x * blockDim.x + t] = slots[(t + 1) % blockDim.x];
}

//! A tree reduction in dynamic shared memory: log2(n) barrier phases.
__global__ void sumKernel(int32_t const* in, int32_t* out)
{
    MRCNN_DYNAMIC_SHARED(int32_t, partial);
    uint32_t const t = threadIdx.x;
    partial[t] = in[blockIdx.x * blockDim.x + t];
    __syncthreads();
    for (uint32_t half = blockDim.x / 2; half > 0; half /= 2)
    {
        if (t < half)
        {
            partial[t] += partial[t + half];
        }
        __syncthreads();
    }
    if (t == 0)
    {
        out[blockIdx.x] = partial[0];
    }
}

__global__ void votesKernel(int32_t* out)
{
    int32_t const t = static_cast<int32_t>(threadIdx.x);
    int32_t const count = __syncthreads_count(t % 3 == 0);
    int32_t const all = __syncthreads_and(t < 1000);
    int32_t const any = __syncthreads_or(t == 17);
    int32_t const none = __syncthreads_or(0);
    if (t == 0)
    {
        out[0] = count, out[1] = all, out[2] = any, out[3] = none;
    }
}

//! Half of the threads exit before the barrier: the rest must not wait for them.
__global__ void earlyExitKernel(int32_t* out)
{
    if (threadIdx.x % 2 == 1)
    {
        return;
    }
    int32_t const arrived = __syncthreads_count(1);
    out[threadIdx.x / 2] = arrived;
}

//! Every block fills its own shared memory with its index and checks it after a barrier: blocks
//! running in parallel must not see each other's.
__global__ void sharedPerBlockKernel(int32_t* bad)
{
    __shared__ int32_t mine[64];
    for (uint32_t i = threadIdx.x; i < 64; i += blockDim.x)
    {
        mine[i] = static_cast<int32_t>(blockIdx.x);
    }
    __syncthreads();
    for (uint32_t i = threadIdx.x; i < 64; i += blockDim.x)
    {
        if (mine[i] != static_cast<int32_t>(blockIdx.x))
        {
            atomicAdd(bad, 1);
        }
    }
}

__global__ void atomicsKernel(int32_t* counters, float* sum)
{
    int32_t const id = static_cast<int32_t>(blockIdx.x * blockDim.x + threadIdx.x);
    atomicAdd(&counters[0], 1);
    atomicMax(&counters[1], id);
    atomicMin(&counters[2], id);
    atomicAdd(sum, 0.5F);
    if (atomicCAS(&counters[3], 0, id + 1) == 0)
    {
        atomicAdd(&counters[4], 1); // exactly one thread wins the CAS
    }
}

void testThreads()
{
    dim3 const grid(3, 2, 2);
    dim3 const block(4, 3, 2);
    std::vector<uint32_t> seen(12 * 24, 0);
    launchKernel(coordinatesKernel, grid, block, 0, nullptr, seen.data());
    check(cudaGetLastError() == cudaSuccess
            && std::all_of(seen.begin(), seen.end(), [](uint32_t n) { return n == 1; }),
        "every (blockIdx, threadIdx) of a 3x2x2 grid of 4x3x2 blocks runs exactly once");

    std::vector<int32_t> out(4 * 256);
    launchKernel(neighbourKernel, dim3(4), dim3(256), 0, nullptr, out.data());
    bool ok = true;
    for (int32_t b = 0; b < 4; ++b)
    {
        for (int32_t t = 0; t < 256; ++t)
        {
            ok = ok && out[b * 256 + t] == ((t + 1) % 256) * 7 + b;
        }
    }
    check(ok, "__syncthreads: every thread sees its neighbour's write");

    std::vector<int32_t> in(8 * 128);
    std::iota(in.begin(), in.end(), -300);
    std::vector<int32_t> sums(8);
    launchKernel(sumKernel, dim3(8), dim3(128), 128 * sizeof(int32_t), nullptr, in.data(), sums.data());
    ok = true;
    for (int32_t b = 0; b < 8; ++b)
    {
        ok = ok && sums[b] == std::accumulate(in.begin() + b * 128, in.begin() + (b + 1) * 128, 0);
    }
    check(ok, "7 barrier phases of a tree reduction in dynamic shared memory");

    std::vector<int32_t> votes(4, -1);
    launchKernel(votesKernel, dim3(1), dim3(100), 0, nullptr, votes.data());
    check(votes[0] == 34 && votes[1] == 1 && votes[2] == 1 && votes[3] == 0,
        "__syncthreads_count/and/or over 100 threads");

    std::vector<int32_t> arrived(64, -1);
    launchKernel(earlyExitKernel, dim3(1), dim3(128), 0, nullptr, arrived.data());
    check(std::all_of(arrived.begin(), arrived.end(), [](int32_t n) { return n == 64; }),
        "threads that exit before a barrier are not waited for");

    int32_t bad = 0;
    launchKernel(sharedPerBlockKernel, dim3(64), dim3(32), 0, nullptr, &bad);
    check(bad == 0, "__shared__ is per block, with blocks on parallel workers");

    std::vector<int32_t> counters{0, -1, 1 << 30, 0, 0};
    float sum = 0.F;
    launchKernel(atomicsKernel, dim3(40), dim3(256), 0, nullptr, counters.data(), &sum);
    check(counters[0] == 10240 && counters[1] == 10239 && counters[2] == 0 && counters[3] > 0 && counters[4] == 1
            && sum == 5120.F,
        "atomicAdd/Max/Min/CAS (int) and atomicAdd (float) across 40 blocks");
}

// --- launch errors and the runtime -----------------------------------------------------------------

__global__ void emptyKernel() {}

void testLaunchErrors()
{
    launchKernel(emptyKernel, dim3(1), dim3(2048), 0, nullptr);
    cudaError_t const first = cudaGetLastError();
    cudaError_t const second = cudaGetLastError();
    check(first == cudaErrorInvalidConfiguration && second == cudaSuccess,
        "2048 threads: cudaErrorInvalidConfiguration, once (cudaGetLastError resets it)");
    launchKernel(emptyKernel, dim3(0), dim3(32), 0, nullptr);
    check(cudaGetLastError() == cudaErrorInvalidConfiguration, "an empty grid: cudaErrorInvalidConfiguration");
    launchKernel(emptyKernel, dim3(1), dim3(32), 228 * 1024, nullptr);
    check(cudaGetLastError() == cudaErrorInvalidValue, "228 KiB of shared memory: cudaErrorInvalidValue");
    check(cudaFuncSetAttribute(emptyKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 228 * 1024)
            == cudaErrorInvalidValue,
        "opting in beyond sm_90's 227 KiB is refused");
    check(std::strcmp(cudaGetErrorString(cudaErrorInvalidConfiguration), "invalid configuration argument") == 0,
        "error strings are the runtime's");

    void* p = nullptr;
    check(cudaMalloc(&p, 1000) == cudaSuccess && reinterpret_cast<uintptr_t>(p) % 256 == 0
            && static_cast<unsigned char*>(p)[999] == 0xA5,
        "cudaMalloc: 256-byte aligned, filled with the 0xA5 pattern");
    check(cudaFree(p) == cudaSuccess && cudaFree(p) == cudaErrorInvalidValue, "a second cudaFree is refused");
    cudaGetLastError();
}

// --- __half ---------------------------------------------------------------------------------------

uint16_t bits(__half h)
{
    return __half_as_ushort(h);
}

uint16_t oracleBits(float f)
{
    _Float16 const h = static_cast<_Float16>(f); // the compiler's own IEEE binary16, round to nearest even
    uint16_t b;
    std::memcpy(&b, &h, sizeof(b));
    return b;
}

void testHalf()
{
    int32_t roundTrip = 0;
    int32_t versusOracle = 0;
    int32_t tested = 0;
    for (uint32_t b = 0; b < 65536; ++b)
    {
        __half const h = __ushort_as_half(static_cast<uint16_t>(b));
        float const f = __half2float(h);
        bool const nan = ((b >> 10) & 0x1F) == 0x1F && (b & 0x3FF) != 0;
        _Float16 oracle;
        uint16_t const raw = static_cast<uint16_t>(b);
        std::memcpy(&oracle, &raw, sizeof(raw));
        if (nan)
        {
            roundTrip += std::isnan(f) && bits(__float2half(f)) == 0x7FFF ? 0 : 1; // CUDA's canonical NaN
            continue;
        }
        roundTrip += bits(__float2half(f)) == b && f == static_cast<float>(oracle) ? 0 : 1;
        if (std::isinf(f))
        {
            continue;
        }
        // Every tie and near-tie next to this half: the midpoint to the next one and its neighbours.
        uint32_t const next = (b & 0x7FFF) == 0x7BFF ? b : b + 1;
        float const upper = __half2float(__ushort_as_half(static_cast<uint16_t>(next)));
        float const mid = (f + upper) / 2.F;
        for (float x : {mid, std::nextafter(mid, 0.F), std::nextafter(mid, 1e9F), -mid})
        {
            versusOracle += bits(__float2half(x)) == oracleBits(x) ? 0 : 1;
            ++tested;
        }
    }
    uint64_t state = 7;
    for (int32_t i = 0; i < 1000000; ++i)
    {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        auto const raw = static_cast<uint32_t>(state >> 32);
        float x;
        std::memcpy(&x, &raw, sizeof(x));
        if (!std::isnan(x))
        {
            versusOracle += bits(__float2half(x)) == oracleBits(x) ? 0 : 1;
            ++tested;
        }
    }
    for (float x : {65504.F, 65519.99F, 65520.F, 1e30F, INFINITY, -INFINITY, 5.9604645e-8F, 2.9802322e-8F,
             2.9802326e-8F, 1e-40F, -0.F})
    {
        versusOracle += bits(__float2half(x)) == oracleBits(x) ? 0 : 1;
        ++tested;
    }
    check(roundTrip == 0, "__half -> float -> __half is exact for all 65536 halves (NaN: 0x7FFF)");
    std::printf("     float -> __half against _Float16: %d of %d differ\n", versusOracle, tested);
    check(versusOracle == 0, "float -> __half rounds to nearest even, as _Float16, on ties, 1M random floats, limits");
}

// --- the CUB sort ------------------------------------------------------------------------------------

//! CUB's documented descending order, spelled by value instead of by bits: positive NaNs (by
//! payload) above +inf, numbers by value with -0.0 == +0.0, negative NaNs (by payload) below -inf.
std::tuple<int, double> cubRank(float x)
{
    uint32_t b;
    std::memcpy(&b, &x, sizeof(b));
    if (std::isnan(x))
    {
        double const payload = static_cast<double>(b & 0x7FFFFFU);
        return std::signbit(x) ? std::tuple<int, double>{0, -payload} : std::tuple<int, double>{2, payload};
    }
    return {1, static_cast<double>(x) + 0.0};
}

void testCubSort()
{
    using Sort = cub::DeviceSegmentedRadixSort;
    std::vector<float> keys;
    uint64_t state = 3;
    float const specials[] = {0.F, -0.F, INFINITY, -INFINITY, std::nanf(""), -std::nanf(""), std::nanf("7"), 1.F, -1.F};
    for (int32_t i = 0; i < 3000; ++i)
    {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        int32_t const r = static_cast<int32_t>(state >> 33);
        keys.push_back(r % 5 == 0 ? specials[r % 9] : static_cast<float>(r % 40) / 8.F - 2.F); // many ties
    }
    int32_t const n = static_cast<int32_t>(keys.size());
    std::vector<int32_t> values(n);
    std::iota(values.begin(), values.end(), 0);
    std::vector<int32_t> offsets{0, 1000, 1000, 2500, n}; // an empty segment among them
    size_t bytes = 0;
    cudaError_t const query = Sort::SortPairsDescending(nullptr, bytes, keys.data(), static_cast<float*>(nullptr),
        values.data(), static_cast<int32_t*>(nullptr), n, 4, offsets.data(), offsets.data() + 1);
    check(query == cudaSuccess && bytes > 0, "size query: d_temp_storage == nullptr writes the size only");

    std::vector<float> outKeys(n, 42.F);
    std::vector<int32_t> outValues(n, -7);
    std::vector<char> temp(bytes);
    size_t small = bytes - 1;
    check(Sort::SortPairsDescending(temp.data(), small, keys.data(), outKeys.data(), values.data(), outValues.data(),
              n, 4, offsets.data(), offsets.data() + 1)
                == cudaErrorInvalidValue
            && outValues[0] == -7,
        "a workspace one byte too small: cudaErrorInvalidValue, nothing written");

    cudaError_t const sorted = Sort::SortPairsDescending(temp.data(), bytes, keys.data(), outKeys.data(),
        values.data(), outValues.data(), n, 4, offsets.data(), offsets.data() + 1, 0, 32);
    bool ok = sorted == cudaSuccess;
    for (size_t s = 0; s + 1 < offsets.size(); ++s)
    {
        std::vector<int32_t> expected(values.begin() + offsets[s], values.begin() + offsets[s + 1]);
        std::stable_sort(expected.begin(), expected.end(),
            [&](int32_t a, int32_t b) { return cubRank(keys[a]) > cubRank(keys[b]); });
        for (size_t i = 0; i < expected.size(); ++i)
        {
            int32_t const at = offsets[s] + static_cast<int32_t>(i);
            ok = ok && outValues[at] == expected[i] && std::memcmp(&outKeys[at], &keys[expected[i]], 4) == 0;
        }
    }
    check(ok, "stable descending per segment; -0.0 == +0.0; +NaN first, -NaN last; keys keep their bits");

    // Items outside every segment are not written.
    std::vector<int32_t> gap{10, 20};
    std::fill(outValues.begin(), outValues.end(), -7);
    Sort::SortPairsDescending(temp.data(), bytes, keys.data(), outKeys.data(), values.data(), outValues.data(), n, 1,
        gap.data(), gap.data() + 1);
    check(outValues[9] == -7 && outValues[20] == -7 && outValues[10] != -7, "items outside the segments are untouched");
}

} // namespace

int main()
{
    testThreads();
    testLaunchErrors();
    testHalf();
    testCubSort();
    std::printf("%s (schedule %s)\n", gFailures == 0 ? "cpu_exec: all checks passed" : "cpu_exec: FAILED",
        std::getenv("CPU_EXEC_SCHEDULE") ? std::getenv("CPU_EXEC_SCHEDULE") : "forward");
    return gFailures == 0 ? 0 : 1;
}
