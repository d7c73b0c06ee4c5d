// Kernel launches on the CPU: the GPU's launch checks, then blocks on worker threads and the
// threads of each block as fibers that switch at barriers.

#include "cpu_exec/thread_context.h"
#include "cpu_exec/launch.h"
#include "fiber.h"
#include "runtime_state.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

namespace cpu_exec
{
namespace
{

using detail::Fiber;

constexpr size_t kStackBytes = 256 * 1024;

enum class ThreadState
{
    kUnstarted,
    kRunnable,
    kAtBarrier,
    kExited,
};

//! In which order a block's runnable threads run between two barriers. CUDA promises none, so a
//! kernel must not depend on it; running it in several orders shows whether it does.
enum class Schedule
{
    kForward,
    kReverse,
    kShuffle,
};

Schedule scheduleFromEnvironment()
{
    char const* s = std::getenv("CPU_EXEC_SCHEDULE");
    if (s == nullptr || std::strcmp(s, "forward") == 0)
    {
        return Schedule::kForward;
    }
    if (std::strcmp(s, "reverse") == 0)
    {
        return Schedule::kReverse;
    }
    if (std::strcmp(s, "shuffle") == 0)
    {
        return Schedule::kShuffle;
    }
    std::fprintf(stderr, "cpu_exec: CPU_EXEC_SCHEDULE=%s is none of forward, reverse, shuffle\n", s);
    std::abort();
}

//! Fiber stacks of one worker, with an inaccessible guard page below each (an overflow faults).
class Stacks
{
public:
    explicit Stacks(size_t count)
        : mPage(static_cast<size_t>(sysconf(_SC_PAGESIZE)))
        , mStride(kStackBytes + mPage)
        , mBytes(count * mStride)
    {
        void* base = mmap(nullptr, mBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (base == MAP_FAILED)
        {
            std::perror("cpu_exec: fiber stacks");
            std::abort();
        }
        mBase = static_cast<char*>(base);
        for (size_t i = 0; i < count; ++i)
        {
            mprotect(mBase + i * mStride, mPage, PROT_NONE);
        }
    }
    Stacks(Stacks const&) = delete;
    Stacks& operator=(Stacks const&) = delete;
    ~Stacks()
    {
        munmap(mBase, mBytes);
    }
    void* low(size_t i) const
    {
        return mBase + i * mStride + mPage;
    }

private:
    size_t mPage;
    size_t mStride;
    size_t mBytes;
    char* mBase = nullptr;
};

class Worker;
thread_local Worker* tlsWorker = nullptr;

//! One OS thread's share of a launch: it runs whole blocks, one at a time. A CUDA thread runs on a
//! fiber; a fiber whose thread exits goes on with the next thread of the pass on the same stack, so
//! a kernel without barriers costs no switch per thread, and one with barriers holds a stack for
//! every thread waiting at one.
class Worker
{
public:
    Worker(LaunchConfig const& config, void (*body)(void*), void* context, Schedule schedule, uint64_t seed)
        : mConfig(config)
        , mBody(body)
        , mContext(context)
        , mSchedule(schedule)
        , mRandom(seed | 1U)
        , mThreads(static_cast<size_t>(config.block.x) * config.block.y * config.block.z)
        , mStacks(mThreads)
        , mThreadStates(mThreads)
        , mOrder(mThreads)
        , mShared(std::max<size_t>(config.sharedBytes, 1))
    {
        mFibers.reserve(mThreads);
    }

    void runBlocks(std::atomic<uint64_t>& next, uint64_t blocks)
    {
        tlsWorker = this;
        for (uint64_t b = next.fetch_add(1); b < blocks; b = next.fetch_add(1))
        {
            runBlock(b);
        }
        tlsWorker = nullptr;
    }

    BarrierResult arriveAndWait(int predicate)
    {
        FiberSlot& f = *mRunning;
        mArrivedTrue += predicate != 0 ? 1 : 0;
        mThreadStates[f.thread].state = ThreadState::kAtBarrier;
        f.fiber.suspend();
        return mReleased;
    }

private:
    struct CudaThread
    {
        ThreadState state = ThreadState::kExited;
        size_t fiber = 0; //!< the fiber it runs on, once started
    };

    struct FiberSlot
    {
        FiberSlot(Worker* w, size_t i, void* stack)
            : worker(w)
            , index(i)
            , fiber(stack, kStackBytes, &FiberSlot::main, this)
        {
        }
        static void main(void* arg)
        {
            auto* self = static_cast<FiberSlot*>(arg);
            self->fiber.started();
            for (;;)
            {
                self->worker->runChain(*self);
                self->fiber.suspend(); // free again: the scheduler hands it the next unstarted thread
            }
        }
        Worker* worker;
        size_t index;
        Fiber fiber;
        size_t thread = 0; //!< the CUDA thread it runs now
    };

    //! On a fiber: runs its thread, then, while the pass's next thread is unstarted, that one too.
    void runChain(FiberSlot& f)
    {
        for (;;)
        {
            enter(f, f.thread);
            mBody(mContext);
            mThreadStates[f.thread].state = ThreadState::kExited;
            if (mCursor + 1 >= mThreads || mThreadStates[mOrder[mCursor + 1]].state != ThreadState::kUnstarted)
            {
                return;
            }
            f.thread = mOrder[++mCursor];
        }
    }

    //! Makes thread t of the current block the running one on fiber f.
    void enter(FiberSlot& f, size_t t)
    {
        dim3 const b = mConfig.block;
        mThreadStates[t].state = ThreadState::kRunnable;
        mThreadStates[t].fiber = f.index;
        current.threadIndex = uint3{static_cast<unsigned>(t % b.x), static_cast<unsigned>(t / b.x % b.y),
            static_cast<unsigned>(t / b.x / b.y)};
        mRunning = &f;
    }

    FiberSlot& freeFiber()
    {
        if (mFree.empty())
        {
            size_t const i = mFibers.size();
            mFibers.push_back(std::make_unique<FiberSlot>(this, i, mStacks.low(i)));
            mFree.push_back(i);
        }
        FiberSlot& f = *mFibers[mFree.back()];
        mFree.pop_back();
        return f;
    }

    void runBlock(uint64_t linear)
    {
        dim3 const grid = mConfig.grid;
        current = ThreadContext{{0, 0, 0},
            uint3{static_cast<unsigned>(linear % grid.x), static_cast<unsigned>(linear / grid.x % grid.y),
                static_cast<unsigned>(linear / grid.x / grid.y)},
            mConfig.block, grid, mShared.data()};
        // Shared memory is uninitialised in CUDA: a pattern, so that a read before a write shows.
        std::memset(mShared.data(), 0xA5, mShared.size());
        for (CudaThread& t : mThreadStates)
        {
            t.state = ThreadState::kUnstarted;
        }
        for (bool waiting = true; waiting;)
        {
            mArrivedTrue = 0;
            runPass();
            // Every thread that has not exited is now at the barrier: release them all.
            int arrived = 0;
            for (CudaThread& t : mThreadStates)
            {
                if (t.state == ThreadState::kAtBarrier)
                {
                    t.state = ThreadState::kRunnable;
                    ++arrived;
                }
            }
            mReleased = BarrierResult{mArrivedTrue, arrived};
            waiting = arrived > 0;
        }
        mRunning = nullptr;
    }

    //! Runs every runnable or unstarted thread until it exits or reaches the barrier.
    void runPass()
    {
        shuffleOrder();
        for (mCursor = 0; mCursor < mThreads; ++mCursor)
        {
            size_t const t = mOrder[mCursor];
            CudaThread const& thread = mThreadStates[t];
            if (thread.state == ThreadState::kRunnable)
            {
                FiberSlot& f = *mFibers[thread.fiber];
                enter(f, t);
                f.fiber.resume();
            }
            else if (thread.state == ThreadState::kUnstarted)
            {
                FiberSlot& f = freeFiber();
                f.thread = t;
                f.fiber.resume();
            }
            else
            {
                continue;
            }
            // The fiber came back: its last thread exited (the fiber is free) or waits at the barrier.
            FiberSlot& f = *mRunning;
            if (mThreadStates[f.thread].state == ThreadState::kExited)
            {
                mFree.push_back(f.index);
            }
        }
    }

    void shuffleOrder()
    {
        std::iota(mOrder.begin(), mOrder.end(), size_t{0});
        if (mSchedule == Schedule::kReverse)
        {
            std::reverse(mOrder.begin(), mOrder.end());
        }
        else if (mSchedule == Schedule::kShuffle)
        {
            for (size_t i = mOrder.size(); i > 1; --i)
            {
                std::swap(mOrder[i - 1], mOrder[nextRandom() % i]);
            }
        }
    }

    uint64_t nextRandom()
    {
        mRandom ^= mRandom >> 12;
        mRandom ^= mRandom << 25;
        mRandom ^= mRandom >> 27;
        return mRandom * 0x2545F4914F6CDD1DULL;
    }

    LaunchConfig mConfig;
    void (*mBody)(void*);
    void* mContext;
    Schedule mSchedule;
    uint64_t mRandom;
    size_t mThreads;
    Stacks mStacks;
    std::vector<CudaThread> mThreadStates;
    std::vector<size_t> mOrder;
    std::vector<std::unique_ptr<FiberSlot>> mFibers;
    std::vector<size_t> mFree;
    std::vector<unsigned char> mShared;
    FiberSlot* mRunning = nullptr;
    size_t mCursor = 0;
    int mArrivedTrue = 0;
    BarrierResult mReleased{0, 0};
};

size_t workerCount(uint64_t blocks)
{
    size_t n = std::max(1U, std::thread::hardware_concurrency());
    if (char const* s = std::getenv("CPU_EXEC_WORKERS"))
    {
        n = static_cast<size_t>(std::max(1, std::atoi(s)));
    }
    return static_cast<size_t>(std::min<uint64_t>(n, blocks));
}

} // namespace

BarrierResult arriveAndWait(int predicate)
{
    if (tlsWorker == nullptr)
    {
        std::fprintf(stderr, "cpu_exec: __syncthreads outside a kernel\n");
        std::abort();
    }
    return tlsWorker->arriveAndWait(predicate);
}

cudaError_t launchThreads(LaunchConfig const& config, void (*body)(void*), void* context)
{
    cudaError_t const status = detail::checkLaunch(config);
    if (status != cudaSuccess)
    {
        return detail::recordError(status);
    }
    uint64_t const blocks = static_cast<uint64_t>(config.grid.x) * config.grid.y * config.grid.z;
    size_t const workers = workerCount(blocks);
    Schedule const schedule = scheduleFromEnvironment();
    std::atomic<uint64_t> next{0};
    std::vector<std::thread> threads;
    for (size_t w = 1; w < workers; ++w)
    {
        threads.emplace_back([&, w] { Worker(config, body, context, schedule, w).runBlocks(next, blocks); });
    }
    Worker(config, body, context, schedule, 0).runBlocks(next, blocks); // the launching thread works too
    for (std::thread& t : threads)
    {
        t.join();
    }
    return cudaSuccess;
}

} // namespace cpu_exec
