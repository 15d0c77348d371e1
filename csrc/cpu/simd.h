// Portable fixed-width SIMD for the CPU kernels, written with GCC/Clang vector extensions.
//
// A Vec<T> holds one 64-byte register worth of lanes (16 floats or 8 doubles). With
// -march=native the compiler maps it to AVX-512 registers, or to pairs of AVX2 / NEON
// registers elsewhere, so the kernels need no per-ISA code. ATen's Vectorized<T> is not used
// because outside ATen's own per-capability builds it falls back to scalar loops, and its exp
// would not vectorise here.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>

namespace vmamba_zoo::simd {

constexpr int kVecBytes = 64;

template <typename T>
struct VecTraits;

template <>
struct VecTraits<float> {
  typedef float vec __attribute__((vector_size(kVecBytes)));
  typedef int32_t ivec __attribute__((vector_size(kVecBytes)));
  using int_t = int32_t;
  static constexpr int kMantissaBits = 23;
  static constexpr int_t kExponentBias = 127;
  // exp(x) for x below kExpLow underflows past the smallest normal float; above kExpHigh the
  // power-of-two scale would not fit in the exponent field.
  static constexpr float kExpLow = -87.33f;
  static constexpr float kExpHigh = 88.37f;
  static constexpr int kExpTaylorDegree = 7;   // |r| <= ln2/2: truncation error < 6e-9
};

template <>
struct VecTraits<double> {
  typedef double vec __attribute__((vector_size(kVecBytes)));
  typedef int64_t ivec __attribute__((vector_size(kVecBytes)));
  using int_t = int64_t;
  static constexpr int kMantissaBits = 52;
  static constexpr int_t kExponentBias = 1023;
  static constexpr double kExpLow = -708.39;
  static constexpr double kExpHigh = 709.43;
  static constexpr int kExpTaylorDegree = 13;  // truncation error < 5e-18
  static constexpr int kLogSeriesTerms = 11;
};

template <typename T>
using Vec = typename VecTraits<T>::vec;
template <typename T>
using IVec = typename VecTraits<T>::ivec;

template <typename T>
constexpr int kLanes = kVecBytes / sizeof(T);

template <typename T>
inline Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <typename T>
inline void store(T* p, Vec<T> v) {
  std::memcpy(p, &v, sizeof(v));
}

template <typename T>
inline Vec<T> broadcast(T x) {
  return x - Vec<T>{};  // scalar op vector broadcasts the scalar to every lane
}

template <typename T>
inline Vec<T> select(IVec<T> mask, Vec<T> a, Vec<T> b) {
  return mask ? a : b;
}

template <typename T>
inline Vec<T> min(Vec<T> a, T b) {
  return a < b ? a : broadcast(b);
}

template <typename T>
inline Vec<T> max(Vec<T> a, T b) {
  return a > b ? a : broadcast(b);
}

template <typename T>
inline T hsum(Vec<T> v) {
  T s = 0;
  for (int i = 0; i < kLanes<T>; ++i) s += v[i];
  return s;
}

// In-register transpose of a kLanes x kLanes block: rows[i][j] <-> rows[j][i]. Each stage k
// swaps the off-diagonal k x k sub-blocks of every 2k x 2k diagonal block; after the stages
// k = kLanes/2, ..., 1 the block is transposed.
template <typename T, int k, std::size_t... j>
inline IVec<T> swap_mask_low(std::index_sequence<j...>) {
  return IVec<T>{static_cast<typename VecTraits<T>::int_t>((j & k) ? kLanes<T> + j - k : j)...};
}
template <typename T, int k, std::size_t... j>
inline IVec<T> swap_mask_high(std::index_sequence<j...>) {
  return IVec<T>{static_cast<typename VecTraits<T>::int_t>((j & k) ? kLanes<T> + j : j + k)...};
}

template <typename T, int k>
inline void transpose_stage(Vec<T>* rows) {
  constexpr auto lanes = std::make_index_sequence<kLanes<T>>{};
  const IVec<T> low = swap_mask_low<T, k>(lanes), high = swap_mask_high<T, k>(lanes);
  for (int i = 0; i < kLanes<T>; ++i) {
    if (i & k) continue;
    const Vec<T> a = rows[i], b = rows[i + k];
    rows[i] = __builtin_shuffle(a, b, low);
    rows[i + k] = __builtin_shuffle(a, b, high);
  }
  if constexpr (k > 1) transpose_stage<T, k / 2>(rows);
}

template <typename T>
inline void transpose(Vec<T>* rows) {
  transpose_stage<T, kLanes<T> / 2>(rows);
}

// 1/k! for the Taylor polynomial of exp.
template <typename T>
constexpr T inv_factorial(int k) {
  T f = 1;
  for (int i = 2; i <= k; ++i) f *= static_cast<T>(i);
  return static_cast<T>(1) / f;
}

// exp(x) lane-wise: x = k*ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact k*ln2),
// exp(r) by its Taylor polynomial, 2^k built in the exponent field. Accurate to about one ulp;
// flushes to 0 below kExpLow (results that would be subnormal, < 1.2e-38 in float),
// overflows to +inf above kExpHigh, propagates NaN.
template <typename T>
inline Vec<T> exp(Vec<T> x) {
  using Tr = VecTraits<T>;
  constexpr T kLog2e = static_cast<T>(1.4426950408889634);
  constexpr T kLn2Hi = static_cast<T>(0.693145751953125);
  constexpr T kLn2Lo = static_cast<T>(1.42860682030941723212e-6);
  // Adding 1.5 * 2^mantissa_bits rounds to the nearest integer in the low mantissa bits.
  constexpr T kRound = static_cast<T>(1.5) * static_cast<T>(typename Tr::int_t(1) << Tr::kMantissaBits);
  Vec<T> xc = max(min(x, Tr::kExpHigh), Tr::kExpLow);
  Vec<T> k = (xc * kLog2e + kRound) - kRound;
  Vec<T> r = xc - k * kLn2Hi;
  r = r - k * kLn2Lo;
  Vec<T> p = broadcast<T>(inv_factorial<T>(Tr::kExpTaylorDegree));
  for (int d = Tr::kExpTaylorDegree - 1; d >= 0; --d) p = p * r + inv_factorial<T>(d);
  IVec<T> ki = __builtin_convertvector(k, IVec<T>);
  IVec<T> bits = (ki + Tr::kExponentBias) << Tr::kMantissaBits;
  Vec<T> scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  Vec<T> result = p * scale;
  result = select<T>(x < Tr::kExpLow, Vec<T>{}, result);
  result = select<T>(x > Tr::kExpHigh, broadcast(std::numeric_limits<T>::infinity()), result);
  return select<T>(x != x, x, result);
}

// log(x) for finite x >= 1 (all softplus needs): x = 2^e * m with m in [sqrt(1/2), sqrt(2)).
// float: log(1 + f), f = m - 1, as f - f^2/2 + f^3 P(f) with the degree-8 minimax polynomial of
// Cephes' logf (no division); double: log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172.
template <typename T>
inline Vec<T> log_mantissa(Vec<T> m);

template <>
inline Vec<float> log_mantissa<float>(Vec<float> m) {
  constexpr float kP[] = {7.0376836292e-2f, -1.1514610310e-1f, 1.1676998740e-1f,
                          -1.2420140846e-1f, 1.4249322787e-1f, -1.6668057665e-1f,
                          2.0000714765e-1f,  -2.4999993993e-1f, 3.3333331174e-1f};
  const Vec<float> f = m - 1.0f;
  const Vec<float> f2 = f * f;
  Vec<float> poly = broadcast(kP[0]);
  for (int i = 1; i < 9; ++i) poly = poly * f + kP[i];
  return f + (f2 * f * poly - 0.5f * f2);
}

template <>
inline Vec<double> log_mantissa<double>(Vec<double> m) {
  constexpr int kTerms = VecTraits<double>::kLogSeriesTerms;
  const Vec<double> s = (m - 1.0) / (m + 1.0);
  const Vec<double> s2 = s * s;
  Vec<double> series = broadcast(1.0 / (2 * kTerms - 1));
  for (int k = kTerms - 2; k >= 0; --k) series = series * s2 + 1.0 / (2 * k + 1);
  return 2.0 * s * series;
}

template <typename T>
inline Vec<T> log_ge1(Vec<T> x) {
  using Tr = VecTraits<T>;
  using I = typename Tr::int_t;
  constexpr I kMantissaMask = (I(1) << Tr::kMantissaBits) - 1;
  constexpr I kOneBits = Tr::kExponentBias << Tr::kMantissaBits;
  constexpr T kSqrt2 = static_cast<T>(1.4142135623730951);
  constexpr T kLn2Hi = static_cast<T>(0.693145751953125);
  constexpr T kLn2Lo = static_cast<T>(1.42860682030941723212e-6);
  IVec<T> bits;
  std::memcpy(&bits, &x, sizeof(bits));
  IVec<T> e = (bits >> Tr::kMantissaBits) - Tr::kExponentBias;
  IVec<T> mbits = (bits & kMantissaMask) | kOneBits;
  Vec<T> m;
  std::memcpy(&m, &mbits, sizeof(m));
  Vec<T> ef = __builtin_convertvector(e, Vec<T>);
  auto big = m > kSqrt2;
  m = select<T>(big, m * static_cast<T>(0.5), m);
  ef = select<T>(big, ef + static_cast<T>(1), ef);
  return ef * kLn2Hi + (ef * kLn2Lo + log_mantissa<T>(m));
}

// softplus with torch's threshold (x > 20 -> x) and, with kGrad, its derivative sigmoid(x)
// (1 above 20).
template <typename T, bool kGrad>
inline void softplus(Vec<T> x, Vec<T>& value, Vec<T>& grad) {
  Vec<T> e = exp<T>(min(x, static_cast<T>(20)));
  Vec<T> u = e + static_cast<T>(1);
  Vec<T> inv_u = static_cast<T>(1) / u;
  // log1p(e) = log(u) corrected by the rounding error of u = 1 + e.
  Vec<T> log1p_e = log_ge1<T>(u) - ((u - static_cast<T>(1)) - e) * inv_u;
  auto above = x > static_cast<T>(20);
  value = select<T>(above, x, log1p_e);
  value = select<T>(x != x, x, value);
  if constexpr (kGrad) grad = select<T>(above, broadcast<T>(1), e * inv_u);
}

// Sums over the lanes of kLanes consecutive vectors: result[i] = sum_j rows[i][j].
template <typename T>
inline Vec<T> row_sums(const T* rows_ptr) {
  Vec<T> rows[kLanes<T>];
  for (int i = 0; i < kLanes<T>; ++i) rows[i] = load(rows_ptr + i * kLanes<T>);
  transpose<T>(rows);
  Vec<T> sum = rows[0];
  for (int i = 1; i < kLanes<T>; ++i) sum += rows[i];
  return sum;
}

}  // namespace vmamba_zoo::simd
