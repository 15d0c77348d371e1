// Entry points of the CPU selective scans: argument checks, output allocation, and the call
// into the kernels of the active instruction-set path (selective_scan_kernels.h).
#include "checks.h"
#include "kernels.h"
#include "ops.h"

namespace vmamba_zoo {
namespace {

struct ScanSizes {
  int64_t batch, channels, length, groups, state;
};

// Every tensor of a scan call against u's (batch, channels, L), A's N and B's groups.
ScanSizes check_scan(const char* op, const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                     const at::Tensor& B, const at::Tensor* C, const OptTensor& D, const OptTensor& delta_bias) {
  const auto dtype = cpu::scan_dtype(op, u, "u");
  cpu::check_tensor(op, u, "u", dtype);
  cpu::check_tensor(op, delta, "delta", dtype);
  cpu::check_tensor(op, A, "A", dtype);
  cpu::check_tensor(op, B, "B", dtype);
  if (C) cpu::check_tensor(op, *C, "C", dtype);
  cpu::check_tensor(op, D, "D", dtype);
  cpu::check_tensor(op, delta_bias, "delta_bias", dtype);
  TORCH_CHECK_VALUE(u.dim() == 3 && u.size(1) >= 1 && u.size(2) >= 1, op,
                    ": u must be (batch, channels, L) with channels, L >= 1, got ", u.sizes());
  const int64_t batch = u.size(0), channels = u.size(1), length = u.size(2);
  cpu::check_shape(op, delta, "delta", u.sizes(), "(batch, channels, L)");
  TORCH_CHECK_VALUE(A.dim() == 2 && A.size(0) == channels && A.size(1) >= 1, op, ": A must be (channels=", channels,
                    ", N >= 1), got ", A.sizes());
  const int64_t state = A.size(1);
  TORCH_CHECK_VALUE(B.dim() == 4, op, ": B must be (batch, groups, N, L), got ", B.sizes());
  const int64_t groups = B.size(1);
  TORCH_CHECK_VALUE(groups >= 1 && channels % groups == 0, op, ": B has ", groups,
                    " groups, which must divide the ", channels, " channels of u");
  cpu::check_shape(op, B, "B", {batch, groups, state, length}, "(batch, groups, N, L)");
  if (C) cpu::check_shape(op, *C, "C", {batch, groups, state, length}, "(batch, groups, N, L)");
  cpu::check_shape(op, D, "D", {channels}, "(channels,)");
  cpu::check_shape(op, delta_bias, "delta_bias", {channels}, "(channels,)");
  return {batch, channels, length, groups, state};
}

template <typename T>
cpu::ScanArgs<T> make_args(const cpu::Kernels<T>& kernels, const ScanSizes& s, const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                           const at::Tensor& B, const at::Tensor* C, const OptTensor& D, const OptTensor& bias,
                           bool softplus) {
  cpu::ScanArgs<T> p;
  p.u = u.data_ptr<T>();
  p.delta = delta.data_ptr<T>();
  p.A = A.data_ptr<T>();
  p.B = B.data_ptr<T>();
  p.C = C ? C->data_ptr<T>() : nullptr;
  p.D = D ? D->data_ptr<T>() : nullptr;
  p.bias = bias ? bias->data_ptr<T>() : nullptr;
  p.softplus = softplus;
  p.batch = s.batch;
  p.channels = s.channels;
  p.length = s.length;
  p.groups = s.groups;
  p.group_channels = s.channels / s.groups;
  p.state = s.state;
  p.lanes = kernels.lanes;
  return p;
}

// Sum the per-block partials of dB / dC over the channel blocks of each group.
at::Tensor reduce_blocks(const at::Tensor& partial) {
  return partial.size(2) == 1 ? partial.squeeze(2) : partial.sum(2);
}

}  // namespace

std::vector<at::Tensor> selective_scan_fwd(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                           const at::Tensor& B, const at::Tensor& C, const OptTensor& D,
                                           const OptTensor& delta_bias, bool softplus) {
  const auto s = check_scan("selective_scan_fwd", u, delta, A, B, &C, D, delta_bias);
  at::Tensor y = at::empty(u.sizes(), u.options());
  at::Tensor last = at::empty({s.batch, s.channels, s.state}, u.options());
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "vmamba_zoo_selective_scan_fwd", [&] {
    const auto& kernels = cpu::kernels().get<scalar_t>();
    const auto p = make_args<scalar_t>(kernels, s, u, delta, A, B, &C, D, delta_bias, softplus);
    kernels.scan_fwd(p, y.data_ptr<scalar_t>(), last.data_ptr<scalar_t>());
  });
  return {y, last};
}

std::vector<OptTensor> selective_scan_bwd(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                          const at::Tensor& B, const at::Tensor& C, const OptTensor& D,
                                          const OptTensor& delta_bias, bool softplus, const at::Tensor& dy,
                                          const OptTensor& dlast) {
  const char* op = "selective_scan_bwd";
  const auto s = check_scan(op, u, delta, A, B, &C, D, delta_bias);
  cpu::check_tensor(op, dy, "dy", u.scalar_type());
  cpu::check_shape(op, dy, "dy", u.sizes(), "(batch, channels, L)");
  cpu::check_tensor(op, dlast, "dlast", u.scalar_type());
  cpu::check_shape(op, dlast, "dlast", {s.batch, s.channels, s.state}, "(batch, channels, N)");
  const auto options = u.options();
  at::Tensor du = at::empty(u.sizes(), options), ddelta = at::empty(u.sizes(), options);
  at::Tensor dA = at::empty({s.batch, s.channels, s.state}, options);
  at::Tensor dD = D ? at::empty({s.batch, s.channels}, options) : at::Tensor();
  at::Tensor dbias = delta_bias ? at::empty({s.batch, s.channels}, options) : at::Tensor();
  at::Tensor dB, dC;  // per channel block (of the path's width) until reduced
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "vmamba_zoo_selective_scan_bwd", [&] {
    const auto& kernels = cpu::kernels().get<scalar_t>();
    const auto p = make_args<scalar_t>(kernels, s, u, delta, A, B, &C, D, delta_bias, softplus);
    dB = at::empty({s.batch, s.groups, p.blocks_per_group(), s.state, s.length}, options);
    dC = at::empty_like(dB);
    const cpu::ScanGrads<scalar_t> out{du.data_ptr<scalar_t>(), ddelta.data_ptr<scalar_t>(),
                                       dA.data_ptr<scalar_t>(), dB.data_ptr<scalar_t>(), dC.data_ptr<scalar_t>(),
                                       D ? dD.data_ptr<scalar_t>() : nullptr,
                                       delta_bias ? dbias.data_ptr<scalar_t>() : nullptr};
    kernels.scan_bwd(p, dy.data_ptr<scalar_t>(),
                                            dlast ? dlast->data_ptr<scalar_t>() : nullptr, out);
  });
  return {du, ddelta, dA.sum(0), reduce_blocks(dB), reduce_blocks(dC),
          D ? OptTensor(dD.sum(0)) : OptTensor(), delta_bias ? OptTensor(dbias.sum(0)) : OptTensor()};
}

at::Tensor selective_scan_states_fwd(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                     const at::Tensor& B, const OptTensor& delta_bias, bool softplus) {
  const auto s = check_scan("selective_scan_states_fwd", u, delta, A, B, nullptr, OptTensor(), delta_bias);
  at::Tensor states = at::empty({s.batch, s.channels, s.state, s.length}, u.options());
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "vmamba_zoo_selective_scan_states_fwd", [&] {
    const auto& kernels = cpu::kernels().get<scalar_t>();
    const auto p = make_args<scalar_t>(kernels, s, u, delta, A, B, nullptr, OptTensor(), delta_bias, softplus);
    kernels.scan_states_fwd(p, states.data_ptr<scalar_t>());
  });
  return states;
}

std::vector<OptTensor> selective_scan_states_bwd(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                                 const at::Tensor& B, const OptTensor& delta_bias, bool softplus,
                                                 const at::Tensor& dh) {
  const char* op = "selective_scan_states_bwd";
  const auto s = check_scan(op, u, delta, A, B, nullptr, OptTensor(), delta_bias);
  cpu::check_tensor(op, dh, "dh", u.scalar_type());
  cpu::check_shape(op, dh, "dh", {s.batch, s.channels, s.state, s.length}, "(batch, channels, N, L)");
  const auto options = u.options();
  at::Tensor du = at::empty(u.sizes(), options), ddelta = at::empty(u.sizes(), options);
  at::Tensor dA = at::empty({s.batch, s.channels, s.state}, options);
  at::Tensor dbias = delta_bias ? at::empty({s.batch, s.channels}, options) : at::Tensor();
  at::Tensor dB;
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "vmamba_zoo_selective_scan_states_bwd", [&] {
    const auto& kernels = cpu::kernels().get<scalar_t>();
    const auto p = make_args<scalar_t>(kernels, s, u, delta, A, B, nullptr, OptTensor(), delta_bias, softplus);
    dB = at::empty({s.batch, s.groups, p.blocks_per_group(), s.state, s.length}, options);
    const cpu::ScanGrads<scalar_t> out{du.data_ptr<scalar_t>(), ddelta.data_ptr<scalar_t>(),
                                       dA.data_ptr<scalar_t>(), dB.data_ptr<scalar_t>(), nullptr, nullptr,
                                       delta_bias ? dbias.data_ptr<scalar_t>() : nullptr};
    kernels.scan_states_bwd(p, dh.data_ptr<scalar_t>(), out);
  });
  return {du, ddelta, dA.sum(0), reduce_blocks(dB), delta_bias ? OptTensor(dbias.sum(0)) : OptTensor()};
}

}  // namespace vmamba_zoo
