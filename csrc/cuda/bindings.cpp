#include <torch/extension.h>

#include "ops.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "vmamba_zoo CUDA kernels: selective scan (y and all-states variants) and cross-scan gathers";
  m.def("selective_scan_fwd", &vmamba_zoo::selective_scan_fwd, py::arg("u"), py::arg("delta"), py::arg("A"),
        py::arg("B"), py::arg("C"), py::arg("D"), py::arg("delta_bias"), py::arg("softplus"),
        py::arg("store_states"));
  m.def("selective_scan_bwd", &vmamba_zoo::selective_scan_bwd, py::arg("u"), py::arg("delta"), py::arg("A"),
        py::arg("B"), py::arg("C"), py::arg("D"), py::arg("delta_bias"), py::arg("softplus"), py::arg("grad"),
        py::arg("dlast"), py::arg("deterministic"));
  m.def("cross_scan_gather", &vmamba_zoo::cross_scan_gather, py::arg("x"), py::arg("scan_src"),
        py::arg("grouped"));
  m.def("cross_merge_gather", &vmamba_zoo::cross_merge_gather, py::arg("ys"), py::arg("merge_src"),
        py::arg("grouped"));
}
