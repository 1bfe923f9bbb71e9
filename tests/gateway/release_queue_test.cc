#include "gateway/release_queue.h"

#include <thread>

#include <CppUTest/TestHarness.h>

using namespace portier::gateway;
using clock_type = release_queue::clock;

namespace {
outbound make(const std::string& payload) {
  outbound o;
  o.purpose = "analytics";
  o.topic = "t";
  o.payload = payload;
  return o;
}
clock_type::time_point soon() { return clock_type::now() + std::chrono::milliseconds(20); }
clock_type::time_point later() { return clock_type::now() + std::chrono::seconds(5); }
}  // namespace

TEST_GROUP(release_queue){};

TEST(release_queue, delivers_in_order_and_leaves_only_on_acknowledgement) {
  release_queue q(10, 1 << 20);
  CHECK(q.push(make("a"), soon()));
  CHECK(q.push(make("b"), soon()));
  auto a = q.pop(soon(), 10);
  auto b = q.pop(soon(), 10);
  STRCMP_EQUAL("a", a->payload.c_str());
  STRCMP_EQUAL("b", b->payload.c_str());
  LONGS_EQUAL(2, q.inflight());
  q.acknowledge(a->seq);
  LONGS_EQUAL(1, q.inflight());
  CHECK_FALSE(q.wait_empty(soon()));
  q.acknowledge(b->seq);
  CHECK(q.wait_empty(soon()));
}

TEST(release_queue, full_queue_blocks_push_until_an_acknowledgement_frees_room) {
  release_queue q(2, 1 << 20);
  CHECK(q.push(make("a"), soon()));
  CHECK(q.push(make("b"), soon()));
  auto a = q.pop(soon(), 10);  // in flight still counts against the bound
  CHECK_FALSE(q.push(make("c"), soon()));
  std::thread acker([&] { q.acknowledge(a->seq); });
  CHECK(q.push(make("c"), later()));
  acker.join();
  LONGS_EQUAL(2, q.queued());
}

TEST(release_queue, byte_bound_also_blocks) {
  release_queue q(100, 10);
  CHECK(q.push(make("0123456789"), soon()));  // topic "t" + 10 bytes: over the bound once queued
  CHECK_FALSE(q.push(make("x"), soon()));
}

TEST(release_queue, a_single_release_larger_than_the_byte_bound_is_admitted_into_an_empty_queue) {
  release_queue q(100, 4);
  CHECK(q.push(make("larger than four"), soon()));
}

TEST(release_queue, pop_respects_the_inflight_window) {
  release_queue q(10, 1 << 20);
  q.push(make("a"), soon());
  q.push(make("b"), soon());
  CHECK(q.pop(soon(), 1).has_value());
  CHECK_FALSE(q.pop(soon(), 1).has_value());
}

TEST(release_queue, lost_connection_puts_inflight_back_in_front_in_order_marked_as_resend) {
  release_queue q(10, 1 << 20);
  for (auto p : {"a", "b", "c"}) q.push(make(p), soon());
  auto a = q.pop(soon(), 10);
  auto b = q.pop(soon(), 10);
  q.requeue_inflight();
  LONGS_EQUAL(0, q.inflight());
  LONGS_EQUAL(3, q.queued());
  auto again_a = q.pop(soon(), 10);
  auto again_b = q.pop(soon(), 10);
  auto c = q.pop(soon(), 10);
  STRCMP_EQUAL("a", again_a->payload.c_str());
  CHECK(again_a->resend);
  STRCMP_EQUAL("b", again_b->payload.c_str());
  STRCMP_EQUAL("c", c->payload.c_str());
  CHECK_FALSE(c->resend);
  LONGS_EQUAL(a->seq, again_a->seq);
  LONGS_EQUAL(b->seq, again_b->seq);
}

TEST(release_queue, late_acknowledgement_of_a_requeued_release_removes_it_instead_of_resending) {
  release_queue q(10, 1 << 20);
  q.push(make("a"), soon());
  auto a = q.pop(soon(), 10);
  q.requeue_inflight();
  q.acknowledge(a->seq);
  CHECK(q.wait_empty(soon()));
}

TEST(release_queue, close_wakes_a_blocked_push_and_pop) {
  release_queue q(1, 1 << 20);
  q.push(make("a"), soon());
  std::thread closer([&] { q.close(); });
  CHECK_FALSE(q.push(make("b"), later()));
  closer.join();
  CHECK_FALSE(q.pop(later(), 10).has_value());
}
