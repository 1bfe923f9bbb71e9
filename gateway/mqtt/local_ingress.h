// Ingress: a persistent MQTT session on the local broker (fixed client id, clean session off,
// QoS 1 by default) subscribed to exactly the topic filters the policy needs, so messages
// published while the daemon is away wait at the broker. The session is portierd's own MQTT
// client (mqtt_subscriber.h), not Paho: it reads in bulk on its own thread.
//
// Each message goes through the pipeline on that thread; its releases are appended to the spool
// (written, and with durability FSYNC_EACH synced) before the message is acknowledged to the
// broker (PUBACK, or PUBREC at QoS 2), so a crash of portierd loses nothing: the broker sends
// what was not acknowledged again (at least once). The messages of one read are appended first,
// then synced together (FSYNC_EACH: one fdatasync for all of them), then acknowledged together.
//
// Backpressure (when_full: REFUSE_NEW): a message that arrives while the spool is at max_bytes
// is not taken. It stays unacknowledged, the session disconnects (the broker keeps it and the
// rest), and it reconnects once acknowledgements from upstream have brought the spool below
// three quarters. The spool so never grows past max_bytes by more than one message's releases
// (and what QoS 0 messages — not redelivered, so taken anyway — bring in one read).
//
// A purpose that receives a class per window gets the message's samples in the window store
// (journaled, and synced with the spool before the acknowledgement: window_store.h) instead of a
// release.
//
// A release the spool cannot store (a write error), or samples the window store cannot journal,
// leave the message unacknowledged: the session closes and tries again after 5 s, and the broker
// sends the message again.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "gateway/counters.h"
#include "gateway/device_registry.h"
#include "gateway/gateway_config.h"
#include "gateway/mqtt/mqtt_subscriber.h"
#include "gateway/pipeline.h"
#include "gateway/store/ledger.h"
#include "gateway/store/spool.h"
#include "gateway/store/unmatched_shapes.h"
#include "gateway/store/window_store.h"

namespace portier::gateway {

class local_ingress {
 public:
  // `devices` learns every matched device and its last message; `record` (may be null) gets
  // what left, by field name, and the drops.
  local_ingress(const gateway_config& config, pipeline& p, spool& s, counters& c,
                device_registry& devices, ledger* record);

  // Set before start(): called after each read's messages are in the spool and acknowledged, on
  // the ingress thread, to send their releases (upstream_egress::pump; it never waits). Without
  // it the spool wakes the egress's publisher thread for each release.
  void set_sender(std::function<void()> send) { send_ = std::move(send); }
  // Set before start(): records the shape of each message no class takes (unmatched_topic).
  void set_unmatched(unmatched_shapes* shapes) { unmatched_ = shapes; }
  // Set before start(): where windowed samples go. Without it they are dropped (nothing leaves).
  void set_windows(window_store* windows) { windows_ = windows; }
  // Set before start(): topics portierd publishes itself on the local broker (Home Assistant
  // discovery). A message on one is acknowledged and skipped: never evaluated, nor counted as
  // received, unmatched or dropped.
  void set_own_topics(std::function<bool(std::string_view topic)> own) { own_ = std::move(own); }
  void start();
  // Stops taking messages: disconnects from the local broker (the session stays at the broker).
  void stop();
  // Brings the subscriptions in line with the pipeline's current policy (and unmatched.observe).
  void resubscribe();
  bool connected() const { return session_.connected(); }
  bool paused() const { return paused_; }

 private:
  mqtt_subscriber::verdict on_message(std::string_view topic, std::string_view payload, int qos);

  pipeline& pipeline_;
  spool& spool_;
  counters& counters_;
  device_registry& devices_;
  ledger* ledger_;
  mqtt_subscriber session_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> paused_{false};
  std::atomic<std::chrono::steady_clock::time_point> retry_at_{};  // after a spool write error
  const bool may_pause_;
  const std::uint64_t resume_below_;
  std::function<void()> send_;
  unmatched_shapes* unmatched_ = nullptr;
  window_store* windows_ = nullptr;
  std::function<bool(std::string_view)> own_;
  const std::vector<std::string> observe_;  // unmatched.observe
};

}  // namespace portier::gateway
