// Python bindings of the CPU backend (vmamba_zoo._C). Every function checks its arguments
// itself (a ValueError naming the problem), whatever the Python ops checked before.
// pybind11 with torch's Tensor casters only (torch/extension.h would add all of libtorch's C++
// API to the compile)
#include <torch/csrc/utils/pybind.h>

#include "ops.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "vmamba_zoo CPU kernels: selective scan, cross-scan/merge, the fused cross selective scan and state fusion (OpenMP + SIMD)";
  using namespace pybind11::literals;
  m.def("selective_scan_fwd", &vmamba_zoo::selective_scan_fwd, "u"_a, "delta"_a, "A"_a, "B"_a, "C"_a, "D"_a,
        "delta_bias"_a, "softplus"_a);
  m.def("selective_scan_bwd", &vmamba_zoo::selective_scan_bwd, "u"_a, "delta"_a, "A"_a, "B"_a, "C"_a, "D"_a,
        "delta_bias"_a, "softplus"_a, "dy"_a, "dlast"_a);
  m.def("selective_scan_states_fwd", &vmamba_zoo::selective_scan_states_fwd, "u"_a, "delta"_a, "A"_a, "B"_a,
        "delta_bias"_a, "softplus"_a);
  m.def("selective_scan_states_bwd", &vmamba_zoo::selective_scan_states_bwd, "u"_a, "delta"_a, "A"_a, "B"_a,
        "delta_bias"_a, "softplus"_a, "dh"_a);
  m.def("cross_scan", &vmamba_zoo::cross_scan, "x"_a, "mode"_a);
  m.def("cross_merge", &vmamba_zoo::cross_merge, "ys"_a, "H"_a, "W"_a, "mode"_a);
  m.def("cross_selective_scan_fwd", &vmamba_zoo::cross_selective_scan_fwd, "x"_a, "x_dbl"_a, "route"_a,
        "dt_weight"_a, "dt_bias"_a, "A"_a, "D"_a, "grouped"_a, "softplus"_a);
  m.def("cross_selective_scan_bwd", &vmamba_zoo::cross_selective_scan_bwd, "x"_a, "x_dbl"_a, "route"_a,
        "dt_weight"_a, "dt_bias"_a, "A"_a, "D"_a, "grouped"_a, "softplus"_a, "dy"_a);
  m.def("state_fusion_fwd", &vmamba_zoo::state_fusion_fwd, "h"_a, "weight"_a, "dilations"_a);
  m.def("state_fusion_bwd", &vmamba_zoo::state_fusion_bwd, "h"_a, "weight"_a, "dilations"_a, "dout"_a);
  m.def("layer_norm_bf16", &vmamba_zoo::layer_norm_bf16, "x"_a, "weight"_a, "bias"_a, "eps"_a,
        "LayerNorm over the last dim (float32 math) with a bfloat16 output, from float32 or bfloat16 x");
  m.def("compiled_cpu_isas", &vmamba_zoo::compiled_cpu_isas,
        "The instruction-set paths compiled into this build, fastest first");
  m.def("supported_cpu_isas", &vmamba_zoo::supported_cpu_isas,
        "The compiled paths this CPU can run, fastest first");
  m.def("active_cpu_isa", &vmamba_zoo::active_cpu_isa,
        "The path the kernels run: the fastest supported one, or VMAMBA_ZOO_CPU_ISA's choice");
  m.def("set_cpu_isa", &vmamba_zoo::set_cpu_isa, "name"_a,
        "Run the kernels on another path ('avx512', 'avx2', 'generic' or 'auto') from now on");
}
