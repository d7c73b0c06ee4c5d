// Entry points of libmrcnn_edge_plugins.so.
//
// - IPluginRegistry::loadLibrary (trtexec --dynamicPlugins, polygraphy, version-compatible
//   engines) calls getCreators and setLoggerFinder.
// - Applications that dlopen or link the library call initMrcnnEdgePlugins instead.
// There is deliberately no REGISTER_TENSORRT_PLUGIN: its static registrar runs at dlopen time,
// and loadLibrary fails when a creator it would register is already registered. Processes that
// can only preload a library (Triton) use libmrcnn_edge_plugins_autoreg.so (plugin_autoreg.cpp).
// getPluginCreators is not exported: it returns IPluginCreator (IPluginV2) creators only.

#include "plugin_creators.h"
#include "plugin_errors.h"

#include <NvInferRuntime.h>

// TENSORRTAPI only exports inside TensorRT's own build, so spell the visibility out.
#define MRCNN_EDGE_EXPORT extern "C" __attribute__((visibility("default")))

using namespace nvinfer1;

MRCNN_EDGE_EXPORT IPluginCreatorInterface* const* getCreators(int32_t& nbCreators)
{
    return mrcnn_edge::pluginCreators(nbCreators);
}

MRCNN_EDGE_EXPORT void setLoggerFinder(ILoggerFinder* finder)
{
    mrcnn_edge::setPluginLoggerFinder(finder);
}

//! Registers both creators (namespace "mrcnn_edge") with TensorRT's global plugin registry.
//! logger (an nvinfer1::ILogger*, may be null) receives plugin errors. Returns false if any
//! registration failed, e.g. because the library was already loaded with loadLibrary.
MRCNN_EDGE_EXPORT bool initMrcnnEdgePlugins(void* logger)
{
    mrcnn_edge::setPluginLogger(static_cast<ILogger*>(logger));
    int32_t count = 0;
    IPluginCreatorInterface* const* creators = mrcnn_edge::pluginCreators(count);
    bool ok = true;
    for (int32_t i = 0; i < count; ++i)
    {
        ok = getPluginRegistry()->registerCreator(*creators[i], mrcnn_edge::kPluginNamespace) && ok;
    }
    return ok;
}
