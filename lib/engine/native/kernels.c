/*
 * wraplab's elementwise training kernels in C, called through koffi on the wasm heap in place (provider.ts).
 *
 * Each function repeats the JS kernel it replaces (fused.ts, wasmKernels.ts) operation for operation: float32
 * arithmetic where the JS rounds with Math.fround / a Float32Array store after every operation, double where
 * the JS computes in doubles, the same summation order. Built without fast-math and with -ffp-contract=off
 * (no fused multiply-adds), so the results are bit-identical to the JS ones (tests/engine/native.test.ts).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#define WL_EXPORT __declspec(dllexport)
#else
#define WL_EXPORT __attribute__((visibility("default")))
#endif

/* The ABI version provider.ts checks, so a stale build is never called with other arguments. */
WL_EXPORT int wl_version(void) { return 1; }

/* AdamW on one parameter (fused.ts adamwKernel); the step's scalar constants come rounded from JS. */
WL_EXPORT void wl_adamw(const float *P, const float *G, const float *M, const float *V, float *P1, float *M1, float *V1, int n,
                        float b1, float nb1, float b2, float nb2, float sqrtBc2, float stepSize, float eps, float keep,
                        int decays, int scaled, float scale) {
  for (int i = 0; i < n; i++) {
    const float g = scaled ? G[i] * scale : G[i];
    const float m = M[i] * b1 + g * nb1;
    const float v = V[i] * b2 + (g * g) * nb2;
    const float denom = sqrtf(v) / sqrtBc2 + eps;
    const float p = decays ? P[i] * keep : P[i];
    P1[i] = p - (m / denom) * stepSize;
    M1[i] = m;
    V1[i] = v;
  }
}

/* Layernorm forward over rows of D (fused.ts layerNormKernel): statistics in double. */
WL_EXPORT void wl_layernorm(const float *X, const float *W, const float *B, float *Y, float *MEAN, float *RSTD, int rows, int D,
                            double eps) {
  for (int r = 0; r < rows; r++) {
    const float *x = X + (size_t)r * D;
    float *y = Y + (size_t)r * D;
    double s = 0;
    for (int j = 0; j < D; j++) s += x[j];
    const double mean = s / D;
    double ss = 0;
    for (int j = 0; j < D; j++) {
      const double d = x[j] - mean;
      ss += d * d;
    }
    const double rstd = 1 / sqrt(ss / D + eps);
    MEAN[r] = (float)mean;
    RSTD[r] = (float)rstd;
    for (int j = 0; j < D; j++) y[j] = (float)((x[j] - mean) * rstd * W[j] + B[j]);
  }
}

/* Layernorm backward (fused.ts layerNormGradKernel): dx per row, dw and db summed over rows in double. */
WL_EXPORT int wl_layernorm_grad(const float *DY, const float *X, const float *W, const float *MEAN, const float *RSTD, float *DX,
                                float *DW, float *DB, int rows, int D) {
  double *acc = calloc((size_t)3 * D, sizeof(double));
  if (!acc) return -1;
  double *dw = acc, *db = acc + D, *xhat = acc + 2 * (size_t)D;
  for (int r = 0; r < rows; r++) {
    const float *x = X + (size_t)r * D, *dyr = DY + (size_t)r * D;
    float *dx = DX + (size_t)r * D;
    const double mean = MEAN[r], rstd = RSTD[r];
    double sumG = 0, sumGX = 0;
    for (int j = 0; j < D; j++) {
      const double xh = (x[j] - mean) * rstd;
      const double dy = dyr[j];
      const double g = dy * W[j];
      xhat[j] = xh;
      sumG += g;
      sumGX += g * xh;
      dw[j] += dy * xh;
      db[j] += dy;
    }
    const double meanG = sumG / D, meanGX = sumGX / D;
    for (int j = 0; j < D; j++) dx[j] = (float)(rstd * ((double)dyr[j] * W[j] - meanG - xhat[j] * meanGX));
  }
  for (int j = 0; j < D; j++) {
    DW[j] = (float)dw[j];
    DB[j] = (float)db[j];
  }
  free(acc);
  return 0;
}

/* RMSNorm forward (fused.ts rmsNormKernel). */
WL_EXPORT void wl_rmsnorm(const float *X, const float *W, float *Y, float *RSTD, int rows, int D, double eps) {
  for (int r = 0; r < rows; r++) {
    const float *x = X + (size_t)r * D;
    float *y = Y + (size_t)r * D;
    double ss = 0;
    for (int j = 0; j < D; j++) ss += (double)x[j] * x[j];
    const double rstd = 1 / sqrt(ss / D + eps);
    RSTD[r] = (float)rstd;
    for (int j = 0; j < D; j++) y[j] = (float)(x[j] * rstd * W[j]);
  }
}

/* RMSNorm backward (fused.ts rmsNormGradKernel). */
WL_EXPORT int wl_rmsnorm_grad(const float *DY, const float *X, const float *W, const float *RSTD, float *DX, float *DW, int rows, int D) {
  double *dw = calloc((size_t)D, sizeof(double));
  if (!dw) return -1;
  for (int r = 0; r < rows; r++) {
    const float *x = X + (size_t)r * D, *dy = DY + (size_t)r * D;
    float *dx = DX + (size_t)r * D;
    const double rstd = RSTD[r];
    double sumGX = 0;
    for (int j = 0; j < D; j++) {
      const double xh = x[j] * rstd;
      sumGX += (double)dy[j] * W[j] * xh;
      dw[j] += dy[j] * xh;
    }
    const double meanGX = sumGX / D;
    for (int j = 0; j < D; j++) dx[j] = (float)(rstd * ((double)dy[j] * W[j] - x[j] * rstd * meanGX));
  }
  for (int j = 0; j < D; j++) DW[j] = (float)dw[j];
  free(dw);
  return 0;
}

/* Column sums of a [rows, width] matrix, accumulated in float32 row by row (wasmKernels.ts sum). */
WL_EXPORT void wl_sum_rows(const float *src, float *dst, int rows, int width) {
  memset(dst, 0, (size_t)width * sizeof(float));
  for (int r = 0; r < rows; r++) {
    const float *row = src + (size_t)r * width;
    for (int j = 0; j < width; j++) dst[j] += row[j];
  }
}

/*
 * dst[o][j][i][:] = src[o][i][j][:] for 4-byte elements, runs of `inner` (wasmKernels.ts transpose): swapping
 * two adjacent axes. Blocked in 16x16 tiles so reads and writes both stay in cache.
 */
WL_EXPORT void wl_transpose32(const uint32_t *src, uint32_t *dst, int outer, int R, int C, int inner) {
  const size_t mat = (size_t)R * C * inner;
  for (int o = 0; o < outer; o++) {
    const uint32_t *s = src + o * mat;
    uint32_t *d = dst + o * mat;
    if (inner == 1) {
      for (int i0 = 0; i0 < R; i0 += 16) {
        const int i1 = i0 + 16 < R ? i0 + 16 : R;
        for (int j0 = 0; j0 < C; j0 += 16) {
          const int j1 = j0 + 16 < C ? j0 + 16 : C;
          for (int i = i0; i < i1; i++)
            for (int j = j0; j < j1; j++) d[(size_t)j * R + i] = s[(size_t)i * C + j];
        }
      }
    } else {
      for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) memcpy(d + ((size_t)j * R + i) * inner, s + ((size_t)i * C + j) * inner, (size_t)inner * 4);
    }
  }
}

/*
 * exp(x) in float32 from IEEE operations only (Cephes' expf: x = n ln2 + r, a degree-6 polynomial in r, 2^n
 * from the exponent bits), so the compiler vectorises it and every machine computes the same bits; ~1 ulp.
 * libm's expf is a scalar call (the GELU loop ran slower than XNNPACK's vectorised sigmoid).
 */
static inline float wl_expf(float x) {
  x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest: 1.5 * 2^23 */
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = (p * r) * r + r + 1.0f;
  const int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

/*
 * GELU, tanh approximation, as x * sigmoid(x (c1 x^2 + c2)) with c1 = 2 s a, c2 = 2 s (model/kernels.ts gelu);
 * saves g = sigmoid(...) for the gradient. One pass where the plain path runs six kernels. Not bit-identical
 * to it (XNNPACK's sigmoid is its own approximation; this one uses wl_expf), within float32 rounding: the
 * provider tag marks it in run-cache keys.
 */
WL_EXPORT void wl_gelu(const float *restrict X, float *restrict Y, float *restrict G, int n, float c1, float c2) {
  for (int i = 0; i < n; i++) {
    const float x = X[i];
    const float z = x * ((x * x) * c1 + c2);
    const float g = 1.0f / (1.0f + wl_expf(-z));
    G[i] = g;
    Y[i] = x * g;
  }
}

/* dx = dy (g + x g (1 - g) (d1 x^2 + d2)), d1 = 6 s a, d2 = 2 s: the plain path's gradient in one pass. */
WL_EXPORT void wl_gelu_grad(const float *restrict DY, const float *restrict X, const float *restrict G, float *restrict DX, int n, float d1,
                            float d2) {
  for (int i = 0; i < n; i++) {
    const float x = X[i], g = G[i];
    const float du = (x * x) * d1 + d2;
    const float slope = (x * (g * (1.0f - g))) * du;
    DX[i] = DY[i] * (g + slope);
  }
}
