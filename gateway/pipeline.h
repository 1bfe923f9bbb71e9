// The policy step of the daemon: evaluates each message from the local broker with the current
// evaluator and consent, counts the outcome, and hands every release to a sink.
//
// Threading: process() runs only on the ingress callback thread, which alone uses the evaluator.
// install() and set_consent() (any thread) swap under the same mutex that process() holds for a
// whole message, so every message is evaluated entirely by one policy and one consent, and once
// set_consent() returns no message evaluated under the old consent is still being handled
// (withdrawal can then purge the spool without a late release slipping in behind it).
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
  void set_consent(std::shared_ptr<const policies::consent_snapshot> consent);
  std::shared_ptr<const policies::compiled_policy> policy() const;
  std::shared_ptr<const policies::consent_snapshot> consent() const;
  using observer = std::function<void(const policies::decision&)>;

  // Evaluates one message; `out` gets each release, then `seen` (if set) the whole decision.
  void process(std::string_view topic, std::string_view payload, std::int64_t now_ms, const sink& out,
               const observer& seen = {});

  // Of the most recently installed policy.
  std::vector<std::string> subscriptions() const;
  std::string policy_name() const;
  std::uint64_t policy_version() const;

 private:
  counters& counters_;
  mutable std::mutex mu_;  // held by process() for a whole message
  std::shared_ptr<policies::evaluator> current_;
  std::shared_ptr<const policies::consent_snapshot> consent_;
};

}  // namespace portier::gateway
