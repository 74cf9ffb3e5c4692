// Standalone check and timing of the attention-scores v3 CUDA kernels (no ggml, no llama.cpp): a double-precision
// reference of the same definition on small random shapes, with the kernels' own log-sum-exp (pass 1) and with one
// handed in as llama.cpp's flash attention keeps it (natural log, rows (token, head)); then the Llama-3.2-1B shape's
// layer timed per pass.
//   nvcc -O3 -use_fast_math -arch=sm_90 -std=c++17 -I GGML_CUDA_DIR kernel-check.cu -o kernel-check && ./kernel-check
// (GGML_CUDA_DIR: ggml/src/ggml-cuda of a llama.cpp tree with extensions/attention-scores/llama.cpp.patch applied)
#include "attn-scores-kernels.cuh"
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <random>
#include <cmath>
#include <algorithm>

#define CK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { printf("CUDA %s at %d\n", cudaGetErrorString(e), __LINE__); exit(1); } } while (0)

struct Case { int D, G, n_head_kv, n_tokens, n_kv; bool k_f32, mask_f32, lse_from_attention; };

// returns the largest error relative to the largest score
static double check(const Case & c, std::mt19937 & rng) {
    const int n_head = c.n_head_kv*c.G, D = c.D, DP = attn_scores_padded_d(D);
    const int mask_stride = (c.n_kv + 255)/256*256;
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> q((size_t) D*n_head*c.n_tokens), kf((size_t) D*c.n_head_kv*c.n_kv), mask((size_t) mask_stride*c.n_tokens), w(c.n_tokens);
    for (auto & v : q) v = __half2float(__float2half(nd(rng)*2.0f));
    for (auto & v : kf) v = __half2float(__float2half(nd(rng)));
    // a causal stream's mask: the last n_tokens cells are the batch; plus a few holes (evicted cells)
    for (int t = 0; t < c.n_tokens; ++t)
        for (int j = 0; j < mask_stride; ++j)
            mask[(size_t) t*mask_stride + j] = (j >= c.n_kv || j > c.n_kv - c.n_tokens + t || j % 97 == 5) ? -INFINITY : 0.0f;
    for (int t = 0; t < c.n_tokens; ++t) w[t] = (float) pow(0.999, c.n_tokens - 1 - t);
    const float scale = 1.0f/sqrtf((float) D);

    std::vector<double> ref(c.n_kv, 0.0);
    std::vector<double> s(c.n_kv);
    std::vector<float> lse_attn((size_t) c.n_tokens*n_head);
    for (int hk = 0; hk < c.n_head_kv; ++hk)
        for (int t = 0; t < c.n_tokens; ++t) {
            std::vector<double> best(c.n_kv, 0.0);
            for (int g = 0; g < c.G; ++g) {
                const int h = hk*c.G + g;
                double mx = -INFINITY;
                for (int j = 0; j < c.n_kv; ++j) {
                    double dot = 0;
                    for (int d = 0; d < D; ++d) dot += (double) q[(size_t) t*n_head*D + h*D + d]*kf[(size_t) j*c.n_head_kv*D + hk*D + d];
                    s[j] = dot*scale + mask[(size_t) t*mask_stride + j];
                    mx = std::max(mx, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < c.n_kv; ++j) sum += exp(s[j] - mx);
                lse_attn[(size_t) t*n_head + h] = (float) (mx + log(sum));
                for (int j = 0; j < c.n_kv; ++j) best[j] = std::max(best[j], exp(s[j] - mx)/sum);
            }
            for (int j = 0; j < c.n_kv; ++j) ref[j] += w[t]*best[j];
        }

    float *dq, *dmaskf, *dw, *ddst, *dlse, *dkf, *dlsea = nullptr; half *dkh, *dqh, *dmaskh;
    if (c.lse_from_attention) {
        CK(cudaMalloc(&dlsea, lse_attn.size()*4)); CK(cudaMemcpy(dlsea, lse_attn.data(), lse_attn.size()*4, cudaMemcpyHostToDevice));
    }
    CK(cudaMalloc(&dq, q.size()*4)); CK(cudaMalloc(&dw, w.size()*4)); CK(cudaMalloc(&ddst, c.n_kv*4));
    CK(cudaMalloc(&dlse, (size_t) n_head*c.n_tokens*4)); CK(cudaMalloc(&dqh, (size_t) n_head*c.n_tokens*DP*2));
    CK(cudaMemcpy(dq, q.data(), q.size()*4, cudaMemcpyHostToDevice)); CK(cudaMemcpy(dw, w.data(), w.size()*4, cudaMemcpyHostToDevice));
    const char * dk; const char * dm;
    if (c.k_f32) { CK(cudaMalloc(&dkf, kf.size()*4)); CK(cudaMemcpy(dkf, kf.data(), kf.size()*4, cudaMemcpyHostToDevice)); dk = (const char *) dkf; }
    else { std::vector<half> kh(kf.size()); for (size_t i = 0; i < kf.size(); ++i) kh[i] = __float2half(kf[i]);
           CK(cudaMalloc(&dkh, kh.size()*2)); CK(cudaMemcpy(dkh, kh.data(), kh.size()*2, cudaMemcpyHostToDevice)); dk = (const char *) dkh; }
    if (c.mask_f32) { CK(cudaMalloc(&dmaskf, mask.size()*4)); CK(cudaMemcpy(dmaskf, mask.data(), mask.size()*4, cudaMemcpyHostToDevice)); dm = (const char *) dmaskf; }
    else { std::vector<half> mh(mask.size()); for (size_t i = 0; i < mask.size(); ++i) mh[i] = __float2half(mask[i]);
           CK(cudaMalloc(&dmaskh, mh.size()*2)); CK(cudaMemcpy(dmaskh, mh.data(), mh.size()*2, cudaMemcpyHostToDevice)); dm = (const char *) dmaskh; }
    const size_t es = c.k_f32 ? 4 : 2;
    attn_scores_cuda(dq, 4, (size_t) D*4, (size_t) D*n_head*4, dk, es*D*c.n_head_kv, es*D, c.k_f32, dm, (size_t) mask_stride*(c.mask_f32 ? 4 : 2), c.mask_f32,
                     dw, dlsea, ddst, dqh, dlse, D, c.G, n_head, c.n_tokens, c.n_kv, scale, 0);
    CK(cudaDeviceSynchronize());
    std::vector<float> got(c.n_kv);
    CK(cudaMemcpy(got.data(), ddst, c.n_kv*4, cudaMemcpyDeviceToHost));
    double largest = 0, err = 0;
    for (int j = 0; j < c.n_kv; ++j) { largest = std::max(largest, ref[j]); err = std::max(err, fabs(got[j] - ref[j])); }
    return err/largest;
}

int main() {
    std::mt19937 rng(7);
    const Case cases[] = {
        {64, 4, 2, 200, 1000, false, false, false}, {64, 4, 2, 200, 1000, false, true, false}, {64, 4, 2, 100, 700, true, true, false},
        {8, 2, 4, 130, 333, true, true, false}, {8, 2, 4, 130, 333, false, false, false}, {128, 8, 1, 70, 517, false, false, false},
        {128, 1, 2, 90, 300, false, false, false}, {32, 2, 2, 64, 128, false, false, false}, {80, 4, 2, 33, 260, false, false, false},
        {64, 4, 2, 200, 1000, false, false, true}, {128, 8, 1, 70, 517, false, false, true}, {128, 1, 2, 90, 300, false, true, true},
        {80, 4, 2, 33, 260, false, false, true}, {8, 2, 4, 130, 333, true, true, true},
    };
    bool ok = true;
    for (const Case & c : cases) {
        const double e = check(c, rng);
        printf("D=%d G=%d n_head_kv=%d n_tokens=%d n_kv=%d k %s mask %s lse %s: error / largest = %.2e\n", c.D, c.G, c.n_head_kv, c.n_tokens, c.n_kv,
               c.k_f32 ? "f32" : "f16", c.mask_f32 ? "f32" : "f16", c.lse_from_attention ? "given" : "pass 1", e);
        ok = ok && e < 2e-3;
    }

    // timing: Llama-3.2-1B shape, one layer (32 query heads, 8 KV heads, head size 64), a 4,096-token ubatch over 69,632 cells
    const int D = 64, G = 4, n_head = 32, n_head_kv = 8, n_tokens = 4096, n_kv = 69632;
    float *dq, *dw, *ddst, *dlse; half *dk, *dqh, *dm;
    CK(cudaMalloc(&dq, (size_t) D*n_head*n_tokens*4)); CK(cudaMalloc(&dw, n_tokens*4)); CK(cudaMalloc(&ddst, n_kv*4));
    CK(cudaMalloc(&dlse, (size_t) n_head*n_tokens*4)); CK(cudaMalloc(&dqh, (size_t) n_head*n_tokens*D*2));
    float * dlse2; CK(cudaMalloc(&dlse2, (size_t) n_head*n_tokens*4));
    CK(cudaMalloc(&dk, (size_t) D*n_head_kv*n_kv*2)); CK(cudaMalloc(&dm, (size_t) n_kv*n_tokens*2));
    CK(cudaMemset(dq, 0, (size_t) D*n_head*n_tokens*4)); CK(cudaMemset(dk, 0, (size_t) D*n_head_kv*n_kv*2)); CK(cudaMemset(dm, 0, (size_t) n_kv*n_tokens*2));
    CK(cudaMemset(dw, 0, n_tokens*4));
    cudaEvent_t e0, e1, e2, e3; cudaEventCreate(&e0); cudaEventCreate(&e1); cudaEventCreate(&e2); cudaEventCreate(&e3);
    const float scale = 0.125f;
    // the mask: all zero (every cell visible), then as in a cascade's steady chunk: the ubatch's tokens scattered over
    // the cells (the holes its evictions left), each hidden from the tokens before it
    std::vector<half> mh((size_t) n_kv*n_tokens, __float2half(0.0f));
    std::vector<int> cells(n_kv);
    for (int j = 0; j < n_kv; ++j) cells[j] = j;
    std::shuffle(cells.begin(), cells.end(), rng);
    for (int t = 0; t < n_tokens; ++t)
        for (int u = t + 1; u < n_tokens; ++u) mh[(size_t) t*n_kv + cells[u]] = __float2half(-INFINITY);
    for (int rep = 0; rep < 2; ++rep) {
        if (rep == 1) CK(cudaMemcpy(dm, mh.data(), mh.size()*2, cudaMemcpyHostToDevice));
        float t_prep = 0, t_lse = 0, t_acc = 0;
        const int iters = 5;
        for (int it = 0; it < iters; ++it) {
            cudaEventRecord(e0);
            attn_scores_prep_q<<<(n_head*n_tokens*D + 255)/256, 256>>>((const char *) dq, dqh, D, D, G, n_head, n_tokens, 4, D*4, (size_t) D*n_head*4, scale);
            cudaEventRecord(e1);
            attn_scores_lse<64, 4, true><<<dim3(n_head_kv, (n_tokens*G + 16*ATTN_SCORES_WARPS - 1)/(16*ATTN_SCORES_WARPS)), 32*ATTN_SCORES_WARPS>>>(
                dqh, (const char *) dk, (const char *) dm, dlse, n_tokens, n_kv, D, (size_t) D*n_head_kv*2, D*2, (size_t) n_kv*2, false, false);
            cudaEventRecord(e2);
            cudaMemsetAsync(ddst, 0, n_kv*4);
            attn_scores_acc<64, 4, true><<<dim3(n_head_kv, (n_kv + 16*ATTN_SCORES_WARPS - 1)/(16*ATTN_SCORES_WARPS)), 32*ATTN_SCORES_WARPS>>>(
                dqh, (const char *) dk, (const char *) dm, dlse, dw, ddst, n_tokens, n_kv, D, (size_t) D*n_head_kv*2, D*2, (size_t) n_kv*2, false, false);
            cudaEventRecord(e3);
            CK(cudaEventSynchronize(e3));
            float a, b, c; cudaEventElapsedTime(&a, e0, e1); cudaEventElapsedTime(&b, e1, e2); cudaEventElapsedTime(&c, e2, e3);
            t_prep += a; t_lse += b; t_acc += c;
        }
        // with the flash attention's log-sum-exp (v3): pass 1 gives way to a conversion of n_head*n_tokens floats
        float t_conv = 0;
        for (int it = 0; it < iters; ++it) {
            cudaEventRecord(e0);
            attn_scores_lse_from_attention<<<(n_head*n_tokens + 255)/256, 256>>>(dlse, dlse2, G, n_head, n_tokens);
            cudaEventRecord(e1);
            CK(cudaEventSynchronize(e1));
            float a; cudaEventElapsedTime(&a, e0, e1); t_conv += a;
        }
        CK(cudaGetLastError());
        printf("1B layer (4096 tokens x 69632 cells, mask %s): prep %.3f ms, lse %.3f ms, acc %.3f ms; x16 layers = %.1f ms per chunk; "
               "with the attention's log-sum-exp (convert %.3f ms): %.1f ms per chunk\n",
               rep == 0 ? "all zero" : "scattered causal", t_prep/iters, t_lse/iters, t_acc/iters, 16*(t_prep + t_lse + t_acc)/iters,
               t_conv/iters, 16*(t_prep + t_conv + t_acc)/iters);
    }
    printf(ok ? "CHECK OK\n" : "CHECK FAILED\n");
    return ok ? 0 : 1;
}
