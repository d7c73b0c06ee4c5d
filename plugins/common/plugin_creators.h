#pragma once

// The library's plugin creators, one instance each for the life of the process. Both shared
// libraries hand out these same objects: libmrcnn_edge_plugins.so through getCreators (for
// IPluginRegistry::loadLibrary) and libmrcnn_edge_plugins_autoreg.so from its load-time
// constructor (for LD_PRELOAD, e.g. Triton).

#include "field_spec.h"

#include <NvInferRuntime.h>

#include <cstdint>

namespace mrcnn_edge
{

//! Every creator of the library (IPluginCreatorV3One, namespace kPluginNamespace); count receives
//! their number.
nvinfer1::IPluginCreatorInterface* const* pluginCreators(int32_t& count) noexcept;

} // namespace mrcnn_edge
