// attention.cu - flash-attention style scaled dot-product attention, forward and backward.
//
// Layout: q (BH, Tq, D), k (BH, Tk, D), v (BH, Tk, D), out/gout (BH, Tq, D), lse/delta (BH, Tq),
// all contiguous float32; BH = batch * heads. D is a template parameter (32 or 64) so the
// per-thread row vectors live in registers. Causal = PyTorch's convention: query i sees keys
// j <= i (top-left aligned), so no row is ever fully masked.
//
// Forward (one thread per query row, BR rows per block): tiles of BC keys and values are
// loaded into shared memory once and shared by the block's BR threads. Each thread keeps a
// running max m, running sum l and an unnormalised output acc, and for each tile does the
// online-softmax update
//     m' = max(m, max_j s_j);  c = exp(m - m');  l = c l + sum_j exp(s_j - m');
//     acc = c acc + sum_j exp(s_j - m') v_j;  m = m'
// so the (Tq, Tk) score matrix never exists. At the end out = acc / l and lse = m + log l.
//
// Backward recomputes P = exp(s - lse) tile by tile, with delta_i = sum(gout_i * out_i):
//     gS_ij = P_ij (gout_i . v_j - delta_i)
//   kernel attention_backward_dkdv: one thread per key row j accumulates
//     gv_j += P_ij gout_i  and  gk_j += scale gS_ij q_i   over tiles of queries in shared memory;
//   kernel attention_backward_dq: one thread per query row i accumulates
//     gq_i += scale gS_ij k_j   over tiles of keys in shared memory.
// Two kernels instead of atomics: every output has exactly one writer, results are
// deterministic. flash_emulation.py replays these loops in NumPy with the same tile sizes.
#include "common.cuh"

#define FWD_BR 64   // query rows (threads) per block, forward and dq
#define FWD_BC 32   // keys per shared-memory tile, forward and dq
#define BWD_BK 64   // key rows (threads) per block, dk/dv
#define BWD_BQ 32   // queries per shared-memory tile, dk/dv

template <int D>
__device__ __forceinline__ float dot_row(const float* a, const float* b) {
    float s = 0.f;
#pragma unroll
    for (int c = 0; c < D; ++c) s += a[c] * b[c];
    return s;
}

__device__ __forceinline__ bool visible(int i, int j, int Tq, int Tk, int is_causal) {
    return i < Tq && j < Tk && (!is_causal || j <= i);
}

template <int D>
__global__ void __launch_bounds__(FWD_BR) attention_forward(const float* __restrict__ q, const float* __restrict__ k,
                                  const float* __restrict__ v, float* __restrict__ out,
                                  float* __restrict__ lse, int Tq, int Tk, float scale,
                                  int is_causal) {
    __shared__ float Ks[FWD_BC][D];
    __shared__ float Vs[FWD_BC][D];
    const long long h = blockIdx.x;  // (batch, head): grid.x, the axis without a 65535 cap
    const int i0 = blockIdx.y * FWD_BR;
    const int i = i0 + threadIdx.x;
    const bool row_ok = i < Tq;
    float qi[D], acc[D];
#pragma unroll
    for (int c = 0; c < D; ++c) {
        qi[c] = row_ok ? q[(h * Tq + i) * D + c] : 0.f;
        acc[c] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    // causal: no query of this block sees a key at or beyond i0 + FWD_BR
    const int kend = is_causal ? min(Tk, i0 + FWD_BR) : Tk;
    for (int j0 = 0; j0 < kend; j0 += FWD_BC) {
        for (int idx = threadIdx.x; idx < FWD_BC * D; idx += FWD_BR) {
            int r = idx / D, c = idx % D, j = j0 + r;
            Ks[r][c] = j < Tk ? k[(h * Tk + j) * D + c] : 0.f;
            Vs[r][c] = j < Tk ? v[(h * Tk + j) * D + c] : 0.f;
        }
        __syncthreads();
        if (row_ok) {
            float s[FWD_BC];
            float tile_max = -INFINITY;
            // jj loops are only partly unrolled: fully unrolling BC x D multiply-adds makes
            // the compile take minutes for little gain
#pragma unroll 4
            for (int jj = 0; jj < FWD_BC; ++jj) {
                s[jj] = visible(i, j0 + jj, Tq, Tk, is_causal) ? scale * dot_row<D>(qi, Ks[jj])
                                                              : -INFINITY;
                tile_max = fmaxf(tile_max, s[jj]);
            }
            float m_new = fmaxf(m, tile_max);
            if (m_new != -INFINITY) {  // a tile with no visible key changes nothing
                float corr = __expf(m - m_new);  // exp(-inf) = 0 on the first visible tile
                l *= corr;
#pragma unroll
                for (int c = 0; c < D; ++c) acc[c] *= corr;
#pragma unroll 4
                for (int jj = 0; jj < FWD_BC; ++jj) {
                    float p = __expf(s[jj] - m_new);  // masked: exp(-inf) = 0
                    l += p;
#pragma unroll
                    for (int c = 0; c < D; ++c) acc[c] += p * Vs[jj][c];
                }
                m = m_new;
            }
        }
        __syncthreads();  // the next tile overwrites Ks and Vs
    }
    if (row_ok) {
        float inv = 1.f / l;
#pragma unroll
        for (int c = 0; c < D; ++c) out[(h * Tq + i) * D + c] = acc[c] * inv;
        lse[h * Tq + i] = m + logf(l);
    }
}

template <int D>
__global__ void attention_backward_delta(const float* __restrict__ out,
                                         const float* __restrict__ gout,
                                         float* __restrict__ delta, long long rows) {
    // delta_i = sum_c gout_ic out_ic  (= sum_j P_ij gP_ij, the softmax-backward row term)
    long long r = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (r >= rows) return;
    delta[r] = dot_row<D>(out + r * D, gout + r * D);
}

template <int D>
__global__ void __launch_bounds__(BWD_BK) attention_backward_dkdv(const float* __restrict__ q, const float* __restrict__ k,
                                        const float* __restrict__ v,
                                        const float* __restrict__ gout,
                                        const float* __restrict__ lse,
                                        const float* __restrict__ delta, float* __restrict__ gk,
                                        float* __restrict__ gv, int Tq, int Tk, float scale,
                                        int is_causal) {
    __shared__ float Qs[BWD_BQ][D];
    __shared__ float Gs[BWD_BQ][D];
    __shared__ float lse_s[BWD_BQ];
    __shared__ float delta_s[BWD_BQ];
    const long long h = blockIdx.x;
    const int j0 = blockIdx.y * BWD_BK;
    const int j = j0 + threadIdx.x;
    const bool key_ok = j < Tk;
    float kj[D], vj[D], gkj[D], gvj[D];
#pragma unroll
    for (int c = 0; c < D; ++c) {
        kj[c] = key_ok ? k[(h * Tk + j) * D + c] : 0.f;
        vj[c] = key_ok ? v[(h * Tk + j) * D + c] : 0.f;
        gkj[c] = 0.f;
        gvj[c] = 0.f;
    }
    // causal: queries before j0 see none of this block's keys
    const int istart = is_causal ? (min(j0, Tq) / BWD_BQ) * BWD_BQ : 0;
    for (int i0 = istart; i0 < Tq; i0 += BWD_BQ) {
        for (int idx = threadIdx.x; idx < BWD_BQ * D; idx += BWD_BK) {
            int r = idx / D, c = idx % D, i = i0 + r;
            Qs[r][c] = i < Tq ? q[(h * Tq + i) * D + c] : 0.f;
            Gs[r][c] = i < Tq ? gout[(h * Tq + i) * D + c] : 0.f;
        }
        for (int r = threadIdx.x; r < BWD_BQ; r += BWD_BK) {
            int i = i0 + r;
            lse_s[r] = i < Tq ? lse[h * Tq + i] : 0.f;
            delta_s[r] = i < Tq ? delta[h * Tq + i] : 0.f;
        }
        __syncthreads();
        for (int ii = 0; ii < BWD_BQ; ++ii) {
            if (!visible(i0 + ii, j, Tq, Tk, is_causal)) continue;
            float p = __expf(scale * dot_row<D>(Qs[ii], kj) - lse_s[ii]);  // P recomputed
            float gs = p * (dot_row<D>(Gs[ii], vj) - delta_s[ii]);
#pragma unroll
            for (int c = 0; c < D; ++c) {
                gvj[c] += p * Gs[ii][c];
                gkj[c] += scale * gs * Qs[ii][c];
            }
        }
        __syncthreads();
    }
    if (key_ok) {
#pragma unroll
        for (int c = 0; c < D; ++c) {
            gk[(h * Tk + j) * D + c] = gkj[c];
            gv[(h * Tk + j) * D + c] = gvj[c];
        }
    }
}

template <int D>
__global__ void __launch_bounds__(FWD_BR) attention_backward_dq(const float* __restrict__ q, const float* __restrict__ k,
                                      const float* __restrict__ v, const float* __restrict__ gout,
                                      const float* __restrict__ lse,
                                      const float* __restrict__ delta, float* __restrict__ gq,
                                      int Tq, int Tk, float scale, int is_causal) {
    __shared__ float Ks[FWD_BC][D];
    __shared__ float Vs[FWD_BC][D];
    const long long h = blockIdx.x;  // (batch, head): grid.x, the axis without a 65535 cap
    const int i0 = blockIdx.y * FWD_BR;
    const int i = i0 + threadIdx.x;
    const bool row_ok = i < Tq;
    float qi[D], gi[D], gqi[D];
#pragma unroll
    for (int c = 0; c < D; ++c) {
        qi[c] = row_ok ? q[(h * Tq + i) * D + c] : 0.f;
        gi[c] = row_ok ? gout[(h * Tq + i) * D + c] : 0.f;
        gqi[c] = 0.f;
    }
    const float lse_i = row_ok ? lse[h * Tq + i] : 0.f;
    const float delta_i = row_ok ? delta[h * Tq + i] : 0.f;
    const int kend = is_causal ? min(Tk, i0 + FWD_BR) : Tk;
    for (int j0 = 0; j0 < kend; j0 += FWD_BC) {
        for (int idx = threadIdx.x; idx < FWD_BC * D; idx += FWD_BR) {
            int r = idx / D, c = idx % D, j = j0 + r;
            Ks[r][c] = j < Tk ? k[(h * Tk + j) * D + c] : 0.f;
            Vs[r][c] = j < Tk ? v[(h * Tk + j) * D + c] : 0.f;
        }
        __syncthreads();
        for (int jj = 0; jj < FWD_BC; ++jj) {
            if (!visible(i, j0 + jj, Tq, Tk, is_causal)) continue;
            float p = __expf(scale * dot_row<D>(qi, Ks[jj]) - lse_i);
            float gs = p * (dot_row<D>(gi, Vs[jj]) - delta_i);
#pragma unroll
            for (int c = 0; c < D; ++c) gqi[c] += scale * gs * Ks[jj][c];
        }
        __syncthreads();
    }
    if (row_ok) {
#pragma unroll
        for (int c = 0; c < D; ++c) gq[(h * Tq + i) * D + c] = gqi[c];
    }
}

// Explicit instantiations, so that `nvcc -cubin` (the compile test) compiles every variant;
// CuPy's RawModule finds them through name_expressions.
#define INSTANTIATE(D)                                                                          \
    template __global__ void attention_forward<D>(const float*, const float*, const float*,    \
                                                  float*, float*, int, int, float, int);       \
    template __global__ void attention_backward_delta<D>(const float*, const float*, float*,   \
                                                         long long);                           \
    template __global__ void attention_backward_dkdv<D>(const float*, const float*,            \
                                                        const float*, const float*,            \
                                                        const float*, const float*, float*,    \
                                                        float*, int, int, float, int);         \
    template __global__ void attention_backward_dq<D>(const float*, const float*, const float*, \
                                                      const float*, const float*,              \
                                                      const float*, float*, int, int, float,   \
                                                      int);
INSTANTIATE(32)
INSTANTIATE(64)
