#include "gateway/local_ingress.h"

#include <algorithm>
#include <array>
#include <chrono>

#include "platform/log.h"

namespace portier::gateway {

namespace {

constexpr auto kSubscribeTimeout = std::chrono::seconds(10);

mqtt_session::settings ingress_settings(const gateway_config& config, session_store& store) {
  const auto& c = config.proto;
  mqtt_session::settings s;
  s.name = "local";
  s.uri = c.local().uri();
  s.client_id = c.local().client_id();
  s.persistence = &store;
  auto b = mqtt::connect_options_builder()
               .mqtt_version(MQTTVERSION_3_1_1)  // no silent second attempt at 3.1
               .clean_session(false)
               .keep_alive_interval(std::chrono::seconds(c.local().keepalive_seconds()))
               .connect_timeout(std::chrono::seconds(10));
  if (!c.local().username().empty()) b.user_name(c.local().username());
  if (!config.password_local.empty()) b.password(config.password_local);
  s.options = b.finalize();
  s.backoff_initial = std::chrono::milliseconds(c.reconnect().initial_ms());
  s.backoff_max = std::chrono::milliseconds(c.reconnect().max_ms());
  return s;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

local_ingress::local_ingress(const gateway_config& config, pipeline& p, spool& s, counters& c,
                             device_registry& devices, ledger* record,
                             platform::key_directory& keys)
    : pipeline_(p),
      spool_(s),
      counters_(c),
      devices_(devices),
      ledger_(record),
      qos_(static_cast<int>(config.proto.local().qos())),
      session_store_(config.proto.state_dir() + "/mqtt-local", keys),
      session_(ingress_settings(config, session_store_)),
      may_pause_(config.proto.spool().when_full() == config::Spool::REFUSE_NEW),
      resume_below_(config.proto.spool().max_bytes() / 4 * 3) {
  session_.set_gate([this] {
    if (paused_ && spool_.bytes() < resume_below_) {
      paused_ = false;
      platform::log_info("local broker: resuming, the spool has room again");
    }
    return !paused_ && !stopping_;
  });
  session_.client().set_message_callback([this](mqtt::const_message_ptr m) { on_message(m); });
  session_.on_connected([this](mqtt::async_client& client) { subscribe_all(client); });
  session_.on_connect_result(
      [this](bool ok) { ++(ok ? counters_.local_connects : counters_.local_connect_failures); });
}

void local_ingress::subscribe_all(mqtt::async_client& client) {
  const auto filters = pipeline_.subscriptions();
  std::lock_guard lock(subs_mu_);
  mqtt_session::subscribe_checked(client, filters, qos_);  // throws: the session retries
  subscribed_ = filters;
  platform::log_info("local broker: subscribed to ", filters.size(), " topic filters");
}

void local_ingress::resubscribe() {
  const auto filters = pipeline_.subscriptions();
  std::lock_guard lock(subs_mu_);
  std::vector<std::string> added, removed;
  for (const auto& f : filters) {
    if (std::find(subscribed_.begin(), subscribed_.end(), f) == subscribed_.end())
      added.push_back(f);
  }
  for (const auto& f : subscribed_) {
    if (std::find(filters.begin(), filters.end(), f) == filters.end()) removed.push_back(f);
  }
  subscribed_ = filters;
  if (!session_.connected()) return;  // the next connect subscribes to the new set
  try {
    mqtt_session::subscribe_checked(session_.client(), added, qos_);
    if (!removed.empty())
      session_.client()
          .unsubscribe(mqtt::string_collection::create(removed))
          ->wait_for(kSubscribeTimeout);
    platform::log_info("local broker: subscriptions updated, ", added.size(), " added, ",
                       removed.size(), " removed");
  } catch (const mqtt::exception& e) {
    platform::log_error("local broker: cannot update subscriptions (", e.what(),
                        "); reconnecting to subscribe again");
    session_.reconnect();
  }
}

void local_ingress::on_message(const mqtt::const_message_ptr& m) {
  const std::string& topic = m->get_topic();
  const mqtt::string_ref& payload = m->get_payload_ref();
  const std::int64_t now = wall_ms();
  pipeline_.process(
      topic, {payload.data(), payload.size()}, now,
      [&](const policies::release& r, const policies::compiled_purpose& purpose,
          const policies::decision& d) {
        const std::string_view cls = d.device_class() ? std::string_view(d.device_class()->id) : "";
        // Never waits: a callback that blocks would stop the upstream client too.
        if (spool_.append(purpose.id, r.topic, r.payload, r.expires_at_ms, d.device_id(), cls, now,
                          spool::clock::now(), !send_) == 0) {
          platform::log_error(
              "spool refused a release (full beyond its headroom, or a write error); "
              "it is lost");
        }
        if (ledger_ != nullptr) {
          std::array<std::string_view, 64> names;
          std::size_t n = 0;
          for (auto f : r.fields) {
            if (n < names.size()) names[n++] = d.device_class()->fields[f].path;
          }
          ledger_->record_release(d.device_id(), cls, purpose.id, {names.data(), n},
                                  r.payload.size(), now);
        }
      },
      [&](const policies::decision& d) {
        if (d.device_class() != nullptr) {
          devices_.record(d.device_id(), d.device_class()->id, topic,
                          {payload.data(), payload.size()}, now);
        }
        if (ledger_ != nullptr) ledger_->record_drops(d.drops(), now);
      });
  if (send_) send_();  // the releases leave from here, without waking the publisher thread
  if (may_pause_ && !paused_ && spool_.full()) {
    paused_ = true;
    ++counters_.ingress_pauses;
    platform::log_warning("local broker: pausing, the spool is full (", spool_.bytes(), " bytes)");
    session_.recheck();
  }
}

void local_ingress::stop() {
  stopping_ = true;
  session_.stop(std::chrono::milliseconds(2000));
}

}  // namespace portier::gateway
