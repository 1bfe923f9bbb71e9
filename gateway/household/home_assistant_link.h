// The Home Assistant link: a local MQTT session of its own (client id portier-GATEWAY-ha, clean
// session, portierd's mqtt_client over plain TCP), separate from the ingress's, that announces
// portierd through MQTT discovery and carries the one-way "Pause sharing" switch
// (home_assistant.h says what is published and what a command means).
//
// On each connect: the subscription to the command topic (part of the connect), then the four
// discovery configs (retained, QoS 1), "online" on the availability topic (retained; the will
// says "offline" there, retained, and so does a clean stop, acknowledged), then the whole state.
// After that the state is published (retained) when it changes — paused at once (checked every
// second), the counts at most every 5 s — and all of it every state_interval_seconds. One
// connection keeps the order; a PUBACK that never comes means a lost connection, and every
// reconnect publishes everything again.
//
// Threading: the client's thread hands each command to the link, which only counts and flags it
// (a callback must never wait). The link's own thread publishes the set-up and the state, and
// makes the pause through the household service (`household` must serialize calls with the
// control server: serialized_service.h). `state` is called on that thread.
//
// Nothing a client sent on the command topic is logged; only counters say what came.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "gateway/counters.h"
#include "gateway/gateway_config.h"
#include "gateway/household/control_server.h"
#include "gateway/household/home_assistant.h"
#include "gateway/mqtt/mqtt_client.h"

namespace portier::gateway {

class home_assistant_link {
 public:
  // `config` has a home_assistant section. Everything passed must outlive the link.
  home_assistant_link(const gateway_config& config, counters& stats, control_service& household,
                      std::function<home_assistant_state()> state);
  ~home_assistant_link();
  home_assistant_link(const home_assistant_link&) = delete;
  home_assistant_link& operator=(const home_assistant_link&) = delete;

  const home_assistant_topics& topics() const { return topics_; }
  void start();
  // Publishes "offline" (retained) if connected, disconnects and joins. Idempotent.
  void stop();
  bool connected() const { return client_.connected(); }

 private:
  void on_command(std::string_view topic, std::string_view payload, bool retained);
  // Discovery configs and "online"; false if the client refused them (not connected).
  bool set_up();
  void run();
  void pause();
  // Publishes what is due of `now_state`; false if the session could not take it.
  bool publish_state(const home_assistant_state& now_state, bool all, bool paused_again,
                     std::chrono::steady_clock::time_point now);

  const std::string gateway_id_;
  const std::string node_id_;
  const std::chrono::seconds interval_;
  const home_assistant_topics topics_;
  counters& stats_;
  control_service& household_;
  std::function<home_assistant_state()> state_;
  mqtt_client client_;
  static constexpr std::uint64_t kOfflineCtx = 1;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool pause_asked_ = false;  // an ON command waits for the link's thread
  bool refused_ = false;      // an OFF was refused: publish the real state again
  bool resend_ = false;       // a new connection: publish everything
  bool offline_acked_ = false;
  std::thread thread_;

  // The link's thread's own.
  home_assistant_state sent_{};
  bool owe_all_ = false;      // the last publication failed
  bool set_up_owed_ = false;  // a new connection has not had its configs and "online" yet
  std::chrono::steady_clock::time_point next_refresh_{}, next_counts_{};
};

}  // namespace portier::gateway
