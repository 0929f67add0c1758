// layer_norm.cu - LayerNorm over the last axis, forward and backward.
// Layout: x, y, gy, gx (N, C) contiguous float32; weight, bias (C,); mean, rstd (N,).
//   forward:   y = (x - mean) * rstd * weight + bias,  rstd = 1 / sqrt(var + eps)
//   backward:  xhat = (x - mean) * rstd, g = gy * weight
//              gx = rstd * (g - mean(g) - xhat * mean(g * xhat))             (one warp per row)
//              gweight = sum_rows gy * xhat, gbias = sum_rows gy     (partial sums, see below)
#include "common.cuh"

extern "C" __global__ void layer_norm_forward(const float* __restrict__ x,
                                              const float* __restrict__ weight,
                                              const float* __restrict__ bias, float eps,
                                              float* __restrict__ y, float* __restrict__ mean,
                                              float* __restrict__ rstd, long long N, int C) {
    long long row = warp_row();
    if (row >= N) return;
    int lane = lane_id();
    const float* xr = x + row * C;
    float s = 0.f;
    for (int j = lane; j < C; j += WARP_SIZE) s += xr[j];
    float mu = warp_sum(s) / C;
    // two-pass variance: sum((x - mu)^2) has no cancellation, unlike E[x^2] - mu^2
    float ss = 0.f;
    for (int j = lane; j < C; j += WARP_SIZE) {
        float d = xr[j] - mu;
        ss += d * d;
    }
    float r = rsqrtf(warp_sum(ss) / C + eps);
    for (int j = lane; j < C; j += WARP_SIZE) y[row * C + j] = (xr[j] - mu) * r * weight[j] + bias[j];
    if (lane == 0) {
        mean[row] = mu;
        rstd[row] = r;
    }
}

extern "C" __global__ void layer_norm_backward_input(const float* __restrict__ gy,
                                                     const float* __restrict__ x,
                                                     const float* __restrict__ weight,
                                                     const float* __restrict__ mean,
                                                     const float* __restrict__ rstd,
                                                     float* __restrict__ gx, long long N, int C) {
    long long row = warp_row();
    if (row >= N) return;
    int lane = lane_id();
    const float* xr = x + row * C;
    const float* gr = gy + row * C;
    float mu = mean[row], r = rstd[row];
    float sum_g = 0.f, sum_gxhat = 0.f;
    for (int j = lane; j < C; j += WARP_SIZE) {
        float g = gr[j] * weight[j];
        sum_g += g;
        sum_gxhat += g * (xr[j] - mu) * r;
    }
    float mean_g = warp_sum(sum_g) / C, mean_gxhat = warp_sum(sum_gxhat) / C;
    for (int j = lane; j < C; j += WARP_SIZE) {
        float xhat = (xr[j] - mu) * r;
        gx[row * C + j] = r * (gr[j] * weight[j] - mean_g - xhat * mean_gxhat);
    }
}

extern "C" __global__ void layer_norm_backward_params(const float* __restrict__ gy,
                                                      const float* __restrict__ x,
                                                      const float* __restrict__ mean,
                                                      const float* __restrict__ rstd,
                                                      float* __restrict__ gweight_parts,
                                                      float* __restrict__ gbias_parts,
                                                      long long N, int C, long long rows_per_part) {
    // Block (bx, part) sums rows [part * rows_per_part, +rows_per_part) of its columns into
    // row `part` of the (parts, C) outputs, which the host adds: one thread looping over all
    // N rows would leave most of the GPU idle. Adjacent threads own adjacent columns, so every
    // row read is coalesced; no atomics, so the sums do not depend on block order.
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    long long part = blockIdx.y;
    long long begin = part * rows_per_part;
    long long end = min(N, begin + rows_per_part);
    float gw = 0.f, gb = 0.f;
    for (long long i = begin; i < end; ++i) {
        float g = gy[i * C + c];
        gw += g * (x[i * C + c] - mean[i]) * rstd[i];
        gb += g;
    }
    gweight_parts[part * C + c] = gw;
    gbias_parts[part * C + c] = gb;
}
