// Ingress: a persistent MQTT session on the local broker (fixed client id, clean session off,
// QoS 1 by default) subscribed to exactly the topic filters the policy needs, so messages
// published while the daemon is away wait at the broker.
//
// Each message goes through the pipeline on Paho's callback thread; its releases are appended to
// the spool (written, and with durability FSYNC_EACH synced) before the callback returns, and
// Paho (C 1.3.12) acknowledges a QoS 1 message only after that; a message Paho must queue, and a
// QoS 2 message until its PUBREL, waits in the session store (sealed, see session_store.h). The
// fault tests (SIGKILL under load, 10_spool) lose nothing this way.
//
// The callback never waits for upstream: Paho C serves every client of the process on one
// thread, so waiting for room that only upstream acknowledgements can free would stop upstream
// too. Instead, when the spool reaches max_bytes (refuse_new), the ingress pauses: the session
// disconnects, the broker keeps further messages for it, and it reconnects once acknowledgements
// have brought the spool below three quarters (backpressure). What was already on its way lands
// in the spool's headroom.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/counters.h"
#include "gateway/device_registry.h"
#include "gateway/gateway_config.h"
#include "gateway/ledger.h"
#include "gateway/mqtt_session.h"
#include "gateway/pipeline.h"
#include "gateway/session_store.h"
#include "gateway/spool.h"

namespace portier::gateway {

class local_ingress {
 public:
  // `devices` learns every matched device and its last message; `record` (may be null) gets
  // what left, by field name, and the drops.
  // Paho's session (state_dir/mqtt-local) is sealed under a key of `keys`.
  local_ingress(const gateway_config& config, pipeline& p, spool& s, counters& c,
                device_registry& devices, ledger* record, platform::key_directory& keys);

  // Set before start(): called after each message's releases are in the spool, on Paho's thread,
  // to send them (upstream_egress::pump; it never waits). Without it the spool wakes the
  // egress's publisher thread for each release.
  void set_sender(std::function<void()> send) { send_ = std::move(send); }
  void start() { session_.start(); }
  // Stops taking messages: disconnects from the local broker (the session stays at the broker).
  void stop();
  // Brings the subscriptions in line with the pipeline's current policy.
  void resubscribe();
  bool connected() const { return session_.connected(); }
  bool paused() const { return paused_; }

 private:
  void subscribe_all(mqtt::async_client& client);
  void on_message(const mqtt::const_message_ptr& m);

  pipeline& pipeline_;
  spool& spool_;
  counters& counters_;
  device_registry& devices_;
  ledger* ledger_;
  const int qos_;
  session_store session_store_;  // outlives session_: Paho closes it when the client is destroyed
  mqtt_session session_;
  std::mutex subs_mu_;
  std::vector<std::string> subscribed_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> paused_{false};
  const bool may_pause_;
  const std::uint64_t resume_below_;
  std::function<void()> send_;
};

}  // namespace portier::gateway
