// attention.cu - flash-attention style scaled dot-product attention, forward and backward.
//
// Layout: q (BH, Tq, D), k (BH, Tk, D), v (BH, Tk, D), out/gout (BH, Tq, D), lse/delta (BH, Tq),
// all contiguous float32; BH = batch * heads. D is a template parameter (32 or 64) so the
// per-thread row vectors live in registers. Causal = PyTorch's convention: query i sees keys
// j <= i (top-left aligned), so no row is ever fully masked.
// Grid: (BH, row blocks); blockIdx.x is the (batch, head), the axis that may exceed 65 535.
//
// A row of D numbers is split over TPR = D / COLS_PER_THREAD adjacent threads (1 for D = 32,
// 2 for D = 64): thread `part` of a row keeps columns part, part + TPR, part + 2 TPR, ... in
// registers, and a dot product is its partial sum plus its partner's (one __shfl_xor_sync).
// One thread holding four whole rows of 64 (the dk/dv kernel) needs 256 registers for them
// alone and spills; split in two, each thread holds 4 x 32.
//
// Forward (one row of threads per query, BR queries per block): tiles of BC keys and values
// are loaded into shared memory once and shared by the block's threads. Each row keeps a
// running max m, running sum l and an unnormalised output acc, and for each tile does the
// online-softmax update
//     m' = max(m, max_j s_j);  c = exp(m - m');  l = c l + sum_j exp(s_j - m');
//     acc = c acc + sum_j exp(s_j - m') v_j;  m = m'
// so the (Tq, Tk) score matrix never exists. At the end out = acc / l and lse = m + log l.
//
// The tile's BC scores stay in registers: the loops over a tile are fully unrolled, so s[jj]
// is always indexed by a constant (an index known only at run time puts an array in local
// memory, which is DRAM behind the caches).
//
// Backward recomputes P = exp(s - lse) tile by tile, with delta_i = sum(gout_i * out_i):
//     gS_ij = P_ij (gout_i . v_j - delta_i)
//   kernel attention_backward_dkdv: one row of threads per key j accumulates
//     gv_j += P_ij gout_i  and  gk_j += scale gS_ij q_i   over tiles of queries in shared memory;
//   kernel attention_backward_dq: one row of threads per query i accumulates
//     gq_i += scale gS_ij k_j   over tiles of keys in shared memory.
// Masked (query, key) pairs get P = 0 instead of a `continue`: every lane of a warp must reach
// each __shfl_xor_sync, so no thread may skip the dot products.
// Two kernels instead of atomics: every output has exactly one writer, results are
// deterministic. flash_emulation.py replays these loops in NumPy with the same tile sizes.
#include "common.cuh"

// The tile sizes: the launcher and flash_emulation.py read these lines (build.defines).
#define FWD_BR 64           // query rows per block, forward and dq
#define FWD_BC 32           // keys per shared-memory tile, forward and dq
#define BWD_BK 64           // key rows per block, dk/dv
#define BWD_BQ 32           // queries per shared-memory tile, dk/dv
#define COLS_PER_THREAD 32  // columns of a row per thread: D / 32 threads share a row

// The partial dot product of a thread's columns (c * TPR + part) of two rows of D floats: `a`
// in registers (the thread's own DT columns), `b` a whole row in shared memory.
template <int DT, int TPR>
__device__ __forceinline__ float dot_part(const float* a, const float* b, int part) {
    float s = 0.f;
#pragma unroll
    for (int c = 0; c < DT; ++c) s += a[c] * b[c * TPR + part];
    return s;
}

// The sum over a row's TPR adjacent threads of their partial sums, in every one of them.
template <int TPR>
__device__ __forceinline__ float row_sum(float partial) {
    static_assert(TPR == 1 || TPR == 2, "a row is split over 1 or 2 threads");
    if constexpr (TPR == 2) partial += __shfl_xor_sync(FULL_MASK, partial, 1);
    return partial;
}

__device__ __forceinline__ bool visible(int i, int j, int Tq, int Tk, int is_causal) {
    return i < Tq && j < Tk && (!is_causal || j <= i);
}

// Load rows r0 .. r0 + ROWS of a (T, D) head into a shared tile, zeros past T.
template <int ROWS, int D>
__device__ __forceinline__ void load_tile(float (*tile)[D], const float* __restrict__ src,
                                          int r0, int T) {
    for (int idx = threadIdx.x; idx < ROWS * D; idx += blockDim.x) {
        int r = idx / D, c = idx % D;
        tile[r][c] = r0 + r < T ? src[(long long)(r0 + r) * D + c] : 0.f;
    }
}

template <int D>
__global__ void __launch_bounds__(FWD_BR * (D / COLS_PER_THREAD))
    attention_forward(const float* __restrict__ q, const float* __restrict__ k,
                      const float* __restrict__ v, float* __restrict__ out,
                      float* __restrict__ lse, int Tq, int Tk, float scale, int is_causal) {
    constexpr int TPR = D / COLS_PER_THREAD, DT = COLS_PER_THREAD;
    __shared__ float Ks[FWD_BC][D];
    __shared__ float Vs[FWD_BC][D];
    const long long h = blockIdx.x;
    const int i0 = blockIdx.y * FWD_BR;
    const int i = i0 + threadIdx.x / TPR;  // this thread's query
    const int part = threadIdx.x % TPR;    // and its columns: c * TPR + part
    const bool row_ok = i < Tq;
    const float* qrow = q + (h * Tq + i) * D;
    float qi[DT], acc[DT];
#pragma unroll
    for (int c = 0; c < DT; ++c) {
        qi[c] = row_ok ? qrow[c * TPR + part] : 0.f;
        acc[c] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    // causal: no query of this block sees a key at or beyond i0 + FWD_BR
    const int kend = is_causal ? min(Tk, i0 + FWD_BR) : Tk;
    for (int j0 = 0; j0 < kend; j0 += FWD_BC) {
        load_tile<FWD_BC, D>(Ks, k + h * Tk * D, j0, Tk);
        load_tile<FWD_BC, D>(Vs, v + h * Tk * D, j0, Tk);
        __syncthreads();
        float s[FWD_BC];
        float tile_max = -INFINITY;
#pragma unroll
        for (int jj = 0; jj < FWD_BC; ++jj) {
            float dot = row_sum<TPR>(dot_part<DT, TPR>(qi, Ks[jj], part));
            s[jj] = visible(i, j0 + jj, Tq, Tk, is_causal) ? scale * dot : -INFINITY;
            tile_max = fmaxf(tile_max, s[jj]);
        }
        float m_new = fmaxf(m, tile_max);
        if (m_new != -INFINITY) {  // a tile with no visible key changes nothing
            float corr = __expf(m - m_new);  // exp(-inf) = 0 on the first visible tile
            l *= corr;
#pragma unroll
            for (int c = 0; c < DT; ++c) acc[c] *= corr;
#pragma unroll
            for (int jj = 0; jj < FWD_BC; ++jj) {
                float p = __expf(s[jj] - m_new);  // masked: exp(-inf) = 0
                l += p;
#pragma unroll
                for (int c = 0; c < DT; ++c) acc[c] += p * Vs[jj][c * TPR + part];
            }
            m = m_new;
        }
        __syncthreads();  // the next tile overwrites Ks and Vs
    }
    if (row_ok) {
        float inv = 1.f / l;
        float* orow = out + (h * Tq + i) * D;
#pragma unroll
        for (int c = 0; c < DT; ++c) orow[c * TPR + part] = acc[c] * inv;
        if (part == 0) lse[h * Tq + i] = m + logf(l);
    }
}

template <int D>
__global__ void attention_backward_delta(const float* __restrict__ out,
                                         const float* __restrict__ gout,
                                         float* __restrict__ delta, long long rows) {
    // delta_i = sum_c gout_ic out_ic  (= sum_j P_ij gP_ij, the softmax-backward row term);
    // a grid-stride loop, one thread per row
    for (long long r = blockIdx.x * (long long)blockDim.x + threadIdx.x; r < rows;
         r += (long long)gridDim.x * blockDim.x) {
        delta[r] = dot_part<D, 1>(out + r * D, gout + r * D, 0);
    }
}

template <int D>
__global__ void __launch_bounds__(BWD_BK * (D / COLS_PER_THREAD))
    attention_backward_dkdv(const float* __restrict__ q, const float* __restrict__ k,
                            const float* __restrict__ v, const float* __restrict__ gout,
                            const float* __restrict__ lse, const float* __restrict__ delta,
                            float* __restrict__ gk, float* __restrict__ gv, int Tq, int Tk,
                            float scale, int is_causal) {
    constexpr int TPR = D / COLS_PER_THREAD, DT = COLS_PER_THREAD;
    __shared__ float Qs[BWD_BQ][D];
    __shared__ float Gs[BWD_BQ][D];
    __shared__ float lse_s[BWD_BQ];
    __shared__ float delta_s[BWD_BQ];
    const long long h = blockIdx.x;
    const int j0 = blockIdx.y * BWD_BK;
    const int j = j0 + threadIdx.x / TPR;  // this thread's key
    const int part = threadIdx.x % TPR;
    const bool key_ok = j < Tk;
    const long long row = (h * Tk + j) * D;
    float kj[DT], vj[DT], gkj[DT], gvj[DT];
#pragma unroll
    for (int c = 0; c < DT; ++c) {
        kj[c] = key_ok ? k[row + c * TPR + part] : 0.f;
        vj[c] = key_ok ? v[row + c * TPR + part] : 0.f;
        gkj[c] = 0.f;
        gvj[c] = 0.f;
    }
    // causal: queries before j0 see none of this block's keys
    const int istart = is_causal ? (min(j0, Tq) / BWD_BQ) * BWD_BQ : 0;
    for (int i0 = istart; i0 < Tq; i0 += BWD_BQ) {
        load_tile<BWD_BQ, D>(Qs, q + h * Tq * D, i0, Tq);
        load_tile<BWD_BQ, D>(Gs, gout + h * Tq * D, i0, Tq);
        for (int r = threadIdx.x; r < BWD_BQ; r += blockDim.x) {
            int i = i0 + r;
            lse_s[r] = i < Tq ? lse[h * Tq + i] : 0.f;
            delta_s[r] = i < Tq ? delta[h * Tq + i] : 0.f;
        }
        __syncthreads();
        for (int ii = 0; ii < BWD_BQ; ++ii) {
            float qk = row_sum<TPR>(dot_part<DT, TPR>(kj, Qs[ii], part));
            float gv_dot = row_sum<TPR>(dot_part<DT, TPR>(vj, Gs[ii], part));
            float p = visible(i0 + ii, j, Tq, Tk, is_causal)
                          ? __expf(scale * qk - lse_s[ii])  // P recomputed
                          : 0.f;
            float gs = p * (gv_dot - delta_s[ii]);
#pragma unroll
            for (int c = 0; c < DT; ++c) {
                gvj[c] += p * Gs[ii][c * TPR + part];
                gkj[c] += scale * gs * Qs[ii][c * TPR + part];
            }
        }
        __syncthreads();
    }
    if (key_ok) {
#pragma unroll
        for (int c = 0; c < DT; ++c) {
            gk[row + c * TPR + part] = gkj[c];
            gv[row + c * TPR + part] = gvj[c];
        }
    }
}

template <int D>
__global__ void __launch_bounds__(FWD_BR * (D / COLS_PER_THREAD))
    attention_backward_dq(const float* __restrict__ q, const float* __restrict__ k,
                          const float* __restrict__ v, const float* __restrict__ gout,
                          const float* __restrict__ lse, const float* __restrict__ delta,
                          float* __restrict__ gq, int Tq, int Tk, float scale, int is_causal) {
    constexpr int TPR = D / COLS_PER_THREAD, DT = COLS_PER_THREAD;
    __shared__ float Ks[FWD_BC][D];
    __shared__ float Vs[FWD_BC][D];
    const long long h = blockIdx.x;
    const int i0 = blockIdx.y * FWD_BR;
    const int i = i0 + threadIdx.x / TPR;  // this thread's query
    const int part = threadIdx.x % TPR;
    const bool row_ok = i < Tq;
    const long long row = (h * Tq + i) * D;
    float qi[DT], gi[DT], gqi[DT];
#pragma unroll
    for (int c = 0; c < DT; ++c) {
        qi[c] = row_ok ? q[row + c * TPR + part] : 0.f;
        gi[c] = row_ok ? gout[row + c * TPR + part] : 0.f;
        gqi[c] = 0.f;
    }
    const float lse_i = row_ok ? lse[h * Tq + i] : 0.f;
    const float delta_i = row_ok ? delta[h * Tq + i] : 0.f;
    const int kend = is_causal ? min(Tk, i0 + FWD_BR) : Tk;
    for (int j0 = 0; j0 < kend; j0 += FWD_BC) {
        load_tile<FWD_BC, D>(Ks, k + h * Tk * D, j0, Tk);
        load_tile<FWD_BC, D>(Vs, v + h * Tk * D, j0, Tk);
        __syncthreads();
        for (int jj = 0; jj < FWD_BC; ++jj) {
            float qk = row_sum<TPR>(dot_part<DT, TPR>(qi, Ks[jj], part));
            float gv_dot = row_sum<TPR>(dot_part<DT, TPR>(gi, Vs[jj], part));
            float p = visible(i, j0 + jj, Tq, Tk, is_causal) ? __expf(scale * qk - lse_i) : 0.f;
            float gs = p * (gv_dot - delta_i);
#pragma unroll
            for (int c = 0; c < DT; ++c) gqi[c] += scale * gs * Ks[jj][c * TPR + part];
        }
        __syncthreads();
    }
    if (row_ok) {
#pragma unroll
        for (int c = 0; c < DT; ++c) gq[row + c * TPR + part] = gqi[c];
    }
}

// Explicit instantiations, so that `nvcc -cubin` (the compile test) compiles every variant;
// CuPy's RawModule finds them through name_expressions (build.py reads the sizes from here).
#define INSTANTIATE(D)                                                                         \
    template __global__ void attention_forward<D>(const float*, const float*, const float*,   \
                                                  float*, float*, int, int, float, int);      \
    template __global__ void attention_backward_delta<D>(const float*, const float*, float*,  \
                                                         long long);                          \
    template __global__ void attention_backward_dkdv<D>(const float*, const float*,           \
                                                        const float*, const float*,           \
                                                        const float*, const float*, float*,   \
                                                        float*, int, int, float, int);        \
    template __global__ void attention_backward_dq<D>(const float*, const float*,             \
                                                      const float*, const float*,             \
                                                      const float*, const float*, float*, int, \
                                                      int, float, int);
INSTANTIATE(32)
INSTANTIATE(64)
