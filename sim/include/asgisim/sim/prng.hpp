// The run's pseudo-random generators: SplitMix64 to expand a seed, and
// xoshiro256** (Blackman & Vigna) as the per-stream generator. Both are
// written here so that every platform produces the same numbers.
#pragma once

#include <array>
#include <cstdint>

namespace asgisim::sim {

class SplitMix64 {
 public:
  explicit constexpr SplitMix64(std::uint64_t seed) : state_(seed) {}
  constexpr std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

class Xoshiro256 {
 public:
  // Seeds the four state words from SplitMix64(seed), as the authors advise.
  explicit constexpr Xoshiro256(std::uint64_t seed) : state_{} {
    SplitMix64 expand(seed);
    for (auto& word : state_) word = expand.next();
  }

  constexpr std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, n) without modulo bias (Lemire's multiply-shift with
  // rejection). Precondition: n > 0.
  std::uint64_t below(std::uint64_t n);

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> state_;
};

}  // namespace asgisim::sim
