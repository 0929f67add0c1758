// adam.cu - one Adam / AdamW step in place, elementwise (grid-stride loop).
//   AdamW (decoupled = 1): p *= 1 - lr * wd          Adam (decoupled = 0): g += wd * p
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= step_size * m / (sqrt(v) / bc2_sqrt + eps),  step_size = lr / (1 - b1^t),
//   bc2_sqrt = sqrt(1 - b2^t)   (computed on the host, in float64, like PyTorch)
#include "common.cuh"

extern "C" __global__ void adam_update(float* __restrict__ param, const float* __restrict__ grad,
                                       float* __restrict__ exp_avg, float* __restrict__ exp_avg_sq,
                                       float lr, float beta1, float beta2, float eps,
                                       float weight_decay, float step_size, float bc2_sqrt,
                                       int decoupled, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float p = param[i], g = grad[i];
        if (decoupled) {
            p *= 1.f - lr * weight_decay;
        } else {
            g += weight_decay * p;
        }
        float m = beta1 * exp_avg[i] + (1.f - beta1) * g;
        float v = beta2 * exp_avg_sq[i] + (1.f - beta2) * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        param[i] = p - step_size * (m / (sqrtf(v) / bc2_sqrt + eps));
    }
}
