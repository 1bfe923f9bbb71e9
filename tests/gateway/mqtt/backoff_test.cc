#include "gateway/mqtt/backoff.h"

#include <CppUTest/TestHarness.h>

using portier::gateway::backoff;
using std::chrono::milliseconds;

TEST_GROUP(backoff){};

TEST(backoff, waits_grow_exponentially_within_jitter_bounds_and_cap) {
  backoff b(milliseconds(100), milliseconds(1000), 42);
  const long caps[] = {100, 200, 400, 800, 1000, 1000, 1000};
  for (long cap : caps) {
    const long w = b.next().count();
    CHECK_TRUE(w >= cap / 2);
    CHECK_TRUE(w <= cap);
  }
}

TEST(backoff, reset_starts_again_from_the_initial_wait) {
  backoff b(milliseconds(100), milliseconds(10000), 1);
  for (int i = 0; i < 6; ++i) b.next();
  b.reset();
  CHECK_TRUE(b.next().count() <= 100);
}

TEST(backoff, two_gateways_do_not_wait_the_same) {
  backoff a(milliseconds(1000), milliseconds(60000), 1), b(milliseconds(1000), milliseconds(60000), 2);
  int same = 0;
  for (int i = 0; i < 8; ++i) same += a.next() == b.next();
  CHECK_TRUE(same < 8);
}
