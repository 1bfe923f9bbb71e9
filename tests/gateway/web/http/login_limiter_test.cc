#include "gateway/web/http/login_limiter.h"

#include <string>

#include <CppUTest/TestHarness.h>

namespace web = portier::gateway::web;

TEST_GROUP(LoginLimiter){};

TEST(LoginLimiter, FreeAttemptsThenDoublingWaitsUpToTheCeiling) {
  web::login_limits limits;
  limits.max_delay_ms = 8000;
  web::login_limiter l(limits);
  std::int64_t now = 1000;
  for (int i = 0; i < 5; ++i) {
    CHECK_EQUAL(0, l.wait_ms("a", now));
    l.failed("a", now);
  }
  const std::int64_t expected[] = {1000, 2000, 4000, 8000, 8000};
  for (std::int64_t wait : expected) {
    CHECK_EQUAL(wait, l.wait_ms("a", now));
    now += wait;
    CHECK_EQUAL(0, l.wait_ms("a", now));
    l.failed("a", now);
  }
  l.succeeded("a");
  CHECK_EQUAL(0, l.wait_ms("a", now));
}

TEST(LoginLimiter, AllClientsTogetherAreHeldToo) {
  web::login_limits limits;
  limits.global_free_failures = 3;
  web::login_limiter l(limits);
  for (int i = 0; i < 3; ++i) l.failed("client" + std::to_string(i), 0);
  CHECK_EQUAL(1000, l.wait_ms("someone-new", 0));
}

TEST(LoginLimiter, CountsAreForgottenAfterAQuietHourAndTheTableIsBounded) {
  web::login_limits limits;
  limits.max_clients = 2;
  limits.global_free_failures = 1000;
  web::login_limiter l(limits);
  for (int i = 0; i < 6; ++i) l.failed("a", 0);
  CHECK_TRUE(l.wait_ms("a", 0) > 0);
  CHECK_EQUAL(0, l.wait_ms("a", limits.forget_after_ms));
  l.failed("b", 1);
  l.failed("c", 2);  // the table is full: "a", quiet the longest, goes
  CHECK_EQUAL(0, l.wait_ms("a", 3));
}
