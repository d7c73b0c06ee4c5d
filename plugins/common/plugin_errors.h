#pragma once

// Errors never cross TensorRT's noexcept API: glue code runs inside guarded(), which logs the
// exception through TensorRT's logger and returns an error value instead.

#include <NvInferRuntime.h>

#include <exception>

namespace mrcnn_edge
{

//! Logger used for plugin errors; TensorRT provides it through setLoggerFinder.
void setPluginLoggerFinder(nvinfer1::ILoggerFinder* finder) noexcept;
void setPluginLogger(nvinfer1::ILogger* logger) noexcept;
void logPluginError(char const* where, char const* what) noexcept;

template <typename R, typename F>
R guarded(char const* where, R onError, F&& body) noexcept
{
    try
    {
        return body();
    }
    catch (std::exception const& e)
    {
        logPluginError(where, e.what());
    }
    catch (...)
    {
        logPluginError(where, "unknown exception");
    }
    return onError;
}

} // namespace mrcnn_edge
