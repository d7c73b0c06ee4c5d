// Drives the IPluginV3 glue (*_plugin.cpp) the way TensorRT's builder and runtime call it, with the
// kernels on the CPU execution layer (plugins/cpu_exec), on plugin inputs dumped from a real frame
// by tools/dump_plugin_inputs.py, and compares every output with the CPU reference's bit for bit.
//
//   plugin_glue_harness DUMP_DIR      (DUMP_DIR/manifest.txt; exit 0: every case passed)
//
// Per case: the creator's createPlugin (build phase) from the attributes surgery wrote; the
// capability interfaces; getOutputDataTypes; getOutputShapes with this file's IExprBuilder (input
// dimensions are non-constant expressions, as under a dynamic profile); supportsFormatCombination
// over every type x format; configurePlugin and getWorkspaceSize; onShapeChange and enqueue with
// host pointers and a workspace of the size asked for; clone and enqueue again; getFieldsToSerialize
// copied out, the plugins destroyed, createPlugin in the runtime phase, attachToContext, enqueue.
// The harness stands in for TensorRT, so it implements IDimensionExpr/IExprBuilder through their
// apiv implementation classes, which plugins never do.

#include "plugin_creators.h"
#include "plugin_errors.h"

#include <NvInferRuntime.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <limits>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace nvinfer1;

namespace
{

// --- Failures and TensorRT's logger ------------------------------------------------------------

//! A step that did not do what TensorRT expects (harness code only: never thrown into a plugin).
struct StepFailure : std::runtime_error
{
    using std::runtime_error::runtime_error;
};

void expect(bool condition, std::string const& what)
{
    if (!condition)
    {
        throw StepFailure(what);
    }
}

//! The plugins report errors through TensorRT's logger: count them, since a step that succeeds
//! must not have logged one.
class CountingLogger final : public ILogger
{
public:
    void log(Severity severity, AsciiChar const* msg) noexcept override
    {
        if (severity <= Severity::kERROR)
        {
            ++errors;
            std::fprintf(stderr, "  plugin logged: %s\n", msg);
        }
    }
    int32_t errors{0};
};

CountingLogger gLogger;

// --- The dump ----------------------------------------------------------------------------------

struct Array
{
    std::string file;
    DataType type{};
    Dims dims{};
    std::vector<uint8_t> bytes;
};

struct Attribute
{
    std::string name;
    PluginFieldType type{};
    std::vector<int32_t> ints;
    std::vector<float> floats;
};

struct Case
{
    std::string name;
    std::string op;
    std::vector<Attribute> attributes;
    std::vector<Array> inputs;
    std::vector<Array> outputs;
};

size_t elementSize(DataType type)
{
    return type == DataType::kHALF ? 2 : 4; // the dump holds f16, f32 and i32 only
}

int64_t volume(Dims const& dims)
{
    int64_t n = 1;
    for (int32_t i = 0; i < dims.nbDims; ++i)
    {
        n *= dims.d[i];
    }
    return n;
}

DataType parseType(std::string const& s)
{
    if (s == "f32")
    {
        return DataType::kFLOAT;
    }
    if (s == "f16")
    {
        return DataType::kHALF;
    }
    expect(s == "i32", "manifest: unknown dtype " + s);
    return DataType::kINT32;
}

char const* typeName(DataType type)
{
    switch (type)
    {
    case DataType::kFLOAT: return "f32";
    case DataType::kHALF: return "f16";
    case DataType::kINT32: return "i32";
    default: return "other";
    }
}

std::string dimsText(Dims const& dims)
{
    std::string s = "[";
    for (int32_t i = 0; i < dims.nbDims; ++i)
    {
        s += (i ? "," : "") + std::to_string(dims.d[i]);
    }
    return s + "]";
}

Array readArray(std::istringstream& line, std::string const& dir)
{
    Array a;
    std::string type;
    line >> type >> a.file >> a.dims.nbDims;
    a.type = parseType(type);
    for (int32_t i = 0; i < a.dims.nbDims; ++i)
    {
        line >> a.dims.d[i];
    }
    a.bytes.resize(static_cast<size_t>(volume(a.dims)) * elementSize(a.type));
    std::ifstream in(dir + "/" + a.file, std::ios::binary);
    in.read(reinterpret_cast<char*>(a.bytes.data()), static_cast<std::streamsize>(a.bytes.size()));
    expect(in.gcount() == static_cast<std::streamsize>(a.bytes.size()), "manifest: short file " + a.file);
    return a;
}

Attribute readAttribute(std::istringstream& line)
{
    Attribute a;
    std::string type;
    int32_t n = 0;
    line >> a.name >> type >> n;
    a.type = type == "i32" ? PluginFieldType::kINT32 : PluginFieldType::kFLOAT32;
    for (int32_t i = 0; i < n; ++i)
    {
        if (a.type == PluginFieldType::kINT32)
        {
            int32_t v = 0;
            line >> v;
            a.ints.push_back(v);
        }
        else
        {
            uint32_t bits = 0; // float32 bit patterns: the exact values surgery wrote
            line >> std::hex >> bits >> std::dec;
            float v = 0.F;
            std::memcpy(&v, &bits, sizeof v);
            a.floats.push_back(v);
        }
    }
    expect(!line.fail(), "manifest: bad attribute line for " + a.name);
    return a;
}

std::vector<Case> readManifest(std::string const& dir)
{
    std::ifstream in(dir + "/manifest.txt");
    expect(in.good(), "cannot read " + dir + "/manifest.txt (run tools/dump_plugin_inputs.py)");
    std::vector<Case> cases;
    std::string text;
    while (std::getline(in, text))
    {
        std::istringstream line(text);
        std::string kind;
        line >> kind;
        if (kind == "case")
        {
            cases.emplace_back();
            line >> cases.back().name >> cases.back().op;
        }
        else if (kind == "attr")
        {
            cases.back().attributes.push_back(readAttribute(line));
        }
        else if (kind == "in" || kind == "out")
        {
            (kind == "in" ? cases.back().inputs : cases.back().outputs).push_back(readArray(line, dir));
        }
    }
    expect(!cases.empty(), "manifest lists no case");
    return cases;
}

// --- IExprBuilder, as TensorRT's builder provides it -------------------------------------------

//! An expression with the value TensorRT would know at runtime; constant or not, as declared.
class Expr final : public IDimensionExpr
{
public:
    Expr(int64_t value, bool constant)
        : mValue(value)
        , mEval(value, constant)
    {
        mImpl = &mEval;
    }
    int64_t value() const
    {
        return mValue;
    }

private:
    struct Eval final : apiv::VDimensionExpr
    {
        Eval(int64_t v, bool c)
            : value(v)
            , constant(c)
        {
        }
        bool isConstant() const override
        {
            return constant;
        }
        int64_t getConstantValue() const override
        {
            return constant ? value : std::numeric_limits<int64_t>::min();
        }
        bool isSizeTensor() const override
        {
            return false;
        }
        int64_t value;
        bool constant;
    };
    int64_t mValue;
    Eval mEval;
};

int64_t apply(DimensionOperation op, int64_t a, int64_t b)
{
    switch (op)
    {
    case DimensionOperation::kSUM: return a + b;
    case DimensionOperation::kPROD: return a * b;
    case DimensionOperation::kMAX: return std::max(a, b);
    case DimensionOperation::kMIN: return std::min(a, b);
    case DimensionOperation::kSUB: return a - b;
    case DimensionOperation::kEQUAL: return a == b;
    case DimensionOperation::kLESS: return a < b;
    case DimensionOperation::kFLOOR_DIV: return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
    case DimensionOperation::kCEIL_DIV: return a / b + ((a % b != 0) && ((a < 0) == (b < 0)));
    }
    return std::numeric_limits<int64_t>::min();
}

class ExprBuilder final : public IExprBuilder
{
public:
    ExprBuilder()
        : mBuild(*this)
    {
        mImpl = &mBuild;
    }

    //! An input dimension: known to the harness, not a build-time constant (a dynamic profile).
    Expr const* input(int64_t value)
    {
        return make(value, false);
    }

    static int64_t evaluate(IDimensionExpr const* e)
    {
        expect(e != nullptr, "getOutputShapes left a dimension null");
        return static_cast<Expr const*>(e)->value(); // every expression comes from this builder
    }

private:
    Expr const* make(int64_t value, bool constant)
    {
        mExprs.push_back(std::make_unique<Expr>(value, constant));
        return mExprs.back().get();
    }

    struct Build final : apiv::VExprBuilder
    {
        explicit Build(ExprBuilder& owner)
            : self(owner)
        {
        }
        IDimensionExpr const* constant(int64_t value) override
        {
            return self.make(value, true);
        }
        IDimensionExpr const* operation(
            DimensionOperation op, IDimensionExpr const& a, IDimensionExpr const& b) override
        {
            bool const constant = a.isConstant() && b.isConstant();
            return self.make(apply(op, evaluate(&a), evaluate(&b)), constant);
        }
        IDimensionExpr const* declareSizeTensor(int32_t, IDimensionExpr const&, IDimensionExpr const&) override
        {
            return nullptr; // our plugins have no data-dependent output shape
        }
        ExprBuilder& self;
    };

    std::deque<std::unique_ptr<Expr>> mExprs;
    Build mBuild;
};

// --- The plugin's interfaces, as TensorRT obtains them -----------------------------------------

struct Interfaces
{
    IPluginV3OneCore* core{};
    IPluginV3OneBuild* build{};
    IPluginV3OneRuntime* runtime{};
};

template <typename I>
I* capability(IPluginV3& plugin, PluginCapabilityType type, char const* kind)
{
    IPluginCapability* c = plugin.getCapabilityInterface(type);
    expect(c != nullptr, std::string("getCapabilityInterface gave no ") + kind);
    expect(std::strcmp(c->getInterfaceInfo().kind, kind) == 0,
        std::string("capability is ") + c->getInterfaceInfo().kind + ", expected " + kind);
    return static_cast<I*>(c);
}

Interfaces interfacesOf(IPluginV3& plugin)
{
    Interfaces i;
    i.core = capability<IPluginV3OneCore>(plugin, PluginCapabilityType::kCORE, "PLUGIN_V3ONE_CORE");
    i.build = capability<IPluginV3OneBuild>(plugin, PluginCapabilityType::kBUILD, "PLUGIN_V3ONE_BUILD");
    i.runtime = capability<IPluginV3OneRuntime>(plugin, PluginCapabilityType::kRUNTIME, "PLUGIN_V3ONE_RUNTIME");
    return i;
}

IPluginCreatorV3One& creatorFor(std::string const& op)
{
    int32_t count = 0;
    IPluginCreatorInterface* const* creators = mrcnn_edge::pluginCreators(count);
    for (int32_t i = 0; i < count; ++i)
    {
        // TensorRT's registry tells creator kinds apart by their interface info, then casts.
        expect(std::strcmp(creators[i]->getInterfaceInfo().kind, "PLUGIN CREATOR_V3ONE") == 0,
            "a creator is not an IPluginCreatorV3One");
        auto* creator = static_cast<IPluginCreatorV3One*>(creators[i]);
        if (op == creator->getPluginName() && std::strcmp(creator->getPluginVersion(), "1") == 0
            && std::strcmp(creator->getPluginNamespace(), "mrcnn_edge") == 0)
        {
            return *creator;
        }
    }
    throw StepFailure("no creator mrcnn_edge::" + op + " version 1");
}

using PluginPtr = std::unique_ptr<IPluginV3>;

// --- Tensor descriptions -----------------------------------------------------------------------

PluginTensorDesc descOf(Array const& a)
{
    PluginTensorDesc d{};
    d.dims = a.dims;
    d.type = a.type;
    d.format = TensorFormat::kLINEAR;
    d.scale = 1.F;
    return d;
}

DynamicPluginTensorDesc dynamicOf(Array const& a)
{
    DynamicPluginTensorDesc d{};
    d.desc = descOf(a);
    d.min = d.max = d.opt = a.dims; // the profile of a static graph
    return d;
}

struct Io
{
    std::vector<DynamicPluginTensorDesc> dynIn, dynOut;
    std::vector<PluginTensorDesc> in, out;
};

Io ioOf(Case const& c)
{
    Io io;
    for (Array const& a : c.inputs)
    {
        io.dynIn.push_back(dynamicOf(a));
        io.in.push_back(descOf(a));
    }
    for (Array const& a : c.outputs)
    {
        io.dynOut.push_back(dynamicOf(a));
        io.out.push_back(descOf(a));
    }
    return io;
}

// --- The steps ---------------------------------------------------------------------------------

struct Fields
{
    std::vector<std::string> names;
    std::vector<std::vector<uint8_t>> data;
    std::vector<PluginField> fields;
    PluginFieldCollection collection{};
};

//! The attributes as TensorRT's ONNX parser hands them to createPlugin.
std::unique_ptr<Fields> fieldsOf(Case const& c)
{
    auto f = std::make_unique<Fields>();
    for (Attribute const& a : c.attributes)
    {
        f->names.push_back(a.name);
        bool const isInt = a.type == PluginFieldType::kINT32;
        auto const* bytes = isInt ? reinterpret_cast<uint8_t const*>(a.ints.data())
                                  : reinterpret_cast<uint8_t const*>(a.floats.data());
        size_t const n = isInt ? a.ints.size() : a.floats.size();
        f->data.emplace_back(bytes, bytes + n * 4);
    }
    for (size_t i = 0; i < c.attributes.size(); ++i)
    {
        int32_t const n = static_cast<int32_t>(f->data[i].size() / 4);
        f->fields.emplace_back(f->names[i].c_str(), f->data[i].data(), c.attributes[i].type, n);
    }
    f->collection.nbFields = static_cast<int32_t>(f->fields.size());
    f->collection.fields = f->fields.data();
    return f;
}

//! getFieldsToSerialize, copied out as TensorRT copies it into the engine (the plugin may go away).
std::unique_ptr<Fields> serialize(IPluginV3OneRuntime& runtime)
{
    PluginFieldCollection const* fc = runtime.getFieldsToSerialize();
    expect(fc != nullptr, "getFieldsToSerialize returned null");
    auto f = std::make_unique<Fields>();
    for (int32_t i = 0; i < fc->nbFields; ++i)
    {
        PluginField const& p = fc->fields[i];
        expect(p.type == PluginFieldType::kINT32 || p.type == PluginFieldType::kFLOAT32,
            "serialised field of an unexpected type");
        f->names.emplace_back(p.name);
        auto const* bytes = static_cast<uint8_t const*>(p.data);
        f->data.emplace_back(bytes, bytes + static_cast<size_t>(p.length) * 4);
        f->fields.emplace_back(nullptr, nullptr, p.type, p.length);
    }
    for (size_t i = 0; i < f->fields.size(); ++i)
    {
        f->fields[i].name = f->names[i].c_str();
        f->fields[i].data = f->data[i].data();
    }
    f->collection.nbFields = static_cast<int32_t>(f->fields.size());
    f->collection.fields = f->fields.data();
    return f;
}

//! What surgery wrote, name by name, must be what the plugin serialises (same values, same types).
void expectSameFields(Fields const& written, Fields const& serialized)
{
    expect(written.names.size() == serialized.names.size(), "serialises " + std::to_string(serialized.names.size())
        + " fields, surgery wrote " + std::to_string(written.names.size()));
    for (size_t i = 0; i < written.names.size(); ++i)
    {
        auto const at = std::find(serialized.names.begin(), serialized.names.end(), written.names[i]);
        expect(at != serialized.names.end(), "does not serialise " + written.names[i]);
        size_t const j = static_cast<size_t>(at - serialized.names.begin());
        expect(serialized.fields[j].type == written.fields[i].type && serialized.data[j] == written.data[i],
            "serialises " + written.names[i] + " differently from what surgery wrote");
    }
}

PluginPtr create(Case const& c, Fields const& f, TensorRTPhase phase)
{
    IPluginCreatorV3One& creator = creatorFor(c.op);
    // surgery writes exactly the creator's fields (check_plugin_node holds it to that)
    PluginFieldCollection const* names = creator.getFieldNames();
    expect(names != nullptr && names->nbFields == f.collection.nbFields, "getFieldNames differs from the attributes");
    PluginPtr plugin(creator.createPlugin(c.name.c_str(), &f.collection, phase));
    expect(plugin != nullptr, "createPlugin returned null");
    IPluginV3OneCore* core = interfacesOf(*plugin).core;
    expect(c.op == core->getPluginName() && std::strcmp(core->getPluginVersion(), "1") == 0
            && std::strcmp(core->getPluginNamespace(), "mrcnn_edge") == 0,
        "core reports another name, version or namespace");
    return plugin;
}

void checkTypes(IPluginV3OneBuild& build, Case const& c)
{
    expect(build.getNbOutputs() == static_cast<int32_t>(c.outputs.size()),
        "getNbOutputs " + std::to_string(build.getNbOutputs()) + ", the reference has " + std::to_string(c.outputs.size()));
    std::vector<DataType> in, out(c.outputs.size(), DataType::kBOOL);
    for (Array const& a : c.inputs)
    {
        in.push_back(a.type);
    }
    int32_t const rc = build.getOutputDataTypes(out.data(), static_cast<int32_t>(out.size()), in.data(),
        static_cast<int32_t>(in.size()));
    expect(rc == 0, "getOutputDataTypes failed");
    for (size_t o = 0; o < out.size(); ++o)
    {
        expect(out[o] == c.outputs[o].type, "output " + std::to_string(o) + " type " + typeName(out[o])
            + ", the reference's is " + typeName(c.outputs[o].type));
    }
}

void checkShapes(IPluginV3OneBuild& build, Case const& c)
{
    ExprBuilder builder;
    std::vector<DimsExprs> in(c.inputs.size()), out(c.outputs.size());
    for (size_t i = 0; i < c.inputs.size(); ++i)
    {
        in[i].nbDims = c.inputs[i].dims.nbDims;
        for (int32_t d = 0; d < in[i].nbDims; ++d)
        {
            in[i].d[d] = builder.input(c.inputs[i].dims.d[d]);
        }
    }
    int32_t const rc = build.getOutputShapes(in.data(), static_cast<int32_t>(in.size()), nullptr, 0, out.data(),
        static_cast<int32_t>(out.size()), builder);
    expect(rc == 0, "getOutputShapes failed");
    for (size_t o = 0; o < out.size(); ++o)
    {
        Dims got{};
        got.nbDims = out[o].nbDims;
        for (int32_t d = 0; d < got.nbDims && d < Dims::MAX_DIMS; ++d)
        {
            got.d[d] = ExprBuilder::evaluate(out[o].d[d]);
        }
        Dims const& want = c.outputs[o].dims;
        expect(dimsText(got) == dimsText(want),
            "output " + std::to_string(o) + " shape " + dimsText(got) + ", the reference's is " + dimsText(want));
    }
}

//! The types a position may take: the documented contract (plugins/*/README.md).
std::set<DataType> allowedTypes(Case const& c, int32_t pos)
{
    bool const firstMap = c.op == "MultilevelRoIAlign_TRT" && pos == 1;
    if (firstMap)
    {
        return {DataType::kFLOAT, DataType::kHALF};
    }
    size_t const nIn = c.inputs.size();
    size_t const p = static_cast<size_t>(pos);
    return {p < nIn ? c.inputs[p].type : c.outputs[p - nIn].type};
}

//! TensorRT asks position by position, earlier positions fixed to the combination being built.
void checkFormats(IPluginV3OneBuild& build, Case const& c, Io io)
{
    int32_t const nIn = static_cast<int32_t>(c.inputs.size());
    int32_t const nOut = static_cast<int32_t>(c.outputs.size());
    std::vector<DynamicPluginTensorDesc> inOut(io.dynIn);
    inOut.insert(inOut.end(), io.dynOut.begin(), io.dynOut.end());
    for (int32_t pos = 0; pos < nIn + nOut; ++pos)
    {
        DynamicPluginTensorDesc const chosen = inOut[pos];
        std::set<DataType> accepted;
        for (int32_t t = 0; t < EnumMax<DataType>(); ++t)
        {
            for (int32_t f = 0; f < EnumMax<TensorFormat>(); ++f)
            {
                inOut[pos].desc.type = static_cast<DataType>(t);
                inOut[pos].desc.format = static_cast<TensorFormat>(f);
                if (build.supportsFormatCombination(pos, inOut.data(), nIn, nOut))
                {
                    expect(f == static_cast<int32_t>(TensorFormat::kLINEAR),
                        "position " + std::to_string(pos) + " accepts a non-linear format");
                    accepted.insert(static_cast<DataType>(t));
                }
            }
        }
        expect(accepted == allowedTypes(c, pos), "position " + std::to_string(pos) + " accepts other types than its contract");
        inOut[pos] = chosen;
    }
}

size_t configure(IPluginV3OneBuild& build, Io const& io)
{
    int32_t const nIn = static_cast<int32_t>(io.dynIn.size());
    int32_t const nOut = static_cast<int32_t>(io.dynOut.size());
    expect(build.configurePlugin(io.dynIn.data(), nIn, io.dynOut.data(), nOut) == 0, "configurePlugin failed");
    return build.getWorkspaceSize(io.dynIn.data(), nIn, io.dynOut.data(), nOut);
}

// --- enqueue -----------------------------------------------------------------------------------

constexpr size_t kGuard = 256; // poisoned bytes after each buffer: a write past its end shows there
constexpr uint8_t kPoison = 0xA5;

struct Buffers
{
    std::vector<std::vector<uint8_t>> inputs, outputs;
    std::vector<uint8_t> workspace;
};

Buffers buffersFor(Case const& c, size_t workspace)
{
    Buffers b;
    for (Array const& a : c.inputs)
    {
        b.inputs.push_back(a.bytes);
        b.inputs.back().resize(a.bytes.size() + kGuard, kPoison);
    }
    for (Array const& a : c.outputs)
    {
        b.outputs.emplace_back(a.bytes.size() + kGuard, kPoison);
    }
    b.workspace.assign(workspace + kGuard, kPoison);
    return b;
}

bool guardIntact(std::vector<uint8_t> const& buffer)
{
    return std::all_of(buffer.end() - kGuard, buffer.end(), [](uint8_t v) { return v == kPoison; });
}

//! onShapeChange then enqueue, on the CPU layer's stream, with host pointers; the outputs' bytes.
std::vector<std::vector<uint8_t>> enqueue(IPluginV3OneRuntime& runtime, Case const& c, Io const& io, size_t workspace)
{
    int32_t const nIn = static_cast<int32_t>(io.in.size());
    int32_t const nOut = static_cast<int32_t>(io.out.size());
    expect(runtime.onShapeChange(io.in.data(), nIn, io.out.data(), nOut) == 0, "onShapeChange failed");
    Buffers b = buffersFor(c, workspace);
    std::vector<void const*> in;
    std::vector<void*> out;
    for (auto& v : b.inputs)
    {
        in.push_back(v.data());
    }
    for (auto& v : b.outputs)
    {
        out.push_back(v.data());
    }
    cudaStream_t stream{};
    expect(cudaStreamCreate(&stream) == cudaSuccess, "cudaStreamCreate failed");
    int32_t const rc = runtime.enqueue(io.in.data(), io.out.data(), in.data(), out.data(),
        workspace ? b.workspace.data() : nullptr, stream);
    cudaError_t const sync = cudaStreamSynchronize(stream);
    cudaStreamDestroy(stream);
    expect(rc == 0 && sync == cudaSuccess, "enqueue failed");
    for (size_t i = 0; i < b.outputs.size(); ++i)
    {
        expect(guardIntact(b.outputs[i]), "enqueue wrote past output " + std::to_string(i));
        b.outputs[i].resize(b.outputs[i].size() - kGuard);
    }
    expect(guardIntact(b.workspace), "enqueue wrote past the workspace it asked for");
    for (size_t i = 0; i < b.inputs.size(); ++i)
    {
        expect(std::equal(c.inputs[i].bytes.begin(), c.inputs[i].bytes.end(), b.inputs[i].begin())
                && guardIntact(b.inputs[i]), "enqueue wrote into input " + std::to_string(i));
    }
    return b.outputs;
}

//! Bit equality with the reference, or where and how much it differs.
void expectEqualOutputs(std::vector<std::vector<uint8_t>> const& got, std::vector<Array> const& want, char const* what)
{
    for (size_t o = 0; o < want.size(); ++o)
    {
        std::vector<uint8_t> const& w = want[o].bytes;
        if (got[o] == w)
        {
            continue;
        }
        size_t const size = elementSize(want[o].type);
        size_t differing = 0, first = w.size();
        for (size_t e = 0; e < w.size(); e += size)
        {
            if (std::memcmp(&got[o][e], &w[e], size) != 0)
            {
                differing++;
                first = std::min(first, e / size);
            }
        }
        throw StepFailure(std::string(what) + ": output " + std::to_string(o) + " differs in " + std::to_string(differing)
            + " of " + std::to_string(w.size() / size) + " elements (first at " + std::to_string(first) + ")");
    }
}

size_t outputBytes(Case const& c)
{
    size_t n = 0;
    for (Array const& a : c.outputs)
    {
        n += a.bytes.size();
    }
    return n;
}

std::string shapesText(std::vector<Array> const& arrays)
{
    std::string s;
    for (Array const& a : arrays)
    {
        s += (s.empty() ? "" : " ") + dimsText(a.dims);
    }
    return s;
}

//! Something of what the outputs hold, so that a report of equal outputs is not one of empty ones.
std::string contentText(Case const& c)
{
    if (c.op == "BatchedNMS_TRT")
    {
        int32_t kept = 0;
        std::memcpy(&kept, c.outputs[0].bytes.data(), sizeof kept);
        return ", " + std::to_string(kept) + " detections kept";
    }
    std::vector<uint8_t> const& out = c.outputs[0].bytes;
    size_t const size = elementSize(c.outputs[0].type);
    size_t nonzero = 0;
    for (size_t e = 0; e < out.size(); e += size)
    {
        nonzero += std::any_of(&out[e], &out[e] + size, [](uint8_t v) { return v != 0; }) ? 1 : 0;
    }
    return ", " + std::to_string(nonzero) + " of " + std::to_string(out.size() / size) + " values nonzero";
}

class NoResources final : public IPluginResourceContext
{
public:
    IGpuAllocator* getGpuAllocator() const noexcept override
    {
        return nullptr;
    }
    IErrorRecorder* getErrorRecorder() const noexcept override
    {
        return nullptr;
    }
};

// --- One case ----------------------------------------------------------------------------------

//! Runs one step, printing "name: ok detail" or the failure; false on failure.
template <typename F>
bool step(char const* name, F&& body)
{
    int32_t const errorsBefore = gLogger.errors;
    try
    {
        std::string const detail = body();
        expect(gLogger.errors == errorsBefore, "the plugin logged an error");
        std::printf("  %-34s ok%s%s\n", name, detail.empty() ? "" : "  ", detail.c_str());
        return true;
    }
    catch (std::exception const& e)
    {
        std::printf("  %-34s FAILED: %s\n", name, e.what());
        return false;
    }
}

bool runCase(Case const& c)
{
    std::string types;
    for (Array const& a : c.inputs)
    {
        types += std::string(types.empty() ? "" : ",") + typeName(a.type);
    }
    std::printf("%s (%s, inputs %s)\n", c.name.c_str(), c.op.c_str(), types.c_str());
    std::unique_ptr<Fields> const written = fieldsOf(c);
    Io const io = ioOf(c);
    PluginPtr plugin;
    Interfaces i;
    size_t workspace = 0;
    std::vector<std::vector<uint8_t>> first;
    std::unique_ptr<Fields> serialized;
    bool ok = step("1 createPlugin (kBUILD)", [&] {
        plugin = create(c, *written, TensorRTPhase::kBUILD);
        i = interfacesOf(*plugin);
        return std::to_string(written->collection.nbFields) + " fields from surgery";
    });
    ok = ok && step("2 getOutputDataTypes", [&] { return checkTypes(*i.build, c), std::string(); });
    ok = ok && step("2 getOutputShapes (IExprBuilder)", [&] { return checkShapes(*i.build, c), shapesText(c.outputs); });
    ok = ok && step("3 supportsFormatCombination", [&] { return checkFormats(*i.build, c, io), std::string(); });
    ok = ok && step("3 configurePlugin, getWorkspaceSize", [&] {
        workspace = configure(*i.build, io);
        return std::to_string(workspace) + " B workspace";
    });
    ok = ok && step("4 enqueue vs CPU reference", [&] {
        first = enqueue(*i.runtime, c, io, workspace);
        expectEqualOutputs(first, c.outputs, "enqueue");
        return "bit-identical, " + std::to_string(outputBytes(c)) + " B" + contentText(c);
    });
    ok = ok && step("5 clone, enqueue", [&] {
        PluginPtr copy(plugin->clone());
        expect(copy != nullptr, "clone returned null");
        expectEqualOutputs(enqueue(*interfacesOf(*copy).runtime, c, io, workspace), c.outputs, "clone");
        return std::string("bit-identical");
    });
    ok = ok && step("5 serialize, deserialize (kRUNTIME)", [&] {
        serialized = serialize(*i.runtime);
        expectSameFields(*written, *serialized);
        plugin.reset(); // TensorRT keeps only the copy; the fields must not point into a dead plugin
        PluginPtr restored = create(c, *serialized, TensorRTPhase::kRUNTIME);
        NoResources context;
        PluginPtr attached(interfacesOf(*restored).runtime->attachToContext(&context));
        expect(attached != nullptr, "attachToContext returned null");
        expectEqualOutputs(enqueue(*interfacesOf(*attached).runtime, c, io, workspace), c.outputs, "deserialised");
        return std::string("fields as written, bit-identical");
    });
    return ok;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 2)
    {
        std::fprintf(stderr, "usage: %s DUMP_DIR (written by tools/dump_plugin_inputs.py)\n", argv[0]);
        return 2;
    }
    mrcnn_edge::setPluginLogger(&gLogger);
    std::vector<Case> cases;
    try
    {
        cases = readManifest(argv[1]);
    }
    catch (std::exception const& e)
    {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
    std::printf("TensorRT %d.%d headers, kernels on the CPU execution layer, %zu cases from %s\n", NV_TENSORRT_MAJOR,
        NV_TENSORRT_MINOR, cases.size(), argv[1]);
    int32_t failed = 0;
    for (Case const& c : cases)
    {
        failed += runCase(c) ? 0 : 1;
    }
    std::printf("%zu of %zu cases passed\n", cases.size() - static_cast<size_t>(failed), cases.size());
    return failed == 0 ? 0 : 1;
}
