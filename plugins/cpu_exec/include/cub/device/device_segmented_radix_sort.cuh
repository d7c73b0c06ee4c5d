#pragma once

// CPU execution layer: cub::DeviceSegmentedRadixSort::SortPairsDescending with CUB's contract
// (cub/device/device_segmented_radix_sort.cuh, device_radix_sort.cuh "Floating-Point Special
// Cases", util_temporary_storage.cuh AliasTemporaries):
//   - d_temp_storage == nullptr: only writes the temporary storage size and returns cudaSuccess;
//   - a smaller temp_storage_bytes than that size: cudaErrorInvalidValue, nothing written;
//   - a stable sort of each segment [begin_offsets[s], end_offsets[s]) by the key bits
//     [begin_bit, end_bit) after CUB's transformation: floats by sign (positive: sign bit flipped,
//     negative: all bits flipped), -0.0 taken as +0.0, then all bits inverted for descending; so
//     NaNs sort by their bits: +NaN before +inf, -NaN after -inf; items outside every segment are
//     not written.
// Written here as an LSD radix sort of 8-bit digits that, like CUB, ping-pongs between the output
// and a buffer in the temporary storage: a workspace that overlaps the sort's buffers corrupts the
// result here as it would on a GPU.

#include "cuda_runtime_api.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace cub
{
namespace cpu_exec_detail
{

template <typename KeyT>
using BitsOf = std::conditional_t<sizeof(KeyT) == 8, uint64_t,
    std::conditional_t<sizeof(KeyT) == 4, uint32_t, std::conditional_t<sizeof(KeyT) == 2, uint16_t, uint8_t>>>;

//! The key's bits in the order CUB sorts them, descending turned into ascending.
template <typename KeyT>
BitsOf<KeyT> descendingBits(KeyT key)
{
    using Bits = BitsOf<KeyT>;
    constexpr Bits kHigh = Bits(Bits(1) << (8 * sizeof(Bits) - 1));
    Bits b;
    std::memcpy(&b, &key, sizeof(b));
    if constexpr (std::is_floating_point_v<KeyT>)
    {
        b = (b & kHigh) ? Bits(~b) : Bits(b ^ kHigh);
        constexpr Bits kMinusZero = Bits(~kHigh);  // twiddled -0.0
        b = b == kMinusZero ? kHigh : b;          // ... taken as twiddled +0.0
    }
    else if constexpr (std::is_signed_v<KeyT>)
    {
        b = Bits(b ^ kHigh);
    }
    return Bits(~b);
}

inline size_t alignUp(size_t bytes)
{
    return (bytes + 255) / 256 * 256;
}

//! One stable counting-sort pass over [first, last) by the digit at bit `shift`, `bits` wide.
template <typename KeyT, typename ValueT>
void sortPass(KeyT const* keysIn, ValueT const* valuesIn, KeyT* keysOut, ValueT* valuesOut, int64_t first,
    int64_t last, int shift, int bits)
{
    uint64_t const mask = (uint64_t{1} << bits) - 1;
    std::array<int64_t, 257> start{};
    for (int64_t i = first; i < last; ++i)
    {
        ++start[1 + ((static_cast<uint64_t>(descendingBits(keysIn[i])) >> shift) & mask)];
    }
    for (size_t d = 1; d < start.size(); ++d)
    {
        start[d] += start[d - 1];
    }
    for (int64_t i = first; i < last; ++i)
    {
        int64_t const at = first + start[(static_cast<uint64_t>(descendingBits(keysIn[i])) >> shift) & mask]++;
        keysOut[at] = keysIn[i];
        valuesOut[at] = valuesIn[i];
    }
}

} // namespace cpu_exec_detail

struct DeviceSegmentedRadixSort
{
    template <typename KeyT, typename ValueT, typename BeginOffsetIteratorT, typename EndOffsetIteratorT>
    static cudaError_t SortPairsDescending(void* d_temp_storage, size_t& temp_storage_bytes, KeyT const* d_keys_in,
        KeyT* d_keys_out, ValueT const* d_values_in, ValueT* d_values_out, int64_t num_items, int64_t num_segments,
        BeginOffsetIteratorT d_begin_offsets, EndOffsetIteratorT d_end_offsets, int begin_bit = 0,
        int end_bit = sizeof(KeyT) * 8, cudaStream_t /*stream*/ = 0)
    {
        using namespace cpu_exec_detail;
        size_t const keyBytes = alignUp(static_cast<size_t>(num_items) * sizeof(KeyT));
        size_t const needed = keyBytes + alignUp(static_cast<size_t>(num_items) * sizeof(ValueT)) + 255;
        if (d_temp_storage == nullptr)
        {
            temp_storage_bytes = needed;
            return cudaSuccess;
        }
        if (temp_storage_bytes < needed)
        {
            return cudaErrorInvalidValue;
        }
        if (begin_bit < 0 || end_bit > static_cast<int>(8 * sizeof(KeyT)) || begin_bit > end_bit)
        {
            return cudaErrorInvalidValue;
        }
        auto* base = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(d_temp_storage) + 255) / 256 * 256);
        auto* altKeys = reinterpret_cast<KeyT*>(base);
        auto* altValues = reinterpret_cast<ValueT*>(base + keyBytes);
        int const passes = (end_bit - begin_bit + 7) / 8;
        for (int64_t s = 0; s < num_segments; ++s)
        {
            int64_t const first = d_begin_offsets[s];
            int64_t const last = d_end_offsets[s];
            if (last <= first)
            {
                continue;
            }
            if (passes == 0)
            {
                std::memmove(d_keys_out + first, d_keys_in + first, (last - first) * sizeof(KeyT));
                std::memmove(d_values_out + first, d_values_in + first, (last - first) * sizeof(ValueT));
                continue;
            }
            KeyT const* keys = d_keys_in;
            ValueT const* values = d_values_in;
            bool toOut = passes % 2 == 1; // so that the last pass lands in the output
            for (int p = 0; p < passes; ++p)
            {
                int const shift = begin_bit + 8 * p;
                int const bits = end_bit - shift < 8 ? end_bit - shift : 8;
                KeyT* keysTo = toOut ? d_keys_out : altKeys;
                ValueT* valuesTo = toOut ? d_values_out : altValues;
                sortPass(keys, values, keysTo, valuesTo, first, last, shift, bits);
                keys = keysTo;
                values = valuesTo;
                toOut = !toOut;
            }
        }
        return cudaSuccess;
    }
};

} // namespace cub
