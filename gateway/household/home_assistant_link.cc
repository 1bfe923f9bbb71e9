#include "gateway/household/home_assistant_link.h"

#include "platform/log.h"

namespace portier::gateway {

namespace {

constexpr auto kAckTimeout = std::chrono::seconds(10);
constexpr auto kTick = std::chrono::seconds(1);
// The counts change with nearly every message: at most this often, so that Home Assistant's
// recorder is not written once a second.
constexpr auto kCountsEvery = std::chrono::seconds(5);

mqtt_session::settings link_settings(const gateway_config& config,
                                     const home_assistant_topics& topics) {
  const auto& c = config.proto;
  mqtt_session::settings s;
  s.name = "home-assistant";
  s.uri = c.local().uri();
  if (s.uri.rfind("mqtt://", 0) == 0) s.uri = "tcp://" + s.uri.substr(7);
  s.client_id = "portier-" + c.gateway_id() + "-ha";
  auto b = mqtt::connect_options_builder()
               .mqtt_version(MQTTVERSION_3_1_1)
               .clean_session(true)  // nothing to keep: the configs and the state are retained
               .keep_alive_interval(std::chrono::seconds(c.local().keepalive_seconds()))
               .connect_timeout(std::chrono::seconds(10))
               .will(mqtt::message(topics.availability, "offline", 1, true));
  if (!c.local().username().empty()) b.user_name(c.local().username());
  if (!config.password_local.empty()) b.password(config.password_local);
  s.options = b.finalize();
  s.backoff_initial = std::chrono::milliseconds(c.reconnect().initial_ms());
  s.backoff_max = std::chrono::milliseconds(c.reconnect().max_ms());
  return s;
}

// Publishes and waits for the PUBACK; throws mqtt::exception (the session connects again).
void publish_acknowledged(mqtt::async_client& client, const mqtt_out& m) {
  if (!client.publish(m.topic, m.payload, 1, true)->wait_for(kAckTimeout))
    throw mqtt::exception(MQTTASYNC_FAILURE, "no PUBACK within 10 s for " + m.topic);
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
      session_(link_settings(config, topics_)) {
  session_.on_connected([this](mqtt::async_client& client) { set_up(client); });
  session_.client().set_message_callback([this](mqtt::const_message_ptr m) { on_command(m); });
}

home_assistant_link::~home_assistant_link() {
  stop();
}

void home_assistant_link::set_up(mqtt::async_client& client) {
  for (const auto& m : home_assistant_discovery(topics_, gateway_id_, node_id_))
    publish_acknowledged(client, m);
  publish_acknowledged(client, {topics_.availability, "online"});
  mqtt_session::subscribe_checked(client, {topics_.command}, 1);
  std::lock_guard lock(mu_);
  resend_ = true;
  cv_.notify_all();
}

void home_assistant_link::on_command(const mqtt::const_message_ptr& m) {
  if (m->get_topic() != topics_.command) return;  // nothing else is subscribed
  const auto& payload = m->get_payload_ref();
  const auto command = parse_home_assistant_command(
      std::string_view(payload.data(), payload.size()), m->is_retained());
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
  session_.start();
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
  if (session_.connected()) {
    try {
      publish_acknowledged(session_.client(), {topics_.availability, "offline"});
    } catch (const mqtt::exception& e) {
      platform::log_warning("home-assistant: could not say offline: ", e.what());
    }
  }
  session_.stop(std::chrono::milliseconds(1000));
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
  try {
    // Not waited for: a PUBACK that does not come means a lost connection, and every
    // reconnect publishes everything again.
    if (counts) {
      session_.client().publish(messages[0].topic, messages[0].payload, 1, true);
      session_.client().publish(messages[1].topic, messages[1].payload, 1, true);
      sent_.released = now_state.released;
      sent_.dropped = now_state.dropped;
      next_counts_ = now + kCountsEvery;
    }
    if (paused) {
      session_.client().publish(messages[2].topic, messages[2].payload, 1, true);
      sent_.paused = now_state.paused;
    }
  } catch (const mqtt::exception& e) {
    platform::log_warning("home-assistant: publishing the state failed: ", e.what());
    return false;
  }
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
    bool all = std::exchange(resend_, false);
    lock.unlock();
    if (pause_now) pause();
    const auto now = std::chrono::steady_clock::now();
    all = all || owe_all_ || now >= next_refresh_;
    // After a failure, everything again at the next tick (not at once: no busy loop).
    if (session_.connected()) owe_all_ = !publish_state(state_(), all, refused || pause_now, now);
    lock.lock();
  }
}

}  // namespace portier::gateway
