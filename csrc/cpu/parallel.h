// Task-parallel loop over independent work items with OpenMP, sized by torch's thread setting.
#pragma once

#include <ATen/Parallel.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace vmamba_zoo {

// Below this many elements of work per thread a parallel region costs more than it saves
// (torch's at::internal::GRAIN_SIZE).
constexpr int64_t kGrainSize = 32768;

// The threads parallel_tasks uses for `tasks` tasks of `task_cost` elements each: up to
// torch.get_num_threads(), fewer for small problems, one inside a parallel region.
inline int64_t parallel_threads(int64_t tasks, int64_t task_cost) {
  int64_t threads = at::get_num_threads();
  if (omp_in_parallel() || at::in_parallel_region()) threads = 1;
  return std::max<int64_t>(1, std::min({threads, tasks, (tasks * task_cost + kGrainSize - 1) / kGrainSize}));
}

// Runs fn(task) for task in [0, tasks), each task touching about `task_cost` elements, on
// parallel_threads(tasks, task_cost) threads. Tasks are handed out dynamically (they can differ
// in cost, e.g. the last channel block of a group).
template <typename Fn>
void parallel_tasks(int64_t tasks, int64_t task_cost, const Fn& fn) {
  const int64_t threads = parallel_threads(tasks, task_cost);
  if (threads <= 1) {
    for (int64_t task = 0; task < tasks; ++task) fn(task);
    return;
  }
#pragma omp parallel for num_threads(static_cast<int>(threads)) schedule(dynamic, 1)
  for (int64_t task = 0; task < tasks; ++task) fn(task);
}

}  // namespace vmamba_zoo
