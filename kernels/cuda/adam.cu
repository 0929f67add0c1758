// adam.cu - one Adam / AdamW step in place, elementwise (grid-stride loop).
//   AdamW: p *= decay,  decay = 1 - lr * wd          Adam: g += l2 * p,  l2 = wd
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= step_size * m / (sqrt(v) / bc2_sqrt + eps),  step_size = lr / (1 - b1^t),
//   bc2_sqrt = sqrt(1 - b2^t)
// Every scalar, 1 - b1 and 1 - lr * wd included, is computed on the host in float64 and
// rounded once to float32 (adam_scalars in __init__.py), as the reference's float32 step
// rounds its Python floats; 1.f - b1 in float32 here would be a second rounding.
#include "common.cuh"

extern "C" __global__ void adam_update(float* __restrict__ param, const float* __restrict__ grad,
                                       float* __restrict__ exp_avg, float* __restrict__ exp_avg_sq,
                                       float beta1, float one_minus_beta1, float beta2,
                                       float one_minus_beta2, float eps, float decay, float l2,
                                       float step_size, float bc2_sqrt, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float p = param[i] * decay;  // decay = 1 (Adam) leaves p exactly as it is
        float g = grad[i];
        if (l2 != 0.f) g += l2 * p;  // the same branch for every thread; skips inf * 0
        float m = beta1 * exp_avg[i] + one_minus_beta1 * g;
        float v = beta2 * exp_avg_sq[i] + one_minus_beta2 * (g * g);
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        param[i] = p - step_size * (m / (sqrtf(v) / bc2_sqrt + eps));
    }
}
