// Fibers. On x86-64, a 20-instruction switch of the callee-saved registers (no system call, unlike
// glibc's swapcontext, which saves the signal mask: a RoIAlign launch switches ~50 million times).
// Elsewhere, or with -DCPU_EXEC_UCONTEXT, ucontext. AddressSanitizer is told of every switch.

#include "fiber.h"

#include <cstdint>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CPU_EXEC_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CPU_EXEC_ASAN 1
#endif
#ifdef CPU_EXEC_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace cpu_exec::detail
{
namespace
{

void startSwitch(void** fakeStackSave, void const* low, size_t bytes)
{
#ifdef CPU_EXEC_ASAN
    __sanitizer_start_switch_fiber(fakeStackSave, low, bytes);
#else
    (void) fakeStackSave, (void) low, (void) bytes;
#endif
}

void finishSwitch(void* fakeStack, void const** fromLow, size_t* fromBytes)
{
#ifdef CPU_EXEC_ASAN
    __sanitizer_finish_switch_fiber(fakeStack, fromLow, fromBytes);
#else
    (void) fakeStack, (void) fromLow, (void) fromBytes;
#endif
}

} // namespace
} // namespace cpu_exec::detail

#if defined(__x86_64__) && !defined(CPU_EXEC_UCONTEXT)

// cpu_exec_switch(save, load): pushes the System V callee-saved registers, MXCSR and the x87
// control word, stores the stack pointer in *save, loads `load` and pops the same from there.
// A new fiber's stack is laid out as if it had called cpu_exec_switch from cpu_exec_trampoline,
// with r12 = argument and r13 = entry.
extern "C" void cpu_exec_switch(void** save, void* load);
extern "C" void cpu_exec_trampoline();
asm(R"(
    .text
    .p2align 4
    .globl cpu_exec_switch
    .hidden cpu_exec_switch
    .type cpu_exec_switch, @function
cpu_exec_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size cpu_exec_switch, .-cpu_exec_switch

    .p2align 4
    .globl cpu_exec_trampoline
    .hidden cpu_exec_trampoline
    .type cpu_exec_trampoline, @function
cpu_exec_trampoline:
    movq %r12, %rdi
    callq *%r13
    ud2
    .size cpu_exec_trampoline, .-cpu_exec_trampoline
    .section .note.GNU-stack,"",@progbits
    .text
)");

namespace cpu_exec::detail
{

Fiber::Fiber(void* stackLow, size_t stackBytes, void (*entry)(void*), void* arg)
    : mStackLow(stackLow)
    , mStackBytes(stackBytes)
{
    auto top = (reinterpret_cast<uintptr_t>(stackLow) + stackBytes) & ~uintptr_t{15};
    auto* frame = reinterpret_cast<uint64_t*>(top - 64); // 16-aligned: the trampoline's call is ABI-aligned
    frame[0] = 0x1F80ULL | (0x037FULL << 32);            // MXCSR and x87 control word at their reset values
    frame[1] = 0;                                        // r15
    frame[2] = 0;                                        // r14
    frame[3] = reinterpret_cast<uint64_t>(entry);        // r13
    frame[4] = reinterpret_cast<uint64_t>(arg);          // r12
    frame[5] = 0;                                        // rbx
    frame[6] = 0;                                        // rbp
    frame[7] = reinterpret_cast<uint64_t>(&cpu_exec_trampoline);
    mSp = frame;
}

Fiber::~Fiber() = default;

void Fiber::resume()
{
    startSwitch(&mResumerFakeStack, mStackLow, mStackBytes);
    cpu_exec_switch(&mResumerSp, mSp);
    finishSwitch(mResumerFakeStack, nullptr, nullptr);
}

void Fiber::suspend()
{
    startSwitch(&mFakeStack, mResumerLow, mResumerBytes);
    cpu_exec_switch(&mSp, mResumerSp);
    finishSwitch(mFakeStack, nullptr, nullptr);
}

} // namespace cpu_exec::detail

#else // ucontext

#include <ucontext.h>

namespace cpu_exec::detail
{

struct Fiber::Context
{
    ucontext_t fiber;
    ucontext_t resumer;
};

Fiber::Fiber(void* stackLow, size_t stackBytes, void (*entry)(void*), void* arg)
    : mStackLow(stackLow)
    , mStackBytes(stackBytes)
    , mContext(new Context)
{
    getcontext(&mContext->fiber);
    mContext->fiber.uc_stack.ss_sp = stackLow;
    mContext->fiber.uc_stack.ss_size = stackBytes;
    mContext->fiber.uc_link = nullptr;
    // makecontext passes int arguments: split the pointers into halves.
    auto const e = reinterpret_cast<uintptr_t>(entry);
    auto const a = reinterpret_cast<uintptr_t>(arg);
    auto const start = [](unsigned eh, unsigned el, unsigned ah, unsigned al) {
        auto* f = reinterpret_cast<void (*)(void*)>((static_cast<uintptr_t>(eh) << 32) | el);
        f(reinterpret_cast<void*>((static_cast<uintptr_t>(ah) << 32) | al));
    };
    void (*startFn)(unsigned, unsigned, unsigned, unsigned) = start;
    makecontext(&mContext->fiber, reinterpret_cast<void (*)()>(startFn), 4, static_cast<unsigned>(e >> 32),
        static_cast<unsigned>(e), static_cast<unsigned>(a >> 32), static_cast<unsigned>(a));
}

Fiber::~Fiber()
{
    delete mContext;
}

void Fiber::resume()
{
    startSwitch(&mResumerFakeStack, mStackLow, mStackBytes);
    swapcontext(&mContext->resumer, &mContext->fiber);
    finishSwitch(mResumerFakeStack, nullptr, nullptr);
}

void Fiber::suspend()
{
    startSwitch(&mFakeStack, mResumerLow, mResumerBytes);
    swapcontext(&mContext->fiber, &mContext->resumer);
    finishSwitch(mFakeStack, nullptr, nullptr);
}

} // namespace cpu_exec::detail

#endif

namespace cpu_exec::detail
{

void Fiber::started()
{
    finishSwitch(nullptr, &mResumerLow, &mResumerBytes);
}

} // namespace cpu_exec::detail
