// softmax.cu - softmax and log-softmax over the last axis, forward and backward.
// Layout: x, y, gy, gx are contiguous (rows, C) float32. One warp per row; each lane walks
// the columns lane, lane + 32, ... so consecutive lanes touch consecutive addresses.
//   softmax:      y = exp(x - max) / sum(exp(x - max))
//   backward:     gx = y * (gy - sum(gy * y))
//   log_softmax:  y = x - max - log(sum(exp(x - max)))
//   backward:     gx = gy - exp(y) * sum(gy)
#include "common.cuh"

extern "C" __global__ void softmax_forward(const float* __restrict__ x, float* __restrict__ y,
                                           long long rows, int C) {
    long long row = warp_row();
    if (row >= rows) return;
    const float* xr = x + row * C;
    float* yr = y + row * C;
    int lane = lane_id();
    float m = -INFINITY;
    for (int j = lane; j < C; j += WARP_SIZE) m = fmaxf(m, xr[j]);
    m = warp_max(m);  // subtracting the row max keeps every exp() <= 1
    float s = 0.f;
    for (int j = lane; j < C; j += WARP_SIZE) {
        float e = __expf(xr[j] - m);
        yr[j] = e;
        s += e;
    }
    float inv = 1.f / warp_sum(s);
    for (int j = lane; j < C; j += WARP_SIZE) yr[j] *= inv;
}

extern "C" __global__ void softmax_backward(const float* __restrict__ y,
                                            const float* __restrict__ gy,
                                            float* __restrict__ gx, long long rows, int C) {
    long long row = warp_row();
    if (row >= rows) return;
    int lane = lane_id();
    const float* yr = y + row * C;
    const float* gr = gy + row * C;
    float dot = 0.f;
    for (int j = lane; j < C; j += WARP_SIZE) dot += gr[j] * yr[j];
    dot = warp_sum(dot);
    for (int j = lane; j < C; j += WARP_SIZE) gx[row * C + j] = yr[j] * (gr[j] - dot);
}

extern "C" __global__ void log_softmax_forward(const float* __restrict__ x,
                                               float* __restrict__ y, long long rows, int C) {
    long long row = warp_row();
    if (row >= rows) return;
    const float* xr = x + row * C;
    int lane = lane_id();
    float m = -INFINITY;
    for (int j = lane; j < C; j += WARP_SIZE) m = fmaxf(m, xr[j]);
    m = warp_max(m);
    float s = 0.f;
    for (int j = lane; j < C; j += WARP_SIZE) s += __expf(xr[j] - m);
    // (x - m) - log s, not x - (m + log s): for large |m| the sum m + log s rounds away
    // most digits of log s in float32.
    float log_s = logf(warp_sum(s));
    for (int j = lane; j < C; j += WARP_SIZE) y[row * C + j] = (xr[j] - m) - log_s;
}

extern "C" __global__ void log_softmax_backward(const float* __restrict__ y,
                                                const float* __restrict__ gy,
                                                float* __restrict__ gx, long long rows, int C) {
    long long row = warp_row();
    if (row >= rows) return;
    int lane = lane_id();
    const float* yr = y + row * C;
    const float* gr = gy + row * C;
    float s = 0.f;
    for (int j = lane; j < C; j += WARP_SIZE) s += gr[j];
    s = warp_sum(s);
    for (int j = lane; j < C; j += WARP_SIZE) gx[row * C + j] = gr[j] - __expf(yr[j]) * s;
}
