// Triton's path, simulated: run with LD_PRELOAD=libmrcnn_edge_plugins_autoreg.so and
// LD_LIBRARY_PATH holding a libnvinfer.so.<major> (the stand-in fake_nvinfer.cpp in ctest). This
// process has no TensorRT of its own, as tritonserver before its TensorRT backend is loaded, so
// the preloaded library must load libnvinfer by soname to register. The probe then does what
// the backend does: dlopen libnvinfer.so.<major> (RTLD_LOCAL) and look the plugins up in
// getPluginRegistry() by name, version and namespace, as engine deserialisation does.

#include <NvInferRuntime.h>
#include <NvInferVersion.h>

#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <initializer_list>

#define PROBE_STR2(x) #x
#define PROBE_STR(x) PROBE_STR2(x)

int main()
{
    char const* soname = "libnvinfer.so." PROBE_STR(NV_TENSORRT_MAJOR);
    void* nvinfer = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (nvinfer == nullptr)
    {
        std::printf("FAILED: dlopen %s: %s\n", soname, dlerror());
        return 1;
    }
    using GetRegistry = nvinfer1::IPluginRegistry* (*) ();
    auto getRegistry = reinterpret_cast<GetRegistry>(dlsym(nvinfer, "getPluginRegistry"));
    nvinfer1::IPluginRegistry* registry = getRegistry != nullptr ? getRegistry() : nullptr;
    if (registry == nullptr)
    {
        std::printf("FAILED: no plugin registry in %s\n", soname);
        return 1;
    }
    int failures = 0;
    for (char const* name : {"MultilevelRoIAlign_TRT", "BatchedNMS_TRT"})
    {
        if (registry->getCreator(name, "1", "mrcnn_edge") == nullptr)
        {
            std::printf("FAILED: mrcnn_edge::%s version 1 is not registered\n", name);
            ++failures;
        }
    }
    int32_t count = 0;
    registry->getAllCreators(&count);
    if (count != 2)
    {
        std::printf("FAILED: %d creators registered, want 2\n", count);
        ++failures;
    }
    if (failures != 0)
    {
        return 1;
    }
    std::printf("both creators registered through %s\n", soname);
    return 0;
}
