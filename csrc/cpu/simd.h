// Fixed-width SIMD for the CPU kernels, written with GCC/Clang vector extensions.
//
// A Vec<T> is one register of the path: 64 bytes (16 floats) on avx512, 32 on avx2, 16 on the
// generic path (SSE2, NEON). Each instruction-set path compiles this file in its own namespace
// (kernels.h); the avx512 path uses a few AVX-512 instructions below (VMAMBA_ZOO_ISA_AVX512), the
// generic path no intrinsics at all. ATen's Vectorized<T> is not used because
// outside ATen's own per-capability builds it falls back to scalar loops, and its exp would not
// vectorise here.
//
// Included only by kernels_impl.h, inside the target region of one kernels_<path>.cpp: every
// header it needs comes through kernels.h, before that region.
#pragma once

#include "kernels.h"

#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define VMAMBA_ZOO_HAS_SHUFFLEVECTOR 1
#endif
#endif

namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA::simd {

// The path's native vector width (kernels_<path>.cpp): one register of it per Vec, so every
// vector operation below, comparisons and selects included, is one instruction or a few (GCC
// lowers wider vectors' comparisons and selects element by element).
constexpr int kVecBytes = VMAMBA_ZOO_VEC_BYTES;
template <typename T>
constexpr int kLanes = kVecBytes / sizeof(T);

template <typename T>
struct VecTraits;

template <>
struct VecTraits<float> {
  typedef float vec __attribute__((vector_size(kVecBytes)));
  typedef int32_t ivec __attribute__((vector_size(kVecBytes)));
  typedef uint32_t uvec __attribute__((vector_size(kVecBytes)));
  using int_t = int32_t;
  static constexpr int kMantissaBits = 23;
  static constexpr int_t kExponentBias = 127;
};

template <>
struct VecTraits<double> {
  typedef double vec __attribute__((vector_size(kVecBytes)));
  typedef int64_t ivec __attribute__((vector_size(kVecBytes)));
  typedef uint64_t uvec __attribute__((vector_size(kVecBytes)));
  using int_t = int64_t;
  static constexpr int kMantissaBits = 52;
  static constexpr int_t kExponentBias = 1023;
  static constexpr int kLogSeriesTerms = 11;
};

template <typename T>
using Vec = typename VecTraits<T>::vec;
template <typename T>
using IVec = typename VecTraits<T>::ivec;
template <typename T>
using UVec = typename VecTraits<T>::uvec;

// A heap array of n vectors, aligned to the vector size. (Not std::vector<Vec<T>>: its allocator is
// compiled outside the target region, where GCC gives the vector type a smaller alignment than
// the aligned loads of the code inside assume.)
template <typename T>
class VecArray {
 public:
  explicit VecArray(int64_t n, Vec<T> value = Vec<T>{})
      : data_(static_cast<Vec<T>*>(::operator new(n * sizeof(Vec<T>), std::align_val_t(kVecBytes)))) {
    for (int64_t i = 0; i < n; ++i) data_[i] = value;
  }
  ~VecArray() { ::operator delete(data_, std::align_val_t(kVecBytes)); }
  VecArray(const VecArray&) = delete;
  VecArray& operator=(const VecArray&) = delete;
  Vec<T>& operator[](int64_t i) { return data_[i]; }
  const Vec<T>& operator[](int64_t i) const { return data_[i]; }
  Vec<T>* data() { return data_; }

 private:
  Vec<T>* data_;
};

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

// min(a, b) = a < b ? a : b and max(a, b) = a > b ? a : b lane-wise (b where a is NaN): exactly
// the x86 min / max instructions, which GCC does not make of these ternaries (it makes compares
// and blends), so the 128- and 256-bit x86 paths name them.
template <typename T>
inline Vec<T> min(Vec<T> a, T b) {
#if VMAMBA_ZOO_X86_PATHS && VMAMBA_ZOO_VEC_BYTES == 32
  if constexpr (sizeof(T) == 4)
    return (Vec<T>)_mm256_min_ps((__m256)a, _mm256_set1_ps(b));
  else
    return (Vec<T>)_mm256_min_pd((__m256d)a, _mm256_set1_pd(b));
#elif VMAMBA_ZOO_X86_PATHS && VMAMBA_ZOO_VEC_BYTES == 16  // SSE2: in every x86-64
  if constexpr (sizeof(T) == 4)
    return (Vec<T>)_mm_min_ps((__m128)a, _mm_set1_ps(b));
  else
    return (Vec<T>)_mm_min_pd((__m128d)a, _mm_set1_pd(b));
#else
  return a < b ? a : broadcast(b);
#endif
}

template <typename T>
inline Vec<T> max(Vec<T> a, T b) {
#if VMAMBA_ZOO_X86_PATHS && VMAMBA_ZOO_VEC_BYTES == 32
  if constexpr (sizeof(T) == 4)
    return (Vec<T>)_mm256_max_ps((__m256)a, _mm256_set1_ps(b));
  else
    return (Vec<T>)_mm256_max_pd((__m256d)a, _mm256_set1_pd(b));
#elif VMAMBA_ZOO_X86_PATHS && VMAMBA_ZOO_VEC_BYTES == 16
  if constexpr (sizeof(T) == 4)
    return (Vec<T>)_mm_max_ps((__m128)a, _mm_set1_ps(b));
  else
    return (Vec<T>)_mm_max_pd((__m128d)a, _mm_set1_pd(b));
#else
  return a > b ? a : broadcast(b);
#endif
}

// x limited to [lo, hi]; a NaN stays NaN (both comparisons are false for it), so that this is
// one max and one min instruction with the operands in the order that keeps x's NaN.
template <typename T>
inline Vec<T> clamp(Vec<T> x, T lo, T hi) {
  // GCC makes compares and blends of the ternaries; the x86 max / min return their second
  // operand where either is NaN.
#if VMAMBA_ZOO_X86_PATHS && VMAMBA_ZOO_VEC_BYTES == 32
  if constexpr (sizeof(T) == 4)
    return (Vec<T>)_mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), (__m256)x));
  else
    return (Vec<T>)_mm256_min_pd(_mm256_set1_pd(hi), _mm256_max_pd(_mm256_set1_pd(lo), (__m256d)x));
#elif VMAMBA_ZOO_X86_PATHS && VMAMBA_ZOO_VEC_BYTES == 16  // SSE2: in every x86-64
  if constexpr (sizeof(T) == 4)
    return (Vec<T>)_mm_min_ps(_mm_set1_ps(hi), _mm_max_ps(_mm_set1_ps(lo), (__m128)x));
  else
    return (Vec<T>)_mm_min_pd(_mm_set1_pd(hi), _mm_max_pd(_mm_set1_pd(lo), (__m128d)x));
#else
  x = x < lo ? broadcast(lo) : x;
  return x > hi ? broadcast(hi) : x;
#endif
}

template <typename T>
inline T hsum(Vec<T> v) {
  T s = 0;
  for (int i = 0; i < kLanes<T>; ++i) s += v[i];
  return s;
}

// In-register transpose of a kLanes x kLanes block: rows[i][j] <-> rows[j][i]. Each stage k
// swaps the off-diagonal k x k sub-blocks of every 2k x 2k diagonal block; after the stages
// k = kLanes/2, ..., 1 the block is transposed. Lane j of the new rows[i] (i without bit k) is
// lane j - k of rows[i + k] where j has bit k, else lane j of rows[i]; of the new rows[i + k],
// lane j + k of rows[i] where j lacks bit k, else lane j of rows[i + k].
template <typename T, int k, std::size_t... j>
inline void swap_sub_blocks(Vec<T>& low, Vec<T>& high, std::index_sequence<j...>) {
  constexpr std::size_t W = kLanes<T>;
  const Vec<T> a = low, b = high;
#if defined(VMAMBA_ZOO_HAS_SHUFFLEVECTOR)
  low = __builtin_shufflevector(a, b, ((j & k) ? W + j - k : j)...);
  high = __builtin_shufflevector(a, b, ((j & k) ? W + j : j + k)...);
#else  // GCC before 12
  using I = typename VecTraits<T>::int_t;
  low = __builtin_shuffle(a, b, IVec<T>{static_cast<I>((j & k) ? W + j - k : j)...});
  high = __builtin_shuffle(a, b, IVec<T>{static_cast<I>((j & k) ? W + j : j + k)...});
#endif
}

template <typename T, int k>
inline void transpose_stage(Vec<T>* rows) {
  for (int i = 0; i < kLanes<T>; ++i) {
    if (i & k) continue;
    swap_sub_blocks<T, k>(rows[i], rows[i + k], std::make_index_sequence<kLanes<T>>{});
  }
  if constexpr (k > 1) transpose_stage<T, k / 2>(rows);
}

template <typename T>
inline void transpose(Vec<T>* rows) {
  transpose_stage<T, kLanes<T> / 2>(rows);
}

// exp(r) on |r| <= ln2/2: float uses a degree-6 minimax polynomial (relative error 1.1e-7 in
// float arithmetic, measured on 2e5 points), double its degree-13 Taylor polynomial (< 5e-18).
template <typename T>
inline Vec<T> exp_reduced(Vec<T> r);

template <>
inline Vec<float> exp_reduced<float>(Vec<float> r) {
  constexpr float kP[] = {1.3836821308e-3f, 8.3748158067e-3f, 4.1668225080e-2f, 1.6666419804e-1f,
                          4.9999991059e-1f, 1.0f, 1.0f};
  Vec<float> p = broadcast(kP[0]);
#pragma GCC unroll 8
  for (int i = 1; i < 7; ++i) p = p * r + kP[i];
  return p;
}

constexpr double inv_factorial(int k) {
  double f = 1;
  for (int i = 2; i <= k; ++i) f *= i;
  return 1 / f;
}

template <>
inline Vec<double> exp_reduced<double>(Vec<double> r) {
  constexpr int kDegree = 13;
  Vec<double> p = broadcast(inv_factorial(kDegree));
#pragma GCC unroll 16
  for (int d = kDegree - 1; d >= 0; --d) p = p * r + inv_factorial(d);
  return p;
}

// The float polynomial for 2^r on |r| <= 1/2: degree-6 minimax (relative error 1.0e-7 in float
// arithmetic, measured on 4e5 points); double: exp(r ln2) by its Taylor polynomial.
//
// The float polynomials here are evaluated by Horner's rule on the avx512 path and by Estrin's
// scheme (pairs of terms, then powers r^2, r^4: half the dependent FMAs for two more
// instructions) on the others: the scans are limited by how many steps' dependency chains the
// core overlaps, and the 256- and 128-bit paths need more instructions per channel, so the shorter
// chains pay off there. The avx512 path keeps Horner's rounding (its results are unchanged); Estrin's
// costs at most 1.7e-7 (exp2) and 2.0e-7 (log1p) relative, rounding every operation.
// kManyPerStep: the caller evaluates many independent exp2 per step (the decays of a state of
// several entries), which fill the core without shorter chains; the avx2 path then takes Horner's
// rule too, as its instruction count limits it there. (The generic path keeps Estrin's scheme:
// its baseline x86-64 build has no FMA, and Horner's rule gained nothing there.)
template <typename T, bool kManyPerStep = false>
inline Vec<T> exp2_reduced(Vec<T> r) {
  if constexpr (sizeof(T) == 4) {
    constexpr float kP[] = {1.5345796419e-04f, 1.3399930904e-03f, 9.6184890717e-03f, 5.5503286421e-02f,
                            2.4022646248e-01f, 6.9314718246e-01f, 1.0f};
    if constexpr (VMAMBA_ZOO_ISA_AVX512 || (kManyPerStep && kVecBytes == 32)) {
      Vec<float> p = broadcast(kP[0]);
#pragma GCC unroll 8
      for (int i = 1; i < 7; ++i) p = p * r + kP[i];
      return p;
    } else {
      const Vec<float> r2 = r * r;
      const Vec<float> lo = (r * kP[5] + kP[6]) + r2 * (r * kP[3] + kP[4]);
      const Vec<float> hi = (r * kP[1] + kP[2]) + r2 * kP[0];
      return lo + (r2 * r2) * hi;
    }
  } else {
    return exp_reduced<T>(r * static_cast<T>(0.6931471805599453));
  }
}

// Adding kRound = 1.5 * 2^mantissa_bits to |x| < 2^(mantissa_bits - 1) rounds it to the nearest
// integer k, held as two's complement in the low mantissa bits of the sum.
template <typename T>
constexpr T kRound = static_cast<T>(1.5) * static_cast<T>(typename VecTraits<T>::int_t(1) << VecTraits<T>::kMantissaBits);

#if VMAMBA_ZOO_ISA_AVX512
// p * 2^k by one vscalef (IEEE: gradual underflow, overflow to inf, NaN propagates) instead of
// building 2^k in the exponent field: fewer instructions per exp in the scan kernels. (The
// all-lanes masked form: GCC 12 warns about the unmasked one's undefined source.)
template <typename T>
inline Vec<T> scale_by_pow2_unchecked(Vec<T> p, Vec<T> k) {
  if constexpr (sizeof(T) == 4)
    return (Vec<T>)_mm512_mask_scalef_ps((__m512)p, 0xFFFF, (__m512)p, (__m512)k);
  else
    return (Vec<T>)_mm512_mask_scalef_pd((__m512d)p, 0xFF, (__m512d)p, (__m512d)k);
}

// p * 2^k for integral k (as a float vector), p in [0.7, 1.5]: 0 for k <= -126 (float; -1022
// double), where the result could be subnormal (flushed to zero, as the state recurrences want),
// +inf where it overflows.
template <typename T>
inline Vec<T> scale_by_pow2(Vec<T> p, Vec<T> k) {
  return select<T>(k < static_cast<T>(2 - VecTraits<T>::kExponentBias), Vec<T>{}, scale_by_pow2_unchecked<T>(p, k));
}
#else
// 2^k from t = k + kRound (above) for integral k in [-bias, bias + 1]: +0 at -bias, +inf at
// bias + 1. t's bits are kRound's plus k, and kRound's bits are zero from the exponent field's
// width upwards, so shifting them into the exponent field leaves k there; adding the bias makes it
// 2^k. No comparisons or selects: the callers clamp their argument so that k is in range, and a
// NaN argument stays NaN through the product with the polynomial.
template <typename T>
inline Vec<T> pow2_of_rounded(Vec<T> t) {
  using Tr = VecTraits<T>;
  using U = typename std::make_unsigned<typename Tr::int_t>::type;
  UVec<T> bits;
  std::memcpy(&bits, &t, sizeof(bits));
  bits = (bits << Tr::kMantissaBits) + (U(Tr::kExponentBias) << Tr::kMantissaBits);
  Vec<T> scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return scale;
}
#endif

// exp(x) lane-wise: x = k*ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact k*ln2),
// exp(r) by a polynomial, times 2^k. Accurate to about one ulp; 0 where the result is below about
// 2^-126 (flushed: x below about -87 in float), +inf on overflow, NaN propagates.
template <typename T>
inline Vec<T> exp(Vec<T> x) {
  using Tr = VecTraits<T>;
  constexpr T kLog2e = static_cast<T>(1.4426950408889634);
  constexpr T kLn2Hi = static_cast<T>(0.693145751953125);
  constexpr T kLn2Lo = static_cast<T>(1.42860682030941723212e-6);
#if VMAMBA_ZOO_ISA_AVX512
  // beyond these the result is 0 or inf anyway; the clamp keeps k * ln2 exact
  constexpr T kClamp = static_cast<T>(2 * Tr::kExponentBias);
  Vec<T> xc = max(min(x, kClamp), -kClamp);
  Vec<T> k = (xc * kLog2e + kRound<T>) - kRound<T>;
  Vec<T> r = xc - k * kLn2Hi;
  r = r - k * kLn2Lo;
  Vec<T> result = scale_by_pow2<T>(exp_reduced<T>(r), k);
  return select<T>(x != x, x, result);
#else
  // k in [-bias, bias + 1]: 2^k is 0 at the low end, inf at the high end (pow2_of_rounded)
  constexpr T kLn2 = static_cast<T>(0.6931471805599453);
  const Vec<T> xc = clamp(x, -Tr::kExponentBias * kLn2, (Tr::kExponentBias + 1) * kLn2);
  const Vec<T> t = xc * kLog2e + kRound<T>;
  const Vec<T> k = t - kRound<T>;
  Vec<T> r = xc - k * kLn2Hi;
  r = r - k * kLn2Lo;
  return exp_reduced<T>(r) * pow2_of_rounded<T>(t);
#endif
}

// 2^x lane-wise, for the decays exp(Δ·A) = 2^(Δ·A·log2(e)) of the scan kernels (A scaled by
// log2(e) once per channel) and softplus: x = k + r with integral k and |r| <= 1/2 (exact), 2^r by
// a polynomial (exp2_reduced), times 2^k. Accuracy as exp; +inf on overflow, NaN propagates. With
// AVX-512DQ it is 9 instructions per vector: vrndscale / vreduce split x, vscalef multiplies by 2^k
// (IEEE gradual underflow, as libm). Elsewhere 2^k is built in the exponent field (about 0 below
// 2^-126, as exp), from one clamp, the rounding by kRound and no selects. kManyPerStep: see
// exp2_reduced.
template <typename T, bool kManyPerStep = false>
inline Vec<T> exp2(Vec<T> x) {
#if VMAMBA_ZOO_ISA_AVX512
  if constexpr (sizeof(T) == 4) {
    constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    const __m512 xv = (__m512)x;
    // (all-lanes masked forms, as in scale_by_pow2_unchecked)
    const Vec<float> k = (Vec<float>)_mm512_mask_roundscale_ps(xv, 0xFFFF, xv, kNearest);
    const Vec<float> r = (Vec<float>)_mm512_mask_reduce_ps(xv, 0xFFFF, xv, kNearest);  // x - k, in [-0.5, 0.5]
    return (Vec<T>)scale_by_pow2_unchecked<float>(exp2_reduced<float>(r), k);
  }
  return exp<T>(x * static_cast<T>(0.6931471805599453));
#else
  using Tr = VecTraits<T>;
  const Vec<T> xc = clamp(x, static_cast<T>(-Tr::kExponentBias), static_cast<T>(Tr::kExponentBias + 1));
  const Vec<T> t = xc + kRound<T>;
  const Vec<T> r = xc - (t - kRound<T>);
  return exp2_reduced<T, kManyPerStep>(r) * pow2_of_rounded<T>(t);
#endif
}

// log(x) for finite x >= 1 (the double softplus; the float one needs no log): x = 2^e * m with
// m in [sqrt(1/2), sqrt(2)), log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172.
template <typename T>
inline Vec<T> log_mantissa(Vec<T> m);

template <>
inline Vec<double> log_mantissa<double>(Vec<double> m) {
  constexpr int kTerms = VecTraits<double>::kLogSeriesTerms;
  const Vec<double> s = (m - 1.0) / (m + 1.0);
  const Vec<double> s2 = s * s;
  Vec<double> series = broadcast(1.0 / (2 * kTerms - 1));
#pragma GCC unroll 16
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

// log1p(t) / t for t in [0, 1] (float): degree-9 polynomial fitted for relative error, 1.6e-7
// for t * poly in float arithmetic (measured on 2e5 points); Horner or Estrin as exp2_reduced.
inline Vec<float> log1p_over_t(Vec<float> t) {
  constexpr float kP[] = {-3.2437527552e-3f, 1.9850237295e-2f, -5.6957237422e-2f, 1.0603422671e-1f,
                          -1.5305456519e-1f, 1.9675892591e-1f, -2.4954123795e-1f, 3.3329960704e-1f,
                          -4.9999901652e-1f, 1.0f};
#if VMAMBA_ZOO_ISA_AVX512
  Vec<float> p = broadcast(kP[0]);
#pragma GCC unroll 10
  for (int i = 1; i < 10; ++i) p = p * t + kP[i];
  return p;
#else
  const Vec<float> t2 = t * t, t4 = t2 * t2;
  const Vec<float> e0 = t * kP[8] + kP[9], e1 = t * kP[6] + kP[7], e2 = t * kP[4] + kP[5];
  const Vec<float> e3 = t * kP[2] + kP[3], e4 = t * kP[0] + kP[1];
  return (e0 + t2 * e1) + t4 * ((e2 + t2 * e3) + t4 * e4);
#endif
}

// softplus with torch's threshold (x > 20 -> x) and, with kGrad, its derivative sigmoid(x)
// (1 above 20). float: max(x, 0) + log1p(t) with t = exp(-|x|) in (0, 1], a polynomial in t
// (no log, no division; the scan kernels call this once per step); double: log(1 + e^x).
template <typename T, bool kGrad>
inline void softplus(Vec<T> x, Vec<T>& value, Vec<T>& grad) {
  constexpr T kThreshold = 20;
  if constexpr (sizeof(T) == 4) {
    // -|x| by setting the sign bit; a NaN x gives a NaN t and so a NaN value
    IVec<T> bits;
    std::memcpy(&bits, &x, sizeof(bits));
    bits |= std::numeric_limits<typename VecTraits<T>::int_t>::min();
    Vec<T> minus_abs;
    std::memcpy(&minus_abs, &bits, sizeof(bits));
    const Vec<T> t = exp2<T>(minus_abs * static_cast<T>(1.4426950408889634));
    // above 20 this is x already: t * log1p_over_t(t) < 2.1e-9 is below half an ulp of x
    value = max(x, static_cast<T>(0)) + t * log1p_over_t(t);
    if constexpr (kGrad) {
      const Vec<T> inv = static_cast<T>(1) / (t + static_cast<T>(1));
      grad = select<T>(x > kThreshold, broadcast<T>(1), select<T>(x < 0, t * inv, inv));
    }
  } else {
    const auto above = x > kThreshold;
    Vec<T> e = exp<T>(min(x, kThreshold));
    Vec<T> u = e + static_cast<T>(1);
    Vec<T> inv_u = static_cast<T>(1) / u;
    // log1p(e) = log(u) corrected by the rounding error of u = 1 + e.
    value = log_ge1<T>(u) - ((u - static_cast<T>(1)) - e) * inv_u;
    if constexpr (kGrad) grad = select<T>(above, broadcast<T>(1), e * inv_u);
    value = select<T>(above, x, value);
    value = select<T>(x != x, x, value);
  }
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

}  // namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA::simd
