// The policy step of the daemon: evaluates each message from the local broker with the current
// evaluator and consent, counts the outcome, and hands every release to a sink.
//
// Threading: process() runs only on the ingress callback thread, which alone owns the evaluator
// in use. install() (any thread) leaves a new evaluator and consent to be picked up before the
// next message, so every message is evaluated entirely by one policy, old or new.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/counters.h"
#include "policies/consent_snapshot.h"
#include "policies/evaluator.h"

namespace portier::gateway {

class pipeline {
 public:
  using sink = std::function<void(const policies::release&, const policies::compiled_purpose&,
                                  const policies::decision&)>;

  explicit pipeline(counters& c) : counters_(c) {}

  void install(std::shared_ptr<policies::evaluator> ev, std::shared_ptr<const policies::consent_snapshot> consent);
  void process(std::string_view topic, std::string_view payload, std::int64_t now_ms, const sink& out);

  // Of the most recently installed policy.
  std::vector<std::string> subscriptions() const;
  std::string policy_name() const;
  std::uint64_t policy_version() const;

 private:
  counters& counters_;
  mutable std::mutex mu_;
  std::shared_ptr<policies::evaluator> latest_;
  std::shared_ptr<const policies::consent_snapshot> latest_consent_;
  std::atomic<bool> changed_{false};
  // Owned by the ingress thread.
  std::shared_ptr<policies::evaluator> current_;
  std::shared_ptr<const policies::consent_snapshot> consent_;
};

}  // namespace portier::gateway
