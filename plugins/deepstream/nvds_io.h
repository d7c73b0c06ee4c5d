// The file formats of the parser's test drivers (nvds_core_driver.cpp, nvds_parser_harness.cpp and
// tests/serving/test_deepstream_parser.py): a batch of real model outputs in, instance lists out. Both
// drivers write the same bytes for the same instances, so their outputs are compared with cmp.
//
// In:  int32 B, K, mask height, mask width, number of classes; float32 thresholds[classes];
//      int32 num_detections[B]; float32 boxes[B,K,4]; float32 scores[B,K]; int32 classes[B,K];
//      float32 masks[B,K,H,W]   (all little-endian, as numpy's tofile writes them here)
// Out: per image: int32 n; per instance: uint32 classId; float32 left, top, width, height,
//      confidence; uint32 mask_width, mask_height, mask_size (bytes); float32 mask[h*w]

#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace mrcnn_edge
{
namespace nvds
{

struct Batch
{
    int32_t B, K, maskHeight, maskWidth, numClasses;
    std::vector<float> thresholds;
    std::vector<int32_t> num;
    std::vector<float> boxes, scores;
    std::vector<int32_t> classes;
    std::vector<float> masks;
};

template <typename T>
bool readArray(std::FILE* f, std::vector<T>& v, size_t n)
{
    v.resize(n);
    return std::fread(v.data(), sizeof(T), n, f) == n;
}

//! The batch in path, or false (a short or missing file).
inline bool readBatch(char const* path, Batch& b)
{
    std::FILE* f = std::fopen(path, "rb");
    if (f == nullptr)
    {
        return false;
    }
    int32_t header[5];
    bool ok = std::fread(header, sizeof(int32_t), 5, f) == 5;
    if (ok)
    {
        b.B = header[0], b.K = header[1], b.maskHeight = header[2], b.maskWidth = header[3], b.numClasses = header[4];
        size_t const BK = static_cast<size_t>(b.B) * b.K;
        ok = readArray(f, b.thresholds, b.numClasses) && readArray(f, b.num, b.B) && readArray(f, b.boxes, BK * 4)
            && readArray(f, b.scores, BK) && readArray(f, b.classes, BK)
            && readArray(f, b.masks, BK * b.maskHeight * b.maskWidth);
    }
    std::fclose(f);
    return ok;
}

//! Writes one instance in the Out format.
inline void writeInstance(std::FILE* f, uint32_t classId, float const (&box)[5], uint32_t maskWidth,
    uint32_t maskHeight, uint32_t maskSize, float const* mask)
{
    std::fwrite(&classId, sizeof classId, 1, f);
    std::fwrite(box, sizeof(float), 5, f);
    uint32_t const sizes[3] = {maskWidth, maskHeight, maskSize};
    std::fwrite(sizes, sizeof(uint32_t), 3, f);
    std::fwrite(mask, sizeof(float), static_cast<size_t>(maskWidth) * maskHeight, f);
}

} // namespace nvds
} // namespace mrcnn_edge
