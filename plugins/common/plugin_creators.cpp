#include "plugin_creators.h"

#include "batched_nms/batched_nms_plugin.h"
#include "multilevel_roi_align/multilevel_roi_align_plugin.h"

namespace mrcnn_edge
{

nvinfer1::IPluginCreatorInterface* const* pluginCreators(int32_t& count) noexcept
{
    static MultilevelRoiAlignCreator roiAlign;
    static BatchedNmsCreator nms;
    static nvinfer1::IPluginCreatorInterface* const list[] = {&roiAlign, &nms};
    count = static_cast<int32_t>(sizeof(list) / sizeof(list[0]));
    return list;
}

} // namespace mrcnn_edge
