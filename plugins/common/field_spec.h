#pragma once

// The attribute schema of a plugin, independent of TensorRT, so that the creator, the
// serialisation, the CPU reference and the Python bindings all read the same table.

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace mrcnn_edge
{

enum class FieldType : int32_t
{
    kINT32,
    kFLOAT32,
};

//! TensorRT plugin namespace of every op in this library.
inline constexpr char const* kPluginNamespace = "mrcnn_edge";

inline constexpr int32_t kVariableLength = -1;

struct FieldSpec
{
    char const* name;
    FieldType type;
    int32_t length; //!< number of elements, or kVariableLength
};

template <typename T>
constexpr FieldType fieldTypeOf();
template <>
constexpr FieldType fieldTypeOf<int32_t>()
{
    return FieldType::kINT32;
}
template <>
constexpr FieldType fieldTypeOf<float>()
{
    return FieldType::kFLOAT32;
}

// A params member is a scalar, a std::array (fixed length) or a std::vector (variable length).
// These helpers give the glue a uniform (element type, pointer, count) view of each kind.
template <typename T>
struct FieldStorage
{
    using Element = T;
    static T const* data(T const& v) { return &v; }
    static int32_t size(T const&) { return 1; }
    static void assign(T& v, T const* src, int32_t n, char const* name)
    {
        requireLength(n, 1, name);
        v = src[0];
    }
    static void requireLength(int32_t got, int32_t want, char const* name)
    {
        if (got != want)
        {
            throw std::invalid_argument(std::string("attribute ") + name + " needs " + std::to_string(want)
                + " values, got " + std::to_string(got));
        }
    }
};

template <typename T, size_t N>
struct FieldStorage<std::array<T, N>>
{
    using Element = T;
    static T const* data(std::array<T, N> const& v) { return v.data(); }
    static int32_t size(std::array<T, N> const&) { return static_cast<int32_t>(N); }
    static void assign(std::array<T, N>& v, T const* src, int32_t n, char const* name)
    {
        FieldStorage<T>::requireLength(n, static_cast<int32_t>(N), name);
        std::copy(src, src + N, v.begin());
    }
};

template <typename T>
struct FieldStorage<std::vector<T>>
{
    using Element = T;
    static T const* data(std::vector<T> const& v) { return v.data(); }
    static int32_t size(std::vector<T> const& v) { return static_cast<int32_t>(v.size()); }
    static void assign(std::vector<T>& v, T const* src, int32_t n, char const* name)
    {
        if (n < 1)
        {
            throw std::invalid_argument(std::string("attribute ") + name + " needs at least one value");
        }
        v.assign(src, src + n);
    }
};

//! True when a params member has the element type and length its spec declares.
template <typename Member>
bool memberMatchesSpec(FieldSpec const& spec, Member const& member)
{
    using Storage = FieldStorage<Member>;
    bool const typeOk = fieldTypeOf<typename Storage::Element>() == spec.type;
    bool const lengthOk = spec.length == kVariableLength || spec.length == Storage::size(member);
    return typeOk && lengthOk;
}

inline void require(bool condition, std::string const& message)
{
    if (!condition)
    {
        throw std::invalid_argument(message);
    }
}

} // namespace mrcnn_edge
