// The policy step of the daemon: evaluates each message from the local broker with the current
// evaluator and consent, counts the outcome, and hands every release to a sink.
//
// What a message announces (a Home Assistant discovery message: the meaning of a state topic) is
// recorded in the announcement table (set_announcements), whatever the consent, the pause or the
// admission: it releases nothing, and the table is bounded. The evaluator reads the same table.
//
// A purpose that receives a class per window (release::windowed) gets no release per message: the
// decision's samples go to the window sink (the window store), counted as `window_samples`, not
// `released`; the window's release is made later, when it closes (gateway/store/window_store.h).
//
// New device ids pass an admission check (set_admission, e.g. device_registry::admit) before any
// of their releases is handed on: a message of a refused id releases nothing and is counted
// under `device_churn` (the engine's own outcome for it is not counted).
//
// Threading: process() runs only on the ingress callback thread, which alone uses the evaluator.
// install() and set_consent() (any thread) swap under the same mutex that process() holds for a
// whole message, so every message is evaluated entirely by one policy and one consent, and once
// set_consent() returns no message evaluated under the old consent is still being handled
// (withdrawal can then purge the spool without a late release slipping in behind it). Readers
// (policy(), consent(), subscriptions(): the control API and the status) never take that mutex:
// they copy the pointers under a second one held for nothing else, so they never wait behind a
// message in progress.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
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
  // Gets a decision with windowed releases once, with the policy that made it (after `out` had
  // the others). Unset: windowed samples are dropped (nothing leaves; they are not counted).
  using window_sink =
      std::function<void(const policies::compiled_policy&, const policies::decision&)>;

  explicit pipeline(counters& c) : counters_(c) {}

  void install(std::shared_ptr<policies::evaluator> ev, std::shared_ptr<const policies::consent_snapshot> consent);
  void set_consent(std::shared_ptr<const policies::consent_snapshot> consent);
  std::shared_ptr<const policies::compiled_policy> policy() const;
  std::shared_ptr<const policies::consent_snapshot> consent() const;
  // The decision and what was dropped, by reason (the engine's counts, or device_churn alone
  // when the device id was refused).
  using observer =
      std::function<void(const policies::decision&, const policies::drop_counts&, bool admitted)>;
  // Whether a device id may release anything (device id, class id, now). Unset: all may.
  using admission = std::function<bool(std::string_view, std::string_view, std::int64_t)>;
  void set_admission(admission a);
  // Where announcements are read and recorded (not owned; must outlive the pipeline's use).
  // Unset: nothing is ever announced, and classes chosen by announcement take nothing.
  void set_announcements(policies::announcement_table* table);

  // Evaluates one message; `out` gets each release, `windows` the windowed ones, then `seen` (if
  // set) the whole decision.
  void process(std::string_view topic, std::string_view payload, std::int64_t now_ms,
               const sink& out, const observer& seen = {}, const window_sink& windows = {});

  // The installed evaluator, for whoever needs its policy and granted() off the ingress thread
  // (the window store's releases: consent, pause and suspension at release time). granted() only
  // reads the immutable policy, so sharing it this way is safe; evaluate() is the ingress's alone.
  std::shared_ptr<const policies::evaluator> evaluator_for_readers() const;

  // Of the most recently installed policy, with `extra` MQTT filters
  // (compiled_policy::subscriptions).
  std::vector<std::string> subscriptions(std::span<const std::string> extra = {}) const;
  std::string policy_name() const;
  std::uint64_t policy_version() const;

 private:
  counters& counters_;
  mutable std::mutex mu_;  // held by process() for a whole message
  std::shared_ptr<policies::evaluator> current_;
  std::shared_ptr<const policies::consent_snapshot> consent_;
  admission admit_;
  policies::announcement_table* announcements_ = nullptr;
  mutable std::mutex readers_mu_;  // guards the copies below, for readers
  std::shared_ptr<const policies::compiled_policy> policy_for_readers_;
  std::shared_ptr<const policies::evaluator> evaluator_for_readers_;
  std::shared_ptr<const policies::consent_snapshot> consent_for_readers_;
};

}  // namespace portier::gateway
