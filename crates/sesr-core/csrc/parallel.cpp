// Runs Rust work on libtorch's own intra-op threads (OpenMP here). Starting Rust threads
// instead leaves libtorch's OpenMP workers spinning beside them after every libtorch op, which
// cost about a tenth of the CPU in the fused training step on 2 cores.
#include <ATen/Parallel.h>

#include <cstdint>

extern "C" void sesr_parallel_for(int64_t n, void (*work)(void*, int64_t, int64_t),
                                  void* context) {
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) { work(context, begin, end); });
}
