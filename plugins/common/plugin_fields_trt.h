#pragma once

// Converts between a plugin's params struct and TensorRT PluginFields, driven by the op's
// schema table and visitFields() (see field_spec.h), so no op spells its attributes twice.

#include "field_spec.h"

#include <NvInferRuntime.h>

#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace mrcnn_edge
{

inline nvinfer1::PluginFieldType toTrt(FieldType type)
{
    return type == FieldType::kINT32 ? nvinfer1::PluginFieldType::kINT32 : nvinfer1::PluginFieldType::kFLOAT32;
}

//! The creator's getFieldNames(): names, types and lengths, no data.
template <typename Specs>
std::vector<nvinfer1::PluginField> schemaFields(Specs const& specs)
{
    std::vector<nvinfer1::PluginField> fields;
    for (FieldSpec const& s : specs)
    {
        fields.emplace_back(s.name, nullptr, toTrt(s.type), s.length == kVariableLength ? 0 : s.length);
    }
    return fields;
}

//! getFieldsToSerialize(): fields pointing into params (valid while params live unchanged).
template <typename Params>
std::vector<nvinfer1::PluginField> serializedFields(Params const& params)
{
    std::vector<nvinfer1::PluginField> fields;
    visitFields(params, [&](FieldSpec const& spec, auto const& member) {
        using Storage = FieldStorage<std::decay_t<decltype(member)>>;
        fields.emplace_back(spec.name, Storage::data(member), toTrt(spec.type), Storage::size(member));
    });
    return fields;
}

//! createPlugin(): params from a field collection; unknown names, wrong types or lengths throw.
//! Attributes absent from the collection keep their defaults.
template <typename Params>
Params paramsFrom(nvinfer1::PluginFieldCollection const* fc)
{
    require(fc != nullptr, "null PluginFieldCollection");
    Params params;
    for (int32_t i = 0; i < fc->nbFields; ++i)
    {
        nvinfer1::PluginField const& field = fc->fields[i];
        require(field.name != nullptr, "attribute without a name");
        bool known = false;
        visitFields(params, [&](FieldSpec const& spec, auto& member) {
            if (std::strcmp(field.name, spec.name) != 0)
            {
                return;
            }
            known = true;
            require(field.type == toTrt(spec.type), std::string("attribute ") + spec.name + " has the wrong type");
            require(field.data != nullptr, std::string("attribute ") + spec.name + " has no data");
            using Storage = FieldStorage<std::decay_t<decltype(member)>>;
            using Element = typename Storage::Element;
            Storage::assign(member, static_cast<Element const*>(field.data), field.length, spec.name);
        });
        require(known, std::string("unknown attribute ") + field.name);
    }
    validate(params);
    return params;
}

} // namespace mrcnn_edge
