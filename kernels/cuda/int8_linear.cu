// int8_linear.cu - weight-only int8 linear layer for inference (float32 activations):
//   y[i, n] = scale[n] * sum_k x[i, k] q[n, k] + bias[n],   q int8 (N, K), x (M, K), y (M, N)
// i.e. x W^T + b with the dequantised weight W[n, k] = scale[n] q[n, k]: the per-output-channel
// scale factors out of row n's dot product, so W is never built; each int8 is converted to
// float in a register. One warp per output entry (i, n), flattened as i * N + n so that
// neighbouring warps read neighbouring weight rows against the same x row (generation: M = 1);
// its 32 lanes stride over k and warp_sum combines them.
#include "common.cuh"

extern "C" __global__ void int8_linear(const float* __restrict__ x,
                                       const signed char* __restrict__ q,
                                       const float* __restrict__ scale,
                                       const float* __restrict__ bias, float* __restrict__ y,
                                       long long m, int n_out, int k) {
    long long entry = warp_row();
    if (entry >= m * n_out) return;  // the whole warp leaves together: warp_sum stays full
    long long i = entry / n_out;
    int n = (int)(entry % n_out);
    const float* xi = x + i * k;
    const signed char* qn = q + (long long)n * k;
    float acc = 0.f;
    for (int kk = lane_id(); kk < k; kk += WARP_SIZE) {
        acc += xi[kk] * (float)qn[kk];
    }
    acc = warp_sum(acc);
    if (lane_id() == 0) y[entry] = scale[n] * acc + bias[n];
}
