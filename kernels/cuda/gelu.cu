// gelu.cu - GELU elementwise over n floats (grid-stride loops), in two forms.
// tanh approximation (GPT-2's):
//   y  = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
//   gx = gy * (0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)),  t = tanh(u)
// exact (PyTorch's default), with Phi the standard normal CDF and phi its density:
//   y  = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
//   gx = gy * (Phi(x) + x phi(x)),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
#include "common.cuh"

#define GELU_C 0.7978845608028654f
#define GELU_A 0.044715f
#define SQRT1_2 0.7071067811865476f
#define INV_SQRT_2PI 0.3989422804014327f

extern "C" __global__ void gelu_forward(const float* __restrict__ x, float* __restrict__ y,
                                        long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float xi = x[i];
        float u = GELU_C * (xi + GELU_A * xi * xi * xi);
        y[i] = 0.5f * xi * (1.f + tanhf(u));
    }
}

extern "C" __global__ void gelu_backward(const float* __restrict__ x, const float* __restrict__ gy,
                                         float* __restrict__ gx, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float xi = x[i];
        float u = GELU_C * (xi + GELU_A * xi * xi * xi);
        float t = tanhf(u);
        float du = GELU_C * (1.f + 3.f * GELU_A * xi * xi);
        gx[i] = gy[i] * (0.5f * (1.f + t) + 0.5f * xi * (1.f - t * t) * du);
    }
}

extern "C" __global__ void gelu_exact_forward(const float* __restrict__ x, float* __restrict__ y,
                                              long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float xi = x[i];
        y[i] = 0.5f * xi * (1.f + erff(xi * SQRT1_2));
    }
}

extern "C" __global__ void gelu_exact_backward(const float* __restrict__ x,
                                               const float* __restrict__ gy,
                                               float* __restrict__ gx, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float xi = x[i];
        float cdf = 0.5f * (1.f + erff(xi * SQRT1_2));
        float pdf = INV_SQRT_2PI * expf(-0.5f * xi * xi);
        gx[i] = gy[i] * (cdf + xi * pdf);
    }
}
