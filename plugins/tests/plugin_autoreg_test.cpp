// libmrcnn_edge_plugins_autoreg.so against a stand-in for TensorRT's plugin registry (run by
// ctest where the TensorRT headers are found; no libnvinfer needed). This executable exports its
// own getPluginRegistry (ENABLE_EXPORTS), which the libraries find first in the process.
//
//   plugin_autoreg_test accept AUTOREG.so MAIN.so   main library registers nothing at load; the
//                                                    autoreg library registers both creators once
//   plugin_autoreg_test reject AUTOREG.so           registry refuses: one line per creator
//   plugin_autoreg_test null AUTOREG.so             getPluginRegistry() returns null: one line

#include "batched_nms/batched_nms_fields.h"
#include "multilevel_roi_align/multilevel_roi_align_fields.h"
#include "tests/fake_plugin_registry.h"

#include <NvInferRuntime.h>

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace nvinfer1;
using mrcnn_edge::test::FakeRegistry;

namespace
{

int gFailures = 0;

void check(bool ok, std::string const& what)
{
    if (!ok)
    {
        std::printf("FAILED: %s\n", what.c_str());
        ++gFailures;
    }
}

FakeRegistry gRegistry;
bool gNullRegistry = false;

//! dlopen with stderr captured into captured.
void* openCapturingStderr(char const* path, int flags, std::string& captured)
{
    std::fflush(stderr);
    FILE* sink = std::tmpfile();
    int const saved = dup(STDERR_FILENO);
    dup2(fileno(sink), STDERR_FILENO);
    void* handle = dlopen(path, flags);
    std::fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    std::rewind(sink);
    char buffer[4096];
    size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof(buffer), sink)) > 0)
    {
        captured.append(buffer, n);
    }
    std::fclose(sink);
    return handle;
}

void checkCreator(IPluginCreatorInterface* creator, char const* name, size_t nbFields)
{
    InterfaceInfo const info = creator->getInterfaceInfo();
    check(std::strcmp(info.kind, "PLUGIN CREATOR_V3ONE") == 0 && info.major == 1,
        std::string(name) + ": interface is " + info.kind);
    auto* v3 = static_cast<IPluginCreatorV3One*>(creator);
    check(std::strcmp(v3->getPluginVersion(), "1") == 0, std::string(name) + ": version 1");
    check(std::strcmp(v3->getPluginNamespace(), "mrcnn_edge") == 0, std::string(name) + ": namespace mrcnn_edge");
    check(static_cast<size_t>(v3->getFieldNames()->nbFields) == nbFields, std::string(name) + ": field count");
    PluginFieldCollection const defaults{0, nullptr};
    IPluginV3* plugin = v3->createPlugin("test", &defaults, TensorRTPhase::kBUILD);
    check(plugin != nullptr, std::string(name) + ": createPlugin with default attributes");
    if (plugin != nullptr)
    {
        auto* core = static_cast<IPluginV3OneCore*>(plugin->getCapabilityInterface(PluginCapabilityType::kCORE));
        check(core != nullptr && std::strcmp(core->getPluginName(), name) == 0, std::string(name) + ": plugin name");
        delete plugin;
    }
}

//! The creators registered (or listed), by name: exactly MultilevelRoIAlign_TRT and BatchedNMS_TRT.
void checkCreatorSet(std::vector<IPluginCreatorInterface*> const& creators, char const* what)
{
    check(creators.size() == 2, std::string(what) + ": " + std::to_string(creators.size()) + " creators, want 2");
    int32_t roiAlign = 0;
    int32_t nms = 0;
    for (IPluginCreatorInterface* c : creators)
    {
        char const* name = static_cast<IPluginCreatorV3One*>(c)->getPluginName();
        if (std::strcmp(name, mrcnn_edge::kMultilevelRoiAlignName) == 0)
        {
            ++roiAlign;
            checkCreator(c, name, mrcnn_edge::kMultilevelRoiAlignFields.size());
        }
        else if (std::strcmp(name, mrcnn_edge::kBatchedNmsName) == 0)
        {
            ++nms;
            checkCreator(c, name, mrcnn_edge::kBatchedNmsFields.size());
        }
        else
        {
            check(false, std::string(what) + ": unexpected creator " + name);
        }
    }
    check(roiAlign == 1 && nms == 1, std::string(what) + ": each creator exactly once");
}

void testAccept(char const* autoreg, char const* mainLibrary)
{
    // The main library must register nothing when loaded (loadLibrary registers its getCreators).
    void* main = dlopen(mainLibrary, RTLD_NOW | RTLD_LOCAL);
    check(main != nullptr, std::string("dlopen main library: ") + (main ? "" : dlerror()));
    check(gRegistry.registered.empty(), "libmrcnn_edge_plugins.so registered creators at load");
    if (main != nullptr)
    {
        using GetCreators = IPluginCreatorInterface* const* (*) (int32_t&);
        auto getCreators = reinterpret_cast<GetCreators>(dlsym(main, "getCreators"));
        check(getCreators != nullptr, "main library exports getCreators");
        if (getCreators != nullptr)
        {
            int32_t count = 0;
            IPluginCreatorInterface* const* list = getCreators(count);
            checkCreatorSet({list, list + count}, "getCreators");
        }
    }

    std::string messages;
    void* handle = openCapturingStderr(autoreg, RTLD_NOW | RTLD_LOCAL, messages);
    check(handle != nullptr, std::string("dlopen autoreg library: ") + (handle ? "" : dlerror()));
    check(messages.empty(), "autoreg library printed: " + messages);
    std::vector<IPluginCreatorInterface*> creators;
    for (size_t i = 0; i < gRegistry.registered.size(); ++i)
    {
        creators.push_back(gRegistry.registered[i]);
        std::string const& ns = gRegistry.namespaces[i];
        check(ns == "mrcnn_edge", "registered under namespace '" + ns + "'");
    }
    checkCreatorSet(creators, "autoreg registrations");

    // A second load and closing every handle change nothing: registered once, never unloaded.
    size_t const before = gRegistry.registered.size();
    void* again = dlopen(autoreg, RTLD_NOW | RTLD_LOCAL);
    check(gRegistry.registered.size() == before, "a second dlopen registered again");
    dlclose(again);
    dlclose(handle);
    check(dlopen(autoreg, RTLD_NOW | RTLD_NOLOAD) != nullptr, "autoreg library was unloaded by dlclose (-z nodelete)");
    check(gRegistry.deregistered == 0, "creators were deregistered");
}

void testFailure(char const* autoreg, std::vector<std::string> const& expected)
{
    std::string messages;
    void* handle = openCapturingStderr(autoreg, RTLD_NOW | RTLD_LOCAL, messages);
    check(handle != nullptr, "dlopen autoreg library");
    check(gRegistry.registered.empty(), "nothing registered");
    for (std::string const& line : expected)
    {
        check(messages.find(line) != std::string::npos, "message '" + line + "' missing in: " + messages);
    }
    std::printf("%s", messages.c_str());
}

} // namespace

//! The stand-in for libnvinfer's getPluginRegistry, found by dlsym(RTLD_DEFAULT).
extern "C" __attribute__((visibility("default"))) IPluginRegistry* getPluginRegistry() noexcept
{
    return gNullRegistry ? nullptr : &gRegistry;
}

int main(int argc, char** argv)
{
    std::string const mode = argc > 2 ? argv[1] : "";
    if (mode == "accept" && argc == 4)
    {
        testAccept(argv[2], argv[3]);
    }
    else if (mode == "reject" && argc == 3)
    {
        gRegistry.reject = true;
        testFailure(argv[2],
            {"could not register mrcnn_edge::MultilevelRoIAlign_TRT version 1",
                "could not register mrcnn_edge::BatchedNMS_TRT version 1"});
    }
    else if (mode == "null" && argc == 3)
    {
        gNullRegistry = true;
        testFailure(argv[2], {"plugins not registered: getPluginRegistry() returned null"});
    }
    else
    {
        std::printf("usage: %s accept AUTOREG.so MAIN.so | reject AUTOREG.so | null AUTOREG.so\n", argv[0]);
        return 2;
    }
    if (gFailures != 0)
    {
        std::printf("%d failure(s)\n", gFailures);
        return 1;
    }
    std::printf("all passed\n");
    return 0;
}
