#include "gateway/main_chores.h"

#include <CppUTest/TestHarness.h>

using portier::gateway::time_to_earliest;
using namespace std::chrono_literals;

namespace {
const std::chrono::steady_clock::time_point kNow{std::chrono::seconds(1000)};
constexpr std::int64_t kWallNow = 1'700'000'000'000;
}  // namespace

TEST_GROUP(main_chores){};

TEST(main_chores, nothing_due_sleeps_the_longest) {
  LONGS_EQUAL(
      60'000,
      time_to_earliest(kNow, kWallNow, {std::nullopt}, {std::nullopt, std::nullopt}, 60s).count());
  LONGS_EQUAL(60'000, time_to_earliest(kNow, kWallNow, {}, {}, 60s).count());
}

TEST(main_chores, the_earliest_deadline_of_either_clock_wins) {
  LONGS_EQUAL(1'500, time_to_earliest(kNow, kWallNow, {kNow + 5s, std::nullopt},
                                      {kWallNow + 1'500, kWallNow + 9'000}, 60s)
                         .count());
  LONGS_EQUAL(
      250,
      time_to_earliest(kNow, kWallNow, {kNow + 5s, kNow + 250ms}, {kWallNow + 1'500}, 60s).count());
}

TEST(main_chores, a_passed_deadline_is_due_now) {
  LONGS_EQUAL(0, time_to_earliest(kNow, kWallNow, {kNow}, {kWallNow + 10}, 60s).count());
  LONGS_EQUAL(0, time_to_earliest(kNow, kWallNow, {kNow - 3s}, {}, 60s).count());
  LONGS_EQUAL(0, time_to_earliest(kNow, kWallNow, {kNow + 1s}, {kWallNow}, 60s).count());
  // The steady epoch: "at once" (unmatched_shapes::next_save before its first write).
  LONGS_EQUAL(
      0,
      time_to_earliest(kNow, kWallNow, {std::chrono::steady_clock::time_point{}}, {}, 60s).count());
  LONGS_EQUAL(0, time_to_earliest(kNow, kWallNow, {}, {0}, 60s).count());
}

TEST(main_chores, far_deadlines_are_capped_and_steady_ones_rounded_up) {
  LONGS_EQUAL(
      60'000,
      time_to_earliest(kNow, kWallNow, {kNow + 3600s}, {kWallNow + 86'400'000}, 60s).count());
  LONGS_EQUAL(60'000, time_to_earliest(kNow, kWallNow, {}, {INT64_MAX}, 60s).count());
  LONGS_EQUAL(2, time_to_earliest(kNow, kWallNow, {kNow + 1001us}, {}, 60s).count());
  LONGS_EQUAL(1, time_to_earliest(kNow, kWallNow, {kNow + 1ns}, {}, 60s).count());
}
