#include "plugin_errors.h"

#include <atomic>
#include <cstdio>
#include <string>

namespace mrcnn_edge
{
namespace
{

std::atomic<nvinfer1::ILoggerFinder*> gLoggerFinder{nullptr};
std::atomic<nvinfer1::ILogger*> gLogger{nullptr};

nvinfer1::ILogger* currentLogger() noexcept
{
    if (nvinfer1::ILogger* logger = gLogger.load())
    {
        return logger;
    }
    nvinfer1::ILoggerFinder* finder = gLoggerFinder.load();
    return finder != nullptr ? finder->findLogger() : nullptr;
}

} // namespace

void setPluginLoggerFinder(nvinfer1::ILoggerFinder* finder) noexcept
{
    gLoggerFinder.store(finder);
}

void setPluginLogger(nvinfer1::ILogger* logger) noexcept
{
    gLogger.store(logger);
}

void logPluginError(char const* where, char const* what) noexcept
{
    try
    {
        std::string const message = std::string("[mrcnn_edge] ") + where + ": " + what;
        if (nvinfer1::ILogger* logger = currentLogger())
        {
            logger->log(nvinfer1::ILogger::Severity::kERROR, message.c_str());
        }
        else
        {
            std::fprintf(stderr, "%s\n", message.c_str());
        }
    }
    catch (...)
    {
        std::fprintf(stderr, "[mrcnn_edge] %s: error while reporting an error\n", where);
    }
}

} // namespace mrcnn_edge
