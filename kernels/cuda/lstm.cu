// lstm.cu - the LSTM cell's element-wise part (grid-stride loops over n_rows x H elements),
// PyTorch's gate order i, f, g, o in the (n_rows, 4H) gates. Forward:
//   i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
//   c = f * c_prev + i * g,   h = o * tanh(c),   act = [i, f, g, o] (kept for the backward)
// Backward, from dh and dc (the gradients arriving at h and c), t = tanh(c):
//   dc_total = dc + dh * o * (1 - t^2)
//   d[a_i] = dc_total * g * i (1 - i),  d[a_f] = dc_total * c_prev * f (1 - f)
//   d[a_g] = dc_total * i * (1 - g^2),  d[a_o] = dh * t * o (1 - o),  dc_prev = dc_total * f
// The two matrix products of a step (x W_ih^T, h W_hh^T) are cuBLAS calls, outside.
#include "common.cuh"

// expf, not the __expf intrinsic: its error grows with |x|, and gates reach |x| ~ 10-20
__device__ __forceinline__ float lstm_sigmoid(float x) { return 1.f / (1.f + expf(-x)); }

extern "C" __global__ void lstm_cell_forward(const float* __restrict__ gates,
                                             const float* __restrict__ c_prev,
                                             float* __restrict__ h, float* __restrict__ c,
                                             float* __restrict__ act, long long n, int hidden) {
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < n;
         k += (long long)gridDim.x * blockDim.x) {
        long long row = k / hidden;
        long long j = k - row * hidden;
        const float* a = gates + row * 4 * hidden;
        float* s = act + row * 4 * hidden;
        float i = lstm_sigmoid(a[j]);
        float f = lstm_sigmoid(a[hidden + j]);
        float g = tanhf(a[2 * hidden + j]);
        float o = lstm_sigmoid(a[3 * hidden + j]);
        float cj = f * c_prev[k] + i * g;
        c[k] = cj;
        h[k] = o * tanhf(cj);
        s[j] = i;
        s[hidden + j] = f;
        s[2 * hidden + j] = g;
        s[3 * hidden + j] = o;
    }
}

extern "C" __global__ void lstm_cell_backward(const float* __restrict__ act,
                                              const float* __restrict__ c_prev,
                                              const float* __restrict__ c,
                                              const float* __restrict__ dh,
                                              const float* __restrict__ dc,
                                              float* __restrict__ dgates,
                                              float* __restrict__ dc_prev, long long n,
                                              int hidden) {
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < n;
         k += (long long)gridDim.x * blockDim.x) {
        long long row = k / hidden;
        long long j = k - row * hidden;
        const float* s = act + row * 4 * hidden;
        float* d = dgates + row * 4 * hidden;
        float i = s[j], f = s[hidden + j], g = s[2 * hidden + j], o = s[3 * hidden + j];
        float t = tanhf(c[k]);
        float dhk = dh[k];
        float dct = dc[k] + dhk * o * (1.f - t * t);
        d[j] = dct * g * i * (1.f - i);
        d[hidden + j] = dct * c_prev[k] * f * (1.f - f);
        d[2 * hidden + j] = dct * i * (1.f - g * g);
        d[3 * hidden + j] = dhk * t * o * (1.f - o);
        dc_prev[k] = dct * f;
    }
}
