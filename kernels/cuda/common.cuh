// common.cuh - helpers shared by tinylm's CUDA kernels (float32).
//
// A warp is 32 threads that execute together. __shfl_xor_sync lets every lane read a register
// of the lane whose index differs in one bit; five such exchanges (offsets 16, 8, 4, 2, 1)
// combine all 32 values and leave the result in every lane - a "butterfly" reduction, with
// no shared memory and no __syncthreads.
#pragma once

#define FULL_MASK 0xffffffffu
#define WARP_SIZE 32

// NVRTC, which cupy.RawModule compiles with, has no <math.h> and so no INFINITY; nvcc includes
// it implicitly. The bit pattern 0x7f800000 is float +inf.
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int offset = WARP_SIZE / 2; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(FULL_MASK, v, offset);
    }
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int offset = WARP_SIZE / 2; offset > 0; offset >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, offset));
    }
    return v;
}

// Rows handled one per warp: blockDim.x = 32 * WARPS_PER_BLOCK, row = block * warps + warp.
#define WARPS_PER_BLOCK 4

__device__ __forceinline__ long long warp_row() {
    return (long long)blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / WARP_SIZE;
}

__device__ __forceinline__ int lane_id() { return threadIdx.x % WARP_SIZE; }
