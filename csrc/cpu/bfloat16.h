// bfloat16 loads and stores for the kernels: bfloat16 values are handled as their raw bit
// patterns (uint16_t, the upper half of a float32's), widened to float32 vectors of the path
// (exact) and rounded back to nearest, ties to even (as torch's conversion).
#pragma once

#include "simd.h"

namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA {

namespace bf16 {

using simd::UVec;
using simd::Vec;
constexpr int kLanes = simd::kLanes<float>;
// kLanes bfloat16 bit patterns: half a register
typedef uint16_t HalfVec __attribute__((vector_size(kLanes * sizeof(uint16_t))));

// `lanes` bfloat16 values from src as float32, zero beyond `lanes`
inline Vec<float> load(const uint16_t* src, int lanes) {
  HalfVec h{};
  if (lanes == kLanes)  // a constant size: one vector load, not a call to memcpy
    std::memcpy(&h, src, sizeof(h));
  else
    std::memcpy(&h, src, lanes * sizeof(uint16_t));
  const UVec<float> wide = __builtin_convertvector(h, UVec<float>) << 16;
  Vec<float> v;
  std::memcpy(&v, &wide, sizeof(v));
  return v;
}

// The first `lanes` lanes of v rounded to the nearest bfloat16 (ties to even, as torch's
// conversion); a NaN stays a (quiet) NaN
inline void store(uint16_t* dst, Vec<float> v, int lanes) {
  UVec<float> bits;
  std::memcpy(&bits, &v, sizeof(bits));
  const UVec<float> rounded = (bits + (0x7FFFu + ((bits >> 16) & 1u))) >> 16;
  const UVec<float> nan = (bits >> 16) | 0x40u;
  const UVec<float> is_nan = (UVec<float>)(v != v);
  const UVec<float> out = (is_nan & nan) | (~is_nan & rounded);
  const HalfVec h = __builtin_convertvector(out, HalfVec);
  if (lanes == kLanes)
    std::memcpy(dst, &h, sizeof(h));
  else
    std::memcpy(dst, &h, lanes * sizeof(uint16_t));
}

}  // namespace bf16

}  // namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA
