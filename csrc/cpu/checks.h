// Argument checks of the entry points. The kernels index raw pointers, so every tensor they
// read or write is checked here first (device, dtype, layout, shape), whatever the Python side
// checked: the extension's functions are public too.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>

namespace vmamba_zoo::cpu {

// A defined, contiguous CPU tensor of `dtype`.
inline void check_tensor(const char* op, const at::Tensor& t, const char* name, at::ScalarType dtype) {
  TORCH_CHECK_VALUE(t.defined(), op, ": ", name, " is an undefined tensor");
  TORCH_CHECK_VALUE(t.device().is_cpu(), op, ": ", name, " must be a CPU tensor, got one on ", t.device());
  TORCH_CHECK_VALUE(t.scalar_type() == dtype, op, ": ", name, " must be ", dtype, " like the first input, got ",
                    t.scalar_type());
  TORCH_CHECK_VALUE(t.is_contiguous(), op, ": ", name, " must be contiguous");
}

inline void check_tensor(const char* op, const std::optional<at::Tensor>& t, const char* name,
                         at::ScalarType dtype) {
  if (t) check_tensor(op, *t, name, dtype);
}

// `t` has exactly the sizes `expected`; `layout` names the dims, e.g. "(batch, channels, L)".
inline void check_shape(const char* op, const at::Tensor& t, const char* name, at::IntArrayRef expected,
                        const char* layout) {
  TORCH_CHECK_VALUE(t.sizes() == expected, op, ": ", name, " must be ", layout, " = ", expected, ", got ",
                    t.sizes());
}

inline void check_shape(const char* op, const std::optional<at::Tensor>& t, const char* name,
                        at::IntArrayRef expected, const char* layout) {
  if (t) check_shape(op, *t, name, expected, layout);
}

// float32 or float64: the dtypes the scan kernels are compiled for.
inline at::ScalarType scan_dtype(const char* op, const at::Tensor& first, const char* name) {
  TORCH_CHECK_VALUE(first.defined(), op, ": ", name, " is an undefined tensor");
  const auto dtype = first.scalar_type();
  TORCH_CHECK_VALUE(dtype == at::kFloat || dtype == at::kDouble, op, ": ", name,
                    " must be float32 or float64, got ", dtype);
  return dtype;
}

}  // namespace vmamba_zoo::cpu
