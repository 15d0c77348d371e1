// The fused CPU cross selective scan (cross_selective_scan_kernels.h) with bfloat16 input and
// output: x and y in bfloat16; x_dbl (the projections, a fraction of x's size, read by every
// channel block of an image: widened once, by the caller), the parameters, the states and every
// sum in float32.
// Entry point: cross_selective_scan.cpp (x of dtype bfloat16).
//
// Each task scans its channels with the float32 kernel's scan_direction, converting each
// bfloat16 of x it reads to float32 (exact), and adds the K directions' outputs into a float32
// buffer of its own (pixels x its channels: a task's channels of every pixel, in L2). Only when
// all of its directions are done does it round the sums to bfloat16 and write them into y, so
// the output is rounded once, as a float32 scan of the same inputs would be, and y needs no
// zeroing first.
#pragma once

#include "bfloat16.h"
#include "cross_selective_scan_kernels.h"

namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA {

template <int kState, int kVecs>
void run_task_bf16(const CrossScanBf16Args& q, int64_t task, simd::VecArray<float>& acc,
                   simd::VecArray<float>& dt_w) {
  const CrossScanArgs<float>& p = q.params;
  constexpr int W = simd::kLanes<float>;
  const int64_t nblk = p.blocks();
  const int64_t blk = task % nblk;
  const int64_t rest = task / nblk;
  const int64_t b = p.grouped ? rest / p.K : rest;
  const int64_t k_begin = p.grouped ? rest % p.K : 0;
  const int lanes = static_cast<int>(std::min<int64_t>(p.lanes, p.dir_channels - blk * p.lanes));
  const int64_t cd = blk * p.lanes;  // channel within the direction's Dk
  // the task's channels of the map: the same for all its directions (grouped: it has one)
  const int64_t cx = (p.grouped ? k_begin * p.dir_channels : 0) + cd;
  for (int64_t i = 0; i < p.pixels * kVecs; ++i) acc[i] = Vec<float>{};
  const uint16_t* x_img = q.x + b * p.pixels * p.channels + cx;
  Vec<float>* sums = acc.data();
  for (int64_t k = k_begin; k < k_begin + p.directions_per_task(); ++k)
    scan_direction<float, kState, kVecs>(
        p, b, k, k * p.dir_channels + cd, lanes, dt_w.data(),
        [&](int64_t pix, int j, int vl) { return bf16::load(x_img + pix * p.channels + j * W, vl); },
        [&](int64_t pix, int j, const Vec<float>& out, int) { sums[pix * kVecs + j] += out; });
  uint16_t* y_img = q.y + b * p.pixels * p.channels + cx;
  for (int64_t pix = 0; pix < p.pixels; ++pix)
    for (int j = 0; j < kVecs; ++j) {
      const int vl = std::clamp(lanes - j * W, 0, W);
      if (vl > 0) bf16::store(y_img + pix * p.channels + j * W, acc[pix * kVecs + j], vl);
    }
}

template <int kVecs>
void run_tasks_bf16(const CrossScanBf16Args& args) {
  CrossScanBf16Args q = args;
  q.params.lanes = kVecs * simd::kLanes<float>;
  const CrossScanArgs<float>& p = q.params;
  const int64_t threads = parallel_threads(p.tasks(), p.task_cost());
  auto run = [&](int64_t task, simd::VecArray<float>& acc, simd::VecArray<float>& dt_w) {
    if (p.state == 1)
      run_task_bf16<1, kVecs>(q, task, acc, dt_w);
    else if (p.state == 16)
      run_task_bf16<16, kVecs>(q, task, acc, dt_w);
    else
      run_task_bf16<0, kVecs>(q, task, acc, dt_w);
  };
  // one output buffer per thread, reused by its tasks (dynamic schedule, as parallel_tasks)
#pragma omp parallel num_threads(static_cast<int>(threads)) if (threads > 1)
  {
    simd::VecArray<float> acc(p.pixels * kVecs), dt_w(p.rank * kVecs);
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < p.tasks(); ++task) run(task, acc, dt_w);
  }
}

// One or two vectors per task, by the float32 kernel's rule (cross_selective_scan_fwd there).
inline void cross_selective_scan_fwd_bf16(const CrossScanBf16Args& q) {
  CrossScanArgs<float> one = q.params, two = q.params;
  one.lanes = simd::kLanes<float>;
  two.lanes = 2 * simd::kLanes<float>;
  const int64_t threads = parallel_threads(one.tasks(), one.task_cost());
  const int64_t rounds_one = (one.tasks() + threads - 1) / threads;
  const int64_t rounds_two = (two.tasks() + threads - 1) / threads;
  if (3 * rounds_two <= 2 * rounds_one)
    run_tasks_bf16<2>(q);
  else
    run_tasks_bf16<1>(q);
}

}  // namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA
