// Poses as libnvinfer.so.<major> for plugin_preload_probe: exports getPluginRegistry only, over a
// FakeRegistry. Built into its own folder of the build tree, never installed.

#include "tests/fake_plugin_registry.h"

extern "C" __attribute__((visibility("default"))) nvinfer1::IPluginRegistry* getPluginRegistry() noexcept
{
    static mrcnn_edge::test::FakeRegistry registry;
    return &registry;
}
