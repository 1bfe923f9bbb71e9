// Remote policy updates, applied off Paho's thread. Paho delivers update messages (policy bundles
// and key lists on portier/{gateway}/policy, /keys and the fleet's topics) on its one receive
// thread, which must never wait; post() only puts them in a bounded mailbox (8, the oldest
// superseded: an update is a whole policy). One worker thread verifies each with
// policy_updates::handle, hands an accepted policy to `apply`, counts the outcome
// (updates_applied / updates_rejected), records a rejected bundle in the ledger, keeps the
// outcome as a JSON object for the status (report()) and asks for a fresh status.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "gateway/counters.h"
#include "gateway/pipeline.h"
#include "gateway/store/ledger.h"
#include "gateway/updates/policy_updates.h"

namespace portier::gateway {

class update_worker {
 public:
  using apply_fn = std::function<void(std::shared_ptr<const policies::compiled_policy>,
                                      const std::string& source)>;

  // Every reference must outlive the worker.
  update_worker(policy_updates& updates, pipeline& pipe, counters& stats, ledger& record,
                apply_fn apply, std::function<void()> publish_status);
  ~update_worker();
  update_worker(const update_worker&) = delete;
  update_worker& operator=(const update_worker&) = delete;

  // Any thread; never waits.
  void post(std::string topic, std::string payload);
  void start();
  // Lets an update in progress finish, drops what waits, joins.
  void stop();
  // The last update's outcome as a JSON object; empty before the first.
  std::string report() const;

 private:
  void run();
  void handle(const std::string& topic, const std::string& payload);

  policy_updates& updates_;
  pipeline& pipe_;
  counters& stats_;
  ledger& record_;
  apply_fn apply_;
  std::function<void()> publish_status_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::string>> mailbox_;
  bool closed_ = false;
  std::string report_;
  std::thread thread_;
};

}  // namespace portier::gateway
