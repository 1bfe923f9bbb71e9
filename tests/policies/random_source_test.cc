// uniform_below: in range, without modulo bias, and it refuses rather than loops when the source
// is broken or failing.
#include "policies/random_source.h"

#include <array>
#include <cmath>
#include <cstdint>

#include "test_random.h"

#include <CppUTest/TestHarness.h>

using namespace portier::policies;
using portier::policies::test::constant_source;
using portier::policies::test::failing_source;
using portier::policies::test::seeded_drbg;

TEST_GROUP(uniform_below){};

TEST(uniform_below, every_value_below_n_about_equally_often) {
  auto drbg = seeded_drbg("uniform_below");
  drbg_source rng(*drbg);
  constexpr long kDraws = 60'000;
  std::array<long, 6> counts{};
  for (long i = 0; i < kDraws; ++i) {
    std::uint64_t v = 99;
    CHECK_TRUE(uniform_below(rng, counts.size(), v));
    CHECK_TRUE(v < counts.size());
    ++counts[v];
  }
  // Each count is binomial(60,000, 1/6): within 4 standard deviations (one seed in 16,000 would
  // fail a correct implementation; this one is fixed).
  const double sd = std::sqrt(kDraws * (1.0 / 6) * (5.0 / 6));
  for (long c : counts) DOUBLES_EQUAL(kDraws / 6.0, c, 4 * sd);
}

// n = 2/3 of 2^64, where modulo bias is worst: u % n would put the values below n/2 (= 2^64/3)
// twice as often as the others, 2/3 of the draws instead of 1/2. A third of all words is rejected.
TEST(uniform_below, no_modulo_bias_at_two_thirds_of_2_to_the_64) {
  auto drbg = seeded_drbg("uniform_below large");
  drbg_source rng(*drbg);
  const std::uint64_t n = 0xAAAA'AAAA'AAAA'AAABu;
  long lower_half = 0;
  for (int i = 0; i < 1000; ++i) {
    std::uint64_t v = 0;
    CHECK_TRUE(uniform_below(rng, n, v));
    CHECK_TRUE(v < n);
    lower_half += v < n / 2;
  }
  // Binomial(1000, 1/2): 500 ± 4.4 standard deviations; a biased 667 is far outside.
  CHECK_TRUE(lower_half > 430 && lower_half < 570);
}

TEST(uniform_below, one_value_and_no_value) {
  auto drbg = seeded_drbg("uniform_below edges");
  drbg_source rng(*drbg);
  std::uint64_t v = 99;
  CHECK_TRUE(uniform_below(rng, 1, v));
  LONGS_EQUAL(0, v);
  v = 99;
  CHECK_FALSE(uniform_below(rng, 0, v));
  LONGS_EQUAL(99, v);
}

TEST(uniform_below, refuses_a_failing_or_stuck_source) {
  std::uint64_t v = 99;
  failing_source failing;
  CHECK_FALSE(uniform_below(failing, 10, v));
  // Every word is 0, below 2^64 mod 3 = 1: always rejected, so refused after 64 words.
  constant_source zeros(0);
  CHECK_FALSE(uniform_below(zeros, 3, v));
  LONGS_EQUAL(99, v);
}
