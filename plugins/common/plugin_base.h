#pragma once

// What every IPluginV3 op of this library does the same way: identity, capabilities, cloning and
// attribute serialisation (from the op's schema), and its IPluginCreatorV3One. An op derives
// from PluginBase and adds shapes, formats and enqueue; it provides:
//   using Params = ...;  static constexpr kName, kVersion;  static constexpr auto const& kFields
//   and a constructor from Params.

#include "field_spec.h"
#include "plugin_errors.h"
#include "plugin_fields_trt.h"

#include <NvInferRuntime.h>

#include <utility>
#include <vector>

namespace mrcnn_edge
{

template <typename Derived, typename Params>
class PluginBase : public nvinfer1::IPluginV3,
                   public nvinfer1::IPluginV3OneCore,
                   public nvinfer1::IPluginV3OneBuild,
                   public nvinfer1::IPluginV3OneRuntime
{
public:
    explicit PluginBase(Params params)
        : mParams(std::move(params))
    {
    }

    nvinfer1::IPluginCapability* getCapabilityInterface(nvinfer1::PluginCapabilityType type) noexcept override
    {
        switch (type)
        {
        case nvinfer1::PluginCapabilityType::kCORE: return static_cast<nvinfer1::IPluginV3OneCore*>(this);
        case nvinfer1::PluginCapabilityType::kBUILD: return static_cast<nvinfer1::IPluginV3OneBuild*>(this);
        case nvinfer1::PluginCapabilityType::kRUNTIME: return static_cast<nvinfer1::IPluginV3OneRuntime*>(this);
        }
        return nullptr;
    }

    nvinfer1::IPluginV3* clone() noexcept override
    {
        return guarded<nvinfer1::IPluginV3*>(
            Derived::kName, nullptr, [&] { return new Derived(static_cast<Derived const&>(*this)); });
    }

    char const* getPluginName() const noexcept override
    {
        return Derived::kName;
    }

    char const* getPluginVersion() const noexcept override
    {
        return Derived::kVersion;
    }

    char const* getPluginNamespace() const noexcept override
    {
        return kPluginNamespace;
    }

    nvinfer1::PluginFieldCollection const* getFieldsToSerialize() noexcept override
    {
        return guarded<nvinfer1::PluginFieldCollection const*>(Derived::kName, nullptr, [&] {
            mSerialized = serializedFields(mParams);
            mSerializedCollection.nbFields = static_cast<int32_t>(mSerialized.size());
            mSerializedCollection.fields = mSerialized.data();
            return &mSerializedCollection;
        });
    }

    nvinfer1::IPluginV3* attachToContext(nvinfer1::IPluginResourceContext* /*context*/) noexcept override
    {
        return clone(); // stateless apart from attributes: no per-context resources
    }

protected:
    Params mParams;

private:
    std::vector<nvinfer1::PluginField> mSerialized;
    nvinfer1::PluginFieldCollection mSerializedCollection{};
};

template <typename Plugin>
class PluginCreator final : public nvinfer1::IPluginCreatorV3One
{
public:
    PluginCreator()
        : mFields(schemaFields(Plugin::kFields))
    {
        mCollection.nbFields = static_cast<int32_t>(mFields.size());
        mCollection.fields = mFields.data();
    }

    char const* getPluginName() const noexcept override
    {
        return Plugin::kName;
    }

    char const* getPluginVersion() const noexcept override
    {
        return Plugin::kVersion;
    }

    char const* getPluginNamespace() const noexcept override
    {
        return kPluginNamespace;
    }

    nvinfer1::PluginFieldCollection const* getFieldNames() noexcept override
    {
        return &mCollection;
    }

    nvinfer1::IPluginV3* createPlugin(char const* /*name*/, nvinfer1::PluginFieldCollection const* fc,
        nvinfer1::TensorRTPhase /*phase*/) noexcept override
    {
        // Build and runtime phases both receive the attributes (serialised by getFieldsToSerialize).
        return guarded<nvinfer1::IPluginV3*>(
            Plugin::kName, nullptr, [&] { return new Plugin(paramsFrom<typename Plugin::Params>(fc)); });
    }

private:
    std::vector<nvinfer1::PluginField> mFields;
    nvinfer1::PluginFieldCollection mCollection{};
};

} // namespace mrcnn_edge
