#pragma once

// A stand-in for TensorRT's plugin registry, enough to see what a plugin library registers
// (plugin_autoreg_test, and fake_nvinfer.cpp, which poses as libnvinfer for the preload test).

#include <NvInferRuntime.h>

#include <cstring>
#include <string>
#include <vector>

namespace mrcnn_edge::test
{

using namespace nvinfer1;

//! Records registrations (refuses them all when reject is set) and finds creators as TensorRT's
//! registry does: by name, version and namespace. Everything else is unused.
class FakeRegistry final : public IPluginRegistry
{
public:
    bool reject = false;
    std::vector<IPluginCreatorInterface*> registered;
    std::vector<std::string> namespaces; //!< as passed to registerCreator, one per registered
    int32_t deregistered = 0;

    bool registerCreator(IPluginCreatorInterface& creator, AsciiChar const* const pluginNamespace) noexcept override
    {
        if (reject)
        {
            return false;
        }
        registered.push_back(&creator);
        namespaces.emplace_back(pluginNamespace != nullptr ? pluginNamespace : "<null>");
        return true;
    }
    bool deregisterCreator(IPluginCreatorInterface const& /*creator*/) noexcept override
    {
        ++deregistered;
        return true;
    }
    IPluginCreatorInterface* const* getAllCreators(int32_t* const numCreators) const noexcept override
    {
        *numCreators = static_cast<int32_t>(registered.size());
        return registered.empty() ? nullptr : registered.data();
    }
    IPluginCreatorInterface* getCreator(
        AsciiChar const* const name, AsciiChar const* const version, AsciiChar const* const ns) noexcept override
    {
        for (size_t i = 0; i < registered.size(); ++i)
        {
            if (std::strcmp(registered[i]->getInterfaceInfo().kind, "PLUGIN CREATOR_V3ONE") != 0)
            {
                continue;
            }
            auto const* c = static_cast<IPluginCreatorV3One const*>(registered[i]);
            if (std::strcmp(c->getPluginName(), name) == 0 && std::strcmp(c->getPluginVersion(), version) == 0
                && namespaces[i] == (ns != nullptr ? ns : ""))
            {
                return registered[i];
            }
        }
        return nullptr;
    }
    void setErrorRecorder(IErrorRecorder* const /*recorder*/) noexcept override {}
    IErrorRecorder* getErrorRecorder() const noexcept override
    {
        return nullptr;
    }
    bool isParentSearchEnabled() const override
    {
        return true;
    }
    void setParentSearchEnabled(bool const /*enabled*/) override {}
    PluginLibraryHandle loadLibrary(AsciiChar const* /*path*/) noexcept override
    {
        return nullptr;
    }
    void deregisterLibrary(PluginLibraryHandle /*handle*/) noexcept override {}
    IPluginResource* acquirePluginResource(AsciiChar const* /*key*/, IPluginResource* /*resource*/) noexcept override
    {
        return nullptr;
    }
    int32_t releasePluginResource(AsciiChar const* /*key*/) noexcept override
    {
        return 0;
    }
#if NV_TENSORRT_MAJOR < 11 // the IPluginV2 creator overloads, removed in 11.0: pure, so overridden
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    bool registerCreator(IPluginCreator& /*creator*/, AsciiChar const* const /*ns*/) noexcept override
    {
        return false;
    }
    IPluginCreator* const* getPluginCreatorList(int32_t* const numCreators) const noexcept override
    {
        *numCreators = 0;
        return nullptr;
    }
    IPluginCreator* getPluginCreator(AsciiChar const* const /*name*/, AsciiChar const* const /*version*/,
        AsciiChar const* const /*ns*/) noexcept override
    {
        return nullptr;
    }
    bool deregisterCreator(IPluginCreator const& /*creator*/) noexcept override
    {
        return false;
    }
#pragma GCC diagnostic pop
#endif
#if NV_TENSORRT_MAJOR > 10 || NV_TENSORRT_MINOR >= 10 // added in 10.10
    IPluginCreatorInterface* const* getAllCreatorsRecursive(int32_t* const numCreators) noexcept override
    {
        *numCreators = 0;
        return nullptr;
    }
#endif
};

} // namespace mrcnn_edge::test
