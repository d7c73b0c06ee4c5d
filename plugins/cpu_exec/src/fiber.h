#pragma once

// Fibers: stacks of their own that one worker thread switches between. The threads of a block
// run as fibers, so that a thread can stop at a barrier and the others can go on to it.

#include <cstddef>

namespace cpu_exec::detail
{

//! One fiber: entry(arg) runs on its own stack from the first resume; it gives control back to
//! whoever resumed it by suspend(). entry must never return.
class Fiber
{
public:
    Fiber(void* stackLow, size_t stackBytes, void (*entry)(void*), void* arg);
    Fiber(Fiber const&) = delete;
    Fiber& operator=(Fiber const&) = delete;
    ~Fiber();

    //! Switches from the calling (scheduler) stack to this fiber until it suspends.
    void resume();
    //! Called on the fiber: switches back to the stack that resumed it.
    void suspend();
    //! Called once, first thing in entry: completes the first switch (sanitizer bookkeeping).
    void started();

private:
    void* mSp = nullptr;          //!< the fiber's saved stack pointer while it is suspended
    void* mResumerSp = nullptr;   //!< the scheduler's while the fiber runs
    void* mStackLow;
    size_t mStackBytes;
    void const* mResumerLow = nullptr; //!< the scheduler's stack, for AddressSanitizer
    size_t mResumerBytes = 0;
    void* mFakeStack = nullptr;
    void* mResumerFakeStack = nullptr;
#if !defined(__x86_64__) || defined(CPU_EXEC_UCONTEXT)
    struct Context;
    Context* mContext;
#endif
};

} // namespace cpu_exec::detail
