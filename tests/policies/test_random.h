// Random sources for the sampling tests: a seeded CTR-DRBG (deterministic, so every statistical
// test gives the same verdict on every run), and wrappers that count or fail.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "platform/ctr_drbg.h"
#include "policies/random_source.h"

namespace portier::policies::test {

inline std::unique_ptr<platform::ctr_drbg> seeded_drbg(const std::string& seed) {
  return platform::ctr_drbg::deterministic(
      {reinterpret_cast<const std::uint8_t*>(seed.data()), seed.size()});
}

// Passes fills through and counts them.
class counting_source final : public random_source {
 public:
  explicit counting_source(random_source& inner) : inner_(inner) {}
  bool fill(std::span<std::uint8_t> out) override {
    ++fills;
    bytes += out.size();
    return inner_.fill(out);
  }
  std::size_t fills = 0;
  std::size_t bytes = 0;

 private:
  random_source& inner_;
};

class failing_source final : public random_source {
 public:
  bool fill(std::span<std::uint8_t>) override { return false; }
};

// Every byte is `value`: a broken generator.
class constant_source final : public random_source {
 public:
  explicit constant_source(std::uint8_t value) : value_(value) {}
  bool fill(std::span<std::uint8_t> out) override {
    for (auto& b : out) b = value_;
    return true;
  }

 private:
  std::uint8_t value_;
};

}  // namespace portier::policies::test
