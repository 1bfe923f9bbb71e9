#include "gateway/release_queue.h"

#include <algorithm>

namespace portier::gateway {

release_queue::release_queue(std::size_t max_messages, std::size_t max_bytes)
    : max_messages_(max_messages), max_bytes_(max_bytes) {}

bool release_queue::push(outbound item, clock::time_point deadline) {
  std::unique_lock lock(mu_);
  // An item larger than the whole byte bound would wait forever: admit it into an empty queue.
  if (!changed_.wait_until(lock, deadline, [&] { return closed_ || !full() || count_ == 0; })) return false;
  if (closed_) return false;
  item.seq = next_seq_++;
  bytes_ += item.bytes();
  ++count_;
  queue_.push_back(std::move(item));
  lock.unlock();  // the woken publisher need not wait for this mutex
  changed_.notify_all();
  return true;
}

std::optional<outbound> release_queue::pop(clock::time_point deadline, std::size_t max_inflight) {
  std::unique_lock lock(mu_);
  if (!changed_.wait_until(lock, deadline, [&] { return closed_ || (!queue_.empty() && inflight_.size() < max_inflight); })) {
    return std::nullopt;
  }
  if (closed_) return std::nullopt;
  outbound item = std::move(queue_.front());
  queue_.pop_front();
  inflight_.emplace(item.seq, item);
  return item;
}

void release_queue::acknowledge(std::uint64_t seq) {
  std::unique_lock lock(mu_);
  const bool was_full = full();
  auto it = inflight_.find(seq);
  if (it != inflight_.end()) {
    bytes_ -= it->second.bytes();
    --count_;
    inflight_.erase(it);
  } else {
    // A late acknowledgement for something already put back after a lost connection: it was
    // delivered, so do not send it again.
    for (auto q = queue_.begin(); q != queue_.end(); ++q) {
      if (q->seq == seq) {
        bytes_ -= q->bytes();
        --count_;
        queue_.erase(q);
        break;
      }
    }
  }
  // Wake only whoever can now proceed: push() waiting for room (the queue was full) or pop()
  // waiting for an in-flight slot (something is queued). In the common case — nothing queued,
  // the publisher asleep in pop() until the next push — waking it would only cost a context
  // switch per message. wait_empty() does not rely on this notification (it polls).
  const bool wake = was_full || !queue_.empty();
  lock.unlock();
  if (wake) changed_.notify_all();
}

void release_queue::requeue_inflight() {
  std::lock_guard lock(mu_);
  for (auto it = inflight_.rbegin(); it != inflight_.rend(); ++it) {
    it->second.resend = true;
    queue_.push_front(std::move(it->second));
  }
  inflight_.clear();
  changed_.notify_all();
}

void release_queue::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  changed_.notify_all();
}

bool release_queue::wait_empty(clock::time_point deadline) {
  std::unique_lock lock(mu_);
  // acknowledge() does not notify when the last release leaves (see there): check every 10 ms.
  while (count_ != 0) {
    const auto now = clock::now();
    if (now >= deadline) return false;
    changed_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(10)));
  }
  return true;
}

void release_queue::notify() {
  std::lock_guard lock(mu_);
  changed_.notify_all();
}

std::size_t release_queue::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::size_t release_queue::inflight() const {
  std::lock_guard lock(mu_);
  return inflight_.size();
}

std::size_t release_queue::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace portier::gateway
