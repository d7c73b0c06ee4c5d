#pragma once

// CPU execution layer: CUDA's __half, with round-to-nearest-even conversions from float (as
// __float2half and the __half(float) constructor) and exact conversions to float. NaN becomes
// CUDA's canonical half NaN (0x7FFF, CUDART_NAN_FP16). Written here from IEEE 754 binary16;
// cpu_exec_test checks it against the compiler's own _Float16.

#include <cstdint>
#include <cstring>

namespace cpu_exec
{

inline uint16_t halfBitsFromFloat(float f)
{
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof(bits));
    auto const sign = static_cast<uint16_t>((bits >> 16) & 0x8000U);
    uint32_t const magnitude = bits & 0x7FFFFFFFU;
    if (magnitude > 0x7F800000U)
    {
        return 0x7FFF;
    }
    int32_t const exponent = static_cast<int32_t>(magnitude >> 23) - 127;
    uint32_t const mantissa = magnitude & 0x7FFFFFU;
    if (exponent > 15) // beyond every finite half (and float infinity)
    {
        return sign | 0x7C00U;
    }
    if (exponent >= -14) // a normal half: keep 10 of 23 mantissa bits, round half to even
    {
        uint32_t half = (static_cast<uint32_t>(exponent + 15) << 10) | (mantissa >> 13);
        uint32_t const rest = mantissa & 0x1FFFU;
        half += (rest > 0x1000U || (rest == 0x1000U && (half & 1U))) ? 1U : 0U; // a carry may reach infinity
        return static_cast<uint16_t>(sign | half);
    }
    if (exponent < -25) // below half the smallest subnormal (2^-25): zero
    {
        return sign;
    }
    // A subnormal half counts units of 2^-24.
    uint32_t const full = mantissa | 0x800000U;
    int32_t const shift = -exponent - 1; // 14..24: (-14 - exponent) + 13
    uint32_t half = full >> shift;
    uint32_t const rest = full & ((1U << shift) - 1U);
    uint32_t const halfway = 1U << (shift - 1);
    half += (rest > halfway || (rest == halfway && (half & 1U))) ? 1U : 0U;
    return static_cast<uint16_t>(sign | half);
}

inline float floatFromHalfBits(uint16_t h)
{
    uint32_t const sign = static_cast<uint32_t>(h & 0x8000U) << 16;
    uint32_t const exponent = (h >> 10) & 0x1FU;
    uint32_t const mantissa = h & 0x3FFU;
    uint32_t bits;
    if (exponent == 0x1F)
    {
        bits = sign | 0x7F800000U | (mantissa << 13);
    }
    else if (exponent != 0)
    {
        bits = sign | ((exponent + 112U) << 23) | (mantissa << 13);
    }
    else
    {
        float const value = static_cast<float>(mantissa) * 5.9604644775390625e-8F; // exact: m * 2^-24
        std::memcpy(&bits, &value, sizeof(bits));
        bits |= sign;
    }
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
}

} // namespace cpu_exec

struct __half
{
    uint16_t bits;

    __half() = default;
    __half(float f)
        : bits(cpu_exec::halfBitsFromFloat(f))
    {
    }
    operator float() const
    {
        return cpu_exec::floatFromHalfBits(bits);
    }
};

inline __half __float2half(float f)
{
    return __half(f);
}
inline __half __float2half_rn(float f)
{
    return __half(f);
}
inline float __half2float(__half h)
{
    return static_cast<float>(h);
}
inline unsigned short __half_as_ushort(__half h)
{
    return h.bits;
}
inline __half __ushort_as_half(unsigned short bits)
{
    __half h;
    h.bits = bits;
    return h;
}
