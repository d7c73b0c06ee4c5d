// libmrcnn_edge_plugins_autoreg.so: registers the plugin creators with TensorRT's global plugin
// registry when the library is loaded, for processes that can only preload a library. Triton's
// TensorRT backend is one: it loads custom layers with LD_PRELOAD and nothing else
// (plugins/README.md, "Loading").
//
// Kept out of libmrcnn_edge_plugins.so on purpose: IPluginRegistry::loadLibrary fails when a
// creator it would register is already registered, so that library must register nothing itself.
// Load one of the two libraries into a process, never both.
//
// The library exports nothing and does not link libnvinfer: getPluginRegistry is looked up at
// load time, first in the process (an application linked with TensorRT, or the test's stand-in),
// else by loading libnvinfer.so.<major> of the headers it was built with. Under LD_PRELOAD the
// constructor runs before the process has loaded TensorRT (Triton's backend loads it later, by the
// same soname, and then gets this copy). Linked with -z nodelete: TensorRT keeps pointers to the
// creators, so the library must never be unloaded before the process ends.

#include "plugin_creators.h"
#include "plugin_errors.h"

#include <NvInferRuntime.h>
#include <NvInferVersion.h>

#include <dlfcn.h>

#include <string>

namespace
{

#define MRCNN_EDGE_STR2(x) #x
#define MRCNN_EDGE_STR(x) MRCNN_EDGE_STR2(x)
constexpr char const* kLibrary = "libmrcnn_edge_plugins_autoreg.so";
constexpr char const* kNvinfer = "libnvinfer.so." MRCNN_EDGE_STR(NV_TENSORRT_MAJOR);

using GetPluginRegistry = nvinfer1::IPluginRegistry* (*) ();

//! TensorRT's getPluginRegistry, or null with the reason in why.
GetPluginRegistry findGetPluginRegistry(std::string& why)
{
    if (void* symbol = dlsym(RTLD_DEFAULT, "getPluginRegistry"))
    {
        return reinterpret_cast<GetPluginRegistry>(symbol);
    }
    dlerror(); // clear the failed lookup's message, so the one below is dlopen's
    void* nvinfer = dlopen(kNvinfer, RTLD_NOW | RTLD_GLOBAL);
    if (nvinfer == nullptr)
    {
        char const* error = dlerror();
        why = std::string(kNvinfer) + " not found (" + (error != nullptr ? error : "dlopen failed")
            + "): put TensorRT's lib directory on LD_LIBRARY_PATH";
        return nullptr;
    }
    if (void* symbol = dlsym(nvinfer, "getPluginRegistry"))
    {
        return reinterpret_cast<GetPluginRegistry>(symbol);
    }
    why = std::string(kNvinfer) + " has no getPluginRegistry";
    return nullptr;
}

__attribute__((constructor)) void registerMrcnnEdgePlugins()
{
    std::string why;
    GetPluginRegistry getRegistry = findGetPluginRegistry(why);
    nvinfer1::IPluginRegistry* registry = getRegistry != nullptr ? getRegistry() : nullptr;
    if (registry == nullptr)
    {
        mrcnn_edge::logPluginError(kLibrary,
            ("plugins not registered: " + (why.empty() ? std::string("getPluginRegistry() returned null") : why))
                .c_str());
        return;
    }
    int32_t count = 0;
    nvinfer1::IPluginCreatorInterface* const* creators = mrcnn_edge::pluginCreators(count);
    for (int32_t i = 0; i < count; ++i)
    {
        if (!registry->registerCreator(*creators[i], mrcnn_edge::kPluginNamespace))
        {
            auto const& creator = static_cast<nvinfer1::IPluginCreatorV3One const&>(*creators[i]);
            std::string const what = std::string("could not register ") + mrcnn_edge::kPluginNamespace
                + "::" + creator.getPluginName() + " version " + creator.getPluginVersion()
                + " (already registered? load libmrcnn_edge_plugins.so or this library, not both)";
            mrcnn_edge::logPluginError(kLibrary, what.c_str());
        }
    }
}

} // namespace
