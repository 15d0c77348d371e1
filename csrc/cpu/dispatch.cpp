// Which instruction-set path the kernels run: the fastest one this build has and the running CPU
// supports, unless VMAMBA_ZOO_CPU_ISA names another (read once, at the first kernel call or
// query; set_cpu_isa changes it later, e.g. for tests).
#include "kernels.h"
#include "ops.h"

#include <c10/util/Exception.h>

#include <atomic>
#include <cstdlib>
#include <sstream>

namespace vmamba_zoo {
namespace {

constexpr const char* kEnvVar = "VMAMBA_ZOO_CPU_ISA";

struct Path {
  const char* name;
  const cpu::KernelTable* table;
  bool (*cpu_supports)();
};

// Fastest first.
const std::vector<Path>& compiled_paths() {
  static const std::vector<Path> paths{
#if VMAMBA_ZOO_X86_PATHS
      // __builtin_cpu_supports also checks that the OS saves the vector registers (XCR0).
      {"avx512", &cpu::avx512::table,
       [] {
         return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
       }},
      {"avx2", &cpu::avx2::table, [] { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }},
#endif
      {"generic", &cpu::generic::table, [] { return true; }},
  };
  return paths;
}

std::string join(const std::vector<std::string>& names) {
  std::ostringstream out;
  for (size_t i = 0; i < names.size(); ++i) out << (i ? ", " : "") << names[i];
  return out.str();
}

// Index into compiled_paths() of `name`, checked; `source` says where the name came from.
size_t find_path(const std::string& name, const std::string& source) {
  const auto& paths = compiled_paths();
  for (size_t i = 0; i < paths.size(); ++i) {
    if (name != paths[i].name) continue;
    TORCH_CHECK_VALUE(paths[i].cpu_supports(), source, ": this CPU does not support the ", name,
                      " path; it supports: ", join(supported_cpu_isas()));
    return i;
  }
  const bool known = name == "avx512" || name == "avx2" || name == "generic";
  TORCH_CHECK_VALUE(!known, source, ": this build has no ", name, " path (only x86-64 builds with GCC have avx2 ",
                    "and avx512); it has: ", join(compiled_cpu_isas()));
  TORCH_CHECK_VALUE(false, source, ": unknown CPU path '", name, "'; choose one of avx512, avx2, generic (or auto)");
  return 0;
}

size_t best_path() {
  const auto& paths = compiled_paths();
  for (size_t i = 0; i < paths.size(); ++i)
    if (paths[i].cpu_supports()) return i;
  return paths.size() - 1;
}

constexpr int kUnresolved = -1;
std::atomic<int> active_path{kUnresolved};

size_t active_index() {
  int index = active_path.load(std::memory_order_acquire);
  if (index == kUnresolved) {
    // An invalid value raises here, at every call, until it is fixed or set_cpu_isa is used.
    const char* value = std::getenv(kEnvVar);
    const std::string name = value ? value : "";
    index = static_cast<int>(name.empty() || name == "auto"
                                 ? best_path()
                                 : find_path(name, std::string(kEnvVar) + "=" + name));
    active_path.store(index, std::memory_order_release);
  }
  return static_cast<size_t>(index);
}

}  // namespace

namespace cpu {
const KernelTable& kernels() { return *compiled_paths()[active_index()].table; }
}  // namespace cpu

std::vector<std::string> compiled_cpu_isas() {
  std::vector<std::string> names;
  for (const auto& path : compiled_paths()) names.emplace_back(path.name);
  return names;
}

std::vector<std::string> supported_cpu_isas() {
  std::vector<std::string> names;
  for (const auto& path : compiled_paths())
    if (path.cpu_supports()) names.emplace_back(path.name);
  return names;
}

std::string active_cpu_isa() { return compiled_paths()[active_index()].name; }

void set_cpu_isa(const std::string& name) {
  const size_t index = name == "auto" ? best_path() : find_path(name, "set_cpu_isa('" + name + "')");
  active_path.store(static_cast<int>(index), std::memory_order_release);
}

}  // namespace vmamba_zoo
