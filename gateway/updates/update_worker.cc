#include "gateway/updates/update_worker.h"

#include <chrono>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "platform/log.h"
#include "platform/wall_clock.h"

namespace portier::gateway {

using platform::wall_ms;

namespace {

constexpr std::size_t kMailbox = 8;

std::string outcome_json(const update_outcome& out, std::uint64_t applied_sequence) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("kind");
  w.String(out.what == update_outcome::kind::bundle ? "bundle" : "key_list");
  w.Key(out.what == update_outcome::kind::bundle ? "sequence" : "version");
  w.Uint64(out.number);
  w.Key("outcome");
  w.String(out.accepted ? "applied" : "rejected");
  if (!out.accepted) {
    w.Key("reason");
    w.String(out.reason.c_str());
    w.Key("detail");
    w.String(out.detail.c_str());
  }
  w.Key("applied_sequence");
  w.Uint64(applied_sequence);
  w.Key("at_ms");
  w.Int64(wall_ms());
  w.EndObject();
  return buf.GetString();
}

}  // namespace

update_worker::update_worker(policy_updates& updates, pipeline& pipe, counters& stats,
                             ledger& record, apply_fn apply, std::function<void()> publish_status)
    : updates_(updates),
      pipe_(pipe),
      stats_(stats),
      record_(record),
      apply_(std::move(apply)),
      publish_status_(std::move(publish_status)) {}

update_worker::~update_worker() {
  stop();
}

void update_worker::post(std::string topic, std::string payload) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  if (mailbox_.size() >= kMailbox) mailbox_.pop_front();
  mailbox_.emplace_back(std::move(topic), std::move(payload));
  cv_.notify_all();
}

void update_worker::start() {
  thread_ = std::thread([this] { run(); });
}

void update_worker::stop() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    mailbox_.clear();
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

std::string update_worker::report() const {
  std::lock_guard lock(mu_);
  return report_;
}

void update_worker::run() {
  while (true) {
    std::pair<std::string, std::string> item;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !mailbox_.empty() || closed_; });
      if (closed_) return;
      item = std::move(mailbox_.front());
      mailbox_.pop_front();
    }
    if (!item.second.empty()) handle(item.first, item.second);  // empty: a cleared retained message
  }
}

void update_worker::handle(const std::string& topic, const std::string& payload) {
  using platform::log_info;
  using platform::log_warning;
  update_outcome out = updates_.handle(topic, payload, *pipe_.policy(), wall_ms() / 1000);
  if (out.accepted && out.policy) {
    apply_(out.policy, "bundle " + std::to_string(out.number));
    if (auto c = updates_.committed(out); !c)
      platform::log_error("remote update: ", c.error_message());
    ++stats_.updates_applied;
    log_info("remote update: bundle ", out.number, " applied: policy \"", out.policy->name(),
             "\" version ", out.policy->version(), out.note.empty() ? "" : " (" + out.note + ")");
  } else if (out.accepted) {
    log_info("remote update: key list version ", out.number, " accepted");
  } else if (out.already_in_force) {
    platform::log_debug("remote update: ", topic, " already in force");
    return;
  } else {
    ++stats_.updates_rejected;
    log_warning("remote update rejected: ", out.reason, ": ", out.detail);
    for (const auto& e : out.errors) log_warning("remote update: ", e);
    if (out.what == update_outcome::kind::bundle) {
      record_.record_policy("", out.number, "bundle " + std::to_string(out.number), false,
                            out.reason, wall_ms());
    }
  }
  {
    std::lock_guard lock(mu_);
    report_ = outcome_json(out, updates_.applied_sequence());
  }
  if (publish_status_) publish_status_();
}

}  // namespace portier::gateway
