#include "gateway/household/home_assistant_link.h"

#include "platform/log.h"

namespace portier::gateway {

namespace {

constexpr auto kAckTimeout = std::chrono::seconds(10);
constexpr auto kTick = std::chrono::seconds(1);
// The counts change with nearly every message: at most this often, so that Home Assistant's
// recorder is not written once a second.
constexpr auto kCountsEvery = std::chrono::seconds(5);

mqtt_client::settings link_settings(const gateway_config& config,
                                    const home_assistant_topics& topics) {
  const auto& c = config.proto;
  mqtt_client::settings s;
  s.name = "home-assistant";
  s.uri = c.local().uri();
  s.client_id = "portier-" + c.gateway_id() + "-ha";
  s.username = c.local().username();
  s.password = config.password_local;
  s.keepalive_seconds = static_cast<std::uint16_t>(c.local().keepalive_seconds());
  s.clean_session = true;  // nothing to keep: the configs and the state are retained
  s.will_topic = topics.availability;
  s.will_payload = "offline";
  s.will_retain = true;
  s.subscriptions = {topics.command};
  s.max_inflight = 32;
  s.connect_timeout = std::chrono::seconds(10);
  s.ack_timeout = kAckTimeout;
  s.backoff_initial = std::chrono::milliseconds(c.reconnect().initial_ms());
  s.backoff_max = std::chrono::milliseconds(c.reconnect().max_ms());
  return s;
}

}  // namespace

home_assistant_link::home_assistant_link(const gateway_config& config, counters& stats,
                                         control_service& household,
                                         std::function<home_assistant_state()> state)
    : gateway_id_(config.proto.gateway_id()),
      node_id_(config.proto.home_assistant().node_id()),
      interval_(config.proto.home_assistant().state_interval_seconds()),
      topics_(home_assistant_topics_for(gateway_id_, config.proto.home_assistant())),
      stats_(stats),
      household_(household),
      state_(std::move(state)),
      client_(link_settings(config, topics_)) {
  client_.on_connected([this] {
    std::lock_guard lock(mu_);
    resend_ = true;
    cv_.notify_all();
  });
  client_.on_message([this](std::string_view topic, std::string_view payload, bool retained) {
    on_command(topic, payload, retained);
  });
  client_.on_ack([this](std::uint64_t ctx) {
    if (ctx != kOfflineCtx) return;
    std::lock_guard lock(mu_);
    offline_acked_ = true;
    cv_.notify_all();
  });
}

home_assistant_link::~home_assistant_link() {
  stop();
}

bool home_assistant_link::set_up() {
  for (const auto& m : home_assistant_discovery(topics_, gateway_id_, node_id_)) {
    if (!client_.publish(m.topic, m.payload, 1, true, 0)) return false;
  }
  return client_.publish(topics_.availability, "online", 1, true, 0);
}

void home_assistant_link::on_command(std::string_view topic, std::string_view payload,
                                     bool retained) {
  if (topic != topics_.command) return;  // nothing else is subscribed
  const auto command = parse_home_assistant_command(payload, retained);
  std::lock_guard lock(mu_);
  switch (command) {
    case home_assistant_command::pause:
      ++stats_.ha_pause_commands;
      pause_asked_ = true;
      break;
    case home_assistant_command::resume_refused:
      ++stats_.ha_resume_refused;
      refused_ = true;
      break;
    case home_assistant_command::invalid:
      ++stats_.ha_commands_invalid;
      return;
  }
  cv_.notify_all();
}

void home_assistant_link::start() {
  client_.start();
  thread_ = std::thread([this] { run(); });
}

void home_assistant_link::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (client_.connected()) {
    bool acked = false;
    if (client_.publish(topics_.availability, "offline", 1, true, kOfflineCtx)) {
      client_.flush();
      std::unique_lock lock(mu_);
      acked = cv_.wait_for(lock, kAckTimeout, [&] { return offline_acked_; });
    }
    if (!acked) platform::log_warning("home-assistant: could not say offline");
  }
  client_.stop(std::chrono::milliseconds(1000));
}

void home_assistant_link::pause() {
  control::Request request;
  request.set_method("home-assistant");
  request.mutable_pause();
  const control::Response answer = household_.handle(request);
  if (answer.code() == control::Response::OK) {
    if (answer.pause().changed()) platform::log_info("home-assistant: paused from Home Assistant");
  } else {
    platform::log_error("home-assistant: the pause asked from Home Assistant failed: ",
                        answer.message());
  }
}

bool home_assistant_link::publish_state(const home_assistant_state& now_state, bool all,
                                        bool paused_again,
                                        std::chrono::steady_clock::time_point now) {
  const bool counts = all || (now >= next_counts_ && (now_state.released != sent_.released ||
                                                      now_state.dropped != sent_.dropped));
  const bool paused = all || paused_again || now_state.paused != sent_.paused;
  if (!counts && !paused) return true;
  const auto messages = home_assistant_state_messages(topics_, now_state);
  // Not waited for: a PUBACK that does not come means a lost connection, and every
  // reconnect publishes everything again.
  if (counts) {
    if (!client_.publish(messages[0].topic, messages[0].payload, 1, true, 0) ||
        !client_.publish(messages[1].topic, messages[1].payload, 1, true, 0))
      return false;
    sent_.released = now_state.released;
    sent_.dropped = now_state.dropped;
    next_counts_ = now + kCountsEvery;
  }
  if (paused) {
    if (!client_.publish(messages[2].topic, messages[2].payload, 1, true, 0)) return false;
    sent_.paused = now_state.paused;
  }
  client_.flush();
  if (all) next_refresh_ = now + interval_;
  return true;
}

void home_assistant_link::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kTick, [&] { return stopping_ || pause_asked_ || refused_ || resend_; });
    if (stopping_) break;
    const bool pause_now = std::exchange(pause_asked_, false);
    const bool refused = std::exchange(refused_, false);
    const bool new_connection = std::exchange(resend_, false);
    lock.unlock();
    if (pause_now) pause();
    const auto now = std::chrono::steady_clock::now();
    set_up_owed_ = set_up_owed_ || new_connection;
    const bool all = new_connection || owe_all_ || now >= next_refresh_;
    // A new connection first gets the discovery configs and "online". After a failure,
    // everything again at the next tick (not at once: no busy loop).
    if (client_.connected()) {
      if (set_up_owed_) set_up_owed_ = !set_up();
      owe_all_ = set_up_owed_ || !publish_state(state_(), all, refused || pause_now, now);
    }
    lock.lock();
  }
}

}  // namespace portier::gateway
