// The bounded queue between the policy (ingress thread) and upstream (publisher thread).
//
// Its bound counts what is queued *and* what is in flight (published, PUBACK not yet seen), so
// memory stays bounded whatever upstream does. When full, push() blocks: the ingress callback
// stops, Paho stops reading from the local broker, and the broker holds further messages
// (backpressure) — nothing is dropped for lack of room. Releases leave only when acknowledged;
// after a lost connection, everything in flight goes back to the front, in order, to be resent.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace portier::gateway {

struct outbound {
  std::uint64_t seq = 0;  // assigned by the queue
  std::string purpose;
  std::string topic;
  std::string payload;
  std::int64_t expires_at_ms = 0;
  bool resend = false;  // set when it comes back after a lost connection

  std::size_t bytes() const { return topic.size() + payload.size(); }
};

class release_queue {
 public:
  using clock = std::chrono::steady_clock;

  release_queue(std::size_t max_messages, std::size_t max_bytes);

  // Blocks while full. False if the deadline passed or the queue was closed (nothing queued).
  bool push(outbound item, clock::time_point deadline);
  // The next release to publish, moved to in-flight; nullopt at the deadline or when closed.
  std::optional<outbound> pop(clock::time_point deadline, std::size_t max_inflight);
  // Upstream acknowledged `seq`: it leaves the queue for good.
  void acknowledge(std::uint64_t seq);
  // Connection lost: every in-flight release goes back to the front, in order.
  void requeue_inflight();
  // Drop a popped release that will not be sent (expired): frees its room.
  void discard(std::uint64_t seq) { acknowledge(seq); }
  // Wakes everything; push() and pop() return at once from now on.
  void close();
  // Blocks until nothing is queued or in flight, or the deadline passes. True if empty.
  bool wait_empty(clock::time_point deadline);
  // Wakes pop() waiters, e.g. when the connection state changed.
  void notify();

  std::size_t queued() const;
  std::size_t inflight() const;
  std::size_t bytes() const;

 private:
  bool full() const { return count_ >= max_messages_ || bytes_ >= max_bytes_; }

  const std::size_t max_messages_;
  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<outbound> queue_;
  std::map<std::uint64_t, outbound> inflight_;
  std::size_t count_ = 0;  // queued + in flight
  std::size_t bytes_ = 0;
  std::uint64_t next_seq_ = 1;
  bool closed_ = false;
};

}  // namespace portier::gateway
