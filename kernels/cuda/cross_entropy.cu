// cross_entropy.cu - fused cross-entropy on logits: no (N, V) probability matrix is stored.
// Layout: logits (N, V) contiguous float32, target (N,) int64. One warp per row.
//   forward:  lse = log sum_j exp(logits_j), loss = lse - logits[target]  (0 if ignored)
//   backward: dlogits = (exp(logits - lse) - onehot(target)) * grad_rows  (0 if ignored)
#include "common.cuh"

extern "C" __global__ void cross_entropy_forward(const float* __restrict__ logits,
                                                 const long long* __restrict__ target,
                                                 long long ignore_index, float* __restrict__ loss,
                                                 float* __restrict__ lse, long long N, int V) {
    long long row = warp_row();
    if (row >= N) return;
    int lane = lane_id();
    const float* lr = logits + row * V;
    float m = -INFINITY;
    for (int j = lane; j < V; j += WARP_SIZE) m = fmaxf(m, lr[j]);
    m = warp_max(m);
    float s = 0.f;
    for (int j = lane; j < V; j += WARP_SIZE) s += __expf(lr[j] - m);
    s = warp_sum(s);
    if (lane == 0) {
        float log_s = logf(s);
        long long t = target[row];
        lse[row] = m + log_s;
        // log s - (logit_t - m) keeps float32 precision for large logits (see softmax.cu)
        loss[row] = (t == ignore_index) ? 0.f : log_s - (lr[t] - m);
    }
}

extern "C" __global__ void cross_entropy_backward(const float* __restrict__ logits,
                                                  const long long* __restrict__ target,
                                                  const float* __restrict__ lse,
                                                  const float* __restrict__ grad_rows,
                                                  long long ignore_index,
                                                  float* __restrict__ dlogits, long long N, int V) {
    long long row = warp_row();
    if (row >= N) return;
    int lane = lane_id();
    long long t = target[row];
    bool ignored = (t == ignore_index);
    float g = ignored ? 0.f : grad_rows[row];
    float l = lse[row];
    const float* lr = logits + row * V;
    float* dr = dlogits + row * V;
    for (int j = lane; j < V; j += WARP_SIZE) {
        // softmax recomputed from the saved lse; the one-hot term only at the target column
        float p = ignored ? 0.f : __expf(lr[j] - l);
        dr[j] = (p - (j == t ? 1.f : 0.f)) * g;
    }
}
