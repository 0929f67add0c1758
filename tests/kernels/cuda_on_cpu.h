// cuda_on_cpu.h - just enough of CUDA to run tinylm's kernels (kernels/cuda/*.cu) on the CPU,
// for test_cuda_on_cpu.py: one OS thread per CUDA thread, one block at a time.
//
// It checks what the code computes - index arithmetic, masks, the split of a row over two
// threads, shuffles and barriers - not how fast it runs or how it uses memory:
//   __syncthreads      a std::barrier over the block's threads
//   __shfl_xor_sync    each lane writes its value to a slot, the warp meets at a barrier, each
//                      lane reads its partner's slot, the warp meets again
//   __shared__         `static`: one block runs at a time, so a static array is that block's
//   a thread that returns leaves the barriers (arrive_and_drop), as an exited CUDA thread no
//   longer counts at __syncthreads.
// Only 1-D blocks (all that the kernels use). Math is the C library's: __expf is expf.
#pragma once

#include <barrier>
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

inline std::unique_ptr<std::barrier<>> block_barrier;
inline std::vector<std::unique_ptr<std::barrier<>>> warp_barriers;
inline std::vector<float> shuffle_slots;

inline void __syncthreads() { block_barrier->arrive_and_wait(); }

inline float __shfl_xor_sync(unsigned /*mask*/, float value, int offset) {
    unsigned t = threadIdx.x;
    std::barrier<>& warp = *warp_barriers[t / 32];
    shuffle_slots[t] = value;
    warp.arrive_and_wait();
    float other = shuffle_slots[t ^ offset];
    warp.arrive_and_wait();  // nobody overwrites a slot before its partner has read it
    return other;
}

inline float __expf(float x) { return std::exp(x); }
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
inline float __int_as_float(int i) {
    float f;
    std::memcpy(&f, &i, sizeof f);
    return f;
}
template <class T>
inline T min(T a, T b) {
    return b < a ? b : a;
}

// Run `body` (a call of one kernel) as grid x block CUDA threads.
template <class Body>
void launch(dim3 grid, dim3 block, Body body) {
    gridDim = grid;
    blockDim = block;
    const unsigned n = block.x;
    for (unsigned z = 0; z < grid.z; ++z)
        for (unsigned y = 0; y < grid.y; ++y)
            for (unsigned x = 0; x < grid.x; ++x) {
                block_barrier = std::make_unique<std::barrier<>>(n);
                warp_barriers.clear();
                for (unsigned w = 0; w < n; w += 32)
                    warp_barriers.push_back(std::make_unique<std::barrier<>>(min(32u, n - w)));
                shuffle_slots.assign(n, 0.f);
                std::vector<std::thread> threads;
                for (unsigned t = 0; t < n; ++t) {
                    threads.emplace_back([&, t, x, y, z] {
                        blockIdx = dim3{x, y, z};
                        threadIdx = dim3{t, 0, 0};
                        body();
                        block_barrier->arrive_and_drop();
                        warp_barriers[t / 32]->arrive_and_drop();
                    });
                }
                for (auto& thread : threads) thread.join();
            }
}
